//! Mapbox Vector Tiles cut from the geometries in memory: each tile holds one layer
//! named after the collection, extent 4096, features clipped to the tile and a buffer of
//! 64 units. A feature's MVT id is its rank in the collection (1-based, as in the items'
//! default order); its attributes are the collection's id column and, for structures,
//! their kind — from zoom 8 only for a dense layer (the communes), whose national view
//! is then a third lighter (the map colours communes from their indicator values, joined
//! on the rank, not from the tiles). Geometry is projected to Web
//! Mercator and simplified once per build for every second zoom level (to half a pixel),
//! on first use. The routes are in `tiles`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use geo::{BoundingRect, Coord, Geometry, MapCoords, Rect, Simplify};
use geozero::ToMvt;
use geozero::mvt::{Message, TagsBuilder, TileValue, tile};

use crate::store::fgb::CellRef;

use super::features::Collection;

/// Tile extent, in tile units.
pub const EXTENT: u32 = 4096;
/// Buffer around a tile, in tile units (strokes and labels across tile edges).
const BUFFER: f64 = 64.0;
/// Simplification tolerance, in tile units of the level's zoom: half a pixel of a
/// 512-pixel tile at that zoom, a pixel at the next.
const TOLERANCE: f64 = 4.0;
/// Highest zoom served (≈ 10 m a pixel).
pub const MAX_ZOOM: u8 = 14;
/// Above this zoom, tiles use this level's geometry (one tile unit ≈ 2.4 m).
const DETAIL_ZOOM: u8 = 12;
/// Half the Web Mercator world, in metres.
const HALF_WORLD: f64 = std::f64::consts::PI * 6_378_137.0;
/// Latitude limit of Web Mercator.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;
/// The tile media type.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";

/// A geometry of one level, with its bounding box.
#[derive(Debug)]
struct Shape {
    geometry: Geometry<f64>,
    bbox: Rect<f64>,
}

/// Tiles up to this zoom are kept once made (plain and gzip-compressed): there are few of them
/// (a few hundred over France) and each holds many features, so they are the costly
/// ones; deeper tiles are small and cut on each request.
pub const KEPT_MAX_ZOOM: u8 = 9;
/// At most this many bytes of kept tiles per collection (past it, tiles are still made,
/// not kept): bounds the memory whatever tiles clients ask for.
const KEPT_MAX_BYTES: usize = 64 << 20;

/// Web Mercator geometries of one collection for every second zoom level, made on
/// first use (one thread makes a level; requests for it wait), and the tiles kept.
#[derive(Debug, Default)]
pub struct Pyramid {
    levels: [OnceLock<Vec<Option<Shape>>>; (DETAIL_ZOOM / 2 + 1) as usize],
    kept: Mutex<HashMap<(u8, u32, u32), Arc<KeptCell>>>,
    kept_bytes: AtomicUsize,
}

/// A kept tile once made (or why it could not be), shared by the requests that wait for it.
type KeptCell = OnceLock<Result<KeptTile, String>>;

/// A kept tile, plain and gzip-compressed (sent as is to clients that take gzip).
#[derive(Debug, Clone)]
pub struct KeptTile {
    pub plain: Bytes,
    pub gzip: Bytes,
}

/// A tile as served: made for this request, or kept.
#[derive(Debug, Clone)]
pub enum TileBody {
    Made(Vec<u8>),
    Kept(KeptTile),
}

impl Pyramid {
    /// The geometries of the level used at zoom `z`.
    fn level(&self, c: &Collection, z: u8) -> &[Option<Shape>] {
        let level = z.min(DETAIL_ZOOM) / 2;
        self.levels[level as usize].get_or_init(|| {
            let tolerance = TOLERANCE * tile_size(level * 2) / f64::from(EXTENT);
            c.items
                .iter()
                .map(|it| {
                    let g = simplified(&mercator(it.geometry.as_ref()?), tolerance);
                    Some(Shape {
                        bbox: g.bounding_rect()?,
                        geometry: g,
                    })
                })
                .collect()
        })
    }
}

impl Pyramid {
    /// Tile (z, x, y) if it is kept and made (no waiting, no work).
    pub fn kept(&self, z: u8, x: u32, y: u32) -> Option<KeptTile> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&(z, x, y))?.get()?.as_ref().ok().cloned()
    }

    /// Tile (z, x, y) of collection `c`: from the kept tiles up to [`KEPT_MAX_ZOOM`] (made
    /// once: concurrent requests for the same tile wait for one thread), else made now.
    pub fn tile(&self, c: &Collection, z: u8, x: u32, y: u32) -> Result<TileBody, String> {
        if z > KEPT_MAX_ZOOM {
            return encode(c, self, z, x, y).map(TileBody::Made);
        }
        let cell = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cell) = kept.get(&(z, x, y)) {
                cell.clone()
            } else if self.kept_bytes.load(Ordering::Relaxed) > KEPT_MAX_BYTES {
                drop(kept);
                return encode(c, self, z, x, y).map(TileBody::Made);
            } else {
                kept.entry((z, x, y)).or_default().clone()
            }
        };
        let made = cell.get_or_init(|| {
            let made = encode(c, self, z, x, y).map(|raw| KeptTile {
                gzip: gzip(&raw),
                plain: Bytes::from(raw),
            });
            if let Ok(t) = &made {
                self.kept_bytes
                    .fetch_add(t.plain.len() + t.gzip.len(), Ordering::Relaxed);
            }
            made
        });
        match made {
            Ok(t) => Ok(TileBody::Kept(t.clone())),
            Err(e) => {
                // Not kept: the next request tries again.
                let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.remove(&(z, x, y));
                Err(e.clone())
            }
        }
    }
}

/// A tile gzip-compressed (level 6).
pub fn gzip(raw: &[u8]) -> Bytes {
    let mut e = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(raw);
    Bytes::from(e.finish().unwrap_or_default())
}

fn tile_size(z: u8) -> f64 {
    2.0 * HALF_WORLD / f64::from(1u32 << z)
}

fn project(c: Coord<f64>) -> Coord<f64> {
    let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: c.x.to_radians() * 6_378_137.0,
        y: (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() * 6_378_137.0,
    }
}

fn unproject(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: (c.x / 6_378_137.0).to_degrees(),
        y: (2.0 * (c.y / 6_378_137.0).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
    }
}

fn mercator(g: &Geometry<f64>) -> Geometry<f64> {
    g.map_coords(project)
}

/// Simplified to `tolerance` metres; a polygon that would vanish becomes its bounding
/// box (a commune smaller than a pixel stays on the map, as a dot, not as its hundreds
/// of vertices).
fn simplified(g: &Geometry<f64>, tolerance: f64) -> Geometry<f64> {
    let keep = |p: &geo::Polygon<f64>| p.exterior().0.len() >= 4;
    let dot = |g: &Geometry<f64>| {
        g.bounding_rect()
            .map_or_else(|| g.clone(), |r| Geometry::Polygon(r.to_polygon()))
    };
    match g {
        Geometry::MultiPolygon(mp) => {
            let s = mp.simplify(tolerance);
            if s.0.iter().any(keep) {
                Geometry::MultiPolygon(geo::MultiPolygon(s.0.into_iter().filter(keep).collect()))
            } else {
                dot(g)
            }
        }
        Geometry::Polygon(p) => {
            let s = p.simplify(tolerance);
            if keep(&s) {
                Geometry::Polygon(s)
            } else {
                dot(g)
            }
        }
        other => other.clone(),
    }
}

/// The Web Mercator bounds of tile (z, x, y).
fn bounds(z: u8, x: u32, y: u32) -> Rect<f64> {
    let size = tile_size(z);
    let left = -HALF_WORLD + f64::from(x) * size;
    let top = HALF_WORLD - f64::from(y) * size;
    Rect::new((left, top - size), (left + size, top))
}

/// A shape within `clip`: as it is when inside, cut when across, `None` when outside.
fn clipped<'a>(shape: &'a Shape, clip: &Rect<f64>) -> Option<Cow<'a, Geometry<f64>>> {
    let (b, g) = (&shape.bbox, &shape.geometry);
    let inside = b.min().x >= clip.min().x
        && b.min().y >= clip.min().y
        && b.max().x <= clip.max().x
        && b.max().y <= clip.max().y;
    if inside {
        return Some(Cow::Borrowed(g));
    }
    let meets = b.min().x <= clip.max().x
        && b.max().x >= clip.min().x
        && b.min().y <= clip.max().y
        && b.max().y >= clip.min().y;
    if !meets {
        return None;
    }
    let polygons: &[geo::Polygon<f64>] = match g {
        Geometry::MultiPolygon(mp) => &mp.0,
        Geometry::Polygon(p) => std::slice::from_ref(p),
        // Points and lines meeting the buffered tile are kept whole.
        other => return Some(Cow::Borrowed(other)),
    };
    let cut: Vec<geo::Polygon<f64>> = polygons
        .iter()
        .filter_map(|p| clip_polygon(p, clip))
        .collect();
    (!cut.is_empty()).then_some(Cow::Owned(Geometry::MultiPolygon(geo::MultiPolygon(cut))))
}

/// A polygon cut to an axis-aligned rectangle: Sutherland–Hodgman on each ring, the
/// usual clip of tile makers (a concave ring may keep zero-width edges along the
/// rectangle's sides, in the buffer outside the tile, which renderers do not draw).
/// `None` when the exterior ring vanishes.
fn clip_polygon(p: &geo::Polygon<f64>, r: &Rect<f64>) -> Option<geo::Polygon<f64>> {
    let exterior = clip_ring(&p.exterior().0, r)?;
    let interiors = p
        .interiors()
        .iter()
        .filter_map(|h| clip_ring(&h.0, r))
        .collect();
    Some(geo::Polygon::new(exterior, interiors))
}

/// One side of the clip rectangle: is a point inside, and where an edge crosses it.
#[derive(Clone, Copy)]
enum Side {
    Left(f64),
    Right(f64),
    Bottom(f64),
    Top(f64),
}

impl Side {
    fn keeps(self, c: Coord<f64>) -> bool {
        match self {
            Side::Left(v) => c.x >= v,
            Side::Right(v) => c.x <= v,
            Side::Bottom(v) => c.y >= v,
            Side::Top(v) => c.y <= v,
        }
    }

    fn crossing(self, a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
        match self {
            Side::Left(x) | Side::Right(x) => Coord {
                x,
                y: a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x),
            },
            Side::Bottom(y) | Side::Top(y) => Coord {
                x: a.x + (b.x - a.x) * (y - a.y) / (b.y - a.y),
                y,
            },
        }
    }
}

fn clip_ring(ring: &[Coord<f64>], r: &Rect<f64>) -> Option<geo::LineString<f64>> {
    // The ring without its closing point.
    let mut points: Vec<Coord<f64>> = ring[..ring.len().saturating_sub(1)].to_vec();
    for side in [
        Side::Left(r.min().x),
        Side::Right(r.max().x),
        Side::Bottom(r.min().y),
        Side::Top(r.max().y),
    ] {
        let Some(&last) = points.last() else {
            break;
        };
        let mut out = Vec::with_capacity(points.len() + 4);
        let mut prev = last;
        for &cur in &points {
            match (side.keeps(prev), side.keeps(cur)) {
                (true, true) => out.push(cur),
                (false, true) => {
                    out.push(side.crossing(prev, cur));
                    out.push(cur);
                }
                (true, false) => out.push(side.crossing(prev, cur)),
                (false, false) => {}
            }
            prev = cur;
        }
        points = out;
    }
    if points.len() < 3 {
        return None;
    }
    points.push(points[0]);
    Some(geo::LineString(points))
}

/// A layer with more features than this is dense: its tiles name features (carry
/// attributes) only from [`DENSE_NAMES_ZOOM`].
const DENSE_FEATURES: usize = 10_000;
/// The zoom from which a dense layer's tiles carry attributes.
pub const DENSE_NAMES_ZOOM: u8 = 8;

/// The lowest zoom whose tiles carry the features' attributes.
pub fn attributes_from(c: &Collection) -> u8 {
    if c.items.len() > DENSE_FEATURES {
        DENSE_NAMES_ZOOM
    } else {
        0
    }
}

/// Properties a tile carries (from [`attributes_from`]): the id column and, for
/// structures, their kind.
pub fn tile_columns(c: &Collection) -> Vec<usize> {
    c.info
        .columns
        .iter()
        .enumerate()
        .filter(|(_, col)| col.name == c.id_column || col.name == "kind")
        .map(|(i, _)| i)
        .collect()
}

/// One tile of a collection, encoded.
pub fn encode(c: &Collection, pyramid: &Pyramid, z: u8, x: u32, y: u32) -> Result<Vec<u8>, String> {
    let tile = bounds(z, x, y);
    let pad = tile_size(z) * BUFFER / f64::from(EXTENT);
    let clip = Rect::new(
        (tile.min().x - pad, tile.min().y - pad),
        (tile.max().x + pad, tile.max().y + pad),
    );
    let lonlat = Rect::new(unproject(clip.min()), unproject(clip.max()));
    let level = pyramid.level(c, z);
    let columns = if z >= attributes_from(c) {
        tile_columns(c)
    } else {
        Vec::new()
    };
    let mut tags = TagsBuilder::new();
    let mut features = Vec::new();
    for row in c.rows_meeting(&lonlat) {
        let Some(g) = level[row].as_ref().and_then(|g| clipped(g, &clip)) else {
            continue;
        };
        let mut f = g
            .to_mvt(
                EXTENT,
                tile.min().x,
                tile.min().y,
                tile.max().x,
                tile.max().y,
            )
            .map_err(|e| format!("feature {}: {e}", c.items[row].id))?;
        if f.geometry.is_empty() {
            continue;
        }
        f.id = Some(row as u64 + 1);
        for &col in &columns {
            let value = match c.cell(row, col) {
                CellRef::Text(s) => TileValue::Str(s.to_owned()),
                CellRef::Int(v) => TileValue::Sint(v),
                CellRef::Real(v) if v.is_finite() => TileValue::Double(v),
                CellRef::Bool(v) => TileValue::Bool(v),
                _ => continue,
            };
            let (k, v) = tags.insert_ref(&c.info.columns[col].name, value);
            f.tags.extend([k, v]);
        }
        features.push(f);
    }
    let (keys, values) = tags.into_tags();
    let layer = tile::Layer {
        version: 2,
        name: c.id.clone(),
        features,
        keys,
        values: values.into_iter().map(Into::into).collect(),
        extent: Some(EXTENT),
    };
    Ok(geozero::mvt::Tile {
        layers: vec![layer],
    }
    .encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mercator_round_trips_and_tiles_cover_the_world() {
        let c = Coord {
            x: -0.2153,
            y: 46.9816,
        };
        let back = unproject(project(c));
        assert!((back.x - c.x).abs() < 1e-9 && (back.y - c.y).abs() < 1e-9);
        let world = bounds(0, 0, 0);
        assert!((world.min().x + HALF_WORLD).abs() < 1e-6);
        assert!((world.max().y - HALF_WORLD).abs() < 1e-6);
        // Thouars at z8 is in tile x=127, y=90.
        let t = bounds(8, 127, 90);
        let p = project(c);
        assert!(t.min().x <= p.x && p.x < t.max().x && t.min().y <= p.y && p.y < t.max().y);
    }

    #[test]
    fn clipping_keeps_inside_cuts_across_drops_outside() {
        let clip = Rect::new((0.0, 0.0), (10.0, 10.0));
        let square = |x0: f64, y0: f64, s: f64| -> Geometry<f64> {
            Rect::new((x0, y0), (x0 + s, y0 + s)).to_polygon().into()
        };
        let shape = |g: Geometry<f64>| Shape {
            bbox: g.bounding_rect().unwrap(),
            geometry: g,
        };
        assert_eq!(
            clipped(&shape(square(1.0, 1.0, 2.0)), &clip).map(Cow::into_owned),
            Some(square(1.0, 1.0, 2.0))
        );
        assert_eq!(clipped(&shape(square(20.0, 20.0, 2.0)), &clip), None);
        let cut = clipped(&shape(square(8.0, 8.0, 4.0)), &clip)
            .unwrap()
            .into_owned();
        let b = cut.bounding_rect().unwrap();
        assert_eq!(
            (b.min().x, b.min().y, b.max().x, b.max().y),
            (8.0, 8.0, 10.0, 10.0)
        );
    }

    proptest::proptest! {
        /// The clip of a polygon to a rectangle has the area of their intersection
        /// (geo's boolean operations as the reference).
        #[test]
        fn clipping_has_the_area_of_the_intersection(
            radii in proptest::collection::vec(0.5..3.0f64, 3..12),
            cx in -3.0..3.0f64, cy in -3.0..3.0f64,
        ) {
            use geo::{Area, BooleanOps};
            let p = geo::Polygon::new(crate::test_support::star_ring(cx, cy, &radii), vec![]);
            let r = Rect::new((-1.0, -1.0), (1.5, 2.0));
            let reference = p.intersection(&r.to_polygon()).unsigned_area();
            let ours = clip_polygon(&p, &r).map_or(0.0, |c| c.unsigned_area());
            // geo snaps to a fine integer grid: equal to 1e-6 (relative).
            proptest::prop_assert!((reference - ours).abs() < 1e-6 * reference.max(1.0), "{} vs {}", reference, ours);
        }
    }
}

//! Mapbox Vector Tiles cut from the geometries in memory: each tile holds one layer
//! named after the collection, extent 4096, features clipped to the tile and a buffer of
//! 64 units, with their id and, for structures, their kind (the map colours communes
//! from their indicator values, not from the tiles). Geometry is projected to Web
//! Mercator and simplified once per build for every second zoom level (to half a pixel),
//! on first use. The routes are in `tiles`.

use std::borrow::Cow;
use std::sync::OnceLock;

use geo::{BooleanOps, BoundingRect, Coord, Geometry, MapCoords, Rect, Simplify};
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

/// Web Mercator geometries of one collection for every second zoom level, made on
/// first use (one thread makes a level; requests for it wait).
#[derive(Debug, Default)]
pub struct Pyramid {
    levels: [OnceLock<Vec<Option<Geometry<f64>>>>; (DETAIL_ZOOM / 2 + 1) as usize],
}

impl Pyramid {
    /// The geometries of the level used at zoom `z`.
    fn level(&self, c: &Collection, z: u8) -> &[Option<Geometry<f64>>] {
        let level = z.min(DETAIL_ZOOM) / 2;
        self.levels[level as usize].get_or_init(|| {
            let tolerance = TOLERANCE * tile_size(level * 2) / f64::from(EXTENT);
            c.items
                .iter()
                .map(|it| {
                    it.geometry
                        .as_ref()
                        .map(|g| simplified(&mercator(g), tolerance))
                })
                .collect()
        })
    }
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

/// `g` within `clip`: as it is when inside, cut when across, `None` when outside.
fn clipped<'a>(g: &'a Geometry<f64>, clip: &Rect<f64>) -> Option<Cow<'a, Geometry<f64>>> {
    let b = g.bounding_rect()?;
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
    let window = clip.to_polygon();
    let cut = match g {
        Geometry::MultiPolygon(mp) => mp.intersection(&window),
        Geometry::Polygon(p) => p.intersection(&window),
        // Points and lines meeting the buffered tile are kept whole.
        other => return Some(Cow::Borrowed(other)),
    };
    (!cut.0.is_empty()).then_some(Cow::Owned(Geometry::MultiPolygon(cut)))
}

/// Properties a tile carries: the id (the map joins everything else to it) and, for
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
    let columns = tile_columns(c);
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
        assert_eq!(
            clipped(&square(1.0, 1.0, 2.0), &clip).map(Cow::into_owned),
            Some(square(1.0, 1.0, 2.0))
        );
        assert_eq!(clipped(&square(20.0, 20.0, 2.0), &clip), None);
        let cut = clipped(&square(8.0, 8.0, 4.0), &clip).unwrap().into_owned();
        let b = cut.bounding_rect().unwrap();
        assert_eq!(
            (b.min().x, b.min().y, b.max().x, b.max().y),
            (8.0, 8.0, 10.0, 10.0)
        );
    }
}

//! Feature collections in memory and their GeoJSON: each feature's geometry (wound as
//! RFC 7946 asks, at the published precision) and properties, a spatial index over the
//! features' envelopes, and the writers of GeoJSON features and pages. The `/items`
//! query and the other formats (CSV, FlatGeobuf, xlsx) build on these.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Geometry, MapCoords, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::value::RawValue;

use crate::store::fgb::{CellRef, ColType, Column, LayerInfo};
use crate::store::{Table, Values};

/// One feature: a stable id and a geometry; its properties are row `n` of the
/// collection's columns.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub geometry: Option<Geometry<f64>>,
    pub bbox: Option<Rect<f64>>,
    /// The geometry as GeoJSON, written on the first request that returns the feature
    /// (numbers are the bulk of a page: each is formatted once).
    geojson: OnceLock<Box<RawValue>>,
    /// Every property as a GeoJSON `properties` object, cached likewise.
    all_properties: OnceLock<Box<RawValue>>,
}

impl Item {
    /// A feature whose geometry is stored as it is published: coordinates at 1e-7°
    /// (so that a bbox written from published coordinates selects what it shows) and
    /// polygons wound as RFC 7946 §3.1.6 asks (exterior rings counterclockwise, holes
    /// clockwise). An empty geometry is no geometry.
    pub fn new(id: String, geometry: Option<Geometry<f64>>) -> Self {
        let geometry = geometry
            .filter(|g| g.bounding_rect().is_some())
            .map(|g| published(&g));
        Item {
            id,
            bbox: geometry.as_ref().and_then(|g| g.bounding_rect()),
            geometry,
            geojson: OnceLock::new(),
            all_properties: OnceLock::new(),
        }
    }

    /// Every property of the feature (row `row` of `c`) as a JSON object, cached.
    fn all_properties_json(&self, c: &Collection, row: usize) -> &RawValue {
        self.all_properties.get_or_init(|| {
            let all: Vec<usize> = (0..c.info.columns.len()).collect();
            let f = GeoJsonFeature {
                collection: c,
                row,
                properties: &all,
            };
            serde_json::to_string(&Properties(&f))
                .and_then(RawValue::from_string)
                .unwrap_or_default()
        })
    }

    /// The GeoJSON geometry object (`null` without geometry), cached.
    pub fn geometry_json(&self) -> &RawValue {
        self.geojson.get_or_init(|| {
            serde_json::to_string(&GeoJsonGeometry(self.geometry.as_ref()))
                .and_then(RawValue::from_string)
                // Default: `null` (writing a geometry cannot fail: no map keys, no I/O).
                .unwrap_or_default()
        })
    }
}

/// A geometry as the service publishes it: rounded to 1e-7° and, for polygons, wound
/// as RFC 7946 asks.
pub fn published(g: &Geometry<f64>) -> Geometry<f64> {
    let g = g.map_coords(|c| geo::Coord {
        x: round7(c.x),
        y: round7(c.y),
    });
    wound_rfc7946(g)
}

/// Exterior rings counterclockwise, interior rings clockwise (RFC 7946 §3.1.6); other
/// geometries unchanged.
pub fn wound_rfc7946(g: Geometry<f64>) -> Geometry<f64> {
    match g {
        Geometry::Polygon(p) => Geometry::Polygon(p.orient(Direction::Default)),
        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(mp.orient(Direction::Default)),
        Geometry::Rect(r) => Geometry::Polygon(r.to_polygon().orient(Direction::Default)),
        Geometry::Triangle(t) => Geometry::Polygon(t.to_polygon().orient(Direction::Default)),
        Geometry::GeometryCollection(gc) => Geometry::GeometryCollection(geo::GeometryCollection(
            gc.0.into_iter().map(wound_rfc7946).collect(),
        )),
        other => other,
    }
}

/// The envelope of one feature in the spatial index, with its row.
type Envelope = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// An R-tree over the features' envelopes (features without geometry are not in it).
fn envelope_index(items: &[Item]) -> RTree<Envelope> {
    RTree::bulk_load(
        items
            .iter()
            .enumerate()
            .filter_map(|(row, it)| {
                let b = it.bbox?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    row,
                ))
            })
            .collect(),
    )
}

/// A collection served under `/collections/{id}`: a layer's columns (shared with its
/// simplified map copy) and one item per row.
#[derive(Debug, Clone)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: String,
    pub info: LayerInfo,
    /// The column that holds the features' ids.
    pub id_column: String,
    columns: Arc<Vec<Values>>,
    pub items: Vec<Item>,
    by_id: HashMap<String, usize>,
    /// The items' envelopes: a bbox query costs O(log n + k), not a scan.
    index: Arc<RTree<Envelope>>,
    pub extent: Option<Rect<f64>>,
    /// Sources, vintages, licences and analysis parameters (collection metadata).
    pub meta: serde_json::Value,
}

impl Collection {
    /// A collection from a layer's table; `id_column` holds the stable id (INSEE code,
    /// FINESS number or source id, SIREN…). Rows without one are numbered from 1.
    pub fn new(id: &str, table: Table, id_column: &str, meta: serde_json::Value) -> Self {
        let Table {
            info,
            columns,
            geometries,
            ..
        } = table;
        let ids = info
            .columns
            .iter()
            .position(|c| c.name == id_column)
            .and_then(|i| columns.get(i));
        let mut geometries = geometries.into_iter();
        let rows = columns.first().map_or(0, Values::len);
        let items: Vec<Item> = (0..rows)
            .map(|n| {
                let id = match ids.map(|v| v.get(n)) {
                    Some(CellRef::Text(s)) => s.to_owned(),
                    Some(CellRef::Int(v)) => v.to_string(),
                    _ => (n + 1).to_string(),
                };
                Item::new(id, geometries.next().flatten())
            })
            .collect();
        let by_id = items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.id.clone(), i))
            .collect();
        let extent = items.iter().filter_map(|i| i.bbox).reduce(|a, b| {
            Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        });
        Collection {
            id: id.to_owned(),
            title: info.title.clone(),
            description: info.description.clone(),
            info,
            id_column: id_column.to_owned(),
            columns: Arc::new(columns),
            index: Arc::new(envelope_index(&items)),
            items,
            by_id,
            extent,
            meta,
        }
    }

    /// The same collection with every geometry transformed (e.g. simplified for display).
    pub fn map_geometries(&self, f: impl Fn(&Geometry<f64>) -> Geometry<f64>) -> Collection {
        let items: Vec<Item> = self
            .items
            .iter()
            .map(|it| {
                let geometry = it.geometry.as_ref().map(&f);
                Item {
                    geojson: OnceLock::new(),
                    all_properties: OnceLock::new(),
                    bbox: geometry.as_ref().and_then(|g| g.bounding_rect()),
                    geometry,
                    id: it.id.clone(),
                }
            })
            .collect();
        // Field by field: `..self.clone()` would copy every full-resolution geometry only
        // to drop it. A simplified geometry stays within its original's envelope, and the
        // simplified copy is drawn, never queried by bbox: the envelope index is shared.
        Collection {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            info: self.info.clone(),
            id_column: self.id_column.clone(),
            columns: Arc::clone(&self.columns),
            items,
            by_id: self.by_id.clone(),
            index: Arc::clone(&self.index),
            extent: self.extent,
            meta: self.meta.clone(),
        }
    }

    /// Rows whose envelope meets `b`, in collection order.
    pub fn rows_meeting(&self, b: &Rect<f64>) -> Vec<usize> {
        let aabb = AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]);
        let mut rows: Vec<usize> = self
            .index
            .locate_in_envelope_intersecting(&aabb)
            .map(|e| e.data)
            .collect();
        rows.sort_unstable();
        rows
    }

    /// Property `column` of row `row`.
    pub fn cell(&self, row: usize, column: usize) -> CellRef<'_> {
        self.columns
            .get(column)
            .map_or(CellRef::Null, |v| v.get(row))
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.item_index(id).map(|i| &self.items[i])
    }

    /// Position of a feature by its id.
    pub fn item_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.info.columns.iter().position(|c| c.name == name)
    }

    /// Does the layer hold points (CSV and spreadsheets then get `lon`, `lat` columns)?
    pub fn is_points(&self) -> bool {
        matches!(
            self.info.geometry_type,
            flatgeobuf::GeometryType::Point | flatgeobuf::GeometryType::MultiPoint
        )
    }
}

/// Coordinates are written to 1e-7° (about 1 cm), the precision of the sources.
pub fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

struct Coord(geo::Coord<f64>);

impl Serialize for Coord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&round7(self.0.x))?;
        seq.serialize_element(&round7(self.0.y))?;
        seq.end()
    }
}

struct Line<'a>(&'a geo::LineString<f64>);

impl Serialize for Line<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.0.iter().map(|c| Coord(*c)))
    }
}

struct Rings<'a>(&'a geo::Polygon<f64>);

impl Serialize for Rings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            std::iter::once(self.0.exterior())
                .chain(self.0.interiors())
                .map(Line),
        )
    }
}

/// A GeoJSON geometry object written straight from a `geo` geometry (no intermediate
/// tree); `null` when empty.
pub struct GeoJsonGeometry<'a>(pub Option<&'a Geometry<f64>>);

impl Serialize for GeoJsonGeometry<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(g) = self.0 else {
            return s.serialize_none();
        };
        let mut m = s.serialize_map(Some(2))?;
        match g {
            Geometry::Point(p) => {
                m.serialize_entry("type", "Point")?;
                m.serialize_entry("coordinates", &Coord(p.0))?;
            }
            Geometry::MultiPoint(mp) => {
                m.serialize_entry("type", "MultiPoint")?;
                let pts: Vec<Coord> = mp.0.iter().map(|p| Coord(p.0)).collect();
                m.serialize_entry("coordinates", &pts)?;
            }
            Geometry::LineString(l) => {
                m.serialize_entry("type", "LineString")?;
                m.serialize_entry("coordinates", &Line(l))?;
            }
            Geometry::MultiLineString(ml) => {
                m.serialize_entry("type", "MultiLineString")?;
                let ls: Vec<Line> = ml.0.iter().map(Line).collect();
                m.serialize_entry("coordinates", &ls)?;
            }
            Geometry::Polygon(p) => {
                m.serialize_entry("type", "Polygon")?;
                m.serialize_entry("coordinates", &Rings(p))?;
            }
            Geometry::MultiPolygon(mp) => {
                m.serialize_entry("type", "MultiPolygon")?;
                let ps: Vec<Rings> = mp.0.iter().map(Rings).collect();
                m.serialize_entry("coordinates", &ps)?;
            }
            Geometry::GeometryCollection(gc) => {
                m.serialize_entry("type", "GeometryCollection")?;
                let gs: Vec<GeoJsonGeometry> =
                    gc.0.iter().map(|g| GeoJsonGeometry(Some(g))).collect();
                m.serialize_entry("geometries", &gs)?;
            }
            Geometry::Line(l) => {
                m.serialize_entry("type", "LineString")?;
                m.serialize_entry("coordinates", &[Coord(l.start), Coord(l.end)])?;
            }
            Geometry::Rect(r) => {
                m.serialize_entry("type", "Polygon")?;
                m.serialize_entry("coordinates", &Rings(&r.to_polygon()))?;
            }
            Geometry::Triangle(t) => {
                m.serialize_entry("type", "Polygon")?;
                m.serialize_entry("coordinates", &Rings(&t.to_polygon()))?;
            }
        }
        m.end()
    }
}

/// A cell as a JSON value (non-finite numbers become `null`).
pub struct JsonCell<'a>(pub CellRef<'a>);

impl Serialize for JsonCell<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            CellRef::Null => s.serialize_none(),
            CellRef::Text(t) => s.serialize_str(t),
            CellRef::Real(v) if v.is_finite() => s.serialize_f64(v),
            CellRef::Real(_) => s.serialize_none(),
            CellRef::Int(v) => s.serialize_i64(v),
            CellRef::Bool(v) => s.serialize_bool(v),
        }
    }
}

/// One GeoJSON feature (row `row` of the collection) with the chosen properties.
pub struct GeoJsonFeature<'a> {
    pub collection: &'a Collection,
    pub row: usize,
    pub properties: &'a [usize],
}

struct Properties<'a>(&'a GeoJsonFeature<'a>);

impl Serialize for Properties<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut m = s.serialize_map(Some(f.properties.len()))?;
        for &i in f.properties {
            m.serialize_entry(
                &f.collection.info.columns[i].name,
                &JsonCell(f.collection.cell(f.row, i)),
            )?;
        }
        m.end()
    }
}

impl Serialize for GeoJsonFeature<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let item = &self.collection.items[self.row];
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("type", "Feature")?;
        m.serialize_entry("id", &item.id)?;
        m.serialize_entry("geometry", item.geometry_json())?;
        let all = self.properties.len() == self.collection.info.columns.len()
            && self.properties.iter().enumerate().all(|(i, &p)| i == p);
        if all {
            m.serialize_entry(
                "properties",
                item.all_properties_json(self.collection, self.row),
            )?;
        } else {
            m.serialize_entry("properties", &Properties(self))?;
        }
        m.end()
    }
}

/// A page of features as a GeoJSON FeatureCollection with the OGC members.
pub struct GeoJsonPage<'a> {
    pub collection: &'a Collection,
    pub items: &'a [usize],
    pub properties: &'a [usize],
    pub number_matched: usize,
    pub links: &'a serde_json::Value,
}

struct Features<'a>(&'a GeoJsonPage<'a>);

impl Serialize for Features<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        s.collect_seq(p.items.iter().map(|&row| GeoJsonFeature {
            collection: p.collection,
            row,
            properties: p.properties,
        }))
    }
}

impl Serialize for GeoJsonPage<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("type", "FeatureCollection")?;
        m.serialize_entry("features", &Features(self))?;
        m.serialize_entry("numberMatched", &self.number_matched)?;
        m.serialize_entry("numberReturned", &self.items.len())?;
        m.serialize_entry("links", self.links)?;
        m.end()
    }
}

/// JSON Schema type of a column (queryables).
pub fn json_type(c: &Column) -> &'static str {
    json_type_of(c.ty)
}

/// JSON Schema type of a column type.
pub fn json_type_of(ty: ColType) -> &'static str {
    match ty {
        ColType::Text => "string",
        ColType::Real => "number",
        ColType::Int => "integer",
        ColType::Bool => "boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;
    use proptest::prelude::*;

    /// A star-shaped ring around (cx, cy), counterclockwise unless `reversed`.
    fn ring(cx: f64, cy: f64, radii: &[f64], reversed: bool) -> geo::LineString<f64> {
        let mut r = crate::test_support::star_ring(cx, cy, radii);
        if reversed {
            r.0.reverse();
        }
        r
    }

    fn rings_follow_rfc7946(v: &serde_json::Value) -> bool {
        let area = |r: &serde_json::Value| {
            let ls: geo::LineString<f64> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .collect::<Vec<_>>()
                .into();
            geo::Polygon::new(ls, vec![]).signed_area()
        };
        v["coordinates"].as_array().unwrap().iter().all(|polygon| {
            polygon
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .all(|(i, r)| (area(r) > 0.0) == (i == 0))
        })
    }

    proptest! {
        /// Whatever the winding of the source, the published polygon has its exterior
        /// counterclockwise and its holes clockwise.
        #[test]
        fn published_polygons_follow_rfc7946(
            radii in prop::collection::vec(1.0..2.0f64, 3..10),
            hole in prop::collection::vec(0.1..0.5f64, 3..8),
            outer_cw in any::<bool>(), hole_ccw in any::<bool>(), cx in -5.0..5.0f64,
        ) {
            let p = geo::Polygon::new(ring(cx, 45.0, &radii, outer_cw), vec![ring(cx, 45.0, &hole, !hole_ccw)]);
            let item = Item::new("x".into(), Some(geo::MultiPolygon(vec![p]).into()));
            let v: serde_json::Value = serde_json::from_str(item.geometry_json().get()).unwrap();
            prop_assert!(rings_follow_rfc7946(&v), "{}", v);
        }
    }

    #[test]
    fn published_coordinates_are_the_stored_ones() {
        let item = Item::new(
            "x".into(),
            Some(geo::Point::new(-0.123456789, 46.987654321).into()),
        );
        assert_eq!(
            item.geometry_json().get(),
            r#"{"type":"Point","coordinates":[-0.1234568,46.9876543]}"#
        );
        let Some(Geometry::Point(p)) = &item.geometry else {
            panic!()
        };
        assert_eq!((p.x(), p.y()), (-0.1234568, 46.9876543));
    }
}

//! Feature collections in memory and their encodings: GeoJSON, CSV (`,` or `;` with
//! decimal commas for French spreadsheets) and FlatGeobuf.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use geo::{BoundingRect, Geometry, Intersects, Rect};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::json;
use serde_json::value::RawValue;

use crate::store::fgb::{self, CellRef, ColType, Column, LayerInfo};
use crate::store::{Table, Values};

use super::error::ApiError;
use super::params::{self, DEFAULT_LIMIT, MAX_LIMIT, Param, QueryPairs};

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
    pub fn new(id: String, geometry: Option<Geometry<f64>>) -> Self {
        let geometry = geometry.filter(|g| g.bounding_rect().is_some());
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

/// A collection served under `/collections/{id}`: a layer's columns (shared with its
/// simplified map copy) and one item per row.
#[derive(Debug, Clone)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: String,
    pub info: LayerInfo,
    columns: Arc<Vec<Values>>,
    pub items: Vec<Item>,
    by_id: HashMap<String, usize>,
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
            columns: Arc::new(columns),
            items,
            by_id,
            extent,
            meta,
        }
    }

    /// The same collection with every geometry transformed (e.g. simplified for display).
    pub fn map_geometries(&self, f: impl Fn(&Geometry<f64>) -> Geometry<f64>) -> Collection {
        Collection {
            items: self
                .items
                .iter()
                .map(|it| Item {
                    geojson: OnceLock::new(),
                    all_properties: OnceLock::new(),
                    geometry: it.geometry.as_ref().map(&f),
                    ..it.clone()
                })
                .collect(),
            ..self.clone()
        }
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
}

/// Output format of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Csv,
    FlatGeobuf,
}

impl Format {
    pub fn parse(name: &str, value: &str) -> Result<Format, ApiError> {
        match value {
            "json" | "geojson" => Ok(Format::GeoJson),
            "csv" => Ok(Format::Csv),
            "fgb" | "flatgeobuf" => Ok(Format::FlatGeobuf),
            _ => Err(params::bad(
                name,
                format!("must be json, csv or fgb, not {value:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::GeoJson => "json",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::FlatGeobuf => "application/flatgeobuf",
        }
    }

    pub const ALL: [Format; 3] = [Format::GeoJson, Format::Csv, Format::FlatGeobuf];
}

/// CSV field separator; `;` goes with decimal commas (French spreadsheets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Comma,
    Semicolon,
}

const FORMAT: Param = Param {
    name: "f",
    description: "Output format",
    required: false,
    schema: |_| json!({"type": "string", "enum": ["json", "csv", "fgb"], "default": "json"}),
};
const PROPERTIES: Param = Param {
    name: "properties",
    description: "Comma-separated properties to return (empty: none)",
    required: false,
    schema: |_| json!({"type": "array", "items": {"type": "string"}}),
};
const SEPARATOR: Param = Param {
    name: "sep",
    description: "CSV separator: `,` (default) or `;` (with decimal commas, for French spreadsheets)",
    required: false,
    schema: |_| json!({"type": "string", "enum": [",", ";"]}),
};

/// Parameters of `/collections/{id}/items/{featureId}`.
pub const ITEM_PARAMS: &[Param] = &[FORMAT, PROPERTIES, SEPARATOR];

/// Parameters of an items request that are not property filters.
pub const ITEMS_PARAMS: &[Param] = &[
    Param {
        name: "bbox",
        description: "minlon,minlat,maxlon,maxlat in CRS84 (WGS84 degrees); corners ordered",
        required: false,
        schema: |_| json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
    },
    Param {
        name: "bbox-crs",
        description: "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        required: false,
        schema: |_| json!({"type": "string"}),
    },
    Param {
        name: "limit",
        description: "Page size",
        required: false,
        schema: |_| json!({"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
    },
    Param {
        name: "offset",
        description: "Features to skip (the `next` and `prev` links set it)",
        required: false,
        schema: |_| json!({"type": "integer", "minimum": 0, "default": 0}),
    },
    FORMAT,
    PROPERTIES,
    SEPARATOR,
    Param {
        name: "datetime",
        description: "Accepted for conformance; the collections have no time dimension",
        required: false,
        schema: |_| json!({"type": "string"}),
    },
];

/// A parsed `/items` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    pub bbox: Option<Rect<f64>>,
    pub limit: usize,
    pub offset: usize,
    /// `(column, value)`: the property must equal the value.
    pub filters: Vec<(usize, FilterValue)>,
    /// Columns to output, in order; all when the request does not say.
    pub properties: Vec<usize>,
    pub format: Format,
    pub separator: Separator,
}

impl ItemsQuery {
    /// Parses the query of `/collections/{id}/items`: the OGC parameters plus one equality
    /// filter per property name (`?departement=79`). Unknown names are a 400.
    pub fn parse(q: &QueryPairs, c: &Collection, default: Format) -> Result<Self, ApiError> {
        let mut filters: Vec<(usize, FilterValue)> = Vec::new();
        for (k, v) in q.pairs() {
            if ITEMS_PARAMS.iter().any(|p| p.name == k) {
                continue;
            }
            match c.column(k) {
                Some(i) if filters.iter().any(|(j, _)| *j == i) => {
                    return Err(params::bad(k, "is given more than once"));
                }
                Some(i) => filters.push((i, FilterValue::parse(k, c.info.columns[i].ty, v)?)),
                None => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter `{k}`: neither an items parameter ({}) nor a property of {} ({})",
                        ITEMS_PARAMS
                            .iter()
                            .map(|p| p.name)
                            .collect::<Vec<_>>()
                            .join(", "),
                        c.id,
                        c.info
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        if let Some(crs) = q.get("bbox-crs")? {
            if !matches!(
                crs,
                "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
                    | "https://www.opengis.net/def/crs/OGC/1.3/CRS84"
            ) {
                return Err(params::bad(
                    "bbox-crs",
                    format!(
                        "must be http://www.opengis.net/def/crs/OGC/1.3/CRS84 (the only CRS served), not {crs:?}"
                    ),
                ));
            }
        }
        let properties = match q.get("properties")? {
            None => (0..c.info.columns.len()).collect(),
            Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|name| {
                    c.column(name.trim()).ok_or_else(|| {
                        params::bad(
                            "properties",
                            format!("names {:?}, which is not a property of {}", name, c.id),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let separator = match q.get("sep")? {
            None | Some(",") | Some("comma") => Separator::Comma,
            Some(";") | Some("semicolon") => Separator::Semicolon,
            Some(other) => {
                return Err(params::bad(
                    "sep",
                    format!("must be `,` or `;` (comma, semicolon), not {other:?}"),
                ));
            }
        };
        Ok(ItemsQuery {
            bbox: q.parsed("bbox", params::bbox)?,
            limit: q.parsed("limit", params::limit)?.unwrap_or(DEFAULT_LIMIT),
            offset: q.parsed("offset", params::offset)?.unwrap_or(0),
            filters,
            properties,
            format: q.parsed("f", Format::parse)?.unwrap_or(default),
            separator,
        })
    }

    /// Indices of every matching item, in collection order.
    pub fn matching(&self, c: &Collection) -> Vec<usize> {
        c.items
            .iter()
            .enumerate()
            .filter(|(row, it)| {
                self.bbox.is_none_or(|b| match (&it.bbox, &it.geometry) {
                    // Exact test only for features across the bbox's edge.
                    (Some(ib), Some(g)) => ib.intersects(&b) && (within(ib, &b) || touches(g, &b)),
                    _ => false,
                }) && self
                    .filters
                    .iter()
                    .all(|(col, v)| v.matches(c.cell(*row, *col)))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Is `inner` inside `outer` (edges included)?
fn within(inner: &Rect<f64>, outer: &Rect<f64>) -> bool {
    inner.min().x >= outer.min().x
        && inner.min().y >= outer.min().y
        && inner.max().x <= outer.max().x
        && inner.max().y <= outer.max().y
}

/// Does a geometry meet a rectangle? Polygons take a linear test (a vertex inside, an
/// edge across, or the rectangle inside the polygon); other geometries the general one.
fn touches(g: &Geometry<f64>, b: &Rect<f64>) -> bool {
    match g {
        Geometry::MultiPolygon(mp) => polygons_touch(&mp.0, b),
        Geometry::Polygon(p) => polygons_touch(std::slice::from_ref(p), b),
        other => other.intersects(b),
    }
}

fn polygons_touch(polygons: &[geo::Polygon<f64>], b: &Rect<f64>) -> bool {
    let rings = || {
        polygons
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    };
    let inside = |c: &geo::Coord<f64>| {
        c.x >= b.min().x && c.x <= b.max().x && c.y >= b.min().y && c.y <= b.max().y
    };
    if rings().any(|r| r.0.iter().any(inside)) {
        return true;
    }
    if rings().any(|r| r.0.windows(2).any(|w| segment_meets_rect(w[0], w[1], b))) {
        return true;
    }
    // No vertex inside and no edge across: the rectangle is wholly inside or outside.
    use geo::Contains;
    let centre = geo::Point::from(b.center());
    polygons.iter().any(|p| p.contains(&centre))
}

/// Liang–Barsky: does the segment a→b cross the rectangle?
fn segment_meets_rect(a: geo::Coord<f64>, b: geo::Coord<f64>, r: &Rect<f64>) -> bool {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.x - r.min().x),
        (dx, r.max().x - a.x),
        (-dy, a.y - r.min().y),
        (dy, r.max().y - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// The value of a property filter, parsed once for the type of its column.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
}

impl FilterValue {
    /// Parses `value` for a column of type `ty`; a value the column cannot hold is a 400
    /// naming the parameter (it would otherwise match nothing, silently).
    pub fn parse(name: &str, ty: ColType, value: &str) -> Result<Self, ApiError> {
        Ok(match ty {
            ColType::Text => FilterValue::Text(value.to_owned()),
            ColType::Int => match value.trim().parse::<i64>() {
                Ok(i) => FilterValue::Int(i),
                Err(_) => {
                    return Err(params::bad(
                        name,
                        format!("must be a whole number, not {value:?}"),
                    ));
                }
            },
            ColType::Real => FilterValue::Real(params::number(name, value)?),
            ColType::Bool => match value {
                "true" | "1" => FilterValue::Bool(true),
                "false" | "0" => FilterValue::Bool(false),
                _ => {
                    return Err(params::bad(
                        name,
                        format!("must be true or false, not {value:?}"),
                    ));
                }
            },
        })
    }

    /// Does a cell hold this value? Numbers compare as numbers (`population=0` matches
    /// `0.0`); an empty cell matches nothing.
    pub fn matches(&self, cell: CellRef<'_>) -> bool {
        match (cell, self) {
            (CellRef::Text(s), FilterValue::Text(v)) => s == v,
            (CellRef::Int(i), FilterValue::Int(v)) => i == *v,
            (CellRef::Real(x), FilterValue::Real(v)) => x == *v,
            (CellRef::Bool(b), FilterValue::Bool(v)) => b == *v,
            _ => false,
        }
    }
}

/// Coordinates are written to 1e-7° (about 1 cm), the precision of the sources.
fn round7(v: f64) -> f64 {
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

/// A number as written in CSV: shortest round-trip form, decimal comma with `;`.
fn csv_number(v: f64, sep: Separator) -> String {
    let s = v.to_string();
    match sep {
        Separator::Comma => s,
        Separator::Semicolon => s.replace('.', ","),
    }
}

/// Features as CSV: the chosen properties, then `lon,lat` for point layers. With `;`
/// the file starts with a UTF-8 byte-order mark so that spreadsheets read the accents.
pub fn csv(
    c: &Collection,
    items: &[usize],
    properties: &[usize],
    sep: Separator,
) -> Result<Vec<u8>, ApiError> {
    let points = matches!(
        c.info.geometry_type,
        flatgeobuf::GeometryType::Point | flatgeobuf::GeometryType::MultiPoint
    );
    let mut out = Vec::new();
    if sep == Separator::Semicolon {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(if sep == Separator::Semicolon {
            b';'
        } else {
            b','
        })
        .from_writer(out);
    let mut header: Vec<&str> = properties
        .iter()
        .map(|&i| c.info.columns[i].name.as_str())
        .collect();
    if points {
        header.extend(["lon", "lat"]);
    }
    w.write_record(&header).map_err(ApiError::internal)?;
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for &i in items {
        let it = &c.items[i];
        row.clear();
        for &p in properties {
            row.push(match c.cell(i, p) {
                CellRef::Null => String::new(),
                CellRef::Text(s) => s.to_owned(),
                CellRef::Real(v) if v.is_finite() => csv_number(v, sep),
                CellRef::Real(_) => String::new(),
                CellRef::Int(v) => v.to_string(),
                CellRef::Bool(b) => b.to_string(),
            });
        }
        if points {
            match &it.geometry {
                Some(Geometry::Point(p)) => {
                    row.push(csv_number(round7(p.x()), sep));
                    row.push(csv_number(round7(p.y()), sep));
                }
                _ => row.extend([String::new(), String::new()]),
            }
        }
        w.write_record(&row).map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

/// Features as a FlatGeobuf file with the chosen properties (items without geometry
/// get an empty one of the layer's type, as in the built files).
pub fn flatgeobuf(
    c: &Collection,
    items: &[usize],
    properties: &[usize],
) -> Result<Vec<u8>, ApiError> {
    let info = LayerInfo {
        columns: properties
            .iter()
            .map(|&i| c.info.columns[i].clone())
            .collect(),
        ..c.info.clone()
    };
    let empty: Geometry<f64> = match c.info.geometry_type {
        flatgeobuf::GeometryType::Point | flatgeobuf::GeometryType::MultiPoint => {
            geo::MultiPoint::<f64>(vec![]).into()
        }
        _ => geo::MultiPolygon::<f64>(vec![]).into(),
    };
    let rows = items.iter().map(|&i| {
        (
            c.items[i].geometry.as_ref().unwrap_or(&empty),
            properties.iter().map(|&p| c.cell(i, p)).collect::<Vec<_>>(),
        )
    });
    let mut out = Vec::new();
    fgb::encode(&mut out, &info, rows).map_err(ApiError::internal)?;
    Ok(out)
}

/// JSON Schema type of a column (queryables).
pub fn json_type(c: &Column) -> &'static str {
    match c.ty {
        ColType::Text => "string",
        ColType::Real => "number",
        ColType::Int => "integer",
        ColType::Bool => "boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A star-shaped polygon around (cx, cy): radii at evenly spaced angles.
    fn star(cx: f64, cy: f64, radii: &[f64]) -> geo::Polygon<f64> {
        let n = radii.len() as f64;
        let mut pts: Vec<(f64, f64)> = radii
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let a = i as f64 / n * std::f64::consts::TAU;
                (cx + r * a.cos(), cy + r * a.sin())
            })
            .collect();
        pts.push(pts[0]);
        geo::Polygon::new(pts.into(), vec![])
    }

    proptest! {
        #[test]
        fn polygon_rectangle_test_agrees_with_geo(
            cx in -2.0..2.0f64, cy in -2.0..2.0f64,
            radii in prop::collection::vec(0.1..2.0f64, 3..12),
            x0 in -3.0..3.0f64, y0 in -3.0..3.0f64, w in 0.0..3.0f64, h in 0.0..3.0f64,
        ) {
            let p = star(cx, cy, &radii);
            let r = Rect::new((x0, y0), (x0 + w, y0 + h));
            prop_assert_eq!(polygons_touch(std::slice::from_ref(&p), &r), p.intersects(&r));
        }
    }

    #[test]
    fn a_rectangle_inside_a_polygon_touches_it() {
        let p = star(0.0, 0.0, &[5.0; 8]);
        let r = Rect::new((-0.5, -0.5), (0.5, 0.5));
        assert!(polygons_touch(std::slice::from_ref(&p), &r));
        let far = Rect::new((10.0, 10.0), (11.0, 11.0));
        assert!(!polygons_touch(std::slice::from_ref(&p), &far));
    }
}

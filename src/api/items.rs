//! The `/items` request: output format (by `f=` or the `Accept` header), paging,
//! bbox and property filters, and the offsets of the `next` and `prev` links.

use axum::http::{HeaderMap, header};
use geo::{Geometry, Intersects, Rect};
use serde_json::json;

use crate::store::fgb::{CellRef, ColType};

use super::error::ApiError;
use super::features::Collection;
use super::params::{self, DEFAULT_LIMIT, MAX_LIMIT, Param, QueryPairs};

/// Output format of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Csv,
    FlatGeobuf,
    /// An Excel workbook (typed cells: codes stay text, numbers stay numbers).
    Xlsx,
}

impl Format {
    pub fn parse(name: &str, value: &str) -> Result<Format, ApiError> {
        match value {
            "json" | "geojson" => Ok(Format::GeoJson),
            "csv" => Ok(Format::Csv),
            "fgb" | "flatgeobuf" => Ok(Format::FlatGeobuf),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(params::bad(
                name,
                format!("must be json, csv, fgb or xlsx, not {value:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::GeoJson => "json",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::FlatGeobuf => "application/flatgeobuf",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The format a media type of an `Accept` header asks for (`None`: not one of ours).
    fn of_media_type(media: &str) -> Option<Format> {
        match media {
            "application/geo+json" | "application/json" => Some(Format::GeoJson),
            "text/csv" => Some(Format::Csv),
            "application/flatgeobuf" => Some(Format::FlatGeobuf),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
                Some(Format::Xlsx)
            }
            _ => None,
        }
    }

    /// The format an `Accept` header prefers among ours: the highest `q`, the first
    /// listed on a tie; `None` when it names none of ours (wildcards included), and the
    /// caller's default applies.
    pub fn from_accept(headers: &HeaderMap) -> Option<Format> {
        let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
        let mut best: Option<(f64, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|v| v.parse::<f64>().ok())
                .unwrap_or(1.0);
            if let Some(f) = Format::of_media_type(&media) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, f));
                }
            }
        }
        best.map(|(_, f)| f)
    }

    pub const ALL: [Format; 4] = [
        Format::GeoJson,
        Format::Csv,
        Format::FlatGeobuf,
        Format::Xlsx,
    ];
}

/// CSV field separator; `;` goes with decimal commas (French spreadsheets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Comma,
    Semicolon,
}

const FORMAT: Param = Param {
    name: "f",
    description: "Output format (without it, the `Accept` header chooses: application/geo+json, text/csv, application/flatgeobuf or the xlsx media type)",
    required: false,
    schema: |_| json!({"type": "string", "enum": ["json", "csv", "fgb", "xlsx"], "default": "json"}),
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
    pub fn parse(q: &QueryPairs, c: &Collection, headers: &HeaderMap) -> Result<Self, ApiError> {
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
            format: match q.parsed("f", Format::parse)? {
                Some(f) => f,
                None => Format::from_accept(headers).unwrap_or(Format::GeoJson),
            },
            separator,
        })
    }

    /// Indices of every matching item, in collection order. With a bbox, only the
    /// features whose envelope meets it are looked at (the collection's R-tree).
    pub fn matching(&self, c: &Collection) -> Vec<usize> {
        let keep = |row: usize| {
            self.filters
                .iter()
                .all(|(col, v)| v.matches(c.cell(row, *col)))
        };
        match &self.bbox {
            None => (0..c.items.len()).filter(|&row| keep(row)).collect(),
            Some(b) => c
                .rows_meeting(b)
                .into_iter()
                .filter(|&row| {
                    let it = &c.items[row];
                    match (&it.bbox, &it.geometry) {
                        // Exact test only for features across the bbox's edge.
                        (Some(ib), Some(g)) => within(ib, b) || touches(g, b),
                        _ => false,
                    }
                })
                .filter(|&row| keep(row))
                .collect(),
        }
    }

    /// Offsets of the neighbouring pages when `matched` features match: `next` while
    /// features are left after this page, `prev` (the page that ends where this one
    /// starts, or the last page when the offset is past the end) when this page does not
    /// start at the first. A page of `limit=0` only counts: it has no neighbours (a
    /// `next` at the same offset would loop a client forever).
    pub fn neighbours(&self, matched: usize) -> Neighbours {
        if self.limit == 0 {
            return Neighbours::default();
        }
        let end = (self.offset + self.limit).min(matched);
        Neighbours {
            next: (end < matched).then_some(end),
            prev: (self.offset > 0 && matched > 0)
                .then(|| self.offset.min(matched).saturating_sub(self.limit)),
        }
    }
}

/// The offsets of the `next` and `prev` pages, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Neighbours {
    pub next: Option<usize>,
    pub prev: Option<usize>,
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

    /// Does a JSON property value hold this value (as [`FilterValue::matches`] a cell)?
    pub fn matches_json(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        let cell = match value {
            Value::String(s) => CellRef::Text(s),
            Value::Bool(b) => CellRef::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => CellRef::Int(i),
                None => n.as_f64().map_or(CellRef::Null, CellRef::Real),
            },
            _ => CellRef::Null,
        };
        self.matches(cell)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A star-shaped polygon around (cx, cy): radii at evenly spaced angles.
    fn star(cx: f64, cy: f64, radii: &[f64]) -> geo::Polygon<f64> {
        geo::Polygon::new(crate::test_support::star_ring(cx, cy, radii), vec![])
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

    fn page(limit: usize, offset: usize) -> ItemsQuery {
        ItemsQuery {
            bbox: None,
            limit,
            offset,
            filters: vec![],
            properties: vec![],
            format: Format::GeoJson,
            separator: Separator::Comma,
        }
    }

    proptest! {
        /// Following `next` from any page ends, visits each later feature once, and
        /// `prev` of a non-first page is a page before it.
        #[test]
        fn paging_ends_and_never_repeats(limit in 0usize..20, offset in 0usize..60, matched in 0usize..50) {
            let n = page(limit, offset).neighbours(matched);
            if let Some(next) = n.next {
                prop_assert!(limit > 0 && next == offset + limit && next < matched);
            }
            if let Some(prev) = n.prev {
                prop_assert!(prev < offset && prev < matched);
            }
            if limit == 0 {
                prop_assert_eq!(n, Neighbours::default());
            }
            let mut at = offset;
            let mut steps = 0;
            while let Some(next) = page(limit, at).neighbours(matched).next {
                prop_assert!(next > at);
                at = next;
                steps += 1;
                prop_assert!(steps <= matched);
            }
        }
    }

    #[test]
    fn accept_headers_as_clients_send_them() {
        let f = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, v.parse().unwrap());
            Format::from_accept(&h)
        };
        assert_eq!(
            f("application/geo+json, application/json"),
            Some(Format::GeoJson)
        );
        assert_eq!(f("text/csv"), Some(Format::Csv));
        assert_eq!(
            f("text/csv;q=0.2, application/flatgeobuf"),
            Some(Format::FlatGeobuf)
        );
        assert_eq!(f("text/html,application/xhtml+xml,*/*;q=0.8"), None);
        assert_eq!(f("text/csv;q=0"), None);
        assert_eq!(Format::from_accept(&HeaderMap::new()), None);
    }
}

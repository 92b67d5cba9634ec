//! Query-string parsing. Every function names the parameter it rejects and why, so a
//! client always learns which parameter to fix; none of them panics, whatever the input
//! (they are fuzzed).

use geo::Rect;
use serde_json::Value;

use crate::analysis::DistanceModel;
use crate::analysis::request;

use super::error::ApiError;

/// Default and maximum page size of `/collections/{id}/items`.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

/// Decoded query-string pairs, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Decodes `a=1&b=x%20y` (invalid UTF-8 becomes U+FFFD, which no parameter accepts).
    pub fn parse(raw: Option<&str>) -> Self {
        QueryPairs(
            raw.map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value of a parameter; given twice is an error (which one would we take?).
    pub fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(bad(name, "is given more than once"));
        }
        Ok(first)
    }

    /// Rejects parameters outside `known` (a typo such as `limt=5` would otherwise be
    /// ignored silently).
    pub fn only(&self, known: &[Param]) -> Result<(), ApiError> {
        match self
            .0
            .iter()
            .find(|(k, _)| !known.iter().any(|p| p.name == k))
        {
            Some((k, _)) => Err(ApiError::bad_request(format!(
                "unknown parameter `{k}` (known: {})",
                known.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// A parameter parsed by `parse`, or `None` when absent.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str, &str) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)?.map(|v| parse(name, v)).transpose()
    }
}

/// A 400 naming the parameter.
pub fn bad(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("parameter `{name}` {message}"))
}

/// A query parameter of an endpoint: its name, what it means and its JSON Schema. The
/// same list checks a request's parameter names ([`QueryPairs::only`]) and documents the
/// endpoint in `/api`.
#[derive(Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    pub schema: fn(&Served) -> Value,
}

/// What the schemas of a service's parameters may list: the kinds of structure and the
/// accessibility profiles it serves.
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub kinds: Vec<String>,
    pub profiles: Vec<String>,
}

impl Param {
    /// The OpenAPI parameter object.
    pub fn openapi(&self, st: &Served) -> Value {
        serde_json::json!({
            "name": self.name,
            "in": "query",
            "description": self.description,
            "required": self.required,
            "schema": (self.schema)(st),
        })
    }
}

fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(40).collect();
    if value.chars().count() > 40 {
        s.push('…');
    }
    format!("{s:?}")
}

/// A finite number.
pub fn number(name: &str, value: &str) -> Result<f64, ApiError> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad(name, format!("must be a number, not {}", shown(value)))),
    }
}

/// A whole number (its range is the request's rule).
pub fn integer(name: &str, value: &str) -> Result<i128, ApiError> {
    value.trim().parse::<i128>().map_err(|_| {
        bad(
            name,
            format!("must be a whole number, not {}", shown(value)),
        )
    })
}

/// A whole number in `min..=max`.
pub fn count(name: &'static str, value: &str, min: usize, max: usize) -> Result<usize, ApiError> {
    Ok(request::count(name, integer(name, value)?, min, max)?)
}

/// `limit` of an items request: 0 to [`MAX_LIMIT`].
pub fn limit(_name: &str, value: &str) -> Result<usize, ApiError> {
    count("limit", value, 0, MAX_LIMIT)
}

/// `offset` of an items request.
pub fn offset(_name: &str, value: &str) -> Result<usize, ApiError> {
    count("offset", value, 0, 100_000_000)
}

/// `bbox=minlon,minlat,maxlon,maxlat` in CRS84 (a 6-number bbox with heights is
/// accepted, heights ignored). Corners must be ordered: a bbox across the antimeridian is
/// not supported (France has no territory there).
pub fn bbox(name: &str, value: &str) -> Result<Rect<f64>, ApiError> {
    let parts: Vec<&str> = value.split(',').collect();
    let n: Vec<f64> = parts
        .iter()
        .map(|p| number(name, p))
        .collect::<Result<_, _>>()?;
    let (x0, y0, x1, y1) = match n.as_slice() {
        [a, b, c, d] => (*a, *b, *c, *d),
        [a, b, _, c, d, _] => (*a, *b, *c, *d),
        _ => {
            return Err(bad(
                name,
                format!(
                    "must be minlon,minlat,maxlon,maxlat (4 numbers), not {} values",
                    parts.len()
                ),
            ));
        }
    };
    for (v, what) in [(x0, "minlon"), (x1, "maxlon")] {
        if !(-180.0..=180.0).contains(&v) {
            return Err(bad(name, format!("{what} {v} is outside [-180, 180]")));
        }
    }
    for (v, what) in [(y0, "minlat"), (y1, "maxlat")] {
        if !(-90.0..=90.0).contains(&v) {
            return Err(bad(name, format!("{what} {v} is outside [-90, 90]")));
        }
    }
    if x0 > x1 || y0 > y1 {
        return Err(bad(
            name,
            format!(
                "is inverted: minlon ≤ maxlon and minlat ≤ maxlat are required \
                 (got {x0},{y0},{x1},{y1}; bboxes across the antimeridian are not supported)"
            ),
        ));
    }
    Ok(Rect::new((x0, y0), (x1, y1)))
}

/// `model=straight|road_estimate|matrix`.
pub fn model(name: &str, value: &str) -> Result<DistanceModel, ApiError> {
    value.parse().map_err(|e| bad(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_accepts_ordered_corners_and_names_every_fault() {
        let r = bbox("bbox", "-0.5,46.8,0.1,47.2").unwrap();
        assert_eq!(r.min().x, -0.5);
        assert_eq!(r.max().y, 47.2);
        assert!(bbox("bbox", "-0.5,46.8,0,0.1,47.2,100").is_ok());
        for (input, words) in [
            ("1,2,3", "4 numbers"),
            ("a,2,3,4", "must be a number"),
            ("NaN,2,3,4", "must be a number"),
            ("inf,2,3,4", "must be a number"),
            ("-200,2,3,4", "outside [-180, 180]"),
            ("1,2,3,95", "outside [-90, 90]"),
            ("3,2,1,4", "inverted"),
            ("1,4,3,2", "inverted"),
            ("", "must be a number"),
        ] {
            let e = bbox("bbox", input).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.detail.contains("`bbox`"), "{input}: {}", e.detail);
            assert!(e.detail.contains(words), "{input}: {}", e.detail);
        }
    }

    #[test]
    fn limits_and_counts() {
        assert_eq!(limit("limit", "0").unwrap(), 0);
        assert_eq!(limit("limit", "10000").unwrap(), 10_000);
        assert!(
            limit("limit", "10001")
                .unwrap_err()
                .detail
                .contains("between 0 and 10000")
        );
        assert!(limit("limit", "-1").unwrap_err().detail.contains("between"));
        assert!(limit("limit", "99999999999999999999999999999999999999999").is_err());
        assert!(
            limit("limit", "1.5")
                .unwrap_err()
                .detail
                .contains("whole number")
        );
        assert!(offset("offset", "12").is_ok());
    }

    #[test]
    fn query_pairs_reject_repeats_and_unknown_names() {
        let known = |name| Param {
            name,
            description: "",
            required: false,
            schema: |_| Value::Null,
        };
        let q = QueryPairs::parse(Some("a=1&b=x%20y&a=2&c"));
        assert!(q.get("a").unwrap_err().detail.contains("more than once"));
        assert_eq!(q.get("b").unwrap(), Some("x y"));
        assert_eq!(q.get("c").unwrap(), Some(""));
        assert!(
            q.only(&[known("a"), known("b")])
                .unwrap_err()
                .detail
                .contains("`c`")
        );
        assert!(
            QueryPairs::parse(Some("%FF=1"))
                .only(&[known("a")])
                .is_err()
        );
    }

    #[test]
    fn numbers_name_their_parameter() {
        assert_eq!(number("lon", "-0.21").unwrap(), -0.21);
        assert!(number("lat", "abc").unwrap_err().detail.contains("`lat`"));
        assert!(number("lat", "inf").is_err());
        assert!(
            integer("k", "2.5")
                .unwrap_err()
                .detail
                .contains("whole number")
        );
    }
}

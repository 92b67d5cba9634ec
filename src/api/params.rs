//! Query-string parsing. Every function names the parameter it rejects and why, so a
//! client always learns which parameter to fix; none of them panics, whatever the input
//! (they are fuzzed).

use geo::Rect;

use crate::analysis::DistanceModel;
use crate::analysis::coverage::Threshold;

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
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::bad_request(format!(
                "unknown parameter `{k}` (known: {})",
                known.join(", ")
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

/// A longitude in degrees (WGS84 / CRS84).
pub fn lon(name: &str, value: &str) -> Result<f64, ApiError> {
    let v = number(name, value)?;
    if (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err(bad(
            name,
            format!("must be a longitude in [-180, 180], not {v}"),
        ))
    }
}

/// A latitude in degrees (WGS84 / CRS84).
pub fn lat(name: &str, value: &str) -> Result<f64, ApiError> {
    let v = number(name, value)?;
    if (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err(bad(
            name,
            format!("must be a latitude in [-90, 90], not {v}"),
        ))
    }
}

/// A whole number in `min..=max`.
pub fn count(name: &str, value: &str, min: usize, max: usize) -> Result<usize, ApiError> {
    match value.trim().parse::<i128>() {
        Ok(v) if v >= min as i128 && v <= max as i128 => Ok(v as usize),
        Ok(v) => Err(bad(
            name,
            format!("must be between {min} and {max}, not {v}"),
        )),
        Err(_) => Err(bad(
            name,
            format!("must be a whole number, not {}", shown(value)),
        )),
    }
}

/// `limit` of an items request: 0 to [`MAX_LIMIT`].
pub fn limit(name: &str, value: &str) -> Result<usize, ApiError> {
    count(name, value, 0, MAX_LIMIT)
}

/// `offset` of an items request.
pub fn offset(name: &str, value: &str) -> Result<usize, ApiError> {
    count(name, value, 0, 100_000_000)
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

/// `within_km` / `within_min`: at most one; default 10 km.
pub fn threshold(within_km: Option<&str>, within_min: Option<&str>) -> Result<Threshold, ApiError> {
    let positive = |name: &str, v: &str| {
        let x = number(name, v)?;
        if (0.0..=1000.0).contains(&x) {
            Ok(x)
        } else {
            Err(bad(name, format!("must be between 0 and 1000, not {x}")))
        }
    };
    match (within_km, within_min) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give `within_km` or `within_min`, not both",
        )),
        (Some(k), None) => Ok(Threshold::Km(positive("within_km", k)?)),
        (None, Some(m)) => Ok(Threshold::Minutes(positive("within_min", m)?)),
        (None, None) => Ok(Threshold::Km(10.0)),
    }
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
        let q = QueryPairs::parse(Some("a=1&b=x%20y&a=2&c"));
        assert!(q.get("a").unwrap_err().detail.contains("more than once"));
        assert_eq!(q.get("b").unwrap(), Some("x y"));
        assert_eq!(q.get("c").unwrap(), Some(""));
        assert!(q.only(&["a", "b"]).unwrap_err().detail.contains("`c`"));
        assert!(QueryPairs::parse(Some("%FF=1")).only(&["a"]).is_err());
    }

    #[test]
    fn coordinates_and_thresholds() {
        assert!(lon("lon", "-0.21").is_ok());
        assert!(lon("lon", "181").is_err());
        assert!(lat("lat", "abc").unwrap_err().detail.contains("`lat`"));
        assert_eq!(threshold(None, None).unwrap(), Threshold::Km(10.0));
        assert_eq!(
            threshold(None, Some("20")).unwrap(),
            Threshold::Minutes(20.0)
        );
        assert!(threshold(Some("1"), Some("2")).is_err());
        assert!(threshold(Some("-1"), None).is_err());
    }
}

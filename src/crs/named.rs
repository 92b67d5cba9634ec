//! The CRS a file says its coordinates are in, by name: `EPSG:2154`, `2154`, the OGC
//! URN of a GeoJSON `crs` member (`urn:ogc:def:crs:EPSG::2154`) or its URI
//! (`http://www.opengis.net/def/crs/EPSG/0/2154`). Only WGS84 and the CRSs [`Crs`]
//! converts are accepted: any other is refused by name, never guessed.

use std::fmt;

use super::Crs;

/// The coordinates of a source: WGS84 longitude/latitude in degrees, or x/y (easting,
/// northing) metres in a projected [`Crs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceCrs {
    Wgs84,
    Projected(Crs),
}

/// A CRS name that is not WGS84 nor one of [`Crs`]; says which are read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CRS {name:?}: careaccess reads {}", accepted())]
pub struct UnknownCrs {
    pub name: String,
}

impl SourceCrs {
    /// The CRS a name gives, case-insensitively: `EPSG:<code>` or `<code>` alone, the
    /// OGC URN (`urn:ogc:def:crs:EPSG::<code>`, `urn:ogc:def:crs:OGC:1.3:CRS84`) or URI
    /// (`http://www.opengis.net/def/crs/EPSG/0/<code>`), `CRS84`. EPSG:4326 is read as
    /// longitude/latitude, as GeoJSON files that name it mean.
    pub fn from_name(name: &str) -> Result<SourceCrs, UnknownCrs> {
        let unknown = || UnknownCrs {
            name: name.to_owned(),
        };
        let upper = name.trim().to_uppercase();
        let (authority, code) = if let Some(urn) = upper.strip_prefix("URN:OGC:DEF:CRS:") {
            // `EPSG::2154`, `EPSG:9.8.15:2154`, `OGC:1.3:CRS84`: authority, version, code.
            let mut parts = urn.split(':');
            let authority = parts.next().unwrap_or_default();
            (authority, parts.next_back().unwrap_or_default())
        } else if let Some(uri) = ["HTTP://", "HTTPS://"]
            .iter()
            .find_map(|s| upper.strip_prefix(s))
            .and_then(|u| u.strip_prefix("WWW.OPENGIS.NET/DEF/CRS/"))
        {
            // `EPSG/0/2154`, `OGC/1.3/CRS84`.
            let mut parts = uri.trim_end_matches('/').split('/');
            let authority = parts.next().unwrap_or_default();
            (authority, parts.next_back().unwrap_or_default())
        } else if let Some((authority, code)) = upper.split_once(':') {
            (authority.trim(), code.trim())
        } else if upper == "CRS84" {
            ("OGC", "CRS84")
        } else {
            ("EPSG", upper.as_str())
        };
        match (authority, code) {
            ("OGC", "CRS84") => Ok(SourceCrs::Wgs84),
            ("EPSG", code) => match code.parse::<u32>().map_err(|_| unknown())? {
                4326 => Ok(SourceCrs::Wgs84),
                code => Crs::from_epsg(code)
                    .map(SourceCrs::Projected)
                    .ok_or_else(unknown),
            },
            _ => Err(unknown()),
        }
    }

    /// `EPSG:4326`, `EPSG:2154`…
    pub fn code(self) -> String {
        match self {
            SourceCrs::Wgs84 => "EPSG:4326".to_owned(),
            SourceCrs::Projected(crs) => format!("EPSG:{}", crs.epsg()),
        }
    }
}

impl fmt::Display for SourceCrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceCrs::Wgs84 => f.write_str("EPSG:4326 WGS 84 (longitude/latitude)"),
            SourceCrs::Projected(crs) => write!(f, "{crs} (x/y in metres)"),
        }
    }
}

/// `EPSG:4326 (WGS 84 longitude/latitude), EPSG:2154 (RGF93 v1 / Lambert-93), …`.
fn accepted() -> String {
    let projected = Crs::ALL.map(|c| format!("EPSG:{} ({})", c.epsg(), c.name()));
    format!(
        "EPSG:4326 (WGS 84 longitude/latitude), {}",
        projected.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_known_crss() {
        let l93 = Ok(SourceCrs::Projected(Crs::Lambert93));
        for name in [
            "EPSG:2154",
            "epsg:2154",
            " EPSG : 2154 ",
            "2154",
            "urn:ogc:def:crs:EPSG::2154",
            "urn:ogc:def:crs:EPSG:9.8.15:2154",
            "http://www.opengis.net/def/crs/EPSG/0/2154",
        ] {
            assert_eq!(SourceCrs::from_name(name), l93, "{name:?}");
        }
        for name in [
            "EPSG:4326",
            "4326",
            "urn:ogc:def:crs:EPSG::4326",
            "urn:ogc:def:crs:OGC:1.3:CRS84",
            "urn:ogc:def:crs:OGC::CRS84",
            "OGC:CRS84",
            "CRS84",
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        ] {
            assert_eq!(SourceCrs::from_name(name), Ok(SourceCrs::Wgs84), "{name:?}");
        }
        for crs in Crs::ALL {
            let code = SourceCrs::Projected(crs).code();
            assert_eq!(SourceCrs::from_name(&code), Ok(SourceCrs::Projected(crs)));
        }
        assert_eq!(
            SourceCrs::from_name("urn:ogc:def:crs:EPSG::5490"),
            Ok(SourceCrs::Projected(Crs::Utm20nRgaf09))
        );
    }

    #[test]
    fn other_names_are_refused_with_the_accepted_ones() {
        for name in [
            "EPSG:3857",
            "27572",
            "urn:ogc:def:crs:EPSG::32630",
            "Lambert-93",
            "ESRI:102110",
            "",
            "EPSG:",
            "urn:ogc:def:crs:",
        ] {
            let e = SourceCrs::from_name(name).expect_err(name).to_string();
            assert!(e.contains(&format!("{name:?}")), "{e}");
            assert!(
                e.contains("EPSG:4326") && e.contains("EPSG:2154 (RGF93 v1 / Lambert-93)"),
                "{e}"
            );
            assert!(e.contains("EPSG:32621"), "{e}");
        }
    }
}

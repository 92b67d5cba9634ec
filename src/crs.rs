//! Coordinate reference systems: the only projection code of the crate. Names no other
//! module of the crate.
//!
//! FINESS gives Lambert-93 in metropolitan France and local UTM zones overseas; we
//! convert everything to WGS84 longitude/latitude once, at import, and every layer
//! above works in lon/lat degrees and metres. Keeping the projection code in one
//! module means one place to check against PROJ (see the tests), one set of
//! projection definitions built once per process, and one error type that says which
//! CRS and which values failed.
//!
//! The conversions use [`proj4rs`] (pure Rust, no C PROJ to install). All the datums
//! here (RGF93 v1, RGAF09, RGFG95, RGR92, RGM04, WGS 84) are realisations of ITRS on
//! GRS80/WGS84 ellipsoids: PROJ itself converts them to WGS 84 with a null shift
//! (`+towgs84=0,0,0`), so no grid or Helmert parameters are needed.

use std::fmt;
use std::sync::OnceLock;

use proj4rs::Proj;

mod named;

pub use named::{SourceCrs, UnknownCrs};

/// A projected CRS found in French official files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    /// EPSG:2154 RGF93 v1 / Lambert-93 (metropolitan France, Corsica).
    Lambert93,
    /// EPSG:5490 RGAF09 / UTM zone 20N (Guadeloupe, Martinique, Saint-Martin, Saint-Barthélemy).
    Utm20nRgaf09,
    /// EPSG:2972 RGFG95 / UTM zone 22N (Guyane).
    Utm22nRgfg95,
    /// EPSG:2975 RGR92 / UTM zone 40S (La Réunion).
    Utm40sRgr92,
    /// EPSG:4471 RGM04 / UTM zone 38S (Mayotte).
    Utm38sRgm04,
    /// EPSG:32621 WGS 84 / UTM zone 21N (Saint-Pierre-et-Miquelon).
    Utm21nWgs84,
}

/// Which way a conversion went, to say what the two numbers of a failed point were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Projected x/y (metres) to WGS84 lon/lat (degrees).
    ToWgs84,
    /// WGS84 lon/lat (degrees) to projected x/y (metres).
    FromWgs84,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ToWgs84 => "x/y (m) → WGS84 lon/lat",
            Direction::FromWgs84 => "WGS84 lon/lat → x/y (m)",
        })
    }
}

/// Why a point could not be converted. Always names the CRS and the input values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrsError {
    #[error("{crs}: {direction} of ({a}, {b}): input is not a finite number")]
    NotFinite {
        crs: Crs,
        direction: Direction,
        a: f64,
        b: f64,
    },
    #[error("{crs}: {direction} of ({a}, {b}) failed: {reason}")]
    Failed {
        crs: Crs,
        direction: Direction,
        a: f64,
        b: f64,
        reason: String,
    },
    #[error(
        "({x}, {y}) is outside the {crs} area {}, also with X and Y swapped",
        area_text(*.crs)
    )]
    OutsideArea { crs: Crs, x: f64, y: f64 },
    #[error("{crs}: projection definition {definition:?} rejected by proj4rs: {reason}")]
    Definition {
        crs: Crs,
        definition: &'static str,
        reason: String,
    },
}

/// PROJ definition of WGS84 geographic coordinates, the pivot of every conversion.
const WGS84_DEFINITION: &str = "+proj=longlat +datum=WGS84 +no_defs";

/// Number of [`Crs`] variants (size of the projection cache).
const CRS_COUNT: usize = 6;

/// Parsed projections, built on first use and shared by all threads: parsing a proj
/// string for each of ~100,000 FINESS rows would dominate the import.
static PROJS: [OnceLock<Result<Proj, String>>; CRS_COUNT] = [const { OnceLock::new() }; CRS_COUNT];
static WGS84: OnceLock<Result<Proj, String>> = OnceLock::new();

impl Crs {
    /// Every supported CRS.
    pub const ALL: [Crs; CRS_COUNT] = [
        Crs::Lambert93,
        Crs::Utm20nRgaf09,
        Crs::Utm22nRgfg95,
        Crs::Utm40sRgr92,
        Crs::Utm38sRgm04,
        Crs::Utm21nWgs84,
    ];

    /// EPSG code.
    pub fn epsg(self) -> u32 {
        match self {
            Crs::Lambert93 => 2154,
            Crs::Utm20nRgaf09 => 5490,
            Crs::Utm22nRgfg95 => 2972,
            Crs::Utm40sRgr92 => 2975,
            Crs::Utm38sRgm04 => 4471,
            Crs::Utm21nWgs84 => 32621,
        }
    }

    /// The CRS of an EPSG code, if it is one we support.
    pub fn from_epsg(code: u32) -> Option<Crs> {
        Crs::ALL.into_iter().find(|c| c.epsg() == code)
    }

    /// EPSG name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Crs::Lambert93 => "RGF93 v1 / Lambert-93",
            Crs::Utm20nRgaf09 => "RGAF09 / UTM zone 20N",
            Crs::Utm22nRgfg95 => "RGFG95 / UTM zone 22N",
            Crs::Utm40sRgr92 => "RGR92 / UTM zone 40S",
            Crs::Utm38sRgm04 => "RGM04 / UTM zone 38S",
            Crs::Utm21nWgs84 => "WGS 84 / UTM zone 21N",
        }
    }

    /// PROJ definition, as `projinfo EPSG:nnnn -o PROJ` gives it, with the null datum
    /// shift to WGS84 that PROJ uses for these datums made explicit.
    fn proj_definition(self) -> &'static str {
        match self {
            Crs::Lambert93 => {
                "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 \
                 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0 +units=m +no_defs"
            }
            Crs::Utm20nRgaf09 => "+proj=utm +zone=20 +ellps=GRS80 +towgs84=0,0,0 +units=m +no_defs",
            Crs::Utm22nRgfg95 => "+proj=utm +zone=22 +ellps=GRS80 +towgs84=0,0,0 +units=m +no_defs",
            Crs::Utm40sRgr92 => {
                "+proj=utm +zone=40 +south +ellps=GRS80 +towgs84=0,0,0 +units=m +no_defs"
            }
            Crs::Utm38sRgm04 => {
                "+proj=utm +zone=38 +south +ellps=GRS80 +towgs84=0,0,0 +units=m +no_defs"
            }
            Crs::Utm21nWgs84 => "+proj=utm +zone=21 +datum=WGS84 +units=m +no_defs",
        }
    }

    fn index(self) -> usize {
        match self {
            Crs::Lambert93 => 0,
            Crs::Utm20nRgaf09 => 1,
            Crs::Utm22nRgfg95 => 2,
            Crs::Utm40sRgr92 => 3,
            Crs::Utm38sRgm04 => 4,
            Crs::Utm21nWgs84 => 5,
        }
    }

    /// The CRS named by a FINESS `sourcecoordet` text.
    ///
    /// Recent files end the text with an explicit code
    /// (`1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)`), which wins;
    /// an explicit code we do not support gives `None` rather than a guess from the
    /// words. Without a code (`WGS84/UTM zone 21N (St-Pierre-et-Miquelon)`, or older
    /// files' `LAMBERT_93`, `UTM_N20`, `UTM_S40`) the Lambert-93 or UTM zone and
    /// hemisphere words decide, case-insensitively. Anything else is `None`: a CRS is
    /// never assumed.
    pub fn from_finess_label(label: &str) -> Option<Crs> {
        let upper = label.to_uppercase();
        match epsg_code_in(&upper) {
            Some(code) => Crs::from_epsg(code),
            None => lambert93_in(&upper).or_else(|| utm_zone_in(&upper)),
        }
    }

    /// Converts projected `(x, y)` metres to WGS84 `(lon, lat)` degrees.
    pub fn to_wgs84(self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let dir = Direction::ToWgs84;
        self.check_finite(dir, x, y)?;
        let mut p = (x, y, 0.0);
        proj4rs::transform::transform(self.proj()?, wgs84(self)?, &mut p)
            .map_err(|e| self.failed(dir, x, y, e.to_string()))?;
        let (lon, lat) = (p.0.to_degrees(), p.1.to_degrees());
        self.check_result(dir, x, y, lon, lat)
    }

    /// Converts WGS84 `(lon, lat)` degrees to projected `(x, y)` metres.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> Result<(f64, f64), CrsError> {
        let dir = Direction::FromWgs84;
        self.check_finite(dir, lon, lat)?;
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(self.failed(dir, lon, lat, "longitude or latitude out of range".into()));
        }
        let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
        proj4rs::transform::transform(wgs84(self)?, self.proj()?, &mut p)
            .map_err(|e| self.failed(dir, lon, lat, e.to_string()))?;
        self.check_result(dir, lon, lat, p.0, p.1)
    }

    /// Generous extent `(min_x, min_y, max_x, max_y)`, in this CRS's metres, where real
    /// points of its territory fall. A point outside is garbage, or has X and Y swapped
    /// when `(y, x)` is inside (the ranges of x and y do not overlap, except in Guyane
    /// where a swap cannot be told apart and is not corrected).
    ///
    /// Lambert-93: metropolitan France and Corsica (Ouessant x ≈ 99 km, Corsica east
    /// x ≈ 1,241 km, Bonifacio y ≈ 6,050 km, Bray-Dunes y ≈ 7,111 km) with tens of km
    /// of margin. UTM zones: the territory's lon/lat box below projected with pyproj
    /// 3.7.2 / PROJ 9.5.1 (edges sampled), plus 5 km, rounded outward to the km:
    /// - 20N: Saint-Martin … Martinique, lon −63.2…−60.75, lat 14.35…18.15;
    /// - 22N: Guyane, lon −54.65…−51.55, lat 2.1…5.85;
    /// - 40S: La Réunion, lon 55.2…55.85, lat −21.4…−20.85;
    /// - 38S: Mayotte, lon 44.95…45.35, lat −13.05…−12.6;
    /// - 21N: Saint-Pierre-et-Miquelon, lon −56.45…−56.1, lat 46.74…47.15.
    pub fn valid_area(self) -> (f64, f64, f64, f64) {
        match self {
            Crs::Lambert93 => (50_000.0, 6_000_000.0, 1_300_000.0, 7_200_000.0),
            Crs::Utm20nRgaf09 => (473_000.0, 1_581_000.0, 748_000.0, 2_014_000.0),
            Crs::Utm22nRgfg95 => (88_000.0, 227_000.0, 445_000.0, 653_000.0),
            Crs::Utm40sRgr92 => (307_000.0, 7_627_000.0, 386_000.0, 7_700_000.0),
            Crs::Utm38sRgm04 => (489_000.0, 8_552_000.0, 544_000.0, 8_613_000.0),
            Crs::Utm21nWgs84 => (536_000.0, 5_171_000.0, 574_000.0, 5_228_000.0),
        }
    }

    /// True when `(x, y)` lies in [`Crs::valid_area`].
    pub fn contains(self, x: f64, y: f64) -> bool {
        let (min_x, min_y, max_x, max_y) = self.valid_area();
        (min_x..=max_x).contains(&x) && (min_y..=max_y).contains(&y)
    }

    /// `(x, y, false)` if inside [`Crs::valid_area`], `(y, x, true)` if only the swapped
    /// point is: X and Y columns are sometimes swapped in a file, and the areas are
    /// such that a swapped point falls far outside. Else [`CrsError::OutsideArea`].
    pub fn inside_area(self, x: f64, y: f64) -> Result<(f64, f64, bool), CrsError> {
        if self.contains(x, y) {
            Ok((x, y, false))
        } else if self.contains(y, x) {
            Ok((y, x, true))
        } else {
            Err(CrsError::OutsideArea { crs: self, x, y })
        }
    }

    fn proj(self) -> Result<&'static Proj, CrsError> {
        let definition = self.proj_definition();
        PROJS[self.index()]
            .get_or_init(|| Proj::from_proj_string(definition).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|reason| CrsError::Definition {
                crs: self,
                definition,
                reason: reason.clone(),
            })
    }

    fn check_finite(self, direction: Direction, a: f64, b: f64) -> Result<(), CrsError> {
        if a.is_finite() && b.is_finite() {
            Ok(())
        } else {
            Err(CrsError::NotFinite {
                crs: self,
                direction,
                a,
                b,
            })
        }
    }

    /// proj4rs may return NaN or infinities instead of an error for points far off
    /// the projection's domain: those are errors too.
    fn check_result(
        self,
        direction: Direction,
        a: f64,
        b: f64,
        ra: f64,
        rb: f64,
    ) -> Result<(f64, f64), CrsError> {
        if ra.is_finite() && rb.is_finite() {
            Ok((ra, rb))
        } else {
            Err(self.failed(
                direction,
                a,
                b,
                format!("result ({ra}, {rb}) is not finite"),
            ))
        }
    }

    fn failed(self, direction: Direction, a: f64, b: f64, reason: String) -> CrsError {
        CrsError::Failed {
            crs: self,
            direction,
            a,
            b,
            reason,
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EPSG:{} {}", self.epsg(), self.name())
    }
}

/// `x 50000..1300000, y 6000000..7200000`: the valid area, for messages.
fn area_text(crs: Crs) -> String {
    let (min_x, min_y, max_x, max_y) = crs.valid_area();
    format!("x {min_x}..{max_x}, y {min_y}..{max_y}")
}

/// The shared WGS84 geographic definition (`crs` only names the CRS in an error).
fn wgs84(crs: Crs) -> Result<&'static Proj, CrsError> {
    WGS84
        .get_or_init(|| Proj::from_proj_string(WGS84_DEFINITION).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|reason| CrsError::Definition {
            crs,
            definition: WGS84_DEFINITION,
            reason: reason.clone(),
        })
}

/// The number after the first `EPSG:` (spaces allowed around the colon), if any.
fn epsg_code_in(upper: &str) -> Option<u32> {
    let start = upper.find("EPSG")? + "EPSG".len();
    let rest = upper[start..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `LAMBERT-93`, `LAMBERT_93`, `LAMBERT 93`, `LAMBERT93`. Lambert II étendu and
/// other NTF Lambert zones are a different datum and are not matched.
fn lambert93_in(upper: &str) -> Option<Crs> {
    let start = upper.find("LAMBERT")? + "LAMBERT".len();
    let rest = upper[start..].trim_start_matches([' ', '-', '_']);
    rest.starts_with("93").then_some(Crs::Lambert93)
}

/// `UTM zone 20N`, `UTM ZONE 38S`, `UTM_N20`, `UTM_S40`, `UTM20N`: zone number with
/// the hemisphere letter before or after it.
fn utm_zone_in(upper: &str) -> Option<Crs> {
    let start = upper.find("UTM")? + "UTM".len();
    let rest = upper[start..].trim_start_matches([' ', '-', '_']);
    let rest = rest.strip_prefix("ZONE").unwrap_or(rest);
    let rest = rest.trim_start_matches([' ', '-', '_']);
    let (before, rest) = match rest.chars().next()? {
        h @ ('N' | 'S') => (Some(h), rest[1..].trim_start_matches([' ', '-', '_'])),
        _ => (None, rest),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let zone: u32 = digits.parse().ok()?;
    let after = rest[digits.len()..].trim_start().chars().next();
    let hemisphere = before.or(after.filter(|c| matches!(c, 'N' | 'S')))?;
    match (zone, hemisphere) {
        (20, 'N') => Some(Crs::Utm20nRgaf09),
        (22, 'N') => Some(Crs::Utm22nRgfg95),
        (40, 'S') => Some(Crs::Utm40sRgr92),
        (38, 'S') => Some(Crs::Utm38sRgm04),
        (21, 'N') => Some(Crs::Utm21nWgs84),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(crs, place, x, y, lon, lat)`: x/y are the projection of the place's rounded
    /// lon/lat, rounded to 0.1 m like FINESS; lon/lat are what pyproj 3.7.2 / PROJ 9.5.1
    /// `Transformer.from_crs("EPSG:xxxx", "EPSG:4326", always_xy=True)` gives for that
    /// x/y (a null datum shift for all of them: see the module doc).
    const TO_WGS84: [(Crs, &str, f64, f64, f64, f64); 10] = [
        (
            Crs::Lambert93,
            "Thouars",
            455691.4,
            6657805.5,
            -0.2146003949,
            46.9756996774,
        ),
        (
            Crs::Lambert93,
            "Ajaccio",
            1176466.0,
            6109095.7,
            8.7369000161,
            41.9267002456,
        ),
        (
            Crs::Lambert93,
            "Strasbourg",
            1050362.7,
            6840899.6,
            7.7521000243,
            48.5733995738,
        ),
        (
            Crs::Lambert93,
            "Brest",
            146633.0,
            6836262.3,
            -4.4860996772,
            48.3903997795,
        ),
        (
            Crs::Utm20nRgaf09,
            "Pointe-à-Pitre",
            656770.9,
            1796166.2,
            -61.5330999737,
            16.2411002182,
        ),
        (
            Crs::Utm20nRgaf09,
            "Fort-de-France",
            709096.3,
            1616759.7,
            -61.0588001496,
            14.6160997017,
        ),
        (
            Crs::Utm22nRgfg95,
            "Cayenne",
            352980.2,
            545868.9,
            -52.3260000415,
            4.9371997969,
        ),
        (
            Crs::Utm40sRgr92,
            "Saint-Denis",
            338811.2,
            7690101.4,
            55.4503996336,
            -20.8822996351,
        ),
        (
            Crs::Utm38sRgm04,
            "Mamoudzou",
            524735.4,
            8587115.8,
            45.2279002327,
            -12.7806001038,
        ),
        (
            Crs::Utm21nWgs84,
            "Saint-Pierre",
            562801.1,
            5181167.6,
            -56.1773000223,
            46.7811000256,
        ),
    ];

    /// `(crs, place, lon, lat, x, y)`: x/y from pyproj 3.7.2 / PROJ 9.5.1
    /// `Transformer.from_crs("EPSG:4326", "EPSG:xxxx", always_xy=True)`.
    const FROM_WGS84: [(Crs, &str, f64, f64, f64, f64); 10] = [
        (
            Crs::Lambert93,
            "Thouars",
            -0.2146,
            46.9757,
            455691.4315,
            6657805.5346,
        ),
        (
            Crs::Lambert93,
            "Ajaccio",
            8.7369,
            41.9267,
            1176466.0007,
            6109095.6726,
        ),
        (
            Crs::Lambert93,
            "Strasbourg",
            7.7521,
            48.5734,
            1050362.6954,
            6840899.6472,
        ),
        (
            Crs::Lambert93,
            "Brest",
            -4.4861,
            48.3904,
            146632.9785,
            6836262.3267,
        ),
        (
            Crs::Utm20nRgaf09,
            "Pointe-à-Pitre",
            -61.5331,
            16.2411,
            656770.8974,
            1796166.1758,
        ),
        (
            Crs::Utm20nRgaf09,
            "Fort-de-France",
            -61.0588,
            14.6161,
            709096.3158,
            1616759.7331,
        ),
        (
            Crs::Utm22nRgfg95,
            "Cayenne",
            -52.326,
            4.9372,
            352980.2046,
            545868.9224,
        ),
        (
            Crs::Utm40sRgr92,
            "Saint-Denis",
            55.4504,
            -20.8823,
            338811.2385,
            7690101.3600,
        ),
        (
            Crs::Utm38sRgm04,
            "Mamoudzou",
            45.2279,
            -12.7806,
            524735.3747,
            8587115.8115,
        ),
        (
            Crs::Utm21nWgs84,
            "Saint-Pierre",
            -56.1773,
            46.7811,
            562801.1017,
            5181167.5972,
        ),
    ];

    /// 1e-9° is about 0.1 mm (the requirement is 1 cm, 1e-7°): proj4rs agrees with
    /// PROJ to the rounding of the reference values (~5e-11°, ~5e-5 m).
    const DEG_TOLERANCE: f64 = 1e-9;
    /// PROJ's values above are given to 0.1 mm.
    const METRE_TOLERANCE: f64 = 1e-3;

    #[test]
    fn to_wgs84_matches_proj() {
        for (crs, place, x, y, lon, lat) in TO_WGS84 {
            let (got_lon, got_lat) = crs.to_wgs84(x, y).unwrap();
            assert!(
                (got_lon - lon).abs() <= DEG_TOLERANCE && (got_lat - lat).abs() <= DEG_TOLERANCE,
                "{place} {crs}: got ({got_lon}, {got_lat}), PROJ ({lon}, {lat})"
            );
        }
    }

    #[test]
    fn from_wgs84_matches_proj() {
        for (crs, place, lon, lat, x, y) in FROM_WGS84 {
            let (got_x, got_y) = crs.from_wgs84(lon, lat).unwrap();
            assert!(
                (got_x - x).abs() <= METRE_TOLERANCE && (got_y - y).abs() <= METRE_TOLERANCE,
                "{place} {crs}: got ({got_x}, {got_y}), PROJ ({x}, {y})"
            );
        }
    }

    #[test]
    fn round_trips_within_a_millimetre() {
        for (crs, place, x, y, ..) in TO_WGS84 {
            let (lon, lat) = crs.to_wgs84(x, y).unwrap();
            let (x2, y2) = crs.from_wgs84(lon, lat).unwrap();
            assert!(
                (x2 - x).abs() < 1e-3 && (y2 - y).abs() < 1e-3,
                "{place} {crs}: ({x}, {y}) came back as ({x2}, {y2})"
            );
        }
    }

    #[test]
    fn reference_points_are_in_their_valid_area_and_not_swapped() {
        for (crs, place, x, y, ..) in TO_WGS84 {
            assert!(crs.contains(x, y), "{place} {crs}");
            if crs != Crs::Utm22nRgfg95 {
                assert!(!crs.contains(y, x), "{place} {crs} swapped");
            }
        }
    }

    #[test]
    fn swapped_points_are_put_back_and_points_outside_refused() {
        let (x, y) = (455691.4, 6657805.5);
        assert_eq!(Crs::Lambert93.inside_area(x, y), Ok((x, y, false)));
        assert_eq!(Crs::Lambert93.inside_area(y, x), Ok((x, y, true)));
        let e = Crs::Lambert93
            .inside_area(-0.2, 46.9)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "(-0.2, 46.9) is outside the EPSG:2154 RGF93 v1 / Lambert-93 area \
             x 50000..1300000, y 6000000..7200000, also with X and Y swapped"
        );
    }

    #[test]
    fn valid_area_holds_the_territory_boxes() {
        let boxes = [
            (
                Crs::Lambert93,
                [(-5.14, 48.46), (2.55, 51.09), (9.16, 41.37), (9.56, 42.3)],
            ),
            (
                Crs::Utm20nRgaf09,
                [
                    (-63.2, 14.35),
                    (-63.2, 18.15),
                    (-60.75, 14.35),
                    (-60.75, 18.15),
                ],
            ),
            (
                Crs::Utm22nRgfg95,
                [(-54.65, 2.1), (-54.65, 5.85), (-51.55, 2.1), (-51.55, 5.85)],
            ),
            (
                Crs::Utm40sRgr92,
                [
                    (55.2, -21.4),
                    (55.2, -20.85),
                    (55.85, -21.4),
                    (55.85, -20.85),
                ],
            ),
            (
                Crs::Utm38sRgm04,
                [
                    (44.95, -13.05),
                    (44.95, -12.6),
                    (45.35, -13.05),
                    (45.35, -12.6),
                ],
            ),
            (
                Crs::Utm21nWgs84,
                [
                    (-56.45, 46.74),
                    (-56.45, 47.15),
                    (-56.1, 46.74),
                    (-56.1, 47.15),
                ],
            ),
        ];
        for (crs, corners) in boxes {
            for (lon, lat) in corners {
                let (x, y) = crs.from_wgs84(lon, lat).unwrap();
                assert!(crs.contains(x, y), "{crs}: ({lon}, {lat}) → ({x}, {y})");
            }
        }
    }

    #[test]
    fn non_finite_input_is_an_error_naming_crs_and_values() {
        for crs in Crs::ALL {
            for (a, b) in [
                (f64::NAN, 6.6e6),
                (7e5, f64::INFINITY),
                (f64::NEG_INFINITY, f64::NAN),
            ] {
                assert!(matches!(
                    crs.to_wgs84(a, b),
                    Err(CrsError::NotFinite { .. })
                ));
                assert!(matches!(
                    crs.from_wgs84(a, b),
                    Err(CrsError::NotFinite { .. })
                ));
            }
        }
        let msg = Crs::Lambert93
            .to_wgs84(f64::NAN, 6_600_000.0)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("EPSG:2154") && msg.contains("NaN") && msg.contains("6600000"),
            "{msg}"
        );
    }

    #[test]
    fn out_of_range_lon_lat_is_an_error() {
        assert!(Crs::Lambert93.from_wgs84(3.0, 95.0).is_err());
        assert!(Crs::Utm20nRgaf09.from_wgs84(200.0, 16.0).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for crs in Crs::ALL {
            for (a, b) in [
                (1e300, -1e300),
                (0.0, 0.0),
                (-1e12, 1e12),
                (f64::MAX, f64::MIN),
            ] {
                if let Ok((lon, lat)) = crs.to_wgs84(a, b) {
                    assert!(lon.is_finite() && lat.is_finite());
                }
            }
        }
    }

    #[test]
    fn epsg_codes_round_trip() {
        for crs in Crs::ALL {
            assert_eq!(Crs::from_epsg(crs.epsg()), Some(crs));
        }
        assert_eq!(Crs::from_epsg(4326), None);
        assert_eq!(Crs::from_epsg(27572), None);
    }

    #[test]
    fn finess_labels() {
        let cases = [
            (
                "1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)",
                Some(Crs::Lambert93),
            ),
            (
                "2,ATLASANTE,96,BAN,EPSG:5490 RGAF09/UTM Zone 20N (Antilles)",
                Some(Crs::Utm20nRgaf09),
            ),
            (
                "2,ATLASANTE,100,BDADRESSE,EPSG:4471 RGM04/UTM zone 38S (Mayotte)",
                Some(Crs::Utm38sRgm04),
            ),
            (
                "2,ATLASANTE,96,BAN,EPSG:2972 RGFG95/UTM Zone 22N (Guyane)",
                Some(Crs::Utm22nRgfg95),
            ),
            (
                "2,ATLASANTE,96,BAN,EPSG:2975 RGR92/UTM zone 40S (Réunion)",
                Some(Crs::Utm40sRgr92),
            ),
            (
                "2,ATLASANTE,90,BAN,WGS84/UTM zone 21N (St-Pierre-et-Miquelon)",
                Some(Crs::Utm21nWgs84),
            ),
            ("epsg : 2154", Some(Crs::Lambert93)),
            ("LAMBERT_93", Some(Crs::Lambert93)),
            ("1,ATLASANTE,96,BAN,lambert 93", Some(Crs::Lambert93)),
            ("UTM_N20", Some(Crs::Utm20nRgaf09)),
            ("UTM_N22", Some(Crs::Utm22nRgfg95)),
            ("UTM_S40", Some(Crs::Utm40sRgr92)),
            ("UTM_S38", Some(Crs::Utm38sRgm04)),
            ("UTM_N21", Some(Crs::Utm21nWgs84)),
            ("utm20n", Some(Crs::Utm20nRgaf09)),
            // An explicit code we do not support is not second-guessed from the words.
            ("EPSG:32620 WGS84/UTM zone 20N", None),
            ("EPSG:27572 NTF (Paris) / Lambert zone II", None),
            ("LAMBERT II ETENDU", None),
            ("UTM zone 20S", None),
            ("UTM_N", None),
            ("", None),
            ("1,ATLASANTE,96,BAN,", None),
        ];
        for (label, expected) in cases {
            assert_eq!(Crs::from_finess_label(label), expected, "{label:?}");
        }
    }
}

//! Distances on the WGS84 ellipsoid, fast enough for national analyses. Names no other
//! module of the crate.
//!
//! Points are kept with their Earth-centred (ECEF) coordinates in metres. The straight
//! 3-D chord between two points is never longer than the geodesic between them, so an
//! R-tree over ECEF points returns candidates in an order that bounds the geodesic
//! distance from below: nearest-neighbour searches stop as soon as the chord exceeds the
//! best geodesic found, and the answer is the true geodesic nearest.
//!
//! For chords up to [`SHORT_CHORD_M`] the geodesic is the chord plus the sagitta term of
//! the circular arc, `s = c + c³ / (24 R²)`, with `R` the Gaussian mean radius of
//! curvature at the mid latitude. Against Karney's algorithm (PROJ `Geod.inv`,
//! geographiclib) this is within 2.5 cm up to 150 km and 20 cm up to 300 km anywhere in
//! France, overseas included (300,000 random pairs against pyproj; property-tested
//! below), for the cost of a square root. Longer distances use Karney's algorithm.

use geo::{Distance, Geodesic, Point};

/// WGS84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
const E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// Chords up to this length use the closed-form arc; longer ones Karney's algorithm.
pub const SHORT_CHORD_M: f64 = 300_000.0;

/// A WGS84 point with its Earth-centred coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Earth-centred, Earth-fixed coordinates on the ellipsoid (height 0), metres.
    pub ecef: [f64; 3],
}

impl GeoPoint {
    pub fn new(lon: f64, lat: f64) -> Self {
        let (sl, cl) = lon.to_radians().sin_cos();
        let (sp, cp) = lat.to_radians().sin_cos();
        let n = WGS84_A / (1.0 - E2 * sp * sp).sqrt();
        GeoPoint {
            lon,
            lat,
            ecef: [n * cp * cl, n * cp * sl, n * (1.0 - E2) * sp],
        }
    }

    pub fn from_point(p: Point<f64>) -> Self {
        Self::new(p.x(), p.y())
    }

    pub fn point(&self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }
}

/// Straight-line (3-D chord) distance, metres: a lower bound of the geodesic.
pub fn chord_m(a: &GeoPoint, b: &GeoPoint) -> f64 {
    chord_from_ecef(&a.ecef, &b.ecef)
}

pub(crate) fn chord_from_ecef(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
}

/// A lower bound of the geodesic between two points whose chord is `c`, metres.
///
/// The chord itself bounds the geodesic from below, tightly at short range; across
/// oceans (a commune of La Réunion and the nearest EHPAD in metropolitan France) the
/// great-circle arc of the equatorial sphere, `2a·asin(c/2a)`, reduced by `1 − 2f`, is far
/// tighter. That second bound is empirical: over 400,000 random pairs worldwide the
/// ratio geodesic / arc never fell below 0.99838 (≈ 1 − f/2); `1 − 2f` = 0.99329 leaves
/// a wide margin, and a property test below checks it against Karney's algorithm.
/// Searches stop once this bound exceeds the best geodesic found.
pub fn geodesic_lower_bound(c: f64) -> f64 {
    let arc = 2.0 * WGS84_A * (c / (2.0 * WGS84_A)).min(1.0).asin();
    c.max((1.0 - 2.0 * WGS84_F) * arc)
}

/// Largest relative error allowed for the Andoyer–Lambert distance in
/// [`long_geodesic_lower_bound`]. The formula's error is of order f² ≈ 1.1 × 10⁻⁵ of the
/// distance; over 2,000,000 random pairs worldwide (central angle up to 150°) against
/// Karney's algorithm it never exceeded 6.6 × 10⁻⁶ of the distance beyond 1 m, so this
/// bound keeps a margin of 15 (property-tested below).
pub const ANDOYER_LAMBERT_MAX_REL: f64 = 1e-4;

/// Central angles (radians) up to which [`long_geodesic_lower_bound`] uses the
/// Andoyer–Lambert formula; beyond, near antipodes, the formula degrades.
const ANDOYER_LAMBERT_MAX_ANGLE: f64 = 150.0 * std::f64::consts::PI / 180.0;

/// Andoyer–Lambert approximation of the geodesic between two points, metres: the
/// great-circle angle between their reduced latitudes, corrected to first order in the
/// flattening. `None` near antipodes.
fn andoyer_lambert_m(a: &GeoPoint, b: &GeoPoint) -> Option<f64> {
    let reduced = |lat: f64| ((1.0 - WGS84_F) * lat.to_radians().tan()).atan();
    let (b1, b2) = (reduced(a.lat), reduced(b.lat));
    let dlon = (b.lon - a.lon).to_radians();
    let (s1, c1) = b1.sin_cos();
    let (s2, c2) = b2.sin_cos();
    let cos_t = (s1 * s2 + c1 * c2 * dlon.cos()).clamp(-1.0, 1.0);
    let t = cos_t.acos();
    if !(t > 1e-9 && t <= ANDOYER_LAMBERT_MAX_ANGLE) {
        return None;
    }
    let p = 0.5 * (b1 + b2);
    let q = 0.5 * (b2 - b1);
    let (sp, cp) = p.sin_cos();
    let (sq, cq) = q.sin_cos();
    let (sh, ch) = (0.5 * t).sin_cos();
    let x = (t - t.sin()) * sp * sp * cq * cq / (ch * ch);
    let y = (t + t.sin()) * cp * cp * sq * sq / (sh * sh);
    Some(WGS84_A * (t - 0.5 * WGS84_F * (x + y)))
}

/// A lower bound of the geodesic between two points whose chord `c` is long (above
/// [`SHORT_CHORD_M`], where the distance is Karney's algorithm, about 1 µs): the
/// Andoyer–Lambert distance less [`ANDOYER_LAMBERT_MAX_REL`] and 1 m, when it is tighter than
/// [`geodesic_lower_bound`]. Searches use it to skip Karney's algorithm for the points
/// that cannot be nearer than the best found: at 7,000 km (an overseas commune and the
/// mainland) it leaves a 700 m band instead of 47 km.
pub fn long_geodesic_lower_bound(a: &GeoPoint, b: &GeoPoint, c: f64) -> f64 {
    let chord_bound = geodesic_lower_bound(c);
    match andoyer_lambert_m(a, b) {
        Some(d) => chord_bound.max(d * (1.0 - ANDOYER_LAMBERT_MAX_REL) - 1.0),
        None => chord_bound,
    }
}

/// The longest chord whose [`geodesic_lower_bound`] is at most `s`: every point within
/// geodesic distance `s` lies within this chord (the search radius of an R-tree query).
pub fn max_chord_within(s: f64) -> f64 {
    let k = 1.0 - 2.0 * WGS84_F;
    let angle = (s / (2.0 * WGS84_A * k)).min(std::f64::consts::FRAC_PI_2);
    s.min(2.0 * WGS84_A * angle.sin())
}

/// Geodesic distance on the WGS84 ellipsoid, metres (see the module doc for accuracy).
pub fn geodesic_m(a: &GeoPoint, b: &GeoPoint) -> f64 {
    let c = chord_m(a, b);
    geodesic_from_chord(a, b, c)
}

/// Geodesic distance when the chord `c` is already known (from an R-tree search).
pub fn geodesic_from_chord(a: &GeoPoint, b: &GeoPoint, c: f64) -> f64 {
    if c <= SHORT_CHORD_M {
        let s = (0.5 * (a.lat + b.lat)).to_radians().sin();
        let w = 1.0 - E2 * s * s;
        // Gaussian radius squared: M·N = a²(1 − e²) / w².
        let r2 = WGS84_A * WGS84_A * (1.0 - E2) / (w * w);
        c + c * c * c / (24.0 * r2)
    } else {
        Geodesic.distance(a.point(), b.point())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn karney(a: &GeoPoint, b: &GeoPoint) -> f64 {
        Geodesic.distance(a.point(), b.point())
    }

    #[test]
    fn known_distances_match_proj() {
        // pyproj 3.7.2 / PROJ 9.5.1: Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2]
        let thouars = GeoPoint::new(-0.215275, 46.981567);
        let cases = [
            (GeoPoint::new(-0.486, 46.8405), 25_909.445_084_401_53, 0.01),
            (GeoPoint::new(2.3522, 48.8566), 283_321.505_057_460_74, 0.25),
            (
                GeoPoint::new(55.4504, -20.8789),
                9_356_379.915_979_302,
                1e-6,
            ),
        ];
        for (to, proj, tolerance) in cases {
            let d = geodesic_m(&thouars, &to);
            assert!((d - proj).abs() < tolerance, "{d} vs PROJ {proj}");
        }
        assert_eq!(geodesic_m(&thouars, &thouars), 0.0);
    }

    /// The Andoyer–Lambert error stays far inside its allowance (the figures of
    /// [`ANDOYER_LAMBERT_MAX_REL`]; run with `--ignored --nocapture` for more pairs).
    #[test]
    fn andoyer_lambert_error_is_small() {
        andoyer_lambert_worst(20_000);
    }

    #[test]
    #[ignore]
    fn andoyer_lambert_error_many_pairs() {
        andoyer_lambert_worst(2_000_000);
    }

    fn andoyer_lambert_worst(n: usize) {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut worst = 0.0f64;
        for _ in 0..n {
            let a = GeoPoint::new(360.0 * next() - 180.0, 180.0 * next() - 90.0);
            let b = GeoPoint::new(360.0 * next() - 180.0, 180.0 * next() - 90.0);
            let Some(al) = andoyer_lambert_m(&a, &b) else {
                continue;
            };
            let k = karney(&a, &b);
            worst = worst.max(((al - k).abs() - 1.0).max(0.0) / k);
        }
        println!("Andoyer–Lambert: worst relative error beyond 1 m over {n} pairs: {worst:e}");
        assert!(worst < ANDOYER_LAMBERT_MAX_REL / 10.0, "{worst}");
    }

    #[test]
    fn max_chord_inverts_the_lower_bound() {
        for s in [0.0, 1.0, 1e3, 3e5, 1e6, 9.4e6, 2e7, 4e7] {
            let c = max_chord_within(s);
            assert!(geodesic_lower_bound(c) <= s * (1.0 + 1e-12) + 1e-9, "{s}");
            assert!(
                geodesic_lower_bound(c * 1.001 + 1.0) > s || c >= 2.0 * WGS84_A,
                "{s}"
            );
        }
    }

    proptest! {
        /// The lower bound never exceeds the geodesic, anywhere on Earth.
        #[test]
        fn lower_bound_holds_worldwide(
            lat1 in -89.9f64..89.9, lon1 in -180.0f64..180.0,
            lat2 in -89.9f64..89.9, lon2 in -180.0f64..180.0,
        ) {
            let (a, b) = (GeoPoint::new(lon1, lat1), GeoPoint::new(lon2, lat2));
            let s = karney(&a, &b);
            prop_assert!(geodesic_lower_bound(chord_m(&a, &b)) <= s + 1e-6, "{s}");
        }

        /// The Andoyer–Lambert bound never exceeds the geodesic, anywhere on Earth.
        #[test]
        fn long_lower_bound_holds_worldwide(
            lat1 in -89.9f64..89.9, lon1 in -180.0f64..180.0,
            lat2 in -89.9f64..89.9, lon2 in -180.0f64..180.0,
        ) {
            let (a, b) = (GeoPoint::new(lon1, lat1), GeoPoint::new(lon2, lat2));
            let s = karney(&a, &b);
            prop_assert!(long_geodesic_lower_bound(&a, &b, chord_m(&a, &b)) <= s, "{s}");
        }

        /// Fast arc within 25 cm of Karney up to 300 km (5 cm up to 150 km), at every
        /// latitude of France (La Réunion −21° to Dunkerque 51°).
        #[test]
        fn short_arcs_match_karney(
            lat in -22.0f64..51.5, lon in -62.0f64..56.0,
            bearing in 0.0f64..360.0, dist in 0.0f64..295_000.0,
        ) {
            use geo::Destination;
            let a = GeoPoint::new(lon, lat);
            let b = GeoPoint::from_point(Geodesic.destination(a.point(), bearing, dist));
            let fast = geodesic_m(&a, &b);
            let tolerance = if dist < 150_000.0 { 0.05 } else { 0.25 };
            prop_assert!((fast - karney(&a, &b)).abs() < tolerance, "{fast} vs {}", karney(&a, &b));
            prop_assert!(chord_m(&a, &b) <= fast + 1e-9);
        }
    }
}

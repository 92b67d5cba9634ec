//! Road distance and car travel time estimated from the straight-line distance.
//!
//! No routable road network is available, so a trip's road km and car minutes are
//! estimated from the geodesic (straight-line) distance between its two ends with a
//! model fitted on real router answers: [`RoadEstimate::GIRONDE_2021`].
//!
//! # The model
//!
//! Both parts are *banded*, like income-tax brackets: each band of distance has its
//! own rate, and a trip adds up the rates of the bands it crosses. The result is
//! continuous, piecewise linear and strictly increasing with distance.
//!
//! 1. **Road km** = each straight-line km counted at its band's detour factor:
//!
//!    | straight-line km | 0–10   | 10–30  | 30+    |
//!    |------------------|--------|--------|--------|
//!    | road km per km   | 1.2874 | 1.2687 | 1.2092 |
//!
//!    So 10 km straight → 12.9 road km, 50 km → 62.4 road km (average detour 1.25).
//!    Short trips detour more, and the detour never falls below 1.
//! 2. **Car minutes** = a terminal time of **0.74 min** (the value at 0 km: getting
//!    onto the network) + each estimated road km driven at its band's speed:
//!
//!    | road km | 0–10      | 10–30     | 30–60     | 60+       |
//!    |---------|-----------|-----------|-----------|-----------|
//!    | speed   | 67.2 km/h | 73.2 km/h | 76.9 km/h | 93.1 km/h |
//!
//!    So 10 km straight → 12.0 min, 25 km → 27.5 min, 50 km → 51.0 min. The speed
//!    rises with distance (longer trips reach faster roads); the target is INSEE
//!    Metric's *off-peak* time, which the DREES APL uses: no congestion.
//!
//! # Data
//!
//! `travel_time_calibration_gironde` in the shared data mirror (its PROVENANCE.md;
//! from the DREES/INSEE `comparaison_distanciers` project, 2021): 2,500 point pairs
//! in Gironde (33) with OSRM car km and minutes (OSRM on OpenStreetMap) and INSEE
//! Metric off-peak minutes. Joined on exact Lambert-93 coordinates, less Metric's
//! "not computed" (9999): **2,429 pairs**; straight line = WGS84 geodesic (pyproj).
//! Pairs k = 1..2500 with k % 5 == 0 are held out (**489**); the other **1,940**
//! fit the constants. Straight-line lengths: 0.2–162 km, median 48 km; only 24 pairs
//! under 5 km and 82 under 10 km, so short trips are the least well measured.
//!
//! # Fit
//!
//! Least absolute *relative* deviations (every pair counts by its percentage error;
//! robust to the few pairs a router snapped to a far road), road km against OSRM road
//! km, then minutes against Metric minutes as a function of the *estimated* road km
//! (the way the model is used). Three candidates each, compared by 5-fold
//! cross-validation inside the 1,940 training pairs (mean |relative error|):
//!
//! | road km                                  | CV      | held out |
//! |------------------------------------------|---------|----------|
//! | one detour factor (1.2488)               | 7.85 %  | 7.81 %   |
//! | `a·d + b·(1 − exp(−d/c))` (a = 1, b = 56, c = 194) | 7.74 % | 7.73 % |
//! | **banded detour (above)**                | 7.75 %  | 7.75 %   |
//!
//! | Metric minutes from road km              | CV      | held out |
//! |------------------------------------------|---------|----------|
//! | terminal + one speed (2.33 min, 78.6 km/h) | 11.60 % | 12.84 % |
//! | terminal + `a·r + b·(1 − exp(−r/c))`     | 11.00 % | 12.24 %  |
//! | **terminal + banded speeds (above)**     | 11.00 % | 12.24 %  |
//!
//! A single factor or a single speed is clearly worse (CV +0.11 ± 0.03 and +0.60 ±
//! 0.12 percentage point, paired standard errors). The banded forms tie with the exponential ones (road: +0.018
//! ± 0.009 percentage point, i.e. 18 m per 100 km; minutes: +0.001 ± 0.018), and are
//! kept because they read as a table and stay sane beyond the data: the exponential
//! detour decays towards 1.0 for long trips and the exponential speed towards
//! 111 km/h, whereas the banded ones keep 1.2092 and 93.1 km/h past 160 km.
//! Constants are rounded (detours to 4 decimals, speeds to 0.1 km/h, terminal to
//! 0.01 min) and the errors below are those of the rounded constants.
//!
//! # Errors on the 489 held-out pairs
//!
//! Relative error = (estimate − router) / router. medAE, MAE, RMSE in km or min.
//!
//! | road km vs OSRM | n   | medAE | MAE  | RMSE | median \|rel\| | p90 \|rel\| |
//! |-----------------|-----|-------|------|------|---------------|-------------|
//! | all             | 489 | 3.04  | 5.08 | 8.39 | 5.0 %         | 16.3 %      |
//! | 0–5 km          | 6   | 0.58  | 2.90 | 5.34 | 14.2 %        | 60.1 %      |
//! | 5–10 km         | 4   | 1.01  | 1.39 | 1.64 | 9.4 %         | 23.5 %      |
//! | 10–20 km        | 38  | 1.75  | 2.31 | 3.24 | 8.0 %         | 22.3 %      |
//! | 20–40 km        | 121 | 2.46  | 4.55 | 8.68 | 5.9 %         | 17.4 %      |
//! | 40+ km          | 320 | 3.45  | 5.70 | 8.79 | 4.5 %         | 13.6 %      |
//!
//! | minutes vs Metric off-peak | n   | medAE | MAE  | RMSE | median \|rel\| | p90 \|rel\| |
//! |----------------------------|-----|-------|------|------|---------------|-------------|
//! | all                        | 489 | 3.79  | 6.11 | 8.82 | 8.1 %         | 29.4 %      |
//! | 0–5 km                     | 6   | 1.11  | 1.21 | 1.57 | 22.6 %        | 71.6 %      |
//! | 5–10 km                    | 4   | 2.25  | 2.22 | 2.33 | 24.2 %        | 29.5 %      |
//! | 10–20 km                   | 38  | 1.52  | 2.28 | 3.12 | 8.3 %         | 24.4 %      |
//! | 20–40 km                   | 121 | 2.30  | 4.70 | 8.41 | 7.3 %         | 40.0 %      |
//! | 40+ km                     | 320 | 4.95  | 7.23 | 9.53 | 8.4 %         | 26.7 %      |
//!
//! | minutes vs OSRM | n   | medAE | MAE  | RMSE | median \|rel\| | p90 \|rel\| |
//! |-----------------|-----|-------|------|------|---------------|-------------|
//! | all             | 489 | 3.21  | 5.47 | 9.05 | 6.6 %         | 22.3 %      |
//! | 0–5 km          | 6   | 1.15  | 2.63 | 4.55 | 40.2 %        | 61.9 %      |
//! | 5–10 km         | 4   | 1.00  | 1.02 | 1.25 | 11.5 %        | 20.0 %      |
//! | 10–20 km        | 38  | 2.05  | 2.55 | 3.30 | 10.8 %        | 26.3 %      |
//! | 20–40 km        | 121 | 2.56  | 4.91 | 9.72 | 7.7 %         | 28.3 %      |
//! | 40+ km          | 320 | 3.76  | 6.13 | 9.36 | 6.1 %         | 18.8 %      |
//!
//! Median signed errors (bias): road −1.1 %, Metric minutes −0.9 %, OSRM minutes
//! −2.2 %. For scale, the two routers disagree with each other about as much: OSRM
//! vs Metric minutes, median |rel| 8.2 %, p90 22.0 %, MAE 4.81 min. The held-out set
//! has only 10 pairs under 10 km; out-of-fold on the training set (18 and 54 pairs)
//! the median |relative error| is 19.7 % / 8.4 % for road km and 19.3 % / 9.8 %
//! (median 0.8 / 0.9 min) for Metric minutes in the 0–5 / 5–10 km bands.
//! The same banded form fitted to OSRM minutes instead would be 0.00 min + 67.7,
//! 73.2, 75.1, 81.7 km/h (not used).
//!
//! # Limits
//!
//! One rural-and-suburban département, off-peak, pairs mostly 20–100 km long: dense
//! urban trips and congestion are not represented, and minutes for short trips in
//! towns are probably underestimated. Replace with a router when one is available.
//!
//! # Re-run
//!
//! `python3 benches/calibrate_travel_time.py [DATA_DIR]` (numpy, pandas, pyproj;
//! `DATA_DIR` defaults to `$CAREACCESS_MIRROR/travel_time_calibration_gironde`). It
//! prints every number above and the reference values of the tests below.

/// Straight-line → road estimate, fitted on 1,940 Gironde point pairs (OSRM road km,
/// INSEE Metric off-peak car minutes); see the [module documentation](self) for the
/// data, the fit and the held-out errors.
///
/// Both parts are banded: band `i` runs from the previous break (0 for the first) to
/// `breaks[i]` (infinity for the last band), and a distance adds up, band by band,
/// the length it covers in the band times the band's rate. With positive detours and
/// speeds the estimates are continuous and strictly increasing in distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoadEstimate {
    /// Upper ends of the detour bands, straight-line km, increasing.
    pub detour_breaks_km: [f64; 2],
    /// Road km per straight-line km in each band (one more than the breaks).
    pub detour: [f64; 3],
    /// Minutes at 0 km: the time to get onto the road network and off it.
    pub terminal_min: f64,
    /// Upper ends of the speed bands, road km, increasing.
    pub speed_breaks_km: [f64; 3],
    /// Car speed in each road-km band, km/h (one more than the breaks).
    pub speed_kmh: [f64; 4],
}

impl RoadEstimate {
    /// Fitted on the Gironde 2021 pairs by `benches/calibrate_travel_time.py`.
    pub const GIRONDE_2021: RoadEstimate = RoadEstimate {
        detour_breaks_km: [10.0, 30.0],
        detour: [1.2874, 1.2687, 1.2092],
        terminal_min: 0.74,
        speed_breaks_km: [10.0, 30.0, 60.0],
        speed_kmh: [67.2, 73.2, 76.9, 93.1],
    };

    /// Estimated road km for a straight-line (geodesic) distance in metres.
    ///
    /// 0 m gives 0 km; +∞ gives +∞. A NaN or negative distance is not a distance and
    /// gives NaN (never a panic).
    #[must_use]
    pub fn road_km(&self, straight_m: f64) -> f64 {
        if straight_m.is_nan() || straight_m < 0.0 {
            return f64::NAN;
        }
        banded(
            straight_m / 1000.0,
            &self.detour_breaks_km,
            &self.detour,
            |k| k,
        )
    }

    /// Estimated off-peak car minutes for a straight-line (geodesic) distance in
    /// metres: the terminal time plus the estimated road km at the banded speeds.
    ///
    /// 0 m gives the terminal time ([`terminal_min`](Self::terminal_min), 0.74 min for
    /// [`GIRONDE_2021`](Self::GIRONDE_2021)); +∞ gives +∞. A NaN or negative distance
    /// gives NaN (never a panic).
    #[must_use]
    pub fn car_minutes(&self, straight_m: f64) -> f64 {
        let road = self.road_km(straight_m);
        if road.is_nan() {
            return f64::NAN;
        }
        self.terminal_min + banded(road, &self.speed_breaks_km, &self.speed_kmh, |v| 60.0 / v)
    }

    /// The longest straight distance, metres, whose estimated car time is at most
    /// `minutes` (bisection on the increasing [`car_minutes`](Self::car_minutes), to
    /// 1 mm, rounded up so a search radius never misses a place on the edge). 0 when even
    /// the terminal time exceeds `minutes`; NaN for a NaN input.
    #[must_use]
    pub fn straight_m_within_minutes(&self, minutes: f64) -> f64 {
        if minutes.is_nan() {
            return f64::NAN;
        }
        if self.car_minutes(0.0) > minutes {
            return 0.0;
        }
        let mut hi = 1_000.0;
        while self.car_minutes(hi) <= minutes {
            hi *= 2.0;
            if hi > 4.0e7 {
                return hi; // beyond any trip on Earth
            }
        }
        let mut lo = 0.0;
        while hi - lo > 1e-3 {
            let mid = 0.5 * (lo + hi);
            if self.car_minutes(mid) <= minutes {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

impl Default for RoadEstimate {
    fn default() -> Self {
        Self::GIRONDE_2021
    }
}

/// Σ over bands of (length of `[0, x]` inside the band) × `rate(param)`; band `i` is
/// `[breaks[i-1], breaks[i]]`, the first starts at 0 and the last has no end.
/// `params` has one more element than `breaks`. `x` must not be NaN or negative.
fn banded(x: f64, breaks: &[f64], params: &[f64], rate: impl Fn(f64) -> f64) -> f64 {
    let mut total = 0.0;
    let mut lo = 0.0;
    for (i, &param) in params.iter().enumerate() {
        if x <= lo {
            break;
        }
        let hi = breaks.get(i).copied().unwrap_or(f64::INFINITY);
        total += (x.min(hi) - lo) * rate(param);
        lo = hi;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: RoadEstimate = RoadEstimate::GIRONDE_2021;

    /// `(straight metres, road km, Metric minutes)` as printed by
    /// `benches/calibrate_travel_time.py` ("reference values" at the end).
    const REFERENCE: [(f64, f64, f64); 8] = [
        (0.0, 0.0, 0.74),
        (500.0, 0.6437, 1.3147321428571428),
        (3000.0, 3.8622000000000005, 4.1883928571428575),
        (10000.0, 12.874, 12.02430913348946),
        (25000.0, 31.9045, 27.54796983825827),
        (50000.0, 62.432, 51.036383096929754),
        (100000.0, 122.892, 90.00093733967948),
        (300000.0, 364.732, 245.85915431067843),
    ];

    #[test]
    fn matches_the_calibration_script() {
        for (m, km, min) in REFERENCE {
            assert!(
                (M.road_km(m) - km).abs() < 1e-9,
                "road_km({m}) = {}",
                M.road_km(m)
            );
            assert!(
                (M.car_minutes(m) - min).abs() < 1e-9,
                "car_minutes({m}) = {}",
                M.car_minutes(m)
            );
        }
    }

    #[test]
    fn zero_is_no_road_and_the_terminal_time() {
        assert_eq!(M.road_km(0.0), 0.0);
        assert_eq!(M.car_minutes(0.0), 0.74);
        assert_eq!(M.car_minutes(-0.0), 0.74);
        assert_eq!(RoadEstimate::default(), M);
    }

    #[test]
    fn strictly_increasing_from_0_to_300_km() {
        let (mut road, mut min) = (M.road_km(0.0), M.car_minutes(0.0));
        for step in 1..=30_000 {
            let m = f64::from(step) * 10.0;
            let (r, t) = (M.road_km(m), M.car_minutes(m));
            assert!(r > road, "road_km not increasing at {m} m");
            assert!(t > min, "car_minutes not increasing at {m} m");
            // Road never shorter than the straight line.
            assert!(r >= m / 1000.0);
            (road, min) = (r, t);
        }
    }

    /// Straight-line metres at which the estimated road length is `road_km`.
    fn straight_m_for_road_km(road_km: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, 1e7);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if M.road_km(mid) < road_km {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn continuous_at_band_edges() {
        let eps = 1e-6; // metres
        let mut edges: Vec<f64> = M.detour_breaks_km.iter().map(|k| k * 1000.0).collect();
        edges.extend(M.speed_breaks_km.iter().map(|&k| straight_m_for_road_km(k)));
        for m in edges {
            let (below, above) = (m - eps, m + eps);
            // Steepest slopes are below 1.3 road km per km and 1.2 min per road km.
            assert!(
                M.road_km(above) - M.road_km(below) < 2.0 * eps * 1.3e-3,
                "road at {m}"
            );
            assert!(
                M.car_minutes(above) - M.car_minutes(below) < 2.0 * eps * 1.3e-3 * 1.2,
                "minutes at {m}"
            );
            assert!(M.road_km(above) > M.road_km(below));
            assert!(M.car_minutes(above) > M.car_minutes(below));
        }
    }

    #[test]
    fn rates_are_per_band() {
        // Inside a band the slope is the band's rate.
        let slope = |a: f64, b: f64| (M.road_km(b) - M.road_km(a)) / ((b - a) / 1000.0);
        assert!((slope(1_000.0, 9_000.0) - 1.2874).abs() < 1e-12);
        assert!((slope(11_000.0, 29_000.0) - 1.2687).abs() < 1e-12);
        assert!((slope(31_000.0, 200_000.0) - 1.2092).abs() < 1e-12);
        // 60 road km and beyond: 93.1 km/h.
        let (a, b) = (straight_m_for_road_km(70.0), straight_m_for_road_km(170.0));
        let per_road_km = (M.car_minutes(b) - M.car_minutes(a)) / 100.0;
        assert!((per_road_km - 60.0 / 93.1).abs() < 1e-9);
    }

    #[test]
    fn no_panic_and_documented_values_on_odd_inputs() {
        for x in [f64::NAN, -1.0, -1e-300, f64::NEG_INFINITY, -f64::MAX] {
            assert!(M.road_km(x).is_nan(), "road_km({x})");
            assert!(M.car_minutes(x).is_nan(), "car_minutes({x})");
        }
        assert_eq!(M.road_km(f64::INFINITY), f64::INFINITY);
        assert_eq!(M.car_minutes(f64::INFINITY), f64::INFINITY);
        assert!(M.road_km(f64::MAX).is_finite());
        // Subnormal distances: no NaN, no panic (the added time rounds away).
        assert_eq!(M.car_minutes(f64::MIN_POSITIVE), 0.74);
        assert!(M.road_km(f64::MIN_POSITIVE) >= 0.0);
    }

    #[test]
    fn constants_keep_the_model_assumptions() {
        assert!(M.detour.iter().all(|&k| k >= 1.0));
        assert!(M.detour_breaks_km.windows(2).all(|w| w[0] < w[1]));
        assert!(M.speed_breaks_km.windows(2).all(|w| w[0] < w[1]));
        assert!(M.speed_kmh.windows(2).all(|w| 0.0 < w[0] && w[0] <= w[1]));
        const { assert!(M.terminal_min >= 0.0) };
    }
}

#[cfg(test)]
mod inverse_tests {
    use super::*;

    #[test]
    fn straight_distance_for_minutes_inverts_car_minutes() {
        let r = RoadEstimate::GIRONDE_2021;
        for m in [1.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0] {
            let d = r.straight_m_within_minutes(m);
            assert!(
                r.car_minutes(d - 0.01) <= m && r.car_minutes(d + 0.01) > m,
                "{m} min → {d} m"
            );
        }
        assert_eq!(r.straight_m_within_minutes(0.1), 0.0);
        assert!(r.straight_m_within_minutes(f64::NAN).is_nan());
    }
}

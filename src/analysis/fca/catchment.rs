//! Catchments: how a commune–site pair is measured (straight km, estimated road km or car
//! minutes, table minutes) and weighted by the profile's steps, and how far around a site
//! the pairs are searched. The one rule of the national 2SFCA and of the sites a scenario
//! adds.

use crate::geodesy::GeoPoint;
use crate::model::{Commune, InseeCode, Profile, StepUnit};

use super::{FcaError, Pair};
use crate::analysis::distance::{DistanceModel, TravelMatrix};
use crate::analysis::engine::{Engine, Zone};
use crate::analysis::travel::RoadEstimate;

/// With the `matrix` model, pairs are searched up to the straight distance covered at
/// this speed in the catchment's minutes (130 km/h, the French motorway limit: no table
/// time between two reference points can be shorter). For 20 minutes: 43.3 km. The
/// radius is never smaller than the estimate's.
pub const MATRIX_MAX_STRAIGHT_KMH: f64 = 130.0;

/// How a pair's cost is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    StraightKm,
    RoadKm,
    EstimateMinutes,
    MatrixMinutes,
}

pub(crate) fn measure_for(
    profile: &Profile,
    model: DistanceModel,
    matrix: Option<&TravelMatrix>,
) -> Result<Measure, FcaError> {
    let mismatch = |hint| FcaError::ModelUnit {
        profile: profile.id.clone(),
        unit: profile.unit,
        model,
        hint,
    };
    match (profile.unit, model) {
        (StepUnit::Km, DistanceModel::Straight) => Ok(Measure::StraightKm),
        (StepUnit::Km, DistanceModel::RoadEstimate) => Ok(Measure::RoadKm),
        (StepUnit::Km, DistanceModel::Matrix) => Err(mismatch(
            "a travel-time table gives minutes: use straight or road_estimate",
        )),
        (StepUnit::Minutes, DistanceModel::Straight) => Err(mismatch(
            "a straight distance has no minutes: use road_estimate or matrix",
        )),
        (StepUnit::Minutes, DistanceModel::RoadEstimate) => Ok(Measure::EstimateMinutes),
        (StepUnit::Minutes, DistanceModel::Matrix) => match matrix {
            Some(_) => Ok(Measure::MatrixMinutes),
            None => Err(FcaError::MatrixMissing),
        },
    }
}

/// The largest straight distance (metres, rounded up) whose image by the increasing
/// function `f` is at most `target`, by bisection; 0 if even `f(0)` exceeds it.
fn invert_increasing(f: impl Fn(f64) -> f64, target: f64) -> f64 {
    if f(0.0) > target {
        return 0.0;
    }
    let mut hi = 1_000.0;
    while f(hi) <= target {
        hi *= 2.0;
        if hi > 4.0e7 {
            return hi;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        if hi - lo < 1e-3 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        if f(mid) <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// How one commune–site pair is measured and weighted: the one rule of the national run
/// ([`Engine::accessibility`]) and of the sites a scenario adds
/// ([`Engine::scenario_accessibility`]).
#[derive(Clone, Copy)]
pub(crate) struct PairRule<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) measure: Measure,
    pub(crate) road: RoadEstimate,
    pub(crate) matrix: Option<&'a TravelMatrix>,
    pub(crate) communes: &'a [Commune],
    /// Demand taking part, per commune (a valid value and a reference point).
    pub(crate) active: &'a [Option<f64>],
    /// Communes whose demand is unknown where the demand source does not speak (a
    /// département without any value): a site reaching one has an unknown ratio. Other
    /// communes without a value are counted in the commune they belonged to at the
    /// source's vintage, and are left out silently.
    pub(crate) uncounted: &'a [bool],
    /// The zone of each commune: a site's catchment holds the communes of its zone only.
    pub(crate) zones: &'a [Zone],
}

impl PairRule<'_> {
    /// The pair of commune `c` at geodesic `d` metres from a site located in commune
    /// `site_code`, with its `w·P_c` (`None`: the commune's demand is not counted
    /// anywhere, see `uncounted`); `None` beyond the catchment, or for a commune without
    /// demand that does not matter.
    #[inline]
    pub(crate) fn pair(
        &self,
        site_code: Option<&InseeCode>,
        c: u32,
        d: f64,
    ) -> Option<(Pair, Option<f64>)> {
        let c_ = c as usize;
        if self.active[c_].is_none() && !self.uncounted[c_] {
            return None;
        }
        let road = &self.road;
        let mut from_table = false;
        let cost = match self.measure {
            Measure::StraightKm => d / 1_000.0,
            Measure::RoadKm => road.road_km(d),
            Measure::EstimateMinutes => road.car_minutes(d),
            Measure::MatrixMinutes => {
                let from = &self.communes[c as usize].code;
                match (self.matrix, site_code) {
                    (Some(m), Some(to)) => {
                        match m.minutes(from, to).or_else(|| m.minutes(to, from)) {
                            Some(t) => {
                                from_table = true;
                                t
                            }
                            None => road.car_minutes(d),
                        }
                    }
                    _ => road.car_minutes(d),
                }
            }
        };
        let (step, w) = self.profile.step_of(cost)?;
        let pair = Pair {
            commune: c,
            step: step as u8,
            minutes_from_table: from_table,
            distance_m: d,
            cost,
        };
        Some((pair, self.active[c as usize].map(|p| w * p)))
    }
}

impl Engine {
    /// The pairs of a site that `acc` does not have (a site a scenario adds), by one
    /// R-tree query over the catchment and the rule of `acc`'s run, in commune order:
    /// its pairs, `Σ_k w(d_kj)·P_k`, and how many communes of its catchment have an
    /// unknown demand.
    pub(crate) fn new_site_pairs(
        &self,
        rule: &PairRule<'_>,
        radius_m: f64,
        point: &GeoPoint,
        code: Option<&InseeCode>,
        zone: Zone,
    ) -> (Vec<Pair>, f64, u32) {
        let mut hits: Vec<(u32, f64)> = self
            .commune_index()
            .within(point, radius_m)
            .map(|h| (self.commune_ids[h.index], h.distance_m))
            .filter(|&(c, _)| rule.zones[c] == zone)
            .map(|(c, d)| (c as u32, d))
            .collect();
        hits.sort_unstable_by_key(|h| h.0);
        let mut pairs = Vec::with_capacity(hits.len());
        let (mut demand, mut unknown) = (0.0, 0);
        for (c, d) in hits {
            match rule.pair(code, c, d) {
                Some((pair, Some(wp))) => {
                    demand += wp;
                    pairs.push(pair);
                }
                Some((_, None)) => unknown += 1,
                None => {}
            }
        }
        (pairs, demand, unknown)
    }
}

impl Engine {
    /// The straight search radius of a profile for a measure, metres.
    pub(crate) fn search_radius_m(&self, profile: &Profile, measure: Measure) -> f64 {
        let last = profile.catchment();
        let road = self.road;
        match measure {
            Measure::StraightKm => last * 1_000.0,
            Measure::RoadKm => invert_increasing(|d| road.road_km(d), last),
            Measure::EstimateMinutes => invert_increasing(|d| road.car_minutes(d), last),
            Measure::MatrixMinutes => invert_increasing(|d| road.car_minutes(d), last)
                .max(last / 60.0 * MATRIX_MAX_STRAIGHT_KMH * 1_000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search radius: the largest distance whose image stays within the catchment.
    #[test]
    fn invert_increasing_bisects() {
        let r = invert_increasing(|d| 2.0 + d / 1_000.0, 20.0);
        assert!((r - 18_000.0).abs() < 1e-2, "{r}");
        assert!(2.0 + r / 1_000.0 > 20.0);
        assert_eq!(invert_increasing(|d| 30.0 + d, 20.0), 0.0);
    }
}

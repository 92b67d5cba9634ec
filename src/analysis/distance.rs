//! Distance models. Every result names the model it was computed with.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::model::InseeCode;

use super::travel::RoadEstimate;

/// How far is "far": chosen per request, named in every result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceModel {
    /// Geodesic distance on the WGS84 ellipsoid, metres.
    Straight,
    /// Road km and car minutes estimated from the straight distance ([`RoadEstimate`]).
    RoadEstimate,
    /// Commune-to-commune car minutes from a travel-time table ([`TravelMatrix`]).
    Matrix,
}

impl DistanceModel {
    pub fn as_str(self) -> &'static str {
        match self {
            DistanceModel::Straight => "straight",
            DistanceModel::RoadEstimate => "road_estimate",
            DistanceModel::Matrix => "matrix",
        }
    }
}

impl fmt::Display for DistanceModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown distance model {0:?}: expected straight, road_estimate or matrix")]
pub struct DistanceModelError(pub String);

impl FromStr for DistanceModel {
    type Err = DistanceModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "straight" => Ok(DistanceModel::Straight),
            "road_estimate" | "road" => Ok(DistanceModel::RoadEstimate),
            "matrix" => Ok(DistanceModel::Matrix),
            _ => Err(DistanceModelError(s.to_owned())),
        }
    }
}

/// A trip between two places.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trip {
    /// Geodesic distance, metres.
    pub distance_m: f64,
    /// Estimated road distance, km.
    pub road_km: f64,
    /// Car minutes: estimated, or from the travel-time table when the model is `matrix`
    /// and the table has the pair.
    pub car_min: f64,
}

impl Trip {
    pub fn estimate(road: &RoadEstimate, distance_m: f64) -> Self {
        Trip {
            distance_m,
            road_km: road.road_km(distance_m),
            car_min: road.car_minutes(distance_m),
        }
    }
}

/// Commune-to-commune car minutes (CSV `from,to,minutes`, e.g. INSEE Metric or an OSRM
/// table export).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TravelMatrix {
    minutes: HashMap<(InseeCode, InseeCode), f64>,
}

impl TravelMatrix {
    pub fn insert(&mut self, from: InseeCode, to: InseeCode, minutes: f64) {
        self.minutes.insert((from, to), minutes);
    }

    /// Minutes from `from` to `to`; a commune to itself is 0 unless the table says more.
    pub fn minutes(&self, from: &InseeCode, to: &InseeCode) -> Option<f64> {
        self.minutes
            .get(&(from.clone(), to.clone()))
            .copied()
            .or_else(|| (from == to).then_some(0.0))
    }

    pub fn len(&self) -> usize {
        self.minutes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }
}

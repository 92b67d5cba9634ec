//! Distance models. Every result names the model it was computed with.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub use crate::model::TravelMatrix;

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

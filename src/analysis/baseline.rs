//! Baselines: the national results a long-running service answers from — the nearest
//! structure of each kind from every commune, and each accessibility profile run with its
//! default parameters — computed once per data build.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::{Kind, Profile};

use super::distance::{DistanceModel, TravelMatrix};
use super::engine::Engine;
use super::fca::{Accessibility, FcaError};
use super::nearest::CommuneNearest;
use super::request::profile_model;

/// The accessibility run of one profile with its default parameters, or why it could not
/// be computed (e.g. no structure of the kind in the data).
pub type ProfileRun = Result<Accessibility, FcaError>;

/// National results of one build.
#[derive(Debug)]
pub struct Baselines {
    /// Nearest structure of each kind from every commune (geodesic nearest: the
    /// `straight` and `road_estimate` models share it).
    pub nearest: BTreeMap<Kind, Vec<CommuneNearest>>,
    /// Each profile's run with its default supply, demand and model.
    pub accessibility: BTreeMap<String, ProfileRun>,
}

impl Baselines {
    pub fn new(engine: &Engine, profiles: &BTreeMap<String, Profile>) -> Self {
        let nearest = engine
            .kinds
            .keys()
            .map(|k| {
                let n = engine.nearest_per_commune(k, DistanceModel::Straight, None);
                (k.clone(), n)
            })
            .collect();
        let accessibility = profiles
            .iter()
            .map(|(id, p)| {
                let run = engine.accessibility(p, None, None, profile_model(p, None), None);
                (id.clone(), run)
            })
            .collect();
        Baselines {
            nearest,
            accessibility,
        }
    }

    /// The per-commune nearest of a kind with a model: the baseline for the geodesic
    /// models, a fresh run with the travel-time table for `matrix`.
    pub fn nearest<'a>(
        &'a self,
        engine: &Engine,
        kind: &Kind,
        model: DistanceModel,
        matrix: Option<&TravelMatrix>,
    ) -> Cow<'a, [CommuneNearest]> {
        match (model, self.nearest.get(kind)) {
            (DistanceModel::Straight | DistanceModel::RoadEstimate, Some(n)) => Cow::Borrowed(n),
            _ => Cow::Owned(engine.nearest_per_commune(kind, model, matrix)),
        }
    }

    /// The runs that could be computed.
    pub fn profiles(&self) -> impl Iterator<Item = (&str, &Accessibility)> {
        self.accessibility
            .iter()
            .filter_map(|(id, r)| Some((id.as_str(), r.as_ref().ok()?)))
    }
}

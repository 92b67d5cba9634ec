//! Coverage of a territory: who lives within a threshold of the nearest structure.

use serde::Serialize;

use crate::model::{Kind, Territory, TerritoryType};

use super::distance::{DistanceModel, Trip};
use super::engine::Engine;
use super::nearest::{CommuneNearest, NoNearest};

/// A threshold: straight km or car minutes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Threshold {
    Km(f64),
    Minutes(f64),
}

impl Threshold {
    /// Whether a trip is within the threshold.
    pub fn reached(self, trip: Trip) -> bool {
        match self {
            Threshold::Km(km) => trip.distance_m <= km * 1_000.0,
            Threshold::Minutes(m) => trip.car_min <= m,
        }
    }

    pub fn label(self) -> String {
        match self {
            Threshold::Km(v) => format!("{v} km"),
            Threshold::Minutes(v) => format!("{v} min"),
        }
    }
}

/// Population within one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    pub threshold: Threshold,
    pub population_within: u64,
    /// Share of the territory's population, 0–1; none when no one is counted (a
    /// territory the kind's list does not cover).
    pub share_within: Option<f64>,
    pub population_beyond: u64,
}

/// A commune beyond the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Underserved {
    pub code: String,
    pub nom: String,
    pub population: u32,
    pub distance_m: Option<f64>,
    pub road_km: Option<f64>,
    pub car_min: Option<f64>,
    pub nearest_id: Option<String>,
    pub nearest_name: Option<String>,
    /// Why there is no nearest structure (`aucune_structure_par_la_route`…).
    pub reason: Option<NoNearest>,
}

/// Coverage summary of a territory for one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub territory_type: TerritoryType,
    pub territory_code: String,
    pub territory_name: String,
    pub kind: Kind,
    pub model: DistanceModel,
    /// Member communes counted (those where the kind's list speaks).
    pub communes: usize,
    /// Their population: the denominator of every share.
    pub population: u64,
    pub bands: Vec<Band>,
    /// Population-weighted mean distance to the nearest, metres.
    pub mean_distance_m: Option<f64>,
    pub max_distance_m: Option<f64>,
    /// Population-weighted mean car minutes.
    pub mean_car_min: Option<f64>,
    pub underserved_threshold: Threshold,
    /// Communes beyond `underserved_threshold` (or with no structure at all), most
    /// populated first.
    pub underserved: Vec<Underserved>,
    /// Population of communes without a reference point (no distance).
    pub population_unknown: u64,
    /// Population of communes with no structure of the kind reachable by road (none in
    /// their zone: an island without one): beyond every threshold, no distance.
    pub population_no_structure: u64,
    /// Member communes where the kind's list does not speak (a partial list): "non
    /// couvert", left out of every figure above.
    pub communes_out_of_scope: usize,
    pub population_out_of_scope: u64,
}

/// The id and name of a commune's nearest site (by commune index and its nearest).
pub(crate) type NearestSiteOf<'a> = dyn Fn(usize, &CommuneNearest) -> Option<(String, String)> + 'a;

/// `part / whole`, none of nothing.
pub(crate) fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Engine {
    /// Indices of a territory's communes in the data set, and their total population.
    pub fn members(&self, territory: &Territory) -> (Vec<usize>, u64) {
        let members: Vec<usize> = territory
            .communes
            .iter()
            .filter_map(|c| self.data.commune_index(c))
            .collect();
        let population = members
            .iter()
            .map(|&i| u64::from(self.data.communes[i].population))
            .sum();
        (members, population)
    }

    /// Coverage of `territory` from the per-commune nearest results of one kind.
    pub fn coverage(
        &self,
        territory: &Territory,
        kind: &Kind,
        model: DistanceModel,
        nearest: &[CommuneNearest],
        thresholds: &[Threshold],
        underserved_threshold: Threshold,
    ) -> Coverage {
        let site = |_: usize, n: &CommuneNearest| {
            n.facility.map(|f| {
                let f = &self.data.facilities[f];
                (f.id.clone(), f.name.clone())
            })
        };
        self.coverage_by(
            territory,
            kind,
            model,
            nearest,
            thresholds,
            underserved_threshold,
            &|c| self.data.in_scope(kind, c),
            &site,
        )
    }

    /// [`Engine::coverage`] with the scope and the nearest site's id and name given:
    /// what a planner's own structure list changes (module `listed`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn coverage_by(
        &self,
        territory: &Territory,
        kind: &Kind,
        model: DistanceModel,
        nearest: &[CommuneNearest],
        thresholds: &[Threshold],
        underserved_threshold: Threshold,
        in_scope: &dyn Fn(usize) -> bool,
        site: &NearestSiteOf<'_>,
    ) -> Coverage {
        let (all, _) = self.members(territory);
        let (members, outside): (Vec<usize>, Vec<usize>) =
            all.into_iter().partition(|&i| in_scope(i));
        let population: u64 = members
            .iter()
            .map(|&i| u64::from(self.data.communes[i].population))
            .sum();
        let mut bands: Vec<Band> = thresholds
            .iter()
            .map(|&t| Band {
                threshold: t,
                population_within: 0,
                share_within: None,
                population_beyond: 0,
            })
            .collect();
        let (mut wd, mut wt, mut w, mut max_d) = (0.0, 0.0, 0.0, None::<f64>);
        let (mut unknown, mut no_structure) = (0u64, 0u64);
        let mut underserved = Vec::new();
        for &i in &members {
            let c = &self.data.communes[i];
            let pop = u64::from(c.population);
            let n = nearest[i];
            let facility = site(i, &n);
            match n.trip {
                Some(t) => {
                    for b in &mut bands {
                        if b.threshold.reached(t) {
                            b.population_within += pop;
                        } else {
                            b.population_beyond += pop;
                        }
                    }
                    wd += pop as f64 * t.distance_m;
                    wt += pop as f64 * t.car_min;
                    w += pop as f64;
                    max_d = Some(max_d.map_or(t.distance_m, |m: f64| m.max(t.distance_m)));
                }
                None => {
                    match n.missing {
                        Some(NoNearest::NoneByRoad) => no_structure += pop,
                        _ => unknown += pop,
                    }
                    for b in &mut bands {
                        b.population_beyond += pop;
                    }
                }
            }
            let beyond = n.trip.is_none_or(|t| !underserved_threshold.reached(t));
            if beyond {
                underserved.push(Underserved {
                    code: c.code.to_string(),
                    nom: c.name.clone(),
                    population: c.population,
                    distance_m: n.trip.map(|t| t.distance_m),
                    road_km: n.trip.map(|t| t.road_km),
                    car_min: n.trip.map(|t| t.car_min),
                    nearest_id: facility.as_ref().map(|f| f.0.clone()),
                    nearest_name: facility.map(|f| f.1),
                    reason: n.missing,
                });
            }
        }
        for b in &mut bands {
            b.share_within = share(b.population_within, population);
        }
        underserved.sort_by(|a, b| {
            b.population
                .cmp(&a.population)
                .then_with(|| a.code.cmp(&b.code))
        });
        Coverage {
            territory_type: territory.kind,
            territory_code: territory.code.clone(),
            territory_name: territory.name.clone(),
            kind: kind.clone(),
            model,
            communes: members.len(),
            population,
            bands,
            mean_distance_m: (w > 0.0).then(|| wd / w),
            max_distance_m: max_d,
            mean_car_min: (w > 0.0).then(|| wt / w),
            underserved_threshold,
            underserved,
            population_unknown: unknown,
            population_no_structure: no_structure,
            communes_out_of_scope: outside.len(),
            population_out_of_scope: outside
                .iter()
                .map(|&i| u64::from(self.data.communes[i].population))
                .sum(),
        }
    }
}

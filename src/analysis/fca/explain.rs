//! The audit trail of one commune's accessibility: every site in its catchment with
//! distance, minutes, weight, `S_j`, the demand it shares, `R_j` and its contribution —
//! added in the order of the computation, so they sum to `A_i` exactly.

use serde::Serialize;

use crate::analysis::distance::DistanceModel;
use crate::analysis::engine::Engine;
use crate::model::StepUnit;

use super::missing::Missing;
use super::{Accessibility, FORMULA};

/// One site's part in a commune's accessibility.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Index in [`Accessibility::sites`].
    pub site: usize,
    pub site_id: String,
    pub site_name: String,
    pub distance_m: f64,
    /// Estimated road km.
    pub road_km: f64,
    /// Car minutes: the pair's cost for minute steps (table or estimate), else estimated.
    pub car_min: f64,
    pub minutes_from_table: bool,
    /// The measure the steps apply to, in the profile's unit.
    pub cost: f64,
    /// Decay weight `w(d_ij)`.
    pub weight: f64,
    /// `S_j` (`None`: unknown, no capacity).
    pub supply: Option<f64>,
    /// Communes of the site's catchment whose demand is unknown.
    pub communes_without_demand: u32,
    /// `Σ_k w(d_kj)·P_k`.
    pub demand_in_catchment: f64,
    /// `R_j`.
    pub ratio: Option<f64>,
    /// `w(d_ij)·R_j`.
    pub contribution: f64,
}

/// Every term of one commune's accessibility, to check it by hand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explain {
    pub commune: usize,
    pub code: String,
    pub name: String,
    pub profile: String,
    pub unit: StepUnit,
    pub model: DistanceModel,
    pub unit_label: String,
    pub result_scale: f64,
    pub caveat: Option<String>,
    pub formula: &'static str,
    /// `P_i`.
    pub demand: Option<f64>,
    /// `A_i` as computed (`None`: a term is unknown, see `missing`).
    pub accessibility: Option<f64>,
    /// Why there is no value.
    pub missing: Option<Missing>,
    /// Contributions in site order (the order of the sum).
    pub contributions: Vec<Contribution>,
    /// `Σ contribution`, added in the listed order: equals `accessibility`.
    pub sum: f64,
}

impl Engine {
    /// Every site contributing to a commune's accessibility, with the numbers behind it.
    /// An unknown commune index gives an empty explanation.
    pub fn explain(&self, acc: &Accessibility, commune: usize) -> Explain {
        let c = self.data.communes.get(commune);
        let mut contributions = Vec::new();
        let mut sum = 0.0;
        for (j, p) in acc.pairs_of_commune(commune) {
            let site = &acc.sites[j];
            let weight = acc.weight(p);
            let contribution = acc.contribution(j, p);
            sum += contribution;
            let road_km = self.road.road_km(p.distance_m);
            let car_min = match acc.profile.unit {
                StepUnit::Minutes => p.cost,
                StepUnit::Km => self.road.car_minutes(p.distance_m),
            };
            contributions.push(Contribution {
                site: j,
                site_id: site.id.clone(),
                site_name: site.name.clone(),
                distance_m: p.distance_m,
                road_km,
                car_min,
                minutes_from_table: p.minutes_from_table,
                cost: p.cost,
                weight,
                supply: site.supply,
                communes_without_demand: site.communes_without_demand,
                demand_in_catchment: site.demand_in_catchment,
                ratio: site.ratio,
                contribution,
            });
        }
        Explain {
            commune,
            code: c.map(|c| c.code.to_string()).unwrap_or_default(),
            name: c.map(|c| c.name.clone()).unwrap_or_default(),
            profile: acc.profile.id.clone(),
            unit: acc.profile.unit,
            model: acc.model,
            unit_label: acc.unit_label.clone(),
            result_scale: acc.profile.result_scale,
            caveat: acc.caveat.clone(),
            formula: FORMULA,
            demand: acc.demand_values.get(commune).copied().flatten(),
            accessibility: acc.value(commune),
            missing: acc.missing(commune),
            contributions,
            sum,
        }
    }
}

//! Accessibility summed up over a territory with the DREES rules: mean weighted by the
//! standardised population (the population municipale standing in where it is missing),
//! means by population and by demand, and the population at or below a threshold.

use serde::Serialize;

use crate::analysis::coverage::share;
use crate::analysis::distance::DistanceModel;
use crate::analysis::engine::Engine;
use crate::model::{STANDARDISED_INDICATOR, Territory, TerritoryType};

use super::Accessibility;

/// Accessibility summed up over a territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub territory_type: TerritoryType,
    pub territory_code: String,
    pub territory_name: String,
    pub profile: String,
    pub model: DistanceModel,
    pub unit_label: String,
    pub caveat: Option<String>,
    pub communes: usize,
    pub communes_with_value: usize,
    /// Population municipale of the member communes.
    pub population: u64,
    /// Population of member communes without an accessibility value.
    pub population_unknown: u64,
    /// Mean of `A_i` weighted by the standardised population (DREES rule), the
    /// population municipale standing in where the standardised one is missing.
    pub mean: Option<f64>,
    /// How `mean` is weighted.
    pub weighting: &'static str,
    /// Communes weighted by their population municipale for lack of a standardised one.
    pub communes_weight_fallback: usize,
    pub population_weight_fallback: u64,
    /// Mean weighted by the population municipale (the FAQ's rule for a TVS).
    pub mean_by_population: Option<f64>,
    /// Mean weighted by the demand used (`Σ A_i·P_i / Σ P_i`: supply per unit of demand).
    pub mean_by_demand: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub threshold: f64,
    /// Communes with `A_i ≤ threshold` (the FAQ's "APL ≤ 2.5" rule).
    pub communes_at_or_below: usize,
    pub population_at_or_below: u64,
    /// `population_at_or_below` over the population of the communes with a value (none
    /// when no commune has one: an unknown is not a "no").
    pub share_at_or_below: Option<f64>,
}

/// Weighted mean accumulator.
#[derive(Default)]
struct Mean {
    sum: f64,
    weight: f64,
}

impl Mean {
    fn add(&mut self, v: f64, w: f64) {
        self.sum += v * w;
        self.weight += w;
    }
    fn get(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }
}

/// The sums behind an [`Aggregate`], over a list of member communes.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) population: u64,
    pub(crate) unknown: u64,
    pub(crate) with_value: usize,
    pub(crate) below: usize,
    pub(crate) below_pop: u64,
    pub(crate) fallback: usize,
    pub(crate) fallback_pop: u64,
    by_std: Mean,
    by_pop: Mean,
    by_demand: Mean,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

impl Totals {
    /// Mean weighted by the standardised population (DREES rule).
    pub(crate) fn mean(&self) -> Option<f64> {
        self.by_std.get()
    }
    pub(crate) fn mean_by_population(&self) -> Option<f64> {
        self.by_pop.get()
    }
    pub(crate) fn mean_by_demand(&self) -> Option<f64> {
        self.by_demand.get()
    }
}

/// How [`Aggregate::mean`] is weighted.
pub const AGGREGATE_WEIGHTING: &str =
    "population standardisée (pop_standardisee), population municipale là où elle manque";

impl Engine {
    /// Territory summary: weighted means (DREES: by standardised population) and the
    /// population living in communes at or below `threshold`.
    pub fn aggregate(
        &self,
        acc: &Accessibility,
        territory: &Territory,
        threshold: f64,
    ) -> Aggregate {
        let (members, _) = self.members(territory);
        let t = self.totals(acc, &members, threshold, |i| acc.value(i));
        Aggregate {
            territory_type: territory.kind,
            territory_code: territory.code.clone(),
            territory_name: territory.name.clone(),
            profile: acc.profile.id.clone(),
            model: acc.model,
            unit_label: acc.unit_label.clone(),
            caveat: acc.caveat.clone(),
            communes: members.len(),
            communes_with_value: t.with_value,
            population: t.population,
            population_unknown: t.unknown,
            mean: t.mean(),
            weighting: AGGREGATE_WEIGHTING,
            communes_weight_fallback: t.fallback,
            population_weight_fallback: t.fallback_pop,
            mean_by_population: t.mean_by_population(),
            mean_by_demand: t.mean_by_demand(),
            min: t.min,
            max: t.max,
            threshold,
            communes_at_or_below: t.below,
            population_at_or_below: t.below_pop,
            share_at_or_below: share(t.below_pop, t.population - t.unknown),
        }
    }

    /// The DREES-rule sums of `members` (commune indices), with `value(i)` as `A_i` (the
    /// values of `acc`, or a scenario's values after its changes) and the demand and
    /// standardised population of the data set.
    pub(crate) fn totals(
        &self,
        acc: &Accessibility,
        members: &[usize],
        threshold: f64,
        value: impl Fn(usize) -> Option<f64>,
    ) -> Totals {
        let standardised = self.data.indicators.numeric.get(STANDARDISED_INDICATOR);
        let mut t = Totals::default();
        for &i in members {
            let pop = u64::from(self.data.communes[i].population);
            t.population += pop;
            let Some(a) = value(i) else {
                t.unknown += pop;
                continue;
            };
            t.with_value += 1;
            let std_w = standardised
                .and_then(|col| col.get(i).copied().flatten())
                .filter(|v| v.is_finite() && *v >= 0.0);
            let w = match std_w {
                Some(w) => w,
                None => {
                    t.fallback += 1;
                    t.fallback_pop += pop;
                    pop as f64
                }
            };
            t.by_std.add(a, w);
            t.by_pop.add(a, pop as f64);
            if let Some(p) = acc.demand_values.get(i).copied().flatten() {
                t.by_demand.add(a, p);
            }
            t.min = Some(t.min.map_or(a, |m| m.min(a)));
            t.max = Some(t.max.map_or(a, |m| m.max(a)));
            if a <= threshold {
                t.below += 1;
                t.below_pop += pop;
            }
        }
        t
    }
}

/// A territory's accessibility summed up with the DREES rules of
/// [`Engine::aggregate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessSummary {
    pub communes_with_value: usize,
    /// Mean of `A_i` weighted by the standardised population (DREES rule), the population
    /// municipale standing in where it is missing.
    pub mean: Option<f64>,
    /// Mean weighted by the population municipale.
    pub mean_by_population: Option<f64>,
    /// Mean weighted by the demand used (`Σ A_i·P_i / Σ P_i`).
    pub mean_by_demand: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl From<&Totals> for AccessSummary {
    fn from(t: &Totals) -> Self {
        AccessSummary {
            communes_with_value: t.with_value,
            mean: t.mean(),
            mean_by_population: t.mean_by_population(),
            mean_by_demand: t.mean_by_demand(),
            min: t.min,
            max: t.max,
        }
    }
}

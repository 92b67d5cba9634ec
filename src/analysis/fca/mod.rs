//! Potential accessibility: the two-step floating catchment area (2SFCA) family, in the
//! style of the DREES "accessibilité potentielle localisée" (APL).
//!
//! With `P_k` the demand of commune `k`, `S_j` the supply of site `j` and `w` a stepped
//! decay of the distance or time between them (0 beyond the last step, the catchment):
//!
//! ```text
//! R_j = result_scale × S_j / Σ_k w(d_kj)·P_k        ratio of site j
//! A_i = Σ_j w(d_ij)·R_j                            accessibility of commune i
//! ```
//!
//! The same decay is used in both steps, so `Σ_i A_i·P_i = result_scale × Σ_j S_j` over
//! the sites that have demand in their catchment: the supply is shared out, never
//! created. Profiles (steps, supply, demand, scales, unit label, caveat: [`Profile`]) live
//! in `geodata/accessibility.toml` and are echoed with every result.
//!
//! - this module: the national run ([`Engine::accessibility`]) and its result;
//! - [`catchment`]: how a pair is measured and weighted, how far sites look;
//! - [`explain`]: every term of one commune's value;
//! - [`aggregate`]: territory means with the DREES rules;
//! - [`zonage`]: APL classes against the doctors' zonage;
//! - [`delta`]: what a scenario's changed sites do to the values.
//!
//! Pair search: for each site, the communes within the straight radius where the
//! measure reaches the last step. The search answers exactly what
//! `commune_index.within(site, radius)` answers (same chord-then-geodesic test, same
//! distances to the bit: tested), through the engine's grid of [`GRID_CELL_DEG`] cells
//! ([`CellGrid`](crate::index::grid::CellGrid), built once with the engine), which is several times
//! faster than thousands of R-tree queries; sites whose window would cross the
//! antimeridian or come near a pole use the R-tree itself. Sites go over the available
//! cores in units of 64, each thread appending its pairs to one buffer, and the buffers
//! are joined in site order at the end. National EHPAD (6,394 sites, 20 km, 568,000
//! pairs, population demand): 24.5 ms on 2 cores (criterion mean), pair search included.
//!
//! Determinism: every sum runs in a fixed order — `Σ_k` over a site's communes in the
//! grid order (cell row, cell column, commune index: a function of the data alone),
//! `Σ_j` by site index — so results are bit-identical from run to run, and
//! [`Engine::explain`] adds the same terms in the same order as the computation (its sum
//! equals `A_i` exactly).

pub mod aggregate;
pub mod catchment;
pub mod delta;
pub mod explain;
#[cfg(test)]
mod tests;
pub mod zonage;

use std::sync::OnceLock;

use serde::Serialize;

use crate::geodesy::GeoPoint;
use crate::model::{Demand, InseeCode, Profile, ProfileError, StepUnit, Supply, SupplySource};

use super::distance::{DistanceModel, TravelMatrix};
use super::engine::Engine;
use super::parallel::par_blocks_with;
use catchment::{Measure, PairRule, measure_for};

pub use crate::index::grid::GRID_CELL_DEG;

/// Everything that can go wrong, naming the parameter at fault.
#[derive(Debug, thiserror::Error)]
pub enum FcaError {
    #[error(transparent)]
    Invalid(#[from] ProfileError),
    #[error(
        "profile {profile:?}: steps in {unit} cannot be measured with the {model} model ({hint})"
    )]
    ModelUnit {
        profile: String,
        unit: StepUnit,
        model: DistanceModel,
        hint: &'static str,
    },
    #[error("the matrix model needs a travel-time table (none was given)")]
    MatrixMissing,
    #[error(
        "profile {profile:?}: `supply` is the commune indicator {indicator:?}; a per-site supply choice (capacity or sites) applies only to facility profiles"
    )]
    SupplyNotApplicable { profile: String, indicator: String },
    #[error("profile {profile:?}: parameter `{param}`: indicator {name:?} is not in the data set")]
    MissingIndicator {
        profile: String,
        param: &'static str,
        name: String,
    },
    #[error("profile {profile:?}: no supply site: {reason}")]
    NoSites { profile: String, reason: String },
    #[error("{0} commune–site pairs: more than this implementation indexes (u32)")]
    TooManyPairs(usize),
}

/// A commune within the catchment of a site (the site is implied by where the pair is
/// stored: see [`Accessibility::pairs_of_site`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pair {
    /// Index in `Dataset::communes`.
    pub commune: u32,
    /// Index of the decay step in the profile.
    pub step: u8,
    pub minutes_from_table: bool,
    /// Geodesic distance from the site to the commune reference point, metres.
    pub distance_m: f64,
    /// What the steps were applied to, in the profile's unit: straight km, estimated
    /// road km, or car minutes (from the table when `minutes_from_table`, else
    /// estimated).
    pub cost: f64,
}

/// A supply site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    /// Facility id, or the commune code for commune-indicator supply.
    pub id: String,
    pub name: String,
    /// Index in `Dataset::facilities` (facility supply).
    pub facility: Option<usize>,
    /// Index in `Dataset::communes` (commune-indicator supply).
    pub commune: Option<usize>,
    pub lon: f64,
    pub lat: f64,
    /// Supply before `supply_scale` (capacity, 1, or the indicator value).
    pub raw_supply: f64,
    /// `S_j` = raw supply × `supply_scale`.
    pub supply: f64,
    /// `Σ_k w(d_kj)·P_k`: the demand that shares the site.
    pub demand_in_catchment: f64,
    /// `R_j` = result_scale × S_j / Σ_k w·P_k; `None` when no demand is in the catchment.
    pub ratio: Option<f64>,
    /// Communes with demand in the catchment.
    pub communes_reached: usize,
}

/// Counts that qualify a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AccessCounts {
    pub sites: usize,
    /// Facilities left out because their supply is missing or invalid (no capacity).
    pub sites_left_out: usize,
    /// Sites without any demand within their catchment (their ratio is undefined, they
    /// contribute nothing).
    pub sites_without_demand: usize,
    pub pairs: usize,
    pub communes: usize,
    pub communes_with_value: usize,
    /// Communes without a (valid) demand value: no accessibility.
    pub communes_without_demand: usize,
    /// Communes without a reference point: no accessibility.
    pub communes_without_point: usize,
    /// Communes with demand but no site within the catchment: accessibility 0.
    pub communes_unreached: usize,
}

/// The result of one 2SFCA run, national, per commune.
#[derive(Debug, Clone, Serialize)]
pub struct Accessibility {
    pub profile: Profile,
    /// The supply actually used (the profile's, or its per-site override).
    pub supply: SupplySource,
    pub demand: Demand,
    pub model: DistanceModel,
    /// What the steps measured: "straight km", "estimated road km", "estimated car
    /// minutes" or "car minutes from the travel-time table, estimated where missing".
    pub measure: &'static str,
    /// Straight search radius around each site, metres.
    pub search_radius_m: f64,
    pub unit_label: String,
    pub caveat: Option<String>,
    pub formula: &'static str,
    pub counts: AccessCounts,
    /// `A_i` per commune (index = commune index); `None` without demand value or
    /// reference point.
    pub values: Vec<Option<f64>>,
    /// `P_i` per commune, as used (valid values only).
    pub demand_values: Vec<Option<f64>>,
    pub sites: Vec<Site>,
    /// Pairs grouped by site (site order, then commune order); see [`Accessibility::pairs_of_site`].
    #[serde(skip)]
    pairs: Vec<Pair>,
    #[serde(skip)]
    site_offsets: Vec<usize>,
    /// How the pair costs were measured (what `measure` says), for the sites a scenario
    /// adds.
    #[serde(skip)]
    measure_kind: Measure,
    /// Pairs by commune, built on the first [`Engine::explain`].
    #[serde(skip)]
    by_commune: OnceLock<ByCommune>,
}

/// Pair indices grouped by commune, in site order within a commune.
#[derive(Debug, Clone)]
struct ByCommune {
    offsets: Vec<usize>,
    pairs: Vec<u32>,
}

pub const FORMULA: &str = "R_j = result_scale × S_j / Σ_k w(d_kj)·P_k ; A_i = Σ_j w(d_ij)·R_j (sommes limitées à la zone de chalandise : dernier palier)";

impl Accessibility {
    /// Every commune–site pair within the catchments, grouped by site (site order; see
    /// [`Accessibility::pairs_of_site`] for the order within a site).
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// The pairs of one site, in a fixed order: communes by cell of [`GRID_CELL_DEG`]
    /// (south to north, then west to east), then by commune index. `Σ_k w·P_k` is added
    /// in this order.
    pub fn pairs_of_site(&self, site: usize) -> &[Pair] {
        match (self.site_offsets.get(site), self.site_offsets.get(site + 1)) {
            (Some(&a), Some(&b)) => &self.pairs[a..b],
            _ => &[],
        }
    }

    /// The pairs reaching one commune with their site index, in site order (the order in
    /// which `A_i` is added).
    pub fn pairs_of_commune(&self, commune: usize) -> impl Iterator<Item = (usize, &Pair)> + '_ {
        let index = self.by_commune.get_or_init(|| {
            // A stable counting sort: site order within a commune.
            let n = self.values.len();
            let mut offsets = vec![0usize; n + 1];
            for p in &self.pairs {
                offsets[p.commune as usize + 1] += 1;
            }
            for c in 0..n {
                offsets[c + 1] += offsets[c];
            }
            let mut fill = offsets.clone();
            let mut pairs = vec![0u32; self.pairs.len()];
            for (k, p) in self.pairs.iter().enumerate() {
                let c = p.commune as usize;
                pairs[fill[c]] = k as u32;
                fill[c] += 1;
            }
            ByCommune { offsets, pairs }
        });
        let range = match (index.offsets.get(commune), index.offsets.get(commune + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => 0..0,
        };
        index.pairs[range].iter().map(|&k| {
            let k = k as usize;
            (
                self.site_offsets.partition_point(|&o| o <= k) - 1,
                &self.pairs[k],
            )
        })
    }

    /// The site of a facility in this run (`None`: not a site, e.g. left out for lack of
    /// a capacity, or a commune-indicator supply).
    pub fn site_of_facility(&self, facility: usize) -> Option<usize> {
        // Facility sites are in facility order.
        self.sites
            .binary_search_by_key(&Some(facility), |s| s.facility)
            .ok()
    }

    /// How the pair costs were measured.
    pub(crate) fn measure_kind(&self) -> Measure {
        self.measure_kind
    }

    /// `A_i` of a commune.
    pub fn value(&self, commune: usize) -> Option<f64> {
        self.values.get(commune).copied().flatten()
    }

    /// Weight of a pair's step.
    pub fn weight(&self, pair: &Pair) -> f64 {
        self.profile.steps[usize::from(pair.step)].weight
    }

    /// `w·R_j` of a pair of site `site` (0 when the site has no ratio).
    fn contribution(&self, site: usize, pair: &Pair) -> f64 {
        self.weight(pair) * self.sites[site].ratio.unwrap_or(0.0)
    }
}

/// Sites per unit of work of the pair search.
const SITES_PER_UNIT: usize = 64;

/// A site before the pair search.
struct SiteIn<'a> {
    point: GeoPoint,
    code: Option<&'a InseeCode>,
    facility: Option<usize>,
    commune: Option<usize>,
    raw: f64,
}

impl Engine {
    /// Valid demand values per commune (finite, ≥ 0).
    fn demand_values(
        &self,
        profile: &Profile,
        demand: Demand,
    ) -> Result<Vec<Option<f64>>, FcaError> {
        let valid = |v: f64| (v.is_finite() && v >= 0.0).then_some(v);
        match demand.indicator() {
            None => Ok(self
                .data
                .communes
                .iter()
                .map(|c| valid(f64::from(c.population)))
                .collect()),
            Some(name) => {
                let column = self.data.indicators.numeric.get(name).ok_or_else(|| {
                    FcaError::MissingIndicator {
                        profile: profile.id.clone(),
                        param: "demand",
                        name: name.to_owned(),
                    }
                })?;
                Ok((0..self.data.communes.len())
                    .map(|i| column.get(i).copied().flatten().and_then(valid))
                    .collect())
            }
        }
    }

    /// The supply sites of a source, and the number of facilities left out.
    fn supply_sites(
        &self,
        profile: &Profile,
        source: &SupplySource,
    ) -> Result<(Vec<SiteIn<'_>>, usize), FcaError> {
        let mut sites = Vec::new();
        let mut left_out = 0;
        match source {
            SupplySource::Facilities { kind, per_site } => {
                let Some(ki) = self.kinds.get(kind) else {
                    return Err(FcaError::NoSites {
                        profile: profile.id.clone(),
                        reason: format!("no facility of kind {kind} in the data set"),
                    });
                };
                for (hit, &fi) in ki.facilities.iter().enumerate() {
                    let f = &self.data.facilities[fi];
                    let raw = match per_site {
                        Supply::Sites => Some(1.0),
                        Supply::Capacity => f.capacity.filter(|c| c.is_finite() && *c >= 0.0),
                    };
                    match raw {
                        Some(raw) => sites.push(SiteIn {
                            point: ki.points[hit],
                            code: f.commune.as_ref(),
                            facility: Some(fi),
                            commune: None,
                            raw,
                        }),
                        None => left_out += 1,
                    }
                }
                if sites.is_empty() {
                    return Err(FcaError::NoSites {
                        profile: profile.id.clone(),
                        reason: format!(
                            "none of the {} facilities of kind {kind} has a capacity: use the supply choice \"sites\"",
                            ki.facilities.len()
                        ),
                    });
                }
            }
            SupplySource::CommuneIndicator { commune_indicator } => {
                let column = self
                    .data
                    .indicators
                    .numeric
                    .get(commune_indicator)
                    .ok_or_else(|| FcaError::MissingIndicator {
                        profile: profile.id.clone(),
                        param: "supply.commune_indicator",
                        name: commune_indicator.clone(),
                    })?;
                for (c, commune) in self.data.communes.iter().enumerate() {
                    let Some(v) = column.get(c).copied().flatten() else {
                        continue;
                    };
                    if !(v.is_finite() && v >= 0.0) {
                        left_out += 1;
                        continue;
                    }
                    if v == 0.0 {
                        continue;
                    }
                    match self.commune_points[c] {
                        Some(point) => sites.push(SiteIn {
                            point,
                            code: Some(&commune.code),
                            facility: None,
                            commune: Some(c),
                            raw: v,
                        }),
                        None => left_out += 1,
                    }
                }
                if sites.is_empty() {
                    return Err(FcaError::NoSites {
                        profile: profile.id.clone(),
                        reason: format!(
                            "indicator {commune_indicator:?} is 0 or missing everywhere"
                        ),
                    });
                }
            }
        }
        Ok((sites, left_out))
    }

    /// Runs the 2SFCA of `profile` over every commune.
    ///
    /// `supply` overrides the profile's per-site supply (facility profiles only),
    /// `demand` its demand. The `model` must fit the profile's unit: km steps take
    /// `straight` (geodesic km) or `road_estimate` (estimated road km); minute steps take
    /// `road_estimate` or `matrix` (table minutes for the pairs it has, resident commune
    /// → site commune, else the reverse direction, else the estimate). Pairs are searched
    /// within the straight distance where the measure reaches the last step (the
    /// estimate inverted by bisection; with `matrix`, at least the distance covered at
    /// [`MATRIX_MAX_STRAIGHT_KMH`]).
    pub fn accessibility(
        &self,
        profile: &Profile,
        supply: Option<Supply>,
        demand: Option<Demand>,
        model: DistanceModel,
        matrix: Option<&TravelMatrix>,
    ) -> Result<Accessibility, FcaError> {
        profile.validate()?;
        let measure = measure_for(profile, model, matrix)?;
        let source = match (&profile.supply, supply) {
            (s, None) => s.clone(),
            (SupplySource::Facilities { kind, .. }, Some(per_site)) => SupplySource::Facilities {
                kind: kind.clone(),
                per_site,
            },
            (SupplySource::CommuneIndicator { commune_indicator }, Some(_)) => {
                return Err(FcaError::SupplyNotApplicable {
                    profile: profile.id.clone(),
                    indicator: commune_indicator.clone(),
                });
            }
        };
        let demand = demand.unwrap_or(profile.demand);
        let demand_values = self.demand_values(profile, demand)?;
        // Demand that takes part: a valid value and a reference point.
        let active: Vec<Option<f64>> = demand_values
            .iter()
            .zip(&self.commune_points)
            .map(|(d, p)| p.and(*d))
            .collect();
        let (inputs, left_out) = self.supply_sites(profile, &source)?;
        let radius = self.search_radius_m(profile, measure);
        let communes = &self.data.communes;
        let weights: Vec<f64> = profile.steps.iter().map(|s| s.weight).collect();
        let rule = PairRule {
            profile,
            measure,
            road: self.road,
            matrix,
            communes,
            active: &active,
        };

        let grid = self.commune_grid();
        let keep = |c: u32| active[c as usize].is_some();

        // Sites in units of SITES_PER_UNIT over the threads; each thread appends its
        // pairs to one buffer, and each unit says where its pairs are in it, with the
        // count and `Σ w·P` of each site.
        let (units, buffers) = par_blocks_with(
            inputs.len().div_ceil(SITES_PER_UNIT),
            Vec::<Pair>::new,
            |pairs, u| {
                let unit =
                    &inputs[u * SITES_PER_UNIT..((u + 1) * SITES_PER_UNIT).min(inputs.len())];
                let start = pairs.len();
                let mut per_site = Vec::with_capacity(unit.len());
                for site in unit {
                    let before = pairs.len();
                    let mut demand_sum = 0.0;
                    let mut add = |c: u32, d: f64| {
                        if let Some((pair, wp)) = rule.pair(site.code, c, d) {
                            demand_sum += wp;
                            pairs.push(pair);
                        }
                    };
                    if !grid.within(&site.point, radius, keep, &mut add) {
                        // Rare (antimeridian, poles): the R-tree, in the grid's order.
                        let mut hits: Vec<(u32, u32, f64)> = self
                            .commune_index()
                            .within(&site.point, radius)
                            .filter_map(|h| {
                                let c = self.commune_ids[h.index];
                                active[c]?;
                                Some((grid.rank(c)?, c as u32, h.distance_m))
                            })
                            .collect();
                        hits.sort_unstable_by_key(|h| h.0);
                        for (_, c, d) in hits {
                            add(c, d);
                        }
                    }
                    per_site.push((pairs.len() - before, demand_sum));
                }
                (start..pairs.len(), per_site)
            },
        );

        let total: usize = buffers.iter().map(Vec::len).sum();
        if total > u32::MAX as usize {
            return Err(FcaError::TooManyPairs(total));
        }
        let mut pairs = Vec::with_capacity(total);
        for (t, (range, _)) in &units {
            pairs.extend_from_slice(&buffers[*t][range.clone()]);
        }
        drop(buffers);
        let mut site_offsets = Vec::with_capacity(inputs.len() + 1);
        site_offsets.push(0);
        let mut sites = Vec::with_capacity(inputs.len());
        let mut counts = AccessCounts {
            sites: inputs.len(),
            sites_left_out: left_out,
            pairs: total,
            communes: communes.len(),
            ..AccessCounts::default()
        };
        let per_site = units.iter().flat_map(|(_, u)| u.1.iter());
        for (site, &(reached, demand_sum)) in inputs.iter().zip(per_site) {
            let offset = site_offsets.last().copied().unwrap_or_default() + reached;
            site_offsets.push(offset);
            let s = site.raw * profile.supply_scale;
            let ratio = (demand_sum > 0.0).then(|| profile.result_scale * s / demand_sum);
            if ratio.is_none() {
                counts.sites_without_demand += 1;
            }
            let (id, name) = match (site.facility, site.commune) {
                (Some(f), _) => (
                    self.data.facilities[f].id.clone(),
                    self.data.facilities[f].name.clone(),
                ),
                (None, Some(c)) => (communes[c].code.to_string(), communes[c].name.clone()),
                (None, None) => (String::new(), String::new()),
            };
            sites.push(Site {
                id,
                name,
                facility: site.facility,
                commune: site.commune,
                lon: site.point.lon,
                lat: site.point.lat,
                raw_supply: site.raw,
                supply: s,
                demand_in_catchment: demand_sum,
                ratio,
                communes_reached: reached,
            });
        }
        drop(units);

        // A_i: the contributions added pair by pair in site order, which is the order in
        // which `explain` lists and adds them (same operations, same result bits).
        let mut sums = vec![0.0f64; communes.len()];
        let mut reached = vec![false; communes.len()];
        for (j, site) in sites.iter().enumerate() {
            let r = site.ratio.unwrap_or(0.0);
            for p in &pairs[site_offsets[j]..site_offsets[j + 1]] {
                let c = p.commune as usize;
                sums[c] += weights[usize::from(p.step)] * r;
                reached[c] = true;
            }
        }
        let values: Vec<Option<f64>> = active
            .iter()
            .zip(&sums)
            .map(|(d, &a)| d.map(|_| a))
            .collect();
        for c in 0..communes.len() {
            if demand_values[c].is_none() {
                counts.communes_without_demand += 1;
            }
            if self.commune_points[c].is_none() {
                counts.communes_without_point += 1;
            }
            if values[c].is_some() {
                counts.communes_with_value += 1;
                if !reached[c] {
                    counts.communes_unreached += 1;
                }
            }
        }

        let unit_label = if source == profile.supply && demand == profile.demand {
            profile.unit_label.clone()
        } else {
            // The profile's unit names its default supply and demand: say when the
            // caller chose others, so a figure is never shown under the wrong unit.
            format!(
                "{} (recalculé avec offre : {}, demande : {})",
                profile.unit_label,
                match &source {
                    SupplySource::Facilities { per_site, .. } => per_site.as_str(),
                    SupplySource::CommuneIndicator { commune_indicator } => commune_indicator,
                },
                demand.as_str()
            )
        };
        let acc = Accessibility {
            profile: profile.clone(),
            supply: source,
            demand,
            model,
            measure: match measure {
                Measure::StraightKm => "straight km",
                Measure::RoadKm => "estimated road km",
                Measure::EstimateMinutes => "estimated car minutes",
                Measure::MatrixMinutes => {
                    "car minutes from the travel-time table, estimated where missing"
                }
            },
            search_radius_m: radius,
            unit_label,
            caveat: profile.caveat.clone(),
            formula: FORMULA,
            counts,
            values,
            demand_values,
            sites,
            pairs,
            site_offsets,
            measure_kind: measure,
            by_commune: OnceLock::new(),
        };
        Ok(acc)
    }
}

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
pub mod missing;
#[cfg(test)]
mod tests;
pub mod zonage;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Serialize;

use crate::geodesy::GeoPoint;
use crate::model::{Demand, InseeCode, Profile, ProfileError, StepUnit, Supply, SupplySource};

use super::distance::{DistanceModel, TravelMatrix};
use super::engine::{Engine, Zone};
use super::listed::{FacilityChoice, ListIndex};
use super::parallel::par_blocks_with;
use catchment::{Measure, PairRule, measure_for};
use missing::{Missing, MissingReason, Unknowns};

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
    /// Supply before `supply_scale` (capacity, 1, or the indicator value); `None`:
    /// unknown (no capacity), which makes the values of its catchment unknown.
    pub raw_supply: Option<f64>,
    /// `S_j` = raw supply × `supply_scale`.
    pub supply: Option<f64>,
    /// `Σ_k w(d_kj)·P_k`: the demand that shares the site (known demand only).
    pub demand_in_catchment: f64,
    /// Communes of the catchment whose demand is unknown: the site's ratio is then
    /// unknown too (it would be too high).
    pub communes_without_demand: u32,
    /// `R_j` = result_scale × S_j / Σ_k w·P_k; `None` when the supply or part of the
    /// demand is unknown, or no demand is in the catchment.
    pub ratio: Option<f64>,
    /// Communes with demand in the catchment.
    pub communes_reached: usize,
}

impl Site {
    /// Whether the site's terms are known (a known supply and its whole demand known): a
    /// site that is not makes the values of its catchment unknown.
    pub fn is_known(&self) -> bool {
        self.supply.is_some() && self.communes_without_demand == 0
    }
}

/// Counts that qualify a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AccessCounts {
    pub sites: usize,
    /// Sites whose supply is unknown (no capacity): their catchments' values are unknown.
    pub sites_without_supply: usize,
    /// Sites with communes of unknown demand in their catchment.
    pub sites_with_unknown_demand: usize,
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
    /// Communes where the list of structures does not speak: no accessibility.
    pub communes_out_of_scope: usize,
    /// Communes reached by a site of unknown supply or unknown shared demand: no
    /// accessibility.
    pub communes_unknown_terms: usize,
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
    /// `A_i` per commune (index = commune index); `None` when a term is unknown, with
    /// the reason in `missing`.
    pub values: Vec<Option<f64>>,
    /// Why each commune without a value has none.
    pub missing: Vec<Option<Missing>>,
    /// `P_i` per commune, as used (valid values only).
    pub demand_values: Vec<Option<f64>>,
    /// Communes whose unknown demand makes the ratio of a site reaching them unknown.
    #[serde(skip)]
    pub(crate) uncounted: Vec<bool>,
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
    /// Sites of a planner's list, first in [`Accessibility::sites`].
    #[serde(skip)]
    listed: usize,
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

    /// The site of the `i`th structure of the planner's list the run used.
    pub fn site_of_listed(&self, i: usize) -> Option<usize> {
        (i < self.listed).then_some(i)
    }

    /// How the pair costs were measured.
    pub(crate) fn measure_kind(&self) -> Measure {
        self.measure_kind
    }

    /// `A_i` of a commune.
    pub fn value(&self, commune: usize) -> Option<f64> {
        self.values.get(commune).copied().flatten()
    }

    /// Why a commune has no value.
    pub fn missing(&self, commune: usize) -> Option<Missing> {
        self.missing.get(commune).copied().flatten()
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

/// The unit of a run whose supply or demand is not the profile's: `places pour 100 000
/// habitants`, `sites pour 10 000 habitants de 75 ans et plus`…
fn recomputed_unit(source: &SupplySource, demand: Demand, profile: &Profile) -> String {
    let supply = match source {
        SupplySource::Facilities {
            per_site: Supply::Capacity,
            ..
        } => "places (capacité)".to_owned(),
        SupplySource::Facilities {
            per_site: Supply::Sites,
            ..
        } => "sites".to_owned(),
        SupplySource::CommuneIndicator { commune_indicator } => commune_indicator.clone(),
    };
    let scaled = if profile.supply_scale == 1.0 {
        supply
    } else {
        format!("{supply} × {}", profile.supply_scale)
    };
    let per = match demand {
        Demand::Population => "habitants",
        Demand::Standardised => "habitants (population standardisée)",
        Demand::Pop75Plus => "habitants de 75 ans et plus",
    };
    let scale = profile.result_scale;
    if scale == 1.0 {
        format!("{scaled} par {}", per.trim_end_matches('s'))
    } else {
        format!("{scaled} pour {scale} {per}")
    }
}

/// The demand in words.
fn demand_label(demand: Demand) -> &'static str {
    match demand {
        Demand::Population => "population",
        Demand::Standardised => "population standardisée",
        Demand::Pop75Plus => "population de 75 ans et plus",
    }
}

/// Sites per unit of work of the pair search.
const SITES_PER_UNIT: usize = 64;

/// A site before the pair search.
struct SiteIn<'a> {
    point: GeoPoint,
    zone: Zone,
    code: Option<&'a InseeCode>,
    facility: Option<usize>,
    commune: Option<usize>,
    /// Position in the planner's list ([`ListIndex::sites`]).
    listed: Option<usize>,
    /// `None`: unknown supply.
    raw: Option<f64>,
}

impl Engine {
    /// Valid demand values per commune (finite, ≥ 0). A commune nobody lives in has no
    /// demand of any kind, whatever the indicator says or omits (the villages of the
    /// Meuse destroyed in 1916 have no standardised population).
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
                    .map(|i| {
                        if self.data.communes[i].population == 0 {
                            return Some(0.0);
                        }
                        column.get(i).copied().flatten().and_then(valid)
                    })
                    .collect())
            }
        }
    }

    /// Communes whose demand is unknown and counted nowhere: in a département where the
    /// demand source has no value at all (the population aged 75+ outside the nine
    /// départements of the file). A commune missing from a source that covers its
    /// département is one created after the source's vintage: its people are counted in
    /// the row of the commune it belonged to.
    fn uncounted_demand(&self, demand_values: &[Option<f64>]) -> Vec<bool> {
        let covered = self.demand_departements(demand_values);
        self.data
            .communes
            .iter()
            .zip(demand_values)
            .map(|(c, d)| d.is_none() && !covered.contains(c.departement.as_str()))
            .collect()
    }

    /// The départements where the demand has a value for some inhabited commune.
    fn demand_departements(&self, demand_values: &[Option<f64>]) -> BTreeSet<&str> {
        self.data
            .communes
            .iter()
            .zip(demand_values)
            .filter(|(c, d)| d.is_some() && c.population > 0)
            .map(|(c, _)| c.departement.as_str())
            .collect()
    }

    /// What the demand leaves out, said with the figures of this data set: the
    /// départements where it is known when that is not all of them.
    fn demand_caveat(&self, demand: Demand, demand_values: &[Option<f64>]) -> Option<String> {
        let all: BTreeSet<&str> = self
            .data
            .communes
            .iter()
            .map(|c| c.departement.as_str())
            .collect();
        let covered = self.demand_departements(demand_values);
        let lacking: Vec<&str> = all.difference(&covered).copied().collect();
        (!lacking.is_empty()).then(|| {
            let which = if lacking.len() <= 10 {
                format!(" (manque : {})", lacking.join(", "))
            } else {
                String::new()
            };
            format!(
                "{} connue dans {} départements sur {} seulement{which} : ailleurs pas de valeur, et aux limites de ces départements la demande voisine n'est pas comptée (ratios surestimés en bordure)",
                demand_label(demand),
                covered.len(),
                all.len()
            )
        })
    }

    /// The supply sites of a source: with a planner's list of the source's kind, the
    /// list's sites first (in list order), then the build's unless the list is used
    /// alone.
    fn supply_sites<'a>(
        &'a self,
        profile: &Profile,
        source: &SupplySource,
        list: Option<(&'a ListIndex, FacilityChoice)>,
    ) -> Result<Vec<SiteIn<'a>>, FcaError> {
        let mut sites = Vec::new();
        match source {
            SupplySource::Facilities { kind, per_site } => {
                let supply_of = |capacity: Option<f64>| match per_site {
                    Supply::Sites => Some(1.0),
                    Supply::Capacity => capacity.filter(|c| c.is_finite() && *c >= 0.0),
                };
                if let Some((list, _)) = list {
                    for ((i, s), zone) in list.sites.iter().enumerate().zip(list.zones()) {
                        sites.push(SiteIn {
                            point: s.point,
                            zone,
                            code: s.commune.map(|c| &self.data.communes[c].code),
                            facility: None,
                            commune: None,
                            listed: Some(i),
                            raw: supply_of(s.capacity),
                        });
                    }
                }
                let official = list.is_none_or(|(_, c)| c != FacilityChoice::List);
                let ki = self.kinds.get(kind).filter(|_| official);
                if let Some(ki) = ki {
                    for (hit, &fi) in ki.facilities.iter().enumerate() {
                        let f = &self.data.facilities[fi];
                        sites.push(SiteIn {
                            point: ki.points[hit],
                            zone: ki.zones[hit],
                            code: f.commune.as_ref(),
                            facility: Some(fi),
                            commune: None,
                            listed: None,
                            raw: supply_of(f.capacity),
                        });
                    }
                }
                if sites.is_empty() {
                    return Err(FcaError::NoSites {
                        profile: profile.id.clone(),
                        reason: match list {
                            Some(_) if !official => {
                                format!("the list has no structure of kind {kind}")
                            }
                            _ => format!("no facility of kind {kind} in the data set"),
                        },
                    });
                }
                if sites.iter().all(|s| s.raw.is_none()) {
                    return Err(FcaError::NoSites {
                        profile: profile.id.clone(),
                        reason: format!(
                            "none of the {} structures of kind {kind} has a capacity: use the supply choice \"sites\"",
                            sites.len()
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
                    if v == 0.0 || !v.is_finite() || v < 0.0 {
                        continue;
                    }
                    if let Some(point) = self.commune_points[c] {
                        sites.push(SiteIn {
                            point,
                            zone: self.commune_zone[c],
                            code: Some(&commune.code),
                            facility: None,
                            commune: Some(c),
                            listed: None,
                            raw: Some(v),
                        });
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
        Ok(sites)
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
        self.accessibility_with_list(profile, supply, demand, model, matrix, None)
    }

    /// [`Engine::accessibility`] with a planner's list of the profile's supply kind:
    /// its sites are supply (first, in list order: [`Accessibility::site_of_listed`])
    /// beside the build's (`both`) or alone (`list`), each with its capacity or 1 as
    /// the profile counts. Where the structures used do not speak (with `list`, outside
    /// the list's territory) a commune has no value ("non couvert"). A profile whose
    /// supply is not the list's kind ignores the list.
    pub fn accessibility_with_list(
        &self,
        profile: &Profile,
        supply: Option<Supply>,
        demand: Option<Demand>,
        model: DistanceModel,
        matrix: Option<&TravelMatrix>,
        list: Option<(&ListIndex, FacilityChoice)>,
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
        let uncounted = self.uncounted_demand(&demand_values);
        let list = list.filter(|(_, choice)| *choice != FacilityChoice::Official);
        let inputs = self.supply_sites(profile, &source, list)?;
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
            uncounted: &uncounted,
            zones: &self.commune_zone,
        };

        let grid = self.commune_grid();
        let zones = &self.commune_zone;

        // Sites in units of SITES_PER_UNIT over the threads; each thread appends its
        // pairs to one buffer, and each unit says where its pairs are in it, with the
        // count, `Σ w·P` and the communes of unknown demand of each site.
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
                    let (mut demand_sum, mut unknown) = (0.0, 0u32);
                    let mut add = |c: u32, d: f64| match rule.pair(site.code, c, d) {
                        Some((pair, Some(wp))) => {
                            demand_sum += wp;
                            pairs.push(pair);
                        }
                        Some((_, None)) => unknown += 1,
                        None => {}
                    };
                    let keep = |c: u32| zones[c as usize] == site.zone;
                    if !grid.within(&site.point, radius, keep, &mut add) {
                        // Rare (antimeridian, poles): the R-tree, in the grid's order.
                        let mut hits: Vec<(u32, u32, f64)> = self
                            .commune_index()
                            .within(&site.point, radius)
                            .filter_map(|h| {
                                let c = self.commune_ids[h.index];
                                (zones[c] == site.zone).then_some(())?;
                                Some((grid.rank(c)?, c as u32, h.distance_m))
                            })
                            .collect();
                        hits.sort_unstable_by_key(|h| h.0);
                        for (_, c, d) in hits {
                            add(c, d);
                        }
                    }
                    per_site.push((pairs.len() - before, demand_sum, unknown));
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
            pairs: total,
            communes: communes.len(),
            ..AccessCounts::default()
        };
        let per_site = units.iter().flat_map(|(_, u)| u.1.iter());
        for (site, &(reached, demand_sum, unknown)) in inputs.iter().zip(per_site) {
            let offset = site_offsets.last().copied().unwrap_or_default() + reached;
            site_offsets.push(offset);
            let s = site.raw.map(|raw| raw * profile.supply_scale);
            let ratio = s
                .filter(|_| demand_sum > 0.0 && unknown == 0)
                .map(|s| profile.result_scale * s / demand_sum);
            if s.is_none() {
                counts.sites_without_supply += 1;
            }
            if unknown > 0 {
                counts.sites_with_unknown_demand += 1;
            } else if demand_sum <= 0.0 {
                counts.sites_without_demand += 1;
            }
            let (id, name) = match (site.listed.zip(list), site.facility, site.commune) {
                (Some((i, (list, _))), _, _) => {
                    (list.sites[i].id.clone(), list.sites[i].name.clone())
                }
                (None, Some(f), _) => (
                    self.data.facilities[f].id.clone(),
                    self.data.facilities[f].name.clone(),
                ),
                (None, None, Some(c)) => (communes[c].code.to_string(), communes[c].name.clone()),
                (None, None, None) => (String::new(), String::new()),
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
                communes_without_demand: unknown,
                ratio,
                communes_reached: reached,
            });
        }
        drop(units);

        // A_i: the contributions added pair by pair in site order, which is the order in
        // which `explain` lists and adds them (same operations, same result bits); and
        // the unknown terms of each commune.
        let mut sums = vec![0.0f64; communes.len()];
        let mut reached = vec![false; communes.len()];
        let mut unknowns = vec![Unknowns::default(); communes.len()];
        for (j, site) in sites.iter().enumerate() {
            let r = site.ratio.unwrap_or(0.0);
            for p in &pairs[site_offsets[j]..site_offsets[j + 1]] {
                let c = p.commune as usize;
                sums[c] += weights[usize::from(p.step)] * r;
                reached[c] = true;
                if site.supply.is_none() {
                    unknowns[c].without_supply += 1;
                } else if site.communes_without_demand > 0 {
                    unknowns[c].demand_incomplete += 1;
                }
            }
        }
        let scope_kind = match &source {
            SupplySource::Facilities { kind, .. } => Some(kind),
            SupplySource::CommuneIndicator { .. } => None,
        };
        let mut values = Vec::with_capacity(communes.len());
        let mut missing = Vec::with_capacity(communes.len());
        for c in 0..communes.len() {
            let why = if self.commune_points[c].is_none() {
                counts.communes_without_point += 1;
                Some(Missing::new(MissingReason::NoReferencePoint))
            } else if demand_values[c].is_none() {
                Some(Missing::new(MissingReason::NoDemand))
            } else if scope_kind.is_some_and(|k| match list {
                Some((list, choice)) => !self.speaks(k, list, choice, c),
                None => !self.data.in_scope(k, c),
            }) {
                counts.communes_out_of_scope += 1;
                Some(Missing::new(MissingReason::OutOfScope))
            } else if let Some(m) = unknowns[c].missing() {
                counts.communes_unknown_terms += 1;
                Some(m)
            } else {
                None
            };
            if demand_values[c].is_none() {
                counts.communes_without_demand += 1;
            }
            match why {
                Some(m) => {
                    values.push(None);
                    missing.push(Some(m));
                }
                None => {
                    counts.communes_with_value += 1;
                    if !reached[c] {
                        counts.communes_unreached += 1;
                    }
                    values.push(Some(sums[c]));
                    missing.push(None);
                }
            }
        }

        let unit_label = if source == profile.supply && demand == profile.demand {
            profile.unit_label.clone()
        } else {
            // The profile's unit names its default supply and demand: with others, the
            // unit is said from the supply and demand used, so a figure is never shown
            // under the wrong unit.
            recomputed_unit(&source, demand, profile)
        };
        // The profile's own caveat (its supply: not said of a planner's list used alone,
        // which speaks for its territory only), then what the demand used leaves out.
        let supply_caveat = match list {
            Some((_, FacilityChoice::List)) => &None,
            _ => &profile.caveat,
        };
        let caveat = match (supply_caveat, self.demand_caveat(demand, &demand_values)) {
            (Some(p), Some(d)) => Some(format!("{p} ; {d}")),
            (p, d) => p.clone().or(d),
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
            caveat,
            formula: FORMULA,
            counts,
            values,
            missing,
            demand_values,
            uncounted,
            sites,
            pairs,
            site_offsets,
            measure_kind: measure,
            listed: inputs.iter().filter(|s| s.listed.is_some()).count(),
            by_commune: OnceLock::new(),
        };
        Ok(acc)
    }
}

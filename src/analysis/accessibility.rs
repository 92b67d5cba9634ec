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
//! created. Profiles (steps, supply, demand, scales, unit label, caveat) live in
//! `geodata/accessibility.toml` and are echoed with every result.
//!
//! Pair search: for each site, the communes within the straight radius where the
//! measure reaches the last step. The search answers exactly what
//! `commune_index.within(site, radius)` answers (same chord-then-geodesic test, same
//! distances to the bit: tested), through the engine's grid of [`GRID_CELL_DEG`] cells
//! ([`crate::index::grid::CellGrid`], built once with the engine), which is several times
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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::geodesy::GeoPoint;
use crate::model::{Commune, InseeCode, Kind, Territory, TerritoryType};

use super::distance::{DistanceModel, TravelMatrix};
use super::engine::Engine;
use super::nearest::par_blocks_with;
use super::travel::RoadEstimate;

/// Where the profiles are shipped, relative to the crate root.
pub const PROFILES_PATH: &str = "geodata/accessibility.toml";

/// The shipped profiles, compiled in.
pub const BUILTIN_PROFILES: &str = include_str!("../../geodata/accessibility.toml");

/// With the `matrix` model, pairs are searched up to the straight distance covered at
/// this speed in the catchment's minutes (130 km/h, the French motorway limit: no table
/// time between two reference points can be shorter). For 20 minutes: 43.3 km. The
/// radius is never smaller than the estimate's.
pub const MATRIX_MAX_STRAIGHT_KMH: f64 = 130.0;

/// At most this many steps in a profile.
pub const MAX_STEPS: usize = 32;

/// Official indicator of the DREES reference APL (GPs aged 65 or less).
pub const DREES_APL_INDICATOR: &str = "apl_mg_65";
/// Official doctors' zonage, text indicator (`1_ZIP`, `2_ZAC`, `3_HZ`, `4_ZAR`, …).
pub const ZONAGE_INDICATOR: &str = "zonage_mg";
/// Standardised population (DREES), the weight of the territory means.
pub const STANDARDISED_INDICATOR: &str = "pop_standardisee";
/// Population aged 75 and over (INSEE RP).
pub const POP75_INDICATOR: &str = "pop_75plus";
/// APL at or below this → selected nationally as ZIP (DREES/DGOS FAQ).
pub const ZIP_MAX: f64 = 2.5;
/// APL above [`ZIP_MAX`] and at or below this → "vivier" (ARS choice of ZIP / ZAC).
pub const VIVIER_MAX: f64 = 4.0;

/// Everything that can go wrong, naming the parameter at fault.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read accessibility profiles {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("accessibility profiles{}: {message}", where_.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    Syntax {
        where_: Option<String>,
        message: String,
    },
    #[error("profile {profile:?}: parameter `{param}`: {message}")]
    Invalid {
        profile: String,
        param: String,
        message: String,
    },
    #[error("unknown accessibility profile {0:?}: expected one of {1}")]
    UnknownProfile(String, String),
    #[error("unknown demand {0:?}: expected population, standardised or pop75")]
    UnknownDemand(String),
    #[error("unknown supply {0:?}: expected capacity or sites")]
    UnknownSupply(String),
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

/// What the step bounds are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUnit {
    /// Car minutes of the distance model.
    Minutes,
    /// Kilometres: straight (geodesic) with `straight`, estimated road km with
    /// `road_estimate`.
    Km,
}

impl fmt::Display for StepUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepUnit::Minutes => "minutes",
            StepUnit::Km => "km",
        })
    }
}

/// One step of the decay: pairs with cost `<= upto` (and above the previous step) get
/// `weight`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    pub upto: f64,
    pub weight: f64,
}

/// What each facility site offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Supply {
    /// The facility's capacity (places, beds…); facilities without one are left out.
    Capacity,
    /// One per site.
    Sites,
}

impl Supply {
    pub fn as_str(self) -> &'static str {
        match self {
            Supply::Capacity => "capacity",
            Supply::Sites => "sites",
        }
    }
}

impl FromStr for Supply {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        match s.trim() {
            "capacity" => Ok(Supply::Capacity),
            "sites" => Ok(Supply::Sites),
            _ => Err(AccessError::UnknownSupply(s.to_owned())),
        }
    }
}

/// Who needs the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Demand {
    /// Population municipale.
    #[serde(rename = "population")]
    Population,
    /// Indicator `pop_standardisee`: DREES population standardised by the age-specific
    /// consumption of care.
    #[serde(rename = "standardised")]
    Standardised,
    /// Indicator `pop_75plus` (INSEE RP).
    #[serde(rename = "pop75")]
    Pop75Plus,
}

impl Demand {
    pub fn as_str(self) -> &'static str {
        match self {
            Demand::Population => "population",
            Demand::Standardised => "standardised",
            Demand::Pop75Plus => "pop75",
        }
    }

    /// The numeric indicator behind this demand (`None`: the population field).
    pub fn indicator(self) -> Option<&'static str> {
        match self {
            Demand::Population => None,
            Demand::Standardised => Some(STANDARDISED_INDICATOR),
            Demand::Pop75Plus => Some(POP75_INDICATOR),
        }
    }
}

impl FromStr for Demand {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        match s.trim() {
            "population" => Ok(Demand::Population),
            "standardised" | "standardized" | "pop_standardisee" => Ok(Demand::Standardised),
            "pop75" | "pop_75plus" | "pop75plus" => Ok(Demand::Pop75Plus),
            _ => Err(AccessError::UnknownDemand(s.to_owned())),
        }
    }
}

/// Where the supply is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SupplySource {
    /// Facilities of one kind at their positions.
    Facilities { kind: Kind, per_site: Supply },
    /// A numeric commune indicator, located at the commune reference points.
    CommuneIndicator { commune_indicator: String },
}

/// One use of the 2SFCA: a `[profile.<id>]` table of `geodata/accessibility.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub id: String,
    pub title: String,
    pub unit: StepUnit,
    pub steps: Vec<Step>,
    pub supply: SupplySource,
    /// Applied to the raw supply (e.g. 5,400 consultations per GP).
    pub supply_scale: f64,
    /// Applied to the ratios (e.g. 100,000 for "per 100,000 inhabitants").
    pub result_scale: f64,
    pub unit_label: String,
    /// Default demand.
    pub demand: Demand,
    /// Copied into every result computed with the profile.
    pub caveat: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profile: BTreeMap<String, RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    title: String,
    unit: String,
    steps: Vec<RawStep>,
    supply: RawSupply,
    supply_scale: Option<f64>,
    result_scale: Option<f64>,
    unit_label: String,
    demand: String,
    caveat: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    upto: f64,
    weight: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupply {
    kind: Option<String>,
    per_site: Option<String>,
    commune_indicator: Option<String>,
}

/// A weight written as a number, or as a string holding a number or a fraction `a/b`.
fn parse_weight(v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Float(f) => Ok(*f),
        toml::Value::Integer(i) => Ok(*i as f64),
        toml::Value::String(s) => {
            let num = |t: &str| {
                t.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("{s:?} is not a number or a fraction a/b"))
            };
            match s.split_once('/') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if b == 0.0 {
                        return Err(format!("{s:?} divides by zero"));
                    }
                    Ok(a / b)
                }
                None => num(s),
            }
        }
        other => Err(format!("{other} is not a number or a fraction a/b")),
    }
}

/// Parses every `[profile.<id>]` of a parameters file.
pub fn parse_profiles(text: &str) -> Result<BTreeMap<String, Profile>, AccessError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| AccessError::Syntax {
        where_: None,
        message: e.to_string(),
    })?;
    raw.profile
        .into_iter()
        .map(|(id, r)| Profile::from_raw(&id, r).map(|p| (id, p)))
        .collect()
}

/// Reads and validates a parameters file (e.g. [`PROFILES_PATH`]).
pub fn read_profiles(path: impl AsRef<Path>) -> Result<BTreeMap<String, Profile>, AccessError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_profiles(&text).map_err(|e| match e {
        AccessError::Syntax { message, .. } => AccessError::Syntax {
            where_: Some(path.display().to_string()),
            message,
        },
        e => e,
    })
}

/// The profiles shipped in `geodata/accessibility.toml` (compiled in).
pub fn builtin_profiles() -> Result<BTreeMap<String, Profile>, AccessError> {
    parse_profiles(BUILTIN_PROFILES)
}

/// Looks a profile up by id, with an error listing the known ones.
pub fn profile<'a>(
    profiles: &'a BTreeMap<String, Profile>,
    id: &str,
) -> Result<&'a Profile, AccessError> {
    profiles.get(id).ok_or_else(|| {
        AccessError::UnknownProfile(
            id.to_owned(),
            profiles.keys().cloned().collect::<Vec<_>>().join(", "),
        )
    })
}

impl Profile {
    /// Parses one profile written as a standalone TOML table (the body of a
    /// `[profile.<id>]` table).
    pub fn from_toml(id: &str, text: &str) -> Result<Profile, AccessError> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| AccessError::Syntax {
            where_: Some(format!("profile {id:?}")),
            message: e.to_string(),
        })?;
        Profile::from_raw(id, raw)
    }

    fn from_raw(id: &str, r: RawProfile) -> Result<Profile, AccessError> {
        let bad = |param: &str, message: String| AccessError::Invalid {
            profile: id.to_owned(),
            param: param.to_owned(),
            message,
        };
        let unit = match r.unit.as_str() {
            "minutes" => StepUnit::Minutes,
            "km" => StepUnit::Km,
            other => {
                return Err(bad(
                    "unit",
                    format!("{other:?}: expected \"minutes\" or \"km\""),
                ));
            }
        };
        let steps = r
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_weight(&s.weight)
                    .map(|weight| Step {
                        upto: s.upto,
                        weight,
                    })
                    .map_err(|m| bad(&format!("steps[{i}].weight"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let supply = match (r.supply.kind, r.supply.per_site, r.supply.commune_indicator) {
            (Some(kind), Some(per_site), None) => SupplySource::Facilities {
                kind: kind
                    .parse::<Kind>()
                    .map_err(|e| bad("supply.kind", e.to_string()))?,
                per_site: per_site
                    .parse()
                    .map_err(|e: AccessError| bad("supply.per_site", e.to_string()))?,
            },
            (Some(_), None, None) => {
                return Err(bad(
                    "supply.per_site",
                    "missing: \"capacity\" or \"sites\"".to_owned(),
                ));
            }
            (None, None, Some(name)) if !name.trim().is_empty() => SupplySource::CommuneIndicator {
                commune_indicator: name,
            },
            _ => {
                return Err(bad(
                    "supply",
                    "expected { kind = \"…\", per_site = \"capacity\" | \"sites\" } or { commune_indicator = \"…\" }"
                        .to_owned(),
                ));
            }
        };
        let demand = r
            .demand
            .parse()
            .map_err(|e: AccessError| bad("demand", e.to_string()))?;
        let p = Profile {
            id: id.to_owned(),
            title: r.title,
            unit,
            steps,
            supply,
            supply_scale: r.supply_scale.unwrap_or(1.0),
            result_scale: r.result_scale.unwrap_or(1.0),
            unit_label: r.unit_label,
            demand,
            caveat: r.caveat.filter(|c| !c.trim().is_empty()),
        };
        p.validate()?;
        Ok(p)
    }

    /// Checks the parameters (also done by [`Engine::accessibility`], for profiles built
    /// in code).
    pub fn validate(&self) -> Result<(), AccessError> {
        let bad = |param: String, message: String| AccessError::Invalid {
            profile: self.id.clone(),
            param,
            message,
        };
        if self.title.trim().is_empty() {
            return Err(bad("title".into(), "empty".into()));
        }
        if self.unit_label.trim().is_empty() {
            return Err(bad("unit_label".into(), "empty".into()));
        }
        if self.steps.is_empty() {
            return Err(bad(
                "steps".into(),
                "empty: give at least one { upto, weight }".into(),
            ));
        }
        if self.steps.len() > MAX_STEPS {
            return Err(bad(
                "steps".into(),
                format!("{} steps, at most {MAX_STEPS}", self.steps.len()),
            ));
        }
        let mut previous = 0.0;
        for (i, s) in self.steps.iter().enumerate() {
            if !(s.upto.is_finite() && s.upto > previous) {
                let message = if i == 0 {
                    format!("{} must be a number > 0", s.upto)
                } else {
                    format!(
                        "{} must be greater than the previous step's {previous} (strictly increasing)",
                        s.upto
                    )
                };
                return Err(bad(format!("steps[{i}].upto"), message));
            }
            if !(s.weight > 0.0 && s.weight <= 1.0) {
                return Err(bad(
                    format!("steps[{i}].weight"),
                    format!("{} is not in (0, 1]", s.weight),
                ));
            }
            previous = s.upto;
        }
        for (param, v) in [
            ("supply_scale", self.supply_scale),
            ("result_scale", self.result_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(
                    param.into(),
                    format!("{v} must be a finite number > 0"),
                ));
            }
        }
        Ok(())
    }

    /// The catchment: the last step's bound, in [`Profile::unit`].
    pub fn catchment(&self) -> f64 {
        self.steps.last().map_or(0.0, |s| s.upto)
    }

    /// Index and weight of the step a cost falls in; `None` beyond the catchment.
    pub fn step_of(&self, cost: f64) -> Option<(usize, f64)> {
        self.steps
            .iter()
            .position(|s| cost <= s.upto)
            .map(|i| (i, self.steps[i].weight))
    }
}

/// How a pair's cost is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    StraightKm,
    RoadKm,
    EstimateMinutes,
    MatrixMinutes,
}

fn measure_for(
    profile: &Profile,
    model: DistanceModel,
    matrix: Option<&TravelMatrix>,
) -> Result<Measure, AccessError> {
    let mismatch = |hint| AccessError::ModelUnit {
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
            None => Err(AccessError::MatrixMissing),
        },
    }
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

pub use crate::index::grid::GRID_CELL_DEG;

/// How one commune–site pair is measured and weighted: the one rule of the national run
/// ([`Engine::accessibility`]) and of the sites a scenario adds
/// ([`Engine::scenario_accessibility`](super::engine::Engine::scenario_accessibility)).
#[derive(Clone, Copy)]
pub(crate) struct PairRule<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) measure: Measure,
    pub(crate) road: RoadEstimate,
    pub(crate) matrix: Option<&'a TravelMatrix>,
    pub(crate) communes: &'a [Commune],
    /// Demand taking part, per commune (a valid value and a reference point).
    pub(crate) active: &'a [Option<f64>],
}

impl PairRule<'_> {
    /// The pair of commune `c` at geodesic `d` metres from a site located in commune
    /// `site_code`, with its `w·P_c`; `None` beyond the catchment.
    #[inline]
    pub(crate) fn pair(
        &self,
        site_code: Option<&InseeCode>,
        c: u32,
        d: f64,
    ) -> Option<(Pair, f64)> {
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
        Some((pair, w * self.active[c as usize].unwrap_or(0.0)))
    }
}

impl Engine {
    /// The pairs of one site that `acc` does not have (a site a scenario adds, or a
    /// structure that joins with a new capacity), by one R-tree query over the catchment
    /// and the rule of `acc`'s run, in commune order; and `Σ_k w(d_kj)·P_k`.
    pub(crate) fn new_site_pairs(
        &self,
        rule: &PairRule<'_>,
        radius_m: f64,
        point: &GeoPoint,
        code: Option<&InseeCode>,
    ) -> (Vec<Pair>, f64) {
        let mut hits: Vec<(u32, f64)> = self
            .commune_index
            .within(point, radius_m)
            .filter_map(|h| {
                let c = self.commune_ids[h.index];
                rule.active[c]?;
                Some((c as u32, h.distance_m))
            })
            .collect();
        hits.sort_unstable_by_key(|h| h.0);
        let mut pairs = Vec::with_capacity(hits.len());
        let mut demand = 0.0;
        for (c, d) in hits {
            if let Some((pair, wp)) = rule.pair(code, c, d) {
                demand += wp;
                pairs.push(pair);
            }
        }
        (pairs, demand)
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
    /// The straight search radius of a profile for a measure, metres.
    fn search_radius_m(&self, profile: &Profile, measure: Measure) -> f64 {
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

    /// Valid demand values per commune (finite, ≥ 0).
    fn demand_values(
        &self,
        profile: &Profile,
        demand: Demand,
    ) -> Result<Vec<Option<f64>>, AccessError> {
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
                    AccessError::MissingIndicator {
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
    ) -> Result<(Vec<SiteIn<'_>>, usize), AccessError> {
        let mut sites = Vec::new();
        let mut left_out = 0;
        match source {
            SupplySource::Facilities { kind, per_site } => {
                let Some(ki) = self.kinds.get(kind) else {
                    return Err(AccessError::NoSites {
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
                            point: *ki.index.point(hit),
                            code: f.commune.as_ref(),
                            facility: Some(fi),
                            commune: None,
                            raw,
                        }),
                        None => left_out += 1,
                    }
                }
                if sites.is_empty() {
                    return Err(AccessError::NoSites {
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
                    .ok_or_else(|| AccessError::MissingIndicator {
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
                    return Err(AccessError::NoSites {
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
    ) -> Result<Accessibility, AccessError> {
        profile.validate()?;
        let measure = measure_for(profile, model, matrix)?;
        let source = match (&profile.supply, supply) {
            (s, None) => s.clone(),
            (SupplySource::Facilities { kind, .. }, Some(per_site)) => SupplySource::Facilities {
                kind: kind.clone(),
                per_site,
            },
            (SupplySource::CommuneIndicator { commune_indicator }, Some(_)) => {
                return Err(AccessError::SupplyNotApplicable {
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

        let grid = &self.commune_grid;
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
                            .commune_index
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
            return Err(AccessError::TooManyPairs(total));
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
    /// `S_j`.
    pub supply: f64,
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
    /// `A_i` as computed.
    pub accessibility: Option<f64>,
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
            contributions,
            sum,
        }
    }
}

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
    /// `population_at_or_below / population` (all member communes).
    pub share_at_or_below: f64,
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
            share_at_or_below: if t.population > 0 {
                t.below_pop as f64 / t.population as f64
            } else {
                0.0
            },
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

/// Class of a GP accessibility value in the national zonage rules (DREES/DGOS FAQ,
/// arrêté du 13 novembre 2017).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZonageClass {
    /// APL ≤ 2.5: selected nationally as ZIP.
    ZipEligible,
    /// 2.5 < APL ≤ 4: the "vivier" where ARS choose extra ZIP and the ZAC.
    Vivier,
    /// APL > 4: outside the vivier.
    Outside,
}

impl ZonageClass {
    /// Classifies an APL value (consultations/an/habitant standardisé).
    pub fn of(apl: f64) -> ZonageClass {
        if apl <= ZIP_MAX {
            ZonageClass::ZipEligible
        } else if apl <= VIVIER_MAX {
            ZonageClass::Vivier
        } else {
            ZonageClass::Outside
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ZonageClass::ZipEligible => "zip_eligible",
            ZonageClass::Vivier => "vivier",
            ZonageClass::Outside => "hors_vivier",
        }
    }
}

/// Which APL values a zonage review classifies.
#[derive(Debug, Clone, Copy)]
pub enum ZonageValues<'a> {
    /// Our accessibility (meaningful for the `mg` profile only).
    Accessibility(&'a Accessibility),
    /// The DREES APL 2021 reference for GPs aged 65 or less (`apl_mg_65`).
    DreesApl65,
}

/// One cell of the agreement table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonageCell {
    /// Our class; `None` where the value is missing.
    pub ours: Option<ZonageClass>,
    /// Official `zonage_mg` code (`1_ZIP`, `2_ZAC`, `3_HZ`, `4_ZAR`, `N/A - …`), or
    /// `absent`.
    pub official: String,
    pub communes: usize,
    pub population: u64,
}

/// Share of communes where ZIP-eligible ↔ official ZIP agree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonageAgreement {
    /// Communes with both a value and an official code among ZIP / ZAC / HZ / ZAR.
    pub communes_compared: usize,
    /// Of which: ZIP-eligible and official ZIP, or not ZIP-eligible and not ZIP.
    pub communes_agree: usize,
    pub share_communes: Option<f64>,
    pub population_compared: u64,
    pub population_agree: u64,
    pub share_population: Option<f64>,
}

/// Our (or the DREES) APL classes against the official zonage, for one territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonageReview {
    pub territory_type: TerritoryType,
    pub territory_code: String,
    pub territory_name: String,
    /// `accessibility:<profile>` or `apl_mg_65`.
    pub values: String,
    pub rule: &'static str,
    /// Always "à confirmer": the zonage layer is a low-provenance national file.
    pub status: &'static str,
    pub caveats: Vec<String>,
    /// Cells in class order (ours: ZIP-eligible, vivier, outside, missing; then the
    /// official code).
    pub cells: Vec<ZonageCell>,
    pub agreement: ZonageAgreement,
}

const OFFICIAL_CODES: [&str; 4] = ["1_ZIP", "2_ZAC", "3_HZ", "4_ZAR"];

impl Engine {
    /// Classifies APL values (≤ 2.5 ZIP-eligible; ≤ 4 vivier; above, outside) and
    /// crosses them with the official zonage (`zonage_mg`) of a territory.
    pub fn zonage_review(&self, values: ZonageValues<'_>, territory: &Territory) -> ZonageReview {
        let (members, _) = self.members(territory);
        let official = self.data.indicators.text.get(ZONAGE_INDICATOR);
        let value = |i: usize| match values {
            ZonageValues::Accessibility(acc) => acc.value(i),
            ZonageValues::DreesApl65 => self.data.indicator(DREES_APL_INDICATOR, i),
        };
        let mut cells: BTreeMap<(Option<ZonageClass>, String), (usize, u64)> = BTreeMap::new();
        let mut agreement = ZonageAgreement {
            communes_compared: 0,
            communes_agree: 0,
            share_communes: None,
            population_compared: 0,
            population_agree: 0,
            share_population: None,
        };
        for &i in &members {
            let pop = u64::from(self.data.communes[i].population);
            let ours = value(i).filter(|v| v.is_finite()).map(ZonageClass::of);
            let code = official
                .and_then(|col| col.get(i).cloned().flatten())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "absent".to_owned());
            if let Some(class) = ours
                && OFFICIAL_CODES.contains(&code.as_str())
            {
                agreement.communes_compared += 1;
                agreement.population_compared += pop;
                if (class == ZonageClass::ZipEligible) == (code == "1_ZIP") {
                    agreement.communes_agree += 1;
                    agreement.population_agree += pop;
                }
            }
            let cell = cells.entry((ours, code)).or_default();
            cell.0 += 1;
            cell.1 += pop;
        }
        if agreement.communes_compared > 0 {
            agreement.share_communes =
                Some(agreement.communes_agree as f64 / agreement.communes_compared as f64);
        }
        if agreement.population_compared > 0 {
            agreement.share_population =
                Some(agreement.population_agree as f64 / agreement.population_compared as f64);
        }
        // Missing values last.
        let mut cells: Vec<ZonageCell> = cells
            .into_iter()
            .map(|((ours, official), (communes, population))| ZonageCell {
                ours,
                official,
                communes,
                population,
            })
            .collect();
        cells.sort_by_key(|c| (c.ours.is_none(), c.ours));
        let mut caveats = vec![
            "zonage à confirmer : fichier national de faible provenance (millésime inconnu, vers 2024-2025), à vérifier avec les arrêtés ARS".to_owned(),
            "le zonage est arrêté par territoire de vie-santé (APL moyenne pondérée par la population) et les ARS choisissent des ZIP dans le vivier : un écart commune par commune n'est pas une erreur".to_owned(),
        ];
        let name = match values {
            ZonageValues::Accessibility(acc) => {
                if let Some(c) = &acc.caveat {
                    caveats.push(c.clone());
                }
                format!("accessibility:{}", acc.profile.id)
            }
            ZonageValues::DreesApl65 => {
                caveats.push(
                    "APL DREES 2021 (médecins de 65 ans et moins) : antérieure au zonage comparé"
                        .to_owned(),
                );
                DREES_APL_INDICATOR.to_owned()
            }
        };
        ZonageReview {
            territory_type: territory.kind,
            territory_code: territory.code.clone(),
            territory_name: territory.name.clone(),
            values: name,
            rule: "APL ≤ 2,5 → éligible ZIP ; 2,5 < APL ≤ 4 → vivier ; APL > 4 → hors vivier (FAQ DREES/DGOS)",
            status: "à confirmer",
            caveats,
            cells,
            agreement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::geodesic_m;
    use crate::model::{Commune, Dataset, Facility, PositionQuality, RefPointSource};
    use geo::Point;
    use proptest::prelude::*;

    fn commune(code: &str, lon: f64, lat: f64, population: u32) -> Commune {
        Commune {
            code: InseeCode::parse(code).unwrap(),
            name: format!("Commune {code}"),
            population,
            departement: code[..2].to_owned(),
            region: "75".to_owned(),
            epci: None,
            ref_point: Some(Point::new(lon, lat)),
            ref_point_source: Some(RefPointSource::Mairie),
            geometry: None,
        }
    }

    fn facility(id: &str, kind: Kind, lon: f64, lat: f64, capacity: Option<f64>) -> Facility {
        Facility {
            id: id.to_owned(),
            finess: None,
            kind,
            category: None,
            category_label: None,
            name: format!("Site {id}"),
            address: None,
            commune: None,
            capacity,
            phone: None,
            position: Point::new(lon, lat),
            position_quality: PositionQuality::Address,
            source: "test".to_owned(),
            partial_list: false,
            source_line: 0,
        }
    }

    fn engine(mut communes: Vec<Commune>, mut facilities: Vec<Facility>) -> Engine {
        communes.sort_by(|a, b| a.code.cmp(&b.code));
        facilities.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.id.cmp(&b.id)));
        Engine::new(Dataset {
            build_id: "test".to_owned(),
            communes,
            facilities,
            ..Dataset::default()
        })
    }

    fn profile(unit: StepUnit, steps: &[(f64, f64)], per_site: Supply, demand: Demand) -> Profile {
        Profile {
            id: "test".to_owned(),
            title: "test".to_owned(),
            unit,
            steps: steps
                .iter()
                .map(|&(upto, weight)| Step { upto, weight })
                .collect(),
            supply: SupplySource::Facilities {
                kind: Kind::Ehpad,
                per_site,
            },
            supply_scale: 1.0,
            result_scale: 1.0,
            unit_label: "places/habitant".to_owned(),
            demand,
            caveat: Some("données de test".to_owned()),
        }
    }

    fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            (a - b).abs() / a.abs().max(b.abs())
        }
    }

    /// Three communes and two EHPAD on the meridian 0.3° W (1° of latitude ≈ 111.1 km
    /// at 45° N); steps: ≤ 10 km weight 1, ≤ 20 km weight 0.5.
    ///
    /// ```text
    ///            lat     P / S    to S1 (45.02)       to S2 (45.20)
    /// A         45.00    1000     2.2 km  → w 1       22.2 km → out
    /// S1        45.02      10
    /// B         45.10    2000     8.9 km  → w 1       11.1 km → w 0.5
    /// S2        45.20      30
    /// C         45.25     500    25.6 km  → out        5.6 km → w 1
    ///
    /// Σ w·P at S1 = 1000 + 2000           = 3000   R1 = 10 / 3000 = 1/300
    /// Σ w·P at S2 = 0.5 × 2000 + 500      = 1500   R2 = 30 / 1500 = 1/50
    /// A_A = R1                            = 1/300  ≈ 0.003333
    /// A_B = R1 + 0.5 × R2 = 1/300 + 1/100 = 4/300  ≈ 0.013333
    /// A_C = R2                            = 1/50   = 0.02
    /// check: Σ A·P = 1000/300 + 2000 × 4/300 + 500/50 = 40 = S1 + S2
    /// ```
    #[test]
    fn hand_worked_three_communes_two_sites() {
        let e = engine(
            vec![
                commune("79001", -0.3, 45.00, 1000),
                commune("79002", -0.3, 45.10, 2000),
                commune("79003", -0.3, 45.25, 500),
            ],
            vec![
                facility("S1", Kind::Ehpad, -0.3, 45.02, Some(10.0)),
                facility("S2", Kind::Ehpad, -0.3, 45.20, Some(30.0)),
            ],
        );
        let p = profile(
            StepUnit::Km,
            &[(10.0, 1.0), (20.0, 0.5)],
            Supply::Capacity,
            Demand::Population,
        );
        let acc = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        assert_eq!(acc.sites.len(), 2);
        assert_eq!(acc.sites[0].demand_in_catchment, 3000.0);
        assert_eq!(acc.sites[1].demand_in_catchment, 1500.0);
        assert!((acc.sites[0].ratio.unwrap() - 1.0 / 300.0).abs() < 1e-12);
        assert!((acc.sites[1].ratio.unwrap() - 1.0 / 50.0).abs() < 1e-12);
        let want = [1.0 / 300.0, 4.0 / 300.0, 1.0 / 50.0];
        for (i, w) in want.iter().enumerate() {
            assert!(
                (acc.values[i].unwrap() - w).abs() < 1e-12,
                "commune {i}: {:?} vs {w}",
                acc.values[i]
            );
        }
        assert_eq!(acc.counts.pairs, 4);
        assert_eq!(acc.counts.communes_with_value, 3);
        let total: f64 = (0..3)
            .map(|i| acc.values[i].unwrap() * acc.demand_values[i].unwrap())
            .sum();
        assert!((total - 40.0).abs() < 1e-12);
        // Explain B: S1 at weight 1, then S2 at weight 0.5.
        let x = e.explain(&acc, 1);
        assert_eq!(x.code, "79002");
        assert_eq!(x.contributions.len(), 2);
        assert_eq!(x.contributions[0].site_id, "S1");
        assert_eq!(x.contributions[0].weight, 1.0);
        assert_eq!(x.contributions[1].weight, 0.5);
        assert!(
            (x.contributions[1].distance_m - 11_120.0).abs() < 20.0,
            "{}",
            x.contributions[1].distance_m
        );
        assert_eq!(x.sum, acc.values[1].unwrap());
        assert_eq!(x.caveat.as_deref(), Some("données de test"));
    }

    fn read_fixture(name: &str) -> Vec<csv::StringRecord> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/access")
            .join(name);
        csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .from_path(&path)
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect()
    }

    /// Same fixture, same steps: PySAL `access` 1.1.10.post3 `two_stage_fca`
    /// (benches/pysal_2sfca_reference.py).
    #[test]
    fn equals_pysal_access_fixture() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access");
        let text = std::fs::read_to_string(dir.join("profile.toml")).unwrap();
        let p = Profile::from_toml("pysal", &text).unwrap();
        assert_eq!(p.steps[1].weight, 2.0 / 3.0);
        let communes: Vec<Commune> = read_fixture("demand.csv")
            .iter()
            .map(|r| {
                commune(
                    &r[0],
                    r[1].parse().unwrap(),
                    r[2].parse().unwrap(),
                    r[3].parse::<f64>().unwrap() as u32,
                )
            })
            .collect();
        let facilities: Vec<Facility> = read_fixture("supply.csv")
            .iter()
            .map(|r| {
                facility(
                    &r[0],
                    Kind::Ehpad,
                    r[1].parse().unwrap(),
                    r[2].parse().unwrap(),
                    Some(r[3].parse().unwrap()),
                )
            })
            .collect();
        assert_eq!((communes.len(), facilities.len()), (31, 8));
        let e = engine(communes, facilities);
        let acc = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        let expected = read_fixture("pysal_expected.csv");
        assert_eq!(expected.len(), 31);
        let mut worst = 0.0f64;
        for r in &expected {
            let i = e
                .data
                .commune_index(&InseeCode::parse(&r[0]).unwrap())
                .unwrap();
            let got = acc.values[i].unwrap();
            if r[1].is_empty() {
                assert_eq!(
                    got, 0.0,
                    "{}: PySAL has no value (no site within reach)",
                    &r[0]
                );
            } else {
                let want: f64 = r[1].parse().unwrap();
                worst = worst.max(rel(got, want));
                assert!(rel(got, want) <= 1e-9, "{}: {got} vs PySAL {want}", &r[0]);
            }
        }
        assert!(worst <= 1e-12, "worst relative difference {worst}");
    }

    #[test]
    fn builtin_profiles_parse() {
        let profiles = builtin_profiles().unwrap();
        assert_eq!(
            profiles.keys().map(String::as_str).collect::<Vec<_>>(),
            ["clic", "ehpad", "hospital", "mg", "msp"]
        );
        let from_file =
            read_profiles(Path::new(env!("CARGO_MANIFEST_DIR")).join(PROFILES_PATH)).unwrap();
        assert_eq!(from_file, profiles);
        let mg = &profiles["mg"];
        assert_eq!(mg.unit, StepUnit::Minutes);
        assert_eq!(
            mg.steps,
            vec![
                Step {
                    upto: 10.0,
                    weight: 1.0
                },
                Step {
                    upto: 15.0,
                    weight: 2.0 / 3.0
                },
                Step {
                    upto: 20.0,
                    weight: 1.0 / 3.0
                }
            ]
        );
        assert_eq!(mg.demand, Demand::Standardised);
        assert_eq!(mg.supply_scale, 5400.0);
        assert_eq!(
            mg.supply,
            SupplySource::CommuneIndicator {
                commune_indicator: "mg_etablissements_sirene".to_owned()
            }
        );
        assert!(mg.caveat.as_deref().unwrap().starts_with(
            "offre approchée : établissements SIRENE de médecine générale 2019, pas des médecins en activité"
        ));
        let ehpad = &profiles["ehpad"];
        assert_eq!(
            (ehpad.unit, ehpad.catchment(), ehpad.result_scale),
            (StepUnit::Km, 20.0, 100_000.0)
        );
        assert_eq!(ehpad.demand, Demand::Pop75Plus);
        assert!(matches!(
            super::profile(&profiles, "nope"),
            Err(AccessError::UnknownProfile(..))
        ));
        // The echo names every parameter.
        let json = serde_json::to_value(mg).unwrap();
        assert_eq!(
            json["supply"]["commune_indicator"],
            "mg_etablissements_sirene"
        );
        assert_eq!(json["demand"], "standardised");
        assert_eq!(json["unit"], "minutes");
        assert_eq!(
            serde_json::to_value(ehpad).unwrap()["supply"]["per_site"],
            "capacity"
        );
    }

    const BASE: &str = r#"
title = "t"
unit = "km"
steps = [{ upto = 5, weight = 1 }, { upto = 10.0, weight = "1/2" }]
supply = { kind = "ehpad", per_site = "sites" }
unit_label = "u"
demand = "population"
"#;

    fn parse_err(text: &str) -> String {
        match Profile::from_toml("p", text) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn profile_validation() {
        let p = Profile::from_toml("p", BASE).unwrap();
        assert_eq!(p.steps[1].weight, 0.5);
        assert_eq!(
            (p.supply_scale, p.result_scale, p.caveat.clone()),
            (1.0, 1.0, None)
        );
        let steps = |s: &str| {
            BASE.replace(
                r#"steps = [{ upto = 5, weight = 1 }, { upto = 10.0, weight = "1/2" }]"#,
                s,
            )
        };
        let e = parse_err(&steps("steps = []"));
        assert!(e.contains("`steps`") && e.contains("empty"), "{e}");
        let e = parse_err(&steps(
            "steps = [{ upto = 5, weight = 1 }, { upto = 5, weight = 0.5 }]",
        ));
        assert!(
            e.contains("steps[1].upto") && e.contains("strictly increasing"),
            "{e}"
        );
        let e = parse_err(&steps(
            "steps = [{ upto = 10, weight = 1 }, { upto = 5, weight = 0.5 }]",
        ));
        assert!(e.contains("steps[1].upto"), "{e}");
        let e = parse_err(&steps("steps = [{ upto = 0, weight = 1 }]"));
        assert!(e.contains("steps[0].upto"), "{e}");
        let e = parse_err(&steps("steps = [{ upto = 5, weight = 0 }]"));
        assert!(e.contains("steps[0].weight") && e.contains("(0, 1]"), "{e}");
        let e = parse_err(&steps("steps = [{ upto = 5, weight = 1.5 }]"));
        assert!(e.contains("steps[0].weight"), "{e}");
        let e = parse_err(&steps(r#"steps = [{ upto = 5, weight = "two thirds" }]"#));
        assert!(
            e.contains("steps[0].weight") && e.contains("fraction"),
            "{e}"
        );
        let e = parse_err(&steps(r#"steps = [{ upto = 5, weight = "1/0" }]"#));
        assert!(e.contains("steps[0].weight"), "{e}");
        let e = parse_err(&BASE.replace(r#"unit = "km""#, r#"unit = "miles""#));
        assert!(e.contains("`unit`") && e.contains("miles"), "{e}");
        let e = parse_err(&BASE.replace(r#"demand = "population""#, r#"demand = "everyone""#));
        assert!(e.contains("`demand`"), "{e}");
        let e = parse_err(&BASE.replace(r#"per_site = "sites""#, r#"per_site = "beds""#));
        assert!(e.contains("supply.per_site"), "{e}");
        let e = parse_err(&BASE.replace(r#", per_site = "sites""#, ""));
        assert!(
            e.contains("supply.per_site") && e.contains("missing"),
            "{e}"
        );
        let e = parse_err(&BASE.replace(r#"kind = "ehpad""#, r#"kind = "Bad Kind""#));
        assert!(e.contains("supply.kind"), "{e}");
        let e = parse_err(&BASE.replace(
            r#"kind = "ehpad", per_site = "sites""#,
            r#"kind = "ehpad", per_site = "sites", commune_indicator = "x""#,
        ));
        assert!(e.contains("`supply`"), "{e}");
        let e = parse_err(&format!("{BASE}supply_scale = 0\n"));
        assert!(e.contains("supply_scale"), "{e}");
        let e = parse_err(&format!("{BASE}result_scale = -1\n"));
        assert!(e.contains("result_scale"), "{e}");
        let e = parse_err(&format!("{BASE}decay = 2\n"));
        assert!(e.contains("decay"), "{e}");
        let e = parse_err(&BASE.replace("unit_label = \"u\"\n", ""));
        assert!(e.contains("unit_label"), "{e}");
        let e = parse_profiles("[profile.a]\ntitle = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("title"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_profiles(dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.toml"), "{e}");
    }

    #[test]
    fn cli_values() {
        assert_eq!("capacity".parse::<Supply>().unwrap(), Supply::Capacity);
        assert_eq!("sites".parse::<Supply>().unwrap(), Supply::Sites);
        assert!(
            "beds"
                .parse::<Supply>()
                .unwrap_err()
                .to_string()
                .contains("capacity or sites")
        );
        assert_eq!("population".parse::<Demand>().unwrap(), Demand::Population);
        assert_eq!(
            "standardised".parse::<Demand>().unwrap(),
            Demand::Standardised
        );
        assert_eq!("pop75".parse::<Demand>().unwrap(), Demand::Pop75Plus);
        assert_eq!("pop_75plus".parse::<Demand>().unwrap(), Demand::Pop75Plus);
        assert!("all".parse::<Demand>().is_err());
        for d in [Demand::Population, Demand::Standardised, Demand::Pop75Plus] {
            assert_eq!(d.as_str().parse::<Demand>().unwrap(), d);
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }

    use crate::test_support::rng;

    /// Communes over about 45 × 55 km, some without point or population; sites near
    /// communes (`near`) or anywhere, some without capacity.
    fn random_case(
        seed: u64,
        n_communes: usize,
        n_sites: usize,
        near: bool,
    ) -> (Vec<Commune>, Vec<Facility>) {
        let mut r = rng(seed);
        let communes: Vec<Commune> = (0..n_communes)
            .map(|i| {
                let mut c = commune(
                    &format!("79{:03}", i + 1),
                    -0.6 + 0.6 * r(),
                    46.5 + 0.5 * r(),
                    (r() * 5_000.0) as u32,
                );
                if !near && r() < 0.07 {
                    c.ref_point = None;
                }
                c
            })
            .collect();
        let facilities = (0..n_sites)
            .map(|j| {
                let (lon, lat) = if near {
                    let c = communes[(r() * n_communes as f64) as usize]
                        .ref_point
                        .unwrap();
                    (c.x() + 0.002 * (r() - 0.5), c.y() + 0.002 * (r() - 0.5))
                } else {
                    (-0.6 + 0.6 * r(), 46.5 + 0.5 * r())
                };
                let cap = if !near && r() < 0.1 {
                    None
                } else {
                    Some((1.0 + 99.0 * r()).round())
                };
                facility(&format!("F{j:03}"), Kind::Ehpad, lon, lat, cap)
            })
            .collect();
        (communes, facilities)
    }

    /// The 2SFCA by brute force over every commune × site, for km steps.
    fn brute_force(e: &Engine, p: &Profile) -> Vec<Option<f64>> {
        let sites: Vec<(GeoPoint, f64)> = e
            .data
            .facilities
            .iter()
            .filter_map(|f| f.capacity.map(|c| (GeoPoint::from_point(f.position), c)))
            .collect();
        let demand =
            |c: usize| e.commune_points[c].map(|_| f64::from(e.data.communes[c].population));
        let w =
            |a: &GeoPoint, b: &GeoPoint| p.step_of(geodesic_m(a, b) / 1_000.0).map_or(0.0, |s| s.1);
        let ratios: Vec<f64> = sites
            .iter()
            .map(|(s, cap)| {
                let d: f64 = (0..e.data.communes.len())
                    .filter_map(|c| Some(w(s, &e.commune_points[c]?) * demand(c)?))
                    .sum();
                if d > 0.0 { cap / d } else { 0.0 }
            })
            .collect();
        (0..e.data.communes.len())
            .map(|c| {
                let pc = e.commune_points[c]?;
                demand(c)?;
                Some(
                    sites
                        .iter()
                        .zip(&ratios)
                        .map(|((s, _), r)| w(s, &pc) * r)
                        .sum(),
                )
            })
            .collect()
    }

    #[test]
    fn equals_brute_force_and_is_deterministic() {
        for seed in [1u64, 7, 2026] {
            let (communes, facilities) = random_case(seed, 250, 40, false);
            let e = engine(communes, facilities);
            let p = profile(
                StepUnit::Km,
                &[(5.0, 1.0), (10.0, 2.0 / 3.0), (15.0, 1.0 / 3.0)],
                Supply::Capacity,
                Demand::Population,
            );
            let acc = e
                .accessibility(&p, None, None, DistanceModel::Straight, None)
                .unwrap();
            let bf = brute_force(&e, &p);
            for (c, (a, b)) in acc.values.iter().zip(&bf).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => assert!(rel(*a, *b) < 1e-12, "commune {c}: {a} vs {b}"),
                    _ => assert_eq!(a, b, "commune {c}"),
                }
            }
            assert!(acc.counts.sites_left_out > 0 && acc.counts.communes_without_point > 0);
            let again = e
                .accessibility(&p, None, None, DistanceModel::Straight, None)
                .unwrap();
            assert_eq!(
                acc.values
                    .iter()
                    .map(|v| v.map(f64::to_bits))
                    .collect::<Vec<_>>(),
                again
                    .values
                    .iter()
                    .map(|v| v.map(f64::to_bits))
                    .collect::<Vec<_>>()
            );
            assert_eq!(acc.pairs(), again.pairs());
        }
    }

    /// Sites whose window crosses the antimeridian go through the R-tree: same result.
    #[test]
    fn antimeridian_sites_equal_brute_force() {
        let mut r = rng(17);
        let communes: Vec<Commune> = (0..120)
            .map(|i| {
                let lon = 179.75 + 0.5 * r();
                let lon = if lon >= 180.0 { lon - 360.0 } else { lon };
                commune(
                    &format!("98{i:03}"),
                    lon,
                    -14.3 + 0.3 * r(),
                    100 + (r() * 900.0) as u32,
                )
            })
            .collect();
        let facilities: Vec<Facility> = (0..12)
            .map(|j| {
                let lon = 179.9 + 0.2 * r();
                let lon = if lon >= 180.0 { lon - 360.0 } else { lon };
                facility(
                    &format!("W{j:02}"),
                    Kind::Ehpad,
                    lon,
                    -14.3 + 0.3 * r(),
                    Some(10.0 + j as f64),
                )
            })
            .collect();
        let e = engine(communes, facilities);
        let p = profile(
            StepUnit::Km,
            &[(5.0, 1.0), (10.0, 0.5), (20.0, 0.25)],
            Supply::Capacity,
            Demand::Population,
        );
        let acc = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        let bf = brute_force(&e, &p);
        assert!(acc.counts.pairs > 300, "{}", acc.counts.pairs);
        for (c, (a, b)) in acc.values.iter().zip(&bf).enumerate() {
            assert!(
                rel(a.unwrap(), b.unwrap()) < 1e-12,
                "commune {c}: {a:?} vs {b:?}"
            );
        }
        assert_explain_sums_back(&e, &acc);
    }

    #[test]
    fn minutes_steps_search_the_inverted_radius() {
        let (communes, facilities) = random_case(11, 300, 30, false);
        let e = engine(communes, facilities);
        let p = profile(
            StepUnit::Minutes,
            &[(10.0, 1.0), (15.0, 2.0 / 3.0), (20.0, 1.0 / 3.0)],
            Supply::Sites,
            Demand::Population,
        );
        let acc = e
            .accessibility(&p, None, None, DistanceModel::RoadEstimate, None)
            .unwrap();
        let r = acc.search_radius_m;
        assert!(
            e.road.car_minutes(r) > 20.0 && e.road.car_minutes(r - 0.01) <= 20.0,
            "radius {r}"
        );
        // Every pair whose estimated minutes are within 20, and only those.
        let mut want = 0;
        for f in &e.data.facilities {
            let s = GeoPoint::from_point(f.position);
            for (c, pt) in e.commune_points.iter().enumerate() {
                if let Some(pt) = pt
                    && e.road.car_minutes(geodesic_m(&s, pt)) <= 20.0
                    && acc.demand_values[c].is_some()
                {
                    want += 1;
                }
            }
        }
        assert_eq!(acc.counts.pairs, want);
        assert_eq!(
            acc.counts.sites_left_out, 0,
            "sites: every facility counts 1"
        );
        for p in acc.pairs() {
            assert_eq!(p.cost, e.road.car_minutes(p.distance_m));
            assert!(p.cost <= 20.0);
            let expected_step = [10.0, 15.0, 20.0]
                .iter()
                .position(|&u| p.cost <= u)
                .unwrap();
            assert_eq!(usize::from(p.step), expected_step);
        }
        // Road km steps invert road_km.
        let pk = profile(
            StepUnit::Km,
            &[(12.0, 1.0)],
            Supply::Sites,
            Demand::Population,
        );
        let acc = e
            .accessibility(&pk, None, None, DistanceModel::RoadEstimate, None)
            .unwrap();
        assert!((e.road.road_km(acc.search_radius_m) - 12.0).abs() < 1e-6);
        assert!(
            acc.pairs()
                .iter()
                .all(|p| e.road.road_km(p.distance_m) <= 12.0)
        );
        assert_eq!(acc.measure, "estimated road km");
    }

    /// The grid answers exactly what the R-tree answers, overseas and near the
    /// antimeridian included.
    #[test]
    fn invert_increasing_bisects() {
        let r = invert_increasing(|d| 2.0 + d / 1_000.0, 20.0);
        assert!((r - 18_000.0).abs() < 1e-2, "{r}");
        assert!(2.0 + r / 1_000.0 > 20.0);
        assert_eq!(invert_increasing(|d| 30.0 + d, 20.0), 0.0);
    }

    #[test]
    fn model_and_supply_choices() {
        let (communes, facilities) = random_case(3, 50, 10, false);
        let e = engine(communes, facilities);
        let km = profile(
            StepUnit::Km,
            &[(20.0, 1.0)],
            Supply::Capacity,
            Demand::Population,
        );
        let min = profile(
            StepUnit::Minutes,
            &[(20.0, 1.0)],
            Supply::Capacity,
            Demand::Population,
        );
        let err = e
            .accessibility(&km, None, None, DistanceModel::Matrix, None)
            .unwrap_err();
        assert!(matches!(err, AccessError::ModelUnit { .. }), "{err}");
        let err = e
            .accessibility(&min, None, None, DistanceModel::Straight, None)
            .unwrap_err();
        assert!(err.to_string().contains("road_estimate or matrix"), "{err}");
        let err = e
            .accessibility(&min, None, None, DistanceModel::Matrix, None)
            .unwrap_err();
        assert!(matches!(err, AccessError::MatrixMissing), "{err}");
        // Supply override: sites instead of capacity.
        let caps = e
            .accessibility(&km, None, None, DistanceModel::Straight, None)
            .unwrap();
        let sites = e
            .accessibility(
                &km,
                Some(Supply::Sites),
                None,
                DistanceModel::Straight,
                None,
            )
            .unwrap();
        assert!(caps.counts.sites_left_out > 0);
        assert_eq!(sites.counts.sites_left_out, 0);
        assert_eq!(sites.counts.sites, e.data.facilities.len());
        assert!(sites.sites.iter().all(|s| s.raw_supply == 1.0));
        assert_eq!(
            serde_json::to_value(&sites.supply).unwrap()["per_site"],
            "sites"
        );
        // Demand from a missing indicator.
        let err = e
            .accessibility(
                &km,
                None,
                Some(Demand::Pop75Plus),
                DistanceModel::Straight,
                None,
            )
            .unwrap_err();
        assert!(err.to_string().contains("pop_75plus"), "{err}");
        // A kind without facilities.
        let mut msp = km.clone();
        msp.supply = SupplySource::Facilities {
            kind: Kind::Msp,
            per_site: Supply::Sites,
        };
        let err = e
            .accessibility(&msp, None, None, DistanceModel::Straight, None)
            .unwrap_err();
        assert!(matches!(err, AccessError::NoSites { .. }), "{err}");
        // A profile built in code is validated too.
        let mut bad = km.clone();
        bad.steps.push(Step {
            upto: 10.0,
            weight: 0.5,
        });
        assert!(
            e.accessibility(&bad, None, None, DistanceModel::Straight, None)
                .is_err()
        );
    }

    #[test]
    fn matrix_minutes_replace_the_estimate() {
        // Two communes 30 km apart: too far for 20 estimated minutes, 12 minutes in the table.
        let mut a = commune("79001", -0.3, 46.5, 1000);
        a.population = 1000;
        let b = commune("79002", -0.3, 46.77, 3000);
        let mut f = facility("F1", Kind::Ehpad, -0.3, 46.77, Some(10.0));
        f.commune = Some(b.code.clone());
        let e = engine(vec![a, b], vec![f]);
        let p = profile(
            StepUnit::Minutes,
            &[(10.0, 1.0), (15.0, 0.5), (20.0, 0.25)],
            Supply::Capacity,
            Demand::Population,
        );
        let est = e
            .accessibility(&p, None, None, DistanceModel::RoadEstimate, None)
            .unwrap();
        assert_eq!(est.counts.pairs, 1);
        assert_eq!(est.values, vec![Some(0.0), Some(10.0 / 3000.0)]);
        let mut m = TravelMatrix::default();
        // Only the reverse direction (site commune → resident commune) is in the table.
        m.insert(
            InseeCode::parse("79002").unwrap(),
            InseeCode::parse("79001").unwrap(),
            12.0,
        );
        let acc = e
            .accessibility(&p, None, None, DistanceModel::Matrix, Some(&m))
            .unwrap();
        assert!(acc.search_radius_m >= 20.0 / 60.0 * 130_000.0);
        assert_eq!(acc.counts.pairs, 2);
        // Σ w·P = 0.5 × 1000 + 1 × 3000 (the site's own commune: 0 min from the table).
        let r = 10.0 / 3500.0;
        assert_eq!(acc.sites[0].ratio, Some(r));
        assert_eq!(acc.values, vec![Some(0.5 * r), Some(r)]);
        let x = e.explain(&acc, 0);
        assert!(x.contributions[0].minutes_from_table);
        assert_eq!(
            (
                x.contributions[0].car_min,
                x.contributions[0].cost,
                x.contributions[0].weight
            ),
            (12.0, 12.0, 0.5)
        );
        assert_eq!(acc.model, DistanceModel::Matrix);
    }

    fn indicator(e: &mut Engine, name: &str, values: Vec<Option<f64>>) {
        e.data.indicators.numeric.insert(name.to_owned(), values);
    }

    #[test]
    fn commune_indicator_supply_and_aggregates() {
        let mut e = engine(
            vec![
                commune("79001", -0.30, 46.50, 1000),
                commune("79002", -0.30, 46.52, 3000),
                commune("79003", -0.30, 46.54, 500),
                commune("79004", -0.30, 48.00, 800),
            ],
            vec![],
        );
        indicator(
            &mut e,
            "mg_etablissements_sirene",
            vec![Some(2.0), None, Some(0.0), None],
        );
        indicator(
            &mut e,
            "pop_standardisee",
            vec![Some(900.0), Some(3100.0), None, Some(700.0)],
        );
        let profiles = builtin_profiles().unwrap();
        let mg = &profiles["mg"];
        let acc = e
            .accessibility(mg, None, None, DistanceModel::RoadEstimate, None)
            .unwrap();
        assert_eq!(acc.sites.len(), 1);
        assert_eq!(
            (acc.sites[0].id.as_str(), acc.sites[0].commune),
            ("79001", Some(0))
        );
        assert_eq!(acc.sites[0].supply, 2.0 * 5400.0);
        assert_eq!(acc.demand, Demand::Standardised);
        // 79003 has no standardised population: no value; 79004 is unreached: 0.
        assert_eq!(acc.values[2], None);
        assert_eq!(acc.values[3], Some(0.0));
        assert_eq!(acc.counts.communes_without_demand, 1);
        assert_eq!(acc.counts.communes_unreached, 1);
        assert_eq!(acc.caveat, mg.caveat);
        let x = e.explain(&acc, 1);
        assert_eq!(x.sum, acc.values[1].unwrap());
        assert_eq!(
            x.contributions[0].demand_in_catchment,
            acc.sites[0].demand_in_catchment
        );
        let json = serde_json::to_value(&acc).unwrap();
        assert!(
            json["profile"]["caveat"]
                .as_str()
                .unwrap()
                .contains("SIRENE")
        );
        assert!(json["caveat"].as_str().unwrap().contains("SIRENE"));
        assert!(json.get("pairs").is_none());
        let err = e
            .accessibility(
                mg,
                Some(Supply::Sites),
                None,
                DistanceModel::RoadEstimate,
                None,
            )
            .unwrap_err();
        assert!(
            matches!(err, AccessError::SupplyNotApplicable { .. }),
            "{err}"
        );

        let t = Territory {
            kind: TerritoryType::Epci,
            code: "200000001".to_owned(),
            name: "Test".to_owned(),
            communes: ["79001", "79002", "79003", "79004"]
                .iter()
                .map(|c| InseeCode::parse(c).unwrap())
                .collect(),
        };
        let agg = e.aggregate(&acc, &t, 2.5);
        let (a0, a1) = (acc.values[0].unwrap(), acc.values[1].unwrap());
        assert_eq!(agg.communes, 4);
        assert_eq!(agg.communes_with_value, 3);
        assert_eq!(agg.population, 5300);
        assert_eq!(agg.population_unknown, 500);
        assert_eq!(agg.communes_weight_fallback, 0);
        let mean = (a0 * 900.0 + a1 * 3100.0) / (900.0 + 3100.0 + 700.0);
        assert!(rel(agg.mean.unwrap(), mean) < 1e-12);
        let by_pop = (a0 * 1000.0 + a1 * 3000.0) / 4800.0;
        assert!(rel(agg.mean_by_population.unwrap(), by_pop) < 1e-12);
        assert_eq!((agg.min, agg.max), (Some(0.0), Some(a0.max(a1))));
        // Only 79004 (0) is at or below 2.5: 800 of 5300 inhabitants.
        assert!(a0 > 2.5 && a1 > 2.5);
        assert_eq!(
            (agg.communes_at_or_below, agg.population_at_or_below),
            (1, 800)
        );
        assert!(rel(agg.share_at_or_below, 800.0 / 5300.0) < 1e-15);
        assert!(agg.caveat.as_deref().unwrap().contains("SIRENE"));
        // Fallback to population where the standardised population is missing.
        indicator(
            &mut e,
            "pop_standardisee",
            vec![Some(900.0), None, None, Some(700.0)],
        );
        let agg = e.aggregate(&acc, &t, 2.5);
        assert_eq!(
            (agg.communes_weight_fallback, agg.population_weight_fallback),
            (1, 3000)
        );
        let mean = (a0 * 900.0 + a1 * 3000.0) / (900.0 + 3000.0 + 700.0);
        assert!(rel(agg.mean.unwrap(), mean) < 1e-12);
    }

    #[test]
    fn zonage_classes_follow_the_faq() {
        assert_eq!(ZonageClass::of(0.0), ZonageClass::ZipEligible);
        assert_eq!(ZonageClass::of(2.5), ZonageClass::ZipEligible);
        assert_eq!(ZonageClass::of(2.500_001), ZonageClass::Vivier);
        assert_eq!(ZonageClass::of(4.0), ZonageClass::Vivier);
        assert_eq!(ZonageClass::of(4.000_001), ZonageClass::Outside);
    }

    #[test]
    fn zonage_review_table() {
        let codes = ["79001", "79002", "79003", "79004", "79005", "79006"];
        let mut e = engine(
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| commune(c, -0.3, 46.5 + 0.01 * i as f64, 100 * (i as u32 + 1)))
                .collect(),
            vec![],
        );
        indicator(
            &mut e,
            DREES_APL_INDICATOR,
            vec![Some(2.0), Some(2.5), Some(3.0), Some(5.0), None, Some(1.0)],
        );
        let official = [
            "1_ZIP",
            "2_ZAC",
            "1_ZIP",
            "3_HZ",
            "1_ZIP",
            "N/A - résultat non disponible",
        ];
        e.data.indicators.text.insert(
            ZONAGE_INDICATOR.to_owned(),
            official.iter().map(|s| Some((*s).to_owned())).collect(),
        );
        let t = Territory {
            kind: TerritoryType::Departement,
            code: "79".to_owned(),
            name: "Deux-Sèvres".to_owned(),
            communes: codes.iter().map(|c| InseeCode::parse(c).unwrap()).collect(),
        };
        let z = e.zonage_review(ZonageValues::DreesApl65, &t);
        assert_eq!(z.status, "à confirmer");
        assert_eq!(z.values, "apl_mg_65");
        // Compared: 79001 (zip/ZIP agree), 79002 (zip/ZAC disagree), 79003 (vivier/ZIP
        // disagree), 79004 (outside/HZ agree); 79005 has no value, 79006 no official class.
        let a = &z.agreement;
        assert_eq!((a.communes_compared, a.communes_agree), (4, 2));
        assert_eq!((a.population_compared, a.population_agree), (1000, 500));
        assert_eq!(a.share_communes, Some(0.5));
        let cell = |ours: Option<ZonageClass>, off: &str| {
            z.cells
                .iter()
                .find(|c| c.ours == ours && c.official == off)
                .map(|c| (c.communes, c.population))
        };
        assert_eq!(
            cell(Some(ZonageClass::ZipEligible), "1_ZIP"),
            Some((1, 100))
        );
        assert_eq!(
            cell(Some(ZonageClass::ZipEligible), "2_ZAC"),
            Some((1, 200))
        );
        assert_eq!(
            cell(
                Some(ZonageClass::ZipEligible),
                "N/A - résultat non disponible"
            ),
            Some((1, 600))
        );
        assert_eq!(cell(None, "1_ZIP"), Some((1, 500)));
        assert_eq!(z.cells.last().unwrap().ours, None);
        assert_eq!(z.cells.iter().map(|c| c.communes).sum::<usize>(), 6);
        assert!(z.caveats[0].contains("à confirmer"));
    }

    fn assert_explain_sums_back(e: &Engine, acc: &Accessibility) {
        for c in 0..e.data.communes.len() {
            let x = e.explain(acc, c);
            assert_eq!(x.accessibility, acc.values[c]);
            match acc.values[c] {
                Some(a) => {
                    assert_eq!(x.sum, a, "commune {c}");
                    let mut by_hand = 0.0;
                    for k in &x.contributions {
                        assert_eq!(k.contribution, k.weight * k.ratio.unwrap_or(0.0));
                        assert_eq!(
                            k.ratio,
                            (k.demand_in_catchment > 0.0).then(|| acc.profile.result_scale
                                * k.supply
                                / k.demand_in_catchment)
                        );
                        by_hand += k.contribution;
                    }
                    assert_eq!(by_hand, a);
                }
                None => assert!(x.contributions.is_empty()),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Raising any S_j, or adding a site, never lowers any A_i.
        #[test]
        fn more_supply_never_lowers_accessibility(seed in 1u64..100_000, site in 0usize..25, extra in 1.0f64..50.0, lon in -0.6f64..0.0, lat in 46.5f64..47.0) {
            let (communes, facilities) = random_case(seed, 120, 25, false);
            let p = profile(StepUnit::Km, &[(5.0, 1.0), (10.0, 2.0 / 3.0), (15.0, 1.0 / 3.0)], Supply::Capacity, Demand::Population);
            let base = engine(communes.clone(), facilities.clone());
            let before = base.accessibility(&p, None, None, DistanceModel::Straight, None).unwrap();
            assert_explain_sums_back(&base, &before);

            let mut raised = facilities.clone();
            raised[site].capacity = Some(raised[site].capacity.unwrap_or(0.0) + extra);
            let e = engine(communes.clone(), raised);
            let after = e.accessibility(&p, None, None, DistanceModel::Straight, None).unwrap();
            for (a, b) in before.values.iter().zip(&after.values) {
                if let (Some(a), Some(b)) = (a, b) {
                    prop_assert!(*b >= *a, "{b} < {a}");
                }
            }

            let mut added = facilities;
            added.push(facility("Z99", Kind::Ehpad, lon, lat, Some(extra)));
            let e = engine(communes, added);
            let after = e.accessibility(&p, None, None, DistanceModel::Straight, None).unwrap();
            for (a, b) in before.values.iter().zip(&after.values) {
                prop_assert_eq!(a.is_some(), b.is_some());
                if let (Some(a), Some(b)) = (a, b) {
                    prop_assert!(*b >= *a * (1.0 - 1e-12), "{b} < {a}");
                }
            }
        }

        /// Σ_i A_i·P_i = result_scale × Σ_j S_j when every site has demand in reach.
        #[test]
        fn supply_is_conserved(seed in 1u64..100_000, minutes in any::<bool>(), scale in prop::sample::select(vec![1.0, 5_400.0]), result_scale in prop::sample::select(vec![1.0, 100_000.0])) {
            let (communes, facilities) = random_case(seed, 150, 30, true);
            let e = engine(communes, facilities);
            let (unit, model) = if minutes { (StepUnit::Minutes, DistanceModel::RoadEstimate) } else { (StepUnit::Km, DistanceModel::Straight) };
            let mut p = profile(unit, &[(10.0, 1.0), (15.0, 2.0 / 3.0), (20.0, 1.0 / 3.0)], Supply::Capacity, Demand::Population);
            p.supply_scale = scale;
            p.result_scale = result_scale;
            let acc = e.accessibility(&p, None, None, model, None).unwrap();
            prop_assert_eq!(acc.counts.sites_without_demand, 0);
            let demand: f64 = (0..e.data.communes.len()).filter_map(|c| Some(acc.values[c]? * acc.demand_values[c]?)).sum();
            let supply: f64 = acc.sites.iter().map(|s| s.supply).sum::<f64>() * result_scale;
            prop_assert!(rel(demand, supply) < 1e-9, "{demand} vs {supply}");
            assert_explain_sums_back(&e, &acc);
        }
    }

    /// National-size timing (run with `cargo test --release --lib accessibility -- --ignored --nocapture`):
    /// 35,000 communes over 570,000 km², 6,300 sites, 20 km.
    #[test]
    #[ignore]
    fn national_size_timing() {
        let mut r = rng(99);
        let communes: Vec<Commune> = (0..35_000)
            .map(|i| {
                commune(
                    &format!("{:02}{:03}", 1 + i / 900, i % 900),
                    -1.5 + 8.5 * r(),
                    43.0 + 8.0 * r(),
                    (r() * 3_000.0) as u32,
                )
            })
            .collect();
        let facilities: Vec<Facility> = (0..6_300)
            .map(|j| {
                facility(
                    &format!("F{j:05}"),
                    Kind::Ehpad,
                    -1.5 + 8.5 * r(),
                    43.0 + 8.0 * r(),
                    Some((20.0 + 100.0 * r()).round()),
                )
            })
            .collect();
        let e = engine(communes, facilities);
        let p = profile(
            StepUnit::Km,
            &[(20.0, 1.0)],
            Supply::Capacity,
            Demand::Population,
        );
        // Process CPU time (utime + stime, clock ticks of 10 ms) from /proc, Linux only:
        // wall time is noisy on a shared machine.
        let cpu = || -> f64 {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let f: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            (f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
                + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
                * 10.0
        };
        let mut best = f64::MAX;
        let mut pairs = 0;
        let runs = 20;
        let c0 = cpu();
        for _ in 0..runs {
            let t = std::time::Instant::now();
            let acc = e
                .accessibility(&p, None, None, DistanceModel::Straight, None)
                .unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            pairs = acc.counts.pairs;
        }
        let cpu_ms = (cpu() - c0) / f64::from(runs);
        println!(
            "national-size 2SFCA: {pairs} pairs, best wall of {runs}: {:.1} ms, mean CPU {cpu_ms:.1} ms per run",
            best * 1e3
        );
    }
}

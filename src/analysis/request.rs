//! Validated requests: the one home of the rules a caller's parameters must pass, for the
//! command line and the HTTP API alike — threshold ranges, how many results, the standard
//! coverage bands, the default distance model, which model and which profile a scenario's
//! accessibility uses. Each surface parses its own syntax (clap flags, query strings) into
//! numbers and names, then builds these types, so both refuse the same values with the
//! same words.
//!
//! Errors name the parameter by its API name (`within_km`); the command line's flag is the
//! same name with dashes (`--within-km`).

use std::collections::BTreeMap;
use std::fmt;

use crate::geodesy::GeoPoint;
use crate::model::{Demand, Kind, Profile, StepUnit, Supply, SupplySource, Territory};

use super::change::{Change, MAX_CHANGES};
use super::coverage::Threshold;
use super::distance::DistanceModel;
use super::engine::Engine;

/// A request parameter that is missing, out of range or inconsistent with another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// One parameter is wrong; `message` completes "parameter `name` …".
    Param { name: &'static str, message: String },
    /// Parameters that do not go together.
    Combination(String),
    /// A request whose work would exceed a bound (refused before any work: 422 over HTTP);
    /// the message names the parameters and the bound.
    TooCostly(String),
}

impl RequestError {
    pub fn param(name: &'static str, message: impl fmt::Display) -> Self {
        RequestError::Param {
            name,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Param { name, message } => write!(f, "parameter `{name}` {message}"),
            RequestError::Combination(m) | RequestError::TooCostly(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RequestError {}

/// The distance model when the caller names none: road km and car minutes estimated from
/// the geodesic distance (the nearest structure is the same as with `straight`).
pub const DEFAULT_MODEL: DistanceModel = DistanceModel::RoadEstimate;

/// Largest threshold, in km or minutes (France, Corsica and the DOM fit well inside).
pub const MAX_THRESHOLD: f64 = 1_000.0;
/// The threshold when the caller gives none.
pub const DEFAULT_THRESHOLD: Threshold = Threshold::Km(10.0);
/// The bands every coverage answer gives (plus the caller's threshold).
pub const COVERAGE_BANDS: [Threshold; 7] = [
    Threshold::Km(5.0),
    Threshold::Km(10.0),
    Threshold::Km(20.0),
    Threshold::Km(30.0),
    Threshold::Minutes(10.0),
    Threshold::Minutes(20.0),
    Threshold::Minutes(30.0),
];
/// The bands of a territory summary (what a planner reads first).
pub const SUMMARY_BANDS: [Threshold; 4] = [
    Threshold::Km(10.0),
    Threshold::Km(20.0),
    Threshold::Minutes(20.0),
    Threshold::Minutes(30.0),
];

/// How many structures `nearest` lists from a point, by default and at most.
pub const DEFAULT_NEAREST_K: usize = 3;
pub const MAX_NEAREST_K: usize = 50;
/// How many sites `siting` suggests, by default and at most.
pub const DEFAULT_SITING_K: usize = 3;
pub const MAX_SITING_K: usize = 50;
/// Largest siting threshold in km and in minutes: a candidate's reach is every commune
/// within it, so the work grows with its square.
pub const MAX_SITING_KM: f64 = 100.0;
pub const MAX_SITING_MIN: f64 = 90.0;
/// Largest siting work, candidates × k (a région of 5,000 communes with k = 50 fits, all
/// of France with k = 50 does not).
pub const MAX_SITING_COST: usize = 500_000;
/// The APL threshold of the territory summaries for `mg` (DREES/DGOS: ZIP-eligible).
pub const MG_SUMMARY_THRESHOLD: f64 = 2.5;

/// `within_km` / `within_min`: at most one, each in `0..=`[`MAX_THRESHOLD`]; none gives
/// [`DEFAULT_THRESHOLD`].
pub fn threshold(
    within_km: Option<f64>,
    within_min: Option<f64>,
) -> Result<Threshold, RequestError> {
    let checked = |name: &'static str, v: f64| {
        if v.is_finite() && (0.0..=MAX_THRESHOLD).contains(&v) {
            Ok(v)
        } else {
            Err(RequestError::param(
                name,
                format!("must be between 0 and {MAX_THRESHOLD}, not {v}"),
            ))
        }
    };
    match (within_km, within_min) {
        (Some(_), Some(_)) => Err(RequestError::Combination(
            "give `within_km` or `within_min`, not both".to_owned(),
        )),
        (Some(k), None) => Ok(Threshold::Km(checked("within_km", k)?)),
        (None, Some(m)) => Ok(Threshold::Minutes(checked("within_min", m)?)),
        (None, None) => Ok(DEFAULT_THRESHOLD),
    }
}

/// A whole number in `min..=max`.
pub fn count(
    name: &'static str,
    value: i128,
    min: usize,
    max: usize,
) -> Result<usize, RequestError> {
    if value >= min as i128 && value <= max as i128 {
        Ok(value as usize)
    } else {
        Err(RequestError::param(
            name,
            format!("must be between {min} and {max}, not {value}"),
        ))
    }
}

/// A WGS84 longitude in degrees.
pub fn lon(name: &'static str, v: f64) -> Result<f64, RequestError> {
    if v.is_finite() && (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err(RequestError::param(
            name,
            format!("must be a longitude in [-180, 180], not {v}"),
        ))
    }
}

/// A WGS84 latitude in degrees.
pub fn lat(name: &'static str, v: f64) -> Result<f64, RequestError> {
    if v.is_finite() && (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err(RequestError::param(
            name,
            format!("must be a latitude in [-90, 90], not {v}"),
        ))
    }
}

/// A kind of structure present in the data (loaded, or in the build: a command loads
/// only the kinds it needs).
pub fn kind(engine: &Engine, name: &'static str, value: &str) -> Result<Kind, RequestError> {
    let present: std::collections::BTreeSet<&Kind> = engine
        .kinds
        .keys()
        .chain(engine.data.structures.keys())
        .collect();
    let known = || {
        present
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind: Kind = value.parse().map_err(|_| {
        RequestError::param(
            name,
            format!("must be a kind of structure ({}), not {value:?}", known()),
        )
    })?;
    if !present.contains(&kind) {
        return Err(RequestError::param(
            name,
            format!(
                "names {kind}, of which the data has no structure (kinds with structures: {})",
                known()
            ),
        ));
    }
    Ok(kind)
}

/// A commune of the data set, by INSEE code: its index.
pub fn commune(engine: &Engine, name: &'static str, value: &str) -> Result<usize, RequestError> {
    let code = crate::model::InseeCode::parse(value).map_err(|e| RequestError::param(name, e))?;
    engine.data.commune_index(&code).ok_or_else(|| {
        RequestError::param(name, format!("{code} is not a commune of the data set"))
    })
}

/// Where distances are measured from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin {
    /// Any WGS84 point.
    Point(GeoPoint),
    /// The reference point of a commune (index in `Dataset::communes`).
    Commune(usize),
}

/// The k nearest structures of one kind (or of every kind) from a point or a commune.
#[derive(Debug, Clone, PartialEq)]
pub struct NearestRequest {
    pub origin: Origin,
    /// `None`: every kind with structures.
    pub kind: Option<Kind>,
    pub k: usize,
    pub model: DistanceModel,
}

impl NearestRequest {
    /// `lon` and `lat` together, or `commune`; `k` in `1..=`[`MAX_NEAREST_K`].
    pub fn new(
        engine: &Engine,
        lon_lat: (Option<f64>, Option<f64>),
        commune: Option<&str>,
        kind: Option<&str>,
        k: Option<i128>,
        model: Option<DistanceModel>,
    ) -> Result<Self, RequestError> {
        let k = match k {
            Some(k) => count("k", k, 1, MAX_NEAREST_K)?,
            None => DEFAULT_NEAREST_K,
        };
        let origin = match (lon_lat, commune) {
            ((Some(x), Some(y)), None) => {
                Origin::Point(GeoPoint::new(lon("lon", x)?, lat("lat", y)?))
            }
            ((None, None), Some(c)) => Origin::Commune(self::commune(engine, "commune", c)?),
            ((None, None), None) => {
                return Err(RequestError::Combination(
                    "give `lon` and `lat` (WGS84 degrees), or `commune` (INSEE code)".to_owned(),
                ));
            }
            (_, Some(_)) => {
                return Err(RequestError::Combination(
                    "give either `lon` and `lat`, or `commune`, not both".to_owned(),
                ));
            }
            _ => {
                return Err(RequestError::Combination(
                    "`lon` and `lat` go together: one of them is missing".to_owned(),
                ));
            }
        };
        let model = model.unwrap_or(DEFAULT_MODEL);
        if model == DistanceModel::Matrix && !matches!(origin, Origin::Commune(_)) {
            return Err(RequestError::param(
                "model",
                "is matrix: the travel-time table goes from commune to commune, so give `commune`",
            ));
        }
        let kind = kind.map(|v| self::kind(engine, "kind", v)).transpose()?;
        Ok(NearestRequest {
            origin,
            kind,
            k,
            model,
        })
    }
}

/// Coverage of a territory by one kind: the standard bands, plus the caller's threshold
/// beyond which communes are listed as underserved.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRequest {
    pub territory: Territory,
    pub kind: Kind,
    pub model: DistanceModel,
    pub underserved: Threshold,
    /// [`COVERAGE_BANDS`] and `underserved` when it is not one of them.
    pub bands: Vec<Threshold>,
}

impl CoverageRequest {
    pub fn new(
        engine: &Engine,
        territory: Territory,
        kind: &str,
        model: Option<DistanceModel>,
        within: (Option<f64>, Option<f64>),
    ) -> Result<Self, RequestError> {
        let kind = self::kind(engine, "kind", kind)?;
        Self::for_kind(territory, kind, model, within)
    }

    /// A coverage request for a kind the caller vouches for: one a planner's list
    /// holds, which the build may lack ([`super::listed`]).
    pub fn for_kind(
        territory: Territory,
        kind: Kind,
        model: Option<DistanceModel>,
        within: (Option<f64>, Option<f64>),
    ) -> Result<Self, RequestError> {
        let underserved = threshold(within.0, within.1)?;
        let mut bands = COVERAGE_BANDS.to_vec();
        if !bands.contains(&underserved) {
            bands.push(underserved);
        }
        Ok(CoverageRequest {
            territory,
            kind,
            model: model.unwrap_or(DEFAULT_MODEL),
            underserved,
            bands,
        })
    }
}

/// Where `k` new structures would bring the most people within a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct SitingRequest {
    pub territory: Territory,
    pub kind: Kind,
    pub k: usize,
    pub threshold: Threshold,
    pub model: DistanceModel,
}

impl SitingRequest {
    /// `kind` as checked by [`kind`] (or one a planner's list holds).
    pub fn new(
        territory: Territory,
        kind: Kind,
        k: Option<i128>,
        within: (Option<f64>, Option<f64>),
        model: Option<DistanceModel>,
    ) -> Result<Self, RequestError> {
        let req = SitingRequest {
            kind,
            k: match k {
                Some(k) => count("k", k, 1, MAX_SITING_K)?,
                None => DEFAULT_SITING_K,
            },
            threshold: threshold(within.0, within.1)?,
            model: model.unwrap_or(DEFAULT_MODEL),
            territory,
        };
        req.check_cost(req.territory.communes.len())?;
        Ok(req)
    }

    /// Refuses a siting whose work would be out of bounds (before any is done): a
    /// threshold over [`MAX_SITING_KM`] / [`MAX_SITING_MIN`], or `candidates × k` over
    /// [`MAX_SITING_COST`].
    pub fn check_cost(&self, candidates: usize) -> Result<(), RequestError> {
        match self.threshold {
            Threshold::Km(km) if km > MAX_SITING_KM => {
                return Err(RequestError::TooCostly(format!(
                    "parameter `within_km` is {km}: siting takes at most {MAX_SITING_KM} km"
                )));
            }
            Threshold::Minutes(m) if m > MAX_SITING_MIN => {
                return Err(RequestError::TooCostly(format!(
                    "parameter `within_min` is {m}: siting takes at most {MAX_SITING_MIN} min"
                )));
            }
            _ => {}
        }
        let cost = candidates.saturating_mul(self.k);
        if cost > MAX_SITING_COST {
            return Err(RequestError::TooCostly(format!(
                "siting in {} weighs {candidates} candidate communes × k = {} = {cost}, over \
                 {MAX_SITING_COST}: choose a smaller territory or a smaller `k`",
                self.territory.code, self.k
            )));
        }
        Ok(())
    }
}

/// Which accessibility profile a scenario's deltas use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProfileChoice {
    /// The profile named after the kind, when its supply is that kind; none otherwise.
    #[default]
    Default,
    /// No accessibility deltas (`none`).
    Skip,
    /// This profile (an error if it does not exist).
    Named(String),
}

impl ProfileChoice {
    /// `none` skips; a name chooses; absent is the default.
    pub fn from_param(value: Option<&str>) -> Self {
        match value {
            None => ProfileChoice::Default,
            Some("none") => ProfileChoice::Skip,
            Some(id) => ProfileChoice::Named(id.to_owned()),
        }
    }

    /// The profile this choice names for a scenario on `kind`.
    pub fn resolve<'a>(
        &self,
        profiles: &'a BTreeMap<String, Profile>,
        kind: &Kind,
    ) -> Result<Option<&'a Profile>, RequestError> {
        match self {
            ProfileChoice::Skip => Ok(None),
            ProfileChoice::Named(id) => profile(profiles, "profile", id).map(Some),
            ProfileChoice::Default => Ok(profiles.get(kind.as_str()).filter(
                |p| matches!(&p.supply, SupplySource::Facilities { kind: k, .. } if k == kind),
            )),
        }
    }
}

/// Add, close or resize structures of one kind and see what changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRequest {
    pub kind: Kind,
    pub changes: Vec<Change>,
    pub threshold: Threshold,
    pub model: DistanceModel,
    pub profile: ProfileChoice,
    /// Per-site supply of the accessibility deltas (default: the profile's).
    pub supply: Option<Supply>,
    /// Demand of the accessibility deltas (default: the profile's).
    pub demand: Option<Demand>,
    /// The territory the caller looks at: the headline is the change inside it.
    pub territory: Option<Territory>,
}

impl ScenarioRequest {
    pub fn new(
        kind: Kind,
        changes: Vec<Change>,
        within: (Option<f64>, Option<f64>),
        model: Option<DistanceModel>,
        profile: ProfileChoice,
        supply: Option<Supply>,
        demand: Option<Demand>,
    ) -> Result<Self, RequestError> {
        if changes.is_empty() {
            return Err(RequestError::param(
                "changes",
                "is empty: add, remove or resize at least one structure",
            ));
        }
        if changes.len() > MAX_CHANGES {
            return Err(RequestError::param(
                "changes",
                format!("has {} changes, at most {MAX_CHANGES}", changes.len()),
            ));
        }
        Ok(ScenarioRequest {
            kind,
            changes,
            threshold: threshold(within.0, within.1)?,
            model: model.unwrap_or(DEFAULT_MODEL),
            profile,
            supply,
            demand,
            territory: None,
        })
    }

    /// The territory whose change is the headline.
    pub fn inside(mut self, territory: Option<Territory>) -> Self {
        self.territory = territory;
        self
    }

    /// The model of the accessibility deltas: the scenario's when it fits the profile's
    /// unit, else the profile's default ([`profile_model`]).
    pub fn profile_model(&self, profile: &Profile) -> DistanceModel {
        match (profile.unit, self.model) {
            (StepUnit::Km, m @ (DistanceModel::Straight | DistanceModel::RoadEstimate)) => m,
            (StepUnit::Minutes, m @ (DistanceModel::RoadEstimate | DistanceModel::Matrix)) => m,
            _ => profile_model(profile, None),
        }
    }
}

/// One 2SFCA run: a profile with the caller's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRequest {
    pub profile: String,
    pub supply: Option<Supply>,
    pub demand: Option<Demand>,
    /// `None`: the profile's default ([`profile_model`]).
    pub model: Option<DistanceModel>,
}

impl AccessRequest {
    /// The profile this request names and the model to run it with.
    pub fn resolve<'a>(
        &self,
        profiles: &'a BTreeMap<String, Profile>,
    ) -> Result<(&'a Profile, DistanceModel), RequestError> {
        let p = profile(profiles, "profile", &self.profile)?;
        Ok((p, profile_model(p, self.model)))
    }
}

/// A profile by id.
pub fn profile<'a>(
    profiles: &'a BTreeMap<String, Profile>,
    name: &'static str,
    id: &str,
) -> Result<&'a Profile, RequestError> {
    profiles.get(id).ok_or_else(|| {
        RequestError::param(
            name,
            format!(
                "must name an accessibility profile ({}), not {id:?}",
                profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// The model a profile is run with: the caller's, else `road_estimate` for minute steps
/// and `straight` for km steps.
pub fn profile_model(profile: &Profile, requested: Option<DistanceModel>) -> DistanceModel {
    requested.unwrap_or(match profile.unit {
        StepUnit::Minutes => DistanceModel::RoadEstimate,
        StepUnit::Km => DistanceModel::Straight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_have_one_range() {
        assert_eq!(threshold(None, None).unwrap(), DEFAULT_THRESHOLD);
        assert_eq!(threshold(Some(0.0), None).unwrap(), Threshold::Km(0.0));
        assert_eq!(
            threshold(None, Some(1_000.0)).unwrap(),
            Threshold::Minutes(1_000.0)
        );
        for (km, min, words) in [
            (
                Some(5_000.0),
                None,
                "parameter `within_km` must be between 0 and 1000, not 5000",
            ),
            (
                Some(-1.0),
                None,
                "parameter `within_km` must be between 0 and 1000, not -1",
            ),
            (
                None,
                Some(f64::NAN),
                "parameter `within_min` must be between 0 and 1000, not NaN",
            ),
            (
                Some(1.0),
                Some(2.0),
                "give `within_km` or `within_min`, not both",
            ),
        ] {
            assert_eq!(threshold(km, min).unwrap_err().to_string(), words);
        }
    }

    #[test]
    fn counts_and_coordinates() {
        assert_eq!(count("k", 3, 1, 50).unwrap(), 3);
        assert_eq!(
            count("k", 51, 1, 50).unwrap_err().to_string(),
            "parameter `k` must be between 1 and 50, not 51"
        );
        assert!(lon("lon", -0.2).is_ok());
        assert!(lon("lon", 181.0).is_err());
        assert!(lat("lat", f64::INFINITY).is_err());
    }
}

//! Scenario changes — add a site, close or resize a structure — and their check against
//! the structures of a kind: what both the nearest and coverage deltas (`scenario`) and
//! the accessibility deltas (`fca::delta`) start from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::geodesy::GeoPoint;
use crate::model::Kind;

use super::engine::Engine;
use super::listed::ListIndex;

/// One change to the structures of a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A new site at a WGS84 point.
    Add {
        lon: f64,
        lat: f64,
        #[serde(default)]
        name: Option<String>,
        /// Capacity (places, professionals…); 1 site when absent.
        #[serde(default)]
        capacity: Option<f64>,
    },
    /// An existing structure closes (by its id: FINESS number or source id, or
    /// `liste:<list>:<line>` for a structure of a planner's list the scenario uses).
    Remove { id: String },
    /// An existing structure changes capacity.
    Resize { id: String, capacity: f64 },
}

/// Why a scenario cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("change {0}: ({1}, {2}) is not a WGS84 longitude/latitude")]
    BadPoint(usize, f64, f64),
    #[error("change {0}: no structure of kind {1} with id {2:?}")]
    UnknownId(usize, Kind, String),
    #[error("change {0}: `capacity` {1} must be a number from 0 to {max}", max = MAX_CAPACITY)]
    BadCapacity(usize, f64),
    #[error("a scenario has at most {max} changes, this one has {0}", max = MAX_CHANGES)]
    TooMany(usize),
    #[error(
        "accessibility profile {profile:?} takes its supply from {supply}, not from the structures of kind {kind}: its accessibility cannot follow this scenario"
    )]
    ProfileKind {
        profile: String,
        supply: String,
        kind: Kind,
    },
    #[error(
        "change {change}: accessibility profile {profile:?} counts each site's capacity: give the added site a capacity, or count sites (supply \"sites\")"
    )]
    MissingCapacity { change: usize, profile: String },
    #[error(
        "the baseline accessibility was computed with the matrix model: give the same travel-time table"
    )]
    MatrixMissing,
}

/// Changes per scenario (a request-size bound for the API).
pub const MAX_CHANGES: usize = 200;
/// Largest capacity of a structure in a scenario (places, beds): far above any real one,
/// and small enough that sums of capacities stay exact (1.7e308 would overflow them into
/// infinities and silently empty results).
pub const MAX_CAPACITY: f64 = 1_000_000.0;

/// A site a scenario adds.
#[derive(Debug, Clone)]
pub(crate) struct Added {
    /// Index of the change.
    pub(crate) change: usize,
    pub(crate) point: GeoPoint,
    pub(crate) name: String,
    pub(crate) capacity: Option<f64>,
}

/// An existing structure a change names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    /// A structure of the build: its position in `engine.kinds[kind].facilities`.
    Official(usize),
    /// A structure of the planner's list: its position in [`ListIndex::sites`].
    Listed(usize),
}

/// Changes checked against the structures of a kind (and of the list a scenario uses).
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    /// Closed structures, with the index of the change.
    pub(crate) removed: BTreeMap<Target, usize>,
    pub(crate) added: Vec<Added>,
    /// The last capacity given to each resized structure, with its change index.
    pub(crate) resized: BTreeMap<Target, (usize, f64)>,
}

impl Engine {
    /// Checks the changes against the structures of `kind`: the build's, and those of
    /// `list` when the scenario uses one (with `official` false, the build's are not
    /// used and cannot be named).
    pub(crate) fn resolve_changes(
        &self,
        kind: &Kind,
        changes: &[Change],
        list: Option<(&ListIndex, bool)>,
    ) -> Result<Resolved, ScenarioError> {
        if changes.len() > MAX_CHANGES {
            return Err(ScenarioError::TooMany(changes.len()));
        }
        let ki = self.kinds.get(kind).filter(|_| list.is_none_or(|l| l.1));
        let position_of = |i: usize, id: &str| {
            let listed = list.and_then(|(l, _)| l.sites.iter().position(|s| s.id == id));
            listed
                .map(Target::Listed)
                .or_else(|| {
                    ki.and_then(|k| {
                        k.facilities
                            .iter()
                            .position(|&f| self.data.facilities[f].id == id)
                    })
                    .map(Target::Official)
                })
                .ok_or_else(|| ScenarioError::UnknownId(i, kind.clone(), id.to_owned()))
        };
        let mut resolved = Resolved::default();
        for (i, c) in changes.iter().enumerate() {
            match c {
                Change::Add {
                    lon,
                    lat,
                    name,
                    capacity,
                } => {
                    if !(lon.is_finite()
                        && lat.is_finite()
                        && (-180.0..=180.0).contains(lon)
                        && (-90.0..=90.0).contains(lat))
                    {
                        return Err(ScenarioError::BadPoint(i, *lon, *lat));
                    }
                    if let Some(cap) = capacity
                        && !(0.0..=MAX_CAPACITY).contains(cap)
                    {
                        return Err(ScenarioError::BadCapacity(i, *cap));
                    }
                    resolved.added.push(Added {
                        change: i,
                        point: GeoPoint::new(*lon, *lat),
                        name: name
                            .clone()
                            .unwrap_or_else(|| format!("Nouveau site {}", i + 1)),
                        capacity: *capacity,
                    });
                }
                Change::Remove { id } => {
                    resolved.removed.insert(position_of(i, id)?, i);
                }
                Change::Resize { id, capacity } => {
                    if !(0.0..=MAX_CAPACITY).contains(capacity) {
                        return Err(ScenarioError::BadCapacity(i, *capacity));
                    }
                    resolved.resized.insert(position_of(i, id)?, (i, *capacity));
                }
            }
        }
        Ok(resolved)
    }
}

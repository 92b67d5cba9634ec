//! The loaded data set: what every analysis runs on.

use std::collections::{BTreeMap, BTreeSet};

use super::{Commune, Facility, InseeCode, Kind, Territory, TerritoryType, TravelMatrix};

/// Per-commune indicator columns, indexed like [`Dataset::communes`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Indicators {
    pub numeric: BTreeMap<String, Vec<Option<f64>>>,
    pub text: BTreeMap<String, Vec<Option<String>>>,
}

/// Where the list of one kind of structure speaks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// Some of its structures come from a list known to be incomplete.
    pub partial: bool,
    /// The départements it covers; `None`: everywhere.
    pub departements: Option<BTreeSet<String>>,
}

impl Scope {
    /// Whether the list speaks for a commune of this département.
    pub fn covers(&self, departement: &str) -> bool {
        self.departements
            .as_ref()
            .is_none_or(|d| d.contains(departement))
    }
}

/// Communes, facilities, territories and indicators of one build.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Id of the build the data comes from.
    pub build_id: String,
    /// Sorted by INSEE code; a commune's index here is its id in analyses.
    pub communes: Vec<Commune>,
    /// Sorted by kind, then id.
    pub facilities: Vec<Facility>,
    pub territories: Vec<Territory>,
    pub indicators: Indicators,
    /// Commune-to-commune car minutes, when a source provides them.
    pub travel_matrix: Option<TravelMatrix>,
    /// Where each kind's list speaks (a kind absent here speaks everywhere).
    pub scopes: BTreeMap<Kind, Scope>,
    /// How many structures of each kind the build holds, loaded or not (a command loads
    /// the kinds it needs only: [`Dataset::facilities`] may hold fewer).
    pub structures: BTreeMap<Kind, usize>,
}

impl Dataset {
    /// Index of a commune in [`Dataset::communes`].
    pub fn commune_index(&self, code: &InseeCode) -> Option<usize> {
        self.communes.binary_search_by(|c| c.code.cmp(code)).ok()
    }

    pub fn commune(&self, code: &InseeCode) -> Option<&Commune> {
        self.commune_index(code).map(|i| &self.communes[i])
    }

    /// Facilities of one kind.
    pub fn facilities_of<'a>(&'a self, kind: &'a Kind) -> impl Iterator<Item = &'a Facility> + 'a {
        self.facilities.iter().filter(move |f| &f.kind == kind)
    }

    /// Whether the list of `kind` speaks for commune `commune` (its département is in
    /// the kind's scope).
    pub fn in_scope(&self, kind: &Kind, commune: usize) -> bool {
        match (self.scopes.get(kind), self.communes.get(commune)) {
            (Some(s), Some(c)) => s.covers(&c.departement),
            _ => true,
        }
    }

    pub fn territory(&self, kind: TerritoryType, code: &str) -> Option<&Territory> {
        self.territories
            .iter()
            .find(|t| t.kind == kind && t.code == code)
    }

    /// A numeric indicator of a commune.
    pub fn indicator(&self, name: &str, commune: usize) -> Option<f64> {
        self.indicators
            .numeric
            .get(name)?
            .get(commune)
            .copied()
            .flatten()
    }
}

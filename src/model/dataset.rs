//! The loaded data set: what every analysis runs on.

use std::collections::BTreeMap;

use super::{Commune, Facility, InseeCode, Kind, Territory, TerritoryType, TravelMatrix};

/// Per-commune indicator columns, indexed like [`Dataset::communes`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Indicators {
    pub numeric: BTreeMap<String, Vec<Option<f64>>>,
    pub text: BTreeMap<String, Vec<Option<String>>>,
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

    /// Kinds present, in display order.
    pub fn kinds(&self) -> Vec<Kind> {
        let mut kinds: Vec<Kind> = self.facilities.iter().map(|f| f.kind.clone()).collect();
        kinds.sort();
        kinds.dedup();
        kinds
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

//! Why a commune's accessibility is unknown. A value is given only when every term of its
//! sum is known: its own demand and reference point, the list of structures where it
//! lives, the supply of every site in its catchment, and the whole demand each of those
//! sites shares. Otherwise the value is missing — never 0 — and says why.

use std::fmt;

use serde::Serialize;

/// Why an accessibility value is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum MissingReason {
    /// The commune has no reference point.
    #[serde(rename = "sans_point_de_reference")]
    NoReferencePoint,
    /// The commune's own demand is unknown (e.g. no population aged 75+ in the data).
    #[serde(rename = "demande_inconnue")]
    NoDemand,
    /// The list of structures does not speak for the commune's département.
    #[serde(rename = "hors_couverture")]
    OutOfScope,
    /// Sites in the commune's catchment have no known supply (no capacity).
    #[serde(rename = "sites_sans_capacite")]
    SitesWithoutSupply,
    /// Sites in the commune's catchment share demand that is not known in full (a
    /// neighbouring commune without a demand value): their ratio would be too high.
    #[serde(rename = "demande_voisine_inconnue")]
    NeighbourDemandUnknown,
}

impl MissingReason {
    pub fn code(self) -> &'static str {
        match self {
            MissingReason::NoReferencePoint => "sans_point_de_reference",
            MissingReason::NoDemand => "demande_inconnue",
            MissingReason::OutOfScope => "hors_couverture",
            MissingReason::SitesWithoutSupply => "sites_sans_capacite",
            MissingReason::NeighbourDemandUnknown => "demande_voisine_inconnue",
        }
    }
}

/// A missing value and why; `sites` counts the sites behind the reason, when it is about
/// sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub reason: MissingReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sites: Option<u32>,
}

impl Missing {
    pub fn new(reason: MissingReason) -> Self {
        Missing {
            reason,
            sites: None,
        }
    }

    pub fn sites(reason: MissingReason, n: u32) -> Self {
        Missing {
            reason,
            sites: Some(n),
        }
    }
}

impl fmt::Display for Missing {
    /// `sites_sans_capacite:3`, `hors_couverture`: the form of the CSV and of the
    /// communes' `acc_<profile>_manque` column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sites {
            Some(n) => write!(f, "{}:{n}", self.reason.code()),
            None => f.write_str(self.reason.code()),
        }
    }
}

/// The unknown terms of one commune's sum: sites without supply and sites with unknown
/// demand in its catchment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Unknowns {
    pub(crate) without_supply: u32,
    pub(crate) demand_incomplete: u32,
}

impl Unknowns {
    /// What the unknown terms make of the value, if anything.
    pub(crate) fn missing(self) -> Option<Missing> {
        if self.without_supply > 0 {
            Some(Missing::sites(
                MissingReason::SitesWithoutSupply,
                self.without_supply,
            ))
        } else if self.demand_incomplete > 0 {
            Some(Missing::sites(
                MissingReason::NeighbourDemandUnknown,
                self.demand_incomplete,
            ))
        } else {
            None
        }
    }
}

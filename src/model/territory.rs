//! Territories: groups of communes that planners reason about.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::InseeCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerritoryType {
    Commune,
    Epci,
    Departement,
    Region,
    /// Perimeter of a contrat local de santé (or any named list declared in `sources.toml`).
    Cls,
    /// A perimeter a user saved (a list of communes, or those inside a drawn polygon):
    /// `perimeter:<id>`, resolved by the service from its store.
    Perimeter,
}

impl TerritoryType {
    pub const ALL: [TerritoryType; 5] = [
        TerritoryType::Commune,
        TerritoryType::Epci,
        TerritoryType::Departement,
        TerritoryType::Region,
        TerritoryType::Cls,
    ];

    /// Short prefix used on the command line: `epci:247900798`, `dep:79`, `cls:thouarsais`.
    pub fn prefix(self) -> &'static str {
        match self {
            TerritoryType::Commune => "commune",
            TerritoryType::Epci => "epci",
            TerritoryType::Departement => "dep",
            TerritoryType::Region => "reg",
            TerritoryType::Cls => "cls",
            TerritoryType::Perimeter => "perimeter",
        }
    }
}

impl fmt::Display for TerritoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown territory type {0:?}: expected commune, epci, dep, reg, cls or perimeter")]
pub struct TerritoryTypeError(pub String);

impl FromStr for TerritoryType {
    type Err = TerritoryTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "commune" | "communes" => TerritoryType::Commune,
            "epci" => TerritoryType::Epci,
            "dep" | "departement" | "departements" => TerritoryType::Departement,
            "reg" | "region" | "regions" => TerritoryType::Region,
            "cls" => TerritoryType::Cls,
            "perimeter" => TerritoryType::Perimeter,
            _ => return Err(TerritoryTypeError(s.to_owned())),
        })
    }
}

/// A territory and its member communes (COG codes, sorted).
#[derive(Debug, Clone, PartialEq)]
pub struct Territory {
    pub kind: TerritoryType,
    pub code: String,
    pub name: String,
    pub communes: Vec<InseeCode>,
}

//! Naming a territory on the command line or in a URL: `cls:thouarsais`,
//! `epci:247900798`, `dep:79`, `reg:75`, `commune:79329`, or any list of communes
//! `communes:79329,79196`.

use crate::model::{Dataset, InseeCode, Territory, TerritoryType};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerritoryError {
    #[error(
        "territory {0:?} must be <type>:<code>, e.g. cls:thouarsais, epci:247900798, dep:79, reg:75, commune:79329, communes:79329,79196"
    )]
    Syntax(String),
    #[error("{0}")]
    Type(#[from] crate::model::TerritoryTypeError),
    #[error("no {0} with code {1:?}")]
    Unknown(TerritoryType, String),
    #[error("{0:?} is not a commune of the data set")]
    UnknownCommune(String),
}

/// Resolves a territory reference against the data set.
pub fn resolve(data: &Dataset, spec: &str) -> Result<Territory, TerritoryError> {
    let (kind, code) = spec
        .split_once(':')
        .filter(|(k, c)| !k.is_empty() && !c.is_empty())
        .ok_or_else(|| TerritoryError::Syntax(spec.to_owned()))?;
    if kind == "communes" || kind == "list" {
        let mut communes = Vec::new();
        for c in code.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let code = InseeCode::parse(c)
                .ok()
                .filter(|c| data.commune_index(c).is_some())
                .ok_or_else(|| TerritoryError::UnknownCommune(c.to_owned()))?;
            communes.push(code);
        }
        communes.sort();
        communes.dedup();
        let name = format!("{} communes", communes.len());
        return Ok(Territory {
            kind: TerritoryType::Commune,
            code: code.to_owned(),
            name,
            communes,
        });
    }
    let kind: TerritoryType = kind.parse()?;
    data.territory(kind, code)
        .cloned()
        .ok_or_else(|| TerritoryError::Unknown(kind, code.to_owned()))
}

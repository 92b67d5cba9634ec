//! Care facilities (structures de soins et médico-sociales).

use std::fmt;
use std::str::FromStr;

use geo::Point;
use serde::{Deserialize, Serialize};

use super::{FinessNumber, InseeCode};

/// What a facility is, as planners name it. FINESS categories map onto these
/// (see `geodata/sources.toml`); anything unmapped is [`Kind::Other`] and keeps its
/// category code in [`Facility::category`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Maison de santé pluriprofessionnelle (FINESS 603).
    Msp,
    /// Centre local d'information et de coordination gérontologique (FINESS 463).
    Clic,
    /// Établissement d'hébergement pour personnes âgées dépendantes (FINESS 500).
    Ehpad,
    /// EHPA, non-medicalised homes for the elderly (FINESS 501, 502).
    Ehpa,
    /// Centre de santé (FINESS 124).
    CentreSante,
    /// General hospitals: MCO sites of C.H., C.H.R./C.H.U., ex-hôpitaux locaux, CLCC and
    /// medical, surgical or multidisciplinary clinics (FINESS 101, 106, 355, 365, 128,
    /// 129, 131, 122).
    Hospital,
    /// Psychiatric hospitals and units: CHS (FINESS 292), CMP, CATTP, psychiatric day
    /// hospitals and sector units.
    Psychiatry,
    /// Soins de suite et de réadaptation (FINESS 109, and SSR sites of hospitals).
    Ssr,
    /// Soins de longue durée, USLD (FINESS 362).
    LongStay,
    /// A FINESS category not mapped to a kind; kept, never dropped.
    Other,
    /// A kind declared by a user source in `sources.toml` (e.g. `consultation_avancee`).
    Custom(String),
}

impl Kind {
    /// The built-in kinds, in display order.
    pub const BUILTIN: [Kind; 10] = [
        Kind::Msp,
        Kind::Ehpad,
        Kind::Clic,
        Kind::CentreSante,
        Kind::Hospital,
        Kind::Psychiatry,
        Kind::Ssr,
        Kind::LongStay,
        Kind::Ehpa,
        Kind::Other,
    ];

    /// Stable identifier used in file names, URLs and `sources.toml`.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Msp => "msp",
            Kind::Clic => "clic",
            Kind::Ehpad => "ehpad",
            Kind::Ehpa => "ehpa",
            Kind::CentreSante => "centre_sante",
            Kind::Hospital => "hospital",
            Kind::Psychiatry => "psychiatry",
            Kind::Ssr => "ssr",
            Kind::LongStay => "long_stay",
            Kind::Other => "autre",
            Kind::Custom(s) => s,
        }
    }

    /// French label for the UI and collection titles.
    pub fn label_fr(&self) -> &str {
        match self {
            Kind::Msp => "Maisons de santé pluriprofessionnelles (MSP)",
            Kind::Clic => "Centres locaux d'information et de coordination (CLIC)",
            Kind::Ehpad => "EHPAD",
            Kind::Ehpa => "EHPA (hébergement non médicalisé)",
            Kind::CentreSante => "Centres de santé",
            Kind::Hospital => "Hôpitaux généraux (C.H., C.H.U., cliniques)",
            Kind::Psychiatry => "Psychiatrie (C.H.S., CMP, hôpitaux de jour)",
            Kind::Ssr => "Soins de suite et de réadaptation (SSR)",
            Kind::LongStay => "Soins de longue durée (USLD)",
            Kind::Other => "Autres établissements FINESS",
            Kind::Custom(s) => s,
        }
    }
}

/// A kind identifier that is neither built in nor a valid custom slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "kind {0:?} is not a valid identifier (lowercase letters, digits and '_', e.g. msp, ehpad, consultation_avancee)"
)]
pub struct KindError(pub String);

impl FromStr for Kind {
    type Err = KindError;
    fn from_str(s: &str) -> Result<Self, KindError> {
        Ok(match s {
            "msp" => Kind::Msp,
            "clic" => Kind::Clic,
            "ehpad" => Kind::Ehpad,
            "ehpa" => Kind::Ehpa,
            "centre_sante" => Kind::CentreSante,
            "hospital" => Kind::Hospital,
            "psychiatry" => Kind::Psychiatry,
            "ssr" => Kind::Ssr,
            "long_stay" => Kind::LongStay,
            "autre" => Kind::Other,
            s if !s.is_empty()
                && s.len() <= 40
                && s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                Kind::Custom(s.to_owned())
            }
            _ => return Err(KindError(s.to_owned())),
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How precisely a facility is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionQuality {
    /// Geocoded address or survey point given by the source.
    Address,
    /// Coordinates given by the source but rounded (about 1 km at 0.01°).
    Rounded,
    /// Placed at the chef-lieu (mairie) of its commune: the source gives no point.
    CommuneChefLieu,
}

impl PositionQuality {
    pub fn as_str(self) -> &'static str {
        match self {
            PositionQuality::Address => "address",
            PositionQuality::Rounded => "rounded",
            PositionQuality::CommuneChefLieu => "commune_chef_lieu",
        }
    }
}

/// One facility site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facility {
    /// Stable id: the FINESS number when the source has one, else `<source>:<row>`.
    pub id: String,
    pub finess: Option<FinessNumber>,
    pub kind: Kind,
    /// Source category code (FINESS `categetab`), when known.
    pub category: Option<String>,
    pub category_label: Option<String>,
    pub name: String,
    pub address: Option<String>,
    pub commune: Option<InseeCode>,
    /// Capacity (places, beds or professionals, as the source counts them).
    pub capacity: Option<f64>,
    pub phone: Option<String>,
    /// WGS84 lon/lat, degrees.
    pub position: Point<f64>,
    pub position_quality: PositionQuality,
    /// Id of the source in `sources.toml`.
    pub source: String,
    /// True for lists known to be incomplete (e.g. MSP gathered from web pages).
    pub partial_list: bool,
    /// Line (or feature number) of the row in the source file, for tracing a value back.
    pub source_line: u64,
}

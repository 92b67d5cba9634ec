//! The nearest structures of a kind: from every commune, or k from any point.

use serde::Serialize;

use crate::geodesy::GeoPoint;
use crate::model::Kind;

use super::distance::{DistanceModel, TravelMatrix, Trip};
use super::engine::Engine;
use super::parallel::{par_blocks, par_map};

/// Candidates examined by straight distance when the model is `matrix`.
pub const MATRIX_CANDIDATES: usize = 20;

/// Why a commune has no nearest structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NoNearest {
    /// The commune has no reference point.
    #[serde(rename = "sans_point_de_reference")]
    NoReferencePoint,
    /// The kind's list does not speak for the commune's département (a partial list).
    #[serde(rename = "hors_couverture")]
    OutOfScope,
    /// No structure of the kind can be reached by road: none in the commune's zone.
    #[serde(rename = "aucune_structure_par_la_route")]
    NoneByRoad,
}

impl NoNearest {
    /// The reason's code, as the answers and the communes' columns give it.
    pub fn code(self) -> &'static str {
        match self {
            NoNearest::NoReferencePoint => "sans_point_de_reference",
            NoNearest::OutOfScope => "hors_couverture",
            NoNearest::NoneByRoad => "aucune_structure_par_la_route",
        }
    }

    /// In words, for people.
    pub fn label_fr(self) -> &'static str {
        match self {
            NoNearest::NoReferencePoint => "commune sans point de référence",
            NoNearest::OutOfScope => {
                "non couvert : la liste de ce type de structure ne couvre pas ce département"
            }
            NoNearest::NoneByRoad => "aucune structure accessible par la route",
        }
    }
}

/// The nearest facility of a kind from one commune.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CommuneNearest {
    /// Index in `Dataset::communes`.
    pub commune: usize,
    /// Index in `Dataset::facilities`; `None` with a reason in `missing`.
    pub facility: Option<usize>,
    pub trip: Option<Trip>,
    pub missing: Option<NoNearest>,
}

/// A facility and the trip to it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reached {
    /// Index in `Dataset::facilities`.
    pub facility: usize,
    pub trip: Trip,
}

/// Communes per unit of work of the bulk nearest search ([`Engine::nearest_per_commune`]).
const NEAREST_BLOCK: usize = 1_024;

impl Engine {
    /// For every commune, the nearest facility of `kind` it can reach by road (in its
    /// zone), or why there is none: no reference point, outside the scope of a partial
    /// list, no structure in the zone.
    ///
    /// `straight` and `road_estimate` pick the geodesic nearest (the estimate grows with
    /// distance); `matrix` picks the quickest of the [`MATRIX_CANDIDATES`] geodesic
    /// nearest by the table's minutes, falling back to the estimate for pairs the table
    /// lacks.
    ///
    /// The geodesic nearest is searched for the communes of each zone in their order
    /// along a Hilbert curve (built once by [`Engine::new`]), in units of 1,024 over the
    /// threads, by [`PointIndex::nearest_each`]: runs of nearby communes share one R-tree
    /// query, bounded by the nearest of the run's first commune. Each answer is the exact
    /// nearest (ties to the lower index), so the result is the same whatever the runs,
    /// units and threads.
    ///
    /// [`PointIndex::nearest_each`]: crate::index::PointIndex::nearest_each
    pub fn nearest_per_commune(
        &self,
        kind: &Kind,
        model: DistanceModel,
        matrix: Option<&TravelMatrix>,
    ) -> Vec<CommuneNearest> {
        let n = self.data.communes.len();
        let missing = |c: usize| {
            if self.commune_points[c].is_none() {
                Some(NoNearest::NoReferencePoint)
            } else if !self.data.in_scope(kind, c) {
                Some(NoNearest::OutOfScope)
            } else {
                None
            }
        };
        let none = |commune: usize, why: NoNearest| CommuneNearest {
            commune,
            facility: None,
            trip: None,
            missing: Some(why),
        };
        if let (DistanceModel::Matrix, Some(m)) = (model, matrix) {
            return par_map(n, |c| {
                if let Some(why) = missing(c) {
                    return none(c, why);
                }
                let found = self.commune_points[c].and_then(|p| {
                    self.nearest_from(&p, kind, MATRIX_CANDIDATES, model, Some(m), Some(c))
                        .into_iter()
                        .next()
                });
                match found {
                    Some(r) => CommuneNearest {
                        commune: c,
                        facility: Some(r.facility),
                        trip: Some(r.trip),
                        missing: None,
                    },
                    None => none(c, NoNearest::NoneByRoad),
                }
            });
        }
        let mut out: Vec<CommuneNearest> = (0..n)
            .map(|c| none(c, missing(c).unwrap_or(NoNearest::NoneByRoad)))
            .collect();
        let Some(ki) = self.kinds.get(kind) else {
            return out;
        };
        // Blocks of communes of one zone each, searched in that zone's R-tree.
        let blocks: Vec<(usize, std::ops::Range<usize>)> = self
            .zone_runs
            .iter()
            .filter_map(|(zone, run)| {
                let z = ki.zone(*zone)?;
                (!z.members.is_empty()).then_some((zone, run))
            })
            .flat_map(|(zone, run)| {
                run.clone()
                    .step_by(NEAREST_BLOCK)
                    .map(move |s| (*zone as usize, s..(s + NEAREST_BLOCK).min(run.end)))
            })
            .collect();
        let order = &self.commune_order;
        let units = par_blocks(blocks.len(), |b| {
            let (zone, range) = &blocks[b];
            let Some(z) = ki.zone(*zone as u32) else {
                return Vec::new();
            };
            let hits = z.index().nearest_each(&self.ordered_points[range.clone()]);
            order[range.clone()]
                .iter()
                .zip(hits)
                .map(|(&c, h)| (c, z.position(h), Trip::estimate(&self.road, h.distance_m)))
                .collect::<Vec<_>>()
        });
        for (c, h, trip) in units.into_iter().flatten() {
            if missing(c).is_none() {
                out[c] = CommuneNearest {
                    commune: c,
                    facility: Some(ki.facilities[h.index]),
                    trip: Some(trip),
                    missing: None,
                };
            }
        }
        out
    }

    /// The `k` nearest facilities of `kind` from a point, nearest first, among those
    /// reachable by road from it (in the zone of `from_commune`, else of the point). With
    /// the `matrix` model and the commune the point stands for, minutes come from the
    /// table and the list is sorted by them.
    pub fn nearest_from(
        &self,
        point: &GeoPoint,
        kind: &Kind,
        k: usize,
        model: DistanceModel,
        matrix: Option<&TravelMatrix>,
        from_commune: Option<usize>,
    ) -> Vec<Reached> {
        let Some(ki) = self.kinds.get(kind) else {
            return Vec::new();
        };
        let want = if model == DistanceModel::Matrix {
            k.max(MATRIX_CANDIDATES)
        } else {
            k
        };
        let zone = match from_commune {
            Some(c) => self.commune_zone[c],
            None => self.zone_at(point),
        };
        let mut out: Vec<Reached> = ki
            .nearest_k(zone, point, want)
            .into_iter()
            .map(|h| Reached {
                facility: ki.facilities[h.index],
                trip: Trip::estimate(&self.road, h.distance_m),
            })
            .collect();
        if let (DistanceModel::Matrix, Some(m), Some(c)) = (model, matrix, from_commune) {
            let from = &self.data.communes[c].code;
            for r in &mut out {
                if let Some(to) = &self.data.facilities[r.facility].commune
                    && let Some(min) = m.minutes(from, to)
                {
                    r.trip.car_min = min;
                }
            }
            out.sort_by(|a, b| {
                a.trip
                    .car_min
                    .total_cmp(&b.trip.car_min)
                    .then(a.facility.cmp(&b.facility))
            });
            out.truncate(k);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::change::Change;
    use crate::analysis::coverage::Threshold;
    use crate::model::{Commune, InseeCode, Scope};
    use crate::test_support;

    fn commune(code: &str, lon: f64, zone: &str, population: u32) -> Commune {
        Commune {
            zone: Some(InseeCode::parse(zone).unwrap()),
            ..test_support::commune(code, lon, 46.5, population)
        }
    }

    /// The mainland (79001, 79002, and 49001 of a département the MSP list does not
    /// cover) and an island without a bridge (79900), 2 km off 79002. One MSP on the
    /// mainland, in 79002, and one on the island's zone only when `island_msp`.
    fn engine(island_msp: bool) -> Engine {
        let communes = vec![
            commune("79001", -0.40, "79001", 1000),
            commune("79002", -0.30, "79001", 500),
            commune("49001", -0.35, "79001", 700),
            commune("79900", -0.274, "79900", 80),
        ];
        let mut msp = test_support::facility("m1", Kind::Msp, -0.30, 46.5, None);
        msp.commune = Some(InseeCode::parse("79002").unwrap());
        let mut facilities = vec![msp];
        if island_msp {
            let mut far = test_support::facility("m2", Kind::Msp, -0.25, 46.5, None);
            far.commune = Some(InseeCode::parse("79900").unwrap());
            facilities.push(far);
        }
        let mut data = test_support::dataset(communes, facilities);
        data.scopes.insert(
            Kind::Msp,
            Scope {
                partial: true,
                departements: Some(["79".to_owned()].into()),
            },
        );
        Engine::new(data)
    }

    fn by_code<'a>(e: &Engine, all: &'a [CommuneNearest], code: &str) -> &'a CommuneNearest {
        let i = e
            .data
            .commune_index(&InseeCode::parse(code).unwrap())
            .unwrap();
        &all[i]
    }

    /// An island without a bridge gets no structure across the water (a reason, no
    /// distance); a commune where the partial list does not speak gets none either.
    #[test]
    fn the_nearest_stays_in_the_zone_and_the_scope() {
        let e = engine(false);
        let all = e.nearest_per_commune(&Kind::Msp, DistanceModel::Straight, None);
        let island = by_code(&e, &all, "79900");
        assert_eq!(
            (island.trip, island.missing),
            (None, Some(NoNearest::NoneByRoad))
        );
        let outside = by_code(&e, &all, "49001");
        assert_eq!(
            (outside.trip, outside.missing),
            (None, Some(NoNearest::OutOfScope))
        );
        let inside = by_code(&e, &all, "79001");
        assert!(inside.trip.is_some() && inside.missing.is_none());
        // From a point on the island: nothing; with an MSP of its own, that one, though
        // the mainland's is nearer.
        let p = GeoPoint::new(-0.274, 46.5);
        assert!(
            e.nearest_from(&p, &Kind::Msp, 3, DistanceModel::Straight, None, None)
                .is_empty()
        );
        let e = engine(true);
        let found = e.nearest_from(&p, &Kind::Msp, 3, DistanceModel::Straight, None, None);
        assert_eq!(found.len(), 1);
        assert_eq!(e.data.facilities[found[0].facility].id, "m2");
    }

    /// Coverage leaves out the communes where the list does not speak and counts them;
    /// the island's people are beyond every threshold, counted as without a structure.
    #[test]
    fn coverage_counts_what_it_leaves_out() {
        let e = engine(false);
        let all = e.nearest_per_commune(&Kind::Msp, DistanceModel::Straight, None);
        let t = e.data.territories[0].clone();
        let km = Threshold::Km(10.0);
        let cov = e.coverage(&t, &Kind::Msp, DistanceModel::Straight, &all, &[km], km);
        assert_eq!((cov.communes, cov.population), (3, 1580));
        assert_eq!(
            (cov.communes_out_of_scope, cov.population_out_of_scope),
            (1, 700)
        );
        assert_eq!(cov.population_no_structure, 80);
        assert_eq!(cov.bands[0].population_within, 1500);
        assert_eq!(cov.bands[0].population_beyond, 80);
        let island = cov.underserved.iter().find(|u| u.code == "79900").unwrap();
        assert_eq!(island.reason, Some(NoNearest::NoneByRoad));
        assert!(cov.underserved.iter().all(|u| u.code != "49001"));
    }

    /// A site opened between the mainland communes reaches 49001 too: no gain is claimed
    /// there, it is listed as "non couvert".
    #[test]
    fn a_scenario_claims_nothing_where_the_list_does_not_speak() {
        let e = engine(false);
        let model = DistanceModel::Straight;
        let baseline = e.nearest_per_commune(&Kind::Msp, model, None);
        let add = [Change::Add {
            lon: -0.375,
            lat: 46.5,
            name: None,
            capacity: None,
        }];
        let r = e
            .scenario(&Kind::Msp, &add, model, Threshold::Km(3.0), &baseline)
            .unwrap();
        assert_eq!(r.population_newly_within, 1000);
        assert_eq!(r.population_out_of_scope, 700);
        assert_eq!(r.out_of_scope.len(), 1);
        assert_eq!(r.out_of_scope[0].code, "49001");
        assert!(r.nearest_changed.iter().all(|c| c.code != "49001"));
        let r = r.with_inside(&e.data.territories[0]);
        let inside = r.inside.unwrap();
        assert_eq!(inside.population_newly_within, 1000);
        assert_eq!(inside.population_out_of_scope, 700);
    }
}

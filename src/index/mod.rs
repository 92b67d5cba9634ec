//! Spatial indexes: R-trees over Earth-centred points (see [`crate::geodesy`]) that
//! answer "the k nearest" and "everything within r metres" in true geodesic distance.

use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::geodesy::{
    GeoPoint, chord_from_ecef, geodesic_from_chord, geodesic_lower_bound, max_chord_within,
};

type Entry = GeomWithData<[f64; 3], u32>;

/// Wider nodes than rstar's default (6): point sets here are bulk-loaded once and
/// queried ~35,000 times, and shallower trees answer those queries faster.
#[derive(Debug, Clone, Copy)]
struct Params;

impl rstar::RTreeParams for Params {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// A set of points, each with the index it has in the caller's list.
#[derive(Clone)]
pub struct PointIndex {
    tree: RTree<Entry, Params>,
    points: Vec<GeoPoint>,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index of the point in the list the index was built from.
    pub index: usize,
    /// Geodesic distance, metres.
    pub distance_m: f64,
}

impl std::fmt::Debug for PointIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointIndex")
            .field("points", &self.points.len())
            .finish()
    }
}

impl PointIndex {
    /// Bulk-loads the points; `points[i]` answers as index `i`.
    pub fn new(points: Vec<GeoPoint>) -> Self {
        let entries = points
            .iter()
            .enumerate()
            .map(|(i, p)| GeomWithData::new(p.ecef, i as u32))
            .collect();
        PointIndex {
            tree: RTree::bulk_load_with_params(entries),
            points,
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn point(&self, index: usize) -> &GeoPoint {
        &self.points[index]
    }

    /// The nearest point in geodesic distance (ties: the lower index).
    ///
    /// The chord-nearest point gives a first geodesic `g`; any point nearer in geodesic
    /// has a chord below `g`, so one small range query settles it (no iterator heap on
    /// the hot path).
    pub fn nearest(&self, q: &GeoPoint) -> Option<Hit> {
        let first = self.tree.nearest_neighbor(&q.ecef)?;
        let index = first.data as usize;
        let mut best = Hit {
            index,
            distance_m: geodesic_from_chord(
                q,
                &self.points[index],
                chord_from_ecef(&q.ecef, first.geom()),
            ),
        };
        let radius = max_chord_within(best.distance_m);
        for e in self.tree.locate_within_distance(q.ecef, radius * radius) {
            let index = e.data as usize;
            if index == best.index {
                continue;
            }
            let chord = chord_from_ecef(&q.ecef, e.geom());
            if geodesic_lower_bound(chord) > best.distance_m {
                continue;
            }
            let d = geodesic_from_chord(q, &self.points[index], chord);
            if d < best.distance_m || (d == best.distance_m && index < best.index) {
                best = Hit {
                    index,
                    distance_m: d,
                };
            }
        }
        Some(best)
    }

    /// The nearest point among those `keep` accepts (e.g. all but removed sites).
    pub fn nearest_where(&self, q: &GeoPoint, keep: impl Fn(usize) -> bool) -> Option<Hit> {
        let mut best: Option<Hit> = None;
        for (e, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&q.ecef) {
            let chord = d2.sqrt();
            if let Some(b) = best
                && geodesic_lower_bound(chord) > b.distance_m
            {
                break;
            }
            let index = e.data as usize;
            if !keep(index) {
                continue;
            }
            let d = geodesic_from_chord(q, &self.points[index], chord);
            if best.is_none_or(|b| d < b.distance_m || (d == b.distance_m && index < b.index)) {
                best = Some(Hit {
                    index,
                    distance_m: d,
                });
            }
        }
        best
    }

    /// The `k` nearest points, nearest first (ties: lower index first).
    pub fn nearest_k(&self, q: &GeoPoint, k: usize) -> Vec<Hit> {
        let mut best: Vec<Hit> = Vec::with_capacity(k + 1);
        if k == 0 {
            return best;
        }
        for (e, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&q.ecef) {
            let chord = d2.sqrt();
            if best.len() == k && geodesic_lower_bound(chord) > best[k - 1].distance_m {
                break;
            }
            let index = e.data as usize;
            let hit = Hit {
                index,
                distance_m: geodesic_from_chord(q, &self.points[index], chord),
            };
            let at = best.partition_point(|b| {
                b.distance_m < hit.distance_m
                    || (b.distance_m == hit.distance_m && b.index < hit.index)
            });
            if at < k {
                best.insert(at, hit);
                best.truncate(k);
            }
        }
        best
    }

    /// Every point within `radius_m` (geodesic), in no particular order.
    pub fn within(&self, q: &GeoPoint, radius_m: f64) -> impl Iterator<Item = Hit> + '_ {
        let q = *q;
        self.tree
            .locate_within_distance(q.ecef, radius_m * radius_m)
            .filter_map(move |e| {
                let index = e.data as usize;
                let p = &self.points[index];
                let chord = crate::geodesy::chord_m(&q, p);
                let d = geodesic_from_chord(&q, p, chord);
                (d <= radius_m).then_some(Hit {
                    index,
                    distance_m: d,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::geodesic_m;
    use proptest::prelude::*;

    /// Deterministic pseudo-random points over metropolitan France and La Réunion.
    fn points(seed: u64, n: usize) -> Vec<GeoPoint> {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| {
                if i % 10 == 0 {
                    GeoPoint::new(55.2 + 0.6 * next(), -21.4 + 0.5 * next())
                } else {
                    GeoPoint::new(-5.0 + 13.0 * next(), 42.0 + 9.0 * next())
                }
            })
            .collect()
    }

    fn brute_force(pts: &[GeoPoint], q: &GeoPoint) -> Vec<Hit> {
        let mut all: Vec<Hit> = pts
            .iter()
            .enumerate()
            .map(|(index, p)| Hit {
                index,
                distance_m: geodesic_m(q, p),
            })
            .collect();
        all.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.index.cmp(&b.index))
        });
        all
    }

    #[test]
    fn nearest_equals_brute_force_on_seeded_points() {
        for seed in [1u64, 42, 20_261_123] {
            let pts = points(seed, 2_000);
            let index = PointIndex::new(pts.clone());
            for q in points(seed ^ 0xdead_beef, 300) {
                let bf = brute_force(&pts, &q);
                assert_eq!(index.nearest(&q), Some(bf[0]));
                assert_eq!(index.nearest_k(&q, 5), bf[..5].to_vec());
            }
        }
    }

    #[test]
    fn empty_index() {
        let index = PointIndex::new(vec![]);
        assert_eq!(index.nearest(&GeoPoint::new(0.0, 46.0)), None);
        assert!(index.nearest_k(&GeoPoint::new(0.0, 46.0), 3).is_empty());
    }

    proptest! {
        #[test]
        fn within_equals_brute_force(seed in 1u64..1_000, lon in -4.0f64..7.0, lat in 43.0f64..50.0, r in 0.0f64..80_000.0) {
            let pts = points(seed, 500);
            let index = PointIndex::new(pts.clone());
            let q = GeoPoint::new(lon, lat);
            let mut got: Vec<usize> = index.within(&q, r).map(|h| h.index).collect();
            got.sort_unstable();
            let want: Vec<usize> = brute_force(&pts, &q).into_iter().filter(|h| h.distance_m <= r).map(|h| h.index).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}

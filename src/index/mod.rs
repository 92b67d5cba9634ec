//! Spatial indexes: R-trees over Earth-centred points (see [`crate::geodesy`]) that
//! answer "the k nearest" and "everything within r metres" in true geodesic distance.
//! Uses `geodesy` only.

pub mod grid;

use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::geodesy::{
    GeoPoint, SHORT_CHORD_M, chord_from_ecef, geodesic_from_chord, geodesic_lower_bound,
    long_geodesic_lower_bound, max_chord_within,
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
        Some(self.settle(q, first.data as usize))
    }

    /// The nearest point (ties: the lower index), given a candidate: every point whose
    /// geodesic can be at most the candidate's lies within the chord
    /// [`max_chord_within`] of it.
    fn settle(&self, q: &GeoPoint, candidate: usize) -> Hit {
        let p = &self.points[candidate];
        let mut best = Hit {
            index: candidate,
            distance_m: geodesic_from_chord(q, p, chord_from_ecef(&q.ecef, &p.ecef)),
        };
        let radius = max_chord_within(best.distance_m);
        for e in self.tree.locate_within_distance(q.ecef, radius * radius) {
            let index = e.data as usize;
            if index == best.index {
                continue;
            }
            let chord = chord_from_ecef(&q.ecef, e.geom());
            let p = &self.points[index];
            if skip_long(q, p, chord, best.distance_m) {
                continue;
            }
            let d = geodesic_from_chord(q, p, chord);
            if d < best.distance_m || (d == best.distance_m && index < best.index) {
                best = Hit {
                    index,
                    distance_m: d,
                };
            }
        }
        best
    }

    /// The nearest point of each query, as [`PointIndex::nearest`] answers it, for
    /// queries given close together (consecutive along a Hilbert curve:
    /// [`hilbert_order`]).
    ///
    /// Runs of up to [`BATCH_MAX`] queries within [`BATCH_SPAN_M`] of the run's first
    /// share one R-tree query. The first query's nearest `s₀` bounds every other's: a
    /// query `q` at geodesic `d_q` from `s₀` has its nearest within the chord
    /// `m_q = max_chord_within(d_q)` of itself, hence within `chord(first, q) + m_q` of the
    /// first query (the chord is a Euclidean distance). Every point within the largest
    /// such reach is gathered once, and each query scans that short list, skipping the
    /// points whose chord already exceeds its best geodesic. The answer is the exact
    /// nearest (ties: the lower index) whatever the runs.
    pub fn nearest_each(&self, queries: &[GeoPoint]) -> Vec<Hit> {
        let mut out = Vec::with_capacity(queries.len());
        let mut candidates: Vec<(usize, [f64; 3])> = Vec::new();
        let mut first_d: Vec<f64> = Vec::with_capacity(BATCH_MAX);
        let mut start = 0;
        while start < queries.len() {
            let head = &queries[start];
            let mut end = start + 1;
            while end < queries.len()
                && end - start < BATCH_MAX
                && chord_from_ecef(&head.ecef, &queries[end].ecef) <= BATCH_SPAN_M
            {
                end += 1;
            }
            let Some(first) = self.nearest(head) else {
                return Vec::new();
            };
            let s0 = first.index;
            let p0 = &self.points[s0];
            first_d.clear();
            let mut reach = 0.0f64;
            for q in &queries[start..end] {
                let d = geodesic_from_chord(q, p0, chord_from_ecef(&q.ecef, &p0.ecef));
                first_d.push(d);
                reach = reach.max(chord_from_ecef(&head.ecef, &q.ecef) + max_chord_within(d));
            }
            // A margin for the rounding of the sums above.
            let reach = reach * (1.0 + 1e-9) + 1e-3;
            candidates.clear();
            candidates.extend(
                self.tree
                    .locate_within_distance(head.ecef, reach * reach)
                    .map(|e| (e.data as usize, *e.geom())),
            );
            for (q, &d0) in queries[start..end].iter().zip(&first_d) {
                let mut best = Hit {
                    index: s0,
                    distance_m: d0,
                };
                // Chords squared above this exceed the best geodesic (with a margin for
                // rounding), so their lower bound does too: skipped without a root.
                let mut skip_above = d0 * d0 * (1.0 + 1e-9);
                for &(index, ecef) in &candidates {
                    let d = [
                        q.ecef[0] - ecef[0],
                        q.ecef[1] - ecef[1],
                        q.ecef[2] - ecef[2],
                    ];
                    let chord2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                    if chord2 > skip_above || index == s0 {
                        continue;
                    }
                    let chord = chord2.sqrt();
                    let p = &self.points[index];
                    if chord > SHORT_CHORD_M && skip_long(q, p, chord, best.distance_m) {
                        continue;
                    }
                    let g = geodesic_from_chord(q, p, chord);
                    if g < best.distance_m || (g == best.distance_m && index < best.index) {
                        best = Hit {
                            index,
                            distance_m: g,
                        };
                        skip_above = g * g * (1.0 + 1e-9);
                    }
                }
                out.push(best);
            }
            start = end;
        }
        out
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

/// Whether a point at chord `chord` from `q` cannot be nearer than `best` metres in
/// geodesic: the chord-only bound first, then, for long chords (where the geodesic is
/// Karney's algorithm), the Andoyer–Lambert bound.
fn skip_long(q: &GeoPoint, p: &GeoPoint, chord: f64, best: f64) -> bool {
    geodesic_lower_bound(chord) > best
        || (chord > SHORT_CHORD_M && long_geodesic_lower_bound(q, p, chord) > best)
}

/// At most this many queries share one R-tree query in [`PointIndex::nearest_each`].
pub const BATCH_MAX: usize = 64;
/// Queries share an R-tree query in [`PointIndex::nearest_each`] while they are within
/// this chord of the first, metres.
pub const BATCH_SPAN_M: f64 = 15_000.0;

/// Bits per axis of the Hilbert curve of [`hilbert_order`]: cells of 360°/2¹⁶ ≈ 600 m.
const HILBERT_BITS: u32 = 16;

/// Position of a cell on a Hilbert curve over a 2^[`HILBERT_BITS`]-cell square.
fn hilbert_index(mut x: u32, mut y: u32) -> u64 {
    let n = 1u32 << HILBERT_BITS;
    let mut d = 0u64;
    let mut s = n / 2;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        // Rotate the quadrant so that the curve stays continuous.
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// The indices of `points` along a Hilbert curve over longitude/latitude (ties: by
/// index), so that consecutive points are close: a bulk search in this order finds each
/// answer near the previous one and in a warm cache.
pub fn hilbert_order(points: &[(usize, GeoPoint)]) -> Vec<usize> {
    let n = f64::from(1u32 << HILBERT_BITS);
    let cell =
        |v: f64, min: f64, span: f64| (((v - min) / span * n).floor()).clamp(0.0, n - 1.0) as u32;
    let mut keyed: Vec<(u64, usize)> = points
        .iter()
        .map(|(i, p)| {
            let x = cell(p.lon, -180.0, 360.0);
            let y = cell(p.lat, -90.0, 180.0);
            (hilbert_index(x, y), *i)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
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
    fn nearest_each_equals_brute_force() {
        let all = points(3, 2_000);
        let mainland: Vec<GeoPoint> = all.iter().copied().filter(|p| p.lat > 0.0).collect();
        for pts in [all, mainland] {
            let index = PointIndex::new(pts.clone());
            let queries: Vec<(usize, GeoPoint)> =
                points(0xfeed, 300).into_iter().enumerate().collect();
            let want: Vec<Hit> = queries
                .iter()
                .map(|(_, q)| brute_force(&pts, q)[0])
                .collect();
            let sorted = hilbert_order(&queries);
            let plain: Vec<usize> = (0..queries.len()).collect();
            for order in [sorted, plain] {
                let qs: Vec<GeoPoint> = order.iter().map(|&i| queries[i].1).collect();
                let got = index.nearest_each(&qs);
                assert_eq!(got.len(), qs.len());
                for (&i, h) in order.iter().zip(&got) {
                    assert_eq!(*h, want[i], "{:?}", queries[i].1);
                }
            }
        }
        assert!(
            PointIndex::new(vec![])
                .nearest_each(&points(1, 5))
                .is_empty()
        );
    }

    #[test]
    fn hilbert_order_is_a_permutation_of_close_steps() {
        let pts: Vec<(usize, GeoPoint)> = points(3, 2_000).into_iter().enumerate().collect();
        let order = hilbert_order(&pts);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..2_000).collect::<Vec<_>>());
        // Consecutive points are much closer than in the input order.
        let walk = |o: &[usize]| -> f64 {
            o.windows(2)
                .map(|w| geodesic_m(&pts[w[0]].1, &pts[w[1]].1))
                .sum()
        };
        let input: Vec<usize> = (0..2_000).collect();
        assert!(walk(&order) * 10.0 < walk(&input));
        // The first cells of the curve, by hand (2×2 at the coarsest level).
        let n = 1u32 << HILBERT_BITS;
        assert_eq!(hilbert_index(0, 0), 0);
        assert!(hilbert_index(0, n - 1) < hilbert_index(n - 1, n - 1));
        assert_eq!(hilbert_index(n - 1, 0), u64::from(n) * u64::from(n) - 1);
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

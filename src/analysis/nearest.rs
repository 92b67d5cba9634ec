//! The nearest structures of a kind: from every commune, or k from any point.

use serde::Serialize;

use crate::geodesy::GeoPoint;
use crate::index::Hit;
use crate::model::Kind;

use super::distance::{DistanceModel, TravelMatrix, Trip};
use super::engine::Engine;

/// Candidates examined by straight distance when the model is `matrix`.
pub const MATRIX_CANDIDATES: usize = 20;

/// The nearest facility of a kind from one commune.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CommuneNearest {
    /// Index in `Dataset::communes`.
    pub commune: usize,
    /// Index in `Dataset::facilities`; `None` when the kind has no facility or the
    /// commune no reference point.
    pub facility: Option<usize>,
    pub trip: Option<Trip>,
}

/// A facility and the trip to it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reached {
    /// Index in `Dataset::facilities`.
    pub facility: usize,
    pub trip: Trip,
}

/// Splits `0..n` over the available cores; results come back in order.
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(8);
    if threads <= 1 || n < 2_000 {
        return (0..n).map(&f).collect();
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(f)
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

impl Engine {
    /// For every commune, the nearest facility of `kind`.
    ///
    /// `straight` and `road_estimate` pick the geodesic nearest (the estimate grows with
    /// distance); `matrix` picks the quickest of the [`MATRIX_CANDIDATES`] geodesic
    /// nearest by the table's minutes, falling back to the estimate for pairs the table
    /// lacks.
    pub fn nearest_per_commune(
        &self,
        kind: &Kind,
        model: DistanceModel,
        matrix: Option<&TravelMatrix>,
    ) -> Vec<CommuneNearest> {
        par_map(self.data.communes.len(), |c| {
            let found = self.commune_points[c].and_then(|p| match (model, matrix) {
                (DistanceModel::Matrix, Some(m)) => self
                    .nearest_from(&p, kind, MATRIX_CANDIDATES, model, Some(m), Some(c))
                    .into_iter()
                    .next(),
                _ => self
                    .kinds
                    .get(kind)
                    .and_then(|k| k.index.nearest(&p))
                    .map(|h| self.reached(kind, h)),
            });
            CommuneNearest {
                commune: c,
                facility: found.map(|r| r.facility),
                trip: found.map(|r| r.trip),
            }
        })
    }

    fn reached(&self, kind: &Kind, hit: Hit) -> Reached {
        Reached {
            facility: self.kinds[kind].facilities[hit.index],
            trip: Trip::estimate(&self.road, hit.distance_m),
        }
    }

    /// The `k` nearest facilities of `kind` from a point, nearest first. With the
    /// `matrix` model and the commune the point stands for, minutes come from the table
    /// and the list is sorted by them.
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
        let mut out: Vec<Reached> = ki
            .index
            .nearest_k(point, want)
            .into_iter()
            .map(|h| self.reached(kind, h))
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

//! The nearest structures of a kind: from every commune, or k from any point.

use serde::Serialize;

use crate::geodesy::GeoPoint;
use crate::index::Hit;
use crate::model::Kind;

use super::distance::{DistanceModel, TravelMatrix, Trip};
use super::engine::Engine;
use super::parallel::{par_blocks, par_map};

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

/// Communes per unit of work of the bulk nearest search ([`Engine::nearest_per_commune`]).
const NEAREST_BLOCK: usize = 1_024;

impl Engine {
    /// For every commune, the nearest facility of `kind`.
    ///
    /// `straight` and `road_estimate` pick the geodesic nearest (the estimate grows with
    /// distance); `matrix` picks the quickest of the [`MATRIX_CANDIDATES`] geodesic
    /// nearest by the table's minutes, falling back to the estimate for pairs the table
    /// lacks.
    ///
    /// The geodesic nearest is searched for the communes in their order along a Hilbert
    /// curve (built once by [`Engine::new`]), in units of 1,024 over the threads, by
    /// [`PointIndex::nearest_each`]: runs of nearby communes share one R-tree query,
    /// bounded by the nearest of the run's first commune. Each answer is the exact
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
        if let (DistanceModel::Matrix, Some(m)) = (model, matrix) {
            return par_map(n, |c| {
                let found = self.commune_points[c].and_then(|p| {
                    self.nearest_from(&p, kind, MATRIX_CANDIDATES, model, Some(m), Some(c))
                        .into_iter()
                        .next()
                });
                CommuneNearest {
                    commune: c,
                    facility: found.map(|r| r.facility),
                    trip: found.map(|r| r.trip),
                }
            });
        }
        let mut out: Vec<CommuneNearest> = (0..n)
            .map(|commune| CommuneNearest {
                commune,
                facility: None,
                trip: None,
            })
            .collect();
        let Some(ki) = self.kinds.get(kind).filter(|k| !k.points.is_empty()) else {
            return out;
        };
        let order = &self.commune_order;
        let units = par_blocks(order.len().div_ceil(NEAREST_BLOCK), |b| {
            let range = b * NEAREST_BLOCK..((b + 1) * NEAREST_BLOCK).min(order.len());
            let hits = ki.index().nearest_each(&self.ordered_points[range.clone()]);
            order[range]
                .iter()
                .zip(hits)
                .map(|(&c, h)| (c, h, Trip::estimate(&self.road, h.distance_m)))
                .collect::<Vec<_>>()
        });
        for (c, h, trip) in units.into_iter().flatten() {
            out[c].facility = Some(ki.facilities[h.index]);
            out[c].trip = Some(trip);
        }
        out
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
            .index()
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

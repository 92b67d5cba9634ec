//! The analysis engine: a data set with its indexes, built once and then only read.

use std::collections::BTreeMap;

use crate::geodesy::GeoPoint;
use crate::index::PointIndex;
use crate::model::{Dataset, Facility, Kind};

use super::travel::RoadEstimate;

/// Facilities of one kind and their index.
#[derive(Debug, Clone)]
pub struct KindIndex {
    /// Indices into [`Dataset::facilities`]; `index` answers with positions in this list.
    pub facilities: Vec<usize>,
    pub index: PointIndex,
}

/// A data set ready for analyses.
#[derive(Debug, Clone)]
pub struct Engine {
    pub data: Dataset,
    /// Reference point of each commune (index = commune index), if it has one.
    pub commune_points: Vec<Option<GeoPoint>>,
    /// Communes with a reference point; answers with positions in `commune_ids`.
    pub commune_index: PointIndex,
    /// Commune index of each point of `commune_index`.
    pub commune_ids: Vec<usize>,
    pub kinds: BTreeMap<Kind, KindIndex>,
    pub road: RoadEstimate,
}

impl Engine {
    pub fn new(data: Dataset) -> Self {
        let commune_points: Vec<Option<GeoPoint>> = data
            .communes
            .iter()
            .map(|c| c.ref_point.map(GeoPoint::from_point))
            .collect();
        let commune_ids: Vec<usize> = (0..commune_points.len())
            .filter(|&i| commune_points[i].is_some())
            .collect();
        let commune_index = PointIndex::new(
            commune_ids
                .iter()
                .filter_map(|&i| commune_points[i])
                .collect(),
        );
        let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
        for (i, f) in data.facilities.iter().enumerate() {
            by_kind.entry(f.kind.clone()).or_default().push(i);
        }
        let kinds = by_kind
            .into_iter()
            .map(|(kind, facilities)| {
                let index = PointIndex::new(
                    facilities
                        .iter()
                        .map(|&i| GeoPoint::from_point(data.facilities[i].position))
                        .collect(),
                );
                (kind, KindIndex { facilities, index })
            })
            .collect();
        Engine {
            data,
            commune_points,
            commune_index,
            commune_ids,
            kinds,
            road: RoadEstimate::default(),
        }
    }

    /// The facility behind a hit of `kinds[kind].index`.
    pub fn facility(&self, kind: &Kind, hit_index: usize) -> &Facility {
        &self.data.facilities[self.kinds[kind].facilities[hit_index]]
    }
}

//! The analysis engine: a data set with its indexes, built once and then only read.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::geodesy::GeoPoint;
use crate::index::grid::CellGrid;
use crate::index::{PointIndex, hilbert_order};
use crate::model::{Dataset, Kind, TerritoryType};

use super::travel::RoadEstimate;

/// Facilities of one kind and their index (built on first use: a command that looks at
/// one kind builds no other).
#[derive(Debug, Clone)]
pub struct KindIndex {
    /// Indices into [`Dataset::facilities`]; the index answers with positions in this list.
    pub facilities: Vec<usize>,
    /// The facilities' positions, in the order of `facilities`.
    pub points: Vec<GeoPoint>,
    index: OnceLock<PointIndex>,
}

impl KindIndex {
    /// The R-tree of the kind's facilities.
    pub fn index(&self) -> &PointIndex {
        self.index
            .get_or_init(|| PointIndex::new(self.points.clone()))
    }
}

/// A data set ready for analyses.
#[derive(Debug, Clone)]
pub struct Engine {
    pub data: Dataset,
    /// Reference point of each commune (index = commune index), if it has one.
    pub commune_points: Vec<Option<GeoPoint>>,
    /// Communes with a reference point, built on first use ([`Engine::commune_index`]);
    /// answers with positions in `commune_ids`.
    commune_index: OnceLock<PointIndex>,
    /// Commune index of each point of `commune_index`.
    pub commune_ids: Vec<usize>,
    /// The communes with a reference point along a Hilbert curve: consecutive communes
    /// are close, so bulk searches in this order reuse each answer as the next one's
    /// starting bound.
    pub(crate) commune_order: Vec<usize>,
    /// The reference points in `commune_order`.
    pub(crate) ordered_points: Vec<GeoPoint>,
    /// The reference points in latitude/longitude cells, for the 2SFCA catchments (built
    /// on first use).
    commune_grid: OnceLock<CellGrid>,
    pub kinds: BTreeMap<Kind, KindIndex>,
    pub road: RoadEstimate,
    /// Territory memberships by index, built on first use ([`Engine::territory_index`]).
    territory_index: OnceLock<TerritoryIndex>,
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
        let commune_order = hilbert_order(
            &commune_ids
                .iter()
                .filter_map(|&i| Some((i, commune_points[i]?)))
                .collect::<Vec<_>>(),
        );
        let ordered_points = commune_order
            .iter()
            .filter_map(|&i| commune_points[i])
            .collect();
        let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
        for (i, f) in data.facilities.iter().enumerate() {
            by_kind.entry(f.kind.clone()).or_default().push(i);
        }
        let kinds = by_kind
            .into_iter()
            .map(|(kind, facilities)| {
                let points = facilities
                    .iter()
                    .map(|&i| GeoPoint::from_point(data.facilities[i].position))
                    .collect();
                let index = OnceLock::new();
                (
                    kind,
                    KindIndex {
                        facilities,
                        points,
                        index,
                    },
                )
            })
            .collect();
        Engine {
            data,
            commune_points,
            commune_index: OnceLock::new(),
            commune_ids,
            commune_order,
            ordered_points,
            commune_grid: OnceLock::new(),
            kinds,
            road: RoadEstimate::default(),
            territory_index: OnceLock::new(),
        }
    }

    /// The départements, régions, EPCI and CLS perimeters with their member communes,
    /// and the territories of each commune (built on the first call).
    pub fn territory_index(&self) -> &TerritoryIndex {
        self.territory_index
            .get_or_init(|| TerritoryIndex::new(&self.data))
    }

    /// The R-tree of the communes with a reference point (positions in `commune_ids`).
    pub fn commune_index(&self) -> &PointIndex {
        self.commune_index.get_or_init(|| {
            PointIndex::new(
                self.commune_ids
                    .iter()
                    .filter_map(|&i| self.commune_points[i])
                    .collect(),
            )
        })
    }

    /// The reference points in latitude/longitude cells, for the 2SFCA catchments.
    pub(crate) fn commune_grid(&self) -> &CellGrid {
        self.commune_grid
            .get_or_init(|| CellGrid::new(&self.commune_points))
    }
}

/// Territories and their communes, by index: what a scenario looks up for every commune
/// it changes. Covers the territories of the data set (their member lists) and, for a
/// département, région or EPCI that a commune names but the data set lacks, the communes
/// that name it (named by their code).
#[derive(Debug, Clone, Default)]
pub struct TerritoryIndex {
    types: Vec<TerritoryType>,
    codes: Vec<String>,
    names: Vec<String>,
    /// Member commune indices, in the order of the territory's list.
    members: Vec<Vec<usize>>,
    /// Territory ids by type, then code.
    by_code: BTreeMap<TerritoryType, HashMap<String, usize>>,
    /// Per commune: its département, région and EPCI (from its fields), then the CLS
    /// perimeters that list it.
    of_commune: Vec<Vec<usize>>,
}

impl TerritoryIndex {
    fn new(data: &Dataset) -> TerritoryIndex {
        let mut index = TerritoryIndex {
            of_commune: vec![Vec::new(); data.communes.len()],
            ..TerritoryIndex::default()
        };
        let mut cls = Vec::new();
        for t in &data.territories {
            if t.kind == TerritoryType::Commune {
                continue;
            }
            let members: Vec<usize> = t
                .communes
                .iter()
                .filter_map(|c| data.commune_index(c))
                .collect();
            let id = index.push(t.kind, &t.code, &t.name, members);
            if t.kind == TerritoryType::Cls {
                cls.push(id);
            }
        }
        // Territories named by communes only: their members come from the fields.
        let mut from_fields = vec![false; index.codes.len()];
        for (i, c) in data.communes.iter().enumerate() {
            let fields = [
                (TerritoryType::Departement, Some(&c.departement)),
                (TerritoryType::Region, Some(&c.region)),
                (TerritoryType::Epci, c.epci.as_ref()),
            ];
            for (kind, code) in fields {
                let Some(code) = code else { continue };
                let id = match index.id(kind, code) {
                    Some(id) => id,
                    None => {
                        from_fields.push(true);
                        index.push(kind, code, code, Vec::new())
                    }
                };
                if from_fields[id] {
                    index.members[id].push(i);
                }
                index.of_commune[i].push(id);
            }
        }
        for id in cls {
            for k in 0..index.members[id].len() {
                let i = index.members[id][k];
                index.of_commune[i].push(id);
            }
        }
        index
    }

    fn push(&mut self, kind: TerritoryType, code: &str, name: &str, members: Vec<usize>) -> usize {
        let id = self.codes.len();
        self.types.push(kind);
        self.codes.push(code.to_owned());
        self.names.push(name.to_owned());
        self.members.push(members);
        self.by_code
            .entry(kind)
            .or_default()
            .insert(code.to_owned(), id);
        id
    }

    /// The id of a territory.
    pub fn id(&self, kind: TerritoryType, code: &str) -> Option<usize> {
        self.by_code.get(&kind)?.get(code).copied()
    }

    pub fn kind(&self, id: usize) -> TerritoryType {
        self.types[id]
    }

    pub fn code(&self, id: usize) -> &str {
        &self.codes[id]
    }

    /// The territory's name (its code when the data set does not name it).
    pub fn name(&self, id: usize) -> &str {
        &self.names[id]
    }

    /// Member communes (indices in `Dataset::communes`).
    pub fn members(&self, id: usize) -> &[usize] {
        &self.members[id]
    }

    /// The territories of a commune: département, région, EPCI, then CLS perimeters.
    pub fn of_commune(&self, commune: usize) -> &[usize] {
        self.of_commune.get(commune).map_or(&[], Vec::as_slice)
    }
}

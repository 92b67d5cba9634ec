//! The analysis engine: a data set with its indexes, built once and then only read.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::geodesy::GeoPoint;
use crate::index::grid::CellGrid;
use crate::index::{Hit, PointIndex, hilbert_order};
use crate::model::{Dataset, InseeCode, Kind, TerritoryType};

use super::travel::RoadEstimate;

/// A reachability zone (index into [`Engine::zone_codes`]): the communes one can drive
/// between. No nearest structure, coverage band or catchment crosses zones.
pub type Zone = u32;

/// The facilities of one kind in one zone, and their R-tree (built on first use: a
/// command that looks at one kind builds no other).
#[derive(Debug, Clone, Default)]
pub struct ZoneIndex {
    /// Positions in the kind's list ([`KindIndex::facilities`]).
    pub members: Vec<usize>,
    points: Vec<GeoPoint>,
    index: OnceLock<PointIndex>,
}

impl ZoneIndex {
    /// The R-tree of the zone's facilities; its hits index `members`.
    pub fn index(&self) -> &PointIndex {
        self.index
            .get_or_init(|| PointIndex::new(self.points.clone()))
    }

    /// A hit of [`ZoneIndex::index`] as a position in the kind's list.
    pub fn position(&self, hit: Hit) -> Hit {
        Hit {
            index: self.members[hit.index],
            distance_m: hit.distance_m,
        }
    }
}

/// Facilities of one kind, by zone.
#[derive(Debug, Clone)]
pub struct KindIndex {
    /// Indices into [`Dataset::facilities`]; positions in this list are a kind's ids.
    pub facilities: Vec<usize>,
    /// The facilities' positions, in the order of `facilities`.
    pub points: Vec<GeoPoint>,
    /// The zone of each facility (its commune's), in the order of `facilities`.
    pub zones: Vec<Zone>,
    by_zone: BTreeMap<Zone, ZoneIndex>,
}

impl KindIndex {
    /// The kind's facilities in a zone (`None`: none there).
    pub fn zone(&self, zone: Zone) -> Option<&ZoneIndex> {
        self.by_zone.get(&zone)
    }

    /// The nearest facility in `zone` (position in the kind's list).
    pub fn nearest(&self, zone: Zone, q: &GeoPoint) -> Option<Hit> {
        let z = self.zone(zone)?;
        z.index().nearest(q).map(|h| z.position(h))
    }

    /// The `k` nearest facilities in `zone`, nearest first.
    pub fn nearest_k(&self, zone: Zone, q: &GeoPoint, k: usize) -> Vec<Hit> {
        self.zone(zone).map_or_else(Vec::new, |z| {
            z.index()
                .nearest_k(q, k)
                .into_iter()
                .map(|h| z.position(h))
                .collect()
        })
    }

    /// The nearest facility in `zone` that `keep` accepts (by position in the kind's list).
    pub fn nearest_where(
        &self,
        zone: Zone,
        q: &GeoPoint,
        keep: impl Fn(usize) -> bool,
    ) -> Option<Hit> {
        let z = self.zone(zone)?;
        z.index()
            .nearest_where(q, |i| keep(z.members[i]))
            .map(|h| z.position(h))
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
    /// The zone of each commune (communes the build placed in no zone share one).
    pub commune_zone: Vec<Zone>,
    /// The code naming each zone (its most populated commune); `None` for the communes
    /// the build placed in no zone.
    pub zone_codes: Vec<Option<InseeCode>>,
    /// The communes with a reference point by zone, each zone along a Hilbert curve:
    /// consecutive communes are close, so bulk searches in this order reuse each answer
    /// as the next one's starting bound.
    pub(crate) commune_order: Vec<usize>,
    /// The reference points in `commune_order`.
    pub(crate) ordered_points: Vec<GeoPoint>,
    /// Each zone's range of `commune_order`.
    pub(crate) zone_runs: Vec<(Zone, std::ops::Range<usize>)>,
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
        let mut zone_codes: Vec<Option<InseeCode>> = Vec::new();
        let mut zone_of: HashMap<Option<&InseeCode>, Zone> = HashMap::new();
        let commune_zone: Vec<Zone> = data
            .communes
            .iter()
            .map(|c| {
                *zone_of.entry(c.zone.as_ref()).or_insert_with(|| {
                    zone_codes.push(c.zone.clone());
                    (zone_codes.len() - 1) as Zone
                })
            })
            .collect();
        let mut commune_order = hilbert_order(
            &commune_ids
                .iter()
                .filter_map(|&i| Some((i, commune_points[i]?)))
                .collect::<Vec<_>>(),
        );
        commune_order.sort_by_key(|&c| commune_zone[c]);
        let mut zone_runs: Vec<(Zone, std::ops::Range<usize>)> = Vec::new();
        for (k, &c) in commune_order.iter().enumerate() {
            match zone_runs.last_mut() {
                Some((z, r)) if *z == commune_zone[c] => r.end = k + 1,
                _ => zone_runs.push((commune_zone[c], k..k + 1)),
            }
        }
        let ordered_points = commune_order
            .iter()
            .filter_map(|&i| commune_points[i])
            .collect();
        let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
        for (i, f) in data.facilities.iter().enumerate() {
            by_kind.entry(f.kind.clone()).or_default().push(i);
        }
        // A facility is in its commune's zone (a facility without a commune — never one
        // of a build — in the zone of the nearest commune).
        let facility_zone = |f: &crate::model::Facility, p: &GeoPoint| -> Zone {
            f.commune
                .as_ref()
                .and_then(|c| data.commune_index(c))
                .map(|c| commune_zone[c])
                .unwrap_or_else(|| nearest_zone(&commune_points, &commune_zone, p))
        };
        let kinds = by_kind
            .into_iter()
            .map(|(kind, facilities)| {
                let points: Vec<GeoPoint> = facilities
                    .iter()
                    .map(|&i| GeoPoint::from_point(data.facilities[i].position))
                    .collect();
                let zones: Vec<Zone> = facilities
                    .iter()
                    .zip(&points)
                    .map(|(&i, p)| facility_zone(&data.facilities[i], p))
                    .collect();
                let mut by_zone: BTreeMap<Zone, ZoneIndex> = BTreeMap::new();
                for (pos, (&z, p)) in zones.iter().zip(&points).enumerate() {
                    let zi = by_zone.entry(z).or_default();
                    zi.members.push(pos);
                    zi.points.push(*p);
                }
                (
                    kind,
                    KindIndex {
                        facilities,
                        points,
                        zones,
                        by_zone,
                    },
                )
            })
            .collect();
        Engine {
            data,
            commune_points,
            commune_index: OnceLock::new(),
            commune_ids,
            commune_zone,
            zone_codes,
            commune_order,
            ordered_points,
            zone_runs,
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

    /// The commune a point stands for: the one whose reference point is nearest.
    pub fn commune_at(&self, p: &GeoPoint) -> Option<usize> {
        self.commune_index()
            .nearest(p)
            .map(|h| self.commune_ids[h.index])
    }

    /// The zone of any point: the zone of the commune it stands for.
    pub fn zone_at(&self, p: &GeoPoint) -> Zone {
        self.commune_at(p).map_or(0, |c| self.commune_zone[c])
    }

    /// The reference points in latitude/longitude cells, for the 2SFCA catchments.
    pub(crate) fn commune_grid(&self) -> &CellGrid {
        self.commune_grid
            .get_or_init(|| CellGrid::new(&self.commune_points))
    }
}

/// The zone of the commune whose reference point is nearest to `p`, by a scan (for the
/// rare facility without a commune, before the communes' R-tree exists).
fn nearest_zone(points: &[Option<GeoPoint>], zones: &[Zone], p: &GeoPoint) -> Zone {
    points
        .iter()
        .zip(zones)
        .filter_map(|(q, z)| Some((crate::geodesy::chord_m(p, q.as_ref()?), *z)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0, |(_, z)| z)
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

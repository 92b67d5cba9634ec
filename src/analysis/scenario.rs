//! Scenarios: add, remove or resize structures and see what changes — population newly
//! within a threshold, communes whose nearest structure changes — recomputing only the
//! communes the change can affect.
//!
//! An added site can only become the nearest of communes closer to it than their
//! current nearest; a removed site only matters to the communes it served. Both sets are
//! found through the R-trees, so one change costs a few R-tree queries, not a national
//! recomputation. The accessibility (2SFCA) side of a scenario is
//! [`Engine::scenario_accessibility`] (module [`super::scenario_accessibility`]), whose
//! result goes in [`ScenarioResult::accessibility`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::geodesy::{GeoPoint, chord_m, geodesic_from_chord, geodesic_lower_bound, geodesic_m};
use crate::model::{Kind, TerritoryType};

use super::coverage::Threshold;
use super::distance::{DistanceModel, Trip};
use super::engine::Engine;
use super::nearest::CommuneNearest;
pub use super::scenario_accessibility::{
    AccessSummary, AccessibilityDelta, CommuneAccessDelta, SiteDelta, TerritoryAccessDelta,
};

/// One change to the structures of a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A new site at a WGS84 point.
    Add {
        lon: f64,
        lat: f64,
        #[serde(default)]
        name: Option<String>,
        /// Capacity (places, professionals…); 1 site when absent.
        #[serde(default)]
        capacity: Option<f64>,
    },
    /// An existing structure closes (by its id: FINESS number or source id).
    Remove { id: String },
    /// An existing structure changes capacity.
    Resize { id: String, capacity: f64 },
}

/// Why a scenario cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("change {0}: ({1}, {2}) is not a WGS84 longitude/latitude")]
    BadPoint(usize, f64, f64),
    #[error("change {0}: no structure of kind {1} with id {2:?}")]
    UnknownId(usize, Kind, String),
    #[error("change {0}: capacity {1} must be a number ≥ 0")]
    BadCapacity(usize, f64),
    #[error("a scenario has at most {max} changes, this one has {0}", max = MAX_CHANGES)]
    TooMany(usize),
    #[error(
        "accessibility profile {profile:?} takes its supply from {supply}, not from the structures of kind {kind}: its accessibility cannot follow this scenario"
    )]
    ProfileKind {
        profile: String,
        supply: String,
        kind: Kind,
    },
    #[error(
        "change {change}: accessibility profile {profile:?} counts each site's capacity: give the added site a capacity, or count sites (supply \"sites\")"
    )]
    MissingCapacity { change: usize, profile: String },
    #[error(
        "the baseline accessibility was computed with the matrix model: give the same travel-time table"
    )]
    MatrixMissing,
}

/// Changes per scenario (a request-size bound for the API).
pub const MAX_CHANGES: usize = 200;

/// A site after the scenario: existing (facility index) or added (change index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "index", rename_all = "snake_case")]
pub enum Site {
    Existing(usize),
    Added(usize),
}

/// The nearest site of a commune, before or after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearestSite {
    pub id: String,
    pub name: String,
    pub trip: Trip,
}

/// A commune whose nearest structure changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearestChange {
    pub code: String,
    pub nom: String,
    pub population: u32,
    pub before: Option<NearestSite>,
    pub after: Option<NearestSite>,
    pub within_before: bool,
    pub within_after: bool,
}

/// What a scenario changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResult {
    pub kind: Kind,
    pub model: DistanceModel,
    pub threshold: Threshold,
    pub changes: Vec<Change>,
    /// Population whose nearest is within the threshold after, not before.
    pub population_newly_within: u64,
    /// Population within the threshold before, not after (closures).
    pub population_no_longer_within: u64,
    /// Communes whose nearest structure changes, most populated first.
    pub nearest_changed: Vec<NearestChange>,
    /// Communes examined (the others cannot be affected).
    pub communes_examined: usize,
    /// The same deltas per département, région, EPCI and CLS perimeter touched.
    pub territories: Vec<TerritoryDelta>,
    /// Accessibility (2SFCA) deltas, when the caller has a baseline accessibility of the
    /// same kind: [`Engine::scenario_accessibility`]. `None` from [`Engine::scenario`]
    /// alone.
    pub accessibility: Option<AccessibilityDelta>,
}

/// Deltas of one territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerritoryDelta {
    pub territory_type: TerritoryType,
    pub code: String,
    pub name: String,
    pub population_newly_within: u64,
    pub population_no_longer_within: u64,
    pub communes_nearest_changed: usize,
}

/// A site a scenario adds.
#[derive(Debug, Clone)]
pub(crate) struct Added {
    /// Index of the change.
    pub(crate) change: usize,
    pub(crate) point: GeoPoint,
    pub(crate) name: String,
    pub(crate) capacity: Option<f64>,
}

/// Changes checked against the structures of a kind. Positions are in
/// `engine.kinds[kind].facilities`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    /// Closed structures, with the index of the change.
    pub(crate) removed: BTreeMap<usize, usize>,
    pub(crate) added: Vec<Added>,
    /// The last capacity given to each resized structure, with its change index.
    pub(crate) resized: BTreeMap<usize, (usize, f64)>,
}

impl Engine {
    /// Applies `changes` to the structures of `kind` and returns the deltas against
    /// `baseline` (from [`Engine::nearest_per_commune`] with the same model).
    pub fn scenario(
        &self,
        kind: &Kind,
        changes: &[Change],
        model: DistanceModel,
        threshold: Threshold,
        baseline: &[CommuneNearest],
    ) -> Result<ScenarioResult, ScenarioError> {
        let Resolved { removed, added, .. } = self.resolve_changes(kind, changes)?;
        let ki = self.kinds.get(kind);
        // Communes that can be affected: served by a removed site, or closer to an added
        // site than to their current nearest.
        let mut affected: BTreeSet<usize> = BTreeSet::new();
        if !removed.is_empty() {
            let removed_facilities: BTreeSet<usize> = removed
                .keys()
                .filter_map(|&p| ki.map(|k| k.facilities[p]))
                .collect();
            for n in baseline {
                if n.facility.is_some_and(|f| removed_facilities.contains(&f)) {
                    affected.insert(n.commune);
                }
            }
        }
        for Added { point: p, .. } in &added {
            // One pass over the communes: the chord-based lower bound rules most of
            // them out without computing a geodesic.
            for (c, q) in self.commune_points.iter().enumerate() {
                let Some(q) = q else { continue };
                let current = baseline[c].trip.map_or(f64::INFINITY, |t| t.distance_m);
                let chord = chord_m(p, q);
                if geodesic_lower_bound(chord) < current
                    && geodesic_from_chord(p, q, chord) < current
                {
                    affected.insert(c);
                }
            }
        }

        let site_name = |s: Site| match s {
            Site::Existing(f) => (
                self.data.facilities[f].id.clone(),
                self.data.facilities[f].name.clone(),
            ),
            Site::Added(i) => {
                let name = added.iter().find(|a| a.change == i).map(|a| a.name.clone());
                (format!("scenario:{}", i + 1), name.unwrap_or_default())
            }
        };
        let within = |t: Option<Trip>| t.is_some_and(|t| threshold.reached(t));

        let mut result = ScenarioResult {
            kind: kind.clone(),
            model,
            threshold,
            changes: changes.to_vec(),
            territories: Vec::new(),
            population_newly_within: 0,
            population_no_longer_within: 0,
            nearest_changed: Vec::new(),
            communes_examined: affected.len(),
            accessibility: None,
        };
        for &c in &affected {
            let Some(p) = self.commune_points[c] else {
                continue;
            };
            // Nearest after: the nearest remaining existing site, or an added one.
            let mut best: Option<(f64, Site)> = ki
                .and_then(|k| k.index.nearest_where(&p, |i| !removed.contains_key(&i)))
                .map(|h| {
                    (
                        h.distance_m,
                        Site::Existing(ki.map_or(0, |k| k.facilities[h.index])),
                    )
                });
            for a in &added {
                let d = geodesic_m(&p, &a.point);
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, Site::Added(a.change)));
                }
            }
            let before = baseline[c];
            let after_trip = best.map(|(d, _)| Trip::estimate(&self.road, d));
            let after_site = best.map(|(_, s)| s);
            let same = match (before.facility, after_site) {
                (Some(f), Some(Site::Existing(g))) => f == g,
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            let commune = &self.data.communes[c];
            let (wb, wa) = (within(before.trip), within(after_trip));
            if wa && !wb {
                result.population_newly_within += u64::from(commune.population);
            }
            if wb && !wa {
                result.population_no_longer_within += u64::from(commune.population);
            }
            result.nearest_changed.push(NearestChange {
                code: commune.code.to_string(),
                nom: commune.name.clone(),
                population: commune.population,
                before: before.facility.zip(before.trip).map(|(f, trip)| {
                    let (id, name) = site_name(Site::Existing(f));
                    NearestSite { id, name, trip }
                }),
                after: after_site.zip(after_trip).map(|(s, trip)| {
                    let (id, name) = site_name(s);
                    NearestSite { id, name, trip }
                }),
                within_before: wb,
                within_after: wa,
            });
        }
        result.nearest_changed.sort_by(|a, b| {
            b.population
                .cmp(&a.population)
                .then_with(|| a.code.cmp(&b.code))
        });
        result.territories = self.territory_deltas(&result.nearest_changed);
        Ok(result)
    }

    /// Checks the changes against the structures of `kind`.
    pub(crate) fn resolve_changes(
        &self,
        kind: &Kind,
        changes: &[Change],
    ) -> Result<Resolved, ScenarioError> {
        if changes.len() > MAX_CHANGES {
            return Err(ScenarioError::TooMany(changes.len()));
        }
        let ki = self.kinds.get(kind);
        let position_of = |i: usize, id: &str| {
            ki.and_then(|k| {
                k.facilities
                    .iter()
                    .position(|&f| self.data.facilities[f].id == id)
            })
            .ok_or_else(|| ScenarioError::UnknownId(i, kind.clone(), id.to_owned()))
        };
        let mut resolved = Resolved::default();
        for (i, c) in changes.iter().enumerate() {
            match c {
                Change::Add {
                    lon,
                    lat,
                    name,
                    capacity,
                } => {
                    if !(lon.is_finite()
                        && lat.is_finite()
                        && (-180.0..=180.0).contains(lon)
                        && (-90.0..=90.0).contains(lat))
                    {
                        return Err(ScenarioError::BadPoint(i, *lon, *lat));
                    }
                    if let Some(cap) = capacity
                        && !(cap.is_finite() && *cap >= 0.0)
                    {
                        return Err(ScenarioError::BadCapacity(i, *cap));
                    }
                    resolved.added.push(Added {
                        change: i,
                        point: GeoPoint::new(*lon, *lat),
                        name: name
                            .clone()
                            .unwrap_or_else(|| format!("Nouveau site {}", i + 1)),
                        capacity: *capacity,
                    });
                }
                Change::Remove { id } => {
                    resolved.removed.insert(position_of(i, id)?, i);
                }
                Change::Resize { id, capacity } => {
                    if !(capacity.is_finite() && *capacity >= 0.0) {
                        return Err(ScenarioError::BadCapacity(i, *capacity));
                    }
                    resolved.resized.insert(position_of(i, id)?, (i, *capacity));
                }
            }
        }
        Ok(resolved)
    }

    fn territory_deltas(&self, changed: &[NearestChange]) -> Vec<TerritoryDelta> {
        let index = self.territory_index();
        let mut acc: BTreeMap<(TerritoryType, &str), TerritoryDelta> = BTreeMap::new();
        for ch in changed {
            let Some(commune) = crate::model::InseeCode::parse(&ch.code)
                .ok()
                .and_then(|c| self.data.commune_index(&c))
            else {
                continue;
            };
            for &t in index.of_commune(commune) {
                let d = acc
                    .entry((index.kind(t), index.code(t)))
                    .or_insert_with(|| TerritoryDelta {
                        territory_type: index.kind(t),
                        code: index.code(t).to_owned(),
                        name: index.name(t).to_owned(),
                        population_newly_within: 0,
                        population_no_longer_within: 0,
                        communes_nearest_changed: 0,
                    });
                d.communes_nearest_changed += 1;
                if ch.within_after && !ch.within_before {
                    d.population_newly_within += u64::from(ch.population);
                }
                if ch.within_before && !ch.within_after {
                    d.population_no_longer_within += u64::from(ch.population);
                }
            }
        }
        acc.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Commune, Dataset, Facility, InseeCode, PositionQuality, Territory};
    use geo::Point;
    use proptest::prelude::*;

    fn commune(i: usize, lon: f64, lat: f64) -> Commune {
        Commune {
            code: InseeCode::parse(&format!("79{i:03}")).unwrap(),
            name: format!("Commune {i}"),
            population: 100 + (i as u32 * 37) % 900,
            departement: "79".into(),
            region: "75".into(),
            epci: Some(if i % 2 == 0 { "200000001" } else { "200000002" }.into()),
            ref_point: Some(Point::new(lon, lat)),
            ref_point_source: None,
            geometry: None,
        }
    }

    fn msp(id: &str, lon: f64, lat: f64) -> Facility {
        Facility {
            id: id.into(),
            finess: None,
            kind: Kind::Msp,
            category: None,
            category_label: None,
            name: format!("MSP {id}"),
            address: None,
            commune: None,
            capacity: Some(1.0),
            phone: None,
            position: Point::new(lon, lat),
            position_quality: PositionQuality::Address,
            source: "test".into(),
            partial_list: false,
            source_line: 1,
        }
    }

    fn dataset(seed: u64, sites: usize) -> Dataset {
        let mut s = seed.max(1);
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let communes: Vec<Commune> = (0..300)
            .map(|i| commune(i, -0.8 + 0.8 * next(), 46.6 + 0.6 * next()))
            .collect();
        let facilities = (0..sites)
            .map(|j| {
                msp(
                    &format!("m{j:02}"),
                    -0.8 + 0.8 * next(),
                    46.6 + 0.6 * next(),
                )
            })
            .collect();
        let territories = vec![Territory {
            kind: TerritoryType::Departement,
            code: "79".into(),
            name: "Deux-Sèvres".into(),
            communes: communes.iter().map(|c| c.code.clone()).collect(),
        }];
        Dataset {
            communes,
            facilities,
            territories,
            ..Dataset::default()
        }
    }

    /// A copy of the data with the changes applied.
    fn apply(data: &Dataset, changes: &[Change]) -> Dataset {
        let mut d = data.clone();
        for (i, c) in changes.iter().enumerate() {
            match c {
                Change::Add { lon, lat, .. } => {
                    d.facilities
                        .push(msp(&format!("scenario:{}", i + 1), *lon, *lat))
                }
                Change::Remove { id } => d.facilities.retain(|f| &f.id != id),
                Change::Resize { .. } => {}
            }
        }
        d
    }

    fn nearest_id(e: &Engine, n: &CommuneNearest) -> Option<String> {
        n.facility.map(|f| e.data.facilities[f].id.clone())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Deltas computed on the affected communes only equal a full recomputation.
        #[test]
        fn deltas_equal_full_recomputation(
            seed in 1u64..10_000,
            add in proptest::collection::vec((-0.8f64..0.0, 46.6f64..47.2), 0..3),
            remove in proptest::collection::btree_set(0usize..8, 0..3),
            km in 2.0f64..15.0,
        ) {
            let data = dataset(seed, 8);
            let engine = Engine::new(data.clone());
            let base = engine.nearest_per_commune(&Kind::Msp, DistanceModel::Straight, None);
            let mut changes: Vec<Change> = add.iter().map(|&(lon, lat)| Change::Add { lon, lat, name: None, capacity: None }).collect();
            changes.extend(remove.iter().map(|j| Change::Remove { id: format!("m{j:02}") }));
            let r = engine.scenario(&Kind::Msp, &changes, DistanceModel::Straight, Threshold::Km(km), &base).unwrap();

            let after_engine = Engine::new(apply(&data, &changes));
            let after = after_engine.nearest_per_commune(&Kind::Msp, DistanceModel::Straight, None);
            let within = |n: &CommuneNearest| n.trip.is_some_and(|t| t.distance_m <= km * 1_000.0);
            let (mut newly, mut lost) = (0u64, 0u64);
            let mut changed = BTreeSet::new();
            for (b, a) in base.iter().zip(&after) {
                let pop = u64::from(data.communes[b.commune].population);
                if within(a) && !within(b) { newly += pop; }
                if within(b) && !within(a) { lost += pop; }
                if nearest_id(&engine, b) != nearest_id(&after_engine, a) {
                    changed.insert(data.communes[b.commune].code.to_string());
                }
            }
            prop_assert_eq!(r.population_newly_within, newly);
            prop_assert_eq!(r.population_no_longer_within, lost);
            let got: BTreeSet<String> = r.nearest_changed.iter().map(|c| c.code.clone()).collect();
            prop_assert_eq!(got, changed);
            for c in &r.nearest_changed {
                let i = data.communes.iter().position(|x| x.code.as_str() == c.code).unwrap();
                let want = after[i].trip.map(|t| t.distance_m);
                prop_assert_eq!(c.after.as_ref().map(|s| s.trip.distance_m), want);
            }
            let dep: u64 = r.territories.iter().filter(|t| t.territory_type == TerritoryType::Departement).map(|t| t.population_newly_within).sum();
            prop_assert_eq!(dep, newly);
        }
    }

    #[test]
    fn bad_changes_are_errors() {
        let engine = Engine::new(dataset(7, 4));
        let base = engine.nearest_per_commune(&Kind::Msp, DistanceModel::Straight, None);
        let run = |c: Change| {
            engine.scenario(
                &Kind::Msp,
                &[c],
                DistanceModel::Straight,
                Threshold::Km(10.0),
                &base,
            )
        };
        assert!(matches!(
            run(Change::Add {
                lon: f64::NAN,
                lat: 46.0,
                name: None,
                capacity: None
            }),
            Err(ScenarioError::BadPoint(0, ..))
        ));
        assert!(matches!(
            run(Change::Add {
                lon: 200.0,
                lat: 46.0,
                name: None,
                capacity: None
            }),
            Err(ScenarioError::BadPoint(..))
        ));
        assert!(matches!(
            run(Change::Remove { id: "nope".into() }),
            Err(ScenarioError::UnknownId(..))
        ));
        assert!(matches!(
            run(Change::Resize {
                id: "m00".into(),
                capacity: -1.0
            }),
            Err(ScenarioError::BadCapacity(..))
        ));
    }
}

//! Scenarios: add, remove or resize structures and see what changes — population newly
//! within a threshold, communes whose nearest structure changes — recomputing only the
//! communes the change can affect.
//!
//! An added site can only become the nearest of communes closer to it than their
//! current nearest; a removed site only matters to the communes it served. Both sets are
//! found through the R-trees, so one change costs a few R-tree queries, not a national
//! recomputation. The changes themselves are checked in [`super::change`]; the
//! accessibility (2SFCA) side of a scenario is [`Engine::scenario_accessibility`] (module
//! [`super::fca::delta`]), whose result goes in [`ScenarioResult::accessibility`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::geodesy::{chord_m, geodesic_from_chord, geodesic_lower_bound, geodesic_m};
use crate::model::{InseeCode, Kind, Territory, TerritoryType};

use super::change::{Added, Change, Resolved, ScenarioError, Target};
use super::coverage::Threshold;
use super::distance::{DistanceModel, Trip};
use super::engine::{Engine, TerritoryIndex, Zone};
use super::fca::delta::AccessibilityDelta;
use super::listed::{FacilityChoice, ListIndex};
use super::nearest::CommuneNearest;

/// A site after the scenario: existing (facility index), of the planner's list
/// (position in [`ListIndex::sites`]) or added (change index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "index", rename_all = "snake_case")]
pub enum Site {
    Existing(usize),
    Listed(usize),
    Added(usize),
}

/// What a scenario starts from: each commune's nearest with the structures used.
#[derive(Debug, Clone, Copy)]
pub struct Before<'a> {
    /// Per commune (from [`Engine::nearest_per_commune`], or with a list
    /// [`Engine::nearest_per_commune_with_list`] over every commune).
    pub nearest: &'a [CommuneNearest],
    /// The planner's list a scenario uses, with the choice (`list` or `both`) and, per
    /// commune, the list site that is its nearest.
    pub list: Option<(&'a ListIndex, FacilityChoice, &'a [Option<usize>])>,
}

impl Before<'_> {
    /// The site a commune starts from.
    fn site(&self, c: usize) -> Option<Site> {
        let listed = self.list.and_then(|(_, _, l)| l[c]);
        listed
            .map(Site::Listed)
            .or(self.nearest[c].facility.map(Site::Existing))
    }
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
    /// The deltas inside the territory the caller looks at (the headline), when one is
    /// given ([`ScenarioResult::inside`]).
    pub inside: Option<TerritoryDelta>,
    /// Communes within the threshold of an added site where the kind's list does not
    /// speak (a partial list): "non couvert", left out of every total above.
    pub out_of_scope: Vec<OutOfScope>,
    /// Their population.
    pub population_out_of_scope: u64,
    /// Accessibility (2SFCA) deltas, when the caller has a baseline accessibility of the
    /// same kind: [`Engine::scenario_accessibility`]. `None` from [`Engine::scenario`]
    /// alone.
    pub accessibility: Option<AccessibilityDelta>,
}

/// A commune a scenario would reach but whose département the kind's list does not cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfScope {
    pub code: String,
    pub nom: String,
    pub population: u32,
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
    /// Population of its communes left out as "non couvert" (see
    /// [`ScenarioResult::out_of_scope`]).
    #[serde(default)]
    pub population_out_of_scope: u64,
}

impl ScenarioResult {
    /// Sets the headline: the deltas inside `territory`.
    pub fn with_inside(mut self, territory: &Territory) -> Self {
        let member = |code: &str| {
            InseeCode::parse(code).is_ok_and(|c| territory.communes.binary_search(&c).is_ok())
        };
        let mut d = TerritoryDelta {
            territory_type: territory.kind,
            code: territory.code.clone(),
            name: territory.name.clone(),
            population_newly_within: 0,
            population_no_longer_within: 0,
            communes_nearest_changed: 0,
            population_out_of_scope: 0,
        };
        for ch in self.nearest_changed.iter().filter(|c| member(&c.code)) {
            d.communes_nearest_changed += 1;
            if ch.within_after && !ch.within_before {
                d.population_newly_within += u64::from(ch.population);
            }
            if ch.within_before && !ch.within_after {
                d.population_no_longer_within += u64::from(ch.population);
            }
        }
        d.population_out_of_scope = self
            .out_of_scope
            .iter()
            .filter(|c| member(&c.code))
            .map(|c| u64::from(c.population))
            .sum();
        self.inside = Some(d);
        self
    }
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
        let before = Before {
            nearest: baseline,
            list: None,
        };
        self.scenario_from(kind, changes, model, threshold, before)
    }

    /// [`Engine::scenario`] from the structures `before` says: the build's, a planner's
    /// list, or both. Changes may close or resize the list's structures (by their
    /// `liste:` ids); where the structures used do not speak, communes an added site
    /// reaches are "non couvert" ([`ScenarioResult::out_of_scope`]).
    pub fn scenario_from(
        &self,
        kind: &Kind,
        changes: &[Change],
        model: DistanceModel,
        threshold: Threshold,
        before: Before<'_>,
    ) -> Result<ScenarioResult, ScenarioError> {
        let baseline = before.nearest;
        let official = before
            .list
            .is_none_or(|(_, choice, _)| choice != FacilityChoice::List);
        let Resolved { removed, added, .. } = self.resolve_changes(
            kind,
            changes,
            before.list.map(|(list, _, _)| (list, official)),
        )?;
        let ki = self.kinds.get(kind).filter(|_| official);
        let list = before.list.map(|(list, _, _)| list);
        let speaks = |c: usize| match before.list {
            Some((list, choice, _)) => self.speaks(kind, list, choice, c),
            None => self.data.in_scope(kind, c),
        };
        let closed = |s: Site| match s {
            Site::Existing(f) => ki.is_some_and(|k| {
                k.facilities
                    .binary_search(&f)
                    .is_ok_and(|p| removed.contains_key(&Target::Official(p)))
            }),
            Site::Listed(i) => removed.contains_key(&Target::Listed(i)),
            Site::Added(_) => false,
        };
        // Communes that can be affected: served by a removed site, or closer to an added
        // site than to their current nearest.
        let mut affected: BTreeSet<usize> = BTreeSet::new();
        if !removed.is_empty() {
            for n in baseline {
                if before.site(n.commune).is_some_and(closed) {
                    affected.insert(n.commune);
                }
            }
        }
        // Communes of an added site's zone where the list does not speak, within the
        // threshold of the site: reported, not counted.
        let mut out_of_scope: BTreeSet<usize> = BTreeSet::new();
        let added_zone: Vec<Zone> = added.iter().map(|a| self.zone_at(&a.point)).collect();
        // The straight distance beyond which no trip is within the threshold.
        let reach_m = match threshold {
            Threshold::Km(km) => km * 1_000.0,
            Threshold::Minutes(m) => self.road.straight_m_within_minutes(m),
        };
        for (Added { point: p, .. }, &zone) in added.iter().zip(&added_zone) {
            // One pass over the communes: the chord-based lower bound rules most of
            // them out without computing a geodesic.
            for (c, q) in self.commune_points.iter().enumerate() {
                let Some(q) = q else { continue };
                if self.commune_zone[c] != zone {
                    continue;
                }
                // Where the list does not speak (no nearest), only the communes within
                // the threshold matter (to be reported).
                let current = match baseline[c].trip {
                    Some(t) => t.distance_m,
                    None if speaks(c) => f64::INFINITY,
                    None => reach_m * (1.0 + 1e-9),
                };
                let chord = chord_m(p, q);
                if geodesic_lower_bound(chord) < current
                    && geodesic_from_chord(p, q, chord) < current
                {
                    if speaks(c) {
                        affected.insert(c);
                    } else if threshold
                        .reached(Trip::estimate(&self.road, geodesic_from_chord(p, q, chord)))
                    {
                        out_of_scope.insert(c);
                    }
                }
            }
        }

        let site_name = |s: Site| match s {
            Site::Existing(f) => (
                self.data.facilities[f].id.clone(),
                self.data.facilities[f].name.clone(),
            ),
            Site::Listed(i) => {
                let s = list.map(|l| &l.sites[i]);
                (
                    s.map(|s| s.id.clone()).unwrap_or_default(),
                    s.map(|s| s.name.clone()).unwrap_or_default(),
                )
            }
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
            inside: None,
            population_out_of_scope: out_of_scope
                .iter()
                .map(|&c| u64::from(self.data.communes[c].population))
                .sum(),
            out_of_scope: out_of_scope
                .iter()
                .map(|&c| {
                    let commune = &self.data.communes[c];
                    OutOfScope {
                        code: commune.code.to_string(),
                        nom: commune.name.clone(),
                        population: commune.population,
                    }
                })
                .collect(),
            accessibility: None,
        };
        for &c in &affected {
            let Some(p) = self.commune_points[c] else {
                continue;
            };
            let zone = self.commune_zone[c];
            // Nearest after: the nearest remaining existing site of the zone, or an added
            // one in the zone.
            let mut best: Option<(f64, Site)> = ki
                .and_then(|k| {
                    k.nearest_where(zone, &p, |i| !removed.contains_key(&Target::Official(i)))
                })
                .map(|h| {
                    (
                        h.distance_m,
                        Site::Existing(ki.map_or(0, |k| k.facilities[h.index])),
                    )
                });
            // Official first: a tie keeps the official structure, as without a scenario.
            if let Some((i, d)) = list.and_then(|l| {
                l.nearest_where(zone, &p, |i| !removed.contains_key(&Target::Listed(i)))
            }) && best.is_none_or(|(bd, _)| d < bd)
            {
                best = Some((d, Site::Listed(i)));
            }
            for (a, _) in added.iter().zip(&added_zone).filter(|(_, z)| **z == zone) {
                let d = geodesic_m(&p, &a.point);
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, Site::Added(a.change)));
                }
            }
            let before_site = before.site(c);
            let before = baseline[c];
            let after_trip = best.map(|(d, _)| Trip::estimate(&self.road, d));
            let after_site = best.map(|(_, s)| s);
            if before_site == after_site {
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
                before: before_site.zip(before.trip).map(|(s, trip)| {
                    let (id, name) = site_name(s);
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
        result.territories = self.territory_deltas(&result.nearest_changed, &result.out_of_scope);
        Ok(result)
    }

    fn territory_deltas(
        &self,
        changed: &[NearestChange],
        out_of_scope: &[OutOfScope],
    ) -> Vec<TerritoryDelta> {
        let index = self.territory_index();
        let mut acc: BTreeMap<(TerritoryType, String), TerritoryDelta> = BTreeMap::new();
        let commune_of = |code: &str| {
            InseeCode::parse(code)
                .ok()
                .and_then(|c| self.data.commune_index(&c))
        };
        fn entry<'a>(
            acc: &'a mut BTreeMap<(TerritoryType, String), TerritoryDelta>,
            index: &TerritoryIndex,
            t: usize,
        ) -> &'a mut TerritoryDelta {
            acc.entry((index.kind(t), index.code(t).to_owned()))
                .or_insert_with(|| TerritoryDelta {
                    territory_type: index.kind(t),
                    code: index.code(t).to_owned(),
                    name: index.name(t).to_owned(),
                    population_newly_within: 0,
                    population_no_longer_within: 0,
                    communes_nearest_changed: 0,
                    population_out_of_scope: 0,
                })
        }
        for c in out_of_scope {
            let Some(commune) = commune_of(&c.code) else {
                continue;
            };
            for &t in index.of_commune(commune) {
                entry(&mut acc, index, t).population_out_of_scope += u64::from(c.population);
            }
        }
        for ch in changed {
            let Some(commune) = commune_of(&ch.code) else {
                continue;
            };
            for &t in index.of_commune(commune) {
                let d = entry(&mut acc, index, t);
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
    use crate::model::{Commune, Dataset, Facility};
    use crate::test_support::{self, rng};
    use proptest::prelude::*;

    /// Commune `79iii` in one of two EPCI (by the parity of `i`).
    fn commune(i: usize, lon: f64, lat: f64) -> Commune {
        let epci = if i % 2 == 0 { "200000001" } else { "200000002" };
        Commune {
            epci: Some(epci.into()),
            ..test_support::commune(&format!("79{i:03}"), lon, lat, 100 + (i as u32 * 37) % 900)
        }
    }

    fn msp(id: &str, lon: f64, lat: f64) -> Facility {
        test_support::facility(id, Kind::Msp, lon, lat, Some(1.0))
    }

    fn dataset(seed: u64, sites: usize) -> Dataset {
        let mut next = rng(seed);
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
        test_support::dataset(communes, facilities)
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

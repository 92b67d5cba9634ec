//! A planner's own structure list in the analyses, without a rebuild: nearest structures
//! and territory coverage from the official structures, the list, or both.
//!
//! A list is small (at most some thousands of rows) and speaks only for its scope, the
//! territory its author says it is complete for. So rather than a national run, its
//! sites get one small R-tree per reachability zone, built per request in microseconds,
//! and only the communes a request looks at are searched (a territory's members, one
//! point): the official baseline is left as it is. With `both`, a commune's nearest is
//! the nearer of the official one and the list's; with `list`, the official structures
//! of the kind are left out. Outside the list's scope a `list` answer says "not
//! covered by the list", never that the nearest is far.
//!
//! The api layer reads the list from the store and passes plain data here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::geodesy::GeoPoint;
use crate::index::PointIndex;
use crate::model::{Kind, Territory};

use super::coverage::{Coverage, Threshold};
use super::distance::{DistanceModel, Trip};
use super::engine::{Engine, Zone};
use super::nearest::{CommuneNearest, NoNearest};

/// Which structures an analysis uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityChoice {
    /// The structures of the data build (the default).
    Official,
    /// The planner's list alone.
    List,
    /// Both: the nearer of the two.
    Both,
}

impl FacilityChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityChoice::Official => "official",
            FacilityChoice::List => "list",
            FacilityChoice::Both => "both",
        }
    }
}

impl fmt::Display for FacilityChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FacilityChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "official" => Ok(FacilityChoice::Official),
            "list" => Ok(FacilityChoice::List),
            "both" => Ok(FacilityChoice::Both),
            other => Err(format!("{other:?}: expected official, list or both")),
        }
    }
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListSite {
    /// Position of the row in the caller's list.
    pub row: usize,
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub point: GeoPoint,
    /// Index of its commune in the data set, if the build has it.
    pub commune: Option<usize>,
    /// Capacity (professionals, places), if the list gives it: the supply of a 2SFCA
    /// profile that counts capacities.
    pub capacity: Option<f64>,
}

/// A list's sites of one kind, by reachability zone.
#[derive(Debug)]
pub struct ListIndex {
    /// Each zone's R-tree and the positions of its points in [`ListIndex::sites`].
    by_zone: BTreeMap<Zone, (PointIndex, Vec<usize>)>,
    pub sites: Vec<ListSite>,
    /// Whether the list speaks for each commune (index = commune index).
    scope: Vec<bool>,
}

/// The nearest of a commune once the list is counted: official (facility index) or a
/// list site (position in [`ListIndex::sites`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nearest {
    Official(usize),
    Listed(usize),
}

/// A structure found from a point, official or listed, and the trip to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub site: Nearest,
    pub trip: Trip,
}

impl ListIndex {
    /// The sites of `kind` among `sites`; `scope` are the communes (indices) the list is
    /// complete for.
    pub fn new(engine: &Engine, kind: &Kind, sites: &[ListSite], scope: &[usize]) -> Self {
        let sites: Vec<ListSite> = sites.iter().filter(|s| &s.kind == kind).cloned().collect();
        let mut groups: BTreeMap<Zone, (Vec<GeoPoint>, Vec<usize>)> = BTreeMap::new();
        for (i, s) in sites.iter().enumerate() {
            let zone = s
                .commune
                .map_or_else(|| engine.zone_at(&s.point), |c| engine.commune_zone[c]);
            let g = groups.entry(zone).or_default();
            g.0.push(s.point);
            g.1.push(i);
        }
        let mut in_scope = vec![false; engine.data.communes.len()];
        for &c in scope {
            if let Some(x) = in_scope.get_mut(c) {
                *x = true;
            }
        }
        ListIndex {
            by_zone: groups
                .into_iter()
                .map(|(z, (points, members))| (z, (PointIndex::new(points), members)))
                .collect(),
            sites,
            scope: in_scope,
        }
    }

    /// Whether the list speaks for commune `c`.
    pub fn covers(&self, c: usize) -> bool {
        self.scope.get(c).copied().unwrap_or(false)
    }

    /// The zone of each site, in the order of [`ListIndex::sites`].
    pub fn zones(&self) -> Vec<Zone> {
        let mut zones = vec![0; self.sites.len()];
        for (&z, (_, members)) in &self.by_zone {
            for &i in members {
                zones[i] = z;
            }
        }
        zones
    }

    /// The nearest site of the list in `zone` that `keep` accepts (by position in
    /// [`ListIndex::sites`]), with its geodesic distance.
    pub fn nearest_where(
        &self,
        zone: Zone,
        q: &GeoPoint,
        keep: impl Fn(usize) -> bool,
    ) -> Option<(usize, f64)> {
        let (index, members) = self.by_zone.get(&zone)?;
        index
            .nearest_where(q, |i| keep(members[i]))
            .map(|h| (members[h.index], h.distance_m))
    }

    /// The `k` nearest sites of the list in `zone`, nearest first.
    fn nearest_k(&self, zone: Zone, q: &GeoPoint, k: usize) -> Vec<(usize, f64)> {
        self.by_zone
            .get(&zone)
            .map_or_else(Vec::new, |(index, members)| {
                index
                    .nearest_k(q, k)
                    .into_iter()
                    .map(|h| (members[h.index], h.distance_m))
                    .collect()
            })
    }
}

impl Engine {
    /// Whether the structures chosen speak for commune `c`: the official list's scope,
    /// the planner's list's, or either.
    pub fn speaks(&self, kind: &Kind, list: &ListIndex, choice: FacilityChoice, c: usize) -> bool {
        match choice {
            FacilityChoice::Official => self.data.in_scope(kind, c),
            FacilityChoice::List => list.covers(c),
            FacilityChoice::Both => self.data.in_scope(kind, c) || list.covers(c),
        }
    }

    /// The `k` nearest structures of `kind` from a point (in its reachability zone),
    /// official, listed or both, nearest first (geodesic; the road estimate for time).
    pub fn nearest_with_list(
        &self,
        point: &GeoPoint,
        kind: &Kind,
        k: usize,
        list: &ListIndex,
        choice: FacilityChoice,
        from_commune: Option<usize>,
    ) -> Vec<Found> {
        let zone = from_commune.map_or_else(|| self.zone_at(point), |c| self.commune_zone[c]);
        let mut out: Vec<(f64, Nearest)> = Vec::new();
        if choice != FacilityChoice::List
            && let Some(ki) = self.kinds.get(kind)
        {
            out.extend(
                ki.nearest_k(zone, point, k)
                    .into_iter()
                    .map(|h| (h.distance_m, Nearest::Official(ki.facilities[h.index]))),
            );
        }
        if choice != FacilityChoice::Official {
            out.extend(
                list.nearest_k(zone, point, k)
                    .into_iter()
                    .map(|(i, d)| (d, Nearest::Listed(i))),
            );
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out.truncate(k);
        out.into_iter()
            .map(|(d, site)| Found {
                site,
                trip: Trip::estimate(&self.road, d),
            })
            .collect()
    }

    /// The nearest of each of `communes` with the structures chosen; `official` is the
    /// official per-commune nearest (the baseline, straight or road estimate: both pick
    /// the geodesic nearest). Other communes keep the official answer; the second vector
    /// gives, per commune, the list site that is its nearest.
    pub fn nearest_per_commune_with_list(
        &self,
        kind: &Kind,
        official: &[CommuneNearest],
        list: &ListIndex,
        choice: FacilityChoice,
        communes: &[usize],
    ) -> (Vec<CommuneNearest>, Vec<Option<usize>>) {
        let mut nearest = official.to_vec();
        let mut listed = vec![None; nearest.len()];
        if choice == FacilityChoice::Official {
            return (nearest, listed);
        }
        for &c in communes {
            let Some(q) = self.commune_points[c] else {
                continue;
            };
            let answer = &mut nearest[c];
            if !self.speaks(kind, list, choice, c) {
                *answer = CommuneNearest {
                    commune: c,
                    facility: None,
                    trip: None,
                    missing: Some(NoNearest::OutOfScope),
                };
                continue;
            }
            // With `both`, the official nearest is known already: only the list is
            // searched, unless the official list does not speak there.
            let found = match (choice, official[c].facility.zip(official[c].trip)) {
                (FacilityChoice::Both, Some((f, trip))) => {
                    let listed = list.nearest_where(self.commune_zone[c], &q, |_| true);
                    Some(match listed {
                        Some((i, d)) if d < trip.distance_m => Found {
                            site: Nearest::Listed(i),
                            trip: Trip::estimate(&self.road, d),
                        },
                        _ => Found {
                            site: Nearest::Official(f),
                            trip,
                        },
                    })
                }
                _ => self
                    .nearest_with_list(&q, kind, 1, list, choice, Some(c))
                    .into_iter()
                    .next(),
            };
            *answer = match found {
                Some(f) => {
                    if let Nearest::Listed(i) = f.site {
                        listed[c] = Some(i);
                    }
                    CommuneNearest {
                        commune: c,
                        facility: match f.site {
                            Nearest::Official(i) => Some(i),
                            Nearest::Listed(_) => None,
                        },
                        trip: Some(f.trip),
                        missing: None,
                    }
                }
                None => CommuneNearest {
                    commune: c,
                    facility: None,
                    trip: None,
                    missing: Some(NoNearest::NoneByRoad),
                },
            };
        }
        (nearest, listed)
    }

    /// Coverage of `territory` with the structures chosen (see [`Engine::coverage`]):
    /// with `list`, the communes outside the list's scope are "non couvert".
    #[allow(clippy::too_many_arguments)]
    pub fn coverage_with_list(
        &self,
        territory: &Territory,
        kind: &Kind,
        model: DistanceModel,
        official: &[CommuneNearest],
        list: &ListIndex,
        choice: FacilityChoice,
        thresholds: &[Threshold],
        underserved_threshold: Threshold,
    ) -> Coverage {
        let (members, _) = self.members(territory);
        let (nearest, listed) =
            self.nearest_per_commune_with_list(kind, official, list, choice, &members);
        let site = |c: usize, n: &CommuneNearest| match (listed[c], n.facility) {
            (Some(i), _) => Some((list.sites[i].id.clone(), list.sites[i].name.clone())),
            (None, Some(f)) => {
                let f = &self.data.facilities[f];
                Some((f.id.clone(), f.name.clone()))
            }
            (None, None) => None,
        };
        self.coverage_by(
            territory,
            kind,
            model,
            &nearest,
            thresholds,
            underserved_threshold,
            &|c| self.speaks(kind, list, choice, c),
            &site,
        )
    }
}

#[cfg(test)]
mod tests {
    //! A list used `both` must answer as if its sites were structures of the build, and
    //! `list` as if they were the only ones: scenarios and 2SFCA runs are checked
    //! against engines built that way.

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::analysis::change::Change;
    use crate::analysis::coverage::Threshold;
    use crate::analysis::scenario::{Before, ScenarioResult};
    use crate::model::{Demand, StepUnit, Supply};
    use crate::test_support::{self, rng};

    const KIND: Kind = Kind::Ehpad;

    fn points(seed: u64, n: usize) -> Vec<(f64, f64)> {
        let mut next = rng(seed);
        (0..n)
            .map(|_| (-0.8 + 0.8 * next(), 46.6 + 0.6 * next()))
            .collect()
    }

    fn communes(seed: u64) -> Vec<crate::model::Commune> {
        points(seed, 200)
            .into_iter()
            .enumerate()
            .map(|(i, (lon, lat))| {
                test_support::commune(&format!("79{i:03}"), lon, lat, 50 + (i as u32 * 37) % 900)
            })
            .collect()
    }

    fn official(seed: u64) -> Vec<crate::model::Facility> {
        points(seed ^ 0xabc, 6)
            .into_iter()
            .enumerate()
            .map(|(j, (lon, lat))| {
                test_support::facility(&format!("m{j:02}"), KIND, lon, lat, Some(10.0 + j as f64))
            })
            .collect()
    }

    fn list_sites(seed: u64, n: usize) -> Vec<ListSite> {
        points(seed ^ 0xdef, n)
            .into_iter()
            .enumerate()
            .map(|(i, (lon, lat))| ListSite {
                row: i,
                id: format!("liste:l1:{}", i + 2),
                name: format!("Listé {i}"),
                kind: KIND,
                point: GeoPoint::new(lon, lat),
                commune: None,
                capacity: Some(5.0 + i as f64),
            })
            .collect()
    }

    /// The list's sites as structures of the build.
    fn as_facilities(sites: &[ListSite]) -> Vec<crate::model::Facility> {
        sites
            .iter()
            .map(|s| test_support::facility(&s.id, KIND, s.point.lon, s.point.lat, s.capacity))
            .collect()
    }

    /// The list-aware scenario of `choice`, and the same scenario on an engine holding the
    /// list's sites as structures (beside the official ones with `both`).
    fn both_ways(
        seed: u64,
        n: usize,
        choice: FacilityChoice,
        changes: &[Change],
        km: f64,
    ) -> (ScenarioResult, ScenarioResult) {
        let sites = list_sites(seed, n);
        let engine = test_support::engine(communes(seed), official(seed));
        let all: Vec<usize> = (0..engine.data.communes.len()).collect();
        let index = ListIndex::new(&engine, &KIND, &sites, &all);
        let base = engine.nearest_per_commune(&KIND, DistanceModel::Straight, None);
        let (nearest, listed) =
            engine.nearest_per_commune_with_list(&KIND, &base, &index, choice, &all);
        let before = Before {
            nearest: &nearest,
            list: Some((&index, choice, &listed)),
        };
        let threshold = Threshold::Km(km);
        let got = engine
            .scenario_from(&KIND, changes, DistanceModel::Straight, threshold, before)
            .unwrap();
        let mut facilities = as_facilities(&sites);
        if choice == FacilityChoice::Both {
            facilities.extend(official(seed));
        }
        let flat = test_support::engine(communes(seed), facilities);
        let flat_base = flat.nearest_per_commune(&KIND, DistanceModel::Straight, None);
        let want = flat
            .scenario(
                &KIND,
                changes,
                DistanceModel::Straight,
                threshold,
                &flat_base,
            )
            .unwrap();
        (got, want)
    }

    fn changed(r: &ScenarioResult) -> BTreeSet<(String, Option<String>, Option<String>)> {
        r.nearest_changed
            .iter()
            .map(|c| {
                (
                    c.code.clone(),
                    c.before.as_ref().map(|s| s.id.clone()),
                    c.after.as_ref().map(|s| s.id.clone()),
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Adding sites and closing official or listed ones, from the list (with or
        /// without the build's structures), equals the scenario on an engine holding the
        /// list's sites as structures.
        #[test]
        fn scenarios_with_a_list_equal_the_list_as_structures(
            seed in 1u64..10_000,
            n in 1usize..5,
            both in any::<bool>(),
            add in proptest::collection::vec((-0.8f64..0.0, 46.6f64..47.2), 0..3),
            close_listed in proptest::collection::btree_set(0usize..5, 0..2),
            close_official in proptest::collection::btree_set(0usize..6, 0..2),
            km in 2.0f64..15.0,
        ) {
            let choice = if both { FacilityChoice::Both } else { FacilityChoice::List };
            let mut changes: Vec<Change> = add
                .iter()
                .map(|&(lon, lat)| Change::Add { lon, lat, name: None, capacity: None })
                .collect();
            changes.extend(close_listed.iter().filter(|&&i| i < n).map(|i| Change::Remove {
                id: format!("liste:l1:{}", i + 2),
            }));
            if both {
                changes.extend(close_official.iter().map(|j| Change::Remove { id: format!("m{j:02}") }));
            }
            prop_assume!(!changes.is_empty());
            let (got, want) = both_ways(seed, n, choice, &changes, km);
            prop_assert_eq!(got.population_newly_within, want.population_newly_within);
            prop_assert_eq!(got.population_no_longer_within, want.population_no_longer_within);
            prop_assert_eq!(changed(&got), changed(&want));
            prop_assert_eq!(got.territories, want.territories);
        }
    }

    #[test]
    fn an_official_structure_cannot_be_closed_from_the_list_alone() {
        let sites = list_sites(3, 2);
        let engine = test_support::engine(communes(3), official(3));
        let all: Vec<usize> = (0..engine.data.communes.len()).collect();
        let index = ListIndex::new(&engine, &KIND, &sites, &all);
        let base = engine.nearest_per_commune(&KIND, DistanceModel::Straight, None);
        let (nearest, listed) =
            engine.nearest_per_commune_with_list(&KIND, &base, &index, FacilityChoice::List, &all);
        let before = Before {
            nearest: &nearest,
            list: Some((&index, FacilityChoice::List, &listed)),
        };
        let close = [Change::Remove { id: "m00".into() }];
        let r = engine.scenario_from(
            &KIND,
            &close,
            DistanceModel::Straight,
            Threshold::Km(10.0),
            before,
        );
        assert!(matches!(
            r,
            Err(crate::analysis::change::ScenarioError::UnknownId(0, ..))
        ));
    }

    /// Communes outside the list's territory that an added site reaches are "non
    /// couvert", never counted as newly within.
    #[test]
    fn outside_the_list_territory_an_added_site_counts_for_nothing() {
        let sites = list_sites(5, 2);
        let engine = test_support::engine(communes(5), official(5));
        let scope: Vec<usize> = (0..100).collect();
        let index = ListIndex::new(&engine, &KIND, &sites, &scope);
        let base = engine.nearest_per_commune(&KIND, DistanceModel::Straight, None);
        let all: Vec<usize> = (0..engine.data.communes.len()).collect();
        let (nearest, listed) =
            engine.nearest_per_commune_with_list(&KIND, &base, &index, FacilityChoice::List, &all);
        let before = Before {
            nearest: &nearest,
            list: Some((&index, FacilityChoice::List, &listed)),
        };
        let add = [Change::Add {
            lon: -0.4,
            lat: 46.9,
            name: None,
            capacity: None,
        }];
        let r = engine
            .scenario_from(
                &KIND,
                &add,
                DistanceModel::Straight,
                Threshold::Km(30.0),
                before,
            )
            .unwrap();
        assert!(!r.out_of_scope.is_empty());
        let outside: BTreeSet<&str> = r.out_of_scope.iter().map(|c| c.code.as_str()).collect();
        for c in &r.nearest_changed {
            assert!(!outside.contains(c.code.as_str()));
            let i = index_of(&engine, &c.code);
            assert!(i < 100, "{} is outside the list's territory", c.code);
        }
    }

    fn index_of(engine: &Engine, code: &str) -> usize {
        engine
            .data
            .communes
            .iter()
            .position(|x| x.code.as_str() == code)
            .unwrap()
    }

    /// Equal values, to the rounding of sums taken in another order.
    fn close_to(got: Option<f64>, want: Option<f64>) {
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{g} {w}"),
            (g, w) => assert_eq!(g, w),
        }
    }

    /// A 2SFCA run with the list equals the run on an engine holding the list's sites as
    /// structures (to rounding: the sites are summed in another order); closing a listed
    /// site in a scenario gives the run without it.
    #[test]
    fn accessibility_with_a_list_equals_the_list_as_structures() {
        let profile = test_support::ehpad_profile(
            StepUnit::Km,
            &[(10.0, 1.0), (20.0, 0.5)],
            Supply::Capacity,
            Demand::Population,
        );
        for choice in [FacilityChoice::Both, FacilityChoice::List] {
            let sites = list_sites(11, 4);
            let engine = test_support::engine(communes(11), official(11));
            let all: Vec<usize> = (0..engine.data.communes.len()).collect();
            let index = ListIndex::new(&engine, &KIND, &sites, &all);
            let run = |e: &Engine, list: Option<(&ListIndex, FacilityChoice)>| {
                e.accessibility_with_list(&profile, None, None, DistanceModel::Straight, None, list)
                    .unwrap()
            };
            let got = run(&engine, Some((&index, choice)));
            let mut facilities = as_facilities(&sites);
            if choice == FacilityChoice::Both {
                facilities.extend(official(11));
            }
            let want = run(&test_support::engine(communes(11), facilities), None);
            assert_eq!(got.counts, want.counts, "{choice}");
            for (&g, &w) in got.values.iter().zip(&want.values) {
                close_to(g, w);
            }
            assert_eq!(got.sites[0].id, "liste:l1:2");

            // Closing the first listed site.
            let close = [Change::Remove {
                id: "liste:l1:2".into(),
            }];
            let delta = engine
                .scenario_accessibility_with_list(&KIND, &close, &got, None, Some((&index, choice)))
                .unwrap();
            let rest = ListIndex::new(&engine, &KIND, &sites[1..], &all);
            let without = run(&engine, Some((&rest, choice)));
            for c in &delta.communes {
                close_to(c.after, without.values[index_of(&engine, &c.code)]);
            }
        }
    }
}

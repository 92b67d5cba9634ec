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

use serde::Serialize;

use crate::geodesy::GeoPoint;
use crate::index::PointIndex;
use crate::model::{Kind, Territory};

use super::coverage::{Coverage, Threshold};
use super::distance::{DistanceModel, Trip};
use super::engine::{Engine, Zone};
use super::nearest::{CommuneNearest, NoNearest};

/// Which structures an analysis uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// official per-commune nearest (the baseline). Other communes keep the official
    /// answer; the second vector gives, per commune, the list site that is its nearest.
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
            let found = self
                .nearest_with_list(&q, kind, 1, list, choice, Some(c))
                .into_iter()
                .next();
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

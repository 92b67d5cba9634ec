//! Accessibility (2SFCA) deltas of a scenario, from the changed sites' catchments only.
//!
//! A site's ratio `R_j = result_scale × S_j / D_j`, with `D_j = Σ_k w(d_kj)·P_k`, depends
//! on its own catchment alone, and a scenario does not change the demand. So a change to
//! one site changes that site's ratio only, and the accessibility
//! `A_i = Σ_j w(d_ij)·R_j` of the communes in its catchment only:
//!
//! ```text
//! added site n      ΔA_i =  w_in · R_n                           (one R-tree query)
//! removed site j    ΔA_i = −w_ij · R_j                           (its baseline pairs)
//! resized site j    ΔA_i =  w_ij · result_scale × (S'_j − S_j) / D_j
//! ```
//!
//! The deltas are computed against a baseline [`Accessibility`] (as nearest deltas are
//! against a baseline [`CommuneNearest`](super::nearest::CommuneNearest) list): no national
//! recomputation. The value after is not the value before plus the deltas: each affected
//! commune's sum is redone term by term, in the baseline's order, with the changed
//! ratios, so a commune that loses its only site gets exactly 0 (not a rounding residue)
//! and `delta = after − before`. A property test checks the result against a full
//! [`Engine::accessibility`] on the changed data.
//!
//! Rules, with the profile's per-site supply:
//! - `capacity`: an added site needs a capacity ([`ScenarioError::MissingCapacity`],
//!   never a silent 0); a resize sets the new capacity; a structure the baseline left out
//!   for lack of a capacity joins with its new one (its catchment is searched like an
//!   added site's).
//! - `sites`: every site counts 1, so an added site's capacity is ignored and a resize
//!   changes nothing (said in [`AccessibilityDelta::notes`]).
//! - An id both removed and resized is removed; of several resizes, the last wins.
//! - An added site lies in no commune: with the `matrix` model its minutes are the
//!   estimate, as for any facility without a commune in a full run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{InseeCode, Kind, TerritoryType};

use crate::analysis::change::{Change, Resolved, ScenarioError, Target};
use crate::analysis::distance::{DistanceModel, TravelMatrix};
use crate::analysis::engine::Engine;
use crate::analysis::listed::{FacilityChoice, ListIndex};
use crate::model::{Demand, Supply, SupplySource};

use super::aggregate::{AGGREGATE_WEIGHTING, AccessSummary};
use super::catchment::{Measure, PairRule};
use super::missing::{Missing, MissingReason, Unknowns};
use super::{Accessibility, Pair};

/// How a changed site's accessibility terms are recomputed.
pub const DELTA_FORMULA: &str = "ajout : ΔA_i = w_in·R_n ; fermeture : ΔA_i = −w_ij·R_j ; capacité : ΔA_i = w_ij·result_scale·(S'_j − S_j)/D_j (D_j = Σ_k w(d_kj)·P_k, inchangé : la demande ne change pas)";

/// What a scenario does to one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteOp {
    Add,
    Remove,
    Resize,
}

/// A site whose ratio the scenario changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteDelta {
    /// Index of the change (for a structure resized several times, the last one).
    pub change: usize,
    pub op: SiteOp,
    /// Facility id, or `scenario:<change number>` for an added site.
    pub id: String,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    /// `S_j` before; `None` for an added site, or a structure without a known supply.
    pub supply_before: Option<f64>,
    /// `S_j` after; `None` when removed.
    pub supply_after: Option<f64>,
    /// `D_j = Σ_k w(d_kj)·P_k`, the demand sharing the site (unchanged by the scenario).
    pub demand_in_catchment: f64,
    /// Communes of its catchment whose demand is unknown (its ratio is then unknown).
    pub communes_without_demand: u32,
    /// `R_j` before (`None`: added, no known supply, demand not known in full, or no
    /// demand in its catchment).
    pub ratio_before: Option<f64>,
    /// `R_j` after (`None`: removed, or as before).
    pub ratio_after: Option<f64>,
    /// Communes with demand in the catchment.
    pub communes_reached: usize,
}

/// The accessibility of one commune before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommuneAccessDelta {
    pub code: String,
    pub nom: String,
    /// Population municipale.
    pub population: u32,
    /// `A_i` before, in the profile's unit (`None`: unknown, see `missing_before`).
    pub before: Option<f64>,
    /// `A_i` after (`None`: unknown, see `missing_after`).
    pub after: Option<f64>,
    /// `after − before`, when both are known.
    pub delta: Option<f64>,
    pub missing_before: Option<Missing>,
    pub missing_after: Option<Missing>,
}

/// The accessibility of a territory touched by the scenario, before and after (every
/// member commune counts, not only the changed ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerritoryAccessDelta {
    pub territory_type: TerritoryType,
    pub code: String,
    pub name: String,
    /// Member communes.
    pub communes: usize,
    /// Member communes in a changed site's catchment.
    pub communes_changed: usize,
    /// Population municipale of the members.
    pub population: u64,
    pub before: AccessSummary,
    pub after: AccessSummary,
    /// `after.mean − before.mean`.
    pub delta_mean: Option<f64>,
}

/// The accessibility side of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessibilityDelta {
    /// Profile id (`geodata/accessibility.toml`).
    pub profile: String,
    pub title: String,
    /// Unit of `A_i`.
    pub unit_label: String,
    /// Supply of the baseline run (kind and per-site rule).
    pub supply: SupplySource,
    pub demand: Demand,
    pub model: DistanceModel,
    /// What the steps measured.
    pub measure: &'static str,
    pub caveat: Option<String>,
    pub formula: &'static str,
    /// How the territory means are weighted.
    pub weighting: &'static str,
    /// Sites whose ratio changes, in change order.
    pub sites: Vec<SiteDelta>,
    /// Communes in a changed site's catchment, largest `|delta| × population` first.
    pub communes: Vec<CommuneAccessDelta>,
    /// Départements, régions, EPCI and CLS perimeters with a commune in `communes`.
    pub territories: Vec<TerritoryAccessDelta>,
    /// Changes that leave the accessibility as it is, and why.
    pub notes: Vec<String>,
}

/// A site that is not in the baseline, after its catchment search.
struct NewSite {
    pairs: Vec<Pair>,
    ratio: Option<f64>,
    /// Its ratio is known (its whole demand is).
    known: bool,
}

/// A baseline site after the scenario.
#[derive(Clone, Copy)]
struct After {
    removed: bool,
    ratio: Option<f64>,
    /// Its terms are known (a known supply, its whole demand known).
    known: bool,
    /// Its supply is known (an unknown site is counted by its supply first, as in
    /// [`Engine::accessibility`]).
    supply_known: bool,
}

impl Engine {
    /// The accessibility deltas of `changes` to the structures of `kind`, against
    /// `baseline` (from [`Engine::accessibility`] with a profile whose supply is that
    /// kind); the caller puts the result beside the nearest deltas of the scenario
    /// (`ScenarioResult::accessibility`). `matrix`: the travel-time table of the
    /// baseline, needed when it used the `matrix` model.
    ///
    /// # Errors
    ///
    /// The errors of the change checks for bad changes; [`ScenarioError::ProfileKind`]
    /// when the baseline's supply is not `kind`; [`ScenarioError::MissingCapacity`] for
    /// an added site without capacity under a capacity supply;
    /// [`ScenarioError::MatrixMissing`].
    pub fn scenario_accessibility(
        &self,
        kind: &Kind,
        changes: &[Change],
        baseline: &Accessibility,
        matrix: Option<&TravelMatrix>,
    ) -> Result<AccessibilityDelta, ScenarioError> {
        self.scenario_accessibility_with_list(kind, changes, baseline, matrix, None)
    }

    /// [`Engine::scenario_accessibility`] against a baseline computed with a planner's
    /// list ([`Engine::accessibility_with_list`], the same list and choice): changes
    /// may close or resize the list's structures by their `liste:` ids.
    pub fn scenario_accessibility_with_list(
        &self,
        kind: &Kind,
        changes: &[Change],
        baseline: &Accessibility,
        matrix: Option<&TravelMatrix>,
        list: Option<(&ListIndex, FacilityChoice)>,
    ) -> Result<AccessibilityDelta, ScenarioError> {
        let profile = &baseline.profile;
        let per_site = match &baseline.supply {
            SupplySource::Facilities { kind: k, per_site } if k == kind => *per_site,
            other => {
                return Err(ScenarioError::ProfileKind {
                    profile: profile.id.clone(),
                    supply: match other {
                        SupplySource::Facilities { kind: k, .. } => {
                            format!("the structures of kind {k}")
                        }
                        SupplySource::CommuneIndicator { commune_indicator } => {
                            format!("the commune indicator {commune_indicator:?}")
                        }
                    },
                    kind: kind.clone(),
                });
            }
        };
        if baseline.measure_kind() == Measure::MatrixMinutes && matrix.is_none() {
            return Err(ScenarioError::MatrixMissing);
        }
        let Resolved {
            removed,
            added,
            resized,
        } = self.resolve_changes(
            kind,
            changes,
            list.map(|(l, choice)| (l, choice != FacilityChoice::List)),
        )?;
        if per_site == Supply::Capacity
            && let Some(a) = added.iter().find(|a| a.capacity.is_none())
        {
            return Err(ScenarioError::MissingCapacity {
                change: a.change,
                profile: profile.id.clone(),
            });
        }

        let rule = PairRule {
            profile,
            measure: baseline.measure_kind(),
            road: self.road,
            matrix,
            communes: &self.data.communes,
            // New sites' pairs come from `commune_index`, communes with a point only: the
            // demand taking part is the valid demand.
            active: &baseline.demand_values,
            uncounted: &baseline.uncounted,
            zones: &self.commune_zone,
        };
        let ratio_of = |supply: f64, demand: f64| {
            (demand > 0.0).then(|| profile.result_scale * supply / demand)
        };
        let mut notes = Vec::new();
        let mut sites = Vec::new();
        // Baseline sites the scenario changes, and their state after.
        let mut changed: BTreeMap<usize, After> = BTreeMap::new();
        let mut new_sites: Vec<NewSite> = Vec::new();
        let site_of = |target: Target| match target {
            Target::Official(pos) => {
                baseline.site_of_facility(self.kinds.get(kind)?.facilities[pos])
            }
            Target::Listed(i) => baseline.site_of_listed(i),
        };
        let delta_of =
            |change: usize, op: SiteOp, j: usize, after: Option<f64>, ratio: Option<f64>| {
                let site = &baseline.sites[j];
                SiteDelta {
                    change,
                    op,
                    id: site.id.clone(),
                    name: site.name.clone(),
                    lon: site.lon,
                    lat: site.lat,
                    supply_before: site.supply,
                    supply_after: after,
                    demand_in_catchment: site.demand_in_catchment,
                    communes_without_demand: site.communes_without_demand,
                    ratio_before: site.ratio,
                    ratio_after: ratio,
                    communes_reached: site.communes_reached,
                }
            };

        for (&target, &change) in &removed {
            let Some(j) = site_of(target) else {
                continue;
            };
            changed.insert(
                j,
                After {
                    removed: true,
                    ratio: None,
                    known: true,
                    supply_known: true,
                },
            );
            sites.push(delta_of(change, SiteOp::Remove, j, None, None));
        }
        for (&target, &(change, capacity)) in &resized {
            let Some(j) = site_of(target) else {
                continue;
            };
            let facility = &baseline.sites[j];
            if removed.contains_key(&target) {
                notes.push(format!(
                    "change {change}: {} is also closed: the closure wins",
                    facility.id
                ));
                continue;
            }
            if per_site == Supply::Sites {
                notes.push(format!(
                    "change {change}: profile {:?} counts each site as 1, not its capacity: resizing {} changes no accessibility",
                    profile.id, facility.id
                ));
                continue;
            }
            let site = &baseline.sites[j];
            let supply = capacity * profile.supply_scale;
            let known = site.communes_without_demand == 0;
            let ratio = ratio_of(supply, site.demand_in_catchment).filter(|_| known);
            changed.insert(
                j,
                After {
                    removed: false,
                    ratio,
                    known,
                    supply_known: true,
                },
            );
            sites.push(delta_of(change, SiteOp::Resize, j, Some(supply), ratio));
        }
        for a in &added {
            let raw = match per_site {
                Supply::Sites => 1.0,
                // Checked above: every added site has a capacity.
                Supply::Capacity => a.capacity.unwrap_or_default(),
            };
            let supply = raw * profile.supply_scale;
            let no_code: Option<&InseeCode> = None;
            let zone = self.zone_at(&a.point);
            let (pairs, demand, unknown) =
                self.new_site_pairs(&rule, baseline.search_radius_m, &a.point, no_code, zone);
            let known = unknown == 0;
            let ratio = ratio_of(supply, demand).filter(|_| known);
            sites.push(SiteDelta {
                change: a.change,
                op: SiteOp::Add,
                id: format!("scenario:{}", a.change + 1),
                name: a.name.clone(),
                lon: a.point.lon,
                lat: a.point.lat,
                supply_before: None,
                supply_after: Some(supply),
                demand_in_catchment: demand,
                communes_without_demand: unknown,
                ratio_before: None,
                ratio_after: ratio,
                communes_reached: pairs.len(),
            });
            new_sites.push(NewSite {
                pairs,
                ratio,
                known,
            });
        }
        sites.sort_by_key(|s| s.change);

        // The communes in a changed catchment, and the terms of the new sites.
        let mut extra: BTreeMap<usize, (f64, u32)> = BTreeMap::new();
        for &j in changed.keys() {
            for p in baseline.pairs_of_site(j) {
                extra.entry(p.commune as usize).or_default();
            }
        }
        for s in &new_sites {
            let r = s.ratio.unwrap_or(0.0);
            for p in &s.pairs {
                let e = extra.entry(p.commune as usize).or_default();
                e.0 += baseline.weight(p) * r;
                if !s.known {
                    e.1 += 1;
                }
            }
        }
        // A_i after, term by term in the baseline's order, then the new sites' terms;
        // unknown when a term is.
        let mut after: BTreeMap<usize, Option<f64>> = BTreeMap::new();
        let mut communes = Vec::with_capacity(extra.len());
        for (&i, &(added_terms, added_unknown)) in &extra {
            let missing_before = baseline.missing(i);
            // A value the scenario cannot give: no point, no demand, no list there.
            if missing_before.is_some_and(|m| {
                !matches!(
                    m.reason,
                    MissingReason::SitesWithoutSupply | MissingReason::NeighbourDemandUnknown
                )
            }) {
                continue;
            }
            let mut a = 0.0;
            let mut unknowns = Unknowns {
                without_supply: 0,
                demand_incomplete: added_unknown,
            };
            for (j, p) in baseline.pairs_of_commune(i) {
                let site = &baseline.sites[j];
                let state = changed.get(&j).copied().unwrap_or(After {
                    removed: false,
                    ratio: site.ratio,
                    known: site.is_known(),
                    supply_known: site.supply.is_some(),
                });
                if state.removed {
                    continue;
                }
                if !state.supply_known {
                    unknowns.without_supply += 1;
                } else if !state.known {
                    unknowns.demand_incomplete += 1;
                }
                a += baseline.weight(p) * state.ratio.unwrap_or(0.0);
            }
            a += added_terms;
            let missing_after = unknowns.missing();
            let value_after = missing_after.is_none().then_some(a);
            let before = baseline.value(i);
            after.insert(i, value_after);
            if before == value_after && missing_before == missing_after {
                continue;
            }
            let c = &self.data.communes[i];
            communes.push(CommuneAccessDelta {
                code: c.code.to_string(),
                nom: c.name.clone(),
                population: c.population,
                before,
                after: value_after,
                delta: value_after.zip(before).map(|(a, b)| a - b),
                missing_before,
                missing_after,
            });
        }
        communes.sort_by(|a, b| {
            let weight = |c: &CommuneAccessDelta| {
                c.delta.map_or(f64::INFINITY, f64::abs) * f64::from(c.population)
            };
            weight(b)
                .total_cmp(&weight(a))
                .then_with(|| a.code.cmp(&b.code))
        });

        // Territories: every member counts, the changed ones with their value after.
        let index = self.territory_index();
        let mut touched: BTreeMap<(TerritoryType, &str), (usize, usize)> = BTreeMap::new();
        for &i in after.keys() {
            for &t in index.of_commune(i) {
                touched
                    .entry((index.kind(t), index.code(t)))
                    .or_insert((t, 0))
                    .1 += 1;
            }
        }
        let value_after = |i: usize| match after.get(&i) {
            Some(v) => *v,
            None => baseline.value(i),
        };
        let territories = touched
            .into_values()
            .map(|(t, communes_changed)| {
                let members = index.members(t);
                let before =
                    self.totals(baseline, members, f64::NEG_INFINITY, |i| baseline.value(i));
                let after = self.totals(baseline, members, f64::NEG_INFINITY, value_after);
                TerritoryAccessDelta {
                    territory_type: index.kind(t),
                    code: index.code(t).to_owned(),
                    name: index.name(t).to_owned(),
                    communes: members.len(),
                    communes_changed,
                    population: before.population,
                    delta_mean: after.mean().zip(before.mean()).map(|(a, b)| a - b),
                    before: AccessSummary::from(&before),
                    after: AccessSummary::from(&after),
                }
            })
            .collect();

        Ok(AccessibilityDelta {
            profile: profile.id.clone(),
            title: profile.title.clone(),
            unit_label: baseline.unit_label.clone(),
            supply: baseline.supply.clone(),
            demand: baseline.demand,
            model: baseline.model,
            measure: baseline.measure,
            caveat: baseline.caveat.clone(),
            formula: DELTA_FORMULA,
            weighting: AGGREGATE_WEIGHTING,
            sites,
            communes,
            territories,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Commune, Facility, StepUnit};
    use crate::test_support::{self, ehpad_profile as profile, engine};
    use proptest::prelude::*;

    /// A commune in one of two EPCI (by the parity of its population).
    fn commune(code: &str, lon: f64, lat: f64, population: u32) -> Commune {
        let epci = if population % 2 == 0 {
            "200000001"
        } else {
            "200000002"
        };
        Commune {
            epci: Some(epci.to_owned()),
            ..test_support::commune(code, lon, lat, population)
        }
    }

    fn ehpad(id: &str, lon: f64, lat: f64, capacity: Option<f64>) -> Facility {
        test_support::facility(id, Kind::Ehpad, lon, lat, capacity)
    }

    fn add(lon: f64, lat: f64, capacity: Option<f64>) -> Change {
        Change::Add {
            lon,
            lat,
            name: None,
            capacity,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
    }

    /// Three communes on the meridian 0° (1° of latitude ≈ 111.2 km), one EHPAD at A,
    /// steps: weight 1 to 5 km, 1/2 to 15 km; demand = population.
    ///
    /// ```text
    /// A (46.00°N, 1,000 inh.)  B (46.05°N, 5.56 km from A, 1,800 inh.)  C (46.20°N, 400 inh.)
    /// S1 at A, 38 places: D_1 = 1,000 + ½·1,800 = 1,900, R_1 = 0.02
    ///   → A = 0.02, B = ½·0.02 = 0.01, C = 0 (22 km: out of reach)
    /// add N at C with 6 places: D_N = 400 (B is 16.7 km away), R_N = 0.015 → ΔC = +0.015
    /// resize S1 to 57 places: R_1 = 57 / 1,900 = 0.03 → ΔA = +0.01, ΔB = +0.005
    /// département mean (population weights, no standardised population):
    ///   before (0.02·1000 + 0.01·1800 + 0)/3200 = 0.011875
    ///   after  (0.03·1000 + 0.015·1800 + 0.015·400)/3200 = 0.0196875
    /// ```
    #[test]
    fn hand_worked_add_and_resize() {
        let e = engine(
            vec![
                commune("79001", 0.0, 46.0, 1_000),
                commune("79002", 0.0, 46.05, 1_800),
                commune("79003", 0.0, 46.2, 400),
            ],
            vec![ehpad("S1", 0.0, 46.0, Some(38.0))],
        );
        let p = profile(
            StepUnit::Km,
            &[(5.0, 1.0), (15.0, 0.5)],
            Supply::Capacity,
            Demand::Population,
        );
        let base = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        assert!(close(base.values[0].unwrap(), 0.02));
        let changes = [
            add(0.0, 46.2, Some(6.0)),
            Change::Resize {
                id: "S1".into(),
                capacity: 57.0,
            },
        ];
        let d = e
            .scenario_accessibility(&Kind::Ehpad, &changes, &base, None)
            .unwrap();
        let got: Vec<(&str, f64, f64, f64)> = d
            .communes
            .iter()
            .map(|c| {
                (
                    c.code.as_str(),
                    c.before.unwrap(),
                    c.after.unwrap(),
                    c.delta.unwrap(),
                )
            })
            .collect();
        let want = [
            ("79001", 0.02, 0.03, 0.01),
            ("79002", 0.01, 0.015, 0.005),
            ("79003", 0.0, 0.015, 0.015),
        ];
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert!(
                close(g.1, w.1) && close(g.2, w.2) && close(g.3, w.3),
                "{g:?} vs {w:?}"
            );
        }
        assert_eq!(d.sites.len(), 2);
        assert_eq!(
            (d.sites[0].op, d.sites[0].id.as_str()),
            (SiteOp::Add, "scenario:1")
        );
        assert!(close(d.sites[0].demand_in_catchment, 400.0));
        assert!(close(d.sites[0].ratio_after.unwrap(), 0.015));
        assert_eq!(d.sites[1].op, SiteOp::Resize);
        assert!(close(d.sites[1].ratio_before.unwrap(), 0.02));
        assert!(close(d.sites[1].ratio_after.unwrap(), 0.03));
        let dep = d
            .territories
            .iter()
            .find(|t| t.territory_type == TerritoryType::Departement)
            .unwrap();
        assert_eq!((dep.communes, dep.communes_changed), (3, 3));
        assert!(close(dep.before.mean.unwrap(), 0.011875));
        assert!(close(dep.after.mean.unwrap(), 0.0196875));
        assert!(close(dep.delta_mean.unwrap(), 0.0196875 - 0.011875));
        assert!(d.notes.is_empty());

        // Closing S1: A and B fall to exactly 0.
        let d = e
            .scenario_accessibility(
                &Kind::Ehpad,
                &[Change::Remove { id: "S1".into() }],
                &base,
                None,
            )
            .unwrap();
        assert_eq!(d.communes.len(), 2);
        assert!(d.communes.iter().all(|c| c.after == Some(0.0)));

        // The serialised shape the API returns.
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["profile"], "test");
        assert_eq!(json["supply"]["per_site"], "capacity");
        assert_eq!(json["sites"][0]["op"], "remove");
        assert!(json["communes"][0]["delta"].is_number());
    }

    #[test]
    fn capacity_supply_needs_a_capacity() {
        let e = engine(
            vec![commune("79001", 0.0, 46.0, 1_000)],
            vec![ehpad("S1", 0.0, 46.0, Some(38.0))],
        );
        let p = profile(
            StepUnit::Km,
            &[(15.0, 1.0)],
            Supply::Capacity,
            Demand::Population,
        );
        let base = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        let err = e
            .scenario_accessibility(&Kind::Ehpad, &[add(0.0, 46.0, None)], &base, None)
            .unwrap_err();
        assert!(
            matches!(err, ScenarioError::MissingCapacity { change: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("capacity"));
        // Counting sites, the same change is fine and a resize is a no-op, said so.
        let sites = e
            .accessibility(&p, Some(Supply::Sites), None, DistanceModel::Straight, None)
            .unwrap();
        let resize = Change::Resize {
            id: "S1".into(),
            capacity: 90.0,
        };
        let d = e
            .scenario_accessibility(&Kind::Ehpad, &[add(0.0, 46.0, None), resize], &sites, None)
            .unwrap();
        assert_eq!(d.sites.len(), 1);
        assert_eq!(d.notes.len(), 1);
        assert!(close(d.communes[0].after.unwrap(), 2.0 / 1_000.0));
        // Another kind's scenario cannot use this baseline.
        assert!(matches!(
            e.scenario_accessibility(&Kind::Msp, &[add(0.0, 46.0, None)], &base, None),
            Err(ScenarioError::ProfileKind { .. })
        ));
    }

    /// A site without capacity whose catchment also lacks a demand is counted by its
    /// capacity, after a change as before (`sites_sans_capacite:1` both times).
    #[test]
    fn unknown_sites_are_counted_by_supply_first_after_a_change() {
        let mut e = engine(
            vec![
                commune("79001", 0.0, 46.0, 1_000),
                commune("79002", 0.0, 46.05, 1_800),
                commune("79003", 0.0, 46.1, 400),
            ],
            // S2 is out of everyone's reach.
            vec![
                ehpad("S1", 0.0, 46.0, None),
                ehpad("S2", 0.0, 47.0, Some(5.0)),
            ],
        );
        let demand = vec![Some(1_000.0), Some(1_800.0), None];
        e.data
            .indicators
            .numeric
            .insert(crate::model::STANDARDISED_INDICATOR.to_owned(), demand);
        let p = profile(
            StepUnit::Km,
            &[(15.0, 1.0)],
            Supply::Capacity,
            Demand::Population,
        );
        let std = Some(Demand::Standardised);
        let base = e
            .accessibility(&p, None, std, DistanceModel::Straight, None)
            .unwrap();
        let without_capacity = Missing::sites(MissingReason::SitesWithoutSupply, 1);
        assert_eq!(base.missing(0), Some(without_capacity));
        let d = e
            .scenario_accessibility(&Kind::Ehpad, &[add(0.0, 46.05, Some(10.0))], &base, None)
            .unwrap();
        // A and B still lack S1's capacity, for the same reason: nothing changes for them
        // (the new site, whose catchment lacks C's demand, is unknown too, but a site
        // without capacity is named first).
        assert!(
            d.communes.iter().all(|c| c.code == "79003"),
            "{:?}",
            d.communes
        );
    }

    /// Communes over about 45 × 55 km (some without point), EHPAD with capacities (some
    /// without).
    fn random_case(seed: u64) -> (Vec<Commune>, Vec<Facility>) {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut r = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let communes = (0..150)
            .map(|i| {
                let mut c = commune(
                    &format!("79{:03}", i + 1),
                    -0.6 + 0.6 * r(),
                    46.5 + 0.5 * r(),
                    (r() * 5_000.0) as u32,
                );
                if r() < 0.05 {
                    c.ref_point = None;
                }
                c
            })
            .collect();
        let facilities = (0..25)
            .map(|j| {
                let cap = (r() >= 0.15).then(|| (1.0 + 99.0 * r()).round());
                ehpad(&format!("F{j:03}"), -0.6 + 0.6 * r(), 46.5 + 0.5 * r(), cap)
            })
            .collect();
        (communes, facilities)
    }

    /// The facilities with the changes applied, as a full run would see them.
    fn apply(facilities: &[Facility], changes: &[Change]) -> Vec<Facility> {
        let mut f = facilities.to_vec();
        let removed: Vec<&String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Remove { id } => Some(id),
                _ => None,
            })
            .collect();
        for (i, c) in changes.iter().enumerate() {
            match c {
                Change::Add {
                    lon, lat, capacity, ..
                } => f.push(ehpad(&format!("scenario:{}", i + 1), *lon, *lat, *capacity)),
                Change::Resize { id, capacity } if !removed.contains(&id) => {
                    for x in f.iter_mut().filter(|x| &x.id == id) {
                        x.capacity = Some(*capacity);
                    }
                }
                _ => {}
            }
        }
        f.retain(|x| !removed.contains(&&x.id));
        f
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Deltas from the changed catchments equal a full recomputation on the changed
        /// data, for additions, closures and resizes (of sites, and of structures left
        /// out for lack of a capacity), with km or minute steps and either supply.
        #[test]
        fn deltas_equal_full_recomputation(
            seed in 1u64..100_000,
            adds in proptest::collection::vec((-0.6f64..0.0, 46.5f64..47.0, 1.0f64..120.0), 0..3),
            removes in proptest::collection::btree_set(0usize..25, 0..3),
            resizes in proptest::collection::vec((0usize..25, 0.0f64..150.0), 0..3),
            minutes in any::<bool>(),
            count_sites in any::<bool>(),
        ) {
            let (communes, facilities) = random_case(seed);
            let per_site = if count_sites { Supply::Sites } else { Supply::Capacity };
            let (unit, model) = if minutes {
                (StepUnit::Minutes, DistanceModel::RoadEstimate)
            } else {
                (StepUnit::Km, DistanceModel::Straight)
            };
            let mut p = profile(unit, &[(5.0, 1.0), (10.0, 2.0 / 3.0), (15.0, 1.0 / 3.0)], per_site, Demand::Population);
            p.result_scale = 100_000.0;
            let mut changes: Vec<Change> = adds.iter().map(|&(lon, lat, cap)| add(lon, lat, Some(cap))).collect();
            changes.extend(removes.iter().map(|j| Change::Remove { id: format!("F{j:03}") }));
            changes.extend(resizes.iter().map(|&(j, capacity)| Change::Resize { id: format!("F{j:03}"), capacity }));

            let e = engine(communes.clone(), facilities.clone());
            let base = e.accessibility(&p, None, None, model, None).unwrap();
            let d = e.scenario_accessibility(&Kind::Ehpad, &changes, &base, None).unwrap();

            let full_engine = engine(communes, apply(&facilities, &changes));
            let full = full_engine.accessibility(&p, None, None, model, None).unwrap();
            let listed: BTreeMap<&str, &CommuneAccessDelta> = d.communes.iter().map(|c| (c.code.as_str(), c)).collect();
            for (i, c) in e.data.communes.iter().enumerate() {
                let want = full.values[i];
                match listed.get(c.code.as_str()) {
                    Some(x) => {
                        prop_assert_eq!(base.values[i], x.before);
                        match (x.after, want) {
                            (Some(a), Some(b)) => prop_assert!(close(a, b), "{}: {} vs full {}", c.code, a, b),
                            (a, b) => prop_assert_eq!(a, b, "{}", c.code),
                        }
                        prop_assert_eq!(x.delta, x.after.zip(x.before).map(|(a, b)| a - b));
                        prop_assert_eq!(x.missing_after, full.missing[i], "{}", c.code);
                    }
                    None => match (base.values[i], want) {
                        (Some(a), Some(b)) => prop_assert!(close(a, b), "{} unlisted: {} vs full {}", c.code, a, b),
                        (a, b) => prop_assert_eq!(a, b),
                    },
                }
            }
            // Ratios of the added sites.
            for s in d.sites.iter().filter(|s| s.op == SiteOp::Add) {
                let f = full.sites.iter().find(|x| x.id == s.id).unwrap();
                prop_assert!(close(s.demand_in_catchment, f.demand_in_catchment));
                match (s.ratio_after, f.ratio) {
                    (Some(a), Some(b)) => prop_assert!(close(a, b)),
                    (a, b) => prop_assert_eq!(a, b),
                }
            }
            // Territory means after = the aggregate of the full run.
            let dep = e.data.territory(TerritoryType::Departement, "79").unwrap();
            if let Some(t) = d.territories.iter().find(|t| t.territory_type == TerritoryType::Departement) {
                let agg = full_engine.aggregate(&full, dep, 0.0);
                match (t.after.mean, agg.mean) {
                    (Some(a), Some(b)) => prop_assert!(close(a, b), "{} vs {}", a, b),
                    (a, b) => prop_assert_eq!(a, b),
                }
                prop_assert_eq!(t.before.mean, e.aggregate(&base, dep, 0.0).mean);
            } else {
                prop_assert!(d.communes.is_empty());
            }
        }
    }
}

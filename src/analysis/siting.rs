//! Siting: where would k new structures cover the most people? Greedy maximal coverage
//! (each pick takes the candidate that brings the most not-yet-covered population
//! within the threshold), candidates being the chefs-lieux of the territory's communes.
//!
//! Greedy maximal coverage is within 1 − 1/e of the optimum and, more usefully here,
//! gives a ranked list where each pick's marginal gain is explicit.

use serde::Serialize;

use crate::model::{Kind, Territory};

use super::cancel::{Cancel, Cancelled};
use super::coverage::{Threshold, share};
use super::distance::{DistanceModel, Trip};
use super::engine::Engine;
use super::nearest::CommuneNearest;
use super::request::MAX_SITING_K;
use super::scenario::Before;

/// One suggested site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    pub rank: usize,
    /// The commune whose chef-lieu is the candidate point.
    pub code: String,
    pub nom: String,
    pub lon: f64,
    pub lat: f64,
    /// Population newly within the threshold thanks to this pick.
    pub marginal_population: u64,
    /// Communes newly covered.
    pub communes_covered: usize,
    /// Share of the territory's population within the threshold after this pick, 0–1.
    pub share_within_after: Option<f64>,
}

/// Ranked suggestions for a territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Siting {
    pub territory_code: String,
    pub territory_name: String,
    pub kind: Kind,
    pub model: DistanceModel,
    pub threshold: Threshold,
    /// Population of the member communes where the kind's list speaks: gains and shares
    /// count these only.
    pub population: u64,
    pub share_within_before: Option<f64>,
    pub picks: Vec<Pick>,
    /// Member communes where the kind's list does not speak ("non couvert").
    pub communes_out_of_scope: usize,
    pub population_out_of_scope: u64,
}

impl Engine {
    /// Greedy choice of up to `k` new sites of `kind` in `territory`. Stops early when no
    /// candidate brings anyone new within the threshold.
    pub fn siting(
        &self,
        territory: &Territory,
        kind: &Kind,
        k: usize,
        threshold: Threshold,
        model: DistanceModel,
        baseline: &[CommuneNearest],
    ) -> Siting {
        let before = Before {
            nearest: baseline,
            list: None,
        };
        match self.siting_cancellable(territory, kind, k, threshold, model, before, &Cancel::new())
        {
            Ok(s) => s,
            // Nobody else holds the flag.
            Err(Cancelled) => unreachable!("a flag nobody holds was set"),
        }
    }

    /// [`Engine::siting`] from the structures `before` says (the build's, a planner's
    /// list, or both: where they do not speak a commune is "non couvert"), stopping with
    /// [`Cancelled`] once `cancel` is set (checked for every candidate, while candidates
    /// are gathered and at every pick).
    #[expect(clippy::too_many_arguments, reason = "siting's request and its flag")]
    pub fn siting_cancellable(
        &self,
        territory: &Territory,
        kind: &Kind,
        k: usize,
        threshold: Threshold,
        model: DistanceModel,
        before: Before<'_>,
        cancel: &Cancel,
    ) -> Result<Siting, Cancelled> {
        let baseline = before.nearest;
        let (all, _) = self.members(territory);
        let (members, outside): (Vec<usize>, Vec<usize>) =
            all.into_iter().partition(|&i| match before.list {
                Some((list, choice, _)) => self.speaks(kind, list, choice, i),
                None => self.data.in_scope(kind, i),
            });
        let pop = |list: &[usize]| -> u64 {
            list.iter()
                .map(|&i| u64::from(self.data.communes[i].population))
                .sum()
        };
        let population = pop(&members);
        let radius_m = match threshold {
            Threshold::Km(km) => km * 1_000.0,
            Threshold::Minutes(m) => self.road.straight_m_within_minutes(m),
        };
        let reaches = |d: f64| threshold.reached(Trip::estimate(&self.road, d));
        let in_territory: std::collections::HashSet<usize> = members.iter().copied().collect();
        let mut covered: Vec<bool> = vec![false; self.data.communes.len()];
        for &c in &members {
            covered[c] = baseline[c].trip.is_some_and(|t| reaches(t.distance_m));
        }
        let covered_pop = |covered: &[bool]| -> u64 {
            members
                .iter()
                .filter(|&&c| covered[c])
                .map(|&c| u64::from(self.data.communes[c].population))
                .sum()
        };
        let before = covered_pop(&covered);
        // Candidate c covers the territory's communes within the threshold of its point.
        let mut candidates: Vec<(usize, Vec<usize>)> = Vec::with_capacity(members.len());
        for &c in &members {
            cancel.check()?;
            let Some(p) = self.commune_points[c] else {
                continue;
            };
            let zone = self.commune_zone[c];
            let mut reach: Vec<usize> = self
                .commune_index()
                .within(&p, radius_m)
                .filter(|h| reaches(h.distance_m))
                .map(|h| self.commune_ids[h.index])
                .filter(|m| in_territory.contains(m) && self.commune_zone[*m] == zone)
                .collect();
            reach.sort_unstable();
            candidates.push((c, reach));
        }
        let mut picks = Vec::new();
        for rank in 1..=k.min(MAX_SITING_K) {
            cancel.check()?;
            let gain = |reach: &[usize]| -> u64 {
                reach
                    .iter()
                    .filter(|&&m| !covered[m])
                    .map(|&m| u64::from(self.data.communes[m].population))
                    .sum()
            };
            // Most population; ties: the lower INSEE code (candidates are in code order).
            let best = candidates
                .iter()
                .map(|(c, reach)| (gain(reach), *c, reach))
                .fold(None::<(u64, usize, &Vec<usize>)>, |b, x| match b {
                    Some(b) if b.0 >= x.0 => Some(b),
                    _ => Some(x),
                });
            let Some((g, c, reach)) = best.filter(|b| b.0 > 0) else {
                break;
            };
            let newly = reach.iter().filter(|&&m| !covered[m]).count();
            for &m in reach {
                covered[m] = true;
            }
            let commune = &self.data.communes[c];
            let p = self.commune_points[c].map_or((0.0, 0.0), |p| (p.lon, p.lat));
            picks.push(Pick {
                rank,
                code: commune.code.to_string(),
                nom: commune.name.clone(),
                lon: p.0,
                lat: p.1,
                marginal_population: g,
                communes_covered: newly,
                share_within_after: share(covered_pop(&covered), population),
            });
        }
        Ok(Siting {
            territory_code: territory.code.clone(),
            territory_name: territory.name.clone(),
            kind: kind.clone(),
            model,
            threshold,
            population,
            share_within_before: share(before, population),
            picks,
            communes_out_of_scope: outside.len(),
            population_out_of_scope: pop(&outside),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TerritoryType;
    use crate::test_support::{commune, engine};

    /// Communes along a meridian, 1 km apart in latitude (≈111 km per degree).
    fn line(pops: &[u32]) -> Engine {
        let communes = pops
            .iter()
            .enumerate()
            .map(|(i, &population)| {
                commune(
                    &format!("79{:03}", i + 1),
                    0.0,
                    46.0 + i as f64 * 0.009,
                    population,
                )
            })
            .collect();
        engine(communes, Vec::new())
    }

    fn all(e: &Engine) -> Territory {
        Territory {
            kind: TerritoryType::Departement,
            code: "79".into(),
            name: "79".into(),
            communes: e.data.communes.iter().map(|c| c.code.clone()).collect(),
        }
    }

    #[test]
    fn greedy_picks_the_most_population_first_and_stops_when_nothing_is_left() {
        // Two clusters 10 km apart; 1.5 km threshold covers a commune and its neighbours.
        let mut pops = vec![10; 12];
        pops[1] = 500; // cluster A around commune 2
        pops[10] = 900; // cluster B around commune 11
        let e = line(&pops);
        let base = e.nearest_per_commune(&Kind::Msp, DistanceModel::Straight, None);
        let s = e.siting(
            &all(&e),
            &Kind::Msp,
            20,
            Threshold::Km(1.5),
            DistanceModel::Straight,
            &base,
        );
        assert_eq!(s.share_within_before, Some(0.0));
        // 79010, 79011 and 79012 each reach 920 people: ties go to the lower code.
        assert_eq!(s.picks[0].code, "79010");
        assert_eq!(s.picks[0].marginal_population, 10 + 900 + 10);
        assert_eq!(s.picks[1].code, "79002");
        let gained: u64 = s.picks.iter().map(|p| p.marginal_population).sum();
        assert_eq!(gained, pops.iter().map(|&p| u64::from(p)).sum::<u64>());
        assert!((s.picks.last().unwrap().share_within_after.unwrap() - 1.0).abs() < 1e-12);
        assert!(s.picks.len() < 12, "stops once everyone is covered");
    }
}

//! Tests of the 2SFCA: a hand-worked case, PySAL `access` on the same inputs, a brute
//! force, supply conservation, and the sums of the audit trail.

use std::path::Path;

use proptest::prelude::*;

use super::missing::MissingReason;
use super::*;
use crate::geodesy::geodesic_m;
use crate::model::{Commune, Facility, Kind, Step, Territory, TerritoryType};
// The shipped profiles and the PySAL fixture's profile file, read as the commands read them.
use crate::import::profiles::{builtin_profiles, profile_from_toml};
use crate::test_support::{commune, ehpad_profile as profile, engine, facility};

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Three communes and two EHPAD on the meridian 0.3° W (1° of latitude ≈ 111.1 km
/// at 45° N); steps: ≤ 10 km weight 1, ≤ 20 km weight 0.5.
///
/// ```text
///            lat     P / S    to S1 (45.02)       to S2 (45.20)
/// A         45.00    1000     2.2 km  → w 1       22.2 km → out
/// S1        45.02      10
/// B         45.10    2000     8.9 km  → w 1       11.1 km → w 0.5
/// S2        45.20      30
/// C         45.25     500    25.6 km  → out        5.6 km → w 1
///
/// Σ w·P at S1 = 1000 + 2000           = 3000   R1 = 10 / 3000 = 1/300
/// Σ w·P at S2 = 0.5 × 2000 + 500      = 1500   R2 = 30 / 1500 = 1/50
/// A_A = R1                            = 1/300  ≈ 0.003333
/// A_B = R1 + 0.5 × R2 = 1/300 + 1/100 = 4/300  ≈ 0.013333
/// A_C = R2                            = 1/50   = 0.02
/// check: Σ A·P = 1000/300 + 2000 × 4/300 + 500/50 = 40 = S1 + S2
/// ```
#[test]
fn hand_worked_three_communes_two_sites() {
    let e = engine(
        vec![
            commune("79001", -0.3, 45.00, 1000),
            commune("79002", -0.3, 45.10, 2000),
            commune("79003", -0.3, 45.25, 500),
        ],
        vec![
            facility("S1", Kind::Ehpad, -0.3, 45.02, Some(10.0)),
            facility("S2", Kind::Ehpad, -0.3, 45.20, Some(30.0)),
        ],
    );
    let p = profile(
        StepUnit::Km,
        &[(10.0, 1.0), (20.0, 0.5)],
        Supply::Capacity,
        Demand::Population,
    );
    let acc = e
        .accessibility(&p, None, None, DistanceModel::Straight, None)
        .unwrap();
    assert_eq!(acc.sites.len(), 2);
    assert_eq!(acc.sites[0].demand_in_catchment, 3000.0);
    assert_eq!(acc.sites[1].demand_in_catchment, 1500.0);
    assert!((acc.sites[0].ratio.unwrap() - 1.0 / 300.0).abs() < 1e-12);
    assert!((acc.sites[1].ratio.unwrap() - 1.0 / 50.0).abs() < 1e-12);
    let want = [1.0 / 300.0, 4.0 / 300.0, 1.0 / 50.0];
    for (i, w) in want.iter().enumerate() {
        assert!(
            (acc.values[i].unwrap() - w).abs() < 1e-12,
            "commune {i}: {:?} vs {w}",
            acc.values[i]
        );
    }
    assert_eq!(acc.counts.pairs, 4);
    assert_eq!(acc.counts.communes_with_value, 3);
    let total: f64 = (0..3)
        .map(|i| acc.values[i].unwrap() * acc.demand_values[i].unwrap())
        .sum();
    assert!((total - 40.0).abs() < 1e-12);
    // Explain B: S1 at weight 1, then S2 at weight 0.5.
    let x = e.explain(&acc, 1);
    assert_eq!(x.code, "79002");
    assert_eq!(x.contributions.len(), 2);
    assert_eq!(x.contributions[0].site_id, "S1");
    assert_eq!(x.contributions[0].weight, 1.0);
    assert_eq!(x.contributions[1].weight, 0.5);
    assert!(
        (x.contributions[1].distance_m - 11_120.0).abs() < 20.0,
        "{}",
        x.contributions[1].distance_m
    );
    assert_eq!(x.sum, acc.values[1].unwrap());
    assert_eq!(x.caveat.as_deref(), Some("données de test"));
}

fn read_fixture(name: &str) -> Vec<csv::StringRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/access")
        .join(name);
    csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(&path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Same fixture, same steps: PySAL `access` 1.1.10.post3 `two_stage_fca`
/// (benches/pysal_2sfca_reference.py).
#[test]
fn equals_pysal_access_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access");
    let text = std::fs::read_to_string(dir.join("profile.toml")).unwrap();
    let p = profile_from_toml("pysal", &text).unwrap();
    assert_eq!(p.steps[1].weight, 2.0 / 3.0);
    let communes: Vec<Commune> = read_fixture("demand.csv")
        .iter()
        .map(|r| {
            commune(
                &r[0],
                r[1].parse().unwrap(),
                r[2].parse().unwrap(),
                r[3].parse::<f64>().unwrap() as u32,
            )
        })
        .collect();
    let facilities: Vec<Facility> = read_fixture("supply.csv")
        .iter()
        .map(|r| {
            facility(
                &r[0],
                Kind::Ehpad,
                r[1].parse().unwrap(),
                r[2].parse().unwrap(),
                Some(r[3].parse().unwrap()),
            )
        })
        .collect();
    assert_eq!((communes.len(), facilities.len()), (31, 8));
    let e = engine(communes, facilities);
    let acc = e
        .accessibility(&p, None, None, DistanceModel::Straight, None)
        .unwrap();
    let expected = read_fixture("pysal_expected.csv");
    assert_eq!(expected.len(), 31);
    let mut worst = 0.0f64;
    for r in &expected {
        let i = e
            .data
            .commune_index(&InseeCode::parse(&r[0]).unwrap())
            .unwrap();
        let got = acc.values[i].unwrap();
        if r[1].is_empty() {
            assert_eq!(
                got, 0.0,
                "{}: PySAL has no value (no site within reach)",
                &r[0]
            );
        } else {
            let want: f64 = r[1].parse().unwrap();
            worst = worst.max(rel(got, want));
            assert!(rel(got, want) <= 1e-9, "{}: {got} vs PySAL {want}", &r[0]);
        }
    }
    assert!(worst <= 1e-12, "worst relative difference {worst}");
}

use crate::test_support::rng;

/// Communes over about 45 × 55 km, some without point or population; sites near
/// communes (`near`) or anywhere, some without capacity.
fn random_case(
    seed: u64,
    n_communes: usize,
    n_sites: usize,
    near: bool,
) -> (Vec<Commune>, Vec<Facility>) {
    let mut r = rng(seed);
    let communes: Vec<Commune> = (0..n_communes)
        .map(|i| {
            let mut c = commune(
                &format!("79{:03}", i + 1),
                -0.6 + 0.6 * r(),
                46.5 + 0.5 * r(),
                (r() * 5_000.0) as u32,
            );
            if !near && r() < 0.07 {
                c.ref_point = None;
            }
            c
        })
        .collect();
    let facilities = (0..n_sites)
        .map(|j| {
            let (lon, lat) = if near {
                let c = communes[(r() * n_communes as f64) as usize]
                    .ref_point
                    .unwrap();
                (c.x() + 0.002 * (r() - 0.5), c.y() + 0.002 * (r() - 0.5))
            } else {
                (-0.6 + 0.6 * r(), 46.5 + 0.5 * r())
            };
            let cap = if !near && r() < 0.1 {
                None
            } else {
                Some((1.0 + 99.0 * r()).round())
            };
            facility(&format!("F{j:03}"), Kind::Ehpad, lon, lat, cap)
        })
        .collect();
    (communes, facilities)
}

/// The 2SFCA by brute force over every commune × site, for km steps.
/// The 2SFCA by its definition, over every commune and site: a commune's value is unknown
/// when a facility without capacity lies in its catchment.
fn brute_force(e: &Engine, p: &Profile) -> Vec<Option<f64>> {
    let sites: Vec<(GeoPoint, Option<f64>)> = e
        .data
        .facilities
        .iter()
        .map(|f| (GeoPoint::from_point(f.position), f.capacity))
        .collect();
    let demand = |c: usize| e.commune_points[c].map(|_| f64::from(e.data.communes[c].population));
    let w = |a: &GeoPoint, b: &GeoPoint| p.step_of(geodesic_m(a, b) / 1_000.0).map_or(0.0, |s| s.1);
    let ratios: Vec<f64> = sites
        .iter()
        .map(|(s, cap)| {
            let d: f64 = (0..e.data.communes.len())
                .filter_map(|c| Some(w(s, &e.commune_points[c]?) * demand(c)?))
                .sum();
            match cap {
                Some(cap) if d > 0.0 => cap / d,
                _ => 0.0,
            }
        })
        .collect();
    (0..e.data.communes.len())
        .map(|c| {
            let pc = e.commune_points[c]?;
            demand(c)?;
            if sites
                .iter()
                .any(|(s, cap)| cap.is_none() && w(s, &pc) > 0.0)
            {
                return None;
            }
            Some(
                sites
                    .iter()
                    .zip(&ratios)
                    .map(|((s, _), r)| w(s, &pc) * r)
                    .sum(),
            )
        })
        .collect()
}

#[test]
fn equals_brute_force_and_is_deterministic() {
    for seed in [1u64, 7, 2026] {
        let (communes, facilities) = random_case(seed, 250, 40, false);
        let e = engine(communes, facilities);
        let p = profile(
            StepUnit::Km,
            &[(5.0, 1.0), (10.0, 2.0 / 3.0), (15.0, 1.0 / 3.0)],
            Supply::Capacity,
            Demand::Population,
        );
        let acc = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        let bf = brute_force(&e, &p);
        for (c, (a, b)) in acc.values.iter().zip(&bf).enumerate() {
            match (a, b) {
                (Some(a), Some(b)) => assert!(rel(*a, *b) < 1e-12, "commune {c}: {a} vs {b}"),
                _ => assert_eq!(a, b, "commune {c}"),
            }
        }
        assert!(acc.counts.sites_without_supply > 0 && acc.counts.communes_without_point > 0);
        let again = e
            .accessibility(&p, None, None, DistanceModel::Straight, None)
            .unwrap();
        assert_eq!(
            acc.values
                .iter()
                .map(|v| v.map(f64::to_bits))
                .collect::<Vec<_>>(),
            again
                .values
                .iter()
                .map(|v| v.map(f64::to_bits))
                .collect::<Vec<_>>()
        );
        assert_eq!(acc.pairs(), again.pairs());
    }
}

/// Sites whose window crosses the antimeridian go through the R-tree: same result.
#[test]
fn antimeridian_sites_equal_brute_force() {
    let mut r = rng(17);
    let communes: Vec<Commune> = (0..120)
        .map(|i| {
            let lon = 179.75 + 0.5 * r();
            let lon = if lon >= 180.0 { lon - 360.0 } else { lon };
            commune(
                &format!("98{i:03}"),
                lon,
                -14.3 + 0.3 * r(),
                100 + (r() * 900.0) as u32,
            )
        })
        .collect();
    let facilities: Vec<Facility> = (0..12)
        .map(|j| {
            let lon = 179.9 + 0.2 * r();
            let lon = if lon >= 180.0 { lon - 360.0 } else { lon };
            facility(
                &format!("W{j:02}"),
                Kind::Ehpad,
                lon,
                -14.3 + 0.3 * r(),
                Some(10.0 + j as f64),
            )
        })
        .collect();
    let e = engine(communes, facilities);
    let p = profile(
        StepUnit::Km,
        &[(5.0, 1.0), (10.0, 0.5), (20.0, 0.25)],
        Supply::Capacity,
        Demand::Population,
    );
    let acc = e
        .accessibility(&p, None, None, DistanceModel::Straight, None)
        .unwrap();
    let bf = brute_force(&e, &p);
    assert!(acc.counts.pairs > 300, "{}", acc.counts.pairs);
    for (c, (a, b)) in acc.values.iter().zip(&bf).enumerate() {
        assert!(
            rel(a.unwrap(), b.unwrap()) < 1e-12,
            "commune {c}: {a:?} vs {b:?}"
        );
    }
    assert_explain_sums_back(&e, &acc);
}

#[test]
fn minutes_steps_search_the_inverted_radius() {
    let (communes, facilities) = random_case(11, 300, 30, false);
    let e = engine(communes, facilities);
    let p = profile(
        StepUnit::Minutes,
        &[(10.0, 1.0), (15.0, 2.0 / 3.0), (20.0, 1.0 / 3.0)],
        Supply::Sites,
        Demand::Population,
    );
    let acc = e
        .accessibility(&p, None, None, DistanceModel::RoadEstimate, None)
        .unwrap();
    let r = acc.search_radius_m;
    assert!(
        e.road.car_minutes(r) > 20.0 && e.road.car_minutes(r - 0.01) <= 20.0,
        "radius {r}"
    );
    // Every pair whose estimated minutes are within 20, and only those.
    let mut want = 0;
    for f in &e.data.facilities {
        let s = GeoPoint::from_point(f.position);
        for (c, pt) in e.commune_points.iter().enumerate() {
            if let Some(pt) = pt
                && e.road.car_minutes(geodesic_m(&s, pt)) <= 20.0
                && acc.demand_values[c].is_some()
            {
                want += 1;
            }
        }
    }
    assert_eq!(acc.counts.pairs, want);
    assert_eq!(
        acc.counts.sites_without_supply, 0,
        "sites: every facility counts 1"
    );
    for p in acc.pairs() {
        assert_eq!(p.cost, e.road.car_minutes(p.distance_m));
        assert!(p.cost <= 20.0);
        let expected_step = [10.0, 15.0, 20.0]
            .iter()
            .position(|&u| p.cost <= u)
            .unwrap();
        assert_eq!(usize::from(p.step), expected_step);
    }
    // Road km steps invert road_km.
    let pk = profile(
        StepUnit::Km,
        &[(12.0, 1.0)],
        Supply::Sites,
        Demand::Population,
    );
    let acc = e
        .accessibility(&pk, None, None, DistanceModel::RoadEstimate, None)
        .unwrap();
    assert!((e.road.road_km(acc.search_radius_m) - 12.0).abs() < 1e-6);
    assert!(
        acc.pairs()
            .iter()
            .all(|p| e.road.road_km(p.distance_m) <= 12.0)
    );
    assert_eq!(acc.measure, "estimated road km");
}

#[test]
fn model_and_supply_choices() {
    let (communes, facilities) = random_case(3, 50, 10, false);
    let e = engine(communes, facilities);
    let km = profile(
        StepUnit::Km,
        &[(20.0, 1.0)],
        Supply::Capacity,
        Demand::Population,
    );
    let min = profile(
        StepUnit::Minutes,
        &[(20.0, 1.0)],
        Supply::Capacity,
        Demand::Population,
    );
    let err = e
        .accessibility(&km, None, None, DistanceModel::Matrix, None)
        .unwrap_err();
    assert!(matches!(err, FcaError::ModelUnit { .. }), "{err}");
    let err = e
        .accessibility(&min, None, None, DistanceModel::Straight, None)
        .unwrap_err();
    assert!(err.to_string().contains("road_estimate or matrix"), "{err}");
    let err = e
        .accessibility(&min, None, None, DistanceModel::Matrix, None)
        .unwrap_err();
    assert!(matches!(err, FcaError::MatrixMissing), "{err}");
    // Supply override: sites instead of capacity.
    let caps = e
        .accessibility(&km, None, None, DistanceModel::Straight, None)
        .unwrap();
    let sites = e
        .accessibility(
            &km,
            Some(Supply::Sites),
            None,
            DistanceModel::Straight,
            None,
        )
        .unwrap();
    assert!(caps.counts.sites_without_supply > 0);
    assert_eq!(sites.counts.sites_without_supply, 0);
    assert_eq!(sites.counts.sites, e.data.facilities.len());
    assert!(sites.sites.iter().all(|s| s.raw_supply == Some(1.0)));
    assert_eq!(
        serde_json::to_value(&sites.supply).unwrap()["per_site"],
        "sites"
    );
    // Demand from a missing indicator.
    let err = e
        .accessibility(
            &km,
            None,
            Some(Demand::Pop75Plus),
            DistanceModel::Straight,
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("pop_75plus"), "{err}");
    // A kind without facilities.
    let mut msp = km.clone();
    msp.supply = SupplySource::Facilities {
        kind: Kind::Msp,
        per_site: Supply::Sites,
    };
    let err = e
        .accessibility(&msp, None, None, DistanceModel::Straight, None)
        .unwrap_err();
    assert!(matches!(err, FcaError::NoSites { .. }), "{err}");
    // A profile built in code is validated too.
    let mut bad = km.clone();
    bad.steps.push(Step {
        upto: 10.0,
        weight: 0.5,
    });
    assert!(
        e.accessibility(&bad, None, None, DistanceModel::Straight, None)
            .is_err()
    );
}

#[test]
fn matrix_minutes_replace_the_estimate() {
    // Two communes 30 km apart: too far for 20 estimated minutes, 12 minutes in the table.
    let mut a = commune("79001", -0.3, 46.5, 1000);
    a.population = 1000;
    let b = commune("79002", -0.3, 46.77, 3000);
    let mut f = facility("F1", Kind::Ehpad, -0.3, 46.77, Some(10.0));
    f.commune = Some(b.code.clone());
    let e = engine(vec![a, b], vec![f]);
    let p = profile(
        StepUnit::Minutes,
        &[(10.0, 1.0), (15.0, 0.5), (20.0, 0.25)],
        Supply::Capacity,
        Demand::Population,
    );
    let est = e
        .accessibility(&p, None, None, DistanceModel::RoadEstimate, None)
        .unwrap();
    assert_eq!(est.counts.pairs, 1);
    assert_eq!(est.values, vec![Some(0.0), Some(10.0 / 3000.0)]);
    let mut m = TravelMatrix::default();
    // Only the reverse direction (site commune → resident commune) is in the table.
    m.insert(
        InseeCode::parse("79002").unwrap(),
        InseeCode::parse("79001").unwrap(),
        12.0,
    );
    let acc = e
        .accessibility(&p, None, None, DistanceModel::Matrix, Some(&m))
        .unwrap();
    assert!(acc.search_radius_m >= 20.0 / 60.0 * 130_000.0);
    assert_eq!(acc.counts.pairs, 2);
    // Σ w·P = 0.5 × 1000 + 1 × 3000 (the site's own commune: 0 min from the table).
    let r = 10.0 / 3500.0;
    assert_eq!(acc.sites[0].ratio, Some(r));
    assert_eq!(acc.values, vec![Some(0.5 * r), Some(r)]);
    let x = e.explain(&acc, 0);
    assert!(x.contributions[0].minutes_from_table);
    assert_eq!(
        (
            x.contributions[0].car_min,
            x.contributions[0].cost,
            x.contributions[0].weight
        ),
        (12.0, 12.0, 0.5)
    );
    assert_eq!(acc.model, DistanceModel::Matrix);
}

fn indicator(e: &mut Engine, name: &str, values: Vec<Option<f64>>) {
    e.data.indicators.numeric.insert(name.to_owned(), values);
}

#[test]
fn commune_indicator_supply_and_aggregates() {
    let mut e = engine(
        vec![
            commune("79001", -0.30, 46.50, 1000),
            commune("79002", -0.30, 46.52, 3000),
            // Far from the site (no standardised population: no value of its own).
            commune("79003", -0.30, 47.30, 500),
            commune("79004", -0.30, 48.00, 800),
        ],
        vec![],
    );
    indicator(
        &mut e,
        "mg_etablissements_sirene",
        vec![Some(2.0), None, Some(0.0), None],
    );
    indicator(
        &mut e,
        "pop_standardisee",
        vec![Some(900.0), Some(3100.0), None, Some(700.0)],
    );
    let profiles = builtin_profiles().unwrap();
    let mg = &profiles["mg"];
    let acc = e
        .accessibility(mg, None, None, DistanceModel::RoadEstimate, None)
        .unwrap();
    assert_eq!(acc.sites.len(), 1);
    assert_eq!(
        (acc.sites[0].id.as_str(), acc.sites[0].commune),
        ("79001", Some(0))
    );
    assert_eq!(acc.sites[0].supply, Some(2.0 * 5400.0));
    assert_eq!(acc.demand, Demand::Standardised);
    // 79003 has no standardised population: no value; 79004 is unreached: 0.
    assert_eq!(acc.values[2], None);
    assert_eq!(acc.values[3], Some(0.0));
    assert_eq!(acc.counts.communes_without_demand, 1);
    assert_eq!(acc.counts.communes_unreached, 1);
    assert_eq!(acc.caveat, mg.caveat);
    let x = e.explain(&acc, 1);
    assert_eq!(x.sum, acc.values[1].unwrap());
    assert_eq!(
        x.contributions[0].demand_in_catchment,
        acc.sites[0].demand_in_catchment
    );
    let json = serde_json::to_value(&acc).unwrap();
    assert!(
        json["profile"]["caveat"]
            .as_str()
            .unwrap()
            .contains("SIRENE")
    );
    assert!(json["caveat"].as_str().unwrap().contains("SIRENE"));
    assert!(json.get("pairs").is_none());
    let err = e
        .accessibility(
            mg,
            Some(Supply::Sites),
            None,
            DistanceModel::RoadEstimate,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, FcaError::SupplyNotApplicable { .. }), "{err}");

    let t = Territory {
        kind: TerritoryType::Epci,
        code: "200000001".to_owned(),
        name: "Test".to_owned(),
        communes: ["79001", "79002", "79003", "79004"]
            .iter()
            .map(|c| InseeCode::parse(c).unwrap())
            .collect(),
    };
    let agg = e.aggregate(&acc, &t, 2.5);
    let (a0, a1) = (acc.values[0].unwrap(), acc.values[1].unwrap());
    assert_eq!(agg.communes, 4);
    assert_eq!(agg.communes_with_value, 3);
    assert_eq!(agg.population, 5300);
    assert_eq!(agg.population_unknown, 500);
    assert_eq!(agg.communes_weight_fallback, 0);
    let mean = (a0 * 900.0 + a1 * 3100.0) / (900.0 + 3100.0 + 700.0);
    assert!(rel(agg.mean.unwrap(), mean) < 1e-12);
    let by_pop = (a0 * 1000.0 + a1 * 3000.0) / 4800.0;
    assert!(rel(agg.mean_by_population.unwrap(), by_pop) < 1e-12);
    assert_eq!((agg.min, agg.max), (Some(0.0), Some(a0.max(a1))));
    // Only 79004 (0) is at or below 2.5: 800 of the 4800 inhabitants with a value
    // (79003's 500, unknown, are neither above nor below).
    assert!(a0 > 2.5 && a1 > 2.5);
    assert_eq!(
        (agg.communes_at_or_below, agg.population_at_or_below),
        (1, 800)
    );
    assert!(rel(agg.share_at_or_below.unwrap(), 800.0 / 4800.0) < 1e-15);
    assert!(agg.caveat.as_deref().unwrap().contains("SIRENE"));
    // Fallback to population where the standardised population is missing.
    indicator(
        &mut e,
        "pop_standardisee",
        vec![Some(900.0), None, None, Some(700.0)],
    );
    let agg = e.aggregate(&acc, &t, 2.5);
    assert_eq!(
        (agg.communes_weight_fallback, agg.population_weight_fallback),
        (1, 3000)
    );
    let mean = (a0 * 900.0 + a1 * 3000.0) / (900.0 + 3000.0 + 700.0);
    assert!(rel(agg.mean.unwrap(), mean) < 1e-12);
}

/// A site whose catchment holds a commune of unknown demand, in a département where the
/// demand source has no value at all, has an unknown ratio (it would be too high): every
/// commune it reaches has no value, and says why. A commune missing from a source that
/// covers its département (created after the source's vintage) is counted in another row:
/// it makes nothing unknown but its own value.
#[test]
fn unknown_neighbour_demand_makes_the_catchment_unknown() {
    let communes = vec![
        commune("79001", -0.30, 46.50, 1000),
        commune("79002", -0.30, 46.52, 3000),
        // Across the border, in a département without any standardised population.
        commune("16003", -0.30, 46.54, 500),
        commune("79004", -0.30, 48.00, 800),
    ];
    let mut e = engine(communes.clone(), vec![]);
    // Communes in code order: 16003, 79001, 79002, 79004.
    indicator(
        &mut e,
        "mg_etablissements_sirene",
        vec![None, Some(2.0), None, None],
    );
    indicator(
        &mut e,
        "pop_standardisee",
        vec![None, Some(900.0), Some(3100.0), Some(700.0)],
    );
    let profiles = builtin_profiles().unwrap();
    let acc = e
        .accessibility(
            &profiles["mg"],
            None,
            None,
            DistanceModel::RoadEstimate,
            None,
        )
        .unwrap();
    assert_eq!(acc.sites[0].communes_without_demand, 1);
    assert_eq!(acc.sites[0].ratio, None);
    assert_eq!(acc.values[..3], [None, None, None]);
    let why = |c: usize| acc.missing[c].map(|m| m.to_string());
    assert_eq!(why(0).as_deref(), Some("demande_inconnue"));
    assert_eq!(why(1).as_deref(), Some("demande_voisine_inconnue:1"));
    assert_eq!(why(2).as_deref(), Some("demande_voisine_inconnue:1"));
    // Out of reach of the site: a true 0.
    assert_eq!((acc.values[3], acc.missing[3]), (Some(0.0), None));
    assert_eq!(acc.counts.sites_with_unknown_demand, 1);

    // The same commune in the Deux-Sèvres, whose other communes have a value: counted
    // with the commune it belonged to, it leaves its neighbours' values known.
    let mut moved = communes;
    moved[2] = commune("79003", -0.30, 46.54, 500);
    let mut e = engine(moved, vec![]);
    indicator(
        &mut e,
        "mg_etablissements_sirene",
        vec![Some(2.0), None, None, None],
    );
    indicator(
        &mut e,
        "pop_standardisee",
        vec![Some(900.0), Some(3100.0), None, Some(700.0)],
    );
    let acc = e
        .accessibility(
            &profiles["mg"],
            None,
            None,
            DistanceModel::RoadEstimate,
            None,
        )
        .unwrap();
    assert!(acc.values[0].is_some() && acc.values[1].is_some());
    assert_eq!(
        acc.missing[2].map(|m| m.reason),
        Some(MissingReason::NoDemand)
    );
}

/// A facility without a capacity makes the values of its catchment unknown — not 0 —
/// and the explanation lists it.
#[test]
fn a_site_without_capacity_makes_its_catchment_unknown_not_zero() {
    let e = engine(
        vec![
            commune("79001", -0.30, 46.50, 1000),
            commune("79002", -0.30, 46.60, 2000),
            commune("79003", -0.30, 47.50, 500),
        ],
        vec![
            facility("A", Kind::Ehpad, -0.30, 46.50, Some(50.0)),
            facility("B", Kind::Ehpad, -0.30, 46.62, None),
        ],
    );
    let p = profile(
        StepUnit::Km,
        &[(10.0, 1.0)],
        Supply::Capacity,
        Demand::Population,
    );
    let acc = e
        .accessibility(&p, None, None, DistanceModel::Straight, None)
        .unwrap();
    // 79001 is 13 km from B: its value is known; 79002 is within 10 km of both.
    assert!(acc.values[0].is_some());
    assert_eq!(acc.values[1], None);
    assert_eq!(
        acc.missing[1].map(|m| m.to_string()).as_deref(),
        Some("sites_sans_capacite:1")
    );
    // Far from every site: 0, a real value.
    assert_eq!(acc.values[2], Some(0.0));
    assert_eq!(acc.counts.sites_without_supply, 1);
    let x = e.explain(&acc, 1);
    assert_eq!(x.accessibility, None);
    assert!(
        x.contributions
            .iter()
            .any(|k| k.site_id == "B" && k.supply.is_none())
    );
    // Counting sites instead, every term is known.
    let sites = e
        .accessibility(&p, Some(Supply::Sites), None, DistanceModel::Straight, None)
        .unwrap();
    assert!(sites.values.iter().all(Option::is_some));
}

fn assert_explain_sums_back(e: &Engine, acc: &Accessibility) {
    for c in 0..e.data.communes.len() {
        let x = e.explain(acc, c);
        assert_eq!(x.accessibility, acc.values[c]);
        match acc.values[c] {
            Some(a) => {
                assert_eq!(x.sum, a, "commune {c}");
                let mut by_hand = 0.0;
                for k in &x.contributions {
                    assert_eq!(k.contribution, k.weight * k.ratio.unwrap_or(0.0));
                    assert_eq!(
                        k.ratio,
                        k.supply
                            .filter(
                                |_| k.demand_in_catchment > 0.0 && k.communes_without_demand == 0
                            )
                            .map(|s| acc.profile.result_scale * s / k.demand_in_catchment)
                    );
                    by_hand += k.contribution;
                }
                assert_eq!(by_hand, a);
            }
            None => {
                assert_eq!(x.missing, acc.missing[c]);
                let own = matches!(
                    x.missing.map(|m| m.reason),
                    Some(MissingReason::NoDemand | MissingReason::NoReferencePoint)
                );
                assert!(!own || x.contributions.is_empty(), "commune {c}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Raising any S_j, or adding a site, never lowers any A_i.
    #[test]
    fn more_supply_never_lowers_accessibility(seed in 1u64..100_000, site in 0usize..25, extra in 1.0f64..50.0, lon in -0.6f64..0.0, lat in 46.5f64..47.0) {
        let (communes, facilities) = random_case(seed, 120, 25, false);
        let p = profile(StepUnit::Km, &[(5.0, 1.0), (10.0, 2.0 / 3.0), (15.0, 1.0 / 3.0)], Supply::Capacity, Demand::Population);
        let base = engine(communes.clone(), facilities.clone());
        let before = base.accessibility(&p, None, None, DistanceModel::Straight, None).unwrap();
        assert_explain_sums_back(&base, &before);

        let mut raised = facilities.clone();
        raised[site].capacity = Some(raised[site].capacity.unwrap_or(0.0) + extra);
        let e = engine(communes.clone(), raised);
        let after = e.accessibility(&p, None, None, DistanceModel::Straight, None).unwrap();
        for (a, b) in before.values.iter().zip(&after.values) {
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!(*b >= *a, "{b} < {a}");
            }
        }

        let mut added = facilities;
        added.push(facility("Z99", Kind::Ehpad, lon, lat, Some(extra)));
        let e = engine(communes, added);
        let after = e.accessibility(&p, None, None, DistanceModel::Straight, None).unwrap();
        for (a, b) in before.values.iter().zip(&after.values) {
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!(*b >= *a * (1.0 - 1e-12), "{b} < {a}");
            }
        }
    }

    /// Σ_i A_i·P_i = result_scale × Σ_j S_j when every site has demand in reach.
    #[test]
    fn supply_is_conserved(seed in 1u64..100_000, minutes in any::<bool>(), scale in prop::sample::select(vec![1.0, 5_400.0]), result_scale in prop::sample::select(vec![1.0, 100_000.0])) {
        let (communes, facilities) = random_case(seed, 150, 30, true);
        let e = engine(communes, facilities);
        let (unit, model) = if minutes { (StepUnit::Minutes, DistanceModel::RoadEstimate) } else { (StepUnit::Km, DistanceModel::Straight) };
        let mut p = profile(unit, &[(10.0, 1.0), (15.0, 2.0 / 3.0), (20.0, 1.0 / 3.0)], Supply::Capacity, Demand::Population);
        p.supply_scale = scale;
        p.result_scale = result_scale;
        let acc = e.accessibility(&p, None, None, model, None).unwrap();
        prop_assert_eq!(acc.counts.sites_without_demand, 0);
        let demand: f64 = (0..e.data.communes.len()).filter_map(|c| Some(acc.values[c]? * acc.demand_values[c]?)).sum();
        let supply: f64 = acc.sites.iter().filter_map(|s| s.supply).sum::<f64>() * result_scale;
        prop_assert!(rel(demand, supply) < 1e-9, "{demand} vs {supply}");
        assert_explain_sums_back(&e, &acc);
    }
}

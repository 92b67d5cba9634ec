//! Analysis benchmarks on the national data (`cargo bench`).
//!
//! Needs a built data set: `careaccess data build` (data dir from `CAREACCESS_DATA`,
//! default `geodata/`). Peer figures on the same inputs: `benches/peer_nearest.py`.
//!
//! Targets (2-core machine): loading the national build for a command ≤ 60 ms; nearest
//! for all ~35,000 communes ≤ 20 ms per kind; national 2SFCA over the EHPAD with a 20 km
//! catchment ≤ 40 ms; one scenario ≤ 10 ms, with its accessibility deltas. Figures in
//! `benches/README.md`.

use std::hint::black_box;
use std::path::PathBuf;

use careaccess::analysis::change::Change;
use careaccess::analysis::coverage::Threshold;
use careaccess::analysis::listed::{FacilityChoice, ListIndex, ListSite};
use careaccess::analysis::scenario::Before;
use careaccess::analysis::{DistanceModel, Engine};
use careaccess::geodesy::GeoPoint;
use careaccess::import::profiles::builtin_profiles;
use careaccess::model::{Demand, Kind, StepUnit, Supply};
use careaccess::store::{LoadOptions, load};
use criterion::{Criterion, criterion_group, criterion_main};

fn data_dir() -> PathBuf {
    std::env::var_os("CAREACCESS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata"))
}

fn engine() -> Option<Engine> {
    let dir = data_dir();
    match load(&dir, LoadOptions::default()) {
        Ok(b) => Some(Engine::new(b.dataset)),
        Err(e) => {
            eprintln!(
                "analysis benches skipped: no built data in {} ({e})",
                dir.display()
            );
            None
        }
    }
}

/// What every command pays before its analysis: the national build read back (attributes
/// and reference points, no polygons), then the engine (R-trees, Hilbert order, grid);
/// and what `careaccess nearest --kind hospital` pays, which reads one kind of structure.
fn loading(c: &mut Criterion) {
    let dir = data_dir();
    if load(&dir, LoadOptions::default()).is_err() {
        return;
    }
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    group.bench_function("dataset", |b| {
        b.iter(|| black_box(load(&dir, LoadOptions::default()).map(|b| b.dataset.communes.len())))
    });
    group.bench_function("dataset + engine", |b| {
        b.iter(|| {
            black_box(
                load(&dir, LoadOptions::default()).map(|b| Engine::new(b.dataset).kinds.len()),
            )
        })
    });
    let hospitals = LoadOptions {
        kinds: Some([Kind::Hospital].into()),
        ..LoadOptions::default()
    };
    group.bench_function("dataset + engine, hospitals only", |b| {
        b.iter(|| {
            black_box(load(&dir, hospitals.clone()).map(|b| Engine::new(b.dataset).kinds.len()))
        })
    });
    group.finish();
}

fn nearest(c: &mut Criterion) {
    let Some(engine) = engine() else { return };
    let mut group = c.benchmark_group("nearest_all_communes");
    for (kind, k) in &engine.kinds {
        if k.facilities.is_empty() {
            continue;
        }
        let name = format!(
            "{kind} ({} sites, {} communes)",
            k.facilities.len(),
            engine.data.communes.len()
        );
        group.bench_function(name, |b| {
            b.iter(|| black_box(engine.nearest_per_commune(kind, DistanceModel::Straight, None)))
        });
    }
    group.finish();
}

/// One site added near Thouars (Deux-Sèvres), deltas for a 10 km threshold, against
/// the precomputed baseline (as the service does); then the same with the accessibility
/// deltas of the kind's profile against its precomputed national 2SFCA (supply 1 per
/// site, demand = population, as in `two_step_fca`).
fn scenario(c: &mut Criterion) {
    let Some(engine) = engine() else { return };
    let Ok(profiles) = builtin_profiles() else {
        return;
    };
    let mut group = c.benchmark_group("scenario_one_site_added");
    let add = [Change::Add {
        lon: -0.05,
        lat: 46.85,
        name: None,
        capacity: Some(60.0),
    }];
    for kind in [Kind::Ehpad, Kind::Msp, Kind::Hospital] {
        if !engine.kinds.contains_key(&kind) {
            continue;
        }
        let baseline = engine.nearest_per_commune(&kind, DistanceModel::Straight, None);
        let run = || {
            engine.scenario(
                &kind,
                &add,
                DistanceModel::Straight,
                Threshold::Km(10.0),
                &baseline,
            )
        };
        group.bench_function(kind.as_str(), |b| b.iter(|| black_box(run())));

        let Some(profile) = profiles.get(kind.as_str()) else {
            continue;
        };
        let model = match profile.unit {
            StepUnit::Km => DistanceModel::Straight,
            StepUnit::Minutes => DistanceModel::RoadEstimate,
        };
        let Ok(acc) = engine.accessibility(
            profile,
            Some(Supply::Sites),
            Some(Demand::Population),
            model,
            None,
        ) else {
            continue;
        };
        // The first call indexes the pairs by commune (once per baseline) and the
        // territories (once per engine), as a server does at its first request.
        let _ = engine.scenario_accessibility(&kind, &add, &acc, None);
        group.bench_function(format!("{kind} + accessibility"), |b| {
            b.iter(|| {
                black_box(run().map(|mut r| {
                    r.accessibility = engine.scenario_accessibility(&kind, &add, &acc, None).ok();
                    r
                }))
            })
        });
    }
    scenario_with_list(&engine, &profiles, &add, &mut group);
    group.finish();
}

/// What `POST /scenarios` with `facilities=both&list=<id>` computes beyond a plain
/// scenario: every commune's nearest with a 6-row MSP list of the Thouarsais (complete
/// for the Deux-Sèvres), the scenario from it, the `msp` profile run with the list and
/// its deltas.
fn scenario_with_list(
    engine: &Engine,
    profiles: &std::collections::BTreeMap<String, careaccess::model::Profile>,
    add: &[Change],
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let kind = Kind::Msp;
    let (Some(profile), Some(_)) = (profiles.get("msp"), engine.kinds.get(&kind)) else {
        return;
    };
    let sites: Vec<ListSite> = [
        (-0.2148, 46.9755),
        (-0.2375, 46.8866),
        (-0.0786, 46.9485),
        (-0.2740, 47.0530),
        (-0.2050, 46.9700),
        (-0.1140, 46.8960),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(lon, lat))| ListSite {
        row: i,
        id: format!("liste:bench:{}", i + 2),
        name: format!("MSP {i}"),
        kind: kind.clone(),
        point: GeoPoint::new(lon, lat),
        commune: None,
        capacity: Some(6.0),
    })
    .collect();
    let scope: Vec<usize> = (0..engine.data.communes.len())
        .filter(|&c| engine.data.communes[c].departement == "79")
        .collect();
    let official = engine.nearest_per_commune(&kind, DistanceModel::Straight, None);
    let all: Vec<usize> = (0..engine.data.communes.len()).collect();
    let choice = FacilityChoice::Both;
    let run = || {
        let list = ListIndex::new(engine, &kind, &sites, &scope);
        let (nearest, listed) =
            engine.nearest_per_commune_with_list(&kind, &official, &list, choice, &all);
        let before = Before {
            nearest: &nearest,
            list: Some((&list, choice, &listed)),
        };
        let r = engine.scenario_from(
            &kind,
            add,
            DistanceModel::Straight,
            Threshold::Km(10.0),
            before,
        );
        let acc = engine.accessibility_with_list(
            profile,
            None,
            None,
            DistanceModel::Straight,
            None,
            Some((&list, choice)),
        );
        let delta = acc.ok().map(|acc| {
            engine.scenario_accessibility_with_list(&kind, add, &acc, None, Some((&list, choice)))
        });
        (r, delta)
    };
    group.bench_function("msp, planner's list (both) + accessibility", |b| {
        b.iter(|| black_box(run()))
    });
}

/// National 2SFCA over every EHPAD with the `ehpad` profile's 20 km catchment, pair
/// search included. Supply = 1 per site and demand = population, because capacities and
/// the 75+ population are only known in a few départements (the figure measures the
/// computation, not a published indicator).
fn two_step_fca(c: &mut Criterion) {
    let Some(engine) = engine() else { return };
    let Ok(profiles) = builtin_profiles() else {
        return;
    };
    let Some(profile) = profiles.get("ehpad") else {
        return;
    };
    let acc = engine.accessibility(
        profile,
        Some(Supply::Sites),
        Some(Demand::Population),
        DistanceModel::Straight,
        None,
    );
    let Ok(acc) = acc else { return };
    let name = format!(
        "ehpad_20km ({} sites, {} pairs)",
        acc.counts.sites, acc.counts.pairs
    );
    c.bench_function(&format!("two_step_fca/{name}"), |b| {
        b.iter(|| {
            black_box(engine.accessibility(
                profile,
                Some(Supply::Sites),
                Some(Demand::Population),
                DistanceModel::Straight,
                None,
            ))
        })
    });
}

criterion_group!(benches, loading, nearest, two_step_fca, scenario);
criterion_main!(benches);

//! Answers users can trust, on the national data (the mirror's build, see `mirror.rs`):
//! each test is one of the misleading answers users met, and pins the answer they get now.

use std::process::Command;
use std::sync::OnceLock;

use careaccess::analysis::change::Change;
use careaccess::analysis::coverage::Threshold;
use careaccess::analysis::{DistanceModel, Engine};
use careaccess::geodesy::GeoPoint;
use careaccess::model::{InseeCode, Kind};
use careaccess::store::{LoadOptions, load};

use crate::mirror::{Built, built};

/// The engine on the built national data, once for every test of this file.
fn engine() -> Option<(&'static Built, &'static Engine)> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    let b = built()?;
    let e = ENGINE.get_or_init(|| {
        Some(Engine::new(
            load(&b.data_dir, LoadOptions::default()).unwrap().dataset,
        ))
    });
    Some((b, e.as_ref()?))
}

fn commune(engine: &Engine, code: &str) -> usize {
    engine
        .data
        .commune_index(&InseeCode::parse(code).unwrap())
        .unwrap_or_else(|| panic!("{code} is not in the data set"))
}

fn careaccess(b: &Built, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_careaccess"));
    cmd.arg("--data-dir")
        .arg(&b.data_dir)
        .args(args)
        .env_remove("CAREACCESS_LOG");
    cmd
}

/// Tours (37261) has 34 EHPAD of the CNSA list within 20 km, none with a capacity: its
/// EHPAD accessibility is unknown, with the reason, not 0 — in the engine and in the
/// CSV a planner exports.
#[test]
fn tours_has_no_zero_ehpad_accessibility() {
    let Some((b, engine)) = engine() else { return };
    let profiles = careaccess::import::profiles::builtin_profiles().unwrap();
    let acc = engine
        .accessibility(
            &profiles["ehpad"],
            None,
            None,
            DistanceModel::RoadEstimate,
            None,
        )
        .unwrap();
    let tours = commune(engine, "37261");
    assert_eq!(acc.value(tours), None);
    let missing = acc.missing(tours).unwrap().to_string();
    assert!(missing.starts_with("sites_sans_capacite:"), "{missing}");

    let out = careaccess(b, &["accessibility", "--profile", "ehpad"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let row = stdout.lines().find(|l| l.starts_with("37261,")).unwrap();
    // code,nom,population,demand,accessibility,manque
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(cells[4], "", "{row}");
    assert!(cells[5].starts_with("sites_sans_capacite:"), "{row}");
}

/// Paris, Lyon and Marseille: their arrondissements' rows of the DREES APL and of SIRENE
/// add up into the commune, which then has an APL and a GP accessibility (`mg`).
#[test]
fn paris_lyon_and_marseille_have_gp_figures() {
    let Some((_, engine)) = engine() else { return };
    let profiles = careaccess::import::profiles::builtin_profiles().unwrap();
    let mg = engine
        .accessibility(
            &profiles["mg"],
            None,
            None,
            DistanceModel::RoadEstimate,
            None,
        )
        .unwrap();
    // Population-weighted means of the DREES APL of the arrondissements (research notes:
    // Paris 3.672, Lyon 4.114, Marseille 4.341 for the APL of GPs aged 65 or less).
    for (code, apl65) in [("75056", 3.672), ("69123", 4.114), ("13055", 4.341)] {
        let c = commune(engine, code);
        let got = engine.data.indicator("apl_mg_65", c).unwrap();
        assert!((got - apl65).abs() < 0.01, "{code}: APL ≤ 65 {got}");
        assert!(engine.data.indicator("apl_mg", c).is_some(), "{code}: APL");
        assert!(
            engine
                .data
                .indicator("mg_etablissements_sirene", c)
                .is_some_and(|n| n > 1000.0),
            "{code}: GP supply"
        );
        let v = mg.value(c);
        assert!(v.is_some_and(|v| v > 0.0), "{code}: mg {v:?}");
    }
}

/// No commune of 971–976 is answered with a structure outside its own département,
/// whatever the kind; and no catchment of the 2SFCA joins two reachability zones.
#[test]
fn overseas_communes_never_get_a_structure_across_the_sea() {
    let Some((_, engine)) = engine() else { return };
    let dep_of_point = |p: geo::Point<f64>| {
        let c = engine.commune_at(&GeoPoint::from_point(p)).unwrap();
        engine.data.communes[c].departement.clone()
    };
    let mut overseas = 0;
    let mut answered = 0;
    for kind in engine.kinds.keys() {
        for n in engine.nearest_per_commune(kind, DistanceModel::Straight, None) {
            let c = &engine.data.communes[n.commune];
            if !c.departement.starts_with("97") {
                continue;
            }
            overseas += 1;
            match n.facility {
                Some(f) => {
                    answered += 1;
                    let f = &engine.data.facilities[f];
                    assert_eq!(
                        dep_of_point(f.position),
                        c.departement,
                        "{kind} from {} ({}): {} {}",
                        c.code,
                        c.name,
                        f.id,
                        f.name
                    );
                }
                None => assert!(n.missing.is_some(), "{kind} from {}: no reason", c.code),
            }
        }
    }
    assert!(overseas > 129 * 3, "{overseas}");
    assert!(answered > 0);

    let profiles = careaccess::import::profiles::builtin_profiles().unwrap();
    let acc = engine
        .accessibility(
            &profiles["hospital"],
            None,
            None,
            DistanceModel::RoadEstimate,
            None,
        )
        .unwrap();
    for (j, site) in acc.sites.iter().enumerate() {
        let f = site.facility.unwrap();
        let zone = engine.zone_at(&GeoPoint::from_point(engine.data.facilities[f].position));
        for p in acc.pairs_of_site(j) {
            assert_eq!(
                engine.commune_zone[p.commune as usize], zone,
                "site {} reaches {} across the sea",
                site.id, engine.data.communes[p.commune as usize].code
            );
        }
    }
}

/// From the mairie of Thouars, the first general hospital is the hospital site of
/// Thouars, not a child-psychiatry day unit; day units are psychiatry.
#[test]
fn the_nearest_hospital_from_thouars_is_its_hospital() {
    let Some((_, engine)) = engine() else { return };
    let thouars = commune(engine, "79329");
    let p = engine.commune_points[thouars].unwrap();
    let first = engine.nearest_from(
        &p,
        &Kind::Hospital,
        3,
        DistanceModel::RoadEstimate,
        None,
        Some(thouars),
    );
    let f = &engine.data.facilities[first[0].facility];
    assert_eq!(f.id, "790003537", "{}", f.name);
    assert!(f.name.contains("THOUARS"), "{}", f.name);
    let psy = engine.nearest_from(
        &p,
        &Kind::Psychiatry,
        3,
        DistanceModel::RoadEstimate,
        None,
        Some(thouars),
    );
    assert!(
        psy.iter().any(|r| engine.data.facilities[r.facility]
            .name
            .contains("PSYCHIATRIE")),
        "the day units are psychiatry"
    );
}

/// One MSP added near Saint-Martin-de-Sanzay (79), looked at from the CLS du
/// Thouarsais: the gain is counted inside the CLS, none in Maine-et-Loire (which the
/// partial MSP list does not cover: its people are listed as "non couvert").
#[test]
fn a_thouarsais_scenario_claims_nothing_in_maine_et_loire() {
    let Some((_, engine)) = engine() else { return };
    let cls = engine
        .data
        .territory(careaccess::model::TerritoryType::Cls, "thouarsais")
        .unwrap();
    let changes = [Change::Add {
        lon: -0.21,
        lat: 47.07,
        name: None,
        capacity: None,
    }];
    let model = DistanceModel::RoadEstimate;
    let baseline = engine.nearest_per_commune(&Kind::Msp, model, None);
    for km in [10.0, 5.0] {
        let r = engine
            .scenario(&Kind::Msp, &changes, model, Threshold::Km(km), &baseline)
            .unwrap()
            .with_inside(cls);
        let inside = r.inside.as_ref().unwrap();
        assert_eq!(inside.code, "thouarsais");
        // Everyone counted is in a covered département.
        assert_eq!(r.population_newly_within, inside.population_newly_within);
        for c in &r.nearest_changed {
            assert!(!c.code.starts_with("49"), "{km} km: {} counted", c.code);
        }
        let dep49 = r
            .territories
            .iter()
            .find(|t| t.code == "49")
            .map_or(0, |t| t.population_newly_within);
        assert_eq!(dep49, 0, "{km} km");
        assert!(r.out_of_scope.iter().all(|c| c.code.starts_with("49")));
        if km == 10.0 {
            // The CLS is all within 10 km of an MSP already; the people newly within
            // 10 km live in Maine-et-Loire, where the list says nothing.
            assert_eq!(inside.population_newly_within, 0);
            assert!(
                r.population_out_of_scope > 5000,
                "{}",
                r.population_out_of_scope
            );
        } else {
            // Saint-Martin-de-Sanzay and Brion-près-Thouet come within 5 km.
            assert_eq!(inside.population_newly_within, 1030 + 759);
        }
    }
}

/// `careaccess nearest … | head -1` on the national table (35,000 rows, more than any
/// pipe buffer): the command ends quietly when its reader goes away.
#[test]
fn a_long_table_ends_quietly_when_its_reader_closes() {
    let Some(b) = built() else { return };
    // The reader takes the first line, then the pipe is closed with most of the table
    // unwritten.
    let (status, stderr) =
        crate::cli::close_after(careaccess(b, &["nearest", "--kind", "ehpad"]), 64);
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

//! The real data: fetch from the mirror named by `CAREACCESS_MIRROR` (CI sets it to
//! `../shared/data`), build, and check what a planner would check. Skipped when the
//! variable is unset (a fresh clone without the mirror); fails loudly when it is set
//! but wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use careaccess::import::{BuildReport, Manifest, build, fetch};
use careaccess::store::fgb::Cell;
use careaccess::store::{self, Feature};

pub(crate) struct Built {
    _tmp: tempfile::TempDir,
    pub(crate) data_dir: PathBuf,
    report: BuildReport,
}

fn mirror() -> Option<PathBuf> {
    let m = std::env::var_os("CAREACCESS_MIRROR")?;
    let m = PathBuf::from(m);
    assert!(
        m.join("INDEX.md").is_file(),
        "CAREACCESS_MIRROR={} is set but is not the shared data mirror (no INDEX.md)",
        m.display()
    );
    Some(m)
}

/// Fetches and builds once for every test of this file.
pub(crate) fn built() -> Option<&'static Built> {
    static BUILT: OnceLock<Option<Built>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mirror = mirror()?;
            let tmp = tempfile::tempdir().unwrap();
            let data_dir = tmp.path().to_owned();
            let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
            std::fs::copy(
                repo.join("geodata/sources.toml"),
                data_dir.join("sources.toml"),
            )
            .unwrap();
            let manifest = Manifest::read(&data_dir.join("sources.toml")).unwrap();
            let opts = fetch::FetchOptions::new(&data_dir, Some(&mirror));
            fetch::fetch(&manifest, &opts).unwrap();
            let report = build::build(&manifest, &data_dir).unwrap().report;
            Some(Built {
                _tmp: tmp,
                data_dir,
                report,
            })
        })
        .as_ref()
}

fn layer(b: &Built, name: &str) -> Vec<Feature> {
    store::read_layer(&b.data_dir.join(format!("{name}.fgb"))).unwrap()
}

fn text<'a>(f: &'a Feature, key: &str) -> Option<&'a str> {
    f.properties.get(key).and_then(Cell::as_str)
}

#[test]
fn communes_are_the_cog_2026() {
    let Some(b) = built() else { return };
    let communes = layer(b, "communes");
    assert!(
        (34_775..=34_975).contains(&communes.len()),
        "{} communes",
        communes.len()
    );
    for key in [
        "code",
        "nom",
        "departement",
        "region",
        "departement_nom",
        "region_nom",
    ] {
        let missing = communes.iter().filter(|f| text(f, key).is_none()).count();
        assert_eq!(missing, 0, "{missing} communes without {key}");
    }
    let without_epci = communes
        .iter()
        .filter(|f| text(f, "epci").is_none())
        .count();
    assert!(without_epci < 10, "{without_epci} communes without EPCI");
    let thouars = communes
        .iter()
        .find(|f| text(f, "code") == Some("79329"))
        .unwrap();
    assert_eq!(text(thouars, "nom"), Some("Thouars"));
    assert_eq!(thouars.properties["population"], Cell::Int(13_891));
    assert_eq!(text(thouars, "cls"), Some("thouarsais"));
    assert_eq!(text(thouars, "ref_point"), Some("mairie"));
    assert_eq!(text(thouars, "zonage_mg"), Some("1_ZIP"));
    // Population 2023 = COG population for every commune of the 9 départements.
    assert_eq!(thouars.properties["pop_75plus"], Cell::Real(2_098.0));
}

#[test]
fn facility_counts_match_the_report() {
    let Some(b) = built() else { return };
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for s in &b.report.sources {
        assert_eq!(
            s.rows_read,
            s.kept + s.skipped_total() + s.superseded + s.aggregated,
            "source {}: read = kept + skipped + superseded + aggregated",
            s.id
        );
        for (kind, n) in &s.kept_by_kind {
            *expected.entry(kind.clone()).or_default() += n;
        }
    }
    for (kind, n) in &expected {
        assert_eq!(layer(b, kind).len() as u64, *n, "{kind}.fgb");
        assert_eq!(b.report.outputs[&format!("{kind}.fgb")], *n);
    }
    let source = |id: &str| b.report.sources.iter().find(|s| s.id == id).unwrap();
    assert_eq!(source("ehpad_finess_7dep").kept, 721);
    assert_eq!(source("msp_web_lists").kept, 43);
    assert_eq!(source("hospitals_gisco").rows_read, 5_368);
    // CNSA points are not used where the FINESS-based list covers the département.
    assert!(source("ehpad_cnsa_prix").superseded >= 600);
    // The five DREES APL, from the mirror's CSV conversions of the workbooks; the
    // national INSEE census file is not in the mirror, so its 9-département
    // transcription is used.
    for id in [
        "apl_mg_2021",
        "apl_inf_2021",
        "apl_mk_2021",
        "apl_sf_2021",
        "apl_cd_2021",
    ] {
        assert_eq!(source(id).status, "built", "{id}");
        assert!(source(id).kept > 34_000, "{id}: {}", source(id).kept);
    }
    assert_eq!(source("population_age_insee").status, "absent");
    assert_eq!(source("population_age").kept, 2_398);
    let communes = layer(b, "communes");
    let thouars = communes
        .iter()
        .find(|f| text(f, "code") == Some("79329"))
        .unwrap();
    for field in ["apl_mg", "apl_inf", "apl_mk", "apl_sf", "apl_cd"] {
        assert!(
            matches!(thouars.properties.get(field), Some(Cell::Real(v)) if *v > 0.0),
            "{field}: {:?}",
            thouars.properties.get(field)
        );
    }
}

#[test]
fn known_facilities() {
    let Some(b) = built() else { return };
    let ehpad = layer(b, "ehpad");
    let oiron = ehpad
        .iter()
        .find(|f| text(f, "id") == Some("790000376"))
        .unwrap();
    assert_eq!(text(oiron, "commune"), Some("79196"));
    assert_eq!(oiron.properties["capacite"], Cell::Real(148.0));
    let hospitals = layer(b, "hospital");
    let bourg = hospitals
        .iter()
        .find(|f| text(f, "finess") == Some("010000024"))
        .unwrap();
    assert_eq!(text(bourg, "commune"), Some("01451"));
    let msp = layer(b, "msp");
    assert!(
        msp.iter()
            .all(|f| f.properties["liste_partielle"] == Cell::Bool(true))
    );
    let mauze = msp
        .iter()
        .find(|f| text(f, "nom") == Some("MSP de Mauzé-Thouarsais"))
        .unwrap();
    assert_eq!(text(mauze, "commune"), Some("79329"));
}

#[test]
fn territories() {
    let Some(b) = built() else { return };
    let cls = layer(b, "cls");
    let thouarsais = cls
        .iter()
        .find(|f| text(f, "code") == Some("thouarsais"))
        .unwrap();
    assert_eq!(thouarsais.properties["communes"], Cell::Int(24));
    assert_eq!(thouarsais.properties["population"], Cell::Int(35_235));
    assert_eq!(layer(b, "departements").len(), 101);
    assert_eq!(layer(b, "regions").len(), 18);
    assert!(layer(b, "epci").len() > 1_200);
}

#[test]
fn gdal_reads_the_layers() {
    let Some(b) = built() else { return };
    let has_gdal = std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
        .is_ok();
    if !has_gdal {
        assert!(
            std::env::var_os("CAREACCESS_REQUIRE_GDAL").is_none(),
            "CAREACCESS_REQUIRE_GDAL is set but ogrinfo is not installed"
        );
        return;
    }
    for (name, n) in &b.report.outputs {
        let layer_name = name.trim_end_matches(".fgb");
        let out = std::process::Command::new("ogrinfo")
            .args(["-ro", "-so"])
            .arg(b.data_dir.join(name))
            .arg(layer_name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ogrinfo {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("Feature Count: {n}")),
            "ogrinfo {name}:\n{stdout}"
        );
    }
}

#[test]
fn nearest_equals_brute_force_on_real_communes() {
    use careaccess::analysis::{DistanceModel, Engine};
    use careaccess::model::Kind;
    use careaccess::store::{LoadOptions, load};
    use geo::{Distance, Geodesic};

    let Some(b) = built() else { return };
    let engine = Engine::new(load(&b.data_dir, LoadOptions::default()).unwrap().dataset);
    for kind in [Kind::Ehpad, Kind::Hospital, Kind::Msp] {
        let nearest = engine.nearest_per_commune(&kind, DistanceModel::Straight, None);
        let ki = &engine.kinds[&kind];
        // Every 20th commune: ~1,750 communes × every site of its zone, with Karney's
        // geodesic; none where the kind's list does not speak.
        for n in nearest.iter().step_by(20) {
            let Some(p) = engine.commune_points[n.commune] else {
                continue;
            };
            if !engine.data.in_scope(&kind, n.commune) {
                assert_eq!(n.trip, None);
                continue;
            }
            let zone = engine.commune_zone[n.commune];
            let best = ki
                .facilities
                .iter()
                .zip(&ki.zones)
                .filter(|(_, z)| **z == zone)
                .map(|(&f, _)| &engine.data.facilities[f])
                .map(|f| (f, Geodesic.distance(p.point(), f.position)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let Some((best, d)) = best else {
                assert_eq!(n.trip, None, "no {kind} in the zone");
                continue;
            };
            let got = n.trip.unwrap();
            assert!(
                // The fast arc is within 25 cm of Karney below 300 km (src/geodesy.rs).
                (got.distance_m - d).abs() < 0.25,
                "{kind} from {}: {} m vs brute force {d} m ({})",
                engine.data.communes[n.commune].code,
                got.distance_m,
                best.id
            );
        }
    }
}

#[test]
fn gdal_reads_the_service_on_the_national_data() {
    let Some(b) = built() else { return };
    if !crate::server::has_gdal() {
        return;
    }
    let server = crate::server::Server::start(&b.data_dir);
    // Deux-Sèvres: 252 communes in the COG 2026.
    let n = crate::server::gdal_copies_one_departement(
        &server.url,
        &[
            "communes",
            "msp",
            "ehpad",
            "hospital",
            "epci",
            "departements",
            "regions",
            "cls",
        ],
        "79",
    );
    assert_eq!(n, 252);
}

#[test]
fn gdal_copies_every_collection_of_the_national_data() {
    let Some(b) = built() else { return };
    if !crate::server::has_gdal() {
        return;
    }
    let server = crate::server::Server::start(&b.data_dir);
    // Cantal: four communes without a polygon (15031, 15035, 15047, 15171) in a
    // FlatGeobuf page that GDAL must read to the end.
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-q"])
        .arg(format!(
            "/vsicurl_streaming/{}/collections/communes/items?f=fgb&departement=15&limit=1000",
            server.url
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "{stderr}"
    );
    assert_eq!(stdout.matches("OGRFeature(communes)").count(), 250);
    assert_eq!(stdout.matches("EMPTY").count(), 4, "{stdout}");
    let state = careaccess::api::AppState::load(&b.data_dir).unwrap();
    crate::gis::gdal_copies_every_collection(&server.url, &state);
    // A vector tile of the Deux-Sèvres at z8: Thouars, Bressuire, Parthenay.
    crate::gis::gdal_reads_a_tile(&server.url, &["79329", "79049", "79202"]);
}

#[test]
fn national_tiles_name_communes_by_rank_below_zoom_8() {
    use geozero::mvt::Message;
    let Some(b) = built() else { return };
    let state = careaccess::api::AppState::load(&b.data_dir).unwrap();
    let i = state
        .collections
        .iter()
        .position(|c| c.id == "communes")
        .unwrap();
    let c = &state.collections[i];
    // The national view (z5, tile 16/11 holds the west of France): ids only, no
    // attribute; each id is the commune's rank in the items' order.
    let tile = careaccess::api::mvt::encode(c, &state.tiles[i], 5, 16, 11).unwrap();
    let layer = &geozero::mvt::Tile::decode(&tile[..]).unwrap().layers[0];
    assert!(layer.features.len() > 10_000, "{}", layer.features.len());
    assert!(layer.keys.is_empty() && layer.values.is_empty());
    let ranks: Vec<u64> = layer.features.iter().map(|f| f.id.unwrap()).collect();
    let thouars = c.items.iter().position(|it| it.id == "79329").unwrap() as u64 + 1;
    assert!(ranks.contains(&thouars));
    // From zoom 8, the code too, under the same id.
    let tile = careaccess::api::mvt::encode(c, &state.tiles[i], 8, 127, 90).unwrap();
    let layer = &geozero::mvt::Tile::decode(&tile[..]).unwrap().layers[0];
    let f = layer
        .features
        .iter()
        .find(|f| f.id == Some(thouars))
        .unwrap();
    assert_eq!(layer.keys, ["code"]);
    assert_eq!(
        layer.values[f.tags[1] as usize].string_value.as_deref(),
        Some("79329")
    );
}

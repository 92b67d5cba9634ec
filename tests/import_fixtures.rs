//! `data fetch` + `data build` end to end on the mini data set of `tests/fixtures/mini`
//! (seven real communes of the Thouarsais and around, with made-up rectangular polygons;
//! see its README.md), plus the FINESS fixture of `tests/fixtures/finess`.
//!
//! Nothing goes to the network: every `url` of the fixture `sources.toml` points at a
//! closed local port and every source is copied from a mirror built in a temporary
//! folder (the COG tarball is packed there at run time).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use careaccess::import::build::{self, Built};
use careaccess::import::fetch::{self, FetchManifest, FetchOptions, Origin};
use careaccess::import::{BuildReport, Columns, ImportError, Manifest, SourceReport};
use careaccess::store::fgb::Cell;
use careaccess::store::{self, Feature};
use careaccess::store::{BUILDS_DIR, CURRENT};
use geo::{Area, Contains};

const FINESS_FILE: &str = "etalab-cs1100507-stock-fixture.csv";
const COG_TARBALL: &str = "decoupage-administratif-mini.tgz";

/// `(code, nom, population, epci, département, [lon min, lat min, lon max, lat max],
/// pop_75plus, zonage_mg)` of the mini COG, as in `tests/fixtures/mini`.
type CommuneRow = (
    &'static str,
    &'static str,
    i64,
    &'static str,
    &'static str,
    [f64; 4],
    Option<f64>,
    &'static str,
);

const COMMUNES: [CommuneRow; 7] = [
    (
        "79005",
        "Airvault",
        3306,
        "200041416",
        "79",
        [-0.16, 46.78, -0.05, 46.88],
        Some(520.0),
        "HZ",
    ),
    (
        "79014",
        "Loretz-d'Argenton",
        2575,
        "247900798",
        "79",
        [-0.45, 46.95, -0.27, 47.10],
        Some(300.0),
        "ZIP",
    ),
    (
        "79049",
        "Bressuire",
        19970,
        "200040244",
        "79",
        [-0.60, 46.78, -0.30, 46.93],
        None,
        "ZAC",
    ),
    (
        "79196",
        "Plaine-et-Vallées",
        2317,
        "247900798",
        "79",
        [-0.16, 46.88, 0.00, 47.05],
        Some(310.0),
        "ZIP",
    ),
    (
        "79299",
        "Saint-Varent",
        2395,
        "247900798",
        "79",
        [-0.30, 46.85, -0.16, 46.93],
        Some(280.0),
        "ZAC",
    ),
    (
        "79329",
        "Thouars",
        13891,
        "247900798",
        "79",
        [-0.27, 46.93, -0.16, 47.05],
        Some(1850.0),
        "ZAC",
    ),
    (
        "86137",
        "Loudun",
        6839,
        "248600447",
        "86",
        [0.00, 46.95, 0.15, 47.08],
        Some(1200.0),
        "ZIP",
    ),
];

/// `(line, reason)` of every row of `msp_points.csv` that is not kept.
const MSP_POINTS_SKIPPED: [(u64, &str); 11] = [
    (8, "malformed_row"),      // 4 fields
    (9, "bad_coordinates"),    // lon "abc"
    (10, "bad_coordinates"),   // lat 246.97
    (11, "outside_france"),    // Paris: far from every polygon of the mini COG
    (12, "missing_name"),      // empty name
    (13, "bad_finess_number"), // 79X000001
    (14, "unknown_commune"),   // 99999
    (15, "bad_commune_code"),  // ABCDE
    (16, "bad_coordinates"),   // lon without lat
    (17, "malformed_row"),     // 9 fields
    (18, "no_position"),       // neither coordinates nor commune
];

/// `(line, reason)` of every row of the FINESS fixture that the FINESS reader does not
/// keep (the same list as the unit tests of `import::finess`).
const FINESS_SKIPPED: [(u64, &str); 13] = [
    (18, "missing_geolocation"),
    (19, "malformed_row"),
    (20, "bad_coordinates"),
    (21, "bad_coordinates"),
    (22, "bad_coordinates"),
    (23, "unknown_crs"),
    (24, "bad_finess_number"),
    (25, "bad_commune_code"),
    (26, "duplicate_finess"),
    (27, "unknown_record_type"),
    (32, "orphan_geolocation"),
    (35, "malformed_row"),
    (40, "duplicate_geolocation"),
];

/// `(line, FINESS number)` of the structures the FINESS reader keeps but the build
/// skips as `outside_france`: their point is more than 5 km (`MAX_OFFSHORE_M`) from
/// every polygon of the mini COG (lon −0.60…0.15, lat 46.78…47.10). The line is the
/// `structureet` line.
const FINESS_OUTSIDE_FRANCE: [(u64, &str); 8] = [
    (4, "790012361"),  // EHPAD of Parthenay (79202), ~15 km south of Bressuire/Airvault
    (7, "490012345"),  // centre de santé of Saumur (49328), ~20 km north of Loudun
    (8, "860014208"),  // CHU of Poitiers (86194)
    (10, "2A0001062"), // CH of Sartène (Corse-du-Sud)
    (11, "670780212"), // clinique of Strasbourg
    (13, "970100123"), // CHU of Pointe-à-Pitre (Guadeloupe)
    (14, "970401234"), // MSP of Saint-Denis (La Réunion)
    (15, "970500456"), // CH of Saint-Pierre-et-Miquelon
];

/// `(FINESS number, line, commune)` of the structures of the FINESS fixture that the full
/// mini build keeps: the 15 the FINESS reader keeps minus the 8 outside the mini COG.
/// Each lies in the rectangle of its commune (see `tests/fixtures/mini/README.md`).
const FINESS_KEPT: [(&str, u64, &str); 7] = [
    ("790012345", 2, "79329"),  // MSP of Thouars
    ("790012353", 3, "79049"),  // CLIC of Bressuire
    ("860012345", 6, "86137"),  // EHPA of Loudun
    ("790016371", 9, "79329"),  // CH of Thouars
    ("790012379", 12, "79329"), // pharmacie of Thouars (kind `autre`)
    ("790012387", 16, "79005"), // EHPAD of Airvault (swapped coordinates, un-swapped)
    ("790012395", 17, "79299"), // EHPA of Saint-Varent
];

/// Features expected in each facility layer of the full mini build.
const FACILITY_LAYERS: [(&str, usize); 11] = [
    // FINESS Thouars + msp_points M03, M04, M05, M18, M19, M20 (Loudun; M01, M02, M06
    // in the Deux-Sèvres yield to FINESS).
    ("msp.fgb", 7),
    // FINESS Airvault + ehpad_prix Loudunais and Capucins (Loudun; the one of Thouars
    // yields to FINESS).
    ("ehpad.fgb", 3),
    ("ehpa.fgb", 2),         // FINESS Loudun, Saint-Varent
    ("clic.fgb", 1),         // FINESS Bressuire
    ("centre_sante.fgb", 0), // Saumur and Brest (no geolocation) are not kept
    ("hospital.fgb", 1),     // FINESS CH of Thouars
    ("psychiatry.fgb", 0),
    ("ssr.fgb", 0),
    ("long_stay.fgb", 0),
    ("autre.fgb", 1), // FINESS pharmacie of Thouars
    ("consultation_avancee.fgb", 3),
];

// ---------------------------------------------------------------- set-up

pub(crate) fn mini_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mini")
}

pub(crate) fn finess_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/finess")
        .join(FINESS_FILE)
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create mirror folder");
    for entry in fs::read_dir(from).expect("read fixture folder") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

fn tar_append(tar: &mut tar::Builder<impl Write>, path: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, path, bytes)
        .expect("append to tarball");
}

/// Packs `cog/*.json` as the npm package is published: a gzipped tarball holding
/// `package/package.json` and `package/data/*.json`.
pub(crate) fn pack_cog(dest: &Path) {
    let file = fs::File::create(dest).expect("create tarball");
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar_append(
        &mut tar,
        "package/package.json",
        br#"{"name":"@etalab/decoupage-administratif","version":"0.0.0-careaccess-fixture"}"#,
    );
    for name in ["communes", "epci", "departements", "regions"] {
        let bytes = fs::read(mini_dir().join("cog").join(format!("{name}.json")))
            .expect("read COG fixture");
        tar_append(&mut tar, &format!("package/data/{name}.json"), &bytes);
    }
    tar.into_inner()
        .expect("finish tarball")
        .finish()
        .expect("finish gzip");
}

/// A mirror (the fixture files, the FINESS fixture, the COG tarball) and a data dir
/// holding the fixture `sources.toml`.
pub(crate) struct Mini {
    mirror: tempfile::TempDir,
    data: tempfile::TempDir,
    manifest: Manifest,
}

impl Mini {
    pub(crate) fn new() -> Self {
        let mirror = tempfile::tempdir().expect("mirror dir");
        copy_tree(&mini_dir(), mirror.path());
        pack_cog(&mirror.path().join(COG_TARBALL));
        let finess = mirror.path().join("finess");
        fs::create_dir_all(&finess).expect("finess folder");
        fs::copy(finess_fixture(), finess.join(FINESS_FILE)).expect("copy FINESS fixture");
        let data = tempfile::tempdir().expect("data dir");
        let toml = data.path().join("sources.toml");
        fs::copy(mini_dir().join("sources.toml"), &toml).expect("copy sources.toml");
        let manifest = Manifest::read(&toml).expect("the fixture sources.toml is valid");
        Mini {
            mirror,
            data,
            manifest,
        }
    }

    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub(crate) fn data(&self) -> &Path {
        self.data.path()
    }

    pub(crate) fn mirror(&self) -> &Path {
        self.mirror.path()
    }

    pub(crate) fn try_fetch(
        &self,
        manifest: &Manifest,
        only: Option<&[String]>,
    ) -> Result<FetchManifest, ImportError> {
        fetch::fetch(
            manifest,
            &FetchOptions {
                only,
                ..FetchOptions::new(self.data(), Some(self.mirror()))
            },
        )
    }

    pub(crate) fn fetch(&self) -> FetchManifest {
        self.try_fetch(&self.manifest, None).expect("fetch")
    }

    pub(crate) fn build(&self) -> Built {
        build::build(&self.manifest, self.data()).expect("build")
    }

    /// The fetched file of a source.
    fn fetched_file(&self, id: &str) -> PathBuf {
        FetchManifest::read(self.data())
            .expect("fetch manifest")
            .path_of(self.data(), id)
            .expect("source fetched")
    }
}

/// The fixture `sources.toml` with `from` (which must occur exactly once) replaced.
fn edited_manifest_text(from: &str, to: &str) -> String {
    let text = fs::read_to_string(mini_dir().join("sources.toml")).expect("sources.toml");
    assert_eq!(text.matches(from).count(), 1, "{from:?} in sources.toml");
    text.replacen(from, to, 1)
}

fn edited_manifest(from: &str, to: &str) -> Manifest {
    Manifest::from_toml(&edited_manifest_text(from, to)).expect("edited manifest")
}

// ---------------------------------------------------------------- reading back

/// What `current` shows: the build it points at, its report (`build-report.json` read
/// back into a [`BuildReport`]), and the number of features of every layer as read back
/// (each layer must open).
#[derive(Debug, PartialEq)]
struct Snapshot {
    target: PathBuf,
    report: BuildReport,
    counts: BTreeMap<String, usize>,
}

fn snapshot(data: &Path) -> Snapshot {
    let link = data.join(CURRENT);
    let target = fs::read_link(&link).expect("`current` is a symlink");
    assert!(target.starts_with(BUILDS_DIR), "{}", target.display());
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .expect("build name")
        .to_owned();
    assert!(!name.starts_with('.'), "current points at {name}");
    let dir = data.join(&target);
    assert!(dir.is_dir(), "{}", dir.display());
    let report: BuildReport =
        serde_json::from_slice(&fs::read(link.join("build-report.json")).expect("report"))
            .expect("build-report.json reads back into a BuildReport");
    assert_eq!(report.build_id, name);
    let outputs = &report.outputs;
    let _: serde_json::Value =
        serde_json::from_slice(&fs::read(link.join("dataset.json")).expect("dataset.json"))
            .expect("dataset.json is JSON");
    let mut counts = BTreeMap::new();
    for (layer, n) in outputs {
        let features = store::read_layer(&link.join(layer))
            .unwrap_or_else(|e| panic!("{layer} of {name} does not read: {e}"));
        assert_eq!(features.len() as u64, *n, "{layer} of {name}");
        counts.insert(layer.clone(), features.len());
    }
    // Every .fgb of the build is listed in the report.
    let files: BTreeSet<String> = fs::read_dir(&dir)
        .expect("build dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".fgb"))
        .collect();
    assert_eq!(files, outputs.keys().cloned().collect::<BTreeSet<_>>());
    Snapshot {
        target,
        report,
        counts,
    }
}

fn staging_dirs(data: &Path) -> Vec<String> {
    fs::read_dir(data.join(BUILDS_DIR))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(".staging-"))
                .collect()
        })
        .unwrap_or_default()
}

fn finished_builds(data: &Path) -> BTreeSet<String> {
    fs::read_dir(data.join(BUILDS_DIR))
        .expect("builds dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

fn layer(data: &Path, name: &str) -> Vec<Feature> {
    store::read_layer(&data.join(CURRENT).join(name))
        .unwrap_or_else(|e| panic!("{name} does not read: {e}"))
}

fn text<'a>(f: &'a Feature, key: &str) -> Option<&'a str> {
    f.properties.get(key).and_then(Cell::as_str)
}

fn real(f: &Feature, key: &str) -> Option<f64> {
    f.properties.get(key).and_then(Cell::as_f64)
}

fn int(f: &Feature, key: &str) -> Option<i64> {
    match f.properties.get(key) {
        Some(Cell::Int(v)) => Some(*v),
        _ => None,
    }
}

/// Features keyed by a text property (which must be unique).
fn by<'a>(features: &'a [Feature], key: &str) -> BTreeMap<String, &'a Feature> {
    let mut out = BTreeMap::new();
    for f in features {
        let k = text(f, key).unwrap_or_else(|| panic!("feature without {key}: {f:?}"));
        assert!(out.insert(k.to_owned(), f).is_none(), "{key} {k} twice");
    }
    out
}

fn point(f: &Feature) -> geo::Point<f64> {
    match &f.geometry {
        Some(geo::Geometry::Point(p)) => *p,
        other => panic!("not a point: {other:?}"),
    }
}

fn multipolygon(f: &Feature) -> &geo::MultiPolygon<f64> {
    match &f.geometry {
        Some(geo::Geometry::MultiPolygon(m)) => m,
        other => panic!("not a multipolygon: {other:?}"),
    }
}

fn rect_area(r: [f64; 4]) -> f64 {
    (r[2] - r[0]) * (r[3] - r[1])
}

fn source<'a>(report: &'a BuildReport, id: &str) -> &'a SourceReport {
    report
        .sources
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("source {id} not in the report"))
}

fn skipped(r: &SourceReport) -> Vec<(u64, &str)> {
    r.skipped_rows
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect()
}

/// `careaccess --data-dir <data> data <command>`.
pub(crate) fn careaccess(data: &Path, command: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_careaccess"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["data", command])
        .env_remove("CAREACCESS_DATA")
        .env_remove("CAREACCESS_MIRROR")
        .stdin(Stdio::null());
    cmd
}

// ---------------------------------------------------------------- 1. end to end

#[test]
fn fetch_and_build_the_mini_data_set() {
    let mini = Mini::new();
    let record = mini.fetch();
    for (id, f) in &record.fetched {
        assert_eq!(f.origin, Origin::Mirror, "{id}");
    }
    assert_eq!(
        record
            .fetched
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "cog",
            "consultations",
            "contours",
            "ehpad_prix",
            "finess",
            "indicateurs",
            "msp_points"
        ]
    );
    assert!(
        record.absent["msp_web_lists"].contains("not in the mirror"),
        "{:?}",
        record.absent
    );

    let built = mini.build();
    let data = mini.data();

    // `current` points at the new build, whose every layer reads back.
    let snap = snapshot(data);
    assert_eq!(data.join(&snap.target), built.dir);
    assert_eq!(snap.report, built.report);
    assert!(staging_dirs(data).is_empty());
    let report = &built.report;
    let mut expected_outputs: BTreeSet<&str> = FACILITY_LAYERS.iter().map(|(n, _)| *n).collect();
    expected_outputs.extend([
        "communes.fgb",
        "communes_points.fgb",
        "epci.fgb",
        "departements.fgb",
        "regions.fgb",
        "cls.fgb",
    ]);
    assert_eq!(
        report
            .outputs
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        expected_outputs
    );
    // Convenience links `<data>/<layer>.fgb` → `current/<layer>.fgb`.
    for name in report.outputs.keys() {
        let link = data.join(name);
        assert_eq!(
            fs::read_link(&link).expect("convenience link"),
            Path::new(CURRENT).join(name)
        );
        assert_eq!(
            store::read_layer(&link).expect("layer through link").len(),
            snap.counts[name]
        );
    }
    // `data status` reads the fetch record and the report of the current build.
    let out = careaccess(data, "status")
        .output()
        .expect("run careaccess data status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("current build {} (", report.build_id)),
        "{stdout}"
    );
    for (name, n) in FACILITY_LAYERS {
        assert!(
            stdout.contains(&format!("  {name:<24} {n:>7} features")),
            "{name}: {stdout}"
        );
    }

    // ---- communes.fgb: COG fields, indicator columns, polygons, reference points.
    let communes = layer(data, "communes.fgb");
    let communes = by(&communes, "code");
    assert_eq!(
        communes.keys().map(String::as_str).collect::<Vec<_>>(),
        COMMUNES.map(|c| c.0)
    );
    let epci_names = [
        ("200040244", "CA du Bocage Bressuirais"),
        ("200041416", "CC Airvaudais-Val du Thouet"),
        ("247900798", "CC du Thouarsais"),
        ("248600447", "CC du Pays Loudunais"),
    ];
    for (code, nom, population, epci, dep, rect, pop75, zonage) in COMMUNES {
        let f = communes[code];
        assert_eq!(text(f, "nom"), Some(nom), "{code}");
        assert_eq!(int(f, "population"), Some(population), "{code}");
        assert_eq!(text(f, "epci"), Some(epci), "{code}");
        let epci_nom = epci_names.iter().find(|(c, _)| *c == epci).map(|e| e.1);
        assert_eq!(text(f, "epci_nom"), epci_nom, "{code}");
        assert_eq!(text(f, "departement"), Some(dep), "{code}");
        let dep_nom = if dep == "79" {
            "Deux-Sèvres"
        } else {
            "Vienne"
        };
        assert_eq!(text(f, "departement_nom"), Some(dep_nom), "{code}");
        assert_eq!(text(f, "region"), Some("75"), "{code}");
        assert_eq!(text(f, "region_nom"), Some("Nouvelle-Aquitaine"), "{code}");
        let in_cls = epci == "247900798" || code == "79005";
        assert_eq!(
            text(f, "cls"),
            in_cls.then_some("thouarsais"),
            "{code}: cls"
        );
        assert_eq!(real(f, "pop_75plus"), pop75, "{code}: pop_75plus");
        assert_eq!(text(f, "zonage_mg"), Some(zonage), "{code}: zonage_mg");
        let polygon = multipolygon(f);
        assert!(
            (polygon.unsigned_area() - rect_area(rect)).abs() < 1e-9,
            "{code}: polygon"
        );
        assert_eq!(text(f, "ref_point"), Some("interior_point"), "{code}");
        let reference = geo::Point::new(
            real(f, "ref_lon").expect("ref_lon"),
            real(f, "ref_lat").expect("ref_lat"),
        );
        assert!(polygon.contains(&reference), "{code}: reference point");
    }
    let indicators = source(report, "indicateurs");
    assert_eq!(
        skipped(indicators),
        [
            (9, "unknown_commune"), // 79171, a commune déléguée of Thouars
            (10, "duplicate_commune"),
            (11, "unknown_commune"),
            (12, "bad_commune_code"),
            (13, "malformed_row"),
        ]
    );
    assert_eq!((indicators.rows_read, indicators.kept), (12, 7));
    assert!(indicators.skipped_rows[0].detail.contains("79329"));
    let dataset: serde_json::Value =
        serde_json::from_slice(&fs::read(data.join(CURRENT).join("dataset.json")).unwrap())
            .unwrap();
    assert_eq!(
        dataset["fields"],
        serde_json::json!({"pop_75plus": "indicateurs", "zonage_mg": "indicateurs"})
    );

    // ---- Facilities: every layer holds exactly what the report says was kept.
    let mut by_source_kind: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut facility_layers: BTreeMap<&str, Vec<Feature>> = BTreeMap::new();
    for (name, expected) in FACILITY_LAYERS {
        let features = layer(data, name);
        assert_eq!(features.len(), expected, "{name}");
        let kind = name.trim_end_matches(".fgb");
        for f in &features {
            assert_eq!(text(f, "kind"), Some(kind), "{name}: {f:?}");
            let src = text(f, "source").expect("source").to_owned();
            *by_source_kind.entry((src, kind.to_owned())).or_default() += 1;
        }
        by(&features, "id"); // ids are unique within a layer
        facility_layers.insert(name, features);
    }
    let mut from_reports: BTreeMap<(String, String), u64> = BTreeMap::new();
    for s in &report.sources {
        let facility_source = ["finess", "msp_points", "ehpad_prix", "consultations"];
        if !facility_source.contains(&s.id.as_str()) {
            continue;
        }
        let written: u64 = s.kept_by_kind.values().sum();
        assert_eq!(
            written,
            s.rows_read - s.skipped_total() - s.superseded - s.aggregated,
            "{}: rows_read − skipped − superseded − aggregated",
            s.id
        );
        assert_eq!(written, s.kept, "{}", s.id);
        assert_eq!(
            s.skipped_rows.len() as u64,
            s.skipped_total(),
            "{}: every skipped row is listed",
            s.id
        );
        for (kind, n) in &s.kept_by_kind {
            from_reports.insert((s.id.clone(), kind.clone()), *n);
        }
    }
    assert_eq!(by_source_kind, from_reports);

    // FINESS: every malformed row with its line and reason, then every structure
    // outside the mini territory with its line; nothing superseded. 28 structures read
    // = 7 kept + 13 malformed + 8 outside.
    let finess = source(report, "finess");
    let mut expected_skips: Vec<(u64, &str)> = FINESS_SKIPPED.to_vec();
    expected_skips.extend(FINESS_OUTSIDE_FRANCE.map(|(line, _)| (line, "outside_france")));
    expected_skips.sort();
    let mut skips = skipped(finess);
    skips.sort();
    assert_eq!(skips, expected_skips);
    assert_eq!(finess.skipped["outside_france"], 8);
    assert_eq!(
        (finess.rows_read, finess.kept, finess.superseded),
        (28, 7, 0)
    );
    assert_eq!(finess.skipped_total(), 21);
    assert!(
        finess
            .skipped_rows
            .iter()
            .all(|s| s.line > 0 && !s.detail.is_empty())
    );
    for (line, id) in FINESS_OUTSIDE_FRANCE {
        let s = finess
            .skipped_rows
            .iter()
            .find(|s| s.line == line && s.reason == "outside_france")
            .unwrap_or_else(|| panic!("FINESS line {line} not skipped as outside_france"));
        assert!(s.detail.contains(id), "line {line}: {}", s.detail);
    }
    // Every kept FINESS commune code is a commune actuelle of the COG: no note about
    // a commune déléguée or an unknown code.
    assert!(
        !finess
            .notes
            .iter()
            .any(|n| n.contains("commune déléguée") || n.contains("unknown to the COG")),
        "{:?}",
        finess.notes
    );

    // Points CSV: every malformed row with its line and reason; the MSP of the
    // Deux-Sèvres yield to the FINESS MSP of Thouars.
    let msp_points = source(report, "msp_points");
    assert_eq!(skipped(msp_points), MSP_POINTS_SKIPPED);
    assert_eq!(
        (
            msp_points.rows_read,
            msp_points.kept,
            msp_points.skipped_total(),
            msp_points.superseded
        ),
        (20, 6, 11, 3)
    );
    assert!(
        msp_points
            .notes
            .iter()
            .any(|n| n == "3 rows superseded by finess (msp in 79)"),
        "{:?}",
        msp_points.notes
    );
    assert!(
        msp_points
            .notes
            .iter()
            .any(|n| n.contains("line 7: commune 79171 is now part of 79329")),
        "{:?}",
        msp_points.notes
    );
    assert!(
        msp_points
            .notes
            .iter()
            .any(|n| n.contains("line 21") && n.contains("beaucoup")),
        "{:?}",
        msp_points.notes
    );

    // GeoJSON points: per-kind precedence (the FINESS EHPA of Loudun does not
    // supersede EHPAD there; the FINESS EHPAD of the Deux-Sèvres do).
    let ehpad_prix = source(report, "ehpad_prix");
    assert_eq!(
        skipped(ehpad_prix),
        [
            (3, "bad_coordinates"),
            (4, "missing_name"),
            (5, "no_position")
        ]
    );
    assert_eq!(
        (ehpad_prix.rows_read, ehpad_prix.kept, ehpad_prix.superseded),
        (6, 2, 1)
    );
    assert_eq!(
        ehpad_prix.caveat.as_deref(),
        Some("liste partielle (fixture)")
    );

    let consultations = source(report, "consultations");
    assert_eq!(skipped(consultations), [(4, "malformed_row")]);
    assert_eq!((consultations.rows_read, consultations.kept), (4, 3));

    // The optional source missing from the mirror.
    let absent = source(report, "msp_web_lists");
    assert_eq!(absent.status, "absent");
    assert_eq!((absent.rows_read, absent.kept), (0, 0));
    for s in &report.sources {
        if s.id != "msp_web_lists" {
            assert_eq!(s.status, "built", "{}", s.id);
            assert!(s.sha256.is_some(), "{}", s.id);
        }
    }

    // ---- Facility details.
    let msp = by(&facility_layers["msp.fgb"], "id");
    assert_eq!(
        msp.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "010000024",
            "790012345",
            "msp_points:M03",
            "msp_points:M05",
            "msp_points:M18",
            "msp_points:M19",
            "msp_points:M20",
        ]
    );
    for f in msp.values() {
        if text(f, "source") == Some("msp_points") {
            assert_eq!(text(f, "departement"), Some("86"), "{f:?}");
            assert_eq!(text(f, "commune"), Some("86137"), "{f:?}");
        }
    }
    // FINESS numbers keep their leading zero (written as 8 digits in the CSV).
    let m04 = msp["010000024"];
    assert_eq!(text(m04, "finess"), Some("010000024"));
    assert_eq!(text(m04, "position"), Some("rounded"));
    let m03 = msp["msp_points:M03"];
    assert_eq!(text(m03, "position"), Some("address"));
    assert_eq!(real(m03, "capacite"), Some(15.0));
    assert_eq!(
        text(m03, "adresse"),
        Some("2 place Sainte-Croix, 86200 Loudun")
    );
    assert_eq!(text(m03, "finess"), None);
    assert_eq!(
        m03.properties.get("liste_partielle"),
        Some(&Cell::Bool(false))
    );
    let m05 = msp["msp_points:M05"];
    assert_eq!(text(m05, "position"), Some("commune_chef_lieu"));
    let loudun = multipolygon(communes["86137"]);
    assert!(loudun.contains(&point(m05)));
    // Placed at the reference point of Loudun.
    let c = communes["86137"];
    assert_eq!(
        point(m05),
        geo::Point::new(real(c, "ref_lon").unwrap(), real(c, "ref_lat").unwrap())
    );
    assert_eq!(
        text(msp["msp_points:M18"], "adresse"),
        Some("12 place des Tilleuls\n86200 Loudun")
    );
    assert_eq!(real(msp["msp_points:M19"], "capacite"), None);
    assert!(!loudun.contains(&point(msp["msp_points:M20"]))); // 1.5 km outside, snapped
    let thouars_msp = msp["790012345"];
    assert_eq!(text(thouars_msp, "finess"), Some("790012345"));
    assert_eq!(text(thouars_msp, "source"), Some("finess"));
    assert_eq!(text(thouars_msp, "categorie"), Some("603"));
    assert_eq!(
        text(thouars_msp, "nom"),
        Some("MAISON DE SANTÉ PLURIPROFESSIONNELLE DU THOUARSAIS")
    );

    let ehpad = by(&facility_layers["ehpad.fgb"], "id");
    assert_eq!(
        ehpad.keys().map(String::as_str).collect::<Vec<_>>(),
        ["010780054", "790012387", "ehpad_prix:6"]
    );
    let loudunais = ehpad["010780054"];
    assert_eq!(text(loudunais, "finess"), Some("010780054")); // a JSON number in the file
    assert_eq!(real(loudunais, "capacite"), Some(80.0));
    assert_eq!(text(loudunais, "commune"), Some("86137"));
    assert_eq!(
        loudunais.properties.get("liste_partielle"),
        Some(&Cell::Bool(true))
    );
    assert_eq!(real(ehpad["ehpad_prix:6"], "capacite"), None);

    let consultation = by(&facility_layers["consultation_avancee.fgb"], "id");
    // Placed by commune code (`;`-separated file), named from a template.
    let expected = [
        (
            "consultations:2",
            "Consultation avancée de cardiologie (lundi)",
            "79329",
        ),
        (
            "consultations:3",
            "Consultation avancée de gériatrie (mardi)",
            "79014",
        ),
        (
            "consultations:5",
            "Consultation avancée d'addictologie (jeudi)",
            "86137",
        ),
    ];
    assert_eq!(
        consultation.keys().map(String::as_str).collect::<Vec<_>>(),
        expected.map(|e| e.0)
    );
    for (id, nom, commune) in expected {
        let f = consultation[id];
        assert_eq!(text(f, "nom"), Some(nom), "{id}");
        assert_eq!(text(f, "commune"), Some(commune), "{id}");
        assert_eq!(text(f, "position"), Some("commune_chef_lieu"), "{id}");
        assert!(multipolygon(communes[commune]).contains(&point(f)), "{id}");
    }

    // Every FINESS facility kept is one of FINESS_KEPT: its commune is one of the mini
    // COG, its point lies in that commune's polygon, and `ligne_source` is the line of
    // its `structureet` row in the FINESS file.
    let mut placed = BTreeSet::new();
    for f in facility_layers.values().flatten() {
        if text(f, "source") != Some("finess") {
            continue;
        }
        let id = text(f, "id").unwrap();
        assert_eq!(text(f, "finess"), Some(id));
        assert_eq!(text(f, "position"), Some("address"), "{id}");
        let (_, line, commune) = FINESS_KEPT
            .iter()
            .find(|k| k.0 == id)
            .unwrap_or_else(|| panic!("FINESS {id} should not be kept"));
        assert_eq!(text(f, "commune"), Some(*commune), "{id}");
        assert!(
            multipolygon(communes[*commune]).contains(&point(f)),
            "FINESS {id} is not in the polygon of its commune"
        );
        assert_eq!(
            int(f, "ligne_source"),
            Some(*line as i64),
            "{id}: ligne_source"
        );
        placed.insert(id);
    }
    assert_eq!(placed, FINESS_KEPT.iter().map(|k| k.0).collect());
    // The other sources give their own line (CSV: the first line of the row; GeoJSON:
    // the feature number, as in their skipped rows).
    assert_eq!(int(m03, "ligne_source"), Some(4));
    assert_eq!(int(msp["msp_points:M18"], "ligne_source"), Some(19));
    assert_eq!(int(msp["msp_points:M19"], "ligne_source"), Some(21));
    assert_eq!(int(ehpad["ehpad_prix:6"], "ligne_source"), Some(6));
    assert_eq!(
        int(consultation["consultations:5"], "ligne_source"),
        Some(5)
    );

    // ---- EPCI, départements, régions, CLS: union polygons and population sums.
    let pop = |codes: &[&str]| -> i64 {
        COMMUNES
            .iter()
            .filter(|c| codes.contains(&c.0))
            .map(|c| c.2)
            .sum()
    };
    let area = |codes: &[&str]| -> f64 {
        COMMUNES
            .iter()
            .filter(|c| codes.contains(&c.0))
            .map(|c| rect_area(c.5))
            .sum()
    };
    let thouarsais = ["79014", "79196", "79299", "79329"];
    let deux_sevres = ["79005", "79014", "79049", "79196", "79299", "79329"];
    let all: Vec<&str> = COMMUNES.iter().map(|c| c.0).collect();
    let cls = ["79005", "79014", "79196", "79299", "79329"];
    let territories: [(&str, &str, &str, &str, &[&str]); 8] = [
        (
            "epci.fgb",
            "200040244",
            "CA du Bocage Bressuirais",
            "CA",
            &["79049"],
        ),
        (
            "epci.fgb",
            "200041416",
            "CC Airvaudais-Val du Thouet",
            "CC",
            &["79005"],
        ),
        (
            "epci.fgb",
            "247900798",
            "CC du Thouarsais",
            "CC",
            &thouarsais,
        ),
        (
            "epci.fgb",
            "248600447",
            "CC du Pays Loudunais",
            "CC",
            &["86137"],
        ),
        (
            "departements.fgb",
            "79",
            "Deux-Sèvres",
            "departement",
            &deux_sevres,
        ),
        (
            "departements.fgb",
            "86",
            "Vienne",
            "departement",
            &["86137"],
        ),
        ("regions.fgb", "75", "Nouvelle-Aquitaine", "region", &all),
        (
            "cls.fgb",
            "thouarsais",
            "CLS du Thouarsais (fixture)",
            "cls",
            &cls,
        ),
    ];
    let mut layers: BTreeMap<&str, Vec<Feature>> = BTreeMap::new();
    for (name, ..) in territories {
        layers.entry(name).or_insert_with(|| layer(data, name));
    }
    for (name, features) in &layers {
        let expected = territories.iter().filter(|t| t.0 == *name).count();
        assert_eq!(features.len(), expected, "{name}");
    }
    for (name, code, nom, kind, members) in territories {
        let features = by(&layers[name], "code");
        let f = features[code];
        assert_eq!(text(f, "nom"), Some(nom), "{name} {code}");
        assert_eq!(text(f, "type"), Some(kind), "{name} {code}");
        assert_eq!(int(f, "population"), Some(pop(members)), "{name} {code}");
        assert_eq!(
            int(f, "communes"),
            Some(members.len() as i64),
            "{name} {code}"
        );
        let union = multipolygon(f);
        assert!(
            (union.unsigned_area() - area(members)).abs() < 1e-9,
            "{name} {code}: area {} vs {}",
            union.unsigned_area(),
            area(members)
        );
        // The member rectangles touch each other: the union is one polygon.
        assert_eq!(union.0.len(), 1, "{name} {code}: {union:?}");
        for m in members {
            let reference = communes[*m];
            let p = geo::Point::new(
                real(reference, "ref_lon").unwrap(),
                real(reference, "ref_lat").unwrap(),
            );
            assert!(union.contains(&p), "{name} {code}: {m}");
        }
    }
    assert_eq!(pop(&cls), 24484);
}

// ---------------------------------------------------------------- 2. atomic build

#[test]
fn a_failed_build_leaves_current_untouched() {
    let mini = Mini::new();
    mini.fetch();
    mini.build();
    let data = mini.data();
    let before = snapshot(data);
    let builds_before = finished_builds(data);
    assert_eq!(builds_before.len(), 1);

    // (a) A required source replaced with garbage: fails while reading it.
    let cog = mini.fetched_file("cog");
    fs::write(&cog, b"this is not a gzipped tarball\n").unwrap();
    let err = build::build(&mini.manifest, data).expect_err("garbage COG");
    assert!(
        matches!(&err, ImportError::Source { source_id, .. } if source_id == "cog"),
        "{err}"
    );
    assert!(err.to_string().contains("cog"), "{err}");
    assert_eq!(snapshot(data), before);
    assert!(staging_dirs(data).is_empty(), "{:?}", staging_dirs(data));
    assert_eq!(finished_builds(data), builds_before);
    mini.fetch(); // the mirror copy again

    // (b) Fails late, after every source is parsed: a perimeter naming an unknown EPCI.
    let manifest = edited_manifest("epci = [\"247900798\"]", "epci = [\"200000000\"]");
    let err = build::build(&manifest, data).expect_err("unknown EPCI");
    assert!(err.to_string().contains("200000000"), "{err}");
    assert_eq!(snapshot(data), before);
    assert!(staging_dirs(data).is_empty(), "{:?}", staging_dirs(data));
    assert_eq!(finished_builds(data), builds_before);

    // (c) sources.toml names a required source that was never fetched.
    let mut manifest = mini.manifest.clone();
    let mut extra = manifest.source("consultations").unwrap().clone();
    extra.id = "consultations_2026".into();
    manifest.sources.push(extra);
    let err = build::build(&manifest, data).expect_err("required source not fetched");
    assert!(
        matches!(&err, ImportError::Missing(id) if id == "consultations_2026"),
        "{err}"
    );
    assert_eq!(snapshot(data), before);
    assert!(staging_dirs(data).is_empty(), "{:?}", staging_dirs(data));
    assert_eq!(finished_builds(data), builds_before);

    // The next good build replaces it (even within the same second: the build id
    // holds a per-process sequence number, see `two_builds_in_the_same_second`).
    let built = mini.build();
    let after = snapshot(data);
    assert_ne!(after.target, before.target);
    assert_eq!(data.join(&after.target), built.dir);
    assert_eq!(after.counts, before.counts);
    // The previous build is kept for a roll-back by hand.
    assert_eq!(finished_builds(data).len(), 2);
}

// ---------------------------------------------------------------- 3. killed build

#[test]
fn a_killed_build_leaves_current_untouched() {
    let mini = Mini::new();
    mini.fetch();
    mini.build();
    let data = mini.data();
    // How long a whole build takes through the command line, to kill the next ones
    // at fractions of it as well as at fixed moments.
    let start = std::time::Instant::now();
    let out = careaccess(data, "build").output().expect("run careaccess");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whole = start.elapsed();
    let mut delays: Vec<Duration> = [0, 5, 20, 50, 200, 1000]
        .into_iter()
        .map(Duration::from_millis)
        .collect();
    delays.extend([0.25, 0.5, 0.7, 0.8, 0.9, 0.95].map(|f| whole.mul_f64(f)));

    let mut previous = snapshot(data);
    let (mut completed, mut interrupted) = (0, 0);
    let mut last_pid = 0;
    for delay in &delays {
        let mut child = careaccess(data, "build")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start careaccess");
        std::thread::sleep(*delay);
        // Ok also when the build already finished; `wait` reaps the process, so that
        // its pid (in its staging folder's name) is no longer alive.
        last_pid = child.id();
        child.kill().expect("kill");
        let status = child.wait().expect("wait");
        let now = snapshot(data);
        if now.target != previous.target {
            // The build finished before the kill: a normal, complete build.
            completed += 1;
            assert_eq!(now.counts, previous.counts, "after {delay:?}");
        } else {
            assert_eq!(now, previous, "after {delay:?} ({status})");
        }
        if staging_dirs(data)
            .iter()
            .any(|d| d.ends_with(&format!("-{last_pid}")))
        {
            interrupted += 1; // killed while writing its staging folder
        }
        previous = now;
    }
    eprintln!(
        "whole build {whole:?}; of {} kills, {completed} came after the build had \
         finished, {interrupted} while it was writing",
        delays.len()
    );
    // Whatever the timing, one stale staging folder of a dead build for the next
    // build to clean (the pid of the last child, reaped above).
    let stale = data
        .join(BUILDS_DIR)
        .join(format!(".staging-20260101T000000Z-{last_pid}"));
    fs::create_dir_all(&stale).unwrap();
    fs::write(stale.join("communes.fgb"), b"half a file").unwrap();

    let out = careaccess(data, "build").output().expect("run careaccess");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = snapshot(data);
    assert_ne!(last.target, previous.target);
    assert_eq!(last.counts, previous.counts);
    assert!(staging_dirs(data).is_empty(), "{:?}", staging_dirs(data));
    assert!(finished_builds(data).len() <= 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("msp.fgb"), "{stderr}");
}

// ---------------------------------------------------------------- 4. missing sources

#[test]
fn a_missing_required_source_is_an_error_naming_it() {
    let mini = Mini::new();
    // Fetched without it: the build names it.
    let only: Vec<String> = mini
        .manifest
        .sources
        .iter()
        .map(|s| s.id.clone())
        .filter(|id| id != "msp_points")
        .collect();
    mini.try_fetch(&mini.manifest, Some(&only)).expect("fetch");
    let err = build::build(&mini.manifest, mini.data()).expect_err("msp_points missing");
    assert!(
        matches!(&err, ImportError::Missing(id) if id == "msp_points"),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("msp_points"), "{message}");
    assert!(message.contains("careaccess data fetch"), "{message}");
    assert!(!mini.data().join(CURRENT).exists());
    assert!(staging_dirs(mini.data()).is_empty());

    // Missing from the mirror (and its URL unreachable): fetch fails naming the file.
    fs::remove_file(mini.mirror().join("msp_points.csv")).unwrap();
    let err = mini
        .try_fetch(&mini.manifest, None)
        .expect_err("msp_points not in the mirror");
    match &err {
        ImportError::Download { url, message } => {
            assert_eq!(url, "http://127.0.0.1:9/msp_points.csv");
            assert!(message.contains("not in the mirror"), "{message}");
            assert!(message.contains("msp_points.csv"), "{message}");
        }
        e => panic!("unexpected error: {e}"),
    }
}

#[test]
fn a_missing_optional_source_is_absent_and_the_build_goes_on() {
    let mini = Mini::new();
    fs::remove_file(mini.mirror().join("finess").join(FINESS_FILE)).unwrap();
    let record = mini.fetch();
    assert!(record.absent["finess"].contains("not in the mirror"));
    assert!(record.absent.contains_key("msp_web_lists"));
    let built = mini.build();
    let report = &built.report;
    for id in ["finess", "msp_web_lists"] {
        let r = source(report, id);
        assert_eq!(r.status, "absent", "{id}");
        assert_eq!((r.rows_read, r.kept), (0, 0), "{id}");
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("optional source not available") && n.contains("mirror")),
            "{id}: {:?}",
            r.notes
        );
    }
    // Without FINESS, nothing supersedes the MSP and EHPAD points of the Deux-Sèvres.
    let msp_points = source(report, "msp_points");
    assert_eq!((msp_points.kept, msp_points.superseded), (9, 0));
    assert_eq!(source(report, "ehpad_prix").superseded, 0);
    let snap = snapshot(mini.data());
    assert_eq!(snap.counts["msp.fgb"], 9);
    assert_eq!(snap.counts["ehpad.fgb"], 3);
    assert_eq!(snap.counts["hospital.fgb"], 0);
    assert_eq!(snap.counts["communes.fgb"], 7);
    let dataset: serde_json::Value =
        serde_json::from_slice(&fs::read(mini.data().join(CURRENT).join("dataset.json")).unwrap())
            .unwrap();
    let status: BTreeMap<&str, &str> = dataset["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(status["finess"], "absent");
    assert_eq!(status["msp_web_lists"], "absent");
    assert_eq!(status["msp_points"], "built");
}

// ---------------------------------------------------------------- 5. sources.toml errors

#[test]
fn an_unknown_key_in_source_columns_is_an_error_naming_it() {
    let text = edited_manifest_text("lon = \"lon\"", "longitude = \"lon\"");
    let err = Manifest::from_toml(&text).expect_err("unknown key");
    assert!(matches!(err, ImportError::Manifest(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("longitude"), "{message}");
    assert!(message.contains("unknown field"), "{message}");
    // Where it is, and what is allowed.
    assert!(message.contains("line"), "{message}");
    assert!(message.contains("`lon`"), "{message}");
}

#[test]
fn a_column_missing_from_the_file_is_an_error_naming_it() {
    let mini = Mini::new();
    mini.fetch();
    mini.build();
    let before = snapshot(mini.data());

    // A points CSV.
    let manifest = edited_manifest("lat = \"lat\"", "lat = \"latitude\"");
    let err = build::build(&manifest, mini.data()).expect_err("no column latitude");
    match &err {
        ImportError::Source { source_id, message } => {
            assert_eq!(source_id, "msp_points");
            assert!(message.contains("column \"latitude\""), "{message}");
            assert!(message.contains("sources.toml"), "{message}");
            // The header is shown, to fix the name.
            assert!(message.contains("id, finess, nom, lon, lat"), "{message}");
        }
        e => panic!("unexpected error: {e}"),
    }

    // A commune CSV.
    let manifest = edited_manifest(
        "pop_75plus = \"pop_75plus_rp2023\"",
        "pop_75plus = \"pop_75_plus\"",
    );
    let err = build::build(&manifest, mini.data()).expect_err("no column pop_75_plus");
    assert!(
        matches!(&err, ImportError::Source { source_id, .. } if source_id == "indicateurs"),
        "{err}"
    );
    assert!(err.to_string().contains("\"pop_75_plus\""), "{err}");

    // A template of a `;` CSV.
    let manifest = edited_manifest("{lieu} ({jours})", "{lieu} ({horaires})");
    let err = build::build(&manifest, mini.data()).expect_err("no column horaires");
    assert!(err.to_string().contains("\"horaires\""), "{err}");

    // The command line says it too, and exits with an error.
    fs::write(
        mini.data().join("sources.toml"),
        edited_manifest_text("lat = \"lat\"", "lat = \"latitude\""),
    )
    .unwrap();
    let out = careaccess(mini.data(), "build")
        .output()
        .expect("run careaccess");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("msp_points"), "{stderr}");
    assert!(stderr.contains("column \"latitude\""), "{stderr}");

    assert_eq!(snapshot(mini.data()), before);
    assert!(staging_dirs(mini.data()).is_empty());
}

// ---------------------------------------------------------------- bugs found

#[test]
fn two_builds_in_the_same_second() {
    let mini = Mini::new();
    mini.fetch();
    let first = mini.build();
    let second = build::build(&mini.manifest, mini.data());
    let staging = staging_dirs(mini.data());
    let second = second.unwrap_or_else(|e| panic!("second build: {e}; staging left: {staging:?}"));
    assert_ne!(first.dir, second.dir);
    assert!(staging.is_empty(), "{staging:?}");
    assert_eq!(mini.data().join(snapshot(mini.data()).target), second.dir);
}

#[test]
fn cross_source_finess_duplicate_is_reported_with_its_line() {
    let mini = Mini::new();
    // A second MSP list giving again the FINESS MSP of Thouars (790012345, FINESS line 2),
    // placed in Thouars too. (Not the MSP of La Réunion: it is skipped as
    // `outside_france` before any duplicate check.)
    fs::write(
        mini.mirror().join("doublons.csv"),
        "finess,nom,lon,lat\n790012345,MSP DU THOUARSAIS (copie),-0.2100,46.9900\n",
    )
    .unwrap();
    let mut manifest = mini.manifest.clone();
    let mut extra = manifest.source("msp_points").unwrap().clone();
    extra.id = "doublons".into();
    extra.url = Some("http://127.0.0.1:9/doublons.csv".into());
    extra.mirror = Some("doublons.csv".into());
    extra.yields_to.clear();
    extra.columns = Columns {
        finess: Some("finess".into()),
        name: Some("nom".into()),
        lon: Some("lon".into()),
        lat: Some("lat".into()),
        ..Columns::default()
    };
    manifest.sources.push(extra);
    mini.try_fetch(&manifest, None).expect("fetch");
    let built = build::build(&manifest, mini.data()).expect("build");
    let r = source(&built.report, "doublons");
    assert_eq!((r.rows_read, r.kept, r.superseded), (1, 0, 0));
    assert_eq!(skipped(r), [(2, "duplicate_finess")]);
    assert!(
        r.skipped_rows[0].detail.contains("790012345")
            && r.skipped_rows[0].detail.contains("finess"),
        "{}",
        r.skipped_rows[0].detail
    );
    // The FINESS one is kept, once.
    assert_eq!(source(&built.report, "finess").kept_by_kind["msp"], 1);
    let msp = layer(mini.data(), "msp.fgb");
    let f = by(&msp, "id")["790012345"];
    assert_eq!(text(f, "source"), Some("finess"));
    assert_eq!(int(f, "ligne_source"), Some(2));
}

#[test]
fn finess_commune_deleguee_is_mapped_to_its_commune() {
    let mini = Mini::new();
    // Line 2: an MSP of Mauzé-Thouarsais (79171, commune déléguée of Thouars since 2019),
    // at the point of the MSP of Thouars. Line 3: an MSP whose commune code 79998 is
    // unknown to the COG, at the point of the EHPA of Saint-Varent (79299).
    let finess = "finess;etalab;98;2026-05-12\n\
        structureet;790099993;790099985;MSP DE MAUZE;MAISON DE SANTÉ DE MAUZÉ-THOUARSAIS;;;1;RUE;DU BOURG;;;171;79;DEUX-SEVRES;79100 THOUARS;;;603;Maison de santé (L.6223-3);2206;Maisons de Santé;;8621Z;03;ARS;;;2010-01-01;2010-01-01;2026-04-02;\n\
        structureet;790099969;790099951;MSP CODE INCONNU;MAISON DE SANTÉ AU CODE COMMUNE INCONNU;;;2;RUE;DES ACACIAS;;;998;79;DEUX-SEVRES;79330 ST VARENT;;;603;Maison de santé (L.6223-3);2206;Maisons de Santé;;8621Z;03;ARS;;;2010-01-01;2010-01-01;2026-04-02;\n\
        geolocalisation;790099993;455691.4;6657805.5;1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole);2026-05-04\n\
        geolocalisation;790099969;453975.7;6648238.1;1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole);2026-05-04\n";
    fs::write(mini.mirror().join("finess").join(FINESS_FILE), finess).unwrap();
    mini.fetch();
    let built = mini.build();
    let r = source(&built.report, "finess");
    assert_eq!((r.rows_read, r.kept), (2, 2));
    assert_eq!(skipped(r), []);
    for note in [
        "1 structures in a commune déléguée or associée were given its commune actuelle",
        "1 structures had a commune code unknown to the COG and were given the commune under their point",
    ] {
        assert!(r.notes.iter().any(|n| n == note), "{note}: {:?}", r.notes);
    }
    let msp = layer(mini.data(), "msp.fgb");
    let msp = by(&msp, "id");
    let f = msp["790099993"];
    assert_eq!(text(f, "commune"), Some("79329"));
    assert_eq!(text(f, "departement"), Some("79"));
    assert_eq!(int(f, "ligne_source"), Some(2));
    let f = msp["790099969"];
    assert_eq!(text(f, "commune"), Some("79299"));
    assert_eq!(int(f, "ligne_source"), Some(3));
}

#[test]
fn build_report_json_reads_back() {
    let mini = Mini::new();
    mini.fetch();
    let built = mini.build();
    let bytes = fs::read(built.dir.join("build-report.json")).unwrap();
    let back = serde_json::from_slice::<BuildReport>(&bytes).map_err(|e| e.to_string());
    let out = careaccess(mini.data(), "status")
        .output()
        .expect("run careaccess data status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        back.is_ok() && out.status.success(),
        "BuildReport from build-report.json: {back:?}\n`data status`: {stderr}"
    );
    assert_eq!(back.unwrap(), built.report);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("current build {} (", built.report.build_id)),
        "{stdout}"
    );
}

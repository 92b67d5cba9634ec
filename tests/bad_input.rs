//! The bad-input catalogue: every kind of bad file or request careaccess is known to
//! meet, and what it does with it — a clear error naming the problem, or a row skipped
//! *and counted* in the import report with its line and reason; never a panic, a 500 or
//! a silent drop.
//!
//! | input | where | outcome |
//! |---|---|---|
//! | empty file | every importer | error naming the file's problem |
//! | truncated file | FINESS, CSV: last row cut | `malformed_row` (or the field it lacks) |
//! | | GeoJSON cut | error with line and column |
//! | not UTF-8 | FINESS, CSV | read as Windows-1252 (older official files), noted |
//! | | GeoJSON | error (JSON is UTF-8) |
//! | not the format at all | every importer | error naming what was expected |
//! | mixed record types | FINESS | other types skipped as `unknown_record_type`; the two known types joined in any order |
//! | unknown CRS | FINESS | `unknown_crs` |
//! | | GeoJSON `crs` other than WGS84, Lambert-93 or an overseas UTM | error naming the CRS |
//! | | a source's `crs` and its GeoJSON's that disagree | error naming both |
//! | projected x/y outside the CRS's area | CSV, GeoJSON with a `crs` | `outside_crs_area`; swapped x/y corrected, noted |
//! | NaN, ∞, out-of-range coordinates | FINESS, CSV, GeoJSON | `bad_coordinates` |
//! | a feature that is not a GeoJSON Feature (e.g. a one-number position) | GeoJSON | `bad_feature`, the other features read |
//! | coordinates outside France | CSV, GeoJSON | `outside_france`; FINESS: in the build (`outside_france`) |
//! | duplicate FINESS number | FINESS | `duplicate_finess` (first kept); across sources: `tests/import_fixtures.rs` |
//! | commune missing from the COG | CSV, commune CSV | `unknown_commune`; a former commune is mapped to its commune |
//! | huge, inverted or NaN bbox; negative or huge limit | `/collections/*/items` | 400 naming `bbox` / `limit` |
//! | a property filter the column cannot hold, or given twice | `/collections/*/items` | 400 naming the property |
//! | unknown kind, collection, territory, commune | every route | 400 / 404 naming it |
//! | non-numeric, NaN or ∞ lon/lat | `/nearest`, scenarios | 400 naming `lon` / `lat` |
//! | oversized or malformed scenario body | `POST /scenarios` | 413 / 400 with line and column |
//! | path traversal | static files | 404, nothing outside `web/` |
//! | every input of the `http` fuzz corpus | every route | never 5xx |
//! | last line without its line break | CSV | read, and a note in the report that it may be cut short |
//! | a column named twice | points CSV, any CSV | error naming the column |
//! | a file of NUL bytes, a line over 1 MiB | CSV | error at once (short), not a 2 GB line |
//! | a gzip or zip bomb | archives | error past the decompression limit |
//! | a header only, an emptied file | every source, at build | error (`no row`); optional: left out with the reason (`tests/hostile_files.rs`) |
//! | a cached file changed since its fetch | every source, at build | error naming its sha256 (`tests/hostile_files.rs`) |
//! | a source > 20 % smaller than in the build served | build | error unless `--allow-shrink` |

use std::io::Cursor;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use careaccess::fuzz;
use careaccess::import::{Format, ImportError, SourceReport, finess, indicators, points};

use crate::api::{fixture, get, post, send};

// ---------------------------------------------------------------- importers

/// What an importer made of a file: rows kept and the report.
struct Read {
    kept: usize,
    report: SourceReport,
}

/// Reads `bytes` as the source `id` of `geodata/sources.toml` would be read.
fn read(id: &str, bytes: &[u8]) -> Result<Read, ImportError> {
    let spec = fuzz::source(id);
    let locator = fuzz::locator();
    let mut report = SourceReport::default();
    let file = Cursor::new(bytes);
    let kept = match spec.format {
        Format::FinessEtalab => finess::parse(file, spec, &mut report)?.facilities.len(),
        Format::PointsCsv => points::read_points_csv(file, spec, locator, &mut report)?.len(),
        Format::GeojsonPoints => {
            points::read_points_geojson(file, spec, locator, &mut report)?.len()
        }
        Format::CommuneCsv => indicators::read_commune_csv(file, spec, locator, &mut report)?
            .rows
            .len(),
        other => panic!("{id}: {other:?} is not in the catalogue"),
    };
    Ok(Read { kept, report })
}

/// The file is refused with an error that contains every word.
fn refused(id: &str, bytes: &[u8], words: &[&str]) {
    let e = match read(id, bytes) {
        Ok(r) => panic!("{id}: accepted ({} kept, {:?})", r.kept, r.report),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(id), "{e:?} does not name the source {id}");
    for w in words {
        assert!(e.contains(w), "{w:?} not in {e:?}");
    }
}

/// The file is read; `kept` rows are kept and exactly `skips` (line, reason) are
/// skipped, and every row read is one or the other.
fn read_as(id: &str, bytes: &[u8], kept: usize, skips: &[(u64, &str)]) -> SourceReport {
    let r = read(id, bytes).unwrap_or_else(|e| panic!("{id}: {e}"));
    let got: Vec<(u64, &str)> = r
        .report
        .skipped_rows
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect();
    assert_eq!(got, skips, "{id}: {:#?}", r.report.skipped_rows);
    assert_eq!(r.kept, kept, "{id}: {:?}", r.report);
    assert_eq!(
        r.report.rows_read,
        (kept + skips.len()) as u64,
        "{id}: a row neither kept nor skipped"
    );
    r.report
}

const FINESS_HEADER: &str = "finess;etalab;98;2026-05-12\n";
const LAMBERT_93: &str = "EPSG:2154 RGF93 / Lambert-93 (Métropole)";

/// A `structureet` row (32 fields) of an MSP of Thouars.
fn structureet(finess: &str) -> String {
    format!(
        "structureet;{finess};790012337;MSP DU THOUARSAIS;MAISON DE SANTÉ DU THOUARSAIS;;;12;RUE;\
         DES HÔPITAUX;;;329;79;DEUX-SEVRES;79100 THOUARS;0549661234;;603;Maison de santé \
         (L.6223-3);2206;Maisons de Santé;;8621Z;03;ARS;;;2010-01-01;2010-01-01;2026-04-02;\n"
    )
}

/// A `geolocalisation` row.
fn geoloc(finess: &str, x: &str, y: &str, crs: &str) -> String {
    format!("geolocalisation;{finess};{x};{y};1,ATLASANTE,96,BAN,{crs};2026-05-04\n")
}

/// A FINESS file: the header, then the rows.
fn finess_file(rows: &[String]) -> Vec<u8> {
    let mut f = FINESS_HEADER.to_owned();
    rows.iter().for_each(|r| f.push_str(r));
    f.into_bytes()
}

#[test]
fn finess_empty_not_finess_and_header_only() {
    refused("finess", b"", &["empty", "header"]);
    refused("finess", b"\n\n  \n", &["empty"]);
    refused(
        "finess",
        b"\x00\x01\xff\xfe garbage",
        &["not a FINESS header"],
    );
    refused(
        "finess",
        structureet("790012345").as_bytes(),
        &["no header line", "structureet"],
    );
    read_as("finess", FINESS_HEADER.as_bytes(), 0, &[]);
}

#[test]
fn finess_truncated_rows_are_malformed() {
    let whole = finess_file(&[
        structureet("790012345"),
        geoloc("790012345", "455691.4", "6657805.5", LAMBERT_93),
    ]);
    read_as("finess", &whole, 1, &[]);
    // Cut inside the geolocalisation row: the structure has no position left.
    let cut = &whole[..whole.len() - 40];
    read_as(
        "finess",
        cut,
        0,
        &[(2, "missing_geolocation"), (3, "malformed_row")],
    );
    // Cut inside the structureet row.
    let cut = &whole[..FINESS_HEADER.len() + 60];
    read_as("finess", cut, 0, &[(2, "malformed_row")]);
}

#[test]
fn finess_in_windows_1252_is_read_and_noted() {
    let utf8 = finess_file(&[
        structureet("790012345"),
        geoloc("790012345", "455691.4", "6657805.5", LAMBERT_93),
    ]);
    let text = String::from_utf8(utf8).unwrap();
    let (latin, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!lossy);
    let report = read_as("finess", &latin, 1, &[]);
    assert!(
        report.notes.iter().any(|n| n.contains("Windows-1252")),
        "{:?}",
        report.notes
    );
}

#[test]
fn finess_mixed_record_types() {
    // Geolocation first, another record type in between, then the structure.
    let file = finess_file(&[
        geoloc("790012345", "455691.4", "6657805.5", LAMBERT_93),
        "equipementsocial;790012345;924;Accueil pour Personnes Âgées;11;Hébergement Complet\n"
            .to_owned(),
        structureet("790012345"),
    ]);
    read_as("finess", &file, 1, &[(3, "unknown_record_type")]);
}

#[test]
fn finess_unknown_crs_and_bad_coordinates() {
    let cases: [(&str, &str, &str); 7] = [
        ("455691.4", "6657805.5", "EPSG:9999 Nowhere / Unknown"),
        ("NaN", "6657805.5", LAMBERT_93),
        ("455691.4", "inf", LAMBERT_93),
        ("1e400", "6657805.5", LAMBERT_93),
        ("-1e12", "6657805.5", LAMBERT_93),
        ("4556914", "66578055", LAMBERT_93),
        ("", "", LAMBERT_93),
    ];
    for (x, y, crs) in cases {
        let file = finess_file(&[structureet("790012345"), geoloc("790012345", x, y, crs)]);
        let reason = if crs == LAMBERT_93 {
            "bad_coordinates"
        } else {
            "unknown_crs"
        };
        let r = read_as("finess", &file, 0, &[(2, reason)]);
        let detail = &r.skipped_rows[0].detail;
        assert!(!detail.is_empty(), "{x} {y} {crs}");
    }
}

#[test]
fn finess_duplicate_numbers_keep_the_first() {
    let file = finess_file(&[
        structureet("790012345"),
        structureet("790012345"),
        geoloc("790012345", "455691.4", "6657805.5", LAMBERT_93),
    ]);
    let r = read_as("finess", &file, 1, &[(3, "duplicate_finess")]);
    assert!(r.skipped_rows[0].detail.contains("line 2"), "{r:?}");
}

const EHPAD_HEADER: &str =
    "finess_et,nom,lon,lat,insee_com,capacite_hp,adresse,code_postal,ville_finess\n";

/// The `ehpad_finess_7dep` points CSV with these rows.
fn ehpad_csv(rows: &[&str]) -> Vec<u8> {
    let mut f = EHPAD_HEADER.to_owned();
    for r in rows {
        f.push_str(r);
        f.push('\n');
    }
    f.into_bytes()
}

#[test]
fn points_csv_empty_and_wrong_header() {
    refused("ehpad_finess_7dep", b"", &["finess_et"]);
    refused(
        "ehpad_finess_7dep",
        b"a,b,c\n1,2,3\n",
        &["not in the file header"],
    );
    read_as("ehpad_finess_7dep", EHPAD_HEADER.as_bytes(), 0, &[]);
}

#[test]
fn points_csv_bad_rows_are_counted() {
    let file = ehpad_csv(&[
        "790001234,EHPAD Les Tilleuls,-0.08,46.83,79005,84,2 rue du Château,79600,AIRVAULT",
        "790001235,EHPAD NaN,NaN,46.83,79005,84,,,",
        "790001236,EHPAD infini,-0.08,inf,79005,84,,,",
        "790001237,EHPAD hors bornes,500,46.83,79005,84,,,",
        "790001238,EHPAD à Madrid,-3.70,40.42,79005,84,,,",
        "790001239,EHPAD commune inconnue,-0.08,46.83,99999,84,,,",
        "790001240,EHPAD commune déléguée,-0.08,46.95,79156,84,,,",
        "79000124X,EHPAD numéro faux,-0.08,46.83,79005,84,,,",
        "790001241,EHPAD court,-0.08",
        "790001242,\"EHPAD tronqué,-0.08,46.83,79005",
    ]);
    read_as(
        "ehpad_finess_7dep",
        &file,
        2,
        &[
            (3, "bad_coordinates"),
            (4, "bad_coordinates"),
            (5, "bad_coordinates"),
            (6, "outside_france"),
            (7, "unknown_commune"),
            (9, "bad_finess_number"),
            (10, "malformed_row"),
            (11, "malformed_row"),
        ],
    );
}

#[test]
fn points_csv_in_windows_1252_is_read() {
    let text = String::from_utf8(ehpad_csv(&[
        "790001234,EHPAD Les Genêts,-0.08,46.83,79005,84,2 rue du Prieuré,79600,AIRVAULT",
    ]))
    .unwrap();
    let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    read_as("ehpad_finess_7dep", &latin, 1, &[]);
}

/// Issue 18: a last line cut short is noted in the report; a duplicate column is an
/// error naming it; a file of NUL bytes stops at once with an error, not a 2 GB line.
#[test]
fn points_csv_cut_duplicate_columns_and_nul_bytes() {
    let mut cut = ehpad_csv(&[
        "790001234,EHPAD Les Tilleuls,-0.08,46.83,79005,84,2 rue du Château,79600,AIRVAULT",
        "790001235,EHPAD Les Lilas,-0.08,46.83,79005,84,2 rue",
    ]);
    cut.pop(); // the final line break
    let r = read("ehpad_finess_7dep", &cut).unwrap().report;
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("line 3") && n.contains("cut short")),
        "{:?}",
        r.notes
    );
    let whole = read(
        "ehpad_finess_7dep",
        &ehpad_csv(&["790001234,EHPAD,-0.08,46.83,79005,84,,,"]),
    )
    .unwrap()
    .report;
    assert!(
        !whole.notes.iter().any(|n| n.contains("cut short")),
        "{:?}",
        whole.notes
    );

    let twice = format!(
        "{}790001234,EHPAD,-0.08,46.83,79005,84,,,\n",
        EHPAD_HEADER.replace("nom,lon", "lon,nom,lon")
    );
    refused(
        "ehpad_finess_7dep",
        twice.as_bytes(),
        &["\"lon\"", "2 times"],
    );

    let nul = vec![0u8; 3 << 20];
    let start = std::time::Instant::now();
    let e = match read("ehpad_finess_7dep", &nul) {
        Ok(_) => panic!("a file of NUL bytes was read"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("line longer than"), "{e:.300}");
    assert!(e.len() < 2_000, "an error of {} bytes", e.len());
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
}

/// A gzip bomb stops with an error once past the limit, instead of filling the memory.
#[test]
fn a_gzip_bomb_stops_at_the_decompression_limit() {
    use std::io::{Read, Write};
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let mut out = Vec::new();
    let e = careaccess::import::checks::Capped::new(
        flate2::read::GzDecoder::new(bomb.as_slice()),
        8 << 20,
        "bomb.gz",
    )
    .read_to_end(&mut out)
    .unwrap_err();
    assert!(
        e.to_string().contains("bomb.gz holds more than 8 MiB"),
        "{e}"
    );
    assert!(out.len() <= 8 << 20);
}

/// A FeatureCollection of the CNSA prices layout with these features.
fn feature_collection(features: &[&str]) -> Vec<u8> {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
    .into_bytes()
}

fn point_feature(coordinates: &str, name: &str) -> String {
    format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":{coordinates}}},"properties":{{"popup":"{name}"}}}}"#
    )
}

#[test]
fn geojson_empty_truncated_and_not_utf8_are_refused() {
    refused("ehpad_cnsa_prix", b"", &["GeoJSON", "EOF"]);
    let whole = feature_collection(&[&point_feature("[-0.21,46.98]", "EHPAD")]);
    refused(
        "ehpad_cnsa_prix",
        &whole[..whole.len() - 10],
        &["GeoJSON", "line 1"],
    );
    let latin = feature_collection(&[&point_feature("[-0.21,46.98]", "EHPAD Genêts")])
        .iter()
        .flat_map(|&b| match b {
            0xC3 => None,
            0xAA => Some(0xEA),
            b => Some(b),
        })
        .collect::<Vec<u8>>();
    refused("ehpad_cnsa_prix", &latin, &["GeoJSON"]);
    refused(
        "ehpad_cnsa_prix",
        br#"{"type":"Feature","geometry":null,"properties":{}}"#,
        &["FeatureCollection"],
    );
    // 1e400 is not a JSON number a parser can hold: the file is refused, with the place.
    refused(
        "ehpad_cnsa_prix",
        &feature_collection(&[&point_feature("[1e400,46.98]", "EHPAD")]),
        &["line 1", "column"],
    );
}

#[test]
fn geojson_in_another_crs_is_refused_naming_it() {
    let in_crs = |name: &str, position: &str| {
        format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"{name}"}}}},"features":[{}]}}"#,
            point_feature(position, "EHPAD")
        )
    };
    let mercator = in_crs("urn:ogc:def:crs:EPSG::3857", "[-23911.7,5934407.0]");
    refused(
        "ehpad_cnsa_prix",
        mercator.as_bytes(),
        &["EPSG::3857", "WGS84", "EPSG:2154"],
    );
    // Lambert-93 is converted, and a point outside its area skipped.
    let lambert = in_crs("urn:ogc:def:crs:EPSG::2154", "[455691.4,6657805.5]");
    read_as("ehpad_cnsa_prix", lambert.as_bytes(), 1, &[]);
    let degrees = in_crs("urn:ogc:def:crs:EPSG::2154", "[-0.21,46.98]");
    read_as(
        "ehpad_cnsa_prix",
        degrees.as_bytes(),
        0,
        &[(1, "outside_crs_area")],
    );
    // WGS84 said out loud is fine.
    let wgs84 = format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}}}},"features":[{}]}}"#,
        point_feature("[-0.21,46.98]", "EHPAD")
    );
    read_as("ehpad_cnsa_prix", wgs84.as_bytes(), 1, &[]);
}

#[test]
fn geojson_bad_features_are_counted() {
    let file = feature_collection(&[
        &point_feature("[-0.21,46.98]", "EHPAD Thouars"),
        &point_feature("[500,46.98]", "EHPAD hors bornes"),
        &point_feature("[-3.70,40.42]", "EHPAD à Madrid"),
        &point_feature("[-0.21]", "EHPAD une coordonnée"),
        r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,46],[1,47]]},"properties":{"popup":"ligne"}}"#,
        r#"{"type":"Feature","geometry":null,"properties":{"popup":"sans position"}}"#,
        &point_feature("[-0.21,46.98]", ""),
    ]);
    read_as(
        "ehpad_cnsa_prix",
        &file,
        1,
        &[
            (2, "bad_coordinates"),
            (3, "outside_france"),
            (4, "bad_feature"),
            (5, "bad_coordinates"),
            (6, "no_position"),
            (7, "missing_name"),
        ],
    );
}

#[test]
fn commune_csv_unknown_duplicate_and_malformed_rows() {
    let file = b"insee_com,pop_75plus_rp2023,pop_85plus_rp2023\n\
        79329,1543,520\n\
        79156,10,2\n\
        99999,1,1\n\
        79A29,1,1\n\
        79329,1,1\n\
        79005,402\n";
    read_as(
        "population_age",
        file,
        1,
        &[
            (3, "unknown_commune"),
            (4, "unknown_commune"),
            (5, "bad_commune_code"),
            (6, "duplicate_commune"),
            (7, "malformed_row"),
        ],
    );
    refused("population_age", b"", &["insee_com"]);
}

// ---------------------------------------------------------------- HTTP

#[tokio::test]
async fn bad_items_parameters_are_400s_naming_the_parameter() {
    let cases: [(&str, &[&str]); 21] = [
        ("bbox=3,2,1,4", &["`bbox`", "inverted"]),
        ("bbox=-1e9,-1e9,1e9,1e9", &["`bbox`", "outside"]),
        ("bbox=-180,-90,180,1e308", &["`bbox`", "outside"]),
        ("bbox=a,b,c,d", &["`bbox`", "number"]),
        ("bbox=1,2,3", &["`bbox`", "4 numbers"]),
        ("bbox=NaN,1,2,3", &["`bbox`", "number"]),
        ("bbox=1,2,inf,4", &["`bbox`", "number"]),
        ("limit=-1", &["`limit`", "between 0 and 10000"]),
        ("limit=10001", &["`limit`", "between 0 and 10000"]),
        ("limit=99999999999999999999999999", &["`limit`", "between"]),
        ("limit=abc", &["`limit`", "whole number"]),
        ("offset=-5", &["`offset`"]),
        ("f=xml", &["`f`", "json, csv, fgb or xlsx"]),
        ("properties=code,nope", &["`properties`", "nope"]),
        ("departemnt=79", &["`departemnt`", "departement"]),
        ("limit=1&limit=2", &["`limit`", "more than once"]),
        ("bbox-crs=EPSG:2154", &["`bbox-crs`", "CRS84"]),
        ("%FF=1", &["unknown parameter"]),
        ("population=abc", &["`population`", "whole number"]),
        ("ref_lon=null", &["`ref_lon`", "number"]),
        (
            "departement=79&departement=86",
            &["`departement`", "more than once"],
        ),
    ];
    for (q, words) in cases {
        get(&format!("/collections/communes/items?{q}"))
            .await
            .problem(400, words);
    }
    get("/collections/msp/items?liste_partielle=null")
        .await
        .problem(400, &["`liste_partielle`", "true or false"]);
}

#[tokio::test]
async fn bad_nearest_parameters() {
    let cases: [(&str, u16, &[&str]); 15] = [
        ("lon=abc&lat=46", 400, &["`lon`", "number"]),
        ("lon=NaN&lat=46", 400, &["`lon`", "number"]),
        ("lon=-0.2&lat=inf", 400, &["`lat`", "number"]),
        ("lon=1e400&lat=46", 400, &["`lon`", "number"]),
        ("lon=-0.2&lat=95", 400, &["`lat`", "[-90, 90]"]),
        ("lon=-0.2", 400, &["`lat`", "missing"]),
        ("", 400, &["`lon`", "`commune`"]),
        ("lon=0&lat=46&commune=79329", 400, &["not both"]),
        ("commune=99999", 400, &["`commune`", "99999"]),
        ("commune=../../etc", 400, &["`commune`"]),
        ("commune=79329&kind=dentist!", 400, &["`kind`", "msp"]),
        (
            "commune=79329&kind=centre_sante",
            400,
            &["`kind`", "no structure"],
        ),
        ("commune=79329&k=0", 400, &["`k`", "between 1 and 50"]),
        (
            "commune=79329&model=teleport",
            400,
            &["`model`", "straight"],
        ),
        (
            "commune=79329&model=matrix",
            400,
            &["`model`", "travel-time table"],
        ),
    ];
    for (q, status, words) in cases {
        get(&format!("/nearest?{q}")).await.problem(status, words);
    }
}

#[tokio::test]
async fn bad_analysis_parameters() {
    let cases: [(&str, u16, &[&str]); 15] = [
        ("/territories/cls/nowhere", 404, &["nowhere"]),
        ("/territories/planet/earth", 404, &["planet"]),
        (
            "/territories/cls/thouarsais/coverage",
            400,
            &["`kind`", "required"],
        ),
        (
            "/territories/cls/thouarsais/coverage?kind=unicorn",
            400,
            &["`kind`", "unicorn"],
        ),
        (
            "/territories/cls/thouarsais/coverage?kind=msp&within_km=NaN",
            400,
            &["`within_km`", "number"],
        ),
        (
            "/territories/cls/thouarsais/coverage?kind=msp&within_km=-3",
            400,
            &["`within_km`", "between 0 and 1000"],
        ),
        (
            "/territories/cls/thouarsais/coverage?kind=msp&within_km=5&within_min=5",
            400,
            &["within_km", "within_min"],
        ),
        ("/communes/00000/explain", 404, &["00000"]),
        (
            "/communes/79329/explain?kind=astrology",
            400,
            &["`kind`", "profile"],
        ),
        ("/siting?kind=msp", 400, &["`territory`"]),
        (
            "/siting?territory=cls:nowhere&kind=msp",
            400,
            &["`territory`", "nowhere"],
        ),
        (
            "/siting?territory=cls:thouarsais&kind=msp&k=51",
            400,
            &["`k`"],
        ),
        ("/search", 400, &["`q`"]),
        ("/search?q=x&type=galaxy", 400, &["`type`"]),
        ("/map/nope", 404, &["nope"]),
    ];
    for (uri, status, words) in cases {
        get(uri).await.problem(status, words);
    }
}

#[tokio::test]
async fn bad_scenarios_are_4xx() {
    let cases: [(&str, u16, &[&str]); 9] = [
        ("{not json", 400, &["scenario body", "line 1 column 2"]),
        ("", 400, &["scenario body", "EOF"]),
        (r#"{"kind":"msp","changes":[]}"#, 400, &["changes", "empty"]),
        (
            r#"{"kind":"msp","changes":[{"op":"add","lon":500,"lat":1}]}"#,
            400,
            &["500"],
        ),
        (
            r#"{"kind":"msp","changes":[{"op":"add","lon":1e400,"lat":1}]}"#,
            400,
            &["scenario body", "number"],
        ),
        (
            r#"{"kind":"msp","changes":[{"op":"remove","id":"nope"}]}"#,
            400,
            &["nope"],
        ),
        (
            r#"{"kind":"msp","changes":[{"op":"add","lon":0,"lat":46}],"colour":"red"}"#,
            400,
            &["colour"],
        ),
        (
            r#"{"kind":"unicorn","changes":[{"op":"add","lon":0,"lat":46}]}"#,
            400,
            &["`kind`"],
        ),
        (
            r#"{"kind":"msp","within_km":-1,"changes":[{"op":"add","lon":0,"lat":46}]}"#,
            400,
            &["`within_km`"],
        ),
    ];
    for (body, status, words) in cases {
        post("/scenarios", body).await.problem(status, words);
    }
    let huge = format!(
        r#"{{"kind":"msp","changes":[{}]}}"#,
        vec![r#"{"op":"add","lon":0,"lat":46}"#; 3000].join(",")
    );
    post("/scenarios", huge)
        .await
        .problem(413, &["scenario body"]);
    let many = format!(
        r#"{{"kind":"msp","changes":[{}]}}"#,
        vec![r#"{"op":"add","lon":0,"lat":46}"#; 201].join(",")
    );
    post("/scenarios", many).await.problem(413, &["201"]);
    let get = send(Request::get("/scenarios").body(Body::empty()).unwrap()).await;
    get.problem(405, &["GET"]);
}

#[tokio::test]
async fn static_files_do_not_escape_the_web_folder() {
    for path in [
        "/../Cargo.toml",
        "/..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
        "/web/../../Cargo.toml",
        "/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/js/..%5c..%5cCargo.toml",
        "/nope.js",
    ] {
        let a = get(path).await;
        assert!(
            a.status == StatusCode::NOT_FOUND || a.status == StatusCode::BAD_REQUEST,
            "{path}: {}",
            a.status
        );
        let body = String::from_utf8_lossy(&a.body);
        assert!(
            !body.contains("[package]") && !body.contains("root:"),
            "{path}"
        );
    }
    get("/no/such/route")
        .await
        .problem(404, &["/no/such/route"]);
    // A segment longer than any file name: 404, not the file system's ENAMETOOLONG as a 500.
    let long = "a".repeat(300);
    for path in [
        format!("/{long}"),
        format!("/js/{long}.js"),
        format!("/collections/{long}"),
    ] {
        get(&path).await.problem(404, &["255"]);
    }
}

#[tokio::test]
async fn admin_reload_needs_a_token() {
    let a = send(
        Request::builder()
            .method(Method::POST)
            .uri("/admin/reload")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    a.problem(403, &["CAREACCESS_ADMIN_TOKEN"]);
}

/// The `http` fuzz corpus through the router on the mini data set: never a 5xx.
#[tokio::test]
async fn the_http_fuzz_corpus_never_gets_a_5xx() {
    let service = fixture().service.clone();
    let mut inputs = Vec::new();
    let n = fuzz::replay_corpus("http", |data| inputs.push(data.to_vec())).unwrap();
    assert!(n > 0, "fuzz/corpus/http is empty");
    for data in inputs {
        fuzz::http(&service, &data).await;
    }
}

//! Entry points of the fuzz targets in `fuzz/` (`cargo fuzz run <target>`), and the same
//! checks replayed by `cargo test` over the committed corpus (`fuzz/corpus/<target>/`), so
//! that every input that once found a fault keeps being tried on stable Rust, in CI.
//!
//! Each function takes arbitrary bytes and panics only when careaccess breaks one of its
//! promises on them: an importer that panics, loses a row (rows read ≠ kept + skipped
//! + aggregated) or
//! keeps a facility at a position that is not in France; a query parser that panics or
//! accepts a value outside its range; a route that answers 5xx.
//!
//! Not part of the public API: the module is hidden from the documentation and may change
//! with the fuzz targets.

use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use geo::{MultiPolygon, Rect};
use tower::ServiceExt;

use crate::analysis::change::MAX_CHANGES;
use crate::analysis::request;
use crate::api::params::{self, QueryPairs};
use crate::api::query::{NearestQuery, ScenarioBody};
use crate::api::{Service, app};
use crate::import::communes::{Cog, CogCommune, Contour, Contours};
use crate::import::locate::{Locator, MAX_OFFSHORE_M};
use crate::import::{
    Format, ImportError, Manifest, SourceReport, SourceSpec, finess, indicators, points,
};
use crate::model::{Facility, InseeCode};

/// The fuzz targets, by name: the folder of their corpus under `fuzz/corpus/`.
pub const TARGETS: &[&str] = &[
    "finess",
    "points_csv",
    "points_geojson",
    "commune_csv",
    "query",
    "http",
];

/// The sources of the real `geodata/sources.toml`: the importers are fuzzed with the
/// column names and options they run with.
fn manifest() -> &'static Manifest {
    static M: OnceLock<Manifest> = OnceLock::new();
    M.get_or_init(|| {
        Manifest::from_toml(include_str!("../geodata/sources.toml"))
            .expect("geodata/sources.toml is valid")
    })
}

/// A source of the real `geodata/sources.toml`, by id.
pub fn source(id: &str) -> &'static SourceSpec {
    manifest()
        .source(id)
        .unwrap_or_else(|| panic!("no source {id:?} in geodata/sources.toml"))
}

/// The sources of one format, in `sources.toml` order.
fn specs(format: Format) -> Vec<&'static SourceSpec> {
    manifest()
        .sources
        .iter()
        .filter(|s| s.format == format)
        .collect()
}

/// Picks a source of `format` with the first byte of the input; the rest is the file.
fn split_spec(format: Format, data: &[u8]) -> Option<(&'static SourceSpec, &[u8])> {
    let specs = specs(format);
    let (&first, file) = data.split_first()?;
    Some((specs[usize::from(first) % specs.len()], file))
}

/// Seven communes of the Thouarsais and around, real INSEE codes, rectangles for
/// polygons (as in `tests/fixtures/mini`): enough for the importers to place points and
/// to tell known communes from unknown ones.
pub const COMMUNES: &[(&str, [f64; 4])] = &[
    ("79005", [-0.16, 46.78, -0.05, 46.88]),
    ("79014", [-0.45, 46.95, -0.27, 47.10]),
    ("79049", [-0.60, 46.78, -0.30, 46.93]),
    ("79196", [-0.16, 46.88, 0.00, 47.05]),
    ("79299", [-0.30, 46.85, -0.16, 46.93]),
    ("79329", [-0.27, 46.93, -0.16, 47.05]),
    ("86137", [0.00, 46.95, 0.15, 47.08]),
];

/// A locator over [`COMMUNES`] (and one commune déléguée, 79156 in 79196); the bad-input
/// catalogue (`tests/bad_input.rs`) reads with it too.
pub fn locator() -> &'static Locator {
    static L: OnceLock<Locator> = OnceLock::new();
    L.get_or_init(|| {
        let mut cog = Cog::default();
        let mut contours = Contours::default();
        for &(code, [x0, y0, x1, y1]) in COMMUNES {
            let code = InseeCode::parse(code).expect("valid INSEE code");
            cog.communes.push(CogCommune {
                code: code.clone(),
                name: code.to_string(),
                population: 1_000,
                departement: code.departement().to_owned(),
                region: "75".to_owned(),
                epci: None,
            });
            let polygon = Rect::new((x0, y0), (x1, y1)).to_polygon();
            contours.communes.insert(
                code,
                Contour {
                    geometry: Some(MultiPolygon(vec![polygon])),
                    mairie: None,
                },
            );
        }
        // A commune déléguée of Plaine-et-Vallées, to reach the "now part of" paths.
        let former = InseeCode::parse("79156").expect("valid INSEE code");
        let parent = InseeCode::parse("79196").expect("valid INSEE code");
        cog.former.insert(former, parent);
        Locator::new(&cog, &contours)
    })
}

/// What every importer promises of the rows it read.
fn check_import(what: &str, facilities: &[Facility], report: &SourceReport) {
    let kept = facilities.len() as u64;
    assert_eq!(
        report.rows_read,
        kept + report.skipped_total(),
        "{what}: rows read ≠ kept + skipped ({report:?})"
    );
    for s in &report.skipped_rows {
        assert!(
            !s.reason.is_empty() && !s.detail.is_empty(),
            "{what}: {s:?}"
        );
    }
    for f in facilities {
        let p = f.position;
        assert!(
            p.x().is_finite() && p.y().is_finite(),
            "{what}: {} kept at {p:?}",
            f.id
        );
        assert!(!f.id.is_empty() && !f.name.is_empty(), "{what}: {f:?}");
    }
}

/// A FINESS etalab extract, read with the `finess` source of `sources.toml`.
pub fn finess(data: &[u8]) {
    let spec = specs(Format::FinessEtalab)[0];
    let mut report = SourceReport::default();
    if let Ok(extract) = finess::parse(Cursor::new(data), spec, &mut report) {
        check_import("finess", &extract.facilities, &report);
        assert_eq!(report.kept, extract.facilities.len() as u64);
        for f in &extract.facilities {
            // Reprojected once: what the parser keeps is WGS84 degrees.
            let p = f.position;
            assert!(
                (-180.0..=180.0).contains(&p.x()) && (-90.0..=90.0).contains(&p.y()),
                "finess: {} kept at {p:?}",
                f.id
            );
        }
    }
}

/// Placed facilities are in France, inside a commune polygon or within
/// [`MAX_OFFSHORE_M`] of one, and their commune is one of the COG. (The FINESS parser
/// leaves this to the build, which checks every source's facilities alike.)
fn check_located(what: &str, facilities: &[Facility]) {
    for f in facilities {
        if let Some(c) = &f.commune {
            assert!(locator().is_commune(c), "{what}: {} in unknown {c}", f.id);
        }
        let located = locator().locate(f.position);
        assert!(
            located.is_some_and(|l| l.outside_by_m <= MAX_OFFSHORE_M),
            "{what}: {} kept at {:?}, outside every commune",
            f.id,
            f.position
        );
    }
}

/// A points importer, as the build calls it.
type PointsReader = fn(
    Cursor<&[u8]>,
    &SourceSpec,
    &Locator,
    &mut SourceReport,
) -> Result<Vec<Facility>, ImportError>;

/// The input read by a source of `format` (picked by the first byte) with `read`.
fn read_points(what: &str, format: Format, data: &[u8], read: PointsReader) {
    let Some((spec, file)) = split_spec(format, data) else {
        return;
    };
    let mut report = SourceReport::default();
    if let Ok(list) = read(Cursor::new(file), spec, locator(), &mut report) {
        check_import(what, &list, &report);
        check_located(what, &list);
    }
}

/// A points CSV, read with the columns of a `points_csv` source of `sources.toml`.
pub fn points_csv(data: &[u8]) {
    read_points("points_csv", Format::PointsCsv, data, |r, s, l, rep| {
        points::read_points_csv(r, s, l, rep)
    });
}

/// A GeoJSON FeatureCollection of points, read like the `geojson_points` sources.
pub fn points_geojson(data: &[u8]) {
    read_points(
        "points_geojson",
        Format::GeojsonPoints,
        data,
        |r, s, l, rep| points::read_points_geojson(r, s, l, rep),
    );
}

/// A CSV of values per commune, read like the `commune_csv` sources.
pub fn commune_csv(data: &[u8]) {
    let Some((spec, file)) = split_spec(Format::CommuneCsv, data) else {
        return;
    };
    let mut report = SourceReport::default();
    if let Ok(table) = indicators::read_commune_csv(Cursor::new(file), spec, locator(), &mut report)
    {
        assert_eq!(
            report.rows_read,
            report.kept + report.skipped_total() + report.aggregated,
            "commune_csv: rows read ≠ kept + skipped + aggregated ({report:?})"
        );
        // Every kept row, and one row per commune of the aggregated arrondissements.
        assert!(table.rows.len() as u64 >= report.kept);
        assert!(table.rows.len() as u64 <= report.kept + report.aggregated);
        for (code, values) in &table.rows {
            assert!(locator().is_commune(code), "commune_csv: unknown {code}");
            assert_eq!(values.len(), table.fields.len());
        }
    }
}

/// A query string, every value given to every parameter parser, and the bytes as a
/// scenario body: each parser answers a value in its range or a 4xx naming the parameter.
pub fn query(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let pairs = QueryPairs::parse(Some(&raw));
    let rejects = |r: Result<(), crate::api::error::ApiError>| {
        if let Err(e) = r {
            assert!(e.status.is_client_error(), "{e}");
            assert!(!e.detail.is_empty());
        }
    };
    for (name, value) in pairs.pairs() {
        rejects(pairs.get(name).map(drop));
        let number = params::number(name, value);
        rejects(number.clone().map(|v| assert!(v.is_finite())));
        if let Ok(v) = number {
            let request = |r: Result<f64, request::RequestError>| r.map(drop).map_err(Into::into);
            rejects(request(request::lon("lon", v).inspect(|v| {
                assert!((-180.0..=180.0).contains(v));
            })));
            rejects(request(request::lat("lat", v).inspect(|v| {
                assert!((-90.0..=90.0).contains(v));
            })));
            rejects(
                request::threshold(Some(v), None)
                    .map(drop)
                    .map_err(Into::into),
            );
            rejects(
                request::threshold(None, Some(v))
                    .map(drop)
                    .map_err(Into::into),
            );
        }
        rejects(params::limit(name, value).map(|v| assert!(v <= params::MAX_LIMIT)));
        rejects(params::offset(name, value).map(drop));
        rejects(params::count("k", value, 1, 50).map(|v| assert!((1..=50).contains(&v))));
        rejects(params::bbox(name, value).map(|r| {
            let (lo, hi) = (r.min(), r.max());
            assert!(lo.x <= hi.x && lo.y <= hi.y, "{r:?}");
            assert!(-180.0 <= lo.x && hi.x <= 180.0 && -90.0 <= lo.y && hi.y <= 90.0);
        }));
        rejects(params::model(name, value).map(drop));
    }
    rejects(pairs.only(NearestQuery::PARAMS));
    rejects(ScenarioBody::parse(data).map(|r| {
        assert!(!r.changes.is_empty() && r.changes.len() <= MAX_CHANGES);
    }));
}

/// Builds the request of an `http` input: a first line `METHOD /path?query`, the rest is
/// the body. `None` when the line is not a request hyper would pass to the router.
pub fn http_request(data: &[u8]) -> Option<Request<Body>> {
    let text = std::str::from_utf8(data).ok()?;
    let (line, body) = text.split_once('\n').unwrap_or((text, ""));
    let (method, target) = line.split_once(' ')?;
    if !target.starts_with('/') {
        return None;
    }
    let mut req = Request::builder().method(method).uri(target);
    if method == "POST" {
        req = req.header("content-type", "application/json");
    }
    req.body(Body::from(body.to_owned())).ok()
}

/// Sends an `http` input through the router: never a 5xx, whatever the request — but
/// the 503 of the saved-work routes of a service run without a store.
pub async fn http(service: &Arc<Service>, data: &[u8]) {
    let Some(req) = http_request(data) else {
        return;
    };
    let shown = String::from_utf8_lossy(&data[..data.len().min(200)]).into_owned();
    let answer = app(service.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = answer.status();
    let no_store = service.db.is_none() && status == axum::http::StatusCode::SERVICE_UNAVAILABLE;
    assert!(
        !status.is_server_error() || no_store,
        "{status} for {shown:?}: {:?}",
        axum::body::to_bytes(answer.into_body(), 1 << 16).await
    );
}

/// Runs `check` on every file of `fuzz/corpus/<target>/`; `None` when the folder is absent.
pub fn replay_corpus(target: &str, mut check: impl FnMut(&[u8])) -> std::io::Result<usize> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for f in &files {
        let data = std::fs::read(f)?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        if let Err(panic) = outcome {
            eprintln!("fuzz corpus input {} fails", f.display());
            std::panic::resume_unwind(panic);
        }
    }
    Ok(files.len())
}

/// The pure targets by name (`http` needs a loaded service: see `tests/bad_input.rs`).
pub fn target(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "finess" => finess,
        "points_csv" => points_csv,
        "points_geojson" => points_geojson,
        "commune_csv" => commune_csv,
        "query" => query,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed corpus of every pure target, as `cargo fuzz` would run it once.
    #[test]
    fn the_fuzz_corpus_replays_clean() {
        for name in TARGETS.iter().filter(|n| **n != "http") {
            let check = target(name).expect("known target");
            let n =
                replay_corpus(name, check).unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"));
            assert!(n > 0, "fuzz/corpus/{name} is empty");
        }
    }

    #[test]
    fn http_inputs_are_a_request_line_and_a_body() {
        let r = http_request(b"POST /scenarios\n{\"kind\":\"msp\"}").expect("a request");
        assert_eq!(r.method(), "POST");
        assert_eq!(r.uri().path(), "/scenarios");
        assert!(http_request(b"GET nearest").is_none());
        assert!(http_request(b"\xff /").is_none());
    }
}

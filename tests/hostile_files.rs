//! Bad files and paths (issue 18): a layer swapped or corrupted after its build is refused
//! with an error naming the file (never a panic), an output never lands in built data,
//! static files come from the page's allow-list only (no link out of `web/`), absurd
//! capacities are refused naming the field, and staging folders of killed builds go.

use std::path::Path;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use careaccess::api::{AppState, Service, app};
use careaccess::store::{self, DatasetMeta, LoadOptions};
use serde_json::json;
use tower::ServiceExt;

use crate::api::{fixture, post};
use crate::import_fixtures::Mini;

fn built_mini() -> (Mini, std::path::PathBuf) {
    let mini = Mini::new();
    mini.fetch();
    let dir = mini.build().dir;
    (mini, dir)
}

fn load_error(dir: &Path) -> String {
    match store::load_build(dir, LoadOptions::default()) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_swapped_layer_is_refused_naming_the_file() {
    let (_mini, dir) = built_mini();
    let meta = DatasetMeta::read(&dir).unwrap();
    assert!(meta.sha256.contains_key("msp.fgb"), "{:?}", meta.sha256);
    let other = meta
        .layers
        .keys()
        .find(|f| {
            f.as_str() != "msp.fgb"
                && store::layout::layer_kind(f.trim_end_matches(".fgb")).is_some()
        })
        .expect("another structure layer")
        .clone();
    std::fs::copy(dir.join(&other), dir.join("msp.fgb")).unwrap();
    let e = load_error(&dir);
    assert!(e.contains("msp.fgb") && e.contains("sha256"), "{e}");
    // A build without digests (older) still catches it by the layer name in the header.
    let mut meta = meta;
    meta.sha256.clear();
    meta.write(&dir).unwrap();
    let e = load_error(&dir);
    assert!(e.contains("msp.fgb") && e.contains("not \"msp\""), "{e}");
    // The service refuses it too, naming the file (the previous data stays served on reload).
    let e = AppState::load(_mini.data()).unwrap_err().to_string();
    assert!(e.contains("msp.fgb"), "{e}");
}

#[test]
fn a_corrupt_layer_is_an_error_naming_the_file_never_a_panic() {
    let (_mini, dir) = built_mini();
    let mut meta = DatasetMeta::read(&dir).unwrap();
    meta.sha256.clear(); // reach the reader itself
    meta.write(&dir).unwrap();
    let path = dir.join("msp.fgb");
    let good = std::fs::read(&path).unwrap();
    let mut refused = 0;
    for i in 0..150usize {
        let mut bad = good.clone();
        let at = (i * 7919) % bad.len();
        bad[at] ^= 1 << (i % 8);
        std::fs::write(&path, &bad).unwrap();
        let outcome = std::panic::catch_unwind(|| store::load_build(&dir, LoadOptions::default()));
        let Ok(result) = outcome else {
            panic!("a flip at byte {at} panicked through the loader");
        };
        if let Err(e) = result {
            refused += 1;
            assert!(e.to_string().contains("msp.fgb"), "{e}");
        }
    }
    assert!(refused > 0);
    // With its digest, every flip is refused.
    std::fs::write(&path, &good).unwrap();
    let (_mini2, dir2) = built_mini();
    let p2 = dir2.join("msp.fgb");
    let mut bad = std::fs::read(&p2).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&p2, &bad).unwrap();
    assert!(load_error(&dir2).contains("msp.fgb"));
}

#[test]
fn outputs_never_land_in_built_data() {
    let data = &fixture().service.data_dir;
    let run = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_careaccess"))
            .arg("--data-dir")
            .arg(data)
            .args(["nearest", "--kind", "msp", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let current = data.join("current");
    for target in [
        data.join("msp.fgb"),
        current.join("msp.fgb"),
        current.join("new.csv"),
        store::current_build(data).unwrap().join("x.csv"),
    ] {
        let before = std::fs::read(&target).ok();
        let o = run(&target);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{} written", target.display());
        assert!(err.contains("refusing to write"), "{err}");
        assert_eq!(
            std::fs::read(&target).ok(),
            before,
            "{} changed",
            target.display()
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let fine = tmp.path().join("nearest.csv");
    assert!(run(&fine).status.success());
    assert!(
        std::fs::read_to_string(&fine)
            .unwrap()
            .contains("nearest_id")
    );
}

async fn status(service: std::sync::Arc<Service>, uri: &str) -> StatusCode {
    app(service)
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn static_files_come_from_the_allow_list_and_stay_inside_web() {
    let s = fixture().service.clone();
    for ok in [
        "/style.css",
        "/js/app.js",
        "/js/views/carte.js",
        "/favicon.svg",
    ] {
        assert_eq!(status(s.clone(), ok).await, StatusCode::OK, "{ok}");
    }
    for no in [
        "/package-lock.json",
        "/package.json",
        "/index.html.bak",
        "/README.md",
        "/tests/run.sh",
        "/...x",
        "/js/../package.json",
        "/js/%2e%2e/package.json",
        "/node_modules/.package-lock.json",
        "/js",
        "/js/",
    ] {
        assert_eq!(status(s.clone(), no).await, StatusCode::NOT_FOUND, "{no}");
    }
    // Links out of the web folder are not followed.
    let web = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.js"), "secret").unwrap();
    std::fs::create_dir(web.path().join("js")).unwrap();
    std::fs::write(web.path().join("js/app.js"), "ok").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.js"),
        web.path().join("js/evil.js"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.js"),
        web.path().join("style.css"),
    )
    .unwrap();
    let data = &fixture().service.data_dir;
    let own = std::sync::Arc::new(Service::new(
        AppState::load(data).unwrap(),
        data,
        web.path(),
    ));
    assert_eq!(status(own.clone(), "/js/app.js").await, StatusCode::OK);
    assert_eq!(
        status(own.clone(), "/js/evil.js").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(status(own, "/style.css").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_absurd_capacity_is_refused_naming_the_field() {
    let body = json!({"kind": "ehpad", "changes": [{"op": "add", "lon": -0.2, "lat": 46.97, "capacity": 1.7e308}]});
    post("/scenarios", body.to_string())
        .await
        .problem(422, &["`capacity`", "1000000"]);
}

#[test]
fn staging_folders_of_killed_builds_are_removed_at_the_next_build() {
    let mini = Mini::new();
    mini.fetch();
    mini.build();
    let stale = mini.data().join("builds/.staging-killed");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("communes.fgb"), "half").unwrap();
    let aged = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&stale)
        .status()
        .unwrap();
    assert!(aged.success());
    mini.build();
    assert!(
        !stale.exists(),
        "the killed build's staging folder is still there"
    );
}

/// The build refuses a source emptied to its header (a required one stops the build, an
/// optional one is left out with the reason), and a cached file changed since its fetch.
#[test]
fn empty_sources_and_changed_cache_files_are_refused() {
    use careaccess::import::fetch::FetchManifest;
    let mini = Mini::new();
    mini.fetch();
    mini.build();
    let fetched = FetchManifest::read(mini.data()).unwrap();
    let file = fetched.path_of(mini.data(), "msp_points").unwrap();
    let original = std::fs::read(&file).unwrap();
    // Changed after the fetch: refused by its sha256.
    let header = original.split(|&b| b == b'\n').next().unwrap().to_vec();
    std::fs::write(&file, [header.as_slice(), b"\n"].concat()).unwrap();
    let e = careaccess::import::build::build(mini.manifest(), mini.data())
        .unwrap_err()
        .to_string();
    assert!(e.contains("msp_points") && e.contains("sha256"), "{e}");
    // The same header-only file recorded as fetched: no row, refused.
    let mut record = FetchManifest::read(mini.data()).unwrap();
    let digest = careaccess::import::fetch::sha256_file(&file).unwrap();
    record.fetched.get_mut("msp_points").unwrap().sha256 = digest;
    record.write(mini.data()).unwrap();
    let e = careaccess::import::build::build(mini.manifest(), mini.data())
        .unwrap_err()
        .to_string();
    assert!(e.contains("msp_points") && e.contains("no row"), "{e}");
}

/// A source that reads more than 20 % fewer rows than in the build served stops the
/// build, unless it is allowed.
#[test]
fn a_shrunk_source_stops_the_build_unless_allowed() {
    use careaccess::import::checks::no_shrink;
    use careaccess::import::{BuildReport, SourceReport};
    let report = |rows: &[(&str, u64)]| BuildReport {
        build_id: "b".into(),
        sources: rows
            .iter()
            .map(|(id, n)| SourceReport {
                id: (*id).into(),
                status: "built".into(),
                rows_read: *n,
                ..SourceReport::default()
            })
            .collect(),
        ..BuildReport::default()
    };
    let before = report(&[("ehpad", 721), ("msp", 100)]);
    let cut = report(&[("ehpad", 431), ("msp", 100)]);
    let e = no_shrink(Some(&before), &cut, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ehpad: 431 rows, 721") && e.contains("--allow-shrink"),
        "{e}"
    );
    assert!(no_shrink(Some(&before), &cut, true).is_ok());
    assert!(
        no_shrink(
            Some(&before),
            &report(&[("ehpad", 600), ("msp", 81)]),
            false
        )
        .is_ok()
    );
    assert!(no_shrink(None, &cut, false).is_ok());
}

//! « Portrait de territoire » (issue 19) on the mini data set: a self-contained HTML
//! document whose numbers are the API's, and the same document from the command line.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::api::{fixture, get, get_ok};

/// `data-key` → `data-value` of every cell that carries a number (first occurrence).
fn values(html: &str) -> BTreeMap<String, f64> {
    let re = regex::Regex::new(r#"data-key="([^"]+)" data-value="([^"]+)""#).unwrap();
    let mut out = BTreeMap::new();
    for c in re.captures_iter(html) {
        let v: f64 = c[2].parse().unwrap_or_else(|e| panic!("{}: {e}", &c[2]));
        out.entry(c[1].to_owned()).or_insert(v);
    }
    out
}

/// Equal up to the last bit serde_json's default float parsing may lose (it does not
/// round-trip every f64 exactly); counts are compared exactly.
fn same(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Self-contained: no resource from elsewhere, every link internal.
fn self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..100]);
    assert!(html.contains("<html lang=\"fr\">"));
    for bad in ["src=", "<script", "<link", "@import", "url(http", "url(//"] {
        assert!(!html.contains(bad), "{bad} in the report");
    }
    let href = regex::Regex::new(r#"href="([^"]*)""#).unwrap();
    for c in href.captures_iter(html) {
        assert!(c[1].starts_with('#'), "external reference {}", &c[1]);
    }
    assert!(html.contains("@page { size: A4"));
    assert!(html.contains("break-inside: avoid"));
}

/// The threshold label of the analyses ("10 km", "20 min") of a JSON band.
fn label(b: &Value) -> String {
    let v = b["threshold"]["value"].as_f64().unwrap();
    match b["threshold"]["unit"].as_str().unwrap() {
        "km" => format!("{v} km"),
        _ => format!("{v} min"),
    }
}

async fn report_equals_the_api(kind: &str, code: &str) -> String {
    let a = get(&format!("/territories/{kind}/{code}/report")).await;
    assert_eq!(
        a.status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    assert!(a.media().starts_with("text/html"), "{}", a.media());
    let html = String::from_utf8(a.body.clone()).unwrap();
    self_contained(&html);
    for n in ["Figure 1 –", "Figure 2 –", "Tableau 1 –", "Tableau 2 –"] {
        assert!(html.contains(n), "{n} missing");
    }
    assert!(html.contains("role=\"img\""));
    assert!(html.contains("Méthode"));
    let v = values(&html);
    let summary = get_ok(&format!("/territories/{kind}/{code}")).await;
    assert_eq!(v["population"], summary["population"].as_f64().unwrap());
    assert_eq!(v["communes"], summary["communes"].as_f64().unwrap());
    let kinds = summary["kinds"].as_object().unwrap();
    assert!(!kinds.is_empty());
    let mut compared = 0;
    for k in kinds.keys() {
        let cov = get_ok(&format!("/territories/{kind}/{code}/coverage?kind={k}")).await;
        if cov["communes"].as_u64().unwrap() == 0 {
            assert!(!v.contains_key(&format!("band:{k}:10 km")), "{k}");
            continue;
        }
        for b in cov["bands"].as_array().unwrap() {
            let key = format!("band:{k}:{}", label(b));
            let got = v
                .get(&key)
                .unwrap_or_else(|| panic!("{key} not in the report"));
            assert_eq!(*got, b["population_within"].as_f64().unwrap(), "{key}");
            assert_eq!(
                v[&format!("{key}:beyond")],
                b["population_beyond"].as_f64().unwrap(),
                "{key}"
            );
            if let Some(s) = b["share_within"].as_f64() {
                assert!(same(v[&format!("{key}:share")], s), "{key}");
            }
            compared += 1;
        }
    }
    assert!(compared >= 7, "{compared} bands compared");
    let z = get_ok(&format!("/territories/{kind}/{code}/zonage")).await;
    if !z["cells"].as_array().unwrap().is_empty() {
        let a = &z["agreement"];
        for f in [
            "communes_agree",
            "communes_compared",
            "population_agree",
            "population_compared",
        ] {
            assert_eq!(v[&format!("zonage:{f}")], a[f].as_f64().unwrap(), "{f}");
        }
        if let Some(s) = a["share_communes"].as_f64() {
            assert!(same(v["zonage:share_communes"], s));
        }
    }
    for (id, agg) in summary["accessibility"].as_object().unwrap() {
        match agg["mean"].as_f64() {
            Some(m) => assert!(
                same(v[&format!("acc:{id}")], m),
                "{id}: {} {m}",
                v[&format!("acc:{id}")]
            ),
            None => assert!(!v.contains_key(&format!("acc:{id}")), "{id}"),
        }
    }
    html
}

#[tokio::test]
async fn the_report_of_a_cls_and_of_a_departement_gives_the_api_numbers() {
    let cls = report_equals_the_api("cls", "thouarsais").await;
    // Compared with its département, région and France.
    assert!(cls.contains("Comparaison avec le département"));
    assert!(cls.contains(">France<"));
    report_equals_the_api("dep", "79").await;
    get("/territories/cls/nowhere/report")
        .await
        .problem(404, &["nowhere"]);
    get("/territories/dep/79/report?f=pdf")
        .await
        .problem(400, &["`f`", "html"]);
}

/// The locator draws outlines: the territory's communes in dark blue inside its
/// département (one merged path per colour class), the larger places named, and an inset
/// of France; the per-kind maps are in estimated car minutes, said so.
#[tokio::test]
async fn the_locator_draws_outlines_and_the_maps_are_in_car_minutes() {
    let a = get("/territories/cls/thouarsais/report").await;
    let html = String::from_utf8(a.body).unwrap();
    let start = html.find("<div class=\"locator\">").expect("a locator map");
    let locator = &html[start..start + html[start..].find("</div>").unwrap()];
    assert_eq!(
        locator.matches("<svg").count(),
        2,
        "map and inset: {locator}"
    );
    assert!(!locator.contains("<rect"), "no grid of points");
    let paths = regex::Regex::new(r#"<path fill="([^"]+)"[^>]* d="M[^"]+Z""#).unwrap();
    let fills: Vec<&str> = paths
        .captures_iter(locator)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    // Map: the département, the territory; inset: France, the département.
    assert_eq!(
        fills,
        ["#d4d4d4", "#253494", "#d4d4d4", "#253494"],
        "{locator}"
    );
    assert!(
        locator.contains(">Thouars</text>"),
        "the largest place is named"
    );
    assert!(html.contains("en médaillon, Deux-Sèvres en France métropolitaine"));
    assert!(html.contains("temps en voiture estimé de chaque commune à la plus proche"));
    assert!(html.contains("≤ 10 min"));
    assert!(html.contains("road_estimate"));
    // A région: its départements in dark blue inside France, no inset.
    let a = get("/territories/reg/75/report").await;
    assert_eq!(a.status.as_u16(), 200);
    let html = String::from_utf8(a.body).unwrap();
    let start = html.find("<div class=\"locator\">").expect("a locator map");
    let locator = &html[start..start + html[start..].find("</div>").unwrap()];
    assert_eq!(locator.matches("<svg").count(), 1, "{locator}");
}

#[tokio::test]
async fn the_command_line_writes_the_same_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("portrait.html");
    let status = Command::new(env!("CARGO_BIN_EXE_careaccess"))
        .arg("--data-dir")
        .arg(&fixture().service.data_dir)
        .args(["report", "--territory", "cls:thouarsais", "--out"])
        .arg(&out)
        .env_remove("CAREACCESS_LOG")
        .status()
        .unwrap();
    assert!(status.success());
    let file = std::fs::read_to_string(&out).unwrap();
    let api = get("/territories/cls/thouarsais/report").await;
    assert_eq!(file.as_bytes(), api.body.as_slice());
}

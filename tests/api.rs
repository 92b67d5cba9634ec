//! The HTTP service on the mini data set, without a socket (`oneshot`): every route with
//! good and bad input. Errors must be problem+json naming the bad parameter, never a
//! panic or a 500.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use careaccess::api::{AppState, Service, app};
use careaccess::store;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::import_fixtures::Mini;

pub(crate) struct Fixture {
    _mini: Mini,
    pub(crate) service: Arc<Service>,
}

pub(crate) fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mini = Mini::new();
        mini.fetch();
        mini.build();
        let state = AppState::load(mini.data()).expect("the mini build loads");
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let service = Arc::new(Service::new(state, mini.data(), &web));
        Fixture {
            _mini: mini,
            service,
        }
    })
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    pub(crate) fn media(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A problem+json error with this status whose detail contains every word.
    pub(crate) fn problem(&self, status: u16, words: &[&str]) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.media(), "application/problem+json");
        let p = self.json();
        assert_eq!(p["status"], status);
        let detail = p["detail"].as_str().unwrap();
        for w in words {
            assert!(detail.contains(w), "{w:?} not in {detail:?}");
        }
    }
}

pub(crate) async fn send(req: Request<Body>) -> Answer {
    let r = app(fixture().service.clone()).oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get(uri: &str) -> Answer {
    send(Request::get(uri).body(Body::empty()).unwrap()).await
}

pub(crate) async fn get_ok(uri: &str) -> Value {
    let a = get(uri).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&a.body)
    );
    a.json()
}

pub(crate) async fn post(uri: &str, body: impl Into<Body>) -> Answer {
    send(
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .unwrap(),
    )
    .await
}

// ------------------------------------------------------------ OGC API – Features

#[tokio::test]
async fn landing_page_is_json_for_clients_and_the_map_for_browsers() {
    let l = get_ok("/?f=json").await;
    let rels: Vec<&str> = l["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "{rel} missing from {rels:?}");
    }
    let a = send(
        Request::get("/")
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.media(), "application/json");
    let html = send(
        Request::get("/")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.media().starts_with("text/html"));
    get("/?f=xml").await.problem(400, &["`f`", "json or html"]);
}

#[tokio::test]
async fn conformance_and_openapi_describe_every_route() {
    let c = get_ok("/conformance").await;
    let classes = c["conformsTo"].as_array().unwrap();
    for part in ["conf/core", "conf/geojson", "conf/oas30"] {
        assert!(classes.iter().any(|x| x.as_str().unwrap().ends_with(part)));
    }
    let a = get("/api").await;
    assert!(a.media().starts_with("application/vnd.oai.openapi+json"));
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.0.3");
    for p in [
        "/",
        "/conformance",
        "/api",
        "/collections",
        "/collections/{id}",
        "/collections/{id}/queryables",
        "/collections/{id}/items",
        "/collections/{id}/items/{featureId}",
        "/nearest",
        "/territories/{type}/{code}",
        "/territories/{type}/{code}/coverage",
        "/communes/{code}/explain",
        "/scenarios",
        "/siting",
        "/search",
        "/map/{layer}",
        "/dataset",
        "/health",
        "/health/live",
        "/health/ready",
        "/admin/reload",
        "/saved-scenarios",
        "/saved-scenarios/{id}",
        "/perimeters",
        "/perimeters/{id}",
        "/audit",
        "/collections/perimeters",
        "/collections/perimeters/items",
        "/collections/perimeters/items/{featureId}",
        "/collections/perimeters/queryables",
        "/collections/perimeters/schema",
        "/collections/perimeters/schema/geojson",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} not in /api");
    }
    let items = &doc["paths"]["/collections/{id}/items"]["get"]["parameters"];
    for name in ["bbox", "limit", "offset", "f", "properties", "sep"] {
        assert!(
            items.as_array().unwrap().iter().any(|p| p["name"] == name),
            "{name}"
        );
    }
}

#[tokio::test]
async fn collections_list_layers_with_sources_and_licences() {
    let c = get_ok("/collections").await;
    let ids: Vec<&str> = c["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "communes",
        "msp",
        "ehpad",
        "clic",
        "centre_sante",
        "hospital",
        "epci",
        "departements",
        "regions",
        "cls",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let communes = get_ok("/collections/communes").await;
    assert_eq!(communes["itemType"], "feature");
    assert_eq!(communes["numberOfFeatures"], 7);
    let sources = communes["careaccess"]["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    assert!(sources.iter().all(|s| s["licence"].is_string()));
    let bbox = &communes["extent"]["spatial"]["bbox"][0];
    assert_eq!(bbox[0].as_f64().unwrap(), -0.6);
    let msp = get_ok("/collections/msp").await;
    assert!(!msp["careaccess"]["sources"].as_array().unwrap().is_empty());
    get("/collections/nope")
        .await
        .problem(404, &["\"nope\"", "communes"]);
    let q = get_ok("/collections/communes/queryables").await;
    assert_eq!(q["properties"]["departement"]["type"], "string");
    assert_eq!(q["properties"]["population"]["type"], "integer");
}

#[tokio::test]
async fn communes_carry_the_indicators_of_every_kind() {
    let f = get_ok("/collections/communes/items/79329").await;
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["id"], "79329");
    assert_eq!(f["geometry"]["type"], "MultiPolygon");
    let p = &f["properties"];
    assert_eq!(p["nom"], "Thouars");
    // The Thouars MSP of the FINESS fixture is in Thouars.
    assert!(p["msp_km"].as_f64().unwrap() < 5.0, "{p}");
    assert!(p["msp_min"].as_f64().is_some());
    assert!(p["msp_id"].is_string());
    get("/collections/communes/items/99999")
        .await
        .problem(404, &["99999", "communes"]);
}

/// The consultations of the fixture speak for the Deux-Sèvres only (`covers`): Loudun
/// (86) is "non couvert" in the collection's metadata, the communes' columns, /nearest
/// and the coverage of the Vienne, which gives no share instead of 0 %.
#[tokio::test]
async fn where_a_list_does_not_speak_the_answer_says_so() {
    let meta = get_ok("/collections/consultation_avancee").await;
    assert_eq!(meta["careaccess"]["scope"], json!(["79"]), "{meta}");
    let loudun = get_ok("/collections/communes/items/86137").await;
    let p = &loudun["properties"];
    assert_eq!(p["consultation_avancee_manque"], "hors_couverture", "{p}");
    assert!(p["consultation_avancee_km"].is_null(), "{p}");
    let thouars = get_ok("/collections/communes/items/79329").await;
    assert!(thouars["properties"]["consultation_avancee_manque"].is_null());
    assert!(thouars["properties"]["consultation_avancee_km"].is_number());

    let n = get_ok("/nearest?commune=86137&kind=consultation_avancee").await;
    let r = &n["results"][0];
    assert_eq!(r["hors_couverture"], true, "{n}");
    assert!(
        r["caveat"].as_str().unwrap().starts_with("non couvert"),
        "{n}"
    );
    let n = get_ok("/nearest?commune=79329&kind=consultation_avancee").await;
    assert_eq!(n["results"][0]["hors_couverture"], false, "{n}");

    let cov = get_ok("/territories/dep/86/coverage?kind=consultation_avancee").await;
    assert_eq!(cov["communes"], 0, "{cov}");
    assert_eq!(cov["communes_out_of_scope"], 1, "{cov}");
    assert_eq!(cov["population_out_of_scope"], 6839, "{cov}");
    assert!(cov["bands"][0]["share_within"].is_null(), "{cov}");
    assert_eq!(cov["underserved"], json!([]), "{cov}");
}

#[tokio::test]
async fn items_page_with_links_that_keep_every_parameter() {
    let page =
        get_ok("/collections/communes/items?limit=3&departement=79&properties=code,nom").await;
    assert_eq!(page["type"], "FeatureCollection");
    assert_eq!(page["numberMatched"], 6);
    assert_eq!(page["numberReturned"], 3);
    let props = page["features"][0]["properties"].as_object().unwrap();
    assert_eq!(
        props.keys().map(String::as_str).collect::<Vec<_>>(),
        ["code", "nom"]
    );
    let next = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("a next link")["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(next.contains("departement=79"), "{next}");
    assert!(next.contains("limit=3"), "{next}");
    assert!(next.contains("properties=code%2Cnom"), "{next}");
    assert!(next.contains("offset=3"), "{next}");
    let path = &next[next.find("/collections").unwrap()..];
    let second = get_ok(path).await;
    assert_eq!(second["numberReturned"], 3);
    assert!(
        second["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "prev")
    );
    assert!(
        !second["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next")
    );
    let ids: Vec<&str> = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["features"].as_array().unwrap())
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6);
    assert!(!ids.contains(&"86137"));
    // Offset beyond the end: an empty page, not an error.
    let empty = get_ok("/collections/communes/items?offset=100").await;
    assert_eq!(empty["numberReturned"], 0);
    assert_eq!(empty["numberMatched"], 7);
}

#[tokio::test]
async fn bbox_and_property_filters() {
    // Loudun's rectangle only (0.00–0.15 E; Plaine-et-Vallées touches 0.00).
    let b = get_ok("/collections/communes/items?bbox=0.05,46.96,0.1,47.0").await;
    assert_eq!(b["numberMatched"], 1);
    assert_eq!(b["features"][0]["id"], "86137");
    let none = get_ok("/collections/communes/items?bbox=5,45,6,46").await;
    assert_eq!(none["numberMatched"], 0);
    let by_pop = get_ok("/collections/communes/items?code=79329&population=13891").await;
    assert_eq!(by_pop["numberMatched"], 1);
    let msp = get_ok("/collections/msp/items?kind=msp").await;
    assert!(msp["numberMatched"].as_u64().unwrap() >= 1);
    assert!(msp["features"][0]["geometry"]["type"] == "Point");
}

#[tokio::test]
async fn csv_with_semicolons_and_decimal_commas_for_spreadsheets() {
    let a =
        get("/collections/communes/items?f=csv&properties=code,nom,ref_lon&sep=;&code=79329").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.media().starts_with("text/csv"));
    let text = String::from_utf8(a.body.clone()).unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM for spreadsheets");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "code;nom;ref_lon");
    assert!(lines[1].starts_with("79329;Thouars;-0,"), "{}", lines[1]);
    let plain = get("/collections/msp/items?f=csv&properties=id,nom").await;
    let text = String::from_utf8(plain.body).unwrap();
    assert!(text.lines().next().unwrap() == "id,nom,lon,lat", "{text}");
    get("/collections/msp/items?f=csv&sep=tab")
        .await
        .problem(400, &["`sep`"]);
}

#[tokio::test]
async fn flatgeobuf_output_reads_back() {
    let a = get("/collections/communes/items?f=fgb&departement=79").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.media(), "application/flatgeobuf");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.fgb");
    std::fs::write(&p, &a.body).unwrap();
    let (info, features) = store::read_layer_info(&p).unwrap();
    assert_eq!(features.len(), 6);
    assert!(info.columns.iter().any(|c| c.name == "msp_km"));
    let empty = get("/collections/communes/items?f=fgb&bbox=5,45,6,46").await;
    std::fs::write(&p, &empty.body).unwrap();
    assert!(store::read_layer(&p).unwrap().is_empty());
}

// ------------------------------------------------------------ analyses

#[tokio::test]
async fn nearest_from_a_point_and_from_a_commune() {
    let n = get_ok("/nearest?lon=-0.2153&lat=46.9816&kind=msp&k=2").await;
    assert_eq!(n["model"], "road_estimate");
    let r = &n["results"][0];
    assert_eq!(r["kind"], "msp");
    let s = r["structures"].as_array().unwrap();
    assert!(!s.is_empty() && s.len() <= 2);
    assert!(
        s[0]["distance_m"].as_f64().unwrap() <= s.last().unwrap()["distance_m"].as_f64().unwrap()
    );
    assert!(s[0]["car_min"].as_f64().unwrap() > 0.0);
    let all = get_ok("/nearest?commune=79329").await;
    assert_eq!(all["from"]["commune"]["nom"], "Thouars");
    let kinds: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"msp") && kinds.contains(&"ehpad"),
        "{kinds:?}"
    );
    let straight = get_ok("/nearest?commune=79329&kind=msp&model=straight").await;
    assert_eq!(straight["model"], "straight");
    // Each structure names its commune (the page says « — Thouars » without its table).
    let first = &straight["results"][0]["structures"][0];
    assert_eq!(first["commune"], "79329");
    assert_eq!(first["commune_nom"], "Thouars");
}

#[tokio::test]
async fn territory_summary_and_coverage() {
    let t = get_ok("/territories/cls/thouarsais").await;
    assert_eq!(t["nom"], "CLS du Thouarsais (fixture)");
    assert!(t["population"].as_u64().unwrap() > 0);
    assert!(t["bbox"].as_array().unwrap().len() == 4);
    let msp = &t["kinds"]["msp"];
    assert!(msp["bands"].as_array().unwrap().len() == 4);
    let c = get_ok("/territories/cls/thouarsais/coverage?kind=msp&within_km=1").await;
    assert_eq!(c["territory_code"], "thouarsais");
    assert_eq!(c["underserved_threshold"]["value"], 1.0);
    let pop = c["population"].as_u64().unwrap();
    let within: u64 = c["bands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["threshold"]["unit"] == "km" && b["threshold"]["value"] == 1.0)
        .unwrap()["population_within"]
        .as_u64()
        .unwrap();
    let under: u64 = c["underserved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["population"].as_u64().unwrap())
        .sum();
    assert_eq!(
        within + under + c["population_unknown"].as_u64().unwrap(),
        pop
    );
    get_ok("/territories/departement/79/coverage?kind=ehpad&within_min=20").await;
    get_ok("/territories/epci/247900798").await;
}

#[tokio::test]
async fn explain_gives_the_audit_trail() {
    let st = fixture().service.state();
    let served: Vec<String> = st
        .baselines
        .accessibility
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        !served.is_empty(),
        "no accessibility profile computes on the mini data"
    );
    for id in &served {
        let e = get_ok(&format!("/communes/79329/explain?kind={id}")).await;
        assert_eq!(e["code"], "79329");
        assert_eq!(e["profile"], id.as_str());
        let sum: f64 = e["contributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contribution"].as_f64().unwrap())
            .sum();
        assert!((sum - e["sum"].as_f64().unwrap()).abs() < 1e-9);
        assert!(e["steps"].is_array());
    }
}

#[tokio::test]
async fn scenario_adds_a_site_and_reports_deltas() {
    let body = json!({
        "kind": "msp",
        "within_km": 5,
        "changes": [{ "op": "add", "lon": -0.08, "lat": 46.83, "name": "MSP d'Airvault (projet)" }]
    });
    let a = post("/scenarios", body.to_string()).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    let r = a.json();
    assert_eq!(r["kind"], "msp");
    assert!(r["population_newly_within"].as_u64().unwrap() > 0, "{r}");
    assert!(
        r["nearest_changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "79005")
    );
    // Accessibility deltas with the msp profile (one unit per site): Airvault gains.
    let acc = &r["accessibility"];
    assert_eq!(acc["profile"], "msp", "{r}");
    let airvault = acc["communes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "79005")
        .expect("Airvault's accessibility changes");
    assert!(airvault["delta"].as_f64().unwrap() > 0.0);
    let d = airvault["after"].as_f64().unwrap() - airvault["before"].as_f64().unwrap();
    assert!((d - airvault["delta"].as_f64().unwrap()).abs() < 1e-12);

    // An EHPAD without capacity: nearest deltas, and a note on why the accessibility
    // (places per inhabitant) is not computed.
    let body = json!({"kind": "ehpad", "changes": [{"op": "add", "lon": -0.08, "lat": 46.83}]});
    let r = post("/scenarios", body.to_string()).await.json();
    if r["accessibility"].is_null() {
        assert!(r["notes"][0].as_str().unwrap().contains("ehpad"), "{r}");
    }
    post(
        "/scenarios",
        json!({"kind": "msp", "profile": "astrology", "changes": [{"op": "add", "lon": 0, "lat": 46}]}).to_string(),
    )
    .await
    .problem(400, &["`profile`", "astrology"]);
    let none = post(
        "/scenarios",
        json!({"kind": "msp", "profile": "none", "changes": [{"op": "add", "lon": 0, "lat": 46}]})
            .to_string(),
    )
    .await
    .json();
    assert!(none["accessibility"].is_null());
}

#[tokio::test]
async fn siting_and_search() {
    let s = get_ok("/siting?territory=cls:thouarsais&kind=msp&k=2&within_km=3").await;
    assert_eq!(s["territory_code"], "thouarsais");
    assert!(s["picks"].as_array().unwrap().len() <= 2);
    let found = get_ok("/search?q=PLAINE%20ET%20VALL%C3%89ES").await;
    assert_eq!(found["results"][0]["code"], "79196");
    let cls = get_ok("/search?q=thouarsais&type=cls").await;
    assert_eq!(cls["results"][0]["type"], "cls");
}

// ------------------------------------------------------------ service behaviour

#[tokio::test]
async fn etag_answers_304_and_health_says_which_build() {
    let a = get("/collections/communes").await;
    let tag = a.headers.get(header::ETAG).expect("an ETag").clone();
    let again = send(
        Request::get("/collections/communes")
            .header(header::IF_NONE_MATCH, tag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let h = get_ok("/health").await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["communes"], 7);
}

#[tokio::test]
async fn compression_and_cors() {
    let a = send(
        Request::get("/collections/communes/items?limit=10")
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::ORIGIN, "https://example.org")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_ENCODING], "gzip");
    // GETs are open to any origin (echoed: POSTs are open to configured origins only).
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://example.org"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(a.body.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("FeatureCollection"));
}

#[tokio::test]
async fn map_layers_are_simplified_gzipped_geojson() {
    let a = send(
        Request::get("/map/communes")
            .header(header::ACCEPT_ENCODING, "gzip, br")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_ENCODING], "gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(a.body.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["features"].as_array().unwrap().len(), 7);
    let plain = get_ok("/map/departements").await;
    assert_eq!(plain["type"], "FeatureCollection");
    get("/map/rivers").await.problem(404, &["rivers"]);
}

// ------------------------------------------------------------ a real client

#[test]
fn gdal_reads_the_service() {
    if !crate::server::has_gdal() {
        return;
    }
    let f = fixture();
    let server = crate::server::Server::start(&f.service.data_dir);
    let n = crate::server::gdal_copies_one_departement(
        &server.url,
        &[
            "communes",
            "msp",
            "ehpad",
            "epci",
            "departements",
            "regions",
            "cls",
        ],
        "79",
    );
    assert_eq!(n, 6);
}

/// The build id `/health` reports (the body is chunked: find the JSON member).
fn served_build(server: &crate::server::Server) -> String {
    let (status, body) = server.get("/health");
    assert_eq!(status, 200, "{body}");
    let start = body.find("\"build\":\"").unwrap() + 9;
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

fn wait_for_build(server: &crate::server::Server, want: impl Fn(&str) -> bool) -> String {
    let start = std::time::Instant::now();
    loop {
        let b = served_build(server);
        if want(&b) {
            return b;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "still serving {b}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A request holds the state it started with: a reload in the middle swaps what the next
/// requests get, not the data under one already running.
#[tokio::test]
async fn a_request_keeps_its_data_across_a_reload() {
    let mini = Mini::new();
    mini.fetch();
    let first = mini.build().report.build_id;
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let state = AppState::load(mini.data()).unwrap();
    let service = Arc::new(Service::new(state, mini.data(), &web));
    let in_flight = service.state();
    let second = mini.build().report.build_id;
    assert_eq!(service.reload().await.unwrap(), second);
    assert_eq!(service.state().build_id(), second);
    assert_eq!(in_flight.build_id(), first);
    let communes = in_flight.collection("communes").unwrap();
    assert_eq!(communes.items.len(), 7);
    drop(in_flight);
}

/// Requests that clients keep sending while the data is rebuilt and reloaded.
const DURING_RELOAD: &[&str] = &[
    "/nearest?commune=79329&kind=msp",
    "/collections/communes/items?limit=3",
    "/territories/cls/thouarsais/coverage?kind=msp",
];

/// `data build` while `serve` runs, then a reload by SIGHUP and one by `POST
/// /admin/reload`: each swaps the new build in, while three clients keep asking and not
/// one of their requests fails. A reload of a broken build fails, says why (409), and the
/// previous data stays served.
#[test]
fn reloads_swap_builds_under_requests_and_keep_the_old_one_when_loading_fails() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let mini = Mini::new();
    mini.fetch();
    let first = mini.build().report.build_id;
    let token = "reload-test-token";
    let server =
        crate::server::Server::start_with(mini.data(), &[("CAREACCESS_ADMIN_TOKEN", token)]);
    assert_eq!(served_build(&server), first);
    let stop = AtomicBool::new(false);
    let (answered, failed) = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut answered = 0;
                    let mut failed = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        for path in DURING_RELOAD {
                            let (status, body) = server.get(path);
                            answered += 1;
                            if status != 200 {
                                failed.push(format!("{path}: {status} {body}"));
                            }
                        }
                    }
                    (answered, failed)
                })
            })
            .collect();

        // `data build` (the command) while serving, then SIGHUP.
        let out = crate::import_fixtures::careaccess(mini.data(), "build")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP failed");
        let second = wait_for_build(&server, |b| b != first);

        // Another build, then the HTTP reload: it answers with the build it swapped in.
        let third = mini.build().report.build_id;
        let auth = format!("Authorization: Bearer {token}");
        let (status, body) =
            server.request("POST", "/admin/reload", &["Authorization: Bearer nope"], "");
        assert_eq!(status, 401, "{body}");
        let (status, body) = server.request("POST", "/admin/reload", &[&auth], "");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&third), "{body}");
        assert_ne!(second, third);
        assert_eq!(served_build(&server), third);
        // The scheme is case-insensitive (RFC 9110): `bearer` works as `Bearer`.
        let lower = format!("Authorization: bearer {token}");
        let (status, body) = server.request("POST", "/admin/reload", &[&lower], "");
        assert_eq!(status, 200, "{body}");

        stop.store(true, Ordering::Relaxed);
        clients.into_iter().map(|c| c.join().unwrap()).fold(
            (0, Vec::new()),
            |(n, mut f), (a, mut b)| {
                f.append(&mut b);
                (n + a, f)
            },
        )
    });
    assert!(
        failed.is_empty(),
        "{} of {answered} failed: {failed:#?}",
        failed.len()
    );
    assert!(answered > 10, "only {answered} requests during the reloads");
    let served = served_build(&server);

    // `current` pointing at a broken build: the reload fails, the data stays.
    let data = mini.data();
    let broken = data.join("builds").join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("dataset.json"), b"{ not json").unwrap();
    let link = data.join("current.tmp");
    std::os::unix::fs::symlink("builds/broken", &link).unwrap();
    std::fs::rename(&link, data.join("current")).unwrap();
    let auth = format!("Authorization: Bearer {token}");
    let (status, body) = server.request("POST", "/admin/reload", &[&auth], "");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("previous data is still served"), "{body}");
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(served_build(&server), served);
    let (status, _) = server.get("/nearest?commune=79329&kind=msp");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_page_files_do_not_carry_the_data_etag() {
    for path in ["/", "/index.html", "/style.css"] {
        let a = send(
            Request::get(path)
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let tag = a
            .headers
            .get(header::ETAG)
            .map(|t| t.to_str().unwrap().to_owned());
        let data_tag = fixture().service.state().etag.clone();
        assert_ne!(tag.as_deref(), Some(data_tag.as_str()), "{path}");
    }
}

#[tokio::test]
async fn zonage_review_of_a_territory() {
    let z = get_ok("/territories/dep/79/zonage").await;
    assert_eq!(z["territory_code"], "79");
    assert_eq!(z["values"], "apl_mg_65");
    assert_eq!(z["status"], "à confirmer");
    let cells = z["cells"].as_array().unwrap();
    let communes: u64 = cells.iter().map(|c| c["communes"].as_u64().unwrap()).sum();
    let summary = get_ok("/territories/dep/79").await;
    assert_eq!(communes, summary["communes"].as_u64().unwrap());
    assert!(z["agreement"]["rule"].is_string());
    assert!(z["build"].is_string());
    let ours = get("/territories/dep/79/zonage?values=ours").await;
    assert!(ours.status == StatusCode::OK || ours.status == StatusCode::CONFLICT);
    get("/territories/dep/79/zonage?values=apl")
        .await
        .problem(400, &["values", "drees or ours"]);
    get("/territories/dep/79/zonage?kind=msp")
        .await
        .problem(400, &["kind"]);
}

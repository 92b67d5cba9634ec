//! Saved work (issue 16): tokens, saved scenarios, perimeters and the audit, through the
//! HTTP service on the mini data set — against SQLite always, and against PostgreSQL too
//! when `CAREACCESS_TEST_DATABASE_URL` names a server (each test in a database of its
//! own, created there).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use careaccess::api::limits::Limits;
use careaccess::api::{AppState, Service, app};
use careaccess::db::{Db, Role, Target, WriteCount};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::import_fixtures::Mini;

/// The mini data set, fetched and built once for these tests.
pub(crate) fn mini() -> &'static Mini {
    static M: OnceLock<Mini> = OnceLock::new();
    M.get_or_init(|| {
        let m = Mini::new();
        m.fetch();
        m.build();
        m
    })
}

/// A store to test on, and what keeps it alive.
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    pub(crate) target: Target,
    _dir: Option<tempfile::TempDir>,
}

/// A new, empty PostgreSQL database on the server of `url`: its URL.
async fn fresh_postgres(url: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "careaccess_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("the test PostgreSQL");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (prefix, _) = base.rsplit_once('/').expect("a database in the URL");
    if query.is_empty() {
        format!("{prefix}/{name}")
    } else {
        format!("{prefix}/{name}?{query}")
    }
}

/// SQLite in a temporary folder, and PostgreSQL when the environment names one.
pub(crate) async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![Backend {
        name: "sqlite",
        target: Target::Sqlite(dir.path().join("careaccess.db")),
        _dir: Some(dir),
    }];
    if let Ok(url) = std::env::var("CAREACCESS_TEST_DATABASE_URL") {
        if !url.is_empty() {
            all.push(Backend {
                name: "postgres",
                target: Target::Postgres(fresh_postgres(&url).await),
                _dir: None,
            });
        }
    }
    all
}

pub(crate) async fn service(data: &Path, db: Db) -> Arc<Service> {
    let state = AppState::load(data).expect("the mini build loads");
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut s = Service::new(state, data, &web);
    s.db = Some(db);
    Arc::new(s)
}

/// A service on `db` whose tokens may write `per_minute` times a minute (0: no limit).
pub(crate) async fn service_writing(data: &Path, db: Db, per_minute: u32) -> Arc<Service> {
    let state = AppState::load(data).expect("the mini build loads");
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut s = Service::new(state, data, &web).with_limits(Limits {
        writes_per_minute: per_minute,
        ..Limits::default()
    });
    s.db = Some(db);
    Arc::new(s)
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) media: String,
    pub(crate) body: Value,
}

impl Reply {
    /// A problem+json with this status whose detail holds every word.
    pub(crate) fn problem(&self, status: u16, words: &[&str]) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.media, "application/problem+json");
        let detail = self.body["detail"].as_str().unwrap();
        for w in words {
            assert!(detail.contains(w), "{w:?} not in {detail:?}");
        }
    }

    pub(crate) fn ok(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self.body
    }
}

pub(crate) async fn call(
    service: &Arc<Service>,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let r = app(service.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let media = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
        })
    };
    Reply {
        status,
        media,
        body,
    }
}

fn scenario_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Une MSP à Airvault",
        "kind": "msp",
        "within_km": 5,
        "territory": "epci:247900798",
        "changes": [{ "op": "add", "lon": -0.08, "lat": 46.83, "name": "MSP d'Airvault (projet)" }]
    })
}

/// `POST /saved-scenarios` with an `Idempotency-Key` (status, body).
async fn post_keyed(s: &Arc<Service>, token: &str, key: &str, body: &Value) -> (u16, Value) {
    let req = Request::builder()
        .method("POST")
        .uri("/saved-scenarios")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = app(s.clone()).oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_write_sent_twice_with_its_idempotency_key_is_saved_once() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
        let bob = db.create_token("Bob (CPTS)", Role::Planner).await.unwrap();
        let (alice, bob) = (alice.secret.as_str(), bob.secret.as_str());
        let s = service(mini().data(), db).await;
        let body = scenario_body("Airvault");

        // Sent again (nginx passing it on after a replica died with it): the first copy.
        let (st, first) = post_keyed(&s, alice, "k-1", &body).await;
        assert_eq!(st, 201, "{first}");
        let (st, again) = post_keyed(&s, alice, "k-1", &body).await;
        assert_eq!(st, 201, "{again}");
        assert_eq!(again["id"], first["id"]);
        // Eight copies at once: one scenario.
        let mut copies = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (s, body) = (s.clone(), body.clone());
            let alice = alice.to_owned();
            copies.spawn(async move { post_keyed(&s, &alice, "k-2", &body).await });
        }
        let mut ids = std::collections::BTreeSet::new();
        while let Some(r) = copies.join_next().await {
            let (st, v) = r.unwrap();
            assert_eq!(st, 201, "{v}");
            ids.insert(v["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 1, "{ids:?}");
        let mine = call(&s, "GET", "/saved-scenarios", Some(alice), None)
            .await
            .ok(200);
        assert_eq!(
            mine["saved_scenarios"].as_array().map(Vec::len),
            Some(2),
            "{mine}"
        );
        // Keys are each owner's: Bob's k-1 is his own scenario.
        let (st, his) = post_keyed(&s, bob, "k-1", &body).await;
        assert_eq!(st, 201, "{his}");
        assert_ne!(his["id"], first["id"]);
        // The same key for another body is refused; a malformed key too.
        let (st, v) = post_keyed(&s, alice, "k-1", &scenario_body("Oiron")).await;
        assert_eq!(st, 422, "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("Idempotency-Key"),
            "{v}"
        );
        let (st, v) = post_keyed(&s, alice, "a key", &body).await;
        assert_eq!(st, 400, "{v}");
    }
}

/// Waits, if need be, for a minute to start, so that the next few seconds of writes are
/// counted in one window of the write limit.
async fn a_fresh_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_secs() % 60;
    if into > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - into)).await;
    }
}

/// A request to the app with a token: status, `Retry-After` and body.
async fn send(
    s: &Arc<Service>,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Option<u64>, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let r = app(s.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = r.status().as_u16();
    let wait = r
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, wait, body)
}

/// The writes of a token per minute are counted in the store: two services on one store
/// (two replicas) share the limit, over it every kind of write is a 429 with
/// `Retry-After`; another token is not limited by them; admins are limited too.
#[tokio::test]
async fn the_write_limit_is_per_token_and_shared_by_the_servers_of_a_store() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db
            .create_token("Alice", Role::Planner)
            .await
            .unwrap()
            .secret;
        let bob = db.create_token("Bob", Role::Planner).await.unwrap().secret;
        let admin = db.create_token("Admin", Role::Admin).await.unwrap().secret;
        let one = service_writing(mini().data(), db, 3).await;
        let two = service_writing(mini().data(), Db::open(&b.target).await.unwrap(), 3).await;
        let preview = json!({ "format": "csv", "content": "nom;code_insee\nMSP;79329\n",
            "columns": {"name": "nom", "insee": "code_insee"}, "kind": "msp" });
        a_fresh_minute().await;

        // Three writes of three kinds, across the two servers.
        let (st, _, p) = send(
            &one,
            "POST",
            "/perimeters",
            &alice,
            Some(json!({"name": "Thouars", "communes": ["79329"]})),
        )
        .await;
        assert_eq!(st, 201, "{}: {p}", b.name);
        let pid = p["id"].as_str().unwrap().to_owned();
        let (st, _, v) = send(
            &two,
            "PATCH",
            &format!("/perimeters/{pid}"),
            &alice,
            Some(json!({"name": "Thouars (ville)"})),
        )
        .await;
        assert_eq!(st, 200, "{}: {v}", b.name);
        let (st, _, v) = send(
            &one,
            "POST",
            "/layers/preview",
            &alice,
            Some(preview.clone()),
        )
        .await;
        assert_eq!(st, 200, "{}: {v}", b.name);

        // The fourth, on either server and of any kind, is refused before anything is done.
        let refused: [(&Arc<Service>, &str, String, Option<Value>); 10] = [
            (
                &two,
                "POST",
                "/saved-scenarios".into(),
                Some(scenario_body("Airvault")),
            ),
            (
                &one,
                "PATCH",
                "/saved-scenarios/0123".into(),
                Some(json!({"name": "x"})),
            ),
            (&two, "DELETE", "/saved-scenarios/0123".into(), None),
            (
                &one,
                "POST",
                "/perimeters".into(),
                Some(json!({"name": "x", "communes": ["79329"]})),
            ),
            (
                &two,
                "PATCH",
                format!("/perimeters/{pid}"),
                Some(json!({"public": true})),
            ),
            (&one, "DELETE", format!("/perimeters/{pid}"), None),
            (&two, "POST", "/layers".into(), Some(preview.clone())),
            (
                &one,
                "POST",
                "/layers/preview".into(),
                Some(preview.clone()),
            ),
            (
                &two,
                "PATCH",
                "/layers/0123".into(),
                Some(json!({"name": "x"})),
            ),
            (&one, "DELETE", "/layers/0123".into(), None),
        ];
        for (s, method, uri, body) in refused {
            let (st, wait, v) = send(s, method, &uri, &alice, body).await;
            assert_eq!(st, 429, "{}: {method} {uri}: {v}", b.name);
            let wait = wait.expect("Retry-After");
            assert!((1..=60).contains(&wait), "{wait}");
            let detail = v["detail"].as_str().unwrap();
            assert!(detail.contains("at most 3 a minute"), "{detail}");
            assert!(!detail.contains("Alice"), "{detail}");
        }
        // Nothing refused was done: the perimeter is still there, private.
        let p = call(&one, "GET", &format!("/perimeters/{pid}"), None, None)
            .await
            .ok(200);
        assert_eq!(p["public"], false);
        assert_eq!(p["name"], "Thouars (ville)");
        // Reading is not writing.
        call(&two, "GET", "/saved-scenarios", Some(&alice), None)
            .await
            .ok(200);
        // Bob's writes are his own.
        let (st, _, v) = send(
            &two,
            "POST",
            "/perimeters",
            &bob,
            Some(json!({"name": "Airvault", "communes": ["79005"]})),
        )
        .await;
        assert_eq!(st, 201, "{}: {v}", b.name);
        // An admin is limited too.
        for _ in 0..3 {
            let (st, _, v) = send(&one, "DELETE", "/perimeters/0123", &admin, None).await;
            assert_eq!(st, 404, "{v}");
        }
        let (st, wait, _) = send(&two, "DELETE", "/perimeters/0123", &admin, None).await;
        assert_eq!((st, wait.is_some()), (429, true), "{}", b.name);
        // A bad token is a 401, not a write counted.
        let (st, _, _) = send(&one, "DELETE", "/perimeters/0123", "ca_wrong", None).await;
        assert_eq!(st, 401);
        one.db.as_ref().unwrap().close().await;
        two.db.as_ref().unwrap().close().await;
    }
}

/// `CAREACCESS_WRITES_PER_MINUTE=0`: no limit.
#[tokio::test]
async fn a_write_limit_of_zero_is_no_limit() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db
            .create_token("Alice", Role::Planner)
            .await
            .unwrap()
            .secret;
        let s = service_writing(mini().data(), db, 0).await;
        for _ in 0..70 {
            let (st, _, v) = send(&s, "DELETE", "/saved-scenarios/0123", &alice, None).await;
            assert_eq!(st, 404, "{}: {v}", b.name);
        }
        s.db.as_ref().unwrap().close().await;
    }
}

/// The count of a token's writes: per calendar minute, exact when writes come at once
/// from two pools (two replicas), and the counts of past minutes deleted as minutes pass.
#[tokio::test]
async fn writes_are_counted_per_minute_atomically_and_old_counts_go() {
    for b in backends().await {
        let one = Db::open(&b.target).await.unwrap();
        let two = Db::open(&b.target).await.unwrap();
        let count = |writes, resets_in_secs| WriteCount {
            writes,
            resets_in_secs,
        };
        assert_eq!(one.count_write("t1", 6_000).await.unwrap(), count(1, 60));
        assert_eq!(two.count_write("t1", 6_030).await.unwrap(), count(2, 30));
        assert_eq!(one.count_write("t1", 6_059).await.unwrap(), count(3, 1));
        assert_eq!(one.count_write("t2", 6_059).await.unwrap(), count(1, 1));
        assert_eq!(two.count_write("t1", 6_060).await.unwrap(), count(1, 60));
        // Forty writes at once through two pools: each counted once.
        let mut at_once = tokio::task::JoinSet::new();
        for i in 0..40 {
            let db = if i % 2 == 0 { one.clone() } else { two.clone() };
            at_once.spawn(async move { db.count_write("t3", 6_100).await.unwrap().writes });
        }
        let mut seen = Vec::new();
        while let Some(n) = at_once.join_next().await {
            seen.push(n.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=40).collect::<Vec<i64>>(), "{}", b.name);
        // Minutes later, the first write of a minute deletes all but the previous minute.
        assert_eq!(one.count_write("t1", 6_300).await.unwrap(), count(1, 60));
        let rows: Vec<(String, i64)> = match &b.target {
            Target::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                let rows =
                    sqlx::query_as("SELECT token_id, window_start FROM write_counts ORDER BY 1")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                pool.close().await;
                rows
            }
            Target::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let rows =
                    sqlx::query_as("SELECT token_id, window_start FROM write_counts ORDER BY 1")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                pool.close().await;
                rows
            }
        };
        assert_eq!(rows, vec![("t1".to_owned(), 6_300)], "{}", b.name);
        one.close().await;
        two.close().await;
    }
}

#[tokio::test]
async fn saved_scenarios_need_a_token_and_planners_change_only_their_own() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db.create_token("Alice (CLS)", Role::Planner).await.unwrap();
        let bob = db.create_token("Bob (CPTS)", Role::Planner).await.unwrap();
        let admin = db.create_token("ARS", Role::Admin).await.unwrap();
        let (alice, bob, admin) = (
            alice.secret.as_str(),
            bob.secret.as_str(),
            admin.secret.as_str(),
        );
        let s = service(mini().data(), db).await;
        let body = scenario_body("Airvault");

        // Writes need a known token (401, problem+json).
        call(&s, "POST", "/saved-scenarios", None, Some(body.clone()))
            .await
            .problem(401, &["Authorization: Bearer"]);
        call(
            &s,
            "POST",
            "/saved-scenarios",
            Some("ca_nope"),
            Some(body.clone()),
        )
        .await
        .problem(401, &["unknown"]);
        // Bad bodies name the field.
        let mut no_name = body.clone();
        no_name.as_object_mut().unwrap().remove("name");
        call(&s, "POST", "/saved-scenarios", Some(alice), Some(no_name))
            .await
            .problem(422, &["`name`"]);
        let mut odd = body.clone();
        odd["colour"] = json!("red");
        call(&s, "POST", "/saved-scenarios", Some(alice), Some(odd))
            .await
            .problem(400, &["colour"]);
        let mut no_changes = body.clone();
        no_changes["changes"] = json!([]);
        call(
            &s,
            "POST",
            "/saved-scenarios",
            Some(alice),
            Some(no_changes),
        )
        .await
        .problem(400, &["changes"]);

        // The scheme is case-insensitive (RFC 9110): `bearer` is `Bearer`.
        let lower = app(s.clone())
            .oneshot(
                Request::get("/saved-scenarios")
                    .header(header::AUTHORIZATION, format!("bearer {alice}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(lower.status(), StatusCode::OK);
        // Saved: 201 with an id and a share link that opens without a token.
        let made = call(
            &s,
            "POST",
            "/saved-scenarios",
            Some(alice),
            Some(body.clone()),
        )
        .await
        .ok(201);
        let id = made["id"].as_str().unwrap().to_owned();
        assert!(
            made["share_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/#scenario={id}")),
            "{made}"
        );
        let shared = call(&s, "GET", &format!("/saved-scenarios/{id}"), None, None)
            .await
            .ok(200);
        assert_eq!(shared["name"], "Airvault");
        assert_eq!(shared["owner_name"], "Alice (CLS)");
        assert!(shared["current"].is_null(), "same build: {shared}");
        let mut plain = body.clone();
        plain.as_object_mut().unwrap().remove("name");
        plain.as_object_mut().unwrap().remove("description");
        assert_eq!(shared["request"], plain);
        let live = call(&s, "POST", "/scenarios", None, Some(plain))
            .await
            .ok(200);
        assert_eq!(shared["saved"]["result"], live, "{}", b.name);
        assert_eq!(shared["saved"]["build"], live["build"]);

        // Another planner may read but not change it; its author and an admin may.
        let uri = format!("/saved-scenarios/{id}");
        call(
            &s,
            "PATCH",
            &uri,
            Some(bob),
            Some(json!({"name": "Piraté"})),
        )
        .await
        .problem(403, &["another planner"]);
        call(&s, "DELETE", &uri, Some(bob), None)
            .await
            .problem(403, &["another planner"]);
        call(&s, "PATCH", &uri, None, Some(json!({"name": "x"})))
            .await
            .problem(401, &[]);
        call(&s, "PATCH", &uri, Some(alice), Some(json!({"owner": "x"})))
            .await
            .problem(422, &["`owner`"]);
        let renamed = call(
            &s,
            "PATCH",
            &uri,
            Some(alice),
            Some(json!({"name": "Airvault v2"})),
        )
        .await
        .ok(200);
        assert_eq!(renamed["name"], "Airvault v2");
        assert_eq!(renamed["description"], "Une MSP à Airvault");
        let by_admin = call(
            &s,
            "PATCH",
            &uri,
            Some(admin),
            Some(json!({"description": "Revu par l'ARS"})),
        )
        .await
        .ok(200);
        assert_eq!(by_admin["description"], "Revu par l'ARS");

        // Lists: one's own, or all for an admin; a token is needed.
        let bob_made = call(
            &s,
            "POST",
            "/saved-scenarios",
            Some(bob),
            Some(scenario_body("Bob")),
        )
        .await
        .ok(201);
        let ids = |v: &Value| -> Vec<String> {
            v["saved_scenarios"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let mine = call(&s, "GET", "/saved-scenarios", Some(alice), None)
            .await
            .ok(200);
        assert_eq!(ids(&mine), vec![id.clone()]);
        let all = call(&s, "GET", "/saved-scenarios", Some(admin), None)
            .await
            .ok(200);
        assert_eq!(ids(&all).len(), 2);
        assert!(ids(&all).contains(&bob_made["id"].as_str().unwrap().to_owned()));
        call(&s, "GET", "/saved-scenarios", None, None)
            .await
            .problem(401, &[]);

        // The audit: every write, for admins only.
        call(&s, "GET", "/audit", Some(alice), None)
            .await
            .problem(403, &["admin"]);
        call(&s, "DELETE", &uri, Some(admin), None).await.ok(204);
        call(&s, "GET", &uri, None, None).await.problem(404, &[&id]);
        let audit = call(&s, "GET", "/audit?limit=50", Some(admin), None)
            .await
            .ok(200);
        let lines: Vec<(String, String, String)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["object_id"] == id.as_str())
            .map(|e| {
                (
                    e["token_name"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                    e["at"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let who_what: Vec<(&str, &str)> = lines
            .iter()
            .map(|(w, a, _)| (w.as_str(), a.as_str()))
            .collect();
        assert_eq!(
            who_what,
            vec![
                ("ARS", "delete"),
                ("ARS", "update"),
                ("Alice (CLS)", "update"),
                ("Alice (CLS)", "create"),
            ],
            "{}",
            b.name
        );
        assert!(lines.iter().all(|(_, _, at)| at.ends_with('Z')));
        s.db.as_ref().unwrap().close().await;
    }
}

#[tokio::test]
async fn a_saved_result_survives_a_restart_and_a_new_build() {
    let mini = Mini::new();
    mini.fetch();
    mini.build();
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let token = db
            .create_token("Alice", Role::Planner)
            .await
            .unwrap()
            .secret;
        let s = service(mini.data(), db).await;
        let first = s.state().build_id().to_owned();
        let made = call(
            &s,
            "POST",
            "/saved-scenarios",
            Some(&token),
            Some(scenario_body("Airvault")),
        )
        .await
        .ok(201);
        let id = made["id"].as_str().unwrap().to_owned();
        let before = call(&s, "GET", &format!("/saved-scenarios/{id}"), None, None)
            .await
            .ok(200);
        s.db.as_ref().unwrap().close().await;
        drop(s);

        // The same store re-opened by a new service (a restart), on the same build.
        let s = service(mini.data(), Db::open(&b.target).await.unwrap()).await;
        let after = call(&s, "GET", &format!("/saved-scenarios/{id}"), None, None)
            .await
            .ok(200);
        assert_eq!(after, before, "{}", b.name);
        s.db.as_ref().unwrap().close().await;
        drop(s);

        // A new build: the saved result is as shown that day, with the result of today
        // beside it and a note.
        let second = mini.build().report.build_id;
        assert_ne!(first, second);
        let s = service(mini.data(), Db::open(&b.target).await.unwrap()).await;
        let later = call(&s, "GET", &format!("/saved-scenarios/{id}"), None, None)
            .await
            .ok(200);
        assert_eq!(later["saved"], before["saved"], "{}", b.name);
        assert_eq!(later["saved"]["build"], first.as_str());
        assert_eq!(later["current"]["build"], second.as_str());
        assert!(
            later["current"]["note"]
                .as_str()
                .unwrap()
                .contains("Les données ont changé"),
            "{later}"
        );
        assert_eq!(
            later["current"]["result"]["population_newly_within"],
            before["saved"]["result"]["population_newly_within"]
        );
        s.db.as_ref().unwrap().close().await;
    }
}

/// The coverage numbers of an answer, without the territory's own name and code.
fn numbers(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in [
        "territory_type",
        "territory_code",
        "territory_name",
        "build",
        "notes",
    ] {
        o.remove(k);
    }
    v
}

#[tokio::test]
async fn a_perimeter_is_a_territory_like_the_same_communes() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let token = db
            .create_token("Alice", Role::Planner)
            .await
            .unwrap()
            .secret;
        let t = Some(token.as_str());
        let s = service(mini().data(), db).await;
        // The communes of the EPCI 247900798 (Thouarsais) in the mini data.
        let communes = json!(["79014", "79196", "79299", "79329"]);
        call(
            &s,
            "POST",
            "/perimeters",
            None,
            Some(json!({"name": "x", "communes": communes})),
        )
        .await
        .problem(401, &[]);
        call(
            &s,
            "POST",
            "/perimeters",
            t,
            Some(json!({"name": "x", "communes": ["79329", "99999", "7A001"]})),
        )
        .await
        .problem(422, &["`communes`", "99999", "7A001"]);
        call(&s, "POST", "/perimeters", t, Some(json!({"name": "x"})))
            .await
            .problem(422, &["`communes`", "`geometry`"]);
        let p = call(
            &s,
            "POST",
            "/perimeters",
            t,
            Some(json!({"name": "CPTS du Thouarsais", "communes": communes})),
        )
        .await
        .ok(201);
        let id = p["id"].as_str().unwrap();
        assert_eq!(p["territory"], format!("perimeter:{id}"));

        for q in ["kind=msp&within_km=5", "kind=ehpad&within_min=20"] {
            let mine = call(
                &s,
                "GET",
                &format!("/territories/perimeter/{id}/coverage?{q}"),
                None,
                None,
            )
            .await
            .ok(200);
            let epci = call(
                &s,
                "GET",
                &format!("/territories/epci/247900798/coverage?{q}"),
                None,
                None,
            )
            .await
            .ok(200);
            assert_eq!(mine["territory_name"], "CPTS du Thouarsais");
            assert_eq!(numbers(mine), numbers(epci), "{}: {q}", b.name);
        }
        let summary = call(
            &s,
            "GET",
            &format!("/territories/perimeter/{id}"),
            None,
            None,
        )
        .await
        .ok(200);
        assert_eq!(summary["type"], "perimeter");
        assert_eq!(summary["communes"], 4);
        let siting = call(
            &s,
            "GET",
            &format!("/siting?territory=perimeter:{id}&kind=msp&k=2&within_km=3"),
            None,
            None,
        )
        .await
        .ok(200);
        let epci_siting = call(
            &s,
            "GET",
            "/siting?territory=epci:247900798&kind=msp&k=2&within_km=3",
            None,
            None,
        )
        .await
        .ok(200);
        assert_eq!(siting["picks"], epci_siting["picks"]);
        let mut sc = scenario_body("x");
        let o = sc.as_object_mut().unwrap();
        o.remove("name");
        o.remove("description");
        o.insert("territory".into(), json!(format!("perimeter:{id}")));
        let r = call(&s, "POST", "/scenarios", None, Some(sc.clone()))
            .await
            .ok(200);
        assert_eq!(r["inside"]["territory_type"], "perimeter");
        assert_eq!(r["inside"]["name"], "CPTS du Thouarsais");
        // The same headline as the same communes given as a list.
        sc["territory"] = json!("communes:79014,79196,79299,79329");
        let list = call(&s, "POST", "/scenarios", None, Some(sc)).await.ok(200);
        for k in [
            "population_newly_within",
            "population_no_longer_within",
            "communes_nearest_changed",
            "population_out_of_scope",
        ] {
            assert_eq!(r["inside"][k], list["inside"][k], "{}: {k}", b.name);
        }
        call(
            &s,
            "GET",
            "/territories/perimeter/nope/coverage?kind=msp",
            None,
            None,
        )
        .await
        .problem(404, &["nope"]);
        call(
            &s,
            "GET",
            "/siting?territory=perimeter:nope&kind=msp",
            None,
            None,
        )
        .await
        .problem(400, &["`territory`"]);

        // A drawn polygon: the communes whose reference point is inside it.
        let all = call(
            &s,
            "POST",
            "/perimeters",
            t,
            Some(json!({"name": "Tout", "geometry": {"type": "Polygon",
                "coordinates": [[[-1.0, 46.0], [1.0, 46.0], [1.0, 48.0], [-1.0, 48.0], [-1.0, 46.0]]]}})),
        )
        .await
        .ok(201);
        assert_eq!(
            all["communes"].as_array().unwrap().len(),
            s.state().engine.data.communes.len()
        );
        call(
            &s,
            "POST",
            "/perimeters",
            t,
            Some(json!({"name": "Mer", "geometry": {"type": "Polygon",
                "coordinates": [[[-5.0, 45.0], [-4.0, 45.0], [-4.0, 46.0], [-5.0, 45.0]]]}})),
        )
        .await
        .problem(422, &["`geometry`", "no commune"]);
        let got = call(&s, "GET", &format!("/perimeters/{id}"), None, None)
            .await
            .ok(200);
        assert_eq!(got["communes"], communes);
        s.db.as_ref().unwrap().close().await;
    }
}

/// A square of `half` degrees around a commune's reference point, as GeoJSON.
fn square_around(s: &Arc<Service>, code: &str, half: f64) -> Value {
    let st = s.state();
    let data = &st.engine.data;
    let i = data
        .commune_index(&careaccess::model::InseeCode::parse(code).unwrap())
        .unwrap();
    let p = st.engine.commune_points[i].unwrap();
    let (x0, y0, x1, y1) = (p.lon - half, p.lat - half, p.lon + half, p.lat + half);
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// Issue 16: a perimeter drawn on the map, and the OGC collection of user perimeters —
/// private ones invisible without their author's token, public ones for everyone.
#[tokio::test]
async fn drawn_perimeters_and_the_ogc_collection_keep_private_ones_private() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db
            .create_token("Alice", Role::Planner)
            .await
            .unwrap()
            .secret;
        let bob = db.create_token("Bob", Role::Planner).await.unwrap().secret;
        let admin = db.create_token("Admin", Role::Admin).await.unwrap().secret;
        let (a, bo, ad) = (
            Some(alice.as_str()),
            Some(bob.as_str()),
            Some(admin.as_str()),
        );
        let s = service(mini().data(), db).await;

        // Drawn around Thouars: its reference point is inside, the polygon is kept.
        let square = square_around(&s, "79329", 0.01);
        let drawn = call(
            &s,
            "POST",
            "/perimeters",
            a,
            Some(json!({"name": "Autour de Thouars", "geometry": square})),
        )
        .await
        .ok(201);
        let id = drawn["id"].as_str().unwrap().to_owned();
        assert!(
            drawn["communes"]
                .as_array()
                .unwrap()
                .contains(&json!("79329")),
            "{}: {drawn}",
            b.name
        );
        // The polygon is kept as drawn (to the last digit JSON keeps).
        assert_eq!(drawn["geometry"]["type"], "Polygon");
        assert_eq!(
            drawn["geometry"]["coordinates"][0]
                .as_array()
                .unwrap()
                .len(),
            square["coordinates"][0].as_array().unwrap().len()
        );
        assert_eq!(drawn["public"], false);
        assert_eq!(drawn["may_change"], true);
        let n = drawn["communes"].as_array().unwrap().len();
        // Its coverage, as any territory's.
        let cov = call(
            &s,
            "GET",
            &format!("/territories/perimeter/{id}/coverage?kind=msp&within_km=10"),
            None,
            None,
        )
        .await
        .ok(200);
        assert_eq!(cov["territory_name"], "Autour de Thouars");
        // Bad polygons are 422s naming `geometry`.
        call(
            &s,
            "POST",
            "/perimeters",
            a,
            Some(json!({"name": "x", "geometry": {"type": "Point", "coordinates": [0.0, 46.0]}})),
        )
        .await
        .problem(422, &["`geometry`", "Polygon"]);
        call(
            &s,
            "POST",
            "/perimeters",
            a,
            Some(json!({"name": "x", "communes": ["79329"], "public": "oui"})),
        )
        .await
        .problem(422, &["`public`"]);

        // Private: not listed, not served without Alice's token (or an admin's).
        let items = "/collections/perimeters/items";
        let none = call(&s, "GET", items, None, None).await.ok(200);
        assert_eq!(none["type"], "FeatureCollection");
        assert_eq!(none["numberMatched"], 0, "{}", b.name);
        let theirs = call(&s, "GET", items, bo, None).await.ok(200);
        assert_eq!(theirs["numberMatched"], 0);
        let hers = call(&s, "GET", items, a, None).await.ok(200);
        assert_eq!(hers["numberMatched"], 1);
        let f = &hers["features"][0];
        assert_eq!(f["id"], id.as_str());
        assert_eq!(f["geometry"]["type"], "Polygon");
        assert_eq!(f["properties"]["geometry_source"], "dessin");
        assert_eq!(f["properties"]["author"], "Alice");
        assert_eq!(f["properties"]["communes"], n);
        assert!(f["properties"]["population"].as_u64().unwrap() > 0);
        assert!(f["properties"]["created"].is_string());
        let item = format!("{items}/{id}");
        call(&s, "GET", &item, None, None)
            .await
            .problem(404, &["private"]);
        call(&s, "GET", &item, bo, None).await.problem(404, &[]);
        call(&s, "GET", &item, Some("ca_wrong"), None)
            .await
            .problem(401, &["token"]);
        call(&s, "GET", items, Some("ca_wrong"), None)
            .await
            .problem(401, &["token"]);
        call(&s, "GET", &item, a, None).await.ok(200);
        call(&s, "GET", &item, ad, None).await.ok(200);
        assert_eq!(
            call(&s, "GET", "/perimeters", None, None).await.ok(200)["perimeters"],
            json!([])
        );

        // The catalogue lists the collection, counted for the caller, without a build ETag.
        let catalogue = |v: &Value| {
            v["collections"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "perimeters")
                .cloned()
                .expect("perimeters in /collections")
        };
        let r = app(s.clone())
            .oneshot(
                Request::builder()
                    .uri("/collections")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(r.headers().get(header::ETAG).is_none(), "dynamic: no ETag");
        let all = call(&s, "GET", "/collections", None, None).await.ok(200);
        assert_eq!(catalogue(&all)["numberOfFeatures"], 0);
        assert!(all["collections"].as_array().unwrap().len() > 1);
        let mine = call(&s, "GET", "/collections", a, None).await.ok(200);
        assert_eq!(catalogue(&mine)["numberOfFeatures"], 1);
        let c = call(&s, "GET", "/collections/perimeters", a, None)
            .await
            .ok(200);
        assert_eq!(c["numberOfFeatures"], 1);
        call(&s, "GET", &format!("{items}?f=csv"), None, None)
            .await
            .problem(400, &["`f`"]);
        call(&s, "GET", &format!("{items}?limt=3"), None, None)
            .await
            .problem(400, &["limt"]);

        // Only Alice publishes it; then everyone sees it.
        call(
            &s,
            "PATCH",
            &format!("/perimeters/{id}"),
            bo,
            Some(json!({"public": true})),
        )
        .await
        .problem(403, &[]);
        let published = call(
            &s,
            "PATCH",
            &format!("/perimeters/{id}"),
            a,
            Some(json!({"public": true})),
        )
        .await
        .ok(200);
        assert_eq!(published["public"], true);
        assert_eq!(published["name"], "Autour de Thouars");
        assert_eq!(
            call(&s, "GET", items, None, None).await.ok(200)["numberMatched"],
            1
        );
        call(&s, "GET", &item, None, None).await.ok(200);
        let listed = call(&s, "GET", "/perimeters", bo, None).await.ok(200);
        assert_eq!(listed["perimeters"][0]["id"], id.as_str());
        assert_eq!(listed["perimeters"][0]["may_change"], false);
        assert_eq!(listed["perimeters"][0]["communes_count"], n);

        // A public list of communes: its outline is the union of the communes' outlines.
        let list = call(
            &s,
            "POST",
            "/perimeters",
            bo,
            Some(json!({"name": "Liste", "communes": ["79329", "79014"], "public": true})),
        )
        .await
        .ok(201);
        let lid = list["id"].as_str().unwrap();
        let f = call(&s, "GET", &format!("{items}/{lid}"), None, None)
            .await
            .ok(200);
        assert_eq!(f["properties"]["geometry_source"], "union_des_communes");
        assert_eq!(f["properties"]["communes"], 2);
        assert!(
            matches!(
                f["geometry"]["type"].as_str(),
                Some("MultiPolygon" | "Polygon")
            ),
            "{}",
            f["geometry"]
        );
        let page = call(&s, "GET", &format!("{items}?limit=1"), None, None)
            .await
            .ok(200);
        assert_eq!(page["numberMatched"], 2);
        assert_eq!(page["numberReturned"], 1);
        assert!(
            page["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["rel"] == "next")
        );
        // Filters by property, kept by the page links; a value of the wrong type is a 400.
        let by = |q: &str| {
            let s = s.clone();
            let uri = format!("{items}?{q}");
            async move { call(&s, "GET", &uri, None, None).await.ok(200) }
        };
        let bobs = by("author=Bob").await;
        assert_eq!(bobs["numberMatched"], 1, "{}: {bobs}", b.name);
        assert_eq!(bobs["features"][0]["id"], lid);
        let drawn = by("public=true&geometry_source=dessin").await;
        assert_eq!(drawn["numberMatched"], 1);
        assert_eq!(drawn["features"][0]["id"], id.as_str());
        assert_eq!(by("communes=2").await["numberMatched"], 1);
        assert_eq!(by("author=Carole").await["numberMatched"], 0);
        let paged = by("public=true&limit=1").await;
        assert_eq!(paged["numberMatched"], 2);
        let next = paged["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .unwrap()["href"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            next.contains("public=true") && next.contains("offset=1"),
            "{next}"
        );
        call(&s, "GET", &format!("{items}?public=oui"), None, None)
            .await
            .problem(400, &["`public`", "true or false"]);
        call(&s, "GET", &format!("{items}?author=A&author=B"), None, None)
            .await
            .problem(400, &["`author`", "more than once"]);

        // The collection is counted by the store as its items are listed, for each caller.
        for who in [None, a, bo, ad] {
            let c = call(&s, "GET", "/collections/perimeters", who, None)
                .await
                .ok(200);
            let listed = call(&s, "GET", items, who, None).await.ok(200);
            assert_eq!(c["numberOfFeatures"], listed["numberMatched"], "{}", b.name);
        }

        // Queryables and schemas (OGC API – Features Parts 3 and 5), linked from the
        // collection, list the properties the features carry, in their order.
        let c = call(&s, "GET", "/collections/perimeters", None, None)
            .await
            .ok(200);
        let carried: Vec<String> = f["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for path in ["queryables", "schema", "schema/geojson"] {
            let url = format!("/collections/perimeters/{path}");
            assert!(
                c["links"].as_array().unwrap().iter().any(|l| l["href"]
                    .as_str()
                    .unwrap()
                    .ends_with(&url)
                    && l["type"] == "application/schema+json"),
                "{url} not linked: {c}"
            );
            let r = call(&s, "GET", &url, None, None).await;
            assert_eq!(r.media, "application/schema+json", "{url}");
            let doc = r.ok(200);
            assert_eq!(doc["type"], "object");
            assert!(doc["$id"].as_str().unwrap().ends_with(&url), "{doc}");
            let props = if path == "schema/geojson" {
                &doc["properties"]["properties"]["properties"]
            } else {
                &doc["properties"]
            };
            let mut names: Vec<String> = props.as_object().unwrap().keys().cloned().collect();
            if path == "schema" {
                assert_eq!(props["geometry"]["x-ogc-role"], "primary-geometry");
                names.retain(|n| n != "geometry");
            }
            let (mut sorted, mut want) = (names.clone(), carried.clone());
            sorted.sort();
            want.sort();
            assert_eq!(sorted, want, "{url}");
            assert_eq!(props["public"]["type"], "boolean", "{url}");
            assert_eq!(props["population"]["type"], "integer", "{url}");
            assert_eq!(props["author"]["type"], "string", "{url}");
        }

        // Deleted: gone from the collection.
        call(&s, "DELETE", &format!("/perimeters/{lid}"), bo, None)
            .await
            .ok(204);
        call(&s, "GET", &format!("{items}/{lid}"), None, None)
            .await
            .problem(404, &[]);
        s.db.as_ref().unwrap().close().await;
    }
}

/// GDAL's OGC API – Features driver reads the perimeters' collection of a server: the
/// public perimeters, drawn or listed, their columns typed by the collection's schema,
/// and a `-where` on a property (sent to the server as a filter).
#[test]
fn gdal_reads_the_perimeters_collection() {
    if !crate::server::has_gdal() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = rt.block_on(backends()).remove(0);
    let Target::Sqlite(path) = &b.target else {
        unreachable!("the first store is SQLite")
    };
    rt.block_on(async {
        let db = Db::open(&b.target).await.unwrap();
        let alice = db
            .create_token("Alice", Role::Planner)
            .await
            .unwrap()
            .secret;
        let bob = db.create_token("Bob", Role::Planner).await.unwrap().secret;
        let s = service(mini().data(), db).await;
        let square = square_around(&s, "79329", 0.01);
        for (token, body) in [
            (
                &alice,
                json!({"name": "Autour de Thouars", "geometry": square, "public": true}),
            ),
            (
                &bob,
                json!({"name": "Liste", "communes": ["79329", "79014"], "public": true}),
            ),
            (&bob, json!({"name": "Privé", "communes": ["79329"]})),
        ] {
            call(&s, "POST", "/perimeters", Some(token), Some(body))
                .await
                .ok(201);
        }
        s.db.as_ref().unwrap().close().await;
    });
    let url = format!("sqlite://{}", path.display());
    let server =
        crate::server::Server::start_with(mini().data(), &[("CAREACCESS_DATABASE_URL", &url)]);
    let source = format!("OAPIF:{}", server.url);
    let all = crate::gis::ogr2ogr(&source, "perimeters", &[]);
    assert_eq!(crate::gis::feature_count(&all), 2, "{all}");
    for column in [
        "name: String",
        "author: String",
        "public: Integer(Boolean)",
        "communes: Integer",
        "population: Integer",
        "geometry_source: String",
    ] {
        assert!(all.contains(column), "{column} not in {all}");
    }
    let bobs = crate::gis::ogr2ogr(&source, "perimeters", &["-where", "author = 'Bob'"]);
    assert_eq!(crate::gis::feature_count(&bobs), 1, "{bobs}");
}

#[tokio::test]
async fn migrations_run_from_empty_and_again_and_a_backup_opens() {
    for b in backends().await {
        let db = Db::open(&b.target).await.unwrap();
        assert_eq!(db.migrations().await.unwrap(), vec![1, 2, 3, 4, 5]);
        let token = db.create_token("Alice", Role::Admin).await.unwrap();
        db.migrate().await.unwrap();
        db.close().await;
        let db = Db::open(&b.target).await.unwrap();
        assert_eq!(db.migrations().await.unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(
            db.caller(&token.secret).await.unwrap().unwrap().name,
            "Alice"
        );
        assert!(db.caller("ca_0000").await.unwrap().is_none());
        if let Target::Postgres(_) = b.target {
            // pg_dump writes a plain SQL file (the README's backup of a PostgreSQL store).
            let dir = tempfile::tempdir().unwrap();
            let dump = dir.path().join("dump.sql");
            db.backup(&dump).await.unwrap();
            let sql = std::fs::read_to_string(&dump).unwrap();
            assert!(sql.contains("CREATE TABLE public.saved_scenarios"), "{sql}");
            assert!(sql.contains("CREATE TABLE public.layer_items"), "{sql}");
        }
        if let Target::Sqlite(_) = b.target {
            let dir = tempfile::tempdir().unwrap();
            let copy: PathBuf = dir.path().join("copy.db");
            db.backup(&copy).await.unwrap();
            assert!(db.backup(&copy).await.is_err(), "never overwrites");
            let back = Db::open(&Target::Sqlite(copy)).await.unwrap();
            assert_eq!(
                back.caller(&token.secret).await.unwrap().unwrap().role,
                Role::Admin
            );
            back.close().await;
        }
        db.close().await;
    }
}

/// `careaccess tokens create` prints the token once; `db migrate` and `db backup` work
/// on the SQLite store of the data folder.
#[test]
fn the_command_line_creates_tokens_and_backs_up() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_careaccess"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("CAREACCESS_DATABASE_URL")
            .env_remove("CAREACCESS_DATA")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(&["db", "migrate"]).contains("migrated"));
    let token = run(&["tokens", "create", "--name", "Alice", "--role", "planner"]);
    let token = token.trim();
    assert!(token.starts_with("ca_") && token.len() == 67, "{token}");
    let list = run(&["tokens", "list"]);
    let (id, rest) = list.trim().split_once('\t').unwrap();
    assert!(rest.starts_with("planner\tAlice\t"), "{list}");
    assert!(!list.contains(token), "never the secret");
    run(&["tokens", "revoke", id]);
    assert!(run(&["tokens", "list"]).contains("revoked"));
    let revoked = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = Db::open(&Target::Sqlite(dir.path().join("careaccess.db")))
            .await
            .unwrap();
        let c = db.caller(token).await.unwrap();
        db.close().await;
        c
    });
    assert!(revoked.is_none(), "a revoked token no longer writes");
    let copy = dir.path().join("backup.db");
    run(&["db", "backup", copy.to_str().unwrap()]);
    assert!(copy.exists());
    let db_file = std::fs::read(dir.path().join("careaccess.db")).unwrap();
    assert!(
        !db_file.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token itself is not stored"
    );
}

/// One plain HTTP/1.1 POST to a server on a loopback port: status and body, or `None`
/// once the server is gone.
fn post_raw(port: u16, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// `kill -9` of `serve` during a burst of 200 writes: after a restart every write that
/// was acknowledged (201) is there, intact.
#[test]
fn acknowledged_writes_survive_a_kill_9() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for b in rt.block_on(backends()) {
        let url = match &b.target {
            Target::Sqlite(p) => format!("sqlite://{}", p.display()),
            Target::Postgres(u) => u.clone(),
        };
        let token = rt.block_on(async {
            let db = Db::open(&b.target).await.unwrap();
            let t = db.create_token("Alice", Role::Planner).await.unwrap();
            db.close().await;
            t.secret
        });
        // A burst of writes on purpose: without the per-token write limit.
        let server = crate::server::Server::start_with(
            mini().data(),
            &[
                ("CAREACCESS_DATABASE_URL", url.as_str()),
                ("CAREACCESS_WRITES_PER_MINUTE", "0"),
            ],
        );
        let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
        let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
        let writer = {
            let acked = acked.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let name = format!("Rafale n° {i}");
                    let body = scenario_body(&name).to_string();
                    match post_raw(port, "/saved-scenarios", &token, &body) {
                        Some((201, answer)) => {
                            let v: Value = serde_json::from_str(&answer).unwrap();
                            let id = v["id"].as_str().unwrap().to_owned();
                            acked.lock().unwrap().push((id, name));
                        }
                        Some((status, answer)) => panic!("{status}: {answer}"),
                        None => return i,
                    }
                }
                200
            })
        };
        let start = std::time::Instant::now();
        while acked.lock().unwrap().len() < 40 && start.elapsed().as_secs() < 120 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let killed = std::process::Command::new("kill")
            .args(["-9", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let sent = writer.join().unwrap();
        drop(server);
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.len() >= 40,
            "{}: {} acknowledged",
            b.name,
            acked.len()
        );
        assert!(sent < 200, "{}: the burst ended before the kill", b.name);
        rt.block_on(async {
            let db = Db::open(&b.target).await.unwrap();
            for (id, name) in &acked {
                let s = db
                    .scenario(id)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{}: acknowledged {id} lost", b.name));
                assert_eq!(&s.name, name);
                assert_eq!(s.result["kind"], "msp");
            }
            db.close().await;
        });
    }
}

//! Several replicas (issue 17): which build answers a request naming one, the store
//! unreachable, and two real replicas behind nginx sharing PostgreSQL.
//!
//! The nginx test needs nginx and `CAREACCESS_TEST_DATABASE_URL`; without them it prints
//! a note and passes, unless `CAREACCESS_REQUIRE_NGINX=1` (CI), which makes it fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use careaccess::api::{AppState, Service, app, builds};
use careaccess::db::{Db, Target};
use tower::ServiceExt;

use crate::import_fixtures::Mini;
use crate::server::Server;

fn mini() -> &'static Mini {
    static M: OnceLock<Mini> = OnceLock::new();
    M.get_or_init(|| {
        let m = Mini::new();
        m.fetch();
        m.build();
        m
    })
}

/// A data folder holding the mini build twice, as builds `A` and `B` (`current` → A).
fn two_builds() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::canonicalize(mini().data().join("current")).unwrap();
    for f in ["sources.toml", "accessibility.toml"] {
        let p = mini().data().join(f);
        if p.exists() {
            std::fs::copy(&p, dir.path().join(f)).unwrap();
        }
    }
    for id in ["A", "B"] {
        let to = dir.path().join("builds").join(id);
        copy_dir(&src, &to);
        for name in ["dataset.json", "build-report.json"] {
            let p = to.join(name);
            if let Ok(text) = std::fs::read_to_string(&p) {
                let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
                doc["build_id"] = id.into();
                std::fs::write(&p, doc.to_string()).unwrap();
            }
        }
    }
    switch(dir.path(), "A");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Points `current` at `builds/<id>` (atomically, as a build does).
fn switch(data: &Path, id: &str) {
    let tmp = data.join(".current.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("builds/{id}"), &tmp).unwrap();
    std::fs::rename(&tmp, data.join("current")).unwrap();
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: serde_json::Value,
}

async fn get(s: &Arc<Service>, uri: &str, build: Option<&str>) -> Answer {
    let mut req = Request::get(uri);
    if let Some(b) = build {
        req = req.header(builds::BUILD_HEADER, b);
    }
    let r = app(s.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

fn build_of(a: &Answer) -> &str {
    a.headers[builds::BUILD_HEADER].to_str().unwrap()
}

/// A service on build A, reloaded onto build B with `grace`.
async fn reloaded(data: &Path, grace: Duration) -> Arc<Service> {
    let state = AppState::load(data).unwrap();
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut s = Service::new(state, data, &web);
    s.build_grace = grace;
    let s = Arc::new(s);
    switch(data, "B");
    assert_eq!(s.reload().await.unwrap(), "B");
    s
}

#[tokio::test]
async fn the_previous_build_answers_during_its_grace_and_others_are_sent_elsewhere() {
    let data = two_builds();
    let s = reloaded(data.path(), Duration::from_secs(600)).await;

    // No build named: the current one.
    let now = get(&s, "/dataset", None).await;
    assert_eq!(now.status, StatusCode::OK);
    assert_eq!(build_of(&now), "B");
    assert_eq!(now.body["build_id"], "B");

    // The previous build, named by a page that started on it: answered from it, ETag too.
    let old = get(&s, "/dataset", Some("A")).await;
    assert_eq!(old.status, StatusCode::OK);
    assert_eq!(build_of(&old), "A");
    assert_eq!(old.body["build_id"], "A");
    assert!(old.headers[header::ETAG].to_str().unwrap().contains("\"A-"));
    let tiles = get(&s, "/tiles/communes.json", Some("A")).await;
    assert!(
        tiles.body["tiles"][0].as_str().unwrap().ends_with("?v=A"),
        "{}",
        tiles.body
    );
    // A tile URL naming the previous build is immutable (the URL wins over the header).
    let tile = get(
        &s,
        "/collections/communes/tiles/WebMercatorQuad/0/0/0?v=A",
        Some("B"),
    )
    .await;
    assert_eq!(tile.status, StatusCode::OK);
    assert_eq!(build_of(&tile), "A");
    assert!(
        tile.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    // A build this replica never held: 503 + Retry-After, so nginx asks another.
    let other = get(&s, "/dataset", Some("C")).await;
    assert_eq!(other.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(other.headers[header::RETRY_AFTER], "1");
    assert_eq!(other.body["type"], builds::ELSEWHERE_TYPE);
    assert!(other.body["detail"].as_str().unwrap().contains("\"C\""));
    assert_eq!(build_of(&other), "B");

    // Health and saved work are never pinned.
    let live = get(&s, "/health/live", Some("C")).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.body["build"], "B");
}

#[tokio::test]
async fn a_build_replaced_past_its_grace_is_gone() {
    let data = two_builds();
    let s = reloaded(data.path(), Duration::ZERO).await;
    let gone = get(&s, "/collections", Some("A")).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert_eq!(gone.body["type"], builds::GONE_TYPE);
    assert!(
        gone.body["detail"]
            .as_str()
            .unwrap()
            .contains("reload the page")
    );
    assert_eq!(
        get(&s, "/collections", Some("B")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_store_that_is_down_stops_saved_work_only_with_a_503_naming_it() {
    let data = two_builds();
    let db_dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Target::Sqlite(db_dir.path().join("careaccess.db")))
        .await
        .unwrap();
    let state = AppState::load(data.path()).unwrap();
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut s = Service::new(state, data.path(), &web);
    s.db = Some(db.clone());
    let s = Arc::new(s);
    let ready = get(&s, "/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");

    db.close().await;
    // Past the cached answer of /health/ready.
    tokio::time::sleep(careaccess::api::READY_CACHE + Duration::from_millis(50)).await;
    let t = Instant::now();
    let saved = get(&s, "/saved-scenarios/0123abcd", None).await;
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(
        saved.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        saved.body
    );
    assert_eq!(saved.body["type"], careaccess::api::STORE_DOWN_TYPE);
    assert!(saved.headers.contains_key(header::RETRY_AFTER));
    assert!(saved.body["detail"].as_str().unwrap().contains("store"));
    let ready = get(&s, "/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.body["detail"].as_str().unwrap().contains("store"));
    // The public data is still served, and the process is live.
    assert_eq!(get(&s, "/collections", None).await.status, StatusCode::OK);
    assert_eq!(get(&s, "/health/live", None).await.status, StatusCode::OK);
}

// ------------------------------------------------------------ replicas behind nginx

/// nginx as an ordinary process, on a config made from deploy/careaccess.nginx.conf.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped config with these upstreams, this port and a cache folder in `dir`.
fn nginx_config(dir: &Path, upstreams: &[&str], port: u16) -> String {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/careaccess.nginx.conf"),
    )
    .unwrap();
    let mut out = String::new();
    let mut servers_done = false;
    for line in shipped.lines() {
        if line.trim_start().starts_with("server 127.0.0.1:") && line.contains("«replaced»") {
            if !servers_done {
                for u in upstreams {
                    out.push_str(&format!("    server {u} max_fails=3 fail_timeout=5s;\n"));
                }
                servers_done = true;
            }
            continue;
        }
        let line = line
            .replace(
                "/var/cache/nginx/careaccess",
                &dir.join("cache").display().to_string(),
            )
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        out.push_str(&line);
        out.push('\n');
    }
    assert!(
        servers_done,
        "the shipped config names its upstream servers"
    );
    out
}

fn start_nginx(upstreams: &[&str]) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("cache")).unwrap();
    let port = free_port();
    std::fs::write(d.join("careaccess.conf"), nginx_config(d, upstreams, port)).unwrap();
    let user = if is_root() { "user root root;" } else { "" };
    let p = d.display();
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            "{user}\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n access_log off;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
             include {p}/careaccess.conf;\n}}\n"
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nginx did not listen: {}",
            std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        child,
        url,
        _dir: dir,
    }
}

/// Whether this process runs as root (nginx's workers then need `user root`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// What the nginx test needs, or why it is skipped (a failure under
/// `CAREACCESS_REQUIRE_NGINX=1`).
fn nginx_and_postgres() -> Option<String> {
    let required = std::env::var("CAREACCESS_REQUIRE_NGINX").is_ok_and(|v| v == "1");
    let nginx = Command::new("nginx").arg("-v").output().is_ok();
    let pg = std::env::var("CAREACCESS_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    match (nginx, pg) {
        (true, Some(url)) => Some(url),
        (n, p) => {
            let why = format!(
                "{}{}",
                if n { "" } else { "nginx is not installed; " },
                if p.is_some() {
                    ""
                } else {
                    "CAREACCESS_TEST_DATABASE_URL is not set"
                }
            );
            assert!(!required, "CAREACCESS_REQUIRE_NGINX=1 but {why}");
            eprintln!("note: replicas behind nginx not tested: {why}");
            None
        }
    }
}

/// A plain HTTP/1.1 request to `url` (`http://host:port`), `Host` naming it: status and
/// body.
fn http(url: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A new, empty database on the PostgreSQL server of `url`: its URL.
async fn fresh_postgres(url: &str) -> String {
    let name = format!("careaccess_cluster_{}", std::process::id());
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{prefix}/{name}{q}")
}

#[tokio::test]
async fn a_scenario_saved_through_one_replica_is_read_through_the_other_via_nginx() {
    let Some(pg) = nginx_and_postgres() else {
        return;
    };
    let db_url = fresh_postgres(&pg).await;
    let data: PathBuf = mini().data().to_owned();
    let env = [
        ("CAREACCESS_DATABASE_URL", db_url.as_str()),
        ("CAREACCESS_TRUSTED_PROXY", "1"),
    ];
    let one = Server::start_with(&data, &env);
    let two = Server::start_with(&data, &env);
    let token = Command::new(env!("CARGO_BIN_EXE_careaccess"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "tokens",
            "create",
            "--name",
            "cluster test",
            "--role",
            "planner",
        ])
        .env("CAREACCESS_DATABASE_URL", &db_url)
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let hosts: Vec<String> = [&one, &two]
        .iter()
        .map(|s| s.url.trim_start_matches("http://").to_owned())
        .collect();
    let nginx = start_nginx(&[&hosts[0], &hosts[1]]);

    // Saved through replica one (directly), read through nginx once replica one is gone.
    let body = serde_json::json!({
        "name": "Une MSP à Airvault",
        "kind": "msp",
        "within_km": 5,
        "territory": "epci:247900798",
        "changes": [{ "op": "add", "lon": -0.08, "lat": 46.83, "name": "MSP d'Airvault (projet)" }]
    })
    .to_string();
    let (status, saved) = one.request(
        "POST",
        "/saved-scenarios",
        &[
            &format!("Authorization: Bearer {token}"),
            "Content-Type: application/json",
        ],
        &body,
    );
    assert_eq!(status, 201, "{saved}");
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let id = saved["id"].as_str().unwrap().to_owned();
    // Links are the public address nginx names (X-Forwarded-Host), not a replica's.
    let (status, through) = http(
        &nginx.url,
        "GET",
        &format!("/saved-scenarios/{id}"),
        &[],
        "",
    );
    assert_eq!(status, 200, "{through}");
    drop(one);
    for _ in 0..6 {
        let (status, answer) = http(
            &nginx.url,
            "GET",
            &format!("/saved-scenarios/{id}"),
            &[],
            "",
        );
        assert_eq!(status, 200, "replica two, via nginx: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["name"], "Une MSP à Airvault");
    }
    // A write through nginx lands on replica two, and reads back from it directly.
    let (status, saved2) = http(
        &nginx.url,
        "POST",
        "/saved-scenarios",
        &[
            &format!("Authorization: Bearer {token}"),
            "Content-Type: application/json",
        ],
        &body,
    );
    assert_eq!(status, 201, "{saved2}");
    let saved2: serde_json::Value = serde_json::from_str(&saved2).unwrap();
    assert!(
        saved2["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/", nginx.url)),
        "{saved2}"
    );
    let (status, _) = two.get(&format!(
        "/saved-scenarios/{}",
        saved2["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200);
    let (status, ready) = http(&nginx.url, "GET", "/health/ready", &[], "");
    assert_eq!(status, 200, "{ready}");
}

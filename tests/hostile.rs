//! Hostile clients (issue 18): slow and idle connections are closed, the connection cap
//! refuses fast, `/health` answers while heavy work runs, a deadline is a 504, work stops
//! when its client hangs up, costly requests are refused before any work, shutdown has a
//! deadline, links never come from the `Host` header, and POSTs are not open to every
//! origin. Timeouts are short here, and every bound waited on is generous: assertions are
//! on outcomes, not on times.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use careaccess::api::{AppState, Service, app};
use serde_json::Value;
use tower::ServiceExt;

use crate::api::{fixture, get};
use crate::server::Server;

fn server(env: &[(&str, &str)]) -> Server {
    Server::start_with(&fixture().service.data_dir, env)
}

fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c
}

/// Reads until the server closes the connection: true if it did (EOF or reset) within
/// the read timeout.
fn closed_by_server(c: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// `/health` as JSON, or `None` if the connection was refused or cut.
fn try_health(s: &Server) -> Option<Value> {
    let mut c = connect(s);
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    c.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_str(body).ok()
}

/// Polls `/health` until `ok` holds of its `work` member (up to 30 s).
fn work_becomes(s: &Server, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let work = try_health(s).map_or(Value::Null, |h| h["work"].clone());
        if ok(&work) {
            return work;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "/health work stayed {work}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn slow_headers_idle_and_kept_alive_connections_are_closed() {
    let s = server(&[
        ("CAREACCESS_HEADER_TIMEOUT", "1"),
        ("CAREACCESS_IDLE_TIMEOUT", "1"),
    ]);
    // Slowloris: a head never finished.
    let mut slow = connect(&s);
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Silent: connects and says nothing.
    let mut idle = connect(&s);
    // Kept alive after one answer, then silent.
    let mut kept = connect(&s);
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    for (what, c) in [
        ("slow head", &mut slow),
        ("idle", &mut idle),
        ("kept alive", &mut kept),
    ] {
        assert!(closed_by_server(c), "{what}: connection left open");
    }
    // The service still answers.
    assert_eq!(s.get("/health").0, 200);
}

#[test]
fn the_connection_cap_refuses_fast_and_frees_with_the_connections() {
    let s = server(&[
        ("CAREACCESS_MAX_CONNECTIONS", "3"),
        ("CAREACCESS_IDLE_TIMEOUT", "60"),
        ("CAREACCESS_HEADER_TIMEOUT", "60"),
    ]);
    let held: Vec<TcpStream> = (0..3).map(|_| connect(&s)).collect();
    // The accept loop takes them in turn; then the next one is closed at once.
    let start = Instant::now();
    let refused = loop {
        let mut extra = connect(&s);
        let _ = extra.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut answer = Vec::new();
        let _ = extra.read_to_end(&mut answer);
        if answer.is_empty() {
            break true;
        }
        if start.elapsed() > Duration::from_secs(30) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(refused, "a connection over the cap was served");
    drop(held);
    // Freed: /health answers again and counts the refusals.
    let work = work_becomes(&s, |w| w["connections_refused"].as_u64() >= Some(1));
    assert!(work["connections_refused"].as_u64().unwrap() >= 1);
}

const SITING: &str = "/siting?territory=cls:thouarsais&kind=msp&k=2&within_km=3";

#[test]
fn health_answers_while_heavy_requests_wait_and_run() {
    let s = server(&[
        ("CAREACCESS_TEST_HEAVY_DELAY_MS", "4000"),
        ("CAREACCESS_HEAVY_CONCURRENCY", "1"),
    ]);
    std::thread::scope(|scope| {
        let heavy: Vec<_> = (0..4).map(|_| scope.spawn(|| s.get(SITING).0)).collect();
        // While the heavy pool is full (one running, three waiting), /health answers.
        let work = work_becomes(&s, |w| w["heavy_running"] == 1);
        assert_eq!(work["heavy_running"], 1);
        for h in heavy {
            assert_eq!(h.join().unwrap(), 200);
        }
    });
    assert_eq!(s.health()["work"]["heavy_running"], 0);
}

#[test]
fn a_deadline_is_a_504_and_a_client_that_hangs_up_stops_its_work() {
    let s = server(&[
        ("CAREACCESS_TEST_HEAVY_DELAY_MS", "120000"),
        ("CAREACCESS_REQUEST_TIMEOUT", "1"),
    ]);
    let (status, body) = s.get(SITING);
    assert_eq!(status, 504, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["status"], 504);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("CAREACCESS_REQUEST_TIMEOUT")
    );
    // The work stopped with the deadline.
    work_becomes(&s, |w| w["heavy_running"] == 0 && w["heavy_cancelled"] == 1);

    let s = server(&[("CAREACCESS_TEST_HEAVY_DELAY_MS", "120000")]);
    let mut c = connect(&s);
    write!(c, "GET {SITING} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    work_becomes(&s, |w| w["heavy_running"] == 1);
    drop(c);
    work_becomes(&s, |w| w["heavy_running"] == 0 && w["heavy_cancelled"] == 1);
}

#[test]
fn sigterm_ends_the_service_within_its_grace_despite_a_half_sent_request() {
    let mut s = server(&[
        ("CAREACCESS_SHUTDOWN_GRACE", "1"),
        ("CAREACCESS_HEADER_TIMEOUT", "300"),
        ("CAREACCESS_TEST_HEAVY_DELAY_MS", "300000"),
    ]);
    let mut half = connect(&s);
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut busy = connect(&s);
    write!(busy, "GET {SITING} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    work_becomes(&s, |w| w["heavy_running"] == 1);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = s.exits_within(Duration::from_secs(60));
    assert!(status.is_some(), "still running 60 s after SIGTERM");
}

#[tokio::test]
async fn costly_siting_is_refused_before_any_work() {
    for (param, value) in [("within_km", "500"), ("within_min", "200")] {
        get(&format!(
            "/siting?territory=cls:thouarsais&kind=msp&{param}={value}"
        ))
        .await
        .problem(422, &[param, "siting takes at most"]);
    }
}

#[test]
fn the_cli_refuses_k_zero_and_costly_siting() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_careaccess"))
            .arg("--data-dir")
            .arg(&fixture().service.data_dir)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let base = ["siting", "--territory", "cls:thouarsais", "--kind", "msp"];
    let e = run(&[&base[..], &["--k", "0"]].concat());
    assert!(e.contains("`k`"), "{e}");
    let e = run(&[&base[..], &["--k", "1000"]].concat());
    assert!(e.contains("`k`"), "{e}");
    let e = run(&[&base[..], &["--within-km", "500"]].concat());
    assert!(e.contains("within_km"), "{e}");
    let e = run(&[
        "nearest", "--kind", "msp", "--lon", "-0.2", "--lat", "46.97", "--k", "0",
    ]);
    assert!(e.contains("`k`"), "{e}");
}

/// A service on the fixture's data with other settings.
fn service_with(f: impl FnOnce(&mut Service)) -> Arc<Service> {
    let data = &fixture().service.data_dir;
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut s = Service::new(AppState::load(data).unwrap(), data, &web);
    f(&mut s);
    Arc::new(s)
}

async fn body_of(service: Arc<Service>, req: Request<Body>) -> (axum::http::HeaderMap, String) {
    let r = app(service).oneshot(req).await.unwrap();
    let h = r.headers().clone();
    let b = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (h, String::from_utf8_lossy(&b).into_owned())
}

#[tokio::test]
async fn links_never_come_from_the_host_header() {
    let evil = |uri: &str| {
        Request::get(uri)
            .header(header::HOST, "evil.example")
            .header("x-forwarded-host", "proxy.example")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .unwrap()
    };
    for uri in [
        "/?f=json",
        "/collections",
        "/collections/communes/items?limit=1",
        "/api",
    ] {
        let (_, body) = body_of(fixture().service.clone(), evil(uri)).await;
        assert!(!body.contains("evil.example"), "{uri}: Host in the links");
        assert!(
            !body.contains("proxy.example"),
            "{uri}: an untrusted proxy header in the links"
        );
        assert!(body.contains("http://localhost"), "{uri}: {body:.300}");
    }
    // Behind a trusted proxy, its forwarded host and scheme.
    let proxied = service_with(|s| s.trusted_proxy = true);
    let (headers, body) = body_of(proxied, evil("/collections")).await;
    assert!(
        body.contains("https://proxy.example/collections"),
        "{body:.300}"
    );
    assert!(!body.contains("evil.example"));
    // Links that depend on the forwarded headers: a cache must key on them.
    let vary: Vec<&str> = headers
        .get_all(header::VARY)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        vary.iter().any(|v| v.contains("X-Forwarded-Host")),
        "{vary:?}"
    );
    let (headers, _) = body_of(fixture().service.clone(), evil("/collections")).await;
    assert!(
        !headers
            .get_all(header::VARY)
            .iter()
            .any(|v| v.to_str().unwrap().contains("X-Forwarded"))
    );
}

#[tokio::test]
async fn posts_are_open_to_configured_origins_only() {
    let preflight = |origin: &str, method: &str, path: &str| {
        Request::options(path)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = |h: &axum::http::HeaderMap| {
        h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let service = service_with(|s| {
        s.cors_origins =
            careaccess::api::origins::parse_origins("https://planners.example").unwrap();
    });
    // GET from anywhere.
    let (h, _) = body_of(
        service.clone(),
        preflight("https://evil.example", "GET", "/collections"),
    )
    .await;
    assert!(allowed(&h).is_some());
    // POST from a foreign origin: no permission, preflight or not.
    let (h, _) = body_of(
        service.clone(),
        preflight("https://evil.example", "POST", "/scenarios"),
    )
    .await;
    assert_eq!(allowed(&h), None);
    let post = Request::post("/scenarios")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let (h, _) = body_of(service.clone(), post).await;
    assert_eq!(allowed(&h), None);
    // From the configured origin.
    let (h, _) = body_of(
        service,
        preflight("https://planners.example", "POST", "/scenarios"),
    )
    .await;
    assert_eq!(allowed(&h).as_deref(), Some("https://planners.example"));
}

#[tokio::test]
async fn a_map_layer_is_built_once_for_concurrent_first_requests() {
    let service = service_with(|_| {});
    let answers = futures_join(service, 8).await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "different bodies");
}

async fn futures_join(service: Arc<Service>, n: usize) -> Vec<Vec<u8>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let s = service.clone();
        tasks.spawn(async move {
            let r = app(s)
                .oneshot(Request::get("/map/communes").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec()
        });
    }
    let mut out = Vec::new();
    while let Some(b) = tasks.join_next().await {
        out.push(b.unwrap());
    }
    out
}

/// Out of file descriptors: `accept` fails (EMFILE); the error is logged at WARN, the loop
/// pauses instead of spinning, and the service answers again once connections close.
#[test]
fn accept_errors_are_logged_and_the_service_recovers() {
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 128 && exec "$0" --data-dir "$1" serve --bind "$2""#)
        .arg(env!("CARGO_BIN_EXE_careaccess"))
        .arg(&fixture().service.data_dir)
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("CAREACCESS_LOG")
        .env("CAREACCESS_IDLE_TIMEOUT", "60")
        .env("CAREACCESS_HEADER_TIMEOUT", "60")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let health = || -> bool {
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut a = String::new();
        let _ = c.read_to_string(&mut a);
        a.starts_with("HTTP/1.1 200")
    };
    let start = Instant::now();
    while !health() {
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        assert!(start.elapsed() < Duration::from_secs(120), "no /health");
        std::thread::sleep(Duration::from_millis(100));
    }
    // More connections than descriptors: the kernel queues them, accept fails.
    let held: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    let start = Instant::now();
    let warned = loop {
        let text = std::fs::read_to_string(log.path()).unwrap();
        if text.contains("WARN") && text.contains("accept error") {
            break true;
        }
        if start.elapsed() > Duration::from_secs(30) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(held);
    let start = Instant::now();
    while !health() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no /health after the flood"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(warned, "no WARN accept error in the log:\n{text}");
    let lines = text.lines().filter(|l| l.contains("accept error")).count();
    assert!(lines < 100, "{lines} accept error lines: not rate-limited");
}

/// The hostile phase of `benches/load.sh` (`benches/hostile.py`), briefly on the mini
/// data: slowloris, idle connections and clients hanging up, while /health never fails.
#[test]
fn the_hostile_bench_runs_and_health_never_fails() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let s = server(&[
        ("CAREACCESS_HEADER_TIMEOUT", "1"),
        ("CAREACCESS_IDLE_TIMEOUT", "1"),
    ]);
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/hostile.py"))
        .args([&s.url, "4", "20", "20", "4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("HOSTILE "))
        .unwrap_or_else(|| panic!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    assert!(line.contains("health_failed=0"), "{line}");
    assert!(!line.contains("health_answers=0 "), "{line}");
    assert!(!line.contains("hangups=0"), "{line}");
    // Slow heads were closed by the server, and opened again.
    assert!(!line.contains("slow=20 "), "{line}");
    eprintln!("{line}");
    assert_eq!(s.get("/health").0, 200);
}

/// A request body that stalls is answered (408) once the body timeout passes, instead of
/// holding the connection and its handler.
#[test]
fn a_stalled_body_is_answered_after_the_body_timeout() {
    let s = server(&[("CAREACCESS_BODY_TIMEOUT", "1")]);
    let mut c = connect(&s);
    c.write_all(
        b"POST /scenarios HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"kind\":",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:.400}");
    assert!(answer.contains("timeout"), "{answer:.400}");
    assert_eq!(s.get("/health").0, 200);
}

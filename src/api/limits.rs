//! What one client may cost the service: the settings of the connection, request and
//! write limits ([`Limits`], from `CAREACCESS_…` variables), the per-request deadline (504),
//! the bounded pool of heavy work ([`heavy`]: analyses, big pages, map layers run off the
//! async workers, a few at a time, with a cancel flag that is set when the request is
//! dropped), and the counters `/health` reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::analysis::Cancel;

use super::Service;
use super::error::{ApiError, ApiResult};

/// Default of [`Limits::writes_per_minute`]: a planner saving by hand never reaches it; a
/// script looping over writes is slowed to one a second.
pub const DEFAULT_WRITES_PER_MINUTE: u32 = 60;

/// Connection and request limits; each has a default and a `CAREACCESS_…` variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// `CAREACCESS_HEADER_TIMEOUT` (s): a request head not received whole within it closes
    /// the connection (slow headers; also a keep-alive connection that starts a request
    /// and stalls).
    pub header_timeout: Duration,
    /// `CAREACCESS_IDLE_TIMEOUT` (s): a connection with no request in flight and no byte
    /// read or written for this long is closed.
    pub idle_timeout: Duration,
    /// `CAREACCESS_BODY_TIMEOUT` (s): longest wait for the next part of a request body.
    pub body_timeout: Duration,
    /// `CAREACCESS_REQUEST_TIMEOUT` (s): a request not answered within it gets a 504 and
    /// its analysis is cancelled.
    pub request_timeout: Duration,
    /// `CAREACCESS_SHUTDOWN_GRACE` (s): after SIGTERM / SIGINT, requests in flight get
    /// this long, then the process exits.
    pub shutdown_grace: Duration,
    /// `CAREACCESS_MAX_CONNECTIONS`: connections open at once; over it a new connection
    /// is closed at once (logged at WARN, at most once a second).
    pub max_connections: usize,
    /// `CAREACCESS_HEAVY_CONCURRENCY`: heavy requests (analyses, big pages, map layers)
    /// computed at once; the others wait their turn. Default: the number of cores.
    pub heavy_concurrency: usize,
    /// `CAREACCESS_WRITES_PER_MINUTE`: writes (saved scenarios, perimeters, lists and
    /// their previews) one token may make in a calendar minute, counted in the store so
    /// that the replicas sharing it share the limit (checked with the token of every
    /// write); over it, a 429. 0: no limit.
    pub writes_per_minute: u32,
    /// `CAREACCESS_TEST_HEAVY_DELAY_MS`, for tests only: every heavy computation first
    /// waits this long (watching its cancel flag), so that a test can hang up or pass a
    /// deadline while work is under way. Zero (off) unless set.
    #[doc(hidden)]
    pub test_heavy_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 512,
            heavy_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            writes_per_minute: DEFAULT_WRITES_PER_MINUTE,
            test_heavy_delay: Duration::ZERO,
        }
    }
}

impl Limits {
    /// The defaults, overridden by the `CAREACCESS_…` variables that are set; an
    /// unreadable value is an error naming the variable.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Limits::from_env`] over any source of variables (tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut l = Limits::default();
        let secs = |name: &str, into: &mut Duration| -> Result<(), String> {
            if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
                match v.trim().parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
                        *into = Duration::from_secs_f64(s);
                    }
                    _ => return Err(format!("{name}={v:?}: expected seconds, > 0 and ≤ 86400")),
                }
            }
            Ok(())
        };
        let count = |name: &str, into: &mut usize| -> Result<(), String> {
            if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
                match v.trim().parse::<usize>() {
                    Ok(n) if n > 0 => *into = n,
                    _ => return Err(format!("{name}={v:?}: expected a whole number > 0")),
                }
            }
            Ok(())
        };
        secs("CAREACCESS_HEADER_TIMEOUT", &mut l.header_timeout)?;
        secs("CAREACCESS_IDLE_TIMEOUT", &mut l.idle_timeout)?;
        secs("CAREACCESS_BODY_TIMEOUT", &mut l.body_timeout)?;
        secs("CAREACCESS_REQUEST_TIMEOUT", &mut l.request_timeout)?;
        secs("CAREACCESS_SHUTDOWN_GRACE", &mut l.shutdown_grace)?;
        count("CAREACCESS_MAX_CONNECTIONS", &mut l.max_connections)?;
        count("CAREACCESS_HEAVY_CONCURRENCY", &mut l.heavy_concurrency)?;
        const WRITES: &str = "CAREACCESS_WRITES_PER_MINUTE";
        if let Some(v) = var(WRITES).filter(|v| !v.trim().is_empty()) {
            l.writes_per_minute = v.trim().parse().map_err(|_| {
                format!("{WRITES}={v:?}: expected a whole number of writes, ≥ 0 (0: no limit)")
            })?;
        }
        if let Some(ms) = var("CAREACCESS_TEST_HEAVY_DELAY_MS") {
            let ms: u64 = ms
                .trim()
                .parse()
                .map_err(|_| format!("CAREACCESS_TEST_HEAVY_DELAY_MS={ms:?}: milliseconds"))?;
            l.test_heavy_delay = Duration::from_millis(ms);
        }
        Ok(l)
    }
}

/// What `/health` reports of the heavy work.
#[derive(Debug, Default)]
pub struct Stats {
    /// Heavy computations running now (waiting ones not counted).
    pub running: AtomicUsize,
    /// Heavy computations whose request went away (client gone, deadline) before the end.
    pub cancelled: AtomicU64,
    /// Connections refused because [`Limits::max_connections`] were open.
    pub refused_connections: AtomicU64,
}

impl Stats {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "heavy_running": self.running.load(Ordering::Relaxed),
            "heavy_cancelled": self.cancelled.load(Ordering::Relaxed),
            "connections_refused": self.refused_connections.load(Ordering::Relaxed),
        })
    }
}

/// The deadline of every request but `/admin/reload`: past [`Limits::request_timeout`],
/// a 504 problem+json (the handler is dropped, which cancels its heavy work).
pub async fn deadline(State(service): State<Arc<Service>>, req: Request, next: Next) -> Response {
    // A reload is the operator's, and a half-done one would be silently dropped.
    if req.uri().path() == "/admin/reload" {
        return next.run(req).await;
    }
    let limit = service.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the answer took longer than {} s (CAREACCESS_REQUEST_TIMEOUT): ask for less \
                 (a smaller territory, k or page)",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// Sets the flag when dropped unless disarmed: the request went away before the work
/// ended.
struct CancelOnDrop {
    cancel: Cancel,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.cancel.cancel();
        }
    }
}

/// Counts a running computation, and a cancelled one if its flag is set at the end.
struct Running {
    service: Arc<Service>,
    cancel: Cancel,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.service.stats.running.fetch_sub(1, Ordering::Relaxed);
        if self.cancel.is_cancelled() {
            self.service.stats.cancelled.fetch_add(1, Ordering::Relaxed);
            tracing::info!("heavy request abandoned by its client: work stopped");
        }
    }
}

/// Runs `f` on the blocking pool once one of the [`Limits::heavy_concurrency`] places is
/// free, so that the async workers (and `/health`) are never starved. The flag given to
/// `f` is set when the caller's future is dropped (client gone, deadline passed); the
/// place stays taken until `f` returns, so abandoned work still counts until it stops.
pub async fn heavy<T: Send + 'static>(
    service: &Arc<Service>,
    f: impl FnOnce(&Cancel) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let permit = service
        .heavy
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let cancel = Cancel::new();
    let mut guard = CancelOnDrop {
        cancel: cancel.clone(),
        armed: true,
    };
    service.stats.running.fetch_add(1, Ordering::Relaxed);
    let running = Running {
        service: service.clone(),
        cancel: cancel.clone(),
    };
    let delay = service.limits.test_heavy_delay;
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _running = running;
        let start = std::time::Instant::now();
        while start.elapsed() < delay && !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        f(&cancel)
    })
    .await
    .map_err(ApiError::internal)?;
    guard.armed = false;
    out
}

/// The answer to a request whose analysis saw its flag set (nobody reads it).
pub fn cancelled() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the request was cancelled before its answer was ready",
    )
}

/// Bodies at least this large are compressed in the heavy pool, not on the async workers.
pub const COMPRESS_OFF_WORKERS: usize = 64 * 1024;

/// Whether `Accept-Encoding` takes gzip (by name or `*`, with a q-value above 0).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        })
}

/// A body compressed here (call it from [`heavy`]): gzip when the client takes it and the
/// body is large, else as it is. The response layer leaves an encoded body alone.
pub fn precompress(body: Vec<u8>, gzip: bool) -> ApiResult<(Vec<u8>, bool)> {
    if !gzip || body.len() < COMPRESS_OFF_WORKERS {
        return Ok((body, false));
    }
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        // Level 6: miniz's fastest level makes CSV pages half as big again (73 kB instead
        // of 43 kB for 10,000 communes), which the map's first view pays.
        flate2::Compression::default(),
    );
    gz.write_all(&body).map_err(ApiError::internal)?;
    Ok((gz.finish().map_err(ApiError::internal)?, true))
}

/// Marks a response whose body [`precompress`] encoded.
pub fn mark_gzip(r: &mut Response, gzipped: bool) {
    if gzipped {
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_limit_reads_zero_as_none_and_refuses_words() {
        let with = |v: &'static str| {
            Limits::from_vars(move |n| (n == "CAREACCESS_WRITES_PER_MINUTE").then(|| v.into()))
        };
        assert_eq!(Limits::from_vars(|_| None).unwrap().writes_per_minute, 60);
        assert_eq!(with("0").unwrap().writes_per_minute, 0);
        assert_eq!(with(" 120 ").unwrap().writes_per_minute, 120);
        for bad in ["-1", "many", "1.5"] {
            let e = with(bad).unwrap_err();
            assert!(e.contains("CAREACCESS_WRITES_PER_MINUTE"), "{e}");
        }
    }

    #[test]
    fn gzip_is_accepted_by_name_or_star_unless_refused() {
        let accepts = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(accepts("gzip"));
        assert!(accepts("br, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}

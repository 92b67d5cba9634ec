//! Which build answers a request, so that a page never mixes two builds while replicas
//! behind a load balancer reload one after the other (issue 17).
//!
//! Every answer says the build it was made from (`X-Careaccess-Build`). The web page
//! learns it from its first answer and names it on every data request after (the same
//! header); tile and download URLs name it in `?v=` (they are immutable, so a cache or a
//! CDN keys them by URL). A replica then answers:
//! - a request naming no build, or its current one: from the current build;
//! - one naming the build it served before its last reload, within
//!   `CAREACCESS_BUILD_GRACE` (default 10 min) of that reload: from that previous build,
//!   kept whole in memory for the grace period;
//! - one naming a build it replaced longer ago: 410, « reload the page » (the page says
//!   « Les données ont été mises à jour »);
//! - one naming a build it never held: 503 with `Retry-After`, so that nginx
//!   (`proxy_next_upstream http_503`) asks another replica — a newer build that this
//!   replica has not loaded yet, or an older one held by a replica that reloaded later.
//!
//! Saved work, the audit, health and admin routes are not pinned: they are not data of a
//! build. The pinned state reaches the handlers through a task-local read by
//! [`Service::state`], so no handler has to know about pinning.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Service;
use super::error::ApiError;
use super::state::AppState;

/// Header naming a build: on every answer (the build it was made from) and on the page's
/// requests (the build it wants).
pub const BUILD_HEADER: &str = "x-careaccess-build";

/// Problem type of a request naming a build this replica replaced after its grace period.
pub const GONE_TYPE: &str = "urn:careaccess:problem:build-gone";
/// Problem type of a request naming a build this replica never held.
pub const ELSEWHERE_TYPE: &str = "urn:careaccess:problem:build-elsewhere";

/// Default of `CAREACCESS_BUILD_GRACE`: long enough for a page open during a rolling
/// update to finish what it was doing; each second of it costs a second build in memory.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(600);

/// Builds retired by this process that it still remembers (to answer 410, not 503).
const REMEMBERED: usize = 32;

/// Seconds a client (or nginx) should wait before asking again for a build not held here.
const RETRY_SECS: u32 = 1;

tokio::task_local! {
    /// The state a pinned request is answered from (unset: the current one).
    static PINNED: Arc<AppState>;
}

/// The state pinned for the running request, if any.
pub(super) fn pinned() -> Option<Arc<AppState>> {
    PINNED.try_with(Arc::clone).ok()
}

/// `CAREACCESS_BUILD_GRACE` (seconds, 0 to 86400; 0 keeps no previous build).
pub fn grace_from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Duration, String> {
    const NAME: &str = "CAREACCESS_BUILD_GRACE";
    match var(NAME).filter(|v| !v.trim().is_empty()) {
        None => Ok(DEFAULT_GRACE),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => {
                Ok(Duration::from_secs_f64(s))
            }
            _ => Err(format!("{NAME}={v:?}: expected seconds, ≥ 0 and ≤ 86400")),
        },
    }
}

/// The build served before the last reload, answerable until `until`.
#[derive(Debug)]
pub struct Previous {
    pub state: Arc<AppState>,
    pub until: Instant,
}

/// What a replica remembers of the builds it served before.
#[derive(Debug, Default)]
pub struct History {
    previous: arc_swap::ArcSwapOption<Previous>,
    /// Ids of the builds replaced here, newest last (at most [`REMEMBERED`]).
    retired: std::sync::Mutex<Vec<String>>,
}

impl History {
    /// Notes a reload: `old` stays answerable for `grace` (not at all when zero).
    pub fn retire(&self, old: Arc<AppState>, grace: Duration) {
        let id = old.build_id().to_owned();
        {
            let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
            retired.retain(|r| *r != id);
            retired.push(id);
            let excess = retired.len().saturating_sub(REMEMBERED);
            retired.drain(..excess);
        }
        if grace.is_zero() {
            self.previous.store(None);
        } else {
            self.previous.store(Some(Arc::new(Previous {
                state: old,
                until: Instant::now() + grace,
            })));
        }
    }

    /// Forgets the previous build once its grace is over (frees its memory once the
    /// requests still using it are done); `held` is the one the timer was set for.
    pub fn expire(&self, held: &Arc<Previous>) {
        let current = self.previous.load();
        if current.as_ref().is_some_and(|p| Arc::ptr_eq(p, held)) {
            self.previous.store(None);
        }
    }

    /// The previous build, if still within its grace.
    pub fn previous(&self) -> Option<Arc<Previous>> {
        self.previous
            .load_full()
            .filter(|p| Instant::now() < p.until)
    }

    fn was_retired(&self, id: &str) -> bool {
        self.retired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|r| r == id)
    }
}

/// Routes whose answers are not data of a build: never pinned.
fn unpinned(path: &str) -> bool {
    path.starts_with("/health")
        || path.starts_with("/saved-scenarios")
        || path.starts_with("/perimeters")
        || path.starts_with("/layers")
        || path.starts_with("/audit")
        || path.starts_with("/admin/")
}

/// Routes whose URL names the build in `?v=` (tiles, downloads): the URL wins over the
/// header, since a cache keys them by URL.
fn build_in_url(path: &str) -> bool {
    (path.starts_with("/collections/") && path.contains("/tiles/"))
        || path.starts_with("/download/")
}

/// The build a request names, if any.
fn requested(req: &Request) -> Option<String> {
    let path = req.uri().path();
    if unpinned(path) {
        return None;
    }
    if build_in_url(path) {
        let from_url = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "v")
                .map(|(_, v)| v.into_owned())
        });
        if from_url.is_some() {
            return from_url;
        }
    }
    req.headers()
        .get(BUILD_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The state that answers a request naming `wanted` (`None`: the current one), or why
/// none does here.
pub fn resolve(service: &Service, wanted: Option<&str>) -> Result<Arc<AppState>, ApiError> {
    let current = service.current_state();
    let Some(wanted) = wanted else {
        return Ok(current);
    };
    if wanted == current.build_id() {
        return Ok(current);
    }
    if let Some(p) = service.history.previous() {
        if p.state.build_id() == wanted {
            return Ok(p.state.clone());
        }
    }
    if service.history.was_retired(wanted) {
        return Err(ApiError::new(
            StatusCode::GONE,
            format!(
                "build {wanted:?} was replaced by build {:?} more than {} s ago \
                 (CAREACCESS_BUILD_GRACE): reload the page to use the current data",
                current.build_id(),
                service.build_grace.as_secs()
            ),
        )
        .with_type(GONE_TYPE));
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "this server does not hold build {wanted:?} (it serves {:?}): another server \
             may; ask again, or reload the page to use the current data",
            current.build_id()
        ),
    )
    .with_type(ELSEWHERE_TYPE)
    .retry_after(RETRY_SECS))
}

/// Middleware: answers each request from the build it names, and says on every answer
/// which build that was.
pub async fn pin(State(service): State<Arc<Service>>, req: Request, next: Next) -> Response {
    let wanted = requested(&req);
    let st = match resolve(&service, wanted.as_deref()) {
        Ok(st) => st,
        Err(e) => {
            let mut r = e.into_response();
            mark(&mut r, service.current_state().build_id());
            return r;
        }
    };
    let id = st.build_id().to_owned();
    let mut r = if wanted.is_some() {
        PINNED.scope(st, next.run(req)).await
    } else {
        drop(st);
        next.run(req).await
    };
    mark(&mut r, &id);
    r
}

fn mark(r: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert(BUILD_HEADER, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_reads_seconds_and_zero() {
        let of = |v: &str| {
            let v = v.to_owned();
            grace_from_vars(move |_| Some(v.clone()))
        };
        assert_eq!(grace_from_vars(|_| None), Ok(DEFAULT_GRACE));
        assert_eq!(of("0"), Ok(Duration::ZERO));
        assert_eq!(of(" 30 "), Ok(Duration::from_secs(30)));
        assert!(of("-1").is_err());
        assert!(of("ten").is_err());
    }

    #[test]
    fn the_url_names_the_build_of_tiles_only() {
        let req = |uri: &str, header: Option<&str>| {
            let mut b = Request::builder().uri(uri);
            if let Some(h) = header {
                b = b.header(BUILD_HEADER, h);
            }
            requested(&b.body(axum::body::Body::empty()).unwrap())
        };
        assert_eq!(
            req(
                "/collections/msp/tiles/WebMercatorQuad/1/0/0?v=A",
                Some("B")
            ),
            Some("A".to_owned())
        );
        assert_eq!(req("/download/msp.fgb", Some("B")), Some("B".to_owned()));
        assert_eq!(req("/nearest?v=A", None), None);
        assert_eq!(req("/saved-scenarios", Some("B")), None);
        assert_eq!(req("/health/ready", Some("B")), None);
    }
}

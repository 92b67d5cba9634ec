//! HTTP service (axum): OGC API – Features over the built layers, the analysis
//! endpoints, saved work, and the web map. The top layer: uses every module below it
//! (`analysis`, `store`, `import` for the profiles file, `model`, `db`); nothing below
//! names it.
//!
//! - Saved work: [`auth`] checks bearer tokens against the store ([`crate::db`]) and
//!   serves the audit; [`saved`] saves scenarios and perimeters; [`perimeter`] turns
//!   `perimeter:<id>` into a territory before a request is parsed; [`layers`] takes
//!   planners' own structure lists and uses them in nearest and coverage.
//! - [`state`] assembles what one build serves ([`collections`], the baselines, the
//!   name index); [`query`] turns query strings into the validated requests of
//!   `analysis::request` and lists each endpoint's parameters for [`openapi`];
//!   [`response`] is the one shape of analysis answers; [`error`] maps every failure
//!   to problem+json.
//! - [`server`] is the accept loop (connection limits, timeouts, graceful shutdown);
//!   [`limits`] holds the settings, the per-request deadline and the bounded pool of heavy
//!   work; [`origins`] the base of links and CORS; [`static_files`] the page's allow-list.
//!
//! The state is loaded once per data build and shared read-only; a reload (SIGHUP or
//! `POST /admin/reload`) builds a new state aside and swaps it in whole, so requests in
//! flight finish on the data they started with. [`builds`] keeps the previous build
//! answerable for a grace period, so that behind a load balancer a page never mixes two
//! builds while the replicas reload in turn; `/health/live` and `/health/ready` tell the
//! balancer (or systemd, or an orchestrator) whether this replica is up and can serve
//! everything.

pub mod analysis;
pub mod auth;
pub mod builds;
pub mod collections;
pub mod download;
pub mod error;
pub mod export;
pub mod features;
pub mod items;
pub mod layer_analysis;
pub mod layers;
pub mod limits;
pub mod map;
pub mod mvt;
pub mod ogc;
pub mod openapi;
pub mod origins;
pub mod params;
pub mod perimeter;
pub mod query;
pub mod report;
pub mod response;
pub mod saved;
pub mod search;
pub mod server;
pub mod state;
pub mod static_files;
pub mod tiles;
pub mod user_perimeters;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::db::{Db, DbError, Target};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use state::{AppState, StateError};

use params::{Param, QueryPairs};

/// Largest request body accepted (scenarios are the only bodies).
pub const MAX_BODY_BYTES: usize = query::MAX_SCENARIO_BYTES;

/// Parameters of the landing page `/`.
pub const LANDING_PARAMS: &[Param] = &[
    Param {
        name: "f",
        description: "json (the OGC landing page) or html (the web map)",
        required: false,
        schema: |_| serde_json::json!({"type": "string", "enum": ["json", "html"]}),
    },
    Param {
        name: "fond",
        description: "The web map's raster basemap, an XYZ URL template with {z}, {x} and {y} (read by the page)",
        required: false,
        schema: |_| serde_json::json!({"type": "string"}),
    },
];

/// The service: the current state (swapped on reload) and its settings.
pub struct Service {
    current: ArcSwap<AppState>,
    pub data_dir: PathBuf,
    pub web_dir: PathBuf,
    /// Base of the links the service writes (`CAREACCESS_PUBLIC_URL`); else
    /// `X-Forwarded-Host`/`-Proto` when [`Service::trusted_proxy`], else [`Service::local_url`]
    /// — never the request's `Host`.
    pub public_url: Option<String>,
    /// `CAREACCESS_TRUSTED_PROXY`: the service sits behind a proxy whose `X-Forwarded-Host`
    /// and `X-Forwarded-Proto` name its public address.
    pub trusted_proxy: bool,
    /// The address listened on (`http://127.0.0.1:8080`), the base of links otherwise;
    /// `http://localhost` when not listening (tests).
    pub local_url: String,
    /// `CAREACCESS_CORS_ORIGINS`: origins whose pages may POST (GETs are open to any).
    pub cors_origins: Vec<HeaderValue>,
    /// Connection and request limits.
    pub limits: limits::Limits,
    /// Places of the heavy pool ([`limits::heavy`]).
    pub heavy: Arc<tokio::sync::Semaphore>,
    pub stats: Arc<limits::Stats>,
    /// Token that `POST /admin/reload` requires (`CAREACCESS_ADMIN_TOKEN`); no token, no
    /// reload over HTTP.
    pub admin_token: Option<String>,
    /// The store of saved work ([`crate::db`]); without one, saved-work routes answer 503.
    pub db: Option<Db>,
    /// `CAREACCESS_BUILD_GRACE`: how long the previous build stays answerable after a
    /// reload, for pages that started on it ([`builds`]).
    pub build_grace: Duration,
    /// The builds served before the current one.
    pub history: builds::History,
    reloading: tokio::sync::Mutex<()>,
    /// The last store check of `/health/ready` and when it was made (one check at a time,
    /// reused for [`READY_CACHE`]).
    ready: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

/// How long a store check of `/health/ready` is reused: a balancer polling every replica
/// several times a second costs the store one query a second per replica.
pub const READY_CACHE: Duration = Duration::from_secs(1);
/// Longest wait for the store's answer in `/health/ready`.
pub const READY_PING_TIMEOUT: Duration = Duration::from_millis(800);
/// `Retry-After` of the 503 of saved work while the store is unreachable (seconds).
pub const STORE_RETRY_SECS: u32 = 5;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("data_dir", &self.data_dir)
            .field("build", &self.state().build_id())
            .finish()
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("server error: {0}")]
    Server(#[from] std::io::Error),
    #[error("setting: {0}")]
    Setting(String),
}

impl Service {
    pub fn new(state: AppState, data_dir: &Path, web_dir: &Path) -> Self {
        Service {
            current: ArcSwap::from_pointee(state),
            data_dir: data_dir.to_owned(),
            web_dir: web_dir.to_owned(),
            public_url: None,
            trusted_proxy: false,
            local_url: "http://localhost".to_owned(),
            cors_origins: Vec::new(),
            heavy: Arc::new(tokio::sync::Semaphore::new(
                limits::Limits::default().heavy_concurrency,
            )),
            limits: limits::Limits::default(),
            stats: Arc::default(),
            admin_token: None,
            db: None,
            build_grace: builds::DEFAULT_GRACE,
            history: builds::History::default(),
            reloading: tokio::sync::Mutex::new(()),
            ready: tokio::sync::Mutex::new(None),
        }
    }

    /// Sets the limits (and sizes the heavy pool to them).
    pub fn with_limits(mut self, limits: limits::Limits) -> Self {
        self.heavy = Arc::new(tokio::sync::Semaphore::new(limits.heavy_concurrency));
        self.limits = limits;
        self
    }

    /// The state for one request: the build the request names when it names one
    /// ([`builds`]), else the current one; kept alive by the request even if a reload
    /// happens.
    pub fn state(&self) -> Arc<AppState> {
        builds::pinned().unwrap_or_else(|| self.current.load_full())
    }

    /// The build in force, whatever the request names.
    pub fn current_state(&self) -> Arc<AppState> {
        self.current.load_full()
    }

    /// Loads the current build again and swaps it in; on failure the old data stays
    /// and the error is returned (and logged).
    pub async fn reload(self: &Arc<Self>) -> Result<String, String> {
        let _one_at_a_time = self.reloading.lock().await;
        let dir = self.data_dir.clone();
        let loaded = tokio::task::spawn_blocking(move || AppState::load(&dir))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match loaded {
            Ok(new) => {
                let id = new.build_id().to_owned();
                let secs = new.load_seconds;
                let old = self.current.swap(Arc::new(new));
                tracing::info!(
                    "reloaded: build {} → {id} ({secs:.2} s); the previous build stays \
                     answerable {} s (CAREACCESS_BUILD_GRACE)",
                    old.build_id(),
                    self.build_grace.as_secs()
                );
                if old.build_id() != id {
                    self.history.retire(old, self.build_grace);
                    if let Some(held) = self.history.previous() {
                        // Frees the previous build's memory once its grace is over. The
                        // timer holds it weakly: a build replaced by the next reload
                        // before its grace ends is freed then, not kept by its timer.
                        let held = Arc::downgrade(&held);
                        let me = Arc::downgrade(self);
                        let grace = self.build_grace;
                        tokio::spawn(async move {
                            tokio::time::sleep(grace).await;
                            if let (Some(me), Some(held)) = (me.upgrade(), held.upgrade()) {
                                me.history.expire(&held);
                            }
                        });
                    }
                }
                Ok(id)
            }
            Err(e) => {
                tracing::error!(
                    "reload failed, still serving build {}: {e}",
                    self.state().build_id()
                );
                Err(e)
            }
        }
    }
}

/// The router, without a socket (tests call it with `oneshot`).
pub fn app(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/index.html", get(landing))
        .route("/conformance", get(ogc::conformance))
        .route("/api", get(openapi::document))
        // The build's collections and the store's `perimeters` (user_perimeters).
        .route("/collections", get(user_perimeters::collections))
        .route("/collections/{id}", get(ogc::collection))
        .route("/collections/{id}/queryables", get(ogc::queryables))
        .route("/collections/{id}/schema", get(ogc::schema))
        .route("/collections/{id}/schema/geojson", get(ogc::feature_schema))
        .route("/collections/{id}/items", get(ogc::items))
        .route("/collections/{id}/items/{feature}", get(ogc::item))
        .route("/nearest", get(analysis::nearest))
        .route(
            "/territories/{type}/{code}",
            get(analysis::territory_summary),
        )
        .route(
            "/territories/{type}/{code}/coverage",
            get(analysis::coverage),
        )
        .route("/territories/{type}/{code}/zonage", get(analysis::zonage))
        .route("/territories/{type}/{code}/report", get(report::report))
        .route("/communes/{code}/explain", get(analysis::explain))
        .route("/scenarios", post(analysis::scenarios))
        .route("/siting", get(analysis::siting))
        .route("/search", get(analysis::search))
        .route("/map/{layer}", get(map::layer))
        .route("/health", get(health))
        .route("/health/live", get(health_live))
        .route("/health/ready", get(health_ready))
        .route("/dataset", get(dataset))
        .route("/download/{file}", get(download::file))
        .route("/collections/{id}/tiles", get(tiles::tilesets))
        .route(
            "/collections/{id}/tiles/{tms}/{z}/{y}/{x}",
            get(tiles::tile),
        )
        .route("/tiles/{file}", get(tiles::tilejson))
        .route("/admin/reload", post(admin_reload))
        .route(
            "/saved-scenarios",
            get(saved::scenarios).post(saved::create_scenario),
        )
        .route(
            "/saved-scenarios/{id}",
            get(saved::scenario)
                .patch(saved::update_scenario)
                .delete(saved::delete_scenario),
        )
        .route(
            "/perimeters",
            get(saved::perimeters).post(saved::create_perimeter),
        )
        .route(
            "/perimeters/{id}",
            get(saved::get_perimeter)
                .patch(saved::update_perimeter)
                .delete(saved::delete_perimeter),
        )
        .route("/audit", get(auth::audit))
        .route(
            "/layers",
            get(layers::list)
                .post(layers::create)
                .layer(DefaultBodyLimit::max(layers::MAX_LAYER_BODY_BYTES)),
        )
        .route(
            "/layers/preview",
            post(layers::preview).layer(DefaultBodyLimit::max(layers::MAX_LAYER_BODY_BYTES)),
        )
        .route(
            "/layers/{id}",
            get(layers::get)
                .patch(layers::update)
                .delete(layers::delete),
        )
        .route("/layers/{id}/items", get(layers::items))
        // The OGC collection of user perimeters, read from the store (before the build's
        // `/collections/{id}…`: a static segment wins).
        .route("/collections/perimeters", get(user_perimeters::collection))
        .route(
            "/collections/perimeters/queryables",
            get(user_perimeters::queryables),
        )
        .route(
            "/collections/perimeters/schema",
            get(user_perimeters::schema),
        )
        .route(
            "/collections/perimeters/schema/geojson",
            get(user_perimeters::feature_schema),
        )
        .route("/collections/perimeters/items", get(user_perimeters::items))
        .route(
            "/collections/perimeters/items/{id}",
            get(user_perimeters::item),
        )
        // The build's ETag is for data answers only: the page's own files change with the
        // code, not the data (a browser must not keep an old script because the data is
        // the same).
        .route_layer(middleware::from_fn_with_state(service.clone(), etag))
        .route_layer(middleware::from_fn_with_state(
            service.clone(),
            origins::vary_forwarded,
        ))
        .fallback(static_files::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(service.clone(), builds::pin))
        .layer(middleware::from_fn_with_state(
            service.clone(),
            limits::deadline,
        ))
        .layer(middleware::from_fn(long_segments))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Byte ranges are of the file as stored: a part, or a download that clients
        // read by parts, is never compressed in transit.
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_, _, h: &HeaderMap, _: &Extensions| {
                    !h.contains_key(header::CONTENT_RANGE) && !download::is_download(h)
                },
            )),
        )
        .layer(origins::cors(&service.cors_origins))
        .layer(TraceLayer::new_for_http())
        .with_state(service)
}

/// A path segment longer than any file name (255 bytes) names nothing here: 404 at
/// once, rather than a file system error (ENAMETOOLONG) answered as a 500.
async fn long_segments(req: Request, next: Next) -> Response {
    if req.uri().path().split('/').any(|s| s.len() > 255) {
        return ApiError::not_found("no such resource: a path segment is over 255 bytes")
            .into_response();
    }
    next.run(req).await
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// Weak ETag from the build id: `If-None-Match` on any GET answers 304 without work.
async fn etag(State(service): State<Arc<Service>>, req: Request, next: Next) -> Response {
    let tag = service.state().etag.clone();
    let path = req.uri().path();
    // Downloads carry their own strong validators (byte ranges need them); saved work
    // changes without the build changing.
    let cacheable = req.method() == Method::GET
        && !path.starts_with("/health")
        && !path.starts_with("/saved-scenarios")
        && !path.starts_with("/perimeters")
        && !path.starts_with("/territories/perimeter/")
        && !path.starts_with("/audit")
        && !path.starts_with("/layers")
        // An analysis with a planner's list changes when the list does.
        && !req.uri().query().is_some_and(|q| q.contains("list="))
        // The catalogue lists the store's perimeters, which change without a new build.
        && path != "/collections"
        && !path.starts_with("/collections/perimeters")
        && !path.starts_with("/download/")
        && path != "/"
        && path != "/index.html";
    if cacheable
        && req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&tag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        return r;
    }
    let mut r = next.run(req).await;
    if cacheable && r.status().is_success() {
        if let Ok(v) = HeaderValue::from_str(&tag) {
            r.headers_mut().insert(header::ETAG, v);
        }
    }
    r
}

/// `/`: the web map for browsers, the OGC landing page (JSON) for API clients
/// (`f=json`, or an `Accept` header without `text/html`).
async fn landing(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = QueryPairs::parse(raw.as_deref());
    if let Err(e) = q.only(LANDING_PARAMS) {
        return e.into_response();
    }
    let html = match q.get("f") {
        Ok(Some("json")) => false,
        Ok(Some("html")) => true,
        Ok(Some(other)) => {
            return params::bad("f", format!("must be json or html, not {other:?}"))
                .into_response();
        }
        Err(e) => return e.into_response(),
        Ok(None) => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html")),
    };
    if html {
        let page = service.web_dir.join("index.html");
        return match tokio::fs::read(&page).await {
            Ok(body) => axum::response::Html(body).into_response(),
            Err(e) => ApiError::internal(format!("{}: {e}", page.display())).into_response(),
        };
    }
    let st = service.state();
    ogc::json_response(
        &ogc::landing(&ogc::base_url(&service, &headers), &st),
        "application/json",
    )
}

async fn health(State(service): State<Arc<Service>>) -> Response {
    let st = service.state();
    ogc::json_response(
        &serde_json::json!({
            "status": "ok",
            "build": st.build_id(),
            "communes": st.engine.data.communes.len(),
            "structures": st.engine.data.facilities.len(),
            "load_seconds": st.load_seconds,
            "work": service.stats.json(),
        }),
        "application/json",
    )
}

/// `/health/live`: the process answers (a supervisor restarts it when it does not).
async fn health_live(State(service): State<Arc<Service>>) -> Response {
    ogc::json_response(
        &serde_json::json!({ "status": "live", "build": service.current_state().build_id() }),
        "application/json",
    )
}

/// `/health/ready`: the data is loaded (always, once the process answers: it listens
/// only after loading) and the store answers within [`READY_PING_TIMEOUT`]; else a 503
/// naming the cause. The store check is shared by concurrent polls and reused for
/// [`READY_CACHE`].
async fn health_ready(State(service): State<Arc<Service>>) -> Response {
    let st = service.current_state();
    let store = match &service.db {
        None => Ok(()),
        Some(db) => {
            let mut last = service.ready.lock().await;
            match &*last {
                Some((at, r)) if at.elapsed() < READY_CACHE => r.clone(),
                _ => {
                    let r = match tokio::time::timeout(READY_PING_TIMEOUT, db.ping()).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(format!("the store {} fails: {e}", db.target())),
                        Err(_) => Err(format!(
                            "the store {} did not answer within {} ms",
                            db.target(),
                            READY_PING_TIMEOUT.as_millis()
                        )),
                    };
                    *last = Some((Instant::now(), r.clone()));
                    r
                }
            }
        }
    };
    match store {
        Ok(()) => ogc::json_response(
            &serde_json::json!({
                "status": "ready",
                "build": st.build_id(),
                "store": service.db.as_ref().map(|db| db.target().to_string()),
            }),
            "application/json",
        ),
        Err(why) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: {why}; the public data (build {}) is still served, saved work is not",
                st.build_id()
            ),
        )
        .with_type(STORE_DOWN_TYPE)
        .retry_after(STORE_RETRY_SECS)
        .into_response(),
    }
}

/// Problem type of an answer that needs the store while it is unreachable.
pub const STORE_DOWN_TYPE: &str = "urn:careaccess:problem:store-unavailable";

async fn dataset(State(service): State<Arc<Service>>) -> Response {
    ogc::json_response(&service.state().meta, "application/json")
}

/// `POST /admin/reload` with `Authorization: Bearer <CAREACCESS_ADMIN_TOKEN>`.
async fn admin_reload(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(token) = &service.admin_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reload over HTTP is off: set CAREACCESS_ADMIN_TOKEN to enable it (or send SIGHUP)",
        ));
    };
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is `Bearer`.
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong `Authorization: Bearer <token>`",
        ));
    }
    match service.reload().await {
        Ok(build) => Ok(ogc::json_response(
            &serde_json::json!({ "status": "reloaded", "build": build }),
            "application/json",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("reload failed, the previous data is still served: {e}"),
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Loads the current build and serves until Ctrl-C / SIGTERM; SIGHUP reloads the data.
pub async fn serve(data_dir: &Path, web_dir: &Path, addr: SocketAddr) -> Result<(), ServeError> {
    let dir = data_dir.to_owned();
    let state = tokio::task::spawn_blocking(move || AppState::load(&dir))
        .await
        .map_err(|e| ServeError::Server(std::io::Error::other(e)))??;
    tracing::info!(
        "build {} loaded in {:.2} s: {} communes, {} structures",
        state.build_id(),
        state.load_seconds,
        state.engine.data.communes.len(),
        state.engine.data.facilities.len()
    );
    let limits = limits::Limits::from_env().map_err(ServeError::Setting)?;
    let target = Target::from_env(data_dir)?;
    let db = Db::open(&target).await?;
    tracing::info!("store of saved work: {target}");
    let mut service = Service::new(state, data_dir, web_dir).with_limits(limits.clone());
    service.db = Some(db);
    service.public_url = std::env::var("CAREACCESS_PUBLIC_URL")
        .ok()
        .filter(|s| !s.is_empty());
    service.trusted_proxy =
        origins::flag("CAREACCESS_TRUSTED_PROXY").map_err(ServeError::Setting)?;
    service.cors_origins = origins::cors_origins_from_env().map_err(ServeError::Setting)?;
    service.build_grace =
        builds::grace_from_vars(|n| std::env::var(n).ok()).map_err(ServeError::Setting)?;
    service.admin_token = std::env::var("CAREACCESS_ADMIN_TOKEN")
        .ok()
        .filter(|s| !s.is_empty());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    service.local_url = origins::local_url(local);
    let service = Arc::new(service);
    #[cfg(unix)]
    {
        let s = service.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut hup) = signal(SignalKind::hangup()) {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading {}", s.data_dir.display());
                    let _ = s.reload().await;
                }
            }
        });
    }
    tracing::info!("careaccess listening on http://{local}/ ({limits:?})");
    let stats = service.stats.clone();
    server::run(listener, app(service), limits, stats, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

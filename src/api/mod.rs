//! HTTP service (axum). For now: health, the dataset description and the web page; the
//! OGC API – Features routes and the analysis endpoints build on this state.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

/// Read-only state shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// `dataset.json` of the current build: sources, licences, vintages, layer counts.
    pub dataset: serde_json::Value,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no built data in {0}: run `careaccess data fetch` then `careaccess data build`")]
    NoData(PathBuf),
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Server(#[from] std::io::Error),
}

impl AppState {
    pub fn load(data_dir: &Path) -> Result<Self, ServeError> {
        let path = data_dir.join("current").join("dataset.json");
        let bytes = std::fs::read(&path).map_err(|_| ServeError::NoData(data_dir.to_owned()))?;
        let dataset = serde_json::from_slice(&bytes).map_err(|e| ServeError::Load {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(AppState { dataset })
    }
}

/// The router, without a socket (tests call it with `oneshot`).
pub fn app(state: Arc<AppState>, web_dir: &Path) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/dataset", get(dataset))
        .with_state(state)
        .fallback_service(ServeDir::new(web_dir))
        .layer(TraceLayer::new_for_http())
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn dataset(State(state): State<Arc<AppState>>) -> Response {
    (StatusCode::OK, Json(state.dataset.clone())).into_response()
}

/// Loads the current build and serves until Ctrl-C / SIGTERM.
pub async fn serve(data_dir: &Path, addr: SocketAddr) -> Result<(), ServeError> {
    let state = Arc::new(AppState::load(data_dir)?);
    let web_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!("careaccess listening on http://{addr}/");
    axum::serve(listener, app(state, &web_dir))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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

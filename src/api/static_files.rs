//! The web page's files, from an allow-list: the page's stylesheet and icon, its scripts
//! (`js/**/*.js`) and the vendored MapLibre GL files (`node_modules/maplibre-gl/dist/`).
//! Nothing else of `web/` is served (its tests, `package*.json`, the rest of
//! `node_modules/`), no hidden file, and no file whose real path (links resolved) leaves
//! its folder. Anything else is a 404, never a 500.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::Service;
use super::error::ApiError;

/// The vendored MapLibre GL files, relative to `web/`.
pub const MAPLIBRE: &str = "node_modules/maplibre-gl/dist/";

/// Whether a path (relative to `web/`, as in the URL) is one the page may load.
pub fn listed(rel: &str) -> bool {
    let safe = !rel.is_empty()
        && !rel.contains(['\\', '%', '\0', ':'])
        && rel
            .split('/')
            .all(|s| !s.is_empty() && !s.starts_with('.') && s.len() <= 255);
    safe && (matches!(rel, "favicon.svg" | "style.css")
        || (rel.starts_with("js/") && rel.ends_with(".js"))
        || (rel.starts_with(MAPLIBRE)
            && !rel[MAPLIBRE.len()..].contains('/')
            && [".js", ".css", ".js.map", ".css.map"]
                .iter()
                .any(|e| rel.ends_with(e))))
}

/// The file to serve for `rel`, if listed and really inside its root (`web/`, or the
/// MapLibre folder for its files).
pub async fn resolve(web_dir: &Path, rel: &str) -> Option<PathBuf> {
    if !listed(rel) {
        return None;
    }
    let root = if rel.starts_with(MAPLIBRE) {
        web_dir.join(MAPLIBRE)
    } else {
        web_dir.to_owned()
    };
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let file = tokio::fs::canonicalize(web_dir.join(rel)).await.ok()?;
    let is_file = tokio::fs::metadata(&file).await.ok()?.is_file();
    (is_file && file.starts_with(&root)).then_some(file)
}

/// The fallback of the router: a listed file, else 404.
pub async fn serve(State(service): State<Arc<Service>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(file) = resolve(&service.web_dir, path.trim_start_matches('/')).await else {
        return ApiError::not_found(format!("no such resource: {path}")).into_response();
    };
    match ServeFile::new(file).oneshot(req).await {
        Ok(r) if r.status().is_server_error() => {
            ApiError::not_found(format!("no such resource: {path}")).into_response()
        }
        Ok(r) => r.map(Body::new),
        Err(e) => match e {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_files_are_listed_and_nothing_else() {
        for ok in [
            "style.css",
            "favicon.svg",
            "js/app.js",
            "js/views/carte.js",
            "js/perimeters.js",
            "node_modules/maplibre-gl/dist/maplibre-gl.js",
            "node_modules/maplibre-gl/dist/maplibre-gl.css",
        ] {
            assert!(listed(ok), "{ok}");
        }
        for no in [
            "",
            "index.html.bak",
            "package-lock.json",
            "package.json",
            "tests/run.sh",
            "js/../package.json",
            "js/.hidden.js",
            "js//app.js",
            "js/app.js.bak",
            "node_modules/maplibre-gl/package.json",
            "node_modules/other/dist/x.js",
            "node_modules/maplibre-gl/dist/sub/x.js",
            "README.md",
            "...x",
            "js/%2e%2e/x.js",
        ] {
            assert!(!listed(no), "{no}");
        }
    }
}

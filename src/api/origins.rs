//! Who the service says it is and whom it answers across origins: the base of every link
//! (`CAREACCESS_PUBLIC_URL`; behind a trusted proxy `X-Forwarded-Host`/`-Proto`; else the
//! address listened on — never a client's `Host`), and CORS (GETs open to any origin,
//! POSTs only from `CAREACCESS_CORS_ORIGINS`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::Service;

/// The base of links: no trailing slash.
pub fn base_url(service: &Service, headers: &HeaderMap) -> String {
    if let Some(u) = &service.public_url {
        return u.trim_end_matches('/').to_owned();
    }
    if service.trusted_proxy {
        let forwarded = |name: &str| {
            headers
                .get(name)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.split(',').next())
                .map(str::trim)
        };
        let proto = match forwarded("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        if let Some(host) = forwarded("x-forwarded-host").filter(|h| host_like(h)) {
            return format!("{proto}://{host}");
        }
    }
    service.local_url.clone()
}

/// Behind a trusted proxy (and without a public URL), links depend on the forwarded
/// headers: answers say so, for caches.
pub async fn vary_forwarded(
    State(service): State<Arc<Service>>,
    req: Request,
    next: Next,
) -> Response {
    let mut r = next.run(req).await;
    if service.trusted_proxy && service.public_url.is_none() {
        r.headers_mut().append(
            header::VARY,
            HeaderValue::from_static("X-Forwarded-Host, X-Forwarded-Proto"),
        );
    }
    r
}

/// A host name or address with an optional port, nothing else.
fn host_like(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
}

/// `http://ADDR` of the address listened on (loopback for an unspecified address: set
/// `CAREACCESS_PUBLIC_URL` to serve others).
pub fn local_url(addr: SocketAddr) -> String {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{a}")
}

/// A yes/no setting: 1, true, yes, on / 0, false, no, off (unset: no).
pub fn flag(name: &str) -> Result<bool, String> {
    match std::env::var(name) {
        Err(_) => Ok(false),
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "no" | "off" => Ok(false),
            "1" | "true" | "yes" | "on" => Ok(true),
            _ => Err(format!("{name}={v:?}: expected true or false")),
        },
    }
}

/// `CAREACCESS_CORS_ORIGINS`: a comma-separated list of origins (`https://example.org`).
pub fn cors_origins_from_env() -> Result<Vec<HeaderValue>, String> {
    parse_origins(&std::env::var("CAREACCESS_CORS_ORIGINS").unwrap_or_default())
}

pub fn parse_origins(list: &str) -> Result<Vec<HeaderValue>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let o = o.trim_end_matches('/');
            if !(o.starts_with("http://") || o.starts_with("https://")) || o[8..].contains('/') {
                return Err(format!(
                    "CAREACCESS_CORS_ORIGINS: {o:?} is not an origin (scheme://host[:port])"
                ));
            }
            HeaderValue::from_str(o).map_err(|e| format!("CAREACCESS_CORS_ORIGINS: {o:?}: {e}"))
        })
        .collect()
}

/// The method a request is, or a preflight asks for.
fn method_asked(parts: &Parts) -> Option<Method> {
    if parts.method == Method::OPTIONS {
        parts
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
    } else {
        Some(parts.method.clone())
    }
}

/// GET and HEAD from any origin; any other method from `post_origins` only (a page of
/// another origin gets no `Access-Control-Allow-Origin`, so the browser keeps the answer
/// from it).
pub fn cors(post_origins: &[HeaderValue]) -> CorsLayer {
    let allowed = post_origins.to_vec();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(
            move |origin, parts| match method_asked(parts) {
                Some(m) if m == Method::GET || m == Method::HEAD => true,
                _ => allowed.iter().any(|o| o == origin),
            },
        ))
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        // The build a page is pinned to, and a write's retry key (`builds`, `saved`).
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-careaccess-build"),
        ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            parse_origins(" https://a.example, http://b.example:8080/ ").unwrap(),
            vec!["https://a.example", "http://b.example:8080"]
        );
        assert!(parse_origins("a.example").is_err());
        assert!(parse_origins("https://a.example/page").is_err());
        assert!(parse_origins("").unwrap().is_empty());
    }

    #[test]
    fn an_unspecified_address_links_to_loopback() {
        assert_eq!(
            local_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            local_url("10.1.2.3:80".parse().unwrap()),
            "http://10.1.2.3:80"
        );
    }
}

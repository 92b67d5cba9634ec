//! `/download/{id}.fgb`: a whole collection as one FlatGeobuf file, every computed
//! column included, served the way GIS clients read FlatGeobuf over HTTP — byte ranges
//! (`Range`, `If-Range`: GDAL's `/vsicurl/`, QGIS's HTTP(S) layers read the header and
//! the packed R-tree first, then only the features they need), a strong `ETag` and
//! `Last-Modified` of the build. Each file is written once per build, on its first
//! request (the others wait for it), off the async workers.

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::export;
use super::params::QueryPairs;
use super::state::AppState;

/// Media type of the files.
const FGB: &str = "application/flatgeobuf";

/// Is this the answer of a download (never compressed: clients read it by byte ranges)?
pub fn is_download(h: &HeaderMap) -> bool {
    h.contains_key(header::ACCEPT_RANGES) && h.get(header::CONTENT_TYPE).is_some_and(|t| t == FGB)
}

pub async fn file(
    State(service): State<Arc<Service>>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    // `?v=<build>` (the build served, or the previous one within its grace: `builds`)
    // makes the URL immutable, for nginx and CDNs; without it the URL follows the data.
    let immutable = QueryPairs::parse(raw.as_deref()).get("v")? == Some(st.build_id());
    let index = file
        .strip_suffix(".fgb")
        .and_then(|id| st.collections.iter().position(|c| c.id == id))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no download {file:?}: the files are {}",
                st.collections
                    .iter()
                    .map(|c| format!("{}.fgb", c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let bytes = bytes_of(&st, index).await?;
    let id = &st.collections[index].id;
    let validators = Validators {
        etag: format!("\"{}-{}-{id}\"", st.build_id(), env!("CARGO_PKG_VERSION")),
        last_modified: httpdate::fmt_http_date(st.built_at),
    };
    let mut r = answer(&headers, &validators, bytes, id);
    if immutable && r.status().is_success() {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    Ok(r)
}

/// The file of collection `index`, written on first use.
async fn bytes_of(st: &Arc<AppState>, index: usize) -> ApiResult<Bytes> {
    let cell = &st.downloads[index];
    let st2 = st.clone();
    cell.get_or_try_init(|| async move {
        tokio::task::spawn_blocking(move || {
            let c = &st2.collections[index];
            let rows: Vec<usize> = (0..c.items.len()).collect();
            let columns: Vec<usize> = (0..c.info.columns.len()).collect();
            export::flatgeobuf(c, &rows, &columns).map(Bytes::from)
        })
        .await
        .map_err(ApiError::internal)?
    })
    .await
    .cloned()
}

/// What identifies one version of a file.
struct Validators {
    etag: String,
    last_modified: String,
}

/// The answer to a GET (or HEAD) of a file: 304 when the client has it, 206 for one
/// satisfiable range, 416 for an unsatisfiable one, else 200 with the whole file.
/// Several ranges get the whole file (allowed by RFC 9110 §14.2).
fn answer(headers: &HeaderMap, v: &Validators, bytes: Bytes, id: &str) -> Response {
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|h: &HeaderValue| h.to_str().ok())
    };
    let not_modified = match header_str(header::IF_NONE_MATCH) {
        Some(tags) => tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == v.etag),
        None => header_str(header::IF_MODIFIED_SINCE) == Some(v.last_modified.as_str()),
    };
    let len = bytes.len() as u64;
    let (status, body, range) = if not_modified {
        (StatusCode::NOT_MODIFIED, Bytes::new(), None)
    } else {
        // `If-Range`: the range applies only to the version the client has.
        let same_version =
            header_str(header::IF_RANGE).is_none_or(|t| t == v.etag || t == v.last_modified);
        match header_str(header::RANGE).filter(|_| same_version) {
            None => (StatusCode::OK, bytes, None),
            Some(r) => match one_range(r, len) {
                Ranged::Whole => (StatusCode::OK, bytes, None),
                Ranged::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, Bytes::new(), None),
                Ranged::Part(r) => (
                    StatusCode::PARTIAL_CONTENT,
                    bytes.slice(*r.start() as usize..=*r.end() as usize),
                    Some(r),
                ),
            },
        }
    };
    let mut response = (status, Body::from(body)).into_response();
    let h = response.headers_mut();
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            h.insert(name, value);
        }
    };
    set(header::ETAG, &v.etag);
    set(header::LAST_MODIFIED, &v.last_modified);
    set(header::ACCEPT_RANGES, "bytes");
    // The URL stays the same across builds: keep, but ask again (ETag) before reuse.
    set(header::CACHE_CONTROL, "public, no-cache");
    if status != StatusCode::NOT_MODIFIED {
        set(header::CONTENT_TYPE, FGB);
        set(
            header::CONTENT_DISPOSITION,
            &format!("attachment; filename=\"{id}.fgb\""),
        );
    }
    match (status, range) {
        (StatusCode::PARTIAL_CONTENT, Some(r)) => set(
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{len}", r.start(), r.end()),
        ),
        (StatusCode::RANGE_NOT_SATISFIABLE, _) => {
            set(header::CONTENT_RANGE, &format!("bytes */{len}"))
        }
        _ => {}
    }
    response
}

/// How a `Range` header applies to a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// Absent, malformed (ignored, as RFC 9110 says) or several ranges.
    Whole,
    Part(RangeInclusive<u64>),
    Unsatisfiable,
}

fn one_range(header: &str, len: u64) -> Ranged {
    let Ok(parsed) = http_range_header::parse_range_header(header) else {
        return Ranged::Whole;
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => Ranged::Part(ranges[0].clone()),
        Ok(_) => Ranged::Whole,
        Err(_) => Ranged::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_gdal_and_browsers_send_them() {
        assert_eq!(one_range("bytes=0-99", 1000), Ranged::Part(0..=99));
        assert_eq!(one_range("bytes=900-", 1000), Ranged::Part(900..=999));
        assert_eq!(one_range("bytes=-10", 1000), Ranged::Part(990..=999));
        // Past the end: clamped to the end.
        assert_eq!(one_range("bytes=990-2000", 1000), Ranged::Part(990..=999));
        assert_eq!(one_range("bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(one_range("bytes=0-1,5-9", 1000), Ranged::Whole);
        assert_eq!(one_range("lines=1-2", 1000), Ranged::Whole);
        assert_eq!(one_range("bytes=9-1", 1000), Ranged::Whole);
    }

    fn v() -> Validators {
        Validators {
            etag: "\"b-1-msp\"".to_owned(),
            last_modified: "Wed, 02 Dec 2026 00:17:57 GMT".to_owned(),
        }
    }

    fn ask(pairs: &[(header::HeaderName, &str)]) -> Response {
        let mut h = HeaderMap::new();
        for (k, val) in pairs {
            h.insert(k, HeaderValue::from_str(val).unwrap());
        }
        answer(&h, &v(), Bytes::from_static(b"0123456789"), "msp")
    }

    #[test]
    fn conditional_and_ranged_answers() {
        let r = ask(&[]);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
        let r = ask(&[(header::RANGE, "bytes=2-4")]);
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        let r = ask(&[(header::RANGE, "bytes=20-")]);
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */10");
        // A range of another version: the whole file.
        let r = ask(&[(header::RANGE, "bytes=2-4"), (header::IF_RANGE, "\"old\"")]);
        assert_eq!(r.status(), StatusCode::OK);
        let r = ask(&[
            (header::RANGE, "bytes=2-4"),
            (header::IF_RANGE, "\"b-1-msp\""),
        ]);
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "\"b-1-msp\"")]).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            ask(&[(header::IF_MODIFIED_SINCE, "Wed, 02 Dec 2026 00:17:57 GMT")]).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "\"other\"")]).status(),
            StatusCode::OK
        );
    }
}

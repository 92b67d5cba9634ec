//! Who is writing: the bearer token of a request, checked against the store
//! ([`crate::db`]), and the audit of writes that admins read (`GET /audit`).
//!
//! Reading needs nothing; every write needs `Authorization: Bearer <token>` (the scheme
//! in any case) of a token made by `careaccess tokens create`, and is counted against the
//! token's writes per minute ([`writer`]).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::db::{Caller, Db, DbError, Role};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::ogc::json_response;
use super::params::{self, Param, QueryPairs};

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound(..) => ApiError::not_found(e.to_string()),
            DbError::Forbidden(..) => ApiError::new(StatusCode::FORBIDDEN, e.to_string()),
            DbError::Quota(..) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            // The store is down: saved work waits, the public data is still served.
            e if e.is_unavailable() => {
                tracing::warn!("store unreachable: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the store of saved work is unreachable ({e}): try again in a moment; \
                         a write was not acknowledged, so look for it before sending it \
                         again (the public data is still served)"
                    ),
                )
                .with_type(super::STORE_DOWN_TYPE)
                .retry_after(super::STORE_RETRY_SECS)
            }
            other => ApiError::internal(other),
        }
    }
}

/// The store, or 503 when the service runs without one.
pub fn db(service: &Service) -> ApiResult<&Db> {
    service.db.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this service has no store: saved work is off",
        )
    })
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 9110
/// §11.1), if the header has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
}

/// The caller of a write: 401 without a token or with one the store does not know.
pub async fn caller(service: &Service, headers: &HeaderMap) -> ApiResult<Caller> {
    let db = db(service)?;
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this request writes: it needs `Authorization: Bearer <token>` (a token from `careaccess tokens create`)",
        ));
    };
    db.caller(token).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked token in `Authorization: Bearer <token>`",
        )
    })
}

/// The caller of a write, counted against the per-token write limit
/// ([`super::limits::Limits::writes_per_minute`], kept in the store so that every replica
/// counts the same writes): 401 as [`caller`], 429 with `Retry-After` (the seconds to the
/// next minute) over the limit. Every write handler calls it before writing.
pub async fn writer(service: &Service, headers: &HeaderMap) -> ApiResult<Caller> {
    let caller = caller(service, headers).await?;
    let limit = service.limits.writes_per_minute;
    if limit == 0 {
        return Ok(caller);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(ApiError::internal)?
        .as_secs();
    let count = db(service)?.count_write(&caller.token_id, now).await?;
    if count.writes > i64::from(limit) {
        let wait = u32::try_from(count.resets_in_secs).unwrap_or(u32::MAX);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many writes with this token: at most {limit} a minute (CAREACCESS_WRITES_PER_MINUTE, \
                 for all the servers together); retry in {wait} s"
            ),
        )
        .retry_after(wait));
    }
    Ok(caller)
}

/// Most audit entries in one answer.
pub const MAX_AUDIT: usize = 1000;

pub const AUDIT_PARAMS: &[Param] = &[Param {
    name: "limit",
    description: "The latest this many writes (default 100)",
    required: false,
    schema: |_| json!({ "type": "integer", "minimum": 1, "maximum": MAX_AUDIT, "default": 100 }),
}];

/// `GET /audit?limit=`: the latest writes, newest first (admins only).
pub async fn audit(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    q.only(AUDIT_PARAMS)?;
    let limit = q
        .parsed("limit", |_, v| params::count("limit", v, 1, MAX_AUDIT))?
        .unwrap_or(100);
    let caller = caller(&service, &headers).await?;
    if caller.role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the audit is read by admins only",
        ));
    }
    let entries = db(&service)?.audit(limit as i64).await?;
    Ok(json_response(
        &json!({ "entries": entries }),
        "application/json",
    ))
}

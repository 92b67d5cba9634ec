//! Errors as `application/problem+json` (RFC 9457): a status, a title and a detail that
//! names what was wrong. Internal errors are logged and their details hidden.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// The problem's `type` (a URI; `about:blank` when the status says it all), for
    /// clients that act on the kind of problem (the page reloads on a build gone).
    pub kind: &'static str,
    /// `Retry-After` (seconds) of a 503 or a 429: when asking again is worth it.
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            kind: "about:blank",
            retry_after: None,
        }
    }

    /// The same problem with its own `type` URI.
    #[must_use]
    pub fn with_type(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// The same problem with `Retry-After: secs`.
    #[must_use]
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400: a request parameter or body is wrong; `detail` names it.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: no such collection, feature, commune or territory.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 500: logged with its cause; the client only learns that it happened.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (logged on the server)",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Problem {
            kind: self.kind,
            title: self.status.canonical_reason().unwrap_or("error"),
            status: self.status.as_u16(),
            detail: &self.detail,
        })
        .unwrap_or_default();
        let mut r = (self.status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl From<crate::analysis::request::RequestError> for ApiError {
    fn from(e: crate::analysis::request::RequestError) -> Self {
        use crate::analysis::request::RequestError;
        match e {
            RequestError::TooCostly(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            e => ApiError::bad_request(e.to_string()),
        }
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

//! One shape for the analysis answers: the body, the build it was computed on, and the
//! notes that qualify it (what was left out and why).

use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ogc::json_response;
use super::state::AppState;

/// An analysis answer: `{ …body, "build": "<id>", "notes": [...] }`.
#[derive(Debug, Serialize)]
pub struct Answer<T: Serialize> {
    #[serde(flatten)]
    pub body: T,
    pub build: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl<T: Serialize> Answer<T> {
    pub fn new(st: &AppState, body: T) -> Self {
        Answer {
            body,
            build: st.build_id().to_owned(),
            notes: Vec::new(),
        }
    }

    pub fn with_notes(mut self, notes: impl IntoIterator<Item = String>) -> Self {
        self.notes.extend(notes);
        self
    }
}

impl<T: Serialize> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        json_response(&self, "application/json")
    }
}

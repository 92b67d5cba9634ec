//! `GET /territories/{type}/{code}/report`: the « Portrait de territoire » of
//! [`crate::report`], a self-contained printable HTML document.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::report::{Inputs, Outline, render};

use super::Service;
use super::error::ApiResult;
use super::limits::heavy;
use super::params::{Param, QueryPairs, bad};
use super::perimeter;
use super::query::territory_in_path;
use super::state::AppState;

/// Parameters of the report.
pub const PARAMS: &[Param] = &[Param {
    name: "f",
    description: "html (the only format, the default)",
    required: false,
    schema: |_| serde_json::json!({"type": "string", "enum": ["html"], "default": "html"}),
}];

pub async fn report(
    State(service): State<Arc<Service>>,
    Path((kind_path, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    q.only(PARAMS)?;
    match q.get("f")? {
        None | Some("html") => {}
        Some(other) => return Err(bad("f", format!("must be html, not {other:?}"))),
    }
    let st = service.state();
    let perimeter = perimeter::perimeter_in_path(&service, &st, &kind_path, &code).await?;
    let territory = territory_in_path(&st, &kind_path, &code, perimeter.as_ref())?;
    let html = heavy(&service, move |_| {
        let departements = departements(&st);
        Ok(render(
            Inputs {
                engine: &st.engine,
                baselines: &st.baselines,
                meta: &st.meta,
                departements: &departements,
            },
            &territory,
        ))
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response())
}

/// The départements' outlines of the `departements` collection (the map layer's source),
/// borrowed: the report simplifies them to its page.
fn departements(st: &AppState) -> Vec<Outline<'_>> {
    st.collection("departements")
        .map(|c| {
            c.items
                .iter()
                .filter_map(|it| {
                    Some(Outline {
                        code: &it.id,
                        geometry: it.geometry.as_ref()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

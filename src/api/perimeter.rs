//! Saved perimeters as territories: the api layer resolves `perimeter:<id>` to the
//! communes it lists (read from the store, [`crate::db`]) before a request is parsed, so
//! the analyses see one more list of communes and nothing else.

use crate::model::{InseeCode, Territory, TerritoryType};

use super::Service;
use super::error::ApiResult;
use super::state::AppState;

/// The saved perimeter a territory spec names (`perimeter:<id>`), as a territory of the
/// build served; `None` for any other spec, or an id the store does not know (the
/// territory resolver then says it is unknown). Communes no longer in the build are left
/// out.
pub async fn perimeter(
    service: &Service,
    st: &AppState,
    spec: Option<&str>,
) -> ApiResult<Option<Territory>> {
    let Some(id) = spec.and_then(|s| s.strip_prefix("perimeter:")) else {
        return Ok(None);
    };
    let Some(db) = service.db.as_ref() else {
        return Ok(None);
    };
    let Some(p) = db.perimeter(id).await? else {
        return Ok(None);
    };
    let data = &st.engine.data;
    let mut communes: Vec<InseeCode> = p
        .communes
        .iter()
        .filter_map(|c| InseeCode::parse(c).ok())
        .filter(|c| data.commune_index(c).is_some())
        .collect();
    communes.sort();
    communes.dedup();
    Ok(Some(Territory {
        kind: TerritoryType::Perimeter,
        code: p.id,
        name: p.name,
        communes,
    }))
}

/// [`perimeter`] for a path `/territories/{type}/{code}`.
pub async fn perimeter_in_path(
    service: &Service,
    st: &AppState,
    kind: &str,
    code: &str,
) -> ApiResult<Option<Territory>> {
    if kind != TerritoryType::Perimeter.prefix() {
        return Ok(None);
    }
    perimeter(service, st, Some(&format!("perimeter:{code}"))).await
}

//! Saved work: scenarios kept with the result shown the day they were saved, and custom
//! perimeters usable as the territory `perimeter:<id>` wherever a territory is accepted.
//!
//! Anyone with an id reads the object (ids are random: a share link is a capability);
//! writes need a token ([`super::auth`]); a planner changes only what they created, an
//! admin everything. Lists are per token: the caller's objects, or all for an admin.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geo::Contains;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::db::{Caller, NewPerimeter, NewScenario};
use crate::model::InseeCode;

use super::Service;
use super::analysis::run_scenario;
use super::auth::{bearer, caller, db, writer};
use super::error::{ApiError, ApiResult};
use super::ogc::{base_url, json_response};
use super::query::{MAX_SCENARIO_BYTES, ScenarioBody};
use super::state::AppState;

/// Longest name of a saved object, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Most communes of a perimeter given as a list.
pub const MAX_PERIMETER_COMMUNES: usize = 5000;

fn unprocessable(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("`{field}` {message}"),
    )
}

fn body_bytes(body: Result<Bytes, BytesRejection>, what: &str) -> ApiResult<Bytes> {
    body.map_err(|e| ApiError::new(e.status(), format!("{what} body: {}", e.body_text())))
}

/// A JSON object body, or 400 naming what is wrong.
fn object(body: &[u8], what: &str) -> ApiResult<Map<String, Value>> {
    if body.len() > MAX_SCENARIO_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{what} body of {} bytes exceeds {MAX_SCENARIO_BYTES}",
                body.len()
            ),
        ));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(format!(
            "{what} body: must be a JSON object"
        ))),
        Err(e) => Err(ApiError::bad_request(format!("{what} body: {e}"))),
    }
}

/// Takes a text field out of a body: required or not, at most `max` characters.
fn text(
    m: &mut Map<String, Value>,
    field: &str,
    required: bool,
    max: usize,
) -> ApiResult<Option<String>> {
    match m.remove(field) {
        None | Some(Value::Null) if required => Err(unprocessable(field, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim().to_owned();
            if required && s.is_empty() {
                Err(unprocessable(field, "is empty"))
            } else if s.chars().count() > max {
                Err(unprocessable(
                    field,
                    format!("is longer than {max} characters"),
                ))
            } else {
                Ok(Some(s))
            }
        }
        Some(other) => Err(unprocessable(
            field,
            format!("must be a string, not {other}"),
        )),
    }
}

/// The `{name, description}` of a PATCH: at least one, nothing else.
fn patch_fields(body: &[u8], what: &str) -> ApiResult<(Option<String>, Option<String>)> {
    patch_fields_of(object(body, what)?, what)
}

/// An optional boolean field.
fn flag(m: &mut Map<String, Value>, field: &str) -> ApiResult<Option<bool>> {
    match m.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(other) => Err(unprocessable(
            field,
            format!("must be true or false, not {other}"),
        )),
    }
}

fn patch_fields_of(
    mut m: Map<String, Value>,
    what: &str,
) -> ApiResult<(Option<String>, Option<String>)> {
    let name = text(&mut m, "name", false, MAX_NAME_CHARS)?;
    if name.as_deref() == Some("") {
        return Err(unprocessable("name", "is empty"));
    }
    let description = text(&mut m, "description", false, MAX_DESCRIPTION_CHARS)?;
    if let Some(k) = m.keys().next() {
        return Err(unprocessable(
            k,
            "cannot be changed (only name and description, and `public` for a perimeter)",
        ));
    }
    if name.is_none() && description.is_none() {
        return Err(ApiError::bad_request(format!(
            "{what} body: give `name` and/or `description`"
        )));
    }
    Ok((name, description))
}

fn created(location: &str, body: &Value) -> Response {
    let mut r = json_response(body, "application/json");
    *r.status_mut() = StatusCode::CREATED;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

// ------------------------------------------------------------------- saved scenarios

/// Longest `Idempotency-Key` taken (a UUID is 36 characters).
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// The request's `Idempotency-Key` (visible ASCII, at most [`MAX_IDEMPOTENCY_KEY`]).
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(k.to_owned()))
        }
        _ => Err(ApiError::bad_request(format!(
            "Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters (a UUID, say)"
        ))),
    }
}

/// `POST /saved-scenarios`: `name`, optional `description`, and the body of `POST
/// /scenarios`. The scenario is computed on the build served and kept with its result.
pub async fn create_scenario(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    let body = body_bytes(body, "saved scenario")?;
    let mut m = object(&body, "saved scenario")?;
    let name = text(&mut m, "name", true, MAX_NAME_CHARS)?.unwrap_or_default();
    let description =
        text(&mut m, "description", false, MAX_DESCRIPTION_CHARS)?.unwrap_or_default();
    let request = Value::Object(m);
    let scenario = ScenarioBody::parse(request.to_string().as_bytes())?;
    let key = idempotency_key(&headers)?;
    // The same write sent again (a retry, or nginx passing it on after a replica died
    // with it): the first copy is the answer, nothing is computed or saved twice.
    let first = match &key {
        Some(k) => db(&service)?.scenario_by_key(&caller, k).await?,
        None => None,
    };
    let saved = match first {
        Some(first) => first,
        None => {
            let st = service.state();
            let answer = run_scenario(&service, st.clone(), scenario, &headers).await?;
            let result = serde_json::to_value(&answer).map_err(ApiError::internal)?;
            db(&service)?
                .save_scenario(
                    &caller,
                    &NewScenario {
                        name: name.clone(),
                        description: description.clone(),
                        request: request.clone(),
                        result,
                        build: st.build_id().to_owned(),
                        idempotency_key: key.clone(),
                    },
                )
                .await?
        }
    };
    if saved.request != request || saved.name != name || saved.description != description {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key: this key already saved another scenario (a retry must send the \
             same body); use a new key for a new scenario",
        ));
    }
    let base = base_url(&service, &headers);
    let location = format!("{base}/saved-scenarios/{}", saved.id);
    Ok(created(
        &location,
        &json!({
            "id": saved.id,
            "name": saved.name,
            "description": saved.description,
            "build": saved.build,
            "created_at": saved.created_at,
            "url": location,
            "share_url": format!("{base}/#scenario={}", saved.id),
        }),
    ))
}

/// `GET /saved-scenarios/{id}` (no token): the request, the result as saved (on its
/// build) and, when the build served differs, the result on the current data.
pub async fn scenario(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let saved = db(&service)?
        .scenario(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no saved scenario with id {id:?}")))?;
    let st = service.state();
    let current = current_result(&service, &st, &saved, &headers).await?;
    let base = base_url(&service, &headers);
    Ok(json_response(
        &json!({
            "id": saved.id,
            "name": saved.name,
            "description": saved.description,
            "owner_name": saved.owner_name,
            "created_at": saved.created_at,
            "updated_at": saved.updated_at,
            "request": saved.request,
            "saved": { "build": saved.build, "result": saved.result },
            "current": current,
            "url": format!("{base}/saved-scenarios/{}", saved.id),
            "share_url": format!("{base}/#scenario={}", saved.id),
        }),
        "application/json",
    ))
}

/// The scenario recomputed now, when the build served differs from the one it was
/// saved on or the planner's list it uses changed since; `null` when the saved result
/// is still the answer.
async fn current_result(
    service: &Arc<Service>,
    st: &Arc<AppState>,
    saved: &crate::db::SavedScenario,
    headers: &HeaderMap,
) -> ApiResult<Value> {
    let data_changed = saved.build != st.build_id();
    let names_list = saved.request.get("list").is_some_and(|l| !l.is_null());
    if !data_changed && !names_list {
        return Ok(Value::Null);
    }
    let rerun = match ScenarioBody::parse(saved.request.to_string().as_bytes()) {
        Ok(body) => run_scenario(service, st.clone(), body, headers).await,
        Err(e) => Err(e),
    };
    let list_of = |result: &Value| result["facilities"]["list"]["updated"].clone();
    let (result, error, list_changed) = match rerun {
        Ok(answer) => {
            let result = serde_json::to_value(&answer).map_err(ApiError::internal)?;
            let changed = list_of(&result) != list_of(&saved.result);
            (result, None, changed)
        }
        Err(e) if e.status.is_server_error() => return Err(e),
        Err(e) => (
            Value::Null,
            Some(format!(
                "le scénario ne se recalcule pas sur les données actuelles : {}",
                e.detail
            )),
            false,
        ),
    };
    if !data_changed && !list_changed && error.is_none() {
        return Ok(Value::Null);
    }
    let mut note = Vec::new();
    if data_changed {
        note.push(format!(
            "Les données ont changé depuis l'enregistrement de ce scénario (version {} → {})",
            saved.build,
            st.build_id()
        ));
    }
    if list_changed {
        note.push(format!(
            "la liste « {} » a été modifiée depuis",
            saved.result["facilities"]["list"]["name"]
                .as_str()
                .unwrap_or_default()
        ));
    }
    if !data_changed && !list_changed {
        note.push("La liste de structures de ce scénario n'est pas lisible ici".to_owned());
    }
    let note = format!(
        "{} : le résultat enregistré est conservé tel qu'il a été montré, et voici le même scénario recalculé maintenant.",
        note.join(", et ")
    );
    let mut current = json!({ "build": st.build_id(), "note": note, "result": result });
    if let Some(error) = error {
        current["error"] = json!(error);
    }
    Ok(current)
}

/// `GET /saved-scenarios` (token): the caller's saved scenarios, or all for an admin.
pub async fn scenarios(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = caller(&service, &headers).await?;
    let list = db(&service)?.scenarios(&caller).await?;
    Ok(json_response(
        &json!({ "saved_scenarios": list }),
        "application/json",
    ))
}

/// `PATCH /saved-scenarios/{id}` with `name` and/or `description`.
pub async fn update_scenario(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    let body = body_bytes(body, "saved scenario")?;
    let (name, description) = patch_fields(&body, "saved scenario")?;
    let db = db(&service)?;
    db.update_scenario(&caller, &id, name.as_deref(), description.as_deref())
        .await?;
    scenario(State(service.clone()), headers, Path(id)).await
}

/// `DELETE /saved-scenarios/{id}`: 204.
pub async fn delete_scenario(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    db(&service)?.delete_scenario(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ------------------------------------------------------------------------ perimeters

/// Body of `POST /perimeters` (besides name and description): a list of INSEE codes or
/// a GeoJSON polygon.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PerimeterShape {
    #[serde(default)]
    communes: Option<Vec<String>>,
    #[serde(default)]
    geometry: Option<Value>,
}

/// The communes of a drawn polygon: those whose reference point falls inside.
fn communes_inside(st: &AppState, geometry: &Value) -> ApiResult<Vec<String>> {
    let g: geojson::Geometry = serde_json::from_value(geometry.clone())
        .map_err(|e| unprocessable("geometry", format!("is not a GeoJSON geometry: {e}")))?;
    let shape: geo::Geometry<f64> = g
        .try_into()
        .map_err(|e| unprocessable("geometry", format!("is not a valid geometry: {e}")))?;
    let shape = match shape {
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        _ => {
            return Err(unprocessable(
                "geometry",
                "must be a Polygon or a MultiPolygon",
            ));
        }
    };
    let data = &st.engine.data;
    Ok(st
        .engine
        .commune_points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let p = (*p)?;
            shape
                .contains(&geo::Point::new(p.lon, p.lat))
                .then(|| data.communes[i].code.to_string())
        })
        .collect())
}

/// `POST /perimeters`: `name`, optional `description`, and either `communes` (INSEE
/// codes; unknown ones are a 422 naming them) or `geometry` (a GeoJSON polygon: the
/// communes whose reference point is inside).
pub async fn create_perimeter(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    let body = body_bytes(body, "perimeter")?;
    let mut m = object(&body, "perimeter")?;
    let name = text(&mut m, "name", true, MAX_NAME_CHARS)?.unwrap_or_default();
    let description =
        text(&mut m, "description", false, MAX_DESCRIPTION_CHARS)?.unwrap_or_default();
    let public = flag(&mut m, "public")?.unwrap_or(false);
    let shape: PerimeterShape = serde_json::from_value(Value::Object(m))
        .map_err(|e| ApiError::bad_request(format!("perimeter body: {e}")))?;
    let st = service.state();
    let data = &st.engine.data;
    let (communes, geometry) = match shape {
        PerimeterShape {
            communes: Some(list),
            geometry: None,
        } => {
            if list.len() > MAX_PERIMETER_COMMUNES {
                return Err(unprocessable(
                    "communes",
                    format!(
                        "lists {} communes, at most {MAX_PERIMETER_COMMUNES}",
                        list.len()
                    ),
                ));
            }
            let unknown: Vec<&str> = list
                .iter()
                .map(|c| c.trim())
                .filter(|c| {
                    InseeCode::parse(c)
                        .ok()
                        .and_then(|code| data.commune_index(&code))
                        .is_none()
                })
                .collect();
            if !unknown.is_empty() {
                return Err(unprocessable(
                    "communes",
                    format!(
                        "names codes that are not communes of the data: {}",
                        unknown.join(", ")
                    ),
                ));
            }
            let set: BTreeSet<String> = list.iter().map(|c| c.trim().to_owned()).collect();
            (set.into_iter().collect::<Vec<_>>(), None)
        }
        PerimeterShape {
            communes: None,
            geometry: Some(g),
        } => (communes_inside(&st, &g)?, Some(g)),
        _ => {
            return Err(unprocessable(
                "communes",
                "or `geometry` is required, not both: a list of INSEE codes, or a GeoJSON polygon",
            ));
        }
    };
    if communes.is_empty() {
        return Err(unprocessable(
            if geometry.is_some() {
                "geometry"
            } else {
                "communes"
            },
            "holds no commune",
        ));
    }
    let p = db(&service)?
        .save_perimeter(
            &caller,
            &NewPerimeter {
                name,
                description,
                communes,
                geometry,
                public,
            },
        )
        .await?;
    let base = base_url(&service, &headers);
    let location = format!("{base}/perimeters/{}", p.id);
    Ok(created(
        &location,
        &perimeter_json(&base, &p, Some(&caller)),
    ))
}

/// A perimeter as the API shows it; `may_change` says whether `caller` may rename or
/// delete it (false without a caller).
fn perimeter_json(base: &str, p: &crate::db::Perimeter, caller: Option<&Caller>) -> Value {
    json!({
        "id": p.id,
        "public": p.public,
        "communes_count": p.communes.len(),
        "may_change": caller.is_some_and(|c| c.may_change(&p.owner)),
        "ogc_url": format!("{base}/collections/perimeters/items/{}", p.id),
        "territory": format!("perimeter:{}", p.id),
        "name": p.name,
        "description": p.description,
        "owner_name": p.owner_name,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "communes": p.communes,
        "geometry": p.geometry,
        "url": format!("{base}/perimeters/{}", p.id),
        "summary_url": format!("{base}/territories/perimeter/{}", p.id),
    })
}

/// `GET /perimeters/{id}` (no token: the id is the capability, as for a shared
/// scenario; with one, `may_change` says whether the caller may change it).
pub async fn get_perimeter(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let caller = optional_caller(&service, &headers).await?;
    let p = db(&service)?
        .perimeter(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no perimeter with id {id:?}")))?;
    Ok(json_response(
        &perimeter_json(&base_url(&service, &headers), &p, caller.as_ref()),
        "application/json",
    ))
}

/// The caller when the request carries a token (401 for a token the store does not
/// know: a wrong token is said, never read as « no token »), `None` without one.
pub async fn optional_caller(service: &Service, headers: &HeaderMap) -> ApiResult<Option<Caller>> {
    if bearer(headers).is_some() {
        caller(service, headers).await.map(Some)
    } else {
        Ok(None)
    }
}

/// `GET /perimeters`: the public perimeters and, with a token, the caller's own (an
/// admin's: all), newest first, without their commune lists (`communes_count`).
pub async fn perimeters(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = optional_caller(&service, &headers).await?;
    let list = db(&service)?.visible_perimeters(caller.as_ref()).await?;
    let base = base_url(&service, &headers);
    let list: Vec<Value> = list
        .iter()
        .map(|p| {
            let mut v = perimeter_json(&base, p, caller.as_ref());
            if let Some(o) = v.as_object_mut() {
                o.remove("communes");
                o.remove("geometry");
            }
            v
        })
        .collect();
    Ok(json_response(
        &json!({ "perimeters": list }),
        "application/json",
    ))
}

/// `PATCH /perimeters/{id}` with `name`, `description` and/or `public`.
pub async fn update_perimeter(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    let body = body_bytes(body, "perimeter")?;
    let mut m = object(&body, "perimeter")?;
    let public = flag(&mut m, "public")?;
    let (name, description) = if public.is_some() && m.is_empty() {
        (None, None)
    } else {
        patch_fields_of(m, "perimeter")?
    };
    db(&service)?
        .update_perimeter(
            &caller,
            &id,
            name.as_deref(),
            description.as_deref(),
            public,
        )
        .await?;
    get_perimeter(State(service.clone()), headers, Path(id)).await
}

/// `DELETE /perimeters/{id}`: 204.
pub async fn delete_perimeter(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    db(&service)?.delete_perimeter(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

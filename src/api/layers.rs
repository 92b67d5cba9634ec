//! Planners' own structure lists ("layers", issue 16): upload a CSV or GeoJSON of MSP,
//! centres de santé, *consultations avancées*…, see the report of kept and skipped rows
//! (`POST /layers/preview`, nothing stored), save it with the territory it is complete
//! for (`POST /layers`), and use it at once — no rebuild — in `/nearest` and territory
//! coverage with `facilities=list|both&list=<id>` (module `layer_analysis`).
//!
//! The file is read by the importers of `sources.toml` ([`crate::import::planner_list`]),
//! placed against the communes of the build served ([`ServedPlaces`]). A list is public
//! or private to its author; a planner changes only their own, an admin all; every
//! write is in the audit. Limits: the body size, the rows of a file, the lists of a
//! token, and the writes per minute of a token, previews included, as every write's
//! ([`super::auth::writer`]: 429 with `Retry-After`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geo::{ClosestPoint, Contains, Distance, Haversine, Point};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::crs::SourceCrs;
use crate::db::{Caller, Layer, LayerPatch, NewLayer};
use crate::geodesy::GeoPoint;
use crate::import::locate::{Located, MAX_OFFSHORE_M, Places};
use crate::import::planner_list::{ListColumns, ListError, ListFormat, ReadList, read_list};
use crate::model::{Facility, InseeCode, Kind, PositionQuality, RefPointSource};

use super::Service;
use super::auth::{bearer, caller, db, writer};
use super::error::{ApiError, ApiResult};
use super::limits::heavy;
use super::ogc::{base_url, json_response};
use super::params::{self, Param, QueryPairs};
use super::perimeter;
use super::query::resolve_territory;
use super::state::AppState;

/// Longest name of a list, in characters (as a saved scenario's).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Largest file content, bytes.
pub const MAX_CONTENT_BYTES: usize = 5 * 1024 * 1024;
/// Largest request body of `/layers` and `/layers/preview`: the content, JSON-escaped.
pub const MAX_LAYER_BODY_BYTES: usize = 2 * MAX_CONTENT_BYTES;
/// Most rows read from one file.
pub const MAX_ROWS: u64 = 20_000;
/// Most lists one token keeps.
pub const MAX_LISTS_PER_TOKEN: i64 = 50;
/// Rows of `/layers/{id}/items` by default, and at most.
const DEFAULT_ITEMS: usize = 1_000;
const MAX_ITEMS: usize = 10_000;
/// Commune reference points looked at to find the polygon holding a point.
const CANDIDATE_COMMUNES: usize = 24;

// ------------------------------------------------------------------ the served places

/// The communes of the build served, as the point readers ask for them: a point's
/// commune is the one whose polygon holds it among those with the nearest reference
/// points, else the nearest polygon within [`MAX_OFFSHORE_M`]. The build keeps no
/// former communes: a code of a commune déléguée is unknown here.
pub struct ServedPlaces<'a> {
    st: &'a AppState,
}

impl Places for ServedPlaces<'_> {
    fn is_commune(&self, code: &InseeCode) -> bool {
        self.st.engine.data.commune_index(code).is_some()
    }
    fn parent_of(&self, _: &InseeCode) -> Option<&InseeCode> {
        None
    }
    fn ref_point(&self, code: &InseeCode) -> Option<(Point<f64>, RefPointSource)> {
        let c = self.st.engine.data.commune(code)?;
        Some((c.ref_point?, c.ref_point_source?))
    }
    fn former_point(&self, _: &InseeCode) -> Option<Point<f64>> {
        None
    }
    fn locate(&self, p: Point<f64>) -> Option<Located> {
        let engine = &self.st.engine;
        let q = GeoPoint::from_point(p);
        let candidates: Vec<usize> = engine
            .commune_index()
            .nearest_k(&q, CANDIDATE_COMMUNES)
            .into_iter()
            .map(|h| engine.commune_ids[h.index])
            .collect();
        let communes = &engine.data.communes;
        let mut best: Option<(f64, usize)> = None;
        for &c in &candidates {
            let Some(g) = &communes[c].geometry else {
                continue;
            };
            if g.contains(&p) {
                return Some(Located {
                    commune: communes[c].code.clone(),
                    outside_by_m: 0.0,
                });
            }
            let d = match g.closest_point(&p) {
                geo::Closest::Intersection(_) => 0.0,
                geo::Closest::SinglePoint(x) => Haversine.distance(p, x),
                geo::Closest::Indeterminate => continue,
            };
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, c));
            }
        }
        best.filter(|(d, _)| *d <= MAX_OFFSHORE_M)
            .map(|(d, c)| Located {
                commune: communes[c].code.clone(),
                outside_by_m: d,
            })
    }
}

/// A kind as a planner writes it: the built-in ones (`msp`, `centre_sante`…, or
/// « centre de santé »), `consultation` for outreach consultations, and the kinds the
/// build serves.
pub fn kind_of(st: &AppState, written: &str) -> Option<Kind> {
    let slug: String = written
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            ' ' | '-' | '\'' => '_',
            c => c,
        })
        .collect();
    let slug = match slug.as_str() {
        "centre_de_sante" | "centres_de_sante" | "cds" => "centre_sante",
        "consultation_avancee" | "consultations_avancees" | "consultations" => "consultation",
        "maison_de_sante" | "maison_de_sante_pluriprofessionnelle" => "msp",
        s => s,
    };
    let kind: Kind = slug.parse().ok()?;
    let builtin = Kind::BUILTIN.contains(&kind) && kind != Kind::Other;
    (builtin || slug == "consultation" || st.engine.kinds.contains_key(&kind)).then_some(kind)
}

// ------------------------------------------------------------------------ the bodies

/// The body of `POST /layers/preview` and `POST /layers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListBody {
    format: ListFormat,
    content: String,
    #[serde(default)]
    columns: ListColumns,
    /// The CRS of the positions: `"EPSG:2154"` or `2154`… (default WGS84 lon/lat).
    #[serde(default)]
    crs: Option<Value>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| {
        let text = e.body_text();
        let status = if text.contains("length limit") {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            e.status()
        };
        ApiError::new(
            status,
            format!("list body: {text} (a file of at most {MAX_CONTENT_BYTES} bytes)"),
        )
    })
}

fn parse_body(bytes: &[u8]) -> ApiResult<ListBody> {
    let body: ListBody = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("list body: {e}")))?;
    if body.content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "`content`: the file has {} bytes, at most {MAX_CONTENT_BYTES} are read: split it",
                body.content.len()
            ),
        ));
    }
    if body.content.trim().is_empty() {
        return Err(unprocessable("`content`: the file is empty"));
    }
    Ok(body)
}

/// The `crs` of a body: an EPSG name (`"EPSG:2154"`, an OGC URN) or code (`2154`).
fn source_crs(value: Option<Value>) -> ApiResult<Option<SourceCrs>> {
    let name = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(unprocessable(format!(
                "`crs` must be an EPSG code (\"EPSG:2154\" or 2154), not {other}"
            )));
        }
    };
    SourceCrs::from_name(&name)
        .map(Some)
        .map_err(|e| unprocessable(format!("`crs`: {e}")))
}

/// Reads the file of a body against the build served (in the heavy pool).
async fn read(service: &Arc<Service>, st: Arc<AppState>, body: ListBody) -> ApiResult<ReadList> {
    let ListBody {
        format,
        content,
        columns,
        crs,
        kind,
        ..
    } = body;
    let crs = source_crs(crs)?;
    let fixed = match kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => Some(kind_of(&st, k).ok_or_else(|| {
            unprocessable(format!(
                "`kind` {k:?}: expected one of msp, centre_sante, clic, ehpad, ehpa, hospital, psychiatry, ssr, long_stay, consultation"
            ))
        })?),
        None => None,
    };
    heavy(service, move |_| {
        read_list(
            format,
            &content,
            &columns,
            crs,
            fixed.as_ref(),
            &|k| kind_of(&st, k),
            &ServedPlaces { st: &st },
            MAX_ROWS,
        )
        .map_err(|e| match e {
            ListError::File(m) => unprocessable(format!("the file cannot be read: {m}")),
            e @ ListError::TooManyRows { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
        })
    })
    .await
}

/// A kept row as stored and shown: name, kind, position and how it was obtained, the
/// commune (code and name), capacity or null, address, phone.
fn item(st: &AppState, f: &Facility) -> Value {
    let data = &st.engine.data;
    let commune = f.commune.as_ref();
    json!({
        "line": f.source_line,
        "name": f.name,
        "kind": f.kind,
        "lon": f.position.x(),
        "lat": f.position.y(),
        "commune": commune.map(InseeCode::as_str),
        "commune_nom": commune.and_then(|c| data.commune(c)).map(|c| c.name.as_str()),
        "capacity": f.capacity,
        "address": f.address,
        "phone": f.phone,
        "position": match f.position_quality {
            PositionQuality::CommuneChefLieu => "commune",
            _ => "coordinates",
        },
    })
}

fn report_json(read: &ReadList) -> Value {
    let r = &read.report;
    json!({
        "crs": r.crs,
        "rows_read": r.rows_read,
        "kept": r.kept,
        "skipped": r.skipped_total(),
        "skipped_by_reason": r.skipped,
        "skipped_rows": r.skipped_rows,
        "kept_by_kind": r.kept_by_kind,
        "notes": r.notes,
    })
}

// ------------------------------------------------------------------------- handlers

/// `POST /layers/preview` (token): the report of a file and its kept rows, normalised;
/// nothing stored.
pub async fn preview(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    writer(&service, &headers).await?;
    let body = parse_body(&body_bytes(body)?)?;
    let st = service.state();
    let read = read(&service, st.clone(), body).await?;
    let rows: Vec<Value> = read.rows.iter().map(|f| item(&st, f)).collect();
    Ok(json_response(
        &json!({ "report": report_json(&read), "rows": rows, "stored": false }),
        "application/json",
    ))
}

/// The communes of a scope (`cls:…`, `dep:79`, `perimeter:<id>`…), as INSEE codes.
async fn scope_communes(service: &Service, st: &AppState, spec: &str) -> ApiResult<Vec<String>> {
    let saved = perimeter::perimeter(service, st, Some(spec)).await?;
    let t = resolve_territory(st, spec, saved.as_ref())
        .map_err(|e| unprocessable(format!("`scope` {spec:?}: {e}")))?;
    if t.communes.is_empty() {
        return Err(unprocessable(format!("`scope` {spec:?} holds no commune")));
    }
    Ok(t.communes.iter().map(|c| c.to_string()).collect())
}

fn text_field(value: Option<String>, field: &str, max: usize) -> ApiResult<Option<String>> {
    match value.map(|s| s.trim().to_owned()) {
        Some(s) if s.chars().count() > max => Err(unprocessable(format!(
            "`{field}` is longer than {max} characters"
        ))),
        other => Ok(other),
    }
}

fn visibility(value: Option<String>) -> ApiResult<Option<String>> {
    match value.as_deref() {
        None => Ok(None),
        Some("public" | "private") => Ok(value),
        Some(other) => Err(unprocessable(format!(
            "`visibility` {other:?}: expected public or private"
        ))),
    }
}

/// The legend of a list on the map: « liste fournie par <auteur>, <date> ».
pub fn legend(l: &Layer) -> String {
    let day = l.created_at.get(..10).unwrap_or(&l.created_at);
    let fr = match (day.get(..4), day.get(5..7), day.get(8..10)) {
        (Some(y), Some(m), Some(d)) => format!("{d}/{m}/{y}"),
        _ => day.to_owned(),
    };
    format!("liste fournie par {}, {fr}", l.owner_name)
}

fn layer_json(base: &str, l: &Layer) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "description": l.description,
        "visibility": l.visibility,
        "author": l.owner_name,
        "created_at": l.created_at,
        "updated_at": l.updated_at,
        "scope": l.scope,
        "scope_communes": l.scope_communes.len(),
        "kinds": l.kinds,
        "items": l.items,
        "report": l.report,
        "legend": legend(l),
        "url": format!("{base}/layers/{}", l.id),
        "items_url": format!("{base}/layers/{}/items", l.id),
    })
}

/// `POST /layers` (token): the preview's body plus `name`, `description`, `visibility`
/// and `scope` (required: the territory the list is complete for). The list and its
/// kept rows are stored in one transaction → 201 `{id, url, report}`.
pub async fn create(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    let mut body = parse_body(&body_bytes(body)?)?;
    let name = text_field(body.name.take(), "name", MAX_NAME_CHARS)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unprocessable("`name` is required"))?;
    let description = text_field(
        body.description.take(),
        "description",
        MAX_DESCRIPTION_CHARS,
    )?
    .unwrap_or_default();
    let visibility = visibility(body.visibility.take())?.unwrap_or_else(|| "private".to_owned());
    let scope = body
        .scope
        .take()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            unprocessable(
                "`scope` is required: the territory the list is complete for (cls:thouarsais, dep:79, perimeter:<id>…); outside it, results say the list does not cover the commune",
            )
        })?;
    let st = service.state();
    let scope_communes = scope_communes(&service, &st, &scope).await?;
    let read = read(&service, st.clone(), body).await?;
    if read.rows.is_empty() {
        return Err(unprocessable(format!(
            "no row of the file could be kept ({} read): nothing to save — see the report of POST /layers/preview",
            read.report.rows_read
        )));
    }
    let items: Vec<Value> = read.rows.iter().map(|f| item(&st, f)).collect();
    let layer = db(&service)?
        .save_layer(
            &caller,
            &NewLayer {
                name,
                description,
                visibility,
                scope,
                scope_communes,
                kinds: json!(read.report.kept_by_kind),
                report: report_json(&read),
                items,
            },
            MAX_LISTS_PER_TOKEN,
        )
        .await?;
    let base = base_url(&service, &headers);
    let mut out = layer_json(&base, &layer);
    out["stored"] = json!(true);
    let location = format!("{base}/layers/{}", layer.id);
    let mut r = json_response(&out, "application/json");
    *r.status_mut() = StatusCode::CREATED;
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// The caller when a token is given (a wrong one is a 401), `None` without.
async fn optional_caller(service: &Service, headers: &HeaderMap) -> ApiResult<Option<Caller>> {
    if bearer(headers).is_none() {
        return Ok(None);
    }
    caller(service, headers).await.map(Some)
}

/// A list the caller may see, else 404 (a private list of another is not revealed).
pub async fn visible(service: &Service, headers: &HeaderMap, id: &str) -> ApiResult<Layer> {
    let who = optional_caller(service, headers).await?;
    db(service)?
        .layer(id)
        .await?
        .filter(|l| l.visible_to(who.as_ref()))
        .ok_or_else(|| ApiError::not_found(format!("no list with id {id:?}")))
}

/// `GET /layers`: the public lists and, with a token, the caller's private ones.
pub async fn list(State(service): State<Arc<Service>>, headers: HeaderMap) -> ApiResult<Response> {
    let who = optional_caller(&service, &headers).await?;
    let all = db(&service)?.layers(who.as_ref()).await?;
    let base = base_url(&service, &headers);
    let layers: Vec<Value> = all.iter().map(|l| layer_json(&base, l)).collect();
    Ok(json_response(
        &json!({ "layers": layers }),
        "application/json",
    ))
}

/// `GET /layers/{id}`: the list's metadata and report.
pub async fn get(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let l = visible(&service, &headers, &id).await?;
    Ok(json_response(
        &layer_json(&base_url(&service, &headers), &l),
        "application/json",
    ))
}

pub const ITEMS_PARAMS: &[Param] = &[
    Param {
        name: "limit",
        description: "Rows per page (default 1000)",
        required: false,
        schema: |_| json!({ "type": "integer", "minimum": 1, "maximum": MAX_ITEMS, "default": DEFAULT_ITEMS }),
    },
    Param {
        name: "offset",
        description: "Rows skipped (in the file's order)",
        required: false,
        schema: |_| json!({ "type": "integer", "minimum": 0, "default": 0 }),
    },
];

/// `GET /layers/{id}/items?limit=&offset=`: the rows as a GeoJSON FeatureCollection
/// (OGC API – Features-like paging: numberMatched, numberReturned, next link).
pub async fn items(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    q.only(ITEMS_PARAMS)?;
    let limit = q
        .parsed("limit", |_, v| params::count("limit", v, 1, MAX_ITEMS))?
        .unwrap_or(DEFAULT_ITEMS);
    let offset = q
        .parsed("offset", |_, v| params::count("offset", v, 0, 100_000_000))?
        .unwrap_or(0);
    let l = visible(&service, &headers, &id).await?;
    let rows = db(&service)?
        .layer_items(&id, limit as i64, offset as i64)
        .await?;
    let features: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let (lon, lat) = (row["lon"].clone(), row["lat"].clone());
            json!({
                "type": "Feature",
                "id": format!("{}:{}", l.id, row["line"]),
                "geometry": { "type": "Point", "coordinates": [lon, lat] },
                "properties": row,
            })
        })
        .collect();
    let base = base_url(&service, &headers);
    let returned = features.len();
    let mut links = vec![json!({"rel": "self", "type": "application/geo+json",
        "href": format!("{base}/layers/{id}/items?limit={limit}&offset={offset}")})];
    if (offset + returned) < usize::try_from(l.items).unwrap_or(0) {
        links.push(json!({"rel": "next", "type": "application/geo+json",
            "href": format!("{base}/layers/{id}/items?limit={limit}&offset={}", offset + returned)}));
    }
    Ok(json_response(
        &json!({
            "type": "FeatureCollection",
            "name": l.name,
            "legend": legend(&l),
            "author": l.owner_name,
            "created_at": l.created_at,
            "scope": l.scope,
            "numberMatched": l.items,
            "numberReturned": returned,
            "features": features,
            "links": links,
        }),
        "application/geo+json",
    ))
}

/// `PATCH /layers/{id}` with `name`, `description` and/or `visibility`.
pub async fn update(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    let bytes = body_bytes(body)?;
    let mut m: Map<String, Value> = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(ApiError::bad_request("list body: must be a JSON object")),
        Err(e) => return Err(ApiError::bad_request(format!("list body: {e}"))),
    };
    let mut take = |field: &str| -> ApiResult<Option<String>> {
        match m.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(unprocessable(format!(
                "`{field}` must be a string, not {other}"
            ))),
        }
    };
    let patch = LayerPatch {
        name: text_field(take("name")?, "name", MAX_NAME_CHARS)?,
        description: text_field(take("description")?, "description", MAX_DESCRIPTION_CHARS)?,
        visibility: visibility(take("visibility")?)?,
    };
    if let Some(k) = m.keys().next() {
        return Err(unprocessable(format!(
            "`{k}` cannot be changed (only name, description and visibility; upload a new list for new rows)"
        )));
    }
    if patch.name.as_deref() == Some("") {
        return Err(unprocessable("`name` is empty"));
    }
    if patch.name.is_none() && patch.description.is_none() && patch.visibility.is_none() {
        return Err(ApiError::bad_request(
            "list body: give `name`, `description` and/or `visibility`",
        ));
    }
    db(&service)?.update_layer(&caller, &id, &patch).await?;
    get(State(service.clone()), headers, Path(id)).await
}

/// `DELETE /layers/{id}`: 204.
pub async fn delete(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let caller = writer(&service, &headers).await?;
    db(&service)?.delete_layer(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! Analysis endpoints: nearest structures, territory summaries and coverage, the
//! accessibility audit trail of a commune, scenarios, siting and name search.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::analysis::coverage::{DEFAULT_KM, DEFAULT_MIN, Threshold};
use crate::analysis::nearest::CommuneNearest;
use crate::analysis::scenario::{Change, MAX_CHANGES};
use crate::analysis::siting::MAX_PICKS;
use crate::analysis::{DistanceModel, TravelMatrix, territory};
use crate::geodesy::GeoPoint;
use crate::model::{InseeCode, Kind, Territory, TerritoryType};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::ogc::json_response;
use super::params::{self, QueryPairs, bad};
use super::state::AppState;

/// Upper bound of `k` for `/nearest`.
pub const MAX_NEAREST: usize = 50;

/// A kind of structure present in the data.
fn kind_param(st: &AppState, name: &str, value: &str) -> ApiResult<Kind> {
    let known = || {
        st.engine
            .kinds
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind: Kind = value.parse().map_err(|_| {
        bad(
            name,
            format!("must be a kind of structure ({}), not {value:?}", known()),
        )
    })?;
    if !st.engine.kinds.contains_key(&kind) {
        return Err(bad(
            name,
            format!(
                "names {kind}, of which the data has no structure (kinds with structures: {})",
                known()
            ),
        ));
    }
    Ok(kind)
}

/// The distance model and, for `matrix`, the data set's travel-time table.
fn model_param<'a>(
    st: &'a AppState,
    q: &QueryPairs,
    default: DistanceModel,
) -> ApiResult<(DistanceModel, Option<&'a TravelMatrix>)> {
    let model = q.parsed("model", params::model)?.unwrap_or(default);
    matrix_for(st, model)
}

fn matrix_for(
    st: &AppState,
    model: DistanceModel,
) -> ApiResult<(DistanceModel, Option<&TravelMatrix>)> {
    match model {
        DistanceModel::Matrix => match &st.engine.data.travel_matrix {
            Some(m) => Ok((model, Some(m))),
            None => Err(bad(
                "model",
                "is matrix, but this data set has no travel-time table (declare one in sources.toml)",
            )),
        },
        m => Ok((m, None)),
    }
}

/// Per-commune nearest of a kind: the cached straight baseline (the estimate derives
/// from the same geodesic nearest), or a fresh run with the travel-time table.
fn baseline<'a>(
    st: &'a AppState,
    kind: &Kind,
    model: DistanceModel,
    matrix: Option<&TravelMatrix>,
) -> Cow<'a, [CommuneNearest]> {
    match (model, st.nearest.get(kind)) {
        (DistanceModel::Straight | DistanceModel::RoadEstimate, Some(n)) => Cow::Borrowed(n),
        _ => Cow::Owned(st.engine.nearest_per_commune(kind, model, matrix)),
    }
}

/// Runs heavy work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn commune_param(st: &AppState, name: &str, value: &str) -> ApiResult<usize> {
    let code = InseeCode::parse(value).map_err(|e| bad(name, e))?;
    st.engine
        .data
        .commune_index(&code)
        .ok_or_else(|| bad(name, format!("{code} is not a commune of the data set")))
}

#[derive(Serialize)]
struct Structure<'a> {
    rank: usize,
    id: &'a str,
    nom: &'a str,
    kind: &'a Kind,
    categorie: Option<&'a str>,
    adresse: Option<&'a str>,
    commune: Option<&'a str>,
    telephone: Option<&'a str>,
    capacite: Option<f64>,
    lon: f64,
    lat: f64,
    position: &'static str,
    source: &'a str,
    liste_partielle: bool,
    distance_m: f64,
    road_km: f64,
    car_min: f64,
}

/// `GET /nearest?lon=&lat=|commune=&kind=&k=&model=`: the k nearest structures of one
/// kind, or of every kind when `kind` is absent.
pub async fn nearest(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(&["lon", "lat", "commune", "kind", "k", "model"])?;
    let k = q
        .parsed("k", |n, v| params::count(n, v, 1, MAX_NEAREST))?
        .unwrap_or(3);
    let (model, matrix) = model_param(&st, &q, DistanceModel::RoadEstimate)?;
    let lon = q.parsed("lon", params::lon)?;
    let lat = q.parsed("lat", params::lat)?;
    let commune = q.parsed("commune", |n, v| commune_param(&st, n, v))?;
    let (point, from) = match (lon, lat, commune) {
        (Some(lon), Some(lat), None) => (GeoPoint::new(lon, lat), Value::Null),
        (None, None, Some(c)) => {
            let com = &st.engine.data.communes[c];
            let p = st.engine.commune_points[c]
                .ok_or_else(|| bad("commune", format!("{} has no reference point", com.code)))?;
            (
                p,
                json!({"code": com.code, "nom": com.name, "population": com.population,
                       "departement": com.departement}),
            )
        }
        (None, None, None) => {
            return Err(ApiError::bad_request(
                "give `lon` and `lat` (WGS84 degrees), or `commune` (INSEE code)",
            ));
        }
        (_, _, Some(_)) => {
            return Err(ApiError::bad_request(
                "give either `lon` and `lat`, or `commune`, not both",
            ));
        }
        _ => {
            return Err(ApiError::bad_request(
                "`lon` and `lat` go together: one of them is missing",
            ));
        }
    };
    if model == DistanceModel::Matrix && commune.is_none() {
        return Err(bad(
            "model",
            "is matrix: the travel-time table goes from commune to commune, so give `commune`",
        ));
    }
    let kinds: Vec<Kind> = match q.get("kind")? {
        Some(v) => vec![kind_param(&st, "kind", v)?],
        None => st.engine.kinds.keys().cloned().collect(),
    };
    let data = &st.engine.data;
    let results: Vec<Value> = kinds
        .iter()
        .map(|kind| {
            let found = st.engine.nearest_from(&point, kind, k, model, matrix, commune);
            let structures: Vec<Structure> = found
                .iter()
                .enumerate()
                .map(|(rank, r)| {
                    let f = &data.facilities[r.facility];
                    Structure {
                        rank: rank + 1,
                        id: &f.id,
                        nom: &f.name,
                        kind: &f.kind,
                        categorie: f.category_label.as_deref(),
                        adresse: f.address.as_deref(),
                        commune: f.commune.as_ref().map(|c| c.as_str()),
                        telephone: f.phone.as_deref(),
                        capacite: f.capacity,
                        lon: f.position.x(),
                        lat: f.position.y(),
                        position: f.position_quality.as_str(),
                        source: &f.source,
                        liste_partielle: f.partial_list,
                        distance_m: r.trip.distance_m,
                        road_km: r.trip.road_km,
                        car_min: r.trip.car_min,
                    }
                })
                .collect();
            let partial = data.facilities_of(kind).any(|f| f.partial_list);
            json!({
                "kind": kind,
                "label": kind.label_fr(),
                "liste_partielle": partial,
                "caveat": partial.then_some("liste partielle : des structures de ce type peuvent manquer"),
                "structures": structures,
            })
        })
        .collect();
    Ok(json_response(
        &json!({
            "from": { "lon": point.lon, "lat": point.lat, "commune": from },
            "model": model,
            "distance": "distance_m : géodésique (WGS84) ; road_km et car_min : estimation calibrée (road_estimate) ou table de temps (matrix)",
            "build": st.build_id(),
            "results": results,
        }),
        "application/json",
    ))
}

fn territory_of(st: &AppState, kind: &str, code: &str) -> ApiResult<Territory> {
    let kind: TerritoryType = kind
        .parse()
        .map_err(|e| ApiError::not_found(format!("{e}")))?;
    territory::resolve(&st.engine.data, &format!("{}:{code}", kind.prefix()))
        .map_err(|e| ApiError::not_found(e.to_string()))
}

/// `GET /territories/{type}/{code}/coverage?kind=&within_km=|within_min=&model=`.
pub async fn coverage(
    State(service): State<Arc<Service>>,
    Path((kind_path, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(&["kind", "within_km", "within_min", "model"])?;
    let territory = territory_of(&st, &kind_path, &code)?;
    let kind = match q.get("kind")? {
        Some(v) => kind_param(&st, "kind", v)?,
        None => return Err(bad("kind", "is required (e.g. kind=msp)")),
    };
    let under = params::threshold(q.get("within_km")?, q.get("within_min")?)?;
    let (model, matrix) = model_param(&st, &q, DistanceModel::RoadEstimate)?;
    let mut thresholds: Vec<Threshold> = DEFAULT_KM.iter().map(|&k| Threshold::Km(k)).collect();
    thresholds.extend(DEFAULT_MIN.iter().map(|&m| Threshold::Minutes(m)));
    if !thresholds.contains(&under) {
        thresholds.push(under);
    }
    let nearest = baseline(&st, &kind, model, matrix);
    let cov = st
        .engine
        .coverage(&territory, &kind, model, &nearest, &thresholds, under);
    let partial = st.engine.data.facilities_of(&kind).any(|f| f.partial_list);
    let mut v = serde_json::to_value(&cov).map_err(ApiError::internal)?;
    v["liste_partielle"] = json!(partial);
    v["build"] = json!(st.build_id());
    Ok(json_response(&v, "application/json"))
}

/// `GET /territories/{type}/{code}`: what a planner sees first — population, share of
/// it within 10 and 20 km (and 20 / 30 min) of each kind, mean distances, accessibility
/// aggregates (DREES rules) and the bounding box to zoom to.
pub async fn territory_summary(
    State(service): State<Arc<Service>>,
    Path((kind_path, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    QueryPairs::parse(raw.as_deref()).only(&[])?;
    let territory = territory_of(&st, &kind_path, &code)?;
    let (members, population) = st.engine.members(&territory);
    let bbox = members
        .iter()
        .filter_map(|&i| st.engine.commune_points[i])
        .fold(None::<[f64; 4]>, |b, p| {
            let (x, y) = (p.lon, p.lat);
            Some(match b {
                None => [x, y, x, y],
                Some([a, b2, c, d]) => [a.min(x), b2.min(y), c.max(x), d.max(y)],
            })
        });
    let thresholds = [
        Threshold::Km(10.0),
        Threshold::Km(20.0),
        Threshold::Minutes(20.0),
        Threshold::Minutes(30.0),
    ];
    let mut kinds = BTreeMap::new();
    for (kind, nearest) in &st.nearest {
        let cov = st.engine.coverage(
            &territory,
            kind,
            DistanceModel::RoadEstimate,
            nearest,
            &thresholds,
            Threshold::Km(10.0),
        );
        kinds.insert(
            kind.as_str().to_owned(),
            json!({
                "label": kind.label_fr(),
                "structures": st.engine.data.facilities_of(kind).count(),
                "structures_in_territory": st.engine.data.facilities_of(kind)
                    .filter(|f| f.commune.as_ref().is_some_and(|c| territory.communes.binary_search(c).is_ok()))
                    .count(),
                "liste_partielle": st.engine.data.facilities_of(kind).any(|f| f.partial_list),
                "bands": cov.bands,
                "mean_distance_m": cov.mean_distance_m,
                "max_distance_m": cov.max_distance_m,
                "mean_car_min": cov.mean_car_min,
                "communes_beyond_10km": cov.underserved.len(),
                "population_unknown": cov.population_unknown,
            }),
        );
    }
    let accessibility: BTreeMap<&str, Value> = st
        .accessibility
        .iter()
        .filter_map(|(id, run)| {
            let acc = run.as_ref().ok()?;
            let threshold = if id == "mg" { 2.5 } else { 0.0 };
            serde_json::to_value(st.engine.aggregate(acc, &territory, threshold))
                .ok()
                .map(|v| (id.as_str(), v))
        })
        .collect();
    Ok(json_response(
        &json!({
            "type": territory.kind,
            "code": territory.code,
            "nom": territory.name,
            "communes": members.len(),
            "population": population,
            "bbox": bbox,
            "model": "road_estimate",
            "kinds": kinds,
            "accessibility": accessibility,
            "build": st.build_id(),
        }),
        "application/json",
    ))
}

/// `GET /communes/{code}/explain?kind=` (an accessibility profile: mg, ehpad, msp…).
pub async fn explain(
    State(service): State<Arc<Service>>,
    Path(code): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(&["kind", "profile"])?;
    let code = InseeCode::parse(&code).map_err(|e| ApiError::not_found(e.to_string()))?;
    let commune =
        st.engine.data.commune_index(&code).ok_or_else(|| {
            ApiError::not_found(format!("{code} is not a commune of the data set"))
        })?;
    let (name, id) = match (q.get("kind")?, q.get("profile")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give `kind` or `profile`, not both"));
        }
        (Some(v), None) => ("kind", v),
        (None, Some(v)) => ("profile", v),
        (None, None) => ("kind", "mg"),
    };
    let run = st.accessibility.get(id).ok_or_else(|| {
        bad(
            name,
            format!(
                "must name an accessibility profile ({}), not {id:?}",
                st.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let acc = run.as_ref().map_err(|e| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("profile {id} cannot be computed on this data: {e}"),
        )
    })?;
    let e = st.engine.explain(acc, commune);
    let mut v = serde_json::to_value(&e).map_err(ApiError::internal)?;
    v["steps"] = json!(acc.profile.steps);
    v["supply"] = json!(acc.supply);
    v["demand_mode"] = json!(acc.demand);
    v["build"] = json!(st.build_id());
    Ok(json_response(&v, "application/json"))
}

/// Body of `POST /scenarios`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    pub kind: String,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub within_km: Option<f64>,
    #[serde(default)]
    pub within_min: Option<f64>,
    #[serde(default)]
    pub model: Option<String>,
    /// Accessibility profile of the deltas (`none`: no accessibility deltas); by default
    /// the profile named after the kind, when its supply is that kind.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Largest accepted scenario body.
pub const MAX_SCENARIO_BYTES: usize = 64 * 1024;

impl ScenarioRequest {
    /// Parses a scenario body, naming what is wrong (line and column for JSON errors).
    pub fn parse(body: &[u8]) -> ApiResult<ScenarioRequest> {
        if body.len() > MAX_SCENARIO_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "scenario body of {} bytes exceeds {MAX_SCENARIO_BYTES}",
                    body.len()
                ),
            ));
        }
        let r: ScenarioRequest = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("scenario body: {e}")))?;
        if r.changes.is_empty() {
            return Err(ApiError::bad_request(
                "scenario body: `changes` is empty (add, remove or resize at least one structure)",
            ));
        }
        if r.changes.len() > MAX_CHANGES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "scenario body: {} changes, at most {MAX_CHANGES}",
                    r.changes.len()
                ),
            ));
        }
        Ok(r)
    }
}

/// `POST /scenarios`: deltas of adding, removing or resizing structures (not stored).
pub async fn scenarios(
    State(service): State<Arc<Service>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body =
        body.map_err(|e| ApiError::new(e.status(), format!("scenario body: {}", e.body_text())))?;
    let req = ScenarioRequest::parse(&body)?;
    let st = service.state();
    let kind = kind_param(&st, "kind", &req.kind)?;
    let fmt = |v: Option<f64>| v.map(|x| x.to_string());
    let threshold = params::threshold(
        fmt(req.within_km).as_deref(),
        fmt(req.within_min).as_deref(),
    )?;
    let model = match &req.model {
        Some(m) => params::model("model", m)?,
        None => DistanceModel::RoadEstimate,
    };
    matrix_for(&st, model)?;
    let result = blocking(move || {
        let (model, matrix) = matrix_for(&st, model)?;
        let base = baseline(&st, &kind, model, matrix);
        let mut r = st
            .engine
            .scenario(&kind, &req.changes, model, threshold, &base)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut note = None;
        match scenario_profile(&st, &kind, req.profile.as_deref())? {
            Some((acc, explicit)) => {
                match st
                    .engine
                    .scenario_accessibility(&kind, &req.changes, acc, matrix)
                {
                    Ok(delta) => r.accessibility = Some(delta),
                    Err(e) if !explicit => {
                        note = Some(format!(
                            "variation d'accessibilité non calculée (profil {}) : {e}",
                            acc.profile.id
                        ));
                    }
                    Err(e) => return Err(bad("profile", e)),
                }
            }
            None => {
                note = Some(format!(
                    "pas de profil d'accessibilité pour {kind} : variation d'accessibilité non calculée"
                ));
            }
        }
        let mut v = serde_json::to_value(&r).map_err(ApiError::internal)?;
        v["build"] = json!(st.build_id());
        if let Some(n) = note {
            v["accessibility_note"] = json!(n);
        }
        Ok(v)
    })
    .await?;
    Ok(json_response(&result, "application/json"))
}

/// The baseline accessibility of a scenario's deltas and whether the request named it:
/// `profile`, else the profile named after the kind when its supply is that kind.
fn scenario_profile<'a>(
    st: &'a AppState,
    kind: &Kind,
    profile: Option<&str>,
) -> ApiResult<Option<(&'a crate::analysis::accessibility::Accessibility, bool)>> {
    match profile {
        Some("none") => Ok(None),
        Some(id) => match st.accessibility.get(id) {
            Some(Ok(acc)) => Ok(Some((acc, true))),
            Some(Err(e)) => Err(bad("profile", format!("{id} cannot be computed on this data: {e}"))),
            None => Err(bad(
                "profile",
                format!(
                    "must name an accessibility profile ({}) or none, not {id:?}",
                    st.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
        },
        None => Ok(st
            .accessibility
            .get(kind.as_str())
            .and_then(|r| r.as_ref().ok())
            .filter(|acc| {
                matches!(&acc.supply, crate::analysis::accessibility::SupplySource::Facilities { kind: k, .. } if k == kind)
            })
            .map(|acc| (acc, false))),
    }
}

/// `GET /siting?territory=&kind=&k=&within_km=|within_min=&model=`.
pub async fn siting(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(&["territory", "kind", "k", "within_km", "within_min", "model"])?;
    let spec = q.get("territory")?.ok_or_else(|| {
        bad(
            "territory",
            "is required (e.g. cls:thouarsais, epci:247900798, dep:79)",
        )
    })?;
    let territory = territory::resolve(&st.engine.data, spec).map_err(|e| bad("territory", e))?;
    let kind = match q.get("kind")? {
        Some(v) => kind_param(&st, "kind", v)?,
        None => return Err(bad("kind", "is required (e.g. kind=msp)")),
    };
    let k = q
        .parsed("k", |n, v| params::count(n, v, 1, MAX_PICKS))?
        .unwrap_or(3);
    let threshold = params::threshold(q.get("within_km")?, q.get("within_min")?)?;
    let (model, _) = model_param(&st, &q, DistanceModel::RoadEstimate)?;
    let result = blocking(move || {
        let (model, matrix) = matrix_for(&st, model)?;
        let base = baseline(&st, &kind, model, matrix);
        let s = st
            .engine
            .siting(&territory, &kind, k, threshold, model, &base);
        let mut v = serde_json::to_value(&s).map_err(ApiError::internal)?;
        v["build"] = json!(st.build_id());
        Ok(v)
    })
    .await?;
    Ok(json_response(&result, "application/json"))
}

/// `GET /search?q=&type=commune,epci,…&limit=`: communes and territories by name.
pub async fn search(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(&["q", "type", "limit"])?;
    let text = q.get("q")?.ok_or_else(|| bad("q", "is required"))?;
    if text.chars().count() > 100 {
        return Err(bad("q", "is longer than 100 characters"));
    }
    let types: Vec<TerritoryType> = match q.get("type")? {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|t| t.trim().parse().map_err(|e| bad("type", e)))
            .collect::<ApiResult<_>>()?,
    };
    let limit = q
        .parsed("limit", |n, v| params::count(n, v, 1, 100))?
        .unwrap_or(10);
    let found = st.names.search(text, &types, limit);
    Ok(json_response(
        &json!({ "q": text, "results": found }),
        "application/json",
    ))
}

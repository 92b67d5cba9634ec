//! Analysis endpoints: nearest structures, territory summaries and coverage, the
//! accessibility audit trail of a commune, scenarios, siting and name search. Each parses
//! its query into a validated request ([`super::query`]), runs the analysis, and answers
//! with the build and notes ([`Answer`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::analysis::DistanceModel;
use crate::analysis::change::ScenarioError;
use crate::analysis::coverage::Coverage;
use crate::analysis::fca::Accessibility;
use crate::analysis::fca::aggregate::Aggregate;
use crate::analysis::fca::explain::Explain;
use crate::analysis::fca::zonage::ZonageValues;
use crate::analysis::request::{
    DEFAULT_THRESHOLD, MG_SUMMARY_THRESHOLD, Origin, SUMMARY_BANDS, profile,
};
use crate::analysis::scenario::ScenarioResult;
use crate::analysis::{TravelMatrix, request};
use crate::model::{Kind, Step, SupplySource};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::layer_analysis as layers;
use super::limits::{cancelled, heavy};
use super::params::{QueryPairs, bad};
use super::perimeter;
use super::query::{
    CoverageQuery, ExplainQuery, NearestQuery, ScenarioBody, SearchQuery, SitingQuery, ZonageQuery,
    territory_in_path,
};
use super::response::Answer;
use super::state::AppState;

/// The data set's travel-time table for the `matrix` model.
fn matrix_for(st: &AppState, model: DistanceModel) -> ApiResult<Option<&TravelMatrix>> {
    match model {
        DistanceModel::Matrix => match &st.engine.data.travel_matrix {
            Some(m) => Ok(Some(m)),
            None => Err(bad(
                "model",
                "is matrix, but this data set has no travel-time table (declare one in sources.toml)",
            )),
        },
        _ => Ok(None),
    }
}

/// A structure as `/nearest` lists it.
#[derive(Serialize)]
struct Structure<'a> {
    rank: usize,
    id: &'a str,
    nom: &'a str,
    kind: &'a Kind,
    categorie: Option<&'a str>,
    adresse: Option<&'a str>,
    commune: Option<&'a str>,
    /// The commune's name (the page need not hold the commune table to say it).
    commune_nom: Option<&'a str>,
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
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(NearestQuery::PARAMS)?;
    if let Some(used) = layers::used_list(&service, &st, &q, &headers).await? {
        return layers::nearest(&st, &q, &used);
    }
    let req = NearestQuery::parse(&q, &st)?;
    let matrix = matrix_for(&st, req.model)?;
    let data = &st.engine.data;
    let (point, from, commune) = match req.origin {
        Origin::Point(p) => (p, Value::Null, None),
        Origin::Commune(c) => {
            let com = &data.communes[c];
            let p = st.engine.commune_points[c]
                .ok_or_else(|| bad("commune", format!("{} has no reference point", com.code)))?;
            (
                p,
                json!({"code": com.code, "nom": com.name, "population": com.population,
                       "departement": com.departement}),
                Some(c),
            )
        }
    };
    let kinds: Vec<Kind> = match req.kind {
        Some(k) => vec![k],
        None => st.engine.kinds.keys().cloned().collect(),
    };
    // The commune the origin stands for (the nearest reference point for a point): whether
    // each kind's list speaks there.
    let origin_commune = commune.or_else(|| st.engine.commune_at(&point));
    let results: Vec<Value> = kinds
        .iter()
        .map(|kind| {
            let found = st
                .engine
                .nearest_from(&point, kind, req.k, req.model, matrix, commune);
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
                        commune_nom: f
                            .commune
                            .as_ref()
                            .and_then(|c| data.commune_index(c))
                            .map(|i| data.communes[i].name.as_str()),
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
            let outside = origin_commune.is_some_and(|c| !data.in_scope(kind, c));
            let caveat = if outside {
                Some("non couvert : la liste de ce type de structure ne couvre pas ce département ; les structures les plus proches qu'elle connaît sont plus loin, d'autres peuvent exister plus près")
            } else if partial {
                Some("liste partielle : des structures de ce type peuvent manquer")
            } else {
                None
            };
            json!({
                "kind": kind,
                "label": kind.label_fr(),
                "liste_partielle": partial,
                "hors_couverture": outside,
                "caveat": caveat,
                "structures": structures,
            })
        })
        .collect();
    Ok(Answer::new(
        &st,
        json!({
            "from": { "lon": point.lon, "lat": point.lat, "commune": from },
            "model": req.model,
            "distance": "distance_m : géodésique (WGS84) ; road_km et car_min : estimation calibrée (road_estimate) ou table de temps (matrix)",
            "results": results,
        }),
    )
    .into_response())
}

/// A coverage answer: the analysis and whether the kind's list is partial.
#[derive(Serialize)]
struct CoverageAnswer {
    #[serde(flatten)]
    coverage: Coverage,
    liste_partielle: bool,
}

/// `GET /territories/{type}/{code}/coverage?kind=&within_km=|within_min=&model=`.
pub async fn coverage(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path((kind_path, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let perimeter = perimeter::perimeter_in_path(&service, &st, &kind_path, &code).await?;
    let territory = territory_in_path(&st, &kind_path, &code, perimeter.as_ref())?;
    let q = QueryPairs::parse(raw.as_deref());
    q.only(CoverageQuery::PARAMS)?;
    if let Some(used) = layers::used_list(&service, &st, &q, &headers).await? {
        return layers::coverage(&st, &q, territory, &used);
    }
    let req = CoverageQuery::parse(&q, &st, territory)?;
    let matrix = matrix_for(&st, req.model)?;
    let nearest = st
        .baselines
        .nearest(&st.engine, &req.kind, req.model, matrix);
    let coverage = st.engine.coverage(
        &req.territory,
        &req.kind,
        req.model,
        &nearest,
        &req.bands,
        req.underserved,
    );
    let liste_partielle = st
        .engine
        .data
        .facilities_of(&req.kind)
        .any(|f| f.partial_list);
    Ok(Answer::new(
        &st,
        CoverageAnswer {
            coverage,
            liste_partielle,
        },
    )
    .into_response())
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
    let perimeter = perimeter::perimeter_in_path(&service, &st, &kind_path, &code).await?;
    let territory = territory_in_path(&st, &kind_path, &code, perimeter.as_ref())?;
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
    let data = &st.engine.data;
    let mut kinds = BTreeMap::new();
    for (kind, nearest) in &st.baselines.nearest {
        let cov = st.engine.coverage(
            &territory,
            kind,
            request::DEFAULT_MODEL,
            nearest,
            &SUMMARY_BANDS,
            DEFAULT_THRESHOLD,
        );
        kinds.insert(
            kind.as_str().to_owned(),
            json!({
                "label": kind.label_fr(),
                "structures": data.facilities_of(kind).count(),
                "structures_in_territory": data.facilities_of(kind)
                    .filter(|f| f.commune.as_ref().is_some_and(|c| territory.communes.binary_search(c).is_ok()))
                    .count(),
                "liste_partielle": data.facilities_of(kind).any(|f| f.partial_list),
                "bands": cov.bands,
                "mean_distance_m": cov.mean_distance_m,
                "max_distance_m": cov.max_distance_m,
                "mean_car_min": cov.mean_car_min,
                "communes_beyond_10km": cov.underserved.len(),
                "communes_counted": cov.communes,
                "population_counted": cov.population,
                "population_unknown": cov.population_unknown,
                "population_no_structure": cov.population_no_structure,
                "communes_out_of_scope": cov.communes_out_of_scope,
                "population_out_of_scope": cov.population_out_of_scope,
            }),
        );
    }
    let accessibility: BTreeMap<&str, Aggregate> = st
        .baselines
        .profiles()
        .map(|(id, acc)| {
            let threshold = if id == "mg" {
                MG_SUMMARY_THRESHOLD
            } else {
                0.0
            };
            (id, st.engine.aggregate(acc, &territory, threshold))
        })
        .collect();
    Ok(Answer::new(
        &st,
        json!({
            "type": territory.kind,
            "code": territory.code,
            "nom": territory.name,
            "communes": members.len(),
            "population": population,
            "bbox": bbox,
            "model": request::DEFAULT_MODEL,
            "kinds": kinds,
            "accessibility": accessibility,
        }),
    )
    .into_response())
}

/// `GET /territories/{type}/{code}/zonage?values=drees|ours`: the communes of a
/// territory by APL class (ZIP-eligible, vivier, outside) against the official doctors'
/// zonage, with the agreement — the DREES APL 2021 of GPs aged 65 or less by default, or
/// our 2SFCA for GPs (`ours`).
pub async fn zonage(
    State(service): State<Arc<Service>>,
    Path((kind_path, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let ours = ZonageQuery::ours(&QueryPairs::parse(raw.as_deref()))?;
    let perimeter = perimeter::perimeter_in_path(&service, &st, &kind_path, &code).await?;
    let territory = territory_in_path(&st, &kind_path, &code, perimeter.as_ref())?;
    let values = if ours {
        ZonageValues::Accessibility(profile_run(&st, "values", "mg")?)
    } else {
        ZonageValues::DreesApl65
    };
    let review = st.engine.zonage_review(values, &territory);
    Ok(Answer::new(&st, review).into_response())
}

/// An explain answer: the terms, with the profile's steps and the supply and demand used.
#[derive(Serialize)]
struct ExplainAnswer<'a> {
    #[serde(flatten)]
    explain: Explain,
    steps: &'a [Step],
    supply: &'a SupplySource,
    demand_mode: crate::model::Demand,
}

/// The baseline run of a profile, or why it is not served.
fn profile_run<'a>(st: &'a AppState, name: &'static str, id: &str) -> ApiResult<&'a Accessibility> {
    profile(&st.profiles, name, id)?;
    match st.baselines.accessibility.get(id) {
        Some(Ok(acc)) => Ok(acc),
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("profile {id} cannot be computed on this data: {e}"),
        )),
        None => Err(ApiError::internal(format!("profile {id} has no baseline"))),
    }
}

/// `GET /communes/{code}/explain?profile=` (an accessibility profile: mg, ehpad, msp…).
pub async fn explain(
    State(service): State<Arc<Service>>,
    Path(code): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let (name, req) = ExplainQuery::parse(&QueryPairs::parse(raw.as_deref()))?;
    let commune = request::commune(&st.engine, "code", &code)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let acc = profile_run(&st, name, &req.profile)?;
    let explain = st.engine.explain(acc, commune);
    Ok(Answer::new(
        &st,
        ExplainAnswer {
            explain,
            steps: &acc.profile.steps,
            supply: &acc.supply,
            demand_mode: acc.demand,
        },
    )
    .into_response())
}

/// `POST /scenarios`: deltas of adding, removing or resizing structures (not stored).
pub async fn scenarios(
    State(service): State<Arc<Service>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|e| {
        let text = e.body_text();
        // The body stalled past CAREACCESS_BODY_TIMEOUT (tower-http's words).
        let status = if text.contains("designated timeout") {
            StatusCode::REQUEST_TIMEOUT
        } else {
            e.status()
        };
        ApiError::new(status, format!("scenario body: {text}"))
    })?;
    let st = service.state();
    let body = ScenarioBody::parse(&body)?;
    Ok(run_scenario(&service, st, body).await?.into_response())
}

/// Runs a scenario on the state given (the territory may be a saved perimeter).
pub async fn run_scenario(
    service: &Arc<Service>,
    st: Arc<AppState>,
    body: ScenarioBody,
) -> ApiResult<Answer<ScenarioResult>> {
    let perimeter = perimeter::perimeter(service, &st, body.territory.as_deref()).await?;
    let req = body.request(&st, perimeter.as_ref())?;
    matrix_for(&st, req.model)?;
    heavy(service, move |cancel| {
        let matrix = matrix_for(&st, req.model)?;
        let base = st
            .baselines
            .nearest(&st.engine, &req.kind, req.model, matrix);
        let mut r = st
            .engine
            .scenario(&req.kind, &req.changes, req.model, req.threshold, &base)
            .map_err(|e| match e {
                ScenarioError::BadCapacity(..) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
                }
                e => ApiError::bad_request(e.to_string()),
            })?;
        if let Some(t) = &req.territory {
            r = r.with_inside(t);
        }
        // Between the nearest and the accessibility deltas: nobody waits for the rest.
        cancel.check().map_err(|_| cancelled())?;
        let mut notes = Vec::new();
        let explicit = matches!(req.profile, request::ProfileChoice::Named(_));
        match req.profile.resolve(&st.profiles, &req.kind)? {
            Some(p) => {
                let acc =
                    profile_run(&st, "profile", &p.id).map_err(|e| bad("profile", e.detail))?;
                match st
                    .engine
                    .scenario_accessibility(&req.kind, &req.changes, acc, matrix)
                {
                    Ok(delta) => r.accessibility = Some(delta),
                    Err(e) if !explicit => notes.push(format!(
                        "variation d'accessibilité non calculée (profil {}) : {e}",
                        p.id
                    )),
                    Err(e) => return Err(bad("profile", e)),
                }
            }
            None if req.profile == request::ProfileChoice::Skip => {}
            None => notes.push(format!(
                "pas de profil d'accessibilité pour {} : variation d'accessibilité non calculée",
                req.kind
            )),
        }
        Ok(Answer::new(&st, r).with_notes(notes))
    })
    .await
}

/// `GET /siting?territory=&kind=&k=&within_km=|within_min=&model=`.
pub async fn siting(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    let perimeter = perimeter::perimeter(&service, &st, q.get("territory")?).await?;
    let req = SitingQuery::parse(&q, &st, perimeter.as_ref())?;
    matrix_for(&st, req.model)?;
    let answer = heavy(&service, move |cancel| {
        let matrix = matrix_for(&st, req.model)?;
        let base = st
            .baselines
            .nearest(&st.engine, &req.kind, req.model, matrix);
        let s = st
            .engine
            .siting_cancellable(
                &req.territory,
                &req.kind,
                req.k,
                req.threshold,
                req.model,
                &base,
                cancel,
            )
            .map_err(|_| cancelled())?;
        Ok(Answer::new(&st, s))
    })
    .await?;
    Ok(answer.into_response())
}

/// `GET /search?q=&type=commune,epci,…&limit=`: communes and territories by name.
pub async fn search(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = SearchQuery::parse(&QueryPairs::parse(raw.as_deref()))?;
    let found = st.names.search(&q.text, &q.types, q.limit);
    Ok(super::ogc::json_response(
        &json!({ "q": q.text, "results": found }),
        "application/json",
    ))
}

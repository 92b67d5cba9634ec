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
use crate::analysis::fca::explain::Explain;
use crate::analysis::fca::zonage::ZonageValues;
use crate::analysis::listed::FacilityChoice;
use crate::analysis::nearest::CommuneNearest;
use crate::analysis::request::{
    DEFAULT_THRESHOLD, MG_SUMMARY_THRESHOLD, Origin, SUMMARY_BANDS, profile,
};
use crate::analysis::scenario::{Before, ScenarioResult};
use crate::analysis::{TravelMatrix, request};
use crate::model::{Kind, Step, SupplySource, Territory};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::layer_analysis as layers;
use super::limits::{cancelled, heavy};
use super::params::{QueryPairs, bad};
use super::perimeter;
use super::query::{
    CoverageQuery, ExplainQuery, NearestQuery, SUMMARY_PARAMS, ScenarioBody, SearchQuery,
    SitingQuery, ZonageQuery, territory_in_path,
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
///
/// With `facilities=list|both&list=<id>`, the kinds the planner's list holds and the
/// accessibility profiles whose supply they are are computed with the list (each says
/// so in its `facilities`); the others are the build's.
pub async fn territory_summary(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path((kind_path, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    q.only(SUMMARY_PARAMS)?;
    let perimeter = perimeter::perimeter_in_path(&service, &st, &kind_path, &code).await?;
    let territory = territory_in_path(&st, &kind_path, &code, perimeter.as_ref())?;
    let used = layers::used_list(&service, &st, &q, &headers).await?;
    match used {
        None => summary(&st, territory, None),
        Some(used) => {
            let st2 = st.clone();
            heavy(&service, move |_| summary(&st2, territory, Some(&used))).await
        }
    }
}

/// The territory summary, with the structures chosen.
fn summary(
    st: &AppState,
    territory: Territory,
    used: Option<&layers::UsedList>,
) -> ApiResult<Response> {
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
    let engine = &st.engine;
    let in_territory = |c: Option<usize>| {
        c.is_some_and(|c| {
            territory
                .communes
                .binary_search(&data.communes[c].code)
                .is_ok()
        })
    };
    let mut kinds = BTreeMap::new();
    let none = Vec::new();
    let listed_kinds: Vec<&Kind> = used
        .map(|u| u.sites.iter().map(|s| &s.kind).collect())
        .unwrap_or_default();
    let summary_kinds: std::collections::BTreeSet<&Kind> = st
        .baselines
        .nearest
        .keys()
        .chain(listed_kinds.iter().copied())
        .collect();
    for kind in summary_kinds {
        let nearest = st.baselines.nearest.get(kind).unwrap_or(&none);
        let list = used.filter(|u| u.has(kind));
        let (cov, structures, in_terr) = match list {
            Some(u) => {
                let index = u.index(engine, kind);
                let official = if nearest.is_empty() {
                    engine.nearest_per_commune(kind, request::DEFAULT_MODEL, None)
                } else {
                    nearest.clone()
                };
                let cov = engine.coverage_with_list(
                    &territory,
                    kind,
                    request::DEFAULT_MODEL,
                    &official,
                    &index,
                    u.choice,
                    &SUMMARY_BANDS,
                    DEFAULT_THRESHOLD,
                );
                let official_too = u.choice == FacilityChoice::Both;
                let official_count = |inside: bool| {
                    data.facilities_of(kind)
                        .filter(|f| {
                            !inside
                                || f.commune
                                    .as_ref()
                                    .is_some_and(|c| territory.communes.binary_search(c).is_ok())
                        })
                        .count()
                };
                (
                    cov,
                    index.sites.len()
                        + if official_too {
                            official_count(false)
                        } else {
                            0
                        },
                    index
                        .sites
                        .iter()
                        .filter(|s| in_territory(s.commune))
                        .count()
                        + if official_too {
                            official_count(true)
                        } else {
                            0
                        },
                )
            }
            None => (
                engine.coverage(
                    &territory,
                    kind,
                    request::DEFAULT_MODEL,
                    nearest,
                    &SUMMARY_BANDS,
                    DEFAULT_THRESHOLD,
                ),
                data.facilities_of(kind).count(),
                data.facilities_of(kind)
                    .filter(|f| {
                        f.commune
                            .as_ref()
                            .is_some_and(|c| territory.communes.binary_search(c).is_ok())
                    })
                    .count(),
            ),
        };
        kinds.insert(
            kind.as_str().to_owned(),
            json!({
                "label": kind.label_fr(),
                "facilities": list.map_or(FacilityChoice::Official, |u| u.choice),
                "structures": structures,
                "structures_in_territory": in_terr,
                "liste_partielle": list.is_none_or(|u| u.choice != FacilityChoice::List)
                    && data.facilities_of(kind).any(|f| f.partial_list),
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
    let mut notes = Vec::new();
    let mut accessibility = BTreeMap::new();
    for (id, acc) in st.baselines.profiles() {
        let threshold = if id == "mg" {
            MG_SUMMARY_THRESHOLD
        } else {
            0.0
        };
        let list = match (&acc.supply, used) {
            (SupplySource::Facilities { kind, .. }, Some(u)) if u.has(kind) => Some((u, kind)),
            _ => None,
        };
        let entry = match list {
            None => serde_json::to_value(engine.aggregate(acc, &territory, threshold)),
            Some((u, kind)) => {
                let index = u.index(engine, kind);
                let matrix = data.travel_matrix.as_ref();
                match engine.accessibility_with_list(
                    &acc.profile,
                    None,
                    None,
                    acc.model,
                    matrix,
                    Some((&index, u.choice)),
                ) {
                    Ok(with) => serde_json::to_value(
                        engine.aggregate(&with, &territory, threshold),
                    )
                    .map(|mut v| {
                        v["facilities"] = json!(u.choice);
                        v
                    }),
                    Err(e) => {
                        notes.push(format!(
                            "accessibilité {id} non calculée avec la liste : {e}"
                        ));
                        continue;
                    }
                }
            }
        };
        accessibility.insert(id, entry.map_err(ApiError::internal)?);
    }
    if let Some(u) = used {
        let (members, _) = engine.members(&territory);
        let scope: std::collections::BTreeSet<usize> = u.scope.iter().copied().collect();
        if members.iter().any(|c| !scope.contains(c)) {
            notes.push(u.scope_note());
        }
    }
    Ok(Answer::new(
        st,
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
            "facilities": used.map(layers::UsedList::describe),
        }),
    )
    .with_notes(notes)
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
    #[serde(skip_serializing_if = "Option::is_none")]
    facilities: Option<Value>,
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
///
/// With `facilities=list|both&list=<id>` and a profile whose supply is a kind the
/// planner's list holds, the profile is run with the list (its sites have `liste:` ids).
pub async fn explain(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    let (name, req) = ExplainQuery::parse(&q)?;
    let commune = request::commune(&st.engine, "code", &code)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let used = layers::used_list(&service, &st, &q, &headers).await?;
    let Some(used) = used else {
        let acc = profile_run(&st, name, &req.profile)?;
        return Ok(explain_answer(&st, acc, commune, None));
    };
    let SupplySource::Facilities { kind, .. } =
        profile(&st.profiles, name, &req.profile)?.supply.clone()
    else {
        return Err(bad(
            "list",
            format!(
                "profile {} takes its supply from a commune indicator, not from structures: a list does not change it",
                req.profile
            ),
        ));
    };
    if !used.has(&kind) {
        return Err(bad(
            "list",
            format!(
                "holds no structure of kind {kind}, the supply of profile {}",
                req.profile
            ),
        ));
    }
    let st2 = st.clone();
    heavy(&service, move |_| {
        let acc = profile_run(&st2, name, &req.profile)?;
        let engine = &st2.engine;
        let index = used.index(engine, &kind);
        let with = engine
            .accessibility_with_list(
                &acc.profile,
                None,
                None,
                acc.model,
                engine.data.travel_matrix.as_ref(),
                Some((&index, used.choice)),
            )
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
        Ok(explain_answer(&st2, &with, commune, Some(&used)))
    })
    .await
}

fn explain_answer(
    st: &AppState,
    acc: &Accessibility,
    commune: usize,
    used: Option<&layers::UsedList>,
) -> Response {
    let explain = st.engine.explain(acc, commune);
    let mut answer = Answer::new(
        st,
        ExplainAnswer {
            explain,
            steps: &acc.profile.steps,
            supply: &acc.supply,
            demand_mode: acc.demand,
            facilities: used.map(layers::UsedList::describe),
        },
    );
    if let Some(u) = used
        && !u.scope.contains(&commune)
    {
        answer = answer.with_notes([u.scope_note()]);
    }
    answer.into_response()
}

/// `POST /scenarios`: deltas of adding, removing or resizing structures (not stored).
pub async fn scenarios(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
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
    Ok(run_scenario(&service, st, body, &headers)
        .await?
        .into_response())
}

/// An analysis's answer and, with a planner's list, the structures it used.
#[derive(Serialize)]
pub struct WithFacilities<T: Serialize> {
    #[serde(flatten)]
    pub body: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facilities: Option<Value>,
}

/// Runs a scenario on the state given (the territory may be a saved perimeter, the
/// structures a planner's list: `headers` carry the token a private one needs).
pub async fn run_scenario(
    service: &Arc<Service>,
    st: Arc<AppState>,
    body: ScenarioBody,
    headers: &HeaderMap,
) -> ApiResult<Answer<WithFacilities<ScenarioResult>>> {
    let perimeter = perimeter::perimeter(service, &st, body.territory.as_deref()).await?;
    let used =
        layers::load_list(service, &st, body.facilities, body.list.as_deref(), headers).await?;
    let listed = used
        .as_ref()
        .and_then(|u| super::layers::kind_of(&st, &body.kind).filter(|k| u.has(k)));
    let req = body.request(&st, perimeter.as_ref(), listed)?;
    if used.is_some() && req.model == DistanceModel::Matrix {
        return Err(bad(
            "model",
            "is matrix: a planner's list is measured with straight or road_estimate",
        ));
    }
    matrix_for(&st, req.model)?;
    heavy(service, move |cancel| {
        let matrix = matrix_for(&st, req.model)?;
        let engine = &st.engine;
        let official = st.baselines.nearest(engine, &req.kind, req.model, matrix);
        // With a list: every commune's nearest with the structures chosen.
        let all: Vec<usize> = (0..engine.data.communes.len()).collect();
        let with_list = used
            .as_ref()
            .map(|u| u.base(engine, &req.kind, &official, &all));
        let before = before(&official, with_list.as_ref());
        let list = with_list.as_ref().map(|b| (&b.index, b.choice));
        let mut r = engine
            .scenario_from(&req.kind, &req.changes, req.model, req.threshold, before)
            .map_err(scenario_error)?;
        if let Some(t) = &req.territory {
            r = r.with_inside(t);
        }
        // Between the nearest and the accessibility deltas: nobody waits for the rest.
        cancel.check().map_err(|_| cancelled())?;
        let mut notes = Vec::new();
        if let Some(u) = &used {
            if !u.has(&req.kind) {
                notes.push(format!(
                    "la liste « {} » ne contient aucune structure de type {}",
                    u.layer.name, req.kind
                ));
            }
            if r.population_out_of_scope > 0 {
                notes.push(u.scope_note());
            }
        }
        let explicit = matches!(req.profile, request::ProfileChoice::Named(_));
        match req.profile.resolve(&st.profiles, &req.kind)? {
            Some(p) => {
                let baseline =
                    profile_run(&st, "profile", &p.id).map_err(|e| bad("profile", e.detail))?;
                // With a list, the baseline is the same profile run with the list.
                let with_list = list.map(|l| {
                    engine.accessibility_with_list(
                        &baseline.profile,
                        None,
                        None,
                        baseline.model,
                        matrix,
                        Some(l),
                    )
                });
                let delta = match &with_list {
                    Some(Ok(acc)) => engine
                        .scenario_accessibility_with_list(
                            &req.kind,
                            &req.changes,
                            acc,
                            matrix,
                            list,
                        )
                        .map_err(|e| e.to_string()),
                    Some(Err(e)) => Err(e.to_string()),
                    None => engine
                        .scenario_accessibility(&req.kind, &req.changes, baseline, matrix)
                        .map_err(|e| e.to_string()),
                };
                match delta {
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
        let answer = WithFacilities {
            body: r,
            facilities: used.as_ref().map(layers::UsedList::describe),
        };
        Ok(Answer::new(&st, answer).with_notes(notes))
    })
    .await
}

/// What a scenario or a siting starts from: the official nearest, or with a list.
fn before<'a>(official: &'a [CommuneNearest], list: Option<&'a layers::ListBase>) -> Before<'a> {
    list.map_or(
        Before {
            nearest: official,
            list: None,
        },
        layers::ListBase::before,
    )
}

/// A scenario's error as an answer: an impossible capacity is a 422, the rest 400.
fn scenario_error(e: ScenarioError) -> ApiError {
    match e {
        ScenarioError::BadCapacity(..) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        e => ApiError::bad_request(e.to_string()),
    }
}

/// `GET /siting?territory=&kind=&k=&within_km=|within_min=&model=&facilities=&list=`.
pub async fn siting(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let st = service.state();
    let q = QueryPairs::parse(raw.as_deref());
    let perimeter = perimeter::perimeter(&service, &st, q.get("territory")?).await?;
    let used = layers::used_list(&service, &st, &q, &headers).await?;
    let listed = match (&used, q.get("kind")?) {
        (Some(u), Some(k)) => super::layers::kind_of(&st, k).filter(|k| u.has(k)),
        _ => None,
    };
    let req = SitingQuery::parse(&q, &st, perimeter.as_ref(), listed)?;
    if used.is_some() && req.model == DistanceModel::Matrix {
        return Err(bad(
            "model",
            "is matrix: a planner's list is measured with straight or road_estimate",
        ));
    }
    matrix_for(&st, req.model)?;
    let answer = heavy(&service, move |cancel| {
        let matrix = matrix_for(&st, req.model)?;
        let engine = &st.engine;
        let official = st.baselines.nearest(engine, &req.kind, req.model, matrix);
        let (members, _) = engine.members(&req.territory);
        let with_list = used
            .as_ref()
            .map(|u| u.base(engine, &req.kind, &official, &members));
        let before = before(&official, with_list.as_ref());
        let s = engine
            .siting_cancellable(
                &req.territory,
                &req.kind,
                req.k,
                req.threshold,
                req.model,
                before,
                cancel,
            )
            .map_err(|_| cancelled())?;
        let mut notes = Vec::new();
        if let Some(u) = &used
            && s.communes_out_of_scope > 0
        {
            notes.push(u.scope_note());
        }
        Ok(Answer::new(
            &st,
            WithFacilities {
                body: s,
                facilities: used.as_ref().map(layers::UsedList::describe),
            },
        )
        .with_notes(notes))
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

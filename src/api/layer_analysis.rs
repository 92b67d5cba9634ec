//! A planner's own structure list in the analyses: `facilities=official|list|both` and
//! `list=<id>` of `/nearest` and territory coverage. The list is read from the store
//! here and handed to the pure analysis ([`crate::analysis::listed`]) as plain data;
//! answers say which structures they used and, outside the list's scope, that the list
//! does not cover the commune.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::analysis::Engine;
use crate::analysis::listed::{FacilityChoice, ListIndex, ListSite, Nearest};
use crate::analysis::nearest::CommuneNearest;
use crate::analysis::request::{CoverageRequest, NearestRequest, Origin};
use crate::analysis::scenario::Before;
use crate::db::Layer;
use crate::geodesy::GeoPoint;
use crate::model::{InseeCode, Kind};

use super::Service;
use super::auth::db;
use super::error::{ApiError, ApiResult};
use super::layers::{MAX_ROWS, kind_of, legend, visible};
use super::params::{self, QueryPairs, bad};
use super::response::Answer;
use super::state::AppState;

/// A list an analysis uses: its metadata, its rows for the analyses, its rows as
/// stored (by `ListSite::row`), and its scope as commune indices.
pub struct UsedList {
    pub choice: FacilityChoice,
    pub layer: Layer,
    pub sites: Vec<ListSite>,
    pub rows: Vec<Value>,
    pub scope: Vec<usize>,
}

impl UsedList {
    /// What an answer says of the data it used.
    pub fn describe(&self) -> Value {
        json!({
            "used": self.choice,
            "list": {
                "id": self.layer.id,
                "name": self.layer.name,
                "author": self.layer.owner_name,
                "created": self.layer.created_at,
                "updated": self.layer.updated_at,
                "scope": self.layer.scope,
                "legend": legend(&self.layer),
            }
        })
    }

    /// The list's structures of `kind`, indexed for the analyses.
    pub fn index(&self, engine: &Engine, kind: &Kind) -> ListIndex {
        ListIndex::new(engine, kind, &self.sites, &self.scope)
    }

    /// The nearest of each of `communes` with the structures chosen, the official ones
    /// being `official` (the baseline): what a scenario or a siting starts from.
    pub fn base(
        &self,
        engine: &Engine,
        kind: &Kind,
        official: &[CommuneNearest],
        communes: &[usize],
    ) -> ListBase {
        let index = self.index(engine, kind);
        let (nearest, listed) =
            engine.nearest_per_commune_with_list(kind, official, &index, self.choice, communes);
        ListBase {
            index,
            choice: self.choice,
            nearest,
            listed,
        }
    }

    /// Whether the list holds structures of `kind`.
    pub fn has(&self, kind: &Kind) -> bool {
        self.sites.iter().any(|s| &s.kind == kind)
    }

    /// The note of an answer whose communes outside the list's territory are left out.
    pub fn scope_note(&self) -> String {
        outside_caveat(self)
    }
}

/// Every commune's nearest with a list ([`UsedList::base`]).
pub struct ListBase {
    pub index: ListIndex,
    pub choice: FacilityChoice,
    nearest: Vec<CommuneNearest>,
    listed: Vec<Option<usize>>,
}

impl ListBase {
    pub fn before(&self) -> Before<'_> {
        Before {
            nearest: &self.nearest,
            list: Some((&self.index, self.choice, &self.listed)),
        }
    }
}

/// `facilities` and `list` of an analysis query: `None` for the official structures.
pub async fn used_list(
    service: &Service,
    st: &AppState,
    q: &QueryPairs,
    headers: &HeaderMap,
) -> ApiResult<Option<UsedList>> {
    let choice = q.parsed("facilities", |name, v| {
        v.parse::<FacilityChoice>().map_err(|e| bad(name, e))
    })?;
    load_list(service, st, choice, q.get("list")?, headers).await
}

/// The list `facilities` and `list` name (of a query or a scenario body): `None` for
/// the official structures. A private list needs its author's (or an admin's) token.
pub async fn load_list(
    service: &Service,
    st: &AppState,
    choice: Option<FacilityChoice>,
    id: Option<&str>,
    headers: &HeaderMap,
) -> ApiResult<Option<UsedList>> {
    let choice = choice.unwrap_or(FacilityChoice::Official);
    let id = match (choice, id) {
        (FacilityChoice::Official, None) => return Ok(None),
        (FacilityChoice::Official, Some(_)) => {
            return Err(bad(
                "list",
                "is given with facilities=official: say facilities=list or facilities=both",
            ));
        }
        (_, None) => {
            return Err(bad(
                "facilities",
                format!("is {choice}: give the list's id in `list`"),
            ));
        }
        (_, Some(id)) => id,
    };
    let layer = visible(service, headers, id)
        .await
        .map_err(|e| bad("list", e.detail))?;
    let rows = db(service)?.layer_items(id, MAX_ROWS as i64, 0).await?;
    let data = &st.engine.data;
    let sites = rows
        .iter()
        .enumerate()
        .filter_map(|(row, v)| {
            let lon = v["lon"].as_f64()?;
            let lat = v["lat"].as_f64()?;
            Some(ListSite {
                row,
                id: format!("liste:{}:{}", layer.id, v["line"]),
                name: v["name"].as_str()?.to_owned(),
                kind: v["kind"].as_str()?.parse().ok()?,
                point: GeoPoint::new(lon, lat),
                commune: v["commune"]
                    .as_str()
                    .and_then(|c| InseeCode::parse(c).ok())
                    .and_then(|c| data.commune_index(&c)),
                capacity: v["capacity"].as_f64(),
            })
        })
        .collect();
    let scope = layer
        .scope_communes
        .iter()
        .filter_map(|c| InseeCode::parse(c).ok())
        .filter_map(|c| data.commune_index(&c))
        .collect();
    Ok(Some(UsedList {
        choice,
        layer,
        sites,
        rows,
        scope,
    }))
}

/// The caveat of a commune outside the list's scope.
fn outside_caveat(used: &UsedList) -> String {
    match used.choice {
        FacilityChoice::List => format!(
            "non couvert par la liste : « {} » ne couvre que {} ; les structures les plus proches qu'elle connaît sont plus loin, d'autres peuvent exister plus près",
            used.layer.name, used.layer.scope
        ),
        _ => format!(
            "hors du périmètre de la liste « {} » ({}) : seules les structures officielles y sont comptées comme complètes",
            used.layer.name, used.layer.scope
        ),
    }
}

/// `/nearest` with a list: the official structures, the list's, or both, each
/// structure saying where it comes from.
pub fn nearest(st: &AppState, q: &QueryPairs, used: &UsedList) -> ApiResult<Response> {
    let req = NearestRequest::new(
        &st.engine,
        (
            q.parsed("lon", params::number)?,
            q.parsed("lat", params::number)?,
        ),
        q.get("commune")?,
        None,
        q.parsed("k", params::integer)?,
        q.parsed("model", params::model)?,
    )?;
    if req.model == crate::analysis::DistanceModel::Matrix {
        return Err(bad(
            "model",
            "is matrix: a planner's list is measured with straight or road_estimate",
        ));
    }
    let engine = &st.engine;
    let data = &engine.data;
    let (point, from, commune) = match req.origin {
        Origin::Point(p) => (p, Value::Null, None),
        Origin::Commune(c) => {
            let com = &data.communes[c];
            let p = engine.commune_points[c]
                .ok_or_else(|| bad("commune", format!("{} has no reference point", com.code)))?;
            (
                p,
                json!({"code": com.code, "nom": com.name, "population": com.population,
                       "departement": com.departement}),
                Some(c),
            )
        }
    };
    let kinds: Vec<Kind> = match q.get("kind")? {
        Some(k) => vec![kind_of(st, k).ok_or_else(|| {
            bad(
                "kind",
                format!("{k:?} is not a kind of the data or the list"),
            )
        })?],
        None => {
            let mut all: Vec<Kind> = if used.choice == FacilityChoice::List {
                Vec::new()
            } else {
                engine.kinds.keys().cloned().collect()
            };
            all.extend(used.sites.iter().map(|s| s.kind.clone()));
            all.sort();
            all.dedup();
            all
        }
    };
    let origin_commune = commune.or_else(|| engine.commune_at(&point));
    let results: Vec<Value> = kinds
        .iter()
        .map(|kind| {
            let list = used.index(engine, kind);
            let found = engine.nearest_with_list(&point, kind, req.k, &list, used.choice, commune);
            let structures: Vec<Value> = found
                .iter()
                .enumerate()
                .map(|(rank, r)| match r.site {
                    Nearest::Official(i) => {
                        let f = &data.facilities[i];
                        json!({
                            "rank": rank + 1, "id": f.id, "nom": f.name, "kind": f.kind,
                            "adresse": f.address,
                            "commune": f.commune.as_ref().map(InseeCode::as_str),
                            "commune_nom": f.commune.as_ref().and_then(|c| data.commune(c)).map(|c| c.name.as_str()),
                            "telephone": f.phone, "capacite": f.capacity,
                            "lon": f.position.x(), "lat": f.position.y(),
                            "position": f.position_quality.as_str(), "source": f.source,
                            "liste_partielle": f.partial_list, "liste": false,
                            "distance_m": r.trip.distance_m, "road_km": r.trip.road_km, "car_min": r.trip.car_min,
                        })
                    }
                    Nearest::Listed(i) => {
                        let s = &list.sites[i];
                        let row = &used.rows[s.row];
                        json!({
                            "rank": rank + 1, "id": s.id, "nom": s.name, "kind": s.kind,
                            "adresse": row["address"], "commune": row["commune"],
                            "commune_nom": row["commune_nom"], "telephone": row["phone"],
                            "capacite": row["capacity"], "lon": row["lon"], "lat": row["lat"],
                            "position": row["position"],
                            "source": format!("liste:{}", used.layer.id),
                            "liste_partielle": false, "liste": true,
                            "distance_m": r.trip.distance_m, "road_km": r.trip.road_km, "car_min": r.trip.car_min,
                        })
                    }
                })
                .collect();
            let outside_list = origin_commune.is_some_and(|c| !list.covers(c));
            let outside = origin_commune.is_some_and(|c| !engine.speaks(kind, &list, used.choice, c));
            let official_partial = used.choice != FacilityChoice::List
                && data.facilities_of(kind).any(|f| f.partial_list);
            let caveat = if outside_list {
                Some(outside_caveat(used))
            } else if official_partial {
                Some("liste officielle partielle : des structures de ce type peuvent manquer hors de la liste fournie".to_owned())
            } else {
                None
            };
            json!({
                "kind": kind,
                "label": kind.label_fr(),
                "liste_partielle": official_partial,
                "hors_couverture": outside,
                "hors_perimetre_liste": outside_list,
                "caveat": caveat,
                "structures": structures,
            })
        })
        .collect();
    Ok(Answer::new(
        st,
        json!({
            "from": { "lon": point.lon, "lat": point.lat, "commune": from },
            "model": req.model,
            "facilities": used.describe(),
            "distance": "distance_m : géodésique (WGS84) ; road_km et car_min : estimation calibrée (road_estimate)",
            "results": results,
        }),
    )
    .into_response())
}

/// Territory coverage with a list (see [`crate::analysis::listed`]).
pub fn coverage(
    st: &AppState,
    q: &QueryPairs,
    territory: crate::model::Territory,
    used: &UsedList,
) -> ApiResult<Response> {
    let written = q
        .get("kind")?
        .ok_or_else(|| bad("kind", "is required (e.g. kind=msp)"))?;
    let kind = kind_of(st, written).ok_or_else(|| {
        bad(
            "kind",
            format!("{written:?} is not a kind of the data or the list"),
        )
    })?;
    let within = (
        q.parsed("within_km", params::number)?,
        q.parsed("within_min", params::number)?,
    );
    let req =
        CoverageRequest::for_kind(territory, kind, q.parsed("model", params::model)?, within)?;
    if req.model == crate::analysis::DistanceModel::Matrix {
        return Err(bad(
            "model",
            "is matrix: a planner's list is measured with straight or road_estimate",
        ));
    }
    let engine = &st.engine;
    let list = used.index(engine, &req.kind);
    let none = Vec::new();
    let official = st.baselines.nearest.get(&req.kind).unwrap_or(&none);
    let official: Vec<_> = if official.is_empty() {
        // A kind the build lacks: no official structure anywhere.
        (0..engine.data.communes.len())
            .map(|c| crate::analysis::nearest::CommuneNearest {
                commune: c,
                facility: None,
                trip: None,
                missing: Some(crate::analysis::nearest::NoNearest::NoneByRoad),
            })
            .collect()
    } else {
        official.clone()
    };
    let coverage = engine.coverage_with_list(
        &req.territory,
        &req.kind,
        req.model,
        &official,
        &list,
        used.choice,
        &req.bands,
        req.underserved,
    );
    let (members, _) = engine.members(&req.territory);
    let outside: Vec<&str> = members
        .iter()
        .filter(|&&c| !list.covers(c))
        .map(|&c| engine.data.communes[c].code.as_str())
        .collect();
    let mut notes = Vec::new();
    if !outside.is_empty() {
        notes.push(format!(
            "{} : {} commune(s) du territoire hors du périmètre de la liste ({})",
            outside_caveat(used),
            outside.len(),
            outside.join(", ")
        ));
    }
    let in_list: BTreeMap<&str, usize> = list.sites.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.kind.as_str()).or_default() += 1;
        m
    });
    let mut body = serde_json::to_value(&coverage).map_err(ApiError::internal)?;
    body["facilities"] = used.describe();
    body["facilities"]["list"]["structures_of_kind"] = json!(in_list.get(req.kind.as_str()));
    body["liste_partielle"] = json!(
        used.choice != FacilityChoice::List
            && engine.data.facilities_of(&req.kind).any(|f| f.partial_list)
    );
    body["communes_outside_list_scope"] = json!(outside.len());
    Ok(Answer::new(st, body).with_notes(notes).into_response())
}

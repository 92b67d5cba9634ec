//! The OGC collection `perimeters`: the perimeters users saved ([`crate::db`]), as
//! GeoJSON features next to the build's collections in `/collections`.
//!
//! Unlike the build's collections it is read from the store at each request: it changes
//! whenever a planner saves, renames or deletes a perimeter, so it carries no build ETag.
//! Without a token it holds the public perimeters only; with one, the caller's own too
//! (an admin's: all). A wrong token is a 401, never read as « no token ».
//!
//! Geometry: the polygon the planner drew when there is one — it is the perimeter they
//! meant, and the communes were taken from it —, else the union of the member communes'
//! outlines (as the build's `cls` collection does), so that an EPCI-like list looks like
//! an EPCI in a GIS. A convex hull would claim land outside the perimeter. Both in CRS84,
//! rounded to 1e-7° and wound as RFC 7946 asks.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::db::{Caller, Perimeter};
use crate::model::InseeCode;
use crate::store::layout::COMMUNES_LAYER;

use super::Service;
use super::auth::db;
use super::error::{ApiError, ApiResult};
use super::features::published;
use super::limits::{cancelled, heavy};
use super::ogc::{base_url, collections_json, json_response, link};
use super::params::{self, Param, QueryPairs};
use super::saved::optional_caller;
use super::state::AppState;

/// Id of the collection (no build layer has this name).
pub const COLLECTION_ID: &str = "perimeters";
/// Default page size of the items.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page: each list perimeter's outline is a union computed on request.
pub const MAX_LIMIT: usize = 1000;

fn format_schema(_: &params::Served) -> Value {
    json!({ "type": "string", "enum": ["json", "geojson"], "default": "json" })
}

/// Parameters of `/collections/perimeters/items`.
pub const ITEMS_PARAMS: &[Param] = &[
    Param {
        name: "limit",
        description: "Features per page (default 100)",
        required: false,
        schema: |_| json!({ "type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT }),
    },
    Param {
        name: "offset",
        description: "Features skipped before the page",
        required: false,
        schema: |_| json!({ "type": "integer", "minimum": 0, "default": 0 }),
    },
    Param {
        name: "f",
        description: "Format: GeoJSON only (json)",
        required: false,
        schema: format_schema,
    },
];

/// Parameters of `/collections/perimeters/items/{id}`.
pub const ITEM_PARAMS: &[Param] = &[Param {
    name: "f",
    description: "Format: GeoJSON only (json)",
    required: false,
    schema: format_schema,
}];

/// `f`, if given, must be GeoJSON: the other formats of the build's collections are
/// files written from its tables, which this collection does not have.
fn check_format(q: &QueryPairs) -> ApiResult<()> {
    match q.get("f")? {
        None | Some("json" | "geojson") => Ok(()),
        Some(other) => Err(params::bad(
            "f",
            format!(
                "must be json: the collection of user perimeters is served as GeoJSON only, not {other:?}"
            ),
        )),
    }
}

fn collection_json(base: &str, count: Option<usize>) -> Value {
    let url = format!("{base}/collections/{COLLECTION_ID}");
    json!({
        "id": COLLECTION_ID,
        "title": "Périmètres des utilisateurs",
        "description": "Périmètres enregistrés par les planificateurs (liste de communes ou polygone dessiné sur la carte), utilisables comme territoire `perimeter:<id>`. Lue dans la base à chaque requête : les périmètres publics, et avec un jeton ceux de son auteur. Géométrie : le polygone dessiné, sinon l'union des contours des communes membres.",
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "storageCrs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "numberOfFeatures": count,
        "links": [
            link(url.clone(), "self", "application/json", "Cette collection"),
            link(format!("{url}/items"), "items", "application/geo+json", "Objets (GeoJSON)"),
        ],
        "properties": [
            { "name": "name", "type": "string", "description": "Nom donné par son auteur" },
            { "name": "description", "type": "string", "description": "Description" },
            { "name": "author", "type": "string", "description": "Nom du jeton de l'auteur" },
            { "name": "created", "type": "string", "description": "Création, RFC 3339 UTC" },
            { "name": "updated", "type": "string", "description": "Dernière modification, RFC 3339 UTC" },
            { "name": "public", "type": "boolean", "description": "Listé pour tous (sinon pour son auteur seulement)" },
            { "name": "territory", "type": "string", "description": "Le territoire à passer aux analyses : perimeter:<id>" },
            { "name": "communes", "type": "integer", "description": "Communes membres présentes dans les données servies" },
            { "name": "communes_absentes", "type": "integer", "description": "Communes enregistrées absentes des données servies (fusionnées depuis), non comptées" },
            { "name": "population", "type": "integer", "description": "Population municipale des communes membres présentes" },
            { "name": "geometry_source", "type": "string", "description": "dessin (le polygone dessiné) ou union_des_communes (union des contours des communes membres)" },
        ],
        "careaccess": { "source": "base des travaux enregistrés (pas le build)", "dynamic": true },
    })
}

/// `GET /collections`: the build's collections and this one.
pub async fn collections(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let base = base_url(&service, &headers);
    let mut v = collections_json(&base, &st);
    // Without a store the collection is not offered (its items would be a 503). With a
    // store that is down, the catalogue of the public data is still answered, the
    // perimeters' collection listed without its count.
    if service.db.is_some() {
        let count = match visible_count(&service, &headers).await {
            Ok(n) => Some(n),
            Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!("/collections without the perimeters' count: {}", e.detail);
                None
            }
            Err(e) => return Err(e),
        };
        if let Some(list) = v["collections"].as_array_mut() {
            list.push(collection_json(&base, count));
        }
    }
    Ok(json_response(&v, "application/json"))
}

/// How many perimeters the caller may see.
async fn visible_count(service: &Arc<Service>, headers: &HeaderMap) -> ApiResult<usize> {
    let caller = optional_caller(service, headers).await?;
    Ok(db(service)?
        .visible_perimeters(caller.as_ref())
        .await?
        .len())
}

/// `GET /collections/perimeters`.
pub async fn collection(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let count = visible_count(&service, &headers).await?;
    let base = base_url(&service, &headers);
    Ok(json_response(
        &collection_json(&base, Some(count)),
        "application/json",
    ))
}

/// The outline of a list of communes: the union of their polygons in the build's
/// commune layer (`None` when none has one).
fn union_of_communes(st: &AppState, members: &[usize]) -> Option<geo::Geometry<f64>> {
    let layer = st.collection(COMMUNES_LAYER)?;
    let data = &st.engine.data;
    let polygons: Vec<&geo::Polygon<f64>> = members
        .iter()
        .filter_map(|&i| layer.item(data.communes[i].code.as_str()))
        .filter_map(|item| item.geometry.as_ref())
        .flat_map(|g| match g {
            geo::Geometry::Polygon(p) => std::slice::from_ref(p),
            geo::Geometry::MultiPolygon(m) => m.0.as_slice(),
            _ => &[],
        })
        .collect();
    if polygons.is_empty() {
        return None;
    }
    Some(geo::Geometry::MultiPolygon(geo::unary_union(polygons)))
}

/// One perimeter as a GeoJSON feature on the build served.
fn feature(st: &AppState, base: &str, p: &Perimeter) -> ApiResult<Value> {
    let data = &st.engine.data;
    let members: Vec<usize> = p
        .communes
        .iter()
        .filter_map(|c| InseeCode::parse(c).ok())
        .filter_map(|c| data.commune_index(&c))
        .collect();
    let population: u64 = members
        .iter()
        .map(|&i| u64::from(data.communes[i].population))
        .sum();
    let (geometry, source) = match &p.geometry {
        Some(g) => {
            let drawn: Result<geo::Geometry<f64>, _> =
                serde_json::from_value::<geojson::Geometry>(g.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|g| g.try_into().map_err(|e: geojson::Error| e.to_string()));
            match drawn {
                Ok(g) => (Some(published(&g)), "dessin"),
                // A stored polygon always parsed when it was saved: say it if it no longer does.
                Err(e) => return Err(ApiError::internal(format!("perimeter {}: {e}", p.id))),
            }
        }
        None => (
            union_of_communes(st, &members).map(|g| published(&g)),
            "union_des_communes",
        ),
    };
    let geometry = match geometry {
        Some(g) => serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(&g)))
            .map_err(ApiError::internal)?,
        None => Value::Null,
    };
    let url = format!("{base}/collections/{COLLECTION_ID}/items/{}", p.id);
    Ok(json!({
        "type": "Feature",
        "id": p.id,
        "geometry": geometry,
        "properties": {
            "name": p.name,
            "description": p.description,
            "author": p.owner_name,
            "created": p.created_at,
            "updated": p.updated_at,
            "public": p.public,
            "territory": format!("perimeter:{}", p.id),
            "communes": members.len(),
            "communes_absentes": p.communes.len() - members.len(),
            "population": population,
            "geometry_source": source,
        },
        "links": [
            link(url, "self", "application/geo+json", "Cet objet"),
            link(format!("{base}/perimeters/{}", p.id), "alternate", "application/json", "Le périmètre (liste des communes)"),
            link(format!("{base}/territories/perimeter/{}", p.id), "related", "application/json", "Résumé du territoire"),
        ],
    }))
}

/// `GET /collections/perimeters/items?limit=&offset=`: the visible perimeters, newest
/// first; outlines are made in the heavy pool.
pub async fn items(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    q.only(ITEMS_PARAMS)?;
    check_format(&q)?;
    let limit = q
        .parsed("limit", |_, v| params::count("limit", v, 0, MAX_LIMIT))?
        .unwrap_or(DEFAULT_LIMIT);
    let offset = q.parsed("offset", params::offset)?.unwrap_or(0);
    let caller: Option<Caller> = optional_caller(&service, &headers).await?;
    let all = db(&service)?.visible_perimeters(caller.as_ref()).await?;
    let matched = all.len();
    let page: Vec<Perimeter> = all.into_iter().skip(offset).take(limit).collect();
    let base = base_url(&service, &headers);
    let url = format!("{base}/collections/{COLLECTION_ID}/items");
    let mut links = vec![
        link(
            format!("{url}?limit={limit}&offset={offset}"),
            "self",
            "application/geo+json",
            "Cette page",
        ),
        link(
            format!("{base}/collections/{COLLECTION_ID}"),
            "collection",
            "application/json",
            "Périmètres des utilisateurs",
        ),
    ];
    if offset + page.len() < matched && limit > 0 {
        links.push(link(
            format!("{url}?limit={limit}&offset={}", offset + page.len()),
            "next",
            "application/geo+json",
            "Page suivante",
        ));
    }
    if offset > 0 {
        links.push(link(
            format!(
                "{url}?limit={limit}&offset={}",
                offset.saturating_sub(limit)
            ),
            "prev",
            "application/geo+json",
            "Page précédente",
        ));
    }
    let st = service.state();
    let features = heavy(&service, move |cancel| {
        let mut out = Vec::with_capacity(page.len());
        for p in &page {
            cancel.check().map_err(|_| cancelled())?;
            out.push(feature(&st, &base, p)?);
        }
        Ok(out)
    })
    .await?;
    let returned = features.len();
    let st = service.state();
    Ok(json_response(
        &json!({
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": matched,
            "numberReturned": returned,
            "links": links,
            "build": st.build_id(),
        }),
        "application/geo+json",
    ))
}

/// `GET /collections/perimeters/items/{id}`: a private perimeter is a 404 without its
/// author's (or an admin's) token, as if it did not exist.
pub async fn item(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    q.only(ITEM_PARAMS)?;
    check_format(&q)?;
    let caller = optional_caller(&service, &headers).await?;
    let p = db(&service)?
        .perimeter(&id)
        .await?
        .filter(|p| p.public || caller.as_ref().is_some_and(|c| c.may_change(&p.owner)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no perimeter {id:?} in collection {COLLECTION_ID} (a private perimeter is shown only with its author's token)"
            ))
        })?;
    let base = base_url(&service, &headers);
    let st = service.state();
    let v = heavy(&service, move |_| feature(&st, &base, &p)).await?;
    Ok(json_response(&v, "application/geo+json"))
}

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
//!
//! Its properties are listed once ([`PROPERTIES`]): the collection's JSON, its
//! queryables and schemas (Parts 3 and 5, answered as the build collections' are, by
//! [`super::ogc`]) and the items' equality filters (`?author=…`) all read that list.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::db::{Caller, Perimeter};
use crate::model::InseeCode;
use crate::store::fgb::ColType;
use crate::store::layout::COMMUNES_LAYER;

use super::Service;
use super::auth::db;
use super::error::{ApiError, ApiResult};
use super::features::{json_type_of, published};
use super::items::FilterValue;
use super::limits::{cancelled, heavy};
use super::ogc::{
    Described, SchemaProperty, base_url, collections_json, feature_schema_answer, json_response,
    link, queryables_answer, schema_doc_answer, schema_links,
};
use super::params::{self, Param, QueryPairs};
use super::saved::optional_caller;
use super::state::AppState;

/// Id of the collection (no build layer has this name).
pub const COLLECTION_ID: &str = "perimeters";
/// Default page size of the items.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page: each list perimeter's outline is a union computed on request.
pub const MAX_LIMIT: usize = 1000;

const TITLE: &str = "Périmètres des utilisateurs";
const DESCRIPTION: &str = "Périmètres enregistrés par les planificateurs (liste de communes ou polygone dessiné sur la carte), utilisables comme territoire `perimeter:<id>`. Lue dans la base à chaque requête : les périmètres publics, et avec un jeton ceux de son auteur. Géométrie : le polygone dessiné, sinon l'union des contours des communes membres.";

/// The properties of a feature, in their order: name, type, description. The
/// collection's `properties`, its queryables and schemas, and the filters of its items
/// are all read from this list, and [`properties`] writes them.
pub(super) const PROPERTIES: [(&str, ColType, &str); 11] = [
    ("name", ColType::Text, "Nom donné par son auteur"),
    ("description", ColType::Text, "Description"),
    ("author", ColType::Text, "Nom du jeton de l'auteur"),
    ("created", ColType::Text, "Création, RFC 3339 UTC"),
    (
        "updated",
        ColType::Text,
        "Dernière modification, RFC 3339 UTC",
    ),
    (
        "public",
        ColType::Bool,
        "Listé pour tous (sinon pour son auteur seulement)",
    ),
    (
        "territory",
        ColType::Text,
        "Le territoire à passer aux analyses : perimeter:<id>",
    ),
    (
        "communes",
        ColType::Int,
        "Communes membres présentes dans les données servies",
    ),
    (
        "communes_absentes",
        ColType::Int,
        "Communes enregistrées absentes des données servies (fusionnées depuis), non comptées",
    ),
    (
        "population",
        ColType::Int,
        "Population municipale des communes membres présentes",
    ),
    (
        "geometry_source",
        ColType::Text,
        "dessin (le polygone dessiné) ou union_des_communes (union des contours des communes membres)",
    ),
];

/// Part 5 format of the geometry: a drawn polygon is a Polygon or a MultiPolygon, a union
/// of communes a MultiPolygon.
const GEOMETRY_FORMAT: &str = "geometry-polygon-or-multipolygon";

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

fn collection_json(base: &str, count: Option<i64>) -> Value {
    let url = format!("{base}/collections/{COLLECTION_ID}");
    let mut links = vec![
        link(url.clone(), "self", "application/json", "Cette collection"),
        link(
            format!("{url}/items"),
            "items",
            "application/geo+json",
            "Objets (GeoJSON)",
        ),
    ];
    links.extend(schema_links(&url));
    json!({
        "id": COLLECTION_ID,
        "title": TITLE,
        "description": DESCRIPTION,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "storageCrs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "numberOfFeatures": count,
        "links": links,
        "properties": PROPERTIES.iter().map(|&(name, ty, description)| json!({
            "name": name,
            "type": json_type_of(ty),
            "description": description,
        })).collect::<Vec<_>>(),
        "careaccess": { "source": "base des travaux enregistrés (pas le build)", "dynamic": true },
    })
}

/// The collection as its queryables and schemas describe it (the feature's id is the
/// perimeter's, no property holds it).
fn described() -> Described<'static> {
    Described {
        id: COLLECTION_ID,
        title: TITLE,
        description: DESCRIPTION.to_owned(),
        properties: PROPERTIES
            .iter()
            .map(|&(name, ty, title)| SchemaProperty {
                name,
                title,
                ty: json_type_of(ty),
            })
            .collect(),
        id_property: None,
        geometry_format: GEOMETRY_FORMAT,
    }
}

/// `GET /collections/perimeters/queryables` (OGC API – Features Part 3): the properties,
/// each a filter of the items (`?author=…`, `?public=true`).
pub async fn queryables(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    queryables_answer(&described(), &base_url(&service, &headers))
}

/// `GET /collections/perimeters/schema` (Part 5).
pub async fn schema(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    schema_doc_answer(&described(), &base_url(&service, &headers))
}

/// `GET /collections/perimeters/schema/geojson`: the `describedBy` schema GDAL types the
/// columns from.
pub async fn feature_schema(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    feature_schema_answer(&described(), &base_url(&service, &headers))
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

/// How many perimeters the caller may see (counted by the store, none read).
async fn visible_count(service: &Arc<Service>, headers: &HeaderMap) -> ApiResult<i64> {
    let caller = optional_caller(service, headers).await?;
    Ok(db(service)?
        .visible_perimeter_count(caller.as_ref())
        .await?)
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

/// The members of a perimeter in the build served (indices of its communes there).
fn members(st: &AppState, p: &Perimeter) -> Vec<usize> {
    let data = &st.engine.data;
    p.communes
        .iter()
        .filter_map(|c| InseeCode::parse(c).ok())
        .filter_map(|c| data.commune_index(&c))
        .collect()
}

/// The properties of a perimeter's feature on the build served, as [`PROPERTIES`] lists
/// them.
fn properties(st: &AppState, p: &Perimeter, members: &[usize]) -> Value {
    let data = &st.engine.data;
    let population: u64 = members
        .iter()
        .map(|&i| u64::from(data.communes[i].population))
        .sum();
    json!({
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
        "geometry_source": if p.geometry.is_some() { "dessin" } else { "union_des_communes" },
    })
}

/// One perimeter as a GeoJSON feature on the build served.
fn feature(st: &AppState, base: &str, p: &Perimeter) -> ApiResult<Value> {
    let members = members(st, p);
    let geometry = match &p.geometry {
        Some(g) => {
            let drawn: Result<geo::Geometry<f64>, _> =
                serde_json::from_value::<geojson::Geometry>(g.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|g| g.try_into().map_err(|e: geojson::Error| e.to_string()));
            match drawn {
                Ok(g) => Some(published(&g)),
                // A stored polygon always parsed when it was saved: say it if it no longer does.
                Err(e) => return Err(ApiError::internal(format!("perimeter {}: {e}", p.id))),
            }
        }
        None => union_of_communes(st, &members).map(|g| published(&g)),
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
        "properties": properties(st, p, &members),
        "links": [
            link(url, "self", "application/geo+json", "Cet objet"),
            link(format!("{base}/perimeters/{}", p.id), "alternate", "application/json", "Le périmètre (liste des communes)"),
            link(format!("{base}/territories/perimeter/{}", p.id), "related", "application/json", "Résumé du territoire"),
        ],
    }))
}

/// The property filters of an items request (`?author=Alice`, `?public=true`): every
/// parameter that is not one of [`ITEMS_PARAMS`] names a property; each value is read
/// for its property's type (a value it cannot hold is a 400, not an empty page).
fn filters(q: &QueryPairs) -> ApiResult<Vec<(&'static str, FilterValue)>> {
    let mut out: Vec<(&'static str, FilterValue)> = Vec::new();
    for (k, v) in q.pairs() {
        if ITEMS_PARAMS.iter().any(|p| p.name == k) {
            continue;
        }
        let Some(&(name, ty, _)) = PROPERTIES.iter().find(|(name, ..)| name == k) else {
            return Err(ApiError::bad_request(format!(
                "unknown parameter `{k}`: neither an items parameter ({}) nor a property of {COLLECTION_ID} ({})",
                ITEMS_PARAMS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                PROPERTIES
                    .iter()
                    .map(|(n, ..)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            )));
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(params::bad(k, "is given more than once"));
        }
        out.push((name, FilterValue::parse(k, ty, v)?));
    }
    Ok(out)
}

/// `GET /collections/perimeters/items?limit=&offset=&<property>=<value>`: the visible
/// perimeters, newest first, those whose properties equal the filters'; properties and
/// outlines are made in the heavy pool.
pub async fn items(
    State(service): State<Arc<Service>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = filters(&q)?;
    check_format(&q)?;
    let limit = q
        .parsed("limit", |_, v| params::count("limit", v, 0, MAX_LIMIT))?
        .unwrap_or(DEFAULT_LIMIT);
    let offset = q.parsed("offset", params::offset)?.unwrap_or(0);
    let caller: Option<Caller> = optional_caller(&service, &headers).await?;
    let all = db(&service)?.visible_perimeters(caller.as_ref()).await?;
    let base = base_url(&service, &headers);
    let st = service.state();
    let (features, matched) = {
        let base = base.clone();
        heavy(&service, move |cancel| {
            let mut out = Vec::new();
            let mut matched = 0;
            for p in &all {
                if !filters.is_empty() {
                    cancel.check().map_err(|_| cancelled())?;
                    let props = properties(&st, p, &members(&st, p));
                    if !filters.iter().all(|(name, v)| v.matches_json(&props[name])) {
                        continue;
                    }
                }
                matched += 1;
                if matched > offset && out.len() < limit {
                    cancel.check().map_err(|_| cancelled())?;
                    out.push(feature(&st, &base, p)?);
                }
            }
            Ok((out, matched))
        })
        .await?
    };
    let returned = features.len();
    // The page links keep the request's filters.
    let page = |offset: usize| {
        let mut url =
            form_urlencoded::Serializer::new(format!("{base}/collections/{COLLECTION_ID}/items?"));
        for (k, v) in q.pairs() {
            if !matches!(k.as_str(), "limit" | "offset") {
                url.append_pair(k, v);
            }
        }
        url.append_pair("limit", &limit.to_string());
        url.append_pair("offset", &offset.to_string());
        url.finish()
    };
    let mut links = vec![
        link(page(offset), "self", "application/geo+json", "Cette page"),
        link(
            format!("{base}/collections/{COLLECTION_ID}"),
            "collection",
            "application/json",
            TITLE,
        ),
    ];
    if offset + returned < matched && limit > 0 {
        links.push(link(
            page(offset + returned),
            "next",
            "application/geo+json",
            "Page suivante",
        ));
    }
    if offset > 0 {
        links.push(link(
            page(offset.saturating_sub(limit)),
            "prev",
            "application/geo+json",
            "Page précédente",
        ));
    }
    Ok(json_response(
        &json!({
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": matched,
            "numberReturned": returned,
            "links": links,
            "build": service.state().build_id(),
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

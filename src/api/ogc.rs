//! OGC API – Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) and the queryables of Part 3.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::features::{self, Collection, Format, GeoJsonFeature, GeoJsonPage, ItemsQuery};
use super::params::QueryPairs;
use super::state::AppState;

pub const CONFORMANCE: [&str; 5] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
];

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The URL the client used to reach the service (scheme and host), for links.
pub fn base_url(service: &Service, headers: &HeaderMap) -> String {
    if let Some(u) = &service.public_url {
        return u.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A JSON answer with a media type.
pub fn json_response(value: &impl serde::Serialize, media_type: &'static str) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

fn link(href: String, rel: &str, media: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": media, "title": title })
}

/// Landing page as JSON (the web map answers `/` for browsers).
pub fn landing(base: &str, st: &AppState) -> Value {
    json!({
        "title": "careaccess — accès aux soins en France",
        "description": format!(
            "Communes, structures de soins et indicateurs d'accessibilité (build {}). \
             Données ouvertes officielles : sources, millésimes et licences dans /dataset et \
             dans les métadonnées de chaque collection.",
            st.build_id()
        ),
        "links": [
            link(format!("{base}/?f=json"), "self", "application/json", "Cette page"),
            link(format!("{base}/"), "alternate", "text/html", "Carte (interface web)"),
            link(format!("{base}/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "Définition OpenAPI 3.0"),
            link(format!("{base}/conformance"), "conformance", "application/json", "Classes de conformité"),
            link(format!("{base}/collections"), "data", "application/json", "Collections"),
            link(format!("{base}/dataset"), "describedby", "application/json", "Sources, licences et millésimes"),
        ]
    })
}

pub async fn conformance() -> Response {
    json_response(&json!({ "conformsTo": CONFORMANCE }), "application/json")
}

fn extent(c: &Collection) -> Value {
    let bbox = c
        .extent
        .map(|r| vec![r.min().x, r.min().y, r.max().x, r.max().y])
        .unwrap_or_else(|| vec![-180.0, -90.0, 180.0, 90.0]);
    json!({ "spatial": { "bbox": [bbox], "crs": CRS84 } })
}

fn collection_json(base: &str, c: &Collection) -> Value {
    let url = format!("{base}/collections/{}", c.id);
    let mut links = vec![
        link(url.clone(), "self", "application/json", "Cette collection"),
        link(
            format!("{url}/items"),
            "items",
            "application/geo+json",
            "Objets (GeoJSON)",
        ),
        link(
            format!("{url}/items?f=csv"),
            "items",
            "text/csv",
            "Objets (CSV)",
        ),
        link(
            format!("{url}/items?f=fgb"),
            "items",
            "application/flatgeobuf",
            "Objets (FlatGeobuf)",
        ),
        link(
            format!("{url}/queryables"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "application/schema+json",
            "Propriétés filtrables",
        ),
    ];
    links.push(link(
        format!("{base}/dataset"),
        "describedby",
        "application/json",
        "Sources",
    ));
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": extent(c),
        "links": links,
        "numberOfFeatures": c.items.len(),
        "properties": c.info.columns.iter().map(|col| json!({
            "name": col.name,
            "type": features::json_type(col),
            "description": col.description,
        })).collect::<Vec<_>>(),
        "careaccess": c.meta,
    })
}

pub async fn collections(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let st = service.state();
    let base = base_url(&service, &headers);
    json_response(
        &json!({
            "links": [link(format!("{base}/collections"), "self", "application/json", "Collections")],
            "collections": st.collections.iter().map(|c| collection_json(&base, c)).collect::<Vec<_>>(),
        }),
        "application/json",
    )
}

fn find<'a>(st: &'a AppState, id: &str) -> ApiResult<&'a Collection> {
    st.collection(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no collection {id:?} (collections: {})",
            st.collections
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

pub async fn collection(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let c = find(&st, &id)?;
    Ok(json_response(
        &collection_json(&base_url(&service, &headers), c),
        "application/json",
    ))
}

/// Part 3 queryables: every property, as a JSON Schema, filterable by `?name=value`.
pub async fn queryables(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let c = find(&st, &id)?;
    let base = base_url(&service, &headers);
    let properties: serde_json::Map<String, Value> = c
        .info
        .columns
        .iter()
        .map(|col| {
            (
                col.name.clone(),
                json!({
                    "title": col.description.clone().unwrap_or_else(|| col.name.clone()),
                    "type": features::json_type(col),
                }),
            )
        })
        .collect();
    Ok(json_response(
        &json!({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": format!("{base}/collections/{}/queryables", c.id),
            "type": "object",
            "title": c.title,
            "properties": properties,
        }),
        "application/schema+json",
    ))
}

/// The items URL with the same parameters, `offset` replaced.
fn page_url(
    base: &str,
    c: &Collection,
    q: &QueryPairs,
    offset: usize,
    format: Option<Format>,
) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.pairs() {
        if k != "offset" && !(format.is_some() && k == "f") {
            ser.append_pair(k, v);
        }
    }
    if offset > 0 {
        ser.append_pair("offset", &offset.to_string());
    }
    if let Some(f) = format {
        ser.append_pair("f", f.as_str());
    }
    let qs = ser.finish();
    if qs.is_empty() {
        format!("{base}/collections/{}/items", c.id)
    } else {
        format!("{base}/collections/{}/items?{qs}", c.id)
    }
}

/// JSON into a buffer sized for a page of polygons (no regrowing copies).
fn to_json_vec(page: &GeoJsonPage) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024 + page.items.len() * 2048);
    serde_json::to_writer(&mut out, page)?;
    Ok(out)
}

fn encoded(
    c: &Collection,
    format: Format,
    query: &ItemsQuery,
    items: &[usize],
    matched: usize,
    links: &Value,
    filename: &str,
) -> ApiResult<Response> {
    let (body, media) = match format {
        Format::GeoJson => (
            to_json_vec(&GeoJsonPage {
                collection: c,
                items,
                properties: &query.properties,
                number_matched: matched,
                links,
            })
            .map_err(ApiError::internal)?,
            format.media_type(),
        ),
        Format::Csv => (
            features::csv(c, items, &query.properties, query.separator)?,
            format.media_type(),
        ),
        Format::FlatGeobuf => (
            features::flatgeobuf(c, items, &query.properties)?,
            format.media_type(),
        ),
    };
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
        body,
    )
        .into_response();
    if format != Format::GeoJson {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "inline; filename=\"{filename}.{}\"",
            format.as_str()
        )) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r.headers_mut()
        .insert("OGC-NumberMatched", HeaderValue::from(matched as u64));
    Ok(r)
}

pub async fn items(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let c = find(&st, &id)?;
    let q = QueryPairs::parse(raw.as_deref());
    let query = ItemsQuery::parse(&q, c, Format::GeoJson)?;
    let matched = query.matching(c);
    let page: &[usize] = matched
        .get(query.offset..)
        .map(|rest| &rest[..rest.len().min(query.limit)])
        .unwrap_or(&[]);
    let base = base_url(&service, &headers);
    let mut links = vec![link(
        page_url(&base, c, &q, query.offset, None),
        "self",
        query.format.media_type(),
        "Cette page",
    )];
    for f in Format::ALL {
        if f != query.format {
            links.push(link(
                page_url(&base, c, &q, query.offset, Some(f)),
                "alternate",
                f.media_type(),
                f.as_str(),
            ));
        }
    }
    if query.offset + page.len() < matched.len() {
        links.push(link(
            page_url(&base, c, &q, query.offset + page.len(), None),
            "next",
            query.format.media_type(),
            "Page suivante",
        ));
    }
    if query.offset > 0 {
        links.push(link(
            page_url(
                &base,
                c,
                &q,
                query.offset.saturating_sub(query.limit.max(1)),
                None,
            ),
            "prev",
            query.format.media_type(),
            "Page précédente",
        ));
    }
    links.push(link(
        format!("{base}/collections/{}", c.id),
        "collection",
        "application/json",
        &c.title,
    ));
    encoded(
        c,
        query.format,
        &query,
        page,
        matched.len(),
        &Value::Array(links),
        &c.id,
    )
}

pub async fn item(
    State(service): State<Arc<Service>>,
    Path((id, feature)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let c = find(&st, &id)?;
    let q = QueryPairs::parse(raw.as_deref());
    q.only(features::ITEM_PARAMS)?;
    let query = ItemsQuery::parse(&q, c, Format::GeoJson)?;
    let Some(index) = c.item_index(&feature) else {
        return Err(ApiError::not_found(format!(
            "no feature {feature:?} in collection {id}"
        )));
    };
    let base = base_url(&service, &headers);
    if query.format != Format::GeoJson {
        return encoded(c, query.format, &query, &[index], 1, &Value::Null, &feature);
    }
    let url = format!("{base}/collections/{}/items/{}", c.id, feature);
    let mut v = serde_json::to_value(GeoJsonFeature {
        collection: c,
        row: index,
        properties: &query.properties,
    })
    .map_err(ApiError::internal)?;
    v["links"] = json!([
        link(url.clone(), "self", "application/geo+json", "Cet objet"),
        link(
            format!("{base}/collections/{}", c.id),
            "collection",
            "application/json",
            &c.title
        ),
    ]);
    Ok(json_response(&v, "application/geo+json"))
}

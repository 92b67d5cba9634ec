//! OGC API – Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) and the queryables of Part 3.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::export;
use super::features::{self, Collection, GeoJsonFeature, GeoJsonPage};
use super::items::{self, Format, ItemsQuery};
use super::limits::{accepts_gzip, heavy, mark_gzip, precompress};
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

/// The base of links (scheme and host): see [`super::origins::base_url`].
pub fn base_url(service: &Service, headers: &HeaderMap) -> String {
    super::origins::base_url(service, headers)
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

pub fn link(href: String, rel: &str, media: &str, title: &str) -> Value {
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

/// The spatial extent; none for an empty collection (no whole-world box that would
/// say it has features somewhere).
fn extent(c: &Collection) -> Option<Value> {
    let r = c.extent?;
    Some(json!({ "spatial": {
        "bbox": [[r.min().x, r.min().y, r.max().x, r.max().y]],
        "crs": CRS84,
    } }))
}

/// The collection's description; an empty one says so.
fn description(c: &Collection) -> String {
    if c.items.is_empty() {
        format!(
            "{} — collection vide dans ce build : aucune source chargée ne la fournit.",
            c.description
        )
    } else {
        c.description.clone()
    }
}

/// JSON Schema `format` of the layer's geometry (OGC API – Features Part 5).
fn geometry_format(c: &Collection) -> &'static str {
    use flatgeobuf::GeometryType as G;
    match c.info.geometry_type {
        G::Point => "geometry-point",
        G::MultiPoint => "geometry-multipoint",
        G::LineString => "geometry-linestring",
        G::MultiLineString => "geometry-multilinestring",
        G::Polygon => "geometry-polygon",
        G::MultiPolygon => "geometry-multipolygon",
        _ => "geometry-any",
    }
}

/// The links of a collection at `url` to its queryables and schemas.
pub(super) fn schema_links(url: &str) -> [Value; 3] {
    [
        link(
            format!("{url}/queryables"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "application/schema+json",
            "Propriétés filtrables",
        ),
        // GDAL (OAPIF) types its columns from the first `describedby` JSON Schema, which
        // it reads as the schema of a GeoJSON feature (GDAL 3.6 matches the relation as
        // `describedBy` exactly; later versions ignore case).
        link(
            format!("{url}/schema/geojson"),
            "describedBy",
            "application/schema+json",
            "Schéma d'un objet GeoJSON de la collection (JSON Schema : types de chaque propriété)",
        ),
        link(
            format!("{url}/schema"),
            "http://www.opengis.net/def/rel/ogc/1.0/schema",
            "application/schema+json",
            "Schéma des propriétés (OGC API – Features Part 5)",
        ),
    ]
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
    ];
    links.extend(schema_links(&url));
    links.push(link(
        format!("{base}/download/{}.fgb", c.id),
        "enclosure",
        "application/flatgeobuf",
        "Toute la collection en un fichier FlatGeobuf (lecture par plages HTTP : /vsicurl/, QGIS)",
    ));
    links.push(link(
        format!("{base}/dataset"),
        "describedby",
        "application/json",
        "Sources",
    ));
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "description": description(c),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": links,
        "numberOfFeatures": c.items.len(),
        "properties": c.info.columns.iter().map(|col| json!({
            "name": col.name,
            "type": features::json_type(col),
            "description": col.description,
        })).collect::<Vec<_>>(),
        "careaccess": c.meta,
    });
    if let Some(e) = extent(c) {
        v["extent"] = e;
    }
    v
}

/// `/collections` of the build (the route adds the store's collection of user
/// perimeters to it).
pub fn collections_json(base: &str, st: &AppState) -> Value {
    json!({
        "links": [link(format!("{base}/collections"), "self", "application/json", "Collections")],
        "collections": st.collections.iter().map(|c| collection_json(base, c)).collect::<Vec<_>>(),
    })
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

/// A property as the schemas describe it.
pub(super) struct SchemaProperty<'a> {
    pub(super) name: &'a str,
    pub(super) title: &'a str,
    /// JSON Schema type.
    pub(super) ty: &'static str,
}

/// What the queryables and both schemas say of a collection (the build's, or the
/// store's user perimeters): the same properties, in the order of the features'.
pub(super) struct Described<'a> {
    pub(super) id: &'a str,
    pub(super) title: &'a str,
    pub(super) description: String,
    pub(super) properties: Vec<SchemaProperty<'a>>,
    /// The property holding the features' ids, when one does.
    pub(super) id_property: Option<&'a str>,
    /// Part 5 `format` of the geometry.
    pub(super) geometry_format: &'static str,
}

/// A build collection as its schemas describe it.
fn described(c: &Collection) -> Described<'_> {
    Described {
        id: &c.id,
        title: &c.title,
        description: description(c),
        properties: c
            .info
            .columns
            .iter()
            .map(|col| SchemaProperty {
                name: &col.name,
                title: col.description.as_deref().unwrap_or(&col.name),
                ty: features::json_type(col),
            })
            .collect(),
        id_property: Some(&c.id_column),
        geometry_format: geometry_format(c),
    }
}

/// One JSON Schema per property, in order (queryables and both schemas agree on names
/// and types; any property may be null: a missing value stays missing).
struct PropertySchemas<'a> {
    d: &'a Described<'a>,
    /// Part 5 roles: the id property, and a `geometry` member.
    roles: bool,
}

impl serde::Serialize for PropertySchemas<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let d = self.d;
        let mut m = s.serialize_map(None)?;
        for p in &d.properties {
            let mut schema = json!({ "title": p.title, "type": p.ty });
            if self.roles && d.id_property == Some(p.name) {
                schema["x-ogc-role"] = json!("id");
            }
            m.serialize_entry(p.name, &schema)?;
        }
        if self.roles {
            m.serialize_entry(
                "geometry",
                &json!({ "x-ogc-role": "primary-geometry", "format": d.geometry_format }),
            )?;
        }
        m.end()
    }
}

/// A JSON Schema document whose `properties` keep the column order (a `Value` would
/// sort them, and GDAL creates the columns in the schema's order).
#[derive(serde::Serialize)]
struct SchemaDoc<'a, P: serde::Serialize> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "$id")]
    id: String,
    #[serde(rename = "type")]
    ty: &'static str,
    title: &'a str,
    description: String,
    properties: P,
}

/// The members of a GeoJSON feature of the collection, its properties typed.
#[derive(serde::Serialize)]
struct FeatureMembers<'a> {
    #[serde(rename = "type")]
    ty: Value,
    id: Value,
    geometry: Value,
    properties: ObjectOf<'a>,
}

#[derive(serde::Serialize)]
struct ObjectOf<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    properties: PropertySchemas<'a>,
}

const JSON_SCHEMA_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// A JSON Schema about a collection, answered at `{base}/collections/{id}/{path}`.
fn schema_answer<P: serde::Serialize>(
    d: &Described,
    base: &str,
    path: &str,
    schema: &'static str,
    description: String,
    properties: P,
) -> Response {
    json_response(
        &SchemaDoc {
            schema,
            id: format!("{base}/collections/{}/{path}", d.id),
            ty: "object",
            title: d.title,
            description,
            properties,
        },
        "application/schema+json",
    )
}

/// Said of every property in the schemas: a missing value stays missing.
const NULLABLE: &str = "Toute propriété peut être nulle : une valeur manquante reste manquante.";

/// Part 3 queryables of a collection: every property, as a JSON Schema, filterable by
/// `?name=value`.
pub(super) fn queryables_answer(d: &Described, base: &str) -> Response {
    schema_answer(
        d,
        base,
        "queryables",
        "https://json-schema.org/draft/2019-09/schema",
        "Chaque propriété filtre par égalité : ?nom=valeur".to_owned(),
        PropertySchemas { d, roles: false },
    )
}

/// Part 5 schema of a collection's features: every property with its type, the id and
/// the geometry with their roles.
pub(super) fn schema_doc_answer(d: &Described, base: &str) -> Response {
    schema_answer(
        d,
        base,
        "schema",
        JSON_SCHEMA_2020_12,
        format!("{} {NULLABLE}", d.description),
        PropertySchemas { d, roles: true },
    )
}

/// The schema of one GeoJSON feature of a collection: what GDAL's OAPIF driver (and so
/// QGIS) reads to type the columns, whatever the first page holds.
pub(super) fn feature_schema_answer(d: &Described, base: &str) -> Response {
    schema_answer(
        d,
        base,
        "schema/geojson",
        JSON_SCHEMA_2020_12,
        format!("Un objet GeoJSON de la collection {}. {NULLABLE}", d.id),
        FeatureMembers {
            ty: json!({ "type": "string", "enum": ["Feature"] }),
            id: json!({ "type": "string" }),
            geometry: json!({ "format": d.geometry_format, "description": "GeoJSON, WGS84 (CRS84) ; null sans géométrie" }),
            properties: ObjectOf {
                ty: "object",
                properties: PropertySchemas { d, roles: false },
            },
        },
    )
}

/// `/collections/{id}/queryables` of a build collection.
pub async fn queryables(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let d = described(find(&st, &id)?);
    Ok(queryables_answer(&d, &base_url(&service, &headers)))
}

/// `/collections/{id}/schema` of a build collection.
pub async fn schema(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let d = described(find(&st, &id)?);
    Ok(schema_doc_answer(&d, &base_url(&service, &headers)))
}

/// `/collections/{id}/schema/geojson` of a build collection.
pub async fn feature_schema(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let d = described(find(&st, &id)?);
    Ok(feature_schema_answer(&d, &base_url(&service, &headers)))
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

/// A page (or one feature) in the requested format, with the headers of its format.
/// A page in the query's format; gzipped here when `gzip` and large (see
/// [`precompress`]).
#[expect(clippy::too_many_arguments, reason = "one page's parts")]
fn encoded(
    st: &AppState,
    c: &Collection,
    query: &ItemsQuery,
    items: &[usize],
    matched: usize,
    links: &Value,
    filename: &str,
    gzip: bool,
) -> ApiResult<Response> {
    let format = query.format;
    let body = match format {
        Format::GeoJson => to_json_vec(&GeoJsonPage {
            collection: c,
            items,
            properties: &query.properties,
            number_matched: matched,
            links,
        })
        .map_err(ApiError::internal)?,
        Format::Csv => export::csv(c, items, &query.properties, query.separator)?,
        Format::FlatGeobuf => export::flatgeobuf(c, items, &query.properties)?,
        Format::Xlsx => export::xlsx(c, items, &query.properties, &about(st, c))?,
    };
    // xlsx is a zip already.
    let (body, gzipped) = precompress(body, gzip && format != Format::Xlsx)?;
    let mut r = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.media_type()),
        )],
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
    // Without `f`, the `Accept` header chose the format.
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    mark_gzip(&mut r, gzipped);
    Ok(r)
}

/// What a spreadsheet says about its data (its second sheet).
fn about(st: &AppState, c: &Collection) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("collection", format!("{} ({})", c.title, c.id)),
        ("description", description(c)),
        ("build", st.build_id().to_owned()),
    ];
    if let Some(sources) = c.meta.get("sources").and_then(Value::as_array) {
        for s in sources {
            let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
            rows.push((
                "source",
                format!(
                    "{} — {} ; millésime {} ; licence {} ; {}",
                    field("id"),
                    field("title"),
                    field("vintage"),
                    field("licence"),
                    field("url")
                ),
            ));
            if let Some(caveat) = s.get("caveat").and_then(Value::as_str) {
                rows.push(("précaution", caveat.to_owned()));
            }
        }
    }
    rows.push((
        "valeurs vides",
        "une cellule vide est une valeur manquante (jamais zéro) ; la colonne *_manque dit pourquoi".to_owned(),
    ));
    rows
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
    let query = ItemsQuery::parse(&q, c, &headers)?;
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
    let neighbours = query.neighbours(matched.len());
    if let Some(next) = neighbours.next {
        links.push(link(
            page_url(&base, c, &q, next, None),
            "next",
            query.format.media_type(),
            "Page suivante",
        ));
    }
    if let Some(prev) = neighbours.prev {
        links.push(link(
            page_url(&base, c, &q, prev, None),
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
    let links = Value::Array(links);
    let gzip = accepts_gzip(&headers);
    if page.len() < HEAVY_PAGE && query.format == Format::GeoJson {
        return encoded(&st, c, &query, page, matched.len(), &links, &c.id, gzip);
    }
    // A big page or a file format: serialised and compressed in the heavy pool.
    let (page, matched, st2) = (page.to_vec(), matched.len(), st.clone());
    let index = st
        .collections
        .iter()
        .position(|x| x.id == c.id)
        .unwrap_or(0);
    heavy(&service, move |_| {
        let c = &st2.collections[index];
        encoded(&st2, c, &query, &page, matched, &links, &c.id, gzip)
    })
    .await
}

/// Pages of at least this many features are written off the async workers (100
/// commune polygons already weigh about a megabyte).
const HEAVY_PAGE: usize = 100;

pub async fn item(
    State(service): State<Arc<Service>>,
    Path((id, feature)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let st = service.state();
    let c = find(&st, &id)?;
    let q = QueryPairs::parse(raw.as_deref());
    q.only(items::ITEM_PARAMS)?;
    let query = ItemsQuery::parse(&q, c, &headers)?;
    let Some(index) = c.item_index(&feature) else {
        return Err(ApiError::not_found(format!(
            "no feature {feature:?} in collection {id}"
        )));
    };
    let base = base_url(&service, &headers);
    if query.format != Format::GeoJson {
        return encoded(&st, c, &query, &[index], 1, &Value::Null, &feature, false);
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

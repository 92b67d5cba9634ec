//! `/api`: the OpenAPI 3.0 description of every route and parameter.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::Service;
use super::analysis::{MAX_NEAREST, MAX_SCENARIO_BYTES};
use super::features;
use super::ogc::{base_url, json_response};
use super::params::{DEFAULT_LIMIT, MAX_LIMIT};
use super::state::AppState;
use crate::analysis::scenario::MAX_CHANGES;
use crate::analysis::siting::MAX_PICKS;

fn query(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({ "name": name, "in": "query", "description": description, "required": required,
            "schema": schema, "style": "form", "explode": false })
}

fn path(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description,
            "schema": { "type": "string" } })
}

fn op(summary: &str, tag: &str, parameters: Vec<Value>, ok: Value) -> Value {
    json!({
        "summary": summary,
        "tags": [tag],
        "parameters": parameters,
        "responses": {
            "200": ok,
            "304": { "description": "Not modified (If-None-Match matched the data build's ETag)" },
            "400": { "$ref": "#/components/responses/Problem" },
            "404": { "$ref": "#/components/responses/Problem" },
            "500": { "$ref": "#/components/responses/Problem" }
        }
    })
}

fn ok_json(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "type": "object" } } } })
}

fn kind_schema(st: &AppState) -> Value {
    json!({ "type": "string", "enum": st.engine.kinds.keys().map(|k| k.as_str()).collect::<Vec<_>>() })
}

fn threshold_params() -> Vec<Value> {
    vec![
        query(
            "within_km",
            "Threshold in km (default 10 km when neither is given)",
            json!({"type": "number", "minimum": 0, "maximum": 1000}),
            false,
        ),
        query(
            "within_min",
            "Threshold in car minutes (instead of within_km)",
            json!({"type": "number", "minimum": 0, "maximum": 1000}),
            false,
        ),
    ]
}

fn model_param() -> Value {
    query(
        "model",
        "Distance model: straight (geodesic), road_estimate (calibrated road km / car minutes, default), matrix (travel-time table, when the data set has one)",
        json!({"type": "string", "enum": ["straight", "road_estimate", "matrix"]}),
        false,
    )
}

/// The OpenAPI 3.0 document for the served state.
pub fn document_for(base: &str, st: &AppState) -> Value {
    let collection_ids: Vec<&str> = st.collections.iter().map(|c| c.id.as_str()).collect();
    let collection_id = json!({ "name": "id", "in": "path", "required": true,
        "description": "Collection id", "schema": { "type": "string", "enum": collection_ids } });
    let feature_collection = feature_collection_ok();
    let profiles: Vec<&str> = st.profiles.keys().map(String::as_str).collect();
    let mut items_params: Vec<Value> = vec![
        collection_id.clone(),
        query(
            "bbox",
            "minlon,minlat,maxlon,maxlat in CRS84 (WGS84 degrees); corners ordered",
            json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
            false,
        ),
        query(
            "bbox-crs",
            "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            json!({"type": "string"}),
            false,
        ),
        query(
            "limit",
            &format!("Page size, default {DEFAULT_LIMIT}, at most {MAX_LIMIT}"),
            json!({"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
            false,
        ),
        query(
            "offset",
            "Features to skip (the `next` and `prev` links set it)",
            json!({"type": "integer", "minimum": 0, "default": 0}),
            false,
        ),
        query(
            "f",
            "Output format",
            json!({"type": "string", "enum": ["json", "csv", "fgb"], "default": "json"}),
            false,
        ),
        query(
            "properties",
            "Comma-separated properties to return (empty: none)",
            json!({"type": "array", "items": {"type": "string"}}),
            false,
        ),
        query(
            "sep",
            "CSV separator: `,` (default) or `;` (with decimal commas, for French spreadsheets)",
            json!({"type": "string", "enum": [",", ";"]}),
            false,
        ),
        query(
            "datetime",
            "Accepted for conformance; the collections have no time dimension",
            json!({"type": "string"}),
            false,
        ),
    ];
    items_params.push(json!({ "name": "property filters", "in": "query", "required": false,
        "description": "Any property name with a value keeps the features whose property equals it, e.g. `departement=79`, `kind=msp` (see /collections/{id}/queryables)",
        "schema": { "type": "object", "additionalProperties": { "type": "string" } }, "style": "form", "explode": true }));
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "careaccess — accès aux soins en France",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OGC API – Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 3 queryables) over communes, care structures and territories, and analysis endpoints: nearest structures, coverage of a territory, 2SFCA accessibility audit trail, scenarios and siting. Errors are application/problem+json.",
            "license": { "name": "MIT OR Apache-2.0 (code); data: see /dataset" }
        },
        "servers": [{ "url": base }],
        "tags": [
            { "name": "OGC API – Features" },
            { "name": "Analyses" },
            { "name": "Service" }
        ],
        "paths": {
            "/": { "get": op("Landing page (JSON for API clients, the web map for browsers)", "OGC API – Features",
                vec![query("f", "json or html", json!({"type": "string", "enum": ["json", "html"]}), false)],
                json!({ "description": "Links to the API (JSON), or the web map (HTML: `f=html`, or a browser's Accept)",
                        "content": { "application/json": { "schema": { "type": "object" } },
                                     "text/html": { "schema": { "type": "string" } } } })) },
            "/conformance": { "get": op("Conformance classes", "OGC API – Features", vec![], ok_json("conformsTo")) },
            "/api": { "get": op("This OpenAPI 3.0 document", "OGC API – Features", vec![], ok_json("OpenAPI 3.0")) },
            "/collections": { "get": op("Collections with sources, vintages, licences and analysis parameters", "OGC API – Features", vec![], ok_json("Collections")) },
            "/collections/{id}": { "get": op("One collection", "OGC API – Features", vec![collection_id.clone()], ok_json("Collection")) },
            "/collections/{id}/queryables": { "get": op("Properties usable as `?name=value` filters (JSON Schema)", "OGC API – Features", vec![collection_id.clone()],
                json!({ "description": "Queryables",
                        "content": { "application/schema+json": { "schema": { "type": "object" } } } })) },
            "/collections/{id}/items": { "get": op("Features, paged, filtered by bbox and properties", "OGC API – Features", items_params.clone(), feature_collection.clone()) },
            "/collections/{id}/items/{featureId}": { "get": op("One feature by its stable id (INSEE code, FINESS number, SIREN…)", "OGC API – Features",
                vec![collection_id, path("featureId", "Feature id"),
                     query("f", "Output format", json!({"type": "string", "enum": ["json", "csv", "fgb"]}), false),
                     query("properties", "Properties to return", json!({"type": "array", "items": {"type": "string"}}), false),
                     query("sep", "CSV separator", json!({"type": "string", "enum": [",", ";"]}), false)],
                feature_collection) },
            "/nearest": { "get": op("The k nearest structures from a point or a commune, with distance and estimated time", "Analyses", vec![
                query("lon", "Longitude (WGS84), with lat", json!({"type": "number", "minimum": -180, "maximum": 180}), false),
                query("lat", "Latitude (WGS84), with lon", json!({"type": "number", "minimum": -90, "maximum": 90}), false),
                query("commune", "INSEE code of the commune to start from (instead of lon/lat)", json!({"type": "string"}), false),
                query("kind", "Kind of structure; every kind when absent", kind_schema(st), false),
                query("k", &format!("How many per kind (1–{MAX_NEAREST}, default 3)"), json!({"type": "integer", "minimum": 1, "maximum": MAX_NEAREST, "default": 3}), false),
                model_param(),
            ], ok_json("Nearest structures per kind")) },
            "/territories/{type}/{code}": { "get": op("Summary of a territory: population, share within 10/20 km and 20/30 min of each kind, mean distances, accessibility aggregates", "Analyses", vec![
                path("type", "commune, epci, departement (dep), region (reg) or cls"),
                path("code", "INSEE code, EPCI SIREN, département or région code, CLS id"),
            ], ok_json("Territory summary")) },
            "/territories/{type}/{code}/coverage": { "get": op("Coverage of a territory by one kind: population within the default and requested thresholds, weighted mean and max distance, underserved communes", "Analyses", {
                let mut p = vec![
                    path("type", "commune, epci, departement (dep), region (reg) or cls"),
                    path("code", "Territory code"),
                    query("kind", "Kind of structure", kind_schema(st), true),
                    model_param(),
                ];
                p.extend(threshold_params());
                p
            }, ok_json("Coverage")) },
            "/communes/{code}/explain": { "get": op("Accessibility audit trail of one commune: every contributing site with distance, weight, R_j and the demand it shares", "Analyses", vec![
                path("code", "INSEE code"),
                query("kind", "Accessibility profile (default mg)", json!({"type": "string", "enum": profiles}), false),
            ], ok_json("Explanation")) },
            "/scenarios": { "post": {
                "summary": "Deltas of adding, removing or resizing structures (nothing is stored)",
                "tags": ["Analyses"],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Scenario" } } } },
                "responses": {
                    "200": ok_json("Population newly within the threshold, communes whose nearest changes, accessibility change per commune and per territory"),
                    "400": { "$ref": "#/components/responses/Problem" },
                    "413": { "$ref": "#/components/responses/Problem" }
                }
            } },
            "/siting": { "get": op("Greedy maximal-coverage choice of k new sites among commune chefs-lieux", "Analyses", {
                let mut p = vec![
                    query("territory", "cls:<id>, epci:<siren>, dep:<code>, reg:<code>, communes:<code>,<code>…", json!({"type": "string"}), true),
                    query("kind", "Kind of structure", kind_schema(st), true),
                    query("k", &format!("Sites to pick (1–{MAX_PICKS}, default 3)"), json!({"type": "integer", "minimum": 1, "maximum": MAX_PICKS, "default": 3}), false),
                    model_param(),
                ];
                p.extend(threshold_params());
                p
            }, ok_json("Ranked sites")) },
            "/search": { "get": op("Communes and territories by name, accent- and case-insensitive", "Analyses", vec![
                query("q", "Name or code", json!({"type": "string", "maxLength": 100}), true),
                query("type", "Comma-separated types: commune, epci, departement, region, cls", json!({"type": "array", "items": {"type": "string"}}), false),
                query("limit", "At most (1–100, default 10)", json!({"type": "integer", "minimum": 1, "maximum": 100}), false),
            ], ok_json("Matches")) },
            "/map/{layer}": { "get": op("Polygons simplified for display with every property (gzipped GeoJSON)", "Service", vec![
                path("layer", "communes, epci, departements, regions or cls"),
            ], ok_json("GeoJSON FeatureCollection")) },
            "/dataset": { "get": op("Sources, licences, vintages and layer counts of the build served", "Service", vec![], ok_json("dataset.json")) },
            "/health": { "get": op("Liveness and the build served", "Service", vec![], ok_json("Status")) },
            "/admin/reload": { "post": {
                "summary": "Reload the current data build (Authorization: Bearer CAREACCESS_ADMIN_TOKEN)",
                "tags": ["Service"],
                "responses": {
                    "200": ok_json("Reloaded"),
                    "401": { "$ref": "#/components/responses/Problem" },
                    "403": { "$ref": "#/components/responses/Problem" },
                    "409": { "$ref": "#/components/responses/Problem" }
                }
            } }
        },
        "components": {
            "responses": {
                "Problem": { "description": "Error (RFC 9457 problem details) naming the faulty parameter",
                    "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
            },
            "schemas": {
                "Problem": { "type": "object", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"} } },
                "Scenario": {
                    "type": "object",
                    "required": ["kind", "changes"],
                    "description": format!("At most {MAX_SCENARIO_BYTES} bytes and {MAX_CHANGES} changes"),
                    "properties": {
                        "kind": kind_schema(st),
                        "within_km": {"type": "number"},
                        "within_min": {"type": "number"},
                        "model": {"type": "string", "enum": ["straight", "road_estimate", "matrix"]},
                        "profile": {"type": "string", "description": "Accessibility profile of the deltas (none: skip); default: the profile named after the kind"},
                        "changes": { "type": "array", "minItems": 1, "maxItems": MAX_CHANGES, "items": { "oneOf": [
                            { "type": "object", "required": ["op", "lon", "lat"], "properties": {
                                "op": {"type": "string", "enum": ["add"]}, "lon": {"type": "number"}, "lat": {"type": "number"},
                                "name": {"type": "string"}, "capacity": {"type": "number"} } },
                            { "type": "object", "required": ["op", "id"], "properties": {
                                "op": {"type": "string", "enum": ["remove"]}, "id": {"type": "string"} } },
                            { "type": "object", "required": ["op", "id", "capacity"], "properties": {
                                "op": {"type": "string", "enum": ["resize"]}, "id": {"type": "string"}, "capacity": {"type": "number"} } }
                        ] } }
                    }
                }
            }
        }
    });
    // One explicit items path per collection, listing its properties as query
    // parameters: clients such as GDAL's OAPIF driver read them there to send attribute
    // filters to the server instead of filtering every page themselves.
    if let Some(paths) = doc["paths"].as_object_mut() {
        for c in &st.collections {
            let mut parameters: Vec<Value> = items_params
                .iter()
                .skip(1)
                .filter(|p| p["name"] != "property filters")
                .cloned()
                .collect();
            parameters.extend(c.info.columns.iter().map(|col| {
                query(
                    &col.name,
                    &format!(
                        "Keeps the features whose `{}` equals the value{}",
                        col.name,
                        col.description
                            .as_deref()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    ),
                    json!({ "type": features::json_type(col) }),
                    false,
                )
            }));
            paths.insert(
                format!("/collections/{}/items", c.id),
                json!({ "get": op(&format!("{} — features", c.title), "OGC API – Features", parameters, feature_collection_ok()) }),
            );
        }
    }
    doc
}

fn feature_collection_ok() -> Value {
    json!({ "description": "Features (GeoJSON, CSV or FlatGeobuf by `f`)",
        "content": {
            "application/geo+json": { "schema": { "type": "object" } },
            "text/csv": { "schema": { "type": "string" } },
            "application/flatgeobuf": { "schema": { "type": "string", "format": "binary" } }
        } })
}

pub async fn document(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let st = service.state();
    json_response(
        &document_for(&base_url(&service, &headers), &st),
        "application/vnd.oai.openapi+json;version=3.0",
    )
}

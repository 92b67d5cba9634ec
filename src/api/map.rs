//! Map layers for the web page: polygons simplified for display, with every property,
//! as gzipped GeoJSON made once per build on first request (one build per layer, the
//! other requests wait for it; off the async workers). The full-resolution
//! geometries stay available from `/collections/{id}/items`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geo::{Geometry, MapCoords, Simplify};

use super::Service;
use super::error::{ApiError, ApiResult};
use super::features::{self, GeoJsonPage};
use super::limits::{accepts_gzip, heavy};
use super::params::QueryPairs;
use super::state::AppState;

/// Layers offered, with the simplification tolerance in degrees (~100 m for communes).
pub const LAYERS: [(&str, f64); 5] = [
    ("communes", 0.0015),
    ("epci", 0.002),
    ("departements", 0.003),
    ("regions", 0.005),
    ("cls", 0.001),
];

const _: () = assert!(LAYERS.len() == super::state::MAP_LAYERS);

/// Properties a map layer keeps: what the map colours, labels and filters by.
fn on_map(name: &str) -> bool {
    matches!(
        name,
        "code" | "nom" | "population" | "departement" | "epci" | "cls" | "zonage_mg"
    ) || name.starts_with("apl_")
        || name.ends_with("_km")
        || name.ends_with("_min")
        || name.ends_with("_manque")
        || name.starts_with("acc_")
}

/// Simplified, with coordinates rounded to 1e-4° (about 10 m: the display needs no more),
/// still wound as RFC 7946 asks (rounding can flip a sliver).
fn simplified(g: &Geometry<f64>, epsilon: f64) -> Geometry<f64> {
    let round = |c: geo::Coord<f64>| geo::Coord {
        x: (c.x * 1e4).round() / 1e4,
        y: (c.y * 1e4).round() / 1e4,
    };
    features::wound_rfc7946(simplify(g, epsilon).map_coords(round))
}

fn simplify(g: &Geometry<f64>, epsilon: f64) -> Geometry<f64> {
    match g {
        Geometry::MultiPolygon(mp) => {
            let s = mp.simplify(epsilon);
            // Keep tiny communes visible: fall back to the original when simplification
            // collapses a polygon.
            if s.0.iter().any(|p| p.exterior().0.len() >= 4) {
                Geometry::MultiPolygon(geo::MultiPolygon(
                    s.0.into_iter()
                        .filter(|p| p.exterior().0.len() >= 4)
                        .collect(),
                ))
            } else {
                g.clone()
            }
        }
        Geometry::Polygon(p) => {
            let s = p.simplify(epsilon);
            if s.exterior().0.len() >= 4 {
                Geometry::Polygon(s)
            } else {
                g.clone()
            }
        }
        other => other.clone(),
    }
}

/// The place of a map layer in [`LAYERS`] (and in `AppState::map_layers`).
pub fn layer_index(name: &str) -> ApiResult<usize> {
    LAYERS.iter().position(|(l, _)| *l == name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no map layer {name:?} (layers: {})",
            LAYERS.map(|(l, _)| l).join(", ")
        ))
    })
}

/// The gzipped GeoJSON of one layer, made once per build: the first request builds it in
/// the heavy pool, the others wait for that one.
pub async fn layer_cached(
    service: &Arc<Service>,
    st: &Arc<AppState>,
    index: usize,
) -> ApiResult<Bytes> {
    let cell = &st.map_layers[index];
    cell.get_or_try_init(|| {
        let st = st.clone();
        heavy(service, move |_| layer_gz(&st, LAYERS[index].0))
    })
    .await
    .cloned()
}

/// The gzipped GeoJSON of one layer, made now.
pub fn layer_gz(st: &AppState, name: &str) -> ApiResult<Bytes> {
    let epsilon = LAYERS[layer_index(name)?].1;
    let c = st
        .collection(name)
        .ok_or_else(|| ApiError::not_found(format!("no collection {name}")))?;
    let simple = c.map_geometries(|g| simplified(g, epsilon));
    let all: Vec<usize> = (0..simple.items.len()).collect();
    let properties: Vec<usize> = (0..simple.info.columns.len())
        .filter(|&i| on_map(&simple.info.columns[i].name))
        .collect();
    let links = serde_json::json!([]);
    // Buffered: flate2 clears its output buffer on every write, and serde writes token by
    // token.
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, gz);
    serde_json::to_writer(
        &mut buffered,
        &GeoJsonPage {
            collection: &simple,
            items: &all,
            properties: &properties,
            number_matched: all.len(),
            links: &links,
        },
    )
    .map_err(ApiError::internal)?;
    let gz = buffered.into_inner().map_err(ApiError::internal)?;
    Ok(Bytes::from(gz.finish().map_err(ApiError::internal)?))
}

/// `GET /map/{layer}`: gzipped GeoJSON (decompressed here for the rare client that does
/// not accept gzip).
pub async fn layer(
    State(service): State<Arc<Service>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    QueryPairs::parse(raw.as_deref()).only(&[])?;
    let name = name.strip_suffix(".geojson").unwrap_or(&name).to_owned();
    let st = service.state();
    let index = layer_index(&name)?;
    let gz = layer_cached(&service, &st, index).await?;
    let accepts_gzip = accepts_gzip(&headers);
    let media = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    )];
    if accepts_gzip {
        Ok((
            media,
            [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
            gz,
        )
            .into_response())
    } else {
        let out = heavy(&service, move |_| {
            let mut out = Vec::new();
            std::io::copy(&mut flate2::read::GzDecoder::new(gz.as_ref()), &mut out)
                .map_err(ApiError::internal)?;
            Ok(out)
        })
        .await?;
        Ok((media, out).into_response())
    }
}

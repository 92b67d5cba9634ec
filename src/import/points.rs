//! Point sources: any CSV of points (`lon`/`lat` columns or an INSEE commune column,
//! name, optional capacity…) and GeoJSON FeatureCollections of points. Column names come
//! from `sources.toml` (`[source.columns]`), so a new list of consultation sites or MSP
//! is a few lines there. Positions are WGS84 longitude/latitude, or x/y metres in a
//! projected CRS (the source's `crs`, a GeoJSON's `crs` member) converted per row.

use std::io::Read;

use geo::Point;

use crate::crs::SourceCrs;
use crate::model::{Facility, FinessNumber, InseeCode, Kind, PositionQuality};

use super::delimited::Delimited;
use super::locate::Places;
use super::{ImportError, SourceReport, SourceSpec};

/// One row, whatever the file format: a way to get a field by column name.
trait Row {
    fn get(&self, column: &str) -> Option<String>;
    /// Point geometry of a GeoJSON feature.
    fn geometry(&self) -> Option<Result<Point<f64>, String>> {
        None
    }
}

struct CsvRow<'a> {
    headers: &'a [String],
    values: Vec<String>,
}

impl Row for CsvRow<'_> {
    fn get(&self, column: &str) -> Option<String> {
        let i = self.headers.iter().position(|h| h == column)?;
        self.values
            .get(i)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

struct FeatureRow {
    feature: geojson::Feature,
}

impl Row for FeatureRow {
    fn get(&self, column: &str) -> Option<String> {
        let v = self.feature.property(column)?;
        let s = match v {
            serde_json::Value::String(s) => s.trim().to_owned(),
            serde_json::Value::Null => return None,
            other => other.to_string(),
        };
        Some(s).filter(|s| !s.is_empty())
    }

    /// Only a Point is converted: the geojson crate's conversion of other geometries
    /// indexes positions without checking their length (a LineString position with one
    /// number panicked there, found by fuzzing).
    fn geometry(&self) -> Option<Result<Point<f64>, String>> {
        let g = self.feature.geometry.as_ref()?;
        Some(match &g.value {
            geojson::GeometryValue::Point {
                coordinates: position,
            } => match position.as_slice() {
                [x, y, ..] => Ok(Point::new(*x, *y)),
                _ => Err(format!(
                    "a Point needs two coordinates, not {}",
                    position.len()
                )),
            },
            other => Err(format!("geometry is a {}, not a Point", other.type_name())),
        })
    }
}

/// Reads a CSV of points.
pub fn read_points_csv(
    reader: impl Read,
    spec: &SourceSpec,
    locator: &dyn Places,
    report: &mut SourceReport,
) -> Result<Vec<Facility>, ImportError> {
    let mut rows = Delimited::new(reader, spec.delimiter(), true, &spec.id)?;
    check_columns(spec, &rows.headers)?;
    let headers = rows.headers.clone();
    let mut positions = Positions::new(spec.crs.unwrap_or(SourceCrs::Wgs84));
    if spec.columns.lon.is_some() {
        report.crs = Some(positions.crs.to_string());
    }
    let mut out = Vec::new();
    while let Some((line, values)) = rows.next_row(report) {
        let row = CsvRow {
            headers: &headers,
            values,
        };
        if let Some(f) = row_to_facility(&row, line, spec, &mut positions, locator, report) {
            out.push(f);
        }
    }
    report.note_swapped(&positions.swapped, "lines");
    Ok(out)
}

/// How the positions of a file are read: its CRS, and the rows whose x and y were
/// swapped (and corrected).
struct Positions {
    crs: SourceCrs,
    swapped: Vec<u64>,
}

impl Positions {
    fn new(crs: SourceCrs) -> Self {
        Positions {
            crs,
            swapped: Vec::new(),
        }
    }

    /// WGS84 lon/lat of a point as the file gives it, or why the row is skipped: a
    /// projected point outside its CRS's valid area, also swapped, is
    /// `outside_crs_area` (see [`crate::crs::Crs::inside_area`]).
    fn place(&mut self, line: u64, p: Point<f64>) -> Result<Point<f64>, (&'static str, String)> {
        let SourceCrs::Projected(crs) = self.crs else {
            return Ok(p);
        };
        let (x, y, swapped) = crs
            .inside_area(p.x(), p.y())
            .map_err(|e| ("outside_crs_area", e.to_string()))?;
        let (lon, lat) = crs
            .to_wgs84(x, y)
            .map_err(|e| ("bad_coordinates", e.to_string()))?;
        if swapped {
            self.swapped.push(line);
        }
        Ok(Point::new(lon, lat))
    }

    /// Written to the degree's hundredth (about 1 km) or, projected, to the kilometre.
    fn rounded(&self, x: &str, y: &str, p: Point<f64>) -> bool {
        match self.crs {
            SourceCrs::Wgs84 => decimals(x).min(decimals(y)) <= 2,
            SourceCrs::Projected(_) => p.x() % 1000.0 == 0.0 && p.y() % 1000.0 == 0.0,
        }
    }
}

/// The envelope of a GeoJSON FeatureCollection: features are parsed one by one, so that
/// one malformed feature is a counted skip, not the loss of the file.
#[derive(serde::Deserialize)]
struct FeatureCollectionEnvelope {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<serde_json::Value>,
    /// The `crs` member of GeoJSON 2008 (RFC 7946 has none: WGS84 lon/lat only).
    #[serde(default)]
    crs: Option<serde_json::Value>,
}

/// The CRS a GeoJSON `crs` member names (`{"type": "name", "properties": {"name":
/// "urn:ogc:def:crs:EPSG::2154"}}`, or the 2008 draft's `{"type": "EPSG", "properties":
/// {"code": 2154}}`), else what it is, for the refusal.
fn declared_crs(crs: &serde_json::Value) -> Result<SourceCrs, String> {
    let name = crs.pointer("/properties/name").and_then(|n| n.as_str());
    let code = crs.pointer("/properties/code").and_then(|c| c.as_u64());
    let name = match (name, code) {
        (Some(name), _) => name.to_owned(),
        (None, Some(code)) if crs["type"].as_str() == Some("EPSG") => code.to_string(),
        _ => return Err(crs.to_string()),
    };
    SourceCrs::from_name(&name).map_err(|_| name)
}

/// Reads a GeoJSON FeatureCollection of points: RFC 7946's WGS84 longitude, latitude,
/// or the projected CRS its `crs` member (GeoJSON 2008) or the source's `crs` names.
pub fn read_points_geojson(
    reader: impl Read,
    spec: &SourceSpec,
    locator: &dyn Places,
    report: &mut SourceReport,
) -> Result<Vec<Facility>, ImportError> {
    let refuse = |why: String| ImportError::source(&spec.id, why);
    let fc: FeatureCollectionEnvelope = serde_json::from_reader(std::io::BufReader::new(reader))
        .map_err(|e| refuse(format!("not a GeoJSON FeatureCollection: {e}")))?;
    if fc.kind != "FeatureCollection" {
        return Err(refuse(format!(
            "not a GeoJSON FeatureCollection: its type is {:?}",
            fc.kind
        )));
    }
    let declared = fc
        .crs
        .as_ref()
        .map(|crs| {
            declared_crs(crs).map_err(|name| {
                refuse(format!(
                    "the file declares the CRS {name}; careaccess reads GeoJSON in WGS84 \
                     longitude/latitude (RFC 7946) or in {}: reproject it first (e.g. \
                     ogr2ogr -t_srs EPSG:4326)",
                    projected_codes()
                ))
            })
        })
        .transpose()?;
    let crs = match (spec.crs, declared) {
        (Some(given), Some(found)) if given != found => {
            return Err(refuse(format!(
                "the file declares the CRS {found}, but {given} was given: which one holds \
                 is not clear (leave out the one that is wrong)"
            )));
        }
        (given, found) => given.or(found).unwrap_or(SourceCrs::Wgs84),
    };
    let mut positions = Positions::new(crs);
    report.crs = Some(crs.to_string());
    let mut out = Vec::new();
    for (i, value) in fc.features.into_iter().enumerate() {
        let line = i as u64 + 1;
        report.rows_read += 1;
        let feature = match serde_json::from_value::<geojson::Feature>(value) {
            Ok(f) => f,
            Err(e) => {
                report.skip(line, "bad_feature", format!("not a GeoJSON Feature: {e}"));
                continue;
            }
        };
        let row = FeatureRow { feature };
        if let Some(f) = row_to_facility(&row, line, spec, &mut positions, locator, report) {
            out.push(f);
        }
    }
    report.note_swapped(&positions.swapped, "features");
    Ok(out)
}

/// `EPSG:2154, EPSG:5490, …`: the projected CRSs read.
fn projected_codes() -> String {
    let codes = crate::crs::Crs::ALL.map(|c| SourceCrs::Projected(c).code());
    codes.join(", ")
}

fn check_columns(spec: &SourceSpec, headers: &[String]) -> Result<(), ImportError> {
    let c = &spec.columns;
    let named = [
        &c.id,
        &c.finess,
        &c.name,
        &c.lon,
        &c.lat,
        &c.commune,
        &c.commune_deleguee,
        &c.capacity,
        &c.address,
        &c.phone,
        &c.category_label,
        &c.postcode,
    ];
    let templated = [&c.name_template, &c.address_template]
        .into_iter()
        .flatten()
        .flat_map(|t| template_columns(t));
    for col in named.into_iter().flatten().cloned().chain(templated) {
        let found = headers.iter().filter(|h| **h == col).count();
        if found > 1 {
            return Err(ImportError::source(
                &spec.id,
                format!(
                    "column {col:?} appears {found} times in the file header: which one to \
                     read is not clear"
                ),
            ));
        }
        if found == 0 {
            return Err(ImportError::source(
                &spec.id,
                format!(
                    "column {col:?} named in sources.toml is not in the file header ({})",
                    headers.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Column names used in a `{column}` template.
fn template_columns(t: &str) -> Vec<String> {
    t.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(c, _)| c.to_owned()))
        .collect()
}

/// Fills a `{column}` template; empty fields vanish with the separators they leave dangling.
fn fill_template(t: &str, row: &dyn Row) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        out.push_str(&row.get(&after[..end]).unwrap_or_default());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let words: Vec<&str> = out.split_whitespace().collect();
    elide_fr(
        &words
            .join(" ")
            .replace(" ,", ",")
            .trim_matches(|c: char| c == ',' || c.is_whitespace())
            .replace(",,", ","),
    )
}

/// French contractions and elisions after « de » where a template meets a name:
/// « MSP de Les Trois-Moutiers » → « MSP des Trois-Moutiers », « de Le Tallud » →
/// « du Tallud », « de Argenton » → « d'Argenton » (before a vowel; not before h,
/// which may be aspirated).
fn elide_fr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("de ") {
        let at_word = i == 0 || rest[..i].ends_with(' ');
        let (before, after) = (&rest[..i], &rest[i + 3..]);
        out.push_str(before);
        if !at_word {
            out.push_str("de ");
        } else if let Some(tail) = after.strip_prefix("Les ") {
            out.push_str("des ");
            rest = tail;
            continue;
        } else if let Some(tail) = after.strip_prefix("Le ") {
            out.push_str("du ");
            rest = tail;
            continue;
        } else if after.starts_with(|c: char| "AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒ".contains(c)) {
            out.push_str("d'");
        } else {
            out.push_str("de ");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Keeps the text of an HTML snippet's first element (`<h3>Name</h3><ul>…` → `Name`).
fn strip_html(s: &str) -> String {
    if !s.contains('<') {
        return s.to_owned();
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => {
                if !text.trim().is_empty() {
                    break;
                }
                in_tag = true;
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Number of decimals written in a coordinate (`-1.84` → 2; French `-1,84` too).
fn decimals(s: &str) -> usize {
    s.split_once(['.', ','])
        .map_or(0, |(_, d)| d.trim_end().len())
}

fn parse_coordinate(s: &str) -> Option<f64> {
    s.trim()
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn row_to_facility(
    row: &dyn Row,
    line: u64,
    spec: &SourceSpec,
    positions: &mut Positions,
    locator: &dyn Places,
    report: &mut SourceReport,
) -> Option<Facility> {
    let c = &spec.columns;
    let col = |name: &Option<String>| name.as_deref().and_then(|n| row.get(n));

    let finess = match col(&c.finess).map(|s| FinessNumber::parse(&s)) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            report.skip(line, "bad_finess_number", e.to_string());
            return None;
        }
        None => None,
    };
    let name = c
        .name_template
        .as_deref()
        .map(|t| fill_template(t, row))
        .or_else(|| col(&c.name).map(|n| strip_html(&n)))
        .filter(|n| !n.is_empty());
    let Some(name) = name else {
        report.skip(line, "missing_name", "no name in this row");
        return None;
    };
    let commune = match col(&c.commune).map(|s| InseeCode::parse(&s)) {
        Some(Ok(code)) => match locator.parent_of(&code) {
            _ if locator.is_commune(&code) => Some(code),
            Some(parent) => {
                report.note(format!(
                    "line {line}: commune {code} is now part of {parent}"
                ));
                Some(parent.clone())
            }
            None => {
                report.skip(
                    line,
                    "unknown_commune",
                    format!("{code} is not a commune of the COG"),
                );
                return None;
            }
        },
        Some(Err(e)) => {
            report.skip(line, "bad_commune_code", e.to_string());
            return None;
        }
        None => None,
    };
    let deleguee = match col(&c.commune_deleguee).map(|s| InseeCode::parse(&s)) {
        Some(Ok(code)) => Some(code),
        Some(Err(e)) => {
            report.skip(line, "bad_commune_code", format!("commune déléguée: {e}"));
            return None;
        }
        None => None,
    };

    // Position: the source's point, else the mairie of the commune (déléguée) named.
    let raw_point = match row.geometry() {
        Some(Ok(p)) => Some((p, false)),
        Some(Err(e)) => {
            report.skip(line, "bad_coordinates", e);
            return None;
        }
        None => match (col(&c.lon), col(&c.lat)) {
            (Some(lon), Some(lat)) => match (parse_coordinate(&lon), parse_coordinate(&lat)) {
                (Some(x), Some(y)) => {
                    let p = Point::new(x, y);
                    Some((p, positions.rounded(&lon, &lat, p)))
                }
                _ => {
                    report.skip(
                        line,
                        "bad_coordinates",
                        format!("lon {lon:?}, lat {lat:?} are not numbers"),
                    );
                    return None;
                }
            },
            (None, None) => None,
            (lon, lat) => {
                report.skip(
                    line,
                    "bad_coordinates",
                    format!("only one of lon ({lon:?}) and lat ({lat:?}) is given"),
                );
                return None;
            }
        },
    };
    let (position, quality, commune) = match raw_point {
        Some((given, rounded)) => {
            let p = match positions.place(line, given) {
                Ok(p) => p,
                Err((reason, detail)) => {
                    report.skip(line, reason, detail);
                    return None;
                }
            };
            if !(-180.0..=180.0).contains(&p.x()) || !(-90.0..=90.0).contains(&p.y()) {
                report.skip(
                    line,
                    "bad_coordinates",
                    format!(
                        "({}, {}) is not a lon/lat in degrees{}",
                        p.x(),
                        p.y(),
                        projected_hint(p)
                    ),
                );
                return None;
            }
            let Some(found) = locator.locate(p) else {
                report.skip(
                    line,
                    "outside_france",
                    format!("({}, {}) is more than 5 km from every commune polygon of the data (metropolitan France and the DROM)", p.x(), p.y()),
                );
                return None;
            };
            if let Some(pc) = col(&c.postcode)
                && let Some(why) = misplaced(&pc, finess.as_ref(), found.commune.departement())
            {
                report.skip(
                    line,
                    "position_hors_departement",
                    format!(
                        "{name}: ({}, {}) lies in {} ({}), but {why}",
                        p.x(),
                        p.y(),
                        found.commune,
                        found.commune.departement()
                    ),
                );
                return None;
            }
            let quality = if rounded {
                PositionQuality::Rounded
            } else {
                PositionQuality::Address
            };
            (p, quality, Some(commune.unwrap_or(found.commune)))
        }
        None => {
            let own = deleguee.as_ref().and_then(|d| locator.former_point(d));
            let Some(code) = commune.clone() else {
                report.skip(
                    line,
                    "no_position",
                    "neither coordinates nor a commune code",
                );
                return None;
            };
            let Some(p) = own.or_else(|| locator.ref_point(&code).map(|(p, _)| p)) else {
                report.skip(
                    line,
                    "no_position",
                    format!("commune {code} has no known location"),
                );
                return None;
            };
            (p, PositionQuality::CommuneChefLieu, Some(code))
        }
    };
    let capacity = match col(&c.capacity) {
        Some(s) => match parse_coordinate(&s).filter(|v| *v >= 0.0) {
            Some(v) => Some(v),
            None if spec.strict_capacity => {
                report.skip(
                    line,
                    "bad_capacity",
                    format!("capacity {s:?} is not a number ≥ 0"),
                );
                return None;
            }
            None => {
                report.note(format!(
                    "line {line}: capacity {s:?} is not a number ≥ 0, left empty"
                ));
                None
            }
        },
        None => None,
    };
    let id = finess
        .as_ref()
        .map(|f| f.to_string())
        .or_else(|| col(&c.id).map(|i| format!("{}:{i}", spec.id)))
        .unwrap_or_else(|| format!("{}:{line}", spec.id));
    let address = c
        .address_template
        .as_deref()
        .map(|t| fill_template(t, row))
        .or_else(|| col(&c.address))
        .filter(|a| !a.is_empty());
    Some(Facility {
        id,
        finess,
        kind: spec.kind.clone().unwrap_or(Kind::Other),
        category: None,
        category_label: col(&c.category_label),
        name,
        address,
        commune,
        capacity,
        phone: col(&c.phone).map(|p| french_phone(&p)),
        position,
        position_quality: quality,
        source: spec.id.clone(),
        partial_list: spec.partial_list,
        source_line: line,
    })
}

/// `; x/y metres of EPSG:2154 …? give that CRS (crs)` when a point read as lon/lat
/// falls in the valid area of a projected CRS (either way round).
fn projected_hint(p: Point<f64>) -> String {
    crate::crs::Crs::ALL
        .into_iter()
        .find(|c| c.contains(p.x(), p.y()) || c.contains(p.y(), p.x()))
        .map_or_else(String::new, |c| {
            format!(
                "; x/y metres of {c}? give that CRS (`crs`: \"EPSG:{}\")",
                c.epsg()
            )
        })
}

/// Why a point located in département `located` is misplaced, if it is: its postcode
/// names another département and so does its FINESS number (or it has none). Postcodes
/// 97133 and 97150 are Saint-Barthélemy and Saint-Martin, outside the COG's communes;
/// overseas CEDEX codes (978xx in La Réunion) name no département and are not checked.
fn misplaced(postcode: &str, finess: Option<&FinessNumber>, located: &str) -> Option<String> {
    // A postcode read as a number loses its leading zero (01440 → 1440).
    let padded;
    let pc = match postcode.trim() {
        p if p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()) => {
            padded = format!("0{p}");
            padded.as_str()
        }
        p => p,
    };
    let said = match pc {
        "97133" => "977",
        "97150" => "978",
        _ if pc.len() == 5 && ("971".."977").contains(&&pc[..3]) => &pc[..3],
        // Other overseas codes are CEDEX codes (97826 is in La Réunion): no check.
        _ if pc.starts_with("97") => return None,
        _ if pc.len() == 5 => &pc[..2],
        // No usable postcode: nothing to check against.
        _ => return None,
    };
    let same = |dep: &str| dep == located || (dep == "20" && matches!(located, "2A" | "2B"));
    if same(said) {
        return None;
    }
    // FINESS numbers start with the département (2A, 2B…); overseas ones with 97 and a
    // digit that is not the département's, so they say nothing here.
    let registered = finess.map(|f| &f.as_str()[..2]).filter(|d| *d != "97");
    if registered.is_some_and(same) {
        return None;
    }
    Some(match registered {
        Some(r) => format!("its postcode {pc} says {said} and its FINESS number {r}"),
        None => format!("its postcode {pc} says {said}"),
    })
}

/// A French phone number as written: sources that store it as a number lose the leading
/// 0 (`549680156` for `05 49 68 01 56`); nine digits starting 1–9 get it back. Anything
/// else is kept as the source wrote it.
fn french_phone(p: &str) -> String {
    let p = p.trim();
    if p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()) && !p.starts_with('0') {
        format!("0{p}")
    } else {
        p.to_owned()
    }
}

#[cfg(test)]
mod tests;

//! Point sources: any CSV of points (`lon`/`lat` columns or an INSEE commune column,
//! name, optional capacity…) and GeoJSON FeatureCollections of points. Column names come
//! from `sources.toml` (`[source.columns]`), so a new list of consultation sites or MSP
//! is a few lines there.

use std::io::Read;

use geo::Point;

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
    let mut out = Vec::new();
    while let Some((line, values)) = rows.next_row(report) {
        let row = CsvRow {
            headers: &headers,
            values,
        };
        if let Some(f) = row_to_facility(&row, line, spec, locator, report) {
            out.push(f);
        }
    }
    Ok(out)
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

/// Names under which files declare WGS84 longitude/latitude.
const WGS84_NAMES: &[&str] = &[
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
    "CRS84",
];

/// Reads a GeoJSON FeatureCollection of points (RFC 7946: WGS84 longitude, latitude).
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
    if let Some(crs) = &fc.crs {
        let name = crs.pointer("/properties/name").and_then(|n| n.as_str());
        if !name.is_some_and(|n| WGS84_NAMES.contains(&n)) {
            return Err(refuse(format!(
                "the file declares the CRS {}; careaccess reads GeoJSON in WGS84 \
                 longitude/latitude (RFC 7946): reproject it first (e.g. ogr2ogr -t_srs EPSG:4326)",
                name.map_or_else(|| crs.to_string(), str::to_owned)
            )));
        }
    }
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
        if let Some(f) = row_to_facility(&row, line, spec, locator, report) {
            out.push(f);
        }
    }
    Ok(out)
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
                    Some((Point::new(x, y), decimals(&lon).min(decimals(&lat)) <= 2))
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
        Some((p, rounded)) => {
            if !(-180.0..=180.0).contains(&p.x()) || !(-90.0..=90.0).contains(&p.y()) {
                report.skip(
                    line,
                    "bad_coordinates",
                    format!("({}, {}) is not a lon/lat in degrees", p.x(), p.y()),
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

/// A French phone number as written: sources that store it as a number lose the leading
/// 0 (`549680156` for `05 49 68 01 56`); nine digits starting 1–9 get it back. Anything
/// else is kept as the source wrote it.
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

fn french_phone(p: &str) -> String {
    let p = p.trim();
    if p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()) && !p.starts_with('0') {
        format!("0{p}")
    } else {
        p.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_stored_as_numbers_get_their_leading_zero() {
        assert_eq!(french_phone("549680156"), "0549680156");
        assert_eq!(french_phone("05 49 68 01 56"), "05 49 68 01 56");
        assert_eq!(french_phone("0549680156"), "0549680156");
        assert_eq!(french_phone("+33549680156"), "+33549680156");
        assert_eq!(french_phone("12345"), "12345");
    }

    struct MapRow(Vec<(&'static str, &'static str)>);
    impl Row for MapRow {
        fn get(&self, column: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == column)
                .map(|(_, v)| v.to_string())
                .filter(|v| !v.is_empty())
        }
    }

    /// Found by fuzzing `points_geojson`: converting any geometry to geo types panicked
    /// on a LineString whose position has one number.
    #[test]
    fn a_linestring_with_a_one_number_position_is_skipped_not_a_panic() {
        let feature: geojson::Feature = serde_json::from_str(
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[5]]},"properties":{}}"#,
        )
        .unwrap();
        let got = FeatureRow { feature }.geometry().unwrap();
        assert_eq!(got, Err("geometry is a LineString, not a Point".to_owned()));
    }

    #[test]
    fn points_far_from_their_postcode_and_finess_are_misplaced() {
        let f = |s: &str| FinessNumber::parse(s).unwrap();
        // CH de Béziers geocoded in Saint-Étienne.
        let why = misplaced("34525", Some(&f("340000033")), "42").unwrap();
        assert!(why.contains("34525") && why.contains("34"), "{why}");
        // In place; or a border postcode whose FINESS agrees with the point.
        assert_eq!(misplaced("34525", Some(&f("340000033")), "34"), None);
        assert_eq!(misplaced("01200", Some(&f("740000000")), "74"), None);
        // Corsica's postcodes say 20.
        assert_eq!(misplaced("20000", Some(&f("2A0000000")), "2A"), None);
        assert_eq!(misplaced("20600", None, "2B"), None);
        // Saint-Martin at a placeholder point in Guadeloupe: the DOM FINESS prefix says
        // nothing, the postcode is not Guadeloupe's.
        assert!(misplaced("97150", Some(&f("970100400")), "971").is_some());
        assert_eq!(misplaced("97100", Some(&f("970100400")), "971"), None);
        assert_eq!(misplaced("97826", Some(&f("970400000")), "974"), None);
        assert_eq!(misplaced("", None, "79"), None);
        assert_eq!(misplaced("1440", Some(&f("10000024")), "01"), None);
    }

    #[test]
    fn templates() {
        let row = MapRow(vec![
            ("n", "12"),
            ("street", "RUE X"),
            ("pc", ""),
            ("city", "THOUARS"),
        ]);
        assert_eq!(
            fill_template("{n} {street}, {pc} {city}", &row),
            "12 RUE X, THOUARS"
        );
        assert_eq!(fill_template("MSP de {city}", &row), "MSP de THOUARS");
    }

    #[test]
    fn names_built_from_a_template_read_as_french() {
        for (commune, name) in [
            ("Les Trois-Moutiers", "MSP des Trois-Moutiers"),
            ("Le Tallud", "MSP du Tallud"),
            ("Argenton-l'Église", "MSP d'Argenton-l'Église"),
            ("Oiron", "MSP d'Oiron"),
            ("Échiré", "MSP d'Échiré"),
            ("La Roche-sur-Yon", "MSP de La Roche-sur-Yon"),
            ("Thouars", "MSP de Thouars"),
            ("Herbignac", "MSP de Herbignac"),
        ] {
            let row = MapRow(vec![("c", commune)]);
            assert_eq!(fill_template("MSP de {c}", &row), name);
        }
        // Only the word « de »: « Vendée Avenir » is left as it is.
        assert_eq!(elide_fr("Pôle de Vendée Avenir"), "Pôle de Vendée Avenir");
        assert_eq!(
            elide_fr("Maison de Le Pin et de Airvault"),
            "Maison du Pin et d'Airvault"
        );
        assert_eq!(template_columns("{a} x {b}"), vec!["a", "b"]);
    }

    #[test]
    fn html_names() {
        assert_eq!(
            strip_html("<h3>EHPAD L'AMBARROISE</h3><ul><li>Prix</li></ul>"),
            "EHPAD L'AMBARROISE"
        );
        assert_eq!(strip_html("Plain"), "Plain");
    }

    #[test]
    fn decimals_and_coordinates() {
        assert_eq!(decimals("-1.84"), 2);
        assert_eq!(decimals("47.2138099936"), 10);
        assert_eq!(decimals("46,9755"), 4);
        assert_eq!(parse_coordinate("46,5"), Some(46.5));
        assert_eq!(parse_coordinate("NaN"), None);
        assert_eq!(parse_coordinate("inf"), None);
        assert_eq!(super::super::delimited::decode_field(&[0x43, 0xc9]), "CÉ");
    }
}

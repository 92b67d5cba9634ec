//! Tests of `import::points`.

use super::*;
use crate::crs::Crs;
use crate::import::locate::Located;

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

/// The communes a test reads against: every point of the Thouarsais is in Thouars.
struct Thouarsais;

impl Places for Thouarsais {
    fn is_commune(&self, code: &InseeCode) -> bool {
        code.as_str() == "79329"
    }
    fn parent_of(&self, _: &InseeCode) -> Option<&InseeCode> {
        None
    }
    fn ref_point(&self, _: &InseeCode) -> Option<(Point<f64>, crate::model::RefPointSource)> {
        None
    }
    fn former_point(&self, _: &InseeCode) -> Option<Point<f64>> {
        None
    }
    fn locate(&self, p: Point<f64>) -> Option<Located> {
        let inside = (-0.6..0.2).contains(&p.x()) && (46.7..47.2).contains(&p.y());
        inside.then(|| Located {
            commune: InseeCode::parse("79329").expect("valid INSEE code"),
            outside_by_m: 0.0,
        })
    }
}

fn spec(format: &str, crs: Option<&str>) -> SourceSpec {
    let mut spec: SourceSpec = serde_json::from_value(serde_json::json!({
        "id": "msp", "title": "MSP", "role": "facilities", "format": format,
        "licence": "l", "vintage": "v", "kind": "msp", "delimiter": ";",
        "columns": { "name": "nom", "lon": "X", "lat": "Y" },
    }))
    .expect("a valid spec");
    spec.crs = crs.map(|c| SourceCrs::from_name(c).expect("a known CRS"));
    spec
}

/// Lambert-93 x/y of a WGS84 lon/lat, as a French spreadsheet writes them (`456900,12`).
fn l93_fr(lon: f64, lat: f64) -> (String, String) {
    let (x, y) = Crs::Lambert93.from_wgs84(lon, lat).expect("in Lambert-93");
    let fr = |v: f64| format!("{v:.2}").replace('.', ",");
    (fr(x), fr(y))
}

fn read_csv(csv: &str, spec: &SourceSpec) -> (Vec<Facility>, SourceReport) {
    let mut report = SourceReport::default();
    let rows = read_points_csv(csv.as_bytes(), spec, &Thouarsais, &mut report).expect("read");
    assert_eq!(
        report.rows_read,
        rows.len() as u64 + report.skipped_total(),
        "{report:?}"
    );
    (rows, report)
}

fn assert_at(f: &Facility, lon: f64, lat: f64) {
    let (x, y) = (f.position.x(), f.position.y());
    assert!(
        (x - lon).abs() < 1e-6 && (y - lat).abs() < 1e-6,
        "{}: ({x}, {y}), expected ({lon}, {lat})",
        f.name
    );
}

#[test]
fn lambert93_columns_are_read_as_metres_and_converted() {
    let (x1, y1) = l93_fr(-0.2148, 46.9755);
    let (x2, y2) = l93_fr(-0.2740, 47.0530);
    let csv = format!(
        "nom;X;Y\nMSP Thouars;{x1};{y1}\nMSP Argenton;{x2};{y2}\nAu km près;457000;6653000\n"
    );
    let (rows, report) = read_csv(&csv, &spec("points_csv", Some("EPSG:2154")));
    assert_eq!(rows.len(), 3, "{report:?}");
    assert_at(&rows[0], -0.2148, 46.9755);
    assert_at(&rows[1], -0.2740, 47.0530);
    assert_eq!(rows[0].position_quality, PositionQuality::Address);
    assert_eq!(
        rows[0].commune.as_ref().map(InseeCode::as_str),
        Some("79329")
    );
    // A point given to the kilometre is as rough as one to the degree's hundredth.
    assert_eq!(rows[2].position_quality, PositionQuality::Rounded);
    assert_eq!(
        report.crs.as_deref(),
        Some("EPSG:2154 RGF93 v1 / Lambert-93 (x/y in metres)")
    );
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

#[test]
fn swapped_columns_are_corrected_and_noted() {
    let (x, y) = l93_fr(-0.2148, 46.9755);
    let csv = format!("nom;X;Y\nMSP droite;{x};{y}\nMSP à l'envers;{y};{x}\n");
    let (rows, report) = read_csv(&csv, &spec("points_csv", Some("2154")));
    assert_eq!(rows.len(), 2, "{report:?}");
    assert_at(&rows[1], -0.2148, 46.9755);
    assert_eq!(
        report.notes,
        ["1 row had X and Y swapped and was corrected (lines 3)"]
    );
}

#[test]
fn a_point_outside_the_crs_area_is_skipped_with_its_values_and_the_area() {
    let (x, y) = l93_fr(-0.2148, 46.9755);
    // Degrees in a Lambert-93 file, and a Lambert II étendu point (y 2 200 km).
    let csv = format!("nom;X;Y\nMSP;{x};{y}\nDegrés;-0,2148;46,9755\nLambert II;406000;2223000\n");
    let (rows, report) = read_csv(&csv, &spec("points_csv", Some("EPSG:2154")));
    assert_eq!(rows.len(), 1, "{report:?}");
    assert_eq!(report.skipped.get("outside_crs_area"), Some(&2));
    let skip = &report.skipped_rows[0];
    assert_eq!((skip.line, skip.reason.as_str()), (3, "outside_crs_area"));
    assert_eq!(
        skip.detail,
        "(-0.2148, 46.9755) is outside the EPSG:2154 RGF93 v1 / Lambert-93 area \
         x 50000..1300000, y 6000000..7200000, also with X and Y swapped"
    );
    assert!(report.skipped_rows[1].detail.contains("(406000, 2223000)"));
}

#[test]
fn lambert93_read_as_degrees_says_which_crs_it_looks_like() {
    let csv = "nom;X;Y\nMSP;456900;6652900\n";
    let (rows, report) = read_csv(csv, &spec("points_csv", None));
    assert!(rows.is_empty());
    let detail = &report.skipped_rows[0].detail;
    assert!(
        detail.contains("not a lon/lat in degrees") && detail.contains("\"EPSG:2154\""),
        "{detail}"
    );
    assert_eq!(
        report.crs.as_deref(),
        Some("EPSG:4326 WGS 84 (longitude/latitude)")
    );
}

fn geojson(crs: Option<&str>, x: f64, y: f64) -> String {
    let member = crs.map_or_else(String::new, |name| {
        format!(r#""crs":{{"type":"name","properties":{{"name":"{name}"}}}},"#)
    });
    format!(
        r#"{{"type":"FeatureCollection",{member}"features":[{{"type":"Feature","properties":{{"nom":"MSP Thouars"}},"geometry":{{"type":"Point","coordinates":[{x},{y}]}}}}]}}"#
    )
}

fn read_geojson(text: &str, spec: &SourceSpec) -> Result<(Vec<Facility>, SourceReport), String> {
    let mut report = SourceReport::default();
    read_points_geojson(text.as_bytes(), spec, &Thouarsais, &mut report)
        .map(|rows| (rows, report))
        .map_err(|e| e.to_string())
}

#[test]
fn a_geojson_in_lambert93_is_read_in_its_crs() {
    let (x, y) = Crs::Lambert93
        .from_wgs84(-0.2148, 46.9755)
        .expect("in Lambert-93");
    for name in ["urn:ogc:def:crs:EPSG::2154", "EPSG:2154"] {
        let text = geojson(Some(name), x, y);
        let (rows, report) = read_geojson(&text, &spec("geojson_points", None)).expect(name);
        assert_eq!(rows.len(), 1, "{report:?}");
        assert_at(&rows[0], -0.2148, 46.9755);
        assert!(
            report
                .crs
                .as_deref()
                .is_some_and(|c| c.starts_with("EPSG:2154"))
        );
        // The source may say so too; the file without a `crs` member takes the source's.
        read_geojson(&text, &spec("geojson_points", Some("2154"))).expect("the same CRS");
    }
    let silent = geojson(None, x, y);
    let (rows, _) =
        read_geojson(&silent, &spec("geojson_points", Some("EPSG:2154"))).expect("given");
    assert_at(&rows[0], -0.2148, 46.9755);
    // Swapped coordinates in a geometry are corrected as in a CSV.
    let (rows, report) = read_geojson(
        &geojson(Some("EPSG:2154"), y, x),
        &spec("geojson_points", None),
    )
    .expect("swapped");
    assert_at(&rows[0], -0.2148, 46.9755);
    assert_eq!(
        report.notes,
        ["1 row had X and Y swapped and was corrected (features 1)"]
    );
}

#[test]
fn a_geojson_in_an_unknown_crs_is_refused_and_two_crss_must_agree() {
    let e = read_geojson(
        &geojson(Some("urn:ogc:def:crs:EPSG::3857"), 0.0, 0.0),
        &spec("geojson_points", None),
    )
    .expect_err("Web Mercator");
    assert!(
        e.contains("urn:ogc:def:crs:EPSG::3857")
            && e.contains("EPSG:2154")
            && e.contains("reproject it first"),
        "{e}"
    );
    let e = read_geojson(
        &geojson(Some("EPSG:4326"), -0.2148, 46.9755),
        &spec("geojson_points", Some("EPSG:2154")),
    )
    .expect_err("two CRSs");
    assert!(e.contains("EPSG:4326") && e.contains("EPSG:2154"), "{e}");
    // The 2008 draft's EPSG form names a CRS too.
    let draft = geojson(None, 456_900.0, 6_652_900.0).replacen(
        r#""features""#,
        r#""crs":{"type":"EPSG","properties":{"code":2154}},"features""#,
        1,
    );
    let (rows, _) = read_geojson(&draft, &spec("geojson_points", None)).expect("EPSG code");
    assert_eq!(rows.len(), 1);
}

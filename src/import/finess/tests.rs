//! Tests of `import::finess`.

use super::*;

const SPEC_TOML: &str = r#"
    id = "finess"
    title = "FINESS extraction des établissements géolocalisés"
    role = "facilities"
    format = "finess_etalab"
    url = "https://example.invalid/etalab-cs1100507-stock.csv"
    licence = "Licence Ouverte 2.0"
    vintage = "2026-05-12"
    hospital_aggregate_prefix = "11"

    [categories]
    "603" = "msp"
    "463" = "clic"
    "500" = "ehpad"
    "501" = "ehpa"
    "502" = "ehpa"
    "124" = "centre_sante"
    "101" = "hospital"
    "106" = "hospital"
    "355" = "hospital"
"#;

fn spec() -> SourceSpec {
    toml::from_str(SPEC_TOML).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/finess/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_bytes(bytes: &[u8]) -> (Result<FinessExtract, ImportError>, SourceReport) {
    let mut report = SourceReport::default();
    let result = parse(bytes, &spec(), &mut report);
    (result, report)
}

fn parse_fixture(name: &str) -> (FinessExtract, SourceReport) {
    let (result, report) = parse_bytes(&fixture(name));
    (result.unwrap(), report)
}

fn by_id<'a>(extract: &'a FinessExtract, id: &str) -> &'a Facility {
    extract
        .facilities
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("facility {id} not kept"))
}

/// `(FINESS, kind, INSEE, lon, lat)` of every row kept from the Windows-1252
/// fixture. lon/lat: pyproj 3.7.2 / PROJ 9.5.1
/// `Transformer.from_crs("EPSG:xxxx", "EPSG:4326", always_xy=True)` of the row's
/// coordinates (after un-swapping for 790012387).
const KEPT: [(&str, &str, &str, f64, f64); 15] = [
    ("790012345", "msp", "79329", -0.2146003949, 46.9756996774),
    ("790012353", "clic", "79049", -0.4866998908, 46.8404998948),
    ("790012361", "ehpad", "79202", -0.2486001012, 46.6485997500),
    ("860012345", "ehpa", "86137", 0.0776998553, 47.0105998763),
    (
        "490012345",
        "centre_sante",
        "49328",
        -0.0768994421,
        47.2599997631,
    ),
    (
        "860014208",
        "hospital",
        "86194",
        0.3766001637,
        46.5630996098,
    ),
    (
        "790016371",
        "hospital",
        "79329",
        -0.2070004315,
        46.9830001714,
    ),
    (
        "2A0001062",
        "hospital",
        "2A272",
        8.9719995029,
        41.6209997181,
    ),
    (
        "670780212",
        "hospital",
        "67482",
        7.7521000243,
        48.5733995738,
    ),
    ("790012379", "autre", "79329", -0.2150000801, 46.9760003118),
    (
        "970100123",
        "hospital",
        "97120",
        -61.5330999737,
        16.2411002182,
    ),
    ("970401234", "msp", "97411", 55.4503996336, -20.8822996351),
    (
        "970500456",
        "hospital",
        "97502",
        -56.1773000223,
        46.7811000256,
    ),
    ("790012387", "ehpad", "79005", -0.1380002322, 46.8249995998),
    ("790012395", "ehpa", "79299", -0.2320005373, 46.8890001752),
];

/// `(line, reason)` of every row of the Windows-1252 fixture not kept.
const SKIPPED: [(u64, &str); 13] = [
    (18, "missing_geolocation"),
    (19, "malformed_row"),
    (20, "bad_coordinates"),
    (21, "bad_coordinates"),
    (22, "bad_coordinates"),
    (23, "unknown_crs"),
    (24, "bad_finess_number"),
    (25, "bad_commune_code"),
    (26, "duplicate_finess"),
    (27, "unknown_record_type"),
    (32, "orphan_geolocation"),
    (35, "malformed_row"),
    (40, "duplicate_geolocation"),
];

#[test]
fn fixture_kinds_communes_and_positions() {
    let (extract, _) = parse_fixture("etalab-cs1100507-stock-fixture.csv");
    assert_eq!(extract.facilities.len(), KEPT.len());
    for (id, kind, insee, lon, lat) in KEPT {
        let f = by_id(&extract, id);
        assert_eq!(f.kind.as_str(), kind, "{id}");
        assert_eq!(
            f.commune.as_ref().map(InseeCode::as_str),
            Some(insee),
            "{id}"
        );
        assert_eq!(f.finess.as_ref().map(FinessNumber::as_str), Some(id));
        let (x, y) = (f.position.x(), f.position.y());
        assert!(
            (x - lon).abs() < 1e-6 && (y - lat).abs() < 1e-6,
            "{id}: ({x}, {y}) vs pyproj ({lon}, {lat})"
        );
        assert_eq!(f.position_quality, PositionQuality::Address);
        assert_eq!(f.source, "finess");
        assert!(!f.partial_list);
        assert_eq!(f.capacity, None);
    }
}

#[test]
fn fixture_keeps_file_order_and_first_of_duplicates() {
    let (extract, _) = parse_fixture("etalab-cs1100507-stock-fixture.csv");
    let ids: Vec<&str> = extract.facilities.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids[0], "790012345");
    let msp = by_id(&extract, "790012345");
    assert_eq!(
        msp.name,
        "MAISON DE SANTÉ PLURIPROFESSIONNELLE DU THOUARSAIS"
    );
}

#[test]
fn fixture_fields_and_accents_from_windows_1252() {
    let (extract, report) = parse_fixture("etalab-cs1100507-stock-fixture.csv");
    let msp = by_id(&extract, "790012345");
    assert_eq!(msp.category.as_deref(), Some("603"));
    assert_eq!(
        msp.category_label.as_deref(),
        Some("Maison de santé (L.6223-3)")
    );
    assert_eq!(
        msp.address.as_deref(),
        Some("12 B RUE DES HÔPITAUX, 79100 THOUARS")
    );
    assert_eq!(msp.phone.as_deref(), Some("0549661234"));
    let ehpad = by_id(&extract, "790012361");
    assert_eq!(ehpad.name, "EHPAD LES SŒURS DE SAINT-JOSEPH");
    assert_eq!(
        ehpad.address.as_deref(),
        Some("5 AV DE LA GARE, BP 40112, 79200 PARTHENAY")
    );
    let pharmacy = by_id(&extract, "790012379");
    assert_eq!(pharmacy.kind, Kind::Other);
    assert_eq!(pharmacy.category.as_deref(), Some("620"));
    assert_eq!(
        pharmacy.category_label.as_deref(),
        Some("Pharmacie d'Officine")
    );
    let cds = by_id(&extract, "490012345");
    assert_eq!(
        cds.address.as_deref(),
        Some("LIEU-DIT LA CROIX VERTE, 49400 SAUMUR")
    );
    // Category 365 is not mapped: a hospital through its aggregate 1106.
    assert_eq!(by_id(&extract, "670780212").kind, Kind::Hospital);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("decoded as Windows-1252"))
    );
}

#[test]
fn fixture_swapped_row_is_corrected_and_noted() {
    let (extract, report) = parse_fixture("etalab-cs1100507-stock-fixture.csv");
    let airvault = by_id(&extract, "790012387");
    assert!((airvault.position.y() - 46.825).abs() < 1e-5);
    let note = report
        .notes
        .iter()
        .find(|n| n.contains("swapped"))
        .expect("a note on swapped coordinates");
    assert_eq!(
        note,
        "1 row had X and Y swapped and was corrected (structureet lines 16)"
    );
}

#[test]
fn fixture_skips_every_bad_row_with_line_and_reason() {
    let (_, report) = parse_fixture("etalab-cs1100507-stock-fixture.csv");
    let got: Vec<(u64, &str)> = report
        .skipped_rows
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect();
    assert_eq!(got, SKIPPED);
    for s in &report.skipped_rows {
        assert!(!s.detail.is_empty(), "{s:?}");
    }
    let detail = |line: u64| {
        &report
            .skipped_rows
            .iter()
            .find(|s| s.line == line)
            .unwrap()
            .detail
    };
    assert!(detail(20).contains("\"ABC\""), "{}", detail(20));
    assert!(detail(21).contains("NaN"), "{}", detail(21));
    assert!(detail(22).contains("outside"), "{}", detail(22));
    assert!(detail(23).contains("27572"), "{}", detail(23));
    assert!(detail(26).contains("line 2"), "{}", detail(26));
}

#[test]
fn fixture_counts_add_up() {
    let (extract, report) = parse_fixture("etalab-cs1100507-stock-fixture.csv");
    assert_eq!(extract.extraction_date.as_deref(), Some("2026-05-12"));
    assert_eq!(report.kept, extract.facilities.len() as u64);
    assert_eq!(report.kept, 15);
    assert_eq!(report.skipped_total(), 13);
    assert_eq!(report.rows_read, report.kept + report.skipped_total());
    assert_eq!(report.skipped.get("bad_coordinates"), Some(&3));
    let by_kind: Vec<(&str, u64)> = report
        .kept_by_kind
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by_kind,
        [
            ("autre", 1),
            ("centre_sante", 1),
            ("clic", 1),
            ("ehpa", 2),
            ("ehpad", 2),
            ("hospital", 6),
            ("msp", 2),
        ]
    );
    assert!(report.notes.iter().any(|n| n.starts_with("49 data lines")));
}

#[test]
fn utf8_fixture_with_bom_quotes_and_overseas() {
    let (extract, report) = parse_fixture("etalab-cs1100507-stock-fixture-utf8.csv");
    assert_eq!(extract.extraction_date.as_deref(), Some("2026-05-12"));
    assert_eq!(report.skipped_total(), 0, "{:?}", report.skipped_rows);
    assert_eq!(report.rows_read, 2);
    let msp = by_id(&extract, "790012460");
    assert_eq!(
        msp.name,
        "MAISON DE SANTÉ PLURIPROFESSIONNELLE DE L'ÎLE-BOUCHARD"
    );
    assert_eq!(
        msp.address.as_deref(),
        Some("3 RUE DU CHÂTEAU, 79100 THOUARS")
    );
    assert!((msp.position.x() - -0.2200004307).abs() < 1e-6);
    assert!((msp.position.y() - 46.9800004072).abs() < 1e-6);
    let ehpad = by_id(&extract, "970200777");
    assert_eq!(ehpad.name, "RÉSIDENCE LES ŒILLETS; FORT-DE-FRANCE");
    assert_eq!(ehpad.commune.as_ref().map(InseeCode::as_str), Some("97209"));
    assert_eq!(ehpad.kind, Kind::Ehpad);
    assert!((ehpad.position.x() - -61.0588001496).abs() < 1e-6);
    assert!((ehpad.position.y() - 14.6160997017).abs() < 1e-6);
    assert!(report.notes.iter().all(|n| !n.contains("Windows-1252")));
}

#[test]
fn each_line_falls_back_to_windows_1252_on_its_own() {
    let mut bytes = b"finess;etalab;98;2026-05-12\n".to_vec();
    let row = fixture_row("790012460", "MAISON DE SANT\u{c9}");
    bytes.extend(row.as_bytes());
    let latin = fixture_row("790012478", "FOYER DES S\u{152}URS");
    bytes.extend(encoding_rs::WINDOWS_1252.encode(&latin).0.iter());
    bytes.extend(b"geolocalisation;790012460;455300.7;6658299.5;EPSG:2154;2026-05-04\n");
    bytes.extend(b"geolocalisation;790012478;455300.7;6658299.5;EPSG:2154;2026-05-04\n");
    let (result, report) = parse_bytes(&bytes);
    let extract = result.unwrap();
    assert_eq!(by_id(&extract, "790012460").name, "MAISON DE SANTÉ");
    assert_eq!(by_id(&extract, "790012478").name, "FOYER DES SŒURS");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("1 line was not valid UTF-8"))
    );
}

fn fixture_row(finess: &str, name: &str) -> String {
    let mut fields = vec![""; se::COUNT];
    fields[0] = "structureet";
    fields[se::NOFINESSET] = finess;
    fields[se::RSLONGUE] = name;
    fields[se::COMMUNE] = "329";
    fields[se::DEPARTEMENT] = "79";
    fields[se::CATEGETAB] = "603";
    format!("{}\n", fields.join(";"))
}

#[test]
fn not_a_finess_file_is_an_error() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        (b"\xEF\xBB\xBF", "empty"),
        (b"structureet;010000024;010780054;CH\r\n", "no header line"),
        (b"nofinesset;rs;commune\r\n", "not a FINESS header"),
    ];
    for (bytes, expected) in cases {
        let (result, _) = parse_bytes(bytes);
        let message = result.unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("finess"), "{message}");
    }
}

#[test]
fn header_only_file_is_empty_but_fine() {
    let (result, report) = parse_bytes(b"finess;etalab;98;2026-05-12\r\n");
    let extract = result.unwrap();
    assert!(extract.facilities.is_empty());
    assert_eq!(report.rows_read, 0);
}

#[test]
fn commune_codes() {
    let ok = [
        ("79", "329", "79329"),
        ("01", "451", "01451"),
        ("2A", "004", "2A004"),
        ("2b", "033", "2B033"),
        ("9A", "101", "97101"),
        ("9D", "411", "97411"),
        ("9F", "611", "97611"),
    ];
    for (dep, commune, insee) in ok {
        assert_eq!(commune_code(dep, commune).unwrap().as_str(), insee);
    }
    for (dep, commune) in [
        ("79", "29"),
        ("7", "329"),
        ("79", "ABC"),
        ("2C", "004"),
        ("", ""),
    ] {
        assert!(commune_code(dep, commune).is_err(), "{dep} {commune}");
    }
}

#[test]
fn fields_split_with_optional_quotes() {
    assert_eq!(split_fields("a;;b;"), ["a", "", "b", ""]);
    assert_eq!(
        split_fields(r#"a;"b;c";"d ""e""""#),
        ["a", "b;c", r#"d "e""#]
    );
    assert_eq!(split_fields(r#"a;x"y"#), ["a", r#"x"y"#]);
    assert_eq!(split_fields(r#"a;"unterminated"#), ["a", "unterminated"]);
}

#[test]
fn coordinates() {
    assert_eq!(parse_coordinate("870262.2"), Ok(870262.2));
    assert_eq!(parse_coordinate("870262,2"), Ok(870262.2));
    for bad in ["", "NaN", "inf", "-infinity", "1.2.3", "x"] {
        assert!(parse_coordinate(bad).is_err(), "{bad}");
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_lines_never_panic_and_add_up(body in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::strategy::Just("structureet;790012345;x;MSP;;;;;;;;;329;79".to_owned()),
            proptest::strategy::Just(fixture_row("790012345", "MSP").trim_end().to_owned()),
            proptest::strategy::Just("geolocalisation;790012345;455691.4;6657805.5;EPSG:2154;d".to_owned()),
            proptest::strategy::Just("geolocalisation;790012345;6657805.5;455691.4;LAMBERT_93;d".to_owned()),
            "[a-z0-9;.,\"é ]{0,60}",
        ],
        0..12,
    )) {
        let text = format!("finess;etalab;98;2026-05-12\n{}", body.join("\n"));
        let (result, report) = parse_bytes(text.as_bytes());
        let extract = result.unwrap();
        proptest::prop_assert_eq!(report.kept, extract.facilities.len() as u64);
        proptest::prop_assert_eq!(report.rows_read, report.kept + report.skipped_total());
    }
}

//! FINESS « extraction du fichier des établissements » géolocalisé
//! (`etalab-cs1100507-stock-YYYYMMDD-HHMM.csv`, data.gouv.fr).
//!
//! The file is not a plain CSV: after a `finess;etalab;<n>;<extraction date>` header
//! come records of several types, told apart by their first field. `structureet` rows
//! (32 fields) describe an établissement; `geolocalisation` rows (6 fields) give its
//! projected coordinates and the CRS they are in. The two are joined on `nofinesset`;
//! nothing guarantees the two sections have the same length, or order, or are even
//! separate, so every row is read before the join.
//!
//! Older extracts are Windows-1252, newer ones UTF-8: each line is decoded as UTF-8
//! and falls back to Windows-1252 on its own, so a file mixing both still reads right.
//!
//! Every data line ends up either in a [`Facility`] or in
//! [`SourceReport::skip`] with its line number and a stable reason, so that
//! `rows_read = kept + skipped`. A `geolocalisation` line joined to its `structureet`
//! is part of that establishment's row and is not counted on its own; one that joins
//! nothing is a row of its own (skipped as `orphan_geolocation`, `malformed_row`…).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use geo::Point;

use crate::crs::Crs;
use crate::model::{Facility, FinessNumber, InseeCode, Kind, PositionQuality};

use super::{ImportError, SourceReport, SourceSpec};

/// What the parser returns: the facilities, and the extraction date of the file
/// (last field of the header line), which is the vintage of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct FinessExtract {
    pub extraction_date: Option<String>,
    pub facilities: Vec<Facility>,
}

/// Field positions of a `structureet` row, as published.
mod se {
    pub const COUNT: usize = 32;
    pub const NOFINESSET: usize = 1;
    pub const RS: usize = 3;
    pub const RSLONGUE: usize = 4;
    pub const COMPLDISTRIB: usize = 6;
    pub const NUMVOIE: usize = 7;
    pub const TYPVOIE: usize = 8;
    pub const VOIE: usize = 9;
    pub const COMPVOIE: usize = 10;
    pub const LIEUDITBP: usize = 11;
    pub const COMMUNE: usize = 12;
    pub const DEPARTEMENT: usize = 13;
    pub const LIGNEACHEMINEMENT: usize = 15;
    pub const TELEPHONE: usize = 16;
    pub const CATEGETAB: usize = 18;
    pub const LIBCATEGETAB: usize = 19;
    pub const CATEGAGRETAB: usize = 20;
}

/// Field positions of a `geolocalisation` row, as published.
mod geoloc {
    pub const COUNT: usize = 6;
    pub const NOFINESSET: usize = 1;
    pub const COORDXET: usize = 2;
    pub const COORDYET: usize = 3;
    pub const SOURCECOORDET: usize = 4;
}

/// Reason keys written to the report (stable: they end up in `build-report.json`).
mod reason {
    pub const MALFORMED_ROW: &str = "malformed_row";
    pub const BAD_FINESS_NUMBER: &str = "bad_finess_number";
    pub const BAD_COMMUNE_CODE: &str = "bad_commune_code";
    pub const MISSING_GEOLOCATION: &str = "missing_geolocation";
    pub const BAD_COORDINATES: &str = "bad_coordinates";
    pub const UNKNOWN_CRS: &str = "unknown_crs";
    pub const DUPLICATE_FINESS: &str = "duplicate_finess";
    pub const DUPLICATE_GEOLOCATION: &str = "duplicate_geolocation";
    pub const ORPHAN_GEOLOCATION: &str = "orphan_geolocation";
    pub const UNKNOWN_RECORD_TYPE: &str = "unknown_record_type";
}

/// How many line numbers a note lists before eliding the rest.
const MAX_LISTED_LINES: usize = 50;

/// Parses a FINESS etalab extract. Row-level problems are reported in `report` and
/// never stop the parse; only a file that is not a FINESS extract at all (empty, no
/// `finess;…` header) or that cannot be read is an error.
pub fn parse(
    reader: impl Read,
    spec: &SourceSpec,
    report: &mut SourceReport,
) -> Result<FinessExtract, ImportError> {
    let mut lines = LineReader::new(reader, &spec.id);
    let extraction_date = read_header(&mut lines, &spec.id)?;
    let mut rows = Rows::default();
    while let Some((number, text)) = lines.next_line()? {
        rows.add(number, &text);
    }
    let mut join = Join::new(rows.geolocations);
    let mut skips = rows.skips;
    let mut facilities = Vec::new();
    let mut swapped_lines = Vec::new();
    for record in &rows.structures {
        match join.facility(record, spec) {
            Ok(placed) => {
                if placed.swapped {
                    swapped_lines.push(record.line);
                }
                facilities.push(placed.facility);
            }
            Err(skip) => skips.push(skip),
        }
    }
    let joined = join.joined;
    skips.extend(join.orphans());
    fill_report(report, &facilities, skips, &rows.stats, joined);
    note_swapped(report, &swapped_lines);
    note_encoding(report, lines.windows_1252_lines);
    Ok(FinessExtract {
        extraction_date,
        facilities,
    })
}

/// Reads the decoded, non-blank lines of the file, numbered from 1 as in an editor.
struct LineReader<'a, R> {
    reader: BufReader<R>,
    source_id: &'a str,
    buf: Vec<u8>,
    line: u64,
    windows_1252_lines: u64,
}

impl<'a, R: Read> LineReader<'a, R> {
    fn new(reader: R, source_id: &'a str) -> Self {
        Self {
            reader: BufReader::new(reader),
            source_id,
            buf: Vec::new(),
            line: 0,
            windows_1252_lines: 0,
        }
    }

    /// The next non-blank line with its number, without its line ending (CRLF or LF)
    /// and, on line 1, without a UTF-8 byte order mark.
    fn next_line(&mut self) -> Result<Option<(u64, String)>, ImportError> {
        loop {
            self.buf.clear();
            let read = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| {
                ImportError::source(
                    self.source_id,
                    format!("cannot read line {}: {e}", self.line + 1),
                )
            })?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            let mut bytes = self.buf.as_slice();
            if self.line == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            while let [rest @ .., b'\n' | b'\r'] = bytes {
                bytes = rest;
            }
            let (text, was_utf8) = decode(bytes);
            if !was_utf8 {
                self.windows_1252_lines += 1;
            }
            if !text.trim().is_empty() {
                return Ok(Some((self.line, text)));
            }
        }
    }
}

/// UTF-8 if the bytes are valid UTF-8, else Windows-1252 (which decodes any byte, and
/// is a superset of the latin-1 printable characters older extracts use).
fn decode(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), true),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), false)
        }
    }
}

/// Checks the `finess;etalab;<n>;<extraction date>` line and returns the date.
fn read_header<R: Read>(
    lines: &mut LineReader<'_, R>,
    source_id: &str,
) -> Result<Option<String>, ImportError> {
    let expected = "expected a `finess;etalab;…;<extraction date>` header line";
    let Some((line, text)) = lines.next_line()? else {
        return Err(ImportError::source(
            source_id,
            format!("the FINESS file is empty: {expected}"),
        ));
    };
    let fields = split_fields(&text);
    let first = fields.first().map_or("", |f| f.trim());
    if first.eq_ignore_ascii_case("finess") {
        let date = fields.last().map(|f| f.trim()).filter(|_| fields.len() > 1);
        return Ok(date.filter(|d| !d.is_empty()).map(str::to_owned));
    }
    let found: String = text.chars().take(80).collect();
    let what = if is_record_type(first) {
        format!("the file has no header line: line {line} is already a `{first}` row")
    } else {
        format!("line {line} is not a FINESS header")
    };
    Err(ImportError::source(
        source_id,
        format!("{what} ({expected}, found {found:?})"),
    ))
}

fn is_record_type(first_field: &str) -> bool {
    ["structureet", "geolocalisation"]
        .iter()
        .any(|t| first_field.eq_ignore_ascii_case(t))
}

/// Splits a line on `;`. The published files are not quoted, but a field wrapped in
/// double quotes (with `""` for a quote) is accepted, so that a re-exported file
/// still reads. Fields are not trimmed.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ';') => fields.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A data line split into fields.
struct Record {
    line: u64,
    fields: Vec<String>,
}

impl Record {
    /// A field, trimmed; empty when the row is too short.
    fn get(&self, index: usize) -> &str {
        self.fields.get(index).map_or("", |f| f.trim())
    }

    /// True for exactly `count` fields, or more when the extra ones are empty (a
    /// trailing `;`).
    fn has_fields(&self, count: usize) -> bool {
        self.fields.len() >= count && self.fields[count..].iter().all(|f| f.trim().is_empty())
    }

    fn field_count_detail(&self, record_type: &str, count: usize) -> String {
        format!(
            "{record_type} row has {} fields, expected {count} (truncated or shifted line?)",
            self.fields.len()
        )
    }
}

/// A row not kept: line, reason key, detail for a human.
type Skip = (u64, &'static str, String);

/// Line counts kept for the report's notes.
#[derive(Default)]
struct Stats {
    data_lines: u64,
    structureet_lines: u64,
    geolocalisation_lines: u64,
}

/// Where a `geolocalisation` row was, with its raw values (parsed at the join, so
/// that a bad value is reported on the establishment it belongs to).
struct GeoRow {
    line: u64,
    x: String,
    y: String,
    crs_label: String,
}

/// All data lines, sorted by record type.
#[derive(Default)]
struct Rows {
    structures: Vec<Record>,
    /// FINESS number → first `geolocalisation` row for it.
    geolocations: HashMap<FinessNumber, GeoRow>,
    skips: Vec<Skip>,
    stats: Stats,
}

impl Rows {
    fn add(&mut self, line: u64, text: &str) {
        self.stats.data_lines += 1;
        let record = Record {
            line,
            fields: split_fields(text),
        };
        let record_type = record.get(0);
        if record_type.eq_ignore_ascii_case("structureet") {
            self.stats.structureet_lines += 1;
            self.structures.push(record);
        } else if record_type.eq_ignore_ascii_case("geolocalisation") {
            self.stats.geolocalisation_lines += 1;
            if let Err(skip) = self.add_geolocation(&record) {
                self.skips.push(skip);
            }
        } else {
            let shown: String = record_type.chars().take(40).collect();
            self.skips.push((
                line,
                reason::UNKNOWN_RECORD_TYPE,
                format!("record type {shown:?} is neither structureet nor geolocalisation"),
            ));
        }
    }

    fn add_geolocation(&mut self, record: &Record) -> Result<(), Skip> {
        let line = record.line;
        if !record.has_fields(geoloc::COUNT) {
            let detail = record.field_count_detail("geolocalisation", geoloc::COUNT);
            return Err((line, reason::MALFORMED_ROW, detail));
        }
        let number = FinessNumber::parse(record.get(geoloc::NOFINESSET)).map_err(|e| {
            (
                line,
                reason::BAD_FINESS_NUMBER,
                format!("geolocalisation: {e}"),
            )
        })?;
        if let Some(first) = self.geolocations.get(&number) {
            let detail = format!(
                "second geolocalisation for FINESS {number} (the one at line {} is used)",
                first.line
            );
            return Err((line, reason::DUPLICATE_GEOLOCATION, detail));
        }
        let row = GeoRow {
            line,
            x: record.get(geoloc::COORDXET).to_owned(),
            y: record.get(geoloc::COORDYET).to_owned(),
            crs_label: record.get(geoloc::SOURCECOORDET).to_owned(),
        };
        self.geolocations.insert(number, row);
        Ok(())
    }
}

/// A facility built from a `structureet` row and its `geolocalisation`.
struct Placed {
    facility: Facility,
    /// The coordinates had X and Y swapped and were corrected.
    swapped: bool,
}

/// The join of `structureet` rows with their `geolocalisation`.
struct Join {
    geolocations: HashMap<FinessNumber, GeoRow>,
    /// FINESS number → line of the first `structureet` row that has it.
    seen: HashMap<FinessNumber, u64>,
    /// `geolocalisation` rows merged into a `structureet` row (kept or skipped).
    joined: u64,
}

impl Join {
    fn new(geolocations: HashMap<FinessNumber, GeoRow>) -> Self {
        Self {
            geolocations,
            seen: HashMap::new(),
            joined: 0,
        }
    }

    /// The first `structureet` row of a FINESS number takes its `geolocalisation`,
    /// even when the row itself is then skipped: that geolocation is accounted for
    /// with its establishment, not reported a second time as an orphan.
    fn claim(&mut self, record: &Record) -> (Option<GeoRow>, Option<u64>) {
        let Ok(number) = FinessNumber::parse(record.get(se::NOFINESSET)) else {
            return (None, None);
        };
        if let Some(&first_line) = self.seen.get(&number) {
            return (None, Some(first_line));
        }
        self.seen.insert(number.clone(), record.line);
        let geo = self.geolocations.remove(&number);
        if geo.is_some() {
            self.joined += 1;
        }
        (geo, None)
    }

    fn facility(&mut self, record: &Record, spec: &SourceSpec) -> Result<Placed, Skip> {
        let line = record.line;
        let (geo, first_line) = self.claim(record);
        if !record.has_fields(se::COUNT) {
            let detail = record.field_count_detail("structureet", se::COUNT);
            return Err((line, reason::MALFORMED_ROW, detail));
        }
        let finess = FinessNumber::parse(record.get(se::NOFINESSET))
            .map_err(|e| (line, reason::BAD_FINESS_NUMBER, e.to_string()))?;
        if let Some(first_line) = first_line {
            let detail = format!(
                "FINESS {finess} already given at line {first_line}; the first row is kept"
            );
            return Err((line, reason::DUPLICATE_FINESS, detail));
        }
        let commune = commune_code(record.get(se::DEPARTEMENT), record.get(se::COMMUNE))
            .map_err(|detail| (line, reason::BAD_COMMUNE_CODE, detail))?;
        let Some(geo) = geo else {
            let detail = format!("no geolocalisation row for FINESS {finess}");
            return Err((line, reason::MISSING_GEOLOCATION, detail));
        };
        let (lon, lat, swapped) = position(&geo).map_err(|(key, detail)| (line, key, detail))?;
        let facility = facility(record, spec, finess, commune, Point::new(lon, lat));
        Ok(Placed { facility, swapped })
    }

    /// `geolocalisation` rows no `structureet` row claimed.
    fn orphans(self) -> impl Iterator<Item = Skip> {
        self.geolocations.into_iter().map(|(number, geo)| {
            let detail =
                format!("geolocalisation for FINESS {number}, which has no structureet row");
            (geo.line, reason::ORPHAN_GEOLOCATION, detail)
        })
    }
}

/// INSEE code from FINESS `departement` (2 characters) and `commune` (3 digits).
/// Overseas départements are `9A`…`9F` in FINESS while their INSEE codes are
/// `971xx`…`976xx`; their commune field already carries the third digit (`9A` +
/// `101` → `97101`), so the code is `97` + commune.
fn commune_code(departement: &str, commune: &str) -> Result<InseeCode, String> {
    let shown = format!("departement {departement:?}, commune {commune:?}");
    let overseas = matches!(
        departement.to_ascii_uppercase().as_str(),
        "9A" | "9B" | "9C" | "9D" | "9E" | "9F"
    );
    let digits = commune.len() == 3 && commune.bytes().all(|b| b.is_ascii_digit());
    if departement.len() != 2 || !digits {
        return Err(format!(
            "{shown}: expected a 2-character département and a 3-digit commune"
        ));
    }
    let code = if overseas {
        format!("97{commune}")
    } else {
        format!("{departement}{commune}")
    };
    InseeCode::parse(&code).map_err(|e| format!("{shown}: {e}"))
}

/// WGS84 lon/lat of a `geolocalisation` row, and whether X and Y had to be swapped.
fn position(geo: &GeoRow) -> Result<(f64, f64, bool), (&'static str, String)> {
    let line = geo.line;
    let Some(crs) = Crs::from_finess_label(&geo.crs_label) else {
        let detail = format!(
            "geolocalisation line {line}: unknown CRS {:?}",
            geo.crs_label
        );
        return Err((reason::UNKNOWN_CRS, detail));
    };
    let bad = |detail: String| {
        let detail = format!("geolocalisation line {line}: {detail}");
        (reason::BAD_COORDINATES, detail)
    };
    let x = parse_coordinate(&geo.x).map_err(|e| bad(format!("coordxet {e}")))?;
    let y = parse_coordinate(&geo.y).map_err(|e| bad(format!("coordyet {e}")))?;
    let (x, y, swapped) = inside_area(crs, x, y).map_err(bad)?;
    let (lon, lat) = crs.to_wgs84(x, y).map_err(|e| bad(e.to_string()))?;
    Ok((lon, lat, swapped))
}

/// A finite number; a decimal comma is accepted.
fn parse_coordinate(text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    match text.replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a finite number")),
    }
}

/// `(x, y)` if inside the CRS's area, `(y, x)` if only that is: the X and Y columns
/// are sometimes swapped in the source, and the areas are such that a swapped point
/// falls far outside (see [`Crs::valid_area`]).
fn inside_area(crs: Crs, x: f64, y: f64) -> Result<(f64, f64, bool), String> {
    if crs.contains(x, y) {
        Ok((x, y, false))
    } else if crs.contains(y, x) {
        Ok((y, x, true))
    } else {
        let (min_x, min_y, max_x, max_y) = crs.valid_area();
        Err(format!(
            "({x}, {y}) is outside the {crs} area x {min_x}..{max_x}, y {min_y}..{max_y}, \
             also with X and Y swapped"
        ))
    }
}

/// The facility of a valid `structureet` row.
fn facility(
    record: &Record,
    spec: &SourceSpec,
    finess: FinessNumber,
    commune: InseeCode,
    position: Point<f64>,
) -> Facility {
    let category = record.get(se::CATEGETAB);
    Facility {
        id: finess.to_string(),
        kind: kind_of(spec, category, record.get(se::CATEGAGRETAB)),
        category: non_empty(category),
        category_label: non_empty(record.get(se::LIBCATEGETAB)),
        name: name(record, &finess),
        address: address(record),
        commune: Some(commune),
        capacity: None,
        phone: non_empty(record.get(se::TELEPHONE)),
        position,
        position_quality: PositionQuality::Address,
        source: spec.id.clone(),
        partial_list: spec.partial_list,
        source_line: record.line,
        finess: Some(finess),
    }
}

/// The kind of a category: the manifest's `categories` first, then the hospital
/// aggregate prefix, else [`Kind::Other`] (kept with its category, never dropped).
fn kind_of(spec: &SourceSpec, category: &str, aggregate: &str) -> Kind {
    if let Some(kind) = spec.categories.get(category) {
        return kind.clone();
    }
    match &spec.hospital_aggregate_prefix {
        Some(prefix) if !prefix.is_empty() && aggregate.starts_with(prefix.as_str()) => {
            Kind::Hospital
        }
        _ => Kind::Other,
    }
}

/// `rslongue` (full name), else `rs` (short name), else the FINESS number so that a
/// facility is never nameless.
fn name(record: &Record, finess: &FinessNumber) -> String {
    non_empty(record.get(se::RSLONGUE))
        .or_else(|| non_empty(record.get(se::RS)))
        .unwrap_or_else(|| format!("FINESS {finess}"))
}

/// Postal address: complement (building), street (`numvoie compvoie typvoie voie`,
/// `compvoie` being the bis/ter letter of the number), lieu-dit or BP, and
/// `ligneacheminement` (postcode and city), empty parts left out.
fn address(record: &Record) -> Option<String> {
    let street = join_non_empty(
        [se::NUMVOIE, se::COMPVOIE, se::TYPVOIE, se::VOIE].map(|i| record.get(i)),
        " ",
    );
    let parts = [
        record.get(se::COMPLDISTRIB),
        street.as_str(),
        record.get(se::LIEUDITBP),
        record.get(se::LIGNEACHEMINEMENT),
    ];
    non_empty(&join_non_empty(parts, ", "))
}

fn join_non_empty<'a>(parts: impl IntoIterator<Item = &'a str>, separator: &str) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Counts and skipped rows (in line order) into the report.
fn fill_report(
    report: &mut SourceReport,
    facilities: &[Facility],
    mut skips: Vec<Skip>,
    stats: &Stats,
    joined: u64,
) {
    report.rows_read += stats.data_lines - joined;
    report.kept += facilities.len() as u64;
    for f in facilities {
        *report
            .kept_by_kind
            .entry(f.kind.as_str().to_owned())
            .or_default() += 1;
    }
    skips.sort_by_key(|s| s.0);
    for (line, key, detail) in skips {
        report.skip(line, key, detail);
    }
    report.note(format!(
        "{} data lines: {} structureet, {} geolocalisation ({joined} joined to their \
         structureet and counted with it), {} of other types",
        stats.data_lines,
        stats.structureet_lines,
        stats.geolocalisation_lines,
        stats.data_lines - stats.structureet_lines - stats.geolocalisation_lines,
    ));
}

fn note_swapped(report: &mut SourceReport, lines: &[u64]) {
    if lines.is_empty() {
        return;
    }
    let (rows, verb) = if lines.len() == 1 {
        ("row", "was")
    } else {
        ("rows", "were")
    };
    report.note(format!(
        "{} {rows} had X and Y swapped and {verb} corrected (structureet lines {})",
        lines.len(),
        list_lines(lines)
    ));
}

fn note_encoding(report: &mut SourceReport, windows_1252_lines: u64) {
    let (lines, verb) = match windows_1252_lines {
        0 => return,
        1 => ("line", "was"),
        _ => ("lines", "were"),
    };
    report.note(format!(
        "{windows_1252_lines} {lines} {verb} not valid UTF-8 and {verb} decoded as Windows-1252"
    ));
}

/// `2, 16, 40` or `2, 16, … (+120 more)`.
fn list_lines(lines: &[u64]) -> String {
    let shown: Vec<String> = lines
        .iter()
        .take(MAX_LISTED_LINES)
        .map(u64::to_string)
        .collect();
    let mut text = shown.join(", ");
    if lines.len() > MAX_LISTED_LINES {
        text.push_str(&format!(", … (+{} more)", lines.len() - MAX_LISTED_LINES));
    }
    text
}

#[cfg(test)]
mod tests {
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
}

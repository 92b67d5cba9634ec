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
    report.note_swapped(&swapped_lines, "structureet lines");
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
    let (x, y, swapped) = crs.inside_area(x, y).map_err(|e| bad(e.to_string()))?;
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

#[cfg(test)]
mod tests;

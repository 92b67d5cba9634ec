//! Planners' own structure lists: a CSV or GeoJSON a planner uploads (their MSP, centres
//! de santé, *consultations avancées*…), read by the same point readers as the sources
//! of `sources.toml` ([`super::points`]) — same separators, encodings, French decimals,
//! INSEE code → commune reference point — with the planner's column mapping in place of
//! `[source.columns]`. Nothing is stored here: the caller (`api::layers`) shows the
//! report and, when asked, saves the kept rows.
//!
//! Row-level problems are skipped and counted with their line and reason, like a build;
//! the rows the point readers keep are then checked for what a planner's list adds: the
//! kind (a column, or one kind for the whole file) and duplicates.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::crs::SourceCrs;
use crate::model::{Facility, Kind};

use super::delimited::Delimited;
use super::locate::Places;
use super::points::{read_points_csv, read_points_geojson};
use super::{ImportError, SourceReport, SourceSpec};

/// Source id of a planner's list in its report and its rows' ids.
pub const LIST_SOURCE_ID: &str = "liste";

/// Which of the file's columns (GeoJSON: properties) hold our fields. `lon`/`lat` or
/// `insee` place a row (a GeoJSON feature is placed by its geometry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListColumns {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub lon: Option<String>,
    pub lat: Option<String>,
    pub insee: Option<String>,
    pub capacity: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
}

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Csv,
    Geojson,
}

/// Why a list cannot be read at all (a row-level problem is a counted skip instead).
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{0}")]
    File(String),
    #[error("the file has {rows} rows, at most {max} are read: split it")]
    TooManyRows { rows: u64, max: u64 },
}

/// A list read: its kept rows (in file order) and the report of every row.
#[derive(Debug, Clone)]
pub struct ReadList {
    pub rows: Vec<Facility>,
    pub report: SourceReport,
}

/// The separator of a CSV: the one of `;`, tab and `,` most frequent on the header line
/// (outside quotes). French spreadsheets write `;`.
pub fn sniff_delimiter(content: &str) -> u8 {
    let header = content.lines().next().unwrap_or("");
    let mut counts = [(b';', 0usize), (b'\t', 0), (b',', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(c) = counts.iter_mut().find(|(d, _)| *d == b) {
            c.1 += 1;
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

/// Reads a planner's list. `crs` is the CRS of its positions (a projected one reads the
/// `lon`/`lat` columns as x/y metres; default WGS84, or a GeoJSON's own `crs`). `kind`
/// is the kind of every row when no column gives it; `kind_of` turns a kind as written
/// in the file (or given) into a kind the service takes, or `None`.
///
/// # Errors
/// The file is not a CSV/GeoJSON that can be read, a mapped column is not in the CSV
/// header, neither a kind column nor a kind is given, `crs` and the CRS a GeoJSON
/// declares disagree, or it has more than `max_rows` rows.
#[expect(
    clippy::too_many_arguments,
    reason = "a file, how to read it and its checks"
)]
pub fn read_list(
    format: ListFormat,
    content: &str,
    columns: &ListColumns,
    crs: Option<SourceCrs>,
    kind: Option<&Kind>,
    kind_of: &dyn Fn(&str) -> Option<Kind>,
    places: &dyn Places,
    max_rows: u64,
) -> Result<ReadList, ListError> {
    if columns.kind.is_none() && kind.is_none() {
        return Err(ListError::File(
            "give `kind` (the kind of every row) or map a kind column in `columns.kind`".to_owned(),
        ));
    }
    if format == ListFormat::Csv && columns.lon.is_none() != columns.lat.is_none() {
        return Err(ListError::File(
            "map both `columns.lon` and `columns.lat`, or neither".to_owned(),
        ));
    }
    if format == ListFormat::Csv && columns.lon.is_none() && columns.insee.is_none() {
        return Err(ListError::File(
            "map `columns.lon` and `columns.lat`, or `columns.insee` (the commune's INSEE code): rows need a position".to_owned(),
        ));
    }
    if columns.name.is_none() {
        return Err(ListError::File(
            "map `columns.name`: every structure needs a name".to_owned(),
        ));
    }
    let delimiter = sniff_delimiter(content);
    let mut spec: SourceSpec = serde_json::from_value(json!({
        "id": LIST_SOURCE_ID,
        "title": "Liste fournie par un utilisateur",
        "role": "facilities",
        "format": if format == ListFormat::Csv { "points_csv" } else { "geojson_points" },
        "licence": "fournie par son auteur",
        "vintage": "",
        "strict_capacity": true,
        "delimiter": char::from(delimiter).to_string(),
        "columns": {
            "name": columns.name, "lon": columns.lon, "lat": columns.lat,
            "commune": columns.insee, "capacity": columns.capacity,
            "address": columns.address, "phone": columns.phone,
            "category_label": columns.kind,
        },
    }))
    .map_err(|e| ListError::File(format!("column mapping: {e}")))?;
    spec.crs = crs;
    let mut report = SourceReport::for_source(&spec);
    let read = match format {
        ListFormat::Csv => {
            check_header(content, delimiter, columns)?;
            read_points_csv(content.as_bytes(), &spec, places, &mut report)
        }
        ListFormat::Geojson => read_points_geojson(content.as_bytes(), &spec, places, &mut report),
    };
    let facilities = read.map_err(|e| match e {
        ImportError::Source { message, .. } => ListError::File(message),
        other => ListError::File(other.to_string()),
    })?;
    if report.rows_read > max_rows {
        return Err(ListError::TooManyRows {
            rows: report.rows_read,
            max: max_rows,
        });
    }
    let mut rows = Vec::with_capacity(facilities.len());
    let mut seen: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for mut f in facilities {
        let written = f.category_label.take();
        let row_kind = match written.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => kind_of(k),
            None => kind.cloned(),
        };
        let Some(row_kind) = row_kind else {
            report.skip(
                f.source_line,
                "unknown_kind",
                format!(
                    "kind {:?} is not one the service knows (msp, centre_sante, clic, ehpad, consultation…)",
                    written.unwrap_or_default()
                ),
            );
            continue;
        };
        f.kind = row_kind;
        f.id = format!("{LIST_SOURCE_ID}:{}", f.source_line);
        let key = (
            f.kind.as_str().to_owned(),
            f.name.to_lowercase(),
            f.commune
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
        );
        if let Some(first) = seen.get(&key) {
            report.skip(
                f.source_line,
                "duplicate",
                format!(
                    "{} ({}) repeats line {first}: same name, kind and commune",
                    f.name, f.kind
                ),
            );
            continue;
        }
        seen.insert(key, f.source_line);
        *report
            .kept_by_kind
            .entry(f.kind.as_str().to_owned())
            .or_default() += 1;
        rows.push(f);
    }
    report.kept = rows.len() as u64;
    report.skipped_rows.sort_by_key(|s| s.line);
    Ok(ReadList { rows, report })
}

/// Every mapped column is in the CSV header, once (else the one to read is not clear).
fn check_header(content: &str, delimiter: u8, columns: &ListColumns) -> Result<(), ListError> {
    let rows = Delimited::new(content.as_bytes(), delimiter, false, LIST_SOURCE_ID)
        .map_err(|e| ListError::File(e.to_string()))?;
    let mapped = [
        ("name", &columns.name),
        ("kind", &columns.kind),
        ("lon", &columns.lon),
        ("lat", &columns.lat),
        ("insee", &columns.insee),
        ("capacity", &columns.capacity),
        ("address", &columns.address),
        ("phone", &columns.phone),
    ];
    for (field, column) in mapped {
        let Some(column) = column else { continue };
        let found = rows.headers.iter().filter(|h| *h == column).count();
        if found != 1 {
            let why = if found == 0 {
                "is not in the file's header"
            } else {
                "appears more than once in the file's header"
            };
            return Err(ListError::File(format!(
                "`columns.{field}`: column {column:?} {why} ({})",
                rows.headers.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_is_the_header_s() {
        assert_eq!(sniff_delimiter("nom;lat;lon\nA;1,5;2"), b';');
        assert_eq!(sniff_delimiter("nom,lat,lon\n"), b',');
        assert_eq!(sniff_delimiter("\"a;b\",c,d\n"), b',');
        assert_eq!(sniff_delimiter("nom\tlat\n"), b'\t');
        assert_eq!(sniff_delimiter("nom\n"), b',');
    }
}

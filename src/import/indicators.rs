//! Per-commune indicator columns (DREES APL, zonage, population by age, GP proxy…),
//! joined on the INSEE code. Which columns to take, and under which name, is said in
//! `sources.toml` (`code_column`, `[source.fields]`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use crate::model::InseeCode;

use super::locate::Locator;
use super::points::decode_field;
use super::{ImportError, SourceReport, SourceSpec};

/// A value of an indicator column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// Columns read from one source, by commune.
#[derive(Debug, Clone, Default)]
pub struct IndicatorTable {
    /// Output names, in `sources.toml` order (sorted by name).
    pub fields: Vec<String>,
    /// True for a column whose every value is a number.
    pub numeric: Vec<bool>,
    pub rows: HashMap<InseeCode, Vec<Option<Value>>>,
}

/// Reads a CSV with one row per commune.
pub fn read_commune_csv(
    reader: impl Read,
    spec: &SourceSpec,
    locator: &Locator,
    report: &mut SourceReport,
) -> Result<IndicatorTable, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(spec.delimiter())
        .flexible(true)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| ImportError::source(&spec.id, format!("CSV header: {e}")))?
        .iter()
        .map(|h| {
            decode_field(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_owned()
        })
        .collect();
    let find = |col: &str| {
        headers.iter().position(|h| h == col).ok_or_else(|| {
            ImportError::source(
                &spec.id,
                format!("column {col:?} named in sources.toml is not in the file header"),
            )
        })
    };
    let code_col = find(spec.code_column.as_deref().unwrap_or("code"))?;
    let fields: BTreeMap<&String, usize> = spec
        .fields
        .iter()
        .map(|(out, col)| find(col).map(|i| (out, i)))
        .collect::<Result<_, _>>()?;
    let mut table = IndicatorTable {
        fields: fields.keys().map(|s| (*s).clone()).collect(),
        numeric: vec![true; fields.len()],
        rows: HashMap::new(),
    };
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                report.rows_read += 1;
                report.skip(line, "malformed_row", e.to_string());
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        report.rows_read += 1;
        if record.len() != headers.len() {
            report.skip(
                line,
                "malformed_row",
                format!("{} fields, the header has {}", record.len(), headers.len()),
            );
            continue;
        }
        let raw_code = decode_field(&record[code_col]);
        let code = match InseeCode::parse(&raw_code) {
            Ok(c) => c,
            Err(e) => {
                report.skip(line, "bad_commune_code", e.to_string());
                continue;
            }
        };
        if !locator.is_commune(&code) {
            let why = match locator.parent_of(&code) {
                Some(p) => format!("{code} is no longer a commune (now part of {p})"),
                None => format!("{code} is not a commune of the COG in force"),
            };
            report.skip(line, "unknown_commune", why);
            continue;
        }
        if table.rows.contains_key(&code) {
            report.skip(
                line,
                "duplicate_commune",
                format!("{code} appears twice; the first row is kept"),
            );
            continue;
        }
        let values = fields
            .values()
            .enumerate()
            .map(|(k, &i)| {
                let v = decode_field(&record[i]).trim().to_owned();
                if v.is_empty() {
                    return None;
                }
                match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Some(Value::Number(x)),
                    _ => {
                        table.numeric[k] = false;
                        Some(Value::Text(v))
                    }
                }
            })
            .collect();
        table.rows.insert(code, values);
        report.kept += 1;
    }
    Ok(table)
}

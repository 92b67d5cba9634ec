//! Per-commune indicator columns (DREES APL, zonage, population by age, GP proxy…),
//! joined on the INSEE code. Which columns to take, and under which name, is said in
//! `sources.toml` (`code_column`, `[source.fields]`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use crate::model::InseeCode;

use super::delimited::Delimited;
use super::locate::Locator;
use super::{ImportError, SourceReport, SourceSpec};

/// Reads a travel-time table `from,to,minutes` (header required; other columns are
/// ignored). `commune` maps a code to the commune actuelle it stands for (or explains
/// why it is none); rows it rejects are skipped as `unknown_commune`.
pub fn read_matrix_csv(
    reader: impl Read,
    delimiter: u8,
    commune: impl Fn(&InseeCode) -> Result<InseeCode, String>,
    report: &mut SourceReport,
) -> Result<crate::model::TravelMatrix, ImportError> {
    let source_id = report.id.clone();
    let mut rows = Delimited::new(reader, delimiter, false, &source_id)?;
    let col = |name: &str| {
        rows.column(name, &source_id).map_err(|_| {
            ImportError::source(
                &source_id,
                format!(
                    "travel-time table needs a {name:?} column (header: {})",
                    rows.headers.join(", ")
                ),
            )
        })
    };
    let (from_c, to_c, min_c) = (col("from")?, col("to")?, col("minutes")?);
    let commune = |raw: &str| {
        InseeCode::parse(raw)
            .map_err(|e| e.to_string())
            .and_then(|c| commune(&c))
    };
    let mut m = crate::model::TravelMatrix::default();
    while let Some((line, fields)) = rows.next_row(report) {
        let field = |i: usize| fields.get(i).cloned().unwrap_or_default();
        let (from, to) = match (commune(field(from_c).trim()), commune(field(to_c).trim())) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => {
                report.skip(line, "unknown_commune", e);
                continue;
            }
        };
        let raw = field(min_c);
        match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => {
                m.insert(from, to, v);
                report.kept += 1;
            }
            _ => report.skip(
                line,
                "bad_minutes",
                format!("{raw:?} is not a number of minutes ≥ 0"),
            ),
        }
    }
    Ok(m)
}

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
    let mut rows = Delimited::new(reader, spec.delimiter(), true, &spec.id)?;
    let find = |col: &str| {
        rows.column(col, &spec.id).map_err(|_| {
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
    while let Some((line, record)) = rows.next_row(report) {
        let raw_code = &record[code_col];
        let code = match InseeCode::parse(raw_code) {
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
                let v = record[i].trim().to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn travel_matrix_rows_are_checked_and_counted() {
        let csv = "from,to,minutes\n79329,79196,12.5\n79329,79171,9\n79329,99999,3\n79329,79196,abc\n79196,79329,-1\n79196,79329\n";
        let mut r = SourceReport {
            id: "m".into(),
            ..SourceReport::default()
        };
        let known = |c: &InseeCode| match c.as_str() {
            "79329" | "79196" => Ok(c.clone()),
            "79171" => Ok(InseeCode::parse("79329").unwrap()),
            _ => Err(format!("{c} is not a commune")),
        };
        let m = read_matrix_csv(csv.as_bytes(), b',', known, &mut r).unwrap();
        let c = |s: &str| InseeCode::parse(s).unwrap();
        assert_eq!(m.minutes(&c("79329"), &c("79196")), Some(12.5));
        assert_eq!(
            m.minutes(&c("79329"), &c("79329")),
            Some(9.0),
            "commune déléguée → its commune"
        );
        assert_eq!(
            m.minutes(&c("79196"), &c("79196")),
            Some(0.0),
            "a commune to itself"
        );
        assert_eq!(r.rows_read, 6);
        assert_eq!(r.kept, 2);
        let reasons: Vec<(u64, &str)> = r
            .skipped_rows
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (4, "unknown_commune"),
                (5, "bad_minutes"),
                (6, "bad_minutes"),
                (7, "bad_minutes")
            ]
        );
    }
}

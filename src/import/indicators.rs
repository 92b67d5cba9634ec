//! Per-commune indicator columns (DREES APL, zonage, population by age, GP proxy…),
//! joined on the INSEE code. Which columns to take, and under which name, is said in
//! `sources.toml` (`code_column`, `[source.fields]`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use crate::model::InseeCode;

use super::delimited::Delimited;
use super::locate::Locator;
use super::tabular::Rows;
use super::{Format, ImportError, SourceReport, SourceSpec};

mod census;

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

/// An output field and the columns whose values add up to it.
type FieldColumns = (String, Vec<usize>);

/// A row that adds up into another commune's: its line and values.
type Part = (u64, Vec<Option<Value>>);

/// Reads a CSV with one row per commune.
pub fn read_commune_csv<'a>(
    reader: impl Read + 'a,
    spec: &SourceSpec,
    locator: &Locator,
    report: &mut SourceReport,
) -> Result<IndicatorTable, ImportError> {
    let reader: Box<dyn Read + 'a> = Box::new(reader);
    let rows = Rows::Csv(Delimited::new(reader, spec.delimiter(), true, &spec.id)?);
    let columns = named_columns(&rows, spec)?;
    read_rows(rows, spec, columns, locator, report)
}

/// Reads the file of a commune-indicator source: a table (CSV, zipped CSV, xlsx) or an
/// INSEE census base communale.
pub fn read_commune_file(
    path: &Path,
    spec: &SourceSpec,
    locator: &Locator,
    report: &mut SourceReport,
) -> Result<IndicatorTable, ImportError> {
    let rows = Rows::open(path, spec, code_column(spec))?;
    let columns = match spec.format {
        Format::InseeCensus => {
            let (vintage, columns) = census::columns(rows.headers(), spec)?;
            report.vintage = format!("RP {vintage} (recensement de la population, INSEE)");
            columns
        }
        _ => named_columns(&rows, spec)?,
    };
    read_rows(rows, spec, columns, locator, report)
}

fn code_column(spec: &SourceSpec) -> &str {
    spec.code_column.as_deref().unwrap_or("code")
}

/// Each output field with the one column `sources.toml` names for it.
fn named_columns(rows: &Rows<'_>, spec: &SourceSpec) -> Result<Vec<FieldColumns>, ImportError> {
    let code = code_column(spec);
    if rows.column(code).is_none() {
        return Err(ImportError::source(
            &spec.id,
            format!(
                "column {code:?} named in sources.toml is not in the file header ({})",
                header_excerpt(rows.headers())
            ),
        ));
    }
    spec.fields
        .iter()
        .map(|(out, col)| {
            rows.column(col)
                .map(|i| (out.clone(), vec![i]))
                .ok_or_else(|| {
                    ImportError::source(
                        &spec.id,
                        format!(
                            "column {col:?} named in sources.toml is not in the file header ({})",
                            header_excerpt(rows.headers())
                        ),
                    )
                })
        })
        .collect()
}

/// The header as said in an error: at most 30 names, each cut at 60 characters.
pub(crate) fn header_excerpt(headers: &[String]) -> String {
    let mut names: Vec<String> = headers
        .iter()
        .take(30)
        .map(|h| h.chars().take(60).collect())
        .collect();
    if headers.len() > 30 {
        names.push(format!("… {} more", headers.len() - 30));
    }
    names.join(", ")
}

/// Reads commune rows: `columns` gives, per output field (sorted by name), the columns
/// whose values add up to it (one for a plain table).
fn read_rows(
    mut rows: Rows<'_>,
    spec: &SourceSpec,
    columns: Vec<FieldColumns>,
    locator: &Locator,
    report: &mut SourceReport,
) -> Result<IndicatorTable, ImportError> {
    let code_col = rows.column(code_column(spec)).ok_or_else(|| {
        ImportError::source(
            &spec.id,
            format!(
                "column {:?} named in sources.toml is not in the file header ({})",
                code_column(spec),
                header_excerpt(rows.headers())
            ),
        )
    })?;
    let mut columns = columns;
    columns.sort_by(|a, b| a.0.cmp(&b.0));
    let fields: Vec<FieldColumns> = columns;
    let mut table = IndicatorTable {
        fields: fields.iter().map(|(f, _)| f.clone()).collect(),
        numeric: vec![true; fields.len()],
        rows: HashMap::new(),
    };
    // Rows of arrondissements municipaux and of former communes (merged since the file's
    // vintage), by their commune actuelle: added up at the end.
    let mut parts_of: BTreeMap<InseeCode, Vec<Part>> = BTreeMap::new();
    let (mut arrondissements, mut merged) = (0, 0);
    while let Some((line, record)) = rows.next_row(report) {
        let raw_code = &record[code_col];
        let code = match InseeCode::parse(raw_code) {
            Ok(c) => c,
            Err(e) => {
                report.skip(line, "bad_commune_code", e.to_string());
                continue;
            }
        };
        let parent = if locator.is_commune(&code) {
            None
        } else {
            locator
                .arrondissement_parent(&code)
                .or_else(|| locator.parent_of(&code))
        };
        if !locator.is_commune(&code) && parent.is_none_or(|_| spec.aggregate.is_empty()) {
            let why = match (locator.arrondissement_parent(&code), parent) {
                (Some(p), _) => format!(
                    "{code} is an arrondissement of {p}: declare [source.aggregate] to add it up into {p}"
                ),
                (None, Some(p)) => format!(
                    "{code} is no longer a commune (now part of {p}; declare [source.aggregate] to add it up)"
                ),
                (None, None) => format!("{code} is not a commune of the COG in force"),
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
            .iter()
            .enumerate()
            .map(|(k, (_, cols))| {
                if let [a, b, rest @ ..] = cols.as_slice() {
                    // A group made of several columns: their sum, if every one is a number.
                    let mut sum = 0.0;
                    for &i in [a, b].into_iter().chain(rest) {
                        sum += number(&record[i])?;
                    }
                    return Some(Value::Number(sum));
                }
                let v = record[*cols.first()?].trim().to_owned();
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
        match parent {
            Some(p) => {
                if locator.arrondissement_parent(&code).is_some() {
                    arrondissements += 1;
                } else {
                    merged += 1;
                }
                parts_of.entry(p.clone()).or_default().push((line, values));
            }
            None => {
                table.rows.insert(code, values);
                report.kept += 1;
            }
        }
    }
    for (commune, mut parts) in parts_of {
        report.aggregated += parts.len() as u64;
        // A commune that also has a row of its own (the former commune whose code it
        // kept): that row is one of the parts.
        if let Some(own) = table.rows.remove(&commune) {
            parts.push((0, own));
        }
        let values = add_up(&table.fields, &spec.aggregate, &parts);
        table.rows.insert(commune, values);
    }
    if arrondissements > 0 {
        report.note(format!(
            "{arrondissements} rows of arrondissements municipaux (Paris, Lyon, Marseille) added up into their commune"
        ));
    }
    if merged > 0 {
        report.note(format!(
            "{merged} rows of former communes added up into the commune they now belong to"
        ));
    }
    Ok(table)
}

/// A field as a number (a decimal comma accepted, as INSEE and DREES files write it).
fn number(raw: &str) -> Option<f64> {
    let t = raw.trim();
    t.parse::<f64>()
        .or_else(|_| t.replace(',', ".").parse::<f64>())
        .ok()
        .filter(|x| x.is_finite())
}

/// One commune's values from its arrondissements' rows, by the declared rules: sums, and
/// means weighted by a summed field (rows missing a value or a weight are left out of
/// that field). Fields without a rule, or with no value in any row, stay empty.
fn add_up(
    fields: &[String],
    rules: &BTreeMap<String, super::Aggregate>,
    parts: &[Part],
) -> Vec<Option<Value>> {
    let number = |row: &[Option<Value>], k: usize| match row.get(k) {
        Some(Some(Value::Number(x))) => Some(*x),
        _ => None,
    };
    let sum = |k: usize| {
        let values: Vec<f64> = parts.iter().filter_map(|(_, r)| number(r, k)).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>())
    };
    fields
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let v = match rules.get(name)? {
                super::Aggregate::Named(super::AggregateName::Sum) => sum(k)?,
                super::Aggregate::WeightedMean { mean_weighted_by } => {
                    let w = fields.iter().position(|f| f == mean_weighted_by)?;
                    let (mut num, mut den) = (0.0, 0.0);
                    for (_, r) in parts {
                        if let (Some(v), Some(wt)) = (number(r, k), number(r, w)) {
                            num += v * wt;
                            den += wt;
                        }
                    }
                    (den > 0.0).then(|| num / den)?
                }
            };
            Some(Value::Number(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Aggregate, AggregateName};

    /// Counts add up; rates are averaged with the weight of each row; a field without a
    /// rule, or without any value, stays empty.
    #[test]
    fn arrondissements_add_up_by_the_declared_rules() {
        let fields: Vec<String> = ["apl", "pop", "count", "label"].map(String::from).to_vec();
        let rules: BTreeMap<String, Aggregate> = [
            ("pop".to_owned(), Aggregate::Named(AggregateName::Sum)),
            ("count".to_owned(), Aggregate::Named(AggregateName::Sum)),
            (
                "apl".to_owned(),
                Aggregate::WeightedMean {
                    mean_weighted_by: "pop".to_owned(),
                },
            ),
        ]
        .into();
        let row = |apl: Option<f64>, pop: f64, count: Option<f64>| {
            vec![
                apl.map(Value::Number),
                Some(Value::Number(pop)),
                count.map(Value::Number),
                Some(Value::Text("x".into())),
            ]
        };
        let parts = vec![
            (2, row(Some(4.0), 1_000.0, Some(10.0))),
            (3, row(Some(2.0), 3_000.0, None)),
            (4, row(None, 500.0, Some(5.0))),
        ];
        let v = add_up(&fields, &rules, &parts);
        // (4 × 1000 + 2 × 3000) / 4000; the row without an APL is left out of the mean.
        assert_eq!(v[0], Some(Value::Number(2.5)));
        assert_eq!(v[1], Some(Value::Number(4_500.0)));
        assert_eq!(v[2], Some(Value::Number(15.0)));
        assert_eq!(v[3], None);
    }

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

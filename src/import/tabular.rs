//! Tables of commune rows as official files publish them: a CSV (UTF-8 or
//! Windows-1252), a zip holding one (INSEE), or an xlsx workbook (DREES). Which one a
//! file is, is told by its first bytes, not its name: the mirror may hold a CSV
//! conversion of a workbook that a connected user downloads as published.
//!
//! A workbook's header is the first row (of the sheet named by `sheet`, else the first
//! sheet) that holds the code column: official workbooks open with title rows.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use calamine::{Data, Reader, Xlsx};

use super::delimited::Delimited;
use super::{ImportError, SourceReport, SourceSpec};

/// Rows looked at for a workbook's header.
const HEADER_SEARCH_ROWS: usize = 40;
/// Largest CSV read out of a zip (the INSEE base communale is ~30 MB).
const MAX_ZIPPED_CSV: u64 = 512 * 1024 * 1024;

/// A table being read row by row.
pub(crate) enum Rows<'a> {
    Csv(Delimited<Box<dyn Read + 'a>>),
    Sheet {
        headers: Vec<String>,
        rows: std::vec::IntoIter<(u64, Vec<String>)>,
    },
}

impl<'a> Rows<'a> {
    /// Opens the file of `spec`; `code_column` finds a workbook's header row.
    pub fn open(
        path: &Path,
        spec: &SourceSpec,
        code_column: &str,
    ) -> Result<Rows<'static>, ImportError> {
        let mut magic = [0u8; 4];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut magic))
            .map_err(|e| ImportError::io(path, e))?;
        if n < 4 || &magic != b"PK\x03\x04" {
            let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
            let reader: Box<dyn Read + 'static> = Box::new(BufReader::new(file));
            return Ok(Rows::Csv(Delimited::new(
                reader,
                spec.delimiter(),
                true,
                &spec.id,
            )?));
        }
        let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
            ImportError::source(
                &spec.id,
                format!("{}: not a readable zip: {e}", path.display()),
            )
        })?;
        if zip.by_name("xl/workbook.xml").is_ok() {
            drop(zip);
            return read_workbook(path, spec, code_column);
        }
        // A zipped CSV: the largest .csv entry (INSEE zips also hold a metadata CSV).
        let mut best: Option<(usize, u64)> = None;
        for i in 0..zip.len() {
            if let Ok(f) = zip.by_index(i) {
                let name = f.name().to_ascii_lowercase();
                if (name.ends_with(".csv") || name.ends_with(".txt"))
                    && best.is_none_or(|(_, size)| f.size() > size)
                {
                    best = Some((i, f.size()));
                }
            }
        }
        let Some((index, _)) = best else {
            return Err(ImportError::source(
                &spec.id,
                format!("{}: the zip holds no CSV file", path.display()),
            ));
        };
        let mut bytes = Vec::new();
        let entry = zip
            .by_index(index)
            .map_err(|e| ImportError::source(&spec.id, format!("zip entry: {e}")))?;
        // Past the limit, an error (not a CSV silently cut short).
        let what = format!("{}: the zipped CSV", path.display());
        super::checks::Capped::new(entry, MAX_ZIPPED_CSV, what)
            .read_to_end(&mut bytes)
            .map_err(|e| ImportError::source(&spec.id, format!("reading the zipped CSV: {e}")))?;
        let reader: Box<dyn Read + 'static> = Box::new(Cursor::new(bytes));
        Ok(Rows::Csv(Delimited::new(
            reader,
            spec.delimiter(),
            true,
            &spec.id,
        )?))
    }

    pub fn headers(&self) -> &[String] {
        match self {
            Rows::Csv(d) => &d.headers,
            Rows::Sheet { headers, .. } => headers,
        }
    }

    /// Position of a column, or an error naming it and the header.
    pub fn column(&self, name: &str) -> Option<usize> {
        let wanted = normalise(name);
        self.headers().iter().position(|h| normalise(h) == wanted)
    }

    /// The next row as (1-based line or sheet row, fields); counted in `rows_read`.
    pub fn next_row(&mut self, report: &mut SourceReport) -> Option<(u64, Vec<String>)> {
        match self {
            Rows::Csv(d) => d.next_row(report),
            Rows::Sheet { headers, rows } => {
                for (line, fields) in rows.by_ref() {
                    if fields.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    report.rows_read += 1;
                    if fields.len() != headers.len() {
                        report.skip(
                            line,
                            "malformed_row",
                            "row wider than the header".to_owned(),
                        );
                        continue;
                    }
                    return Some((line, fields));
                }
                None
            }
        }
    }
}

/// Header names compared with runs of whitespace (line breaks in workbook headers) as
/// one space.
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A cell as text: integers without a decimal point, the rest as displayed.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

fn read_workbook(
    path: &Path,
    spec: &SourceSpec,
    code_column: &str,
) -> Result<Rows<'static>, ImportError> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut book: Xlsx<_> = Xlsx::new(BufReader::new(file))
        .map_err(|e| ImportError::source(&spec.id, format!("xlsx workbook: {e}")))?;
    let names = book.sheet_names();
    let sheet = match spec.sheet.as_deref() {
        Some(part) => names.iter().find(|n| n.contains(part)).ok_or_else(|| {
            ImportError::source(
                &spec.id,
                format!(
                    "no sheet named like {part:?} in the workbook (sheets: {})",
                    names.join(", ")
                ),
            )
        })?,
        None => names
            .first()
            .ok_or_else(|| ImportError::source(&spec.id, "the workbook has no sheet"))?,
    }
    .clone();
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| ImportError::source(&spec.id, format!("sheet {sheet:?}: {e}")))?;
    let first_row = u64::from(range.start().map_or(0, |(r, _)| r));
    let wanted = normalise(code_column);
    let mut rows = range.rows().enumerate();
    let mut headers = None;
    for (i, row) in rows.by_ref().take(HEADER_SEARCH_ROWS) {
        let cells: Vec<String> = row.iter().map(|c| normalise(&cell_text(c))).collect();
        if let Some(code) = cells.iter().position(|c| *c == wanted) {
            headers = Some((i, code, cells));
            break;
        }
    }
    let Some((_, code_index, headers)) = headers else {
        return Err(ImportError::source(
            &spec.id,
            format!(
                "no header row with {code_column:?} in the first {HEADER_SEARCH_ROWS} rows of sheet {sheet:?}"
            ),
        ));
    };
    let width = headers.len();
    let body: Vec<(u64, Vec<String>)> = rows
        .map(|(i, row)| {
            let mut fields: Vec<String> = row.iter().map(cell_text).collect();
            // A commune code stored as a number loses its leading zero (01001 → 1001).
            if let (Some(code), Some(Data::Float(_) | Data::Int(_))) =
                (fields.get_mut(code_index), row.get(code_index))
                && code.len() == 4
            {
                code.insert(0, '0');
            }
            // Trailing empty cells beyond the header are not data.
            while fields.len() > width && fields.last().is_some_and(String::is_empty) {
                fields.pop();
            }
            (first_row + i as u64 + 1, fields)
        })
        .collect();
    Ok(Rows::Sheet {
        headers,
        rows: body.into_iter(),
    })
}

//! Delimited text as official files publish it: a header line, UTF-8 or Windows-1252,
//! rows counted one by one. Malformed rows are skipped *and counted* here, once for
//! every reader.

use std::io::Read;

use super::checks::Lines;
use super::{ImportError, SourceReport};

/// Decodes a field: UTF-8, else Windows-1252 (older official files).
pub(crate) fn decode_field(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// A delimited file being read row by row.
pub(crate) struct Delimited<R: Read> {
    rdr: csv::Reader<Lines<R>>,
    record: csv::ByteRecord,
    /// Column names, decoded and trimmed (a UTF-8 BOM removed).
    pub headers: Vec<String>,
    /// Rows must have exactly as many fields as the header.
    strict_width: bool,
    /// The end of the file was met (and a cut last line noted).
    ended: bool,
}

impl<R: Read> Delimited<R> {
    pub fn new(
        reader: R,
        delimiter: u8,
        strict_width: bool,
        source_id: &str,
    ) -> Result<Self, ImportError> {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(Lines::new(reader));
        let headers = rdr
            .byte_headers()
            .map_err(|e| ImportError::source(source_id, format!("CSV header: {e}")))?
            .iter()
            .map(|h| {
                decode_field(h)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_owned()
            })
            .collect();
        Ok(Delimited {
            rdr,
            record: csv::ByteRecord::new(),
            headers,
            strict_width,
            ended: false,
        })
    }

    /// Position of a column, or an error naming it and the header.
    /// A column named twice is an error (which one holds the data?).
    pub fn column(&self, name: &str, source_id: &str) -> Result<usize, ImportError> {
        let mut at = self.headers.iter().enumerate().filter(|(_, h)| *h == name);
        match (at.next(), at.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some((i, _)), Some((j, _))) => Err(ImportError::source(
                source_id,
                format!(
                    "column {name:?} appears twice in the file header (fields {} and {}): \
                     which one to read is not clear",
                    i + 1,
                    j + 1
                ),
            )),
            (None, _) => {
                let mut header = self.headers.join(", ");
                if header.len() > 300 {
                    let cut = (0..=300)
                        .rev()
                        .find(|&i| header.is_char_boundary(i))
                        .unwrap_or(0);
                    header.truncate(cut);
                    header.push('…');
                }
                Err(ImportError::source(
                    source_id,
                    format!("column {name:?} is not in the file header ({header})"),
                ))
            }
        }
    }

    /// The next well-formed row as (1-based line, decoded fields). Every row read counts
    /// in `report.rows_read`; malformed ones are skipped as `malformed_row`.
    pub fn next_row(&mut self, report: &mut SourceReport) -> Option<(u64, Vec<String>)> {
        loop {
            let line = self.rdr.position().line() + 1;
            match self.rdr.read_byte_record(&mut self.record) {
                Ok(false) => {
                    if !self.ended
                        && report.rows_read > 0
                        && self.rdr.get_ref().ends_inside_a_line()
                    {
                        report.note(format!(
                            "the file does not end with a line break: its last line (line {}) \
                             may have been cut short",
                            line.saturating_sub(1).max(1)
                        ));
                    }
                    self.ended = true;
                    return None;
                }
                Ok(true) => {}
                Err(e) => {
                    report.rows_read += 1;
                    report.skip(line, "malformed_row", e.to_string());
                    // A read error (a line over the limit): the rest is not read.
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        report.note(format!("reading stopped at line {line}: {e}"));
                        self.ended = true;
                        return None;
                    }
                    continue;
                }
            }
            let line = self.record.position().map_or(line, |p| p.line());
            report.rows_read += 1;
            if self.strict_width && self.record.len() != self.headers.len() {
                report.skip(
                    line,
                    "malformed_row",
                    format!(
                        "{} fields, the header has {}",
                        self.record.len(),
                        self.headers.len()
                    ),
                );
                continue;
            }
            return Some((line, self.record.iter().map(decode_field).collect()));
        }
    }
}

//! Features in the other formats of `/items` and of the downloads: CSV (`,` or `;`
//! with decimal commas for French spreadsheets), FlatGeobuf and an Excel workbook.

use geo::Geometry;
use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

use crate::store::fgb::{self, CellRef, LayerInfo};

use super::error::ApiError;
use super::features::{Collection, round7};
use super::items::Separator;

/// A number as written in CSV: shortest round-trip form, decimal comma with `;`.
fn csv_number(v: f64, sep: Separator) -> String {
    let s = v.to_string();
    match sep {
        Separator::Comma => s,
        Separator::Semicolon => s.replace('.', ","),
    }
}

/// Features as CSV: the chosen properties, then `lon,lat` for point layers. With `;`
/// the file starts with a UTF-8 byte-order mark so that spreadsheets read the accents.
pub fn csv(
    c: &Collection,
    items: &[usize],
    properties: &[usize],
    sep: Separator,
) -> Result<Vec<u8>, ApiError> {
    let points = c.is_points();
    let mut out = Vec::new();
    if sep == Separator::Semicolon {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(if sep == Separator::Semicolon {
            b';'
        } else {
            b','
        })
        .from_writer(out);
    let mut header: Vec<&str> = properties
        .iter()
        .map(|&i| c.info.columns[i].name.as_str())
        .collect();
    if points {
        header.extend(["lon", "lat"]);
    }
    w.write_record(&header).map_err(ApiError::internal)?;
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for &i in items {
        let it = &c.items[i];
        row.clear();
        for &p in properties {
            row.push(match c.cell(i, p) {
                CellRef::Null => String::new(),
                CellRef::Text(s) => s.to_owned(),
                CellRef::Real(v) if v.is_finite() => csv_number(v, sep),
                CellRef::Real(_) => String::new(),
                CellRef::Int(v) => v.to_string(),
                CellRef::Bool(b) => b.to_string(),
            });
        }
        if points {
            match &it.geometry {
                Some(Geometry::Point(p)) => {
                    row.push(csv_number(round7(p.x()), sep));
                    row.push(csv_number(round7(p.y()), sep));
                }
                _ => row.extend([String::new(), String::new()]),
            }
        }
        w.write_record(&row).map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

/// Features as a FlatGeobuf file with the chosen properties (items without geometry
/// get the empty geometry that GDAL reads, as in the built files).
pub fn flatgeobuf(
    c: &Collection,
    items: &[usize],
    properties: &[usize],
) -> Result<Vec<u8>, ApiError> {
    let info = LayerInfo {
        columns: properties
            .iter()
            .map(|&i| c.info.columns[i].clone())
            .collect(),
        ..c.info.clone()
    };
    let empty = fgb::empty_geometry(c.info.geometry_type);
    let rows = items.iter().map(|&i| {
        (
            c.items[i].geometry.as_ref().unwrap_or(&empty),
            properties.iter().map(|&p| c.cell(i, p)).collect::<Vec<_>>(),
        )
    });
    let mut out = Vec::new();
    fgb::encode(&mut out, &info, rows).map_err(ApiError::internal)?;
    Ok(out)
}

/// Features as an Excel workbook: one sheet of the chosen properties (then `lon`, `lat`
/// for points) with typed cells — codes such as `01001` stay text, numbers are numbers,
/// empty cells stay empty — a frozen, filterable header, and a second sheet saying
/// where the data comes from.
pub fn xlsx(
    c: &Collection,
    items: &[usize],
    properties: &[usize],
    about: &[(&str, String)],
) -> Result<Vec<u8>, ApiError> {
    workbook(c, items, properties, about).map_err(ApiError::internal)
}

fn workbook(
    c: &Collection,
    items: &[usize],
    properties: &[usize],
    about: &[(&str, String)],
) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    let sheet = book.add_worksheet();
    // Sheet names: at most 31 characters.
    sheet.set_name(c.id.chars().take(31).collect::<String>())?;
    let mut header: Vec<&str> = properties
        .iter()
        .map(|&i| c.info.columns[i].name.as_str())
        .collect();
    if c.is_points() {
        header.extend(["lon", "lat"]);
    }
    for (col, name) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *name, &bold)?;
    }
    for (n, &i) in items.iter().enumerate() {
        let row = n as u32 + 1;
        for (col, &p) in properties.iter().enumerate() {
            let col = col as u16;
            match c.cell(i, p) {
                CellRef::Null => {}
                CellRef::Text(s) => {
                    sheet.write_string(row, col, s)?;
                }
                CellRef::Real(v) if v.is_finite() => {
                    sheet.write_number(row, col, v)?;
                }
                CellRef::Real(_) => {}
                CellRef::Int(v) => {
                    sheet.write_number(row, col, v as f64)?;
                }
                CellRef::Bool(b) => {
                    sheet.write_boolean(row, col, b)?;
                }
            }
        }
        if let Some(Geometry::Point(pt)) = &c.items[i].geometry {
            let col = properties.len() as u16;
            sheet.write_number(row, col, round7(pt.x()))?;
            sheet.write_number(row, col + 1, round7(pt.y()))?;
        }
    }
    if !header.is_empty() {
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, items.len() as u32, header.len() as u16 - 1)?;
    }
    let notes = book.add_worksheet();
    notes.set_name("source")?;
    notes.set_column_width(0, 18)?;
    notes.set_column_width(1, 100)?;
    for (row, (key, value)) in about.iter().enumerate() {
        notes.write_string_with_format(row as u32, 0, *key, &bold)?;
        notes.write_string(row as u32, 1, value)?;
    }
    book.save_to_buffer()
}

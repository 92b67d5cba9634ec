//! A FlatGeobuf layer read whole into columns: one typed vector per column, and the
//! geometries when asked for. The loader builds the model from these columns and the API
//! serves the same columns, so each layer is read once.

use std::collections::BTreeMap;
use std::path::Path;

use flatgeobuf::ColumnType;

use super::StoreError;
use super::fgb::{Cell, CellRef, ColType, Column, LayerInfo};

/// A text column: every value in one buffer (one allocation per column, not per cell).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Texts {
    data: String,
    /// Byte range of each row's value in `data`; `None`: no value.
    spans: Vec<Option<(u32, u32)>>,
}

impl Texts {
    /// Room for `rows` values of `bytes` in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        Texts {
            data: String::with_capacity(bytes),
            spans: Vec::with_capacity(rows),
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The value of a row.
    pub fn get(&self, row: usize) -> Option<&str> {
        let (a, b) = self.spans.get(row).copied().flatten()?;
        self.data.get(a as usize..b as usize)
    }

    /// Every row's value, in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(|row| self.get(row))
    }

    /// Adds a row.
    pub fn push(&mut self, value: Option<&str>) {
        let span = value.map(|v| self.append(v));
        self.spans.push(span);
    }

    fn append(&mut self, v: &str) -> (u32, u32) {
        let start = self.data.len();
        self.data.push_str(v);
        (start as u32, self.data.len() as u32)
    }

    /// Appends the rows of another column.
    fn append_all(&mut self, other: Texts) {
        let shift = self.data.len() as u32;
        self.data.push_str(&other.data);
        self.spans.extend(
            other
                .spans
                .into_iter()
                .map(|s| s.map(|(a, b)| (a + shift, b + shift))),
        );
    }

    fn set_last(&mut self, v: &str) {
        let span = self.append(v);
        if let Some(last) = self.spans.last_mut() {
            *last = Some(span);
        }
    }
}

impl<'a> FromIterator<Option<&'a str>> for Texts {
    fn from_iter<I: IntoIterator<Item = Option<&'a str>>>(iter: I) -> Self {
        let mut t = Texts::default();
        for v in iter {
            t.push(v);
        }
        t
    }
}

/// The values of one column, one per row (`None`: no value).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Text(Texts),
    Real(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl Values {
    /// `rows` empty values of a column type.
    pub fn empty(ty: ColType, rows: usize) -> Values {
        match ty {
            ColType::Text => Values::Text((0..rows).map(|_| None).collect()),
            ColType::Real => Values::Real(vec![None; rows]),
            ColType::Int => Values::Int(vec![None; rows]),
            ColType::Bool => Values::Bool(vec![None; rows]),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Real(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, row: usize) -> CellRef<'_> {
        let cell = match self {
            Values::Text(v) => v.get(row).map(CellRef::Text),
            Values::Real(v) => v.get(row).copied().flatten().map(CellRef::Real),
            Values::Int(v) => v.get(row).copied().flatten().map(CellRef::Int),
            Values::Bool(v) => v.get(row).copied().flatten().map(CellRef::Bool),
        };
        cell.unwrap_or(CellRef::Null)
    }

    fn push_null(&mut self) {
        match self {
            Values::Text(v) => v.spans.push(None),
            Values::Real(v) => v.push(None),
            Values::Int(v) => v.push(None),
            Values::Bool(v) => v.push(None),
        }
    }

    /// The values in the order `order` gives (a permutation of the rows).
    fn permuted(self, order: &[usize]) -> Values {
        fn take<T>(mut v: Vec<Option<T>>, order: &[usize]) -> Vec<Option<T>> {
            order
                .iter()
                .map(|&i| v.get_mut(i).and_then(Option::take))
                .collect()
        }
        match self {
            Values::Text(v) => Values::Text(order.iter().map(|&i| v.get(i)).collect()),
            Values::Real(v) => Values::Real(take(v, order)),
            Values::Int(v) => Values::Int(take(v, order)),
            Values::Bool(v) => Values::Bool(take(v, order)),
        }
    }
}

/// A whole layer, by columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub info: LayerInfo,
    /// One per column of `info`, each with one value per row.
    pub columns: Vec<Values>,
    /// One per row when read with geometries, else empty.
    pub geometries: Vec<Option<geo::Geometry<f64>>>,
    rows: usize,
}

/// A property value as decoded from a feature.
enum Raw<'a> {
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bool(bool),
}

/// The next `N` bytes of `bytes` at `*at`, moving `*at` past them.
fn take<const N: usize>(bytes: &[u8], at: &mut usize) -> Result<[u8; N], String> {
    let b: [u8; N] = bytes
        .get(*at..*at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("property bytes end inside a value at byte {at}"))?;
    *at += N;
    Ok(b)
}

/// Decodes a feature's properties (FlatGeobuf: a column index, u16, then the value, fixed
/// size by column type or u32 length-prefixed) into the last row of `columns`.
fn decode_properties(
    bytes: &[u8],
    types: &[ColumnType],
    mut set: impl FnMut(usize, Raw<'_>),
) -> Result<(), String> {
    let mut at = 0;
    // As the reference readers: a trailing byte after the last value is tolerated.
    while at + 1 < bytes.len() {
        let col = usize::from(u16::from_le_bytes(take(bytes, &mut at)?));
        let ty = *types
            .get(col)
            .ok_or_else(|| format!("a property names column {col}, beyond the header's"))?;
        let value = match ty {
            ColumnType::Bool => Raw::Bool(take::<1>(bytes, &mut at)?[0] != 0),
            ColumnType::Byte => Raw::Int(i64::from(i8::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::UByte => Raw::Int(i64::from(u8::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::Short => Raw::Int(i64::from(i16::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::UShort => Raw::Int(i64::from(u16::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::Int => Raw::Int(i64::from(i32::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::UInt => Raw::Int(i64::from(u32::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::Long => Raw::Int(i64::from_le_bytes(take(bytes, &mut at)?)),
            ColumnType::ULong => Raw::Int(
                i64::try_from(u64::from_le_bytes(take(bytes, &mut at)?)).unwrap_or(i64::MAX),
            ),
            ColumnType::Float => Raw::Real(f64::from(f32::from_le_bytes(take(bytes, &mut at)?))),
            ColumnType::Double => Raw::Real(f64::from_le_bytes(take(bytes, &mut at)?)),
            ColumnType::String | ColumnType::Json | ColumnType::DateTime | ColumnType::Binary => {
                let len = u32::from_le_bytes(take(bytes, &mut at)?) as usize;
                let b = bytes
                    .get(at..at + len)
                    .ok_or_else(|| format!("column {col}: value ends beyond the feature"))?;
                at += len;
                if ty == ColumnType::Binary {
                    continue;
                }
                Raw::Text(
                    std::str::from_utf8(b)
                        .map_err(|_| format!("column {col}: text that is not UTF-8"))?,
                )
            }
            _ => return Err(format!("column {col}: unknown column type")),
        };
        set(col, value);
    }
    Ok(())
}

/// Features per thread below which a layer is decoded on one thread.
const ROWS_PER_THREAD: usize = 4_096;

/// Where one thread writes its rows of one column: its share of a numeric column, or a
/// text part of its own (text parts are joined afterwards).
enum Slot<'a> {
    Text(Texts),
    Real(&'a mut [Option<f64>]),
    Int(&'a mut [Option<i64>]),
    Bool(&'a mut [Option<bool>]),
}

impl Slot<'_> {
    fn set(&mut self, row: usize, value: Raw<'_>) {
        fn put<T>(v: Option<&mut Option<T>>, x: T) {
            if let Some(cell) = v {
                *cell = Some(x);
            }
        }
        match (self, value) {
            (Slot::Text(t), Raw::Text(s)) => t.set_last(s),
            (Slot::Real(v), Raw::Real(x)) => put(v.get_mut(row), x),
            (Slot::Real(v), Raw::Int(x)) => put(v.get_mut(row), x as f64),
            (Slot::Int(v), Raw::Int(x)) => put(v.get_mut(row), x),
            (Slot::Bool(v), Raw::Bool(b)) => put(v.get_mut(row), b),
            _ => {}
        }
    }
}

/// Decodes the features in `spans` (byte ranges of size-prefixed features) into `slots`,
/// one per column, sized for these rows; the geometries too when `geometry` is given.
fn decode_rows(
    bytes: &[u8],
    spans: &[std::ops::Range<usize>],
    slots: &mut [Slot<'_>],
    types: &[ColumnType],
    geometry: Option<flatgeobuf::GeometryType>,
) -> Result<Vec<Option<geo::Geometry<f64>>>, String> {
    let mut geometries = Vec::new();
    for (row, span) in spans.iter().enumerate() {
        let f = bytes
            .get(span.clone())
            .ok_or("feature beyond the end of the file")
            .and_then(|b| {
                flatgeobuf::size_prefixed_root_as_feature(b).map_err(|_| "invalid feature")
            })
            .map_err(|e| format!("feature {row}: {e}"))?;
        for slot in slots.iter_mut() {
            if let Slot::Text(t) = slot {
                t.push(None);
            }
        }
        if let Some(p) = f.properties() {
            decode_properties(p.bytes(), types, |col, value| {
                if let Some(slot) = slots.get_mut(col) {
                    slot.set(row, value);
                }
            })
            .map_err(|e| format!("feature {row}: {e}"))?;
        }
        if let Some(ty) = geometry {
            geometries.push(f.geometry().and_then(|g| {
                let mut w = geozero::geo_types::GeoWriter::new();
                g.process(&mut w, ty).ok()?;
                w.take_geometry()
            }));
        }
    }
    Ok(geometries)
}

impl Table {
    /// Reads a layer: header and every feature, with geometries when `geometry` (the
    /// commune polygons are most of the file: analyses do without them). The file is read
    /// whole and its features decoded over the available cores.
    pub fn read(path: &Path, geometry: bool) -> Result<Table, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Table::from_bytes(&bytes, geometry).map_err(|message| StoreError::Read {
            path: path.to_owned(),
            message,
        })
    }

    /// A layer from the bytes of a FlatGeobuf file.
    pub fn from_bytes(bytes: &[u8], geometry: bool) -> Result<Table, String> {
        let u32_at = |at: usize| -> Result<usize, String> {
            let b = bytes
                .get(at..at + 4)
                .ok_or_else(|| format!("file ends at byte {} inside a size", bytes.len()))?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let magic = bytes.get(..8).ok_or("too short for a FlatGeobuf file")?;
        if magic[..3] != *b"fgb" || magic[4..7] != *b"fgb" {
            return Err("not a FlatGeobuf file (magic bytes)".into());
        }
        let header_size = u32_at(8)?;
        if !(8..=10 << 20).contains(&header_size) {
            return Err(format!("header of {header_size} bytes"));
        }
        let header_end = 12 + header_size;
        let h = bytes
            .get(8..header_end)
            .ok_or("file ends inside its header")
            .and_then(|b| {
                flatgeobuf::size_prefixed_root_as_header(b).map_err(|_| "invalid header")
            })?;
        let columns_meta: Vec<_> = h.columns().iter().flatten().collect();
        let types: Vec<ColumnType> = columns_meta.iter().map(|c| c.type_()).collect();
        let info = LayerInfo {
            name: h.name().unwrap_or_default().to_owned(),
            title: h.title().unwrap_or_default().to_owned(),
            description: h.description().unwrap_or_default().to_owned(),
            geometry_type: h.geometry_type(),
            columns: columns_meta
                .iter()
                .map(|c| Column {
                    name: c.name().to_owned(),
                    ty: match c.type_() {
                        ColumnType::String | ColumnType::Json | ColumnType::DateTime => {
                            ColType::Text
                        }
                        ColumnType::Bool => ColType::Bool,
                        ColumnType::Float | ColumnType::Double => ColType::Real,
                        _ => ColType::Int,
                    },
                    description: c.description().map(str::to_owned),
                })
                .collect(),
        };
        let count = usize::try_from(h.features_count()).unwrap_or(usize::MAX);
        let mut at = header_end;
        if h.index_node_size() >= 2 && count > 0 {
            if count > bytes.len() / 4 {
                return Err(format!(
                    "header announces {count} features, more than the file holds"
                ));
            }
            at += flatgeobuf::packed_r_tree::PackedRTree::index_size(count, h.index_node_size());
        }
        let mut spans = Vec::with_capacity(count.min(bytes.len() / 4));
        while at < bytes.len() {
            let end = at + 4 + u32_at(at)?;
            if end > bytes.len() {
                return Err(format!(
                    "feature {} ends beyond the end of the file",
                    spans.len()
                ));
            }
            spans.push(at..end);
            at = end;
        }
        let geometry = geometry.then(|| h.geometry_type());
        let threads = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(8)
            .min(spans.len().div_ceil(ROWS_PER_THREAD))
            .max(1);
        let chunk = spans.len().div_ceil(threads).max(1);
        let rows = spans.len();
        // Numeric columns sized for every row (each thread fills its share); text columns
        // are made of the threads' parts.
        let mut columns: Vec<Values> = info
            .columns
            .iter()
            .map(|c| match c.ty {
                ColType::Text => Values::Text(Texts::default()),
                ty => Values::empty(ty, rows),
            })
            .collect();
        // Each thread gets its rows of every numeric column, and a text part per text column.
        let mut shares: Vec<Vec<Slot<'_>>> =
            (0..rows.div_ceil(chunk)).map(|_| Vec::new()).collect();
        // Room for a part's text: at most its bytes (reserved, not touched until written).
        let part_bytes = |k: usize| {
            spans[k * chunk..((k + 1) * chunk).min(rows)]
                .iter()
                .map(|r| r.len())
                .sum::<usize>()
        };
        for c in &mut columns {
            match c {
                Values::Text(_) => shares.iter_mut().enumerate().for_each(|(k, s)| {
                    s.push(Slot::Text(Texts::with_capacity(chunk, part_bytes(k))))
                }),
                Values::Real(v) => shares
                    .iter_mut()
                    .zip(v.chunks_mut(chunk))
                    .for_each(|(s, v)| s.push(Slot::Real(v))),
                Values::Int(v) => shares
                    .iter_mut()
                    .zip(v.chunks_mut(chunk))
                    .for_each(|(s, v)| s.push(Slot::Int(v))),
                Values::Bool(v) => shares
                    .iter_mut()
                    .zip(v.chunks_mut(chunk))
                    .for_each(|(s, v)| s.push(Slot::Bool(v))),
            }
        }
        let parts: Vec<Result<_, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = spans
                .chunks(chunk)
                .zip(&mut shares)
                .map(|(part, slots)| {
                    let types = &types;
                    s.spawn(move || decode_rows(bytes, part, slots, types, geometry))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut geometries = Vec::new();
        for part in parts {
            geometries.extend(part?);
        }
        // The text parts, joined in row order.
        let mut texts: Vec<Texts> = Vec::new();
        for share in shares {
            for (k, slot) in share
                .into_iter()
                .filter_map(|s| match s {
                    Slot::Text(t) => Some(t),
                    _ => None,
                })
                .enumerate()
            {
                match texts.get_mut(k) {
                    Some(all) => all.append_all(slot),
                    None => texts.push(slot),
                }
            }
        }
        let mut texts = texts.into_iter();
        for c in &mut columns {
            if let Values::Text(t) = c {
                *t = texts.next().unwrap_or_default();
            }
        }
        Ok(Table {
            info,
            columns,
            geometries,
            rows,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Position of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.info.columns.iter().position(|c| c.name == name)
    }

    pub fn cell(&self, row: usize, column: usize) -> CellRef<'_> {
        self.columns
            .get(column)
            .map_or(CellRef::Null, |v| v.get(row))
    }

    /// A text column by name.
    pub fn text(&self, name: &str) -> Option<&Texts> {
        match self.columns.get(self.column(name)?)? {
            Values::Text(v) => Some(v),
            _ => None,
        }
    }

    /// A real column by name.
    pub fn real(&self, name: &str) -> Option<&[Option<f64>]> {
        match self.columns.get(self.column(name)?)? {
            Values::Real(v) => Some(v),
            _ => None,
        }
    }

    /// Puts the rows in the order `order` gives (a permutation of `0..rows`).
    pub fn reorder(&mut self, order: &[usize]) {
        debug_assert_eq!(order.len(), self.rows);
        self.columns = std::mem::take(&mut self.columns)
            .into_iter()
            .map(|c| c.permuted(order))
            .collect();
        if !self.geometries.is_empty() {
            let mut g = std::mem::take(&mut self.geometries);
            self.geometries = order
                .iter()
                .map(|&i| g.get_mut(i).and_then(Option::take))
                .collect();
        }
    }

    /// Adds a column (its values one per row; missing rows are empty).
    pub fn push_column(&mut self, column: Column, mut values: Values) {
        while values.len() < self.rows {
            values.push_null();
        }
        self.info.columns.push(column);
        self.columns.push(values);
    }
}

/// A feature read back, its properties by name (for tests and tools; the loader reads
/// whole layers into a [`Table`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub geometry: Option<geo::Geometry<f64>>,
    pub properties: BTreeMap<String, Cell>,
}

/// Reads every feature of a layer.
pub fn read_layer(path: &Path) -> Result<Vec<Feature>, StoreError> {
    read_layer_info(path).map(|(_, f)| f)
}

/// Reads a layer's header (name, title, description, columns) and every feature.
pub fn read_layer_info(path: &Path) -> Result<(LayerInfo, Vec<Feature>), StoreError> {
    let table = Table::read(path, true)?;
    let features = (0..table.rows())
        .map(|row| Feature {
            geometry: table.geometries.get(row).cloned().flatten(),
            properties: table
                .info
                .columns
                .iter()
                .enumerate()
                .filter_map(|(c, col)| match table.cell(row, c) {
                    CellRef::Null => None,
                    v => Some((col.name.clone(), v.to_owned())),
                })
                .collect(),
        })
        .collect();
    Ok((table.info, features))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fgb::{Layer, write_layer};
    use flatgeobuf::GeometryType;

    #[test]
    fn round_trip_with_nulls_and_empty_layer() {
        let dir = tempfile::tempdir().unwrap();
        let layer = Layer {
            name: "t".into(),
            title: "Test".into(),
            description: "d".into(),
            geometry_type: GeometryType::Point,
            columns: vec![
                Column::new("id", ColType::Text),
                Column::new("cap", ColType::Real),
            ],
            features: vec![
                (
                    geo::Point::new(-0.2, 46.97).into(),
                    vec![Cell::text("790000376"), Cell::Real(148.0)],
                ),
                (
                    geo::Point::new(-0.21, 46.98).into(),
                    vec![Cell::text("790000377"), Cell::Null],
                ),
            ],
        };
        let p = dir.path().join("t.fgb");
        assert_eq!(write_layer(&p, &layer).unwrap(), 2);
        let mut back = read_layer(&p).unwrap();
        back.sort_by(|a, b| {
            a.properties["id"]
                .as_str()
                .cmp(&b.properties["id"].as_str())
        });
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].properties["cap"], Cell::Real(148.0));
        assert!(!back[1].properties.contains_key("cap"));
        assert_eq!(back[0].geometry, Some(geo::Point::new(-0.2, 46.97).into()));

        let empty = Layer {
            features: vec![],
            ..layer
        };
        let p = dir.path().join("e.fgb");
        assert_eq!(write_layer(&p, &empty).unwrap(), 0);
        assert!(read_layer(&p).unwrap().is_empty());
    }
}

//! FlatGeobuf layers: the only on-disk format of built data (WGS84, with the packed
//! Hilbert R-tree index, readable by GDAL, QGIS and any FlatGeobuf client). Cells and
//! columns as written by the build and read back by the loader and the API.

use std::io::{BufWriter, Write};
use std::path::Path;

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geozero::{ColumnValue, PropertyProcessor};

use super::StoreError;

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Real(f64),
    Int(i64),
    Bool(bool),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Self {
        s.map_or(Cell::Null, |s| Cell::Text(s.into()))
    }

    pub fn opt_real(v: Option<f64>) -> Self {
        v.map_or(Cell::Null, Cell::Real)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_ref().as_f64()
    }

    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Null => CellRef::Null,
            Cell::Text(s) => CellRef::Text(s),
            Cell::Real(v) => CellRef::Real(*v),
            Cell::Int(v) => CellRef::Int(*v),
            Cell::Bool(v) => CellRef::Bool(*v),
        }
    }
}

/// A property value borrowed from a [`Table`] or a [`Cell`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Null,
    Text(&'a str),
    Real(f64),
    Int(i64),
    Bool(bool),
}

impl CellRef<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            CellRef::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            CellRef::Real(v) => Some(*v),
            CellRef::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn to_owned(&self) -> Cell {
        match *self {
            CellRef::Null => Cell::Null,
            CellRef::Text(s) => Cell::Text(s.to_owned()),
            CellRef::Real(v) => Cell::Real(v),
            CellRef::Int(v) => Cell::Int(v),
            CellRef::Bool(v) => Cell::Bool(v),
        }
    }
}

/// Column types we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Text,
    Real,
    Int,
    Bool,
}

impl ColType {
    pub(super) fn fgb(self) -> ColumnType {
        match self {
            ColType::Text => ColumnType::String,
            ColType::Real => ColumnType::Double,
            ColType::Int => ColumnType::Long,
            ColType::Bool => ColumnType::Bool,
        }
    }
}

/// A column: name, type, and a description shown by GDAL/QGIS.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
    pub description: Option<String>,
}

impl Column {
    pub fn new(name: &str, ty: ColType) -> Self {
        Column {
            name: name.to_owned(),
            ty,
            description: None,
        }
    }

    pub fn described(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
}

/// A layer to write.
pub struct Layer {
    pub name: String,
    pub title: String,
    pub description: String,
    pub geometry_type: GeometryType,
    pub columns: Vec<Column>,
    pub features: Vec<(geo::Geometry<f64>, Vec<Cell>)>,
}

/// What describes a layer besides its features: name, title, description, geometry type
/// and columns (as written in, and read back from, the FlatGeobuf header).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub name: String,
    pub title: String,
    pub description: String,
    pub geometry_type: GeometryType,
    pub columns: Vec<Column>,
}

/// Writes a layer with its spatial index. The caller makes the write atomic (the file is
/// written in a staging folder that is swapped in whole).
pub fn write_layer(path: &Path, layer: &Layer) -> Result<u64, StoreError> {
    let info = LayerInfo {
        name: layer.name.clone(),
        title: layer.title.clone(),
        description: layer.description.clone(),
        geometry_type: layer.geometry_type,
        columns: layer.columns.clone(),
    };
    let file = std::fs::File::create(path).map_err(|e| StoreError::io(path, e))?;
    let mut out = BufWriter::new(file);
    let features = layer
        .features
        .iter()
        .map(|(g, cells)| (g, cells.iter().map(Cell::as_ref).collect::<Vec<_>>()));
    let n = encode(&mut out, &info, features).map_err(|message| StoreError::Write {
        path: path.to_owned(),
        message,
    })?;
    let file = out.into_inner().map_err(|e| StoreError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    file.sync_all().map_err(|e| StoreError::io(path, e))?;
    Ok(n)
}

/// Encodes features as a FlatGeobuf file (WGS84, with the spatial index when there is at
/// least one feature) into any writer: a file, or an HTTP response body. Every feature
/// has one cell per column of `info`.
pub fn encode<'a, 'c, W: Write>(
    out: &mut W,
    info: &LayerInfo,
    features: impl IntoIterator<Item = (&'a geo::Geometry<f64>, Vec<CellRef<'c>>)>,
) -> Result<u64, String> {
    let features = features.into_iter();
    let mut fgb = None;
    let mut count = 0u64;
    for (n, (geometry, cells)) in features.enumerate() {
        if cells.len() != info.columns.len() {
            return Err(format!(
                "feature {n} has {} values for {} columns",
                cells.len(),
                info.columns.len()
            ));
        }
        let w = match &mut fgb {
            Some(w) => w,
            None => fgb.insert(writer(info, true)?),
        };
        let mut failure = None;
        w.add_feature_geom(geometry.clone(), |feat| {
            for (i, (col, cell)) in info.columns.iter().zip(&cells).enumerate() {
                let value = match *cell {
                    CellRef::Null => continue,
                    CellRef::Text(s) => ColumnValue::String(s),
                    CellRef::Real(v) => ColumnValue::Double(v),
                    CellRef::Int(v) => ColumnValue::Long(v),
                    CellRef::Bool(v) => ColumnValue::Bool(v),
                };
                if let Err(e) = feat.property(i, &col.name, &value) {
                    failure = Some(format!("feature {n}, column {}: {e}", col.name));
                }
            }
        })
        .map_err(|e| format!("feature {n}: {e}"))?;
        if let Some(f) = failure {
            return Err(f);
        }
        count += 1;
    }
    // GDAL rejects an index over zero features.
    let w = match fgb {
        Some(w) => w,
        None => writer(info, false)?,
    };
    w.write(out).map_err(|e| e.to_string())?;
    Ok(count)
}

fn writer(info: &LayerInfo, index: bool) -> Result<FgbWriter<'_>, String> {
    let options = FgbWriterOptions {
        write_index: index,
        detect_type: false,
        promote_to_multi: true,
        crs: FgbCrs {
            code: 4326,
            ..Default::default()
        },
        title: Some(&info.title),
        description: Some(&info.description),
        ..Default::default()
    };
    let mut fgb = FgbWriter::create_with_options(&info.name, info.geometry_type, options)
        .map_err(|e| e.to_string())?;
    for c in &info.columns {
        fgb.add_column(&c.name, c.ty.fgb(), |fbb, col| {
            col.nullable = true;
            if let Some(d) = &c.description {
                col.description = Some(fbb.create_string(d));
            }
        });
    }
    Ok(fgb)
}

/// The geometry written for a feature that has none, in a layer of type `ty`: a
/// polygon with an empty ring (GDAL reads `POLYGON EMPTY` / `MULTIPOLYGON EMPTY`; an empty
/// multipolygon would make GDAL abort on the feature: "Unexpected nullptr: parts data")
/// or, for points, an empty multipoint.
pub fn empty_geometry(ty: GeometryType) -> geo::Geometry<f64> {
    match ty {
        GeometryType::Point | GeometryType::MultiPoint => geo::MultiPoint::<f64>(vec![]).into(),
        _ => geo::Polygon::new(geo::LineString(vec![]), vec![]).into(),
    }
}

/// Writes bytes to a file and syncs it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = std::fs::File::create(path).map_err(|e| StoreError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StoreError::io(path, e))?;
    f.sync_all().map_err(|e| StoreError::io(path, e))
}

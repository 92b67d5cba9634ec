//! FlatGeobuf layers: the only on-disk format of built data (WGS84, with the packed
//! Hilbert R-tree index, readable by GDAL, QGIS and any FlatGeobuf client).

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FgbCrs, FgbReader, FgbWriter, FgbWriterOptions,
    GeometryType,
};
use geozero::{ColumnValue, FeatureProperties, PropertyProcessor, ToGeo};

use super::ImportError;

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
        match self {
            Cell::Real(v) => Some(*v),
            Cell::Int(v) => Some(*v as f64),
            _ => None,
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
    fn fgb(self) -> ColumnType {
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
pub fn write_layer(path: &Path, layer: &Layer) -> Result<u64, ImportError> {
    let info = LayerInfo {
        name: layer.name.clone(),
        title: layer.title.clone(),
        description: layer.description.clone(),
        geometry_type: layer.geometry_type,
        columns: layer.columns.clone(),
    };
    let file = std::fs::File::create(path).map_err(|e| ImportError::io(path, e))?;
    let mut out = BufWriter::new(file);
    let features = layer
        .features
        .iter()
        .map(|(g, cells)| (g, cells.as_slice()));
    let n = encode(&mut out, &info, features).map_err(|message| ImportError::Write {
        path: path.to_owned(),
        message,
    })?;
    let file = out.into_inner().map_err(|e| ImportError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    file.sync_all().map_err(|e| ImportError::io(path, e))?;
    Ok(n)
}

/// Encodes features as a FlatGeobuf file (WGS84, with the spatial index when there is at
/// least one feature) into any writer: a file, or an HTTP response body. Every feature
/// has one cell per column of `info`.
pub fn encode<'a, W: Write>(
    out: &mut W,
    info: &LayerInfo,
    features: impl IntoIterator<Item = (&'a geo::Geometry<f64>, &'a [Cell])>,
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
            for (i, (col, cell)) in info.columns.iter().zip(cells).enumerate() {
                let value = match cell {
                    Cell::Null => continue,
                    Cell::Text(s) => ColumnValue::String(s),
                    Cell::Real(v) => ColumnValue::Double(*v),
                    Cell::Int(v) => ColumnValue::Long(*v),
                    Cell::Bool(v) => ColumnValue::Bool(*v),
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

/// A feature read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub geometry: Option<geo::Geometry<f64>>,
    pub properties: BTreeMap<String, Cell>,
}

struct Collect<'a>(&'a mut BTreeMap<String, Cell>);

impl PropertyProcessor for Collect<'_> {
    fn property(&mut self, _i: usize, name: &str, v: &ColumnValue) -> geozero::error::Result<bool> {
        let cell = match v {
            ColumnValue::String(s) | ColumnValue::Json(s) | ColumnValue::DateTime(s) => {
                Cell::text(*s)
            }
            ColumnValue::Double(x) => Cell::Real(*x),
            ColumnValue::Float(x) => Cell::Real(f64::from(*x)),
            ColumnValue::Long(x) => Cell::Int(*x),
            ColumnValue::Int(x) => Cell::Int(i64::from(*x)),
            ColumnValue::Short(x) => Cell::Int(i64::from(*x)),
            ColumnValue::Byte(x) => Cell::Int(i64::from(*x)),
            ColumnValue::UByte(x) => Cell::Int(i64::from(*x)),
            ColumnValue::UShort(x) => Cell::Int(i64::from(*x)),
            ColumnValue::UInt(x) => Cell::Int(i64::from(*x)),
            ColumnValue::ULong(x) => Cell::Int(i64::try_from(*x).unwrap_or(i64::MAX)),
            ColumnValue::Bool(x) => Cell::Bool(*x),
            ColumnValue::Binary(_) => Cell::Null,
        };
        self.0.insert(name.to_owned(), cell);
        Ok(false)
    }
}

/// Reads every feature of a layer.
pub fn read_layer(path: &Path) -> Result<Vec<Feature>, ImportError> {
    read(path, true).map(|(_, f)| f)
}

/// Reads every feature's properties only (no geometry decoding: the commune layer's
/// 35,000 polygons are the bulk of start-up time when only attributes are needed).
pub fn read_properties(path: &Path) -> Result<Vec<Feature>, ImportError> {
    read(path, false).map(|(_, f)| f)
}

/// Reads a layer's header (name, title, description, columns) and every feature.
pub fn read_layer_info(path: &Path) -> Result<(LayerInfo, Vec<Feature>), ImportError> {
    read(path, true)
}

fn read(path: &Path, with_geometry: bool) -> Result<(LayerInfo, Vec<Feature>), ImportError> {
    let err = |message: String| ImportError::Read {
        path: path.to_owned(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let fgb = FgbReader::open(&mut reader).map_err(|e| err(e.to_string()))?;
    let info = {
        let h = fgb.header();
        let columns = h
            .columns()
            .iter()
            .flatten()
            .map(|c| Column {
                name: c.name().to_owned(),
                ty: match c.type_() {
                    ColumnType::String | ColumnType::Json | ColumnType::DateTime => ColType::Text,
                    ColumnType::Bool => ColType::Bool,
                    ColumnType::Float | ColumnType::Double => ColType::Real,
                    _ => ColType::Int,
                },
                description: c.description().map(str::to_owned),
            })
            .collect();
        LayerInfo {
            name: h.name().unwrap_or_default().to_owned(),
            title: h.title().unwrap_or_default().to_owned(),
            description: h.description().unwrap_or_default().to_owned(),
            geometry_type: h.geometry_type(),
            columns,
        }
    };
    let mut iter = fgb.select_all().map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    while let Some(f) = iter.next().map_err(|e| err(e.to_string()))? {
        let mut properties = BTreeMap::new();
        f.process_properties(&mut Collect(&mut properties))
            .map_err(|e| err(e.to_string()))?;
        let geometry = if with_geometry { f.to_geo().ok() } else { None };
        out.push(Feature {
            geometry,
            properties,
        });
    }
    Ok((info, out))
}

/// Writes bytes to a file and syncs it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ImportError> {
    let mut f = std::fs::File::create(path).map_err(|e| ImportError::io(path, e))?;
    f.write_all(bytes).map_err(|e| ImportError::io(path, e))?;
    f.sync_all().map_err(|e| ImportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

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

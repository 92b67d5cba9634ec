//! Reads a build (`geodata/current/`) back: every layer once, into [`Table`]s, and the
//! [`Dataset`] made from their columns.
//!
//! Communes come out sorted by INSEE code and structures by kind then id, and the tables
//! are put in the same order, so row `i` of the communes table is `dataset.communes[i]`:
//! the API adds its columns by index, with no join on codes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use geo::{MultiPolygon, Point};

use crate::model::{
    Commune, Dataset, Facility, FinessNumber, Indicators, InseeCode, Kind, PositionQuality,
    RefPointSource, Scope, Territory, TerritoryType, TravelMatrix,
};

use super::fgb::CellRef;
use super::layout::{
    self, COMMUNE_POINTS_LAYER, COMMUNES_LAYER, TERRITORY_LAYERS, TRAVEL_MATRIX_FILE,
};
use super::table::Texts;
use super::{DatasetMeta, StoreError, Table, Values};

/// What to load besides the data set.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Polygons of communes and territories (analyses need reference points only).
    pub geometry: bool,
    /// Keep the layers' tables (the API serves them) and read the territory layers.
    pub tables: bool,
    /// The kinds of structure to read (`None`: all): a command that works on one kind
    /// need not decode the others.
    pub kinds: Option<BTreeSet<Kind>>,
}

/// A build read back.
#[derive(Debug)]
pub struct Build {
    /// The build's folder.
    pub dir: PathBuf,
    pub meta: DatasetMeta,
    pub dataset: Dataset,
    /// With [`LoadOptions::tables`]: every layer by name, communes in the order of
    /// `dataset.communes`, structures by id.
    pub tables: BTreeMap<String, Table>,
}

/// Columns of `communes.fgb` that are not indicators.
pub const BASE_COLUMNS: [&str; 14] = [
    "code",
    "nom",
    "population",
    "departement",
    "departement_nom",
    "region",
    "region_nom",
    "epci",
    "epci_nom",
    "cls",
    "ref_lon",
    "ref_lat",
    "ref_point",
    "zone",
];

/// Loads the current build of `data_dir`.
pub fn load(data_dir: &Path, opts: LoadOptions) -> Result<Build, StoreError> {
    load_build(&layout::current_build(data_dir)?, opts)
}

/// Loads the build in `dir` (a `builds/<id>` folder).
///
/// Two branches run side by side: the communes (read, sorted by code, turned into the
/// model), and the other layers (read, structures turned into the model).
pub fn load_build(dir: &Path, opts: LoadOptions) -> Result<Build, StoreError> {
    let meta = DatasetMeta::read(dir)?;
    let layer_path = |name: &str| dir.join(layout::layer_file(name));
    let facility_layers: Vec<(String, Kind)> = meta
        .layers
        .keys()
        .filter_map(|file| file.strip_suffix(".fgb"))
        .filter_map(|name| Some((name.to_owned(), layout::layer_kind(name)?)))
        .collect();
    let structures: BTreeMap<Kind, usize> = facility_layers
        .iter()
        .filter_map(|(name, kind)| {
            Some((kind.clone(), meta.layers.get(&layout::layer_file(name))?))
        })
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k, *n as usize))
        .collect();
    let facility_layers: Vec<(String, Kind)> = facility_layers
        .into_iter()
        .filter(|(_, kind)| opts.kinds.as_ref().is_none_or(|k| k.contains(kind)))
        .collect();

    let (communes, others) = std::thread::scope(|s| {
        let others = s.spawn(|| -> Result<_, StoreError> {
            let mut tables = BTreeMap::new();
            for (name, _) in TERRITORY_LAYERS {
                let path = layer_path(name);
                if (opts.tables || name == "cls") && path.exists() {
                    tables.insert(
                        name.to_owned(),
                        read_checked(dir, &meta, name, opts.geometry)?,
                    );
                }
            }
            let mut facilities = Vec::new();
            for (name, kind) in &facility_layers {
                let path = layer_path(name);
                let mut t = read_checked(dir, &meta, name, true)?;
                let mut list = (0..t.rows())
                    .map(|row| Ok((facility(&t, row, kind)?, row)))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|message| StoreError::Read { path, message })?;
                list.sort_by(|a, b| a.0.id.cmp(&b.0.id));
                if opts.tables {
                    t.reorder(&list.iter().map(|(_, row)| *row).collect::<Vec<_>>());
                    tables.insert(name.clone(), t);
                }
                facilities.extend(list.into_iter().map(|(f, _)| f));
            }
            facilities.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
            Ok((tables, facilities))
        });
        let communes = read_communes(dir, &meta, &opts);
        let others = others
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (communes, others)
    });
    let (mut table, order) = communes?;
    let (mut tables, facilities) = others?;
    let (communes, indicators, territories) = communes_of(&table, &order, &tables);
    if opts.tables {
        table.reorder(&order.iter().map(|(_, row)| *row).collect::<Vec<_>>());
        tables.insert(COMMUNES_LAYER.to_owned(), table);
    } else {
        tables.clear();
    }
    let travel_matrix = read_matrix(&dir.join(TRAVEL_MATRIX_FILE))?;
    Ok(Build {
        dir: dir.to_owned(),
        dataset: Dataset {
            build_id: meta.build_id.clone(),
            communes,
            facilities,
            territories,
            indicators,
            travel_matrix,
            structures,
            scopes: meta
                .kinds
                .iter()
                .filter_map(|(k, s)| {
                    let scope = Scope {
                        partial: s.partial,
                        departements: s.departements.as_ref().map(|d| d.iter().cloned().collect()),
                    };
                    Some((k.parse::<Kind>().ok()?, scope))
                })
                .collect(),
        },
        meta,
        tables,
    })
}

/// Reads layer `name` of the build in `dir`, checked against `dataset.json`: its sha256
/// (when the build recorded it), the layer name in its header and its feature count. A
/// file the FlatGeobuf reader cannot take (a corrupt one can make it panic) is an error
/// naming the file, never a panic.
pub fn read_checked(
    dir: &Path,
    meta: &DatasetMeta,
    name: &str,
    geometry: bool,
) -> Result<Table, StoreError> {
    let file = layout::layer_file(name);
    let path = dir.join(&file);
    let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    let bad = |message: String| StoreError::Read {
        path: path.clone(),
        message,
    };
    if let Some(want) = meta.sha256.get(&file) {
        let got = super::meta::sha256_hex(&bytes);
        if &got != want {
            return Err(bad(format!(
                "sha256 {got} is not the {want} that dataset.json records: the file was \
                 changed or replaced after the build (build again)"
            )));
        }
    }
    let table = std::panic::catch_unwind(|| Table::from_bytes(&bytes, geometry))
        .map_err(|_| bad("the FlatGeobuf reader failed on this file: it is corrupt".into()))?
        .map_err(&bad)?;
    if !table.info.name.is_empty() && table.info.name != name {
        return Err(bad(format!(
            "holds the layer {:?}, not {name:?}: the file was replaced by another layer",
            table.info.name
        )));
    }
    if let Some(&n) = meta.layers.get(&file) {
        if table.rows() as u64 != n {
            return Err(bad(format!(
                "holds {} features, dataset.json says {n}: the file does not belong to this build",
                table.rows()
            )));
        }
    }
    Ok(table)
}

/// The communes table and its rows in INSEE code order (code, row). Analyses need no
/// polygons: without [`LoadOptions::geometry`] the points layer, which holds the same
/// columns, is read instead.
fn read_communes(
    dir: &Path,
    meta: &DatasetMeta,
    opts: &LoadOptions,
) -> Result<(Table, Vec<(InseeCode, usize)>), StoreError> {
    let points = dir.join(layout::layer_file(COMMUNE_POINTS_LAYER));
    let name = if opts.geometry || !points.exists() {
        COMMUNES_LAYER
    } else {
        COMMUNE_POINTS_LAYER
    };
    let path = dir.join(layout::layer_file(name));
    let table = read_checked(dir, meta, name, opts.geometry)?;
    let bad = |message: String| StoreError::Read {
        path: path.clone(),
        message,
    };
    let codes = table
        .text("code")
        .ok_or_else(|| bad("no `code` column".into()))?;
    let mut order: Vec<(InseeCode, usize)> = Vec::with_capacity(codes.len());
    for (row, c) in codes.iter().enumerate() {
        let c = c.ok_or_else(|| bad(format!("feature {row} has no code")))?;
        order.push((InseeCode::parse(c).map_err(|e| bad(e.to_string()))?, row));
    }
    order.sort_unstable();
    if let Some(w) = order.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(bad(format!("INSEE code {} is given twice", w[0].0)));
    }
    Ok((table, order))
}

/// The communes (in the order of `order`: code, row of the table), their indicator
/// columns and the territories they name, with the CLS names of `cls.fgb`.
fn communes_of(
    t: &Table,
    order: &[(InseeCode, usize)],
    tables: &BTreeMap<String, Table>,
) -> (Vec<Commune>, Indicators, Vec<Territory>) {
    // Territories and indicators are built beside the communes.
    std::thread::scope(|s| {
        let territories = s.spawn(|| territories_of(t, order, tables));
        let indicators = indicators_of(t, order);
        let columns = CommuneColumns::of(t);
        let communes: Vec<Commune> = order
            .iter()
            .map(|(code, i)| columns.commune(code, *i))
            .collect();
        let territories = territories
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (communes, indicators, territories)
    })
}

/// The columns of the communes table a [`Commune`] is made of, looked up once.
struct CommuneColumns<'a> {
    t: &'a Table,
    name: Option<&'a Texts>,
    population: Option<&'a Values>,
    departement: Option<&'a Texts>,
    region: Option<&'a Texts>,
    epci: Option<&'a Texts>,
    zone: Option<&'a Texts>,
    lon: Option<&'a [Option<f64>]>,
    lat: Option<&'a [Option<f64>]>,
    ref_point: Option<&'a Texts>,
}

impl<'a> CommuneColumns<'a> {
    fn of(t: &'a Table) -> Self {
        CommuneColumns {
            t,
            name: t.text("nom"),
            population: t.column("population").map(|c| &t.columns[c]),
            departement: t.text("departement"),
            region: t.text("region"),
            epci: t.text("epci"),
            zone: t.text("zone"),
            lon: t.real("ref_lon"),
            lat: t.real("ref_lat"),
            ref_point: t.text("ref_point"),
        }
    }

    /// The commune of row `i`.
    fn commune(&self, code: &InseeCode, i: usize) -> Commune {
        let text = |c: Option<&'a Texts>| c.and_then(|c| c.get(i));
        let real = |c: Option<&'a [Option<f64>]>| c.and_then(|c| c.get(i).copied().flatten());
        let population = match self.population.map(|c| c.get(i)) {
            Some(CellRef::Int(v)) => v as f64,
            Some(CellRef::Real(v)) => v,
            _ => 0.0,
        };
        Commune {
            name: text(self.name).unwrap_or_default().to_owned(),
            population: population.max(0.0) as u32,
            departement: text(self.departement).unwrap_or_default().to_owned(),
            region: text(self.region).unwrap_or_default().to_owned(),
            epci: text(self.epci).map(str::to_owned),
            zone: text(self.zone).and_then(|z| InseeCode::parse(z).ok()),
            ref_point: real(self.lon)
                .zip(real(self.lat))
                .map(|(x, y)| Point::new(x, y)),
            ref_point_source: match text(self.ref_point) {
                Some("mairie") => Some(RefPointSource::Mairie),
                Some("interior_point") => Some(RefPointSource::InteriorPoint),
                Some("covering_commune") => Some(RefPointSource::CoveringCommune),
                _ => None,
            },
            geometry: match self.t.geometries.get(i) {
                Some(Some(geo::Geometry::MultiPolygon(m))) => Some(m.clone()),
                Some(Some(geo::Geometry::Polygon(p))) => Some(MultiPolygon(vec![p.clone()])),
                _ => None,
            },
            code: code.clone(),
        }
    }
}

/// The territories the communes name (département, région, EPCI, CLS), with the CLS
/// names of `cls.fgb`.
fn territories_of(
    t: &Table,
    order: &[(InseeCode, usize)],
    tables: &BTreeMap<String, Table>,
) -> Vec<Territory> {
    let empty_text: Texts = (0..t.rows()).map(|_| None).collect();
    let text = |name: &str| t.text(name).unwrap_or(&empty_text);
    let (dep, dep_name, reg, reg_name) = (
        text("departement"),
        text("departement_nom"),
        text("region"),
        text("region_nom"),
    );
    let (epci, epci_name, cls) = (text("epci"), text("epci_nom"), text("cls"));
    let mut found = Territories::default();
    for (code, i) in order {
        let i = *i;
        if let Some(d) = dep.get(i) {
            found.add(TerritoryType::Departement, d, dep_name.get(i), code);
        }
        if let Some(r) = reg.get(i) {
            found.add(TerritoryType::Region, r, reg_name.get(i), code);
        }
        if let Some(e) = epci.get(i) {
            found.add(TerritoryType::Epci, e, epci_name.get(i), code);
        }
        for id in cls.get(i).iter().flat_map(|s| s.split(',')) {
            found.add(TerritoryType::Cls, id, None, code);
        }
    }
    // Perimeter names come from cls.fgb; a territory the data does not name is named by
    // its code.
    let cls_names: HashMap<&str, &str> = tables
        .get("cls")
        .and_then(|cls| Some(cls.text("code")?.iter().zip(cls.text("nom")?.iter())))
        .into_iter()
        .flatten()
        .filter_map(|(c, n)| Some((c?, n?)))
        .collect();
    let mut territories = found.list;
    for t in &mut territories {
        if t.kind == TerritoryType::Cls
            && let Some(n) = cls_names.get(t.code.as_str())
        {
            t.name = (*n).to_owned();
        }
        if t.name.is_empty() {
            t.name.clone_from(&t.code);
        }
    }
    territories.sort_by(|a, b| (a.kind, &a.code).cmp(&(b.kind, &b.code)));
    territories
}

/// The indicator columns (every column that is not a base column), in commune order.
fn indicators_of(t: &Table, order: &[(InseeCode, usize)]) -> Indicators {
    let mut indicators = Indicators::default();
    for (column, values) in t.info.columns.iter().zip(&t.columns) {
        if BASE_COLUMNS.contains(&column.name.as_str()) {
            continue;
        }
        let rows = order.iter().map(|(_, row)| *row);
        match values {
            Values::Real(v) => {
                let v = rows.map(|r| v.get(r).copied().flatten()).collect();
                indicators.numeric.insert(column.name.clone(), v);
            }
            Values::Int(v) => {
                let v = rows
                    .map(|r| v.get(r).copied().flatten().map(|x| x as f64))
                    .collect();
                indicators.numeric.insert(column.name.clone(), v);
            }
            Values::Text(v) => {
                let v = rows.map(|r| v.get(r).map(str::to_owned)).collect();
                indicators.text.insert(column.name.clone(), v);
            }
            Values::Bool(_) => {}
        }
    }
    indicators
}

/// Territories named by the communes, by type and code borrowed from the table: one
/// allocation per territory, not one per commune.
#[derive(Default)]
struct Territories<'a> {
    index: HashMap<(TerritoryType, &'a str), usize>,
    list: Vec<Territory>,
}

impl<'a> Territories<'a> {
    fn add(&mut self, kind: TerritoryType, key: &'a str, name: Option<&str>, commune: &InseeCode) {
        let list = &mut self.list;
        let id = *self.index.entry((kind, key)).or_insert_with(|| {
            list.push(Territory {
                kind,
                code: key.to_owned(),
                name: String::new(),
                communes: Vec::new(),
            });
            list.len() - 1
        });
        let t = &mut list[id];
        if t.name.is_empty()
            && let Some(n) = name
        {
            n.clone_into(&mut t.name);
        }
        t.communes.push(commune.clone());
    }
}

/// The normalised table written by the build (`from,to,minutes`), if any.
fn read_matrix(path: &Path) -> Result<Option<TravelMatrix>, StoreError> {
    let mut rdr = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(_) if !path.exists() => return Ok(None),
        Err(e) => {
            return Err(StoreError::Read {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let mut m = TravelMatrix::default();
    for (i, rec) in rdr.records().enumerate() {
        let bad = |message: String| StoreError::Read {
            path: path.to_owned(),
            message: format!("line {}: {message}", i + 2),
        };
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let code = |k: usize| {
            InseeCode::parse(rec.get(k).unwrap_or_default()).map_err(|e| bad(e.to_string()))
        };
        let min: f64 = rec
            .get(2)
            .unwrap_or_default()
            .parse()
            .map_err(|_| bad("minutes".into()))?;
        m.insert(code(0)?, code(1)?, min);
    }
    Ok(Some(m))
}

/// The structure of row `row` of a structure layer.
fn facility(t: &Table, row: usize, kind: &Kind) -> Result<Facility, String> {
    let cell = |name: &str| t.column(name).map_or(CellRef::Null, |c| t.cell(row, c));
    let text = |name: &str| cell(name).as_str().map(str::to_owned);
    let Some(Some(geo::Geometry::Point(position))) = t.geometries.get(row) else {
        return Err(format!("facility {:?} has no point", text("id")));
    };
    let position_quality = match cell("position").as_str() {
        Some("rounded") => PositionQuality::Rounded,
        Some("commune_chef_lieu") => PositionQuality::CommuneChefLieu,
        _ => PositionQuality::Address,
    };
    Ok(Facility {
        id: text("id").ok_or("facility without id")?,
        finess: cell("finess")
            .as_str()
            .and_then(|s| FinessNumber::parse(s).ok()),
        kind: kind.clone(),
        category: text("categorie"),
        category_label: text("categorie_libelle"),
        name: text("nom").unwrap_or_default(),
        address: text("adresse"),
        commune: cell("commune")
            .as_str()
            .and_then(|s| InseeCode::parse(s).ok()),
        capacity: cell("capacite").as_f64(),
        phone: text("telephone"),
        position: *position,
        position_quality,
        source: text("source").unwrap_or_default(),
        partial_list: matches!(cell("liste_partielle"), CellRef::Bool(true)),
        source_line: cell("ligne_source").as_f64().map_or(0, |v| v as u64),
    })
}

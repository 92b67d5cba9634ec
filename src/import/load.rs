//! Reads a built data set (`geodata/current/*.fgb`) back into a [`Dataset`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use geo::{MultiPolygon, Point};

use crate::model::{
    Commune, Dataset, Facility, FinessNumber, InseeCode, Kind, PositionQuality, RefPointSource,
    Territory, TerritoryType,
};

use super::ImportError;
use super::build::CURRENT;
use super::fgb::{self, Cell, Feature};

/// What to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Load commune polygons (the analyses need only reference points).
    pub geometry: bool,
}

/// Columns of `communes.fgb` that are not indicators.
const BASE_COLUMNS: [&str; 13] = [
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
];

fn text(f: &Feature, key: &str) -> Option<String> {
    f.properties
        .get(key)
        .and_then(Cell::as_str)
        .map(str::to_owned)
}

fn real(f: &Feature, key: &str) -> Option<f64> {
    f.properties.get(key).and_then(Cell::as_f64)
}

/// Loads the current build of `data_dir`.
pub fn load(data_dir: &Path, opts: LoadOptions) -> Result<Dataset, ImportError> {
    load_build(&data_dir.join(CURRENT), opts)
}

/// Loads the build in `dir` (a `builds/<id>` folder).
pub fn load_build(dir: &Path, opts: LoadOptions) -> Result<Dataset, ImportError> {
    let bad = |what: String| ImportError::Read {
        path: dir.join("communes.fgb"),
        message: what,
    };
    let meta: serde_json::Value = std::fs::read(dir.join("dataset.json"))
        .map_err(|e| ImportError::io(&dir.join("dataset.json"), e))
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| ImportError::Read {
                path: dir.join("dataset.json"),
                message: e.to_string(),
            })
        })?;
    let build_id = meta["build_id"].as_str().unwrap_or_default().to_owned();

    let communes_path = dir.join("communes.fgb");
    let mut features = if opts.geometry {
        fgb::read_layer(&communes_path)?
    } else {
        fgb::read_properties(&communes_path)?
    };
    features.sort_by_key(|a| text(a, "code"));
    let mut communes = Vec::with_capacity(features.len());
    let mut numeric: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    let mut texts: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    let mut names: HashMap<(TerritoryType, String), String> = HashMap::new();
    let mut members: BTreeMap<(TerritoryType, String), Vec<InseeCode>> = BTreeMap::new();
    for (i, f) in features.iter().enumerate() {
        let code_text = text(f, "code").ok_or_else(|| bad(format!("feature {i} has no code")))?;
        let code = InseeCode::parse(&code_text).map_err(|e| bad(e.to_string()))?;
        let population = real(f, "population").unwrap_or(0.0).max(0.0) as u32;
        let departement = text(f, "departement").unwrap_or_default();
        let region = text(f, "region").unwrap_or_default();
        let epci = text(f, "epci");
        let ref_point = real(f, "ref_lon")
            .zip(real(f, "ref_lat"))
            .map(|(x, y)| Point::new(x, y));
        let ref_point_source = match text(f, "ref_point").as_deref() {
            Some("mairie") => Some(RefPointSource::Mairie),
            Some("interior_point") => Some(RefPointSource::InteriorPoint),
            _ => None,
        };
        let geometry = if opts.geometry {
            match &f.geometry {
                Some(geo::Geometry::MultiPolygon(m)) => Some(m.clone()),
                Some(geo::Geometry::Polygon(p)) => Some(MultiPolygon(vec![p.clone()])),
                _ => None,
            }
        } else {
            None
        };
        let mut add = |kind: TerritoryType, code_: &str, name: Option<String>| {
            let key = (kind, code_.to_owned());
            if let Some(n) = name {
                names.entry(key.clone()).or_insert(n);
            }
            members.entry(key).or_default().push(code.clone());
        };
        add(
            TerritoryType::Departement,
            &departement,
            text(f, "departement_nom"),
        );
        add(TerritoryType::Region, &region, text(f, "region_nom"));
        if let Some(e) = &epci {
            add(TerritoryType::Epci, e, text(f, "epci_nom"));
        }
        for cls in text(f, "cls").iter().flat_map(|s| s.split(',')) {
            add(TerritoryType::Cls, cls, None);
        }
        for (key, cell) in &f.properties {
            if BASE_COLUMNS.contains(&key.as_str()) {
                continue;
            }
            match cell {
                Cell::Real(_) | Cell::Int(_) => {
                    numeric
                        .entry(key.clone())
                        .or_insert_with(|| vec![None; features.len()])[i] = cell.as_f64();
                }
                Cell::Text(s) => {
                    texts
                        .entry(key.clone())
                        .or_insert_with(|| vec![None; features.len()])[i] = Some(s.clone());
                }
                _ => {}
            }
        }
        communes.push(Commune {
            code: code.clone(),
            name: text(f, "nom").unwrap_or_default(),
            population,
            departement,
            region,
            epci,
            ref_point,
            ref_point_source,
            geometry,
        });
    }
    // Perimeter names come from cls.fgb.
    if let Ok(cls) = fgb::read_properties(&dir.join("cls.fgb")) {
        for f in cls {
            if let (Some(c), Some(n)) = (text(&f, "code"), text(&f, "nom")) {
                names.insert((TerritoryType::Cls, c), n);
            }
        }
    }
    let mut territories: Vec<Territory> = members
        .into_iter()
        .map(|((kind, code), mut communes)| {
            communes.sort();
            Territory {
                name: names
                    .get(&(kind, code.clone()))
                    .cloned()
                    .unwrap_or_else(|| code.clone()),
                kind,
                code,
                communes,
            }
        })
        .collect();
    territories.extend(communes.iter().map(|c| Territory {
        kind: TerritoryType::Commune,
        code: c.code.to_string(),
        name: c.name.clone(),
        communes: vec![c.code.clone()],
    }));

    let mut facilities = Vec::new();
    let layers = meta["layers"].as_object().cloned().unwrap_or_default();
    for name in layers.keys() {
        let Some(kind_name) = name.strip_suffix(".fgb") else {
            continue;
        };
        let Ok(kind) = kind_name.parse::<Kind>() else {
            continue;
        };
        if matches!(
            kind_name,
            "communes" | "epci" | "departements" | "regions" | "cls"
        ) {
            continue;
        }
        for f in fgb::read_layer(&dir.join(name))? {
            facilities.push(facility(&f, &kind).map_err(|m| ImportError::Read {
                path: dir.join(name),
                message: m,
            })?);
        }
    }
    facilities.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    let travel_matrix = read_matrix(&dir.join(super::build::TRAVEL_MATRIX_FILE))?;
    Ok(Dataset {
        travel_matrix,
        build_id,
        communes,
        facilities,
        territories,
        indicators: crate::model::Indicators {
            numeric,
            text: texts,
        },
    })
}

/// The normalised table written by the build (`from,to,minutes`), if any.
fn read_matrix(path: &Path) -> Result<Option<crate::model::TravelMatrix>, ImportError> {
    let mut rdr = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(_) if !path.exists() => return Ok(None),
        Err(e) => {
            return Err(ImportError::Read {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let mut m = crate::model::TravelMatrix::default();
    for (i, rec) in rdr.records().enumerate() {
        let bad = |message: String| ImportError::Read {
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

fn facility(f: &Feature, kind: &Kind) -> Result<Facility, String> {
    let Some(geo::Geometry::Point(position)) = f.geometry else {
        return Err(format!("facility {:?} has no point", text(f, "id")));
    };
    let position_quality = match text(f, "position").as_deref() {
        Some("rounded") => PositionQuality::Rounded,
        Some("commune_chef_lieu") => PositionQuality::CommuneChefLieu,
        _ => PositionQuality::Address,
    };
    Ok(Facility {
        id: text(f, "id").ok_or("facility without id")?,
        finess: text(f, "finess").and_then(|s| FinessNumber::parse(&s).ok()),
        kind: kind.clone(),
        category: text(f, "categorie"),
        category_label: text(f, "categorie_libelle"),
        name: text(f, "nom").unwrap_or_default(),
        address: text(f, "adresse"),
        commune: text(f, "commune").and_then(|s| InseeCode::parse(&s).ok()),
        capacity: real(f, "capacite"),
        phone: text(f, "telephone"),
        position,
        position_quality,
        source: text(f, "source").unwrap_or_default(),
        partial_list: matches!(f.properties.get("liste_partielle"), Some(Cell::Bool(true))),
        source_line: real(f, "ligne_source").map_or(0, |v| v as u64),
    })
}

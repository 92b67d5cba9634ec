//! What the service holds in memory: the analysis engine, the collections with their
//! per-commune indicators, and the baselines that analysis requests start from. Built
//! once per data build, then only read (and swapped whole on reload).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::analysis::accessibility::{self, Accessibility, Profile, StepUnit};
use crate::analysis::nearest::CommuneNearest;
use crate::analysis::{DistanceModel, Engine};
use crate::import::fgb::{self, Cell, ColType, Column};
use crate::import::load::{LoadOptions, load_build};
use crate::model::{Kind, TerritoryType};

use super::features::Collection;
use super::search::NameIndex;

/// Why a data set could not be loaded (the service keeps its previous one, if any).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no built data in {0}: run `careaccess data fetch` then `careaccess data build`")]
    NoData(PathBuf),
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
}

/// The accessibility run of one profile with its default parameters, or why it could not
/// be computed (e.g. no structure of the kind in the data).
pub type ProfileRun = Result<Accessibility, String>;

/// Read-only state shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub engine: Engine,
    /// Folder of the build being served.
    pub build_dir: PathBuf,
    /// `dataset.json` of the build: sources, licences, vintages, layer counts.
    pub dataset: serde_json::Value,
    /// Weak ETag of every GET answer: changes with the build and the service version.
    pub etag: String,
    /// Collections in the order they are listed.
    pub collections: Vec<Collection>,
    /// Nearest structure of each kind from every commune (straight model; the
    /// `road_estimate` trips are derived from the same geodesic nearest).
    pub nearest: BTreeMap<Kind, Vec<CommuneNearest>>,
    pub profiles: BTreeMap<String, Profile>,
    /// Default accessibility run of each profile.
    pub accessibility: BTreeMap<String, ProfileRun>,
    pub names: NameIndex,
    /// Simplified map layers, gzipped, made on first request.
    pub map_cache: Mutex<BTreeMap<String, Arc<Vec<u8>>>>,
    /// Seconds spent loading.
    pub load_seconds: f64,
}

impl AppState {
    /// Loads the current build of `data_dir` and computes every per-commune indicator.
    pub fn load(data_dir: &Path) -> Result<Self, StateError> {
        let start = Instant::now();
        let current = data_dir.join("current");
        let build_dir =
            std::fs::canonicalize(&current).map_err(|_| StateError::NoData(data_dir.to_owned()))?;
        let dataset_path = build_dir.join("dataset.json");
        let bytes =
            std::fs::read(&dataset_path).map_err(|_| StateError::NoData(data_dir.to_owned()))?;
        let dataset: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Load {
                path: dataset_path.clone(),
                message: e.to_string(),
            })?;
        let load_err = |e: crate::import::ImportError| StateError::Load {
            path: build_dir.clone(),
            message: e.to_string(),
        };
        // The engine needs attributes and points only; the collections read every layer
        // with its geometries, in parallel.
        let layer_names: Vec<String> = dataset["layers"]
            .as_object()
            .map(|l| {
                l.keys()
                    .filter_map(|k| k.strip_suffix(".fgb"))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let (data, layers) = std::thread::scope(|s| {
            let readers: Vec<_> = [true, false]
                .into_iter()
                .map(|communes| {
                    let names = &layer_names;
                    let dir = &build_dir;
                    s.spawn(move || {
                        names
                            .iter()
                            .filter(|n| (n.as_str() == "communes") == communes)
                            .map(|n| {
                                fgb::read_layer_info(&dir.join(format!("{n}.fgb")))
                                    .map(|l| (n.clone(), l))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let data = load_build(&build_dir, LoadOptions { geometry: false });
            let mut layers = BTreeMap::new();
            for r in readers {
                match r.join() {
                    Ok(Ok(read)) => layers.extend(read),
                    Ok(Err(e)) => return (data, Err(e)),
                    Err(_) => {
                        return (
                            data,
                            Err(crate::import::ImportError::Read {
                                path: build_dir.clone(),
                                message: "a layer-reading thread panicked".into(),
                            }),
                        );
                    }
                }
            }
            (data, Ok(layers))
        });
        let data = data.map_err(load_err)?;
        let mut layers = layers.map_err(load_err)?;
        let mut take = |name: &str| {
            layers.remove(name).ok_or_else(|| StateError::Load {
                path: build_dir.join(format!("{name}.fgb")),
                message: "layer listed in dataset.json is missing".into(),
            })
        };
        let (communes_info, communes_features) = take("communes")?;
        let t_read = start.elapsed().as_secs_f64();
        let engine = Engine::new(data);

        let nearest: BTreeMap<Kind, Vec<CommuneNearest>> = engine
            .kinds
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    engine.nearest_per_commune(k, DistanceModel::Straight, None),
                )
            })
            .collect();
        let t_nearest = start.elapsed().as_secs_f64();
        let profiles_path = data_dir.join("accessibility.toml");
        let profiles = if profiles_path.exists() {
            accessibility::read_profiles(&profiles_path)
        } else {
            accessibility::builtin_profiles()
        }
        .map_err(|e| StateError::Load {
            path: profiles_path.clone(),
            message: e.to_string(),
        })?;
        let accessibility: BTreeMap<String, ProfileRun> = profiles
            .iter()
            .map(|(id, p)| {
                let run = engine
                    .accessibility(p, None, None, default_model(p), None)
                    .map_err(|e| e.to_string());
                if let Err(e) = &run {
                    tracing::info!("accessibility profile {id} not served: {e}");
                }
                (id.clone(), run)
            })
            .collect();

        let t_access = start.elapsed().as_secs_f64();
        let sources = dataset["sources"].as_array().cloned().unwrap_or_default();
        let source_meta = |ids: &[&str]| -> Vec<serde_json::Value> {
            sources
                .iter()
                .filter(|s| s["id"].as_str().is_some_and(|id| ids.contains(&id)))
                .cloned()
                .collect()
        };
        let mut collections = Vec::new();

        // Communes, with their indicators.
        let mut field_sources: Vec<&str> = vec!["cog", "contours"];
        if let Some(fields) = dataset["fields"].as_object() {
            field_sources.extend(fields.values().filter_map(|v| v.as_str()));
        }
        field_sources.sort();
        field_sources.dedup();
        let mut communes = Collection::new(
            "communes",
            communes_info,
            communes_features,
            "code",
            serde_json::json!({
                "sources": source_meta(&field_sources),
                "distance_model": "straight (géodésique WGS84) ; temps en voiture estimé (road_estimate)",
                "road_estimate": {
                    "fit": "Gironde 2021 (INSEE Metric), benches/calibrate_travel_time.py",
                    "detour_breaks_km": engine.road.detour_breaks_km,
                    "detour": engine.road.detour,
                    "terminal_min": engine.road.terminal_min,
                    "speed_breaks_km": engine.road.speed_breaks_km,
                    "speed_kmh": engine.road.speed_kmh,
                },
                "accessibility_profiles": accessibility.iter().filter_map(|(id, r)| r.as_ref().ok().map(|a| (id.clone(), serde_json::json!({
                    "title": a.profile.title,
                    "unit": a.unit_label,
                    "model": a.model,
                    "steps": a.profile.steps,
                    "supply": a.supply,
                    "demand": a.demand,
                    "caveat": a.caveat,
                })))).collect::<serde_json::Map<_, _>>(),
            }),
        );
        add_indicator_columns(&mut communes, &engine, &nearest, &accessibility);
        collections.push(communes);

        // One collection per kind of structure.
        for (rank, kind) in kinds_built(&engine).iter().enumerate() {
            let (info, features) = take(kind.as_str())?;
            let used: Vec<&str> = engine
                .data
                .facilities_of(kind)
                .map(|f| f.source.as_str())
                .collect();
            collections.push(Collection::new(
                kind.as_str(),
                info,
                features,
                "id",
                serde_json::json!({
                    "sources": source_meta(&used),
                    "kind": { "id": kind, "label": kind.label_fr(), "rank": rank },
                    "partial_list": engine.data.facilities_of(kind).any(|f| f.partial_list),
                }),
            ));
        }
        for (name, kind) in [
            ("epci", TerritoryType::Epci),
            ("departements", TerritoryType::Departement),
            ("regions", TerritoryType::Region),
            ("cls", TerritoryType::Cls),
        ] {
            let (info, features) = take(name)?;
            collections.push(Collection::new(
                name,
                info,
                features,
                "code",
                serde_json::json!({
                    "sources": source_meta(&["cog", "contours"]),
                    "territory_type": kind,
                    "geometry": "union des contours des communes membres",
                }),
            ));
        }
        let names = NameIndex::new(&engine);
        tracing::info!(
            "load timings: read {t_read:.2} s, engine + nearest {:.2} s, accessibility {:.2} s, collections {:.2} s",
            t_nearest - t_read,
            t_access - t_nearest,
            start.elapsed().as_secs_f64() - t_access
        );
        let build_id = engine.data.build_id.clone();
        Ok(AppState {
            engine,
            build_dir,
            dataset,
            etag: format!("W/\"{build_id}-{}\"", env!("CARGO_PKG_VERSION")),
            collections,
            nearest,
            profiles,
            accessibility,
            names,
            map_cache: Mutex::new(BTreeMap::new()),
            load_seconds: start.elapsed().as_secs_f64(),
        })
    }

    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id == id)
    }

    /// The build id served.
    pub fn build_id(&self) -> &str {
        &self.engine.data.build_id
    }
}

/// The model a profile's steps are measured with by default.
pub fn default_model(p: &Profile) -> DistanceModel {
    match p.unit {
        StepUnit::Minutes => DistanceModel::RoadEstimate,
        StepUnit::Km => DistanceModel::Straight,
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Distance, time and id of the nearest structure of each kind, and each profile's
/// accessibility, as columns of the communes collection.
fn add_indicator_columns(
    communes: &mut Collection,
    engine: &Engine,
    nearest: &BTreeMap<Kind, Vec<CommuneNearest>>,
    accessibility: &BTreeMap<String, ProfileRun>,
) {
    // Items are in the layer's order; analyses index communes by INSEE code order.
    let index: Vec<Option<usize>> = communes
        .items
        .iter()
        .map(|it| {
            crate::model::InseeCode::parse(&it.id)
                .ok()
                .and_then(|c| engine.data.commune_index(&c))
        })
        .collect();
    for (kind, per_commune) in nearest {
        let label = kind.label_fr();
        let at = |i: Option<usize>| i.and_then(|i| per_commune.get(i));
        communes.add_column(
            Column::new(&format!("{kind}_km"), ColType::Real).described(format!(
                "{label} : distance à vol d'oiseau (géodésique) à la plus proche, km"
            )),
            index.iter().map(|&i| {
                Cell::opt_real(
                    at(i)
                        .and_then(|n| n.trip)
                        .map(|t| round(t.distance_m / 1e3, 2)),
                )
            }),
        );
        communes.add_column(
            Column::new(&format!("{kind}_min"), ColType::Real).described(format!(
                "{label} : temps en voiture estimé (road_estimate) jusqu'à la plus proche, min"
            )),
            index
                .iter()
                .map(|&i| Cell::opt_real(at(i).and_then(|n| n.trip).map(|t| round(t.car_min, 1)))),
        );
        communes.add_column(
            Column::new(&format!("{kind}_id"), ColType::Text).described(format!(
                "{label} : identifiant de la plus proche (FINESS ou source)"
            )),
            index.iter().map(|&i| {
                Cell::opt_text(
                    at(i)
                        .and_then(|n| n.facility)
                        .map(|f| engine.data.facilities[f].id.clone()),
                )
            }),
        );
    }
    for (id, run) in accessibility {
        let Ok(acc) = run else { continue };
        communes.add_column(
            Column::new(&format!("acc_{id}"), ColType::Real).described(format!(
                "Accessibilité potentielle (2SFCA), profil {id} : {}{}",
                acc.unit_label,
                acc.caveat
                    .as_deref()
                    .map(|c| format!(" — {c}"))
                    .unwrap_or_default()
            )),
            index
                .iter()
                .map(|&i| Cell::opt_real(i.and_then(|i| acc.value(i)).map(|v| round(v, 4)))),
        );
    }
}

/// Kinds with a built layer: every built-in kind (their layers exist even when empty)
/// and the custom kinds present.
fn kinds_built(engine: &Engine) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = Kind::BUILTIN.to_vec();
    for k in engine.kinds.keys() {
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    kinds
}

//! What the service holds in memory for one data build: the engine, the baselines the
//! analysis endpoints start from, the collections and the name index. Built once per
//! build, then only read (and swapped whole on reload).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use axum::body::Bytes;

use crate::analysis::Engine;
use crate::analysis::baseline::Baselines;
use crate::import::profiles::{ProfileFileError, profiles_for};
use crate::model::Profile;
use crate::store::{self, DatasetMeta, LoadOptions, StoreError};

use super::collections;
use super::features::Collection;
use super::mvt::Pyramid;
use super::search::NameIndex;

/// Why a data set could not be loaded (the service keeps its previous one, if any).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Profiles(#[from] ProfileFileError),
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
}

/// How many map layers `/map/{layer}` offers (`map::LAYERS`).
pub const MAP_LAYERS: usize = 5;

/// Read-only state shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub engine: Engine,
    pub baselines: Baselines,
    pub profiles: BTreeMap<String, Profile>,
    /// Folder of the build being served.
    pub build_dir: PathBuf,
    /// `dataset.json` of the build: sources, licences, vintages, layer counts.
    pub meta: DatasetMeta,
    /// Weak ETag of every GET answer: changes with the build and the service version.
    pub etag: String,
    /// Collections in the order they are listed.
    pub collections: Vec<Collection>,
    pub names: NameIndex,
    /// Simplified map layers, gzipped, made on first request (one per `map::LAYERS`).
    pub map_layers: Vec<tokio::sync::OnceCell<Bytes>>,
    /// The FlatGeobuf download of each collection (same order), made on first request.
    pub downloads: Vec<tokio::sync::OnceCell<Bytes>>,
    /// The vector-tile geometry of each collection (same order), made on first use.
    pub tiles: Vec<Pyramid>,
    /// When the build was written (its `dataset.json`): `Last-Modified` of downloads.
    pub built_at: SystemTime,
    /// Seconds spent loading.
    pub load_seconds: f64,
}

impl AppState {
    /// Loads the current build of `data_dir` and computes the baselines.
    pub fn load(data_dir: &Path) -> Result<Self, StateError> {
        let start = Instant::now();
        let profiles = profiles_for(None, data_dir)?;
        let build = store::load(
            data_dir,
            LoadOptions {
                geometry: true,
                tables: true,
                kinds: None,
            },
        )?;
        let t_read = start.elapsed().as_secs_f64();
        let engine = Engine::new(build.dataset);
        let baselines = Baselines::new(&engine, &profiles);
        for (id, run) in &baselines.accessibility {
            if let Err(e) = run {
                tracing::info!("accessibility profile {id} not served: {e}");
            }
        }
        let t_baselines = start.elapsed().as_secs_f64();
        let collections = collections::build(build.tables, &build.meta, &engine, &baselines)
            .map_err(|(path, message)| StateError::Load {
                path: build.dir.join(path),
                message,
            })?;
        let names = NameIndex::new(&engine);
        let built_at = std::fs::metadata(build.dir.join(store::layout::DATASET_FILE))
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        tracing::info!(
            "load timings: read {t_read:.2} s, engine and baselines {:.2} s, collections {:.2} s",
            t_baselines - t_read,
            start.elapsed().as_secs_f64() - t_baselines
        );
        Ok(AppState {
            etag: format!(
                "W/\"{}-{}\"",
                build.meta.build_id,
                env!("CARGO_PKG_VERSION")
            ),
            engine,
            baselines,
            profiles,
            build_dir: build.dir,
            meta: build.meta,
            downloads: collections
                .iter()
                .map(|_| tokio::sync::OnceCell::new())
                .collect(),
            tiles: collections.iter().map(|_| Pyramid::default()).collect(),
            collections,
            names,
            map_layers: (0..MAP_LAYERS)
                .map(|_| tokio::sync::OnceCell::new())
                .collect(),
            built_at,
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

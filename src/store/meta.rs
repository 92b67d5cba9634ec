//! `dataset.json`: what a build holds and where each part comes from — written by the
//! build, read back by the loader and served as `/dataset`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::layout::DATASET_FILE;

/// The description of one build.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub build_id: String,
    /// `careaccess <version>`.
    pub builder: String,
    /// Every source of `sources.toml`, built or not.
    pub sources: Vec<SourceMeta>,
    /// Indicator column of `communes.fgb` → id of its source.
    pub fields: BTreeMap<String, String>,
    /// Layer file → number of features.
    pub layers: BTreeMap<String, u64>,
    /// Layer file → sha256 (hex) of its bytes as the build wrote them: a load checks it
    /// (builds older than this field have none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sha256: BTreeMap<String, String>,
    /// Kind of structure → where its list speaks.
    #[serde(default)]
    pub kinds: BTreeMap<String, KindScope>,
}

/// Where the list of one kind of structure speaks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindScope {
    /// Some of its structures come from a list known to be incomplete.
    pub partial: bool,
    /// The départements it covers; `None`: everywhere.
    pub departements: Option<Vec<String>>,
    /// The sources of its structures.
    pub sources: Vec<String>,
}

/// One source as the build used it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceMeta {
    pub id: String,
    pub title: String,
    pub url: String,
    pub licence: String,
    pub vintage: String,
    pub caveat: Option<String>,
    pub partial_list: bool,
    /// The kind of structure it holds, for facility sources.
    pub kind: Option<String>,
    /// `built`, `absent` (an optional source not fetched) or `failed`.
    pub status: String,
}

impl DatasetMeta {
    /// Reads `dataset.json` of a build folder.
    pub fn read(dir: &Path) -> Result<DatasetMeta, StoreError> {
        let path = dir.join(DATASET_FILE);
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Read {
            path,
            message: e.to_string(),
        })
    }

    /// Writes `dataset.json` into a build folder.
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(DATASET_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Write {
            path: path.clone(),
            message: e.to_string(),
        })?;
        super::fgb::write_file(&path, &json)
    }

    /// Records the sha256 of every layer of [`DatasetMeta::layers`] as written in `dir`.
    pub fn record_digests(&mut self, dir: &Path) -> Result<(), StoreError> {
        for file in self.layers.keys() {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
            self.sha256.insert(file.clone(), sha256_hex(&bytes));
        }
        Ok(())
    }

    /// The sources among `ids`, in manifest order.
    pub fn sources_among<'a>(&'a self, ids: &[&str]) -> Vec<&'a SourceMeta> {
        self.sources
            .iter()
            .filter(|s| ids.contains(&s.id.as_str()))
            .collect()
    }
}

/// The sha256 of bytes, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

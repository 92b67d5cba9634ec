//! The import's error type: what stops a build as a whole.

use std::path::{Path, PathBuf};

/// Why an import step failed as a whole. Row-level problems are not errors: they are
/// counted in the [`SourceReport`](super::SourceReport) and the build goes on.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sources manifest: {0}")]
    Manifest(String),
    #[error("source {source_id}: {message}")]
    Source { source_id: String, message: String },
    #[error("source {0} is required but was not fetched: run `careaccess data fetch`")]
    Missing(String),
    #[error("download of {url} failed: {message}")]
    Download { url: String, message: String },
    #[error("{path}: sha256 is {actual}, expected {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("reading {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl ImportError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ImportError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub fn source(id: &str, message: impl Into<String>) -> Self {
        ImportError::Source {
            source_id: id.to_owned(),
            message: message.into(),
        }
    }
}

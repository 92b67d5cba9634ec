//! The store's error type: built data that cannot be written or read back.

use std::path::{Path, PathBuf};

/// Why built data could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no built data in {0}: run `careaccess data fetch` then `careaccess data build`")]
    NoBuild(PathBuf),
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("reading {path}: {message}")]
    Read { path: PathBuf, message: String },
}

impl StoreError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

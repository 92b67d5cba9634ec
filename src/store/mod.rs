//! The build store, between `model` and the layers that write (`import`) and read (`api`,
//! the command line) built data: the on-disk layout ([`layout`]: `builds/`, `current`),
//! the description of a build ([`DatasetMeta`], `dataset.json`), the FlatGeobuf codec
//! ([`fgb`], [`Table`]) and the one loader ([`load`]) that reads a build into the
//! [`Dataset`](crate::model::Dataset) and the tables the API serves.
//!
//! May use `model`; never `import`, `analysis` or `api`.

mod error;
pub mod fgb;
pub mod layout;
pub mod load;
mod meta;
mod table;

pub use error::StoreError;
pub use layout::{BUILDS_DIR, CURRENT, Staging, TRAVEL_MATRIX_FILE, current_build};
pub use load::{Build, LoadOptions, load, load_build};
pub use meta::{DatasetMeta, KindScope, SourceMeta};
pub use table::{Feature, Table, Values, read_layer, read_layer_info};

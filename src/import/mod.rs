//! From official files to the model: fetch, parse, validate, reproject once, write
//! `geodata/*.fgb`, and read them back.
//!
//! ```text
//! sources.toml ─ fetch ─▶ geodata/sources/<id>/<file> ─ build ─▶ geodata/builds/<id>/*.fgb
//!                                                                  ▲ geodata/current (symlink)
//! ```

pub mod build;
pub mod communes;
mod delimited;
mod error;
pub mod fetch;
pub mod fgb;
pub mod finess;
pub mod indicators;
pub mod load;
pub mod locate;
pub mod npm;
pub mod points;
mod report;
mod sources;

pub use error::ImportError;
pub use report::{BuildReport, MAX_LISTED_SKIPS, SkippedRow, SourceReport};
pub use sources::{Columns, Format, Manifest, PerimeterSpec, Registry, Role, SourceSpec};

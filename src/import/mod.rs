//! From official files to a build: fetch, parse, validate, reproject once, and write
//! `geodata/builds/<id>/*.fgb` through the store. Also reads accessibility profiles
//! (`profiles`). May use `model` and `store`; never `analysis` or `api`.
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
pub mod finess;
pub mod indicators;
pub mod locate;
pub mod npm;
pub mod points;
pub mod profiles;
pub mod reclassify;
mod report;
mod scope;
mod sources;
mod zones;

pub use error::ImportError;
pub use report::{BuildReport, MAX_LISTED_SKIPS, SkippedRow, SourceReport};
pub use sources::{
    Aggregate, AggregateName, Columns, ContourGap, Format, Manifest, PerimeterSpec, ReclassifyRule,
    Registry, RoadLink, Role, SourceSpec,
};

//! From official files to a build: fetch, parse, validate, reproject once, and write
//! `geodata/builds/<id>/*.fgb` through the store. Also reads accessibility profiles
//! (`profiles`). May use `model` and `store`; never `analysis` or `api`.
//!
//! ```text
//! sources.toml ─ fetch ─▶ geodata/sources/<id>/<file> ─ build ─▶ geodata/builds/<id>/*.fgb
//!                                                                  ▲ geodata/current (symlink)
//! ```

mod atomic;
pub mod build;
pub mod checks;
pub mod communes;
mod datagouv;
mod delimited;
mod error;
pub mod fetch;
pub mod finess;
pub mod indicators;
pub mod locate;
pub mod npm;
pub mod planner_list;
pub mod points;
pub mod profiles;
pub mod published;
pub mod reclassify;
pub mod remote;
mod report;
mod scope;
mod sources;
mod tabular;
mod zones;

pub use error::ImportError;
pub use report::{BuildReport, MAX_LISTED_SKIPS, SkippedRow, SourceReport};
pub use sources::{
    Aggregate, AggregateName, Columns, ContourGap, DATA_GOUV_API, DataGouv, Format, Manifest,
    PerimeterSpec, ReclassifyRule, Registry, RoadLink, Role, SourceSpec,
};

//! careaccess: access to care in France.
//!
//! Data flows one way — official files → `import` → `store` (a build on disk) → `model`
//! → `index` → `analysis` → `api` → `web/` — and a module names only the modules it
//! builds on, never one above it; no two modules name each other:
//!
//! ```text
//! module     may use
//! model      —
//! crs        —
//! geodesy    —
//! db         —
//! index      geodesy
//! store      model
//! import     model, store, crs
//! analysis   model, index, geodesy
//! api        analysis, store, import (profile files), model, geodesy, db, crs
//! ```
//!
//! - [`crs`]: Lambert-93 and overseas UTM zones ↔ WGS84, the only projection code; the
//!   names files give CRSs (EPSG codes, OGC URNs).
//! - [`geodesy`]: WGS84 geodesic distances (exact nearest through ECEF R-trees).
//! - [`model`]: communes, facilities, territories, accessibility profiles; no I/O.
//! - [`store`]: the build on disk — layout, `dataset.json`, FlatGeobuf codec, the loader.
//! - [`import`]: `sources.toml`, fetch, parse and validate, write a build; profile files.
//! - [`db`]: what users create (tokens, saved scenarios, perimeters, the audit), in
//!   SQLite or PostgreSQL; stores requests and results as JSON.
//! - [`index`]: R-trees answering nearest / within in geodesic metres.
//! - [`analysis`]: validated requests; nearest, coverage, 2SFCA, scenarios — pure and
//!   deterministic.
//! - [`api`]: the HTTP service.

pub mod analysis;
pub mod api;
pub mod crs;
pub mod db;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod geodesy;
pub mod import;
pub mod index;
pub mod model;
pub mod report;
pub mod store;
#[cfg(test)]
mod test_support;

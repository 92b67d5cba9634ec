//! careaccess: access to care in France.
//!
//! Data flows one way; lower layers never name higher ones:
//!
//! ```text
//! official files ─▶ import ─▶ model ─▶ index ─▶ analysis ─▶ api ─▶ web/
//!                   (parse,    (typed   (rstar)  (pure,       (axum, OGC API –
//!                   validate,  ids,              deterministic) Features)
//!                   reproject) metres)
//! ```
//!
//! - [`crs`]: Lambert-93 and overseas UTM zones ↔ WGS84, the only projection code.
//! - [`geodesy`]: WGS84 geodesic distances (exact nearest through ECEF R-trees).
//! - [`model`]: communes, facilities, territories; no I/O.
//! - [`import`]: `sources.toml`, fetch, build of `geodata/*.fgb`, and loading them back.
//! - [`index`]: R-trees answering nearest / within in geodesic metres.
//! - [`analysis`]: nearest, coverage, accessibility, scenarios — pure and deterministic.
//! - [`api`]: the HTTP service.

pub mod analysis;
pub mod api;
pub mod crs;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod geodesy;
pub mod import;
pub mod index;
pub mod model;
pub mod store;
#[cfg(test)]
mod test_support;

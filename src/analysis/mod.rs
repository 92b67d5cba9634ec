//! Analyses: pure, synchronous, deterministic computations over a loaded data set.
//! No I/O and no async here; the CLI and the HTTP API call these.
//!
//! - [`engine`]: the data set with its R-trees, built once.
//! - [`distance`]: distance models (`straight`, `road_estimate`, `matrix`).
//! - [`travel`]: straight distance → road km and car minutes, fitted on real pairs.
//! - [`nearest`]: nearest structures from every commune or any point.
//! - [`territory`]: `cls:thouarsais`, `epci:…`, `dep:79` → a territory.
//! - [`scenario`]: add/remove/resize structures, deltas for the affected communes only.
//! - [`scenario_accessibility`]: the 2SFCA deltas of a scenario, from the changed sites'
//!   catchments only.
//! - [`siting`]: greedy maximal-coverage choice of k new sites.
//! - [`coverage`]: population within thresholds per territory, underserved communes.
//! - [`accessibility`]: 2SFCA potential accessibility (DREES APL style), explain, territory
//!   aggregates and zonage review.

pub mod accessibility;
pub mod coverage;
pub mod distance;
pub mod engine;
pub mod nearest;
pub mod scenario;
pub mod scenario_accessibility;
pub mod siting;
pub mod territory;
pub mod travel;

pub use distance::{DistanceModel, TravelMatrix, Trip};
pub use engine::Engine;

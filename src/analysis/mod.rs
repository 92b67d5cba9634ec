//! Analyses: pure, synchronous, deterministic computations over a loaded data set.
//! No I/O and no async here; the command line and the HTTP API call these. They may use
//! `model`, `index`, `geodesy`; never `import`, `store` or `api`.
//!
//! - [`engine`]: the data set with its R-trees, built once.
//! - [`request`]: the validated requests, the one home of every parameter rule.
//! - [`distance`]: distance models (`straight`, `road_estimate`, `matrix`).
//! - [`travel`]: straight distance → road km and car minutes, fitted on real pairs.
//! - [`nearest`]: nearest structures from every commune or any point.
//! - [`territory`]: `cls:thouarsais`, `epci:…`, `dep:79` → a territory.
//! - [`coverage`]: population within thresholds per territory, underserved communes.
//! - [`listed`]: a planner's own structure list in nearest and coverage (official, list
//!   or both), without a rebuild.
//! - [`change`]: a scenario's changes and their check against the structures.
//! - [`scenario`]: nearest and coverage deltas of a scenario, affected communes only.
//! - [`siting`]: greedy maximal-coverage choice of k new sites.
//! - [`fca`]: 2SFCA potential accessibility (DREES APL style), explain, territory
//!   aggregates, zonage review and scenario deltas.
//! - [`baseline`]: the national results a service answers from.
//! - [`cancel`]: the flag a long analysis (siting) checks to stop early.
//! - [`parallel`]: work over the available cores, results in input order.

pub mod baseline;
pub mod cancel;
pub mod change;
pub mod coverage;
pub mod distance;
pub mod engine;
pub mod fca;
pub mod listed;
pub mod nearest;
pub mod parallel;
pub mod request;
pub mod scenario;
pub mod siting;
pub mod territory;
pub mod travel;

pub use cancel::{Cancel, Cancelled};
pub use distance::{DistanceModel, TravelMatrix, Trip};
pub use engine::Engine;

//! Domain types: communes, facilities, territories, accessibility profiles. No I/O here;
//! names no other module of the crate.
//!
//! Coordinates are WGS84 longitude/latitude in degrees (`geo::Point`, x = lon);
//! every distance in the model is in metres and says so in its name.

mod commune;
mod dataset;
mod facility;
mod ids;
mod profile;
mod territory;
mod text;
mod travel_matrix;

pub use commune::{Commune, RefPointSource};
pub use dataset::{Dataset, Indicators, Scope};
pub use facility::{Facility, Kind, KindError, PositionQuality};
pub use ids::{FinessNumber, IdError, InseeCode};
pub use profile::{
    Demand, MAX_STEPS, POP75_INDICATOR, Profile, ProfileError, STANDARDISED_INDICATOR, Step,
    StepUnit, Supply, SupplySource,
};
pub use territory::{Territory, TerritoryType, TerritoryTypeError};
pub use text::{Lexicon, display_address, display_name, fold};
pub use travel_matrix::TravelMatrix;

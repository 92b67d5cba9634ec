//! Accessibility profiles: the parameters of one use of the two-step floating catchment
//! (2SFCA) — steps of the distance decay, where the supply is, who the demand is, the
//! scales and the unit shown to users. Pure types and their validation; the TOML file
//! (`geodata/accessibility.toml`) is read by `import::profiles`, the 2SFCA itself is
//! `analysis::fca`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Kind;

/// At most this many steps in a profile.
pub const MAX_STEPS: usize = 32;
/// Standardised population (DREES), the weight of the territory means.
pub const STANDARDISED_INDICATOR: &str = "pop_standardisee";
/// Population aged 75 and over (INSEE RP).
pub const POP75_INDICATOR: &str = "pop_75plus";

/// A profile parameter that is wrong, or a supply or demand name that is unknown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {profile:?}: parameter `{param}`: {message}")]
    Invalid {
        profile: String,
        param: String,
        message: String,
    },
    #[error("unknown demand {0:?}: expected population, standardised or pop75")]
    UnknownDemand(String),
    #[error("unknown supply {0:?}: expected capacity or sites")]
    UnknownSupply(String),
}

/// What the step bounds are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUnit {
    /// Car minutes of the distance model.
    Minutes,
    /// Kilometres: straight (geodesic) with `straight`, estimated road km with
    /// `road_estimate`.
    Km,
}

impl fmt::Display for StepUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepUnit::Minutes => "minutes",
            StepUnit::Km => "km",
        })
    }
}

/// One step of the decay: pairs with cost `<= upto` (and above the previous step) get
/// `weight`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    pub upto: f64,
    pub weight: f64,
}

/// What each facility site offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Supply {
    /// The facility's capacity (places, beds…); facilities without one are left out.
    Capacity,
    /// One per site.
    Sites,
}

impl Supply {
    pub fn as_str(self) -> &'static str {
        match self {
            Supply::Capacity => "capacity",
            Supply::Sites => "sites",
        }
    }
}

impl FromStr for Supply {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Self, ProfileError> {
        match s.trim() {
            "capacity" => Ok(Supply::Capacity),
            "sites" => Ok(Supply::Sites),
            _ => Err(ProfileError::UnknownSupply(s.to_owned())),
        }
    }
}

/// Who needs the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Demand {
    /// Population municipale.
    #[serde(rename = "population")]
    Population,
    /// Indicator `pop_standardisee`: DREES population standardised by the age-specific
    /// consumption of care.
    #[serde(rename = "standardised")]
    Standardised,
    /// Indicator `pop_75plus` (INSEE RP).
    #[serde(rename = "pop75")]
    Pop75Plus,
}

impl Demand {
    pub fn as_str(self) -> &'static str {
        match self {
            Demand::Population => "population",
            Demand::Standardised => "standardised",
            Demand::Pop75Plus => "pop75",
        }
    }

    /// The numeric indicator behind this demand (`None`: the population field).
    pub fn indicator(self) -> Option<&'static str> {
        match self {
            Demand::Population => None,
            Demand::Standardised => Some(STANDARDISED_INDICATOR),
            Demand::Pop75Plus => Some(POP75_INDICATOR),
        }
    }
}

impl FromStr for Demand {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Self, ProfileError> {
        match s.trim() {
            "population" => Ok(Demand::Population),
            "standardised" | "standardized" | "pop_standardisee" => Ok(Demand::Standardised),
            "pop75" | "pop_75plus" | "pop75plus" => Ok(Demand::Pop75Plus),
            _ => Err(ProfileError::UnknownDemand(s.to_owned())),
        }
    }
}

/// Where the supply is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SupplySource {
    /// Facilities of one kind at their positions.
    Facilities { kind: Kind, per_site: Supply },
    /// A numeric commune indicator, located at the commune reference points.
    CommuneIndicator { commune_indicator: String },
}

/// One use of the 2SFCA: a `[profile.<id>]` table of `geodata/accessibility.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub id: String,
    pub title: String,
    pub unit: StepUnit,
    pub steps: Vec<Step>,
    pub supply: SupplySource,
    /// Applied to the raw supply (e.g. 5,400 consultations per GP).
    pub supply_scale: f64,
    /// Applied to the ratios (e.g. 100,000 for "per 100,000 inhabitants").
    pub result_scale: f64,
    pub unit_label: String,
    /// Default demand.
    pub demand: Demand,
    /// Copied into every result computed with the profile.
    pub caveat: Option<String>,
}

impl Profile {
    /// Checks the parameters (the profile file reader and the 2SFCA both call it: a profile built
    /// in code is checked too).
    pub fn validate(&self) -> Result<(), ProfileError> {
        let bad = |param: String, message: String| ProfileError::Invalid {
            profile: self.id.clone(),
            param,
            message,
        };
        if self.title.trim().is_empty() {
            return Err(bad("title".into(), "empty".into()));
        }
        if self.unit_label.trim().is_empty() {
            return Err(bad("unit_label".into(), "empty".into()));
        }
        if self.steps.is_empty() {
            return Err(bad(
                "steps".into(),
                "empty: give at least one { upto, weight }".into(),
            ));
        }
        if self.steps.len() > MAX_STEPS {
            return Err(bad(
                "steps".into(),
                format!("{} steps, at most {MAX_STEPS}", self.steps.len()),
            ));
        }
        let mut previous = 0.0;
        for (i, s) in self.steps.iter().enumerate() {
            if !(s.upto.is_finite() && s.upto > previous) {
                let message = if i == 0 {
                    format!("{} must be a number > 0", s.upto)
                } else {
                    format!(
                        "{} must be greater than the previous step's {previous} (strictly increasing)",
                        s.upto
                    )
                };
                return Err(bad(format!("steps[{i}].upto"), message));
            }
            if !(s.weight > 0.0 && s.weight <= 1.0) {
                return Err(bad(
                    format!("steps[{i}].weight"),
                    format!("{} is not in (0, 1]", s.weight),
                ));
            }
            previous = s.upto;
        }
        for (param, v) in [
            ("supply_scale", self.supply_scale),
            ("result_scale", self.result_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(
                    param.into(),
                    format!("{v} must be a finite number > 0"),
                ));
            }
        }
        Ok(())
    }

    /// The catchment: the last step's bound, in [`Profile::unit`].
    pub fn catchment(&self) -> f64 {
        self.steps.last().map_or(0.0, |s| s.upto)
    }

    /// Index and weight of the step a cost falls in; `None` beyond the catchment.
    pub fn step_of(&self, cost: f64) -> Option<(usize, f64)> {
        self.steps
            .iter()
            .position(|s| cost <= s.upto)
            .map(|i| (i, self.steps[i].weight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_values() {
        assert_eq!("capacity".parse::<Supply>().unwrap(), Supply::Capacity);
        assert_eq!("sites".parse::<Supply>().unwrap(), Supply::Sites);
        assert!(
            "beds"
                .parse::<Supply>()
                .unwrap_err()
                .to_string()
                .contains("capacity or sites")
        );
        assert_eq!("population".parse::<Demand>().unwrap(), Demand::Population);
        assert_eq!(
            "standardised".parse::<Demand>().unwrap(),
            Demand::Standardised
        );
        assert_eq!("pop75".parse::<Demand>().unwrap(), Demand::Pop75Plus);
        assert_eq!("pop_75plus".parse::<Demand>().unwrap(), Demand::Pop75Plus);
        assert!("all".parse::<Demand>().is_err());
        for d in [Demand::Population, Demand::Standardised, Demand::Pop75Plus] {
            assert_eq!(d.as_str().parse::<Demand>().unwrap(), d);
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }
}

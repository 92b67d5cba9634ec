//! Reads accessibility profiles (`geodata/accessibility.toml`, or a planner's own file)
//! into [`Profile`]s: TOML syntax, fractions such as `"2/3"` for weights, unknown keys
//! refused, every profile validated. The shipped file is also compiled in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{Kind, Profile, ProfileError, Step, StepUnit, SupplySource};

/// Where the profiles are shipped, relative to the crate root.
pub const PROFILES_PATH: &str = "geodata/accessibility.toml";

/// The shipped profiles, compiled in.
pub const BUILTIN_PROFILES: &str = include_str!("../../geodata/accessibility.toml");

/// Why a profiles file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileFileError {
    #[error("cannot read accessibility profiles {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("accessibility profiles{}: {message}", where_.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    Syntax {
        where_: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] ProfileError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profile: BTreeMap<String, RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    title: String,
    unit: String,
    steps: Vec<RawStep>,
    supply: RawSupply,
    supply_scale: Option<f64>,
    result_scale: Option<f64>,
    unit_label: String,
    demand: String,
    caveat: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    upto: f64,
    weight: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupply {
    kind: Option<String>,
    per_site: Option<String>,
    commune_indicator: Option<String>,
}

/// A weight written as a number, or as a string holding a number or a fraction `a/b`.
fn parse_weight(v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Float(f) => Ok(*f),
        toml::Value::Integer(i) => Ok(*i as f64),
        toml::Value::String(s) => {
            let num = |t: &str| {
                t.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("{s:?} is not a number or a fraction a/b"))
            };
            match s.split_once('/') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if b == 0.0 {
                        return Err(format!("{s:?} divides by zero"));
                    }
                    Ok(a / b)
                }
                None => num(s),
            }
        }
        other => Err(format!("{other} is not a number or a fraction a/b")),
    }
}

/// Parses every `[profile.<id>]` of a parameters file.
pub fn parse_profiles(text: &str) -> Result<BTreeMap<String, Profile>, ProfileFileError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| ProfileFileError::Syntax {
        where_: None,
        message: e.to_string(),
    })?;
    raw.profile
        .into_iter()
        .map(|(id, r)| from_raw(&id, r).map(|p| (id, p)))
        .collect()
}

/// Reads and validates a parameters file (e.g. [`PROFILES_PATH`]).
pub fn read_profiles(
    path: impl AsRef<Path>,
) -> Result<BTreeMap<String, Profile>, ProfileFileError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ProfileFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_profiles(&text).map_err(|e| match e {
        ProfileFileError::Syntax { message, .. } => ProfileFileError::Syntax {
            where_: Some(path.display().to_string()),
            message,
        },
        e => e,
    })
}

/// The profiles shipped in `geodata/accessibility.toml` (compiled in).
pub fn builtin_profiles() -> Result<BTreeMap<String, Profile>, ProfileFileError> {
    parse_profiles(BUILTIN_PROFILES)
}

/// The profiles a command or the service uses: `explicit` (e.g. `--params FILE`), else
/// `<data_dir>/accessibility.toml` when it exists, else the shipped ones.
pub fn profiles_for(
    explicit: Option<&Path>,
    data_dir: &Path,
) -> Result<BTreeMap<String, Profile>, ProfileFileError> {
    let local = data_dir.join("accessibility.toml");
    match explicit {
        Some(p) => read_profiles(p),
        None if local.exists() => read_profiles(&local),
        None => builtin_profiles(),
    }
}

/// Parses one profile written as a standalone TOML table (the body of a
/// `[profile.<id>]` table).
pub fn profile_from_toml(id: &str, text: &str) -> Result<Profile, ProfileFileError> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| ProfileFileError::Syntax {
        where_: Some(format!("profile {id:?}")),
        message: e.to_string(),
    })?;
    from_raw(id, raw)
}

fn from_raw(id: &str, r: RawProfile) -> Result<Profile, ProfileFileError> {
    let bad = |param: &str, message: String| {
        ProfileFileError::Invalid(ProfileError::Invalid {
            profile: id.to_owned(),
            param: param.to_owned(),
            message,
        })
    };
    let unit = match r.unit.as_str() {
        "minutes" => StepUnit::Minutes,
        "km" => StepUnit::Km,
        other => {
            return Err(bad(
                "unit",
                format!("{other:?}: expected \"minutes\" or \"km\""),
            ));
        }
    };
    let steps = r
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            parse_weight(&s.weight)
                .map(|weight| Step {
                    upto: s.upto,
                    weight,
                })
                .map_err(|m| bad(&format!("steps[{i}].weight"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let supply = match (r.supply.kind, r.supply.per_site, r.supply.commune_indicator) {
        (Some(kind), Some(per_site), None) => SupplySource::Facilities {
            kind: kind
                .parse::<Kind>()
                .map_err(|e| bad("supply.kind", e.to_string()))?,
            per_site: per_site
                .parse()
                .map_err(|e: ProfileError| bad("supply.per_site", e.to_string()))?,
        },
        (Some(_), None, None) => {
            return Err(bad(
                "supply.per_site",
                "missing: \"capacity\" or \"sites\"".to_owned(),
            ));
        }
        (None, None, Some(name)) if !name.trim().is_empty() => SupplySource::CommuneIndicator {
            commune_indicator: name,
        },
        _ => {
            return Err(bad(
                "supply",
                "expected { kind = \"…\", per_site = \"capacity\" | \"sites\" } or { commune_indicator = \"…\" }"
                    .to_owned(),
            ));
        }
    };
    let demand = r
        .demand
        .parse()
        .map_err(|e: ProfileError| bad("demand", e.to_string()))?;
    let p = Profile {
        id: id.to_owned(),
        title: r.title,
        unit,
        steps,
        supply,
        supply_scale: r.supply_scale.unwrap_or(1.0),
        result_scale: r.result_scale.unwrap_or(1.0),
        unit_label: r.unit_label,
        demand,
        caveat: r.caveat.filter(|c| !c.trim().is_empty()),
    };
    p.validate()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Demand;

    #[test]
    fn builtin_profiles_parse() {
        let profiles = builtin_profiles().unwrap();
        assert_eq!(
            profiles.keys().map(String::as_str).collect::<Vec<_>>(),
            ["clic", "ehpad", "hospital", "mg", "msp"]
        );
        let from_file =
            read_profiles(Path::new(env!("CARGO_MANIFEST_DIR")).join(PROFILES_PATH)).unwrap();
        assert_eq!(from_file, profiles);
        let mg = &profiles["mg"];
        assert_eq!(mg.unit, StepUnit::Minutes);
        assert_eq!(
            mg.steps,
            vec![
                Step {
                    upto: 10.0,
                    weight: 1.0
                },
                Step {
                    upto: 15.0,
                    weight: 2.0 / 3.0
                },
                Step {
                    upto: 20.0,
                    weight: 1.0 / 3.0
                }
            ]
        );
        assert_eq!(mg.demand, Demand::Standardised);
        assert_eq!(mg.supply_scale, 5400.0);
        assert_eq!(
            mg.supply,
            SupplySource::CommuneIndicator {
                commune_indicator: "mg_etablissements_sirene".to_owned()
            }
        );
        assert!(mg.caveat.as_deref().unwrap().starts_with(
            "offre approchée : établissements SIRENE de médecine générale 2019, pas des médecins en activité"
        ));
        let ehpad = &profiles["ehpad"];
        assert_eq!(
            (ehpad.unit, ehpad.catchment(), ehpad.result_scale),
            (StepUnit::Km, 20.0, 100_000.0)
        );
        assert_eq!(ehpad.demand, Demand::Pop75Plus);
        // The echo names every parameter.
        let json = serde_json::to_value(mg).unwrap();
        assert_eq!(
            json["supply"]["commune_indicator"],
            "mg_etablissements_sirene"
        );
        assert_eq!(json["demand"], "standardised");
        assert_eq!(json["unit"], "minutes");
        assert_eq!(
            serde_json::to_value(ehpad).unwrap()["supply"]["per_site"],
            "capacity"
        );
    }

    const BASE: &str = r#"
title = "t"
unit = "km"
steps = [{ upto = 5, weight = 1 }, { upto = 10.0, weight = "1/2" }]
supply = { kind = "ehpad", per_site = "sites" }
unit_label = "u"
demand = "population"
"#;

    fn parse_err(text: &str) -> String {
        match profile_from_toml("p", text) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn profile_validation() {
        let p = profile_from_toml("p", BASE).unwrap();
        assert_eq!(p.steps[1].weight, 0.5);
        assert_eq!(
            (p.supply_scale, p.result_scale, p.caveat.clone()),
            (1.0, 1.0, None)
        );
        let steps = |s: &str| {
            BASE.replace(
                r#"steps = [{ upto = 5, weight = 1 }, { upto = 10.0, weight = "1/2" }]"#,
                s,
            )
        };
        let e = parse_err(&steps("steps = []"));
        assert!(e.contains("`steps`") && e.contains("empty"), "{e}");
        let e = parse_err(&steps(
            "steps = [{ upto = 5, weight = 1 }, { upto = 5, weight = 0.5 }]",
        ));
        assert!(
            e.contains("steps[1].upto") && e.contains("strictly increasing"),
            "{e}"
        );
        let e = parse_err(&steps(
            "steps = [{ upto = 10, weight = 1 }, { upto = 5, weight = 0.5 }]",
        ));
        assert!(e.contains("steps[1].upto"), "{e}");
        let e = parse_err(&steps("steps = [{ upto = 0, weight = 1 }]"));
        assert!(e.contains("steps[0].upto"), "{e}");
        let e = parse_err(&steps("steps = [{ upto = 5, weight = 0 }]"));
        assert!(e.contains("steps[0].weight") && e.contains("(0, 1]"), "{e}");
        let e = parse_err(&steps("steps = [{ upto = 5, weight = 1.5 }]"));
        assert!(e.contains("steps[0].weight"), "{e}");
        let e = parse_err(&steps(r#"steps = [{ upto = 5, weight = "two thirds" }]"#));
        assert!(
            e.contains("steps[0].weight") && e.contains("fraction"),
            "{e}"
        );
        let e = parse_err(&steps(r#"steps = [{ upto = 5, weight = "1/0" }]"#));
        assert!(e.contains("steps[0].weight"), "{e}");
        let e = parse_err(&BASE.replace(r#"unit = "km""#, r#"unit = "miles""#));
        assert!(e.contains("`unit`") && e.contains("miles"), "{e}");
        let e = parse_err(&BASE.replace(r#"demand = "population""#, r#"demand = "everyone""#));
        assert!(e.contains("`demand`"), "{e}");
        let e = parse_err(&BASE.replace(r#"per_site = "sites""#, r#"per_site = "beds""#));
        assert!(e.contains("supply.per_site"), "{e}");
        let e = parse_err(&BASE.replace(r#", per_site = "sites""#, ""));
        assert!(
            e.contains("supply.per_site") && e.contains("missing"),
            "{e}"
        );
        let e = parse_err(&BASE.replace(r#"kind = "ehpad""#, r#"kind = "Bad Kind""#));
        assert!(e.contains("supply.kind"), "{e}");
        let e = parse_err(&BASE.replace(
            r#"kind = "ehpad", per_site = "sites""#,
            r#"kind = "ehpad", per_site = "sites", commune_indicator = "x""#,
        ));
        assert!(e.contains("`supply`"), "{e}");
        let e = parse_err(&format!("{BASE}supply_scale = 0\n"));
        assert!(e.contains("supply_scale"), "{e}");
        let e = parse_err(&format!("{BASE}result_scale = -1\n"));
        assert!(e.contains("result_scale"), "{e}");
        let e = parse_err(&format!("{BASE}decay = 2\n"));
        assert!(e.contains("decay"), "{e}");
        let e = parse_err(&BASE.replace("unit_label = \"u\"\n", ""));
        assert!(e.contains("unit_label"), "{e}");
        let e = parse_profiles("[profile.a]\ntitle = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("title"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_profiles(dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.toml"), "{e}");
    }
}

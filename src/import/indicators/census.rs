//! INSEE census column naming (base communale « évolution et structure de la
//! population »): `P21_POP` is the population of RP 2021, `P21_POP75P` the people aged
//! 75 or more, `P21_POP6074` those aged 60 to 74. `sources.toml` names the groups
//! without the vintage (`POP`, `POP75P`); the file's most recent vintage is read, and an
//! open group missing from the file (`POP85P`) is the sum of the bands that make it
//! (`POP8589` + `POP90P`).

use std::collections::BTreeMap;

use regex::Regex;

use super::super::{ImportError, SourceSpec};
use super::{FieldColumns, header_excerpt};

/// The census vintage of the file (`2021`) and, per output field, its columns.
pub(super) fn columns(
    headers: &[String],
    spec: &SourceSpec,
) -> Result<(String, Vec<FieldColumns>), ImportError> {
    let vintage_re =
        Regex::new(r"^P(\d\d)_POP").map_err(|e| ImportError::source(&spec.id, e.to_string()))?;
    let yy = headers
        .iter()
        .filter_map(|h| vintage_re.captures(h).map(|c| c[1].to_owned()))
        .max()
        .ok_or_else(|| {
            ImportError::source(
                &spec.id,
                format!(
                    "no INSEE census column (P<yy>_POP…) in the file header ({})",
                    header_excerpt(headers)
                ),
            )
        })?;
    let prefix = format!("P{yy}_");
    // Age groups of that vintage: (from, to) with `to` None for "and over".
    let band_re = Regex::new(r"^POP(\d\d)(\d\d)?(P)?$")
        .map_err(|e| ImportError::source(&spec.id, e.to_string()))?;
    let mut groups: BTreeMap<(u32, Option<u32>), usize> = BTreeMap::new();
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let Some(name) = h.strip_prefix(&prefix) else {
            continue;
        };
        by_name.insert(name, i);
        if let Some(c) = band_re.captures(name) {
            let from: u32 = c[1].parse().unwrap_or(0);
            match (c.get(2), c.get(3)) {
                (Some(to), None) => {
                    groups.insert((from, Some(to.as_str().parse().unwrap_or(0))), i);
                }
                (None, Some(_)) => {
                    groups.insert((from, None), i);
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (field, group) in &spec.fields {
        let group = group.strip_prefix(&prefix).unwrap_or(group);
        if let Some(&i) = by_name.get(group) {
            out.push((field.clone(), vec![i]));
            continue;
        }
        let open_from = group
            .strip_prefix("POP")
            .and_then(|g| g.strip_suffix('P'))
            .and_then(|n| n.parse::<u32>().ok());
        let made = open_from.and_then(|from| open_group(&groups, from));
        match made {
            Some(cols) => out.push((field.clone(), cols)),
            None => {
                return Err(ImportError::source(
                    &spec.id,
                    format!(
                        "census group {group:?} of field {field:?}: no column {prefix}{group}, and no bands of RP 20{yy} add up to it (age groups: {})",
                        groups
                            .keys()
                            .map(|(a, b)| b.map_or(format!("{a}+"), |b| format!("{a}-{b}")))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    Ok((format!("20{yy}"), out))
}

/// Columns that together count everyone aged `from` or more: bands from `from` on,
/// each starting where the last ended, closed by an open group.
fn open_group(groups: &BTreeMap<(u32, Option<u32>), usize>, from: u32) -> Option<Vec<usize>> {
    let mut cols = Vec::new();
    let mut at = from;
    for _ in 0..20 {
        if let Some(&i) = groups.get(&(at, None)) {
            cols.push(i);
            return Some(cols);
        }
        let (&(_, to), &i) = groups.iter().find(|((a, b), _)| *a == at && b.is_some())?;
        cols.push(i);
        at = to? + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Manifest;

    fn spec(fields: &str) -> SourceSpec {
        let toml = format!(
            r#"
[[source]]
id = "census"
title = "t"
role = "commune_indicators"
format = "insee_census"
url = "https://www.insee.fr/x.zip"
licence = "l"
vintage = "v"
code_column = "CODGEO"
[source.fields]
{fields}
"#
        );
        Manifest::from_toml(&toml).expect("manifest").sources[0].clone()
    }

    #[test]
    fn groups_are_read_or_made_of_bands() {
        let headers: Vec<String> = [
            "CODGEO",
            "P15_POP",
            "P21_POP",
            "P21_POP6074",
            "P21_POP75P",
            "P21_POP7584",
            "P21_POP8589",
            "P21_POP90P",
        ]
        .map(String::from)
        .to_vec();
        let s = spec("pop = \"POP\"\npop_75plus = \"POP75P\"\npop_85plus = \"POP85P\"");
        let (vintage, cols) = columns(&headers, &s).expect("columns");
        assert_eq!(vintage, "2021");
        let cols: BTreeMap<_, _> = cols.into_iter().collect();
        assert_eq!(cols["pop"], vec![2]);
        assert_eq!(cols["pop_75plus"], vec![4]);
        assert_eq!(cols["pop_85plus"], vec![6, 7]);
        let e = columns(&headers, &spec("x = \"POP80P\"")).expect_err("no 80+");
        assert!(e.to_string().contains("no bands of RP 2021"), "{e}");
    }
}

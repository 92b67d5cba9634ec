//! Where each kind's list speaks: a complete list everywhere (or in the départements its
//! source `covers`), a partial list only in the départements where it has structures.
//! Outside, analyses answer "non couvert" rather than a distance to a structure the list
//! may simply not know.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Facility, Kind};
use crate::store::KindScope;

use super::Manifest;

/// The scope of every kind with structures, from its sources.
pub fn kind_scopes(manifest: &Manifest, facilities: &[Facility]) -> BTreeMap<Kind, KindScope> {
    // (kind, source) → départements with structures.
    let mut found: BTreeMap<(&Kind, &str), BTreeSet<String>> = BTreeMap::new();
    for f in facilities {
        let deps = found.entry((&f.kind, f.source.as_str())).or_default();
        if let Some(c) = &f.commune {
            deps.insert(c.departement().to_owned());
        }
    }
    let mut scopes: BTreeMap<Kind, KindScope> = BTreeMap::new();
    for ((kind, source), deps) in found {
        let spec = manifest.source(source);
        let partial = spec.is_some_and(|s| s.partial_list);
        let covers: Option<BTreeSet<String>> = match spec.and_then(|s| s.covers.as_ref()) {
            Some(list) => Some(list.iter().cloned().collect()),
            None if partial => Some(deps),
            None => None,
        };
        let scope = scopes.entry(kind.clone()).or_insert_with(|| KindScope {
            partial: false,
            departements: Some(Vec::new()),
            sources: Vec::new(),
        });
        scope.partial |= partial;
        scope.sources.push(source.to_owned());
        scope.departements = match (scope.departements.take(), covers) {
            (Some(a), Some(b)) => {
                let mut all: BTreeSet<String> = a.into_iter().collect();
                all.extend(b);
                Some(all.into_iter().collect())
            }
            // A list that speaks everywhere makes the kind's scope everywhere.
            _ => None,
        };
    }
    scopes
}

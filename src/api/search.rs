//! Finding a commune or a territory by name, accent- and case-insensitively:
//! "thouars", "Thouarsais", "coevrons", "saint-jean" all find what a user means.

use serde::Serialize;

use crate::analysis::Engine;
use crate::model::{TerritoryType, fold};

/// Something found by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// `commune`, `epci`, `departement`, `region` or `cls`.
    #[serde(rename = "type")]
    pub kind: TerritoryType,
    pub code: String,
    pub nom: String,
    pub population: u64,
    /// Département of a commune, to tell homonyms apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departement: Option<String>,
}

/// Names of every commune and territory, folded once.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    entries: Vec<(String, Found)>,
}

impl NameIndex {
    pub fn new(engine: &Engine) -> Self {
        let mut entries: Vec<(String, Found)> = engine
            .data
            .communes
            .iter()
            .map(|c| {
                (
                    fold(&c.name),
                    Found {
                        kind: TerritoryType::Commune,
                        code: c.code.to_string(),
                        nom: c.name.clone(),
                        population: u64::from(c.population),
                        departement: Some(c.departement.clone()),
                    },
                )
            })
            .collect();
        for t in engine
            .data
            .territories
            .iter()
            .filter(|t| t.kind != TerritoryType::Commune)
        {
            let (_, population) = engine.members(t);
            entries.push((
                fold(&t.name),
                Found {
                    kind: t.kind,
                    code: t.code.clone(),
                    nom: t.name.clone(),
                    population,
                    departement: None,
                },
            ));
        }
        NameIndex { entries }
    }

    /// Up to `limit` matches of `query` among `types` (all when empty): names starting
    /// with the query first, then names with a word starting with it, then names
    /// containing it; most populated first within each group. A code matches too.
    pub fn search(&self, query: &str, types: &[TerritoryType], limit: usize) -> Vec<Found> {
        let q = fold(query);
        if q.is_empty() {
            return Vec::new();
        }
        let word = format!(" {q}");
        let mut hits: Vec<(u8, &Found)> = self
            .entries
            .iter()
            .filter(|(_, f)| types.is_empty() || types.contains(&f.kind))
            .filter_map(|(name, f)| {
                let rank = if name == &q || f.code == query.trim() {
                    0
                } else if name.starts_with(&q) {
                    1
                } else if name.contains(&word) {
                    2
                } else if name.contains(&q) {
                    3
                } else {
                    return None;
                };
                Some((rank, f))
            })
            .collect();
        hits.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.population.cmp(&a.1.population))
                .then(a.1.code.cmp(&b.1.code))
        });
        hits.into_iter()
            .take(limit)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

//! « Portrait de territoire »: one self-contained, print-ready French HTML document about
//! a territory's access to care — population, distances to each kind of structure,
//! accessibility, the comparison with its département, région and France, and the
//! method.
//!
//! A layer above `analysis` (it reads the engine, the baselines and the build's
//! metadata), below `api` and the commands, which both call [`render`]. Every number is
//! the one the analysis endpoints give for the same territory (the cells carry it
//! exactly in `data-value`); a missing one is written « non disponible » with its reason.
//! Maps and charts are inline SVG ([`svg`]); no resource is fetched.

mod compare;
mod data;
mod fmt;
mod html;
mod kinds;
mod locator;
mod sections;
pub mod svg;

use std::collections::{BTreeMap, HashSet};

use crate::analysis::Engine;
use crate::analysis::baseline::Baselines;
use crate::analysis::territory::resolve;
use crate::model::{
    InseeCode, Kind, Lexicon, POP75_INDICATOR, Territory, TerritoryType, display_address,
    display_name,
};
use crate::store::DatasetMeta;

use std::fmt::Write as _;

pub use data::Outline;
pub use fmt::{esc, int};

/// What a portrait is drawn from.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub engine: &'a Engine,
    pub baselines: &'a Baselines,
    pub meta: &'a DatasetMeta,
    /// The départements' outlines (the locator map and its inset); empty, the locator
    /// draws the parent from its communes and has no inset.
    pub departements: &'a [Outline<'a>],
}

/// The portrait of `territory`, as one HTML document.
pub fn render(inputs: Inputs<'_>, territory: &Territory) -> String {
    document(&Portrait::new(inputs, territory))
}

/// A territory and the territories it is compared with.
pub(crate) struct Portrait<'a> {
    pub(crate) inputs: Inputs<'a>,
    pub(crate) territory: &'a Territory,
    /// Member communes (indices).
    pub(crate) members: Vec<usize>,
    pub(crate) population: u64,
    /// Département, région and France, those that differ from the territory.
    pub(crate) comparison: Vec<Territory>,
    /// The parent the locator map shows the territory in.
    pub(crate) parent: Option<Territory>,
    /// The spelling of the names around (structures' names come in capitals).
    pub(crate) lexicon: Lexicon,
}

/// The code held by most of the population of `members` (`field` of each commune).
fn main_code(
    engine: &Engine,
    members: &[usize],
    field: fn(&crate::model::Commune) -> &str,
) -> Option<String> {
    let mut pop: BTreeMap<&str, u64> = BTreeMap::new();
    for &i in members {
        let c = &engine.data.communes[i];
        *pop.entry(field(c)).or_default() += u64::from(c.population) + 1;
    }
    pop.into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(code, _)| code.to_owned())
}

/// Whether a département is overseas.
fn overseas(dep: &str) -> bool {
    dep.starts_with("97")
}

impl<'a> Portrait<'a> {
    fn new(inputs: Inputs<'a>, territory: &'a Territory) -> Self {
        let engine = inputs.engine;
        let (members, population) = engine.members(territory);
        let dep = main_code(engine, &members, |c| c.departement.as_str());
        let reg = main_code(engine, &members, |c| c.region.as_str());
        let mut comparison = Vec::new();
        let level = |t: TerritoryType| match t {
            TerritoryType::Region => 3,
            TerritoryType::Departement => 2,
            _ => 1,
        };
        let own = level(territory.kind);
        if own < 2 {
            if let Some(t) = dep
                .as_deref()
                .and_then(|d| resolve(&engine.data, &format!("dep:{d}")).ok())
            {
                comparison.push(t);
            }
        }
        if own < 3 {
            if let Some(t) = reg
                .as_deref()
                .and_then(|r| resolve(&engine.data, &format!("reg:{r}")).ok())
            {
                // A one-département région (overseas) is its département.
                if comparison
                    .last()
                    .is_none_or(|d: &Territory| d.communes != t.communes)
                {
                    comparison.push(t);
                }
            }
        }
        comparison.push(france(engine));
        let parent = match territory.kind {
            TerritoryType::Region => {
                let metro = !dep.as_deref().is_some_and(overseas);
                metro.then(|| metropole(engine))
            }
            TerritoryType::Departement => comparison
                .iter()
                .find(|t| t.kind == TerritoryType::Region)
                .cloned(),
            _ => comparison.first().cloned(),
        };
        // The names of the département around (of the territory itself when it is one
        // or larger): the places structures are named after.
        let mut lexicon = Lexicon::french();
        let around = comparison
            .first()
            .filter(|t| t.kind == TerritoryType::Departement)
            .map(|t| engine.members(t).0);
        for &i in around.as_deref().unwrap_or(&members) {
            lexicon.learn(&engine.data.communes[i].name);
        }
        for t in &comparison {
            lexicon.learn(&t.name);
        }
        Portrait {
            inputs,
            territory,
            members,
            population,
            comparison,
            parent,
            lexicon,
        }
    }

    /// A name as it is written (FINESS gives capitals).
    pub(crate) fn name(&self, s: &str) -> String {
        display_name(s, &self.lexicon)
    }

    /// An address as it is written.
    pub(crate) fn address(&self, s: &str) -> String {
        display_address(s, &self.lexicon)
    }

    pub(crate) fn engine(&self) -> &'a Engine {
        self.inputs.engine
    }

    /// The source of a commune indicator, as « title (vintage) ».
    pub(crate) fn source_of_field(&self, field: &str) -> Option<String> {
        let id = self.inputs.meta.fields.get(field)?;
        let s = self.inputs.meta.sources.iter().find(|s| &s.id == id)?;
        Some(format!("{} ({})", s.title, s.vintage))
    }
}

/// France: every commune of the data set.
fn france(engine: &Engine) -> Territory {
    let mut communes: Vec<InseeCode> = engine
        .data
        .communes
        .iter()
        .map(|c| c.code.clone())
        .collect();
    communes.sort();
    Territory {
        kind: TerritoryType::Region,
        code: "FR".to_owned(),
        name: "France".to_owned(),
        communes,
    }
}

/// Metropolitan France (the locator map of a metropolitan région).
fn metropole(engine: &Engine) -> Territory {
    let mut t = france(engine);
    t.communes.retain(|c| {
        engine
            .data
            .commune(c)
            .is_some_and(|c| !overseas(&c.departement))
    });
    t.name = "France métropolitaine".to_owned();
    t
}

/// EHPAD places per 1,000 inhabitants aged 75 or more in `territory`, or why there is
/// none.
pub(crate) fn ehpad_places_per_1000(engine: &Engine, territory: &Territory) -> Result<f64, String> {
    let kind = Kind::Ehpad;
    if !engine.kinds.contains_key(&kind) {
        return Err("EHPAD non chargés".to_owned());
    }
    let (members, _) = engine.members(territory);
    let outside = members
        .iter()
        .filter(|&&i| !engine.data.in_scope(&kind, i))
        .count();
    if outside > 0 {
        return Err(format!(
            "la liste des EHPAD ne couvre pas {} commune(s) sur {} (liste partielle)",
            int(outside as u64),
            int(members.len() as u64)
        ));
    }
    let Some(col) = engine.data.indicators.numeric.get(POP75_INDICATOR) else {
        return Err("population de 75 ans et plus non chargée".to_owned());
    };
    let unknown = members
        .iter()
        .filter(|&&i| col.get(i).copied().flatten().is_none())
        .count();
    if unknown > 0 {
        return Err(format!(
            "population de 75 ans et plus inconnue dans {} commune(s) sur {}",
            int(unknown as u64),
            int(members.len() as u64)
        ));
    }
    let pop75: f64 = members
        .iter()
        .filter_map(|&i| col.get(i).copied().flatten())
        .sum();
    let set: HashSet<&InseeCode> = territory.communes.iter().collect();
    let (mut places, mut without) = (0.0, 0usize);
    let mut sites = 0usize;
    for f in engine.data.facilities_of(&kind) {
        if f.commune.as_ref().is_some_and(|c| set.contains(c)) {
            sites += 1;
            match f.capacity {
                Some(c) => places += c,
                None => without += 1,
            }
        }
    }
    if without > 0 {
        return Err(format!(
            "{} EHPAD sur {} sans capacité connue",
            int(without as u64),
            int(sites as u64)
        ));
    }
    if pop75 <= 0.0 {
        return Err("aucun habitant de 75 ans et plus recensé".to_owned());
    }
    Ok(1_000.0 * places / pop75)
}

/// A commune indicator summed up over a territory: mean weighted by the indicator
/// `weight` (a standardised population; the population municipale where it is missing)
/// or by the population municipale, and the population at or below `threshold`.
pub(crate) struct IndicatorMean {
    pub(crate) communes_with_value: usize,
    pub(crate) mean: Option<f64>,
    pub(crate) share_at_or_below: Option<f64>,
}

pub(crate) fn indicator_mean(
    engine: &Engine,
    territory: &Territory,
    name: &str,
    weight: Option<&str>,
    threshold: f64,
) -> IndicatorMean {
    let (members, _) = engine.members(territory);
    let data = &engine.data;
    let (mut sum, mut total_w, mut n, mut below, mut pop_with) = (0.0, 0.0, 0usize, 0u64, 0u64);
    for &i in &members {
        let Some(v) = data.indicator(name, i) else {
            continue;
        };
        let pop = u64::from(data.communes[i].population);
        let w = if let Some(weight) = weight {
            data.indicator(weight, i)
                .filter(|w| w.is_finite() && *w >= 0.0)
                .unwrap_or(pop as f64)
        } else {
            pop as f64
        };
        sum += v * w;
        total_w += w;
        n += 1;
        pop_with += pop;
        if v <= threshold {
            below += pop;
        }
    }
    IndicatorMean {
        communes_with_value: n,
        mean: (total_w > 0.0).then(|| sum / total_w),
        share_at_or_below: (pop_with > 0).then(|| below as f64 / pop_with as f64),
    }
}

/// The whole document around the body the sections wrote.
pub(crate) fn document(p: &Portrait<'_>) -> String {
    let mut doc = html::Doc::new();
    let t = p.territory;
    let title = format!("Portrait de territoire – {}", t.name);
    let _ = write!(
        doc.out,
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{}</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"generator\" content=\"careaccess {}\"><style>{}</style></head><body>",
        esc(&title),
        env!("CARGO_PKG_VERSION"),
        html::CSS
    );
    let _ = write!(
        doc.out,
        "<header><h1>{}</h1><p class=\"meta\">Accès aux soins · {} {} · {} communes · données {} (build {}) · produit par careaccess {}</p></header>",
        esc(&title),
        esc(html::type_label(t.kind)),
        esc(&t.code),
        int(p.members.len() as u64),
        esc(&p.inputs.meta.builder),
        esc(&p.inputs.meta.build_id),
        env!("CARGO_PKG_VERSION")
    );
    sections::write(p, &mut doc);
    doc.out.push_str("</body></html>\n");
    doc.out
}

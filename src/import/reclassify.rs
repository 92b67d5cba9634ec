//! The kind of a site beyond its source's: by category label (`kind_by_category`), then by
//! name (`reclassify` rules of `sources.toml`) — so that a child-psychiatry day unit
//! registered under a general hospital's FINESS category is not offered as "the nearest
//! hospital". Every move is counted in the build report.

use regex::RegexSet;

use crate::model::{Facility, fold};

use super::{ReclassifyRule, SourceReport, SourceSpec};

/// A rule with its patterns compiled.
struct Rule<'a> {
    spec: &'a ReclassifyRule,
    names: RegexSet,
    with: Option<RegexSet>,
    unless: Option<RegexSet>,
}

/// The name as the rules read it: folded (lowercase, no accents, punctuation as
/// spaces), dots removed first so that `C.A.T.T.P.` reads `cattp`.
pub fn rule_text(name: &str) -> String {
    format!(" {} ", fold(&name.replace('.', "")))
}

/// Applies the source's category labels and name rules to its facilities.
pub fn apply(facilities: &mut [Facility], spec: &SourceSpec, report: &mut SourceReport) {
    let set = |p: &[String]| (!p.is_empty()).then(|| RegexSet::new(p).ok()).flatten();
    // The patterns were checked when the manifest was read.
    let rules: Vec<Rule> = spec
        .reclassify
        .iter()
        .filter_map(|r| {
            Some(Rule {
                spec: r,
                names: RegexSet::new(&r.names).ok()?,
                with: set(&r.with),
                unless: set(&r.unless),
            })
        })
        .collect();
    for f in facilities {
        if let Some(kind) = f
            .category_label
            .as_ref()
            .and_then(|l| spec.kind_by_category.get(l))
            && *kind != f.kind
        {
            let key = format!(
                "{}→{}: catégorie {}",
                f.kind,
                kind,
                f.category_label.as_deref().unwrap_or_default()
            );
            *report.reclassified.entry(key).or_default() += 1;
            f.kind = kind.clone();
        }
        if rules.is_empty() {
            continue;
        }
        let text = rule_text(&f.name);
        let category =
            |c: &String| f.category.as_ref() == Some(c) || f.category_label.as_ref() == Some(c);
        let hit = rules.iter().find(|r| {
            r.spec.from == f.kind
                && r.names.is_match(&text)
                && r.with.as_ref().is_none_or(|w| w.is_match(&text))
                && r.unless.as_ref().is_none_or(|u| !u.is_match(&text))
                && !r.spec.except_categories.iter().any(category)
        });
        if let Some(r) = hit {
            let key = format!("{}→{}: {}", r.spec.from, r.spec.to, r.spec.reason);
            *report.reclassified.entry(key).or_default() += 1;
            f.kind = r.spec.to.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Manifest;
    use crate::model::Kind;
    use crate::test_support::facility;

    /// The rules of the shipped `sources.toml`, on real site names of the hospital source.
    #[test]
    fn hospital_sites_go_to_the_kind_their_name_says() {
        let manifest = Manifest::from_toml(include_str!("../../geodata/sources.toml")).unwrap();
        let spec = manifest.source("hospitals_gisco").unwrap();
        let ch = "Centre Hospitalier (C.H.)";
        let cases = [
            ("SITE HOSPITALIER DE THOUARS", ch, Kind::Hospital),
            ("PEDO PSYCHIATRIE - HOP DE JOUR", ch, Kind::Psychiatry),
            ("HOP DE JOUR ADULTES - CHNDS", ch, Kind::Psychiatry),
            ("C.A.T.T.P. + HOP JOUR PSY ADULT - S5", ch, Kind::Psychiatry),
            ("MAISON THERAPEUTIQUE - 79G03", ch, Kind::Psychiatry),
            ("ANTENNE CEGIDD - SITE THOUARS", ch, Kind::Other),
            ("HOPITAL DE JOUR DE MEDECINE", ch, Kind::Other),
            ("SSR CH LAON", ch, Kind::Ssr),
            ("CHABRE COURT SEJOUR SSR", ch, Kind::Hospital),
            ("USLD CH ANTIBES JUAN LES PINS", ch, Kind::LongStay),
            (
                "CENTRE HOSPITALIER DE SECTEUR DE SAINT-AMAND",
                ch,
                Kind::Hospital,
            ),
            (
                "HOPITAL DE NOIRMOUTIER SSR NON SPÉCIALISÉS ADULTES",
                "Centre hospitalier, ex Hôpital local",
                Kind::Hospital,
            ),
            (
                "CH DE PLAISIR",
                "Centre Hospitalier Spécialisé lutte Maladies Mentales",
                Kind::Psychiatry,
            ),
            (
                "RESIDENCE LES CHENES",
                "Etablissement de Soins Longue Durée",
                Kind::LongStay,
            ),
        ];
        let mut sites: Vec<Facility> = cases
            .iter()
            .enumerate()
            .map(|(i, (name, label, _))| {
                let mut f = facility(&i.to_string(), Kind::Hospital, 0.0, 46.0, None);
                f.name = (*name).to_owned();
                f.category_label = Some((*label).to_owned());
                f
            })
            .collect();
        let mut report = SourceReport::default();
        apply(&mut sites, spec, &mut report);
        for (f, (name, _, kind)) in sites.iter().zip(&cases) {
            assert_eq!(&f.kind, kind, "{name}");
        }
        let moved: u64 = report.reclassified.values().sum();
        let expected = cases.iter().filter(|c| c.2 != Kind::Hospital).count() as u64;
        assert_eq!(moved, expected, "{:?}", report.reclassified);
        assert_eq!(
            report.reclassified["hospital→psychiatry: catégorie Centre Hospitalier Spécialisé lutte Maladies Mentales"],
            1
        );
    }

    #[test]
    fn names_are_read_folded_without_dots() {
        assert_eq!(rule_text("C.A.T.T.P. Pédo-Psy"), " cattp pedo psy ");
    }
}

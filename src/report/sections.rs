//! The portrait's sections: the headline, the territory, accessibility; the distances
//! per kind ([`super::kinds`]), the comparison and the method ([`super::compare`]).

use std::fmt::Write as _;

use geo::GeodesicArea;

use crate::analysis::coverage::Threshold;
use crate::analysis::fca::zonage::ZonageValues;
use crate::analysis::request::MG_SUMMARY_THRESHOLD;
use crate::model::POP75_INDICATOR;

use super::data::*;
use super::fmt::{NBSP, esc, int, pct};
use super::html::{Doc, count, missing, number, share, text, type_label};
use super::svg;
use super::{Portrait, ehpad_places_per_1000, indicator_mean};

pub(crate) fn write(p: &Portrait<'_>, doc: &mut Doc) {
    let maps = Maps::new(p);
    doc.push(&svg::defs(&maps.paths));
    let covs = Coverages::new(p);
    summary(p, doc, &covs);
    territory(p, doc);
    super::kinds::kinds(p, doc, &maps, &covs);
    accessibility(p, doc);
    super::compare::comparison(p, doc, &covs);
    super::compare::method(p, doc, &maps);
}

/// The headline box: what a reader needs first.
fn summary(p: &Portrait<'_>, doc: &mut Doc, covs: &Coverages) {
    let mut items = Vec::new();
    for kind in HEADLINE_KINDS {
        if let Some(cov) = covs.get(0, &kind) {
            if let Some(b) = within(cov, Threshold::Km(10.0)) {
                if let Some(s) = b.share_within {
                    items.push(format!(
                        "{} de la population à 10{NBSP}km ou moins d'une structure « {} »",
                        pct(s),
                        kind.label_fr()
                    ));
                }
            }
        }
    }
    let _ = write!(
        doc.out,
        "<p><strong>{}</strong> habitants, <strong>{}</strong> communes.</p>",
        int(p.population),
        int(p.members.len() as u64)
    );
    if !items.is_empty() {
        doc.push("<ul class=\"small\">");
        for i in items {
            let _ = write!(doc.out, "<li>{}</li>", esc(&i));
        }
        doc.push("</ul>");
    }
    doc.p(
        "note",
        "Chaque chiffre indique son unité, sa source et son millésime ; une valeur manquante est écrite « non disponible » avec sa raison, jamais remplacée par zéro. Les distances sont à vol d'oiseau entre le chef-lieu de la commune et la structure ; les temps en voiture sont estimés (voir « Méthode »).",
    );
}

/// 1. The territory: population, communes, area, density, 75+, locator map.
fn territory(p: &Portrait<'_>, doc: &mut Doc) {
    let engine = p.engine();
    let data = &engine.data;
    doc.push("<section><h2>1. Le territoire</h2>");
    doc.table(
        &format!(
            "{} ({}) : population et superficie",
            p.territory.name,
            type_label(p.territory.kind)
        ),
        &["indicateur", "valeur"],
        false,
    );
    doc.row(
        "Population municipale",
        &[count("population", p.population)],
    );
    doc.row("Communes", &[count("communes", p.members.len() as u64)]);
    let with_polygon: Vec<f64> = p
        .members
        .iter()
        .filter_map(|&i| {
            data.communes[i]
                .geometry
                .as_ref()
                .map(|g| g.geodesic_area_unsigned())
        })
        .collect();
    let area_km2 = (with_polygon.len() == p.members.len() && !p.members.is_empty())
        .then(|| with_polygon.iter().sum::<f64>() / 1e6);
    let why_area = if p.members.is_empty() {
        "aucune commune".to_owned()
    } else {
        format!(
            "contour inconnu pour {} commune(s) sur {}",
            p.members.len() - with_polygon.len(),
            p.members.len()
        )
    };
    doc.row(
        "Superficie (km², calculée sur les contours simplifiés IGN)",
        &[number("area_km2", area_km2, 0, "\u{a0}km²", &why_area)],
    );
    doc.row(
        "Densité (habitants par km²)",
        &[number(
            "density",
            area_km2
                .filter(|a| *a > 0.0)
                .map(|a| p.population as f64 / a),
            1,
            "",
            &why_area,
        )],
    );
    let pop75 = data.indicators.numeric.get(POP75_INDICATOR).map(|col| {
        let known: Vec<f64> = p
            .members
            .iter()
            .filter_map(|&i| col.get(i).copied().flatten())
            .collect();
        (known.len(), known.iter().sum::<f64>())
    });
    let cell75 = match pop75 {
        None => missing("pop75", "population par âge non chargée"),
        Some((n, sum)) if n == p.members.len() && n > 0 => number("pop75", Some(sum), 0, "", ""),
        Some((n, _)) => missing(
            "pop75",
            &format!(
                "connue pour {n} commune(s) sur {} seulement",
                p.members.len()
            ),
        ),
    };
    doc.row("Population de 75 ans et plus", &[cell75]);
    doc.end_table();
    let src_pop = p
        .source_of_field(POP75_INDICATOR)
        .unwrap_or_else(|| "non chargée".to_owned());
    doc.p(
        "note",
        &format!(
            "Sources : population municipale du Code officiel géographique (INSEE, {}) ; population de 75 ans et plus : {src_pop}.",
            p.inputs.meta.sources.iter().find(|s| s.id == "cog").map_or("millésime non renseigné", |s| s.vintage.as_str())
        ),
    );
    super::locator::figure(p, doc);
    doc.push("</section>");
}

/// 3. Accessibility: DREES APL, our 2SFCA, the zonage, EHPAD places.
fn accessibility(p: &Portrait<'_>, doc: &mut Doc) {
    let engine = p.engine();
    let data = &engine.data;
    doc.push("<section class=\"major\"><h2>3. Accessibilité</h2>");
    // DREES APL.
    let loaded: Vec<_> = APL
        .iter()
        .filter(|a| data.indicators.numeric.contains_key(a.0))
        .collect();
    if loaded.is_empty() {
        doc.p("", "APL de la DREES : non chargée dans ces données.");
    } else {
        doc.table(
            "Accessibilité potentielle localisée (APL) de la DREES, moyenne du territoire",
            &[
                "indicateur (unité)",
                "moyenne",
                "communes avec une valeur",
                "population en commune à APL ≤ 2,5",
            ],
            false,
        );
        for (id, label, unit, weight) in loaded {
            let m = indicator_mean(engine, p.territory, id, Some(weight), MG_SUMMARY_THRESHOLD);
            let mg = id.starts_with("apl_mg");
            doc.row(
                &format!("{label} ({unit})"),
                &[
                    number(
                        &format!("apl:{id}"),
                        m.mean,
                        if mg { 2 } else { 1 },
                        "",
                        "aucune commune avec une valeur",
                    ),
                    count(&format!("apl:{id}:communes"), m.communes_with_value as u64),
                    if mg {
                        share(
                            &format!("apl:{id}:share_le_2_5"),
                            m.share_at_or_below,
                            "aucune commune avec une valeur",
                        )
                    } else {
                        text("–")
                    },
                ],
            );
        }
        doc.end_table();
        let mut sources: Vec<String> = APL.iter().filter_map(|a| p.source_of_field(a.0)).collect();
        sources.dedup();
        doc.p("note", &format!("Sources : {}.", sources.join(" ; ")));
        doc.p("note", "Moyenne pondérée par la population standardisée de la DREES (la population municipale là où elle manque), comme la DREES agrège ses APL. Le seuil de 2,5 consultations par an et par habitant est celui de la sélection nationale des zones d'intervention prioritaire (ZIP).");
    }
    // Our 2SFCA.
    let runs: Vec<_> = p.inputs.baselines.profiles().collect();
    if runs.is_empty() {
        doc.p(
            "",
            "Accessibilité à deux étapes (2SFCA) : aucun profil calculable sur ces données.",
        );
    } else {
        doc.table(
            "Accessibilité à deux étapes (2SFCA, careaccess) par profil, moyenne du territoire",
            &[
                "profil (unité)",
                "moyenne",
                "communes avec une valeur",
                "population sans valeur",
            ],
            false,
        );
        let mut caveats = Vec::new();
        for (id, acc) in &runs {
            let threshold = if *id == "mg" {
                MG_SUMMARY_THRESHOLD
            } else {
                0.0
            };
            let a = engine.aggregate(acc, p.territory, threshold);
            doc.row(
                &format!("{} ({})", acc.profile.title, a.unit_label),
                &[
                    number(&format!("acc:{id}"), a.mean, 2, "", "aucune commune avec une valeur (voir les raisons dans la couche communes, colonne acc_*_manque)"),
                    count(&format!("acc:{id}:communes"), a.communes_with_value as u64),
                    count(&format!("acc:{id}:population_unknown"), a.population_unknown),
                ],
            );
            if let Some(c) = &a.caveat {
                caveats.push(format!("{} : {c}", acc.profile.id));
            }
        }
        doc.end_table();
        let mut held = Vec::new();
        for (id, run) in &p.inputs.baselines.accessibility {
            if let Err(e) = run {
                held.push(format!("{id} : {e}"));
            }
        }
        if !held.is_empty() {
            caveats.push(format!("profils non calculés : {}", held.join(" ; ")));
        }
        doc.p("note", &format!("Moyennes selon les règles de la DREES (pondération par la population standardisée). Réserves : {}.", if caveats.is_empty() { "aucune".to_owned() } else { caveats.join(" ; ") }));
    }
    // Zonage.
    let review = engine.zonage_review(ZonageValues::DreesApl65, p.territory);
    if review.cells.is_empty() {
        doc.p(
            "",
            "Zonage médecins : aucune commune à classer (APL ou zonage non chargés).",
        );
    } else {
        doc.table(
            "Classes de l'APL DREES (médecins de 65 ans et moins) face au zonage médecins officiel",
            &[
                "classe APL × zonage officiel",
                "communes",
                "population",
                "accord",
            ],
            false,
        );
        for c in &review.cells {
            let class = c.ours.map_or("APL manquante", |c| match c {
                crate::analysis::fca::zonage::ZonageClass::ZipEligible => "éligible ZIP (≤ 2,5)",
                crate::analysis::fca::zonage::ZonageClass::Vivier => "vivier (2,5 à 4)",
                crate::analysis::fca::zonage::ZonageClass::Outside => "hors vivier (> 4)",
            });
            doc.row(
                &format!("{class} × {}", c.official),
                &[
                    count("", c.communes as u64),
                    count("", c.population),
                    text(match c.agrees {
                        Some(true) => "oui",
                        Some(false) => "non",
                        None => "non comparé",
                    }),
                ],
            );
        }
        let a = &review.agreement;
        doc.row(
            "Accord (communes comparées, population comparée)",
            &[
                count("zonage:communes_agree", a.communes_agree as u64),
                count("zonage:population_agree", a.population_agree),
                share(
                    "zonage:share_communes",
                    a.share_communes,
                    "aucune commune comparée",
                ),
            ],
        );
        doc.row(
            "Comparées",
            &[
                count("zonage:communes_compared", a.communes_compared as u64),
                count("zonage:population_compared", a.population_compared),
                share(
                    "zonage:share_population",
                    a.share_population,
                    "aucune population comparée",
                ),
            ],
        );
        doc.end_table();
        doc.p(
            "note",
            &format!(
                "Statut : {}. Règle : {}. {}",
                review.status,
                review.rule,
                review.caveats.join(" ")
            ),
        );
    }
    // EHPAD places.
    doc.table(
        "Places d'EHPAD pour 1 000 habitants de 75 ans et plus",
        &["territoire", "places pour 1 000"],
        false,
    );
    for t in std::iter::once(p.territory).chain(&p.comparison) {
        let v = ehpad_places_per_1000(engine, t);
        let key = if std::ptr::eq(t, p.territory) {
            "ehpad_per_1000".to_owned()
        } else {
            format!("cmp:{}:ehpad_per_1000", t.code)
        };
        let why = v.as_ref().err().cloned().unwrap_or_default();
        doc.row(&t.name, &[number(&key, v.ok(), 1, "", &why)]);
    }
    doc.end_table();
    doc.p("note", "Places installées des EHPAD situés dans le territoire (capacité FINESS) rapportées à ses habitants de 75 ans et plus : un ratio de stock, sans les déplacements entre territoires (voir le profil 2SFCA « ehpad » pour une mesure qui en tient compte).");
    doc.push("</section>");
}

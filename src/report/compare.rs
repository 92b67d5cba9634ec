//! Sections 4 and 5: the comparison with the département, the région and France (with
//! the distribution chart), and the method.

use std::fmt::Write as _;

use crate::analysis::coverage::Threshold;
use crate::analysis::request::MG_SUMMARY_THRESHOLD;
use crate::model::Territory;

use super::data::*;
use super::fmt::{dec, esc};
use super::html::{Doc, count, number, share, text};
use super::svg::{self, MISSING_FILL, PALETTE};
use super::{Portrait, ehpad_places_per_1000, indicator_mean};

/// 4. The comparison with the département, the région and France.
pub(crate) fn comparison(p: &Portrait<'_>, doc: &mut Doc, covs: &Coverages) {
    let engine = p.engine();
    let all: Vec<&Territory> = std::iter::once(p.territory).chain(&p.comparison).collect();
    doc.push("<section class=\"major\"><h2>4. Comparaison avec le département, la région et la France</h2>");
    let names: Vec<String> = all.iter().map(|t| t.name.clone()).collect();
    let mut head: Vec<&str> = vec!["indicateur"];
    head.extend(names.iter().map(String::as_str));
    doc.table("Indicateurs clés comparés", &head, false);
    let key = |k: usize, what: &str| {
        if k == 0 {
            what.to_owned()
        } else {
            format!("cmp:{}:{what}", all[k].code)
        }
    };
    doc.row(
        "Population municipale",
        &all.iter()
            .enumerate()
            .map(|(k, t)| count(&key(k, "population_cmp"), engine.members(t).1))
            .collect::<Vec<_>>(),
    );
    for kind in HEADLINE_KINDS
        .iter()
        .filter(|k| engine.kinds.contains_key(k))
    {
        for (t, what) in [
            (Threshold::Km(10.0), "à 10 km ou moins"),
            (Threshold::Minutes(20.0), "à 20 min ou moins (estimation)"),
        ] {
            let cells: Vec<String> = (0..all.len())
                .map(|k| {
                    let s = covs
                        .get(k, kind)
                        .and_then(|c| within(c, t))
                        .and_then(|b| b.share_within);
                    share(
                        &key(k, &format!("share:{}:{}", kind.as_str(), t.label())),
                        s,
                        "liste hors couverture",
                    )
                })
                .collect();
            doc.row(
                &format!("{} : part de la population {what}", kind.label_fr()),
                &cells,
            );
        }
        let cells: Vec<String> = (0..all.len())
            .map(|k| {
                let m = covs
                    .get(k, kind)
                    .and_then(|c| c.mean_distance_m)
                    .map(|m| m / 1_000.0);
                number(
                    &key(k, &format!("mean_km:{}", kind.as_str())),
                    m,
                    1,
                    "\u{a0}km",
                    "liste hors couverture",
                )
            })
            .collect();
        doc.row(
            &format!("{} : distance moyenne à la plus proche", kind.label_fr()),
            &cells,
        );
    }
    if engine.data.indicators.numeric.contains_key("apl_mg_65") {
        let cells: Vec<String> = all
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let m = indicator_mean(
                    engine,
                    t,
                    "apl_mg_65",
                    Some("pop_standardisee"),
                    MG_SUMMARY_THRESHOLD,
                );
                number(&key(k, "apl_mg_65_cmp"), m.mean, 2, "", "aucune valeur")
            })
            .collect();
        doc.row(
            "APL médecins généralistes ≤ 65 ans (DREES, consultations/an/habitant standardisé)",
            &cells,
        );
        let cells: Vec<String> = all
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let m = indicator_mean(
                    engine,
                    t,
                    "apl_mg_65",
                    Some("pop_standardisee"),
                    MG_SUMMARY_THRESHOLD,
                );
                share(
                    &key(k, "apl_mg_65_le_2_5"),
                    m.share_at_or_below,
                    "aucune valeur",
                )
            })
            .collect();
        doc.row("Part de la population en commune à APL ≤ 2,5", &cells);
    }
    let cells: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let v = ehpad_places_per_1000(engine, t);
            let why = v.as_ref().err().cloned().unwrap_or_default();
            number(&key(k, "ehpad_per_1000_cmp"), v.ok(), 1, "", &why)
        })
        .collect();
    doc.row(
        "Places d'EHPAD pour 1 000 habitants de 75 ans et plus",
        &cells,
    );
    doc.end_table();
    doc.p("note", "Mêmes règles pour chaque colonne ; « France » réunit toutes les communes des données (outre-mer compris). Pour une liste partielle, seules les communes où elle parle sont comptées.");
    // Distribution chart.
    let mut fills: Vec<&str> = PALETTE.to_vec();
    fills.push(MISSING_FILL);
    for kind in HEADLINE_KINDS
        .iter()
        .filter(|k| engine.kinds.contains_key(k))
    {
        let mut rows = Vec::new();
        let mut table_rows = Vec::new();
        for (k, t) in all.iter().enumerate() {
            let Some(cov) = covs.get(k, kind) else {
                continue;
            };
            if cov.population == 0 {
                continue;
            }
            let w = |km: f64| within(cov, Threshold::Km(km)).map_or(0, |b| b.population_within);
            let no_distance = cov.population_unknown + cov.population_no_structure;
            let parts = [
                w(5.0),
                w(10.0) - w(5.0),
                w(20.0) - w(10.0),
                w(30.0) - w(20.0),
                cov.population - w(30.0) - no_distance,
                no_distance,
            ];
            let shares: Vec<f64> = parts
                .iter()
                .map(|&x| x as f64 / cov.population as f64)
                .collect();
            rows.push((t.name.clone(), shares.clone()));
            table_rows.push((t.name.clone(), shares, cov.population));
        }
        if rows.is_empty() {
            continue;
        }
        let title = format!(
            "{} : répartition de la population selon la distance à la plus proche",
            kind.label_fr()
        );
        let svg = svg::stacked_bars(&title, &rows, &fills);
        let mut legend = String::from("<div class=\"legend\">");
        for (fill, label) in fills
            .iter()
            .zip(CLASS_LABELS.iter().chain(&["sans distance"]))
        {
            let _ = write!(legend, "<span>{} {}</span>", svg::swatch(fill), esc(label));
        }
        legend.push_str("</div>");
        let n = doc.next_figure();
        doc.figure(
            &svg,
            &format!(
                "{title} (part de la population, km à vol d'oiseau ; chiffres au tableau suivant)"
            ),
            &legend,
        );
        let mut head = vec!["territoire"];
        head.extend(CLASS_LABELS);
        head.push("sans distance");
        head.push("population comptée");
        doc.table(&format!("Chiffres de la figure {n}"), &head, false);
        for (name, shares, pop) in table_rows {
            let mut cells: Vec<String> = shares.iter().map(|s| share("", Some(*s), "")).collect();
            cells.push(count("", pop));
            doc.row(&name, &cells);
        }
        doc.end_table();
    }
    doc.push("</section>");
}

/// 5. Method: distance model, decay steps, sources and vintages, partial lists.
pub(crate) fn method(p: &Portrait<'_>, doc: &mut Doc, maps: &Maps) {
    let meta = p.inputs.meta;
    doc.push("<section class=\"major\"><h2>5. Méthode</h2>");
    doc.p("", "Chaque commune est représentée par son chef-lieu (la mairie, ou un point intérieur de son contour) et pèse sa population municipale. La distance à la structure la plus proche est géodésique (à vol d'oiseau, ellipsoïde WGS84) ; la structure la plus proche est cherchée dans la même zone accessible par la route (communes contiguës et ponts déclarés : une île sans pont n'atteint pas le continent ; les bacs ne sont pas modélisés).");
    if car_times() {
        doc.p("", "Les kilomètres routiers et les minutes en voiture sont estimés à partir de la distance à vol d'oiseau (modèle « road_estimate ») : la route vaut 1,29 fois la ligne droite jusqu'à 10 km, 1,27 de 10 à 30 km, 1,21 au-delà ; la vitesse croît de 67 km/h sur les 10 premiers km de route à 93 km/h au-delà de 60 km, plus 0,74 minute. Calibré sur 2 429 trajets en Gironde (OSRM et Metric de l'INSEE) ; la moitié des estimations sont à 8 % près du temps Metric. Les temps courts en ville et les heures de pointe sont mal représentés.");
        doc.p("", "Les cartes par type de structure sont en minutes en voiture estimées par ce modèle (classes de 10, 20, 30 et 45 minutes) : une estimation à partir de la distance, pas un itinéraire calculé sur le réseau routier.");
        if p.engine().data.travel_matrix.is_some() {
            doc.p("", "Un distancier commune à commune est chargé dans ces données ; le portrait, comme l'API par défaut, s'en tient à l'estimation « road_estimate » pour que ses chiffres soient ceux de /coverage.");
        }
    } else {
        doc.p("", "Aucun modèle de temps de parcours dans ces données : les cartes et les seuils sont en kilomètres à vol d'oiseau et aucun temps en voiture n'est donné.");
    }
    let runs: Vec<_> = p.inputs.baselines.profiles().collect();
    if !runs.is_empty() {
        doc.table(
            "Profils d'accessibilité à deux étapes (2SFCA) : paliers de décroissance",
            &["profil", "paliers (poids)", "offre et demande", "unité"],
            false,
        );
        for (_, acc) in runs {
            let steps = acc
                .profile
                .steps
                .iter()
                .map(|s| {
                    format!(
                        "≤ {} {} : {}",
                        dec(s.upto, 0),
                        acc.profile.unit,
                        dec(s.weight, 2)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ; ");
            doc.row(
                &acc.profile.title,
                &[
                    text(&steps),
                    text(&format!(
                        "{} ; demande {}",
                        measure_fr(acc.measure),
                        demand_fr(acc.demand.as_str())
                    )),
                    text(&acc.unit_label),
                ],
            );
        }
        doc.end_table();
    }
    doc.table(
        "Sources et millésimes des données",
        &["source", "millésime", "licence", "état"],
        true,
    );
    for s in &meta.sources {
        let status = match s.status.as_str() {
            "built" => "chargée".to_owned(),
            "absent" => "absente (non téléchargée) : ses chiffres sont non disponibles".to_owned(),
            other => format!("{other} : ses chiffres sont non disponibles"),
        };
        let mut status = status;
        if s.partial_list {
            status.push_str(" ; liste partielle");
        }
        if let Some(c) = &s.caveat {
            status.push_str(" ; ");
            status.push_str(c);
        }
        doc.row(
            &format!("{} ({})", s.title, s.id),
            &[text(&s.vintage), text(&s.licence), text(&status)],
        );
    }
    doc.end_table();
    let partial: Vec<String> = meta
        .kinds
        .iter()
        .filter(|(_, k)| k.partial || k.departements.is_some())
        .map(|(kind, k)| match &k.departements {
            Some(d) => format!(
                "{kind} : ne parle que pour les départements {}",
                d.join(", ")
            ),
            None => format!("{kind} : liste partielle (des structures peuvent manquer)"),
        })
        .collect();
    doc.p(
        "",
        &format!(
            "Listes partielles : {}.",
            if partial.is_empty() {
                "aucune dans ces données".to_owned()
            } else {
                partial.join(" ; ")
            }
        ),
    );
    if maps.without_polygon > 0 {
        doc.p("note", &format!("{} commune(s) sans contour ne figurent pas sur les cartes (leurs chiffres sont comptés dans les tableaux).", maps.without_polygon));
    }
    doc.p("note", &format!("Cartes : projection équirectangulaire (longitudes multipliées par le cosinus de la latitude du centre), contours IGN Admin Express simplifiés à {} pixel ; palette séquentielle YlGnBu (ColorBrewer), lisible par les daltoniens ; hachures : pas de distance. Données : build {} ({}). Dernier millésime de chaque source dans le tableau ci-dessus.", dec(svg::SIMPLIFY_PX, 1), meta.build_id, meta.builder));
    doc.push("</section>");
}

/// What the steps of a profile measure, in French.
fn measure_fr(measure: &str) -> &str {
    match measure {
        "straight km" => "km à vol d'oiseau",
        "estimated road km" => "km routiers estimés",
        "estimated car minutes" => "minutes en voiture estimées",
        "car minutes from the travel-time table, estimated where missing" => {
            "minutes de la table de temps de trajet, estimées là où elles manquent"
        }
        other => other,
    }
}

/// The demand of a profile, in French.
fn demand_fr(demand: &str) -> &str {
    match demand {
        "population" => "population municipale",
        "pop75" => "population de 75 ans et plus",
        "standardised" => "population standardisée (DREES)",
        other => other,
    }
}

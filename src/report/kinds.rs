//! Section 2: per kind of structure, the distance bands, the map of the communes, the
//! underserved communes and the structures inside the territory.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use crate::analysis::coverage::Threshold;
use crate::analysis::nearest::CommuneNearest;
use crate::analysis::request::DEFAULT_THRESHOLD;
use crate::model::{InseeCode, Kind};

use super::Portrait;
use super::data::*;
use super::fmt::{NBSP, dec, esc, int, km};
use super::html::{Doc, count, number, share, text};
use super::svg::{self, MISSING_FILL, PALETTE};

/// The map class of commune `i` for one kind, by estimated car minutes when the model
/// gives them ([`car_times`]), by straight km otherwise: a palette index, or why there
/// is no distance.
pub(crate) fn class_of(
    p: &Portrait<'_>,
    kind: &Kind,
    nearest: &[CommuneNearest],
    i: usize,
) -> Result<usize, &'static str> {
    if !p.engine().data.in_scope(kind, i) {
        return Err("non couvert par la liste");
    }
    match nearest.get(i).and_then(|n| n.trip) {
        Some(t) if car_times() => Ok(CLASS_MIN.iter().take_while(|&&m| t.car_min > m).count()),
        Some(t) => Ok(CLASS_KM
            .iter()
            .take_while(|&&k| t.distance_m > k * 1_000.0)
            .count()),
        None => Err(nearest
            .get(i)
            .and_then(|n| n.missing)
            .map_or("distance inconnue", |m| m.label_fr())),
    }
}

/// Where a kind's list speaks, in words.
pub(crate) fn scope_sentence(p: &Portrait<'_>, kind: &Kind) -> String {
    let data = &p.engine().data;
    let partial = data.facilities_of(kind).any(|f| f.partial_list);
    let sources: Vec<String> = p
        .inputs
        .meta
        .kinds
        .get(kind.as_str())
        .map(|k| {
            k.sources
                .iter()
                .map(|id| {
                    p.inputs
                        .meta
                        .sources
                        .iter()
                        .find(|s| &s.id == id)
                        .map_or(id.clone(), |s| format!("{} ({})", s.title, s.vintage))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut s = format!(
        "Source : {}.",
        if sources.is_empty() {
            "non renseignée".to_owned()
        } else {
            sources.join(" ; ")
        }
    );
    match data
        .scopes
        .get(kind)
        .and_then(|sc| sc.departements.as_ref())
    {
        Some(deps) => {
            let _ = write!(
                s,
                " Liste partielle : elle ne parle que pour les départements {} ; ailleurs les communes sont « non couvertes » (hachurées), hors des totaux.",
                deps.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        None if partial => s.push_str(" Liste partielle : des structures peuvent manquer."),
        None => {}
    }
    s
}

/// 2. Per kind: bands, map, underserved communes, structures inside.
pub(crate) fn kinds(p: &Portrait<'_>, doc: &mut Doc, maps: &Maps, covs: &Coverages) {
    let engine = p.engine();
    let data = &engine.data;
    doc.push("<section class=\"major\"><h2>2. Distances aux structures de soins</h2>");
    doc.p(
        "note",
        "Pour chaque type de structure : la part de la population à moins de 5, 10, 20 et 30 km (à vol d'oiseau) et de 10, 20 et 30 minutes en voiture (estimation) de la structure la plus proche, la carte des communes, les communes à plus de 10 km et les structures situées dans le territoire.",
    );
    let mut kinds: Vec<Kind> = Kind::BUILTIN.to_vec();
    kinds.extend(
        engine
            .kinds
            .keys()
            .filter(|k| !Kind::BUILTIN.contains(k))
            .cloned(),
    );
    let not_loaded: Vec<&str> = kinds
        .iter()
        .filter(|k| !engine.kinds.contains_key(k))
        .map(|k| k.label_fr())
        .collect();
    if !not_loaded.is_empty() {
        doc.p(
            "note",
            &format!(
                "Non chargés dans ces données (aucune structure) : {}.",
                not_loaded.join(" ; ")
            ),
        );
    }
    let set: HashSet<&InseeCode> = p.territory.communes.iter().collect();
    for kind in kinds.iter().filter(|k| engine.kinds.contains_key(k)) {
        let (Some(cov), Some(nearest)) = (covs.get(0, kind), p.inputs.baselines.nearest.get(kind))
        else {
            continue;
        };
        let _ = write!(
            doc.out,
            "<div class=\"kind\" id=\"kind-{}\"><h3>{}</h3>",
            esc(kind.as_str()),
            esc(kind.label_fr())
        );
        doc.p("note", &scope_sentence(p, kind));
        if cov.communes_out_of_scope > 0 {
            doc.p(
                "note",
                &format!(
                    "{} commune(s) ({} habitants) hors du périmètre de la liste : non couvertes, laissées hors des chiffres ci-dessous.",
                    int(cov.communes_out_of_scope as u64),
                    int(cov.population_out_of_scope)
                ),
            );
        }
        if cov.communes == 0 {
            doc.p("", "La liste de ce type de structure ne couvre pas ce territoire : aucune distance n'est donnée.");
            doc.push("</div>");
            continue;
        }
        // Bands.
        doc.table(
            &format!(
                "{} : population selon la distance à la plus proche (sur {} habitants couverts)",
                kind.label_fr(),
                int(cov.population)
            ),
            &[
                "seuil",
                "population à moins du seuil",
                "part",
                "population au-delà",
            ],
            false,
        );
        for b in &cov.bands {
            let key = format!("band:{}:{}", kind.as_str(), b.threshold.label());
            let label = match b.threshold {
                Threshold::Km(v) => format!("{} km à vol d'oiseau", dec(v, 0)),
                Threshold::Minutes(v) => format!("{} min en voiture (estimation)", dec(v, 0)),
            };
            doc.row(
                &label,
                &[
                    count(&key, b.population_within),
                    share(
                        &format!("{key}:share"),
                        b.share_within,
                        "aucun habitant couvert",
                    ),
                    count(&format!("{key}:beyond"), b.population_beyond),
                ],
            );
        }
        doc.end_table();
        let mut notes = vec![format!(
            "Distance moyenne pondérée par la population : {} ; maximale : {} ; temps moyen estimé : {}.",
            cov.mean_distance_m.map_or("non disponible".to_owned(), km),
            cov.max_distance_m.map_or("non disponible".to_owned(), km),
            cov.mean_car_min
                .map_or("non disponible".to_owned(), |m| format!(
                    "{}{NBSP}min",
                    dec(m, 1)
                ))
        )];
        if cov.population_no_structure > 0 {
            notes.push(format!("{} habitants sans structure accessible par la route (île sans pont) : au-delà de tout seuil.", int(cov.population_no_structure)));
        }
        if cov.population_unknown > 0 {
            notes.push(format!("{} habitants de communes sans point de référence : distance inconnue, comptés au-delà.", int(cov.population_unknown)));
        }
        doc.p("note", &notes.join(" "));
        // Map.
        if let Some(proj) = &maps.proj {
            let mut groups: Vec<(&str, Vec<String>)> =
                PALETTE.iter().map(|f| (*f, Vec::new())).collect();
            groups.push((MISSING_FILL, Vec::new()));
            let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
            // Sorted by class: classes drawn in order, reasons in words.
            let mut counts = [0usize; 5];
            for &i in &p.members {
                if !maps.drawn.contains(&i) {
                    continue;
                }
                let id = format!("c{}", data.communes[i].code);
                match class_of(p, kind, nearest, i) {
                    Ok(c) => {
                        counts[c] += 1;
                        groups[c].1.push(id);
                    }
                    Err(why) => {
                        *reasons.entry(why).or_default() += 1;
                        groups[5].1.push(id);
                    }
                }
            }
            let labels = if car_times() {
                CLASS_MIN_LABELS
            } else {
                CLASS_LABELS
            };
            let title = if car_times() {
                format!(
                    "{} : temps en voiture estimé de chaque commune à la plus proche",
                    kind.label_fr()
                )
            } else {
                format!(
                    "{} : distance de chaque commune à la plus proche",
                    kind.label_fr()
                )
            };
            let desc = labels
                .iter()
                .zip(counts)
                .map(|(l, n)| format!("{l} : {n} communes"))
                .chain(reasons.iter().map(|(r, n)| format!("{r} : {n} communes")))
                .collect::<Vec<_>>()
                .join(" ; ");
            let svg = svg::choropleth(proj, &title, &desc, &groups);
            let mut legend = String::from("<div class=\"legend\">");
            for ((fill, label), n) in PALETTE.iter().zip(labels).zip(counts) {
                let _ = write!(
                    legend,
                    "<span>{} {} ({} communes)</span>",
                    svg::swatch(fill),
                    esc(label),
                    int(n as u64)
                );
            }
            for (r, n) in &reasons {
                let _ = write!(
                    legend,
                    "<span>{} {} ({} communes)</span>",
                    svg::swatch(MISSING_FILL),
                    esc(r),
                    int(*n as u64)
                );
            }
            legend.push_str("</div>");
            doc.figure(
                &svg,
                &if car_times() {
                    format!("{title} (minutes en voiture estimées depuis le chef-lieu par le modèle « road_estimate » à partir de la distance à vol d'oiseau, voir « Méthode » : une estimation, pas un itinéraire ; hachuré : pas de temps, raison en légende)")
                } else {
                    format!("{title} (km à vol d'oiseau depuis le chef-lieu ; hachuré : pas de distance, raison en légende)")
                },
                &legend,
            );
        }
        // Underserved.
        let n = cov.underserved.len();
        if n == 0 {
            doc.p(
                "",
                &format!(
                    "Aucune commune au-delà de {} de la plus proche.",
                    DEFAULT_THRESHOLD.label()
                ),
            );
        } else {
            doc.table(
                &format!(
                    "{} : communes à plus de {} de la plus proche ({} communes, les plus peuplées d'abord)",
                    kind.label_fr(),
                    DEFAULT_THRESHOLD.label(),
                    int(n as u64)
                ),
                &["commune", "population", "distance", "temps estimé", "structure la plus proche"],
                true,
            );
            for u in cov.underserved.iter().take(MAX_ROWS) {
                let why = u.reason.map_or("", |r| r.label_fr());
                doc.row(
                    &format!("{} ({})", u.nom, u.code),
                    &[
                        count(
                            &format!("underserved:{}:{}", kind.as_str(), u.code),
                            u64::from(u.population),
                        ),
                        number("", u.distance_m.map(|m| m / 1_000.0), 1, "\u{a0}km", why),
                        number("", u.car_min, 0, "\u{a0}min", why),
                        text(
                            &u.nearest_name
                                .as_deref()
                                .map_or("–".to_owned(), |n| p.name(n)),
                        ),
                    ],
                );
            }
            doc.end_table();
            if n > MAX_ROWS {
                doc.p("note", &format!("… et {} autres communes (liste complète : API /territories/…/coverage ou export CSV de la vue Territoire).", int((n - MAX_ROWS) as u64)));
            }
        }
        // Structures inside.
        let mut inside: Vec<&crate::model::Facility> = data
            .facilities_of(kind)
            .filter(|f| f.commune.as_ref().is_some_and(|c| set.contains(c)))
            .collect();
        inside.sort_by(|a, b| a.commune.cmp(&b.commune).then_with(|| a.name.cmp(&b.name)));
        if inside.is_empty() {
            doc.p("", "Aucune structure de ce type dans le territoire.");
        } else {
            doc.table(
                &format!(
                    "{} : structures situées dans le territoire ({})",
                    kind.label_fr(),
                    int(inside.len() as u64)
                ),
                &["nom", "commune", "adresse", "capacité"],
                true,
            );
            for f in inside.iter().take(MAX_ROWS) {
                let commune = f
                    .commune
                    .as_ref()
                    .and_then(|c| data.commune(c))
                    .map_or_else(|| "–".to_owned(), |c| format!("{} ({})", c.name, c.code));
                doc.row(
                    &p.name(&f.name),
                    &[
                        text(&commune),
                        text(
                            &f.address
                                .as_deref()
                                .map_or("–".to_owned(), |a| p.address(a)),
                        ),
                        number("", f.capacity, 0, "", "capacité inconnue dans la source"),
                    ],
                );
            }
            doc.end_table();
            if inside.len() > MAX_ROWS {
                doc.p(
                    "note",
                    &format!(
                        "… et {} autres (liste complète : couche {} de l'API OGC).",
                        int((inside.len() - MAX_ROWS) as u64),
                        kind.as_str()
                    ),
                );
            }
        }
        doc.push("</div>");
    }
    doc.push("</section>");
}

//! The locator map: the territory's communes (or départements) in dark blue inside its
//! parent drawn from the départements' outlines, the larger places named, and an inset
//! of metropolitan France with the parent in it.
//!
//! Outlines are simplified to the page (half a pixel) and each colour class is one
//! `<path>`, so a région's locator weighs a few kilobytes.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use geo::BoundingRect;

use crate::model::{Territory, TerritoryType};

use super::Portrait;
use super::data::Outline;
use super::fmt::{esc, int};
use super::html::Doc;
use super::svg::{self, Label, Layer, Projection};

/// Tolerance of the locator's outlines, pixels.
const TOLERANCE_PX: f64 = 0.5;
/// Size of the main panel and of the inset, pixels.
const MAIN_PX: f64 = 340.0;
const INSET_PX: f64 = 130.0;
/// Places named inside the territory, and around it.
const LABELS_INSIDE: usize = 6;
const LABELS_AROUND: usize = 3;

const HIGHLIGHT: &str = "#253494";
const BACKGROUND: &str = "#d4d4d4";

/// What a panel draws: départements' outlines or communes' polygons.
enum Shapes<'a> {
    Departements(Vec<Outline<'a>>),
    Communes(Vec<usize>),
}

impl Shapes<'_> {
    fn bbox(&self, p: &Portrait<'_>) -> Option<[f64; 4]> {
        let rects: Vec<geo::Rect<f64>> = match self {
            Shapes::Departements(d) => d
                .iter()
                .filter_map(|o| o.polygons()?.bounding_rect())
                .collect(),
            Shapes::Communes(c) => c
                .iter()
                .filter_map(|&i| {
                    p.engine().data.communes[i]
                        .geometry
                        .as_ref()?
                        .bounding_rect()
                })
                .collect(),
        };
        rects.iter().fold(None, |b, r| {
            let (lo, hi) = (r.min(), r.max());
            Some(match b {
                None => [lo.x, lo.y, hi.x, hi.y],
                Some([w, s, e, n]) => [w.min(lo.x), s.min(lo.y), e.max(hi.x), n.max(hi.y)],
            })
        })
    }

    fn path(&self, p: &Portrait<'_>, proj: &Projection) -> String {
        let mut d = String::new();
        match self {
            Shapes::Departements(deps) => {
                for o in deps {
                    if let Some(mp) = o.polygons() {
                        svg::push_path(&mut d, &mp, proj, TOLERANCE_PX, false);
                    }
                }
            }
            Shapes::Communes(cs) => {
                for &i in cs {
                    if let Some(mp) = &p.engine().data.communes[i].geometry {
                        svg::push_path(&mut d, mp, proj, TOLERANCE_PX, true);
                    }
                }
            }
        }
        d
    }
}

/// The départements of `t`'s communes, when every one has an outline.
fn departements_of<'a>(
    p: &Portrait<'_>,
    by_code: &HashMap<&str, Outline<'a>>,
    members: &[usize],
) -> Option<Vec<Outline<'a>>> {
    let codes: BTreeSet<&str> = members
        .iter()
        .map(|&i| p.engine().data.communes[i].departement.as_str())
        .collect();
    codes
        .iter()
        .map(|c| by_code.get(c).copied())
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
}

fn is_metropolitan(code: &str) -> bool {
    !code.starts_with("97") && !code.starts_with("98")
}

/// The locator figure of section 1.
pub(crate) fn figure(p: &Portrait<'_>, doc: &mut Doc) {
    let engine = p.engine();
    let data = &engine.data;
    let by_code: HashMap<&str, Outline<'_>> =
        p.inputs.departements.iter().map(|o| (o.code, *o)).collect();
    let t = p.territory;
    let whole_departements = matches!(t.kind, TerritoryType::Departement | TerritoryType::Region);
    let highlight = whole_departements
        .then(|| departements_of(p, &by_code, &p.members))
        .flatten()
        .map_or_else(|| Shapes::Communes(p.members.clone()), Shapes::Departements);
    let parent_members = p.parent.as_ref().map(|parent| engine.members(parent).0);
    let background = parent_members.as_ref().map(|m| {
        departements_of(p, &by_code, m)
            .map_or_else(|| Shapes::Communes(m.clone()), Shapes::Departements)
    });
    let Some(bbox) = background
        .as_ref()
        .and_then(|b| b.bbox(p))
        .or_else(|| highlight.bbox(p))
    else {
        doc.p(
            "note",
            "Carte de situation non dessinée : aucune commune du territoire n'a de contour.",
        );
        return;
    };
    let proj = Projection::fit(bbox, MAIN_PX, MAIN_PX);
    let mut layers = Vec::new();
    if let Some(b) = &background {
        let communes = matches!(b, Shapes::Communes(_));
        layers.push(Layer {
            fill: BACKGROUND,
            // Communes drawn as one grey surface; départements with their borders.
            stroke: if communes { BACKGROUND } else { "#ffffff" },
            stroke_width: if communes { 0.3 } else { 0.8 },
            d: b.path(p, &proj),
        });
    }
    layers.push(Layer {
        fill: HIGHLIGHT,
        stroke: "#ffffff",
        stroke_width: if whole_departements { 0.8 } else { 0.3 },
        d: highlight.path(p, &proj),
    });
    // The larger places: the territory's, then its neighbours'.
    let by_population = |members: &mut Vec<usize>| {
        members.sort_by(|&a, &b| {
            data.communes[b]
                .population
                .cmp(&data.communes[a].population)
                .then(a.cmp(&b))
        });
    };
    let mut inside = p.members.clone();
    by_population(&mut inside);
    let member_set: BTreeSet<usize> = p.members.iter().copied().collect();
    let mut around: Vec<usize> = parent_members
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !member_set.contains(i))
        .collect();
    by_population(&mut around);
    let label = |i: usize, inside: bool| {
        let g = engine.commune_points[i]?;
        let (x, y) = proj.xy(g.lon, g.lat);
        Some(Label {
            x,
            y,
            text: data.communes[i].name.clone(),
            inside,
        })
    };
    let labels: Vec<Label> = inside
        .iter()
        .take(LABELS_INSIDE)
        .filter_map(|&i| label(i, true))
        .chain(
            around
                .iter()
                .take(LABELS_AROUND)
                .filter_map(|&i| label(i, false)),
        )
        .collect();
    let parent_name = p.parent.as_ref().map_or("", |t| t.name.as_str());
    let title = if parent_name.is_empty() {
        t.name.clone()
    } else {
        format!("{} dans {parent_name}", t.name)
    };
    let named: Vec<String> = labels
        .iter()
        .map(|l| {
            format!(
                "{} ({})",
                l.text,
                if l.inside {
                    "dans le territoire"
                } else {
                    "autour"
                }
            )
        })
        .collect();
    let desc = format!(
        "Carte de situation : en bleu foncé les {} communes du territoire{} ; communes nommées : {}.",
        int(p.members.len() as u64),
        if parent_name.is_empty() {
            String::new()
        } else {
            format!(", en gris {parent_name}")
        },
        named.join(", ")
    );
    let main = svg::map(&proj, &title, &desc, &layers, &labels);
    let inset = p
        .parent
        .as_ref()
        .and_then(|parent| inset(p, &by_code, parent));
    let mut legend = format!(
        "<div class=\"legend\"><span>{} {}</span>",
        svg::swatch(HIGHLIGHT),
        esc(&t.name)
    );
    if !parent_name.is_empty() {
        let _ = write!(
            legend,
            "<span>{} {}</span>",
            svg::swatch(BACKGROUND),
            esc(parent_name)
        );
    }
    legend.push_str("</div>");
    let caption = format!(
        "Situation : {title}{} (contours IGN simplifiés à la résolution de la page, projection équirectangulaire ; les communes les plus peuplées sont nommées)",
        match (&inset, &p.parent) {
            (Some(_), Some(parent)) =>
                format!(" ; en médaillon, {} en France métropolitaine", parent.name),
            _ => String::new(),
        }
    );
    let body = format!(
        "<div class=\"locator\">{main}{}</div>",
        inset.unwrap_or_default()
    );
    doc.figure(&body, &caption, &legend);
}

/// Metropolitan France's départements with the parent's in dark blue; `None` when the
/// parent is France itself, overseas, or an outline is missing.
fn inset(
    p: &Portrait<'_>,
    by_code: &HashMap<&str, Outline<'_>>,
    parent: &Territory,
) -> Option<String> {
    if parent.code == "FR" {
        return None;
    }
    let members = p.engine().members(parent).0;
    let highlight = departements_of(p, by_code, &members)?;
    if !highlight.iter().all(|o| is_metropolitan(o.code)) {
        return None;
    }
    let mut france: Vec<Outline<'_>> = by_code
        .values()
        .filter(|o| is_metropolitan(o.code))
        .copied()
        .collect();
    france.sort_by_key(|o| o.code);
    let all = Shapes::Departements(france);
    let proj = Projection::fit(all.bbox(p)?, INSET_PX, INSET_PX);
    let highlight = Shapes::Departements(highlight);
    let layers = [
        Layer {
            fill: BACKGROUND,
            stroke: "#ffffff",
            stroke_width: 0.3,
            d: all.path(p, &proj),
        },
        Layer {
            fill: HIGHLIGHT,
            stroke: "#ffffff",
            stroke_width: 0.3,
            d: highlight.path(p, &proj),
        },
    ];
    let title = format!("{} en France métropolitaine", parent.name);
    Some(svg::map(
        &proj,
        &title,
        &format!("Médaillon : {title}, en bleu foncé."),
        &layers,
        &[],
    ))
}

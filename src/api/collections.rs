//! The collections the service lists: communes with their computed indicators (nearest
//! structure of each kind, accessibility of each profile), one collection per kind of
//! structure, and the territory layers — each with its sources and analysis parameters.

use std::collections::BTreeMap;

use serde_json::json;

use crate::analysis::Engine;
use crate::analysis::baseline::Baselines;
use crate::model::Kind;
use crate::store::fgb::{ColType, Column};
use crate::store::layout::{COMMUNES_LAYER, TERRITORY_LAYERS, layer_file};
use crate::store::{DatasetMeta, Table, Values};

use super::features::Collection;

/// A layer that a collection needs but the build does not have: `(file, why)`.
pub type MissingLayer = (String, String);

/// The collections of a build, from its tables (communes in the order of the engine's
/// communes: computed columns are added by index).
pub fn build(
    mut tables: BTreeMap<String, Table>,
    meta: &DatasetMeta,
    engine: &Engine,
    baselines: &Baselines,
) -> Result<Vec<Collection>, MissingLayer> {
    let mut take = |name: &str| {
        tables.remove(name).ok_or_else(|| {
            (
                layer_file(name),
                "layer listed in dataset.json is missing".to_owned(),
            )
        })
    };
    let sources = |ids: &[&str]| json!(meta.sources_among(ids));
    let mut collections = Vec::new();

    let mut communes = take(COMMUNES_LAYER)?;
    add_indicator_columns(&mut communes, engine, baselines);
    let mut field_sources: Vec<&str> = vec!["cog", "contours"];
    field_sources.extend(meta.fields.values().map(String::as_str));
    field_sources.sort();
    field_sources.dedup();
    let road = &engine.road;
    collections.push(Collection::new(
        COMMUNES_LAYER,
        communes,
        "code",
        json!({
            "sources": sources(&field_sources),
            "distance_model": "straight (géodésique WGS84) ; temps en voiture estimé (road_estimate)",
            "road_estimate": {
                "fit": "Gironde 2021 (INSEE Metric), benches/calibrate_travel_time.py",
                "detour_breaks_km": road.detour_breaks_km,
                "detour": road.detour,
                "terminal_min": road.terminal_min,
                "speed_breaks_km": road.speed_breaks_km,
                "speed_kmh": road.speed_kmh,
            },
            "accessibility_profiles": baselines.profiles().map(|(id, a)| (id.to_owned(), json!({
                "title": a.profile.title,
                "unit": a.unit_label,
                "model": a.model,
                "steps": a.profile.steps,
                "supply": a.supply,
                "demand": a.demand,
                "caveat": a.caveat,
            }))).collect::<serde_json::Map<_, _>>(),
        }),
    ));

    for (rank, kind) in kinds_built(engine).iter().enumerate() {
        let table = take(kind.as_str())?;
        let used: Vec<&str> = engine
            .data
            .facilities_of(kind)
            .map(|f| f.source.as_str())
            .collect();
        collections.push(Collection::new(
            kind.as_str(),
            table,
            "id",
            json!({
                "sources": sources(&used),
                "kind": { "id": kind, "label": kind.label_fr(), "rank": rank },
                "partial_list": engine.data.facilities_of(kind).any(|f| f.partial_list),
                // Where the list speaks: `null` everywhere; outside, "non couvert".
                "scope": engine.data.scopes.get(kind).and_then(|s| s.departements.as_ref()),
            }),
        ));
    }
    for (name, kind) in TERRITORY_LAYERS {
        collections.push(Collection::new(
            name,
            take(name)?,
            "code",
            json!({
                "sources": sources(&["cog", "contours"]),
                "territory_type": kind,
                "geometry": "union des contours des communes membres",
            }),
        ));
    }
    Ok(collections)
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Distance, time and id of the nearest structure of each kind, and each profile's
/// accessibility, as columns of the communes table (rows = engine communes).
fn add_indicator_columns(communes: &mut Table, engine: &Engine, baselines: &Baselines) {
    for (kind, per_commune) in &baselines.nearest {
        let label = kind.label_fr();
        let trips = || per_commune.iter().map(|n| n.trip);
        communes.push_column(
            Column::new(&format!("{kind}_km"), ColType::Real).described(format!(
                "{label} : distance à vol d'oiseau (géodésique) à la plus proche, km"
            )),
            Values::Real(
                trips()
                    .map(|t| t.map(|t| round(t.distance_m / 1e3, 2)))
                    .collect(),
            ),
        );
        communes.push_column(
            Column::new(&format!("{kind}_min"), ColType::Real).described(format!(
                "{label} : temps en voiture estimé (road_estimate) jusqu'à la plus proche, min"
            )),
            Values::Real(trips().map(|t| t.map(|t| round(t.car_min, 1))).collect()),
        );
        communes.push_column(
            Column::new(&format!("{kind}_manque"), ColType::Text).described(format!(
                "{label} : pourquoi il n'y a pas de distance — hors_couverture (la liste ne couvre pas ce département), aucune_structure_par_la_route (aucune dans la zone d'accès par la route), sans_point_de_reference"
            )),
            Values::Text(
                per_commune
                    .iter()
                    .map(|n| n.missing.map(|m| m.code()))
                    .collect(),
            ),
        );
        communes.push_column(
            Column::new(&format!("{kind}_id"), ColType::Text).described(format!(
                "{label} : identifiant de la plus proche (FINESS ou source)"
            )),
            Values::Text(
                per_commune
                    .iter()
                    .map(|n| n.facility.map(|f| engine.data.facilities[f].id.as_str()))
                    .collect(),
            ),
        );
    }
    for (id, acc) in baselines.profiles() {
        communes.push_column(
            Column::new(&format!("acc_{id}"), ColType::Real).described(format!(
                "Accessibilité potentielle (2SFCA), profil {id} : {}{}",
                acc.unit_label,
                acc.caveat
                    .as_deref()
                    .map(|c| format!(" — {c}"))
                    .unwrap_or_default()
            )),
            Values::Real(acc.values.iter().map(|v| v.map(|v| round(v, 4))).collect()),
        );
        let missing: Vec<Option<String>> = acc
            .missing
            .iter()
            .map(|m| m.map(|m| m.to_string()))
            .collect();
        communes.push_column(
            Column::new(&format!("acc_{id}_manque"), ColType::Text).described(format!(
                "Accessibilité {id} : pourquoi il n'y a pas de valeur — sites_sans_capacite:n (n sites de la zone de chalandise sans capacité connue), demande_voisine_inconnue:n, hors_couverture, demande_inconnue, sans_point_de_reference"
            )),
            Values::Text(missing.iter().map(Option::as_deref).collect()),
        );
    }
}

/// Kinds with a built layer: every built-in kind (their layers exist even when empty)
/// and the custom kinds present.
pub fn kinds_built(engine: &Engine) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = Kind::BUILTIN.to_vec();
    for k in engine.kinds.keys() {
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    kinds
}

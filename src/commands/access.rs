//! `accessibility`, `explain` and `zonage`: the 2SFCA per commune, its audit trail, and
//! APL classes against the doctors' zonage.

use std::io::Write;
use std::path::Path;

use anyhow::bail;

use careaccess::analysis::fca::Accessibility;
use careaccess::analysis::fca::zonage::ZonageValues;
use careaccess::analysis::request::AccessRequest;
use careaccess::analysis::{Engine, territory};
use careaccess::model::InseeCode;

use super::{Output, engine, matrix_for, num, profiles, supply_kind};
use crate::cli::{AccessArgs, AccessibilityArgs, ExplainArgs, ZonageArgs};

/// Loads what the profile an `AccessRequest` names reads (its kind of structure) and runs
/// it.
fn run(
    data_dir: &Path,
    req: &AccessRequest,
    args: Option<&AccessArgs>,
    params: Option<&Path>,
) -> anyhow::Result<(Engine, Accessibility)> {
    let profiles = profiles(data_dir, params)?;
    let (profile, model) = req.resolve(&profiles)?;
    let engine = engine(data_dir, supply_kind(profile))?;
    let matrix = matrix_for(model, args.and_then(|a| a.matrix.as_ref()), &engine)?;
    let acc = engine.accessibility(profile, req.supply, req.demand, model, matrix.as_ref())?;
    Ok((engine, acc))
}

pub fn accessibility(data_dir: &Path, args: &AccessibilityArgs) -> anyhow::Result<()> {
    let (engine, acc) = run(
        data_dir,
        &args.access.request(),
        Some(&args.access),
        args.access.params.as_deref(),
    )?;
    let mut w = Output::to(args.out.as_deref())?;
    // What was used, not the profile's defaults: the supply, demand and unit of this run.
    let params = serde_json::json!({
        "profile": acc.profile.id,
        "title": acc.profile.title,
        "unit": acc.unit_label,
        "steps": acc.profile.steps,
        "steps_in": acc.profile.unit,
        "supply": acc.supply,
        "supply_scale": acc.profile.supply_scale,
        "result_scale": acc.profile.result_scale,
        "demand": acc.demand,
        "model": acc.model,
        "caveat": acc.caveat,
        "formula": acc.formula,
        "missing": "a value is given only when every term is known: `manque` says why not",
        "build": engine.data.build_id,
    });
    writeln!(w, "# careaccess accessibility {params}")?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "code",
        "nom",
        "population",
        "demand",
        "accessibility",
        "manque",
    ])?;
    for (i, c) in engine.data.communes.iter().enumerate() {
        csv.write_record([
            c.code.to_string(),
            c.name.clone(),
            c.population.to_string(),
            acc.demand_values[i].map(|d| num(d, 3)).unwrap_or_default(),
            acc.values[i].map(|a| format!("{a:.6}")).unwrap_or_default(),
            acc.missing(i).map(|m| m.to_string()).unwrap_or_default(),
        ])?;
    }
    w.csv(csv)?;
    w.finish()?;
    eprintln!(
        "{} sites ({} without a known supply), {} commune–site pairs, {} communes with a value, {} unknown; unit: {}{}",
        acc.counts.sites,
        acc.counts.sites_without_supply,
        acc.counts.pairs,
        acc.counts.communes_with_value,
        acc.counts.communes - acc.counts.communes_with_value,
        acc.unit_label,
        acc.caveat
            .as_deref()
            .map(|c| format!(" — {c}"))
            .unwrap_or_default()
    );
    if let Some(t) = &args.territory {
        let territory = territory::resolve(&engine.data, t)?;
        let agg = engine.aggregate(&acc, &territory, args.threshold);
        eprintln!("{}", serde_json::to_string_pretty(&agg)?);
    }
    Ok(())
}

pub fn explain(data_dir: &Path, args: &ExplainArgs) -> anyhow::Result<()> {
    let code = InseeCode::parse(&args.commune)?;
    let (engine, acc) = run(
        data_dir,
        &args.access.request(),
        Some(&args.access),
        args.access.params.as_deref(),
    )?;
    let Some(i) = engine.data.commune_index(&code) else {
        bail!("{code} is not a commune of the data set");
    };
    let e = engine.explain(&acc, i);
    let mut o = Output::stdout();
    if args.json {
        o.json(&e)?;
        return o.finish();
    }
    writeln!(
        o,
        "{} {} — profile {} — model {} — unit {}",
        e.code, e.name, e.profile, e.model, e.unit_label
    )?;
    if let Some(c) = &e.caveat {
        writeln!(o, "  caveat: {c}")?;
    }
    writeln!(o, "  {}", e.formula)?;
    writeln!(
        o,
        "  demand P_i = {}",
        e.demand.map_or("–".into(), |d| format!("{d:.3}"))
    )?;
    if let Some(m) = &e.missing {
        writeln!(o, "  no value: {m}")?;
    }
    writeln!(
        o,
        "  {:<12} {:<34} {:>8} {:>7} {:>7} {:>10} {:>14} {:>12} {:>12}",
        "site", "nom", "km", "min", "w", "S_j", "Σ w·P", "R_j", "w·R_j"
    )?;
    for c in &e.contributions {
        writeln!(
            o,
            "  {:<12} {:<34} {:>8.2} {:>7.1} {:>7.4} {:>10} {:>14.1} {:>12.6} {:>12.6}",
            c.site_id,
            c.site_name.chars().take(34).collect::<String>(),
            c.distance_m / 1000.0,
            c.car_min,
            c.weight,
            c.supply
                .map_or("inconnue".to_owned(), |s| format!("{s:.1}")),
            c.demand_in_catchment,
            c.ratio.unwrap_or(f64::NAN),
            c.contribution
        )?;
    }
    match e.accessibility {
        Some(_) => writeln!(o, "  A_i = Σ w·R_j = {:.6}", e.sum)?,
        None => writeln!(o, "  A_i unknown (the known terms add up to {:.6})", e.sum)?,
    }
    o.finish()
}

pub fn zonage(data_dir: &Path, args: &ZonageArgs) -> anyhow::Result<()> {
    let (engine, acc) = if args.values == "ours" {
        let req = AccessRequest {
            profile: "mg".to_owned(),
            supply: None,
            demand: None,
            model: None,
        };
        let (engine, acc) = run(data_dir, &req, None, args.params.as_deref())?;
        (engine, Some(acc))
    } else {
        (engine(data_dir, [])?, None)
    };
    let territory = territory::resolve(&engine.data, &args.territory)?;
    let values = match &acc {
        Some(acc) => ZonageValues::Accessibility(acc),
        None => ZonageValues::DreesApl65,
    };
    let review = engine.zonage_review(values, &territory);
    let mut o = Output::stdout();
    if args.json {
        o.json(&review)?;
        return o.finish();
    }
    writeln!(
        o,
        "{} ({} {}) — values: {} — rule: {} — status: {}",
        review.territory_name,
        review.territory_type,
        review.territory_code,
        review.values,
        review.rule,
        review.status
    )?;
    for c in &review.caveats {
        writeln!(o, "  caveat: {c}")?;
    }
    writeln!(
        o,
        "  {:<12} {:<24} {:>8} {:>11}  accord",
        "classe", "zonage officiel", "communes", "population"
    )?;
    for c in &review.cells {
        writeln!(
            o,
            "  {:<12} {:<24} {:>8} {:>11}  {}",
            c.ours.map_or("manquante", |c| c.as_str()),
            c.official,
            c.communes,
            c.population,
            match c.agrees {
                Some(true) => "oui",
                Some(false) => "non",
                None => "non comparé",
            }
        )?;
    }
    let a = &review.agreement;
    let pct = |s: Option<f64>| s.map_or("–".to_owned(), |s| format!("{:.1} %", 100.0 * s));
    writeln!(
        o,
        "agreement: {} of {} communes ({}), {} of {} inhabitants ({})\n  rule: {}",
        a.communes_agree,
        a.communes_compared,
        pct(a.share_communes),
        a.population_agree,
        a.population_compared,
        pct(a.share_population),
        a.rule
    )?;
    o.finish()
}

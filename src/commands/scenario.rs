//! `scenario`: what opening, closing or resizing structures changes — nearest, coverage
//! and, with the kind's profile, accessibility.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use careaccess::analysis::fca::delta::AccessibilityDelta;
use careaccess::analysis::fca::missing::Missing;
use careaccess::analysis::scenario::NearestSite;
use careaccess::model::SupplySource;

use super::{Output, engine, matrix_for, profiles, supply_kind};
use crate::cli::ScenarioArgs;

pub fn scenario(data_dir: &Path, args: &ScenarioArgs) -> anyhow::Result<()> {
    let profiles = profiles(data_dir, args.params.as_deref())?;
    // The kind, and the supply of a profile named on the command line (the default
    // profile is the kind's own).
    let named = args
        .profile
        .as_deref()
        .and_then(|p| profiles.get(p))
        .and_then(supply_kind);
    let engine = engine(
        data_dir,
        [Some(args.kind.as_str()), named].into_iter().flatten(),
    )?;
    let req = args.request(&engine)?;
    let matrix = matrix_for(req.model, args.model.matrix.as_ref(), &engine)?;
    let baseline = engine.nearest_per_commune(&req.kind, req.model, matrix.as_ref());
    let mut r = engine.scenario(&req.kind, &req.changes, req.model, req.threshold, &baseline)?;
    if let Some(t) = &req.territory {
        r = r.with_inside(t);
    }
    match req.profile.resolve(&profiles, &req.kind)? {
        Some(profile) => {
            let model = req.profile_model(profile);
            let matrix = matrix
                .as_ref()
                .filter(|_| model == careaccess::analysis::DistanceModel::Matrix);
            let acc = engine.accessibility(profile, req.supply, req.demand, model, matrix)?;
            let delta = engine
                .scenario_accessibility(&req.kind, &req.changes, &acc, matrix)
                .with_context(|| {
                    format!(
                        "accessibility deltas with profile {:?} (--profile none skips them)",
                        acc.profile.id
                    )
                })?;
            r.accessibility = Some(delta);
        }
        None if args.profile.is_none() => eprintln!(
            "note: no accessibility profile for kind {} (choose one with --profile): accessibility deltas skipped",
            req.kind
        ),
        None => {}
    }
    let mut o = Output::stdout();
    if args.json {
        o.json(&r)?;
        return o.finish();
    }
    writeln!(
        o,
        "scenario on {} — model {} — threshold {}: {} inhabitants newly within, {} no longer within; {} communes change nearest structure",
        r.kind,
        r.model,
        r.threshold.label(),
        r.population_newly_within,
        r.population_no_longer_within,
        r.nearest_changed.len()
    )?;
    if let Some(t) = &r.inside {
        writeln!(
            o,
            "  inside {} {} ({}): +{} / -{} inhabitants, {} communes change nearest structure",
            t.territory_type,
            t.code,
            t.name,
            t.population_newly_within,
            t.population_no_longer_within,
            t.communes_nearest_changed
        )?;
    }
    if r.population_out_of_scope > 0 {
        writeln!(
            o,
            "  non couvert: {} inhabitants of {} communes within the threshold are where the list of {} does not speak (left out)",
            r.population_out_of_scope,
            r.out_of_scope.len(),
            r.kind
        )?;
    }
    for t in &r.territories {
        writeln!(
            o,
            "  {} {:<12} {:<40} +{} / -{} inhabitants, {} communes{}",
            t.territory_type,
            t.code,
            t.name,
            t.population_newly_within,
            t.population_no_longer_within,
            t.communes_nearest_changed,
            if t.population_out_of_scope > 0 {
                format!(
                    " (non couvert: {} inhabitants left out)",
                    t.population_out_of_scope
                )
            } else {
                String::new()
            }
        )?;
    }
    let show = |s: &Option<NearestSite>| {
        s.as_ref().map_or("(aucune)".to_owned(), |s| {
            format!("{} à {:.1} km", s.name, s.trip.distance_m / 1000.0)
        })
    };
    for c in r.nearest_changed.iter().take(30) {
        writeln!(
            o,
            "    {} {:<30} {:>7} hab.  {} → {}",
            c.code,
            c.nom,
            c.population,
            show(&c.before),
            show(&c.after)
        )?;
    }
    if let Some(a) = &r.accessibility {
        print_accessibility_delta(&mut o, a)?;
    }
    o.finish()
}

fn print_accessibility_delta(o: &mut Output, a: &AccessibilityDelta) -> anyhow::Result<()> {
    let supply = match &a.supply {
        SupplySource::Facilities { per_site, .. } => per_site.as_str(),
        SupplySource::CommuneIndicator { commune_indicator } => commune_indicator,
    };
    writeln!(
        o,
        "accessibility (2SFCA) — profile {} — {} — supply {}, demand {}, model {} — unit: {}",
        a.profile,
        a.measure,
        supply,
        a.demand.as_str(),
        a.model,
        a.unit_label
    )?;
    if let Some(c) = &a.caveat {
        writeln!(o, "  caveat: {c}")?;
    }
    let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.4}"));
    for s in &a.sites {
        writeln!(
            o,
            "  site {:<14} {:<30} S {} → {}, Σ w·P {:.1}, R {} → {}, {} communes",
            s.id,
            s.name.chars().take(30).collect::<String>(),
            opt(s.supply_before),
            opt(s.supply_after),
            s.demand_in_catchment,
            opt(s.ratio_before),
            opt(s.ratio_after),
            s.communes_reached
        )?;
    }
    for t in &a.territories {
        writeln!(
            o,
            "  {} {:<12} {:<40} mean {} → {} ({}), {} communes changed",
            t.territory_type,
            t.code,
            t.name,
            opt(t.before.mean),
            opt(t.after.mean),
            t.delta_mean.map_or("–".to_owned(), |d| format!("{d:+.4}")),
            t.communes_changed
        )?;
    }
    let value = |v: Option<f64>, m: &Option<Missing>| match (v, m) {
        (Some(v), _) => format!("{v:.4}"),
        (None, Some(m)) => format!("inconnue ({m})"),
        (None, None) => "inconnue".to_owned(),
    };
    for c in a.communes.iter().take(30) {
        writeln!(
            o,
            "    {} {:<30} {:>7} hab.  {} → {} ({})",
            c.code,
            c.nom,
            c.population,
            value(c.before, &c.missing_before),
            value(c.after, &c.missing_after),
            c.delta.map_or("–".to_owned(), |d| format!("{d:+.4}"))
        )?;
    }
    for n in &a.notes {
        writeln!(o, "  note: {n}")?;
    }
    Ok(())
}

//! `nearest`, `coverage` and `siting`: distances to the nearest structure of a kind.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use careaccess::analysis::request::{self, DEFAULT_MODEL, Origin};

use super::{Output, engine, matrix_for, num, push_num};
use crate::cli::{CoverageArgs, NearestArgs, SitingArgs};

pub fn nearest(data_dir: &Path, args: &NearestArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir, [args.kind.as_str()])?;
    let kind = request::kind(&engine, "kind", &args.kind)?;
    let from_point = args.point_request(&engine)?;
    let model = args.model.model.unwrap_or(DEFAULT_MODEL);
    let matrix = matrix_for(model, args.model.matrix.as_ref(), &engine)?;
    let mut w = Output::to(args.out.as_deref())?;
    let partial = engine.data.facilities_of(&kind).any(|f| f.partial_list);
    // From a point: whether the kind's list speaks at the commune the point stands for.
    let outside = from_point.as_ref().is_some_and(|req| match req.origin {
        Origin::Point(p) => engine
            .commune_at(&p)
            .is_some_and(|c| !engine.data.in_scope(&kind, c)),
        Origin::Commune(c) => !engine.data.in_scope(&kind, c),
    });
    writeln!(
        w,
        "# careaccess nearest kind={kind} model={model} build={}{}",
        engine.data.build_id,
        if outside {
            " caveat=hors_couverture (the list of this kind does not cover this département: nearer structures may exist)"
        } else if partial {
            " caveat=liste_partielle (some structures of this kind come from lists known to be incomplete)"
        } else {
            ""
        }
    )?;
    let mut csv = csv::Writer::from_writer(&mut w);
    if let Some(req) = from_point {
        let Origin::Point(p) = req.origin else {
            anyhow::bail!("--lon and --lat name a point")
        };
        csv.write_record([
            "rank",
            "id",
            "nom",
            "kind",
            "commune",
            "distance_m",
            "road_km",
            "car_min",
        ])?;
        for (rank, r) in engine
            .nearest_from(&p, &kind, req.k, req.model, matrix.as_ref(), None)
            .iter()
            .enumerate()
        {
            let f = &engine.data.facilities[r.facility];
            csv.write_record([
                (rank + 1).to_string(),
                f.id.clone(),
                f.name.clone(),
                f.kind.to_string(),
                f.commune
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                num(r.trip.distance_m, 0),
                num(r.trip.road_km, 2),
                num(r.trip.car_min, 1),
            ])?;
        }
    } else {
        csv.write_record([
            "code",
            "nom",
            "population",
            "kind",
            "nearest_id",
            "nearest_name",
            "distance_m",
            "road_km",
            "car_min",
            "manque",
        ])?;
        let all = engine.nearest_per_commune(&kind, model, matrix.as_ref());
        // Numbers formatted into buffers reused from row to row.
        let mut numbers = [String::new(), String::new(), String::new(), String::new()];
        for n in all {
            let c = &engine.data.communes[n.commune];
            let f = n.facility.map(|i| &engine.data.facilities[i]);
            for b in &mut numbers {
                b.clear();
            }
            let [pop, dist, road, min] = &mut numbers;
            write!(pop, "{}", c.population)?;
            if let Some(t) = n.trip {
                push_num(dist, t.distance_m, 0);
                push_num(road, t.road_km, 2);
                push_num(min, t.car_min, 1);
            }
            csv.write_record([
                c.code.as_str(),
                &c.name,
                pop,
                kind.as_str(),
                f.map_or("", |f| f.id.as_str()),
                f.map_or("", |f| f.name.as_str()),
                dist,
                road,
                min,
                n.missing.map_or("", |m| m.code()),
            ])?;
        }
    }
    csv.flush()?;
    drop(csv);
    w.finish()
}

pub fn coverage(data_dir: &Path, args: &CoverageArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir, [args.kind.as_str()])?;
    let req = args.request(&engine)?;
    let matrix = matrix_for(req.model, args.model.matrix.as_ref(), &engine)?;
    let nearest = engine.nearest_per_commune(&req.kind, req.model, matrix.as_ref());
    let cov = engine.coverage(
        &req.territory,
        &req.kind,
        req.model,
        &nearest,
        &req.bands,
        req.underserved,
    );
    let mut o = Output::stdout();
    if args.json {
        o.json(&cov)?;
        return o.finish();
    }
    writeln!(
        o,
        "{} ({} {}) — {} — model {} — {} communes, {} inhabitants",
        cov.territory_name,
        cov.territory_type,
        cov.territory_code,
        cov.kind,
        cov.model,
        cov.communes,
        cov.population
    )?;
    if cov.communes_out_of_scope > 0 {
        writeln!(
            o,
            "  non couvert: {} communes, {} inhabitants where the list of {} does not speak (left out of every figure)",
            cov.communes_out_of_scope, cov.population_out_of_scope, cov.kind
        )?;
    }
    if cov.communes == 0 {
        writeln!(
            o,
            "  no figure: the list of {} does not cover this territory",
            cov.kind
        )?;
        return o.finish();
    }
    for b in &cov.bands {
        writeln!(
            o,
            "  within {:>7}: {:>9} inhabitants ({})",
            b.threshold.label(),
            b.population_within,
            percent(b.share_within)
        )?;
    }
    if cov.population_no_structure > 0 {
        writeln!(
            o,
            "  {} inhabitants with no {} reachable by road (none on their island): beyond every threshold",
            cov.population_no_structure, cov.kind
        )?;
    }
    if cov.population_unknown > 0 {
        writeln!(
            o,
            "  {} inhabitants of communes without a reference point: beyond every threshold, no distance",
            cov.population_unknown
        )?;
    }
    if let Some(d) = cov.mean_distance_m {
        writeln!(
            o,
            "  population-weighted mean distance {:.1} km, max {:.1} km",
            d / 1000.0,
            cov.max_distance_m.unwrap_or(0.0) / 1000.0
        )?;
    }
    writeln!(
        o,
        "  communes beyond {} ({}):",
        cov.underserved_threshold.label(),
        cov.underserved.len()
    )?;
    for u in &cov.underserved {
        writeln!(
            o,
            "    {} {:<30} {:>7} hab.  {:>6} km  {:>5} min  {}",
            u.code,
            u.nom,
            u.population,
            u.distance_m
                .map_or("–".into(), |d| format!("{:.1}", d / 1000.0)),
            u.car_min.map_or("–".into(), |m| format!("{m:.0}")),
            u.nearest_name.as_deref().unwrap_or("(aucune structure)")
        )?;
    }
    o.finish()
}

pub fn siting(data_dir: &Path, args: &SitingArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir, [args.kind.as_str()])?;
    let req = args.request(&engine)?;
    let matrix = matrix_for(req.model, args.model.matrix.as_ref(), &engine)?;
    let baseline = engine.nearest_per_commune(&req.kind, req.model, matrix.as_ref());
    let s = engine.siting(
        &req.territory,
        &req.kind,
        req.k,
        req.threshold,
        req.model,
        &baseline,
    );
    let mut o = Output::stdout();
    if args.json {
        o.json(&s)?;
        return o.finish();
    }
    writeln!(
        o,
        "{} — {} within {} — {} inhabitants, {} within today",
        s.territory_name,
        s.kind,
        s.threshold.label(),
        s.population,
        percent(s.share_within_before)
    )?;
    if s.communes_out_of_scope > 0 {
        writeln!(
            o,
            "  non couvert: {} communes, {} inhabitants where the list of {} does not speak (left out)",
            s.communes_out_of_scope, s.population_out_of_scope, s.kind
        )?;
    }
    for p in &s.picks {
        writeln!(
            o,
            "  {}. {} {:<30} ({:.5}, {:.5})  +{} inhabitants ({} communes) → {}",
            p.rank,
            p.code,
            p.nom,
            p.lon,
            p.lat,
            p.marginal_population,
            p.communes_covered,
            percent(p.share_within_after)
        )?;
    }
    if s.population == 0 && s.communes_out_of_scope > 0 {
        writeln!(
            o,
            "  no suggestion: the list of {} does not cover this territory",
            s.kind
        )?;
    } else if s.picks.is_empty() {
        writeln!(o, "  no site would bring anyone new within the threshold")?;
    }
    o.finish()
}

/// A share as a percentage, or a dash where there is none.
fn percent(share: Option<f64>) -> String {
    share.map_or("–".into(), |s| format!("{:>5.1} %", 100.0 * s))
}

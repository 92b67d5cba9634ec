//! Analysis commands of the CLI: load the data set, run an analysis, print or write it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use careaccess::analysis::coverage::{DEFAULT_KM, DEFAULT_MIN, Threshold};
use careaccess::analysis::{DistanceModel, Engine, TravelMatrix, territory};
use careaccess::geodesy::GeoPoint;
use careaccess::import::load::{LoadOptions, load};
use careaccess::model::InseeCode;

use crate::cli::{
    AccessArgs, AccessibilityArgs, CoverageArgs, ExplainArgs, ModelArgs, NearestArgs, ScenarioArgs,
    SitingArgs, ThresholdArgs, ZonageArgs,
};
use careaccess::analysis::accessibility::{self, Accessibility, StepUnit, ZonageValues};
use careaccess::analysis::scenario::Change;

pub fn engine(data_dir: &Path) -> anyhow::Result<Engine> {
    let data = load(data_dir, LoadOptions::default()).with_context(|| {
        format!(
            "loading the built data of {} (run `careaccess data build`?)",
            data_dir.display()
        )
    })?;
    Ok(Engine::new(data))
}

/// Reads a travel-time table `from,to,minutes` given on the command line; rows with
/// unknown communes or bad minutes are counted and reported.
pub fn read_matrix(path: &Path, engine: &Engine) -> anyhow::Result<TravelMatrix> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut report = careaccess::import::SourceReport {
        id: path.display().to_string(),
        ..Default::default()
    };
    let known = |c: &InseeCode| {
        engine
            .data
            .commune_index(c)
            .map(|_| c.clone())
            .ok_or_else(|| format!("{c} is not a commune of the data set"))
    };
    let m = careaccess::import::indicators::read_matrix_csv(
        std::io::BufReader::new(file),
        b',',
        known,
        &mut report,
    )?;
    if report.skipped_total() > 0 {
        let lines: Vec<String> = report
            .skipped_rows
            .iter()
            .take(20)
            .map(|s| format!("line {}: {}", s.line, s.detail))
            .collect();
        eprintln!(
            "warning: {}: {} rows skipped ({:?}): {}",
            path.display(),
            report.skipped_total(),
            report.skipped,
            lines.join("; ")
        );
    }
    if m.is_empty() {
        bail!("{}: no usable row", path.display());
    }
    Ok(m)
}

/// The travel-time table for `--model matrix`: `--matrix FILE`, else the one built from
/// `sources.toml` (role `travel_matrix`).
fn matrix_for(args: &ModelArgs, engine: &Engine) -> anyhow::Result<Option<TravelMatrix>> {
    match (args.model, &args.matrix) {
        (DistanceModel::Matrix, Some(p)) => Ok(Some(read_matrix(p, engine)?)),
        (DistanceModel::Matrix, None) => match &engine.data.travel_matrix {
            Some(m) => Ok(Some(m.clone())),
            None => bail!(
                "--model matrix needs a travel-time table: declare one in sources.toml \
                 (role = \"travel_matrix\", format = \"matrix_csv\") or pass --matrix FILE (CSV from,to,minutes)"
            ),
        },
        (_, Some(_)) => bail!("--matrix is only used with --model matrix"),
        _ => Ok(None),
    }
}

fn output(out: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

fn num(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

pub fn nearest(data_dir: &Path, args: &NearestArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir)?;
    let matrix = matrix_for(&args.model, &engine)?;
    let model = args.model.model;
    if !engine.kinds.contains_key(&args.kind) {
        let kinds: Vec<String> = engine.kinds.keys().map(|k| k.to_string()).collect();
        bail!(
            "no structure of kind {} in the data (kinds: {})",
            args.kind,
            kinds.join(", ")
        );
    }
    let mut w = output(args.out.as_deref())?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let partial = engine
        .data
        .facilities_of(&args.kind)
        .any(|f| f.partial_list);
    writeln!(
        w,
        "# careaccess nearest kind={} model={} build={}{}",
        args.kind,
        model,
        engine.data.build_id,
        if partial {
            " caveat=liste_partielle (some structures of this kind come from lists known to be incomplete)"
        } else {
            ""
        }
    )?;
    if let (Some(lon), Some(lat)) = (args.lon, args.lat) {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            bail!("--lon {lon} --lat {lat} is not a WGS84 longitude/latitude");
        }
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
        let p = GeoPoint::new(lon, lat);
        for (rank, r) in engine
            .nearest_from(&p, &args.kind, args.k, model, matrix.as_ref(), None)
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
        ])?;
        for n in engine.nearest_per_commune(&args.kind, model, matrix.as_ref()) {
            let c = &engine.data.communes[n.commune];
            let f = n.facility.map(|i| &engine.data.facilities[i]);
            csv.write_record([
                c.code.to_string(),
                c.name.clone(),
                c.population.to_string(),
                args.kind.to_string(),
                f.map(|f| f.id.clone()).unwrap_or_default(),
                f.map(|f| f.name.clone()).unwrap_or_default(),
                n.trip.map(|t| num(t.distance_m, 0)).unwrap_or_default(),
                n.trip.map(|t| num(t.road_km, 2)).unwrap_or_default(),
                n.trip.map(|t| num(t.car_min, 1)).unwrap_or_default(),
            ])?;
        }
    }
    w.write_all(&csv.into_inner()?)?;
    w.flush()?;
    Ok(())
}

pub fn coverage(data_dir: &Path, args: &CoverageArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir)?;
    let matrix = matrix_for(&args.model, &engine)?;
    let model = args.model.model;
    let territory = territory::resolve(&engine.data, &args.territory)?;
    let nearest = engine.nearest_per_commune(&args.kind, model, matrix.as_ref());
    let mut thresholds: Vec<Threshold> = DEFAULT_KM.iter().map(|&k| Threshold::Km(k)).collect();
    thresholds.extend(DEFAULT_MIN.iter().map(|&m| Threshold::Minutes(m)));
    let under = threshold(&args.threshold)?;
    if !thresholds.contains(&under) {
        thresholds.push(under);
    }
    let cov = engine.coverage(&territory, &args.kind, model, &nearest, &thresholds, under);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cov)?);
        return Ok(());
    }
    println!(
        "{} ({} {}) — {} — model {} — {} communes, {} inhabitants",
        cov.territory_name,
        cov.territory_type,
        cov.territory_code,
        cov.kind,
        cov.model,
        cov.communes,
        cov.population
    );
    for b in &cov.bands {
        println!(
            "  within {:>7}: {:>9} inhabitants ({:>5.1} %)",
            b.threshold.label(),
            b.population_within,
            100.0 * b.share_within
        );
    }
    if let Some(d) = cov.mean_distance_m {
        println!(
            "  population-weighted mean distance {:.1} km, max {:.1} km",
            d / 1000.0,
            cov.max_distance_m.unwrap_or(0.0) / 1000.0
        );
    }
    println!(
        "  communes beyond {} ({}):",
        cov.underserved_threshold.label(),
        cov.underserved.len()
    );
    for u in &cov.underserved {
        println!(
            "    {} {:<30} {:>7} hab.  {:>6} km  {:>5} min  {}",
            u.code,
            u.nom,
            u.population,
            u.distance_m
                .map_or("–".into(), |d| format!("{:.1}", d / 1000.0)),
            u.car_min.map_or("–".into(), |m| format!("{m:.0}")),
            u.nearest_name.as_deref().unwrap_or("(aucune structure)")
        );
    }
    Ok(())
}

fn threshold(args: &ThresholdArgs) -> anyhow::Result<Threshold> {
    match (args.within_km, args.within_min) {
        (_, Some(m)) if m.is_finite() && m >= 0.0 => Ok(Threshold::Minutes(m)),
        (Some(k), None) if k.is_finite() && k >= 0.0 => Ok(Threshold::Km(k)),
        (None, None) => Ok(Threshold::Km(10.0)),
        _ => bail!("--within-km / --within-min must be a number ≥ 0"),
    }
}

fn parse_changes(args: &ScenarioArgs) -> anyhow::Result<Vec<Change>> {
    let mut changes = Vec::new();
    for a in &args.add {
        let parts: Vec<&str> = a.split(',').map(str::trim).collect();
        let num = |s: &str| {
            s.parse::<f64>()
                .with_context(|| format!("--add {a:?}: {s:?} is not a number"))
        };
        let (lon, lat, capacity) = match parts.as_slice() {
            [lon, lat] => (num(lon)?, num(lat)?, None),
            [lon, lat, cap] => (num(lon)?, num(lat)?, Some(num(cap)?)),
            _ => bail!("--add {a:?} must be LON,LAT or LON,LAT,CAPACITY"),
        };
        changes.push(Change::Add {
            lon,
            lat,
            name: None,
            capacity,
        });
    }
    changes.extend(
        args.remove
            .iter()
            .map(|id| Change::Remove { id: id.clone() }),
    );
    for r in &args.resize {
        let (id, cap) = r
            .split_once('=')
            .with_context(|| format!("--resize {r:?} must be ID=CAPACITY"))?;
        let capacity = cap
            .trim()
            .parse::<f64>()
            .with_context(|| format!("--resize {r:?}: {cap:?} is not a number"))?;
        changes.push(Change::Resize {
            id: id.trim().to_owned(),
            capacity,
        });
    }
    if changes.is_empty() {
        bail!("a scenario needs at least one --add, --remove or --resize");
    }
    Ok(changes)
}

pub fn scenario(data_dir: &Path, args: &ScenarioArgs) -> anyhow::Result<()> {
    let changes = parse_changes(args)?;
    let threshold = threshold(&args.threshold)?;
    let engine = engine(data_dir)?;
    let matrix = matrix_for(&args.model, &engine)?;
    let model = args.model.model;
    let baseline = engine.nearest_per_commune(&args.kind, model, matrix.as_ref());
    let mut r = engine.scenario(&args.kind, &changes, model, threshold, &baseline)?;
    if let Some(acc) = scenario_baseline_accessibility(&engine, data_dir, args, matrix.as_ref())? {
        let delta = engine
            .scenario_accessibility(&args.kind, &changes, &acc, matrix.as_ref())
            .with_context(|| {
                format!(
                    "accessibility deltas with profile {:?} (--profile none skips them)",
                    acc.profile.id
                )
            })?;
        r.accessibility = Some(delta);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "scenario on {} — model {} — threshold {}: {} inhabitants newly within, {} no longer within; {} communes change nearest structure",
        r.kind,
        r.model,
        r.threshold.label(),
        r.population_newly_within,
        r.population_no_longer_within,
        r.nearest_changed.len()
    );
    for t in &r.territories {
        println!(
            "  {} {:<12} {:<40} +{} / -{} inhabitants, {} communes",
            t.territory_type,
            t.code,
            t.name,
            t.population_newly_within,
            t.population_no_longer_within,
            t.communes_nearest_changed
        );
    }
    for c in r.nearest_changed.iter().take(30) {
        let show = |s: &Option<careaccess::analysis::scenario::NearestSite>| {
            s.as_ref().map_or("(aucune)".to_owned(), |s| {
                format!("{} à {:.1} km", s.name, s.trip.distance_m / 1000.0)
            })
        };
        println!(
            "    {} {:<30} {:>7} hab.  {} → {}",
            c.code,
            c.nom,
            c.population,
            show(&c.before),
            show(&c.after)
        );
    }
    if let Some(a) = &r.accessibility {
        print_accessibility_delta(a);
    }
    Ok(())
}

/// The baseline accessibility of a scenario: `--profile`, else the profile named after
/// the kind when its supply is that kind; `None` when there is none (or `--profile none`).
fn scenario_baseline_accessibility(
    engine: &Engine,
    data_dir: &Path,
    args: &ScenarioArgs,
    matrix: Option<&TravelMatrix>,
) -> anyhow::Result<Option<Accessibility>> {
    if args.profile.as_deref() == Some("none") {
        return Ok(None);
    }
    let profiles = profiles(data_dir, args.params.as_deref())?;
    let profile = match &args.profile {
        Some(id) => accessibility::profile(&profiles, id)?,
        None => match profiles.get(args.kind.as_str()).filter(|p| {
            matches!(&p.supply, accessibility::SupplySource::Facilities { kind, .. } if *kind == args.kind)
        }) {
            Some(p) => p,
            None => {
                eprintln!(
                    "note: no accessibility profile for kind {} (choose one with --profile): accessibility deltas skipped",
                    args.kind
                );
                return Ok(None);
            }
        },
    };
    // The scenario's model when it fits the profile's unit, else the profile's default.
    let model = match (profile.unit, args.model.model) {
        (StepUnit::Km, m @ (DistanceModel::Straight | DistanceModel::RoadEstimate)) => m,
        (StepUnit::Km, DistanceModel::Matrix) => DistanceModel::Straight,
        (StepUnit::Minutes, m @ (DistanceModel::RoadEstimate | DistanceModel::Matrix)) => m,
        (StepUnit::Minutes, DistanceModel::Straight) => DistanceModel::RoadEstimate,
    };
    let matrix = matrix.filter(|_| model == DistanceModel::Matrix);
    Ok(Some(engine.accessibility(
        profile,
        args.supply,
        args.demand,
        model,
        matrix,
    )?))
}

fn print_accessibility_delta(a: &careaccess::analysis::scenario::AccessibilityDelta) {
    let supply = match &a.supply {
        accessibility::SupplySource::Facilities { per_site, .. } => per_site.as_str(),
        accessibility::SupplySource::CommuneIndicator { commune_indicator } => commune_indicator,
    };
    println!(
        "accessibility (2SFCA) — profile {} — {} — supply {}, demand {}, model {} — unit: {}",
        a.profile,
        a.measure,
        supply,
        a.demand.as_str(),
        a.model,
        a.unit_label
    );
    if let Some(c) = &a.caveat {
        println!("  caveat: {c}");
    }
    let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.4}"));
    for s in &a.sites {
        println!(
            "  site {:<14} {:<30} S {} → {}, Σ w·P {:.1}, R {} → {}, {} communes",
            s.id,
            s.name.chars().take(30).collect::<String>(),
            opt(s.supply_before),
            opt(s.supply_after),
            s.demand_in_catchment,
            opt(s.ratio_before),
            opt(s.ratio_after),
            s.communes_reached
        );
    }
    for t in &a.territories {
        println!(
            "  {} {:<12} {:<40} mean {} → {} ({}), {} communes changed",
            t.territory_type,
            t.code,
            t.name,
            opt(t.before.mean),
            opt(t.after.mean),
            t.delta_mean.map_or("–".to_owned(), |d| format!("{d:+.4}")),
            t.communes_changed
        );
    }
    for c in a.communes.iter().take(30) {
        println!(
            "    {} {:<30} {:>7} hab.  {:.4} → {:.4} ({:+.4})",
            c.code, c.nom, c.population, c.before, c.after, c.delta
        );
    }
    for n in &a.notes {
        println!("  note: {n}");
    }
}

pub fn siting(data_dir: &Path, args: &SitingArgs) -> anyhow::Result<()> {
    let threshold = threshold(&args.threshold)?;
    let engine = engine(data_dir)?;
    let matrix = matrix_for(&args.model, &engine)?;
    let model = args.model.model;
    let territory = territory::resolve(&engine.data, &args.territory)?;
    let baseline = engine.nearest_per_commune(&args.kind, model, matrix.as_ref());
    let s = engine.siting(&territory, &args.kind, args.k, threshold, model, &baseline);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!(
        "{} — {} within {} — {} inhabitants, {:.1} % within today",
        s.territory_name,
        s.kind,
        s.threshold.label(),
        s.population,
        100.0 * s.share_within_before
    );
    for p in &s.picks {
        println!(
            "  {}. {} {:<30} ({:.5}, {:.5})  +{} inhabitants ({} communes) → {:.1} %",
            p.rank,
            p.code,
            p.nom,
            p.lon,
            p.lat,
            p.marginal_population,
            p.communes_covered,
            100.0 * p.share_within_after
        );
    }
    if s.picks.is_empty() {
        println!("  no site would bring anyone new within the threshold");
    }
    Ok(())
}

/// Loads the profiles: `--params`, else `<data-dir>/accessibility.toml`, else built in.
fn profiles(
    data_dir: &Path,
    params: Option<&Path>,
) -> anyhow::Result<std::collections::BTreeMap<String, accessibility::Profile>> {
    let default = data_dir.join("accessibility.toml");
    Ok(match params {
        Some(p) => accessibility::read_profiles(p)?,
        None if default.exists() => accessibility::read_profiles(&default)?,
        None => accessibility::builtin_profiles()?,
    })
}

fn run_accessibility(
    engine: &Engine,
    data_dir: &Path,
    args: &AccessArgs,
) -> anyhow::Result<Accessibility> {
    let profiles = profiles(data_dir, args.params.as_deref())?;
    let profile = accessibility::profile(&profiles, &args.kind)?;
    let model = args.model.unwrap_or(match profile.unit {
        StepUnit::Minutes => DistanceModel::RoadEstimate,
        StepUnit::Km => DistanceModel::Straight,
    });
    let model_args = ModelArgs {
        model,
        matrix: args.matrix.clone(),
    };
    let matrix = matrix_for(&model_args, engine)?;
    Ok(engine.accessibility(profile, args.supply, args.demand, model, matrix.as_ref())?)
}

pub fn accessibility(data_dir: &Path, args: &AccessibilityArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir)?;
    let acc = run_accessibility(&engine, data_dir, &args.access)?;
    let mut w = output(args.out.as_deref())?;
    let params = serde_json::json!({
        "profile": acc.profile,
        "supply": acc.supply,
        "demand": acc.demand,
        "model": acc.model,
        "unit": acc.unit_label,
        "caveat": acc.caveat,
        "formula": acc.formula,
        "build": engine.data.build_id,
    });
    writeln!(w, "# careaccess accessibility {params}")?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["code", "nom", "population", "demand", "accessibility"])?;
    for (i, c) in engine.data.communes.iter().enumerate() {
        csv.write_record([
            c.code.to_string(),
            c.name.clone(),
            c.population.to_string(),
            acc.demand_values[i].map(|d| num(d, 3)).unwrap_or_default(),
            acc.values[i].map(|a| format!("{a:.6}")).unwrap_or_default(),
        ])?;
    }
    w.write_all(&csv.into_inner()?)?;
    w.flush()?;
    eprintln!(
        "{} sites ({} left out), {} commune–site pairs; unit: {}{}",
        acc.counts.sites,
        acc.counts.sites_left_out,
        acc.counts.pairs,
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
    let engine = engine(data_dir)?;
    let code = InseeCode::parse(&args.commune)?;
    let Some(i) = engine.data.commune_index(&code) else {
        bail!("{code} is not a commune of the data set");
    };
    let acc = run_accessibility(&engine, data_dir, &args.access)?;
    let e = engine.explain(&acc, i);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!(
        "{} {} — profile {} — model {} — unit {}",
        e.code, e.name, e.profile, e.model, e.unit_label
    );
    if let Some(c) = &e.caveat {
        println!("  caveat: {c}");
    }
    println!("  {}", e.formula);
    println!(
        "  demand P_i = {}",
        e.demand.map_or("–".into(), |d| format!("{d:.3}"))
    );
    println!(
        "  {:<12} {:<34} {:>8} {:>7} {:>7} {:>10} {:>14} {:>12} {:>12}",
        "site", "nom", "km", "min", "w", "S_j", "Σ w·P", "R_j", "w·R_j"
    );
    for c in &e.contributions {
        println!(
            "  {:<12} {:<34} {:>8.2} {:>7.1} {:>7.4} {:>10.1} {:>14.1} {:>12.6} {:>12.6}",
            c.site_id,
            c.site_name.chars().take(34).collect::<String>(),
            c.distance_m / 1000.0,
            c.car_min,
            c.weight,
            c.supply,
            c.demand_in_catchment,
            c.ratio.unwrap_or(f64::NAN),
            c.contribution
        );
    }
    println!("  A_i = Σ w·R_j = {:.6}", e.sum);
    Ok(())
}

pub fn zonage(data_dir: &Path, args: &ZonageArgs) -> anyhow::Result<()> {
    let engine = engine(data_dir)?;
    let territory = territory::resolve(&engine.data, &args.territory)?;
    let acc;
    let values = if args.values == "ours" {
        let a = AccessArgs {
            kind: "mg".into(),
            supply: None,
            demand: None,
            model: None,
            matrix: None,
            params: args.params.clone(),
        };
        acc = run_accessibility(&engine, data_dir, &a)?;
        ZonageValues::Accessibility(&acc)
    } else {
        ZonageValues::DreesApl65
    };
    let review = engine.zonage_review(values, &territory);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&review)?);
        return Ok(());
    }
    println!(
        "{} ({} {}) — values: {} — rule: {} — status: {}",
        review.territory_name,
        review.territory_type,
        review.territory_code,
        review.values,
        review.rule,
        review.status
    );
    for c in &review.caveats {
        println!("  caveat: {c}");
    }
    println!("{}", serde_json::to_string_pretty(&review.cells)?);
    println!("agreement: {}", serde_json::to_string(&review.agreement)?);
    Ok(())
}

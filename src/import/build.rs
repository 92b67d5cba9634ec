//! `careaccess data build`: every fetched source → `geodata/builds/<id>/*.fgb`, then
//! `geodata/current` is switched to the new build in one atomic rename.
//!
//! A build that fails or is killed leaves `current` (and so every file served or read
//! through `geodata/*.fgb`) untouched: the new files are written in a staging folder
//! that only becomes visible, whole, at the final rename.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use flatgeobuf::GeometryType;
use geo::MultiPolygon;

use crate::model::{Facility, InseeCode, Kind};
use crate::store::fgb::{self, Cell, ColType, Column, Layer};
use crate::store::layout::{
    COMMUNE_POINTS_LAYER, COMMUNES_LAYER, REPORT_FILE, TRAVEL_MATRIX_FILE, layer_file,
};
use crate::store::{DatasetMeta, SourceMeta, Staging};

use super::communes::{self, Cog, Contours};
use super::fetch::{FetchManifest, rfc3339_utc};
use super::indicators::{self, IndicatorTable};
use super::locate::Locator;
use super::{
    BuildReport, Format, ImportError, Manifest, Role, SourceReport, SourceSpec, checks, finess,
    points, reclassify, scope, zones,
};

/// What was built.
#[derive(Debug)]
pub struct Built {
    pub dir: PathBuf,
    pub report: BuildReport,
}

/// Builds the data set from the fetched sources and makes it current (refused if a
/// source shrank: see [`build_with`]).
pub fn build(manifest: &Manifest, data_dir: &Path) -> Result<Built, ImportError> {
    build_with(manifest, data_dir, false)
}

/// [`build`]; with `allow_shrink`, a source may read more than 20 % fewer rows than in
/// the build served (else an error: a file cut short?).
pub fn build_with(
    manifest: &Manifest,
    data_dir: &Path,
    allow_shrink: bool,
) -> Result<Built, ImportError> {
    let previous = checks::previous_report(data_dir);
    let fetched = FetchManifest::read(data_dir)?;
    // Unique even for two builds of one process within a second.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let build_id = rfc3339_utc(std::time::SystemTime::now()).replace([':', '-'], "")
        + &format!("-{seq}-{}", std::process::id());
    let staging = Staging::begin(data_dir, &build_id)?;
    let report = match build_into(manifest, data_dir, &fetched, &staging.dir, &build_id)
        .and_then(|r| checks::no_shrink(previous.as_ref(), &r, allow_shrink).map(|()| r))
    {
        Ok(r) => r,
        Err(e) => {
            staging.abandon();
            return Err(e);
        }
    };
    let outputs: Vec<String> = report.outputs.keys().cloned().collect();
    let dir = staging.commit(&outputs)?;
    Ok(Built { dir, report })
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, ImportError> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|e| ImportError::io(path, e))
}

/// The file of a source, or `None` for an absent optional source.
fn source_file(
    spec: &SourceSpec,
    data_dir: &Path,
    fetched: &FetchManifest,
    report: &mut SourceReport,
) -> Result<Option<PathBuf>, ImportError> {
    match fetched.path_of(data_dir, &spec.id) {
        Some(p) if p.exists() => {
            report.file = fetched.fetched.get(&spec.id).map(|f| f.file.clone());
            report.sha256 = fetched.fetched.get(&spec.id).map(|f| f.sha256.clone());
            checks::cached_file(spec, &p, report.sha256.as_deref())?;
            Ok(Some(p))
        }
        _ if spec.is_optional() => {
            report.status = "absent".into();
            let why = fetched
                .absent
                .get(&spec.id)
                .cloned()
                .unwrap_or_else(|| "not fetched".into());
            report.note(format!("optional source not available: {why}"));
            Ok(None)
        }
        _ => Err(ImportError::Missing(spec.id.clone())),
    }
}

fn single_source(manifest: &Manifest, role: Role) -> Result<&SourceSpec, ImportError> {
    let mut it = manifest.sources.iter().filter(|s| s.role == role);
    match (it.next(), it.next()) {
        (Some(s), None) => Ok(s),
        (None, _) => Err(ImportError::Manifest(format!(
            "no source with role {role:?}"
        ))),
        (Some(a), Some(b)) => Err(ImportError::Manifest(format!(
            "sources {:?} and {:?} both have role {role:?}; exactly one is needed",
            a.id, b.id
        ))),
    }
}

fn build_into(
    manifest: &Manifest,
    data_dir: &Path,
    fetched: &FetchManifest,
    out: &Path,
    build_id: &str,
) -> Result<BuildReport, ImportError> {
    let mut reports = Vec::new();
    // One step per source and per output layer; hidden when stderr is not a terminal.
    let progress = indicatif::ProgressBar::new(manifest.sources.len() as u64 + 16).with_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let step = |msg: &str| {
        progress.set_message(msg.to_owned());
        progress.inc(1);
    };

    let cog_spec = single_source(manifest, Role::Communes)?;
    let mut r = SourceReport::for_source(cog_spec);
    let path = source_file(cog_spec, data_dir, fetched, &mut r)?
        .ok_or_else(|| ImportError::Missing(cog_spec.id.clone()))?;
    step("communes (COG)");
    let cog = communes::read_cog_tarball(&path, &mut r)?;
    reports.push(r);

    let contours_spec = single_source(manifest, Role::Contours)?;
    let mut r = SourceReport::for_source(contours_spec);
    let path = source_file(contours_spec, data_dir, fetched, &mut r)?
        .ok_or_else(|| ImportError::Missing(contours_spec.id.clone()))?;
    step("contours");
    let mut contours = communes::read_contours(&path, &mut r)?;
    contours.fill_from_former(&cog, &mut r);
    contours.check_mairies(&mut r);
    let zones = zones::zones(
        &cog,
        &contours,
        &manifest.road_links,
        &manifest.contour_gaps,
        &mut r,
    )?;
    let locator = Locator::new(&cog, &contours).with_gaps(&manifest.contour_gaps, &mut r);
    reports.push(r);

    // Facilities, source by source, then precedence between sources.
    let mut by_source: Vec<(usize, Vec<Facility>)> = Vec::new();
    for spec in manifest
        .sources
        .iter()
        .filter(|s| s.role == Role::Facilities)
    {
        let mut r = SourceReport::for_source(spec);
        step(&spec.id);
        if let Some(path) = source_file(spec, data_dir, fetched, &mut r)? {
            match read_facilities(spec, &path, &locator, &mut r)
                .and_then(|f| checks::has_rows(spec, &r, f))
            {
                Ok(mut facilities) => {
                    reclassify::apply(&mut facilities, spec, &mut r);
                    by_source.push((reports.len(), facilities));
                }
                Err(e) => r.left_out(spec, e)?,
            }
        }
        reports.push(r);
    }
    let facilities = resolve_precedence(manifest, by_source, &mut reports);

    // Commune indicators.
    let mut tables: Vec<(String, IndicatorTable)> = Vec::new();
    for spec in manifest
        .sources
        .iter()
        .filter(|s| s.role == Role::CommuneIndicators)
    {
        let mut r = SourceReport::for_source(spec);
        step(&spec.id);
        // A fallback (the mirror's transcription) gives way, whole, to the official
        // file it yields to when that one is built.
        if let Some(winner) = spec
            .yields_to
            .iter()
            .find(|w| tables.iter().any(|(id, _)| id == *w))
        {
            r.status = "superseded".into();
            r.note(format!("not used: {winner} gives the same fields"));
            reports.push(r);
            continue;
        }
        if let Some(path) = source_file(spec, data_dir, fetched, &mut r)? {
            match indicators::read_commune_file(&path, spec, &locator, &mut r)
                .and_then(|t| checks::has_rows(spec, &r, t))
            {
                Ok(t) => tables.push((spec.id.clone(), t)),
                Err(e) => r.left_out(spec, e)?,
            }
        }
        reports.push(r);
    }
    check_field_names(&tables)?;

    // Travel-time table (at most one), written normalised into the build.
    let mut matrices = manifest
        .sources
        .iter()
        .filter(|s| s.role == Role::TravelMatrix);
    if let Some(spec) = matrices.next() {
        if let Some(other) = matrices.next() {
            return Err(ImportError::Manifest(format!(
                "sources {:?} and {:?} are both travel-time tables; declare one",
                spec.id, other.id
            )));
        }
        let mut r = SourceReport::for_source(spec);
        step(&spec.id);
        if let Some(path) = source_file(spec, data_dir, fetched, &mut r)? {
            let resolve = |code: &InseeCode| {
                if locator.is_commune(code) {
                    return Ok(code.clone());
                }
                locator
                    .parent_of(code)
                    .cloned()
                    .ok_or_else(|| format!("{code} is not a commune of the COG in force"))
            };
            let m = indicators::read_matrix_csv(open(&path)?, spec.delimiter(), resolve, &mut r)?;
            let mut csv = String::from("from,to,minutes\n");
            for (from, to, min) in m.entries() {
                csv.push_str(&format!("{from},{to},{min}\n"));
            }
            fgb::write_file(&out.join(TRAVEL_MATRIX_FILE), csv.as_bytes())?;
        }
        reports.push(r);
    }

    let mut outputs = BTreeMap::new();
    let perimeters = perimeters(manifest, &cog)?;
    step("communes.fgb");
    let layer = communes_layer(&cog, &contours, &locator, &zones, &tables, &perimeters);
    outputs.insert(
        layer_file(COMMUNES_LAYER),
        fgb::write_layer(&out.join(layer_file(COMMUNES_LAYER)), &layer)?,
    );
    // The same attributes at the reference points: what analyses read (a sixth of the
    // bytes: no polygons), and a point layer for GIS users.
    let points = communes_points_layer(layer, &locator);
    outputs.insert(
        layer_file(COMMUNE_POINTS_LAYER),
        fgb::write_layer(&out.join(layer_file(COMMUNE_POINTS_LAYER)), &points)?,
    );

    let mut kinds: BTreeMap<Kind, Vec<&Facility>> =
        Kind::BUILTIN.iter().map(|k| (k.clone(), vec![])).collect();
    for f in &facilities {
        kinds.entry(f.kind.clone()).or_default().push(f);
    }
    for (kind, list) in &kinds {
        let name = layer_file(kind.as_str());
        step(&name);
        let layer = facility_layer(kind, list);
        outputs.insert(name.clone(), fgb::write_layer(&out.join(&name), &layer)?);
    }

    step("territories (union of commune polygons)");
    for (name, layer) in territory_layers(&cog, &contours, &perimeters) {
        outputs.insert(name.clone(), fgb::write_layer(&out.join(&name), &layer)?);
    }

    for r in &mut reports {
        r.skipped_rows.sort_by_key(|s| s.line);
    }
    let report = BuildReport {
        builder: format!("careaccess {}", env!("CARGO_PKG_VERSION")),
        build_id: build_id.to_owned(),
        sources: reports,
        outputs,
    };
    let json = serde_json::to_vec_pretty(&report).map_err(|e| ImportError::Write {
        path: out.join(REPORT_FILE),
        message: e.to_string(),
    })?;
    fgb::write_file(&out.join(REPORT_FILE), &json)?;
    let mut meta = dataset_meta(manifest, &report, &tables);
    meta.kinds = scope::kind_scopes(manifest, &facilities)
        .into_iter()
        .map(|(k, s)| (k.to_string(), s))
        .collect();
    meta.record_digests(out)?;
    meta.write(out)?;
    progress.finish_and_clear();
    Ok(report)
}

/// The facilities of one source's file.
fn read_facilities(
    spec: &SourceSpec,
    path: &Path,
    locator: &Locator,
    r: &mut SourceReport,
) -> Result<Vec<Facility>, ImportError> {
    Ok(match spec.format {
        Format::FinessEtalab => {
            let parsed = finess::parse(open(path)?, spec, r)?;
            if let Some(date) = &parsed.extraction_date {
                r.vintage = format!("extraction du {date}");
            }
            check_communes(parsed.facilities, locator, r)
        }
        Format::PointsCsv => points::read_points_csv(open(path)?, spec, locator, r)?,
        Format::GeojsonPoints => points::read_points_geojson(open(path)?, spec, locator, r)?,
        other => {
            return Err(ImportError::Manifest(format!(
                "source {:?}: format {other:?} cannot hold facilities",
                spec.id
            )));
        }
    })
}

/// Checks facilities that carry their own commune code (FINESS) against the COG and the
/// contours: a commune déléguée becomes its commune actuelle, a code unknown to the COG
/// gives way to the commune under the point, and a point outside every commune is
/// skipped as `outside_france`.
fn check_communes(list: Vec<Facility>, locator: &Locator, r: &mut SourceReport) -> Vec<Facility> {
    let mut out = Vec::with_capacity(list.len());
    let (mut moved, mut replaced) = (0u64, 0u64);
    for mut f in list {
        let Some(found) = locator.locate(f.position) else {
            r.skip(
                f.source_line,
                "outside_france",
                format!(
                    "{} ({}, {}) is more than 5 km from every commune polygon of the data (metropolitan France and the DROM)",
                    f.id,
                    f.position.x(),
                    f.position.y()
                ),
            );
            continue;
        };
        match f.commune.clone() {
            Some(c) if locator.is_commune(&c) => {}
            Some(c) => match locator.parent_of(&c) {
                Some(parent) => {
                    f.commune = Some(parent.clone());
                    moved += 1;
                }
                None => {
                    f.commune = Some(found.commune);
                    replaced += 1;
                }
            },
            None => f.commune = Some(found.commune),
        }
        out.push(f);
    }
    if moved > 0 {
        r.note(format!(
            "{moved} structures in a commune déléguée or associée were given its commune actuelle"
        ));
    }
    if replaced > 0 {
        r.note(format!(
            "{replaced} structures had a commune code unknown to the COG and were given the commune under their point"
        ));
    }
    out
}

/// Applies `yields_to`, drops cross-source FINESS duplicates, and sets each report's
/// `kept`, `superseded` and `kept_by_kind` to what is really written.
fn resolve_precedence(
    manifest: &Manifest,
    by_source: Vec<(usize, Vec<Facility>)>,
    reports: &mut [SourceReport],
) -> Vec<Facility> {
    // (source id, kind, département) present before precedence.
    let mut covered: BTreeSet<(String, Kind, String)> = BTreeSet::new();
    for (_, list) in &by_source {
        for f in list {
            if let Some(dep) = f.commune.as_ref().map(InseeCode::departement) {
                covered.insert((f.source.clone(), f.kind.clone(), dep.to_owned()));
            }
        }
    }
    let mut seen_finess: HashMap<(Kind, String), String> = HashMap::new();
    let mut out = Vec::new();
    for (ri, list) in by_source {
        let spec = manifest.source(&reports[ri].id).cloned();
        let yields: &[String] = spec.as_ref().map_or(&[], |s| &s.yields_to);
        let r = &mut reports[ri];
        r.kept = 0;
        r.kept_by_kind.clear();
        let mut superseded_by: BTreeMap<String, u64> = BTreeMap::new();
        for f in list {
            let dep = f
                .commune
                .as_ref()
                .map(|c| c.departement().to_owned())
                .unwrap_or_default();
            if let Some(winner) = yields
                .iter()
                .find(|w| covered.contains(&((*w).clone(), f.kind.clone(), dep.clone())))
            {
                r.superseded += 1;
                *superseded_by
                    .entry(format!("{winner} ({} in {dep})", f.kind))
                    .or_default() += 1;
                continue;
            }
            if let Some(n) = &f.finess {
                let key = (f.kind.clone(), n.to_string());
                if let Some(first) = seen_finess.get(&key) {
                    r.skip(
                        f.source_line,
                        "duplicate_finess",
                        format!("{n} ({}) is already given by source {first}", f.name),
                    );
                    continue;
                }
                seen_finess.insert(key, f.source.clone());
            }
            r.kept += 1;
            *r.kept_by_kind.entry(f.kind.to_string()).or_default() += 1;
            out.push(f);
        }
        for (why, n) in superseded_by {
            r.note(format!("{n} rows superseded by {why}"));
        }
    }
    out.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    out
}

fn check_field_names(tables: &[(String, IndicatorTable)]) -> Result<(), ImportError> {
    let reserved = COMMUNE_COLUMNS.iter().map(|(n, _, _)| *n);
    let mut seen: HashMap<String, String> = reserved
        .map(|n| (n.to_owned(), "communes".to_owned()))
        .collect();
    for (id, t) in tables {
        for f in &t.fields {
            if let Some(other) = seen.insert(f.clone(), id.clone()) {
                return Err(ImportError::Manifest(format!(
                    "field {f:?} of source {id:?} is also given by {other:?}: names must be unique"
                )));
            }
        }
    }
    Ok(())
}

/// Fixed columns of `communes.fgb`.
const COMMUNE_COLUMNS: [(&str, ColType, &str); 14] = [
    ("code", ColType::Text, "Code INSEE (COG)"),
    ("nom", ColType::Text, "Nom de la commune"),
    (
        "population",
        ColType::Int,
        "Population municipale en vigueur",
    ),
    ("departement", ColType::Text, "Code du département"),
    ("departement_nom", ColType::Text, "Nom du département"),
    ("region", ColType::Text, "Code de la région"),
    ("region_nom", ColType::Text, "Nom de la région"),
    ("epci", ColType::Text, "SIREN de l'EPCI à fiscalité propre"),
    ("epci_nom", ColType::Text, "Nom de l'EPCI"),
    (
        "cls",
        ColType::Text,
        "Périmètres CLS (identifiants séparés par des virgules)",
    ),
    (
        "ref_lon",
        ColType::Real,
        "Longitude du point de référence (WGS84)",
    ),
    (
        "ref_lat",
        ColType::Real,
        "Latitude du point de référence (WGS84)",
    ),
    (
        "ref_point",
        ColType::Text,
        "Origine du point de référence : mairie, interior_point (point intérieur du polygone) ou covering_commune (point de la commune dont le polygone la couvre)",
    ),
    (
        "zone",
        ColType::Text,
        "Zone d'accès par la route : code de la commune la plus peuplée des communes reliées par la route (continent, Corse, chaque DROM, chaque île sans pont)",
    ),
];

fn communes_layer(
    cog: &Cog,
    contours: &Contours,
    locator: &Locator,
    zones: &HashMap<InseeCode, InseeCode>,
    tables: &[(String, IndicatorTable)],
    perimeters: &[Perimeter],
) -> Layer {
    let mut columns: Vec<Column> = COMMUNE_COLUMNS
        .iter()
        .map(|(n, t, d)| Column::new(n, *t).described(*d))
        .collect();
    for (id, t) in tables {
        for (f, numeric) in t.fields.iter().zip(&t.numeric) {
            let ty = if *numeric {
                ColType::Real
            } else {
                ColType::Text
            };
            columns.push(Column::new(f, ty).described(format!("source: {id}")));
        }
    }
    let epci_names: HashMap<&str, &str> = cog
        .epci
        .iter()
        .map(|e| (e.code.as_str(), e.name.as_str()))
        .collect();
    let mut cls_of: HashMap<&InseeCode, Vec<&str>> = HashMap::new();
    for p in perimeters {
        for c in &p.communes {
            cls_of.entry(c).or_default().push(&p.id);
        }
    }
    let mut features = Vec::with_capacity(cog.communes.len());
    for c in &cog.communes {
        // No polygon: the empty geometry GDAL reads.
        let geometry: geo::Geometry<f64> = match contours
            .communes
            .get(&c.code)
            .and_then(|k| k.geometry.clone())
        {
            Some(g) => g.into(),
            None => fgb::empty_geometry(GeometryType::MultiPolygon),
        };
        let rp = locator.ref_point(&c.code);
        let dep = cog.departements.get(&c.departement);
        let mut cells = vec![
            Cell::text(c.code.as_str()),
            Cell::text(&c.name),
            Cell::Int(i64::from(c.population)),
            Cell::text(&c.departement),
            Cell::opt_text(dep.map(|d| d.0.clone())),
            Cell::text(&c.region),
            Cell::opt_text(cog.regions.get(&c.region).cloned()),
            Cell::opt_text(c.epci.clone()),
            Cell::opt_text(
                c.epci
                    .as_deref()
                    .and_then(|e| epci_names.get(e))
                    .map(|s| s.to_string()),
            ),
            Cell::opt_text(cls_of.get(&c.code).map(|v| v.join(","))),
            Cell::opt_real(rp.map(|(p, _)| p.x())),
            Cell::opt_real(rp.map(|(p, _)| p.y())),
            Cell::opt_text(rp.map(|(_, s)| s.as_str())),
            Cell::opt_text(zones.get(&c.code).map(|z| z.as_str())),
        ];
        for (_, t) in tables {
            let row = t.rows.get(&c.code);
            for k in 0..t.fields.len() {
                cells.push(match row.and_then(|r| r[k].clone()) {
                    Some(indicators::Value::Number(v)) if t.numeric[k] => Cell::Real(v),
                    Some(indicators::Value::Number(v)) => Cell::Text(v.to_string()),
                    Some(indicators::Value::Text(s)) => Cell::Text(s),
                    None => Cell::Null,
                });
            }
        }
        features.push((geometry, cells));
    }
    Layer {
        name: "communes".into(),
        title: "Communes (COG) avec population et indicateurs".into(),
        description: "Communes actuelles de France métropolitaine et des DROM".into(),
        geometry_type: GeometryType::MultiPolygon,
        columns,
        features,
    }
}

/// The communes layer with each polygon replaced by the commune's reference point (a
/// multipoint of one point; empty where the commune has none).
fn communes_points_layer(communes: Layer, locator: &Locator) -> Layer {
    let features = communes
        .features
        .into_iter()
        .map(|(_, cells)| {
            let point = cells
                .first()
                .and_then(Cell::as_str)
                .and_then(|c| InseeCode::parse(c).ok())
                .and_then(|c| locator.ref_point(&c));
            let geometry: geo::Geometry<f64> =
                geo::MultiPoint(point.map(|(p, _)| p).into_iter().collect()).into();
            (geometry, cells)
        })
        .collect();
    Layer {
        name: COMMUNE_POINTS_LAYER.into(),
        title: "Communes : points de référence (mairie, ou point intérieur) et indicateurs".into(),
        description: "Les attributs de communes.fgb au point de référence de chaque commune".into(),
        geometry_type: GeometryType::MultiPoint,
        features,
        ..communes
    }
}

fn facility_layer(kind: &Kind, list: &[&Facility]) -> Layer {
    let columns = vec![
        Column::new("id", ColType::Text).described("Identifiant stable (numéro FINESS si connu)"),
        Column::new("finess", ColType::Text).described("Numéro FINESS ET (9 caractères)"),
        Column::new("kind", ColType::Text),
        Column::new("categorie", ColType::Text).described("Code catégorie FINESS"),
        Column::new("categorie_libelle", ColType::Text),
        Column::new("nom", ColType::Text),
        Column::new("adresse", ColType::Text),
        Column::new("commune", ColType::Text).described("Code INSEE de la commune"),
        Column::new("departement", ColType::Text),
        Column::new("capacite", ColType::Real)
            .described("Capacité (places, lits ou professionnels selon la source)"),
        Column::new("telephone", ColType::Text),
        Column::new("position", ColType::Text).described("address, rounded ou commune_chef_lieu"),
        Column::new("source", ColType::Text).described("Identifiant de la source (sources.toml)"),
        Column::new("liste_partielle", ColType::Bool)
            .described("Liste connue pour être incomplète"),
        Column::new("ligne_source", ColType::Int)
            .described("Ligne de la structure dans le fichier source"),
    ];
    let features = list
        .iter()
        .map(|f| {
            let cells = vec![
                Cell::text(&f.id),
                Cell::opt_text(f.finess.as_ref().map(|n| n.to_string())),
                Cell::text(f.kind.as_str()),
                Cell::opt_text(f.category.clone()),
                Cell::opt_text(f.category_label.clone()),
                Cell::text(&f.name),
                Cell::opt_text(f.address.clone()),
                Cell::opt_text(f.commune.as_ref().map(|c| c.to_string())),
                Cell::opt_text(f.commune.as_ref().map(|c| c.departement().to_owned())),
                Cell::opt_real(f.capacity),
                Cell::opt_text(f.phone.clone()),
                Cell::text(f.position_quality.as_str()),
                Cell::text(&f.source),
                Cell::Bool(f.partial_list),
                Cell::Int(f.source_line as i64),
            ];
            (geo::Geometry::Point(f.position), cells)
        })
        .collect();
    Layer {
        name: kind.as_str().to_owned(),
        title: kind.label_fr().to_owned(),
        description: format!("Structures de type {}", kind.as_str()),
        geometry_type: GeometryType::Point,
        columns,
        features,
    }
}

/// A perimeter resolved to communes.
struct Perimeter {
    id: String,
    name: String,
    communes: Vec<InseeCode>,
}

fn perimeters(manifest: &Manifest, cog: &Cog) -> Result<Vec<Perimeter>, ImportError> {
    let members: HashMap<&str, &Vec<InseeCode>> = cog
        .epci
        .iter()
        .map(|e| (e.code.as_str(), &e.members))
        .collect();
    let known: BTreeSet<&InseeCode> = cog.communes.iter().map(|c| &c.code).collect();
    let mut out = Vec::new();
    for p in &manifest.perimeters {
        let mut communes = BTreeSet::new();
        for e in &p.epci {
            let m = members.get(e.as_str()).ok_or_else(|| {
                ImportError::Manifest(format!("perimeter {:?}: EPCI {e} is not in the COG", p.id))
            })?;
            communes.extend(m.iter().cloned());
        }
        for c in &p.communes {
            let code = InseeCode::parse(c)
                .ok()
                .filter(|c| known.contains(c))
                .ok_or_else(|| {
                    ImportError::Manifest(format!(
                        "perimeter {:?}: {c} is not a commune of the COG",
                        p.id
                    ))
                })?;
            communes.insert(code);
        }
        out.push(Perimeter {
            id: p.id.clone(),
            name: p.name.clone(),
            communes: communes.into_iter().collect(),
        });
    }
    Ok(out)
}

/// Union of the member polygons.
fn union_of<'a>(polys: impl Iterator<Item = &'a MultiPolygon<f64>>) -> MultiPolygon<f64> {
    let polygons: Vec<&geo::Polygon<f64>> = polys.flat_map(|m| m.0.iter()).collect();
    geo::unary_union(polygons)
}

fn territory_layers(
    cog: &Cog,
    contours: &Contours,
    perimeters: &[Perimeter],
) -> Vec<(String, Layer)> {
    let pop: HashMap<&InseeCode, u32> = cog
        .communes
        .iter()
        .map(|c| (&c.code, c.population))
        .collect();
    let geom = |codes: &[InseeCode]| {
        union_of(
            codes
                .iter()
                .filter_map(|c| contours.communes.get(c).and_then(|k| k.geometry.as_ref())),
        )
    };
    let columns = || {
        vec![
            Column::new("code", ColType::Text),
            Column::new("nom", ColType::Text),
            Column::new("type", ColType::Text),
            Column::new("population", ColType::Int),
            Column::new("communes", ColType::Int).described("Nombre de communes"),
        ]
    };
    let feature = |code: &str, name: &str, kind: &str, members: &[InseeCode]| {
        let p: u64 = members
            .iter()
            .map(|c| u64::from(pop.get(c).copied().unwrap_or(0)))
            .sum();
        let cells = vec![
            Cell::text(code),
            Cell::text(name),
            Cell::text(kind),
            Cell::Int(p as i64),
            Cell::Int(members.len() as i64),
        ];
        let g = geom(members);
        let g: geo::Geometry<f64> = if g.0.is_empty() {
            fgb::empty_geometry(GeometryType::MultiPolygon)
        } else {
            g.into()
        };
        (g, cells)
    };
    let layer = |name: &str, title: &str, features| Layer {
        name: name.to_owned(),
        title: title.to_owned(),
        description: format!("{title}: union des polygones de leurs communes"),
        geometry_type: GeometryType::MultiPolygon,
        columns: columns(),
        features,
    };

    let epci = cog
        .epci
        .iter()
        .map(|e| {
            let members: Vec<InseeCode> = e
                .members
                .iter()
                .filter(|c| pop.contains_key(c))
                .cloned()
                .collect();
            feature(&e.code, &e.name, &e.kind, &members)
        })
        .collect();
    let mut by_dep: BTreeMap<&str, Vec<InseeCode>> = BTreeMap::new();
    let mut by_reg: BTreeMap<&str, Vec<InseeCode>> = BTreeMap::new();
    for c in &cog.communes {
        by_dep
            .entry(&c.departement)
            .or_default()
            .push(c.code.clone());
        by_reg.entry(&c.region).or_default().push(c.code.clone());
    }
    let deps = by_dep
        .iter()
        .map(|(d, m)| {
            let name = cog.departements.get(*d).map_or(*d, |x| x.0.as_str());
            feature(d, name, "departement", m)
        })
        .collect();
    let regs = by_reg
        .iter()
        .map(|(r, m)| {
            feature(
                r,
                cog.regions.get(*r).map_or(*r, |s| s.as_str()),
                "region",
                m,
            )
        })
        .collect();
    let cls = perimeters
        .iter()
        .map(|p| feature(&p.id, &p.name, "cls", &p.communes))
        .collect();
    vec![
        (
            "epci.fgb".into(),
            layer("epci", "EPCI à fiscalité propre", epci),
        ),
        (
            "departements.fgb".into(),
            layer("departements", "Départements", deps),
        ),
        ("regions.fgb".into(), layer("regions", "Régions", regs)),
        (
            "cls.fgb".into(),
            layer("cls", "Périmètres des contrats locaux de santé", cls),
        ),
    ]
}

/// `dataset.json`: what every layer and column comes from, for the API and the UI.
fn dataset_meta(
    manifest: &Manifest,
    report: &BuildReport,
    tables: &[(String, IndicatorTable)],
) -> DatasetMeta {
    let status: HashMap<&str, &str> = report
        .sources
        .iter()
        .map(|r| (r.id.as_str(), r.status.as_str()))
        .collect();
    DatasetMeta {
        build_id: report.build_id.clone(),
        builder: report.builder.clone(),
        sources: manifest
            .sources
            .iter()
            .map(|s| SourceMeta {
                id: s.id.clone(),
                title: s.title.clone(),
                url: s.origin_label(),
                licence: s.licence.clone(),
                vintage: s.vintage.clone(),
                caveat: s.caveat.clone(),
                partial_list: s.partial_list,
                kind: s.kind.as_ref().map(|k| k.to_string()),
                status: status
                    .get(s.id.as_str())
                    .copied()
                    .unwrap_or("absent")
                    .to_owned(),
            })
            .collect(),
        fields: tables
            .iter()
            .flat_map(|(id, t)| t.fields.iter().map(move |f| (f.clone(), id.clone())))
            .collect(),
        layers: report.outputs.clone(),
        sha256: BTreeMap::new(),
        kinds: BTreeMap::new(),
    }
}

//! `data fetch`, `data build`, `data status` and `serve`.

use std::path::Path;

use anyhow::Context;

use careaccess::import::{self, Manifest, fetch};
use careaccess::store::{CURRENT, layout::REPORT_FILE};

use crate::cli::{FetchArgs, ServeArgs};

fn read_manifest(data_dir: &Path) -> anyhow::Result<Manifest> {
    let path = data_dir.join("sources.toml");
    Manifest::read(&path).with_context(|| {
        format!(
            "reading the data manifest (is --data-dir {} right?)",
            data_dir.display()
        )
    })
}

pub fn fetch(data_dir: &Path, args: &FetchArgs) -> anyhow::Result<()> {
    let manifest = read_manifest(data_dir)?;
    run_fetch(
        &manifest,
        data_dir,
        args.mirror.mirror.as_deref(),
        args.only.as_deref(),
    )
}

fn run_fetch(
    manifest: &Manifest,
    data_dir: &Path,
    mirror: Option<&Path>,
    only: Option<&[String]>,
) -> anyhow::Result<()> {
    let opts = fetch::FetchOptions {
        data_dir,
        mirror,
        only,
    };
    let done = fetch::fetch(manifest, &opts)?;
    for (id, f) in &done.fetched {
        eprintln!(
            "  {id:<20} {:<16} {} ({} bytes)",
            f.origin.as_str(),
            f.file,
            f.bytes
        );
    }
    for (id, why) in &done.absent {
        eprintln!("  {id:<20} absent           {why}");
    }
    Ok(())
}

pub fn build(data_dir: &Path) -> anyhow::Result<()> {
    let manifest = read_manifest(data_dir)?;
    run_build(&manifest, data_dir)
}

fn run_build(manifest: &Manifest, data_dir: &Path) -> anyhow::Result<()> {
    let built = import::build::build(manifest, data_dir)?;
    for s in &built.report.sources {
        eprintln!(
            "  {:<20} {:<7} read {:>7}  kept {:>7}  skipped {:>6}  superseded {:>5}  aggregated {:>4}",
            s.id,
            s.status,
            s.rows_read,
            s.kept,
            s.skipped_total(),
            s.superseded,
            s.aggregated
        );
    }
    for (name, n) in &built.report.outputs {
        eprintln!("  {name:<24} {n:>7} features");
    }
    eprintln!(
        "built {} (report: {}/{REPORT_FILE})",
        built.dir.display(),
        data_dir.display()
    );
    Ok(())
}

/// Fetches and builds what is missing, so that `serve` works on a fresh clone.
fn ensure_data(data_dir: &Path, mirror: Option<&Path>) -> anyhow::Result<()> {
    if data_dir.join(CURRENT).join("communes.fgb").exists() {
        return Ok(());
    }
    tracing::info!(
        "no built data in {}: fetching and building it",
        data_dir.display()
    );
    let manifest = read_manifest(data_dir)?;
    run_fetch(&manifest, data_dir, mirror, None)?;
    run_build(&manifest, data_dir)
}

pub fn status(data_dir: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut o = super::Output::stdout();
    let fetched = fetch::FetchManifest::read(data_dir)?;
    writeln!(
        o,
        "fetched sources ({}):",
        fetch::FetchManifest::file_path(data_dir).display()
    )?;
    for (id, f) in &fetched.fetched {
        writeln!(
            o,
            "  {id:<20} {} {} {}",
            f.origin.as_str(),
            f.fetched_at,
            f.file
        )?;
    }
    for (id, why) in &fetched.absent {
        writeln!(o, "  {id:<20} absent: {why}")?;
    }
    let report_path = data_dir.join(CURRENT).join(REPORT_FILE);
    match std::fs::read(&report_path) {
        Ok(bytes) => {
            let report: import::BuildReport = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", report_path.display()))?;
            writeln!(o, "current build {} ({}):", report.build_id, report.builder)?;
            for (name, n) in &report.outputs {
                writeln!(o, "  {name:<24} {n:>7} features")?;
            }
        }
        Err(_) => writeln!(o, "no build yet: run `careaccess data build`")?,
    }
    o.finish()
}

pub fn serve(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<()> {
    ensure_data(data_dir, args.mirror.mirror.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let web_dir = args
        .web_dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("web"));
    // The map's script (MapLibre) comes from npm, pinned by web/package-lock.json.
    if web_dir.join("package-lock.json").exists() {
        match import::npm::install_missing(&web_dir) {
            Ok(done) if !done.is_empty() => {
                tracing::info!("installed in web/node_modules: {}", done.join(", "))
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "the web map's dependencies are missing and could not be fetched ({e}); \
                 the API works, the map needs `npm ci` in {}",
                web_dir.display()
            ),
        }
    }
    runtime.block_on(careaccess::api::serve(data_dir, &web_dir, args.bind))?;
    Ok(())
}

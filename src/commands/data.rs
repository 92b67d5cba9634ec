//! `data fetch`, `data build`, `data status` and `serve`.

use std::path::Path;

use anyhow::Context;

use careaccess::import::{self, Manifest, fetch};
use careaccess::store::{CURRENT, layout::REPORT_FILE};

use crate::cli::{FetchArgs, HttpArgs, ServeArgs, SourcesArgs};

fn http_options(args: &HttpArgs) -> fetch::HttpOptions {
    fetch::HttpOptions {
        base_url: args.sources_base_url.clone(),
        read_timeout: std::time::Duration::from_secs(args.http_timeout.max(1)),
        attempts: args.http_attempts.max(1),
        backoff: std::time::Duration::from_millis(args.http_backoff_ms),
    }
}

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
    let opts = fetch::FetchOptions {
        only: args.only.as_deref(),
        http: http_options(&args.http),
        update: args.update,
        ..fetch::FetchOptions::new(data_dir, args.mirror.mirror.as_deref())
    };
    run_fetch(&manifest, &opts)
}

fn run_fetch(manifest: &Manifest, opts: &fetch::FetchOptions) -> anyhow::Result<()> {
    let done = fetch::fetch(manifest, opts)?;
    for (id, f) in &done.fetched {
        eprintln!(
            "  {id:<20} {:<16} {} ({} bytes)",
            f.origin.as_str(),
            f.file,
            f.bytes
        );
    }
    if !done.absent.is_empty() {
        eprintln!("missing (optional: the build goes on without them):");
    }
    for (id, why) in &done.absent {
        eprintln!("  {id:<20} {why}");
    }
    Ok(())
}

pub fn build(data_dir: &Path, allow_shrink: bool) -> anyhow::Result<()> {
    let manifest = read_manifest(data_dir)?;
    run_build(&manifest, data_dir, allow_shrink)
}

fn run_build(manifest: &Manifest, data_dir: &Path, allow_shrink: bool) -> anyhow::Result<()> {
    let built = import::build::build_with(manifest, data_dir, allow_shrink)?;
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
fn ensure_data(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<()> {
    if data_dir.join(CURRENT).join("communes.fgb").exists() {
        return Ok(());
    }
    tracing::info!(
        "no built data in {}: fetching and building it",
        data_dir.display()
    );
    let manifest = read_manifest(data_dir)?;
    let opts = fetch::FetchOptions {
        http: http_options(&args.http),
        ..fetch::FetchOptions::new(data_dir, args.mirror.mirror.as_deref())
    };
    run_fetch(&manifest, &opts)?;
    run_build(&manifest, data_dir, false)
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

/// `data sources`: where each source comes from, what was fetched, and (remote) whether
/// its publisher has a newer version.
pub fn sources(data_dir: &Path, args: &SourcesArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let manifest = read_manifest(data_dir)?;
    let fetched = fetch::FetchManifest::read(data_dir)?;
    let http = http_options(&args.http);
    let agent = args.remote.then(|| http.agent());
    let mut o = super::Output::stdout();
    for spec in &manifest.sources {
        let origin = match (&spec.registry, &spec.data_gouv, spec.mirror_only) {
            (Some(r), _, _) => format!("registry {r:?}").to_lowercase(),
            (None, Some(_), _) => "data.gouv.fr dataset API".to_owned(),
            (None, None, true) => "mirror only".to_owned(),
            (None, None, false) => "url".to_owned(),
        };
        let optional = if spec.is_optional() { ", optional" } else { "" };
        writeln!(o, "{} ({origin}{optional}) — {}", spec.id, spec.title)?;
        writeln!(o, "  from:     {}", spec.origin_label())?;
        if let Some(m) = &spec.mirror {
            let role = if spec.mirror_only {
                ""
            } else {
                " (offline fallback)"
            };
            writeln!(o, "  mirror:   {m}{role}")?;
        }
        match &spec.sha256 {
            Some(sha) => writeln!(o, "  pinned:   sha256 {sha}")?,
            None => writeln!(o, "  vintage:  {}", spec.vintage)?,
        }
        let got = fetched.fetched.get(&spec.id);
        match (got, fetched.absent.get(&spec.id)) {
            (Some(f), _) => writeln!(
                o,
                "  fetched:  {} {} from {}{}",
                f.fetched_at,
                f.origin,
                f.from,
                f.version
                    .as_deref()
                    .map_or(String::new(), |v| format!(" (version {v})"))
            )?,
            (None, Some(why)) => writeln!(o, "  fetched:  no — {why}")?,
            (None, None) => writeln!(o, "  fetched:  not yet")?,
        }
        if let Some(agent) = &agent {
            let line = match careaccess::import::published::check(agent, &http, spec, got) {
                Ok(None) => "nothing published: needs a local copy".to_owned(),
                Ok(Some(p)) => {
                    let version = p.version.as_deref().unwrap_or("no version given");
                    let verdict = match p.newer {
                        Some(true) => {
                            "NEWER than the fetched file: `careaccess data fetch --update`"
                        }
                        Some(false) => "up to date",
                        None => "cannot tell whether it is newer",
                    };
                    format!("{} ({version}): {verdict}", p.url)
                }
                Err(e) => format!("cannot ask: {e}"),
            };
            writeln!(o, "  remote:   {line}")?;
        }
    }
    o.finish()
}

pub fn serve(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<()> {
    ensure_data(data_dir, args)?;
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
    let served = runtime.block_on(careaccess::api::serve(data_dir, &web_dir, args.bind));
    // Heavy work still running past the shutdown grace is abandoned, not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    served?;
    Ok(())
}

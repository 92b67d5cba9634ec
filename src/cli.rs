//! Command line: clap definitions and the commands' glue. `anyhow` lives here only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use careaccess::analysis::DistanceModel;
use careaccess::analysis::accessibility::{Demand, Supply};
use careaccess::import::{self, Manifest, fetch};
use careaccess::model::Kind;

/// careaccess — where care is, and how far it is, for every commune of France.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
pub struct Cli {
    /// Data folder: sources.toml, fetched sources, built layers.
    #[arg(
        long,
        global = true,
        env = "CAREACCESS_DATA",
        default_value = "geodata"
    )]
    pub data_dir: PathBuf,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch, build and inspect the data (sources.toml → geodata/*.fgb).
    #[command(subcommand)]
    Data(DataCommand),
    /// Serve the map and the OGC API – Features (fetches and builds missing data first).
    Serve(ServeArgs),
    /// Nearest structures of a kind: one row per commune, or the k nearest from a point.
    Nearest(NearestArgs),
    /// Population within distance/time thresholds of a kind, per territory.
    Coverage(CoverageArgs),
    /// What opening, closing or resizing structures would change.
    Scenario(ScenarioArgs),
    /// Where k new structures would bring the most people within a threshold.
    Siting(SitingArgs),
    /// 2SFCA accessibility (APL-style) per commune, with the parameters in a header line.
    Accessibility(AccessibilityArgs),
    /// The audit trail of one commune's accessibility: every site, weight and ratio.
    Explain(ExplainArgs),
    /// Zonage review: APL classes (ZIP < 2.5, vivier 2.5–4, > 4) against the official zonage.
    Zonage(ZonageArgs),
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Accessibility profile of the parameters file: mg, ehpad, msp, clic, hospital…
    #[arg(long)]
    pub kind: String,
    /// Supply per site: capacity (places, beds…) or sites (1 each). Default: the profile's.
    #[arg(long)]
    pub supply: Option<Supply>,
    /// Demand: population, standardised (DREES standardised population) or pop75.
    #[arg(long)]
    pub demand: Option<Demand>,
    /// Distance model; default road_estimate for minute steps, straight for km steps.
    #[arg(long)]
    pub model: Option<DistanceModel>,
    /// Commune-to-commune travel times, CSV `from,to,minutes` (for --model matrix).
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// Parameters file (default: <data-dir>/accessibility.toml, else the built-in one).
    #[arg(long)]
    pub params: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AccessibilityArgs {
    #[command(flatten)]
    pub access: AccessArgs,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also print the aggregate of this territory (DREES rules) on standard error.
    #[arg(long)]
    pub territory: Option<String>,
    /// Threshold for the share of population at or below it (e.g. 2.5 for ZIP).
    #[arg(long, default_value_t = 2.5)]
    pub threshold: f64,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub access: AccessArgs,
    /// INSEE code of the commune.
    #[arg(long)]
    pub commune: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ZonageArgs {
    /// Territory: dep:79, reg:75, epci:<siren>, cls:<id>, communes:<code,…>.
    #[arg(long)]
    pub territory: String,
    /// Classify the DREES APL 2021 reference (apl_mg_65) or our own accessibility (profile mg).
    #[arg(long, default_value = "drees", value_parser = ["drees", "ours"])]
    pub values: String,
    /// Parameters file for --values ours (profile mg).
    #[arg(long)]
    pub params: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// Threshold in straight km (default 10 km).
    #[arg(long, conflicts_with = "within_min")]
    pub within_km: Option<f64>,
    /// Threshold in car minutes.
    #[arg(long)]
    pub within_min: Option<f64>,
}

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    #[arg(long)]
    pub kind: Kind,
    /// Add a site: LON,LAT or LON,LAT,CAPACITY (repeatable).
    #[arg(long, allow_negative_numbers = true)]
    pub add: Vec<String>,
    /// Close a structure by id (repeatable).
    #[arg(long)]
    pub remove: Vec<String>,
    /// Change a capacity: ID=CAPACITY (repeatable).
    #[arg(long)]
    pub resize: Vec<String>,
    #[command(flatten)]
    pub threshold: ThresholdArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Accessibility (2SFCA) profile whose deltas to compute too: default the profile
    /// named after --kind when its supply is that kind (ehpad, msp, clic, hospital);
    /// `none` to skip. Its model is --model when it fits the profile's unit, else
    /// road_estimate for minute steps and straight for km steps.
    #[arg(long)]
    pub profile: Option<String>,
    /// Per-site supply for the accessibility: capacity or sites (default: the profile's).
    /// With capacity, every --add needs LON,LAT,CAPACITY.
    #[arg(long)]
    pub supply: Option<Supply>,
    /// Demand for the accessibility: population, standardised or pop75 (default: the profile's).
    #[arg(long)]
    pub demand: Option<Demand>,
    /// Parameters file (default: <data-dir>/accessibility.toml, else the built-in one).
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SitingArgs {
    /// Territory: cls:<id>, epci:<siren>, dep:<code>, reg:<code>, communes:<code,code…>.
    #[arg(long)]
    pub territory: String,
    #[arg(long)]
    pub kind: Kind,
    /// How many sites to suggest.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    #[command(flatten)]
    pub threshold: ThresholdArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Distance model: straight (geodesic metres), road_estimate (road km and car minutes
    /// estimated from the straight distance) or matrix (travel-time table, --matrix).
    #[arg(long, default_value = "straight")]
    pub model: DistanceModel,
    /// Commune-to-commune travel times, CSV `from,to,minutes` (for --model matrix).
    #[arg(long)]
    pub matrix: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NearestArgs {
    /// Kind of structure: msp, ehpad, ehpa, clic, centre_sante, hospital, autre, or a user kind.
    #[arg(long)]
    pub kind: Kind,
    #[command(flatten)]
    pub model: ModelArgs,
    /// From this point (WGS84 longitude) instead of every commune.
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lon: Option<f64>,
    /// From this point (WGS84 latitude).
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// How many structures from a point.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Territory: cls:<id>, epci:<siren>, dep:<code>, reg:<code>, commune:<code>, communes:<code,code…>.
    #[arg(long)]
    pub territory: String,
    #[arg(long)]
    pub kind: Kind,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Communes beyond this threshold are listed as underserved.
    #[command(flatten)]
    pub threshold: ThresholdArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Copy every source from a mirror, or download it from its official URL.
    Fetch(FetchArgs),
    /// Parse the fetched sources and write geodata/*.fgb and build-report.json.
    Build,
    /// Show what is fetched and what the current build holds.
    Status,
}

#[derive(Debug, Args)]
pub struct MirrorArg {
    /// Local mirror of the official files (e.g. ../shared/data).
    #[arg(long, env = "CAREACCESS_MIRROR")]
    pub mirror: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub mirror: MirrorArg,
    /// Fetch only these sources (ids from sources.toml).
    #[arg(long, value_delimiter = ',')]
    pub only: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CAREACCESS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Folder of the web page served at `/` (default: `web/` of the source tree).
    #[arg(long, env = "CAREACCESS_WEB")]
    pub web_dir: Option<PathBuf>,
    #[command(flatten)]
    pub mirror: MirrorArg,
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "careaccess=info,tower_http=warn",
        1 => "careaccess=debug,tower_http=info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAREACCESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Data(DataCommand::Fetch(args)) => {
            let manifest = read_manifest(&data_dir)?;
            run_fetch(
                &manifest,
                &data_dir,
                args.mirror.mirror.as_deref(),
                args.only.as_deref(),
            )?;
        }
        Command::Data(DataCommand::Build) => {
            let manifest = read_manifest(&data_dir)?;
            run_build(&manifest, &data_dir)?;
        }
        Command::Data(DataCommand::Status) => status(&data_dir)?,
        Command::Nearest(args) => crate::commands::nearest(&data_dir, &args)?,
        Command::Coverage(args) => crate::commands::coverage(&data_dir, &args)?,
        Command::Scenario(args) => crate::commands::scenario(&data_dir, &args)?,
        Command::Siting(args) => crate::commands::siting(&data_dir, &args)?,
        Command::Accessibility(args) => crate::commands::accessibility(&data_dir, &args)?,
        Command::Explain(args) => crate::commands::explain(&data_dir, &args)?,
        Command::Zonage(args) => crate::commands::zonage(&data_dir, &args)?,
        Command::Serve(args) => {
            ensure_data(&data_dir, args.mirror.mirror.as_deref())?;
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
            runtime.block_on(careaccess::api::serve(&data_dir, &web_dir, args.bind))?;
        }
    }
    Ok(ExitCode::SUCCESS)
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

fn run_build(manifest: &Manifest, data_dir: &Path) -> anyhow::Result<()> {
    let built = import::build::build(manifest, data_dir)?;
    for s in &built.report.sources {
        eprintln!(
            "  {:<20} {:<7} read {:>7}  kept {:>7}  skipped {:>6}  superseded {:>5}",
            s.id,
            s.status,
            s.rows_read,
            s.kept,
            s.skipped_total(),
            s.superseded
        );
    }
    for (name, n) in &built.report.outputs {
        eprintln!("  {name:<24} {n:>7} features");
    }
    eprintln!(
        "built {} (report: {}/build-report.json)",
        built.dir.display(),
        data_dir.display()
    );
    Ok(())
}

/// Fetches and builds what is missing, so that `serve` works on a fresh clone.
fn ensure_data(data_dir: &Path, mirror: Option<&Path>) -> anyhow::Result<()> {
    if data_dir
        .join(import::build::CURRENT)
        .join("communes.fgb")
        .exists()
    {
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

fn status(data_dir: &Path) -> anyhow::Result<()> {
    let fetched = fetch::FetchManifest::read(data_dir)?;
    println!(
        "fetched sources ({}):",
        fetch::FetchManifest::file_path(data_dir).display()
    );
    for (id, f) in &fetched.fetched {
        println!(
            "  {id:<20} {} {} {}",
            f.origin.as_str(),
            f.fetched_at,
            f.file
        );
    }
    for (id, why) in &fetched.absent {
        println!("  {id:<20} absent: {why}");
    }
    let report_path = data_dir
        .join(import::build::CURRENT)
        .join("build-report.json");
    match std::fs::read(&report_path) {
        Ok(bytes) => {
            let report: import::BuildReport = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", report_path.display()))?;
            println!("current build {} ({}):", report.build_id, report.builder);
            for (name, n) in &report.outputs {
                println!("  {name:<24} {n:>7} features");
            }
        }
        Err(_) => println!("no build yet: run `careaccess data build`"),
    }
    Ok(())
}

//! The command line as typed (clap), and its conversion into the validated requests of
//! `careaccess::analysis::request` — the same types, and so the same rules and messages,
//! as the HTTP API. Names no other module of the binary.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use careaccess::analysis::change::Change;
use careaccess::analysis::request::{
    AccessRequest, CoverageRequest, NearestRequest, ProfileChoice, ScenarioRequest, SitingRequest,
};
use careaccess::analysis::{DistanceModel, Engine, territory};
use careaccess::model::{Demand, Supply};

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
    /// « Portrait de territoire »: a self-contained, printable French HTML report.
    Report(ReportArgs),
    /// The store of saved work (SQLite in the data folder, or CAREACCESS_DATABASE_URL).
    #[command(subcommand)]
    Db(DbCommand),
    /// Bearer tokens that may write saved work.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the store if missing and apply the migrations it lacks (idempotent).
    Migrate,
    /// Write a consistent copy of the store: SQLite with VACUUM INTO (a database file),
    /// PostgreSQL with pg_dump (a SQL file; pg_dump must be installed).
    Backup {
        /// The copy to write (must not exist).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it, once: the store keeps only its sha256.
    Create {
        /// Who holds it (shown in the audit and as the author of saved work).
        #[arg(long)]
        name: String,
        /// planner: writes and changes their own work; admin: changes everything, reads
        /// the audit.
        #[arg(long, value_parser = ["planner", "admin"])]
        role: String,
    },
    /// List the tokens: id, role, holder, when created and revoked (never the secret).
    List,
    /// Revoke a token by id: it can no longer write; what it created stays.
    Revoke {
        /// The token's id (as `tokens list` shows it).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Accessibility profile of the parameters file: mg, ehpad, msp, clic, hospital…
    #[arg(long, required_unless_present = "kind")]
    pub profile: Option<String>,
    /// Deprecated name of --profile (kept for one release).
    #[arg(long, hide = true, conflicts_with = "profile")]
    pub kind: Option<String>,
}

impl ProfileArgs {
    /// The profile id, with a note on standard error when the deprecated flag named it.
    pub fn id(&self) -> String {
        match (&self.profile, &self.kind) {
            (Some(p), _) => p.clone(),
            (None, Some(k)) => {
                eprintln!("note: --kind names a profile here and is deprecated: use --profile {k}");
                k.clone()
            }
            (None, None) => "mg".to_owned(),
        }
    }
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
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

impl AccessArgs {
    pub fn request(&self) -> AccessRequest {
        AccessRequest {
            profile: self.profile.id(),
            supply: self.supply,
            demand: self.demand,
            model: self.model,
        }
    }
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
    #[arg(long, conflicts_with = "within_min", allow_negative_numbers = true)]
    pub within_km: Option<f64>,
    /// Threshold in car minutes.
    #[arg(long, allow_negative_numbers = true)]
    pub within_min: Option<f64>,
}

impl ThresholdArgs {
    fn pair(&self) -> (Option<f64>, Option<f64>) {
        (self.within_km, self.within_min)
    }
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Distance model: straight (geodesic metres), road_estimate (road km and car minutes
    /// estimated from the straight distance; the default) or matrix (travel-time table,
    /// --matrix).
    #[arg(long)]
    pub model: Option<DistanceModel>,
    /// Commune-to-commune travel times, CSV `from,to,minutes` (for --model matrix).
    #[arg(long)]
    pub matrix: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Kind of structure: msp, ehpad, hospital…
    #[arg(long)]
    pub kind: String,
    /// Add a site: LON,LAT or LON,LAT,CAPACITY (repeatable).
    #[arg(long, allow_hyphen_values = true)]
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
    /// The territory looked at (cls:<id>, epci:<siren>, dep:<code>…): the headline is
    /// the change inside it.
    #[arg(long)]
    pub territory: Option<String>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl ScenarioArgs {
    /// The changes as typed: `--add LON,LAT[,CAPACITY]`, `--remove ID`, `--resize ID=CAPACITY`.
    fn changes(&self) -> anyhow::Result<Vec<Change>> {
        let mut changes = Vec::new();
        for a in &self.add {
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
            self.remove
                .iter()
                .map(|id| Change::Remove { id: id.clone() }),
        );
        for r in &self.resize {
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
        Ok(changes)
    }

    pub fn request(&self, engine: &Engine) -> anyhow::Result<ScenarioRequest> {
        let territory = self
            .territory
            .as_deref()
            .map(|t| territory::resolve(&engine.data, t))
            .transpose()?;
        Ok(ScenarioRequest::new(
            careaccess::analysis::request::kind(engine, "kind", &self.kind)?,
            self.changes()?,
            self.threshold.pair(),
            self.model.model,
            ProfileChoice::from_param(self.profile.as_deref()),
            self.supply,
            self.demand,
        )?
        .inside(territory))
    }
}

#[derive(Debug, Args)]
pub struct SitingArgs {
    /// Territory: cls:<id>, epci:<siren>, dep:<code>, reg:<code>, communes:<code,code…>.
    #[arg(long)]
    pub territory: String,
    /// Kind of structure: msp, ehpad, hospital…
    #[arg(long)]
    pub kind: String,
    /// How many sites to suggest (default 3).
    #[arg(long)]
    pub k: Option<usize>,
    #[command(flatten)]
    pub threshold: ThresholdArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub json: bool,
}

impl SitingArgs {
    pub fn request(&self, engine: &Engine) -> anyhow::Result<SitingRequest> {
        let territory = territory::resolve(&engine.data, &self.territory)?;
        Ok(SitingRequest::new(
            territory,
            careaccess::analysis::request::kind(engine, "kind", &self.kind)?,
            self.k.map(|k| k as i128),
            self.threshold.pair(),
            self.model.model,
        )?)
    }
}

#[derive(Debug, Args)]
pub struct NearestArgs {
    /// Kind of structure: msp, ehpad, ehpa, clic, centre_sante, hospital (general), psychiatry, ssr, long_stay, autre, or a user kind.
    #[arg(long)]
    pub kind: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// From this point (WGS84 longitude) instead of every commune.
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lon: Option<f64>,
    /// From this point (WGS84 latitude).
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// How many structures from a point (default 3).
    #[arg(long)]
    pub k: Option<usize>,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl NearestArgs {
    /// The request from a point (`--lon --lat`); `None` for the per-commune table.
    pub fn point_request(&self, engine: &Engine) -> anyhow::Result<Option<NearestRequest>> {
        if self.lon.is_none() && self.lat.is_none() {
            return Ok(None);
        }
        Ok(Some(NearestRequest::new(
            engine,
            (self.lon, self.lat),
            None,
            Some(&self.kind),
            self.k.map(|k| k as i128),
            self.model.model,
        )?))
    }
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Territory: cls:<id>, epci:<siren>, dep:<code>, reg:<code>, commune:<code>, communes:<code,code…>.
    #[arg(long)]
    pub territory: String,
    /// Kind of structure: msp, ehpad, hospital…
    #[arg(long)]
    pub kind: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Communes beyond this threshold are listed as underserved.
    #[command(flatten)]
    pub threshold: ThresholdArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl CoverageArgs {
    pub fn request(&self, engine: &Engine) -> anyhow::Result<CoverageRequest> {
        let territory = territory::resolve(&engine.data, &self.territory)?;
        Ok(CoverageRequest::new(
            engine,
            territory,
            &self.kind,
            self.model.model,
            self.threshold.pair(),
        )?)
    }
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Copy every source from a mirror, or download it from its official URL.
    Fetch(FetchArgs),
    /// Parse the fetched sources and write geodata/*.fgb and build-report.json.
    Build(BuildArgs),
    /// Show what is fetched and what the current build holds.
    Status,
    /// For each source: where it comes from, its pinned version or date, and (with
    /// --remote) whether its publisher has a newer one.
    Sources(SourcesArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build even if a source reads more than 20 % fewer rows than in the build served
    /// (otherwise an error: a file cut short?).
    #[arg(long)]
    pub allow_shrink: bool,
}

#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// Ask each publisher (HEAD: ETag / Last-Modified; data.gouv.fr dataset API) whether
    /// a newer version than the fetched one is out.
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Give up a stalled download after this many seconds without a byte.
    #[arg(long, env = "CAREACCESS_HTTP_TIMEOUT", default_value_t = 120)]
    pub http_timeout: u64,
    /// Tries per download (transient failures: 5xx, timeouts, resets).
    #[arg(long, env = "CAREACCESS_HTTP_ATTEMPTS", default_value_t = 4)]
    pub http_attempts: u32,
    /// Wait before the second try, in milliseconds (doubled at each further try).
    #[arg(long, env = "CAREACCESS_HTTP_BACKOFF_MS", default_value_t = 2000)]
    pub http_backoff_ms: u64,
    /// Test only: fetch `https://host/path` as `<URL>/host/path` (a local server playing
    /// the official hosts).
    #[arg(long, env = "CAREACCESS_SOURCES_BASE_URL", hide = true)]
    pub sources_base_url: Option<String>,
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
    /// Download again what the publisher changed since it was fetched (ETag,
    /// Last-Modified, dataset API); without it, a file fetched earlier is kept.
    #[arg(long)]
    pub update: bool,
    #[command(flatten)]
    pub http: HttpArgs,
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
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Territory: cls:<id>, epci:<siren>, dep:<code>, reg:<code>, commune:<code>, communes:<code,…>.
    #[arg(long)]
    pub territory: String,
    /// HTML file to write (standard output if absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

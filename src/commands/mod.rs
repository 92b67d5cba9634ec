//! The commands of the binary: load what a command needs, build its request from the
//! command line (`crate::cli`), run the analysis, print or write the answer. `anyhow`
//! lives here and in `cli`, nowhere in the library.
//!
//! Output goes through [`Output`], so a reader that stops early (`careaccess coverage … |
//! head -1`) ends the command quietly instead of a panic on the closed pipe.

mod access;
mod data;
mod nearest;
mod report;
mod scenario;
mod store;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use careaccess::analysis::{DistanceModel, Engine, TravelMatrix};
use careaccess::import::profiles::profiles_for;
use careaccess::model::{InseeCode, Profile, SupplySource};
use careaccess::store::{LoadOptions, load};

use crate::cli::{Cli, Command, DataCommand};

/// Logs to standard error; `CAREACCESS_LOG` takes a `tracing` filter.
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

/// Runs a command line.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): what it wanted is written.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether an error comes from writing to a reader that went away: an I/O error, or one
/// that the CSV and JSON writers wrap without naming it as their source.
fn closed_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(
                |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Data(DataCommand::Fetch(args)) => data::fetch(&data_dir, &args),
        Command::Data(DataCommand::Build(args)) => data::build(&data_dir, args.allow_shrink),
        Command::Data(DataCommand::Status) => data::status(&data_dir),
        Command::Data(DataCommand::Sources(args)) => data::sources(&data_dir, &args),
        Command::Serve(args) => data::serve(&data_dir, &args),
        Command::Nearest(args) => nearest::nearest(&data_dir, &args),
        Command::Coverage(args) => nearest::coverage(&data_dir, &args),
        Command::Siting(args) => nearest::siting(&data_dir, &args),
        Command::Scenario(args) => scenario::scenario(&data_dir, &args),
        Command::Accessibility(args) => access::accessibility(&data_dir, &args),
        Command::Explain(args) => access::explain(&data_dir, &args),
        Command::Zonage(args) => access::zonage(&data_dir, &args),
        Command::Db(cmd) => store::db(&data_dir, &cmd),
        Command::Tokens(cmd) => store::tokens(&data_dir, &cmd),
        Command::Report(args) => report::report(&data_dir, &args),
    }
}

/// Standard output, or a file.
pub struct Output(Box<dyn Write>);

impl Output {
    pub fn stdout() -> Self {
        Output(Box::new(std::io::BufWriter::new(std::io::stdout().lock())))
    }

    /// A file (never inside built data: see [`refuse_build_folder`]), or standard output.
    pub fn to(path: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(p) = path {
            refuse_build_folder(p)?;
        }
        Ok(match path {
            Some(p) => Output(Box::new(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            ))),
            None => Output::stdout(),
        })
    }

    /// Pretty JSON and a newline.
    pub fn json(&mut self, v: &impl serde::Serialize) -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut self.0, v)?;
        writeln!(self.0)?;
        Ok(())
    }

    /// A CSV table written whole.
    pub fn csv(&mut self, table: csv::Writer<Vec<u8>>) -> anyhow::Result<()> {
        self.0.write_all(&table.into_inner()?)?;
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        self.0.flush()?;
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Refuses an output path that lands, once links are resolved, inside built data: a
/// `geodata/` folder or any folder holding a `dataset.json` (a build). Writing there
/// through `geodata/<layer>.fgb` would overwrite a served layer.
pub fn refuse_build_folder(path: &Path) -> anyhow::Result<()> {
    let resolved = match std::fs::canonicalize(path) {
        Ok(r) => r,
        Err(_) => {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let dir = std::fs::canonicalize(parent).with_context(|| {
                format!("output {}: no folder {}", path.display(), parent.display())
            })?;
            dir.join(path.file_name().unwrap_or_default())
        }
    };
    if let Some(dir) = resolved.ancestors().skip(1).find(|d| {
        d.file_name().is_some_and(|n| n == "geodata")
            || d.join(careaccess::store::layout::DATASET_FILE).exists()
    }) {
        bail!(
            "refusing to write {} into built data ({}): write the output elsewhere",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// The engine of the current build (reference points and attributes, no polygons), with
/// the structures of `kinds` only: a command on one kind need not decode the others. A
/// name that is no kind loads none; the request then refuses it in its own words, with
/// the build's kinds.
pub fn engine<'a>(
    data_dir: &Path,
    kinds: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<Engine> {
    let opts = LoadOptions {
        kinds: Some(kinds.into_iter().filter_map(|k| k.parse().ok()).collect()),
        ..LoadOptions::default()
    };
    let build = load(data_dir, opts).with_context(|| {
        format!(
            "loading the built data of {} (run `careaccess data build`?)",
            data_dir.display()
        )
    })?;
    Ok(Engine::new(build.dataset))
}

/// The kind of structure a profile's supply reads, if any.
pub fn supply_kind(profile: &Profile) -> Option<&str> {
    match &profile.supply {
        SupplySource::Facilities { kind, .. } => Some(kind.as_str()),
        SupplySource::CommuneIndicator { .. } => None,
    }
}

/// The profiles: `--params`, else `<data-dir>/accessibility.toml`, else the shipped ones.
pub fn profiles(
    data_dir: &Path,
    params: Option<&Path>,
) -> anyhow::Result<std::collections::BTreeMap<String, Profile>> {
    Ok(profiles_for(params, data_dir)?)
}

/// Reads a travel-time table `from,to,minutes` given on the command line; rows with
/// unknown communes or bad minutes are counted and reported.
fn read_matrix(path: &Path, engine: &Engine) -> anyhow::Result<TravelMatrix> {
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

/// The travel-time table for `model`: `--matrix FILE`, else the one built from
/// `sources.toml` (role `travel_matrix`); `None` for the other models.
pub fn matrix_for(
    model: DistanceModel,
    file: Option<&PathBuf>,
    engine: &Engine,
) -> anyhow::Result<Option<TravelMatrix>> {
    match (model, file) {
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

/// A number with a fixed count of decimals.
pub fn num(v: f64, decimals: u32) -> String {
    let mut s = String::new();
    push_num(&mut s, v, decimals);
    s
}

/// Appends `v` with `decimals` decimals (at most 9), rounded half away from zero, through
/// integer formatting: a quarter faster than `{:.2}` over the 100,000 numbers of a
/// national table. Not a number is written as `NaN`, as by `format!`.
pub fn push_num(out: &mut String, v: f64, decimals: u32) {
    use std::fmt::Write as _;
    let scale = 10u64.pow(decimals.min(9));
    let n = (v.abs() * scale as f64).round();
    if !n.is_finite() || n >= u64::MAX as f64 {
        let _ = write!(out, "{v:.prec$}", prec = decimals as usize);
        return;
    }
    let n = n as u64;
    if v.is_sign_negative() && n > 0 {
        out.push('-');
    }
    let _ = write!(out, "{}", n / scale);
    if decimals > 0 {
        let _ = write!(out, ".{:0width$}", n % scale, width = decimals as usize);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};

    /// A reader that has gone away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    /// The integer formatting writes what `format!` writes, but at exact ties (away from
    /// zero) and for a negative number that rounds to zero (no sign).
    #[test]
    fn numbers_as_format_writes_them() {
        for v in [
            0.0, 1.0, 2550.4, 3.2849, 3.2851, -0.6, -12.5678, 1e12, 0.0049,
        ] {
            for d in 0..4 {
                assert_eq!(
                    super::num(v, d),
                    format!("{v:.prec$}", prec = d as usize),
                    "{v} {d}"
                );
            }
        }
        assert_eq!(super::num(f64::NAN, 2), "NaN");
        assert_eq!(super::num(0.125, 2), "0.13");
        assert_eq!(super::num(-0.04, 1), "0.0");
    }

    /// Long tables reach the pipe from inside the CSV writer, long JSON from inside
    /// serde_json: both count as a closed pipe, like a plain write.
    #[test]
    fn a_closed_pipe_is_recognised_through_every_writer() {
        let mut csv = csv::Writer::from_writer(Closed);
        let e = (0..100_000)
            .map(|i| csv.write_record([i.to_string()]))
            .find_map(Result::err)
            .unwrap();
        assert!(super::closed_pipe(&e.into()));
        let e = serde_json::to_writer(Closed, &vec![1; 10_000]).unwrap_err();
        assert!(super::closed_pipe(&e.into()));
        let e = writeln!(Closed, "x").unwrap_err();
        assert!(super::closed_pipe(&e.into()));
        assert!(!super::closed_pipe(&anyhow::anyhow!("other")));
    }
}

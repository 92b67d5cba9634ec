//! The network side of `data fetch`: the HTTP client, retries, the test-only base-URL
//! override, and the checks a download must pass before it is kept.
//!
//! A file is kept only if it looks like what its parser reads: an HTML page, a JSON
//! error, an empty body, a truncated archive are refused with a message that says what
//! came back (content type and first bytes). Zip archives (zip, xlsx, whl) are opened
//! through their central directory, which is at the end of the file: a truncated
//! download fails there. Gzip streams (tgz) are decoded to the end for the same reason.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::Format;

/// Connecting (DNS, TCP, TLS) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Whole request, body included: 40 MB at ~25 kB/s.
const GLOBAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How downloads behave. The defaults suit the official hosts; tests shorten them.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Test-only: `https://host/path` is fetched as `<base_url>/host/path`, so that a
    /// local server can play every official host (`CAREACCESS_SOURCES_BASE_URL`).
    pub base_url: Option<String>,
    /// A stalled connection (no byte received) is given up after this long.
    pub read_timeout: Duration,
    /// Tries per download (transient failures only: 5xx, 429, timeouts, resets).
    pub attempts: u32,
    /// Wait before the second try; doubled at every further try.
    pub backoff: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            base_url: None,
            read_timeout: Duration::from_secs(120),
            attempts: 4,
            backoff: Duration::from_secs(2),
        }
    }
}

impl HttpOptions {
    /// The URL actually requested for the official `url`.
    pub fn effective_url(&self, url: &str) -> String {
        let Some(base) = self.base_url.as_deref() else {
            return url.to_owned();
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or(url);
        format!("{}/{rest}", base.trim_end_matches('/'))
    }

    /// The HTTP client of every download: bytes as published, statuses checked by the
    /// caller, timeouts, and the system's trust store.
    pub fn agent(&self) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .user_agent(format!("careaccess/{}", env!("CARGO_PKG_VERSION")))
            // The bytes as published: pinned hashes and progress lengths stay meaningful.
            .accept_encoding("identity")
            // Statuses are checked by the caller, to name the URL with them.
            .http_status_as_error(false)
            .max_redirects(10)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(self.read_timeout * 4)))
            .timeout_per_read(Some(self.read_timeout))
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

    /// The wait before try `attempt` (2, 3…).
    pub fn backoff_before(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << attempt.saturating_sub(2).min(8))
    }
}

/// Whether a failed request is worth another try.
pub fn transient(e: &ureq::Error) -> bool {
    match e {
        // A name that does not resolve (offline, no such host) will not resolve in a
        // few seconds either.
        ureq::Error::Io(io) => {
            io.kind() != std::io::ErrorKind::NotFound && !io.to_string().contains("lookup")
        }
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// Whether an HTTP status is worth another try.
pub fn transient_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..600).contains(&status)
}

/// The publisher's version of `url` from a HEAD request: its `ETag`, else its
/// `Last-Modified`; None when the request fails or the server says neither.
pub fn head_version(agent: &ureq::Agent, url: &str) -> Option<String> {
    let response = agent.head(url).call().ok()?;
    if !response.status().is_success() {
        return None;
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    header("etag").or_else(|| header("last-modified"))
}

/// What a downloaded file must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A zip archive (zip, whl).
    Zip,
    /// An Office Open XML workbook (a zip with `xl/workbook.xml`).
    Xlsx,
    /// A gzip stream (tgz, gz).
    Gzip,
    /// Delimited text (CSV).
    Text,
    /// A table: CSV, a zip holding one, or an xlsx workbook.
    Table,
    /// A JSON document (GeoJSON).
    Json,
    /// GeoJSON, plain or gzipped.
    JsonOrGzip,
}

impl Expect {
    /// What a file of this format, downloaded as `name`, must be.
    pub fn of(format: Format, name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit('.').next().unwrap_or("");
        match ext {
            "zip" | "whl" => return Expect::Zip,
            "xlsx" => return Expect::Xlsx,
            "tgz" | "gz" => return Expect::Gzip,
            _ => {}
        }
        match format {
            Format::DecoupageAdministratif => Expect::Gzip,
            Format::CommuneContours => match ext {
                "json" | "geojson" => Expect::Json,
                _ => Expect::JsonOrGzip,
            },
            Format::GeojsonPoints => Expect::Json,
            Format::InseeCensus => Expect::Zip,
            Format::CommuneCsv => Expect::Table,
            Format::FinessEtalab | Format::PointsCsv | Format::MatrixCsv => Expect::Text,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Expect::Zip => "a zip archive",
            Expect::Xlsx => "an xlsx workbook",
            Expect::Gzip => "a gzip archive",
            Expect::Text => "a CSV file",
            Expect::Table => "a CSV file, a zip or an xlsx workbook",
            Expect::Json => "a GeoJSON document",
            Expect::JsonOrGzip => "a GeoJSON document (plain or gzipped)",
        }
    }
}

/// How many bytes of the file are looked at (and quoted).
const HEAD: usize = 4096;

/// Checks the file at `path` against `expect`; the error says what came back (the
/// server's `content_type` and the first bytes).
pub fn check_file(path: &Path, expect: Expect, content_type: Option<&str>) -> Result<(), String> {
    let mut head = Vec::with_capacity(HEAD);
    File::open(path)
        .and_then(|f| f.take(HEAD as u64).read_to_end(&mut head))
        .map_err(|e| format!("cannot read the downloaded file back: {e}"))?;
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let came_back = || describe(&head, len, content_type);
    let refuse = |why: &str| {
        Err(format!(
            "refused: expected {}, got {why} ({})",
            expect.what(),
            came_back()
        ))
    };
    if head.is_empty() {
        return refuse("an empty body");
    }
    let text_start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &head[i..])
        .unwrap_or(&[]);
    let text_start = text_start
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(text_start);
    if looks_like_html(text_start) {
        return refuse("an HTML page");
    }
    let is_zip = head.starts_with(b"PK\x03\x04");
    let is_gzip = head.starts_with(b"\x1f\x8b");
    match expect {
        Expect::Table if is_zip => check_file(path, Expect::Zip, content_type),
        Expect::Zip | Expect::Xlsx => {
            if head.starts_with(b"PK\x05\x06") {
                return refuse("an empty zip archive");
            }
            if !is_zip {
                return refuse(if text_start.starts_with(b"{") {
                    "a JSON document"
                } else {
                    "something that is not a zip archive"
                });
            }
            let file = File::open(path).map_err(|e| e.to_string())?;
            let mut zip = match zip::ZipArchive::new(file) {
                Ok(z) => z,
                Err(e) => {
                    return refuse(&format!("a truncated or damaged zip archive: {e}"));
                }
            };
            if expect == Expect::Xlsx && zip.by_name("xl/workbook.xml").is_err() {
                return refuse("a zip archive without xl/workbook.xml");
            }
            Ok(())
        }
        Expect::Gzip => {
            if !is_gzip {
                return refuse("something that is not gzip");
            }
            gzip_complete(path).or_else(|e| refuse(&format!("a truncated gzip stream: {e}")))
        }
        Expect::JsonOrGzip if is_gzip => {
            gzip_complete(path).or_else(|e| refuse(&format!("a truncated gzip stream: {e}")))
        }
        Expect::Json | Expect::JsonOrGzip => {
            if !(text_start.starts_with(b"{") || text_start.starts_with(b"[")) {
                return refuse("something that is not JSON");
            }
            // A whole small document without features is an API error, not data.
            if len < HEAD as u64 && !contains(&head, b"\"features\"") {
                return refuse("a JSON document without features");
            }
            Ok(())
        }
        Expect::Text | Expect::Table => {
            if is_zip || is_gzip || head.contains(&0) {
                return refuse("binary data");
            }
            if text_start.starts_with(b"{") || text_start.starts_with(b"[") {
                return refuse("a JSON document");
            }
            Ok(())
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn looks_like_html(start: &[u8]) -> bool {
    let lower: Vec<u8> = start.iter().take(64).map(u8::to_ascii_lowercase).collect();
    ["<!doctype", "<html", "<head", "<body", "<?xml"]
        .iter()
        .any(|p| lower.starts_with(p.as_bytes()))
}

/// "N bytes, Content-Type x, starting with "…"".
fn describe(head: &[u8], len: u64, content_type: Option<&str>) -> String {
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(60)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let ct = content_type.map_or(String::new(), |c| format!("Content-Type {c}, "));
    format!("{len} bytes, {ct}starting with {:?}", shown.trim())
}

/// Decodes a gzip file to the end.
fn gzip_complete(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut gz = super::checks::capped(
        flate2::read::MultiGzDecoder::new(io::BufReader::new(file)),
        path.display().to_string(),
    );
    io::copy(&mut gz, &mut io::sink())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A progress bar with bytes and rate when the length is known, a spinner otherwise.
/// Drawn on stderr, hidden when stderr is not a terminal.
pub fn download_bar(length: Option<u64>, url: &str) -> ProgressBar {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expect: Expect) -> Result<(), String> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).expect("write");
        check_file(&path, expect, Some("text/html"))
    }

    fn zip_bytes() -> Vec<u8> {
        let mut buf = io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("a.csv", zip::write::SimpleFileOptions::default())
            .expect("start");
        io::Write::write_all(&mut w, b"CODGEO;P21_POP\n79329;9000\n").expect("write");
        w.finish().expect("finish");
        buf.into_inner()
    }

    #[test]
    fn pages_errors_and_truncated_archives_are_refused() {
        let html = b"\n<!DOCTYPE html><html><body>Not here</body></html>";
        for expect in [Expect::Text, Expect::Zip, Expect::Json, Expect::Gzip] {
            let e = check(html, expect).expect_err("html");
            assert!(e.contains("HTML page") && e.contains("DOCTYPE"), "{e}");
        }
        let e = check(b"", Expect::Text).expect_err("empty");
        assert!(e.contains("empty body"), "{e}");
        let e = check(br#"{"message":"Not found"}"#, Expect::Text).expect_err("json");
        assert!(e.contains("JSON document"), "{e}");
        let e = check(br#"{"message":"Not found"}"#, Expect::Json).expect_err("json");
        assert!(e.contains("without features"), "{e}");
        let zip = zip_bytes();
        check(&zip, Expect::Zip).expect("whole zip");
        let e = check(&zip[..zip.len() - 10], Expect::Zip).expect_err("truncated");
        assert!(e.contains("truncated"), "{e}");
        let e = check(&zip, Expect::Xlsx).expect_err("not a workbook");
        assert!(e.contains("xl/workbook.xml"), "{e}");
        check(b"a;b\n1;2\n", Expect::Text).expect("csv");
        check(
            br#"{"type":"FeatureCollection","features":[]}"#,
            Expect::Json,
        )
        .expect("geojson");
    }

    #[test]
    fn the_base_url_plays_every_host() {
        let http = HttpOptions {
            base_url: Some("http://127.0.0.1:8/".into()),
            ..HttpOptions::default()
        };
        assert_eq!(
            http.effective_url("https://www.insee.fr/fr/a.zip?x=1"),
            "http://127.0.0.1:8/www.insee.fr/fr/a.zip?x=1"
        );
        assert_eq!(
            HttpOptions::default().effective_url("https://a/b"),
            "https://a/b"
        );
        assert_eq!(http.backoff_before(2), Duration::from_secs(2));
        assert_eq!(http.backoff_before(4), Duration::from_secs(8));
    }
}

//! A real `careaccess serve` process on a free loopback port, for clients that need a
//! socket (GDAL's OAPIF driver). Killed when dropped.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts the binary on `data_dir` and waits until `/health` answers.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// The same, with these environment variables set.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_careaccess"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env_remove("CAREACCESS_MIRROR")
            .env_remove("CAREACCESS_DATA")
            .env_remove("CAREACCESS_ADMIN_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = server.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("careaccess serve exited ({status}): {err}");
            }
            if health(port) {
                return server;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "careaccess serve did not answer /health within 180 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Server {
    /// Process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` with a plain HTTP/1.1 request: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], "")
    }

    /// A plain HTTP/1.1 request with these extra header lines: status and body.
    pub fn request(&self, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
        use std::io::Write;
        let port = self.url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        write!(s, "{head}\r\n{body}").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

fn health(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether GDAL's command-line tools are here; with `CAREACCESS_REQUIRE_GDAL` set (CI)
/// their absence is a failure, not a skip.
pub fn has_gdal() -> bool {
    let ok = Command::new("ogrinfo").arg("--version").output().is_ok();
    assert!(
        ok || std::env::var_os("CAREACCESS_REQUIRE_GDAL").is_none(),
        "CAREACCESS_REQUIRE_GDAL is set but ogrinfo is not installed"
    );
    ok
}

/// `ogrinfo -ro -so OAPIF:<url>` lists every collection, then `ogr2ogr` copies the
/// communes of one département to a GeoPackage; returns the count GDAL reads back.
pub fn gdal_copies_one_departement(url: &str, collections: &[&str], dep: &str) -> u64 {
    let out = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(format!("OAPIF:{url}"))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ogrinfo failed: {listing}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for c in collections {
        assert!(
            listing.contains(&format!(": {c} (")),
            "{c} not listed:\n{listing}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let gpkg = tmp.path().join("communes.gpkg");
    let out = Command::new("ogr2ogr")
        .args(["-f", "GPKG"])
        .arg(&gpkg)
        .arg(format!("OAPIF:{url}"))
        .arg("communes")
        .args(["-where", &format!("departement = '{dep}'")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ogr2ogr failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(&gpkg)
        .arg("communes")
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    info.lines()
        .find_map(|l| l.trim().strip_prefix("Feature Count: "))
        .unwrap_or_else(|| panic!("no feature count in {info}"))
        .parse()
        .unwrap()
}

impl Server {
    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// `/health` as JSON.
    pub fn health(&self) -> serde_json::Value {
        let (status, body) = self.get("/health");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Waits up to `limit` for the process to exit.
    pub fn exits_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

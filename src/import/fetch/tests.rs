//! Tests of `import::fetch`.

use super::*;
use std::io::BufRead;
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

const ABC_SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const DEAD_URL: &str = "http://127.0.0.1:9/x";

fn source(id: &str, extra: &str) -> String {
    source_in(id, "commune_csv", extra)
}

/// A source of another format (what a download is checked against).
fn source_in(id: &str, format: &str, extra: &str) -> String {
    format!(
        r#"
[[source]]
id = "{id}"
title = "Test {id}"
role = "communes"
format = "{format}"
licence = "Licence Ouverte 2.0"
vintage = "2024"
{extra}
"#
    )
}

fn manifest(sources: &[String]) -> Manifest {
    Manifest::from_toml(&sources.concat()).expect("test manifest")
}

fn put(root: &Path, rel: &str, content: &[u8]) -> PathBuf {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(&path, content).expect("write");
    path
}

fn opts<'a>(data: &'a Path, mirror: Option<&'a Path>) -> FetchOptions<'a> {
    FetchOptions {
        http: HttpOptions {
            attempts: 1,
            ..HttpOptions::default()
        },
        ..FetchOptions::new(data, mirror)
    }
}

fn no_part_files(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".part"), "left over {name}");
        if entry.path().is_dir() {
            no_part_files(&entry.path());
        }
    }
}

/// Serves one fixed response on 127.0.0.1; the thread returns the request head.
fn serve_once(response: Vec<u8>) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut reader = io::BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("read request") == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut stream = reader.into_inner();
        stream.write_all(&response).expect("write response");
        stream.flush().expect("flush");
        head
    });
    (format!("http://{addr}"), handle)
}

#[test]
fn mirror_copy_records_sha256() {
    let data = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    put(mirror.path(), "cog/communes.json", b"abc");
    let m = manifest(&[source_in(
        "cog",
        "commune_csv",
        &format!("url = \"{DEAD_URL}/communes.json\"\nmirror = \"cog/communes.json\""),
    )]);
    let record = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect("fetch");
    let entry = &record.fetched["cog"];
    assert_eq!(entry.file, "cog/communes.json");
    assert_eq!(entry.sha256, ABC_SHA);
    assert_eq!(entry.bytes, 3);
    assert_eq!(entry.origin, Origin::Mirror);
    assert_eq!(
        entry.from,
        mirror
            .path()
            .join("cog/communes.json")
            .display()
            .to_string()
    );
    assert_eq!(entry.fetched_at.len(), "2023-11-14T22:13:20Z".len());
    assert!(entry.fetched_at.ends_with('Z'));
    let path = record.path_of(data.path(), "cog").expect("path_of");
    assert_eq!(path, data.path().join("sources/cog/communes.json"));
    assert_eq!(fs::read(&path).expect("read"), b"abc");
    assert_eq!(sha256_file(&path).expect("sha"), ABC_SHA);
    assert_eq!(FetchManifest::read(data.path()).expect("read"), record);
    let json = fs::read_to_string(FetchManifest::file_path(data.path())).expect("json");
    assert!(json.contains("\"origin\": \"mirror\""), "{json}");
    assert!(record.absent.is_empty());
    no_part_files(data.path());
}

#[test]
fn optional_source_missing_from_mirror_is_absent() {
    let data = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    let m = manifest(&[
        source(
            "extra",
            &format!("url = \"{DEAD_URL}/e.csv\"\nmirror = \"e/e.csv\"\noptional = true"),
        ),
        source(
            "nomirror",
            &format!("url = \"{DEAD_URL}/n.csv\"\noptional = true"),
        ),
    ]);
    let record = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect("fetch");
    assert!(record.fetched.is_empty());
    assert!(
        record.absent["extra"].contains("e.csv"),
        "{:?}",
        record.absent
    );
    assert!(record.absent["nomirror"].contains("no mirror path"));
    assert_eq!(FetchManifest::read(data.path()).expect("read"), record);
}

#[test]
fn optional_source_download_failure_is_absent() {
    let data = tempfile::tempdir().expect("tmp");
    let m = manifest(&[source(
        "extra",
        &format!("url = \"{DEAD_URL}/e.csv\"\noptional = true"),
    )]);
    let record = fetch(&m, &opts(data.path(), None)).expect("fetch");
    assert!(
        record.absent["extra"].contains(DEAD_URL),
        "{:?}",
        record.absent
    );
}

#[test]
fn required_source_missing_everywhere_is_an_error_naming_the_url() {
    let data = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    let url = format!("{DEAD_URL}/finess.csv");
    let m = manifest(&[source(
        "finess",
        &format!("url = \"{url}\"\nmirror = \"finess/finess.csv\""),
    )]);
    let err = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect_err("must fail");
    match &err {
        ImportError::Download { url: u, message } => {
            assert_eq!(u, &url);
            assert!(message.contains("not in the mirror"), "{message}");
        }
        e => panic!("unexpected error {e}"),
    }
    assert!(err.to_string().contains(&url));
    assert!(!data.path().join("sources/finess/finess.csv").exists());
    no_part_files(data.path());

    // Same without a mirror.
    let err = fetch(&m, &opts(data.path(), None)).expect_err("must fail");
    assert!(matches!(err, ImportError::Download { .. }), "{err}");
    assert!(err.to_string().contains(&url));
}

#[test]
fn checksum_mismatch_is_an_error() {
    let data = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    put(mirror.path(), "cog/communes.json", b"abd");
    let m = manifest(&[source(
        "cog",
        &format!(
            "url = \"{DEAD_URL}/communes.json\"\nmirror = \"cog/communes.json\"\nsha256 = \"{ABC_SHA}\""
        ),
    )]);
    let err = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect_err("must fail");
    match &err {
        ImportError::Checksum {
            path,
            expected,
            actual,
        } => {
            assert_eq!(path, &mirror.path().join("cog/communes.json"));
            assert_eq!(expected, ABC_SHA);
            assert_eq!(actual.len(), 64);
            assert_ne!(actual, ABC_SHA);
        }
        e => panic!("unexpected error {e}"),
    }
    assert!(!data.path().join("sources/cog/communes.json").exists());
    no_part_files(data.path());
}

#[test]
fn registry_source_cached_with_right_sha_is_not_downloaded() {
    let data = tempfile::tempdir().expect("tmp");
    let url = format!("{DEAD_URL}/pkg-1.0.0.tgz");
    let m = manifest(&[source(
        "pkg",
        &format!(
            "url = \"{url}\"\nregistry = \"npm\"\nsha256 = \"{}\"",
            ABC_SHA.to_uppercase()
        ),
    )]);
    put(data.path(), "sources/pkg/pkg-1.0.0.tgz", b"abc");
    let record = fetch(&m, &opts(data.path(), None)).expect("fetch");
    let entry = &record.fetched["pkg"];
    assert_eq!(entry.origin, Origin::Cache);
    assert_eq!(entry.sha256, ABC_SHA);
    assert_eq!(entry.bytes, 3);
    assert_eq!(entry.from, url);

    // A cached file with the wrong content is fetched again (and here fails).
    put(data.path(), "sources/pkg/pkg-1.0.0.tgz", b"abd");
    let err = fetch(&m, &opts(data.path(), None)).expect_err("must fail");
    assert!(matches!(err, ImportError::Download { .. }), "{err}");
}

#[test]
fn registry_download_failure_falls_back_to_the_mirror() {
    let data = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    let copy = put(mirror.path(), "npm/pkg-1.0.0.csv", b"abc");
    let m = manifest(&[source_in(
        "pkg",
        "commune_csv",
        &format!(
            "url = \"{DEAD_URL}/pkg-1.0.0.csv\"\nregistry = \"pypi\"\nmirror = \"npm/pkg-1.0.0.csv\"\nsha256 = \"{ABC_SHA}\""
        ),
    )]);
    let record = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect("fetch");
    let entry = &record.fetched["pkg"];
    assert_eq!(entry.origin, Origin::MirrorFallback);
    assert_eq!(entry.from, copy.display().to_string());
    assert_eq!(entry.file, "pkg/pkg-1.0.0.csv");
    assert_eq!(
        fs::read(data.path().join("sources/pkg/pkg-1.0.0.csv")).expect("read"),
        b"abc"
    );

    // Without a mirror and not optional: the download error.
    let data2 = tempfile::tempdir().expect("tmp");
    let err = fetch(&m, &opts(data2.path(), None)).expect_err("must fail");
    assert!(matches!(err, ImportError::Download { .. }), "{err}");
}

#[test]
fn second_fetch_merges_the_manifest() {
    let data = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    put(mirror.path(), "a.csv", b"abc");
    put(mirror.path(), "b.csv", b"bbb");
    let m = manifest(&[
        source(
            "a",
            &format!("url = \"{DEAD_URL}/a.csv\"\nmirror = \"a.csv\""),
        ),
        source(
            "b",
            &format!("url = \"{DEAD_URL}/b.csv\"\nmirror = \"b.csv\"\noptional = true"),
        ),
    ]);
    let only_a = ["a".to_owned()];
    let only_b = ["b".to_owned()];
    let first = fetch(
        &m,
        &FetchOptions {
            only: Some(&only_a),
            ..opts(data.path(), Some(mirror.path()))
        },
    )
    .expect("fetch a");
    assert_eq!(first.fetched.keys().collect::<Vec<_>>(), ["a"]);

    // b absent first, then present: it moves from `absent` to `fetched`.
    fs::remove_file(mirror.path().join("b.csv")).expect("rm");
    let second = fetch(
        &m,
        &FetchOptions {
            only: Some(&only_b),
            ..opts(data.path(), Some(mirror.path()))
        },
    )
    .expect("fetch b");
    assert_eq!(second.fetched["a"], first.fetched["a"]);
    assert!(second.absent.contains_key("b"));
    put(mirror.path(), "b.csv", b"bbb");
    put(mirror.path(), "a.csv", b"abcd");
    let third = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect("fetch all");
    assert_eq!(third.fetched.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert!(third.absent.is_empty());
    assert_eq!(third.fetched["a"].bytes, 4);
    assert_ne!(third.fetched["a"].sha256, ABC_SHA);
    assert_eq!(FetchManifest::read(data.path()).expect("read"), third);

    // b missing again: the copy fetched earlier is kept.
    fs::remove_file(mirror.path().join("b.csv")).expect("rm");
    let fourth = fetch(&m, &opts(data.path(), Some(mirror.path()))).expect("fetch all");
    assert_eq!(fourth.fetched["b"], third.fetched["b"]);
    assert!(fourth.absent.is_empty());

    // Entries of sources no longer in sources.toml are left alone.
    let mut record = fourth.clone();
    record.absent.insert("old".into(), "gone".into());
    record.write(data.path()).expect("write");
    let fifth = fetch(
        &m,
        &FetchOptions {
            only: Some(&only_a),
            ..opts(data.path(), Some(mirror.path()))
        },
    )
    .expect("fetch a");
    assert_eq!(fifth.absent["old"], "gone");
    no_part_files(data.path());
}

#[test]
fn unknown_only_id_and_missing_mirror_are_errors() {
    let data = tempfile::tempdir().expect("tmp");
    let m = manifest(&[source("a", &format!("url = \"{DEAD_URL}/a.csv\""))]);
    let only = ["zzz".to_owned()];
    let err = fetch(
        &m,
        &FetchOptions {
            only: Some(&only),
            ..opts(data.path(), None)
        },
    )
    .expect_err("unknown id");
    assert!(err.to_string().contains("zzz"), "{err}");
    let nowhere = data.path().join("no-such-mirror");
    let err = fetch(&m, &opts(data.path(), Some(&nowhere))).expect_err("no mirror");
    assert!(err.to_string().contains("no-such-mirror"), "{err}");
}

#[test]
fn downloads_from_a_local_server() {
    let body = b"code,nom\n79329,Thouars\n";
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    let (base, server) = serve_once(response);
    let url = format!("{base}/data/communes.csv");
    let data = tempfile::tempdir().expect("tmp");
    // A stale part file from an interrupted run is replaced.
    put(data.path(), "sources/c/.communes.csv.part", b"half");
    let m = manifest(&[source_in("c", "commune_csv", &format!("url = \"{url}\""))]);
    let record = fetch(&m, &opts(data.path(), None)).expect("fetch");
    let head = server.join().expect("server");
    assert!(
        head.starts_with("GET /data/communes.csv HTTP/1.1"),
        "{head}"
    );
    let ua = format!("user-agent: careaccess/{}", env!("CARGO_PKG_VERSION"));
    assert!(head.to_ascii_lowercase().contains(&ua), "{head}");
    let entry = &record.fetched["c"];
    assert_eq!(entry.origin, Origin::Url);
    assert_eq!(entry.from, url);
    assert_eq!(entry.bytes, body.len() as u64);
    let path = data.path().join("sources/c/communes.csv");
    assert_eq!(fs::read(&path).expect("read"), body);
    assert_eq!(entry.sha256, sha256_file(&path).expect("sha"));
    no_part_files(data.path());
}

#[test]
fn follows_redirects_and_reads_bodies_without_length() {
    // No Content-Length: the body ends when the connection closes (spinner path).
    let (target, last) = serve_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc".to_vec());
    let (base, first) = serve_once(
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}/real/pkg-1.0.0.csv\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    );
    let data = tempfile::tempdir().expect("tmp");
    let url = format!("{base}/pkg-1.0.0.csv");
    let m = manifest(&[source_in(
        "pkg",
        "commune_csv",
        &format!("url = \"{url}\"\nregistry = \"npm\"\nsha256 = \"{ABC_SHA}\""),
    )]);
    let record = fetch(&m, &opts(data.path(), None)).expect("fetch");
    assert!(
        first
            .join()
            .expect("server")
            .starts_with("GET /pkg-1.0.0.csv ")
    );
    assert!(
        last.join()
            .expect("server")
            .starts_with("GET /real/pkg-1.0.0.csv ")
    );
    let entry = &record.fetched["pkg"];
    assert_eq!(
        (entry.origin, entry.sha256.as_str()),
        (Origin::Url, ABC_SHA)
    );
    assert_eq!(entry.from, url);
    no_part_files(data.path());
}

#[test]
fn non_2xx_status_is_a_download_error() {
    let (base, server) = serve_once(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
            .to_vec(),
    );
    let url = format!("{base}/missing.csv");
    let data = tempfile::tempdir().expect("tmp");
    let m = manifest(&[source_in("c", "commune_csv", &format!("url = \"{url}\""))]);
    let err = fetch(&m, &opts(data.path(), None)).expect_err("404");
    server.join().expect("server");
    match &err {
        ImportError::Download { url: u, message } => {
            assert_eq!(u, &url);
            assert!(message.contains("404"), "{message}");
        }
        e => panic!("unexpected error {e}"),
    }
    assert!(!data.path().join("sources/c/missing.csv").exists());
    no_part_files(data.path());
}

#[test]
fn rfc3339_known_instants() {
    let at = |s: u64| rfc3339_utc(UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(at(0), "1970-01-01T00:00:00Z");
    assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
    assert_eq!(at(1_709_251_200), "2024-03-01T00:00:00Z");
    assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59Z");
    assert_eq!(
        rfc3339_utc(UNIX_EPOCH + Duration::from_millis(1_500)),
        "1970-01-01T00:00:01Z"
    );
    assert_eq!(format_unix_seconds(-1), "1969-12-31T23:59:59Z");
    assert_eq!(
        rfc3339_utc(UNIX_EPOCH - Duration::from_millis(500)),
        "1969-12-31T23:59:59Z"
    );
    assert_eq!(format_unix_seconds(-86_400 * 365), "1969-01-01T00:00:00Z");
}

#[test]
fn path_of_rejects_escaping_paths() {
    let mut record = FetchManifest::default();
    record.fetched.insert(
        "x".into(),
        FetchedFile {
            file: "../x/y.csv".into(),
            sha256: ABC_SHA.into(),
            bytes: 3,
            origin: Origin::Url,
            from: DEAD_URL.into(),
            fetched_at: "1970-01-01T00:00:00Z".into(),
            version: None,
        },
    );
    assert_eq!(record.path_of(Path::new("/data"), "x"), None);
    assert_eq!(record.path_of(Path::new("/data"), "y"), None);
}

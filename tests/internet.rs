//! A fresh machine with internet and no mirror, simulated: a local HTTP server plays the
//! official hosts (npm, data.gouv.fr and its dataset API, INSEE, DREES) with fixtures
//! written for careaccess in the published formats — the mini COG as an npm tarball, an
//! INSEE-style zipped CSV, a DREES-style xlsx workbook (title rows, one sheet per
//! vintage), the FINESS extract in its two-record-type Latin-1 layout and a dataset-API
//! answer pointing at it. `data fetch` runs with no mirror, the sources' `https://host/…`
//! URLs redirected to the server (`CAREACCESS_SOURCES_BASE_URL`), then `data build`.
//!
//! Then the hosts misbehave — an HTML page, a 404, a truncated zip, a body that stalls —
//! and every failure must be a clear message naming the source, the URL and what came
//! back, with the previous build still in place.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use careaccess::import::BuildReport;
use careaccess::store::{self, CURRENT};

use crate::import_fixtures::{careaccess, finess_fixture, mini_dir, pack_cog};

/// What the server answers for a path.
#[derive(Clone)]
enum Reply {
    Ok {
        content_type: &'static str,
        body: Vec<u8>,
    },
    Status(u16),
    /// The first time: announces the whole length, sends `cut` bytes and closes; then
    /// as `Ok` (ranges answered).
    CutOnce {
        body: Vec<u8>,
        cut: usize,
        done: Arc<std::sync::atomic::AtomicBool>,
    },
    /// Announces the whole length, sends `sent` bytes, then stalls for `stall`.
    Stall {
        body: Vec<u8>,
        sent: usize,
        stall: Duration,
    },
}

type Routes = Arc<Mutex<HashMap<String, Reply>>>;

/// A server on 127.0.0.1 answering GET and HEAD from `routes`, keyed by path
/// (`/host/path`); each answer carries an ETag of its bytes.
struct Hosts {
    base: String,
    routes: Routes,
    /// Every request: "METHOD path [range]".
    log: Arc<Mutex<Vec<String>>>,
}

impl Hosts {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Routes = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (shared, shared_log) = (routes.clone(), log.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, log) = (shared.clone(), shared_log.clone());
                std::thread::spawn(move || answer(stream, &routes, &log));
            }
        });
        Hosts { base, routes, log }
    }

    fn set(&self, url: &str, reply: Reply) {
        let path = url.strip_prefix("https://").unwrap_or(url);
        self.routes
            .lock()
            .unwrap()
            .insert(format!("/{path}"), reply);
    }

    /// `careaccess data <command>` against these hosts, with short timeouts.
    fn careaccess(&self, data: &Path, command: &str) -> std::process::Command {
        let mut cmd = careaccess(data, command);
        cmd.env("CAREACCESS_SOURCES_BASE_URL", &self.base)
            .env("CAREACCESS_HTTP_TIMEOUT", "1")
            .env("CAREACCESS_HTTP_ATTEMPTS", "2")
            .env("CAREACCESS_HTTP_BACKOFF_MS", "50");
        cmd
    }
}

fn answer(stream: TcpStream, routes: &Routes, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut range: Option<usize> = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("range: bytes=") {
            range = r.trim().trim_end_matches('-').parse().ok();
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    log.lock().unwrap().push(format!(
        "{method} {path} {}",
        range.map_or(String::new(), |r| format!("range {r}-"))
    ));
    let mut reply = routes.lock().unwrap().get(path).cloned();
    if let Some(Reply::CutOnce { body, cut, done }) = &reply {
        if !done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let h = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(h.as_bytes())
                .and_then(|_| stream.write_all(&body[..*cut]));
            return;
        }
        reply = Some(Reply::Ok {
            content_type: "application/zip",
            body: body.clone(),
        });
    }
    let mut stream = reader.into_inner();
    let head = |status: &str, ct: &str, len: usize, etag: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {len}\r\nETag: \"{etag}\"\r\nConnection: close\r\n\r\n"
        )
    };
    let etag = |b: &[u8]| {
        format!(
            "{:x}",
            b.iter().map(|&x| u64::from(x)).sum::<u64>() ^ b.len() as u64
        )
    };
    let _ = match reply {
        None | Some(Reply::Status(404)) => {
            let body = b"<!DOCTYPE html><html><body>Page introuvable</body></html>";
            stream
                .write_all(head("404 Not Found", "text/html", body.len(), "404").as_bytes())
                .and_then(|_| stream.write_all(if method == "HEAD" { b"" } else { body }))
        }
        Some(Reply::Status(code)) => {
            stream.write_all(head(&format!("{code} Error"), "text/plain", 0, "x").as_bytes())
        }
        Some(Reply::Ok { content_type, body }) if range.is_some_and(|r| r < body.len()) => {
            let from = range.unwrap_or(0);
            let h = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
                body.len() - from,
                body.len() - 1,
                body.len()
            );
            stream
                .write_all(h.as_bytes())
                .and_then(|_| stream.write_all(&body[from..]))
        }
        Some(Reply::Ok { content_type, body }) => {
            let h = head("200 OK", content_type, body.len(), &etag(&body));
            stream.write_all(h.as_bytes()).and_then(|_| {
                if method == "HEAD" {
                    Ok(())
                } else {
                    stream.write_all(&body)
                }
            })
        }
        Some(Reply::CutOnce { .. }) => Ok(()),
        Some(Reply::Stall { body, sent, stall }) => {
            let h = head("200 OK", "application/geo+json", body.len(), &etag(&body));
            let r = stream
                .write_all(h.as_bytes())
                .and_then(|_| stream.write_all(&body[..sent]))
                .and_then(|_| stream.flush());
            std::thread::sleep(stall);
            r
        }
    };
}

// ---------------------------------------------------------------- fixtures

const COG_URL: &str = "https://registry.npmjs.org/@etalab/decoupage-administratif/-/decoupage-administratif-0.0.0.tgz";
const CONTOURS_URL: &str = "https://geo.example.gouv.fr/contours/communes-mini.geojson";
const DATASET_API: &str =
    "https://www.data.gouv.fr/api/1/datasets/finess-extraction-du-fichier-des-etablissements/";
const FINESS_URL: &str = "https://static.data.gouv.fr/resources/finess/20260512-033600/etalab-cs1100507-stock-20260512-0336.csv";
const INSEE_URL: &str =
    "https://www.insee.fr/fr/statistiques/fichier/0000000/base-cc-evol-struct-pop-2022_csv.zip";
const APL_URL: &str = "https://data.drees.solidarites-sante.gouv.fr/api/datasets/1.0/530_l-accessibilite-potentielle-localisee-apl/attachments/indicateur_d_accessibilite_potentielle_localisee_apl_aux_infirmieres_xlsx/";

/// The test manifest: the published forms of the sources, and one mirror-only source.
fn manifest() -> String {
    format!(
        r#"# Test fixture written for careaccess, not official data.
[[source]]
id = "cog"
title = "mini COG (fixture)"
role = "communes"
format = "decoupage_administratif"
registry = "npm"
url = "{COG_URL}"
licence = "fixture"
vintage = "fixture"

[[source]]
id = "contours"
title = "rectangles (fixture)"
role = "contours"
format = "commune_contours"
url = "{CONTOURS_URL}"
licence = "fixture"
vintage = "fixture"

[[source]]
id = "finess"
title = "FINESS géolocalisé (fixture)"
role = "facilities"
format = "finess_etalab"
optional = true
licence = "fixture"
vintage = "date d'extraction en tête du fichier"
hospital_aggregate_prefix = "11"
[source.data_gouv]
dataset = "finess-extraction-du-fichier-des-etablissements"
resource = 'etalab-cs1100507-stock'
[source.categories]
"603" = "msp"
"463" = "clic"
"500" = "ehpad"
"501" = "ehpa"
"502" = "ehpa"
"124" = "centre_sante"
"101" = "hospital"
"106" = "hospital"
"355" = "hospital"

[[source]]
id = "msp_web_lists"
title = "MSP de pages web (fixture, mirror only)"
role = "facilities"
format = "points_csv"
kind = "msp"
mirror = "msp/msp.csv"
mirror_only = true
licence = "fixture"
vintage = "fixture"
partial_list = true
yields_to = ["finess"]
[source.columns]
name = "nom"
commune = "insee_com"

[[source]]
id = "population_age_insee"
title = "INSEE base communale (fixture)"
role = "commune_indicators"
format = "insee_census"
url = "{INSEE_URL}"
optional = true
licence = "fixture"
vintage = "fixture"
delimiter = ";"
code_column = "CODGEO"
[source.fields]
pop_75plus = "POP75P"
pop_85plus = "POP85P"

[[source]]
id = "apl_inf_2021"
title = "APL infirmières (fixture)"
role = "commune_indicators"
format = "commune_csv"
url = "{APL_URL}"
sheet = "2021"
optional = true
licence = "fixture"
vintage = "APL 2021"
code_column = "Code commune"
[source.fields]
apl_inf = "APL 2021 aux infirmières de 65 ans et moins"
pop_standardisee_inf = "Population standardisée par la consommation de soins par tranche d'âge"
"#
    )
}

/// The mini communes' codes, with invented values.
const CODES: [&str; 7] = [
    "79005", "79014", "79049", "79196", "79299", "79329", "86137",
];

/// An INSEE base communale: `;`-separated, vintage in the column names, 75+ given and
/// 85+ as bands, a metadata CSV beside it in the zip; one row of an unknown commune.
fn insee_zip() -> Vec<u8> {
    let mut csv =
        String::from("CODGEO;P22_POP;P22_POP6074;P22_POP75P;P22_POP8589;P22_POP90P;P16_POP\n");
    for (i, code) in CODES.iter().enumerate() {
        let i = i as f64;
        csv.push_str(&format!(
            "{code};{};{};{};{};{};1\n",
            1000.0 + i,
            100.0 + i,
            80.5 + i,
            20.0 + i,
            5.0
        ));
    }
    csv.push_str("99999;1;0;0;0;0;1\n");
    let mut buf = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("meta_base-cc-evol-struct-pop-2022.CSV", opts)
        .unwrap();
    zip.write_all(b"COD_VAR;LIB_VAR\nP22_POP;Population\n")
        .unwrap();
    zip.start_file("base-cc-evol-struct-pop-2022.CSV", opts)
        .unwrap();
    zip.write_all(csv.as_bytes()).unwrap();
    zip.finish().unwrap();
    buf.into_inner()
}

/// A cell of a hand-made sheet.
enum C<'a> {
    S(&'a str),
    N(f64),
}

fn sheet_xml(rows: &[Vec<C<'_>>]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        xml.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            match cell {
                C::S(s) => xml.push_str(&format!(
                    "<c r=\"{col}{}\" t=\"inlineStr\"><is><t>{s}</t></is></c>",
                    r + 1
                )),
                C::N(n) => xml.push_str(&format!("<c r=\"{col}{}\"><v>{n}</v></c>", r + 1)),
            }
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// A DREES-style workbook: a notes sheet, then one sheet per vintage opening with title
/// rows; codes as text except one stored as a number (01001-style loss of the zero is
/// not at stake for 79xxx, so it is kept as is).
fn apl_xlsx(sheet_2021: &str) -> Vec<u8> {
    let header = vec![
        C::S("Code commune"),
        C::S("Libellé de la commune"),
        C::S("APL 2021 aux infirmières de 65 ans et moins"),
        C::S("Population standardisée par la consommation de soins par tranche d'âge"),
    ];
    let mut y2021 = vec![
        vec![C::S(
            "Indicateur d'accessibilité potentielle localisée (APL) aux infirmières",
        )],
        vec![C::S(
            "Source : DREES (fixture written for careaccess, invented values)",
        )],
        vec![],
        header,
    ];
    for (i, code) in CODES.iter().enumerate() {
        let code_cell = if i == 0 {
            C::N(code.parse().unwrap())
        } else {
            C::S(code)
        };
        y2021.push(vec![
            code_cell,
            C::S("x"),
            C::N(100.0 + i as f64),
            C::N(900.0),
        ]);
    }
    let y2022 = vec![
        vec![C::S("Code commune"), C::S("APL 2022")],
        vec![C::S("79329"), C::N(1.0)],
    ];
    let notes = vec![vec![C::S("Notes")]];
    let sheets = [("Notes", notes), ("APL 2022", y2022), (sheet_2021, y2021)];
    let mut buf = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default();
    let mut put = |name: &str, text: &str| {
        zip.start_file(name, opts).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    };
    let mut types = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
    );
    let mut book = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>"#,
    );
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    );
    for (i, (name, rows)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
        book.push_str(&format!(
            r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
        ));
        rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
        put(&format!("xl/worksheets/sheet{n}.xml"), &sheet_xml(rows));
    }
    types.push_str("</Types>");
    book.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    put("[Content_Types].xml", &types);
    put(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    put("xl/workbook.xml", &book);
    put("xl/_rels/workbook.xml.rels", &rels);
    zip.finish().unwrap();
    buf.into_inner()
}

fn dataset_json(finess_url: &str, last_modified: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"x","title":"FINESS Extraction du Fichier des établissements","resources":[
{{"title":"etalab-cs1100502-stock-20260512-0336.csv","url":"https://static.data.gouv.fr/resources/finess/etalab-cs1100502-stock-20260512-0336.csv","format":"csv","last_modified":"2026-05-12T03:40:00"}},
{{"title":"etalab-cs1100507-stock-20251101-0336.csv","url":"https://static.data.gouv.fr/resources/finess/etalab-cs1100507-stock-20251101-0336.csv","format":"csv","last_modified":"2025-11-01T03:40:00"}},
{{"title":"etalab-cs1100507-stock (extraction géolocalisée)","url":"{finess_url}","format":"csv","last_modified":"{last_modified}","checksum":{{"type":"sha1","value":"0"}}}}
]}}"#
    )
    .into_bytes()
}

fn serve_the_official_files(hosts: &Hosts) {
    let tmp = tempfile::tempdir().unwrap();
    let tgz = tmp.path().join("cog.tgz");
    pack_cog(&tgz);
    let ok = |content_type, body| Reply::Ok { content_type, body };
    hosts.set(
        COG_URL,
        ok("application/octet-stream", std::fs::read(&tgz).unwrap()),
    );
    hosts.set(
        CONTOURS_URL,
        ok(
            "application/geo+json",
            std::fs::read(mini_dir().join("contours.geojson")).unwrap(),
        ),
    );
    hosts.set(
        DATASET_API,
        ok(
            "application/json",
            dataset_json(FINESS_URL, "2026-05-12T03:40:00"),
        ),
    );
    hosts.set(
        FINESS_URL,
        ok(
            "text/csv; charset=iso-8859-1",
            std::fs::read(finess_fixture()).unwrap(),
        ),
    );
    hosts.set(INSEE_URL, ok("application/zip", insee_zip()));
    hosts.set(
        APL_URL,
        ok(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            apl_xlsx("APL 2021"),
        ),
    );
}

fn run(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stderr)
}

fn report(data: &Path) -> BuildReport {
    let bytes = std::fs::read(data.join(CURRENT).join("build-report.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn source<'a>(r: &'a BuildReport, id: &str) -> &'a careaccess::import::SourceReport {
    r.sources.iter().find(|s| s.id == id).unwrap()
}

fn data_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("sources.toml"), manifest()).unwrap();
    data
}

#[test]
fn a_connected_machine_without_mirror_fetches_every_published_file() {
    let hosts = Hosts::start();
    serve_the_official_files(&hosts);
    let data = data_dir();

    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "fetch"));
    assert!(ok, "{stderr}");
    // The mirror-only source: one line saying it needs a local copy.
    let notice: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("msp_web_lists"))
        .collect();
    assert!(
        notice.iter().any(|l| l.contains("needs a local copy")),
        "{stderr}"
    );
    let fetched = careaccess::import::fetch::FetchManifest::read(data.path()).unwrap();
    assert_eq!(
        fetched.fetched.keys().collect::<Vec<_>>(),
        [
            "apl_inf_2021",
            "cog",
            "contours",
            "finess",
            "population_age_insee"
        ]
    );
    let finess = &fetched.fetched["finess"];
    assert_eq!(finess.from, FINESS_URL, "the latest geolocated resource");
    assert_eq!(
        finess.file,
        "finess/etalab-cs1100507-stock-20260512-0336.csv"
    );
    assert_eq!(finess.version.as_deref(), Some("2026-05-12T03:40:00"));
    assert_eq!(
        fetched.fetched["apl_inf_2021"].file,
        "apl_inf_2021/indicateur_d_accessibilite_potentielle_localisee_apl_aux_infirmieres.xlsx"
    );

    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "build"));
    assert!(ok, "{stderr}");
    let r = report(data.path());
    assert_eq!(r.outputs["communes.fgb"], 7);
    let finess = source(&r, "finess");
    assert_eq!((finess.rows_read, finess.kept), (28, 7));
    assert_eq!(finess.vintage, "extraction du 2026-05-12");
    assert_eq!(source(&r, "msp_web_lists").status, "absent");
    let census = source(&r, "population_age_insee");
    assert_eq!((census.rows_read, census.kept), (8, 7), "{census:?}");
    assert_eq!(census.skipped["unknown_commune"], 1);
    assert!(census.vintage.contains("RP 2022"), "{}", census.vintage);
    let apl = source(&r, "apl_inf_2021");
    assert_eq!((apl.rows_read, apl.kept), (7, 7), "{apl:?}");

    let communes = store::read_layer(&data.path().join("communes.fgb")).unwrap();
    let airvault = communes
        .iter()
        .find(|f| f.properties.get("code").and_then(|c| c.as_str()) == Some("79005"))
        .unwrap();
    let real = |k: &str| match airvault.properties.get(k) {
        Some(careaccess::store::fgb::Cell::Real(x)) => *x,
        other => panic!("{k}: {other:?}"),
    };
    // First row of each fixture: 75+ as given, 85+ = 85–89 + 90+, the APL of 2021 (not
    // the 2022 sheet), the code stored as a number found all the same.
    assert_eq!(real("pop_75plus"), 80.5);
    assert_eq!(real("pop_85plus"), 25.0);
    assert_eq!(real("apl_inf"), 100.0);

    // `data sources --remote`: everything up to date, the mirror-only source said.
    let out = hosts
        .careaccess(data.path(), "sources")
        .arg("--remote")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("finess (data.gouv.fr dataset API, optional)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("nothing published: needs a local copy"),
        "{stdout}"
    );
    assert!(!stdout.contains("NEWER"), "{stdout}");

    // A new FINESS extract is published: `sources --remote` says so; `fetch` (which
    // asks the dataset API every time) brings it.
    let newer = FINESS_URL.replace("20260512", "20260601");
    hosts.set(
        DATASET_API,
        Reply::Ok {
            content_type: "application/json",
            body: dataset_json(&newer, "2026-06-01T03:40:00"),
        },
    );
    hosts.set(
        &newer,
        Reply::Ok {
            content_type: "text/csv",
            body: std::fs::read(finess_fixture()).unwrap(),
        },
    );
    let out = hosts
        .careaccess(data.path(), "sources")
        .arg("--remote")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("NEWER"), "{stdout}");
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "fetch"));
    assert!(ok, "{stderr}");
    let fetched = careaccess::import::fetch::FetchManifest::read(data.path()).unwrap();
    assert_eq!(fetched.fetched["finess"].from, newer);
    assert_eq!(
        fetched.fetched["finess"].version.as_deref(),
        Some("2026-06-01T03:40:00")
    );

    // INSEE republishes its file under the same URL (a new ETag): a plain `fetch` keeps
    // the copy it has; `fetch --update` brings the new one.
    let before = fetched.fetched["population_age_insee"].clone();
    let republished = {
        let mut buf = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file(
            "base-cc-evol-struct-pop-2022.CSV",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(b"CODGEO;P22_POP;P22_POP75P;P22_POP8589;P22_POP90P\n79329;9000;900;100;50\n")
            .unwrap();
        w.finish().unwrap();
        buf.into_inner()
    };
    hosts.set(
        INSEE_URL,
        Reply::Ok {
            content_type: "application/zip",
            body: republished.clone(),
        },
    );
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "fetch"));
    assert!(ok, "{stderr}");
    let kept = careaccess::import::fetch::FetchManifest::read(data.path()).unwrap();
    assert_eq!(kept.fetched["population_age_insee"].sha256, before.sha256);
    let (ok, stderr) = run(hosts.careaccess(data.path(), "fetch").arg("--update"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("has a newer version"), "{stderr}");
    let updated = careaccess::import::fetch::FetchManifest::read(data.path()).unwrap();
    let file = updated
        .path_of(data.path(), "population_age_insee")
        .unwrap();
    assert_eq!(std::fs::read(file).unwrap(), republished);
    assert_ne!(
        updated.fetched["population_age_insee"].version,
        before.version
    );
}

/// The hosts misbehave after a first good build: every failure names the source, the
/// URL and what came back; optional sources keep their earlier copy, a required one
/// stops the fetch; the previous build stays current and loads.
#[test]
fn bad_answers_are_refused_clearly_and_the_previous_build_stays() {
    let hosts = Hosts::start();
    serve_the_official_files(&hosts);
    let data = data_dir();
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "fetch"));
    assert!(ok, "{stderr}");
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "build"));
    assert!(ok, "{stderr}");
    let before = std::fs::read_link(data.path().join(CURRENT)).unwrap();

    // A fresh data dir: the same hosts now answer an HTML page for the FINESS file, a
    // 404 for the workbook, a truncated zip for INSEE.
    let page = b"<!DOCTYPE html>\n<html><head><title>data.gouv.fr</title></head></html>".to_vec();
    hosts.set(
        FINESS_URL,
        Reply::Ok {
            content_type: "text/html; charset=utf-8",
            body: page,
        },
    );
    hosts.set(APL_URL, Reply::Status(404));
    let zip = insee_zip();
    hosts.set(
        INSEE_URL,
        Reply::Ok {
            content_type: "application/zip",
            body: zip[..zip.len() * 2 / 3].to_vec(),
        },
    );
    let fresh = data_dir();
    let (ok, stderr) = run(&mut hosts.careaccess(fresh.path(), "fetch"));
    assert!(ok, "optional sources do not stop the fetch: {stderr}");
    let line = |id: &str| -> String {
        stderr
            .lines()
            .filter(|l| l.contains(id))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let finess = line("etalab-cs1100507");
    assert!(
        finess.contains("source finess")
            && finess.contains("HTML page")
            && finess.contains("DOCTYPE")
            && finess.contains("text/html"),
        "{stderr}"
    );
    let apl = line("apl_inf_2021");
    assert!(apl.contains(APL_URL) && apl.contains("404"), "{stderr}");
    let insee = line("population_age_insee");
    assert!(
        insee.contains(INSEE_URL) && insee.contains("truncated or damaged zip"),
        "{stderr}"
    );
    assert!(!stderr.contains("not in the file header"), "{stderr}");
    let fetched = careaccess::import::fetch::FetchManifest::read(fresh.path()).unwrap();
    assert_eq!(
        fetched.absent.keys().collect::<Vec<_>>(),
        [
            "apl_inf_2021",
            "finess",
            "msp_web_lists",
            "population_age_insee"
        ]
    );
    // Nothing refused is left on disk, under its name or as a part file.
    for id in ["finess", "apl_inf_2021", "population_age_insee"] {
        let dir = fresh.path().join("sources").join(id);
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{id}: {left:?}");
    }
    // The build goes on with what the registries gave.
    let (ok, stderr) = run(&mut hosts.careaccess(fresh.path(), "build"));
    assert!(ok, "{stderr}");
    assert_eq!(report(fresh.path()).outputs["communes.fgb"], 7);

    // The first data dir, with --update: the refused downloads keep the earlier copies.
    let (ok, stderr) = run(hosts.careaccess(data.path(), "fetch").arg("--update"));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("keeping the copy fetched earlier"),
        "{stderr}"
    );
    let fetched = careaccess::import::fetch::FetchManifest::read(data.path()).unwrap();
    assert!(
        fetched.absent.keys().all(|k| k == "msp_web_lists"),
        "{:?}",
        fetched.absent
    );

    // A required source whose body stalls: the fetch stops with one message naming it.
    let contours = std::fs::read(mini_dir().join("contours.geojson")).unwrap();
    hosts.set(
        CONTOURS_URL,
        Reply::Stall {
            body: contours,
            sent: 100,
            stall: Duration::from_secs(4),
        },
    );
    let slow = data_dir();
    let (ok, stderr) = run(&mut hosts.careaccess(slow.path(), "fetch"));
    assert!(!ok);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("error:")
            && last.contains(CONTOURS_URL)
            && last.contains("source contours")
            && last.contains("timed out"),
        "{stderr}"
    );
    assert!(stderr.contains("trying again"), "{stderr}");

    // The previous build is still current and loads.
    assert_eq!(
        std::fs::read_link(data.path().join(CURRENT)).unwrap(),
        before
    );
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "build"));
    assert!(ok, "{stderr}");
    store::load(data.path(), store::LoadOptions::default()).unwrap();
}

/// No mirror, no network: one clear message, never a parse error.
#[test]
fn no_mirror_and_no_network_is_one_clear_message() {
    let data = data_dir();
    let (ok, stderr) = run(careaccess(data.path(), "fetch")
        .env("CAREACCESS_SOURCES_BASE_URL", "http://127.0.0.1:9")
        .env("CAREACCESS_HTTP_ATTEMPTS", "1"));
    assert!(!ok);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("error: download of https://registry.npmjs.org/"),
        "{stderr}"
    );
    assert!(last.contains("source cog"), "{stderr}");
}

/// The issue's reproduction offline: web pages saved in place of files in a copy of the
/// mirror. An optional source is left out with the reason; a required one stops the
/// fetch naming the source, the copy and what it is — never a parse error in the build.
#[test]
fn a_web_page_in_the_mirror_is_refused_at_fetch() {
    let page = b"<!DOCTYPE html>\n<html lang=\"fr\"><body>Maisons de sant\xc3\xa9</body></html>\n";
    let mini = crate::import_fixtures::Mini::new();
    std::fs::write(
        mini.mirror()
            .join("finess/etalab-cs1100507-stock-fixture.csv"),
        page,
    )
    .unwrap();
    let record = mini.fetch();
    let why = &record.absent["finess"];
    assert!(
        why.contains("HTML page") && why.contains("mirror copy"),
        "{why}"
    );
    let built = mini.build();
    let finess = built
        .report
        .sources
        .iter()
        .find(|s| s.id == "finess")
        .unwrap();
    assert_eq!(finess.status, "absent");

    std::fs::write(mini.mirror().join("indicateurs_communes.csv"), page).unwrap();
    let e = mini
        .try_fetch(mini.manifest(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("source indicateurs")
            && e.contains("indicateurs_communes.csv")
            && e.contains("HTML page"),
        "{e}"
    );
}

/// A published file that its reader cannot use (a workbook without the 2021 sheet): an
/// optional source is left out with the reason, and the build goes on.
#[test]
fn an_optional_file_that_cannot_be_read_is_left_out() {
    let hosts = Hosts::start();
    serve_the_official_files(&hosts);
    hosts.set(
        APL_URL,
        Reply::Ok {
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            body: apl_xlsx("APL 2023"),
        },
    );
    let data = data_dir();
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "fetch"));
    assert!(ok, "{stderr}");
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "build"));
    assert!(ok, "{stderr}");
    let r = report(data.path());
    let apl = source(&r, "apl_inf_2021");
    assert_eq!(apl.status, "unreadable");
    assert!(
        apl.notes
            .iter()
            .any(|n| n.contains("no sheet named like \"2021\"") && n.contains("APL 2023")),
        "{:?}",
        apl.notes
    );
    assert_eq!(source(&r, "finess").kept, 7);
}

/// A download cut in the middle goes on from where it stopped (an HTTP range), and the
/// file kept is the whole one.
#[test]
fn a_cut_download_resumes() {
    let hosts = Hosts::start();
    serve_the_official_files(&hosts);
    let zip = insee_zip();
    hosts.set(
        INSEE_URL,
        Reply::CutOnce {
            body: zip.clone(),
            cut: zip.len() / 2,
            done: Arc::default(),
        },
    );
    let data = data_dir();
    let (ok, stderr) = run(&mut hosts.careaccess(data.path(), "fetch"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    let path = INSEE_URL.strip_prefix("https:/").unwrap();
    let log = hosts.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l == &format!("GET {path} range {}-", zip.len() / 2)),
        "{log:?}"
    );
    let fetched = careaccess::import::fetch::FetchManifest::read(data.path()).unwrap();
    let file = fetched
        .path_of(data.path(), "population_age_insee")
        .unwrap();
    assert_eq!(std::fs::read(file).unwrap(), zip);
}

/// The issue's rule for `geodata/sources.toml`: every source is downloadable as a file in
/// a format its parser reads, or mirror-only; no URL is a web page.
#[test]
fn no_url_of_the_manifest_is_a_web_page() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/sources.toml");
    let manifest = careaccess::import::Manifest::read(&path).unwrap();
    for s in &manifest.sources {
        match (&s.url, &s.data_gouv) {
            (Some(url), _) => {
                for page in ["/tree/", "/blob/", "/explore/", ".htm"] {
                    assert!(!url.contains(page), "{}: {url} is a web page", s.id);
                }
                let name = s.download_name(url);
                let ext = name.rsplit('.').next().unwrap();
                assert!(
                    ["csv", "zip", "xlsx", "tgz", "whl", "geojson", "gz"].contains(&ext),
                    "{}: {url} does not name a file ({name})",
                    s.id
                );
            }
            (None, Some(d)) => assert!(!d.dataset.is_empty()),
            (None, None) => assert!(s.mirror_only && s.mirror.is_some(), "{}", s.id),
        }
    }
    let mirror_only: Vec<&str> = manifest
        .sources
        .iter()
        .filter(|s| s.mirror_only)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        mirror_only,
        ["ehpad_finess_7dep", "msp_web_lists", "population_age"]
    );
}

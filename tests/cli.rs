//! The command line on the mini data set: the same request rules as the API, with the
//! same words, and every command ending quietly when its reader goes away.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};

use crate::api::{fixture, get};

fn careaccess(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_careaccess"));
    cmd.arg("--data-dir")
        .arg(&fixture().service.data_dir)
        .args(args)
        .env_remove("CAREACCESS_LOG");
    cmd
}

/// One rule, one message: a threshold out of range is refused by `coverage --within-km`
/// and by `/territories/…/coverage?within_km=` in the same words.
#[tokio::test]
async fn the_cli_and_the_api_refuse_the_same_threshold_in_the_same_words() {
    for (flag, param) in [("--within-km", "within_km"), ("--within-min", "within_min")] {
        let out = careaccess(&[
            "coverage",
            "--territory",
            "cls:thouarsais",
            "--kind",
            "msp",
            flag,
            "5000",
        ])
        .output()
        .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let words = format!("parameter `{param}` must be between 0 and 1000, not 5000");
        assert!(stderr.contains(&words), "{stderr}");
        get(&format!(
            "/territories/cls/thouarsais/coverage?kind=msp&{param}=5000"
        ))
        .await
        .problem(400, &[&words]);
        get(&format!(
            "/siting?territory=cls:thouarsais&kind=msp&{param}=5000"
        ))
        .await
        .problem(400, &[&words]);
    }
}

/// `careaccess … | head -1`: a reader that closes the pipe before the command writes ends
/// the command quietly (exit 0, no panic), whatever the command.
#[test]
fn every_command_ends_quietly_when_its_reader_closes() {
    let commands: &[&[&str]] = &[
        &["data", "status"],
        &["nearest", "--kind", "msp"],
        &[
            "nearest", "--kind", "msp", "--lon", "-0.2", "--lat", "46.97",
        ],
        &["coverage", "--territory", "cls:thouarsais", "--kind", "msp"],
        &[
            "coverage",
            "--territory",
            "dep:79",
            "--kind",
            "msp",
            "--json",
        ],
        &["siting", "--territory", "dep:79", "--kind", "msp"],
        // A negative longitude after a space, as users type it.
        &["scenario", "--kind", "msp", "--add", "-0.08,46.83"],
        &["accessibility", "--profile", "msp"],
        &["explain", "--profile", "msp", "--commune", "79329"],
        &["zonage", "--territory", "dep:79"],
    ];
    for args in commands {
        // The reader goes away before the command has written anything.
        let (status, stderr) = close_after(careaccess(args), 0);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(status.success(), "{args:?}: {status} {stderr}");
    }
}

/// Runs `cmd`, reads the first `bytes` of its output and closes the pipe, as `| head`
/// does; its exit status and standard error.
pub(crate) fn close_after(mut cmd: Command, bytes: usize) -> (ExitStatus, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_exact(&mut vec![0; bytes]).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap(), stderr)
}

/// `--kind` still names a profile for `accessibility` and `explain`, with a note.
#[test]
fn the_old_profile_flag_works_with_a_note() {
    let out = careaccess(&["explain", "--kind", "msp", "--commune", "79329"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("deprecated") && stderr.contains("--profile msp"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("79329"));
}

/// A command reads the structures of its own kind only, and still knows the build's
/// others: an absent kind is refused with the whole list, and the answer for a kind is the
/// same as the service's, which loads them all.
#[tokio::test]
async fn a_command_loads_its_kind_and_knows_the_others() {
    let out = careaccess(&["nearest", "--kind", "psychiatry"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for kind in ["msp", "ehpad", "clic", "hospital", "consultation_avancee"] {
        assert!(stderr.contains(kind), "{kind} not in {stderr}");
    }
    let out = careaccess(&["nearest", "--kind", "clic"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let thouars = stdout.lines().find(|l| l.starts_with("79329,")).unwrap();
    let api = get("/nearest?commune=79329&kind=clic&k=1").await;
    assert_eq!(api.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&api.body).unwrap();
    let id = body["results"][0]["structures"][0]["id"].as_str().unwrap();
    assert!(thouars.contains(id), "{thouars} vs {id}");
}

//! `callscore serve` as a user runs it: refusals with reasons, a real listening server that
//! answers pages and honours its token, and a clean stop on SIGTERM.

use callscore_core::{
    CallMeta, CriterionResult, Evidence, Outcome, Scorecard, Segment, Speaker, Transcript,
};
use callscore_store::{Db, NewCall};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_callscore");
const TOKEN: &str = "a-long-enough-test-token";

fn scored_db(dir: &Path) -> PathBuf {
    let db = dir.join("calls.db");
    score_into(&db, dir);
    db
}

/// One scored call (its recording, never written, would be `dir/rude.wav`) in the database at
/// `location`: a SQLite path or a PostgreSQL URL.
fn score_into(location: &Path, dir: &Path) {
    let mut store = Db::open(location).unwrap();
    let transcript = Transcript {
        duration_ms: 4_000,
        model: "tiny.en".into(),
        segments: vec![Segment {
            speaker: Speaker::Agent,
            start_ms: 0,
            end_ms: 2_000,
            text: "Whatever.".into(),
            words: vec![],
            ..Default::default()
        }],
        meta: CallMeta::default(),
        ..Default::default()
    };
    let scorecard = Scorecard {
        rubric_id: "inbound".into(),
        rubric_version: 1,
        rubric_hash: "h".into(),
        score: 0.0,
        passed: false,
        flagged: true,
        flag_reasons: vec!["critical criterion `courtesy` failed".into()],
        judged: true,
        results: vec![CriterionResult {
            criterion_id: "courtesy".into(),
            name: "No rude language".into(),
            section: "Conduct".into(),
            outcome: Outcome::Fail,
            points: 0.0,
            max_points: 10.0,
            critical: true,
            evidence: vec![Evidence {
                speaker: Speaker::Agent,
                start_ms: 0,
                end_ms: 2_000,
                quote: "Whatever.".into(),
            }],
            reason: "agent said 'whatever'".into(),
        }],
    };
    let meta = CallMeta {
        agent: Some("Gary".into()),
        ..Default::default()
    };
    let path = dir.join("rude.wav");
    let call = NewCall {
        id: &"ab".repeat(32),
        source_path: &path,
        duration_ms: 4_000,
        channels: 2,
        sample_rate: 8_000,
        format: "wav",
        meta: &meta,
        warnings: &[],
    };
    store
        .record_scored_call(&call, &transcript, &scorecard)
        .unwrap();
}

/// The running server, stopped (SIGTERM, then killed) when dropped.
struct Server {
    child: Child,
    addr: String,
    /// What the server printed first: where it serves what.
    first_line: String,
}

impl Server {
    fn start(db: &Path, token: Option<&str>) -> Server {
        Self::start_in(db, token, None)
    }

    /// [`Server::start`] in the working directory `cwd` (where relative recording paths of a
    /// PostgreSQL database resolve).
    fn start_in(db: &Path, token: Option<&str>, cwd: Option<&Path>) -> Server {
        let mut cmd = Command::new(BIN);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .env_remove("CALLSCORE_TOKEN");
        if let Some(t) = token {
            cmd.env("CALLSCORE_TOKEN", t);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server says where it listens");
        let at = line
            .find("http://")
            .unwrap_or_else(|| panic!("no URL in {line:?}"));
        let addr = line[at + 7..].trim().trim_end_matches('/').to_string();
        Server {
            child,
            addr,
            first_line: line,
        }
    }

    /// A raw HTTP/1.1 request; returns the status code and the whole response text.
    fn request(&self, path: &str, extra_headers: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra_headers}\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, response)
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the server did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_public_address_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = scored_db(dir.path());
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(&db)
        .env_remove("CALLSCORE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0.0.0.0:0") && err.contains("--token") && err.contains("calls.db"),
        "{err}"
    );
}

#[test]
fn a_short_token_and_a_missing_database_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = scored_db(dir.path());
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--token", "abc", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16"));

    let missing = dir.path().join("typo.db");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&missing)
        .env_remove("CALLSCORE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.db") && err.contains("score some calls"),
        "{err}"
    );
    assert!(!missing.exists(), "serve never creates an empty database");
}

#[test]
fn serves_pages_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = scored_db(dir.path());
    let mut server = Server::start(&db, None);
    let (status, page) = server.request("/", "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Flagged calls") && page.contains("rude.wav"),
        "{page}"
    );
    let (status, _) = server.request(&format!("/calls/{}", "ab".repeat(32)), "");
    assert_eq!(status, 200);
    // The recording is not on disk: 404 with a reason, not a crash.
    let (status, page) = server.request(&format!("/calls/{}/audio", "ab".repeat(32)), "");
    assert_eq!(status, 404, "{page}");
    let exit = server.terminate();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_token_from_the_environment_guards_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = scored_db(dir.path());
    let server = Server::start(&db, Some(TOKEN));
    let (status, page) = server.request("/", "");
    assert_eq!(status, 401);
    assert!(!page.contains("rude.wav"));
    let (status, page) = server.request("/", &format!("Authorization: Bearer {TOKEN}\r\n"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("rude.wav"));
}

#[test]
fn serves_a_postgres_database_without_showing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let pg = callscore_pgtest::database("serve_cli");
    score_into(Path::new(pg.url()), dir.path());
    // The test server trusts every login, so the URL may carry any password: it must never be
    // printed.
    let url = pg.url().replacen("callscore@", "callscore:s3cret-pw@", 1);
    assert!(url.contains("s3cret-pw"));
    // A call registered by a relative path: serve finds it from the folder it runs in.
    let recording = dir.path().join("relative.wav");
    std::fs::write(&recording, b"RIFF-ish bytes of a recording").unwrap();
    let relative_id = callscore_store::content_id(&recording).unwrap();
    let mut db = Db::open(Path::new(pg.url())).unwrap();
    let transcript = Transcript {
        duration_ms: 1_000,
        model: "tiny.en".into(),
        ..Default::default()
    };
    let scorecard = Scorecard {
        rubric_id: "inbound".into(),
        rubric_version: 1,
        rubric_hash: "h".into(),
        score: 100.0,
        passed: true,
        flagged: false,
        flag_reasons: vec![],
        judged: true,
        results: vec![],
    };
    let call = NewCall {
        id: &relative_id,
        source_path: Path::new("relative.wav"),
        duration_ms: 1_000,
        channels: 1,
        sample_rate: 8_000,
        format: "wav",
        meta: &CallMeta::default(),
        warnings: &[],
    };
    db.record_scored_call(&call, &transcript, &scorecard)
        .unwrap();
    drop(db);
    let mut server = Server::start_in(Path::new(&url), None, Some(dir.path()));
    assert!(
        server.first_line.contains("postgres://callscore:***@")
            && !server.first_line.contains("s3cret"),
        "{}",
        server.first_line
    );
    let (status, page) = server.request("/calls", "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("rude.wav") && page.contains("relative.wav") && page.contains("1–2 of 2"),
        "{page}"
    );
    let (status, audio) = server.request(&format!("/calls/{relative_id}/audio"), "");
    assert_eq!(status, 200, "{audio}");
    assert!(audio.ends_with("RIFF-ish bytes of a recording"), "{audio}");
    let (status, page) = server.request("/", "");
    assert_eq!(status, 200);
    assert!(page.contains("Flagged calls") && page.contains("rude.wav"));
    let (status, _) = server.request(&format!("/calls/{}", "ab".repeat(32)), "");
    assert_eq!(status, 200);
    let exit = server.terminate();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_postgres_database_that_cannot_be_reached_is_named_without_its_password() {
    // Nothing listens on port 1.
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "postgres://qa:s3cret-pw@127.0.0.1:1/calls",
        ])
        .env_remove("CALLSCORE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://qa:***@127.0.0.1:1/calls"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

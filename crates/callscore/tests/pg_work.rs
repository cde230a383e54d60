//! Many workers on one PostgreSQL queue, through the binary: `callscore score PATH… --db
//! postgres://…` registers and scores, `callscore work` processes share the queue, one of them
//! is killed with `kill -9` in the middle of a call, and every call is still scored exactly
//! once — the killed worker's call by another worker once its (shortened) lease runs out.
//!
//! The calls' transcripts are stored first (as a transcription machine would leave them), so
//! no model is needed: the workers score from the stored transcripts.

use callscore_core::{CallMeta, Segment, Speaker, Transcript};
use callscore_store::{Db, NewCall, ReportFilter};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RUBRIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rubrics/default.toml");

/// `n` recordings (small files whose content makes their ids) with stored transcripts, queued
/// for scoring on `url`. Returns the files and their ids.
fn transcribed_calls(url: &str, dir: &Path, n: usize) -> Vec<(PathBuf, String)> {
    let mut db = Db::open(Path::new(url)).unwrap();
    (0..n)
        .map(|i| {
            let path = dir.join(format!("call-{i:02}.wav"));
            std::fs::write(&path, format!("recording number {i}")).unwrap();
            let id = callscore_store::content_id(&path).unwrap();
            let meta = CallMeta {
                agent: Some(["Sarah", "Gary", "James"][i % 3].into()),
                caller_name: Some("Michael Turner".into()),
                started_at: Some(format!("2024-03-11T09:{:02}:00Z", i % 60)),
                ..Default::default()
            };
            let say = |speaker, start_ms, text: &str| Segment {
                speaker,
                start_ms,
                end_ms: start_ms + 3_000,
                text: text.into(),
                ..Default::default()
            };
            let mut t = Transcript {
                duration_ms: 30_000,
                model: "tiny.en".into(),
                segments: vec![
                    say(
                        Speaker::Agent,
                        0,
                        "Good morning, thank you for calling Riverside Energy, my name is Sarah.",
                    ),
                    say(Speaker::Caller, 4_000, "Hi, my bill is higher than usual."),
                    say(
                        Speaker::Agent,
                        8_000,
                        "Thank you, Michael. Is there anything else I can help you with today?",
                    ),
                ],
                meta: meta.clone(),
                ..Default::default()
            };
            t.normalise();
            let call = NewCall {
                id: &id,
                source_path: &path,
                duration_ms: 30_000,
                channels: 2,
                sample_rate: 8_000,
                format: "wav/pcm_s16le",
                meta: &meta,
                warnings: &[],
            };
            db.record_transcribed_call(&call, &t).unwrap();
            (path, id)
        })
        .collect()
}

fn callscore(models: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscore"));
    cmd.env_remove("CALLSCORE_DB")
        .env_remove("CALLSCORE_MODEL")
        // No model anywhere, and no way to install one: the stored transcripts must suffice.
        .env("CALLSCORE_MODEL_DIR", models)
        .env("CALLSCORE_PIP", "false")
        .env("NO_COLOR", "1");
    cmd
}

fn worker(models: &Path, url: &str, extra: &[&str]) -> Command {
    let mut cmd = callscore(models);
    cmd.args([
        "work",
        "--db",
        url,
        "--rubric",
        RUBRIC,
        "--quiet",
        "--lease-ms",
        "1500",
        "--poll",
        "0.2",
    ])
    .args(extra);
    cmd
}

fn wait_with_deadline(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a worker did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// N from the summary line "Scored N call(s) (…".
fn scored_count(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Scored "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stderr}"));
    line["Scored ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn assert_each_scored_once(url: &str, ids: &[(PathBuf, String)]) {
    let db = Db::open(Path::new(url)).unwrap();
    for (path, id) in ids {
        let call = db.call_record(id).unwrap();
        assert_eq!(call.status, "scored", "{}", path.display());
        assert_eq!(
            db.scorecard_history(id).unwrap().len(),
            1,
            "{} has one scorecard",
            path.display()
        );
    }
    let report = db.report(&ReportFilter::default()).unwrap();
    assert_eq!(report.calls.len(), ids.len());
}

#[test]
fn workers_share_the_queue_and_a_killed_workers_call_is_finished_by_another() {
    let server = callscore_pgtest::database("work_kill");
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let calls = transcribed_calls(url, dir.path(), 12);

    // The first worker takes a call and hangs before committing it (its lease still renewed).
    let mut doomed = worker(models.path(), url, &["--jobs", "1"])
        .env("CALLSCORE_TEST_HANG_BEFORE_COMMIT", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = doomed.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("hanging before commit") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the first worker never reached its commit");

    // Two more workers on the same queue; then the first is killed mid-call.
    let others: Vec<Child> = (0..2)
        .map(|_| {
            worker(models.path(), url, &["--jobs", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    doomed.kill().unwrap(); // SIGKILL: no cleanup, its claim stays until the lease runs out
    doomed.wait().unwrap();

    let mut scored = 0;
    for child in others {
        let out = wait_with_deadline(child, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a worker failed:\n{stderr}");
        assert!(stderr.contains("from stored transcripts"), "{stderr}");
        assert!(stderr.contains(", 0 failed."), "{stderr}");
        scored += scored_count(&stderr);
    }
    assert_eq!(
        scored,
        calls.len(),
        "the two workers scored every call between them"
    );
    assert_each_scored_once(url, &calls);
    // The killed worker's call was taken twice: once by it, once by the worker that finished it.
    let db = Db::open(Path::new(url)).unwrap();
    let attempts: Vec<u64> = calls
        .iter()
        .map(|(_, id)| db.call_record(id).unwrap().attempts)
        .collect();
    assert_eq!(
        attempts.iter().filter(|&&a| a == 2).count(),
        1,
        "attempts per call: {attempts:?}"
    );
    assert!(attempts.iter().all(|&a| a == 1 || a == 2), "{attempts:?}");
}

#[test]
fn score_registers_and_scores_and_work_then_finds_nothing_left() {
    let server = callscore_pgtest::database("score_pg");
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let calls = transcribed_calls(url, dir.path(), 3);
    let out = callscore(models.path())
        .arg("score")
        .args(calls.iter().map(|(p, _)| p))
        .args(["--db", url, "--rubric", RUBRIC, "--quiet", "--jobs", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Scored 3 calls (0 transcribed, 3 from stored transcripts), 0 failed."),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("Database: {url}")), "{stderr}");
    assert_each_scored_once(url, &calls);
    // Scoring again skips them; a worker finds an empty queue.
    let again = callscore(models.path())
        .arg("score")
        .args(calls.iter().map(|(p, _)| p))
        .args(["--db", url, "--rubric", RUBRIC, "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("3 already scored with this rubric"),
        "{stderr}"
    );
    let idle = worker(models.path(), url, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&idle.stderr);
    assert!(idle.status.success(), "{stderr}");
    assert!(
        stderr.contains("Scored 0 calls (0 transcribed, 0 from stored transcripts), 0 failed."),
        "{stderr}"
    );
    // `report` and `show` read the same database.
    // CALLSCORE_DB takes the URL as --db does.
    let report = callscore(models.path())
        .env("CALLSCORE_DB", url)
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    assert!(report.status.success());
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["calls"].as_array().unwrap().len(), 3, "{json}");
    let show = callscore(models.path())
        .args(["show", "call-01", "--db", url])
        .output()
        .unwrap();
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    // Rescoring works on the stored transcripts there too.
    let rescore = callscore(models.path())
        .args(["rescore", "--db", url, "--rubric", RUBRIC, "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&rescore.stderr);
    assert!(rescore.status.success(), "{stderr}");
    assert!(stderr.contains("Rescored 3 call(s)"), "{stderr}");
    // `serve` on PostgreSQL is tested in serve_cli.rs.
}

#[test]
fn a_following_worker_takes_new_calls_until_sigterm() {
    let server = callscore_pgtest::database("work_follow");
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    // Started on an empty database: it waits.
    drop(Db::open(Path::new(url)).unwrap());
    let child = worker(models.path(), url, &["--follow", "--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let calls = transcribed_calls(url, dir.path(), 4);
    let db = Db::open(Path::new(url)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.status_counts().unwrap().scored < calls.len() as u64 {
        assert!(
            Instant::now() < deadline,
            "the follower did not score the new calls"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = wait_with_deadline(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Scored 4 calls (0 transcribed, 4 from stored transcripts), 0 failed."),
        "{stderr}"
    );
    assert_each_scored_once(url, &calls);
}

#[test]
fn work_on_a_sqlite_file_says_the_queue_needs_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("calls.db");
    let out = worker(dir.path(), &db.to_string_lossy(), &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs PostgreSQL"), "{stderr}");
    assert!(!db.exists(), "no SQLite file was made");
}

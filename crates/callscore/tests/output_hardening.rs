//! The terminal cannot take the work down, and outside text cannot take over the terminal:
//! a full or closed stderr, a closed stdout, escape sequences in sidecar names, and a bad file
//! among several transcripts.

mod batch_support;

use batch_support::*;
use callscore_core::{CallMeta, Segment, Speaker, Transcript};
use callscore_store::{content_id, NewCall, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_callscore");

/// An escape sequence that would clear the screen and retitle the terminal.
const HOSTILE_AGENT: &str = "Sarah\u{1b}[2J\u{1b}]0;pwned\u{7}";

fn transcript(agent: &str) -> Transcript {
    let seg = |speaker, start_ms, text: &str| Segment {
        speaker,
        start_ms,
        end_ms: start_ms + 2_000,
        text: text.into(),
        ..Default::default()
    };
    Transcript {
        duration_ms: 8_000,
        model: "tiny.en".into(),
        segments: vec![
            seg(
                Speaker::Agent,
                0,
                "Good morning, thank you for calling Riverside Energy, my name is Sarah.",
            ),
            seg(Speaker::Caller, 2_500, "Hi, it's about my bill."),
            seg(Speaker::Agent, 5_000, "Whatever."),
        ],
        meta: CallMeta {
            agent: Some(agent.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A database whose calls have stored transcripts (so scoring needs no model) and recordings on
/// disk that hash to their ids. Returns the database and the recordings.
fn db_with_stored_transcripts(dir: &Path, n: usize) -> (PathBuf, Vec<PathBuf>) {
    let db = dir.join("calls.db");
    let mut store = Store::open(&db).unwrap();
    let other_rubric = callscore_rubric::Rubric::from_toml_str(
        "id = \"other\"\n[[criteria]]\nid = \"greeting\"\ncheck = \"greeting\"\n",
        "other.toml",
    )
    .unwrap();
    let mut paths = Vec::new();
    for i in 0..n {
        // Distinct bytes, so distinct call ids; ingest never reads them (the transcript is stored).
        let path = dir.join(format!("call_{i}.wav"));
        std::fs::write(&path, format!("recording {i}")).unwrap();
        let id = content_id(&path).unwrap();
        let agent = if i == 0 { HOSTILE_AGENT } else { "Daniel" };
        let t = transcript(agent);
        let call = NewCall {
            id: &id,
            source_path: &path,
            duration_ms: t.duration_ms,
            channels: 2,
            sample_rate: 8_000,
            format: "wav/mulaw",
            meta: &t.meta,
            warnings: &[],
        };
        store
            .record_scored_call(&call, &t, &other_rubric.evaluate(&t))
            .unwrap();
        paths.push(path);
    }
    (db, paths)
}

fn score(db: &Path, paths: &[PathBuf]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("score")
        .args(paths)
        .arg("--db")
        .arg(db)
        .arg("--rubric")
        .arg(default_rubric())
        .env_remove("CALLSCORE_DB")
        .env("CALLSCORE_MODEL", "/nonexistent/model/needed.bin");
    cmd
}

fn scorecards_in(db: &Path) -> usize {
    let store = Store::open(db).unwrap();
    store
        .connection()
        .query_row("SELECT COUNT(*) FROM scorecards", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as usize
}

#[test]
fn a_full_stderr_does_not_stop_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (db, paths) = db_with_stored_transcripts(dir.path(), 3);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = score(&db, &paths).stderr(full).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "exit status with stderr full");
    // Three transcripts were scored with the default rubric, beside the earlier rubric's three.
    assert_eq!(scorecards_in(&db), 6);
}

#[test]
fn a_closed_stderr_pipe_does_not_stop_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (db, paths) = db_with_stored_transcripts(dir.path(), 4);
    // `2>&1 | head -1`: the reader takes one line and goes away.
    let mut child = score(&db, &paths)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(scorecards_in(&db), 8);
}

#[test]
fn a_closed_stdout_ends_a_report_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (db, paths) = db_with_stored_transcripts(dir.path(), 2);
    assert!(score(&db, &paths).output().unwrap().status.success());
    let mut child = Command::new(BIN)
        .args(["report", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("panicked"),
        "a closed stdout is not a crash: {}",
        stderr(&out)
    );
}

#[test]
fn escape_sequences_from_sidecars_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let (db, paths) = db_with_stored_transcripts(dir.path(), 2);
    let out = score(&db, &paths).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for args in [
        vec!["report"],
        vec!["flagged"],
        vec!["report", "--format", "csv"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--db")
            .arg(&db)
            .env("COLUMNS", "200")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{args:?} printed a raw escape sequence:\n{text}"
        );
        if args == ["report"] {
            assert!(
                text.contains("\\u{1b}"),
                "the name is shown escaped:\n{text}"
            );
        }
    }
}

#[test]
fn a_bad_transcript_among_several_is_named_and_the_rest_are_scored() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, serde_json::to_string(&transcript("Daniel")).unwrap()).unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"segments\": [ this is not json").unwrap();
    let good2 = dir.path().join("good2.json");
    std::fs::copy(&good, &good2).unwrap();
    let out = Command::new(BIN)
        .arg("score")
        .arg("--transcript")
        .arg(&good)
        .arg("--transcript")
        .arg(&bad)
        .arg("--transcript")
        .arg(&good2)
        .args(["--format", "json", "--rubric"])
        .arg(default_rubric())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let cards: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cards.as_array().map(Vec::len), Some(2), "{cards}");
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));
}

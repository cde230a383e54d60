//! Helpers shared by the batch tests: fixture copies, running `callscore score`, and the
//! database invariants every run must leave behind.
#![allow(dead_code)]

use callscore_store::Store;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn fixture_calls_dir() -> PathBuf {
    repo_root().join("fixtures/calls")
}

pub fn default_rubric() -> PathBuf {
    repo_root().join("rubrics/default.toml")
}

/// Copies fixture calls (audio and sidecar) into a fresh folder, so a test owns its inputs.
pub fn copy_calls(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        for ext in ["wav", "json"] {
            let from = fixture_calls_dir().join(format!("{name}.{ext}"));
            if from.exists() {
                std::fs::copy(&from, dir.path().join(format!("{name}.{ext}"))).unwrap();
            }
        }
    }
    dir
}

/// `callscore score` with the default rubric into `db`, JSON summary on stdout. The model comes
/// from the default cache (or CALLSCORE_MODEL when the environment sets it).
pub fn score_cmd(db: &Path, paths: &[&Path], extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscore"));
    cmd.arg("score")
        .args(paths)
        .arg("--db")
        .arg(db)
        .arg("--rubric")
        .arg(default_rubric());
    cmd.args(["--format", "json", "--quiet"]).args(extra);
    cmd.env_remove("CALLSCORE_DB");
    for hook in [
        "CALLSCORE_TEST_ABORT_AFTER_COMMITS",
        "CALLSCORE_TEST_ABORT_BEFORE_COMMIT",
        "CALLSCORE_TEST_ABORT_DURING_TRANSCRIPTION",
    ] {
        cmd.env_remove(hook);
    }
    cmd
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn summary(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}); stderr:\n{}", stderr(out)))
}

/// What the database holds, after checking that nothing in it is half written.
#[derive(Debug, Default)]
pub struct DbState {
    pub calls: usize,
    pub scored: usize,
    pub failed: usize,
    pub transcripts: usize,
    pub scorecards: usize,
}

/// Checks the invariants a crash must never break, and counts what is there:
/// - SQLite's own integrity check passes;
/// - every scorecard has a transcript, results, and a call marked scored;
/// - no call has two scorecards from one rubric hash (the UNIQUE constraint, checked anyway);
/// - a call with a transcript has a scorecard (transcript and scorecard commit together);
/// - every scored call has exactly one current scorecard per rubric id.
pub fn check_db(db: &Path) -> DbState {
    let store = Store::open(db).unwrap();
    let c = store.connection();
    let q = |sql: &str| -> i64 {
        c.query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(q("SELECT count(*) FROM scorecards s WHERE NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.call_id = s.call_id)"), 0, "scorecard without transcript");
    assert_eq!(q("SELECT count(*) FROM scorecards s WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.scorecard_id = s.id)"), 0, "scorecard without results");
    assert_eq!(q("SELECT count(*) FROM scorecards s JOIN calls c ON c.id = s.call_id WHERE c.status <> 'scored' AND c.status <> 'failed'"), 0, "scorecard on a call not marked scored");
    assert_eq!(q("SELECT count(*) FROM (SELECT call_id, rubric_hash FROM scorecards GROUP BY 1, 2 HAVING count(*) > 1)"), 0, "call scored twice by one rubric");
    assert_eq!(q("SELECT count(*) FROM transcripts t WHERE NOT EXISTS (SELECT 1 FROM scorecards s WHERE s.call_id = t.call_id)"), 0, "transcript without scorecard (half a call)");
    assert_eq!(q("SELECT count(*) FROM calls c WHERE c.status = 'scored' AND NOT EXISTS (SELECT 1 FROM scorecards s WHERE s.call_id = c.id AND s.is_current = 1)"), 0, "scored call without a current scorecard");
    assert_eq!(q("SELECT count(*) FROM calls c WHERE c.status = 'scored' AND (c.duration_ms IS NULL OR c.format IS NULL)"), 0, "scored call missing its recording details");
    DbState {
        calls: q("SELECT count(*) FROM calls") as usize,
        scored: q("SELECT count(*) FROM calls WHERE status = 'scored'") as usize,
        failed: q("SELECT count(*) FROM calls WHERE status = 'failed'") as usize,
        transcripts: q("SELECT count(*) FROM transcripts") as usize,
        scorecards: q("SELECT count(*) FROM scorecards") as usize,
    }
}

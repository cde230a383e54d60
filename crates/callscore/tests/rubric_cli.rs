//! `callscore rubric check|test` and `callscore score --transcript`: exit codes, the closing
//! `N passed, N failed` line, JUnit XML, and errors that name the file, line and column.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn callscore() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscore"));
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("CALLSCORE_LOG");
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

const PASSING_CASE: &str = r#"
description = "greets"
[transcript]
segments = [ { speaker = "agent", start = "0:00", end = "0:03", text = "Good morning, how can I help?" } ]
[expect]
outcomes = { greeting = "pass" }
"#;

const FAILING_CASE: &str = r#"
description = "expects the wrong verdict"
[transcript]
segments = [ { speaker = "agent", start = "0:00", end = "0:03", text = "Account number?" } ]
[expect]
outcomes = { greeting = "pass" }
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn rubric_test_runs_the_default_cases_and_writes_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("out/rubric-tests.xml");
    let out = callscore()
        .args(["rubric", "test", "rubrics/tests", "--junit"])
        .arg(&junit)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let last = stdout.lines().last().unwrap();
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .expect(last)
        .parse()
        .unwrap();
    assert!(passed >= 30, "{last}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("PASS ")).count(),
        passed
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!("tests=\"{passed}\" failures=\"0\" errors=\"0\"")),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), passed);
}

#[test]
fn rubric_test_fails_with_a_diff_and_a_junit_failure() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a_pass.toml", PASSING_CASE);
    write(dir.path(), "b_fail.toml", FAILING_CASE);
    let junit = dir.path().join("junit.xml");
    let rubric = repo().join("rubrics/default.toml");
    callscore()
        .args(["rubric", "test"])
        .arg(dir.path())
        .arg("--rubric")
        .arg(&rubric)
        .arg("--junit")
        .arg(&junit)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("PASS ").and(predicate::str::contains("FAIL ")))
        .stdout(predicate::str::contains("    greeting: expected pass, got fail\n      why: no greeting in agent speech in the first 0:30"))
        .stdout(predicate::str::contains("      evidence: 0:00–0:03 agent: \"Account number?\""))
        .stdout(predicate::str::ends_with("\n1 passed, 1 failed\n"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="2" failures="1" errors="0""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="b_fail""#)
            && xml.contains("<failure message=\"1 expectation(s) not met\""),
        "{xml}"
    );
}

#[test]
fn rubric_test_counts_a_broken_case_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.toml", "[transcript\n");
    callscore()
        .args(["rubric", "test"])
        .arg(dir.path())
        .arg("--rubric")
        .arg(repo().join("rubrics/default.toml"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ERROR").and(predicate::str::contains("broken.toml:1:")))
        .stdout(predicate::str::ends_with("0 passed, 1 failed\n"));
}

#[test]
fn rubric_test_on_a_missing_path_is_an_error() {
    callscore()
        .args(["rubric", "test", "no/such/cases"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no/such/cases: no such file or directory",
        ));
}

#[test]
fn rubric_check_accepts_the_shipped_rubrics() {
    callscore()
        .args([
            "rubric",
            "check",
            "rubrics/default.toml",
            "rubrics/examples/outbound-sales.toml",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok      rubrics/default.toml (inbound-service v1,",
        ))
        .stdout(predicate::str::ends_with("2 valid, 0 invalid\n"));
}

#[test]
fn rubric_check_reports_file_line_column_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        "id = \"bad\"\n\n[[criteria]]\nid = \"greeting\"\ncheck = \"greeting\"\nwithn = \"30s\"\n",
    );
    callscore()
        .args(["rubric", "check"])
        .arg(&bad)
        .assert()
        .code(1)
        .stdout(predicate::str::ends_with("0 valid, 1 invalid\n"))
        .stderr(predicate::str::contains(format!(
            "{}:6:1: unknown field `withn`",
            bad.display()
        )))
        .stderr(predicate::str::contains("= hint: did you mean `within`?"));
}

#[test]
fn score_refuses_a_bad_rubric_before_reading_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        "id = \"bad\"\n[[criteria]]\nid = \"x\"\ncheck = \"dead_air\"\nmax = \"soon\"\n",
    );
    callscore()
        .args(["score", "--transcript", "does-not-exist.json", "--rubric"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:5:7: bad duration for `max`",
            bad.display()
        )))
        .stderr(predicate::str::contains("does-not-exist").not());
}

#[test]
fn score_names_the_file_and_field_of_a_malformed_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(
        dir.path(),
        "t.json",
        r#"{"segments":[{"speaker":"agent","start_ms":0,"end_ms":10,"text":"hi"},{"speaker":"manager","start_ms":0,"end_ms":1,"text":""}]}"#,
    );
    callscore()
        .args(["score", "--transcript"])
        .arg(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "cannot score transcript {}",
            t.display()
        )))
        .stderr(predicate::str::contains(
            "invalid transcript at `segments[1].speaker`: unknown variant `manager`",
        ));
}

#[test]
fn score_transcript_table_golden() {
    let out = stdout_of(callscore().args([
        "score",
        "--transcript",
        "fixtures/transcripts/poor_call.json",
    ]));
    insta::assert_snapshot!("rubric_score_table_poor_call", out);
}

#[test]
fn score_transcript_json_golden_and_byte_identical() {
    let run = || {
        stdout_of(callscore().args([
            "score",
            "--transcript",
            "fixtures/transcripts/good_call.json",
            "--format",
            "json",
        ]))
    };
    let first = run();
    assert_eq!(
        first,
        run(),
        "same rubric and transcript must give the same bytes"
    );
    let card: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(card["score"], 100.0);
    assert_eq!(card["rubric_hash"].as_str().unwrap().len(), 64);
    // The hash changes with every edit of default.toml; everything else is golden.
    let stable = first.replace(
        card["rubric_hash"].as_str().unwrap(),
        "<sha256 of rubrics/default.toml>",
    );
    insta::assert_snapshot!("rubric_score_json_good_call", stable);
}

#[test]
fn score_several_transcripts_as_json_is_an_array_in_order() {
    let out = stdout_of(callscore().args([
        "score",
        "--transcript",
        "fixtures/transcripts/good_call.json",
        "--transcript",
        "fixtures/transcripts/poor_call.json",
        "--format",
        "json",
    ]));
    let cards: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(cards.len(), 2);
    assert_eq!(
        (cards[0]["passed"].as_bool(), cards[1]["passed"].as_bool()),
        (Some(true), Some(false))
    );
}

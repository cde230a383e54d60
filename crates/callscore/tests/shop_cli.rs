//! `callscore shop` as a user runs it: a scripted call to sipp playing the business, recorded
//! and scored into the database; `shop plan` printing and running a programme. 127.0.0.1 only.

#[path = "../../callscore-shop/tests/common/mod.rs"]
mod shop_common;

use shop_common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn callscore() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscore"));
    cmd.env_remove("CALLSCORE_DB").env("NO_COLOR", "1");
    for hook in [
        "CALLSCORE_TEST_ABORT_AFTER_COMMITS",
        "CALLSCORE_TEST_ABORT_BEFORE_COMMIT",
        "CALLSCORE_TEST_ABORT_DURING_TRANSCRIPTION",
    ] {
        cmd.env_remove(hook);
    }
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A two-line script (a spoken line, then the recorded "Yes, it's Michael Turner.") in `dir`.
fn script_in(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("lines")).unwrap();
    std::fs::copy(
        workspace_root().join("shops/lines/michael-turner.wav"),
        dir.join("lines/name.wav"),
    )
    .unwrap();
    let path = dir.join("billing-question.toml");
    std::fs::write(
        &path,
        "id = \"billing-question\"\nname = \"Billing question\"\n\
         [persona]\nname = \"Michael Turner\"\n[turns]\nmax_wait = \"8s\"\n\
         [[lines]]\nsay = \"Hi, my latest bill is much higher than usual.\"\n\
         [[lines]]\naudio = \"lines/name.wav\"\n",
    )
    .unwrap();
    path
}

#[test]
fn shop_places_records_and_scores_a_call() {
    // The agent: the greeting with the business's name, "can I take your full name", and
    // "Thank you, Michael. What did you expect the bill to be?" (good_call.wav's agent leg).
    let agent = AgentAudio::from_good_call(
        &[(450, 6350), (12160, 17360), (19700, 23330)],
        300,
        &[5500, 4500],
    );
    let business = Business::start("shop_uas.xml", 1500, |dir| agent.write_pcap(dir));
    let work = tempfile::tempdir().unwrap();
    let script = script_in(work.path());
    let (db, out_dir) = (work.path().join("shop.db"), work.path().join("calls"));
    let out = callscore()
        .arg("shop")
        .arg(&script)
        .args(["--to", &business.uri(), "--local-ip", "127.0.0.1"])
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out_dir)
        .arg("--rubric")
        .arg(workspace_root().join("rubrics/examples/mystery-shop.toml"))
        .output()
        .unwrap();
    business.finish();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let wav = PathBuf::from(stdout.trim());
    assert!(
        wav.is_file() && wav.extension().unwrap() == "wav",
        "{}",
        text(&out)
    );
    assert!(wav.with_extension("json").is_file());

    let show = callscore()
        .args(["show", "--format", "json", "--db"])
        .arg(&db)
        .arg(&wav)
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", text(&show));
    let detail: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let meta = &detail["call"]["meta"];
    assert_eq!(meta["scenario"], "billing-question", "{detail:#}");
    assert_eq!(meta["outcome"], "answered");
    assert_eq!(meta["caller_name"], "Michael Turner");
    let ring_ms = meta["ring_ms"].as_u64().unwrap();
    assert!((1500..1600).contains(&ring_ms), "ring_ms {ring_ms}");
    let results = detail["scorecard"]["scorecard"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no scorecard in {detail:#}"));
    let outcome = |id: &str| {
        results
            .iter()
            .find(|r| r["criterion_id"] == id)
            .map(|r| r["outcome"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no criterion {id} in {detail:#}"))
    };
    // The ring from the metadata; from Whisper's transcript of the agent leg, the agent's
    // name, the request for the shopper's name and its use. (tiny.en does not catch the
    // synthetic voice's "Riverside Energy", so the greeting's company name is not asserted.)
    assert_eq!(results.len(), 10);
    assert_eq!(outcome("answered"), "pass");
    for id in ["agent_name", "asks_name", "uses_name"] {
        assert_eq!(outcome(id), "pass", "{id}: {:#}", detail["scorecard"]);
    }
    let transcript = detail["transcript"]["segments"].as_array().unwrap();
    let caller_said: String = transcript
        .iter()
        .filter(|s| s["speaker"] == "caller")
        .map(|s| s["text"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(caller_said.contains("michael turner"), "{caller_said}");
}

#[test]
fn shop_plan_prints_the_example_programme() {
    let ledger = tempfile::tempdir().unwrap();
    let out = callscore()
        .args(["shop", "plan"])
        .arg(workspace_root().join("shops/PLAN.toml"))
        .args(["--now", "2026-01-14T12:00:00Z", "--ledger"])
        .arg(ledger.path().join("ledger.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn shop_plan_run_places_a_due_call_once() {
    let business = Business::start("shop_uas_busy.xml", 200, |_| {});
    let work = tempfile::tempdir().unwrap();
    script_in(work.path());
    let plan = work.path().join("PLAN.toml");
    std::fs::write(
        &plan,
        format!(
            "id = \"test\"\nseed = 1\nstart = 2026-01-05\ncalls_per_week = 1\n\
             [[scenarios]]\nscript = \"billing-question.toml\"\n\
             [[numbers]]\nto = \"{}\"\n",
            business.uri()
        ),
    )
    .unwrap();
    // The slot's time, from the printed schedule: "week 1  Wed 2026-01-07 14:05 +00:00 …".
    let printed = callscore()
        .args(["shop", "plan"])
        .arg(&plan)
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", text(&printed));
    let listing = String::from_utf8_lossy(&printed.stdout).to_string();
    let line = listing.lines().nth(1).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = format!("{}T{}:00{}", fields[3], fields[4], fields[5]);
    let run = |now: &str| {
        callscore()
            .args(["shop", "plan"])
            .arg(&plan)
            .args([
                "--run",
                "--no-score",
                "--now",
                now,
                "--local-ip",
                "127.0.0.1",
            ])
            .arg("--out")
            .arg(work.path().join("calls"))
            .output()
            .unwrap()
    };
    // Busy: placed and recorded, but not answered, so exit 1.
    let first = run(&at);
    business.finish();
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let attempt = PathBuf::from(String::from_utf8_lossy(&first.stdout).trim());
    assert!(
        attempt.to_string_lossy().ends_with(".attempt.json"),
        "{}",
        text(&first)
    );
    let ledger: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("PLAN.ledger.json")).unwrap())
            .unwrap();
    assert_eq!(ledger["entries"][0]["outcome"], "busy", "{ledger:#}");
    // Run again at the same time: the slot is in the ledger, nothing is dialled.
    let second = run(&at);
    assert!(second.status.success(), "{}", text(&second));
    assert!(second.stdout.is_empty(), "{}", text(&second));
    let listing = callscore()
        .args(["shop", "plan"])
        .arg(&plan)
        .args(["--now", &at])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("placed"));
}

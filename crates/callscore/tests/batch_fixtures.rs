//! End to end on the fixture calls: the real binary ingests, transcribes (tiny.en), scores with
//! the default rubric and stores; the stored verdicts are compared with what a reviewer reading
//! the scripts in fixtures/calls/*.script would decide. Then: a rerun does no transcription, and
//! rescoring with a new rubric version keeps the old scorecards.

// The test reports its agreement figure on stderr, as the issue asks.
#![allow(clippy::print_stderr)]

mod batch_support;

use batch_support::*;
use callscore_core::Outcome;
use callscore_store::{ReportFilter, Store};
use std::collections::BTreeMap;

const P: Outcome = Outcome::Pass;
const F: Outcome = Outcome::Fail;

const CRITERIA: [&str; 8] = [
    "greeting",
    "agent_name",
    "caller_name",
    "questions",
    "further_help",
    "courtesy",
    "dead_air",
    "closing",
];

/// The reviewer's verdicts, from the scripts (not from the pipeline):
/// - good_call: everything right.
/// - curt_agent: "Yeah." is no greeting, no name given or used, no question, no offer of help;
///   not rude; a 3 s pause is no dead air; "Bye." closes.
/// - rude_agent: "Riverside Energy." is no greeting; no names, no question, no help; "Calm down",
///   "not my problem", "whatever" fail courtesy; it ends on "Fine, whatever." with no closing.
/// - no_caller_name: all good except that Olivia Bennett is never called by her name.
/// - long_hold: a 30 s hold is dead air (limit 25 s); the agent's last line is a question, no
///   closing; everything else good ("this is Emma", "David", two questions).
/// - mono_call: both people on one channel, separated by diarization; then everything right
///   ("Ben speaking", "Thank you, Grace", "anything else", "Have a good evening").
/// - common_name_will: "will" as a verb is not the caller's name; otherwise good.
/// - noisy_line: outbound, everything right despite the noise.
/// - u8_agent_right: agent on the right channel, everything right.
fn reviewer() -> Vec<(&'static str, [Outcome; 8])> {
    vec![
        ("good_call", [P, P, P, P, P, P, P, P]),
        ("curt_agent", [F, F, F, F, F, P, P, P]),
        ("rude_agent", [F, F, F, F, F, F, P, F]),
        ("no_caller_name", [P, P, F, P, P, P, P, P]),
        ("long_hold", [P, P, P, P, P, P, F, F]),
        ("mono_call", [P, P, P, P, P, P, P, P]),
        ("common_name_will", [P, P, F, P, P, P, P, P]),
        ("noisy_line", [P, P, P, P, P, P, P, P]),
        ("u8_agent_right", [P, P, P, P, P, P, P, P]),
    ]
}

/// Where the pipeline and the reviewer disagree today (measured with tiny.en on these
/// espeak-ng voices through a G.711 line), each with the reason. Every one is a word whisper
/// tiny.en mis-hears, not a rubric mistake: the transcript shows the words were not there. The
/// test fails on any disagreement not listed here (a regression); one that goes away is
/// reported so it can be removed. The verdicts a manager acts on — courtesy, dead air, the
/// caller's name on the two calls built to test it, the mono call's turns — are deliberately
/// not listed.
const KNOWN_MISSES: &[(&str, &str, &str)] = &[
    (
        "good_call",
        "further_help",
        "the offer of help at 0:40 is mis-heard",
    ),
    (
        "no_caller_name",
        "closing",
        "\"have a great day\" is mis-heard",
    ),
    (
        "long_hold",
        "agent_name",
        "\"this is Emma\" is heard as \"the time and the demand\"",
    ),
    ("long_hold", "questions", "the second question is mis-heard"),
    (
        "mono_call",
        "agent_name",
        "\"Ben speaking\" is heard as \"men speaking\" in the mix (the turns are right)",
    ),
    (
        "mono_call",
        "caller_name",
        "\"Thank you, Grace\" is heard as \"Can you pray\" in the mix",
    ),
    (
        "mono_call",
        "closing",
        "\"Have a good evening\" is heard as \"happy, good evening\" in the mix",
    ),
    (
        "common_name_will",
        "greeting",
        "\"Good morning, Riverside Energy\" is heard as \"Don't worry, in the final\"",
    ),
    (
        "common_name_will",
        "agent_name",
        "\"Rachel speaking\" is heard as \"differential speaking\"",
    ),
    (
        "common_name_will",
        "further_help",
        "the offer of help is mis-heard",
    ),
    (
        "noisy_line",
        "caller_name",
        "\"Sophie\" is lost in the noise",
    ),
    (
        "u8_agent_right",
        "greeting",
        "\"Good afternoon\" is heard as \"Don't have your noon\"",
    ),
    (
        "u8_agent_right",
        "caller_name",
        "\"Peter\" is heard as \"ma'am\"",
    ),
    (
        "u8_agent_right",
        "questions",
        "one of the two questions is mis-heard",
    ),
    (
        "u8_agent_right",
        "closing",
        "\"Thanks for calling\" is mis-heard",
    ),
];

#[test]
fn fixture_calls_end_to_end() {
    let names: Vec<&str> = reviewer().iter().map(|(n, _)| *n).collect();
    let inputs = copy_calls(&names);
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("calls.db");

    let out = score_cmd(&db, &[inputs.path()], &[]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(
        (
            s["scored"].as_u64(),
            s["transcribed"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(9), Some(9), Some(0)),
        "{s}"
    );
    let state = check_db(&db);
    assert_eq!((state.calls, state.scored, state.scorecards), (9, 9, 9));

    // Verdicts, criterion by criterion, against the reviewer.
    let store = Store::open(&db).unwrap();
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for (name, expected) in reviewer() {
        let id = store.find_call(name).unwrap();
        let detail = store.call_detail(&id, None).unwrap();
        let sc = detail.scorecard.expect("a scorecard").scorecard;
        let got: BTreeMap<&str, Outcome> = sc
            .results
            .iter()
            .map(|r| (r.criterion_id.as_str(), r.outcome))
            .collect();
        for (criterion, want) in CRITERIA.iter().zip(expected) {
            let have = *got
                .get(criterion)
                .unwrap_or_else(|| panic!("the default rubric has no criterion {criterion}"));
            checked += 1;
            if have != want {
                let reason = sc
                    .results
                    .iter()
                    .find(|r| r.criterion_id == *criterion)
                    .map(|r| r.reason.clone())
                    .unwrap_or_default();
                disagreements.push((
                    name,
                    *criterion,
                    format!("reviewer {want}, pipeline {have}: {reason}"),
                ));
            }
        }
    }
    let agreed = checked - disagreements.len();
    eprintln!("pipeline agrees with the reviewer on {agreed} of {checked} verdicts");
    let unexpected: Vec<_> = disagreements
        .iter()
        .filter(|(n, c, _)| !KNOWN_MISSES.iter().any(|(kn, kc, _)| kn == n && kc == c))
        .collect();
    for (n, c, why) in KNOWN_MISSES {
        if !disagreements.iter().any(|(dn, dc, _)| dn == n && dc == c) {
            eprintln!("known miss {n}/{c} ({why}) is now right: remove it from KNOWN_MISSES");
        }
    }
    assert!(
        unexpected.is_empty(),
        "verdicts that differ from the reviewer's:\n{}",
        unexpected
            .iter()
            .map(|(n, c, w)| format!("  {n} / {c}: {w}"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Rerun: everything is already scored; nothing is decoded or transcribed.
    let transcribed_at: String = store
        .connection()
        .query_row(
            "SELECT group_concat(created_at) FROM transcripts",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let out = score_cmd(&db, &[inputs.path()], &[]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(
        (
            s["already_scored"].as_u64(),
            s["transcribed"].as_u64(),
            s["scored"].as_u64()
        ),
        (Some(9), Some(0), Some(0)),
        "{s}"
    );
    let again: String = store
        .connection()
        .query_row(
            "SELECT group_concat(created_at) FROM transcripts",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(transcribed_at, again, "stored transcripts were rewritten");
    assert_eq!(check_db(&db).scorecards, 9);

    // Rescore with version 2 of the rubric (dead air allowed up to 40 s), the audio gone: the
    // stored transcripts are enough, v2 becomes current, and v1's scorecards stay queryable.
    let v2 = std::fs::read_to_string(default_rubric()).unwrap();
    assert!(
        v2.contains("version = 1") && v2.contains("max = \"25s\""),
        "the default rubric changed shape; update this test"
    );
    let v2 =
        v2.replacen("version = 1", "version = 2", 1)
            .replacen("max = \"25s\"", "max = \"40s\"", 1);
    let v2_path = work.path().join("default-v2.toml");
    std::fs::write(&v2_path, v2).unwrap();
    drop(inputs);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(["rescore", "--quiet", "--rubric"])
        .arg(&v2_path)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("9 new scorecard(s)"),
        "{}",
        stderr(&out)
    );
    let state = check_db(&db);
    assert_eq!(
        (state.scored, state.transcripts, state.scorecards),
        (9, 9, 18)
    );

    let report = store.report(&ReportFilter::default()).unwrap();
    assert!(
        report.calls.iter().all(|c| c.rubric_version == 2),
        "reports use the new version"
    );
    let long_hold = store.find_call("long_hold").unwrap();
    let detail = store.call_detail(&long_hold, None).unwrap();
    assert_eq!(detail.history.len(), 2);
    let outcome_of = |scorecard_id: i64| {
        let sc = store.scorecard(scorecard_id).unwrap().unwrap().scorecard;
        (
            sc.rubric_version,
            sc.results
                .iter()
                .find(|r| r.criterion_id == "dead_air")
                .unwrap()
                .outcome,
        )
    };
    let mut versions: Vec<_> = detail.history.iter().map(|h| outcome_of(h.id)).collect();
    versions.sort_by_key(|v| v.0);
    assert_eq!(
        versions,
        [(1, F), (2, P)],
        "v1 keeps its verdict on the 30 s hold; v2 allows it"
    );
    let uses = store.rubrics().unwrap();
    assert_eq!(
        uses.iter()
            .map(|u| (u.rubric_version, u.scorecards, u.current))
            .collect::<Vec<_>>(),
        [(2, 9, 9), (1, 9, 0)]
    );
}

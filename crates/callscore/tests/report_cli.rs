//! Golden tests of `callscore report`, `flagged` and `show` in every format. The database is
//! filled through the store from transcripts and scorecards written here (no audio, no model),
//! and its timestamps are pinned, so the output is byte-for-byte stable. The same calls stored
//! on PostgreSQL print the same (`postgres_prints_what_sqlite_prints`).

use assert_cmd::Command;
use callscore_core::{
    CallMeta, CriterionResult, Direction, Evidence, Outcome, Scorecard, Segment, Speaker,
    Transcript,
};
use callscore_store::{Db as StoreDb, NewCall, NewReview};
use std::path::{Path, PathBuf};

fn seg(speaker: Speaker, start_s: f64, end_s: f64, text: &str) -> Segment {
    Segment {
        speaker,
        start_ms: (start_s * 1000.0) as u64,
        end_ms: (end_s * 1000.0) as u64,
        text: text.into(),
        words: vec![],
        ..Default::default()
    }
}

fn res(
    id: &str,
    section: &str,
    outcome: Outcome,
    weight: f64,
    critical: bool,
    reason: &str,
    evidence: &[(Speaker, f64, &str)],
) -> CriterionResult {
    CriterionResult {
        criterion_id: id.into(),
        name: String::new(),
        section: section.into(),
        outcome,
        points: if outcome == Outcome::Pass {
            weight
        } else {
            0.0
        },
        max_points: weight,
        critical,
        evidence: evidence
            .iter()
            .map(|&(speaker, at, quote)| Evidence {
                speaker,
                start_ms: (at * 1000.0) as u64,
                end_ms: (at * 1000.0) as u64 + 2_000,
                quote: quote.into(),
            })
            .collect(),
        reason: reason.into(),
    }
}

fn card(
    hash: &str,
    version: u32,
    results: Vec<CriterionResult>,
    flag_reasons: Vec<String>,
) -> Scorecard {
    let max: f64 = results
        .iter()
        .filter(|r| r.outcome != Outcome::NotApplicable)
        .map(|r| r.max_points)
        .sum();
    let got: f64 = results.iter().map(|r| r.points).sum();
    let score = if max > 0.0 {
        (1000.0 * got / max).round() / 10.0
    } else {
        100.0
    };
    let critical = results
        .iter()
        .any(|r| r.critical && r.outcome == Outcome::Fail);
    let passed = score >= 80.0 && !critical;
    Scorecard {
        rubric_id: "inbound-service".into(),
        rubric_version: version,
        rubric_hash: hash.into(),
        score,
        passed,
        flagged: !passed,
        flag_reasons,
        judged: true,
        results,
    }
}

const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";

struct Call {
    id: &'static str,
    file: &'static str,
    agent: Option<&'static str>,
    caller: Option<&'static str>,
    started_at: Option<&'static str>,
    duration_s: u64,
    channels: u16,
    segments: Vec<Segment>,
    scorecard: Scorecard,
}

fn calls() -> Vec<Call> {
    use Outcome::*;
    use Speaker::*;
    vec![
        Call {
            id: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
            file: "good_call.wav",
            agent: Some("Sarah"),
            caller: Some("Michael Turner"),
            started_at: Some("2024-03-11T09:15:00Z"),
            duration_s: 52,
            channels: 2,
            segments: vec![
                seg(Agent, 0.4, 6.1, "Good morning, thank you for calling Riverside Energy. My name is Sarah. How can I help you today?"),
                seg(Caller, 6.6, 11.0, "Hi Sarah. My latest bill is much higher than usual."),
                seg(Agent, 11.5, 16.0, "Thank you, Michael. What did you expect the bill to be?"),
                seg(Agent, 40.2, 44.8, "Is there anything else I can help you with today?"),
            ],
            scorecard: card(
                H1,
                1,
                vec![
                    res("greeting", "Opening", Pass, 10.0, false, "greeting at 0:00", &[(Agent, 0.4, "Good morning, thank you for calling")]),
                    res("caller_name", "Discovery", Pass, 15.0, false, "agent said 'Michael' at 0:11", &[(Agent, 11.5, "Thank you, Michael.")]),
                    res("courtesy", "Conduct", Pass, 0.0, true, "no rude phrases", &[]),
                    res("further_help", "Closing", Pass, 10.0, false, "offered more help", &[(Agent, 40.2, "Is there anything else I can help you with today?")]),
                ],
                vec![],
            ),
        },
        Call {
            id: "b7e6d5c4b3a2918070f1e2d3c4b5a69788796a5b4c3d2e1f0b7e6d5c4b3a2918",
            file: "rude_agent.wav",
            agent: Some("Gary"),
            caller: Some("Helen Price"),
            started_at: Some("2024-03-11T11:40:00Z"),
            duration_s: 43,
            channels: 2,
            segments: vec![
                seg(Agent, 0.3, 1.5, "Riverside Energy."),
                seg(Caller, 2.0, 7.9, "Hello, my electricity was cut off this morning, and I paid the bill last week."),
                seg(Agent, 8.6, 12.1, "Calm down. If you paid late, that's not my problem."),
                seg(Agent, 40.0, 41.4, "Fine, whatever."),
            ],
            scorecard: card(
                H1,
                1,
                vec![
                    res("greeting", "Opening", Fail, 10.0, false, "no greeting in the agent's first 30 s", &[(Agent, 0.3, "Riverside Energy.")]),
                    res("caller_name", "Discovery", Fail, 15.0, false, "the caller's name 'Helen Price' is in the call's metadata; agent never said 'Helen' or 'Price'", &[]),
                    res("courtesy", "Conduct", Fail, 0.0, true, "agent said 'calm down' and 'whatever'", &[(Agent, 8.6, "Calm down. If you paid late, that's not my problem."), (Agent, 40.0, "Fine, whatever.")]),
                    res("further_help", "Closing", Fail, 10.0, false, "agent never offered further help", &[]),
                ],
                vec!["critical criterion `courtesy` failed".into()],
            ),
        },
        Call {
            id: "b7e6d5c4ffff918070f1e2d3c4b5a69788796a5b4c3d2e1f0b7e6d5c4b3a2918",
            file: "no_caller_name.wav",
            agent: Some("james"),
            caller: Some("Olivia Bennett"),
            started_at: Some("2024-03-12T14:20:00Z"),
            duration_s: 44,
            channels: 2,
            segments: vec![seg(Agent, 0.5, 5.0, "Good afternoon, thank you for calling Riverside Energy, you're speaking with James.")],
            scorecard: card(
                H1,
                1,
                vec![
                    res("greeting", "Opening", Pass, 10.0, false, "greeting at 0:00", &[(Agent, 0.5, "Good afternoon")]),
                    res("caller_name", "Discovery", Fail, 15.0, false, "caller said 'my name is Olivia Bennett' at 0:17; agent never said 'Olivia' or 'Bennett' after that", &[(Caller, 17.2, "Yes, my name is Olivia Bennett.")]),
                    res("courtesy", "Conduct", Pass, 0.0, true, "no rude phrases", &[]),
                    res("further_help", "Closing", Pass, 10.0, false, "offered more help", &[(Agent, 36.0, "Is there anything else I can help you with?")]),
                ],
                vec![],
            ),
        },
        Call {
            id: "5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa",
            file: "mono_call.wav",
            agent: Some("Ben"),
            caller: None,
            started_at: Some("2024-03-13T18:30:00Z"),
            duration_s: 33,
            channels: 1,
            segments: vec![seg(Unknown, 0.4, 4.0, "Good evening, Riverside Energy, Ben speaking.")],
            scorecard: card(
                H1,
                1,
                vec![
                    res("greeting", "Opening", NotApplicable, 10.0, false, "mono recording: speakers unknown", &[]),
                    res("caller_name", "Discovery", NotApplicable, 15.0, false, "mono recording: speakers unknown", &[]),
                    res("courtesy", "Conduct", NotApplicable, 0.0, true, "mono recording: speakers unknown", &[]),
                    res("further_help", "Closing", NotApplicable, 10.0, false, "mono recording: speakers unknown", &[]),
                ],
                vec![],
            ),
        },
        Call {
            id: "9999000099990000999900009999000099990000999900009999000099990000",
            file: "2024-03-13_unlabelled_recording_from_the_old_system.wav",
            agent: None,
            caller: None,
            started_at: None,
            duration_s: 3_725,
            channels: 2,
            segments: vec![],
            scorecard: card(
                H1,
                1,
                vec![
                    res("greeting", "Opening", Fail, 10.0, false, "no agent speech", &[]),
                    res("caller_name", "Discovery", NotApplicable, 15.0, false, "no caller name known", &[]),
                    res("courtesy", "Conduct", Pass, 0.0, true, "no rude phrases", &[]),
                    res("further_help", "Closing", Fail, 10.0, false, "no agent speech", &[]),
                ],
                vec![],
            ),
        },
    ]
}

/// A database (a SQLite path or a postgres:// URL) with the calls above, one failed recording,
/// one review, and pinned timestamps.
fn fill(db: &Path) {
    let mut store = StoreDb::open(db).unwrap();
    for c in calls() {
        let meta = CallMeta {
            agent: c.agent.map(str::to_string),
            caller_name: c.caller.map(str::to_string),
            direction: Some(Direction::Inbound),
            started_at: c.started_at.map(str::to_string),
            ..Default::default()
        };
        let path = PathBuf::from("/recordings/2024-03").join(c.file);
        let mut t = Transcript {
            duration_ms: c.duration_s * 1000,
            model: "tiny.en".into(),
            segments: c.segments,
            meta: meta.clone(),
            ..Default::default()
        };
        t.normalise();
        let call = NewCall {
            id: c.id,
            source_path: &path,
            duration_ms: c.duration_s * 1000,
            channels: c.channels,
            sample_rate: 8_000,
            format: "wav/mulaw",
            meta: &meta,
            warnings: &[],
        };
        store.record_scored_call(&call, &t, &c.scorecard).unwrap();
    }
    let owner = callscore_store::ClaimOwner {
        host: "test".into(),
        pid: 1,
        start_ticks: None,
    };
    store
        .record_failure(
            "eeee0000eeee0000eeee0000eeee0000eeee0000eeee0000eeee0000eeee0000",
            Path::new("/recordings/2024-03/broken.wav"),
            "/recordings/2024-03/broken.wav: not an audio file (no RIFF header)",
            &owner,
        )
        .unwrap();
    let rude = store.find_call("rude_agent").unwrap();
    let sid = store
        .call_detail(&rude, None)
        .unwrap()
        .scorecard
        .unwrap()
        .id;
    store
        .add_review(&NewReview {
            call_id: rude,
            scorecard_id: Some(sid),
            reviewer: "maria".into(),
            criterion_id: Some("greeting".into()),
            override_outcome: Some(Outcome::Fail),
            note: "confirmed: no greeting".into(),
            listened: true,
        })
        .unwrap();
    pin_times(&store);
}

/// Every stored time set to a fixed one, so output does not depend on when the test ran.
fn pin_times(store: &StoreDb) {
    let pin =
        "UPDATE calls SET created_at = '2024-03-16T07:00:00Z', updated_at = '2024-03-16T07:00:00Z';
         UPDATE scorecards SET scored_at = '2024-03-16T07:05:00Z';
         UPDATE reviews SET created_at = '2024-03-16T09:30:00Z';";
    match store {
        StoreDb::Sqlite(s) => s.connection().execute_batch(pin).unwrap(),
        StoreDb::Postgres(p) => p.client().batch_execute(pin).unwrap(),
    }
}

struct Db {
    _dir: Option<tempfile::TempDir>,
    _server: Option<callscore_pgtest::TestDb>,
    /// A SQLite path, or a postgres:// URL.
    path: PathBuf,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.db");
    fill(&path);
    Db {
        _dir: Some(dir),
        _server: None,
        path,
    }
}

/// The same database as [`db`], on PostgreSQL.
fn pg_db(name: &str) -> Db {
    let server = callscore_pgtest::database(name);
    let path = PathBuf::from(server.url());
    fill(&path);
    Db {
        _dir: None,
        _server: Some(server),
        path,
    }
}

fn run(db: &Db, args: &[&str]) -> String {
    let out = Command::cargo_bin("callscore")
        .unwrap()
        .args(args)
        .arg("--db")
        .arg(&db.path)
        .env_remove("CALLSCORE_DB")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "callscore {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_err(db: &Db, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("callscore")
        .unwrap()
        .args(args)
        .arg("--db")
        .arg(&db.path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_fits_80(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "line wider than 80 columns ({}): {line:?}",
            line.chars().count()
        );
    }
}

#[test]
fn report_table() {
    let db = db();
    let out = run(&db, &["report"]);
    assert_fits_80(&out);
    insta::assert_snapshot!("report_table", out);
}

#[test]
fn report_json() {
    let db = db();
    let out = run(&db, &["report", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["calls"].as_array().unwrap().len(), 5);
    insta::assert_snapshot!("report_json", out);
}

#[test]
fn report_csv_tables() {
    let db = db();
    insta::assert_snapshot!("report_csv_calls", run(&db, &["report", "--format", "csv"]));
    insta::assert_snapshot!(
        "report_csv_agents",
        run(&db, &["report", "--format", "csv", "--table", "agents"])
    );
    insta::assert_snapshot!(
        "report_csv_criteria",
        run(&db, &["report", "--format", "csv", "--table", "criteria"])
    );
}

#[test]
fn report_filters() {
    let db = db();
    let files = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["report", "--format", "json"];
        full.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&run(&db, &full)).unwrap();
        v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["file_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(files(&["--agent", "JAMES"]), ["no_caller_name.wav"]);
    assert_eq!(
        files(&["--flagged", "--from", "2024-03-11", "--to", "2024-03-11"]),
        ["rude_agent.wav"]
    );
    assert_eq!(
        files(&["--from", "2024-03-12T00:00:00Z", "--to", "2024-03-13"]),
        ["no_caller_name.wav", "mono_call.wav"]
    );
    assert!(files(&["--rubric", "outbound-sales"]).is_empty());
    insta::assert_snapshot!(
        "report_table_agent_filter",
        run(&db, &["report", "--agent", "sarah"])
    );
}

#[test]
fn report_rejects_a_bad_date_and_a_missing_database() {
    let db = db();
    let (code, err) = run_err(&db, &["report", "--from", "last tuesday"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("last tuesday") && err.contains("YYYY-MM-DD"),
        "{err}"
    );
    let missing = Db {
        _dir: Some(tempfile::tempdir().unwrap()),
        _server: None,
        path: PathBuf::from("/nonexistent/dir/calls.db"),
    };
    let (code, err) = run_err(&missing, &["report"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/dir/calls.db"), "{err}");
    assert!(!Path::new("/nonexistent/dir/calls.db").exists());
}

#[test]
fn flagged_in_every_format() {
    let db = db();
    let table = run(&db, &["flagged"]);
    assert_fits_80(&table);
    insta::assert_snapshot!("report_flagged_table", table);
    insta::assert_snapshot!(
        "report_flagged_json",
        run(&db, &["flagged", "--format", "json"])
    );
    insta::assert_snapshot!(
        "report_flagged_csv",
        run(&db, &["flagged", "--format", "csv"])
    );
    let first_only = run(&db, &["flagged", "--format", "json", "--limit", "1"]);
    let v: serde_json::Value = serde_json::from_str(&first_only).unwrap();
    assert_eq!(v["calls"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["calls"][0]["file_name"], "rude_agent.wav",
        "a critical failure is the worst"
    );
    assert_eq!(v["calls"][0]["first_failed_at"], "0:00");
}

#[test]
fn show_in_every_format() {
    let db = db();
    let table = run(&db, &["show", "rude_agent"]);
    assert_fits_80(&table);
    insta::assert_snapshot!("report_show_table", table);
    insta::assert_snapshot!(
        "report_show_json",
        run(&db, &["show", "rude_agent.wav", "--format", "json"])
    );
    insta::assert_snapshot!(
        "report_show_csv",
        run(&db, &["show", "b7e6d5c4b3", "--format", "csv"])
    );
    insta::assert_snapshot!("report_show_mono_table", run(&db, &["show", "5555aaaa"]));
}

#[test]
fn show_explains_unknown_and_ambiguous_calls() {
    let db = db();
    let (code, err) = run_err(&db, &["show", "b7e6d5c4"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("matches 2 calls")
            && err.contains("rude_agent.wav")
            && err.contains("no_caller_name.wav"),
        "{err}"
    );
    let (code, err) = run_err(&db, &["show", "nobody"]);
    assert_eq!(code, 2);
    assert!(err.contains("no call matches 'nobody'"), "{err}");
}

#[test]
fn an_empty_database_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    drop(callscore_store::Store::open(&path).unwrap());
    let db = Db {
        _dir: Some(dir),
        _server: None,
        path,
    };
    assert!(run(&db, &["report"]).contains("callscore score"));
    assert_eq!(run(&db, &["flagged"]), "No flagged calls.\n");
}

/// Reviewer overrides reach the report: the machine vs reviewed score section, and the
/// calibration view of criteria reviewers overrode.
#[test]
fn report_shows_reviewed_scores_and_disagreements() {
    let db = db();
    let store = callscore_store::Store::open(&db.path).unwrap();
    let report = store.report(&Default::default()).unwrap();
    // Override the first failed, weighted criterion of some call to pass.
    let (call, criterion) = report
        .calls
        .iter()
        .find_map(|c| c.failed_criteria.first().map(|f| (c, f.clone())))
        .expect("a call with a failed criterion");
    store
        .add_review(&NewReview {
            call_id: call.call_id.clone(),
            scorecard_id: Some(call.scorecard_id),
            reviewer: "qa-lead".into(),
            criterion_id: Some(criterion.clone()),
            override_outcome: Some(Outcome::Pass),
            note: "heard it on the recording".into(),
            listened: true,
        })
        .unwrap();
    drop(store);

    let table = run(&db, &["report"]);
    let section = table
        .split("Machine vs reviewed score")
        .nth(1)
        .unwrap_or_else(|| panic!("{table}"));
    assert!(section.contains(&call.file_name), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&run(&db, &["report", "--format", "json"])).unwrap();
    let reviewed = json["reviewed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["call_id"] == call.call_id.as_str())
        .unwrap();
    assert!(reviewed["changed_criteria"].as_u64().unwrap() >= 1);
    assert_eq!(reviewed["call_id"], call.call_id.as_str());
    assert!(
        reviewed["reviewed_score"].as_f64().unwrap() >= reviewed["machine_score"].as_f64().unwrap()
    );

    let dis = run(&db, &["report", "--disagreements"]);
    let line = dis
        .lines()
        .find(|l| l.contains(&criterion))
        .unwrap_or_else(|| panic!("{dis}"));
    assert!(line.contains("1 (100%)"), "{line}");
    let dis_json: serde_json::Value = serde_json::from_str(&run(
        &db,
        &["report", "--disagreements", "--format", "json"],
    ))
    .unwrap();
    let row = dis_json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["criterion_id"] == criterion.as_str())
        .unwrap();
    assert_eq!(row["overridden"], 1);
    assert_eq!(row["machine_fail_reviewer_pass"], 1);
}

/// Adds two mystery-shop calls (scenario and ring time in their metadata) to `db`.
fn add_shops(db: &Db) {
    let mut store = StoreDb::open(&db.path).unwrap();
    let good = calls().remove(0);
    for (i, (scenario, ring_ms, started)) in [
        ("billing-question", 4_200, "2024-03-14T10:05:00Z"),
        ("billing-question", 6_000, "2024-03-15T16:45:00Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let meta = CallMeta {
            agent: Some("Daniel".into()),
            caller_name: Some("Priya Raman".into()),
            direction: Some(Direction::Outbound),
            started_at: Some(started.into()),
            scenario: Some(scenario.into()),
            ring_ms: Some(ring_ms),
            outcome: Some("answered".into()),
            ..Default::default()
        };
        let id = format!("{:064x}", 0x5409 + i);
        let path = PathBuf::from(format!("/recordings/shops/shop-{i}.wav"));
        let t = Transcript {
            duration_ms: 40_000,
            model: "tiny.en".into(),
            segments: good.segments.clone(),
            meta: meta.clone(),
            ..Default::default()
        };
        let call = NewCall {
            id: &id,
            source_path: &path,
            duration_ms: 40_000,
            channels: 2,
            sample_rate: 8_000,
            format: "wav/mulaw",
            meta: &meta,
            warnings: &[],
        };
        store
            .record_scored_call(&call, &t, &good.scorecard)
            .unwrap();
    }
}

#[test]
fn report_by_hour_weekday_and_scenario() {
    let db = db();
    add_shops(&db);
    let hour = run(&db, &["report", "--by", "hour"]);
    assert_fits_80(&hour);
    insta::assert_snapshot!("report_by_hour", hour);
    let weekday = run(&db, &["report", "--by", "weekday"]);
    assert_fits_80(&weekday);
    insta::assert_snapshot!("report_by_weekday", weekday);
    insta::assert_snapshot!(
        "report_by_scenario",
        run(&db, &["report", "--by", "scenario"])
    );
    insta::assert_snapshot!(
        "report_by_weekday_csv",
        run(&db, &["report", "--by", "weekday", "--format", "csv"])
    );
    let json: serde_json::Value = serde_json::from_str(&run(
        &db,
        &["report", "--by", "scenario", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(json["by"], "scenario");
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{json}");
    assert_eq!(groups[0]["group"], "billing-question");
    assert_eq!(groups[0]["calls"], 2);
    assert_eq!(groups[0]["average_ring_ms"], 5100.0);
    // Weekdays come Monday first; 2024-03-11 was a Monday, the shops a Thursday and a Friday.
    let days: Vec<String> = serde_json::from_str::<serde_json::Value>(&run(
        &db,
        &["report", "--by", "weekday", "--format", "json"],
    ))
    .unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(days[0], "Monday");
    assert!(days.contains(&"Thursday".to_string()) && days.contains(&"Friday".to_string()));
}

#[test]
fn show_prints_the_shop_and_json_has_ring_ms() {
    let db = db();
    add_shops(&db);
    let text = run(&db, &["show", "shop-0"]);
    assert!(
        text.contains("Shop      scenario billing-question, answered after 4.2 s, answered"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&db, &["show", "shop-0", "--format", "json"])).unwrap();
    assert_eq!(json["call"]["meta"]["ring_ms"], 4200, "{json}");
    assert_eq!(json["call"]["meta"]["scenario"], "billing-question");
}

#[test]
fn search_finds_words_and_phrases_newest_first_in_every_format() {
    let db = db();
    let table = run(&db, &["search", "bill"]);
    insta::assert_snapshot!("search_bill_table", table);
    let json: serde_json::Value =
        serde_json::from_str(&run(&db, &["search", "bill", "--format", "json"])).unwrap();
    let hits = json["hits"].as_array().unwrap();
    // Two calls say "bill": rude_agent (2024-03-11 11:40) before good_call (09:15), and within
    // good_call in time order.
    let order: Vec<(String, u64)> = hits
        .iter()
        .map(|h| {
            (
                h["file_name"].as_str().unwrap().to_string(),
                h["start_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("rude_agent.wav".to_string(), 2_000),
            ("good_call.wav".to_string(), 6_600),
            ("good_call.wav".to_string(), 11_500),
        ]
    );
    assert_eq!(hits[0]["speaker"], "caller");
    assert!(
        hits[0]["marked"].as_str().unwrap().contains("«bill»"),
        "{json}"
    );
    assert!(hits[0]["listen"].as_str().unwrap().ends_with("?t=2000"));
    insta::assert_snapshot!(
        "search_phrase_csv",
        run(
            &db,
            &["search", "\"thank you for calling\"", "--format", "csv"]
        )
    );
    let count = |args: &[&str]| -> usize {
        let mut full = vec!["search"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--format", "json"]);
        serde_json::from_str::<serde_json::Value>(&run(&db, &full)).unwrap()["hits"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&["bill", "--speaker", "agent"]), 1);
    assert_eq!(count(&["bill", "--agent", "SARAH"]), 2);
    assert_eq!(count(&["bill", "--from", "2024-03-12"]), 0);
    // "cut off this morning, and I paid the bill": seven words between.
    assert_eq!(count(&["cut", "NEAR/8", "bill"]), 1);
    assert_eq!(count(&["cut", "NEAR/3", "bill"]), 0);
    assert_eq!(count(&["anything", "else"]), 1);
    assert_eq!(count(&["\"else anything\""]), 0);
    assert_eq!(count(&["electric*"]), 1);
    let (code, err) = run_err(&db, &["search", "NEAR/x", "bill"]);
    assert_eq!(
        code, 2,
        "a query that cannot run is like a bad rubric: nothing ran"
    );
    assert!(err.contains("cannot search for 'NEAR/x bill'"), "{err}");
}

#[test]
fn postgres_prints_what_sqlite_prints() {
    let (sqlite, pg) = (db(), pg_db("report_cli"));
    for db in [&sqlite, &pg] {
        add_shops(db);
        pin_times(&StoreDb::open(&db.path).unwrap());
    }
    let commands: &[&[&str]] = &[
        &["report"],
        &["report", "--format", "json"],
        &["report", "--format", "csv"],
        &["report", "--format", "csv", "--table", "agents"],
        &["report", "--format", "csv", "--table", "criteria"],
        &["report", "--agent", "SARAH"],
        &[
            "report",
            "--flagged",
            "--from",
            "2024-03-11",
            "--to",
            "2024-03-12",
        ],
        &["report", "--by", "hour"],
        &["report", "--by", "weekday", "--format", "json"],
        &["report", "--by", "scenario", "--format", "csv"],
        &["flagged"],
        &["flagged", "--format", "json"],
        &["flagged", "--format", "csv", "--limit", "1"],
        &["show", "rude_agent"],
        &["show", "rude_agent", "--format", "json"],
        &["show", "good_call.wav", "--format", "csv"],
        &["show", "5555aaaa"],
        &["show", "/recordings/2024-03/no_caller_name.wav"],
    ];
    for args in commands {
        assert_eq!(
            run(&pg, args),
            run(&sqlite, args),
            "callscore {args:?} prints otherwise on PostgreSQL"
        );
    }
    // Search finds the same segments of the same calls; only the marked snippet is each
    // engine's own.
    let hits = |db: &Db, args: &[&str]| -> Vec<serde_json::Value> {
        let mut full = vec!["search", "--format", "json"];
        full.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&run(db, &full)).unwrap();
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let mut h = h.clone();
                h.as_object_mut().unwrap().remove("marked");
                h
            })
            .collect()
    };
    for query in [
        &["bill"][..],
        &["\"thank you for calling\""],
        &["riverside", "--speaker", "agent"],
        &["calm*", "OR", "whatever"],
        &["energy", "NOT", "morning"],
        &["paid", "NEAR/3", "bill"],
        &["energy", "--agent", "GARY"],
        &["energy", "--from", "2024-03-12"],
    ] {
        let found = hits(&sqlite, query);
        assert!(
            !found.is_empty(),
            "search {query:?} finds nothing on SQLite"
        );
        assert_eq!(
            hits(&pg, query),
            found,
            "search {query:?} finds otherwise on PostgreSQL"
        );
    }
    // Reviewers' disagreements too (the database holds one override).
    for args in [
        &["report", "--disagreements"][..],
        &["report", "--disagreements", "--format", "json"],
    ] {
        assert_eq!(run(&pg, args), run(&sqlite, args), "callscore {args:?}");
    }
}

#[test]
fn an_unknown_url_scheme_is_an_error_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for command in [&["report"][..], &["show", "x"], &["flagged"]] {
        let out = Command::cargo_bin("callscore")
            .unwrap()
            .current_dir(dir.path())
            .args(command)
            .args(["--db", "mysql://qa:secret@db.local/calls"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("postgres://"), "{err}");
        assert!(!err.contains("secret"), "the password is not shown: {err}");
        assert!(!dir.path().join("mysql:").exists(), "no folder was made");
    }
}

//! Behaviour of the store through its public API: claims, atomic call records, history,
//! migrations, concurrency, reports and lookups.
//!
//! Every test that is about what the store does, rather than how SQLite keeps it, runs on both
//! backends through [`Db`] ([`each_backend`]: a temporary SQLite file, then a throwaway
//! PostgreSQL database from callscore-pgtest), so both must give the same answers. The few
//! that are about SQLite itself (files, migrations of old files, the caller's clock for leases)
//! say so where they are.

use callscore_core::{
    CallMeta, CriterionResult, Evidence, Outcome, Scorecard, Segment, Speaker, Transcript,
};
use callscore_store::{
    Claim, ClaimOwner, Db, NewCall, NewReview, Recorded, ReportFilter, Store, StoreError,
    CLAIM_LEASE_MS, SCHEMA_VERSION,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Runs `body` on a new SQLite file and on a new PostgreSQL database, each opened as `--db`
/// opens it; `body` also gets the `--db` location, to open more connections. A failure says
/// which backend it was on.
fn each_backend(test: &str, body: impl Fn(&mut Db, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    let pg = callscore_pgtest::database(test);
    for location in [dir.path().join("calls.db"), PathBuf::from(pg.url())] {
        let mut db = Db::open(&location).unwrap();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&mut db, &location))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{test} on {}: {message}", db.shown());
        }
    }
}

/// Rows in `table`, read with each backend's own client (what no API call counts).
fn count_rows(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match db {
        Db::Sqlite(s) => s.connection().query_row(&sql, [], |r| r.get(0)).unwrap(),
        Db::Postgres(p) => p.client().query_one(&sql, &[]).unwrap().get(0),
    }
}

fn transcript(lines: &[(Speaker, u64, &str)]) -> Transcript {
    let segments = lines
        .iter()
        .map(|&(speaker, start_ms, text)| Segment {
            speaker,
            start_ms,
            end_ms: start_ms + 2_000,
            text: text.into(),
            words: vec![],
            ..Default::default()
        })
        .collect::<Vec<_>>();
    let mut t = Transcript {
        duration_ms: 0,
        model: "tiny.en".into(),
        segments,
        meta: CallMeta::default(),
        ..Default::default()
    };
    t.normalise();
    t
}

fn result(
    id: &str,
    outcome: Outcome,
    weight: f64,
    at_ms: Option<u64>,
    critical: bool,
) -> CriterionResult {
    CriterionResult {
        criterion_id: id.into(),
        name: format!("{id} name"),
        section: "Opening".into(),
        outcome,
        points: if outcome == Outcome::Pass {
            weight
        } else {
            0.0
        },
        max_points: weight,
        critical,
        evidence: at_ms
            .map(|s| {
                vec![Evidence {
                    speaker: Speaker::Agent,
                    start_ms: s,
                    end_ms: s + 1_500,
                    quote: format!("quote for {id}"),
                }]
            })
            .unwrap_or_default(),
        reason: format!("because of {id}"),
    }
}

fn scorecard(rubric_hash: &str, version: u32, results: Vec<CriterionResult>) -> Scorecard {
    let max: f64 = results
        .iter()
        .filter(|r| r.outcome != Outcome::NotApplicable)
        .map(|r| r.max_points)
        .sum();
    let got: f64 = results.iter().map(|r| r.points).sum();
    let score = if max > 0.0 { 100.0 * got / max } else { 100.0 };
    let critical_fail = results
        .iter()
        .any(|r| r.critical && r.outcome == Outcome::Fail);
    let passed = score >= 80.0 && !critical_fail;
    Scorecard {
        rubric_id: "inbound".into(),
        rubric_version: version,
        rubric_hash: rubric_hash.into(),
        score,
        passed,
        flagged: !passed,
        flag_reasons: if passed {
            vec![]
        } else {
            vec![format!("score {score:.0} below 80")]
        },
        judged: true,
        results,
    }
}

fn meta(agent: &str, started_at: &str) -> CallMeta {
    CallMeta {
        agent: Some(agent.into()),
        started_at: Some(started_at.into()),
        caller_name: Some("Priya Raman".into()),
        ..Default::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("calls.db");
    Fixture { _dir: dir, db }
}

fn record(store: &mut Db, id: &str, file: &str, m: &CallMeta, sc: &Scorecard) -> Recorded {
    let t = transcript(&[
        (
            Speaker::Agent,
            0,
            "Thank you for calling Acme, my name is Daniel.",
        ),
        (Speaker::Caller, 2_500, "Hi, it's Priya."),
    ]);
    let path = PathBuf::from(format!("/recordings/{file}"));
    let call = NewCall {
        id,
        source_path: &path,
        duration_ms: 61_000,
        channels: 2,
        sample_rate: 8_000,
        format: "wav/pcm_mulaw",
        meta: m,
        warnings: &[],
    };
    store.record_scored_call(&call, &t, sc).unwrap()
}

fn good(hash: &str) -> Scorecard {
    scorecard(
        hash,
        1,
        vec![
            result("greeting", Outcome::Pass, 10.0, Some(0), false),
            result("courtesy", Outcome::Pass, 0.0, None, true),
        ],
    )
}

fn rude(hash: &str) -> Scorecard {
    scorecard(
        hash,
        1,
        vec![
            result("greeting", Outcome::Fail, 10.0, Some(4_000), false),
            result("courtesy", Outcome::Fail, 0.0, Some(31_000), true),
        ],
    )
}

const ID_A: &str = "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111";
const ID_B: &str = "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222";
const ID_C: &str = "aaaa3333cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333";

#[test]
fn a_scored_call_round_trips_exactly() {
    each_backend("a_scored_call_round_trips_exactly", |store, _| {
        let m = meta("Daniel", "2024-05-02T09:14:00+01:00");
        let sc = rude("h1");
        let id = match record(store, ID_A, "rude.wav", &m, &sc) {
            Recorded::Stored(id) => id,
            other => panic!("expected a new scorecard, got {other:?}"),
        };
        let stored = store.scorecard(id).unwrap().unwrap();
        assert_eq!(
            stored.scorecard, sc,
            "scorecard read back differs from the one stored"
        );
        assert!(stored.is_current);
        let t = store.transcript(ID_A).unwrap().unwrap();
        assert_eq!(
            t.meta, m,
            "the transcript comes back with the call's metadata"
        );
        assert_eq!(t.segments.len(), 2);
        let call = store.call_record(ID_A).unwrap();
        assert_eq!(call.status, "scored");
        assert_eq!(call.started_at.as_deref(), Some("2024-05-02T08:14:00Z"));
        assert_eq!(
            (call.duration_ms, call.channels, call.sample_rate),
            (Some(61_000), Some(2), Some(8_000))
        );
        assert_eq!(call.file_name, "rude.wav");
    });
}

#[test]
fn scoring_twice_with_the_same_rubric_adds_nothing() {
    each_backend(
        "scoring_twice_with_the_same_rubric_adds_nothing",
        |store, _| {
            let first = record(store, ID_A, "a.wav", &CallMeta::default(), &good("h1"));
            let second = record(store, ID_A, "a.wav", &CallMeta::default(), &good("h1"));
            assert_eq!(second, Recorded::AlreadyPresent(first.scorecard_id()));
            assert_eq!(store.scorecard_history(ID_A).unwrap().len(), 1);
            assert_eq!(count_rows(store, "results"), 2);
        },
    );
}

#[test]
fn rescoring_keeps_history_and_moves_current() {
    each_backend("rescoring_keeps_history_and_moves_current", |store, _| {
        record(
            store,
            ID_A,
            "a.wav",
            &meta("Daniel", "2024-05-02T09:00:00Z"),
            &good("v1"),
        );
        let t = store.transcript(ID_A).unwrap().unwrap();
        assert_eq!(
            t.segments[0].text,
            "Thank you for calling Acme, my name is Daniel."
        );
        let mut v2 = rude("v2");
        v2.rubric_version = 2;
        let recorded = store.record_scorecards(&[(ID_A, &v2)], None).unwrap();
        assert!(matches!(recorded[0], Recorded::Stored(_)));

        let history = store.scorecard_history(ID_A).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history.iter().filter(|s| s.is_current).count(), 1);
        let current = history.iter().find(|s| s.is_current).unwrap();
        assert_eq!(
            (current.rubric_version, current.rubric_hash.as_str()),
            (2, "v2")
        );
        let report = store.report(&ReportFilter::default()).unwrap();
        assert_eq!(report.calls.len(), 1);
        assert_eq!(report.calls[0].rubric_version, 2);
        assert!(report.calls[0].flagged);

        // Scoring with v1 again brings its stored scorecard back as current without a new row.
        let again = store
            .record_scorecards(&[(ID_A, &good("v1"))], None)
            .unwrap();
        assert!(matches!(again[0], Recorded::AlreadyPresent(_)));
        let history = store.scorecard_history(ID_A).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(
            history.iter().find(|s| s.is_current).unwrap().rubric_hash,
            "v1"
        );
        let uses = store.rubrics().unwrap();
        assert_eq!(uses.len(), 2);
        assert_eq!(uses.iter().map(|u| u.current).sum::<u64>(), 1);
    });
}

#[test]
fn claims_keep_a_second_worker_off_a_call() {
    each_backend("claims_keep_a_second_worker_off_a_call", |store, _| {
        let me = ClaimOwner::current_process();
        // A live process on another machine: only its lease can expire.
        let remote = ClaimOwner {
            host: format!("{}-other", me.host),
            pid: 4242,
            start_ticks: Some(7),
        };
        let path = Path::new("/recordings/a.wav");
        let now = 1_700_000_000_000;

        assert_eq!(
            store.claim(ID_A, path, "h1", &remote, now).unwrap(),
            Claim::Acquired {
                has_transcript: false
            }
        );
        assert_eq!(
            store.claim(ID_A, path, "h1", &me, now + 1_000).unwrap(),
            Claim::Busy {
                holder: remote.token()
            }
        );
        // PostgreSQL judges leases by the server's clock, never by the `now_ms` a caller passes
        // (workers on many machines need one clock), so the lease's end cannot be reached by
        // passing a later time there: pg_store.rs lets a short lease really run out instead.
        if matches!(store, Db::Postgres(_)) {
            return;
        }
        // Renewal keeps it held past the original lease.
        assert_eq!(
            store.renew_claims(&remote, now + CLAIM_LEASE_MS).unwrap(),
            1
        );
        assert!(matches!(
            store
                .claim(ID_A, path, "h1", &me, now + CLAIM_LEASE_MS + 5)
                .unwrap(),
            Claim::Busy { .. }
        ));
        // A lease not renewed for longer than CLAIM_LEASE_MS is taken over.
        assert_eq!(
            store
                .claim(ID_A, path, "h1", &me, now + 2 * CLAIM_LEASE_MS + 10)
                .unwrap(),
            Claim::Acquired {
                has_transcript: false
            }
        );
        let call = store.call_record(ID_A).unwrap();
        assert_eq!((call.status.as_str(), call.attempts), ("queued", 1));
    });
}

#[test]
fn a_dead_local_owner_loses_its_claim_at_once() {
    if !Path::new("/proc/self").exists() {
        return; // Without procfs only the lease can free a claim (covered above).
    }
    each_backend("a_dead_local_owner_loses_its_claim_at_once", |store, _| {
        let me = ClaimOwner::current_process();
        let killed = ClaimOwner {
            pid: 9_999_999,
            ..me.clone()
        };
        let path = Path::new("/recordings/a.wav");
        assert!(matches!(
            store.claim(ID_A, path, "h1", &killed, 1_000).unwrap(),
            Claim::Acquired { .. }
        ));
        assert!(matches!(
            store.claim(ID_A, path, "h1", &me, 1_001).unwrap(),
            Claim::Acquired { .. }
        ));
    });
}

#[test]
fn claim_reports_what_is_already_done() {
    each_backend("claim_reports_what_is_already_done", |store, _| {
        let me = ClaimOwner::current_process();
        record(store, ID_A, "a.wav", &CallMeta::default(), &good("h1"));
        let path = Path::new("/recordings/a.wav");
        assert_eq!(
            store.claim(ID_A, path, "h1", &me, 0).unwrap(),
            Claim::AlreadyScored
        );
        // Another rubric: work to do, but the transcript is there to reuse.
        assert_eq!(
            store.claim(ID_A, path, "h2", &me, 0).unwrap(),
            Claim::Acquired {
                has_transcript: true
            }
        );
        let plan = store.plan_state(ID_A, "h2").unwrap();
        assert!(plan.known && plan.has_transcript && !plan.scored_with_rubric);
        assert_eq!(store.plan_state(ID_B, "h1").unwrap(), Default::default());
    });
}

#[test]
fn a_failure_is_recorded_and_retried_later() {
    each_backend("a_failure_is_recorded_and_retried_later", |store, _| {
        let me = ClaimOwner::current_process();
        let path = Path::new("/recordings/broken.wav");
        store.claim(ID_B, path, "h1", &me, 0).unwrap();
        store
            .record_failure(ID_B, path, "/recordings/broken.wav: not a RIFF file", &me)
            .unwrap();
        let call = store.call_record(ID_B).unwrap();
        assert_eq!(call.status, "failed");
        assert_eq!(
            call.error.as_deref(),
            Some("/recordings/broken.wav: not a RIFF file")
        );
        let failed = store.failed_calls(&ReportFilter::default()).unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].file_name, "broken.wav");
        // The claim was released, so a rerun can claim it again at once.
        let other = ClaimOwner {
            host: "elsewhere".into(),
            pid: 1,
            start_ticks: None,
        };
        assert!(matches!(
            store.claim(ID_B, path, "h1", &other, 1).unwrap(),
            Claim::Acquired { .. }
        ));
        assert_eq!(store.status_counts().unwrap().failed, 1);
    });
}

#[test]
fn concurrent_workers_claim_each_call_exactly_once() {
    each_backend(
        "concurrent_workers_claim_each_call_exactly_once",
        |store, location| {
            let ids: Vec<String> = (0..40).map(|i| format!("{i:064x}")).collect();
            let winners = std::sync::Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for worker in 0..4u32 {
                    let (ids, winners) = (&ids, &winners);
                    s.spawn(move || {
                        let mut store = Db::open(location).unwrap();
                        // Distinct remote owners with fresh leases: nobody may take over another's claim.
                        let owner = ClaimOwner {
                            host: format!("host-{worker}"),
                            pid: 100 + worker,
                            start_ticks: Some(1),
                        };
                        for id in ids {
                            if let Claim::Acquired { .. } = store
                                .claim(id, Path::new("/r/x.wav"), "h", &owner, 5_000)
                                .unwrap()
                            {
                                let sc = good("h");
                                let t = transcript(&[(Speaker::Agent, 0, "hello")]);
                                let call = NewCall {
                                    id,
                                    source_path: Path::new("/r/x.wav"),
                                    duration_ms: 1_000,
                                    channels: 1,
                                    sample_rate: 16_000,
                                    format: "wav",
                                    meta: &CallMeta::default(),
                                    warnings: &[],
                                };
                                assert!(matches!(
                                    store.record_scored_call(&call, &t, &sc).unwrap(),
                                    Recorded::Stored(_)
                                ));
                                winners.lock().unwrap().push(id.clone());
                            }
                        }
                    });
                }
            });
            let mut winners = winners.into_inner().unwrap();
            winners.sort();
            assert_eq!(
                winners, ids,
                "every call claimed and stored by exactly one worker"
            );
            assert_eq!(count_rows(store, "scorecards"), 40);
        },
    );
}

/// SQLite only: racing to create a new file. (pg_store.rs races openers of an empty
/// PostgreSQL database, which an advisory lock serialises.)
#[test]
fn two_openers_of_a_new_database_both_succeed() {
    for _ in 0..5 {
        let f = fixture();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| Store::open(&f.db).map(|st| st.schema_version().unwrap())))
                .collect();
            for h in handles {
                assert_eq!(h.join().unwrap().unwrap(), SCHEMA_VERSION);
            }
        });
    }
}

/// SQLite only: files written by older versions of callscore (PostgreSQL has its own schema
/// versions, upgraded in pg_store.rs).
#[test]
fn migrating_from_an_empty_file_and_from_version_one() {
    let f = fixture();
    // An empty file (e.g. `touch calls.db`) is a valid empty database.
    std::fs::write(&f.db, b"").unwrap();
    assert_eq!(
        Store::open(&f.db).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );

    let old = f.db.with_file_name("v1.db");
    {
        let v1 = Store::open_at_schema_version(&old, 1).unwrap();
        assert_eq!(v1.schema_version().unwrap(), 1);
        let no_reviews: bool = v1
            .connection()
            .query_row(
                "SELECT count(*) = 0 FROM sqlite_master WHERE name = 'reviews'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(no_reviews);
        // Written as a version-1 callscore wrote it (today's writer needs today's columns).
        v1.connection()
            .execute_batch(&format!(
                r#"INSERT INTO calls (id, source_path, file_name, duration_ms, channels, sample_rate, format,
                                      meta_json, agent, started_at, status)
                   VALUES ('{ID_A}', '/recordings/old.wav', 'old.wav', 61000, 2, 8000, 'wav/pcm_mulaw',
                           '{{"agent":"Daniel","started_at":"2024-05-01T10:00:00Z"}}', 'Daniel',
                           '2024-05-01T10:00:00Z', 'scored');
                   INSERT INTO transcripts (call_id, model, duration_ms, segments_json)
                   VALUES ('{ID_A}', 'tiny.en', 61000,
                           '[{{"speaker":"agent","start_ms":0,"end_ms":2000,"text":"Thank you for calling Acme, my name is Daniel.","words":[]}},
                             {{"speaker":"caller","start_ms":2500,"end_ms":4000,"text":"Hi, it''s Priya.","words":[]}}]');
                   INSERT INTO scorecards (id, call_id, rubric_id, rubric_version, rubric_hash, score, passed, flagged,
                                           failed_criteria, critical_failures)
                   VALUES (1, '{ID_A}', 'default', 1, 'h1', 0.0, 0, 1, 'greeting' || char(31) || 'courtesy', 'courtesy');
                   INSERT INTO results (scorecard_id, position, criterion_id, outcome, points, max_points, critical)
                   VALUES (1, 0, 'greeting', 'fail', 0, 10, 0), (1, 1, 'courtesy', 'fail', 0, 0, 1);"#
            ))
            .unwrap();
    }
    let store = Store::open(&old).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let report = store.report(&ReportFilter::default()).unwrap();
    assert_eq!(
        report.calls.len(),
        1,
        "data written under version 1 is still there"
    );
    assert_eq!(report.calls[0].failed_criteria, ["greeting", "courtesy"]);
    // Version 4: an old transcript reads as "channels were the truth, nothing redacted", an
    // old scorecard as judged, an old call without warnings.
    let detail = store.call_detail(ID_A, None).unwrap();
    let t = detail.transcript.unwrap();
    assert!(!t.diarized && t.redactions.is_empty() && t.language.is_none());
    assert!(detail.scorecard.unwrap().scorecard.judged);
    assert!(detail.call.warnings.is_empty());
    // Version 5: transcripts stored before the index existed are searchable.
    let found = store
        .search(&callscore_store::SearchQuery {
            text: "priya".into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.hits.len(), 1);
    assert_eq!(
        (found.hits[0].speaker, found.hits[0].start_ms),
        (Speaker::Caller, 2_500)
    );
    // The version-2 table works on the upgraded file.
    let sid = report.calls[0].scorecard_id;
    let review = NewReview {
        call_id: ID_A.into(),
        scorecard_id: Some(sid),
        reviewer: "maria".into(),
        criterion_id: Some("greeting".into()),
        override_outcome: Some(Outcome::Pass),
        note: "greeting was there, transcription missed it".into(),
        listened: true,
    };
    store.add_review(&review).unwrap();
    let reviews = store.reviews_for_call(ID_A).unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].override_outcome, Some(Outcome::Pass));
}

#[test]
fn bad_reviews_are_refused_with_a_reason() {
    each_backend("bad_reviews_are_refused_with_a_reason", |store, _| {
        record(store, ID_A, "a.wav", &CallMeta::default(), &good("h"));
        let base = NewReview {
            call_id: ID_A.into(),
            reviewer: "maria".into(),
            ..Default::default()
        };
        let no_criterion = NewReview {
            override_outcome: Some(Outcome::Fail),
            ..base.clone()
        };
        assert!(store
            .add_review(&no_criterion)
            .unwrap_err()
            .to_string()
            .contains("criterion"));
        let unknown = NewReview {
            call_id: ID_B.into(),
            ..base.clone()
        };
        assert!(store
            .add_review(&unknown)
            .unwrap_err()
            .to_string()
            .contains("no such call"));
        let foreign = NewReview {
            scorecard_id: Some(999),
            ..base.clone()
        };
        assert!(store
            .add_review(&foreign)
            .unwrap_err()
            .to_string()
            .contains("999"));
        let anonymous = NewReview {
            reviewer: "  ".into(),
            ..base
        };
        assert!(matches!(
            store.add_review(&anonymous),
            Err(StoreError::BadReview { .. })
        ));
    });
}

fn three_calls(store: &mut Db) {
    record(
        store,
        ID_A,
        "good_call.wav",
        &meta("Daniel", "2024-05-02T09:00:00Z"),
        &good("h"),
    );
    record(
        store,
        ID_B,
        "rude_agent.wav",
        &meta("Sam", "2024-05-03T10:00:00Z"),
        &rude("h"),
    );
    let curt = scorecard(
        "h",
        1,
        vec![
            result("greeting", Outcome::Fail, 10.0, None, false),
            result("courtesy", Outcome::Pass, 0.0, None, true),
        ],
    );
    record(
        store,
        ID_C,
        "curt_agent.wav",
        &meta("daniel", "2024-05-03T23:30:00-02:00"),
        &curt,
    );
}

#[test]
fn report_summarises_calls_agents_and_criteria() {
    each_backend("report_summarises_calls_agents_and_criteria", |store, _| {
        three_calls(store);
        let report = store.report(&ReportFilter::default()).unwrap();
        assert_eq!(report.rubric_id.as_deref(), Some("inbound"));
        let files: Vec<_> = report.calls.iter().map(|c| c.file_name.as_str()).collect();
        assert_eq!(
            files,
            ["good_call.wav", "rude_agent.wav", "curt_agent.wav"],
            "ordered by call time"
        );
        assert_eq!(report.calls[1].critical_failures, ["courtesy"]);
        assert_eq!(report.calls[1].first_failed_ms, Some(4_000));

        // "Daniel" and "daniel" are one agent, as the --agent filter treats them.
        let agents: Vec<_> = report
            .agents
            .iter()
            .map(|a| (a.agent.as_deref().unwrap(), a.calls, a.passed))
            .collect();
        assert_eq!(agents, [("Daniel", 2, 1), ("Sam", 1, 0)]);
        assert!((report.agents[0].pass_rate - 0.5).abs() < 1e-9);

        let greeting = &report.criteria[0];
        assert_eq!(
            (greeting.criterion_id.as_str(), greeting.pass, greeting.fail),
            ("greeting", 1, 2)
        );
        assert!((greeting.pass_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert!(report.criteria[1].critical);
    });
}

#[test]
fn report_filters_by_agent_dates_and_flag() {
    each_backend("report_filters_by_agent_dates_and_flag", |store, _| {
        three_calls(store);
        let files = |filter: ReportFilter| -> Vec<String> {
            store
                .report(&filter)
                .unwrap()
                .calls
                .into_iter()
                .map(|c| c.file_name)
                .collect()
        };
        assert_eq!(
            files(ReportFilter {
                agent: Some("DANIEL".into()),
                ..Default::default()
            }),
            ["good_call.wav", "curt_agent.wav"]
        );
        assert_eq!(
            files(ReportFilter {
                from: Some("2024-05-03".into()),
                ..Default::default()
            }),
            ["rude_agent.wav", "curt_agent.wav"]
        );
        // 23:30 at -02:00 is 01:30 UTC on the 4th, so the 3rd alone holds only the rude call.
        assert_eq!(
            files(ReportFilter {
                from: Some("2024-05-03".into()),
                to: Some("2024-05-03".into()),
                ..Default::default()
            }),
            ["rude_agent.wav"]
        );
        assert_eq!(
            files(ReportFilter {
                flagged_only: true,
                ..Default::default()
            }),
            ["rude_agent.wav", "curt_agent.wav"]
        );
        assert!(files(ReportFilter {
            rubric_id: Some("outbound".into()),
            ..Default::default()
        })
        .is_empty());
        let err = store
            .report(&ReportFilter {
                to: Some("May 3".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("May 3"), "{err}");
    });
}

#[test]
fn flagged_lists_critical_failures_first_then_lowest_score() {
    each_backend(
        "flagged_lists_critical_failures_first_then_lowest_score",
        |store, _| {
            three_calls(store);
            let flagged = store.flagged(&ReportFilter::default(), None).unwrap();
            let files: Vec<_> = flagged.iter().map(|c| c.file_name.as_str()).collect();
            assert_eq!(files, ["rude_agent.wav", "curt_agent.wav"]);
        },
    );
}

#[test]
fn calls_are_found_by_id_prefix_name_or_stem() {
    each_backend("calls_are_found_by_id_prefix_name_or_stem", |store, _| {
        three_calls(store);
        assert_eq!(store.find_call(ID_B).unwrap(), ID_B);
        assert_eq!(store.find_call("bbbb22").unwrap(), ID_B);
        assert_eq!(store.find_call("BBBB22").unwrap(), ID_B);
        assert_eq!(store.find_call("rude_agent.wav").unwrap(), ID_B);
        assert_eq!(store.find_call("rude_agent").unwrap(), ID_B);
        assert_eq!(store.find_call("/recordings/curt_agent.wav").unwrap(), ID_C);
        let err = store.find_call("aaaa").unwrap_err();
        assert!(
            matches!(err, StoreError::AmbiguousCall { count: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("good_call.wav") && err.to_string().contains("curt_agent.wav"),
            "{err}"
        );
        assert!(matches!(
            store.find_call("rude"),
            Err(StoreError::CallNotFound { .. })
        ));
        assert!(matches!(
            store.find_call("%"),
            Err(StoreError::CallNotFound { .. })
        ));
    });
}

#[test]
fn call_detail_has_scorecard_transcript_history_and_reviews() {
    each_backend(
        "call_detail_has_scorecard_transcript_history_and_reviews",
        |store, _| {
            three_calls(store);
            let detail = store.call_detail(ID_B, None).unwrap();
            assert_eq!(detail.call.file_name, "rude_agent.wav");
            let sc = detail.scorecard.expect("current scorecard");
            assert_eq!(sc.scorecard.results[1].evidence[0].start_ms, 31_000);
            assert_eq!(detail.transcript.unwrap().segments.len(), 2);
            assert_eq!(detail.history.len(), 1);
            assert!(detail.reviews.is_empty());
            assert!(store
                .call_detail(ID_B, Some("other-rubric"))
                .unwrap()
                .scorecard
                .is_none());
            assert!(matches!(
                store.call_detail("ffff", None),
                Err(StoreError::CallNotFound { .. })
            ));
        },
    );
}

#[test]
fn an_empty_database_reports_nothing() {
    each_backend("an_empty_database_reports_nothing", |store, _| {
        let report = store.report(&ReportFilter::default()).unwrap();
        assert!(report.rubric_id.is_none() && report.calls.is_empty() && report.agents.is_empty());
        assert!(store
            .flagged(&ReportFilter::default(), None)
            .unwrap()
            .is_empty());
    });
}

#[test]
fn transcripts_page_through_in_id_order() {
    each_backend("transcripts_page_through_in_id_order", |store, _| {
        three_calls(store);
        let first = store.transcripts_after(None, 2).unwrap();
        assert_eq!(
            first.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            [ID_A, ID_C]
        );
        let rest = store.transcripts_after(Some(ID_C), 2).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, ID_B);
        assert_eq!(rest[0].1.meta.agent.as_deref(), Some("Sam"));
    });
}

#[test]
fn transcript_details_warnings_and_judged_round_trip() {
    each_backend(
        "transcript_details_warnings_and_judged_round_trip",
        |store, _| {
            let mut t = transcript(&[(Speaker::Agent, 0, "Thank you for calling Acme.")]);
            t.diarized = true;
            t.speaker_notes = vec!["the agent opened the call".into()];
            t.language = Some("en".into());
            t.redactions = vec![callscore_core::Redaction {
                class: "card_number".into(),
                speaker: Speaker::Caller,
                start_ms: 1_000,
                end_ms: 4_000,
            }];
            let mut sc = good("hd");
            sc.judged = false;
            let warnings = vec!["header promises 60 s, file holds 12 s".to_string()];
            let path = PathBuf::from("/recordings/details.wav");
            let m = CallMeta::default();
            store
                .record_scored_call(
                    &NewCall {
                        id: ID_A,
                        source_path: &path,
                        duration_ms: 12_000,
                        channels: 1,
                        sample_rate: 8_000,
                        format: "wav",
                        meta: &m,
                        warnings: &warnings,
                    },
                    &t,
                    &sc,
                )
                .unwrap();
            let detail = store.call_detail(ID_A, None).unwrap();
            let back = detail.transcript.unwrap();
            assert!(back.diarized);
            assert_eq!(back.speaker_notes, t.speaker_notes);
            assert_eq!(back.language.as_deref(), Some("en"));
            assert_eq!(back.redactions, t.redactions);
            assert_eq!(detail.call.warnings, warnings);
            assert!(!detail.scorecard.unwrap().scorecard.judged);
        },
    );
}

#[test]
fn redacting_a_stored_transcript_scrubs_what_earlier_scorecards_quoted() {
    each_backend(
        "redacting_a_stored_transcript_scrubs_what_earlier_scorecards_quoted",
        |store, _| {
            let mut t = transcript(&[(
                Speaker::Caller,
                1_000,
                "Send it to grace.hall@example.org please.",
            )]);
            let mut sc = good("before");
            sc.results[0].evidence = vec![Evidence {
                speaker: Speaker::Caller,
                start_ms: 1_000,
                end_ms: 3_000,
                quote: "Send it to grace.hall@example.org please.".into(),
            }];
            sc.results[0].reason = "caller said \"grace.hall@example.org\"".into();
            sc.flag_reasons = vec!["check grace.hall@example.org".into()];
            let path = PathBuf::from("/recordings/r.wav");
            let m = CallMeta::default();
            let call = NewCall {
                id: ID_A,
                source_path: &path,
                duration_ms: 5_000,
                channels: 2,
                sample_rate: 8_000,
                format: "wav",
                meta: &m,
                warnings: &[],
            };
            let sid = store
                .record_scored_call(&call, &t, &sc)
                .unwrap()
                .scorecard_id();

            t.segments[0].text = "Send it to [email address] please.".into();
            store.update_redactions(ID_A, &t).unwrap();
            let stored = store.scorecard(sid).unwrap().unwrap().scorecard;
            let json = serde_json::to_string(&stored).unwrap();
            assert!(!json.contains("grace"), "{json}");
            assert_eq!(
                stored.results[0].evidence[0].quote,
                "Send it to [redacted] please."
            );
            assert_eq!(stored.results[0].reason, "caller said \"[redacted]\"");
            assert_eq!(stored.flag_reasons, ["check [redacted]"]);
            // Untouched words stay.
            assert!(stored.results[0].evidence[0]
                .quote
                .starts_with("Send it to"));
        },
    );
}

#[test]
fn a_transcribed_call_waits_for_its_scorecard_and_is_searchable() {
    each_backend(
        "a_transcribed_call_waits_for_its_scorecard_and_is_searchable",
        |store, _| {
            let t = transcript(&[(Speaker::Agent, 0, "Thank you for calling Acme.")]);
            let path = PathBuf::from("/recordings/t.wav");
            let m = meta("Daniel", "2024-05-02T09:00:00Z");
            let call = NewCall {
                id: ID_A,
                source_path: &path,
                duration_ms: 61_000,
                channels: 2,
                sample_rate: 8_000,
                format: "wav/pcm_mulaw",
                meta: &m,
                warnings: &[],
            };
            store.record_transcribed_call(&call, &t).unwrap();
            assert_eq!(store.call_record(ID_A).unwrap().status, "transcribed");
            let state = store.plan_state(ID_A, "h1").unwrap();
            assert!(state.known && state.has_transcript && !state.scored_with_rubric);
            assert_eq!(store.transcript(ID_A).unwrap().unwrap().meta, m);
            let hits = store
                .search(&callscore_store::SearchQuery {
                    text: "acme".into(),
                    limit: 5,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(hits.hits.len(), 1);
            assert!(store
                .report(&ReportFilter::default())
                .unwrap()
                .calls
                .is_empty());
            store
                .record_scorecards(&[(ID_A, &good("h1"))], None)
                .unwrap();
            assert_eq!(store.call_record(ID_A).unwrap().status, "scored");
            // Stored again, a scored call stays scored, and its first transcript stays.
            let other = transcript(&[(Speaker::Agent, 0, "Something else entirely.")]);
            store.record_transcribed_call(&call, &other).unwrap();
            assert_eq!(store.call_record(ID_A).unwrap().status, "scored");
            assert_eq!(
                store.transcript(ID_A).unwrap().unwrap().segments,
                t.segments
            );
        },
    );
}

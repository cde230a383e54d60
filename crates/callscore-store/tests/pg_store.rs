//! The store on a real PostgreSQL server (one per test process, one database per test, see
//! callscore-pgtest): writes, reads, and the shared work queue with leases, through [`Db`] as
//! the pipeline and the binary use it.

use callscore_core::{
    CallMeta, CriterionResult, Evidence, Outcome, Scorecard, Segment, Speaker, Transcript,
};
use callscore_store::{
    Claim, ClaimOwner, Db, NewCall, NextCall, Recorded, ReportFilter, StoreError, PG_SCHEMA_VERSION,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn transcript() -> Transcript {
    let mut t = Transcript {
        model: "tiny.en".into(),
        segments: vec![
            Segment {
                speaker: Speaker::Agent,
                start_ms: 0,
                end_ms: 2_000,
                text: "Thank you for calling Acme, my name is Daniel.".into(),
                ..Default::default()
            },
            Segment {
                speaker: Speaker::Caller,
                start_ms: 2_500,
                end_ms: 4_000,
                text: "Hi, it's Priya.".into(),
                ..Default::default()
            },
        ],
        language: Some("en".into()),
        ..Default::default()
    };
    t.normalise();
    t
}

fn scorecard(hash: &str, pass: bool) -> Scorecard {
    let outcome = if pass { Outcome::Pass } else { Outcome::Fail };
    Scorecard {
        rubric_id: "inbound".into(),
        rubric_version: 1,
        rubric_hash: hash.into(),
        score: if pass { 100.0 } else { 0.0 },
        passed: pass,
        flagged: !pass,
        flag_reasons: if pass {
            vec![]
        } else {
            vec!["score 0 below 80".into()]
        },
        judged: true,
        results: vec![CriterionResult {
            criterion_id: "greeting".into(),
            name: "Greeting".into(),
            section: "Opening".into(),
            outcome,
            points: if pass { 10.0 } else { 0.0 },
            max_points: 10.0,
            critical: !pass,
            evidence: vec![Evidence {
                speaker: Speaker::Agent,
                start_ms: 0,
                end_ms: 2_000,
                quote: "Thank you for calling".into(),
            }],
            reason: "said it".into(),
        }],
    }
}

fn id(n: usize) -> String {
    format!("{n:064x}")
}

fn meta(agent: &str) -> CallMeta {
    CallMeta {
        agent: Some(agent.into()),
        started_at: Some("2024-05-02T09:14:00+01:00".into()),
        ..Default::default()
    }
}

fn new_call<'a>(id: &'a str, path: &'a Path, meta: &'a CallMeta) -> NewCall<'a> {
    NewCall {
        id,
        source_path: path,
        duration_ms: 61_000,
        channels: 2,
        sample_rate: 8_000,
        format: "wav/pcm_s16le",
        meta,
        warnings: &[],
    }
}

fn open(url: &str) -> Db {
    Db::open(Path::new(url)).unwrap()
}

fn other_owner(pid: u32) -> ClaimOwner {
    // Another machine's worker: judged by its lease alone, never by this host's processes.
    ClaimOwner {
        host: "worker-elsewhere".into(),
        pid,
        start_ticks: Some(1),
    }
}

#[test]
fn opening_creates_the_schema_once_even_when_many_open_at_once() {
    let db = callscore_pgtest::database("schema");
    let url = db.url().to_string();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || drop(open(&url)))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    match open(&url) {
        Db::Postgres(p) => assert_eq!(p.schema_version().unwrap(), PG_SCHEMA_VERSION),
        Db::Sqlite(_) => panic!("a postgres:// URL opened SQLite"),
    }
}

#[test]
fn reports_refuse_a_database_without_callscore_tables() {
    let db = callscore_pgtest::database("existing");
    let err = Db::open_existing(Path::new(db.url())).unwrap_err();
    assert!(matches!(err, StoreError::NoCallscoreTables { .. }), "{err}");
    drop(open(db.url()));
    assert!(Db::open_existing(Path::new(db.url())).is_ok());
}

#[test]
fn a_scored_call_round_trips_and_reports() {
    let db = callscore_pgtest::database("roundtrip");
    let mut store = open(db.url());
    let (a, b) = (id(1), id(2));
    let path = PathBuf::from("/recordings/rude.wav");
    let m = meta("Daniel");
    let sc = scorecard("h1", false);
    let recorded = store
        .record_scored_call(&new_call(&a, &path, &m), &transcript(), &sc)
        .unwrap();
    let Recorded::Stored(sid) = recorded else {
        panic!("{recorded:?}")
    };
    // The same rubric again stores nothing.
    assert_eq!(
        store
            .record_scored_call(&new_call(&a, &path, &m), &transcript(), &sc)
            .unwrap(),
        Recorded::AlreadyPresent(sid)
    );
    let path_b = PathBuf::from("/recordings/kind.wav");
    let mb = meta("daniel");
    store
        .record_scored_call(
            &new_call(&b, &path_b, &mb),
            &transcript(),
            &scorecard("h1", true),
        )
        .unwrap();

    let detail = store.call_detail(&a, None).unwrap();
    assert_eq!(detail.scorecard.unwrap().scorecard, sc);
    assert_eq!(detail.transcript.unwrap().segments, transcript().segments);
    assert_eq!(
        detail.call.started_at.as_deref(),
        Some("2024-05-02T08:14:00Z")
    );
    assert_eq!(detail.call.status, "scored");
    assert_eq!(store.find_call("rude").unwrap(), a);
    assert_eq!(store.find_call(&a).unwrap(), a);
    assert!(matches!(
        store.find_call("0000").unwrap_err(),
        StoreError::AmbiguousCall { count: 2, .. }
    ));

    let report = store.report(&ReportFilter::default()).unwrap();
    assert_eq!(report.rubric_id.as_deref(), Some("inbound"));
    assert_eq!(report.calls.len(), 2);
    // "Daniel" and "daniel" are one agent, as on SQLite.
    assert_eq!(report.agents.len(), 1);
    assert_eq!(report.agents[0].calls, 2);
    assert_eq!(report.criteria[0].pass, 1);
    assert_eq!(report.criteria[0].fail, 1);
    let flagged = store.flagged(&ReportFilter::default(), None).unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].critical_failures, vec!["greeting".to_string()]);
    let only = ReportFilter {
        agent: Some("DANIEL".into()),
        ..Default::default()
    };
    assert_eq!(store.report(&only).unwrap().calls.len(), 2);
}

#[test]
fn the_queue_hands_each_call_to_one_worker_and_scores_it_once() {
    let db = callscore_pgtest::database("queue");
    let mut store = open(db.url());
    let ids: Vec<String> = (0..40).map(id).collect();
    let paths: Vec<PathBuf> = ids
        .iter()
        .map(|i| PathBuf::from(format!("/shared/{}.wav", &i[56..])))
        .collect();
    let calls: Vec<(&str, &Path)> = ids
        .iter()
        .zip(&paths)
        .map(|(i, p)| (i.as_str(), p.as_path()))
        .collect();
    assert_eq!(store.register_many(&calls).unwrap(), 40);
    // Registering again queues nothing new.
    assert_eq!(store.register_many(&calls).unwrap(), 0);
    let url = db.url().to_string();
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut store = open(&url);
                let owner = other_owner(1000 + w);
                let mut mine = Vec::new();
                loop {
                    match store.claim_next(&owner, Duration::from_secs(60)).unwrap() {
                        NextCall::Claimed(call) => {
                            assert!(!call.has_transcript);
                            let m = meta("Daniel");
                            store
                                .record_scored_call(
                                    &new_call(&call.id, &call.source_path, &m),
                                    &transcript(),
                                    &scorecard("h1", true),
                                )
                                .unwrap();
                            mine.push(call.id);
                        }
                        NextCall::Wait => std::thread::sleep(Duration::from_millis(5)),
                        NextCall::Empty => return mine,
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, ids, "every call handed out exactly once");
    let counts = store.status_counts().unwrap();
    assert_eq!((counts.scored, counts.queued), (40, 0));
    let report = store.report(&ReportFilter::default()).unwrap();
    assert_eq!(report.calls.len(), 40);
}

#[test]
fn an_expired_lease_is_taken_over_and_a_renewed_one_is_not() {
    let db = callscore_pgtest::database("lease");
    let mut store = open(db.url());
    let (a, b) = (id(1), id(2));
    let path = PathBuf::from("/shared/a.wav");
    store.register(&a, &path).unwrap();
    store.register(&b, &path).unwrap();
    let (killed, renewing, rescuer) = (other_owner(1), other_owner(2), other_owner(3));
    let lease = Duration::from_millis(600);
    let NextCall::Claimed(first) = store.claim_next(&killed, lease).unwrap() else {
        panic!("nothing claimed")
    };
    let NextCall::Claimed(second) = store.claim_next(&renewing, lease).unwrap() else {
        panic!("nothing claimed")
    };
    assert_ne!(first.id, second.id);
    // Both held under live leases: nothing free, but work is pending.
    assert_eq!(store.claim_next(&rescuer, lease).unwrap(), NextCall::Wait);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(200));
        store.renew_claims(&renewing, 0).unwrap();
    }
    // The one that was not renewed has expired and goes to the rescuer; the renewed one stays.
    let NextCall::Claimed(taken) = store.claim_next(&rescuer, lease).unwrap() else {
        panic!("the expired lease was not taken over")
    };
    assert_eq!(taken.id, first.id);
    assert_eq!(store.claim_next(&rescuer, lease).unwrap(), NextCall::Wait);
    // The rescuer finishes; the killed owner, were it to come back, stores nothing new.
    let m = meta("Daniel");
    let sc = scorecard("h1", true);
    let stored = store
        .record_scored_call(&new_call(&taken.id, &path, &m), &transcript(), &sc)
        .unwrap();
    assert!(matches!(stored, Recorded::Stored(_)));
    let late = store
        .record_scored_call(&new_call(&first.id, &path, &m), &transcript(), &sc)
        .unwrap();
    assert!(matches!(late, Recorded::AlreadyPresent(_)));
    assert_eq!(store.call_record(&first.id).unwrap().attempts, 2);
    store.release_claim(&second.id, &renewing).unwrap();
    let NextCall::Claimed(released) = store.claim_next(&rescuer, lease).unwrap() else {
        panic!("a released call is free")
    };
    assert_eq!(released.id, second.id);
}

#[test]
fn transcribed_calls_are_scored_from_the_transcript_and_failures_requeue() {
    let db = callscore_pgtest::database("transcribed");
    let mut store = open(db.url());
    let (a, b) = (id(1), id(2));
    let path = PathBuf::from("/shared/a.wav");
    let m = meta("Daniel");
    store
        .record_transcribed_call(&new_call(&a, &path, &m), &transcript())
        .unwrap();
    let owner = other_owner(7);
    let lease = Duration::from_secs(30);
    let NextCall::Claimed(call) = store.claim_next(&owner, lease).unwrap() else {
        panic!("the transcribed call is queued")
    };
    assert!(call.has_transcript);
    let t = store.transcript(&call.id).unwrap().unwrap();
    assert_eq!(t.meta, m);
    assert_eq!(t.language.as_deref(), Some("en"));
    let sc = scorecard("h1", true);
    store
        .record_scorecards(&[(call.id.as_str(), &sc)], Some(&owner))
        .unwrap();
    assert_eq!(store.call_record(&a).unwrap().status, "scored");
    assert_eq!(store.claim_next(&owner, lease).unwrap(), NextCall::Empty);

    store.register(&b, &path).unwrap();
    let NextCall::Claimed(call) = store.claim_next(&owner, lease).unwrap() else {
        panic!("b is queued")
    };
    store
        .record_failure(&call.id, &path, "cannot decode", &owner)
        .unwrap();
    assert_eq!(store.claim_next(&owner, lease).unwrap(), NextCall::Empty);
    let failed = store.failed_calls(&ReportFilter::default()).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error, "cannot decode");
    // Registering a failed call again is a new try.
    assert!(store.register(&b, &path).unwrap());
    assert!(matches!(
        store.claim_next(&owner, lease).unwrap(),
        NextCall::Claimed(_)
    ));
}

#[test]
fn the_batch_claim_is_exclusive_across_connections() {
    let db = callscore_pgtest::database("claim");
    let mut one = open(db.url());
    let mut two = open(db.url());
    let a = id(1);
    let path = PathBuf::from("/shared/a.wav");
    let (me, other) = (ClaimOwner::current_process(), other_owner(9));
    assert_eq!(
        one.claim(&a, &path, "h1", &me, 0).unwrap(),
        Claim::Acquired {
            has_transcript: false
        }
    );
    assert!(matches!(
        two.claim(&a, &path, "h1", &other, 0).unwrap(),
        Claim::Busy { .. }
    ));
    let m = meta("Daniel");
    one.record_scored_call(
        &new_call(&a, &path, &m),
        &transcript(),
        &scorecard("h1", true),
    )
    .unwrap();
    assert_eq!(
        two.claim(&a, &path, "h1", &other, 0).unwrap(),
        Claim::AlreadyScored
    );
    // Search finds what the call said.
    let hits = one
        .search(&callscore_store::SearchQuery {
            text: "acme".into(),
            speaker: None,
            filter: ReportFilter::default(),
            limit: 10,
        })
        .unwrap();
    assert_eq!(hits.hits.len(), 1);
}

fn search(db: &Db, text: &str, speaker: Option<Speaker>) -> Vec<(String, u64)> {
    let results = db
        .search(&callscore_store::SearchQuery {
            text: text.into(),
            speaker,
            filter: ReportFilter::default(),
            limit: 50,
        })
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    results
        .hits
        .iter()
        .map(|h| (h.call_id[60..].to_string(), h.start_ms))
        .collect()
}

#[test]
fn search_finds_words_phrases_prefixes_and_near_and_follows_redaction() {
    let db = callscore_pgtest::database("search");
    let mut store = open(db.url());
    let path = PathBuf::from("/shared/a.wav");
    let m = meta("Daniel");
    let lines = [
        "I want to cancel my account today",
        "Could I speak to a manager about the refund",
        "The refund went to the wrong account, sorry",
    ];
    for (i, line) in lines.iter().enumerate() {
        let mut t = transcript();
        t.segments[1].text = (*line).into();
        let call_id = id(i + 1);
        store
            .record_scored_call(&new_call(&call_id, &path, &m), &t, &scorecard("h1", true))
            .unwrap();
    }
    let calls =
        |hits: Vec<(String, u64)>| -> Vec<String> { hits.into_iter().map(|h| h.0).collect() };
    assert_eq!(
        calls(search(&store, "\"cancel my account\"", None)),
        ["0001"]
    );
    assert_eq!(calls(search(&store, "cancel account", None)), ["0001"]);
    assert_eq!(calls(search(&store, "\"account cancel\"", None)).len(), 0);
    assert_eq!(
        calls(search(&store, "ACCOUNT", Some(Speaker::Caller))),
        ["0001", "0003"]
    );
    assert!(search(&store, "account", Some(Speaker::Agent)).is_empty());
    assert_eq!(calls(search(&store, "refun*", None)), ["0002", "0003"]);
    assert_eq!(calls(search(&store, "refund NOT sorry", None)), ["0002"]);
    assert_eq!(
        calls(search(&store, "cancel OR manager", None)),
        ["0001", "0002"]
    );
    assert_eq!(
        calls(search(&store, "manager NEAR/3 refund", None)),
        ["0002"]
    );
    assert!(search(&store, "speak NEAR/1 refund", None).is_empty());
    assert_eq!(
        calls(search(&store, "(cancel OR wrong) account", None)),
        ["0001", "0003"]
    );
    let hit = &store
        .search(&callscore_store::SearchQuery {
            text: "manager".into(),
            speaker: None,
            filter: ReportFilter::default(),
            limit: 5,
        })
        .unwrap()
        .hits[0];
    assert!(hit.marked.contains("«manager»"), "{}", hit.marked);
    assert!(matches!(
        store
            .search(&callscore_store::SearchQuery {
                text: "AND".into(),
                limit: 5,
                ..Default::default()
            })
            .unwrap_err(),
        StoreError::BadSearch { .. }
    ));
    // A redacted word leaves the index with the text.
    let mut t = store.transcript(&id(2)).unwrap().unwrap();
    t.segments[1].text = "Could I speak to a [name] about the refund".into();
    store.update_redactions(&id(2), &t).unwrap();
    assert!(search(&store, "manager", None).is_empty());
    assert_eq!(calls(search(&store, "refund", None)), ["0002", "0003"]);
}

#[test]
fn an_older_schema_is_upgraded_and_its_transcripts_become_searchable() {
    let db = callscore_pgtest::database("upgrade");
    let v1 = callscore_store::PgStore::open_at_schema_version(db.url(), 1).unwrap();
    assert_eq!(v1.schema_version().unwrap(), 1);
    // A call stored by a build that knew only version 1 (no search rows).
    v1.client()
        .batch_execute(
            "INSERT INTO calls (id, source_path, file_name, status) VALUES ('c1', '/r/a.wav', 'a.wav', 'scored');
             INSERT INTO transcripts (call_id, model, duration_ms, segments_json)
             VALUES ('c1', 'tiny.en', 4000,
                     '[{\"speaker\":\"caller\",\"start_ms\":1000,\"end_ms\":3000,\"text\":\"I want a refund\"}]');",
        )
        .unwrap();
    drop(v1);
    let store = open(db.url());
    match &store {
        Db::Postgres(p) => assert_eq!(p.schema_version().unwrap(), PG_SCHEMA_VERSION),
        Db::Sqlite(_) => unreachable!(),
    }
    let hits = store
        .search(&callscore_store::SearchQuery {
            text: "refund".into(),
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.hits.len(), 1);
    assert_eq!(
        (hits.hits[0].speaker, hits.hits[0].start_ms),
        (Speaker::Caller, 1000)
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let db = callscore_pgtest::database("too_new");
    let store = callscore_store::PgStore::open(db.url()).unwrap();
    store
        .client()
        .batch_execute("INSERT INTO callscore_schema_migrations (version) VALUES (99)")
        .unwrap();
    drop(store);
    let err = Db::open(Path::new(db.url())).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
}

/// Redacting a stored transcript further scrubs what earlier scorecards quoted, on both
/// backends alike.
#[test]
fn redacting_scrubs_earlier_evidence_on_both_backends() {
    let pg = callscore_pgtest::database("scrub");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("calls.db");
    for location in [pg.url().to_string(), sqlite.display().to_string()] {
        let mut db = open(&location);
        let mut t = transcript();
        t.segments[1].text = "Hi, it's Priya, priya.raman@example.com.".into();
        let mut sc = scorecard("h-scrub", false);
        sc.results[0].evidence[0].quote = "it's Priya, priya.raman@example.com.".into();
        sc.results[0].reason = "caller gave priya.raman@example.com".into();
        sc.flag_reasons = vec!["mail priya.raman@example.com".into()];
        let (m, path) = (meta("Daniel"), PathBuf::from("/recordings/scrub.wav"));
        db.record_scored_call(&new_call(&id(77), &path, &m), &t, &sc)
            .unwrap();
        t.segments[1].text = "Hi, it's Priya, [email address].".into();
        db.update_redactions(&id(77), &t).unwrap();
        let detail = db.call_detail(&id(77), None).unwrap();
        let stored = detail.scorecard.unwrap().scorecard;
        assert_eq!(
            stored.results[0].evidence[0].quote, "it's Priya, [redacted].",
            "{location}"
        );
        assert_eq!(stored.results[0].reason, "caller gave [redacted]");
        assert_eq!(stored.flag_reasons, ["mail [redacted]"]);
        assert_eq!(
            detail.transcript.unwrap().segments[1].text,
            "Hi, it's Priya, [email address]."
        );
    }
}

//! The review pages' queries on both backends: the same calls written through [`Db`] into a
//! SQLite file and into a PostgreSQL database (callscore-pgtest) must list, filter, sort, page
//! and sum up the same — same rows, same order, same ties, same NULL placement — and each
//! answer is also checked against what the fixture says it must be.

use callscore_core::{
    CallMeta, CriterionResult, Evidence, Outcome, Scorecard, Segment, Speaker, Transcript,
};
use callscore_store::browse::{CallPage, CallQuery, DisagreementFilter, SortKey, Verdict};
use callscore_store::{Db, NewCall, NewReview};
use std::path::{Path, PathBuf};

/// Agents as recorders spell them: "maria" and "Maria" are one agent, one call has none.
const AGENTS: [Option<&str>; 7] = [
    Some("Daniel"),
    Some("Maria"),
    Some("gary"),
    Some("Priya"),
    Some("maria"),
    Some("Tom"),
    None,
];

const CALLS: usize = 42;

fn id(n: usize) -> String {
    format!("{n:064x}")
}

fn result(id: &str, outcome: Outcome, weight: f64, critical: bool, at_ms: u64) -> CriterionResult {
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
        max_points: if outcome == Outcome::NotApplicable {
            0.0
        } else {
            weight
        },
        critical,
        evidence: vec![Evidence {
            speaker: Speaker::Agent,
            start_ms: at_ms,
            end_ms: at_ms + 1_000,
            quote: "hello".into(),
        }],
        reason: String::new(),
    }
}

/// The `i`th call: scores 0, 40, 60 or 100 (so many ties), a critical failure in every
/// seventh, a not-applicable "hold" in every fourth; times shared by pairs of calls (ties on
/// time), one call in eleven without a start time.
fn call(i: usize) -> (CallMeta, Scorecard, u64) {
    let started_at = (i % 11 != 5).then(|| {
        let day = (i / 2) % 9;
        format!("2024-03-{:02}T{:02}:00:00Z", 4 + day, 8 + (i / 2) % 5)
    });
    let meta = CallMeta {
        agent: AGENTS[i % AGENTS.len()].map(str::to_string),
        started_at,
        ..Default::default()
    };
    let pick = |yes: bool| if yes { Outcome::Pass } else { Outcome::Fail };
    let hold = if i.is_multiple_of(4) {
        Outcome::NotApplicable
    } else {
        pick(!i.is_multiple_of(3))
    };
    let results = vec![
        result("greeting", pick(i % 3 != 1), 10.0, false, 1_000),
        result("questions", pick(i % 5 >= 2), 15.0, false, 2_000),
        result("hold", hold, 5.0, false, 3_000),
        result("courtesy", pick(i % 7 != 3), 0.0, true, 4_000 + i as u64),
    ];
    let possible: f64 = results.iter().map(|r| r.max_points).sum();
    let earned: f64 = results.iter().map(|r| r.points).sum();
    let score = ((earned / possible * 100.0) * 100.0).round() / 100.0;
    let critical = results
        .iter()
        .any(|r| r.critical && r.outcome == Outcome::Fail);
    let passed = score >= 80.0 && !critical;
    let scorecard = Scorecard {
        rubric_id: "inbound".into(),
        rubric_version: 2,
        rubric_hash: "h2".into(),
        score,
        passed,
        flagged: !passed,
        flag_reasons: vec![],
        judged: true,
        results,
    };
    // Durations tie in threes.
    (meta, scorecard, 20_000 + (i as u64 / 3) * 7_000)
}

fn fill(db: &mut Db) {
    let transcript = Transcript {
        duration_ms: 60_000,
        model: "tiny.en".into(),
        segments: vec![Segment {
            speaker: Speaker::Agent,
            start_ms: 0,
            end_ms: 2_000,
            text: "Thank you for calling".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    for i in 0..CALLS {
        let (meta, scorecard, duration_ms) = call(i);
        let path = PathBuf::from(format!("/recordings/{}-call-{i:03}.wav", 9 - i % 10));
        let call = NewCall {
            id: &id(i),
            source_path: &path,
            duration_ms,
            channels: 2,
            sample_rate: 8_000,
            format: "wav",
            meta: &meta,
            warnings: &[],
        };
        db.record_scored_call(&call, &transcript, &scorecard)
            .unwrap();
    }
}

/// The same database on both backends: SQLite first.
struct Both {
    _dir: tempfile::TempDir,
    _pg: callscore_pgtest::TestDb,
    dbs: [Db; 2],
}

fn both(test: &str) -> Both {
    let dir = tempfile::tempdir().unwrap();
    let pg = callscore_pgtest::database(test);
    let mut sqlite = Db::open(&dir.path().join("calls.db")).unwrap();
    let mut postgres = Db::open(Path::new(pg.url())).unwrap();
    assert!(matches!(postgres, Db::Postgres(_)));
    fill(&mut sqlite);
    fill(&mut postgres);
    // When a database first saw a call is its own clock's reading; calls without a start time
    // are listed at that time, so it is pinned to one value on both.
    let pin = "UPDATE calls SET created_at = '2024-04-01T00:00:00Z'";
    for db in [&sqlite, &postgres] {
        match db {
            Db::Sqlite(s) => {
                s.connection().execute(pin, []).unwrap();
            }
            Db::Postgres(p) => {
                p.client().execute(pin, &[]).unwrap();
            }
        }
    }
    Both {
        _dir: dir,
        _pg: pg,
        dbs: [sqlite, postgres],
    }
}

impl Both {
    /// `ask` of both databases; asserts the answers are equal and returns SQLite's.
    fn same<T: PartialEq + std::fmt::Debug>(&self, what: &str, ask: impl Fn(&Db) -> T) -> T {
        let [sqlite, postgres] = &self.dbs;
        let (a, b) = (ask(sqlite), ask(postgres));
        assert_eq!(a, b, "{what}: SQLite (left) and PostgreSQL (right) differ");
        a
    }
}

fn page(db: &Db, q: &CallQuery) -> CallPage {
    db.list_calls(q).unwrap()
}

fn ids(db: &Db, q: &CallQuery) -> Vec<String> {
    db.list_calls(q)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.call_id)
        .collect()
}

#[test]
fn every_sort_order_and_page_is_the_same_on_both() {
    let both = both("browse_sorts");
    for sort in SortKey::ALL {
        for descending in [false, true] {
            let whole = CallQuery {
                sort,
                descending,
                limit: 500,
                ..Default::default()
            };
            let all = both.same(&format!("{sort:?} desc={descending}"), |db| {
                page(db, &whole)
            });
            assert_eq!(
                (all.rubric_id.as_deref(), all.total, all.rows.len()),
                (Some("inbound"), CALLS as u64, CALLS)
            );
            // Pages of 5 put together are the whole list: no call twice, none left out,
            // whatever ties the sort key has.
            let mut paged = Vec::new();
            for offset in (0..CALLS + 5).step_by(5) {
                let q = CallQuery {
                    offset: offset as u64,
                    limit: 5,
                    ..whole.clone()
                };
                paged.extend(both.same(&format!("{sort:?} at {offset}"), |db| ids(db, &q)));
            }
            assert_eq!(
                paged,
                ids(&both.dbs[0], &whole),
                "{sort:?} desc={descending}"
            );
        }
    }

    let db = &both.dbs[0];
    // Time: a call without a start time is listed at when it was first seen (April, after
    // every call's start in March).
    let newest = db.list_calls(&CallQuery::default()).unwrap().rows;
    assert!(!newest[0].started_at_known);
    // Ties on time are broken by id, in the sort's direction.
    let times: Vec<_> = newest.iter().map(|r| (&r.call_time, &r.call_id)).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");
    // Agent: NULL first ascending (as SQLite orders NULL), "gary" among the capitals.
    let by_agent = db
        .list_calls(&CallQuery {
            sort: SortKey::Agent,
            descending: false,
            limit: 500,
            ..Default::default()
        })
        .unwrap()
        .rows;
    assert_eq!(by_agent[0].agent, None);
    let agents: Vec<String> = by_agent
        .iter()
        .filter_map(|r| r.agent.as_deref().map(str::to_lowercase))
        .collect();
    assert!(agents.windows(2).all(|w| w[0] <= w[1]), "{agents:?}");
    assert!(agents.contains(&"gary".to_string()));
    // Worst: critical failures first (the courtesy fails), each part lowest score first.
    let worst = db
        .list_calls(&CallQuery {
            sort: SortKey::Worst,
            limit: 500,
            ..Default::default()
        })
        .unwrap()
        .rows;
    let critical = worst
        .iter()
        .take_while(|r| !r.critical_failures.is_empty())
        .count();
    assert_eq!(critical, (0..CALLS).filter(|i| i % 7 == 3).count());
    assert!(worst[..critical]
        .windows(2)
        .all(|w| w[0].score <= w[1].score));
    assert!(worst[critical..]
        .windows(2)
        .all(|w| w[0].score <= w[1].score));
    assert!(worst[critical..]
        .iter()
        .all(|r| r.critical_failures.is_empty()));
    let first = (0..CALLS)
        .filter(|i| i % 7 == 3)
        .min_by(|&a, &b| {
            call(a)
                .1
                .score
                .total_cmp(&call(b).1.score)
                .then(id(a).cmp(&id(b)))
        })
        .unwrap();
    assert_eq!(worst[0].call_id, id(first));
    assert_eq!(worst[0].critical_failed_ms, Some(4_000 + first as u64));
}

#[test]
fn filters_are_the_same_on_both() {
    let both = both("browse_filters");
    let cases: Vec<(&str, CallQuery, usize)> = vec![
        // "maria" matches "Maria" and "maria", without regard to case.
        ("agent", cases_query(|q| q.agent = Some("MARIA".into())), 12),
        (
            "agent gary",
            cases_query(|q| q.agent = Some("Gary".into())),
            6,
        ),
        (
            "days",
            cases_query(|q| {
                q.from = Some("2024-03-05".into());
                q.to = Some("2024-03-06".into());
            }),
            0,
        ),
        (
            "a time bound",
            cases_query(|q| q.from = Some("2024-03-12T09:00:00+01:00".into())),
            0,
        ),
        ("min score", cases_query(|q| q.min_score = Some(60.0)), 0),
        (
            "score range",
            cases_query(|q| {
                q.min_score = Some(30.0);
                q.max_score = Some(70.0);
            }),
            0,
        ),
        ("passed", cases_query(|q| q.verdict = Verdict::Passed), 0),
        ("failed", cases_query(|q| q.verdict = Verdict::Failed), 0),
        (
            "flagged by agent, by score",
            cases_query(|q| {
                q.verdict = Verdict::Flagged;
                q.agent = Some("daniel".into());
                q.sort = SortKey::Score;
            }),
            0,
        ),
        (
            "another rubric",
            cases_query(|q| q.rubric_id = Some("outbound".into())),
            0,
        ),
    ];
    for (what, query, expected) in cases {
        let CallPage {
            rubric_id: rubric,
            total,
            rows,
            ..
        } = both.same(what, |db| page(db, &query));
        assert_eq!(rows.len() as u64, total, "{what}");
        // 0: only that both agree (checked above) and that the filter filtered something.
        if expected > 0 {
            assert_eq!(total, expected as u64, "{what}");
        } else if rubric.is_some() {
            assert!(total < CALLS as u64, "{what}: nothing filtered out");
        }
    }
    let listed = |q: &CallQuery| both.dbs[0].list_calls(q).unwrap().rows;
    let days = listed(&cases_query(|q| {
        q.from = Some("2024-03-05".into());
        q.to = Some("2024-03-06".into());
    }));
    assert!(!days.is_empty());
    assert!(days
        .iter()
        .all(|r| r.call_time.as_str() >= "2024-03-05" && r.call_time.as_str() < "2024-03-07"));
    let ranged = listed(&cases_query(|q| {
        q.min_score = Some(30.0);
        q.max_score = Some(70.0);
    }));
    assert!(!ranged.is_empty() && ranged.iter().all(|r| (30.0..=70.0).contains(&r.score)));
    let passed = listed(&cases_query(|q| q.verdict = Verdict::Passed)).len();
    let failed = listed(&cases_query(|q| q.verdict = Verdict::Failed)).len();
    assert_eq!(passed + failed, CALLS);
    let err = both.dbs[1]
        .list_calls(&cases_query(|q| q.to = Some("next week".into())))
        .unwrap_err();
    assert!(err.to_string().contains("next week"), "{err}");
}

fn cases_query(f: impl Fn(&mut CallQuery)) -> CallQuery {
    let mut q = CallQuery {
        limit: 500,
        ..Default::default()
    };
    f(&mut q);
    q
}

#[test]
fn agent_pages_are_the_same_on_both() {
    let both = both("browse_agents");
    let names = both.same("agent names", |db| db.agent_names().unwrap());
    // One spelling per agent (the byte-smallest: "Maria" before "maria"), case-blind order.
    assert_eq!(names, ["Daniel", "gary", "Maria", "Priya", "Tom"]);

    let summaries = both.same("summaries", |db| db.agent_summaries(None, None).unwrap());
    assert_eq!(summaries.len(), 6, "five agents and the calls without one");
    assert_eq!(summaries.last().unwrap().agent, None, "no agent comes last");
    assert_eq!(summaries.iter().map(|a| a.calls).sum::<u64>(), CALLS as u64);
    let maria = both.same("one agent", |db| {
        db.agent_summaries(None, Some("MARIA")).unwrap()
    });
    assert_eq!(
        (maria.len(), maria[0].agent.as_deref(), maria[0].calls),
        (1, Some("Maria"), 12)
    );
    assert_eq!(
        maria[0].audio_ms,
        (0..CALLS)
            .filter(|i| i % 7 == 1 || i % 7 == 4)
            .map(|i| call(i).2)
            .sum::<u64>()
    );

    let trend = both.same("trend", |db| db.agent_trend("maria", None, 365).unwrap());
    assert!(trend.windows(2).all(|w| w[0].day < w[1].day));
    assert_eq!(trend.iter().map(|p| p.calls).sum::<u64>(), 12);
    let last3 = both.same("last 3 days", |db| {
        db.agent_trend("Maria", None, 3).unwrap()
    });
    assert_eq!((last3.len(), last3.last()), (3, trend.last()));

    let criteria = both.same("criteria", |db| db.agent_criteria("maria", None).unwrap());
    assert_eq!(
        criteria
            .iter()
            .map(|c| c.criterion_id.as_str())
            .collect::<Vec<_>>(),
        ["greeting", "questions", "hold", "courtesy"]
    );
    assert!(criteria.iter().all(|c| c.pass + c.fail + c.na == 12));
    assert!(criteria[3].critical && !criteria[0].critical);
    assert!(criteria[2].na > 0 && criteria[0].na == 0);

    assert!(both
        .same("an unknown agent", |db| db
            .agent_trend("nobody", None, 10)
            .unwrap())
        .is_empty());
}

#[test]
fn reviews_overrides_and_reviewed_scores_are_the_same_on_both() {
    let both = both("browse_reviews");
    // The worst call, and one whose "hold" the machine found not applicable.
    let worst = both.same("worst", |db| {
        db.list_calls(&CallQuery {
            sort: SortKey::Worst,
            ..Default::default()
        })
        .unwrap()
        .rows[0]
            .call_id
            .clone()
    });
    let held = id(8);
    for db in &both.dbs {
        let sid = |call: &str| db.call_detail(call, None).unwrap().scorecard.unwrap().id;
        let review = |call: &str, reviewer: &str, criterion: Option<&str>, outcome, listened| {
            db.add_review(&NewReview {
                call_id: call.to_string(),
                scorecard_id: Some(sid(call)),
                reviewer: reviewer.into(),
                criterion_id: criterion.map(str::to_string),
                override_outcome: outcome,
                note: "heard it".into(),
                listened,
            })
            .unwrap();
        };
        review(&worst, "tom", None, None, true);
        review(&worst, "Maria", None, None, true);
        review(&worst, "tom", None, None, true);
        review(
            &worst,
            "Maria",
            Some("courtesy"),
            Some(Outcome::Pass),
            false,
        );
        // A later override of the same criterion replaces the earlier one.
        review(&worst, "tom", Some("courtesy"), Some(Outcome::Fail), false);
        review(&worst, "tom", Some("courtesy"), Some(Outcome::Pass), false);
        review(&held, "Maria", Some("hold"), Some(Outcome::Fail), true);
    }
    let row = both.same("the reviewed row", |db| {
        let rows = db
            .list_calls(&CallQuery {
                sort: SortKey::Worst,
                ..Default::default()
            })
            .unwrap()
            .rows;
        let row = rows.into_iter().find(|r| r.call_id == worst).unwrap();
        (row.listened_by, row.overridden_criteria)
    });
    // Byte order: capitals first, as SQLite sorts.
    assert_eq!(row, (vec!["Maria".to_string(), "tom".to_string()], 1));

    let unheard = both.same("not listened by Maria", |db| {
        ids(
            db,
            &cases_query(|q| q.not_listened_by = Some("Maria".into())),
        )
    });
    assert_eq!(unheard.len(), CALLS - 2);
    assert!(!unheard.contains(&worst) && !unheard.contains(&held));

    let sid = both.same("scorecard id", |db| {
        db.call_detail(&worst, None).unwrap().scorecard.unwrap().id
    });
    let overrides = both.same("overrides", |db| {
        db.overrides_for_scorecard(sid)
            .unwrap()
            .into_iter()
            .map(|mut o| {
                // When each database stored it: its own clock.
                o.created_at = String::new();
                o
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(overrides.len(), 1);
    assert_eq!(
        (overrides[0].outcome, overrides[0].reviewer.as_str()),
        (Outcome::Pass, "tom")
    );
    let reviewed = both.same("reviewed score", |db| db.reviewed_score(sid).unwrap());
    let reviewed = reviewed.unwrap();
    assert!(!reviewed.critical_failure && reviewed.changed_criteria == 1);

    // hold: n/a → fail takes its weight (5) from another scorecard of the same rubric.
    let held_sid = both.same("held id", |db| {
        db.call_detail(&held, None).unwrap().scorecard.unwrap().id
    });
    let all = both.same("reviewed scores", |db| db.reviewed_scores(None).unwrap());
    assert_eq!(all.len(), 2);
    let h = &all[&held_sid];
    let (_, card, _) = call(8);
    let earned: f64 = card.results.iter().map(|r| r.points).sum();
    let possible: f64 = card.results.iter().map(|r| r.max_points).sum::<f64>() + 5.0;
    assert_eq!(
        h.reviewed_score,
        ((earned / possible * 100.0) * 100.0).round() / 100.0
    );
    assert!(h.reviewed_score < h.machine_score);
    assert!(both
        .same("another rubric", |db| db
            .reviewed_scores(Some("outbound"))
            .unwrap())
        .is_empty());

    let d = both.same("disagreements", |db| {
        db.disagreements(&DisagreementFilter::default()).unwrap()
    });
    assert_eq!(d.len(), 4, "{d:?}");
    assert!(d[..2].iter().all(|x| x.overridden == 1));
    assert!(both.same("call exists", |db| db.call_exists(&worst).unwrap()));
    assert!(!both.same("no such call", |db| db.call_exists("abc").unwrap()));
}

#[test]
fn an_empty_database_lists_nothing_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let pg = callscore_pgtest::database("browse_empty");
    for location in [dir.path().join("empty.db"), PathBuf::from(pg.url())] {
        let db = Db::open(&location).unwrap();
        db.ensure_browse_indexes().unwrap();
        let page = db.list_calls(&CallQuery::default()).unwrap();
        assert_eq!((page.rubric_id, page.total, page.rows.len()), (None, 0, 0));
        assert!(db.agent_names().unwrap().is_empty());
        assert!(db.agent_summaries(None, None).unwrap().is_empty());
        assert!(db.agent_trend("x", None, 10).unwrap().is_empty());
        assert!(db.agent_criteria("x", None).unwrap().is_empty());
        assert!(db.overrides_for_scorecard(1).unwrap().is_empty());
        assert_eq!(db.reviewed_score(1).unwrap(), None);
        assert!(!db.call_exists("abc").unwrap());
    }
}

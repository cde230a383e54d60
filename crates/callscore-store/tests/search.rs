//! Search queries as analysts (and anyone reaching the review pages) type them: whatever the
//! text, the search either runs or is refused with `BadSearch` — never another SQL error.

use callscore_core::{CallMeta, Scorecard, Segment, Speaker, Transcript};
use callscore_store::{NewCall, SearchQuery, Store, StoreError};
use proptest::prelude::*;
use std::path::Path;

fn store() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let t = Transcript {
        duration_ms: 10_000,
        segments: vec![Segment {
            speaker: Speaker::Caller,
            start_ms: 0,
            end_ms: 4_000,
            text: "I want to cancel my account, or speak to a manager about a refund.".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let sc = Scorecard {
        rubric_id: "r".into(),
        rubric_version: 1,
        rubric_hash: "h".into(),
        score: 0.0,
        passed: false,
        flagged: true,
        flag_reasons: vec![],
        judged: true,
        results: vec![],
    };
    store
        .record_scored_call(
            &NewCall {
                id: &"ab".repeat(32),
                source_path: Path::new("/r/a.wav"),
                duration_ms: 10_000,
                channels: 2,
                sample_rate: 8_000,
                format: "wav",
                meta: &CallMeta::default(),
                warnings: &[],
            },
            &t,
            &sc,
        )
        .unwrap();
    store
}

fn search(store: &Store, text: &str) -> Result<usize, StoreError> {
    store
        .search(&SearchQuery {
            text: text.into(),
            limit: 10,
            ..Default::default()
        })
        .map(|r| r.hits.len())
}

/// Pieces that mean something to FTS5 or to the translation, mixed with words and noise.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("NOT".to_string()),
        Just("NEAR".to_string()),
        Just("NEAR/3".to_string()),
        Just("NEAR/".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"".to_string()),
        Just("*".to_string()),
        Just("^".to_string()),
        Just(":".to_string()),
        Just("-".to_string()),
        Just("+".to_string()),
        Just("cancel".to_string()),
        Just("refund".to_string()),
        Just("manag*".to_string()),
        Just("my account".to_string()),
        "[a-z]{1,6}",
        "\\PC{1,4}",
    ]
}

proptest! {
    #[test]
    fn any_query_runs_or_is_refused_as_a_bad_search(pieces in proptest::collection::vec(piece(), 0..8)) {
        let store = store();
        let text = pieces.join(" ");
        match search(&store, &text) {
            Ok(n) => prop_assert!(n <= 1),
            Err(StoreError::BadSearch { .. }) => {}
            Err(other) => prop_assert!(false, "{text:?}: {other}"),
        }
    }
}

#[test]
fn the_analysts_queries_find_what_they_mean() {
    let store = store();
    for (q, hits) in [
        ("\"cancel my account\"", 1),
        ("\"my cancel account\"", 0),
        ("refund NEAR/5 manager", 1),
        ("refund NEAR/1 cancel", 0),
        ("manag*", 1),
        ("cancel NOT refund", 0),
        ("(cancel OR sorry) AND refund", 1),
        ("CANCEL", 1),
    ] {
        assert_eq!(search(&store, q).unwrap(), hits, "{q}");
    }
}

//! What an analyst types into `callscore search` or the review pages' search box: translated
//! to FTS5 and run against a small real database. Any text either searches or is refused with
//! `BadSearch`; never a panic or another SQL error (the translation must always be valid FTS5
//! or a clear refusal).
#![no_main]
use callscore_core::{CallMeta, Scorecard, Segment, Speaker, Transcript};
use callscore_store::{NewCall, SearchQuery, Store, StoreError};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::path::Path;

thread_local! {
    static STORE: RefCell<Store> = RefCell::new(store());
}

fn store() -> Store {
    let mut store = Store::open_in_memory().expect("an in-memory database");
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
        .expect("a call is stored");
    store
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    STORE.with(|store| {
        let query = SearchQuery {
            text: text.to_string(),
            limit: 10,
            ..Default::default()
        };
        match store.borrow().search(&query) {
            Ok(results) => assert!(results.hits.len() <= 10),
            Err(StoreError::BadSearch { .. }) => {}
            Err(other) => panic!("{text:?}: {other}"),
        }
    });
});

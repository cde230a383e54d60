//! Store speed: calls stored per second (one call = call row, transcript, scorecard and its
//! results, in one WAL transaction on disk), and the report, flagged-queue and lookup queries on
//! a database of 100,000 scored calls. Run with `cargo bench -p callscore-benches --bench store`.

use callscore_core::{
    CallMeta, CriterionResult, Evidence, Outcome, Scorecard, Segment, Speaker, Transcript,
};
use callscore_store::{NewCall, ReportFilter, Store};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn main() {
    divan::main();
}

const CRITERIA: [(&str, &str, f64); 11] = [
    ("greeting", "opening", 10.0),
    ("agent_name", "opening", 10.0),
    ("caller_name", "discovery", 15.0),
    ("questions", "discovery", 15.0),
    ("empathy", "conduct", 10.0),
    ("courtesy", "conduct", 0.0),
    ("further_help", "closing", 10.0),
    ("closing", "closing", 10.0),
    ("dead_air", "flow", 10.0),
    ("talk_ratio", "flow", 10.0),
    ("overtalk", "flow", 0.0),
];

const AGENTS: [&str; 20] = [
    "Sarah", "Tom", "Gary", "James", "Emma", "Ben", "Rachel", "Daniel", "Chloe", "Priya", "Omar",
    "Lena", "Marco", "Aisha", "Jack", "Mia", "Noah", "Zara", "Leo", "Ivy",
];

/// A 5-minute call: 60 alternating segments.
fn transcript(i: u64) -> Transcript {
    let segments = (0..60u64)
        .map(|k| Segment {
            speaker: if k % 2 == 0 { Speaker::Agent } else { Speaker::Caller },
            start_ms: k * 5_000,
            end_ms: k * 5_000 + 4_200,
            text: format!("Line {k} of call {i}: I can look into the bill for you, could you read me the meter?"),
            words: vec![],
            ..Default::default()
        })
        .collect();
    Transcript {
        duration_ms: 300_000,
        model: "tiny.en".into(),
        segments,
        meta: CallMeta::default(),
        ..Default::default()
    }
}

/// A scorecard whose outcomes vary deterministically with `i`.
fn scorecard(i: u64, hash: &str) -> Scorecard {
    let results: Vec<CriterionResult> = CRITERIA
        .iter()
        .enumerate()
        .map(|(k, &(id, section, weight))| {
            let outcome = if (i * 7 + k as u64 * 13) % 10 < 2 {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
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
                critical: id == "courtesy",
                evidence: vec![Evidence {
                    speaker: Speaker::Agent,
                    start_ms: k as u64 * 10_000,
                    end_ms: k as u64 * 10_000 + 3_000,
                    quote: "Thank you for calling Riverside Energy".into(),
                }],
                reason: format!("{id}: decided on the evidence"),
            }
        })
        .collect();
    let max: f64 = results.iter().map(|r| r.max_points).sum();
    let got: f64 = results.iter().map(|r| r.points).sum();
    let score = 100.0 * got / max;
    let critical = results
        .iter()
        .any(|r| r.critical && r.outcome == Outcome::Fail);
    let passed = score >= 80.0 && !critical;
    Scorecard {
        rubric_id: "inbound-service".into(),
        rubric_version: 1,
        rubric_hash: hash.into(),
        score,
        passed,
        flagged: !passed,
        flag_reasons: vec![],
        judged: true,
        results,
    }
}

fn meta(i: u64) -> CallMeta {
    CallMeta {
        agent: Some(AGENTS[(i % AGENTS.len() as u64) as usize].into()),
        caller_name: Some("Priya Raman".into()),
        // One call every 5 minutes from 2024-01-01: 100,000 calls span about a year.
        started_at: Some(format!(
            "2024-{:02}-{:02}T{:02}:{:02}:00Z",
            1 + (i / 8_640) % 12,
            1 + (i / 288) % 28,
            (i / 12) % 24,
            (i % 12) * 5
        )),
        ..Default::default()
    }
}

fn store_call(store: &mut Store, i: u64, t: &Transcript, hash: &str) {
    let id = format!("{i:064x}");
    let m = meta(i);
    let path = PathBuf::from(format!("/recordings/2024/call-{i:06}.wav"));
    let call = NewCall {
        id: &id,
        source_path: &path,
        duration_ms: 300_000,
        channels: 2,
        sample_rate: 8_000,
        format: "wav/mulaw",
        meta: &m,
        warnings: &[],
    };
    store
        .record_scored_call(&call, t, &scorecard(i, hash))
        .unwrap();
}

/// Calls stored per second, each in its own transaction, on a file database in WAL mode.
#[divan::bench(sample_count = 20, sample_size = 50)]
fn store_scored_call(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    let t = transcript(0);
    let mut i = 0u64;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        i += 1;
        store_call(&mut store, i, &t, "h");
    });
}

const CALLS: u64 = 100_000;

/// A database of 100,000 scored calls, built once per bench run.
fn big_db() -> &'static Path {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("100k.db");
        let mut store = Store::open(&path).unwrap();
        // Short transcripts: the queries below never read them, and a smaller file builds faster.
        let t = Transcript {
            duration_ms: 300_000,
            model: "tiny.en".into(),
            segments: vec![],
            meta: CallMeta::default(),
            ..Default::default()
        };
        for i in 0..CALLS {
            store_call(&mut store, i, &t, "h");
        }
        (dir, path)
    })
    .1
}

#[divan::bench(sample_count = 10)]
fn report_100k_calls(bencher: Bencher<'_, '_>) {
    let store = Store::open(big_db()).unwrap();
    bencher.bench_local(|| black_box(store.report(&ReportFilter::default()).unwrap()));
}

#[divan::bench(sample_count = 10)]
fn report_one_agent_one_month_of_100k(bencher: Bencher<'_, '_>) {
    let store = Store::open(big_db()).unwrap();
    let filter = ReportFilter {
        agent: Some("priya".into()),
        from: Some("2024-03-01".into()),
        to: Some("2024-03-31".into()),
        ..Default::default()
    };
    bencher.bench_local(|| black_box(store.report(&filter).unwrap()));
}

#[divan::bench(sample_count = 10)]
fn flagged_queue_first_50_of_100k(bencher: Bencher<'_, '_>) {
    let store = Store::open(big_db()).unwrap();
    bencher.bench_local(|| black_box(store.flagged(&ReportFilter::default(), Some(50)).unwrap()));
}

#[divan::bench(sample_count = 50)]
fn show_call_by_file_stem_in_100k(bencher: Bencher<'_, '_>) {
    let store = Store::open(big_db()).unwrap();
    bencher.bench_local(|| {
        let id = store.find_call("call-054321").unwrap();
        black_box(store.call_detail(&id, None).unwrap())
    });
}

/// What agents and callers say, for a search index with a realistic spread of words: every
/// call draws its lines from these by its number.
const LINES: [&str; 16] = [
    "Thank you for calling Riverside Energy, my name is {agent}, how can I help you today?",
    "Hi, I'm calling about my latest bill, it is much higher than usual.",
    "I can look into that for you, could you read me the meter, please?",
    "It says four five two one seven, I took it this morning.",
    "Thank you. I can see an estimated reading from last month.",
    "So I was overcharged? I would like a refund then.",
    "I have corrected the reading and the next bill will be lower.",
    "Can I arrange a payment plan for the remaining balance?",
    "Of course, we can split it over three months at no extra cost.",
    "My neighbour said the tariff changes in April, is that right?",
    "Yes, the new tariff starts on the first of April.",
    "Could you send me a confirmation by post?",
    "I will post it today; it should arrive within five working days.",
    "Is there anything else I can help you with today?",
    "No, that's everything, thanks for your help.",
    "Thanks for calling, have a great day.",
];

/// A database of 100,000 calls of 8 segments each (800,000 searchable turns, about a year of
/// a small contact centre), built once per bench run. One call in 1,000 asks to cancel its
/// account; one in 500 asks for a manager about a refund.
fn search_db() -> &'static Path {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search-100k.db");
        let mut store = Store::open(&path).unwrap();
        for i in 0..CALLS {
            let agent = AGENTS[(i % AGENTS.len() as u64) as usize];
            let segments = (0..8u64)
                .map(|k| {
                    let mut text = LINES[((i * 3 + k * 5) % LINES.len() as u64) as usize]
                        .replace("{agent}", agent);
                    if k == 3 && i % 1_000 == 7 {
                        text = "I want to cancel my account today.".into();
                    }
                    if k == 5 && i % 500 == 3 {
                        text = "If there is no refund I want to speak to your manager.".into();
                    }
                    Segment {
                        speaker: if k % 2 == 0 {
                            Speaker::Agent
                        } else {
                            Speaker::Caller
                        },
                        start_ms: k * 20_000,
                        end_ms: k * 20_000 + 6_000,
                        text,
                        words: vec![],
                        ..Default::default()
                    }
                })
                .collect();
            let t = Transcript {
                duration_ms: 180_000,
                model: "tiny.en".into(),
                segments,
                meta: CallMeta::default(),
                ..Default::default()
            };
            store_call(&mut store, i, &t, "h");
        }
        (dir, path)
    })
    .1
}

fn search(store: &Store, text: &str, speaker: Option<Speaker>) -> usize {
    store
        .search(&callscore_store::SearchQuery {
            text: text.into(),
            speaker,
            limit: 50,
            ..Default::default()
        })
        .unwrap()
        .hits
        .len()
}

/// A rare phrase (100 calls of 100,000).
#[divan::bench(sample_count = 10)]
fn search_phrase_in_100k_calls(bencher: Bencher<'_, '_>) {
    let store = Store::open(search_db()).unwrap();
    assert_eq!(search(&store, "\"cancel my account\"", None), 50);
    bencher.bench_local(|| black_box(search(&store, "\"cancel my account\"", None)));
}

/// Two words near each other, said by the caller (200 calls).
#[divan::bench(sample_count = 10)]
fn search_near_by_caller_in_100k_calls(bencher: Bencher<'_, '_>) {
    let store = Store::open(search_db()).unwrap();
    bencher.bench_local(|| {
        black_box(search(
            &store,
            "refund NEAR/5 manager",
            Some(Speaker::Caller),
        ))
    });
}

/// A common word (in most calls): the newest 50 of hundreds of thousands of hits.
#[divan::bench(sample_count = 10)]
fn search_common_word_in_100k_calls(bencher: Bencher<'_, '_>) {
    let store = Store::open(search_db()).unwrap();
    bencher.bench_local(|| black_box(search(&store, "bill", None)));
}

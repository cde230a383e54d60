//! The shared work queue on PostgreSQL: what one call costs the queue (register, claim with
//! `FOR UPDATE SKIP LOCKED`, commit transcript + scorecard, release) and how the store side
//! scales with 1, 2 and 4 workers on one server. Transcription is left out on purpose: it is
//! the same work wherever it runs, and on this 2-core machine it is CPU-bound (two workers use
//! both cores; four only share them), so these figures are the queue's own overhead and the
//! ceiling it puts on many machines. Run with `cargo bench -p callscore-benches --bench queue`;
//! it starts a throwaway PostgreSQL server (callscore-pgtest, Debian's postgresql package).

use callscore_core::{CallMeta, Scorecard, Segment, Speaker, Transcript};
use callscore_store::{ClaimOwner, Db, NewCall, NextCall};
use divan::counter::ItemsCount;
use divan::Bencher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

fn main() {
    divan::main();
}

fn server() -> &'static callscore_pgtest::TestDb {
    static DB: OnceLock<callscore_pgtest::TestDb> = OnceLock::new();
    DB.get_or_init(|| callscore_pgtest::database("queue_bench"))
}

/// A 3-minute call's transcript (36 turns) and its scorecard.
fn work() -> (Transcript, Scorecard) {
    let t = Transcript {
        duration_ms: 180_000,
        model: "tiny.en".into(),
        segments: (0..36u64)
            .map(|k| Segment {
                speaker: if k % 2 == 0 {
                    Speaker::Agent
                } else {
                    Speaker::Caller
                },
                start_ms: k * 5_000,
                end_ms: k * 5_000 + 4_000,
                text: format!(
                    "Line {k}: I can look into the bill for you, could you read me the meter?"
                ),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let sc = Scorecard {
        rubric_id: "bench".into(),
        rubric_version: 1,
        rubric_hash: "h".into(),
        score: 90.0,
        passed: true,
        flagged: false,
        flag_reasons: vec![],
        judged: true,
        results: vec![],
    };
    (t, sc)
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// Queues `n` new calls.
fn queue(db: &mut Db, n: usize) {
    let ids: Vec<(String, PathBuf)> = (0..n)
        .map(|_| {
            let i = NEXT_ID.fetch_add(1, Ordering::SeqCst);
            (
                format!("{i:064x}"),
                PathBuf::from(format!("/shared/calls/{i}.wav")),
            )
        })
        .collect();
    let refs: Vec<(&str, &Path)> = ids.iter().map(|(i, p)| (i.as_str(), p.as_path())).collect();
    db.register_many(&refs).unwrap();
}

/// One worker's loop on its own connection: claim, commit, until the queue is empty. Returns
/// calls done.
fn drain(url: &str, worker: u32) -> usize {
    drain_on(&mut Db::open(Path::new(url)).unwrap(), worker)
}

fn drain_on(db: &mut Db, worker: u32) -> usize {
    let owner = ClaimOwner {
        host: format!("bench-worker-{worker}"),
        pid: worker,
        start_ticks: Some(1),
    };
    let (t, sc) = work();
    let meta = CallMeta::default();
    let mut done = 0;
    loop {
        match db.claim_next(&owner, Duration::from_secs(60)).unwrap() {
            NextCall::Claimed(call) => {
                let new = NewCall {
                    id: &call.id,
                    source_path: &call.source_path,
                    duration_ms: 180_000,
                    channels: 2,
                    sample_rate: 8_000,
                    format: "wav",
                    meta: &meta,
                    warnings: &[],
                };
                db.record_scored_call(&new, &t, &sc).unwrap();
                done += 1;
            }
            NextCall::Wait => std::thread::sleep(Duration::from_millis(5)),
            NextCall::Empty => return done,
        }
    }
}

/// One call through the queue on a worker's open connection (register, claim, commit the
/// transcript and scorecard, find the queue empty): the overhead each call pays on top of its
/// transcription.
#[divan::bench(sample_count = 10, sample_size = 20)]
fn queue_overhead_per_call(bencher: Bencher<'_, '_>) {
    let mut db = Db::open(Path::new(server().url())).unwrap();
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        queue(&mut db, 1);
        assert_eq!(drain_on(&mut db, 1), 1);
    });
}

/// 200 queued calls drained by 1, 2 or 4 workers on their own connections.
#[divan::bench(args = [1, 2, 4], sample_count = 5)]
fn drain_200_calls(bencher: Bencher<'_, '_>, workers: u32) {
    let url = server().url().to_string();
    let mut db = Db::open(Path::new(&url)).unwrap();
    bencher
        .counter(ItemsCount::new(200usize))
        .with_inputs(|| queue(&mut db, 200))
        .bench_local_values(|()| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let url = url.clone();
                    std::thread::spawn(move || drain(&url, w))
                })
                .collect();
            let done: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(done, 200);
        });
}

//! Transcription speed. Run with `cargo bench -p callscore-benches --bench transcribe` (or
//! `just bench`); needs the model (`callscore model install`, or CALLSCORE_MODEL=PATH).
//!
//! - `fixture_calls`: every stereo and mono fixture call transcribed with 2 threads (the CI
//!   machine's cores). The item counter is milliseconds of call audio, so divan's `items/s`
//!   divided by 1000 is the real-time factor (call seconds per wall second). Before divan runs, a
//!   one-pass measurement prints the real-time factor and the time per call directly.
//! - `vad_one_hour_leg`: voice activity detection alone on an hour of a two-leg call (the
//!   fixture's legs repeated), to show the gate costs next to nothing.

#![allow(clippy::print_stderr)]

use callscore_core::Leg;
use callscore_transcribe::{vad, TranscribeOptions, Transcriber};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use std::path::PathBuf;
use std::time::Instant;

const CALLS: &[&str] = &[
    "good_call",
    "curt_agent",
    "rude_agent",
    "no_caller_name",
    "long_hold",
    "mono_call",
    "common_name_will",
    "noisy_line",
    "u8_agent_right",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model() -> PathBuf {
    if let Some(p) = std::env::var_os("CALLSCORE_MODEL") {
        return PathBuf::from(p);
    }
    let dir = callscore_transcribe::model::default_cache_dir(
        std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from),
    );
    let path = dir.join("ggml-tiny.en.bin");
    assert!(
        path.is_file(),
        "no model at {}: run `callscore model install` (or `just model`) first",
        path.display()
    );
    path
}

fn calls() -> Vec<(String, Vec<Leg>, u64)> {
    CALLS
        .iter()
        .map(|name| {
            let path = repo().join(format!("fixtures/calls/{name}.wav"));
            let rec = callscore_ingest::load(&path, &Default::default())
                .unwrap_or_else(|e| panic!("{e}"));
            (name.to_string(), rec.legs, rec.duration_ms)
        })
        .collect()
}

fn transcriber() -> Transcriber {
    Transcriber::load(
        &model(),
        TranscribeOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("model loads")
}

fn main() {
    // A direct figure first: one pass over every fixture, per call and in total.
    let t = transcriber();
    let calls = calls();
    let mut audio_ms = 0u64;
    let started = Instant::now();
    for (name, legs, ms) in &calls {
        let s = Instant::now();
        let tr = t.transcribe(legs).expect("transcribes");
        let wall = s.elapsed().as_secs_f64();
        eprintln!(
            "{name:<18} {:>5.1} s audio  {wall:>5.2} s  RTF {:>5.1}  ({} segments)",
            *ms as f64 / 1000.0,
            *ms as f64 / 1000.0 / wall,
            tr.segments.len()
        );
        audio_ms += ms;
    }
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "all fixtures: {:.1} s of calls in {wall:.1} s with 2 threads: real-time factor {:.1}",
        audio_ms as f64 / 1000.0,
        audio_ms as f64 / 1000.0 / wall
    );
    drop(t);
    divan::main();
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn fixture_calls(bencher: Bencher<'_, '_>) {
    let t = transcriber();
    let calls = calls();
    let audio_ms: u64 = calls.iter().map(|c| c.2).sum();
    bencher.counter(ItemsCount::new(audio_ms)).bench_local(|| {
        for (_, legs, _) in &calls {
            black_box(t.transcribe(legs).expect("transcribes"));
        }
    });
}

#[divan::bench(sample_count = 10)]
fn vad_one_hour_leg(bencher: Bencher<'_, '_>) {
    let (_, legs, ms) = calls()
        .into_iter()
        .find(|c| c.0 == "noisy_line")
        .expect("fixture");
    let repeat = (3_600_000 / ms + 1) as usize;
    let long: Vec<Vec<f32>> = legs.iter().map(|l| l.samples.repeat(repeat)).collect();
    let refs: Vec<&[f32]> = long.iter().map(Vec::as_slice).collect();
    let opts = vad::VadOptions::default();
    bencher
        .counter(ItemsCount::new(long[0].len() as u64 / 16))
        .bench_local(|| black_box(vad::detect(&refs, &opts)));
}

//! Speaker diarization against transcription on the same mono calls. Run with
//! `cargo bench -p callscore-benches --bench diarize` (or `just bench`); needs tiny.en and the
//! speaker encoder in the model cache (`callscore model install`; the encoder is installed here
//! on first use).
//!
//! The target (issue 11): diarization adds at most 20% to the pipeline's time on a mono call. A
//! direct pass first prints, per call, the wall time of transcription and of diarization (both
//! with 2 threads, the CI machine's cores) and their ratio, measured back to back so machine load
//! affects both alike; then divan times each on its own.
//!
//! The calls: the real mono call, the mono fixture, and mono mixes (agent + caller summed) of
//! three stereo fixtures, one of them the noisy line.

#![allow(clippy::print_stderr)]

use callscore_core::{Leg, Speaker};
use callscore_diarize::Diarizer;
use callscore_transcribe::{TranscribeOptions, Transcriber};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use std::path::PathBuf;
use std::time::Instant;

const MIXED: &[&str] = &["good_call", "noisy_line", "curt_agent"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cache() -> PathBuf {
    callscore_transcribe::model::default_cache_dir(
        std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from),
    )
}

fn transcriber() -> Transcriber {
    let path = cache().join("ggml-tiny.en.bin");
    assert!(
        path.is_file(),
        "no model at {}: run `callscore model install` first",
        path.display()
    );
    Transcriber::load(
        &path,
        TranscribeOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("model loads")
}

fn diarizer() -> Diarizer {
    let dir = cache();
    callscore_diarize::install(&dir, &Default::default()).expect("speaker encoder installs");
    let d = Diarizer::load(&dir).expect("speaker encoder loads");
    let mut opts = d.options().clone();
    opts.threads = 2;
    d.with_options(opts)
}

/// (name, one mono leg, duration ms)
fn calls() -> Vec<(String, Leg, u64)> {
    let load = |rel: &str| {
        callscore_ingest::load(&repo().join("fixtures").join(rel), &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut out = Vec::new();
    for rel in ["real/commercial_mono.wav", "calls/mono_call.wav"] {
        let rec = load(rel);
        out.push((rel.to_string(), rec.legs[0].clone(), rec.duration_ms));
    }
    for name in MIXED {
        let rec = load(&format!("calls/{name}.wav"));
        let samples = rec.legs[0]
            .samples
            .iter()
            .zip(&rec.legs[1].samples)
            .map(|(a, b)| (a + b).clamp(-1.0, 1.0))
            .collect();
        out.push((
            format!("{name} (mono mix)"),
            Leg {
                speaker: Speaker::Unknown,
                samples,
            },
            rec.duration_ms,
        ));
    }
    out
}

fn main() {
    let t = transcriber();
    let d = diarizer();
    let calls = calls();
    let (mut tr_total, mut dz_total) = (0.0, 0.0);
    for (name, leg, ms) in &calls {
        let s = Instant::now();
        black_box(
            t.transcribe(std::slice::from_ref(leg))
                .expect("transcribes"),
        );
        let tr = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let dz = black_box(d.diarize(&leg.samples));
        let di = s.elapsed().as_secs_f64();
        eprintln!(
            "{name:<28} {:>5.1} s audio  transcribe {tr:>6.2} s  diarize {di:>5.2} s  = {:>4.1}% ({} voices)",
            *ms as f64 / 1000.0,
            di / tr * 100.0,
            dz.speakers
        );
        tr_total += tr;
        dz_total += di;
    }
    eprintln!(
        "all: transcribe {tr_total:.2} s, diarize {dz_total:.2} s: diarization adds {:.1}% to transcription",
        dz_total / tr_total * 100.0
    );
    drop((t, d));
    divan::main();
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn transcribe_mono_calls(bencher: Bencher<'_, '_>) {
    let t = transcriber();
    let calls = calls();
    let audio_ms: u64 = calls.iter().map(|c| c.2).sum();
    bencher.counter(ItemsCount::new(audio_ms)).bench_local(|| {
        for (_, leg, _) in &calls {
            black_box(
                t.transcribe(std::slice::from_ref(leg))
                    .expect("transcribes"),
            );
        }
    });
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn diarize_mono_calls(bencher: Bencher<'_, '_>) {
    let d = diarizer();
    let calls = calls();
    let audio_ms: u64 = calls.iter().map(|c| c.2).sum();
    bencher.counter(ItemsCount::new(audio_ms)).bench_local(|| {
        for (_, leg, _) in &calls {
            black_box(d.diarize(&leg.samples));
        }
    });
}

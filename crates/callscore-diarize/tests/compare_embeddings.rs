//! The two speaker embeddings side by side on the same mono mixes: the neural speaker encoder
//! and spectral statistics (no model). Prints a table; asserts only that both ran. This is the
//! measurement behind the choice of the encoder (see the crate's README section in
//! ARCHITECTURE.md); a measurement, not part of `just test`: run it with
//! `cargo test -p callscore-diarize --test compare_embeddings -- --ignored --nocapture`
//! (`STEPS=100,150` adds encoder variants with other window steps, in 10 ms frames; `WHISPER=1`
//! times transcription of the same mixes).
#![allow(clippy::print_stderr)]

mod common;

use callscore_diarize::der::der;
use callscore_diarize::{Diarizer, Embedding};
use common::*;

const CALLS: &[&str] = &[
    "good_call",
    "curt_agent",
    "rude_agent",
    "no_caller_name",
    "long_hold",
    "common_name_will",
    "noisy_line",
    "u8_agent_right",
];

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn encoder_and_spectral_statistics_on_the_mono_mixes() {
    let dir = tempfile::tempdir().unwrap();
    let spectral = Diarizer::with_embedding(Embedding::Spectral);
    let encoder = diarizer();
    let steps: Vec<usize> = std::env::var("STEPS")
        .ok()
        .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or_default();
    let variants: Vec<Diarizer> = steps
        .iter()
        .map(|&st| {
            let mut o = encoder.options().clone();
            o.step_frames = st;
            Diarizer::from_checkpoint(&callscore_diarize::model::installed_path(&cache_dir()))
                .unwrap()
                .with_options(o)
        })
        .collect();
    let mut all: Vec<&Diarizer> = vec![encoder, &spectral];
    all.extend(variants.iter());
    let mut totals = vec![(0u64, 0u64); all.len()];
    let mut times = vec![0u128; all.len()];
    let mut whisper_ms = 0u128;
    for call in CALLS {
        let tl = timeline(call);
        let path = mono_mix(call, Encoding::MuLaw, dir.path());
        let rec = load(&path);
        let samples = &rec.legs[0].samples;
        let mut line = format!("{call:<18}");
        if std::env::var("WHISPER").is_ok() {
            let t0 = std::time::Instant::now();
            let _ = transcribe(&rec);
            let el = t0.elapsed().as_millis();
            whisper_ms += el;
            line.push_str(&format!(" whisper {el} ms"));
        }
        for (i, d) in all.iter().enumerate() {
            let t0 = std::time::Instant::now();
            let dz = d.diarize(samples);
            let el = t0.elapsed();
            times[i] += el.as_millis();
            let rep = der(&reference(&tl), &hypothesis(&dz), 250);
            totals[i].0 += rep.missed_ms + rep.false_alarm_ms + rep.confusion_ms;
            totals[i].1 += rep.reference_ms;
            line.push_str(&format!(
                "  DER {:5.1}% (miss {:4} fa {:4} conf {:5}) k={} sep {:.2} {:4} ms",
                rep.der() * 100.0,
                rep.missed_ms,
                rep.false_alarm_ms,
                rep.confusion_ms,
                dz.speakers,
                dz.separation,
                el.as_millis()
            ));
        }
        eprintln!("{line}");
    }
    for i in 0..all.len() {
        eprintln!(
            "variant {i}: overall DER {:.2}%, {} ms (whisper {whisper_ms} ms)",
            totals[i].0 as f64 * 100.0 / totals[i].1 as f64,
            times[i]
        );
        assert!(totals[i].1 > 0);
    }
}

/// The separation (silhouette) the clustering sees: one voice alone (each leg of the stereo
/// fixtures) forced into two groups, and
/// two voices (their mono mix, the real call). Prints them.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn separation_of_one_voice_and_of_two() {
    let dir = tempfile::tempdir().unwrap();
    for (name, d) in [
        ("encoder", diarizer()),
        ("spectral", &Diarizer::with_embedding(Embedding::Spectral)),
    ] {
        for call in ["good_call", "noisy_line", "curt_agent"] {
            let stereo = load(&fixture(&format!("calls/{call}.wav")));
            let mono = load(&mono_mix(call, Encoding::MuLaw, dir.path()));
            let h = |s: &[f32]| {
                let mut o = d.options().clone();
                o.cluster.split_distance = 0.0; // always split: what would the split look like?
                callscore_diarize::diarize::diarize(s, d.embedding(), &o).separation
            };
            eprintln!(
                "{name} {call}: agent leg {:.3}, caller leg {:.3}, mix {:.3}",
                h(&stereo.legs[0].samples),
                h(&stereo.legs[1].samples),
                h(&mono.legs[0].samples)
            );
        }
        let real = load(&fixture("real/commercial_mono.wav"));
        let dz = d.diarize(&real.legs[0].samples);
        eprintln!(
            "{name} real: k={} sep {:.3} unsure {:?}",
            dz.speakers, dz.separation, dz.unsure
        );
        let mono_call = load(&fixture("calls/mono_call.wav"));
        let dz = d.diarize(&mono_call.legs[0].samples);
        eprintln!(
            "{name} mono_call: k={} sep {:.3} unsure {:?}",
            dz.speakers, dz.separation, dz.unsure
        );
    }
}

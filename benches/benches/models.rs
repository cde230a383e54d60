//! Whisper models side by side: word error rate and speed of every installed model callscore
//! knows (tiny.en, base and their quantized files) on the nine fixture calls, in one run. Run
//! with `cargo bench -p callscore-benches --bench models` (or `just bench`); needs tiny.en and
//! base installed (`callscore model install`, `callscore model install base`), and uses
//! base-q8_0 / base-q5_1 / tiny.en-q8_0 when they are.
//!
//! The machine may be shared, so absolute times wander: the calls are taken one at a time and
//! each is transcribed by every model in turn, and the figure to read is each model's time as
//! a ratio of tiny.en's in the same run. WER counts every leg's words against its script lines
//! (wer.rs normalises case, punctuation and numbers), summed over the calls.

#![allow(clippy::print_stderr)]

use callscore_core::{Speaker, Transcript};
use callscore_transcribe::model::{self, Manifest};
use callscore_transcribe::{wer, TranscribeOptions, Transcriber};
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

const MODELS: &[(&str, bool)] = &[
    ("tiny.en", true),
    ("tiny.en-q8_0", false),
    ("base", true),
    ("base-q8_0", false),
    ("base-q5_1", false),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The script's lines of `speaker` (all lines for a mono call's unknown speaker).
fn script(name: &str, speaker: Speaker) -> String {
    let path = repo().join(format!("fixtures/calls/{name}.script"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| match speaker {
            Speaker::Agent => l.strip_prefix("AGENT:"),
            Speaker::Caller => l.strip_prefix("CALLER:"),
            Speaker::Unknown => l
                .strip_prefix("AGENT:")
                .or_else(|| l.strip_prefix("CALLER:")),
        })
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn said(t: &Transcript, speaker: Speaker) -> String {
    t.segments
        .iter()
        .filter(|s| s.speaker == speaker)
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

struct Row {
    name: &'static str,
    size: u64,
    transcriber: Transcriber,
    seconds: f64,
    errors: usize,
    words: usize,
}

fn main() {
    let dir = model::default_cache_dir(std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from));
    let manifest = Manifest::builtin();
    let mut rows: Vec<Row> = Vec::new();
    for &(name, required) in MODELS {
        let spec = manifest.find(name).expect("a manifest model");
        let path = model::installed_path(spec, &dir);
        if !path.is_file() {
            assert!(
                !required,
                "{name} is not installed in {}: run `callscore model install {name}`",
                dir.display()
            );
            eprintln!("{name}: not installed, left out (`callscore model install {name}`)");
            continue;
        }
        let opts = TranscribeOptions {
            threads: 2,
            ..Default::default()
        };
        rows.push(Row {
            name,
            size: spec.size,
            transcriber: Transcriber::load(&path, opts).expect("model loads"),
            seconds: 0.0,
            errors: 0,
            words: 0,
        });
    }
    let mut audio_s = 0.0;
    for call in CALLS {
        let path = repo().join(format!("fixtures/calls/{call}.wav"));
        let rec =
            callscore_ingest::load(&path, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
        audio_s += rec.duration_ms as f64 / 1000.0;
        let mut line = format!("{call:<18}");
        for row in &mut rows {
            let started = Instant::now();
            let t = row.transcriber.transcribe(&rec.legs).expect("transcribes");
            let wall = started.elapsed().as_secs_f64();
            row.seconds += wall;
            let (mut e, mut n) = (0, 0);
            for leg in &rec.legs {
                let w = wer::word_errors(&script(call, leg.speaker), &said(&t, leg.speaker));
                e += w.errors;
                n += w.reference_words;
            }
            row.errors += e;
            row.words += n;
            line.push_str(&format!(
                "  {}: WER {:>5.3} {:>5.1} s",
                row.name,
                e as f64 / n as f64,
                wall
            ));
        }
        eprintln!("{line}");
    }
    let base_time = rows[0].seconds;
    eprintln!(
        "\n{:<14} {:>9} {:>7} {:>12} {:>14} {:>13}",
        "model", "size MB", "WER", "wall s", "call-s/wall-s", "time / tiny.en"
    );
    for row in &rows {
        eprintln!(
            "{:<14} {:>9.1} {:>7.3} {:>12.1} {:>14.1} {:>13.2}",
            row.name,
            row.size as f64 / 1e6,
            row.errors as f64 / row.words as f64,
            row.seconds,
            audio_s / row.seconds,
            row.seconds / base_time
        );
    }
    eprintln!(
        "({:.1} s of calls, {} words of script, 2 threads)",
        audio_s, rows[0].words
    );
}

//! Shared by the integration tests: finding the model, loading fixtures, comparing transcripts
//! with scripts.
#![allow(dead_code, clippy::print_stderr)]

use callscore_core::{Speaker, Transcript};
use callscore_transcribe::model::{self, Manifest, DEFAULT_MODEL};
use callscore_transcribe::{TranscribeOptions, Transcriber};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("fixtures").join(rel)
}

/// The model the tests use: `CALLSCORE_MODEL` (a path), else tiny.en in the model cache
/// (`CALLSCORE_MODEL_DIR` or the XDG default). A missing model fails the test: these tests must
/// never pass by skipping.
pub fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CALLSCORE_MODEL") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "CALLSCORE_MODEL={} does not exist",
            p.display()
        );
        return p;
    }
    let dir = model::default_cache_dir(std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from));
    let spec = Manifest::builtin().find(DEFAULT_MODEL).unwrap().clone();
    let path = model::installed_path(&spec, &dir);
    assert!(
        path.is_file(),
        "the Whisper model is not installed at {}: run `cargo run -p callscore -- model install` (or `just model`), \
         or set CALLSCORE_MODEL to a whisper.cpp ggml file",
        path.display()
    );
    path
}

/// Threads per transcription: 2, the CI machine's cores.
pub fn transcriber() -> Transcriber {
    Transcriber::load(
        &model_path(),
        TranscribeOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("model loads")
}

pub fn load(rel: &str) -> callscore_ingest::Recording {
    let path = fixture(rel);
    callscore_ingest::load(&path, &Default::default()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn transcribe(t: &Transcriber, rel: &str) -> Transcript {
    let rec = load(rel);
    t.transcribe(&rec.legs)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// One spoken line of a fixture's timeline (ground truth measured on the rendered audio).
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Span {
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Timeline {
    pub duration_ms: u64,
    pub lines: Vec<Line>,
    #[serde(default)]
    pub holds: Vec<Span>,
}

pub fn timeline(name: &str) -> Timeline {
    timeline_at(&format!("calls/{name}.timeline.json"))
}

/// A timeline anywhere under fixtures/ (`vad/NAME.timeline.json`).
pub fn timeline_at(rel: &str) -> Timeline {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The script's lines of one speaker (`AGENT:` / `CALLER:`), from NAME.script.
pub fn script_lines(name: &str, speaker: Speaker) -> Vec<String> {
    script_lines_at(&format!("calls/{name}"), speaker)
}

/// [`script_lines`] of a script anywhere under fixtures/ (`vad/NAME`, without `.script`).
pub fn script_lines_at(rel: &str, speaker: Speaker) -> Vec<String> {
    let path = fixture(&format!("{rel}.script"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tag = match speaker {
        Speaker::Agent => "AGENT:",
        Speaker::Caller => "CALLER:",
        Speaker::Unknown => "",
    };
    text.lines()
        .filter_map(|l| {
            if speaker == Speaker::Unknown {
                l.strip_prefix("AGENT:")
                    .or_else(|| l.strip_prefix("CALLER:"))
            } else {
                l.strip_prefix(tag)
            }
        })
        .map(|l| l.trim().to_owned())
        .collect()
}

/// Everything a speaker said in the transcript, in order.
pub fn said_by(t: &Transcript, speaker: Speaker) -> String {
    t.segments
        .iter()
        .filter(|s| s.speaker == speaker)
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words of `speaker` whose time overlaps `start_ms..end_ms`.
pub fn words_in(t: &Transcript, speaker: Speaker, start_ms: u64, end_ms: u64) -> String {
    t.segments
        .iter()
        .filter(|s| s.speaker == speaker)
        .flat_map(|s| s.words.iter())
        .filter(|w| w.end_ms > start_ms && w.start_ms < end_ms)
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Share of the reference's (normalised) words found in the hypothesis, counting multiplicity.
pub fn recall(reference: &str, hypothesis: &str) -> f64 {
    use callscore_transcribe::wer::normalise;
    let r = normalise(reference);
    let mut h = normalise(hypothesis);
    if r.is_empty() {
        return 1.0;
    }
    let mut found = 0;
    for w in &r {
        if let Some(i) = h.iter().position(|x| x == w) {
            h.swap_remove(i);
            found += 1;
        }
    }
    found as f64 / r.len() as f64
}

/// WER of one speaker's transcript against that speaker's script lines; printed for the record.
pub fn leg_wer(name: &str, t: &Transcript, speaker: Speaker) -> f64 {
    leg_wer_at(&format!("calls/{name}"), t, speaker)
}

/// [`leg_wer`] of a script anywhere under fixtures/ (`vad/NAME`, without `.script`).
pub fn leg_wer_at(rel: &str, t: &Transcript, speaker: Speaker) -> f64 {
    let name = rel;
    let reference = script_lines_at(rel, speaker).join(" ");
    let hypothesis = said_by(t, speaker);
    let e = callscore_transcribe::wer::word_errors(&reference, &hypothesis);
    eprintln!(
        "WER {name} {speaker}: {:.1}% ({} errors / {} words)",
        e.rate() * 100.0,
        e.errors,
        e.reference_words
    );
    e.rate()
}

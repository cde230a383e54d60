//! Shared by the accuracy tests: mono test material made from the stereo fixtures (whose
//! channels say who spoke when), the models, and the measures.
#![allow(dead_code, clippy::print_stderr)]

use callscore_core::{Speaker, Transcript};
use callscore_diarize::der::Span;
use callscore_diarize::{Diarization, Diarizer};
use callscore_transcribe::model::{self, Manifest, Pip, DEFAULT_MODEL};
use callscore_transcribe::{TranscribeOptions, Transcriber};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("fixtures").join(rel)
}

pub fn cache_dir() -> PathBuf {
    model::default_cache_dir(std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from))
}

/// The speaker encoder, installed into the model cache on first use (a no-op when it is there):
/// one per test binary.
pub fn diarizer() -> &'static Diarizer {
    static D: OnceLock<Diarizer> = OnceLock::new();
    D.get_or_init(|| {
        let dir = cache_dir();
        callscore_diarize::install(&dir, &Pip::default())
            .unwrap_or_else(|e| panic!("installing the speaker encoder: {e}"));
        Diarizer::load(&dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Whisper tiny.en from the model cache, one per test binary. A missing model fails the test:
/// these tests never pass by skipping.
pub fn transcriber() -> &'static Transcriber {
    static T: OnceLock<Transcriber> = OnceLock::new();
    T.get_or_init(|| {
        let spec = Manifest::builtin().find(DEFAULT_MODEL).unwrap().clone();
        let path = model::installed_path(&spec, &cache_dir());
        assert!(
            path.is_file(),
            "the Whisper model is not installed at {}: run `cargo run -p callscore -- model install`",
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
    })
}

/// One spoken line of a fixture's timeline.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Timeline {
    pub duration_ms: u64,
    pub lines: Vec<Line>,
}

pub fn timeline(call: &str) -> Timeline {
    let path = fixture(&format!("calls/{call}.timeline.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The reference: agent = 0, caller = 1.
pub fn reference(t: &Timeline) -> Vec<Span> {
    t.lines
        .iter()
        .map(|l| Span {
            speaker: usize::from(l.speaker == Speaker::Caller),
            start_ms: l.start_ms,
            end_ms: l.end_ms,
        })
        .collect()
}

pub fn hypothesis(d: &Diarization) -> Vec<Span> {
    d.turns
        .iter()
        .map(|t| Span {
            speaker: t.speaker,
            start_ms: t.start_ms,
            end_ms: t.end_ms,
        })
        .collect()
}

/// How a mono mix is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Pcm16,
    U8,
    MuLaw,
}

/// Mixes a stereo fixture down to one 8 kHz channel (agent + caller, as a mixing recorder
/// does) and writes it in `enc` into `dir`, with the call's sidecar beside it. Returns the path.
pub fn mono_mix(call: &str, enc: Encoding, dir: &Path) -> PathBuf {
    let src = fixture(&format!("calls/{call}.wav"));
    let decoded = callscore_ingest::decode(&src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decoded.channels.len(), 2, "{call} is not stereo");
    assert_eq!(decoded.source_sample_rate, 8000);
    // The 16 kHz channels were upsampled from 8 kHz band-limited audio: every second sample is
    // the 8 kHz signal again (nothing above 4 kHz to alias).
    let mixed: Vec<f32> = decoded.channels[0]
        .iter()
        .zip(&decoded.channels[1])
        .step_by(2)
        .map(|(a, b)| (a + b).clamp(-1.0, 1.0))
        .collect();
    let name = format!(
        "{call}_mono_{}.wav",
        match enc {
            Encoding::Pcm16 => "pcm16",
            Encoding::U8 => "u8",
            Encoding::MuLaw => "mulaw",
        }
    );
    let out = dir.join(&name);
    let pcm = |x: f32| (x * 32767.0).round() as i16;
    match enc {
        Encoding::Pcm16 | Encoding::U8 => {
            let bits = if enc == Encoding::Pcm16 { 16 } else { 8 };
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&out, spec).unwrap();
            for &x in &mixed {
                if bits == 16 {
                    w.write_sample(pcm(x)).unwrap();
                } else {
                    // hound stores 8-bit samples unsigned (offset 128) from a signed i8.
                    w.write_sample((x * 127.0).round() as i8).unwrap();
                }
            }
            w.finalize().unwrap();
        }
        Encoding::MuLaw => {
            let data: Vec<u8> = mixed
                .iter()
                .map(|&x| callscore_capture::g711::linear_to_ulaw(pcm(x)))
                .collect();
            let mut wav = Vec::new();
            let fmt_len = 18u32; // WAVE_FORMAT_MULAW with cbSize
            wav.extend(b"RIFF");
            wav.extend((4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
            wav.extend(b"WAVEfmt ");
            wav.extend(fmt_len.to_le_bytes());
            wav.extend(7u16.to_le_bytes()); // mu-law
            wav.extend(1u16.to_le_bytes()); // mono
            wav.extend(8000u32.to_le_bytes());
            wav.extend(8000u32.to_le_bytes()); // bytes per second
            wav.extend(1u16.to_le_bytes()); // block align
            wav.extend(8u16.to_le_bytes()); // bits per sample
            wav.extend(0u16.to_le_bytes()); // cbSize
            wav.extend(b"data");
            wav.extend((data.len() as u32).to_le_bytes());
            wav.extend(&data);
            std::fs::write(&out, wav).unwrap();
        }
    }
    let sidecar = fixture(&format!("calls/{call}.json"));
    if sidecar.is_file() {
        // The stereo sidecar's agent_channel means nothing for a mono file.
        let mut meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
        if let Some(m) = meta.as_object_mut() {
            m.remove("agent_channel");
        }
        std::fs::write(out.with_extension("json"), meta.to_string()).unwrap();
    }
    out
}

/// Loads a recording through ingest; a mono file gives one `unknown` leg.
pub fn load(path: &Path) -> callscore_ingest::Recording {
    callscore_ingest::load(path, &Default::default()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn transcribe(rec: &callscore_ingest::Recording) -> Transcript {
    let mut t = transcriber()
        .transcribe(&rec.legs)
        .unwrap_or_else(|e| panic!("{}: {e}", rec.path.display()));
    t.meta = rec.meta.clone();
    t
}

/// The reference speaker of a word: the timeline line that overlaps it most (`None` when it
/// falls in no line, e.g. a word whisper invented in a pause).
pub fn true_speaker(t: &Timeline, start_ms: u64, end_ms: u64) -> Option<Speaker> {
    let mut best: Option<(u64, Speaker)> = None;
    for l in &t.lines {
        let overlap = end_ms
            .min(l.end_ms)
            .saturating_sub(start_ms.max(l.start_ms));
        if overlap > 0 && best.is_none_or(|(b, _)| overlap > b) {
            best = Some((overlap, l.speaker));
        }
    }
    if best.is_none() {
        // A word timed just outside a line: the nearest line within 300 ms.
        let mid = (start_ms + end_ms) / 2;
        let near = t
            .lines
            .iter()
            .map(|l| {
                let d = if mid < l.start_ms {
                    l.start_ms - mid
                } else {
                    mid.saturating_sub(l.end_ms)
                };
                (d, l.speaker)
            })
            .min_by_key(|x| x.0)?;
        return (near.0 <= 300).then_some(near.1);
    }
    best.map(|b| b.1)
}

/// (words attributed to the right speaker, words with a reference speaker).
pub fn word_accuracy(t: &Transcript, tl: &Timeline) -> (usize, usize) {
    let (mut right, mut total) = (0, 0);
    for s in &t.segments {
        for w in &s.words {
            let Some(truth) = true_speaker(tl, w.start_ms, w.end_ms) else {
                continue;
            };
            total += 1;
            if s.speaker == truth {
                right += 1;
            }
        }
    }
    (right, total)
}

/// The same transcript with every word given its reference speaker (segments split where it
/// changes): what a perfect diarizer would give, to tell diarization errors from ASR ones.
pub fn oracle(t: &Transcript, tl: &Timeline) -> Transcript {
    let mut out = t.clone();
    out.segments.clear();
    for s in &t.segments {
        for w in &s.words {
            let who = true_speaker(tl, w.start_ms, w.end_ms).unwrap_or(Speaker::Unknown);
            match out.segments.last_mut() {
                Some(last)
                    if last.speaker == who
                        && last.end_ms <= w.start_ms + 2000
                        && last.start_ms >= s.start_ms =>
                {
                    last.end_ms = w.end_ms;
                    last.text.push(' ');
                    last.text.push_str(&w.text);
                    last.words.push(w.clone());
                }
                _ => out.segments.push(callscore_core::Segment {
                    speaker: who,
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    text: w.text.clone(),
                    words: vec![w.clone()],
                    speaker_confidence: None,
                }),
            }
        }
    }
    out.normalise();
    out
}

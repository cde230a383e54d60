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

/// A call's file: `call` is a name in fixtures/calls (`good_call`) or a path under fixtures
/// (`flite/good_call`: the same call in flite's voices); `ext` is `wav`, `json` or
/// `timeline.json`.
pub fn call_file(call: &str, ext: &str) -> PathBuf {
    if call.contains('/') {
        fixture(&format!("{call}.{ext}"))
    } else {
        fixture(&format!("calls/{call}.{ext}"))
    }
}

/// A file name for something made from `call` (which may hold a `/`).
fn file_stem(call: &str) -> String {
    call.replace('/', "_")
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

/// Whisper tiny.en from the model cache, decoding greedily as callscore does by default, one per
/// test binary. A missing model fails the test: these tests never pass by skipping. To measure
/// the same tests with another installed model or with beam search (the figures in
/// benches/RESULTS.md), set `CALLSCORE_TEST_MODEL` (e.g. `base`) and `CALLSCORE_TEST_BEAM`
/// (e.g. `5`).
pub fn transcriber() -> &'static Transcriber {
    static T: OnceLock<Transcriber> = OnceLock::new();
    T.get_or_init(|| {
        let name = std::env::var("CALLSCORE_TEST_MODEL").unwrap_or_else(|_| DEFAULT_MODEL.into());
        let spec = Manifest::builtin()
            .find(&name)
            .unwrap_or_else(|e| panic!("CALLSCORE_TEST_MODEL: {e}"))
            .clone();
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
                beam_size: std::env::var("CALLSCORE_TEST_BEAM")
                    .map(|v| v.parse().expect("CALLSCORE_TEST_BEAM: a number"))
                    .unwrap_or(1),
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
    let path = call_file(call, "timeline.json");
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

/// The samples a stereo fixture stores, per channel, at its own 8 kHz: G.711 mu-law decoded
/// as a recorder decodes it, 8-bit PCM scaled to 16 bits.
fn stored_channels(path: &Path) -> Vec<Vec<i16>> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 12;
    let (mut tag, mut channels, mut bits) = (0u16, 0usize, 0u16);
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            tag = u16_at(at + 8);
            channels = u16_at(at + 10) as usize;
            assert_eq!(
                u32::from_le_bytes(body[4..8].try_into().unwrap()),
                8000,
                "{}: not 8 kHz",
                path.display()
            );
            bits = u16_at(at + 22);
        } else if id == b"data" {
            let samples: Vec<i16> = match (tag, bits) {
                (7, 8) => {
                    let mut out = Vec::with_capacity(body.len());
                    callscore_capture::g711::G711::Ulaw.decode_into(body, &mut out);
                    out
                }
                (1, 8) => body.iter().map(|&b| ((b as i16) - 128) << 8).collect(),
                (1, 16) => body
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect(),
                other => panic!("{}: format {other:?} not mixed here", path.display()),
            };
            return (0..channels)
                .map(|c| samples.iter().skip(c).step_by(channels).copied().collect())
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// Mixes a stereo fixture down to one 8 kHz channel and writes it in `enc` into `dir`, with the
/// call's sidecar beside it; returns the path. The mix is made as a mixing recorder makes it: the
/// two parties' decoded 8 kHz samples summed (clipped at full scale), then encoded. Where only
/// one party speaks on a clean line, the mono file then holds that party's samples as the stereo
/// file does, so what whisper hears differs only by the recorder's encoding and where both
/// parties' sound meets (overlap, the noise of both lines, cross-talk).
pub fn mono_mix(call: &str, enc: Encoding, dir: &Path) -> PathBuf {
    let src = call_file(call, "wav");
    let channels = stored_channels(&src);
    assert_eq!(channels.len(), 2, "{call} is not stereo");
    let mixed: Vec<i16> = channels[0]
        .iter()
        .zip(&channels[1])
        .map(|(&a, &b)| (a as i32 + b as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16)
        .collect();
    let name = format!(
        "{}_mono_{}.wav",
        file_stem(call),
        match enc {
            Encoding::Pcm16 => "pcm16",
            Encoding::U8 => "u8",
            Encoding::MuLaw => "mulaw",
        }
    );
    let out = dir.join(&name);
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
                    w.write_sample(x).unwrap();
                } else {
                    // hound stores 8-bit samples unsigned (offset 128) from a signed i8.
                    let rounded = ((x as i32 + 128) >> 8).clamp(-128, 127);
                    w.write_sample(rounded as i8).unwrap();
                }
            }
            w.finalize().unwrap();
        }
        Encoding::MuLaw => {
            let data: Vec<u8> = mixed
                .iter()
                .map(|&x| callscore_capture::g711::linear_to_ulaw(x))
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
    let sidecar = call_file(call, "json");
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

/// The stereo fixture as a recorder that started `ms` later would have stored it: the same
/// bytes after `ms` of digital silence on both channels, with the sidecar beside it. What whisper
/// makes of this is the same call heard again: the verdicts that change between the two measure
/// the ASR's own repeatability, which bounds how well any mono transcript can agree with the
/// stereo one.
pub fn delayed_stereo(call: &str, ms: u32, dir: &Path) -> PathBuf {
    let src = call_file(call, "wav");
    let bytes = std::fs::read(&src).unwrap();
    let data_at = bytes
        .windows(4)
        .position(|w| w == b"data")
        .unwrap_or_else(|| panic!("{}: no data chunk", src.display()));
    let fmt_at = bytes.windows(4).position(|w| w == b"fmt ").unwrap();
    let tag = u16::from_le_bytes([bytes[fmt_at + 8], bytes[fmt_at + 9]]);
    let bits = u16::from_le_bytes([bytes[fmt_at + 22], bytes[fmt_at + 23]]);
    // Digital silence: mu-law 0xFF, unsigned 8-bit PCM 0x80.
    let zero = match (tag, bits) {
        (7, 8) => 0xFFu8,
        (1, 8) => 0x80,
        other => panic!("{call}: format {other:?} is not delayed here"),
    };
    let silence = vec![zero; (8 * ms * 2) as usize];
    let len = u32::from_le_bytes(bytes[data_at + 4..data_at + 8].try_into().unwrap());
    let mut out = bytes[..data_at + 4].to_vec();
    out.extend((len + silence.len() as u32).to_le_bytes());
    out.extend(&silence);
    out.extend(&bytes[data_at + 8..]);
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    let path = dir.join(format!("{}_delayed_{ms}ms.wav", file_stem(call)));
    std::fs::write(&path, out).unwrap();
    let sidecar = call_file(call, "json");
    if sidecar.is_file() {
        std::fs::copy(&sidecar, path.with_extension("json")).unwrap();
    }
    path
}

/// What was said, as a transcript: the timeline's lines with their speakers and times, each
/// line's words spread evenly over it. Its scorecard is the truth both the stereo and the mono
/// scorecards are measured against: a verdict that differs from the stereo call's may be the
/// stereo transcript's error, not the mono one's.
pub fn script_transcript(tl: &Timeline, meta: &callscore_core::CallMeta) -> Transcript {
    let mut t = Transcript {
        duration_ms: tl.duration_ms,
        meta: meta.clone(),
        ..Default::default()
    };
    for l in &tl.lines {
        let words: Vec<&str> = l.text.split_whitespace().collect();
        let step = (l.end_ms - l.start_ms) / words.len().max(1) as u64;
        t.segments.push(callscore_core::Segment {
            speaker: l.speaker,
            start_ms: l.start_ms,
            end_ms: l.end_ms,
            text: l.text.clone(),
            words: words
                .iter()
                .enumerate()
                .map(|(i, w)| callscore_core::Word {
                    start_ms: l.start_ms + i as u64 * step,
                    end_ms: l.start_ms + (i as u64 + 1) * step,
                    text: (*w).to_owned(),
                })
                .collect(),
            speaker_confidence: None,
        });
    }
    t.normalise();
    t
}

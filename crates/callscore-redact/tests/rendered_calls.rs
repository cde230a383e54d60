//! The rendered card calls (fixtures/pci) through the real Whisper tiny.en model, redacted: no
//! card data is left in any segment or word, the spans cover what the caller said, and the
//! muted copy is digital silence over every span and the original audio everywhere else.
//!
//! One test, so the three transcriptions share one loaded model in one process (nextest runs
//! each test in a process of its own).

use std::path::{Path, PathBuf};

use callscore_core::{Speaker, Transcript};
use callscore_redact::audio::span_samples;
use callscore_redact::{AudioStyle, DataClass, RedactedAudio, RedactionConfig, Redactor};
use callscore_transcribe::model::{self, Manifest, DEFAULT_MODEL};
use callscore_transcribe::{TranscribeOptions, Transcriber};
use serde::Deserialize;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `CALLSCORE_MODEL`, else tiny.en in the model cache. A missing model fails: this test must
/// never pass by skipping.
fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CALLSCORE_MODEL") {
        return PathBuf::from(p);
    }
    let dir = model::default_cache_dir(std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from));
    let spec = Manifest::builtin()
        .find(DEFAULT_MODEL)
        .expect("tiny.en is in the manifest")
        .clone();
    let path = model::installed_path(&spec, &dir);
    assert!(
        path.is_file(),
        "the Whisper model is not installed at {}: run `cargo run -p callscore -- model install`",
        path.display()
    );
    path
}

#[derive(Deserialize)]
struct Timeline {
    lines: Vec<Line>,
}

#[derive(Deserialize)]
struct Line {
    speaker: String,
    start_ms: u64,
    end_ms: u64,
    text: String,
}

/// Each rendered call, and the class of what each of the caller's lines says, in order.
const CALLS: &[(&str, &[DataClass])] = &[
    (
        "card_digit_groups",
        &[
            DataClass::CardNumber,
            DataClass::CardNumber,
            DataClass::CardNumber,
            DataClass::CardNumber,
            DataClass::SecurityCode,
            DataClass::ExpiryDate,
        ],
    ),
    (
        "card_pairs",
        &[
            DataClass::CardNumber,
            DataClass::SecurityCode,
            DataClass::ExpiryDate,
        ],
    ),
    (
        "card_month_name",
        &[
            DataClass::CardNumber,
            DataClass::SecurityCode,
            DataClass::ExpiryDate,
        ],
    ),
];

const DIGIT_WORDS: [&str; 21] = [
    "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "double",
];

/// Whether a word still says a digit, written or spoken.
fn says_a_digit(word: &str) -> bool {
    let w = word.to_lowercase();
    w.chars().any(|c| c.is_ascii_digit())
        || w.split(|c: char| !c.is_alphanumeric())
            .any(|part| DIGIT_WORDS.contains(&part))
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Whether spans of `class` cover `[start, end]` completely.
fn covered(t: &Transcript, class: DataClass, start: u64, end: u64) -> bool {
    let mut spans: Vec<(u64, u64)> = t
        .redactions
        .iter()
        .filter(|r| r.class == class.name())
        .map(|r| (r.start_ms, r.end_ms))
        .collect();
    spans.sort();
    let mut reach = start;
    for (s, e) in spans {
        if s <= reach {
            reach = reach.max(e);
        }
    }
    reach >= end
}

fn read_wav(path: &Path) -> (u32, Vec<Vec<i16>>) {
    let mut r = hound::WavReader::open(path).expect("a WAV");
    let spec = r.spec();
    assert_eq!(spec.bits_per_sample, 16);
    let n = usize::from(spec.channels);
    let samples: Vec<i16> = r.samples::<i16>().map(|s| s.expect("a sample")).collect();
    let chans = (0..n)
        .map(|c| samples.iter().skip(c).step_by(n).copied().collect())
        .collect();
    (spec.sample_rate, chans)
}

fn rms_dbfs(x: &[f32]) -> f32 {
    if x.is_empty() {
        return -120.0;
    }
    let ms = x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32;
    10.0 * ms.max(1e-12).log10()
}

#[test]
fn rendered_card_calls_are_redacted_in_text_words_and_audio() {
    let transcriber = Transcriber::load(
        &model_path(),
        TranscribeOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the model loads");
    let redactor = Redactor::new(RedactionConfig::default());
    let out_dir = tempfile::tempdir().expect("a temp dir");
    let mut problems: Vec<String> = Vec::new();

    for (name, classes) in CALLS {
        let wav = repo_root().join(format!("fixtures/pci/{name}.wav"));
        let timeline: Timeline = serde_json::from_str(
            &std::fs::read_to_string(
                repo_root().join(format!("fixtures/pci/{name}.timeline.json")),
            )
            .expect("the timeline"),
        )
        .expect("timeline JSON");
        let original_bytes = std::fs::read(&wav).expect("the recording");
        let rec = callscore_ingest::load(&wav, &Default::default()).expect("the recording loads");
        let heard = transcriber.transcribe(&rec.legs).expect("transcribes");
        let (t, summary) = redactor.redacted(&heard);
        let mut fail = |what: String| problems.push(format!("{name}: {what}\n{}", t.to_text()));

        let caller_lines: Vec<&Line> = timeline
            .lines
            .iter()
            .filter(|l| l.speaker == "caller")
            .collect();
        assert_eq!(
            caller_lines.len(),
            classes.len(),
            "{name}: the table of lines"
        );
        for (line, class) in caller_lines.iter().zip(classes.iter()) {
            let span = (line.start_ms, line.end_ms);
            // No digit is left in a word said during the line, nor in its segments' text.
            for seg in t.segments.iter().filter(|s| s.speaker == Speaker::Caller) {
                for w in seg
                    .words
                    .iter()
                    .filter(|w| overlaps((w.start_ms, w.end_ms.max(w.start_ms + 1)), span))
                {
                    if says_a_digit(&w.text) {
                        fail(format!(
                            "a digit is left in {:?} during {:?}",
                            w.text, line.text
                        ));
                    }
                }
                if overlaps((seg.start_ms, seg.end_ms), span)
                    && seg.text.split_whitespace().any(says_a_digit)
                {
                    fail(format!(
                        "a digit is left in segment {:?} during {:?}",
                        seg.text, line.text
                    ));
                }
            }
            if !covered(&t, *class, line.start_ms, line.end_ms) {
                fail(format!(
                    "no {class} span covers {:?} ({}–{} ms): {:?}",
                    line.text, line.start_ms, line.end_ms, t.redactions
                ));
            }
        }
        if summary.count(DataClass::CardNumber) == 0 {
            fail("no card number found".into());
        }
        // The agent said nothing sensitive: every agent segment reads as whisper wrote it.
        let agent = |t: &Transcript| -> Vec<String> {
            t.segments
                .iter()
                .filter(|s| s.speaker == Speaker::Agent)
                .map(|s| s.text.clone())
                .collect()
        };
        if agent(&t) != agent(&heard) {
            fail("an agent segment changed".into());
        }
        // Idempotent on a real transcript too.
        if redactor.redacted(&t).0 != t {
            fail("a second redaction changed the transcript".into());
        }

        // Audio: the muted copy, and a copy with nothing muted to compare against.
        let muted_path = out_dir.path().join(format!("{name}.redacted.wav"));
        let plain_path = out_dir.path().join(format!("{name}.plain.wav"));
        let muted =
            RedactedAudio::from_file(&wav, &t.redactions, AudioStyle::Silence).expect("decodes");
        muted.write_wav(&muted_path).expect("writes");
        RedactedAudio::from_file(&wav, &[], AudioStyle::Silence)
            .expect("decodes")
            .write_wav(&plain_path)
            .expect("writes");
        let (rate, m) = read_wav(&muted_path);
        let (_, p) = read_wav(&plain_path);
        assert_eq!(
            (rate, m.len()),
            (8_000, 2),
            "{name}: 8 kHz stereo in, 8 kHz stereo out"
        );
        assert_eq!(m[0].len(), p[0].len());
        let frames = m[0].len();
        let mut inside = vec![false; frames];
        for r in &t.redactions {
            let (a, b) = span_samples(r.start_ms, r.end_ms, rate, frames);
            inside[a..b].iter_mut().for_each(|x| *x = true);
        }
        for c in 0..2 {
            for i in 0..frames {
                if inside[i] && m[c][i] != 0 {
                    fail(format!(
                        "channel {c} sample {i} is not silent inside a span"
                    ));
                    break;
                }
                if !inside[i] && m[c][i] != p[c][i] {
                    fail(format!("channel {c} sample {i} changed outside every span"));
                    break;
                }
            }
        }
        // The caller's lines were loud in the original and are silent now.
        let decoded_original = callscore_ingest::decode(&wav).expect("decodes");
        let decoded_muted = callscore_ingest::decode(&muted_path).expect("decodes");
        for line in &caller_lines {
            let (a, b) = span_samples(
                line.start_ms,
                line.end_ms,
                16_000,
                decoded_original.channels[1].len(),
            );
            let before = rms_dbfs(&decoded_original.channels[1][a..b]);
            let after = rms_dbfs(&decoded_muted.channels[1][a..b]);
            if before < -40.0 || after > -90.0 {
                fail(format!(
                    "{:?}: {before:.1} dBFS before, {after:.1} dBFS after muting",
                    line.text
                ));
            }
        }
        // The unmuted copy is the original audio: the 16 kHz decodes agree to within the
        // resampling round trip (8 kHz -> 16 kHz -> 8 kHz).
        let decoded_plain = callscore_ingest::decode(&plain_path).expect("decodes");
        for c in 0..2 {
            let (x, y) = (&decoded_original.channels[c], &decoded_plain.channels[c]);
            let n = x.len().min(y.len());
            let signal: f32 = x[..n].iter().map(|s| s * s).sum();
            let noise: f32 = x[..n]
                .iter()
                .zip(&y[..n])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let snr = 10.0 * (signal / noise.max(1e-12)).log10();
            if snr < 30.0 {
                fail(format!(
                    "channel {c}: the unmuted copy differs from the original (SNR {snr:.1} dB)"
                ));
            }
        }
        if std::fs::read(&wav).expect("the recording") != original_bytes {
            fail("the original recording was modified".into());
        }
        // The tone style: the spans hold the tone instead of silence.
        if *name == "card_pairs" {
            let toned =
                RedactedAudio::from_file(&wav, &t.redactions, AudioStyle::Tone).expect("decodes");
            for r in &t.redactions {
                let (a, b) = span_samples(r.start_ms, r.end_ms, toned.sample_rate, toned.frames());
                let db = rms_dbfs(&toned.channels[1][a..b]);
                if (db + 23.0).abs() > 0.5 {
                    fail(format!(
                        "the tone over {}–{} ms is {db:.1} dBFS",
                        r.start_ms, r.end_ms
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

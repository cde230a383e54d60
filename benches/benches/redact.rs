//! Redaction speed: transcripts redacted per second (a 10-minute call with a card payment in
//! it, all classes on), and the muted 16-bit WAV copy of a 29 s rendered call (decode, resample
//! back to 8 kHz, mute, encode). Redaction runs on every transcript before it is stored, so it
//! must cost far less than transcription (about a second per call-minute on 2 cores). Run with
//! `cargo bench -p callscore-benches --bench redact`.

use callscore_core::{Segment, Speaker, Transcript, Word};
use callscore_redact::{AudioStyle, RedactedAudio, RedactionConfig, Redactor};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use std::path::PathBuf;

fn main() {
    divan::main();
}

const LINES: &[(Speaker, &str)] = &[
    (
        Speaker::Agent,
        "Thanks for holding, I can see the account now. How would you like to pay?",
    ),
    (
        Speaker::Caller,
        "By card please, it's about the 420 pounds from March.",
    ),
    (
        Speaker::Agent,
        "Of course. Can I take the long card number please?",
    ),
    (Speaker::Caller, "4263 9826"),
    (Speaker::Agent, "Yes."),
    (Speaker::Caller, "4026 9299."),
    (
        Speaker::Agent,
        "Thank you. And the security code on the back?",
    ),
    (Speaker::Caller, "three four two"),
    (Speaker::Agent, "And the expiry date?"),
    (Speaker::Caller, "oh four, twenty six."),
    (
        Speaker::Agent,
        "Lovely, that's gone through. Your reference is 1234 5678 9012 3456.",
    ),
    (
        Speaker::Caller,
        "Great. Can you send the receipt to priya.raman@example.com?",
    ),
    (
        Speaker::Agent,
        "I will. I've also noted your phone number, 07700 900123, for call backs.",
    ),
    (
        Speaker::Caller,
        "Perfect, and the next bill should be about sixty two pounds?",
    ),
];

/// About 10 minutes of talk (some 200 segments), with word times, the payment part included.
fn ten_minute_call() -> Transcript {
    let mut t = Transcript::default();
    let mut at = 0u64;
    while at < 600_000 {
        for (speaker, text) in LINES {
            let start = at;
            let words: Vec<Word> = text
                .split_whitespace()
                .map(|w| {
                    at += 380;
                    Word {
                        start_ms: at - 380,
                        end_ms: at - 60,
                        text: w.to_string(),
                    }
                })
                .collect();
            t.segments.push(Segment {
                speaker: *speaker,
                start_ms: start,
                end_ms: at,
                text: text.to_string(),
                words,
                ..Default::default()
            });
            at += 500;
        }
    }
    t.duration_ms = at;
    t
}

#[divan::bench(sample_count = 30)]
fn redact_ten_minute_call(bencher: Bencher<'_, '_>) {
    let call = ten_minute_call();
    let redactor = Redactor::new(RedactionConfig::all_classes());
    bencher
        .counter(ItemsCount::new(1usize))
        .with_inputs(|| call.clone())
        .bench_local_values(|mut t| {
            redactor.redact(&mut t);
            black_box(t)
        });
}

#[divan::bench(sample_count = 10)]
fn muted_wav_of_a_rendered_call(bencher: Bencher<'_, '_>) {
    let wav = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pci/card_pairs.wav");
    let spans = vec![callscore_core::Redaction {
        class: "card_number".into(),
        speaker: Speaker::Caller,
        start_ms: 3_500,
        end_ms: 13_600,
    }];
    bencher.bench(|| {
        let audio = RedactedAudio::from_file(&wav, &spans, AudioStyle::Silence).expect("decodes");
        black_box(audio.to_wav_bytes().expect("encodes"))
    });
}

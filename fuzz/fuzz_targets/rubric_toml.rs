//! Rubric TOML: check and compile, then evaluate a fixed transcript (compiled regexes and
//! detector parameters from outside meet real text).
#![no_main]
use callscore_core::{Segment, Speaker, Transcript};
use callscore_rubric::Rubric;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rubric) = Rubric::from_toml_str(text, "fuzz.toml") else {
        return;
    };
    let seg = |speaker, start_ms, end_ms, text: &str| Segment {
        speaker,
        start_ms,
        end_ms,
        text: text.into(),
        ..Default::default()
    };
    let transcript = Transcript {
        duration_ms: 20_000,
        segments: vec![
            seg(
                Speaker::Agent,
                0,
                3_000,
                "Good morning, thank you for calling Acme, my name is Sarah.",
            ),
            seg(
                Speaker::Caller,
                3_200,
                6_000,
                "Hi Sarah, this is Michael Turner, my bill is wrong.",
            ),
            seg(
                Speaker::Agent,
                5_500,
                9_000,
                "I'm sorry to hear that, Michael. What did you expect it to be?",
            ),
            seg(Speaker::Caller, 15_000, 17_000, "About forty pounds."),
            seg(
                Speaker::Agent,
                17_100,
                19_900,
                "Is there anything else I can help you with today?",
            ),
        ],
        ..Default::default()
    };
    let card = rubric.evaluate(&transcript);
    assert!(
        card.score.is_finite() && (0.0..=100.0).contains(&card.score),
        "{}",
        card.score
    );
    // Evaluation is deterministic.
    assert_eq!(rubric.evaluate(&transcript), card);
});

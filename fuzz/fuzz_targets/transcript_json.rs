//! Transcript JSON from any speech-to-text system (`score --transcript`): parse and validate,
//! then score it with the default rubric.
#![no_main]
use callscore_rubric::{transcript, Rubric};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static RUBRIC: OnceLock<Rubric> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = transcript::from_json_str(text, "fuzz.json") else {
        return;
    };
    let rubric = RUBRIC.get_or_init(|| {
        Rubric::from_toml_str(include_str!("../../rubrics/default.toml"), "default.toml")
            .expect("the default rubric compiles")
    });
    let card = rubric.evaluate(&t);
    assert!(card.score.is_finite(), "{}", card.score);
});

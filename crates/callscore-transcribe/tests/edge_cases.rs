//! Inputs that crash naive whisper.cpp callers: empty, near-empty, clipped, silent legs.
mod common;

use callscore_core::{Leg, Speaker, SAMPLE_RATE};

fn leg(speaker: Speaker, samples: Vec<f32>) -> Leg {
    Leg { speaker, samples }
}

#[test]
fn empty_and_near_empty_legs_give_no_words_and_no_crash() {
    let t = common::transcriber();
    for n in [0usize, 1, 10, 160, 1600, SAMPLE_RATE as usize / 2] {
        let tr = t
            .transcribe(&[
                leg(Speaker::Agent, vec![0.0; n]),
                leg(Speaker::Caller, vec![0.0; n]),
            ])
            .unwrap();
        assert!(tr.segments.is_empty(), "{n} samples of silence: {tr:?}");
    }
    assert!(t.transcribe(&[]).unwrap().segments.is_empty());
}

#[test]
fn a_short_loud_burst_is_not_worth_a_word_and_does_not_crash() {
    let t = common::transcriber();
    let mut samples = vec![0.0f32; SAMPLE_RATE as usize * 3];
    // 200 ms of a clipped square wave: loud, short, not speech.
    for (i, x) in samples[SAMPLE_RATE as usize..SAMPLE_RATE as usize * 12 / 10]
        .iter_mut()
        .enumerate()
    {
        *x = if (i / 20) % 2 == 0 { 1.0 } else { -1.0 };
    }
    let tr = t.transcribe(&[leg(Speaker::Unknown, samples)]).unwrap();
    let stock = ["thank you", "you", "bye", ""];
    for s in &tr.segments {
        let text = callscore_transcribe::wer::normalise(&s.text).join(" ");
        assert!(
            !stock.contains(&text.as_str()),
            "stock phrase on a burst survived: {s:?}"
        );
    }
}

#[test]
fn legs_of_different_lengths_merge_in_time_order() {
    let t = common::transcriber();
    let rec = common::load("calls/good_call.wav");
    let mut legs = rec.legs.clone();
    // Cut the caller leg at 20 s: the transcript still runs to the agent's end.
    legs[1].samples.truncate(SAMPLE_RATE as usize * 20);
    let tr = t.transcribe(&legs).unwrap();
    assert_eq!(tr.duration_ms, legs[0].duration_ms());
    assert!(tr
        .segments
        .iter()
        .filter(|s| s.speaker == Speaker::Caller)
        .all(|s| s.end_ms <= 20_000));
    assert!(tr
        .segments
        .windows(2)
        .all(|w| w[0].start_ms <= w[1].start_ms));
    assert_eq!(
        tr.model,
        callscore_transcribe::transcriber::model_name_from_path(&common::model_path())
    );
}

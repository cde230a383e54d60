//! Rubric evaluation speed: scorecards per second on a 10-minute call with the default rubric.
//! Target: at least 10,000 per second per core, so rescoring a year of calls after a rubric
//! change takes minutes. Run with `cargo bench -p callscore-benches --bench rubric`; divan
//! prints the time per scorecard and, from the item counter, scorecards per second.

use callscore_core::{CallMeta, Segment, Speaker, Transcript, Word};
use callscore_rubric::Rubric;
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use std::path::PathBuf;

fn main() {
    divan::main();
}

fn default_rubric_src() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rubrics/default.toml"),
    )
    .expect("rubrics/default.toml")
}

const AGENT_LINES: &[&str] = &[
    "I understand, let me pull up the account and have a look at that for you.",
    "Can you confirm the first line of the address and the postcode please?",
    "Thanks Priya. I can see the last three bills were based on estimated readings.",
    "What I'll do is put a new reading on the account and recalculate the balance.",
    "How long have you been at the property?",
    "Okay, and when did you last send us a meter reading",
    "I'm sorry about the confusion, that must have been frustrating.",
    "The new bill should reach you within five working days by email.",
    "Would you like me to set up a monthly direct debit as well?",
    "I will make a note of that on the account so my colleagues can see it.",
];
const CALLER_LINES: &[&str] = &[
    "Yes, it's 14 Station Road, SW1A 1AA.",
    "About three years now.",
    "I sent one in March I think, through the app.",
    "Right, okay. That makes sense.",
    "No, I'd rather pay by card each month to be honest.",
    "mm-hm",
    "Sorry, could you repeat that?",
    "That's great, thank you.",
];

/// A realistic 10-minute two-party call: about 160 turns of 2–6 s with short gaps and a
/// little overlap, word timestamps on every segment (as `callscore transcribe` writes them).
fn ten_minute_call() -> Transcript {
    let mut segments = vec![
        seg(
            Speaker::Agent,
            0,
            5_000,
            "Thank you for calling Acme Energy, my name is Daniel. How can I help you today?",
        ),
        seg(
            Speaker::Caller,
            5_300,
            10_000,
            "Hi Daniel, my name is Priya Raman. My last bill is much higher than usual.",
        ),
    ];
    let mut t: u64 = 10_400;
    let mut i = 0usize;
    // Turns alternate, agent first.
    let mut agent_turn = true;
    while t < 585_000 {
        let (speaker, line) = if agent_turn {
            (Speaker::Agent, AGENT_LINES[i / 2 % AGENT_LINES.len()])
        } else {
            (Speaker::Caller, CALLER_LINES[i / 2 % CALLER_LINES.len()])
        };
        let len = 2_000 + (line.len() as u64 * 45);
        // Every seventh turn starts before the previous one ends: people talk over each other.
        let start = if i % 7 == 6 { t.saturating_sub(900) } else { t };
        segments.push(seg(speaker, start, start + len, line));
        t = start + len + 250 + (i as u64 * 37 % 600);
        i += 1;
        agent_turn = !agent_turn;
    }
    segments.push(seg(
        Speaker::Agent,
        t,
        t + 4_000,
        "Is there anything else I can help you with today?",
    ));
    segments.push(seg(
        Speaker::Caller,
        t + 4_300,
        t + 5_500,
        "No, that's everything.",
    ));
    segments.push(seg(
        Speaker::Agent,
        t + 5_800,
        t + 9_000,
        "Thank you for calling, Priya. Have a lovely day.",
    ));
    Transcript {
        duration_ms: t + 10_000,
        model: "tiny.en".into(),
        segments,
        meta: CallMeta {
            agent: Some("Daniel".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn seg(speaker: Speaker, start_ms: u64, end_ms: u64, text: &str) -> Segment {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let step = (end_ms - start_ms) / tokens.len() as u64;
    let words = tokens
        .iter()
        .enumerate()
        .map(|(k, w)| Word {
            start_ms: start_ms + k as u64 * step,
            end_ms: start_ms + (k as u64 + 1) * step,
            text: format!(" {w}"),
        })
        .collect();
    Segment {
        speaker,
        start_ms,
        end_ms,
        text: format!(" {text}"),
        words,
        ..Default::default()
    }
}

/// One scorecard for a 10-minute call with the default rubric.
#[divan::bench]
fn score_10_minute_call_default_rubric(bencher: Bencher<'_, '_>) {
    let rubric = Rubric::from_toml_str(&default_rubric_src(), "rubrics/default.toml")
        .expect("default rubric compiles");
    let call = ten_minute_call();
    assert!(
        call.duration_ms >= 590_000 && call.segments.len() > 120,
        "{} ms, {} segments",
        call.duration_ms,
        call.segments.len()
    );
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| rubric.evaluate(black_box(&call)));
}

/// The same call without word timestamps (transcripts from other systems often have none).
#[divan::bench]
fn score_10_minute_call_without_word_times(bencher: Bencher<'_, '_>) {
    let rubric = Rubric::from_toml_str(&default_rubric_src(), "rubrics/default.toml")
        .expect("default rubric compiles");
    let mut call = ten_minute_call();
    call.segments.iter_mut().for_each(|s| s.words.clear());
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| rubric.evaluate(black_box(&call)));
}

/// Loading and compiling the default rubric (once per batch run).
#[divan::bench]
fn compile_default_rubric(bencher: Bencher<'_, '_>) {
    let src = default_rubric_src();
    bencher.bench(|| {
        Rubric::from_toml_str(black_box(&src), "rubrics/default.toml").expect("compiles")
    });
}

/// Each default criterion alone (with the transcript preparation every criterion shares):
/// where the time goes when a rubric gets slow.
#[divan::bench(args = ["greeting", "agent_name", "caller_name", "questions", "empathy", "courtesy", "further_help", "closing", "dead_air", "talk_ratio", "overtalk"])]
fn one_criterion(bencher: Bencher<'_, '_>, id: &str) {
    let src = default_rubric_src();
    let mut parts = src.split("[[criteria]]");
    let head = parts.next().unwrap();
    let body = parts
        .find(|p| p.contains(&format!("id = \"{id}\"")))
        .unwrap();
    let rubric = Rubric::from_toml_str(&format!("{head}[[criteria]]{body}"), "x").unwrap();
    let call = ten_minute_call();
    bencher.bench(|| rubric.evaluate(black_box(&call)));
}

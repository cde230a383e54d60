//! Properties of scoring that must hold for any transcript: the score stays in 0–100,
//! evaluation is deterministic (and independent of segment order in the file), and adding a
//! criterion that passes never lowers the score.

use callscore_core::{CallMeta, Outcome, Segment, Speaker, Transcript};
use callscore_rubric::Rubric;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::LazyLock;

fn default_rubric_src() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rubrics/default.toml"),
    )
    .unwrap()
}

/// Compiled once for all cases: compiling is not what these properties are about.
static DEFAULT: LazyLock<Rubric> =
    LazyLock::new(|| Rubric::from_toml_str(&default_rubric_src(), "default.toml").unwrap());

const LINES: &[&str] = &[
    "Thank you for calling Acme, my name is Daniel.",
    "Hi, my name is Priya Raman.",
    "Thanks Priya, can you confirm your postcode?",
    "how can i help you today",
    "I'm sorry to hear that.",
    "Calm down.",
    "I won't tell you to calm down.",
    "Whatever you need.",
    "Is there anything else I can help with?",
    "I will check that.",
    "Thanks, Will.",
    "Have a lovely day, bye.",
    "",
    "mm",
];

fn speaker() -> impl Strategy<Value = Speaker> {
    prop_oneof![
        Just(Speaker::Agent),
        Just(Speaker::Caller),
        Just(Speaker::Unknown)
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        speaker(),
        0u64..600_000,
        0u64..40_000,
        proptest::sample::select(LINES),
    )
        .prop_map(|(speaker, start, len, text)| Segment {
            speaker,
            start_ms: start,
            end_ms: start + len,
            text: text.to_string(),
            words: vec![],
            ..Default::default()
        })
}

fn transcript() -> impl Strategy<Value = Transcript> {
    (
        proptest::collection::vec(segment(), 0..40),
        0u64..700_000,
        proptest::option::of(proptest::sample::select(
            &["Priya Raman", "Will Turner", "Rose"][..],
        )),
    )
        .prop_map(|(segments, duration_ms, name)| Transcript {
            duration_ms,
            segments,
            meta: CallMeta {
                caller_name: name.map(str::to_string),
                ..Default::default()
            },
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn score_is_a_percentage_and_points_add_up(t in transcript()) {
        let rubric = &*DEFAULT;
        let card = rubric.evaluate(&t);
        prop_assert!((0.0..=100.0).contains(&card.score), "score {}", card.score);
        for r in &card.results {
            prop_assert!(r.points <= r.max_points);
            if r.outcome == Outcome::NotApplicable { prop_assert_eq!(r.max_points, 0.0); }
            prop_assert!(!r.reason.is_empty(), "{} has no reason", r.criterion_id);
        }
        let possible: f64 = card.results.iter().map(|r| r.max_points).sum();
        let earned: f64 = card.results.iter().map(|r| r.points).sum();
        if possible > 0.0 {
            prop_assert!((card.score - earned / possible * 100.0).abs() <= 0.005 + 1e-9);
        }
        if card.passed { prop_assert!(card.score >= rubric.pass_mark()); }
        prop_assert_eq!(card.flagged, !card.passed || !card.flag_reasons.is_empty());
    }

    #[test]
    fn evaluation_is_deterministic_and_ignores_file_order(t in transcript(), seed in any::<u64>()) {
        let rubric = &*DEFAULT;
        let a = serde_json::to_string(&rubric.evaluate(&t)).unwrap();
        let b = serde_json::to_string(&rubric.evaluate(&t)).unwrap();
        prop_assert_eq!(&a, &b);
        let mut shuffled = t.clone();
        // A cheap deterministic shuffle: rotate by the seed, then reverse every other step.
        let n = shuffled.segments.len().max(1);
        shuffled.segments.rotate_left((seed as usize) % n);
        if seed % 2 == 0 { shuffled.segments.reverse(); }
        let c = serde_json::to_string(&rubric.evaluate(&shuffled)).unwrap();
        prop_assert_eq!(&a, &c);
    }

    #[test]
    fn adding_a_passing_criterion_never_lowers_the_score(t in transcript(), weight in 0u32..=100) {
        let src = default_rubric_src();
        let before = DEFAULT.evaluate(&t);
        // A `none` phrase nobody ever says passes on every transcript, mono included.
        let extra = format!("{src}\n[[criteria]]\nid = \"always\"\nweight = {weight}\nnone = ['zqxj-never-said']\n");
        let after = Rubric::from_toml_str(&extra, "extra.toml").unwrap().evaluate(&t);
        prop_assert_eq!(after.results.last().unwrap().outcome, Outcome::Pass);
        prop_assert!(after.score >= before.score, "{} < {}", after.score, before.score);
    }
}

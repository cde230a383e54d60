//! Properties of redaction over generated calls: a random Luhn-valid card number read in a
//! random form (written groups, hyphens, one block, spoken digits with "oh", "double",
//! "triple", pairs such as "forty two"), split across the caller's turns with the agent's
//! "Yes." between, among ordinary talk full of other numbers.

use callscore_core::{Segment, Speaker, Transcript, Word};
use callscore_redact::luhn::luhn_valid;
use callscore_redact::{RedactionConfig, Redactor};
use proptest::prelude::*;

const DIGIT_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const TEENS: [&str; 10] = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// A Luhn-valid number of `len` digits from `body` (len - 1 digits, first non-zero).
fn card_from(body: &[u8]) -> String {
    let mut s: String = body.iter().map(|d| char::from(b'0' + d)).collect();
    for check in 0..10u8 {
        let candidate = format!("{s}{check}");
        if luhn_valid(&candidate) {
            s = candidate;
            break;
        }
    }
    s
}

#[derive(Debug, Clone, Copy)]
enum Style {
    Groups,
    Hyphens,
    Block,
    CommaDigits,
    Spoken,
    Pairs,
}

/// Reads one piece (a chunk of the number said in one turn) in a style.
fn read_piece(piece: &str, style: Style, sizes: &[usize]) -> String {
    let digits: Vec<u8> = piece.bytes().map(|b| b - b'0').collect();
    match style {
        Style::Block => piece.to_string(),
        Style::Groups | Style::Hyphens => {
            let mut out = Vec::new();
            let mut i = 0;
            let mut k = 0;
            while i < piece.len() {
                let n = sizes[k % sizes.len()].min(piece.len() - i);
                out.push(&piece[i..i + n]);
                i += n;
                k += 1;
            }
            out.join(if matches!(style, Style::Groups) {
                " "
            } else {
                "-"
            })
        }
        Style::CommaDigits => piece
            .chars()
            .map(|c| format!("{c},"))
            .collect::<Vec<_>>()
            .join(" "),
        Style::Spoken => {
            let all_zero = digits.iter().all(|&d| d == 0);
            let mut words = Vec::new();
            let mut i = 0;
            while i < digits.len() {
                let d = digits[i];
                let mut same = 1;
                while i + same < digits.len() && digits[i + same] == d && same < 3 {
                    same += 1;
                }
                let name = if d == 0 && !all_zero {
                    "oh"
                } else {
                    DIGIT_WORDS[usize::from(d)]
                };
                match (same, sizes[i % sizes.len()] % 2) {
                    (3, 0) => words.push(format!("triple {name}")),
                    (2, 0) | (3, 1) => {
                        words.push(format!("double {name}"));
                        same = 2;
                    }
                    _ => {
                        words.push(name.to_string());
                        same = 1;
                    }
                }
                i += same;
            }
            words.join(" ")
        }
        Style::Pairs => {
            let mut words = Vec::new();
            for pair in digits.chunks(2) {
                match *pair {
                    [a, b] if a >= 2 && b == 0 => words.push(TENS[usize::from(a)].to_string()),
                    [a, b] if a >= 2 => words.push(format!(
                        "{} {}",
                        TENS[usize::from(a)],
                        DIGIT_WORDS[usize::from(b)]
                    )),
                    [1, b] => words.push(TEENS[usize::from(b)].to_string()),
                    [0, b] => words.push(format!("oh {}", DIGIT_WORDS[usize::from(b)])),
                    [a] => words.push(DIGIT_WORDS[usize::from(a)].to_string()),
                    _ => {}
                }
            }
            words.join(", ")
        }
    }
}

/// Ordinary talk: words and numbers that are no card (short numbers, amounts, times).
fn noise() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("thanks".to_string()),
        Just("the".to_string()),
        Just("bill".to_string()),
        Just("um".to_string()),
        Just("yes".to_string()),
        Just("pay".to_string()),
        Just("today".to_string()),
        Just("£42.50".to_string()),
        Just("10:30".to_string()),
        Just("pounds".to_string()),
        Just("and".to_string()),
        (0u32..10_000).prop_map(|n| n.to_string()),
        (0u32..100).prop_map(|n| n.to_string()),
        (0usize..10).prop_map(|d| DIGIT_WORDS[d].to_string()),
    ];
    prop::collection::vec(word, 1..8).prop_map(|w| w.join(" "))
}

#[derive(Debug, Clone)]
struct Case {
    card: String,
    transcript: Transcript,
    /// Segments that hold only the card.
    card_segments: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        13usize..=19,
        prop::collection::vec(0u8..10, 18),
        1u8..10,
        prop_oneof![
            Just(Style::Groups),
            Just(Style::Hyphens),
            Just(Style::Block),
            Just(Style::CommaDigits),
            Just(Style::Spoken),
            Just(Style::Pairs),
        ],
        prop::collection::vec(1usize..6, 1..5),
        1usize..=4,
        prop::collection::vec(noise(), 0..4),
        prop::collection::vec(noise(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(len, body, first, style, sizes, pieces, before, after, its)| {
                let mut b = vec![first];
                b.extend_from_slice(&body[..len - 2]);
                let card = card_from(&b);
                let mut lines: Vec<(Speaker, String)> = Vec::new();
                for (i, n) in before.into_iter().enumerate() {
                    let who = if i % 2 == 0 {
                        Speaker::Agent
                    } else {
                        Speaker::Caller
                    };
                    lines.push((who, n));
                }
                // Cut the number into pieces of at least two digits, one per caller turn.
                let pieces = pieces.min(len / 2);
                let mut cuts = vec![0];
                for p in 1..pieces {
                    cuts.push(p * len / pieces);
                }
                cuts.push(len);
                let mut card_segments = Vec::new();
                for w in cuts.windows(2) {
                    if w[0] > 0 {
                        lines.push((Speaker::Agent, "Yes.".into()));
                    }
                    let mut text = read_piece(&card[w[0]..w[1]], style, &sizes);
                    if its && w[0] == 0 {
                        text = format!("it's {text}");
                    }
                    card_segments.push(lines.len());
                    lines.push((Speaker::Caller, text));
                }
                for (i, n) in after.into_iter().enumerate() {
                    let who = if i % 2 == 0 {
                        Speaker::Agent
                    } else {
                        Speaker::Caller
                    };
                    lines.push((who, n));
                }
                Case {
                    card,
                    transcript: transcript(&lines),
                    card_segments,
                }
            },
        )
}

fn transcript(lines: &[(Speaker, String)]) -> Transcript {
    let mut t = Transcript::default();
    let mut at = 500;
    for (speaker, text) in lines {
        let start = at;
        let words: Vec<Word> = text
            .split_whitespace()
            .map(|w| {
                at += 350;
                Word {
                    start_ms: at - 350,
                    end_ms: at - 50,
                    text: w.to_string(),
                }
            })
            .collect();
        t.segments.push(Segment {
            speaker: *speaker,
            start_ms: start,
            end_ms: at,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            words,
            ..Default::default()
        });
        at += 700;
    }
    t.duration_ms = at;
    t
}

/// The digits of a written number token ("4111", "4111-1111,", "4,111"), else `None`. Written
/// independently of the crate's tokenizer, as a reader would see it.
fn written_digits(token: &str) -> Option<String> {
    let t = token.trim_matches(|c: char| ",.;:!?".contains(c));
    let t: String = t.chars().filter(|&c| c != ',' && c != '-').collect();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
}

/// Every maximal run of written number tokens in `text` with 13–19 digits that passes Luhn.
fn luhn_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for tok in text.split_whitespace().chain(std::iter::once("|")) {
        match written_digits(tok) {
            Some(d) => run.push_str(&d),
            None => {
                if (13..=19).contains(&run.len()) && luhn_valid(&run) {
                    out.push(run.clone());
                }
                run.clear();
            }
        }
    }
    out
}

fn is_digit_word(token: &str) -> bool {
    let t = token
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_lowercase();
    written_digits(&t).is_some()
        || DIGIT_WORDS.contains(&t.as_str())
        || TENS.contains(&t.as_str()) && !t.is_empty()
        || TEENS.contains(&t.as_str())
        || matches!(t.as_str(), "oh" | "double" | "triple")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_luhn_valid_run_is_left_and_the_card_is_gone(case in case()) {
        let r = Redactor::new(RedactionConfig::default());
        let (out, summary) = r.redacted(&case.transcript);
        for (i, seg) in out.segments.iter().enumerate() {
            let words: Vec<&str> = seg.words.iter().map(|w| w.text.as_str()).collect();
            prop_assert_eq!(words.join(" "), seg.text.clone(), "words and text of segment {} diverged", i);
            prop_assert!(luhn_runs(&seg.text).is_empty(), "a Luhn-valid run is left in {:?}", seg.text);
        }
        prop_assert!(summary.count(callscore_redact::DataClass::CardNumber) >= 1, "card {} not found", case.card);
        for &s in &case.card_segments {
            let text = &out.segments[s].text;
            prop_assert!(
                !text.split_whitespace().any(is_digit_word),
                "card {} left digits in {:?} (was {:?})", case.card, text, case.transcript.segments[s].text
            );
            prop_assert!(out.redactions.iter().any(|r| {
                let seg = &case.transcript.segments[s];
                r.class == "card_number" && r.start_ms <= seg.start_ms + 350 && r.end_ms >= seg.end_ms - 50
            }), "no span covers segment {}", s);
        }
    }

    #[test]
    fn redaction_is_idempotent(case in case()) {
        let r = Redactor::new(RedactionConfig::all_classes());
        let (once, _) = r.redacted(&case.transcript);
        let (twice, again) = r.redacted(&once);
        prop_assert!(again.is_empty(), "second pass found {}", again);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn arbitrary_text_never_keeps_a_luhn_valid_run(
        tokens in prop::collection::vec(
            prop_oneof![
                (0u64..100_000).prop_map(|n| n.to_string()),
                (0u64..10).prop_map(|n| format!("{n},")),
                Just("and".to_string()),
                Just("yes.".to_string()),
                Just("pounds".to_string()),
                Just("the".to_string()),
            ],
            0..40,
        )
    ) {
        let text = tokens.join(" ");
        let out = Redactor::default().redact_text(&text);
        prop_assert!(luhn_runs(&out).is_empty(), "{:?} -> {:?}", text, out);
    }
}

#[test]
fn the_generator_makes_valid_cards() {
    for body in [
        [4u8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        [3, 7, 8, 2, 8, 2, 2, 4, 6, 3, 1, 0, 0, 0, 0],
    ] {
        let c = card_from(&body);
        assert_eq!(c.len(), 16);
        assert!(luhn_valid(&c));
    }
    assert_eq!(read_piece("4111", Style::Spoken, &[2]), "four triple one");
    assert_eq!(read_piece("4026", Style::Pairs, &[2]), "forty, twenty six");
    assert_eq!(
        read_piece("0000", Style::Spoken, &[1]),
        "double zero zero zero"
    );
}

//! Unit cases for detection and redaction: every spoken and written form, the cues, the
//! optional classes, the false positives that must stay, idempotence and spans.

use callscore_core::{Segment, Speaker, Transcript, Word};

use crate::{DataClass, PlaceholderStyle, RedactionConfig, Redactor};

/// A transcript from `(speaker, text)` lines, one segment each, with aligned words timed
/// 400 ms apart from 1 s on (as callscore's transcriber writes them).
fn call(lines: &[(&str, &str)]) -> Transcript {
    let mut t = Transcript::default();
    let mut at = 1_000;
    for (who, text) in lines {
        let speaker: Speaker = who.parse().unwrap();
        let start = at;
        let words: Vec<Word> = text
            .split_whitespace()
            .map(|w| {
                let word = Word {
                    start_ms: at,
                    end_ms: at + 300,
                    text: w.to_string(),
                };
                at += 400;
                word
            })
            .collect();
        t.segments.push(Segment {
            speaker,
            start_ms: start,
            end_ms: at,
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            words,
            ..Default::default()
        });
        at += 600;
    }
    t.duration_ms = at + 1_000;
    t
}

fn texts(t: &Transcript) -> Vec<String> {
    t.segments.iter().map(|s| s.text.clone()).collect()
}

fn redact_with(cfg: RedactionConfig, lines: &[(&str, &str)]) -> Vec<String> {
    let mut t = call(lines);
    Redactor::new(cfg).redact(&mut t);
    // The words always say what the text says.
    for s in &t.segments {
        let joined: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(joined.join(" "), s.text, "words and text diverged");
    }
    texts(&t)
}

fn redact(lines: &[(&str, &str)]) -> Vec<String> {
    redact_with(RedactionConfig::default(), lines)
}

fn one(text: &str) -> String {
    redact(&[("caller", text)]).remove(0)
}

fn all(text: &str) -> String {
    redact_with(RedactionConfig::all_classes(), &[("caller", text)]).remove(0)
}

// ---- card numbers: forms ----------------------------------------------------------------

#[test]
fn written_digits_in_groups() {
    assert_eq!(
        one("My card is 4111 1111 1111 1111 thanks."),
        "My card is [card number] thanks."
    );
}

#[test]
fn hyphens_and_one_block() {
    assert_eq!(one("It's 4111-1111-1111-1111."), "It's [card number].");
    assert_eq!(one("It's 4263982640269299."), "It's [card number].");
    assert_eq!(one("6-01-10-00-99-01-39-42-4"), "[card number]");
}

#[test]
fn commas_between_every_digit() {
    assert_eq!(
        one("4, 2, 6, 3, 9, 8, 2, 6, 4, 0, 2, 6, 9, 2, 9, 9,"),
        "[card number],"
    );
}

#[test]
fn spoken_digits() {
    assert_eq!(
        one("four two six three nine eight two six four oh two six nine two nine nine"),
        "[card number]"
    );
}

#[test]
fn double_triple_and_oh() {
    // 4111 1111 1111 1111
    assert_eq!(
        one("four triple one, one one double one, triple one one, double one double one"),
        "[card number]"
    );
    // 6011 0009 9013 9424
    assert_eq!(
        one("six oh double one, triple oh nine, nine oh one three, nine four two four"),
        "[card number]"
    );
}

#[test]
fn pairs_and_mixed_forms() {
    assert_eq!(
        one(
            "forty two sixty three ninety eight twenty six forty twenty six ninety two ninety nine"
        ),
        "[card number]"
    );
    assert_eq!(
        one("42 63 nine eight two six 4026 ninety-two 99"),
        "[card number]"
    );
    // 4111 1111 1111 1111 as "41 11 one one…"
    assert_eq!(
        one("it's 41 11 one one one one 11 11 one one 11"),
        "it's [card number]"
    );
}

#[test]
fn fillers_inside_the_number() {
    assert_eq!(one("4111 1111 um 1111, er, 1111"), "[card number]");
}

#[test]
fn groups_across_segments_with_interjections() {
    let out = redact(&[
        ("agent", "Can I take the long number please?"),
        ("caller", "4263"),
        ("agent", "Yes."),
        ("caller", "9826"),
        ("agent", "Go on."),
        ("caller", "4026,"),
        ("agent", "Mm-hm, thank you."),
        ("caller", "9299."),
        ("agent", "Lovely."),
    ]);
    assert_eq!(
        out,
        [
            "Can I take the long number please?",
            "[card number]",
            "Yes.",
            "[card number]",
            "Go on.",
            "[card number],",
            "Mm-hm, thank you.",
            "[card number].",
            "Lovely."
        ]
    );
}

#[test]
fn groups_across_segments_without_any_cue() {
    let out = redact(&[
        ("caller", "four two six three"),
        ("agent", "yes"),
        ("caller", "nine eight two six, four oh two six"),
        ("agent", "go on"),
        ("caller", "nine two nine nine"),
    ]);
    assert_eq!(
        out,
        [
            "[card number]",
            "yes",
            "[card number]",
            "go on",
            "[card number]"
        ]
    );
}

#[test]
fn a_mono_call_with_acknowledgements_inline() {
    let out = redact(&[("unknown", "It's 4263 9826 yes 4026 okay go on 9299 and")]);
    assert_eq!(out, ["It's [card number] and"]);
}

#[test]
fn the_other_speakers_real_turn_ends_the_number() {
    // The agent's question is a turn of its own: 4111 1111 1111 and 1111 are not one number
    // (neither part passes Luhn), and no card cue came before.
    let out = redact(&[
        ("caller", "4111 1111 1111"),
        (
            "agent",
            "Sorry, could you repeat the last group of digits for me?",
        ),
        ("caller", "1111"),
    ]);
    assert_eq!(out[0], "4111 1111 1111");
    assert_eq!(out[2], "1111");
}

#[test]
fn card_lengths_13_to_19() {
    assert_eq!(one("4222222222222"), "[card number]"); // 13
    assert_eq!(one("3622 7206 2716 67"), "[card number]"); // 14 (Diners)
    assert_eq!(one("3782 822463 10005"), "[card number]"); // 15 (Amex)
    assert_eq!(one("6205 5000 0000 0000 004"), "[card number]"); // 19 (UnionPay)
}

#[test]
fn a_card_followed_by_more_digits_in_one_breath() {
    // 16 card digits, then the expiry; the run is 20 digits long.
    assert_eq!(
        one("4111 1111 1111 1111 1225 is it"),
        "[card number] 1225 is it"
    );
    // Spoken without a pause: no group boundary tells where the card ends.
    let out =
        one("four one one one one one one one one one one one one one one one one two two five");
    assert!(out.starts_with("[card number]"), "{out}");
    assert!(!out.contains("four"), "{out}");
}

#[test]
fn a_number_after_a_card_cue_is_redacted_even_when_a_digit_was_misheard() {
    // 4263 9826 4426 9299 fails Luhn (one digit misheard): after "card number" it goes anyway.
    let out = redact(&[
        ("agent", "What's the card number?"),
        ("caller", "4, 2, 6, 3,"),
        ("agent", "Yes."),
        ("caller", "9, 8, 2, 6, 4, 4, 2, 6, 9, 2, 9, 9."),
    ]);
    assert_eq!(out[1], "[card number],");
    assert_eq!(out[3], "[card number].");
}

// ---- security codes and expiry dates ----------------------------------------------------

#[test]
fn security_code_after_its_cues() {
    assert_eq!(
        one("and the security code is 737 thanks"),
        "and the security code is [security code] thanks"
    );
    assert_eq!(one("CVV 1234."), "CVV [security code].");
    assert_eq!(
        one("the CVC is seven three seven"),
        "the CVC is [security code]"
    );
    assert_eq!(one("C V V, three oh eight."), "C V V, [security code].");
}

#[test]
fn security_code_in_the_other_partys_next_turn() {
    let out = redact(&[
        ("agent", "And the three digits on the back of the card?"),
        ("caller", "Um, it's 4, 1, 2."),
    ]);
    assert_eq!(
        out,
        [
            "And the three digits on the back of the card?",
            "Um, it's [security code]."
        ]
    );
}

#[test]
fn expiry_after_its_cues() {
    assert_eq!(one("expiry 04/26 thanks"), "expiry [expiry date] thanks");
    assert_eq!(
        one("the expiration date is oh four twenty six"),
        "the expiration date is [expiry date]"
    );
    assert_eq!(
        one("it's valid until December 2027 yes"),
        "it's valid until [expiry date] yes"
    );
    assert_eq!(
        one("it expires December twenty twenty eight."),
        "it expires [expiry date]."
    );
    assert_eq!(one("expiry date: 12 27."), "expiry date: [expiry date].");
    // As whisper writes "twenty twenty eight" and "oh four, twenty six".
    assert_eq!(one("expiry December 2020 8"), "expiry [expiry date]");
    assert_eq!(one("expiry 4, 20, 6."), "expiry [expiry date].");
}

#[test]
fn expiry_in_the_next_turn() {
    let out = redact(&[
        ("agent", "When does the card expire?"),
        ("caller", "December, twenty twenty seven."),
    ]);
    assert_eq!(out[1], "[expiry date].");
}

#[test]
fn card_security_code_and_expiry_in_one_call() {
    let out = redact(&[
        ("agent", "Card number, expiry and security code please."),
        ("caller", "4111 1111 1111 1111, 12 26, 737."),
    ]);
    assert_eq!(out[1], "[card number], [expiry date], [security code].");
}

#[test]
fn codes_said_right_after_the_card_without_a_heard_cue() {
    // Speech-to-text lost the agent's questions ("a cure really cold"); the card's reader
    // still says a code and a date right after the card.
    let out = redact(&[
        ("caller", "4263 9826 4026 9299"),
        ("agent", "Thank you. What's a cure really cold?"),
        ("caller", "3, 4, 2"),
        ("agent", "And the entire innate?"),
        ("caller", "0426."),
        (
            "agent",
            "That's 62 pounds paid, and your reference is 4471.",
        ),
    ]);
    assert_eq!(out[0], "[card number]");
    assert_eq!(out[2], "[security code]");
    assert_eq!(out[4], "[expiry date].");
    assert_eq!(out[5], "That's 62 pounds paid, and your reference is 4471.");
}

#[test]
fn no_cue_no_card_no_code() {
    assert_eq!(
        one("I've got 3 kids and 2 dogs"),
        "I've got 3 kids and 2 dogs"
    );
    assert_eq!(one("room 342 please"), "room 342 please");
}

// ---- optional classes -------------------------------------------------------------------

#[test]
fn national_insurance_numbers() {
    assert_eq!(
        all("it's AB 12 34 56 C thanks"),
        "it's [national insurance number] thanks"
    );
    assert_eq!(all("AB123456C."), "[national insurance number].");
    assert_eq!(
        all("A B one two three four five six C"),
        "[national insurance number]"
    );
    // Prefixes never issued, and a wrong suffix letter, stay.
    assert_eq!(all("GB 12 34 56 C"), "GB 12 34 56 C");
    assert_eq!(one("AB 12 34 56 C"), "AB 12 34 56 C");
}

#[test]
fn social_security_numbers() {
    assert_eq!(
        all("my SSN is 123-45-6789."),
        "my SSN is [social security number]."
    );
    assert_eq!(all("it's 123-45-6789"), "it's [social security number]");
    assert_eq!(
        all("social security number one two three four five six seven eight nine"),
        "social security number [social security number]"
    );
    // Never issued: area 000, 666 or 9xx.
    assert_eq!(all("it's 666-45-6789"), "it's 666-45-6789");
    assert_eq!(one("my SSN is 123-45-6789"), "my SSN is 123-45-6789");
}

#[test]
fn bank_accounts_and_sort_codes() {
    assert_eq!(
        all("account number 12345678 and sort code 20-00-00"),
        "account number [account number] and sort code [sort code]"
    );
    assert_eq!(all("sort code is 20 00 00."), "sort code is [sort code].");
    assert_eq!(
        all("the sort code? two oh, oh oh, oh oh"),
        "the sort code? [sort code]"
    );
    assert_eq!(all("it's 40-47-84"), "it's [sort code]");
    // Off by default: an account number stays.
    assert_eq!(
        one("my account number is 12345678"),
        "my account number is 12345678"
    );
}

#[test]
fn email_addresses() {
    assert_eq!(
        all("it's priya.raman@example.co.uk thanks"),
        "it's [email address] thanks"
    );
    assert_eq!(
        all("it's priya dot raman at example dot com"),
        "it's [email address]"
    );
    assert_eq!(
        all("send it to p.raman at example.com."),
        "send it to [email address]."
    );
    assert_eq!(all("I'm at home"), "I'm at home");
    assert_eq!(one("priya@example.com"), "priya@example.com");
}

#[test]
fn dates_of_birth() {
    assert_eq!(
        all("date of birth the 12th of March 1980."),
        "date of birth the [date of birth]."
    );
    assert_eq!(all("born on 12/03/1980"), "born on [date of birth]");
    assert_eq!(
        all("my birthday is March twelfth nineteen eighty"),
        "my birthday is [date of birth]"
    );
    assert_eq!(one("date of birth 12/03/1980"), "date of birth 12/03/1980");
}

#[test]
fn classes_switch_on_one_by_one() {
    let only_email = RedactionConfig::off().with_classes([DataClass::Email]);
    assert_eq!(
        redact_with(
            only_email,
            &[("caller", "a@example.com 4111 1111 1111 1111")]
        ),
        ["[email address] 4111 1111 1111 1111"]
    );
    assert_eq!(
        redact_with(RedactionConfig::off(), &[("caller", "4111 1111 1111 1111")]),
        ["4111 1111 1111 1111"]
    );
}

// ---- false positives --------------------------------------------------------------------

#[test]
fn order_and_reference_numbers_that_fail_luhn_stay() {
    for text in [
        "my order number is 1234 5678 9012 3456",
        "reference 4111 1111 1111 1112",
        "order one two three four five six seven eight nine oh one two three four five six",
        "ticket 71234568",
    ] {
        assert_eq!(one(text), text);
    }
}

#[test]
fn phone_numbers_stay() {
    for text in [
        "call me on 07700 900123",
        "it's oh seven seven oh oh, nine double oh one two three",
        "+44 20 7946 0958",
        "my number is 0, 2, 0, 9, 4, 9, 6, 0, 8, 1, 3.",
    ] {
        assert_eq!(one(text), text);
    }
}

#[test]
fn amounts_stay() {
    for text in [
        "I owe four hundred and twenty pounds",
        "that's £42.50 please",
        "forty two pounds fifty",
        "£1,250 and 15% off",
        "it was $4111.11 last year",
    ] {
        assert_eq!(one(text), text);
    }
}

#[test]
fn times_and_ordinary_dates_stay() {
    for text in [
        "I'll call at 10:30 on the 12th of March",
        "see you on 12/03 at half past ten",
        "your offer expires in 30 days",
        "it expires on the 12th",
        "born in the eighties, but that's another story",
    ] {
        assert_eq!(one(text), text);
    }
}

#[test]
fn an_amount_after_a_card_is_not_a_security_code() {
    let out = redact(&[
        ("caller", "4111 1111 1111 1111"),
        ("agent", "Thanks. How much would you like to pay today?"),
        ("caller", "120 pounds please"),
    ]);
    assert_eq!(out[2], "120 pounds please");
}

// ---- idempotence, styles, spans, text without words -------------------------------------

fn busy_call() -> Transcript {
    call(&[
        ("agent", "What's the card number?"),
        ("caller", "4263 9826"),
        ("agent", "Yes."),
        ("caller", "4026 9299. Oh and my email is a.b@example.com"),
        ("agent", "And the CVV and expiry?"),
        ("caller", "737, 04/26."),
        ("agent", "Your reference is 1234 5678 9012 3456."),
    ])
}

#[test]
fn redacting_twice_changes_nothing() {
    for cfg in [
        RedactionConfig::default(),
        RedactionConfig::all_classes(),
        RedactionConfig {
            placeholder: PlaceholderStyle::Generic,
            ..RedactionConfig::all_classes()
        },
    ] {
        let r = Redactor::new(cfg);
        let (once, s1) = r.redacted(&busy_call());
        let (twice, s2) = r.redacted(&once);
        assert!(s1.total() >= 3, "{s1}");
        assert!(s2.is_empty(), "second pass found {s2}");
        assert_eq!(once, twice);
    }
}

#[test]
fn generic_placeholders() {
    let cfg = RedactionConfig {
        placeholder: PlaceholderStyle::Generic,
        ..Default::default()
    };
    assert_eq!(
        redact_with(cfg, &[("caller", "4111 1111 1111 1111 and CVV 737")]),
        ["[redacted] and CVV [redacted]"]
    );
}

#[test]
fn spans_carry_class_speaker_and_the_margin() {
    let mut t = call(&[
        ("agent", "hello there"),
        ("caller", "It's 4111 1111 1111 1111"),
    ]);
    // Words of the caller's segment: "It's" 2400–2700, the four groups 2800–4300.
    Redactor::new(RedactionConfig::default()).redact(&mut t);
    assert_eq!(t.redactions.len(), 1);
    let r = &t.redactions[0];
    assert_eq!(r.class, "card_number");
    assert_eq!(r.speaker, Speaker::Caller);
    assert_eq!((r.start_ms, r.end_ms), (2800 - 500, 4300 + 500));
    // The placeholder word keeps the span of the words it replaced.
    let w = &t.segments[1].words[1];
    assert_eq!(
        (w.start_ms, w.end_ms, w.text.as_str()),
        (2800, 4300, "[card number]")
    );
}

#[test]
fn spans_of_one_number_across_turns_are_one_per_turn_and_merge_when_close() {
    let mut t = call(&[
        ("caller", "4263 9826"),
        ("agent", "yes"),
        ("caller", "4026 9299"),
    ]);
    Redactor::new(RedactionConfig {
        margin_ms: 0,
        ..Default::default()
    })
    .redact(&mut t);
    assert_eq!(t.redactions.len(), 2);
    let mut t2 = call(&[
        ("caller", "4263 9826"),
        ("agent", "yes"),
        ("caller", "4026 9299"),
    ]);
    Redactor::new(RedactionConfig {
        margin_ms: 1_000,
        ..Default::default()
    })
    .redact(&mut t2);
    // The pieces are 1.7 s apart: with a second either side they overlap, and merge.
    assert_eq!(t2.redactions.len(), 1);
    assert_eq!(t2.redactions[0].start_ms, 0);
}

#[test]
fn margins_are_clamped_to_the_call() {
    let mut t = call(&[("caller", "4111 1111 1111 1111")]);
    t.duration_ms = 2_600;
    Redactor::new(RedactionConfig {
        margin_ms: 5_000,
        ..Default::default()
    })
    .redact(&mut t);
    assert_eq!(
        (t.redactions[0].start_ms, t.redactions[0].end_ms),
        (0, 2_600)
    );
}

#[test]
fn segments_without_words_use_the_segment_span() {
    let mut t = Transcript {
        segments: vec![Segment {
            speaker: Speaker::Caller,
            start_ms: 10_000,
            end_ms: 14_000,
            text: "card 4111 1111 1111 1111.".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    Redactor::new(RedactionConfig::default()).redact(&mut t);
    assert_eq!(t.segments[0].text, "card [card number].");
    assert!(t.segments[0].words.is_empty());
    assert_eq!(
        (t.redactions[0].start_ms, t.redactions[0].end_ms),
        (9_500, 14_500)
    );
}

#[test]
fn words_that_do_not_spell_the_text_are_redacted_on_their_own() {
    // Another system's transcript: the text is punctuated, the words are not, and split
    // differently.
    let mut t = Transcript {
        segments: vec![Segment {
            speaker: Speaker::Caller,
            start_ms: 0,
            end_ms: 5_000,
            text: "It's 4111-1111-1111-1111, thanks.".into(),
            words: ["its", "4111", "1111", "1111", "1111", "thanks"]
                .iter()
                .enumerate()
                .map(|(i, w)| Word {
                    start_ms: i as u64 * 800,
                    end_ms: i as u64 * 800 + 600,
                    text: w.to_string(),
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    Redactor::new(RedactionConfig::default()).redact(&mut t);
    let s = &t.segments[0];
    assert_eq!(s.text, "It's [card number], thanks.");
    let words: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(words, ["its", "[card number]", "thanks"]);
    assert_eq!((s.words[1].start_ms, s.words[1].end_ms), (800, 3_800));
    // The word view's span (word times) and the text view's (the whole segment) both count.
    assert_eq!(t.redactions.len(), 1);
    assert_eq!(
        (t.redactions[0].start_ms, t.redactions[0].end_ms),
        (0, 5_500)
    );
}

#[test]
fn free_text() {
    let r = Redactor::default();
    assert_eq!(
        r.redact_text("card 4111 1111 1111 1111 exp 12/26"),
        "card [card number] exp [expiry date]"
    );
    assert_eq!(r.redact_text(""), "");
}

#[test]
fn nothing_of_the_values_reaches_debug_or_display() {
    let r = Redactor::new(RedactionConfig::all_classes());
    let mut t = busy_call();
    let summary = r.redact(&mut t);
    for shown in [
        format!("{summary:?}"),
        summary.to_string(),
        format!("{r:?}"),
        format!("{:?}", t.redactions),
        format!("{t:?}"),
    ] {
        for secret in ["4263", "9826", "4026", "9299", "737", "04/26", "a.b@"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    assert_eq!(
        summary.to_string(),
        "card_number 1, security_code 1, expiry_date 1, email 1"
    );
}

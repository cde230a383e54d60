//! From transcript text to the units detection reads.
//!
//! A *token* is a whitespace-separated piece of a segment's text (or of a word's text), with
//! the times of the word it belongs to; a placeholder such as `[card number]` is one token. A
//! *unit* is what a token means for detection: a token splits at hyphens and slashes
//! (`4111-1111`, `forty-one`, `09/28`), and spoken forms are resolved across tokens (`double
//! four` is one unit `44`, `forty one` is `41`, `oh` is `0` next to other digits). Redaction
//! then acts on whole tokens and words, never on parts of them.
//!
//! None of these types implement `Debug`: they hold the very text being redacted, and nothing
//! of it may reach a log.

use std::ops::Range;

use callscore_core::Speaker;

use crate::class::{known_placeholders, DataClass};

/// A piece of text between whitespace, in a segment's text or in one word.
pub(crate) struct Token {
    pub seg: usize,
    /// The word this token is part of, when the view has words.
    pub word: Option<usize>,
    /// Byte range in its source string (the segment text, or the word's text).
    pub range: Range<usize>,
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Speaker,
}

/// Splits text at whitespace, keeping each known placeholder (which has spaces inside) whole.
pub(crate) fn split_tokens(s: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let bytes = s.as_bytes();
    while pos < s.len() {
        let c = s[pos..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            pos += c.len_utf8();
            continue;
        }
        let start = pos;
        let mut end = None;
        if bytes[pos] == b'[' {
            for (p, _) in known_placeholders() {
                if s.get(pos..pos + p.len())
                    .is_some_and(|x| x.eq_ignore_ascii_case(p))
                {
                    end = Some(pos + p.len());
                    break;
                }
            }
        }
        let mut e = end.unwrap_or(pos);
        while e < s.len() {
            let c = s[e..].chars().next().unwrap_or(' ');
            if c.is_whitespace() {
                break;
            }
            e += c.len_utf8();
        }
        out.push(start..e);
        pos = e;
    }
    out
}

/// The class of a placeholder token (`Some(None)` for the generic `[redacted]`), `None` when
/// the token is not a placeholder.
pub(crate) fn placeholder_class(token: &str) -> Option<Option<DataClass>> {
    let t = token.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '[');
    known_placeholders()
        .find(|(p, _)| {
            t.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p))
                && !t[p.len()..].chars().any(char::is_alphanumeric)
        })
        .map(|(_, c)| c)
}

/// A pause after a unit, from the punctuation the speech-to-text put after the token.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pause {
    None,
    /// A comma, semicolon, colon or dash: a short pause inside a phrase.
    Weak,
    /// A full stop, question mark or exclamation mark.
    Strong,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Digits, written or spoken. `ambiguous`: a word that is a digit only by context ("oh",
    /// "for"), so a number may start or end on either side of it.
    Digits {
        digits: String,
        spoken: bool,
        ambiguous: bool,
    },
    /// Words people put inside a number without ending it: fillers ("um"), acknowledgements
    /// ("yes", "go on", in a mono recording), "and", "dash".
    Joiner,
    Month(u8),
    /// `12th`, `twelfth`: a day, for dates.
    Ordinal,
    /// `of`, `the`: joins the parts of a spoken date.
    Connector,
    Slash,
    /// An amount: `£42`, `42.50`, `15%`, or a currency word (`pounds`, `pence`). Numbers next to
    /// it are money, not card data.
    Currency,
    /// `double`, `triple`: resolved with the next digit, else a plain word.
    Multiplier(u8),
    /// `twenty`…`ninety`: resolved with a following spoken digit.
    Tens(u8),
    /// `oh`, `o`: zero next to other digits, else a word.
    Oh,
    /// `for`, `to`, `won`, `free`, `ate`: what speech-to-text writes for digits it mishears;
    /// digits only right next to other digits.
    Homophone(u8),
    Word,
    /// Part of a cue phrase ("security code", "expiry date") for a class.
    Cue(DataClass),
    /// A placeholder left by an earlier redaction.
    Placeholder(Option<DataClass>),
}

pub(crate) struct Unit {
    /// Tokens this unit covers (a merged unit such as `double four` covers two).
    pub tok_first: usize,
    pub tok_last: usize,
    pub seg: usize,
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Lowercase letters and digits only ("what's" → "whats", "c.v.v." → "cvv").
    pub norm: String,
    pub kind: Kind,
    pub pause: Pause,
}

impl Unit {
    pub fn digits(&self) -> Option<&str> {
        match &self.kind {
            Kind::Digits { digits, .. } => Some(digits),
            _ => None,
        }
    }

    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self.kind,
            Kind::Digits {
                ambiguous: true,
                ..
            }
        )
    }
}

const UNITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
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
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const MONTHS: [(&str, u8); 22] = [
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
];
const ORDINALS: &[&str] = &[
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "thirtieth",
];
const JOINERS: &[&str] = &[
    "um", "umm", "uh", "uhh", "uhm", "er", "erm", "err", "ah", "eh", "hmm", "hm", "mm", "mmm",
    "mhm", "huh", "and", "then", "yes", "yeah", "yep", "yup", "ok", "okay", "right", "alright",
    "go", "on", "sure", "so", "dash", "hyphen", "space", "next", "again",
];
const CURRENCY_WORDS: &[&str] = &[
    "pound", "pounds", "quid", "pence", "penny", "p", "dollar", "dollars", "bucks", "cent",
    "cents", "euro", "euros", "percent",
];
const HOMOPHONES: [(&str, u8); 8] = [
    ("for", 4),
    ("fore", 4),
    ("to", 2),
    ("too", 2),
    ("won", 1),
    ("free", 3),
    ("tree", 3),
    ("ate", 8),
];

fn digit_word(w: &str) -> Option<u8> {
    match w {
        "nought" | "naught" => Some(0),
        _ => UNITS.iter().position(|u| *u == w).map(|i| i as u8),
    }
}

/// Lowercase letters and digits of `s`.
pub(crate) fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The token without its leading and trailing punctuation, and the pause its trailing
/// punctuation marks.
pub(crate) fn core_of(token: &str) -> (Range<usize>, Pause) {
    let is_kept = |c: char| c.is_alphanumeric() || matches!(c, '£' | '$' | '€' | '¢' | '@');
    let start = token
        .char_indices()
        .find(|(_, c)| is_kept(*c))
        .map_or(token.len(), |(i, _)| i);
    let end = token
        .char_indices()
        .rev()
        .find(|(_, c)| is_kept(*c) || *c == '%')
        .map_or(start, |(i, c)| i + c.len_utf8())
        .max(start);
    let tail = &token[end..];
    let pause = if tail.contains(['.', '?', '!']) {
        Pause::Strong
    } else if tail.contains([',', ';', ':', '-', '–', '—', '…']) {
        Pause::Weak
    } else {
        Pause::None
    };
    (start..end, pause)
}

fn is_amount(core: &str) -> bool {
    let b = core.as_bytes();
    core.contains(['£', '$', '€', '¢'])
        || core.ends_with('%')
        // 42.50: a decimal point between digits.
        || b.windows(3).any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
        // 42p
        || (core.len() > 1
            && core.ends_with(['p', 'P'])
            && core[..core.len() - 1].bytes().all(|c| c.is_ascii_digit()))
}

/// Plain digits, allowing thousands commas (`4,111`).
fn plain_digits(part: &str) -> Option<String> {
    let b = part.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return None;
    }
    if !b.iter().all(|c| c.is_ascii_digit() || *c == b',') {
        return None;
    }
    Some(part.chars().filter(char::is_ascii_digit).collect())
}

fn is_digit_ordinal(norm: &str) -> bool {
    let split = norm
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(norm.len());
    split > 0 && matches!(&norm[split..], "st" | "nd" | "rd" | "th")
}

fn classify_part(part: &str) -> Kind {
    if let Some(d) = plain_digits(part) {
        return Kind::Digits {
            digits: d,
            spoken: false,
            ambiguous: false,
        };
    }
    let w = normalise(part);
    if w.is_empty() {
        return Kind::Word;
    }
    if let Some(d) = digit_word(&w) {
        return Kind::Digits {
            digits: d.to_string(),
            spoken: true,
            ambiguous: false,
        };
    }
    if let Some(i) = TEENS.iter().position(|t| *t == w) {
        return Kind::Digits {
            digits: (10 + i).to_string(),
            spoken: true,
            ambiguous: false,
        };
    }
    if let Some(i) = TENS.iter().position(|t| *t == w) {
        return Kind::Tens(2 + i as u8);
    }
    if let Some((_, m)) = MONTHS.iter().find(|(n, _)| *n == w) {
        return Kind::Month(*m);
    }
    if let Some((_, d)) = HOMOPHONES.iter().find(|(n, _)| *n == w) {
        return Kind::Homophone(*d);
    }
    match w.as_str() {
        "oh" | "o" => return Kind::Oh,
        "double" => return Kind::Multiplier(2),
        "triple" | "treble" => return Kind::Multiplier(3),
        "of" | "the" => return Kind::Connector,
        "slash" => return Kind::Slash,
        _ => {}
    }
    if ORDINALS.contains(&w.as_str()) || is_digit_ordinal(&w) {
        return Kind::Ordinal;
    }
    if JOINERS.contains(&w.as_str()) {
        return Kind::Joiner;
    }
    if CURRENCY_WORDS.contains(&w.as_str()) {
        return Kind::Currency;
    }
    Kind::Word
}

/// The units of one token, before context (multipliers, tens, "oh") is resolved.
fn token_units(tok: &Token, index: usize, out: &mut Vec<Unit>) {
    let unit = |kind: Kind, norm: String, pause: Pause| Unit {
        tok_first: index,
        tok_last: index,
        seg: tok.seg,
        speaker: tok.speaker,
        start_ms: tok.start_ms,
        end_ms: tok.end_ms,
        norm,
        kind,
        pause,
    };
    if let Some(class) = placeholder_class(&tok.text) {
        out.push(unit(Kind::Placeholder(class), String::new(), Pause::None));
        return;
    }
    let (core, pause) = core_of(&tok.text);
    let core = &tok.text[core];
    if core.is_empty() {
        return;
    }
    // Amounts, e-mail addresses and times of day are single words: their digits are not card
    // data and their hyphens are not separators.
    if is_amount(core) {
        out.push(unit(Kind::Currency, normalise(core), pause));
        return;
    }
    if core.contains('@') || core.contains(':') {
        out.push(unit(Kind::Word, normalise(core), pause));
        return;
    }
    let mut parts: Vec<(&str, bool)> = Vec::new(); // (text, is_slash)
    for (i, piece) in core.split('/').enumerate() {
        if i > 0 {
            parts.push(("/", true));
        }
        for p in piece.split(['-', '–']) {
            if !p.is_empty() {
                parts.push((p, false));
            }
        }
    }
    let n = parts.len();
    for (i, (p, slash)) in parts.into_iter().enumerate() {
        let kind = if slash { Kind::Slash } else { classify_part(p) };
        let this_pause = if i + 1 == n { pause } else { Pause::None };
        out.push(unit(kind, normalise(p), this_pause));
    }
}

/// Units of a whole transcript view, in order, with spoken forms resolved.
pub(crate) fn units_of(tokens: &[Token]) -> Vec<Unit> {
    let mut units = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        token_units(t, i, &mut units);
    }
    units
}

/// Whether `b` directly follows `a` in speech: same segment, no full stop between.
fn adjacent(a: &Unit, b: &Unit) -> bool {
    a.seg == b.seg && a.pause != Pause::Strong
}

fn single_digit(u: &Unit) -> Option<u8> {
    match &u.kind {
        Kind::Digits { digits, .. } if digits.len() == 1 => digits.parse().ok(),
        Kind::Oh => Some(0),
        Kind::Homophone(d) => Some(*d),
        _ => None,
    }
}

fn merged(a: &Unit, b: &Unit, digits: String, ambiguous: bool) -> Unit {
    Unit {
        tok_first: a.tok_first,
        tok_last: b.tok_last,
        seg: a.seg,
        speaker: a.speaker,
        start_ms: a.start_ms.min(b.start_ms),
        end_ms: a.end_ms.max(b.end_ms),
        norm: format!("{}{}", a.norm, b.norm),
        kind: Kind::Digits {
            digits,
            spoken: true,
            ambiguous,
        },
        pause: b.pause,
    }
}

/// Resolves spoken forms that depend on their neighbours. Cue words must already be marked
/// (so "three" in "three digits on the back" stays a cue, not a digit).
pub(crate) fn resolve(units: Vec<Unit>) -> Vec<Unit> {
    // "double four" → 44, "triple oh" → 000; "forty one" → 41, "forty" alone → 40.
    let mut out: Vec<Unit> = Vec::with_capacity(units.len());
    let mut it = units.into_iter().peekable();
    while let Some(u) = it.next() {
        match u.kind {
            Kind::Multiplier(n) => {
                let next_digit = it
                    .peek()
                    .filter(|v| u.pause == Pause::None && u.seg == v.seg)
                    .and_then(single_digit);
                if let Some(d) = next_digit {
                    let v = it.next().unwrap_or_else(|| unreachable!());
                    let digits = d.to_string().repeat(usize::from(n));
                    out.push(merged(&u, &v, digits, false));
                } else {
                    out.push(Unit {
                        kind: Kind::Word,
                        ..u
                    });
                }
            }
            Kind::Tens(t) => {
                let unit_word = it
                    .peek()
                    .filter(|v| u.pause == Pause::None && u.seg == v.seg)
                    .and_then(|v| match &v.kind {
                        Kind::Digits {
                            digits,
                            spoken: true,
                            ..
                        } if digits.len() == 1 && digits != "0" => digits.parse::<u8>().ok(),
                        Kind::Homophone(d) => Some(*d),
                        _ => None,
                    });
                if let Some(d) = unit_word {
                    let v = it.next().unwrap_or_else(|| unreachable!());
                    out.push(merged(&u, &v, format!("{t}{d}"), false));
                } else {
                    out.push(Unit {
                        kind: Kind::Digits {
                            digits: format!("{t}0"),
                            spoken: true,
                            ambiguous: false,
                        },
                        ..u
                    });
                }
            }
            _ => out.push(u),
        }
    }
    // "oh" is zero next to digits (chains: "oh oh seven"); otherwise a word.
    loop {
        let mut changed = false;
        for i in 0..out.len() {
            if out[i].kind != Kind::Oh {
                continue;
            }
            let prev = i
                .checked_sub(1)
                .map(|p| &out[p])
                .filter(|p| adjacent(p, &out[i]) && p.digits().is_some());
            let next = out
                .get(i + 1)
                .filter(|n| adjacent(&out[i], n) && n.digits().is_some());
            if prev.is_some() || next.is_some() {
                out[i].kind = Kind::Digits {
                    digits: "0".into(),
                    spoken: true,
                    ambiguous: true,
                };
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Homophones count only when right next to digits, with no pause between.
    for i in 0..out.len() {
        let Kind::Homophone(d) = out[i].kind else {
            continue;
        };
        let tight = |a: &Unit, b: &Unit| a.seg == b.seg && a.pause == Pause::None;
        let prev = i
            .checked_sub(1)
            .is_some_and(|p| out[p].digits().is_some() && tight(&out[p], &out[i]));
        let next = out
            .get(i + 1)
            .is_some_and(|n| n.digits().is_some() && tight(&out[i], n));
        out[i].kind = if prev || next {
            Kind::Digits {
                digits: d.to_string(),
                spoken: true,
                ambiguous: true,
            }
        } else {
            Kind::Word
        };
    }
    for u in &mut out {
        if u.kind == Kind::Oh {
            u.kind = Kind::Word;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Token> {
        split_tokens(text)
            .into_iter()
            .map(|r| Token {
                seg: 0,
                word: None,
                text: text[r.clone()].to_string(),
                range: r,
                start_ms: 0,
                end_ms: 0,
                speaker: Speaker::Caller,
            })
            .collect()
    }

    /// The digits of each digit unit, and `_` for anything else.
    fn read(text: &str) -> Vec<String> {
        resolve(units_of(&toks(text)))
            .iter()
            .map(|u| u.digits().map_or("_".to_string(), str::to_string))
            .collect()
    }

    #[test]
    fn placeholders_are_single_tokens() {
        let t = "It's [card number], and [security code]. [redacted]!";
        let spans: Vec<&str> = split_tokens(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(
            spans,
            [
                "It's",
                "[card number],",
                "and",
                "[security code].",
                "[redacted]!"
            ]
        );
        assert_eq!(
            placeholder_class("[card number],"),
            Some(Some(DataClass::CardNumber))
        );
        assert_eq!(placeholder_class("[redacted]"), Some(None));
        assert_eq!(placeholder_class("[card"), None);
        assert_eq!(placeholder_class("[card number]x"), None);
    }

    #[test]
    fn written_digits_hyphens_and_thousands_commas() {
        assert_eq!(read("4111-1111-1111"), ["4111", "1111", "1111"]);
        assert_eq!(read("4,111 11"), ["4111", "11"]);
        assert_eq!(read("41 11 one"), ["41", "11", "1"]);
    }

    #[test]
    fn spoken_forms() {
        assert_eq!(read("double four triple one"), ["44", "111"]);
        assert_eq!(read("forty one eleven"), ["41", "11"]);
        assert_eq!(read("forty-one, eighty"), ["41", "80"]);
        assert_eq!(read("oh four oh"), ["0", "4", "0"]);
        assert_eq!(read("double oh seven"), ["00", "7"]);
        assert_eq!(read("for one one"), ["4", "1", "1"]);
    }

    #[test]
    fn words_stay_words_without_digits_beside_them() {
        assert_eq!(read("oh, I see"), ["_", "_", "_"]);
        assert_eq!(read("double check"), ["_", "_"]);
        assert_eq!(read("thanks for calling"), ["_", "_", "_"]);
        assert_eq!(read("go to 3"), ["_", "2", "3"]); // a homophone right beside a digit counts
    }

    #[test]
    fn amounts_and_times_are_not_digits() {
        assert_eq!(
            read("£42.50 42.50 15% 42p 10:30"),
            ["_", "_", "_", "_", "_"]
        );
        let u = resolve(units_of(&toks("four hundred and twenty pounds")));
        assert!(matches!(u[1].kind, Kind::Word));
        assert!(matches!(u[2].kind, Kind::Joiner));
        assert!(matches!(u[4].kind, Kind::Currency));
    }

    #[test]
    fn punctuation_marks_pauses() {
        let u = units_of(&toks("one, two. three"));
        assert!(u[0].pause == Pause::Weak);
        assert!(u[1].pause == Pause::Strong);
        assert!(u[2].pause == Pause::None);
    }

    #[test]
    fn dates_split_at_slashes() {
        let u = resolve(units_of(&toks("09/28 December 12th")));
        assert_eq!(u[0].digits(), Some("09"));
        assert!(matches!(u[1].kind, Kind::Slash));
        assert_eq!(u[2].digits(), Some("28"));
        assert!(matches!(u[3].kind, Kind::Month(12)));
        assert!(matches!(u[4].kind, Kind::Ordinal));
    }
}

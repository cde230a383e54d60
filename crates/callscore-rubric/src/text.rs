//! A transcript prepared once per evaluation: segments in call order, split into sentences,
//! with helpers to tokenise, to time a piece of text and to quote it as evidence.

use crate::scope::Who;
use callscore_core::{CallMeta, Evidence, Speaker, Transcript, Word};
use std::cell::OnceCell;
use std::ops::Range;

/// Longest quote, in characters, before it is cut down to the words around the match.
const MAX_QUOTE_CHARS: usize = 140;
/// Words kept on each side of the match when a sentence is too long to quote whole.
const QUOTE_CONTEXT_WORDS: usize = 7;

/// One segment of the transcript with its sentences located.
#[derive(Debug)]
pub(crate) struct Seg<'t> {
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The text the checks read: the transcript's, with traditional Chinese characters folded
    /// to simplified ones (see [`fold_chinese`]). Same byte offsets as `shown`.
    pub text: &'t str,
    /// The text as transcribed, for quotes.
    pub shown: &'t str,
    /// `text` with ASCII letters lowercased: same byte offsets, for fast word look-ups.
    pub lower: &'t str,
    pub words: &'t [Word],
    /// Byte ranges of the sentences of `text`, trimmed, in order.
    pub sentences: &'t [Range<usize>],
    /// Where each timed word stands in `shown`, found on first use (see [`Seg::word_spans`]).
    word_spans: OnceCell<Vec<WordSpan>>,
}

/// A word of the segment located in its text: byte range in `shown` and call time.
#[derive(Debug, Clone, Copy)]
struct WordSpan {
    start: usize,
    end: usize,
    start_ms: u64,
    end_ms: u64,
}

/// The transcript as the detectors see it.
#[derive(Debug)]
pub(crate) struct Call<'t> {
    /// Length of the call: the transcript's duration, or the last segment's end when longer.
    pub duration_ms: u64,
    /// Segments ordered by (start, end, speaker, text), whatever order the file had.
    pub segs: Vec<Seg<'t>>,
    pub meta: &'t CallMeta,
    /// Why speakers are unknown on a diarized mono call, when diarization said why.
    pub speaker_note: Option<&'t str>,
    /// End of the last segment with words in it (0 for a call without speech).
    pub speech_end_ms: u64,
    pub has_agent: bool,
    pub has_caller: bool,
    pub has_unknown: bool,
    /// Each party's speech joined into one text, built on first use (see [`Joined`]).
    joined: [OnceCell<Joined>; 3],
}

/// One party's segments joined with newlines, so that a pattern is searched once per call
/// rather than once per segment (a regex search has a fixed cost that dominates on short text).
#[derive(Debug, Default)]
pub(crate) struct Joined {
    pub text: String,
    /// (offset in `text`, index in `Call::segs`) of each segment, in order.
    pub parts: Vec<(usize, usize)>,
}

impl Joined {
    /// The segment that byte `at` of the joined text belongs to: (segment index, offset of the
    /// segment's text in the joined text).
    pub fn locate(&self, at: usize) -> (usize, usize) {
        let i = self
            .parts
            .partition_point(|&(off, _)| off <= at)
            .saturating_sub(1);
        let (off, seg) = self.parts[i];
        (seg, off)
    }
}

impl<'t> Call<'t> {
    /// The speech of `who`, joined (built once per call and party).
    pub fn joined(&self, who: Who) -> &Joined {
        let slot = match who {
            Who::Agent => 0,
            Who::Caller => 1,
            Who::Any => 2,
        };
        self.joined[slot].get_or_init(|| {
            let mut j = Joined::default();
            for (i, seg) in self
                .segs
                .iter()
                .enumerate()
                .filter(|(_, s)| who.includes(s.speaker))
            {
                if !j.text.is_empty() {
                    j.text.push('\n');
                }
                j.parts.push((j.text.len(), i));
                j.text.push_str(seg.text);
            }
            j
        })
    }

    /// A call read as transcribed, without folding (for unit tests of English text). The
    /// prepared texts are leaked so that the call borrows only the transcript: test code only.
    #[cfg(test)]
    pub fn new(transcript: &'t Transcript) -> Call<'t> {
        let prepared: &'t Prepared =
            Box::leak(Box::new(Prepared::with_texts(transcript, Vec::new())));
        Call::with_texts(transcript, prepared)
    }

    /// A call whose segments are read as `prepared` holds them (folded, lowercased, split into
    /// sentences) and quoted as transcribed.
    pub fn with_texts(transcript: &'t Transcript, prepared: &'t Prepared) -> Call<'t> {
        let mut segs: Vec<Seg<'t>> = transcript
            .segments
            .iter()
            .zip(&prepared.spans)
            .enumerate()
            .map(|(i, (s, span))| {
                let text = prepared
                    .folded
                    .get(i)
                    .and_then(Option::as_deref)
                    .unwrap_or(s.text.as_str());
                Seg {
                    speaker: s.speaker,
                    start_ms: s.start_ms,
                    // A segment that ends before it starts is a broken timestamp; treat it as
                    // instantaneous.
                    end_ms: s.end_ms.max(s.start_ms),
                    text,
                    shown: s.text.as_str(),
                    lower: &prepared.lower[span.lower.clone()],
                    words: &s.words,
                    sentences: &prepared.sentences[span.sentences.clone()],
                    word_spans: OnceCell::new(),
                }
            })
            .collect();
        // The text is part of the key so that the order, and so the scorecard, does not depend
        // on the order segments had in the file.
        segs.sort_by(|a, b| {
            (a.start_ms, a.end_ms, a.speaker, a.text)
                .cmp(&(b.start_ms, b.end_ms, b.speaker, b.text))
        });
        let last_end = segs.iter().map(|s| s.end_ms).max().unwrap_or(0);
        let speech_end_ms = segs
            .iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| s.end_ms)
            .max()
            .unwrap_or(0);
        Call {
            duration_ms: transcript.duration_ms.max(last_end),
            speech_end_ms,
            has_agent: segs.iter().any(|s| s.speaker == Speaker::Agent),
            has_caller: segs.iter().any(|s| s.speaker == Speaker::Caller),
            has_unknown: segs.iter().any(|s| s.speaker == Speaker::Unknown),
            segs,
            meta: &transcript.meta,
            speaker_note: transcript.speaker_notes.first().map(String::as_str),
            joined: Default::default(),
        }
    }

    /// True when nobody in the transcript is attributed to agent or caller but someone spoke:
    /// a mono recording. Criteria about one party cannot be judged then.
    pub fn speakers_unknown(&self) -> bool {
        !self.has_agent && !self.has_caller && self.has_unknown
    }
}

impl Seg<'_> {
    /// The sentence (byte range) that contains byte `at`, or the whole text.
    pub fn sentence_at(&self, at: usize) -> Range<usize> {
        self.sentences
            .iter()
            .find(|r| r.start <= at && at < r.end.max(r.start + 1))
            .cloned()
            .or_else(|| self.sentences.iter().rev().find(|r| r.start <= at).cloned())
            .unwrap_or(0..self.text.len())
    }

    /// The call time of a byte range of the text. With word timestamps, the span of the words it
    /// touches; without them, the whole segment (the only honest answer a segment gives).
    pub fn time_of(&self, range: &Range<usize>) -> (u64, u64) {
        let mut found: Option<(u64, u64)> = None;
        for w in self.word_spans() {
            if w.start < range.end && range.start < w.end {
                let (s, e) = found.unwrap_or((w.start_ms, w.end_ms));
                found = Some((s.min(w.start_ms), e.max(w.end_ms)));
            }
            if w.start >= range.end {
                break;
            }
        }
        match found {
            Some((s, e)) => (
                s.max(self.start_ms).min(self.end_ms),
                e.min(self.end_ms).max(s),
            ),
            None => (self.start_ms, self.end_ms),
        }
    }

    /// The timed words located in the text, once per segment: evidence and "what was being said
    /// at" ask for the time of many ranges of the same segment.
    fn word_spans(&self) -> &[WordSpan] {
        self.word_spans.get_or_init(|| {
            let mut spans = Vec::with_capacity(self.words.len());
            let mut cursor = 0;
            for word in self.words {
                let needle = trim_word(&word.text);
                if needle.is_empty() {
                    continue;
                }
                // Words are aligned to the text in order; a word that is not found (a system
                // whose word list differs from its text) is skipped without moving the cursor.
                // Nearly always the word is the next thing after the spaces at the cursor:
                // that is checked before searching (the needle cannot start in those spaces, so
                // this finds what the search would).
                let rest = &self.shown[cursor..];
                let lead = rest.bytes().take_while(u8::is_ascii_whitespace).count();
                let found = if rest[lead..].starts_with(needle) {
                    Some(lead)
                } else {
                    rest.find(needle)
                };
                let Some(pos) = found else {
                    continue;
                };
                let (start, end) = (cursor + pos, cursor + pos + needle.len());
                cursor = end;
                spans.push(WordSpan {
                    start,
                    end,
                    start_ms: word.start_ms,
                    end_ms: word.end_ms,
                });
            }
            spans
        })
    }

    /// Evidence for a match: the sentence it is in (cut to the words around it when the
    /// sentence is long), with that quote's time.
    pub fn evidence(&self, matched: &Range<usize>) -> Evidence {
        let (quote, quoted) = self.quote(matched);
        let (start_ms, end_ms) = self.time_of(&quoted);
        Evidence {
            speaker: self.speaker,
            start_ms,
            end_ms,
            quote,
        }
    }

    /// The sentence being spoken at call time `ms`: by word times when the segment has them,
    /// else estimated from the position in the text (only to choose what to quote).
    pub fn sentence_near(&self, ms: u64) -> Range<usize> {
        let fallback = || {
            self.sentences
                .first()
                .cloned()
                .unwrap_or(0..self.text.len())
        };
        if self.sentences.len() <= 1 {
            return fallback();
        }
        if !self.words.is_empty() {
            return self
                .sentences
                .iter()
                .find(|s| self.time_of(s).1 > ms)
                .cloned()
                .unwrap_or_else(fallback);
        }
        let span = self.end_ms.saturating_sub(self.start_ms).max(1);
        let at = (ms.saturating_sub(self.start_ms).min(span) as u128 * self.text.len() as u128
            / span as u128) as usize;
        self.sentences
            .iter()
            .find(|s| s.end > at)
            .or(self.sentences.last())
            .cloned()
            .unwrap_or_else(fallback)
    }

    /// Evidence for the segment's first sentence (for "the agent's first words were …").
    pub fn opening_evidence(&self) -> Evidence {
        let first = self
            .sentences
            .first()
            .cloned()
            .unwrap_or(0..self.text.len());
        self.evidence(&first)
    }

    fn quote(&self, matched: &Range<usize>) -> (String, Range<usize>) {
        let sentence = self.sentence_at(matched.start);
        let sentence = sentence.start.min(matched.start)..sentence.end.max(matched.end);
        let text = &self.shown[sentence.clone()];
        if text.chars().count() <= MAX_QUOTE_CHARS {
            return (collapse_ws(text), sentence);
        }
        let toks = tokens(self.text, sentence.clone());
        let first = toks.iter().position(|t| t.end > matched.start).unwrap_or(0);
        let last = toks
            .iter()
            .rposition(|t| t.start < matched.end)
            .unwrap_or(first)
            .max(first);
        let from = first.saturating_sub(QUOTE_CONTEXT_WORDS);
        let to = (last + QUOTE_CONTEXT_WORDS).min(toks.len().saturating_sub(1));
        let (Some(a), Some(b)) = (toks.get(from), toks.get(to)) else {
            return (collapse_ws(text), sentence);
        };
        let range = a.start..b.end;
        let mut quote = String::new();
        if from > 0 {
            quote.push('…');
        }
        quote.push_str(&collapse_ws(&self.shown[range.clone()]));
        if to + 1 < toks.len() {
            quote.push('…');
        }
        (quote, range)
    }
}

impl Seg<'_> {
    /// What was said in a byte range of the segment, as transcribed (for reasons and quotes).
    pub fn said(&self, range: &Range<usize>) -> &str {
        &self.shown[range.clone()]
    }
}

/// `text` with traditional Chinese characters as simplified ones, or None when nothing changes.
/// Whisper writes Mandarin in either script (base often in traditional), and rubrics may be
/// written in either; the checks read both folded to simplified, as a search engine folds
/// script variants in its analyzer. Character for character and three bytes for three bytes
/// (every character of the table is three bytes in UTF-8), so byte offsets in the folded text
/// are offsets in the original: quotes show what was transcribed. Text without CJK characters
/// is not touched, so English costs one scan.
pub(crate) fn fold_chinese(text: &str) -> Option<String> {
    if text.is_ascii() || !text.chars().any(is_ideographic) {
        return None;
    }
    let folded = fast2s::convert(text);
    let aligned = folded.len() == text.len()
        && folded
            .char_indices()
            .zip(text.char_indices())
            .all(|((a, x), (b, y))| a == b && x.len_utf8() == y.len_utf8());
    (aligned && folded != text).then_some(folded)
}

/// The folded text of every segment that has one (see [`fold_chinese`]); empty when none has.
pub(crate) fn folded_texts(transcript: &Transcript) -> Vec<Option<String>> {
    let texts: Vec<Option<String>> = transcript
        .segments
        .iter()
        .map(|s| fold_chinese(&s.text))
        .collect();
    if texts.iter().all(Option::is_none) {
        Vec::new()
    } else {
        texts
    }
}

/// The texts a [`Call`] reads, prepared once per evaluation: each segment's folded text (where
/// folding changes it), its lowercase copy and its sentences. The lowercase copies and the
/// sentence ranges of all segments share one buffer each, which segments borrow: two
/// allocations per call instead of two per segment (a 10-minute call has ~200 segments, and
/// scoring one is a few dozen microseconds).
#[derive(Debug)]
pub(crate) struct Prepared {
    folded: Vec<Option<String>>,
    lower: String,
    sentences: Vec<Range<usize>>,
    spans: Vec<PreparedSpan>,
}

/// Where segment `i`'s pieces lie in [`Prepared`]'s shared buffers.
#[derive(Debug)]
struct PreparedSpan {
    lower: Range<usize>,
    sentences: Range<usize>,
}

impl Prepared {
    /// Folded as [`folded_texts`] folds (traditional Chinese read as simplified).
    pub fn new(transcript: &Transcript) -> Prepared {
        Prepared::with_texts(transcript, folded_texts(transcript))
    }

    /// Segment `i` read as `folded[i]` where that is given, else as transcribed.
    pub fn with_texts(transcript: &Transcript, folded: Vec<Option<String>>) -> Prepared {
        let total: usize = transcript.segments.iter().map(|s| s.text.len()).sum();
        let mut lower = String::with_capacity(total);
        let mut sentences = Vec::with_capacity(transcript.segments.len() * 2);
        let spans = transcript
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let text = folded
                    .get(i)
                    .and_then(Option::as_deref)
                    .unwrap_or(s.text.as_str());
                let at = lower.len();
                lower.push_str(text);
                lower[at..].make_ascii_lowercase();
                let first = sentences.len();
                sentences_into(text, &mut sentences);
                PreparedSpan {
                    lower: at..lower.len(),
                    sentences: first..sentences.len(),
                }
            })
            .collect();
        Prepared {
            folded,
            lower,
            sentences,
            spans,
        }
    }
}

/// A pattern that finds `phrase` as whole words, case-insensitively, whatever spacing and
/// punctuation stand between its words ("Acme Energy" finds "ACME-energy"). A word edge (`\b`)
/// is asserted only beside a letter or digit that is not an ideograph: an ideograph is a word
/// by itself (see [`is_ideographic`]), so there is always an edge beside it, while regex's `\b`
/// sees none inside running Chinese text ("欢迎致电长江银行" has no `\b` before 长).
pub(crate) fn words_pattern(phrase: &str) -> String {
    let words: Vec<&str> = phrase
        .split(|ch: char| !ch.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let edge = |c: Option<char>| match c {
        Some(c) if !is_ideographic(c) => r"\b",
        _ => "",
    };
    let first = words.first().and_then(|w| w.chars().next());
    let last = words.last().and_then(|w| w.chars().last());
    let body: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    format!("(?i){}{}{}", edge(first), body.join(r"\W*"), edge(last))
}

/// `word` without the whitespace around it, as `str::trim` gives it; byte by byte when both
/// ends are ASCII (every word whisper writes: " word"), because this runs for every timed word.
fn trim_word(word: &str) -> &str {
    let bytes = word.as_bytes();
    let (mut a, mut b) = (0, bytes.len());
    while a < b && bytes[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && bytes[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    let trimmed = &word[a..b];
    // An ASCII end that is not ASCII whitespace is not whitespace, but for the vertical tab,
    // which `trim` takes and `is_ascii_whitespace` does not; other ends go to `trim`.
    let plain = |c: Option<&u8>| c.is_some_and(|&c| c.is_ascii() && c != 0x0B);
    let t = trimmed.as_bytes();
    if plain(t.first()) && plain(t.last()) {
        trimmed
    } else {
        trimmed.trim()
    }
}

/// Runs of whitespace as single spaces, trimmed: quotes read as one line.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Abbreviations whose full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "no", "prof", "mt",
];

/// Full-width sentence ends of Chinese and Japanese text: 。！？ (and the half-width 。).
const CJK_TERMINATORS: [&[u8]; 4] = [
    "。".as_bytes(),
    "！".as_bytes(),
    "？".as_bytes(),
    "｡".as_bytes(),
];

/// The width of the sentence-ending mark at the start of `bytes`, if there is one.
fn terminator_at(bytes: &[u8]) -> Option<(usize, bool)> {
    const ELLIPSIS: &[u8] = "…".as_bytes();
    match bytes.first()? {
        b'.' | b'!' | b'?' => Some((1, false)),
        0xE2 if bytes.starts_with(ELLIPSIS) => Some((ELLIPSIS.len(), false)),
        0xE3 | 0xEF => CJK_TERMINATORS
            .iter()
            .find(|t| bytes.starts_with(t))
            .map(|t| (t.len(), true)),
        _ => None,
    }
}

/// Byte ranges of the sentences of `text`: split after `.`, `!`, `?` or `…` followed by
/// whitespace (or by Chinese or Japanese text, which has no spaces), and after `。`, `！`, `？`
/// wherever they stand, except after titles such as "Mr." Text without punctuation (common in
/// ASR output) is one sentence.
#[cfg(test)]
pub(crate) fn sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    sentences_into(text, &mut out);
    out
}

/// [`sentences`], appended to `out`.
pub(crate) fn sentences_into(text: &str, out: &mut Vec<Range<usize>>) {
    // Bytes, not chars: every terminator is ASCII or starts with 0xE2 ('…'), 0xE3 or 0xEF, and
    // this runs on every segment of every call scored.
    let bytes = text.as_bytes();
    // ASR output is nearly always ASCII: then only `.`, `!` and `?` can end a sentence, and
    // memchr jumps between them instead of testing every byte.
    let ascii = text.is_ascii();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if ascii {
            match memchr::memchr3(b'.', b'!', b'?', &bytes[i..]) {
                Some(k) => i += k,
                None => break,
            }
        }
        let Some((width, mut full_width)) = terminator_at(&bytes[i..]) else {
            i += 1;
            continue;
        };
        let is_dot = bytes[i] == b'.';
        let mut end = i + width;
        // "?!", "..." and "?…" (and "？！", "……") end one sentence together.
        while let Some((w, fw)) = terminator_at(&bytes[end..]) {
            end += w;
            full_width |= fw;
        }
        let followed_by_space = end >= bytes.len()
            || bytes[end].is_ascii_whitespace()
            || text[end..].chars().next().is_some_and(is_ideographic);
        let after_title = is_dot && end == i + 1 && {
            let word_start = bytes[..i]
                .iter()
                .rposition(|b| !b.is_ascii_alphanumeric())
                .map_or(0, |p| p + 1);
            ABBREVIATIONS
                .iter()
                .any(|a| bytes[word_start..i].eq_ignore_ascii_case(a.as_bytes()))
        };
        if (full_width || followed_by_space) && !after_title {
            push_trimmed(text, start..end, out);
            start = end;
        }
        i = end;
    }
    push_trimmed(text, start..text.len(), out);
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let (mut a, mut b) = (range.start, range.end);
    // ASCII whitespace is what separates sentences here; other spaces stay in the sentence.
    while a < b && bytes[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && bytes[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    if a < b {
        out.push(a..b);
    }
}

/// One word of text: letters and digits, with apostrophes and hyphens inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok<'a> {
    pub text: &'a str,
    /// Byte offsets in the segment text.
    pub start: usize,
    pub end: usize,
}

impl Tok<'_> {
    /// Lowercase, with typographic apostrophes made plain, for comparing with word lists.
    pub fn lower(&self) -> String {
        self.text.replace('’', "'").to_lowercase()
    }

    /// Case-insensitive comparison with a lowercase ASCII word.
    pub fn is(&self, lower_word: &str) -> bool {
        // Hot: detectors compare every word with word lists. The ASCII comparison decides
        // almost always; only text with typographic apostrophes or accents needs lowercasing.
        if self.text.eq_ignore_ascii_case(lower_word) {
            return true;
        }
        !self.text.is_ascii() && self.lower() == lower_word
    }

    /// Whether the word is in `sorted_lower_words` (lowercase, sorted, as `str` orders them).
    /// Binary search on a stack-lowercased copy: the detectors ask this of nearly every word.
    pub fn is_any(&self, sorted_lower_words: &[&str]) -> bool {
        debug_assert!(
            sorted_lower_words.windows(2).all(|w| w[0] < w[1]),
            "word list not sorted: {sorted_lower_words:?}"
        );
        let mut buf = [0u8; 24];
        let bytes = self.text.as_bytes();
        if bytes.len() <= buf.len() && self.text.is_ascii() {
            for (dst, src) in buf.iter_mut().zip(bytes) {
                *dst = src.to_ascii_lowercase();
            }
            // Lowercasing ASCII keeps it ASCII, so the buffer is valid UTF-8.
            let lower = std::str::from_utf8(&buf[..bytes.len()]).unwrap_or_default();
            return sorted_lower_words
                .binary_search_by(|w| cmp_short(w.as_bytes(), lower.as_bytes()))
                .is_ok();
        }
        sorted_lower_words
            .binary_search(&self.lower().as_str())
            .is_ok()
    }

    /// Starts with an uppercase letter.
    pub fn is_capitalised(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }

    /// Only letters, apostrophes and hyphens: something a name could be.
    pub fn is_alphabetic(&self) -> bool {
        self.text
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-'))
            && self.text.chars().any(char::is_alphabetic)
    }
}

/// `a.cmp(b)` for the short words of word lists, inline: the library's slice comparison calls
/// `memcmp`, whose call costs more than comparing a few bytes.
#[inline]
fn cmp_short(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// The words of `text[range]`, with byte offsets into `text`.
pub(crate) fn tokens(text: &str, range: Range<usize>) -> Vec<Tok<'_>> {
    TokenIter::new(text, range).collect()
}

/// The words of `text[range]` one by one, without collecting them (detectors that read only
/// the first words of a clause stop early).
pub(crate) struct TokenIter<'a> {
    text: &'a str,
    base: usize,
    end: usize,
    /// Set when `text[range]` is ASCII (nearly all ASR output): then words are read byte by
    /// byte from `at` (an offset in `text`), with the same rules and without decoding chars.
    ascii: bool,
    at: usize,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl<'a> TokenIter<'a> {
    pub fn new(text: &'a str, range: Range<usize>) -> TokenIter<'a> {
        let ascii = text[range.clone()].is_ascii();
        TokenIter {
            text,
            base: range.start,
            end: range.end,
            ascii,
            at: range.start,
            chars: if ascii { "" } else { &text[range] }
                .char_indices()
                .peekable(),
        }
    }

    /// [`Iterator::next`] for ASCII text: letters and digits, joined by `'` or `-` between them.
    fn next_ascii(&mut self) -> Option<Tok<'a>> {
        let bytes = self.text.as_bytes();
        let end = self.end;
        let mut i = self.at;
        while i < end && !bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i >= end {
            self.at = end;
            return None;
        }
        let start = i;
        while i < end {
            let b = bytes[i];
            let joins = matches!(b, b'\'' | b'-')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
                && i + 1 < end;
            if b.is_ascii_alphanumeric() || joins {
                i += 1;
            } else {
                break;
            }
        }
        self.at = i;
        Some(Tok {
            text: &self.text[start..i],
            start,
            end: i,
        })
    }
}

impl<'a> TokenIter<'a> {
    /// The token from local offset `s` to `e` of the range.
    fn tok(&self, s: usize, e: usize) -> Tok<'a> {
        Tok {
            text: &self.text[self.base + s..self.base + e],
            start: self.base + s,
            end: self.base + e,
        }
    }
}

impl<'a> Iterator for TokenIter<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        if self.ascii {
            return self.next_ascii();
        }
        let mut start: Option<usize> = None;
        while let Some(&(i, c)) = self.chars.peek() {
            // An ideograph is a word by itself, whatever stands next to it: "您好" is two.
            if is_ideographic(c) {
                if let Some(s) = start {
                    return Some(self.tok(s, i));
                }
                self.chars.next();
                return Some(self.tok(i, i + c.len_utf8()));
            }
            self.chars.next();
            if c.is_alphanumeric() {
                start.get_or_insert(i);
                continue;
            }
            // An apostrophe or hyphen joins letters on both sides ("I'm", "Mary-Jane").
            let joins = matches!(c, '\'' | '’' | '-')
                && start.is_some()
                && self
                    .chars
                    .peek()
                    .is_some_and(|&(_, n)| n.is_alphanumeric() && !is_ideographic(n));
            if joins {
                continue;
            }
            if let Some(s) = start {
                return Some(self.tok(s, i));
            }
        }
        start.map(|s| self.tok(s, self.end - self.base))
    }
}

/// Whether `c` is a word on its own: a CJK ideograph (Chinese hanzi, Japanese kanji), or
/// hiragana or bopomofo, which are also written without spaces. This is how search engines
/// tokenise these scripts without a dictionary (Unicode's word-boundary rules, UAX #29, break
/// between any two of them; Lucene's standard tokenizer emits one token each): every word edge
/// a segmenter could find is then an edge here too, so a phrase never fails to match because a
/// dictionary cut it differently. Katakana runs and Hangul stay whole words, as in UAX #29
/// (Korean is written with spaces).
pub(crate) fn is_ideographic(c: char) -> bool {
    // Everything below U+3000 is not: one comparison for Latin text.
    (c as u32) >= 0x3000
        && matches!(c as u32,
            0x3005..=0x3007 // 々 〆 〇
            | 0x3040..=0x309F // hiragana
            | 0x3100..=0x312F | 0x31A0..=0x31BF // bopomofo
            | 0x3400..=0x4DBF // CJK extension A
            | 0x4E00..=0x9FFF // CJK unified ideographs
            | 0xF900..=0xFAFF // CJK compatibility ideographs
            | 0x20000..=0x323AF) // CJK extensions B–H
}

/// The character just before byte `at`, skipping spaces.
pub(crate) fn prev_nonspace(text: &str, at: usize) -> Option<char> {
    text[..at].chars().rev().find(|c| !c.is_whitespace())
}

/// The character at or after byte `at`, skipping spaces.
pub(crate) fn next_nonspace(text: &str, at: usize) -> Option<char> {
    text[at..].chars().find(|c| !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_core::Segment;

    fn seg_text(text: &str) -> Vec<&str> {
        sentences(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn sentences_split_on_terminal_punctuation_but_not_titles() {
        assert_eq!(
            seg_text("Hello. How are you? Fine!"),
            vec!["Hello.", "How are you?", "Fine!"]
        );
        assert_eq!(
            seg_text("Thanks Mr. Novak. Bye"),
            vec!["Thanks Mr. Novak.", "Bye"]
        );
        assert_eq!(
            seg_text("no punctuation at all"),
            vec!["no punctuation at all"]
        );
        assert_eq!(
            seg_text("Wait... what?! ok"),
            vec!["Wait...", "what?!", "ok"]
        );
        assert_eq!(
            seg_text("It costs 1.50 today."),
            vec!["It costs 1.50 today."]
        );
        assert!(seg_text("   ").is_empty());
    }

    #[test]
    fn tokens_keep_apostrophes_and_hyphens_inside_words() {
        let text = "I'm Mary-Jane, it’s 'quoted' - fine.";
        let toks: Vec<&str> = tokens(text, 0..text.len()).iter().map(|t| t.text).collect();
        assert_eq!(toks, vec!["I'm", "Mary-Jane", "it’s", "quoted", "fine"]);
        let t = tokens(text, 0..text.len());
        assert!(t[2].is("it's"));
        assert!(t[1].is_capitalised());
    }

    #[test]
    fn words_are_trimmed_as_str_trim_trims_them() {
        for w in [
            " word",
            "word ",
            "  two words\t",
            "",
            " ",
            "\u{0B}x\u{0B}",
            " \u{a0}nbsp\u{2003}",
            "\r\nx\n",
            "é ",
            " ü",
            "\u{0B}",
        ] {
            assert_eq!(trim_word(w), w.trim(), "{w:?}");
        }
    }

    /// The ASCII fast path reads the same words as the char-by-char path, at every range.
    #[test]
    fn ascii_tokens_match_the_general_tokeniser() {
        let texts = [
            "I'm Mary-Jane, it's 'quoted' - fine.",
            "--a-b--c'' d'e' 'f x-- -y 12-34 5'6'",
            "  how can i help you today  ",
            "end-",
            "'",
            "",
            "o'-k a'-b -'c",
        ];
        for text in texts {
            for start in 0..=text.len() {
                for end in start..=text.len() {
                    let fast: Vec<Tok<'_>> = TokenIter::new(text, start..end).collect();
                    let mut general = TokenIter::new(text, start..end);
                    general.ascii = false;
                    general.chars = text[start..end].char_indices().peekable();
                    let general: Vec<Tok<'_>> = general.collect();
                    assert_eq!(fast, general, "{text:?}[{start}..{end}]");
                }
            }
        }
    }

    fn call_with(text: &str, words: Vec<Word>) -> Transcript {
        Transcript {
            segments: vec![Segment {
                speaker: Speaker::Agent,
                start_ms: 1_000,
                end_ms: 9_000,
                text: text.into(),
                words,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn time_of_uses_word_timestamps_when_present() {
        let w = |s, e, t: &str| Word {
            start_ms: s,
            end_ms: e,
            text: t.into(),
        };
        let t = call_with(
            "Hello there. Calm down please.",
            vec![
                w(1_000, 1_400, " Hello"),
                w(1_400, 1_900, " there."),
                w(4_000, 4_300, " Calm"),
                w(4_300, 4_800, " down"),
                w(4_800, 5_200, " please."),
            ],
        );
        let call = Call::new(&t);
        let seg = &call.segs[0];
        let at = seg.text.find("Calm").unwrap();
        assert_eq!(seg.time_of(&(at..at + 9)), (4_000, 4_800));
        let ev = seg.evidence(&(at..at + 9));
        assert_eq!(ev.quote, "Calm down please.");
        assert_eq!((ev.start_ms, ev.end_ms), (4_000, 5_200));
    }

    #[test]
    fn time_of_falls_back_to_the_segment() {
        let t = call_with("Hello there. Calm down please.", vec![]);
        let call = Call::new(&t);
        assert_eq!(call.segs[0].time_of(&(13..17)), (1_000, 9_000));
    }

    #[test]
    fn long_sentences_are_quoted_around_the_match() {
        let filler = "and then we looked at the account again ".repeat(6);
        let text = format!("{filler}you need to calm down {filler}");
        let t = call_with(&text, vec![]);
        let call = Call::new(&t);
        let at = text.find("calm down").unwrap();
        let ev = call.segs[0].evidence(&(at..at + 9));
        assert!(ev.quote.contains("calm down"));
        assert!(
            ev.quote.starts_with('…') && ev.quote.ends_with('…'),
            "{}",
            ev.quote
        );
        assert!(ev.quote.chars().count() < 120, "{}", ev.quote);
    }

    #[test]
    fn call_orders_segments_and_knows_when_speakers_are_unknown() {
        let seg = |sp, s, e| Segment {
            speaker: sp,
            start_ms: s,
            end_ms: e,
            text: "x".into(),
            words: vec![],
            ..Default::default()
        };
        let t = Transcript {
            segments: vec![
                seg(Speaker::Unknown, 5_000, 6_000),
                seg(Speaker::Unknown, 0, 1_000),
            ],
            duration_ms: 3_000,
            ..Default::default()
        };
        let call = Call::new(&t);
        assert_eq!(call.segs[0].start_ms, 0);
        assert_eq!(call.duration_ms, 6_000);
        assert!(call.speakers_unknown());
    }

    #[test]
    fn cjk_characters_are_words_by_themselves() {
        let text = "您好，欢迎致电ABC银行！我是O'Brien-王";
        let toks: Vec<&str> = tokens(text, 0..text.len()).iter().map(|t| t.text).collect();
        assert_eq!(
            toks,
            vec![
                "您", "好", "欢", "迎", "致", "电", "ABC", "银", "行", "我", "是", "O'Brien", "王"
            ]
        );
        // Katakana runs and Hangul stay whole words.
        let text = "コールセンター 안녕하세요";
        let toks: Vec<&str> = tokens(text, 0..text.len()).iter().map(|t| t.text).collect();
        assert_eq!(toks, vec!["コールセンター", "안녕하세요"]);
    }

    #[test]
    fn chinese_sentences_end_at_full_width_marks_without_spaces() {
        assert_eq!(
            seg_text("您好。请问您贵姓？好的！谢谢"),
            vec!["您好。", "请问您贵姓？", "好的！", "谢谢"]
        );
        assert_eq!(seg_text("您好?我是王芳."), vec!["您好?", "我是王芳."]);
        assert_eq!(seg_text("真的吗？！好"), vec!["真的吗？！", "好"]);
    }

    #[test]
    fn traditional_text_folds_to_simplified_with_the_same_offsets() {
        let t = "您好,歡迎致電長江銀行";
        let f = fold_chinese(t).unwrap();
        assert_eq!(f, "您好,欢迎致电长江银行");
        assert_eq!(f.len(), t.len());
        assert_eq!(fold_chinese("Hello, Acme."), None);
        assert_eq!(
            fold_chinese("您好"),
            None,
            "already simplified: nothing to change"
        );

        // Quotes show the text as transcribed; the checks read the folded one.
        let tr = call_with(t, vec![]);
        let prepared = Prepared::new(&tr);
        let call = Call::with_texts(&tr, &prepared);
        let seg = &call.segs[0];
        let at = seg.text.find("欢迎").unwrap();
        assert_eq!(seg.evidence(&(at..at + 6)).quote, t);
        assert_eq!(seg.said(&(at..at + 6)), "歡迎");
    }

    #[test]
    fn word_patterns_need_no_edge_beside_cjk_characters() {
        assert_eq!(words_pattern("Acme Energy"), r"(?i)\bAcme\W*Energy\b");
        assert_eq!(words_pattern("长江银行"), "(?i)长江银行");
        assert_eq!(words_pattern("ABC银行"), r"(?i)\bABC银行");
        let re = regex::Regex::new(&words_pattern("长江银行")).unwrap();
        assert!(re.is_match("欢迎致电长江银行我是王芳"));
    }
}

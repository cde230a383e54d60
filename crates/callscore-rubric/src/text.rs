//! A transcript prepared once per evaluation: segments in call order, split into sentences,
//! with helpers to tokenise, to time a piece of text and to quote it as evidence.

use callscore_core::{CallMeta, Evidence, Speaker, Transcript, Word};
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
    pub text: &'t str,
    pub words: &'t [Word],
    /// Byte ranges of the sentences of `text`, trimmed, in order.
    pub sentences: Vec<Range<usize>>,
}

/// The transcript as the detectors see it.
#[derive(Debug)]
pub(crate) struct Call<'t> {
    /// Length of the call: the transcript's duration, or the last segment's end when longer.
    pub duration_ms: u64,
    /// Segments ordered by (start, end, speaker), whatever order the file had.
    pub segs: Vec<Seg<'t>>,
    pub meta: &'t CallMeta,
    pub has_agent: bool,
    pub has_caller: bool,
    pub has_unknown: bool,
}

impl<'t> Call<'t> {
    pub fn new(transcript: &'t Transcript) -> Call<'t> {
        let mut segs: Vec<Seg<'t>> = transcript
            .segments
            .iter()
            .map(|s| Seg {
                speaker: s.speaker,
                start_ms: s.start_ms,
                // A segment that ends before it starts is a broken timestamp; treat it as instantaneous.
                end_ms: s.end_ms.max(s.start_ms),
                text: s.text.as_str(),
                words: &s.words,
                sentences: sentences(&s.text),
            })
            .collect();
        segs.sort_by(|a, b| (a.start_ms, a.end_ms, a.speaker).cmp(&(b.start_ms, b.end_ms, b.speaker)));
        let last_end = segs.iter().map(|s| s.end_ms).max().unwrap_or(0);
        Call {
            duration_ms: transcript.duration_ms.max(last_end),
            has_agent: segs.iter().any(|s| s.speaker == Speaker::Agent),
            has_caller: segs.iter().any(|s| s.speaker == Speaker::Caller),
            has_unknown: segs.iter().any(|s| s.speaker == Speaker::Unknown),
            segs,
            meta: &transcript.meta,
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
        let mut cursor = 0;
        for word in self.words {
            let needle = word.text.trim();
            if needle.is_empty() {
                continue;
            }
            // Words are aligned to the text in order; a word that is not found (a system whose
            // word list differs from its text) is skipped without moving the cursor.
            let Some(pos) = self.text[cursor..].find(needle) else { continue };
            let (ws, we) = (cursor + pos, cursor + pos + needle.len());
            cursor = we;
            if ws < range.end && range.start < we {
                let (s, e) = found.unwrap_or((word.start_ms, word.end_ms));
                found = Some((s.min(word.start_ms), e.max(word.end_ms)));
            }
            if ws >= range.end {
                break;
            }
        }
        match found {
            Some((s, e)) => (s.max(self.start_ms).min(self.end_ms), e.min(self.end_ms).max(s)),
            None => (self.start_ms, self.end_ms),
        }
    }

    /// Evidence for a match: the sentence it is in (cut to the words around it when the
    /// sentence is long), with that quote's time.
    pub fn evidence(&self, matched: &Range<usize>) -> Evidence {
        let (quote, quoted) = self.quote(matched);
        let (start_ms, end_ms) = self.time_of(&quoted);
        Evidence { speaker: self.speaker, start_ms, end_ms, quote }
    }

    /// Evidence quoting a whole sentence.
    pub fn sentence_evidence(&self, sentence: &Range<usize>) -> Evidence {
        self.evidence(sentence)
    }

    /// Evidence for the segment's first sentence (for "the agent's first words were …").
    pub fn opening_evidence(&self) -> Evidence {
        let first = self.sentences.first().cloned().unwrap_or(0..self.text.len());
        self.evidence(&first)
    }

    fn quote(&self, matched: &Range<usize>) -> (String, Range<usize>) {
        let sentence = self.sentence_at(matched.start);
        let sentence = sentence.start.min(matched.start)..sentence.end.max(matched.end);
        let text = &self.text[sentence.clone()];
        if text.chars().count() <= MAX_QUOTE_CHARS {
            return (collapse_ws(text), sentence);
        }
        let toks = tokens(self.text, sentence.clone());
        let first = toks.iter().position(|t| t.end > matched.start).unwrap_or(0);
        let last = toks.iter().rposition(|t| t.start < matched.end).unwrap_or(first).max(first);
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
        quote.push_str(&collapse_ws(&self.text[range.clone()]));
        if to + 1 < toks.len() {
            quote.push('…');
        }
        (quote, range)
    }
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Abbreviations whose full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &["mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "no", "prof", "mt"];

/// Byte ranges of the sentences of `text`: split after `.`, `!`, `?` or `…` followed by
/// whitespace, except after titles such as "Mr." Text without punctuation (common in ASR
/// output) is one sentence.
pub(crate) fn sentences(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        let end = i + c.len_utf8();
        let followed_by_space = end >= bytes.len() || bytes[end].is_ascii_whitespace();
        if !followed_by_space {
            continue;
        }
        if c == '.' {
            let word_start = text[..i].rfind(|ch: char| !ch.is_alphanumeric()).map_or(0, |p| p + 1);
            if ABBREVIATIONS.iter().any(|a| text[word_start..i].eq_ignore_ascii_case(a)) {
                continue;
            }
        }
        push_trimmed(text, start..end, &mut out);
        start = end;
        while let Some(&(_, next)) = iter.peek() {
            if matches!(next, '.' | '!' | '?' | '…') {
                iter.next();
            } else {
                break;
            }
        }
    }
    push_trimmed(text, start..text.len(), &mut out);
    out
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let piece = &text[range.clone()];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail < piece.len() {
        out.push(range.start + lead..range.end - trail);
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
        if self.text.is_ascii() {
            self.text.eq_ignore_ascii_case(lower_word)
        } else {
            self.lower() == lower_word
        }
    }

    pub fn is_any(&self, lower_words: &[&str]) -> bool {
        lower_words.iter().any(|w| self.is(w))
    }

    /// Starts with an uppercase letter.
    pub fn is_capitalised(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }

    /// Only letters, apostrophes and hyphens: something a name could be.
    pub fn is_alphabetic(&self) -> bool {
        self.text.chars().all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-')) && self.text.chars().any(char::is_alphabetic)
    }
}

/// The words of `text[range]`, with byte offsets into `text`.
pub(crate) fn tokens(text: &str, range: Range<usize>) -> Vec<Tok<'_>> {
    let slice = &text[range.clone()];
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = slice.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_word = c.is_alphanumeric();
        let joins = matches!(c, '\'' | '’' | '-')
            && start.is_some()
            && chars.peek().is_some_and(|&(_, n)| n.is_alphanumeric());
        match (start, is_word || joins) {
            (None, true) if is_word => start = Some(i),
            (Some(s), false) => {
                out.push(Tok { text: &slice[s..i], start: range.start + s, end: range.start + i });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Tok { text: &slice[s..], start: range.start + s, end: range.end });
    }
    out
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
        assert_eq!(seg_text("Hello. How are you? Fine!"), vec!["Hello.", "How are you?", "Fine!"]);
        assert_eq!(seg_text("Thanks Mr. Novak. Bye"), vec!["Thanks Mr. Novak.", "Bye"]);
        assert_eq!(seg_text("no punctuation at all"), vec!["no punctuation at all"]);
        assert_eq!(seg_text("Wait... what?! ok"), vec!["Wait...", "what?!", "ok"]);
        assert_eq!(seg_text("It costs 1.50 today."), vec!["It costs 1.50 today."]);
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

    fn call_with(text: &str, words: Vec<Word>) -> Transcript {
        Transcript {
            segments: vec![Segment { speaker: Speaker::Agent, start_ms: 1_000, end_ms: 9_000, text: text.into(), words }],
            ..Default::default()
        }
    }

    #[test]
    fn time_of_uses_word_timestamps_when_present() {
        let w = |s, e, t: &str| Word { start_ms: s, end_ms: e, text: t.into() };
        let t = call_with(
            "Hello there. Calm down please.",
            vec![w(1_000, 1_400, " Hello"), w(1_400, 1_900, " there."), w(4_000, 4_300, " Calm"), w(4_300, 4_800, " down"), w(4_800, 5_200, " please.")],
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
        assert!(ev.quote.starts_with('…') && ev.quote.ends_with('…'), "{}", ev.quote);
        assert!(ev.quote.chars().count() < 120, "{}", ev.quote);
    }

    #[test]
    fn call_orders_segments_and_knows_when_speakers_are_unknown() {
        let seg = |sp, s, e| Segment { speaker: sp, start_ms: s, end_ms: e, text: "x".into(), words: vec![] };
        let t = Transcript { segments: vec![seg(Speaker::Unknown, 5_000, 6_000), seg(Speaker::Unknown, 0, 1_000)], duration_ms: 3_000, ..Default::default() };
        let call = Call::new(&t);
        assert_eq!(call.segs[0].start_ms, 0);
        assert_eq!(call.duration_ms, 6_000);
        assert!(call.speakers_unknown());
    }
}

//! Redacting a transcript: detection over its text (and words), placeholders in their place,
//! and the redacted spans with their audio margin.

use std::collections::BTreeMap;
use std::fmt;

use callscore_core::{Redaction, Segment, Speaker, Transcript, Word};

use crate::class::DataClass;
use crate::config::RedactionConfig;
use crate::detect::{mark_cues, Detector, Patterns};
use crate::units::{core_of, resolve, split_tokens, units_of, Token};

/// Redacts transcripts with one configuration. Cheap to build; share it across threads.
#[derive(Debug, Clone)]
pub struct Redactor {
    cfg: RedactionConfig,
    patterns: Patterns,
}

impl Default for Redactor {
    /// Card data, the default configuration.
    fn default() -> Self {
        Redactor::new(RedactionConfig::default())
    }
}

/// How many items of each class one redaction found. It holds counts only, never values, so
/// it can be logged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionSummary {
    counts: BTreeMap<DataClass, usize>,
}

impl RedactionSummary {
    pub fn count(&self, class: DataClass) -> usize {
        self.counts.get(&class).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// (class, count) for every class found, in class order.
    pub fn iter(&self) -> impl Iterator<Item = (DataClass, usize)> + '_ {
        self.counts.iter().map(|(c, n)| (*c, *n))
    }

    fn add(&mut self, class: DataClass) {
        *self.counts.entry(class).or_default() += 1;
    }
}

impl fmt::Display for RedactionSummary {
    /// `card_number 1, security_code 1` (or `nothing`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.counts.is_empty() {
            return f.write_str("nothing");
        }
        let parts: Vec<String> = self.iter().map(|(c, n)| format!("{c} {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Passes until nothing new is found. One pass almost always suffices; a second catches what
/// the first uncovered (a number whose neighbour was redacted). Each pass that finds anything
/// turns at least one token into a placeholder, so the bound is never the reason to stop on
/// real transcripts.
const MAX_PASSES: usize = 8;

impl Redactor {
    pub fn new(cfg: RedactionConfig) -> Self {
        Redactor {
            cfg,
            patterns: Patterns::new(),
        }
    }

    pub fn config(&self) -> &RedactionConfig {
        &self.cfg
    }

    /// Redacts in place: detected words become placeholders in segment text and in `words`
    /// (times kept), and their spans, widened by the margin, are merged into
    /// `transcript.redactions`. Pure and deterministic; redacting a redacted transcript again
    /// changes nothing.
    pub fn redact(&self, transcript: &mut Transcript) -> RedactionSummary {
        let mut summary = RedactionSummary::default();
        if self.cfg.classes.is_empty() {
            return summary;
        }
        for _ in 0..MAX_PASSES {
            if !self.pass(transcript, &mut summary) {
                break;
            }
        }
        summary
    }

    /// A redacted copy; the input is left as it is.
    pub fn redacted(&self, transcript: &Transcript) -> (Transcript, RedactionSummary) {
        let mut t = transcript.clone();
        let s = self.redact(&mut t);
        (t, s)
    }

    /// Redacts free text (a note, a quote, a line of a transcript from elsewhere) as one
    /// utterance of one speaker.
    pub fn redact_text(&self, text: &str) -> String {
        let mut t = Transcript {
            segments: vec![Segment {
                text: text.to_string(),
                ..Default::default()
            }],
            ..Default::default()
        };
        self.redact(&mut t);
        t.segments.pop().map(|s| s.text).unwrap_or_default()
    }

    /// One detection pass. Returns whether anything was redacted.
    fn pass(&self, t: &mut Transcript, summary: &mut RedactionSummary) -> bool {
        let speakers: Vec<Speaker> = t.segments.iter().map(|s| s.speaker).collect();
        let questions: Vec<bool> = t.segments.iter().map(|s| s.text.contains('?')).collect();
        let layout: Vec<Layout> = t.segments.iter().map(Layout::of).collect();

        // The text view: every segment's text, timed by its words where they match the text.
        let text_tokens = tokens(t, &layout, false);
        let text_edits = self.find(&text_tokens, &speakers, &questions, summary, |_| true);
        // Where words and text disagree (a transcript from another system), the words are
        // redacted on their own, from a view that reads those segments' words.
        let word_tokens = if layout.contains(&Layout::Misaligned) {
            tokens(t, &layout, true)
        } else {
            Vec::new()
        };
        let word_edits: Vec<(Edit, &[Token])> = if word_tokens.is_empty() {
            Vec::new()
        } else {
            self.find(&word_tokens, &speakers, &questions, summary, |seg| {
                layout[seg] == Layout::Misaligned
            })
            .into_iter()
            .map(|e| (e, word_tokens.as_slice()))
            .collect()
        };
        if text_edits.is_empty() && word_edits.is_empty() {
            return false;
        }

        // Margins stop at the end of the call when its length is known.
        let duration = (t.duration_ms > 0).then_some(t.duration_ms);
        let mut spans = Vec::new();
        let mut edits: Vec<(Edit, &[Token], EditTarget)> = text_edits
            .into_iter()
            .map(|e| {
                let target = if layout[e.seg] == Layout::Aligned {
                    EditTarget::TextAndWords
                } else {
                    EditTarget::Text
                };
                (e, text_tokens.as_slice(), target)
            })
            .collect();
        edits.extend(
            word_edits
                .into_iter()
                .map(|(e, toks)| (e, toks, EditTarget::Words)),
        );
        // Back to front within each segment, so earlier byte ranges and word indices hold.
        edits.sort_by_key(|e| std::cmp::Reverse((e.0.seg, e.0.tok_a)));
        for (edit, toks, target) in edits {
            let start = toks[edit.tok_a..=edit.tok_b]
                .iter()
                .map(|k| k.start_ms)
                .min()
                .unwrap_or(0);
            let end = toks[edit.tok_a..=edit.tok_b]
                .iter()
                .map(|k| k.end_ms)
                .max()
                .unwrap_or(start);
            spans.push(Redaction {
                class: edit.class.name().to_string(),
                speaker: speakers[edit.seg],
                start_ms: start.saturating_sub(self.cfg.margin_ms),
                end_ms: (end + self.cfg.margin_ms).min(duration.map_or(u64::MAX, |d| d.max(end))),
            });
            let placeholder = self.cfg.placeholder_for(edit.class);
            apply(&mut t.segments[edit.seg], toks, &edit, target, placeholder);
        }
        merge_spans(&mut t.redactions, spans);
        true
    }

    /// Detects over one view and turns the findings into per-segment edits of whole tokens
    /// (whole words where the view has words), for the segments `keep` selects.
    fn find(
        &self,
        toks: &[Token],
        speakers: &[Speaker],
        questions: &[bool],
        summary: &mut RedactionSummary,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<Edit> {
        let mut units = units_of(toks);
        mark_cues(&mut units);
        let units = resolve(units);
        let detections =
            Detector::new(&units, toks, speakers, questions, &self.cfg, &self.patterns).run();
        let mut edits: Vec<Edit> = Vec::new();
        for d in &detections {
            let mut per_seg: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
            for &u in &d.units {
                let unit = &units[u];
                let e = per_seg
                    .entry(unit.seg)
                    .or_insert((unit.tok_first, unit.tok_last));
                e.0 = e.0.min(unit.tok_first);
                e.1 = e.1.max(unit.tok_last);
            }
            let mut kept = false;
            for (seg, (a, b)) in per_seg {
                if keep(seg) {
                    kept = true;
                    let (a, b) = widen_to_words(toks, a, b);
                    edits.push(Edit {
                        seg,
                        tok_a: a,
                        tok_b: b,
                        class: d.class,
                    });
                }
            }
            if kept {
                summary.add(d.class);
            }
        }
        merge_edits(edits)
    }
}

/// How a segment's words relate to its text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// No words: only the text, timed by the segment.
    TextOnly,
    /// The words, split like the text, are the text's tokens one for one (callscore's own
    /// transcripts).
    Aligned,
    /// Words that do not spell the text.
    Misaligned,
}

impl Layout {
    fn of(seg: &Segment) -> Layout {
        if seg.words.is_empty() {
            return Layout::TextOnly;
        }
        let text: Vec<&str> = split_tokens(&seg.text)
            .into_iter()
            .map(|r| &seg.text[r])
            .collect();
        let words: Vec<&str> = seg
            .words
            .iter()
            .flat_map(|w| split_tokens(&w.text).into_iter().map(move |r| &w.text[r]))
            .collect();
        if text == words {
            Layout::Aligned
        } else {
            Layout::Misaligned
        }
    }
}

/// The tokens of a view. `words_of_misaligned`: misaligned segments are read from their
/// words instead of their text.
fn tokens(t: &Transcript, layout: &[Layout], words_of_misaligned: bool) -> Vec<Token> {
    let mut out = Vec::new();
    for (s, seg) in t.segments.iter().enumerate() {
        let from_words = layout[s] == Layout::Aligned
            || (words_of_misaligned && layout[s] == Layout::Misaligned);
        if from_words && layout[s] == Layout::Misaligned {
            for (w, word) in seg.words.iter().enumerate() {
                for r in split_tokens(&word.text) {
                    out.push(Token {
                        seg: s,
                        word: Some(w),
                        text: word.text[r.clone()].to_string(),
                        range: r,
                        start_ms: word.start_ms,
                        end_ms: word.end_ms,
                        speaker: seg.speaker,
                    });
                }
            }
            continue;
        }
        // Text tokens; with aligned words, token k is the k-th token of the words.
        let word_of: Vec<usize> = if from_words {
            seg.words
                .iter()
                .enumerate()
                .flat_map(|(w, word)| std::iter::repeat_n(w, split_tokens(&word.text).len()))
                .collect()
        } else {
            Vec::new()
        };
        for (k, r) in split_tokens(&seg.text).into_iter().enumerate() {
            let word = word_of.get(k).copied();
            let (start_ms, end_ms) = word.map_or((seg.start_ms, seg.end_ms), |w| {
                (seg.words[w].start_ms, seg.words[w].end_ms)
            });
            out.push(Token {
                seg: s,
                word,
                text: seg.text[r.clone()].to_string(),
                range: r,
                start_ms,
                end_ms,
                speaker: seg.speaker,
            });
        }
    }
    out
}

/// A token range of one segment to replace by one placeholder.
struct Edit {
    seg: usize,
    tok_a: usize,
    tok_b: usize,
    class: DataClass,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EditTarget {
    Text,
    Words,
    TextAndWords,
}

/// Widens a token range to whole words: a word is replaced whole or not at all.
fn widen_to_words(toks: &[Token], mut a: usize, mut b: usize) -> (usize, usize) {
    if let Some(w) = toks[a].word {
        while a > 0 && toks[a - 1].seg == toks[a].seg && toks[a - 1].word == Some(w) {
            a -= 1;
        }
    }
    if let Some(w) = toks[b].word {
        while b + 1 < toks.len() && toks[b + 1].seg == toks[b].seg && toks[b + 1].word == Some(w) {
            b += 1;
        }
    }
    (a, b)
}

/// Overlapping edits of one segment become one (the earlier-found class names it).
fn merge_edits(mut edits: Vec<Edit>) -> Vec<Edit> {
    edits.sort_by_key(|e| (e.seg, e.tok_a));
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits {
        match out.last_mut() {
            Some(last) if last.seg == e.seg && e.tok_a <= last.tok_b => {
                last.tok_b = last.tok_b.max(e.tok_b);
            }
            _ => out.push(e),
        }
    }
    out
}

/// Punctuation before the first token and after the last, kept around the placeholder so the
/// sentence still reads ("It's [card number].").
fn surrounding_punctuation(first: &str, last: &str) -> (String, String) {
    let lead = &first[..core_of(first).0.start];
    let lead: String = lead.chars().filter(|c| "\"'(“‘".contains(*c)).collect();
    let tail = &last[core_of(last).0.end..];
    let tail: String = tail
        .chars()
        .filter(|c| ".,?!;:\"')”’".contains(*c))
        .collect();
    (lead, tail)
}

fn apply(seg: &mut Segment, toks: &[Token], e: &Edit, target: EditTarget, placeholder: &str) {
    let (first, last) = (&toks[e.tok_a], &toks[e.tok_b]);
    let (lead, tail) = surrounding_punctuation(&first.text, &last.text);
    let replacement = format!("{lead}{placeholder}{tail}");
    if matches!(target, EditTarget::Text | EditTarget::TextAndWords) {
        let (a, b) = (first.range.start, last.range.end);
        if a <= b && b <= seg.text.len() {
            seg.text.replace_range(a..b, &replacement);
        }
    }
    if matches!(target, EditTarget::Words | EditTarget::TextAndWords) {
        if let (Some(wa), Some(wb)) = (first.word, last.word) {
            if wa <= wb && wb < seg.words.len() {
                let word = Word {
                    start_ms: seg.words[wa].start_ms,
                    end_ms: seg.words[wb].end_ms.max(seg.words[wa].start_ms),
                    text: replacement,
                };
                seg.words.splice(wa..=wb, std::iter::once(word));
            }
        }
    }
}

/// Adds spans to a transcript's redactions: sorted by time, and spans of one class and speaker
/// that overlap or touch merged into one.
fn merge_spans(existing: &mut Vec<Redaction>, new: Vec<Redaction>) {
    existing.extend(new);
    existing.sort_by(|a, b| {
        (a.start_ms, a.end_ms, &a.class, a.speaker)
            .cmp(&(b.start_ms, b.end_ms, &b.class, b.speaker))
    });
    let mut out: Vec<Redaction> = Vec::with_capacity(existing.len());
    for r in existing.drain(..) {
        if let Some(prev) = out
            .iter_mut()
            .rev()
            .find(|p| p.class == r.class && p.speaker == r.speaker)
        {
            if r.start_ms <= prev.end_ms {
                prev.end_ms = prev.end_ms.max(r.end_ms);
                continue;
            }
        }
        out.push(r);
    }
    *existing = out;
}

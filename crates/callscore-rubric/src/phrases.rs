//! Phrase checks: `any`, `all` and `none` lists of regular expressions, with `unless` patterns
//! that excuse a forbidden match they overlap ("I won't tell you to calm down").

use crate::scope::{Scope, Verdict};
use crate::text::Call;
use callscore_core::{fmt_ms, Evidence};
use regex::Regex;
use std::ops::Range;

/// Most evidence items a phrase verdict carries; the reason gives the full count.
const MAX_EVIDENCE: usize = 5;

/// A compiled phrase and the text it was written as.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub source: String,
    pub regex: Regex,
}

/// Where a pattern matched.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub seg: usize,
    pub range: Range<usize>,
}

/// Every match of `pattern` in the speech and window of `scope`, in call order.
pub(crate) fn hits(call: &Call<'_>, scope: &Scope, pattern: &Regex) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, seg) in scope.segs(call) {
        for m in pattern.find_iter(seg.text) {
            if m.is_empty() {
                continue;
            }
            let range = m.range();
            if scope.includes_match(call, seg, &range) {
                out.push(Hit { seg: i, range });
            }
        }
    }
    out
}

#[derive(Debug, Clone, Default)]
pub(crate) struct PhraseCheck {
    pub any: Vec<Pattern>,
    pub all: Vec<Pattern>,
    pub none: Vec<Pattern>,
    pub unless: Vec<Pattern>,
}

impl PhraseCheck {
    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let mut evidence = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut passes: Vec<String> = Vec::new();
        let where_ = scope.describe();

        if !self.any.is_empty() {
            let first = self
                .any
                .iter()
                .filter_map(|p| hits(call, scope, &p.regex).into_iter().next())
                .min_by_key(|h| (call.segs[h.seg].start_ms, h.seg, h.range.start));
            match first {
                Some(hit) => {
                    let ev = call.segs[hit.seg].evidence(&hit.range);
                    passes.push(format!("matched at {}", fmt_ms(ev.start_ms)));
                    evidence.push(ev);
                }
                None => failures.push(format!("none of the {} phrase(s) found in {where_}", self.any.len())),
            }
        }

        if !self.all.is_empty() {
            let mut missing = Vec::new();
            for p in &self.all {
                match hits(call, scope, &p.regex).into_iter().next() {
                    Some(hit) => evidence.push(call.segs[hit.seg].evidence(&hit.range)),
                    None => missing.push(format!("`{}`", p.source)),
                }
            }
            if missing.is_empty() {
                passes.push(format!("all {} phrases found", self.all.len()));
            } else {
                failures.push(format!("not found in {where_}: {}", missing.join(", ")));
            }
        }

        if !self.none.is_empty() {
            let (forbidden, excused) = self.forbidden_hits(call, scope);
            if forbidden.is_empty() {
                let mut reason = format!("no forbidden phrase in {where_}");
                if !excused.is_empty() {
                    let shown: Vec<String> = excused.iter().map(|e| format!("'{}' at {}", e.quote, fmt_ms(e.start_ms))).collect();
                    reason.push_str(&format!(" ({} match(es) excused by `unless`: {})", excused.len(), shown.join("; ")));
                    evidence.extend(excused.into_iter().take(MAX_EVIDENCE));
                }
                passes.push(reason);
            } else {
                let shown: Vec<String> = forbidden
                    .iter()
                    .take(3)
                    .map(|(e, phrase)| format!("'{phrase}' at {} (\"{}\")", fmt_ms(e.start_ms), e.quote))
                    .collect();
                let more = if forbidden.len() > 3 { format!(" and {} more", forbidden.len() - 3) } else { String::new() };
                failures.push(format!("{} said {}{more}", speaker_noun(scope), shown.join(", ")));
                evidence.extend(forbidden.into_iter().take(MAX_EVIDENCE).map(|(e, _)| e));
            }
        }

        evidence.truncate(MAX_EVIDENCE);
        if failures.is_empty() {
            Verdict::pass(passes.join("; "), evidence)
        } else {
            Verdict::fail(failures.join("; "), evidence)
        }
    }

    /// Matches of `none` patterns, split into those that count and those an `unless` match in
    /// the same segment overlaps. Each counted one comes with the words that matched.
    fn forbidden_hits(&self, call: &Call<'_>, scope: &Scope) -> (Vec<(Evidence, String)>, Vec<Evidence>) {
        let mut all_hits: Vec<Hit> = self.none.iter().flat_map(|p| hits(call, scope, &p.regex)).collect();
        all_hits.sort_by_key(|h| (h.seg, h.range.start, h.range.end));
        // Two patterns matching the same words ("whatever" in two lists) count once.
        all_hits.dedup_by(|b, a| a.seg == b.seg && a.range.start < b.range.end && b.range.start < a.range.end);
        let mut forbidden = Vec::new();
        let mut excused = Vec::new();
        for hit in all_hits {
            let seg = &call.segs[hit.seg];
            let is_excused = self.unless.iter().any(|u| {
                u.regex.find_iter(seg.text).any(|m| m.start() < hit.range.end && hit.range.start < m.end())
            });
            let ev = seg.evidence(&hit.range);
            if is_excused {
                excused.push(ev);
            } else {
                forbidden.push((ev, seg.text[hit.range.clone()].to_string()));
            }
        }
        (forbidden, excused)
    }
}

fn speaker_noun(scope: &Scope) -> &'static str {
    match scope.who {
        crate::scope::Who::Agent => "agent",
        crate::scope::Who::Caller => "caller",
        crate::scope::Who::Any => "someone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{Who, Window};
    use callscore_core::{Outcome, Segment, Speaker, Transcript};

    fn pat(s: &str) -> Pattern {
        Pattern { source: s.into(), regex: Regex::new(s).unwrap() }
    }

    fn transcript(lines: &[(Speaker, u64, &str)]) -> Transcript {
        Transcript {
            segments: lines
                .iter()
                .map(|&(speaker, at, text)| Segment { speaker, start_ms: at, end_ms: at + 2_000, text: text.into(), words: vec![] })
                .collect(),
            ..Default::default()
        }
    }

    const AGENT: Scope = Scope { who: Who::Agent, window: Window::Whole };

    #[test]
    fn any_passes_on_the_first_match_with_its_sentence() {
        let t = transcript(&[(Speaker::Caller, 0, "Hello?"), (Speaker::Agent, 3_000, "Okay. Good morning, Acme. How can I help?")]);
        let check = PhraseCheck { any: vec![pat(r"(?i)\bgood morning\b")], ..Default::default() };
        let v = check.evaluate(&Call::new(&t), &AGENT);
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.evidence[0].quote, "Good morning, Acme.");
        assert_eq!(v.evidence[0].speaker, Speaker::Agent);
    }

    #[test]
    fn any_ignores_other_speakers_and_the_outside_of_the_window() {
        let t = transcript(&[(Speaker::Caller, 0, "good morning"), (Speaker::Agent, 40_000, "good morning")]);
        let check = PhraseCheck { any: vec![pat(r"(?i)good morning")], ..Default::default() };
        let scope = Scope { who: Who::Agent, window: Window::First(30_000) };
        let v = check.evaluate(&Call::new(&t), &scope);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("in the first 0:30"), "{}", v.reason);
    }

    #[test]
    fn all_needs_every_phrase_and_names_the_missing_ones() {
        let t = transcript(&[(Speaker::Agent, 0, "I can confirm your address.")]);
        let check = PhraseCheck { all: vec![pat("(?i)address"), pat("(?i)date of birth")], ..Default::default() };
        let v = check.evaluate(&Call::new(&t), &AGENT);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("`(?i)date of birth`"), "{}", v.reason);
    }

    #[test]
    fn none_fails_with_time_and_quote_and_unless_excuses_overlapping_matches() {
        let check = PhraseCheck {
            none: vec![pat(r"(?i)\b(calm down|whatever)\b")],
            unless: vec![pat(r"(?i)\bwon't tell you to calm down"), pat(r"(?i)\bwhatever you need")],
            ..Default::default()
        };
        let polite = transcript(&[(Speaker::Agent, 5_000, "I won't tell you to calm down. Whatever you need, I'll do.")]);
        let v = check.evaluate(&Call::new(&polite), &AGENT);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert!(v.reason.contains("excused"), "{}", v.reason);

        let rude = transcript(&[(Speaker::Agent, 65_000, "Sir, calm down. Whatever.")]);
        let v = check.evaluate(&Call::new(&rude), &AGENT);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("'calm down' at 1:05"), "{}", v.reason);
        assert_eq!(v.evidence.len(), 2);
    }

    #[test]
    fn none_ignores_the_caller_when_scoped_to_the_agent() {
        let t = transcript(&[(Speaker::Caller, 0, "whatever, calm down")]);
        let check = PhraseCheck { none: vec![pat(r"(?i)calm down")], ..Default::default() };
        assert_eq!(check.evaluate(&Call::new(&t), &AGENT).outcome, Outcome::Pass);
    }
}

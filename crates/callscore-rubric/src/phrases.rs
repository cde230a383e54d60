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
///
/// The pattern runs once over the party's joined speech (see [`crate::text::Joined`]); a match
/// that runs across the newline between two segments is not a match in either, so those
/// segments are searched again on their own. Patterns with `^`, `$`, `\A` or `\z` would mean
/// something else on joined text and are run segment by segment, as are windowed scopes.
pub(crate) fn hits(call: &Call<'_>, scope: &Scope, pattern: &Regex) -> Vec<Hit> {
    let src = pattern.as_str();
    // A window (the first 30 s, the last minute) holds few segments: searching those alone is
    // cheaper than the whole party's speech.
    let windowed = scope.window != crate::scope::Window::Whole;
    if windowed || src.contains(['^', '$']) || src.contains("\\A") || src.contains("\\z") {
        return hits_per_segment(call, scope, pattern, scope.segs(call).map(|(i, _)| i));
    }
    let joined = call.joined(scope.who);
    let mut out = Vec::new();
    let mut rescan: Vec<usize> = Vec::new();
    for m in pattern.find_iter(&joined.text) {
        if m.is_empty() {
            continue;
        }
        let (seg_index, offset) = joined.locate(m.start());
        let seg = &call.segs[seg_index];
        if m.end() > offset + seg.text.len() {
            let (last, _) = joined.locate(m.end() - 1);
            rescan.extend(seg_index..=last);
            continue;
        }
        let range = m.start() - offset..m.end() - offset;
        if scope.includes_seg(call, seg) && scope.includes_match(call, seg, &range) {
            out.push(Hit {
                seg: seg_index,
                range,
            });
        }
    }
    if !rescan.is_empty() {
        rescan.sort_unstable();
        rescan.dedup();
        let candidates: Vec<usize> = rescan
            .into_iter()
            .filter(|&i| scope.who.includes(call.segs[i].speaker))
            .collect();
        out.extend(hits_per_segment(
            call,
            scope,
            pattern,
            candidates.into_iter(),
        ));
        out.sort_by_key(|h| (h.seg, h.range.start, h.range.end));
        out.dedup_by(|b, a| a.seg == b.seg && a.range == b.range);
    }
    out
}

fn hits_per_segment(
    call: &Call<'_>,
    scope: &Scope,
    pattern: &Regex,
    segs: impl Iterator<Item = usize>,
) -> Vec<Hit> {
    let mut out = Vec::new();
    for i in segs {
        let seg = &call.segs[i];
        if !scope.includes_seg(call, seg) {
            continue;
        }
        for m in pattern.find_iter(seg.text) {
            let range = m.range();
            if !m.is_empty() && scope.includes_match(call, seg, &range) {
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
    /// `any` as one alternation, so a segment is searched once rather than once per phrase.
    any_union: Option<Regex>,
    /// `none` as one alternation, likewise.
    none_union: Option<Regex>,
}

/// Compiled size allowed for one phrase. regex's default (10 MiB each, plus a 2 MiB lazy-DFA
/// cache per thread) lets a rubric of a few thousand short patterns like `\w{500}` take
/// gigabytes; a real phrase, Unicode classes and case folding included, compiles to a few
/// dozen KiB.
const PHRASE_SIZE_LIMIT: usize = 256 * 1024;
/// Phrases (regular expressions) in one rubric. With the size limit this bounds what a rubric's
/// regexes can take at about 0.5 GiB even when every one is built to the limit; real rubrics hold
/// a few dozen phrases of a few KiB each.
pub(crate) const MAX_PHRASES: usize = 2000;
/// Lazy-DFA cache for one phrase (and for one union).
const PHRASE_DFA_LIMIT: usize = 256 * 1024;
/// A union is only a speed-up; past this it is not built and phrases are searched one by one.
const UNION_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// Compiles one rubric phrase under the size limits above.
pub(crate) fn compile_phrase(source: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(source)
        .size_limit(PHRASE_SIZE_LIMIT)
        .dfa_size_limit(PHRASE_DFA_LIMIT)
        .build()
}

/// `(?:a)|(?:b)|…` — each pattern's flags stay inside its group. None when there is one
/// pattern (nothing to gain) or the union is too large for the regex size limit.
fn union(patterns: &[Pattern]) -> Option<Regex> {
    if patterns.len() < 2 {
        return None;
    }
    let joined = patterns
        .iter()
        .map(|p| format!("(?:{})", p.source))
        .collect::<Vec<_>>()
        .join("|");
    regex::RegexBuilder::new(&joined)
        .size_limit(UNION_SIZE_LIMIT)
        .dfa_size_limit(PHRASE_DFA_LIMIT)
        .build()
        .ok()
}

impl PhraseCheck {
    pub fn new(
        any: Vec<Pattern>,
        all: Vec<Pattern>,
        none: Vec<Pattern>,
        unless: Vec<Pattern>,
    ) -> PhraseCheck {
        let any_union = union(&any);
        let none_union = union(&none);
        PhraseCheck {
            any,
            all,
            none,
            unless,
            any_union,
            none_union,
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let mut evidence = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut passes: Vec<String> = Vec::new();
        let where_ = scope.describe();

        if !self.any.is_empty() {
            // Near the end of the call (`last = …`) the latest match is the one that matters
            // (a closing, not the greeting that happens to be in a short call's window).
            let prefer_latest = matches!(scope.window, crate::scope::Window::Last(_));
            let key = |h: &Hit| (call.segs[h.seg].start_ms, h.seg, h.range.start);
            let all_hits: Vec<Hit> = match &self.any_union {
                Some(u) => hits(call, scope, u),
                None => self
                    .any
                    .iter()
                    .flat_map(|p| hits(call, scope, &p.regex))
                    .collect(),
            };
            let chosen = if prefer_latest {
                all_hits.into_iter().max_by_key(key)
            } else {
                all_hits.into_iter().min_by_key(key)
            };
            match chosen {
                Some(hit) => {
                    let seg = &call.segs[hit.seg];
                    let ev = seg.evidence(&hit.range);
                    passes.push(format!(
                        "{} said \"{}\" at {}",
                        speaker_noun(scope),
                        crate::text::collapse_ws(seg.said(&hit.range)),
                        fmt_ms(ev.start_ms)
                    ));
                    evidence.push(ev);
                }
                None => failures.push(format!(
                    "none of the {} phrase(s) found in {where_}",
                    self.any.len()
                )),
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
                    let shown: Vec<String> = excused
                        .iter()
                        .map(|e| format!("'{}' at {}", e.quote, fmt_ms(e.start_ms)))
                        .collect();
                    reason.push_str(&format!(
                        " ({} match(es) excused by `unless`: {})",
                        excused.len(),
                        shown.join("; ")
                    ));
                    evidence.extend(excused.into_iter().take(MAX_EVIDENCE));
                }
                passes.push(reason);
            } else {
                let shown: Vec<String> = forbidden
                    .iter()
                    .take(3)
                    .map(|(e, phrase)| {
                        format!("'{phrase}' at {} (\"{}\")", fmt_ms(e.start_ms), e.quote)
                    })
                    .collect();
                let more = if forbidden.len() > 3 {
                    format!(" and {} more", forbidden.len() - 3)
                } else {
                    String::new()
                };
                failures.push(format!(
                    "{} said {}{more}",
                    speaker_noun(scope),
                    shown.join(", ")
                ));
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
    fn forbidden_hits(
        &self,
        call: &Call<'_>,
        scope: &Scope,
    ) -> (Vec<(Evidence, String)>, Vec<Evidence>) {
        let mut all_hits: Vec<Hit> = match &self.none_union {
            Some(u) => hits(call, scope, u),
            None => self
                .none
                .iter()
                .flat_map(|p| hits(call, scope, &p.regex))
                .collect(),
        };
        all_hits.sort_by_key(|h| (h.seg, h.range.start, h.range.end));
        // Two patterns matching the same words ("whatever" in two lists) count once.
        all_hits.dedup_by(|b, a| {
            a.seg == b.seg && a.range.start < b.range.end && b.range.start < a.range.end
        });
        let mut forbidden = Vec::new();
        let mut excused = Vec::new();
        for hit in all_hits {
            let seg = &call.segs[hit.seg];
            let is_excused = self.unless.iter().any(|u| {
                u.regex
                    .find_iter(seg.text)
                    .any(|m| m.start() < hit.range.end && hit.range.start < m.end())
            });
            let ev = seg.evidence(&hit.range);
            if is_excused {
                excused.push(ev);
            } else {
                forbidden.push((ev, seg.said(&hit.range).to_string()));
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
        Pattern {
            source: s.into(),
            regex: Regex::new(s).unwrap(),
        }
    }

    fn transcript(lines: &[(Speaker, u64, &str)]) -> Transcript {
        Transcript {
            segments: lines
                .iter()
                .map(|&(speaker, at, text)| Segment {
                    speaker,
                    start_ms: at,
                    end_ms: at + 2_000,
                    text: text.into(),
                    words: vec![],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    const AGENT: Scope = Scope {
        who: Who::Agent,
        window: Window::Whole,
    };

    #[test]
    fn any_passes_on_the_first_match_with_its_sentence() {
        let t = transcript(&[
            (Speaker::Caller, 0, "Hello?"),
            (
                Speaker::Agent,
                3_000,
                "Okay. Good morning, Acme. How can I help?",
            ),
        ]);
        let check = PhraseCheck::new(
            vec![pat(r"(?i)\bgood morning\b"), pat("(?i)hello")],
            vec![],
            vec![],
            vec![],
        );
        let v = check.evaluate(&Call::new(&t), &AGENT);
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.evidence[0].quote, "Good morning, Acme.");
        assert_eq!(v.evidence[0].speaker, Speaker::Agent);
    }

    #[test]
    fn any_ignores_other_speakers_and_the_outside_of_the_window() {
        let t = transcript(&[
            (Speaker::Caller, 0, "good morning"),
            (Speaker::Agent, 40_000, "good morning"),
        ]);
        let check = PhraseCheck {
            any: vec![pat(r"(?i)good morning")],
            ..Default::default()
        };
        let scope = Scope {
            who: Who::Agent,
            window: Window::First(30_000),
        };
        let v = check.evaluate(&Call::new(&t), &scope);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("in the first 0:30"), "{}", v.reason);
    }

    #[test]
    fn all_needs_every_phrase_and_names_the_missing_ones() {
        let t = transcript(&[(Speaker::Agent, 0, "I can confirm your address.")]);
        let check = PhraseCheck {
            all: vec![pat("(?i)address"), pat("(?i)date of birth")],
            ..Default::default()
        };
        let v = check.evaluate(&Call::new(&t), &AGENT);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("`(?i)date of birth`"), "{}", v.reason);
    }

    #[test]
    fn none_fails_with_time_and_quote_and_unless_excuses_overlapping_matches() {
        let check = PhraseCheck::new(
            vec![],
            vec![],
            vec![pat(r"(?i)\bcalm down\b"), pat(r"(?i)\bwhatever\b")],
            vec![
                pat(r"(?i)\bwon't tell you to calm down"),
                pat(r"(?i)\bwhatever you need"),
            ],
        );
        let polite = transcript(&[(
            Speaker::Agent,
            5_000,
            "I won't tell you to calm down. Whatever you need, I'll do.",
        )]);
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
    fn matches_across_segments_do_not_hide_matches_inside_them() {
        // `calm\s+down` over the joined text would match "calm" + newline + "down"; each
        // segment alone has a real match that must still be found.
        let t = transcript(&[
            (Speaker::Agent, 0, "please stay calm"),
            (Speaker::Agent, 3_000, "down here, calm down"),
        ]);
        let found = hits(&Call::new(&t), &AGENT, &Regex::new(r"calm\s+down").unwrap());
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].seg, found[0].range.clone()), (1, 11..20));
    }

    #[test]
    fn anchored_patterns_apply_to_each_segment() {
        let t = transcript(&[
            (Speaker::Agent, 0, "hello there"),
            (Speaker::Agent, 3_000, "hello again"),
        ]);
        assert_eq!(
            hits(&Call::new(&t), &AGENT, &Regex::new(r"^hello").unwrap()).len(),
            2
        );
    }

    #[test]
    fn none_ignores_the_caller_when_scoped_to_the_agent() {
        let t = transcript(&[(Speaker::Caller, 0, "whatever, calm down")]);
        let check = PhraseCheck {
            none: vec![pat(r"(?i)calm down")],
            ..Default::default()
        };
        assert_eq!(
            check.evaluate(&Call::new(&t), &AGENT).outcome,
            Outcome::Pass
        );
    }
}

//! `check = "overtalk"`: agent and caller talking at the same time.
//!
//! An overlap is a stretch where an agent segment and a caller segment share time. Overlaps
//! shorter than `min_overlap` (default 1 s) are ignored: back-channel "mm-hm"s and timestamp
//! jitter are not talking over someone. Parameters: `max` (total overlapping time allowed, a
//! duration), `max_count` (number of overlaps allowed); at least one is required, and going
//! over either fails. Evidence is the longest overlaps, both sides quoted.

use super::Params;
use crate::duration::fmt_span;
use crate::scope::{overlaps, Scope, Verdict};
use crate::text::Call;
use callscore_core::{fmt_ms, Evidence, Speaker};

/// Overlaps quoted as evidence (each gives two evidence items, agent and caller).
const EVIDENCE_OVERLAPS: usize = 3;
const DEFAULT_MIN_OVERLAP_MS: u64 = 1_000;

#[derive(Debug)]
pub(crate) struct Overtalk {
    pub(crate) max_ms: Option<u64>,
    pub(crate) max_count: Option<u32>,
    pub(crate) min_overlap_ms: u64,
}

/// Disjoint, sorted time spans covered by one speaker's (non-blank) segments.
fn merged(call: &Call<'_>, who: Speaker, from: u64, to: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for s in call
        .segs
        .iter()
        .filter(|s| s.speaker == who && !s.text.trim().is_empty())
    {
        let (a, b) = (s.start_ms.max(from), s.end_ms.min(to));
        if b <= a {
            continue;
        }
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Where two sets of disjoint sorted spans intersect.
pub(crate) fn intersections(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let (s, e) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if e > s {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

impl Overtalk {
    pub fn build(p: &mut Params<'_>) -> Overtalk {
        let max_ms = p.duration("max");
        let max_count = p.count("max_count");
        let min_overlap_ms = p.duration("min_overlap").unwrap_or(DEFAULT_MIN_OVERLAP_MS);
        if max_ms.is_none() && max_count.is_none() && p.problems.is_empty() {
            p.require_one_of(&["max", "max_count"]);
        }
        Overtalk {
            max_ms,
            max_count,
            min_overlap_ms,
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let (from, to) = scope.window.bounds(call.speech_end_ms);
        let agent = merged(call, Speaker::Agent, from, to);
        let caller = merged(call, Speaker::Caller, from, to);
        let found: Vec<(u64, u64)> = intersections(&agent, &caller)
            .into_iter()
            .filter(|(s, e)| e - s >= self.min_overlap_ms)
            .collect();
        let total: u64 = found.iter().map(|(s, e)| e - s).sum();
        let count = found.len() as u32;

        let mut longest = found.clone();
        longest.sort_by_key(|&(s, e)| (std::cmp::Reverse(e - s), s));
        longest.truncate(EVIDENCE_OVERLAPS);
        longest.sort();
        let mut evidence = Vec::new();
        for &(s, e) in &longest {
            for who in [Speaker::Agent, Speaker::Caller] {
                if let Some(seg) = call.segs.iter().find(|g| {
                    g.speaker == who
                        && !g.text.trim().is_empty()
                        && overlaps(g.start_ms, g.end_ms, s, e)
                }) {
                    let quote = seg.evidence(&seg.sentence_near(s)).quote;
                    evidence.push(Evidence {
                        speaker: who,
                        start_ms: s,
                        end_ms: e,
                        quote,
                    });
                }
            }
        }

        let times: Vec<String> = longest
            .iter()
            .map(|&(s, e)| format!("{}–{}", fmt_ms(s), fmt_ms(e)))
            .collect();
        let measured = if count == 0 {
            format!(
                "no overlapping speech of {} or more{}",
                fmt_span(self.min_overlap_ms),
                scope.window.describe()
            )
        } else {
            format!(
                "{count} overlap{} totalling {}{} (longest at {})",
                if count == 1 { "" } else { "s" },
                fmt_span(total),
                scope.window.describe(),
                times.join(", ")
            )
        };
        let mut over = Vec::new();
        if let Some(max) = self.max_ms.filter(|&m| total > m) {
            over.push(format!("more than {} in total", fmt_span(max)));
        }
        if let Some(max) = self.max_count.filter(|&m| count > m) {
            over.push(format!(
                "more than {max} overlap{}",
                if max == 1 { "" } else { "s" }
            ));
        }
        if over.is_empty() {
            Verdict::pass(measured, evidence)
        } else {
            Verdict::fail(format!("{measured}; {}", over.join(" and ")), evidence)
        }
    }
}

impl super::Detector for Overtalk {
    fn judge(&self, call: &Call<'_>, scope: &Scope, _lex: &crate::names::Lexicon) -> Verdict {
        self.evaluate(call, scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testutil::*;
    use crate::scope::{Who, Window};
    use callscore_core::Outcome;

    const WHOLE: Scope = Scope {
        who: Who::Any,
        window: Window::Whole,
    };

    fn ot(max_s: Option<u64>, max_count: Option<u32>) -> Overtalk {
        Overtalk {
            max_ms: max_s.map(|s| s * 1000),
            max_count,
            min_overlap_ms: DEFAULT_MIN_OVERLAP_MS,
        }
    }

    #[test]
    fn intersections_of_sorted_spans() {
        assert_eq!(
            intersections(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(5, 10), (20, 25)]
        );
        assert!(intersections(&[(0, 10)], &[(10, 20)]).is_empty());
    }

    #[test]
    fn counts_overlaps_and_quotes_both_sides() {
        let tr = t(&[
            (A, 0.0, 10.0, "Let me explain the charge."),
            (C, 6.0, 12.0, "No, listen to me."),
            (A, 20.0, 22.0, "Right."),
            (C, 21.7, 23.0, "mm"),
        ]);
        let v = ot(Some(3), None).evaluate(&Call::new(&tr), &WHOLE);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.starts_with(
                "1 overlap totalling 4 s (longest at 0:06–0:10); more than 3 s in total"
            ),
            "{}",
            v.reason
        );
        assert_eq!(v.evidence.len(), 2);
        assert_eq!(
            (v.evidence[1].speaker, v.evidence[1].quote.as_str()),
            (Speaker::Caller, "No, listen to me.")
        );
    }

    #[test]
    fn max_count_and_passing() {
        let tr = t(&[
            (A, 0.0, 5.0, "a"),
            (C, 3.0, 6.0, "b"),
            (A, 10.0, 15.0, "c"),
            (C, 12.0, 16.0, "d"),
        ]);
        assert_eq!(
            ot(None, Some(1)).evaluate(&Call::new(&tr), &WHOLE).outcome,
            Outcome::Fail
        );
        assert_eq!(
            ot(None, Some(2)).evaluate(&Call::new(&tr), &WHOLE).outcome,
            Outcome::Pass
        );
        let none = t(&[(A, 0.0, 5.0, "a"), (C, 5.0, 6.0, "b")]);
        let v = ot(Some(1), None).evaluate(&Call::new(&none), &WHOLE);
        assert_eq!(v.outcome, Outcome::Pass);
        assert!(v.reason.starts_with("no overlapping speech"));
    }
}

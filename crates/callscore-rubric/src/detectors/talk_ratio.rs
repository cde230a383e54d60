//! `check = "talk_ratio"`: the agent's share of the talk time stays within bounds.
//!
//! Talk time is the time covered by each party's segments (overlapping segments of one party
//! counted once); the agent's share is agent ÷ (agent + caller). `min` and `max` are shares
//! between 0 and 1 (`0.3`), or percentages (`30`); at least one is required. Evidence is the
//! longest turn of the party that talked most, where a listener hears the imbalance.

use super::Params;
use crate::scope::{Scope, Verdict};
use crate::text::Call;
use callscore_core::{fmt_ms, Speaker};

#[derive(Debug)]
pub(crate) struct TalkRatio {
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

/// Milliseconds covered by the union of `spans` (sorted by start), clipped to `[from, to)`.
pub(crate) fn covered_ms(spans: impl Iterator<Item = (u64, u64)>, from: u64, to: u64) -> u64 {
    let mut total = 0;
    let mut cursor = from;
    for (s, e) in spans {
        let (s, e) = (s.max(cursor), e.min(to));
        if e > s {
            total += e - s;
            cursor = e;
        }
    }
    total
}

impl TalkRatio {
    pub fn build(p: &mut Params<'_>) -> TalkRatio {
        let min = p.fraction("min");
        let max = p.fraction("max");
        if min.is_none() && max.is_none() && p.problems.is_empty() {
            p.require_one_of(&["min", "max"]);
        }
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                p.invalid(format!(
                    "`min` ({lo}) is above `max` ({hi}) for check `talk_ratio`"
                ));
            }
        }
        TalkRatio { min, max }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let (from, to) = scope.window.bounds(call.speech_end_ms);
        let talk = |who: Speaker| {
            covered_ms(
                call.segs
                    .iter()
                    .filter(|s| s.speaker == who && !s.text.trim().is_empty())
                    .map(|s| (s.start_ms, s.end_ms)),
                from,
                to,
            )
        };
        let (agent, caller) = (talk(Speaker::Agent), talk(Speaker::Caller));
        if agent + caller == 0 {
            return Verdict::na(format!(
                "neither agent nor caller spoke{}",
                scope.window.describe()
            ));
        }
        let share = agent as f64 / (agent + caller) as f64;
        let pct = |x: f64| format!("{:.0}%", x * 100.0);
        let dominant = if share >= 0.5 {
            Speaker::Agent
        } else {
            Speaker::Caller
        };
        let evidence: Vec<_> = call
            .segs
            .iter()
            .filter(|s| s.speaker == dominant && !s.text.trim().is_empty())
            .max_by_key(|s| (s.end_ms - s.start_ms, std::cmp::Reverse(s.start_ms)))
            .map(|s| {
                let mut ev = s.evidence(&s.sentences.first().cloned().unwrap_or(0..s.text.len()));
                (ev.start_ms, ev.end_ms) = (s.start_ms, s.end_ms);
                ev
            })
            .into_iter()
            .collect();
        let longest = evidence
            .first()
            .map(|e| {
                format!(
                    "; longest {dominant} turn {}–{}",
                    fmt_ms(e.start_ms),
                    fmt_ms(e.end_ms)
                )
            })
            .unwrap_or_default();
        let measured = format!(
            "agent talked {} of the talk time ({} s agent, {} s caller){}{longest}",
            pct(share),
            (agent + 500) / 1000,
            (caller + 500) / 1000,
            scope.window.describe()
        );
        let bounds = match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{}–{}", pct(lo), pct(hi)),
            (Some(lo), None) => format!("at least {}", pct(lo)),
            (None, Some(hi)) => format!("at most {}", pct(hi)),
            (None, None) => "any".into(),
        };
        let too_low = self.min.is_some_and(|lo| share < lo);
        let too_high = self.max.is_some_and(|hi| share > hi);
        if too_low || too_high {
            Verdict::fail(format!("{measured}; expected {bounds}"), evidence)
        } else {
            Verdict::pass(format!("{measured}; within {bounds}"), evidence)
        }
    }
}

impl super::Detector for TalkRatio {
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

    fn judge(tr: &callscore_core::Transcript, min: Option<f64>, max: Option<f64>) -> Verdict {
        TalkRatio { min, max }.evaluate(&Call::new(tr), &WHOLE)
    }

    #[test]
    fn union_counts_overlap_once() {
        assert_eq!(
            covered_ms([(0, 10), (5, 15), (20, 25)].into_iter(), 0, u64::MAX),
            20
        );
        assert_eq!(covered_ms([(0, 10), (2, 4)].into_iter(), 0, u64::MAX), 10);
        assert_eq!(covered_ms([(0, 10)].into_iter(), 5, 8), 3);
    }

    #[test]
    fn balanced_call_passes() {
        let tr = t(&[(A, 0.0, 10.0, "a"), (C, 10.0, 20.0, "b")]);
        let v = judge(&tr, Some(0.3), Some(0.7));
        assert_eq!(v.outcome, Outcome::Pass);
        assert!(
            v.reason
                .starts_with("agent talked 50% of the talk time (10 s agent, 10 s caller)"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn monologue_fails_with_its_longest_turn() {
        let tr = t(&[
            (A, 0.0, 80.0, "Let me explain everything."),
            (C, 80.0, 90.0, "ok"),
            (A, 90.0, 95.0, "So."),
        ]);
        let v = judge(&tr, Some(0.3), Some(0.7));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("agent talked 89%") && v.reason.contains("expected 30%–70%"),
            "{}",
            v.reason
        );
        assert_eq!((v.evidence[0].start_ms, v.evidence[0].end_ms), (0, 80_000));
    }

    #[test]
    fn silent_agent_fails_min_and_nobody_is_na() {
        let tr = t(&[(C, 0.0, 10.0, "Hello? Hello?")]);
        assert_eq!(judge(&tr, Some(0.3), None).outcome, Outcome::Fail);
        assert_eq!(
            judge(&t(&[]), Some(0.3), None).outcome,
            Outcome::NotApplicable
        );
    }
}

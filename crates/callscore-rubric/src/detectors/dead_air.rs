//! `check = "dead_air"`: the longest stretch in which nobody speaks, counting the silence
//! before the first words and after the last ones (up to the transcript's duration).
//!
//! `max` (required) is the silence that fails: a stretch of `max` or longer fails the call.
//! Everyone's speech counts, attributed or not, so this works on mono recordings too. Segments
//! with no text are not speech. With `within`/`last` only that part of the call is measured.

use super::Params;
use crate::duration::fmt_span;
use crate::scope::{Scope, Verdict};
use crate::text::Call;
use callscore_core::{fmt_ms, Evidence, Speaker};

#[derive(Debug)]
pub(crate) struct DeadAir {
    pub(crate) max_ms: u64,
}

/// A stretch of silence and what bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gap {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Index of the segment that ended just before, if any.
    pub before: Option<usize>,
    /// Index of the segment that starts it off, if any.
    pub after: Option<usize>,
}

impl Gap {
    pub fn len(&self) -> u64 {
        self.end_ms - self.start_ms
    }
}

/// The longest silence inside `[from, to)`, or None when the window is empty.
pub(crate) fn longest_gap(call: &Call<'_>, from: u64, to: u64) -> Option<Gap> {
    if to <= from {
        return None;
    }
    let mut best = Gap {
        start_ms: from,
        end_ms: from,
        before: None,
        after: None,
    };
    let mut cursor = from;
    let mut cursor_seg: Option<usize> = None;
    for (i, seg) in call.segs.iter().enumerate() {
        if seg.text.trim().is_empty() || seg.end_ms <= from {
            if seg.end_ms <= from && !seg.text.trim().is_empty() {
                cursor_seg = Some(i);
            }
            continue;
        }
        if seg.start_ms >= to {
            break;
        }
        let start = seg.start_ms.max(from);
        if start > cursor && start - cursor > best.len() {
            best = Gap {
                start_ms: cursor,
                end_ms: start,
                before: cursor_seg,
                after: Some(i),
            };
        }
        if seg.end_ms > cursor {
            cursor = seg.end_ms.min(to);
            cursor_seg = Some(i);
        }
    }
    if to > cursor && to - cursor > best.len() {
        best = Gap {
            start_ms: cursor,
            end_ms: to,
            before: cursor_seg,
            after: None,
        };
    }
    Some(best)
}

impl DeadAir {
    pub fn build(p: &mut Params<'_>) -> DeadAir {
        let max_ms = p.duration("max");
        if max_ms.is_none() && p.problems.is_empty() {
            p.require_one_of(&["max"]);
        }
        if max_ms == Some(0) {
            p.invalid("`max` of check `dead_air` must be longer than 0s".into());
        }
        DeadAir {
            max_ms: max_ms.unwrap_or(u64::MAX),
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let (from, to) = scope.window.bounds(call.speech_end_ms);
        let to = to.min(call.duration_ms);
        let Some(gap) = longest_gap(call, from, to) else {
            return Verdict::na(format!(
                "the transcript has no duration{} to measure silence in",
                scope.window.describe()
            ));
        };
        let context = describe_gap(call, &gap);
        let evidence = vec![Evidence {
            speaker: Speaker::Unknown,
            start_ms: gap.start_ms,
            end_ms: gap.end_ms,
            quote: format!("[silence, {}]", fmt_span(gap.len())),
        }];
        if gap.len() >= self.max_ms {
            Verdict::fail(
                format!(
                    "{} of silence {context}; {} or more fails",
                    fmt_span(gap.len()),
                    fmt_span(self.max_ms)
                ),
                evidence,
            )
        } else if gap.len() == 0 {
            Verdict::pass("no silence: speech covers the whole call", vec![])
        } else {
            Verdict::pass(
                format!(
                    "longest silence {} {context}, under {}",
                    fmt_span(gap.len()),
                    fmt_span(self.max_ms)
                ),
                evidence,
            )
        }
    }
}

impl super::Detector for DeadAir {
    fn judge(&self, call: &Call<'_>, scope: &Scope, _lex: &crate::names::Lexicon) -> Verdict {
        self.evaluate(call, scope)
    }
}

/// "from 0:10 (after agent: "Let me check.") to 0:37 (caller: "Hello?")"
fn describe_gap(call: &Call<'_>, gap: &Gap) -> String {
    let side = |i: Option<usize>, last: bool| -> String {
        i.map(|i| {
            let seg = &call.segs[i];
            let sentence = if last {
                seg.sentences.last()
            } else {
                seg.sentences.first()
            }
            .cloned()
            .unwrap_or(0..seg.text.len());
            let ev = seg.evidence(&sentence);
            format!(" ({}: \"{}\")", seg.speaker, ev.quote)
        })
        .unwrap_or_default()
    };
    let start = if gap.before.is_none() && gap.start_ms == 0 {
        "the start of the call".to_string()
    } else {
        fmt_ms(gap.start_ms)
    };
    let end = if gap.after.is_none() && gap.end_ms >= call.duration_ms {
        format!("the end of the call at {}", fmt_ms(gap.end_ms))
    } else {
        fmt_ms(gap.end_ms)
    };
    format!(
        "from {start}{} to {end}{}",
        side(gap.before, true),
        side(gap.after, false)
    )
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

    fn judge(tr: &callscore_core::Transcript, max_s: u64) -> Verdict {
        DeadAir {
            max_ms: max_s * 1000,
        }
        .evaluate(&Call::new(tr), &WHOLE)
    }

    #[test]
    fn finds_the_longest_gap_between_turns() {
        let tr = t(&[
            (A, 0.0, 5.0, "Let me check."),
            (C, 4.0, 6.0, "Sure."),
            (A, 30.0, 32.0, "Thanks for holding."),
            (C, 33.0, 34.0, "Ok."),
        ]);
        let v = judge(&tr, 20);
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(
            (v.evidence[0].start_ms, v.evidence[0].end_ms),
            (6_000, 30_000)
        );
        assert!(v.reason.starts_with("24 s of silence from 0:06 (caller: \"Sure.\") to 0:30 (agent: \"Thanks for holding.\")"), "{}", v.reason);
        assert_eq!(judge(&tr, 25).outcome, Outcome::Pass);
    }

    #[test]
    fn max_itself_fails() {
        let tr = t(&[(A, 0.0, 1.0, "Hi."), (A, 26.0, 27.0, "Back.")]);
        assert_eq!(judge(&tr, 25).outcome, Outcome::Fail);
    }

    #[test]
    fn silence_at_the_start_and_end_counts() {
        let start = t(&[(A, 30.0, 32.0, "Hello?")]);
        let v = judge(&start, 25);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("from the start of the call to 0:30"),
            "{}",
            v.reason
        );

        let mut end = t(&[(A, 0.0, 2.0, "Hello?")]);
        end.duration_ms = 40_000;
        let v = judge(&end, 25);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("to the end of the call at 0:40"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn overlapping_and_nested_segments_are_speech() {
        let tr = t(&[
            (A, 0.0, 40.0, "A long monologue."),
            (C, 5.0, 10.0, "Mm."),
            (C, 41.0, 42.0, "Ok."),
        ]);
        let v = judge(&tr, 5);
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.evidence[0].end_ms - v.evidence[0].start_ms, 1_000);
    }

    #[test]
    fn blank_segments_are_not_speech_and_mono_works() {
        let tr = t(&[
            (U, 0.0, 1.0, "Hi."),
            (U, 1.0, 29.0, "  "),
            (U, 29.0, 30.0, "Bye."),
        ]);
        assert_eq!(judge(&tr, 25).outcome, Outcome::Fail);
    }

    #[test]
    fn empty_transcript_is_not_applicable_but_a_silent_call_fails() {
        assert_eq!(judge(&t(&[]), 25).outcome, Outcome::NotApplicable);
        let mut silent = t(&[]);
        silent.duration_ms = 60_000;
        assert_eq!(judge(&silent, 25).outcome, Outcome::Fail);
    }

    #[test]
    fn window_limits_the_measurement() {
        let mut tr = t(&[
            (A, 0.0, 1.0, "Hi."),
            (A, 40.0, 41.0, "Back."),
            (A, 50.0, 60.0, "Bye."),
        ]);
        tr.duration_ms = 60_000;
        let v = DeadAir { max_ms: 25_000 }.evaluate(
            &Call::new(&tr),
            &Scope {
                who: Who::Any,
                window: Window::Last(30_000),
            },
        );
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
    }
}

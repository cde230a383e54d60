//! `check = "answered_within"`: the phone was answered within `max` of ringing.
//!
//! Reads the ring time from the call's metadata (`ring_ms`: from the INVITE of a call that
//! callscore placed, a mystery-shop call, until the answer). `max` (required) is the longest
//! acceptable ring: an answer after exactly `max` passes, a millisecond more fails. A call
//! without a ring time (recorded or imported, not placed) is not applicable, with the reason.
//! It reads no speech, so it works on mono recordings too; the evidence is empty (the ring is
//! before the recording starts).

use super::Params;
use crate::duration::fmt_span;
use crate::scope::{Scope, Verdict};
use crate::text::Call;

#[derive(Debug)]
pub(crate) struct AnsweredWithin {
    pub(crate) max_ms: u64,
}

impl AnsweredWithin {
    pub fn build(p: &mut Params<'_>) -> AnsweredWithin {
        let max_ms = p.duration("max");
        if max_ms.is_none() && p.problems.is_empty() {
            p.require_one_of(&["max"]);
        }
        AnsweredWithin {
            max_ms: max_ms.unwrap_or(0),
        }
    }

    pub fn evaluate(&self, call: &Call<'_>) -> Verdict {
        let Some(ring) = call.meta.ring_ms else {
            return Verdict::na(
                "the call's metadata has no ring time (`ring_ms`): only calls callscore placed have one",
            );
        };
        let took = format!("answered after {}", fmt_span(ring));
        if ring <= self.max_ms {
            Verdict::pass(
                format!("{took}, within {}", fmt_span(self.max_ms)),
                Vec::new(),
            )
        } else {
            Verdict::fail(
                format!(
                    "{took}, {} longer than the {} allowed",
                    fmt_span(ring - self.max_ms),
                    fmt_span(self.max_ms)
                ),
                Vec::new(),
            )
        }
    }
}

impl super::Detector for AnsweredWithin {
    fn judge(&self, call: &Call<'_>, _scope: &Scope, _lex: &crate::names::Lexicon) -> Verdict {
        self.evaluate(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testutil::*;
    use callscore_core::{CallMeta, Outcome, Transcript};
    use toml::{Spanned, Value};

    fn within(max: &str) -> AnsweredWithin {
        let values = vec![("max", Spanned::new(0..0, Value::String(max.into())))];
        let mut p = Params::new("answered_within", values, "t", "", 0..0);
        let d = AnsweredWithin::build(&mut p);
        assert!(p.finish().is_empty());
        d
    }

    fn rung(ms: Option<u64>) -> Transcript {
        let mut tr = t(&[(A, 0.5, 3.0, "Good morning, Riverside Energy.")]);
        tr.meta = CallMeta {
            ring_ms: ms,
            ..Default::default()
        };
        tr
    }

    #[test]
    fn passes_up_to_max_and_fails_after() {
        let d = within("15s");
        let v = d.evaluate(&Call::new(&rung(Some(4_200))));
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.reason, "answered after 4.2 s, within 15 s");
        assert_eq!(
            d.evaluate(&Call::new(&rung(Some(15_000)))).outcome,
            Outcome::Pass
        );
        let v = d.evaluate(&Call::new(&rung(Some(21_500))));
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(
            v.reason,
            "answered after 21.5 s, 6.5 s longer than the 15 s allowed"
        );
        assert!(v.evidence.is_empty());
    }

    #[test]
    fn a_call_without_a_ring_time_is_not_applicable() {
        let v = within("15s").evaluate(&Call::new(&rung(None)));
        assert_eq!(v.outcome, Outcome::NotApplicable);
        assert!(v.reason.contains("no ring time"), "{}", v.reason);
    }

    #[test]
    fn max_is_required() {
        let mut p = Params::new("answered_within", vec![], "t", "check = 1", 0..5);
        AnsweredWithin::build(&mut p);
        let problems = p.finish();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.contains("needs `max`"),
            "{}",
            problems[0]
        );
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("add e.g. `max = \"15s\"` to this criterion")
        );
    }
}

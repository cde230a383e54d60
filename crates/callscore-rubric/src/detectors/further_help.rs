//! `check = "further_help"`: the agent offers more help before the call ends.
//!
//! Offers: "is there anything else (I can help with)", "anything else I can do/help with",
//! "can I help you with anything else", "what else can I do", "any other questions",
//! "is that everything (for today)". Combine with `last = "90s"` to require the offer near the
//! end rather than anywhere in the call.

use super::Params;
use crate::phrases::hits;
use crate::scope::{Scope, Verdict, Who};
use crate::text::Call;
use callscore_core::fmt_ms;
use regex::Regex;

const OFFER: &str = r"(?i)\b(is|was) there (anything|something) (else|more)\b|\b(anything|something) (else|more),? (that )?(i|we) can\b|\b(help|assist) (you )?with (anything|something) else\b|\banything else (for you )?today\b|\bwhat else can (i|we)\b|\bany other (questions|queries|issues|concerns|problems)\b|\b(is|was) that (everything|all)( for (you|today|now))?\b|\b(anything|something) else you need\b|\banything else on your mind\b";

#[derive(Debug)]
pub(crate) struct FurtherHelp {
    offer: Regex,
}

impl FurtherHelp {
    pub fn build(_p: &mut Params<'_>) -> FurtherHelp {
        FurtherHelp {
            offer: Regex::new(OFFER).expect("built-in pattern is valid"),
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let scope = Scope {
            who: Who::Agent,
            ..*scope
        };
        match hits(call, &scope, &self.offer).into_iter().last() {
            Some(hit) => {
                let ev = call.segs[hit.seg].evidence(&hit.range);
                Verdict::pass(
                    format!("agent offered more help at {}", fmt_ms(ev.start_ms)),
                    vec![ev],
                )
            }
            None => {
                let last = call
                    .segs
                    .iter()
                    .rev()
                    .find(|s| s.speaker == callscore_core::Speaker::Agent);
                let tail = last
                    .map(|s| {
                        let sentence = s.sentences.last().cloned().unwrap_or(0..s.text.len());
                        s.evidence(&sentence)
                    })
                    .map(|ev| {
                        (
                            format!(
                                "; the agent's last words at {} were \"{}\"",
                                fmt_ms(ev.start_ms),
                                ev.quote
                            ),
                            vec![ev],
                        )
                    })
                    .unwrap_or_default();
                Verdict::fail(
                    format!(
                        "agent never offered further help{}{}",
                        scope.window.describe(),
                        tail.0
                    ),
                    tail.1,
                )
            }
        }
    }
}

impl super::Detector for FurtherHelp {
    fn judge(&self, call: &Call<'_>, scope: &Scope, _lex: &crate::names::Lexicon) -> Verdict {
        self.evaluate(call, scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testutil::*;
    use crate::scope::Window;
    use callscore_core::Outcome;

    fn judge(tr: &callscore_core::Transcript, window: Window) -> Verdict {
        FurtherHelp {
            offer: Regex::new(OFFER).unwrap(),
        }
        .evaluate(
            &Call::new(tr),
            &Scope {
                who: Who::Agent,
                window,
            },
        )
    }

    #[test]
    fn recognises_common_offers() {
        for line in [
            "Is there anything else I can help you with today?",
            "anything else i can do for you",
            "Can I help you with anything else?",
            "Great. Any other questions?",
            "is that everything for today",
            "What else can I do for you?",
        ] {
            let v = judge(&t(&[(A, 0.0, 3.0, line)]), Window::Whole);
            assert_eq!(v.outcome, Outcome::Pass, "{line}");
        }
    }

    #[test]
    fn other_uses_of_else_do_not_count() {
        let v = judge(
            &t(&[(A, 0.0, 3.0, "I can't do anything else about it. Goodbye.")]),
            Window::Whole,
        );
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("last words at 0:00 were \"Goodbye.\""),
            "{}",
            v.reason
        );
    }

    #[test]
    fn must_be_in_the_window_and_from_the_agent() {
        let tr = t(&[
            (A, 0.0, 3.0, "Anything else I can help with?"),
            (A, 200.0, 203.0, "Okay bye."),
            (C, 203.0, 204.0, "Is there anything else?"),
        ]);
        assert_eq!(judge(&tr, Window::Last(60_000)).outcome, Outcome::Fail);
        assert_eq!(judge(&tr, Window::Whole).outcome, Outcome::Pass);
    }
}

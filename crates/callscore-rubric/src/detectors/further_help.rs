//! `check = "further_help"`: the agent offers more help before the call ends.
//!
//! Offers: "is there anything else (I can help with)", "anything else I can do/help with",
//! "can I help you with anything else", "what else can I do", "any other questions",
//! "is that everything (for today)". Combine with `last = "90s"` to require the offer near the
//! end rather than anywhere in the call. In a Chinese rubric (`language = "zh"`) also
//! 还有什么可以帮您, 还有其他问题吗, 还有别的需要吗, 还需要我帮您…

use super::Params;
use crate::lang::Language;
use crate::phrases::hits;
use crate::scope::{Scope, Verdict, Who};
use crate::text::Call;
use callscore_core::fmt_ms;
use regex::Regex;

const OFFER: &str = r"(?i)\b(is|was) there (anything|something) (else|more)\b|\b(anything|something) (else|more),? (that )?(i|we) can\b|\b(help|assist) (you )?with (anything|something) else\b|\banything else (for you )?today\b|\bwhat else can (i|we)\b|\bany other (questions|queries|issues|concerns|problems)\b|\b(is|was) that (everything|all)( for (you|today|now))?\b|\b(anything|something) else you need\b|\banything else on your mind\b";

/// Mandarin offers of more help.
const OFFER_ZH: &str = r"还有(没有)?(什么|其他|其它|别的|啥)(问题|需要|事情?|业务|地方|可以|能|要)|(还|另外)(需要|要)(我|咱们|我们)?(帮|为|替|给)|还有(什么|其他|其它|别的)[^。！？?!]{0,8}(帮|服务|协助|咨询|办理)";

#[derive(Debug)]
pub(crate) struct FurtherHelp {
    offer: Regex,
}

impl FurtherHelp {
    pub fn build(p: &mut Params<'_>) -> FurtherHelp {
        let offer = match p.language {
            Language::English => OFFER.to_string(),
            Language::Chinese => format!("{OFFER_ZH}|{OFFER}"),
        };
        FurtherHelp {
            offer: Regex::new(&offer).expect("built-in pattern is valid"),
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

    #[test]
    fn mandarin_offers_in_a_chinese_rubric() {
        let mut p =
            Params::new("further_help", vec![], "t", "", 0..0).in_language(Language::Chinese);
        let check = FurtherHelp::build(&mut p);
        let judge = |line: &str| {
            check
                .evaluate(
                    &Call::new(&t(&[(A, 0.0, 3.0, line)])),
                    &Scope {
                        who: Who::Agent,
                        window: Window::Whole,
                    },
                )
                .outcome
        };
        for line in [
            "请问还有什么可以帮您的吗？",
            "还有其他问题吗",
            "还需要我帮您做什么吗",
            "您还有别的需要吗",
        ] {
            assert_eq!(judge(line), Outcome::Pass, "{line}");
        }
        for line in ["这个还有别的原因。", "我没有其他办法了。"] {
            assert_eq!(judge(line), Outcome::Fail, "{line}");
        }
    }
}

//! `check = "greeting"`: the agent greets the caller near the start of the call.
//!
//! A greeting is "hello", "hi", "good morning/afternoon/evening", "thank you for calling",
//! "welcome to …" or "you've reached …". With `company = "Acme"` (or a list of names), the
//! agent must also name the company in the same window. The window defaults to the first 30 s
//! (`within` overrides it). In a Chinese rubric (`language = "zh"`) greetings are also
//! 您好 / 你好 / 早上好…, 欢迎致电 / 欢迎来电, 感谢(您的)来电, and 喂.

use super::Params;
use crate::lang::Language;
use crate::phrases::hits;
use crate::scope::{Scope, Verdict, Who};
use crate::text::Call;
use callscore_core::fmt_ms;
use regex::Regex;

/// The greeting window when the criterion gives none.
pub(crate) const DEFAULT_WITHIN_MS: u64 = 30_000;

const GREETING: &str = r"(?i)\b(good (morning|afternoon|evening|day)|hello|hi|hiya|hey|howdy|greetings|welcome( to)?|thanks? (you )?(so much )?for (calling|contacting|ringing|phoning|holding|choosing)|you('ve| have) reached)\b";

/// Mandarin greetings on a service line.
const GREETING_ZH: &str = r"您好|你好|早上好|上午好|中午好|下午好|晚上好|欢迎(致电|来电|您?拨打|光临|使用)|(感谢|谢谢)(您的?)?(来电|致电|拨打)|喂";

#[derive(Debug)]
pub(crate) struct Greeting {
    greeting: Regex,
    /// Company names, each as written and as a pattern that tolerates spacing and punctuation.
    company: Vec<(String, Regex)>,
}

impl Greeting {
    pub fn build(p: &mut Params<'_>) -> Greeting {
        let company = p
            .strings("company")
            .into_iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                let folded = crate::text::fold_chinese(&c).unwrap_or_else(|| c.clone());
                let re = Regex::new(&crate::text::words_pattern(&folded))
                    .expect("escaped words form a valid pattern");
                (c, re)
            })
            .collect();
        let greeting = match p.language {
            Language::English => GREETING.to_string(),
            // Agents on Chinese lines greet in English too ("Hello, 长江银行").
            Language::Chinese => format!("{GREETING_ZH}|{GREETING}"),
        };
        Greeting {
            greeting: Regex::new(&greeting).expect("built-in pattern is valid"),
            company,
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let scope = Scope {
            who: Who::Agent,
            ..*scope
        };
        let window = scope.window.describe();
        let Some((_, first)) = scope.segs(call).next() else {
            return match call
                .segs
                .iter()
                .find(|s| s.speaker == callscore_core::Speaker::Agent)
            {
                Some(later) => Verdict::fail(
                    format!(
                        "the agent did not speak{window}; their first words came at {}",
                        fmt_ms(later.start_ms)
                    ),
                    vec![later.opening_evidence()],
                ),
                None => Verdict::fail("the agent never spoke", vec![]),
            };
        };
        let Some(greet) = hits(call, &scope, &self.greeting).into_iter().next() else {
            let opening = first.opening_evidence();
            return Verdict::fail(
                format!("no greeting in agent speech{window}; the agent's first words at {} were \"{}\"", fmt_ms(opening.start_ms), opening.quote),
                vec![opening],
            );
        };
        let greet_ev = call.segs[greet.seg].evidence(&greet.range);
        if self.company.is_empty() {
            return Verdict::pass(
                format!("agent greeted the caller at {}", fmt_ms(greet_ev.start_ms)),
                vec![greet_ev],
            );
        }
        let named = self
            .company
            .iter()
            .find_map(|(_, re)| hits(call, &scope, re).into_iter().next());
        match named {
            Some(hit) => {
                let company_ev = call.segs[hit.seg].evidence(&hit.range);
                let mut evidence = vec![greet_ev.clone()];
                if company_ev != greet_ev {
                    evidence.push(company_ev.clone());
                }
                Verdict::pass(
                    format!(
                        "agent greeted the caller at {} and named the company at {}",
                        fmt_ms(greet_ev.start_ms),
                        fmt_ms(company_ev.start_ms)
                    ),
                    evidence,
                )
            }
            None => {
                let names: Vec<&str> = self.company.iter().map(|(c, _)| c.as_str()).collect();
                Verdict::fail(
                    format!(
                        "agent greeted the caller at {} but did not name the company ({}){window}",
                        fmt_ms(greet_ev.start_ms),
                        names.join(" / ")
                    ),
                    vec![greet_ev],
                )
            }
        }
    }
}

impl super::Detector for Greeting {
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
    use toml::{Spanned, Value};

    fn greeting(company: Option<&str>) -> Greeting {
        let values = company
            .map(|c| vec![("company", Spanned::new(0..0, Value::String(c.into())))])
            .unwrap_or_default();
        let mut p = Params::new("greeting", values, "t", "", 0..0);
        let g = Greeting::build(&mut p);
        assert!(p.finish().is_empty());
        g
    }

    const FIRST_30: Scope = Scope {
        who: Who::Agent,
        window: Window::First(DEFAULT_WITHIN_MS),
    };

    #[test]
    fn passes_on_a_greeting_in_the_window() {
        let tr = t(&[(A, 0.5, 3.0, "Thank you for calling Acme, this is Daniel.")]);
        let v = greeting(None).evaluate(&Call::new(&tr), &FIRST_30);
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(
            v.evidence[0].quote,
            "Thank you for calling Acme, this is Daniel."
        );
    }

    #[test]
    fn fails_when_the_agent_opens_without_a_greeting() {
        let tr = t(&[(A, 0.5, 3.0, "Account number?"), (A, 4.0, 6.0, "Okay.")]);
        let v = greeting(None).evaluate(&Call::new(&tr), &FIRST_30);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason
                .contains("first words at 0:00 were \"Account number?\""),
            "{}",
            v.reason
        );
    }

    #[test]
    fn a_late_greeting_does_not_count() {
        let tr = t(&[
            (C, 0.0, 35.0, "Hello? Hello?"),
            (A, 36.0, 38.0, "Hi, sorry about the wait."),
        ]);
        let v = greeting(None).evaluate(&Call::new(&tr), &FIRST_30);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("first words came at 0:36"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn greeting_words_inside_other_words_do_not_count() {
        let tr = t(&[(A, 0.0, 3.0, "This is the thing: hiccups, heyday.")]);
        assert_eq!(
            greeting(None).evaluate(&Call::new(&tr), &FIRST_30).outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn company_must_be_named_when_configured() {
        let g = greeting(Some("Acme Energy"));
        let with = t(&[(A, 0.0, 3.0, "Good morning, you're through to ACME energy.")]);
        assert_eq!(
            g.evaluate(&Call::new(&with), &FIRST_30).outcome,
            Outcome::Pass
        );
        let without = t(&[(A, 0.0, 3.0, "Good morning, how can I help?")]);
        let v = g.evaluate(&Call::new(&without), &FIRST_30);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("did not name the company (Acme Energy)"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn caller_greetings_do_not_count() {
        let tr = t(&[(C, 0.0, 2.0, "Hello!"), (A, 2.0, 4.0, "Yes.")]);
        assert_eq!(
            greeting(None).evaluate(&Call::new(&tr), &FIRST_30).outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn mandarin_greetings_and_company_in_a_chinese_rubric() {
        let build = |lang| {
            let values = vec![(
                "company",
                Spanned::new(0..0, Value::String("长江银行".into())),
            )];
            let mut p = Params::new("greeting", values, "t", "", 0..0).in_language(lang);
            Greeting::build(&mut p)
        };
        let tr = t(&[(A, 0.0, 3.0, "您好欢迎致电长江银行我是王芳")]);
        let v = build(Language::Chinese).evaluate(&Call::new(&tr), &FIRST_30);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        // An English rubric keeps its English greetings only.
        let v = build(Language::English).evaluate(&Call::new(&tr), &FIRST_30);
        assert_eq!(v.outcome, Outcome::Fail, "{}", v.reason);
    }
}

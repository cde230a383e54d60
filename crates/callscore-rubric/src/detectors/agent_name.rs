//! `check = "agent_name"`: the agent introduces themself by name.
//!
//! Accepted forms: "my name is X", "my name's X", "this is X", "I'm X", "I am X", "it's X",
//! "X speaking", "X calling from…" (an outbound opening), "you're speaking with X", "you've
//! reached X". After the weak cues ("I'm",
//! "this is", "it's", "X speaking") X must look like a name: capitalised, or not an ordinary
//! English word, so "I'm sorry" and "this is about…" are not introductions. When the call's
//! metadata names the agent, that name counts after any cue even in lowercase. Honours
//! `within`/`last` (whole call by default).
//!
//! In a Chinese rubric (`language = "zh"`) also "我是王芳", "我叫王芳", "我是客服小王", "我是工号
//! 1024的王芳" (roles and job numbers between the cue and the name are skipped; the name must
//! start with a common surname, see [`crate::names_zh`]), and an agent who identifies by job
//! number alone ("工号1024为您服务"), as Chinese service lines often do.

use super::Params;
use crate::lang::Language;
use crate::names::{self_introductions, Lexicon, PersonName, INTRO_CUES};
use crate::names_zh::{self, ZhName, JOB_NUMBER_ZH};
use crate::scope::{Scope, Verdict, Who};
use crate::text::Call;
use callscore_core::fmt_ms;
use regex::Regex;

#[derive(Debug)]
pub(crate) struct AgentName {
    /// Sentences without an introduction cue are skipped.
    cues: Regex,
    /// Mandarin cues and job numbers, in a Chinese rubric.
    zh: Option<(Vec<Regex>, Regex)>,
}

impl AgentName {
    pub fn build(p: &mut Params<'_>) -> AgentName {
        let zh = (p.language == Language::Chinese).then(|| {
            (
                names_zh::intro_cues_zh()
                    .iter()
                    .map(|c| Regex::new(c).expect("built-in pattern is valid"))
                    .collect(),
                Regex::new(JOB_NUMBER_ZH).expect("built-in pattern is valid"),
            )
        });
        AgentName {
            cues: Regex::new(INTRO_CUES).expect("built-in pattern is valid"),
            zh,
        }
    }

    /// A Mandarin self-introduction in the agent's speech: (what to call it, where).
    fn introduction_zh(
        &self,
        call: &Call<'_>,
        scope: &Scope,
        expected: Option<&ZhName>,
    ) -> Option<(String, callscore_core::Evidence)> {
        let (cues, job) = self.zh.as_ref()?;
        for (_, seg) in scope.segs(call) {
            for cue in cues.iter().flat_map(|c| c.find_iter(seg.text)) {
                if let Some((_, name_range)) = names_zh::name_at(seg.text, cue.end(), expected) {
                    let range = cue.start()..name_range.end;
                    if scope.includes_match(call, seg, &range) {
                        // As said: "王芳", "小王", or the surname before a form of address.
                        let said = seg.said(&name_range).to_string();
                        return Some((said, seg.evidence(&range)));
                    }
                }
            }
            for m in job.find_iter(seg.text) {
                let range = m.range();
                if scope.includes_match(call, seg, &range) {
                    return Some((seg.said(&range).to_string(), seg.evidence(&range)));
                }
            }
        }
        None
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope, lex: &Lexicon) -> Verdict {
        let scope = Scope {
            who: Who::Agent,
            ..*scope
        };
        let expected = call.meta.agent.as_deref().and_then(PersonName::parse);
        let expected_zh = call.meta.agent.as_deref().and_then(ZhName::parse);
        if let Some((name, ev)) = self.introduction_zh(call, &scope, expected_zh.as_ref()) {
            return Verdict::pass(
                format!(
                    "agent introduced themself as '{name}' at {}",
                    fmt_ms(ev.start_ms)
                ),
                vec![ev],
            );
        }
        for (_, seg) in scope.segs(call) {
            for sentence in seg.sentences {
                if !self.cues.is_match(&seg.text[sentence.clone()]) {
                    continue;
                }
                let found = self_introductions(
                    seg,
                    sentence.clone(),
                    lex,
                    expected.as_ref().map(|n| n.first.as_str()),
                );
                if let Some((name, range)) = found
                    .into_iter()
                    .find(|(_, r)| scope.includes_match(call, seg, r))
                {
                    let ev = seg.evidence(&range);
                    return Verdict::pass(
                        format!(
                            "agent introduced themself as '{}' at {}",
                            name.display(),
                            fmt_ms(ev.start_ms)
                        ),
                        vec![ev],
                    );
                }
            }
        }
        let expected_note = expected
            .map(|n| format!(" (the call's metadata names the agent '{}')", n.display()))
            .unwrap_or_default();
        let first = scope.segs(call).next().map(|(_, s)| s.opening_evidence());
        match first {
            Some(ev) => Verdict::fail(
                format!(
                    "agent never gave their name{} (no {}){expected_note}; their first words at {} were \"{}\"",
                    scope.window.describe(),
                    if self.zh.is_some() { "'我是…', '我叫…', '工号…', 'my name is …'" } else { "'my name is …', 'this is …', '… speaking'" },
                    fmt_ms(ev.start_ms),
                    ev.quote
                ),
                vec![ev],
            ),
            None => Verdict::fail(format!("the agent did not speak{}{expected_note}", scope.window.describe()), vec![]),
        }
    }
}

impl super::Detector for AgentName {
    fn judge(&self, call: &Call<'_>, scope: &Scope, lex: &crate::names::Lexicon) -> Verdict {
        self.evaluate(call, scope, lex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testutil::*;
    use crate::scope::Window;
    use callscore_core::Outcome;

    const WHOLE: Scope = Scope {
        who: Who::Agent,
        window: Window::Whole,
    };

    fn judge(tr: &callscore_core::Transcript) -> Verdict {
        AgentName::build(&mut Params::new("agent_name", vec![], "t", "", 0..0)).evaluate(
            &Call::new(tr),
            &WHOLE,
            &Lexicon::new(),
        )
    }

    #[test]
    fn my_name_is() {
        let v = judge(&t(&[(
            A,
            0.0,
            4.0,
            "Thanks for calling Acme. My name is Daniel, how can I help?",
        )]));
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.evidence[0].quote, "My name is Daniel, how can I help?");
        assert!(v.reason.contains("'Daniel'"));
    }

    #[test]
    fn name_speaking_and_this_is() {
        assert_eq!(
            judge(&t(&[(A, 0.0, 2.0, "Acme support, Daniel speaking.")])).outcome,
            Outcome::Pass
        );
        assert_eq!(
            judge(&t(&[(A, 0.0, 2.0, "Hi, this is Priya from billing.")])).outcome,
            Outcome::Pass
        );
        assert_eq!(
            judge(&t(&[(A, 0.0, 2.0, "hello i'm priya")])).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn apologies_and_topics_are_not_names() {
        let v = judge(&t(&[(
            A,
            0.0,
            3.0,
            "I'm sorry, this is about your bill. I'm checking now.",
        )]));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.contains("their first words at 0:00"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn only_the_agent_counts() {
        let v = judge(&t(&[
            (C, 0.0, 2.0, "Hi, my name is Amelia."),
            (A, 2.0, 4.0, "Okay, how can I help?"),
        ]));
        assert_eq!(v.outcome, Outcome::Fail);
    }

    #[test]
    fn metadata_name_counts_even_when_it_is_a_common_word() {
        let mut tr = t(&[(A, 0.0, 2.0, "hi i'm will how can i help")]);
        assert_eq!(
            judge(&tr).outcome,
            Outcome::Fail,
            "lowercase 'will' is a word without metadata"
        );
        tr.meta.agent = Some("Will Hart".into());
        assert_eq!(judge(&tr).outcome, Outcome::Pass);
    }

    fn judge_zh(tr: &callscore_core::Transcript) -> Verdict {
        let mut p = Params::new("agent_name", vec![], "t", "", 0..0).in_language(Language::Chinese);
        AgentName::build(&mut p).evaluate(&Call::new(tr), &WHOLE, &Lexicon::new())
    }

    #[test]
    fn mandarin_introductions() {
        for (line, name) in [
            ("您好，我是客服王芳，很高兴为您服务。", "王芳"),
            ("您好我是长江银行的客服代表李娜请问有什么可以帮您", "李娜"),
            ("我是小王，请问有什么可以帮您？", "小王"),
            ("您好，3号客服为您服务。", "3号客服"),
        ] {
            let v = judge_zh(&t(&[(A, 0.0, 3.0, line)]));
            assert_eq!(v.outcome, Outcome::Pass, "{line}: {}", v.reason);
            assert!(
                v.reason.contains(&format!("'{name}'")),
                "{line}: {}",
                v.reason
            );
        }
        for line in [
            "我是来帮您处理的。",
            "我是说您可以在网上办理。",
            "我来帮您查一下。",
        ] {
            let v = judge_zh(&t(&[(A, 0.0, 3.0, line)]));
            assert_eq!(v.outcome, Outcome::Fail, "{line}: {}", v.reason);
            assert!(v.reason.contains("我是…"), "{}", v.reason);
        }
    }
}

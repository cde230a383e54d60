//! `check = "agent_name"`: the agent introduces themself by name.
//!
//! Accepted forms: "my name is X", "my name's X", "this is X", "I'm X", "I am X", "it's X",
//! "X speaking", "you're speaking with X", "you've reached X". After the weak cues ("I'm",
//! "this is", "it's", "X speaking") X must look like a name: capitalised, or not an ordinary
//! English word, so "I'm sorry" and "this is about…" are not introductions. When the call's
//! metadata names the agent, that name counts after any cue even in lowercase. Honours
//! `within`/`last` (whole call by default).

use super::Params;
use crate::names::{self_introductions, Lexicon, PersonName, INTRO_CUES};
use crate::scope::{Scope, Verdict, Who};
use crate::text::Call;
use callscore_core::fmt_ms;
use regex::Regex;

#[derive(Debug)]
pub(crate) struct AgentName {
    /// Sentences without an introduction cue are skipped.
    cues: Regex,
}

impl AgentName {
    pub fn build(_p: &mut Params<'_>) -> AgentName {
        AgentName {
            cues: Regex::new(INTRO_CUES).expect("built-in pattern is valid"),
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope, lex: &Lexicon) -> Verdict {
        let scope = Scope {
            who: Who::Agent,
            ..*scope
        };
        let expected = call.meta.agent.as_deref().and_then(PersonName::parse);
        for (_, seg) in scope.segs(call) {
            for sentence in &seg.sentences {
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
                    "agent never gave their name{} (no 'my name is …', 'this is …', '… speaking'){expected_note}; their first words at {} were \"{}\"",
                    scope.window.describe(),
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
}

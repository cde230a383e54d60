//! `check = "uses_caller_name"`: the agent addresses the caller by name once the name is known.
//!
//! The caller's name becomes known
//! - at the start of the call, from the call's metadata (`meta.caller_name`);
//! - when the caller says it: "my name is Priya Raman", "this is Priya", "it's Amelia",
//!   "I'm Will" (after "I'm"/"it's"/"this is" the word must look like a name, so "I'm calling
//!   about…" is not a name; see [`crate::names`]);
//! - when the caller answers the agent asking for it ("may I have your name?" → "Sure, Amelia
//!   Novak."): the first words of the caller's next turn, after "sure", "yes", "it's"….
//!
//! The agent passes by saying the first or the last name (`min` times, default 1) after it
//! became known. A name that is also an ordinary word (Will, Hope, Rose, Bill, Mark, Grace)
//! counts only where it is used as a name: capitalised inside a sentence, after a title
//! ("Mr Turner"), with the other name, or set off by commas ("Thank you, will."). "Sir" and
//! "madam" are not the name. When the name never becomes known the criterion is not applicable
//! (`unknown_name = "na"`, the default) or fails (`unknown_name = "fail"`).
//!
//! In a Chinese rubric (`language = "zh"`) a Chinese name becomes known from the metadata
//! ("王小明"), from the caller ("我叫王小明", "我姓王", "免贵姓王"), or in answer to the agent
//! asking ("请问您贵姓?", "怎么称呼您?" → "姓王" / "王小明"); the agent passes by saying the full
//! name, a two-character given name, or the surname with a form of address (王先生, 王女士,
//! 王小姐…): see [`crate::names_zh`].

use super::questions::classify;
use super::Params;
use crate::lang::Language;
use crate::names::{
    is_name_use, name_at, self_introductions, Cue, Lexicon, PersonName, INTRO_CUES,
};
use crate::names_zh::{self, ZhName};
use crate::phrases::hits;
use crate::scope::{Scope, Verdict, Who};
use crate::text::{tokens, Call, Seg};
use callscore_core::{fmt_ms, Evidence, Speaker};
use memchr::memmem::Finder;
use regex::Regex;
use std::ops::Range;

/// How long after the agent asks for the name the caller's answer may start.
const ANSWER_WITHIN_MS: u64 = 30_000;
/// Mentions quoted as evidence.
const MAX_MENTIONS_QUOTED: usize = 3;

const NAME_REQUEST: &str = r"(?i)\b(your|the|a) (full |first |last |sur)?name\b|\bwho (am i|i'm|i am) (speaking|talking) (with|to)\b|\bwho('s| is) (calling|this|speaking)\b|\bwhom? do i have\b";

/// Words before the name in an answer to "may I have your name?".
const ANSWER_LEAD_INS: &[&str] = &[
    "absolutely",
    "am",
    "certainly",
    "course",
    "er",
    "erm",
    "first",
    "full",
    "hello",
    "hi",
    "i",
    "i'm",
    "is",
    "it",
    "it's",
    "its",
    "my",
    "name",
    "name's",
    "no",
    "of",
    "oh",
    "ok",
    "okay",
    "problem",
    "right",
    "so",
    "sure",
    "that",
    "that's",
    "the",
    "this",
    "uh",
    "um",
    "well",
    "yeah",
    "yep",
    "yes",
    "yes,",
    "yup",
];

/// Forms of address that stand in for a name and are not one.
const HONORIFICS: &[&str] = &["ma'am", "maam", "madam", "mam", "sir"];
/// The same forms, for skipping turns that hold none of them.
const HONORIFIC_PATTERN: &str = r"(?i)\b(sir|madam|ma['’]?am|mam)\b";

/// "Priya's" → "Priya".
fn strip_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("’s"))
        .unwrap_or(word)
}

/// Mandarin requests for the caller's name.
const NAME_REQUEST_ZH: &str =
    r"贵姓|怎么称呼|如何称呼|尊姓大名|(叫|是)什么名字|(您|你)的(全名|姓名|名字)|姓什么";
/// Words before the name in an answer ("嗯，好的，我叫…").
const ANSWER_LEAD_INS_ZH: &str = r"^(?:[嗯哦啊好的是对行没问题,，、\s]|可以)*(?:我叫|我是|叫|是)?";

/// The Mandarin cues, in a Chinese rubric.
#[derive(Debug)]
struct ZhCues {
    request: Regex,
    intro: Regex,
    surname: Regex,
    lead_in: Regex,
}

/// A Chinese name that became known, as [`Known`] for other names.
#[derive(Debug, Clone)]
struct KnownZh {
    name: ZhName,
    at_ms: u64,
    said: Option<Evidence>,
}

impl KnownZh {
    fn how(&self) -> String {
        how_known(&self.name.full(), self.said.as_ref())
    }
}

#[derive(Debug)]
pub(crate) struct UsesCallerName {
    zh: Option<ZhCues>,
    pub(crate) min: u32,
    pub(crate) fail_when_unknown: bool,
    name_request: Regex,
    /// Every name request holds "name" or "who": agent sentences with neither are skipped.
    name_word: Finder<'static>,
    who_word: Finder<'static>,
    /// Caller sentences without an introduction cue are skipped.
    intro_cues: Regex,
    honorifics: Regex,
}

/// Where a segment said something worth quoting: evidence is built only for what a verdict
/// quotes (a name said forty times is quoted three times).
#[derive(Debug, Clone)]
struct Said<'a> {
    seg: &'a Seg<'a>,
    range: Range<usize>,
}

impl Said<'_> {
    fn evidence(&self) -> Evidence {
        self.seg.evidence(&self.range)
    }
}

/// An agent's use of the name: where, and the word as said.
#[derive(Debug)]
struct Mention<'a> {
    said: Said<'a>,
    word: &'a str,
}

/// A way the caller's name became known.
#[derive(Debug, Clone)]
struct Known<'a> {
    name: PersonName,
    at_ms: u64,
    /// What was said, when it came from speech.
    said: Option<Said<'a>>,
}

/// How the name became known, for the reason: from the metadata, or said at the time of `said`.
fn how_known(name: &str, said: Option<&Evidence>) -> String {
    match said {
        None => format!("the caller's name '{name}' is in the call's metadata"),
        Some(ev) => format!(
            "caller gave their name ('{name}') at {}",
            fmt_ms(ev.start_ms)
        ),
    }
}

impl UsesCallerName {
    pub fn build(p: &mut Params<'_>) -> UsesCallerName {
        let min = p.count("min").unwrap_or(1);
        if min == 0 {
            p.invalid("`min` of check `uses_caller_name` must be at least 1".into());
        }
        let fail_when_unknown = p.choice("unknown_name", &["na", "fail"], "na") == "fail";
        let zh = (p.language == Language::Chinese).then(|| ZhCues {
            request: Regex::new(NAME_REQUEST_ZH).expect("built-in pattern is valid"),
            intro: Regex::new(&names_zh::intro_cues_zh()[0]).expect("built-in pattern is valid"),
            surname: Regex::new(names_zh::SURNAME_CUES_ZH).expect("built-in pattern is valid"),
            lead_in: Regex::new(ANSWER_LEAD_INS_ZH).expect("built-in pattern is valid"),
        });
        UsesCallerName {
            zh,
            min: min.max(1),
            fail_when_unknown,
            name_request: Regex::new(NAME_REQUEST).expect("built-in pattern is valid"),
            name_word: Finder::new("name"),
            who_word: Finder::new("who"),
            intro_cues: Regex::new(INTRO_CUES).expect("built-in pattern is valid"),
            honorifics: Regex::new(HONORIFIC_PATTERN).expect("built-in pattern is valid"),
        }
    }

    /// The names that became known, each once, at the first moment it did (a caller who says
    /// their name again adds nothing: a later moment only allows fewer mentions).
    fn known_names<'a>(&self, call: &'a Call<'a>, lex: &Lexicon) -> Vec<Known<'a>> {
        let mut known = Vec::new();
        if let Some(name) = call.meta.caller_name.as_deref().and_then(PersonName::parse) {
            known.push(Known {
                name,
                at_ms: 0,
                said: None,
            });
        }
        let expected = known.first().map(|k| k.name.first.clone());
        // Caller segments holding an introduction cue, found in one search of the caller's speech.
        let caller = Scope {
            who: Who::Caller,
            window: crate::scope::Window::Whole,
        };
        let mut cued: Vec<usize> = hits(call, &caller, &self.intro_cues)
            .into_iter()
            .map(|h| h.seg)
            .collect();
        cued.dedup();
        for (i, seg) in call.segs.iter().enumerate() {
            match seg.speaker {
                Speaker::Caller if cued.binary_search(&i).is_ok() => {
                    for sentence in seg
                        .sentences
                        .iter()
                        .filter(|s| self.intro_cues.is_match(&seg.text[(*s).clone()]))
                    {
                        for (name, range) in
                            self_introductions(seg, sentence.clone(), lex, expected.as_deref())
                        {
                            known.push(Known {
                                name,
                                at_ms: seg.time_of(&range).0,
                                said: Some(Said { seg, range }),
                            });
                        }
                    }
                }
                Speaker::Agent => {
                    for sentence in seg.sentences {
                        let text = &seg.text[sentence.clone()];
                        // Every request holds "name" or "who"; most sentences hold neither.
                        let lower = &seg.lower[sentence.clone()];
                        let may_ask = self.name_word.find(lower.as_bytes()).is_some()
                            || self.who_word.find(lower.as_bytes()).is_some();
                        let asks = may_ask
                            && self.name_request.is_match(text)
                            && (classify(seg, sentence).is_some() || lower.contains("please"));
                        if asks {
                            let asked_at = seg.time_of(sentence).0;
                            if let Some(answer) = self.answer_after(call, i, asked_at, lex) {
                                known.push(answer);
                            }
                        }
                    }
                }
                Speaker::Caller | Speaker::Unknown => {}
            }
        }
        known.sort_by_key(|k| k.at_ms);
        let mut seen: Vec<PersonName> = Vec::with_capacity(known.len());
        known.retain(|k| {
            let new = !seen.contains(&k.name);
            if new {
                seen.push(k.name.clone());
            }
            new
        });
        known
    }

    /// The name in the caller's first turn after the agent asked for it at `asked_at`.
    fn answer_after<'a>(
        &self,
        call: &'a Call<'a>,
        agent_seg: usize,
        asked_at: u64,
        lex: &Lexicon,
    ) -> Option<Known<'a>> {
        let seg = call
            .segs
            .iter()
            .enumerate()
            .skip(agent_seg.saturating_sub(3))
            .find(|(_, s)| {
                s.speaker == Speaker::Caller
                    && s.start_ms >= asked_at
                    && s.start_ms <= asked_at + ANSWER_WITHIN_MS
            })?
            .1;
        let sentence = seg.sentences.first()?.clone();
        let toks = tokens(seg.text, sentence);
        let skip = toks
            .iter()
            .take(6)
            .take_while(|t| t.is_any(ANSWER_LEAD_INS))
            .count();
        let (name, end) = name_at(&toks, skip, Cue::Strong, lex)?;
        let range = toks[skip].start..toks[end - 1].end;
        Some(Known {
            name,
            at_ms: seg.time_of(&range).0,
            said: Some(Said { seg, range }),
        })
    }

    /// Chinese names that became known, in the order they did.
    fn known_names_zh(&self, call: &Call<'_>, zh: &ZhCues) -> Vec<KnownZh> {
        let mut known = Vec::new();
        let expected = call.meta.caller_name.as_deref().and_then(ZhName::parse);
        if let Some(name) = &expected {
            known.push(KnownZh {
                name: name.clone(),
                at_ms: 0,
                said: None,
            });
        }
        let push = |seg: &crate::text::Seg<'_>,
                    found: Option<(ZhName, std::ops::Range<usize>)>,
                    known: &mut Vec<KnownZh>| {
            if let Some((name, range)) = found {
                known.push(KnownZh {
                    name,
                    at_ms: seg.time_of(&range).0,
                    said: Some(seg.evidence(&range)),
                });
            }
        };
        for (i, seg) in call.segs.iter().enumerate() {
            match seg.speaker {
                Speaker::Caller => {
                    for m in zh.surname.find_iter(seg.text) {
                        push(seg, names_zh::surname_at(seg.text, m.end()), &mut known);
                    }
                    for m in zh.intro.find_iter(seg.text) {
                        push(
                            seg,
                            names_zh::name_at(seg.text, m.end(), expected.as_ref()),
                            &mut known,
                        );
                    }
                }
                Speaker::Agent => {
                    for m in zh.request.find_iter(seg.text) {
                        let asked_at = seg.time_of(&m.range()).0;
                        let answer = call.segs.iter().skip(i + 1).find(|s| {
                            s.speaker == Speaker::Caller
                                && s.start_ms >= asked_at
                                && s.start_ms <= asked_at + ANSWER_WITHIN_MS
                        });
                        let Some(answer) = answer else { continue };
                        let Some(first) = answer.sentences.first() else {
                            continue;
                        };
                        let text = &answer.text[first.clone()];
                        // "姓王" / "免贵姓王" gives the surname; otherwise the name leads the answer.
                        let found = match zh.surname.find(text).filter(|m| m.start() <= 9) {
                            Some(m) => names_zh::surname_at(answer.text, first.start + m.end()),
                            None => {
                                let skip = zh.lead_in.find(text).map_or(0, |m| m.end());
                                names_zh::name_at(
                                    answer.text,
                                    first.start + skip,
                                    expected.as_ref(),
                                )
                            }
                        };
                        push(answer, found, &mut known);
                    }
                }
                Speaker::Unknown => {}
            }
        }
        known.sort_by_key(|k| k.at_ms);
        known
    }

    fn evaluate_zh(&self, call: &Call<'_>, scope: &Scope, known: &[KnownZh]) -> Verdict {
        let agent = Scope {
            who: Who::Agent,
            ..*scope
        };
        let mut mentions: Vec<Mention<'_>> = Vec::new();
        for (_, seg) in agent.segs(call) {
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
            for k in known {
                for range in names_zh::addresses(seg.text, &k.name) {
                    let (s, e) = seg.time_of(&range);
                    let after =
                        k.at_ms == 0 || (e > k.at_ms && (seg.words.is_empty() || s >= k.at_ms));
                    if after
                        && agent.includes_match(call, seg, &range)
                        && !ranges
                            .iter()
                            .any(|r| r.start < range.end && range.start < r.end)
                    {
                        ranges.push(range);
                    }
                }
            }
            ranges.sort_by_key(|r| r.start);
            for range in ranges {
                let word = seg.said(&range);
                mentions.push(Mention {
                    said: Said { seg, range },
                    word,
                });
            }
        }
        let first = &known[0];
        let source: Vec<Evidence> = first.said.iter().cloned().collect();
        self.verdict(
            &first.how(),
            &first.name.either(),
            source,
            mentions,
            None,
            scope,
        )
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope, lex: &Lexicon) -> Verdict {
        if let Some(zh) = &self.zh {
            let known = self.known_names_zh(call, zh);
            if !known.is_empty() {
                return self.evaluate_zh(call, scope, &known);
            }
        }
        let known = self.known_names(call, lex);
        let Some(first_known) = known.first() else {
            let reason = "the caller's name never became known: not in the call's metadata, not said by the caller, and not given in answer to the agent";
            return if self.fail_when_unknown {
                Verdict::fail(reason, vec![])
            } else {
                Verdict::na(reason)
            };
        };

        let agent = Scope {
            who: Who::Agent,
            ..*scope
        };
        // Lowercase name parts once, with the known name each belongs to and a searcher for
        // the segments that may hold it.
        let parts: Vec<(String, &Known<'_>, Finder<'static>)> = known
            .iter()
            .flat_map(|k| {
                std::iter::once(&k.name.first)
                    .chain(k.name.last.as_ref())
                    .map(move |p| {
                        let lower = p.to_lowercase();
                        let finder = Finder::new(&lower).into_owned();
                        (lower, k, finder)
                    })
            })
            .collect();
        let mut mentions: Vec<Mention<'_>> = Vec::new();
        let mut honorific: Option<(String, u64)> = None;
        let honorific_segs: Vec<usize> = hits(call, &agent, &self.honorifics)
            .into_iter()
            .map(|h| h.seg)
            .collect();
        for (seg_index, seg) in agent.segs(call) {
            // Most agent turns hold neither the name nor "sir"/"madam": skip them untokenised.
            let may_hold = parts
                .iter()
                .any(|(p, _, f)| !p.is_ascii() || f.find(seg.lower.as_bytes()).is_some())
                || (honorific.is_none() && honorific_segs.binary_search(&seg_index).is_ok());
            if !may_hold {
                continue;
            }
            for sentence in seg.sentences {
                let toks = tokens(seg.text, sentence.clone());
                for (idx, tok) in toks.iter().enumerate() {
                    let bare = strip_possessive(tok.text);
                    let bare_tok = crate::text::Tok { text: bare, ..*tok };
                    if honorific.is_none() && bare_tok.is_any(HONORIFICS) {
                        honorific =
                            Some((tok.text.to_string(), seg.time_of(&(tok.start..tok.end)).0));
                    }
                    let range = tok.start..tok.end;
                    let said_after = |k: &Known<'_>| {
                        let (s, e) = seg.time_of(&range);
                        // Without word times, an agent segment that runs past the moment the name
                        // was given may hold the mention; with word times, the word itself must.
                        k.at_ms == 0 || (e > k.at_ms && (seg.words.is_empty() || s >= k.at_ms))
                    };
                    let matches = parts.iter().any(|(p, k, _)| {
                        bare_tok.is(p)
                            && said_after(k)
                            && is_name_use(seg, &toks, idx, &k.name, lex)
                    });
                    if matches && agent.includes_match(call, seg, &range) {
                        mentions.push(Mention {
                            said: Said { seg, range },
                            word: tok.text,
                        });
                    }
                }
            }
        }

        let source: Vec<Evidence> = first_known.said.iter().map(Said::evidence).collect();
        self.verdict(
            &how_known(&first_known.name.display(), source.first()),
            &first_known.name.either(),
            source,
            mentions,
            honorific,
            scope,
        )
    }

    /// The verdict from how the name became known and the agent's mentions of it.
    fn verdict(
        &self,
        how: &str,
        names: &str,
        source: Vec<Evidence>,
        mentions: Vec<Mention<'_>>,
        honorific: Option<(String, u64)>,
        scope: &Scope,
    ) -> Verdict {
        if mentions.len() as u32 >= self.min {
            let times = if mentions.len() > 1 {
                format!(" ({} times in all)", mentions.len())
            } else {
                String::new()
            };
            let quoted: Vec<Evidence> = mentions
                .iter()
                .take(MAX_MENTIONS_QUOTED)
                .map(|m| m.said.evidence())
                .collect();
            let reason = format!(
                "{how}; agent said '{}' at {}{times}",
                mentions[0].word,
                fmt_ms(quoted[0].start_ms)
            );
            let mut evidence = source;
            evidence.extend(quoted);
            return Verdict::pass(reason, evidence);
        }
        let mut reason = if mentions.is_empty() {
            if source.is_empty() {
                format!("{how}; agent never said {names}")
            } else {
                format!("{how}; agent never said {names} after that")
            }
        } else {
            format!(
                "{how}; agent said it {} time(s){}, at least {} needed",
                mentions.len(),
                scope.window.describe(),
                self.min
            )
        };
        if let Some((word, at)) = honorific {
            reason.push_str(&format!(" (said '{word}' at {} instead)", fmt_ms(at)));
        }
        let mut evidence = source;
        evidence.extend(mentions.iter().map(|m| m.said.evidence()));
        Verdict::fail(reason, evidence)
    }
}

impl super::Detector for UsesCallerName {
    fn judge(&self, call: &Call<'_>, scope: &Scope, lex: &crate::names::Lexicon) -> Verdict {
        self.evaluate(call, scope, lex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testutil::*;
    use crate::scope::Window;
    use callscore_core::{Outcome, Transcript, Word};

    const WHOLE: Scope = Scope {
        who: Who::Agent,
        window: Window::Whole,
    };

    fn judge(tr: &Transcript) -> Verdict {
        let ucn =
            UsesCallerName::build(&mut Params::new("uses_caller_name", vec![], "t", "", 0..0));
        ucn.evaluate(&Call::new(tr), &WHOLE, &Lexicon::new())
    }

    #[test]
    fn caller_says_name_and_agent_uses_it() {
        let tr = t(&[
            (C, 2.0, 5.0, "Hi, my name is Priya Raman."),
            (A, 5.5, 8.0, "Thanks Priya, how can I help?"),
        ]);
        let v = judge(&tr);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert_eq!(
            v.reason,
            "caller gave their name ('Priya Raman') at 0:02; agent said 'Priya' at 0:05"
        );
        assert_eq!(v.evidence.len(), 2);
    }

    #[test]
    fn fail_names_the_moment_and_the_names() {
        let tr = t(&[
            (C, 5.0, 7.0, "This is Priya Raman."),
            (A, 8.0, 10.0, "Okay, let me look at that."),
        ]);
        let v = judge(&tr);
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(v.reason, "caller gave their name ('Priya Raman') at 0:05; agent never said 'Priya' or 'Raman' after that");
        assert_eq!(v.evidence[0].quote, "This is Priya Raman.");
    }

    #[test]
    fn surname_with_title_counts() {
        let tr = t(&[
            (C, 0.0, 2.0, "it's Amelia Novak"),
            (A, 3.0, 5.0, "Thank you Ms. Novak."),
        ]);
        assert_eq!(judge(&tr).outcome, Outcome::Pass);
    }

    #[test]
    fn answer_to_a_name_request() {
        let tr = t(&[
            (A, 0.0, 3.0, "Thanks for calling. May I have your name?"),
            (C, 3.5, 5.0, "Sure, Amelia Novak."),
            (A, 5.5, 8.0, "Thank you Amelia."),
        ]);
        let v = judge(&tr);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert!(
            v.reason
                .starts_with("caller gave their name ('Amelia Novak') at 0:03"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn calling_about_is_not_a_name_and_unknown_is_na() {
        let tr = t(&[
            (C, 0.0, 2.0, "Hi, I'm calling about my bill."),
            (A, 3.0, 5.0, "Sure, sir."),
        ]);
        let v = judge(&tr);
        assert_eq!(v.outcome, Outcome::NotApplicable, "{}", v.reason);
    }

    #[test]
    fn sir_or_madam_is_not_the_name() {
        let tr = t(&[
            (C, 0.0, 2.0, "My name is Grace Obi."),
            (A, 3.0, 5.0, "Thank you madam, one moment."),
        ]);
        let v = judge(&tr);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason.ends_with("(said 'madam' at 0:03 instead)"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn common_word_name_needs_a_name_position() {
        let will = |agent: &str| {
            t(&[
                (C, 0.0, 2.0, "Yeah hi, this is Will Turner."),
                (A, 3.0, 6.0, agent),
            ])
        };
        assert_eq!(
            judge(&will("I will check that for you.")).outcome,
            Outcome::Fail
        );
        assert_eq!(
            judge(&will("Thanks, Will. Let me check.")).outcome,
            Outcome::Pass
        );
        assert_eq!(judge(&will("Okay Mr Turner.")).outcome, Outcome::Pass);
    }

    #[test]
    fn metadata_name_is_known_from_the_start() {
        let mut tr = t(&[(A, 0.0, 3.0, "Hello Priya, thanks for calling.")]);
        tr.meta.caller_name = Some("Priya Raman".into());
        let v = judge(&tr);
        assert_eq!(v.outcome, Outcome::Pass);
        assert!(
            v.reason
                .starts_with("the caller's name 'Priya Raman' is in the call's metadata"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn a_name_said_before_the_caller_gave_it_does_not_count() {
        let w = |s: u64, e: u64, x: &str| Word {
            start_ms: s,
            end_ms: e,
            text: x.into(),
        };
        let mut tr = t(&[
            (A, 0.0, 20.0, "Is that Priya? Okay."),
            (C, 10.0, 12.0, "My name is Priya."),
        ]);
        tr.segments[0].words = vec![
            w(0, 300, "Is"),
            w(300, 500, "that"),
            w(500, 900, "Priya?"),
            w(19_000, 20_000, "Okay."),
        ];
        assert_eq!(judge(&tr).outcome, Outcome::Fail);
    }

    fn judge_zh(tr: &Transcript) -> Verdict {
        let mut p =
            Params::new("uses_caller_name", vec![], "t", "", 0..0).in_language(Language::Chinese);
        UsesCallerName::build(&mut p).evaluate(&Call::new(tr), &WHOLE, &Lexicon::new())
    }

    #[test]
    fn mandarin_surname_answer_and_polite_address() {
        let tr = t(&[
            (A, 0.0, 3.0, "请问您怎么称呼？"),
            (C, 3.5, 5.0, "嗯，姓欧阳。"),
            (A, 5.5, 8.0, "欧阳先生，您好。"),
        ]);
        let v = judge_zh(&tr);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert!(v.reason.contains("'欧阳先生' at 0:05"), "{}", v.reason);
    }

    #[test]
    fn mandarin_name_said_before_it_was_known_does_not_count() {
        let tr = t(&[
            (A, 0.0, 3.0, "王先生是吧？"),
            (C, 3.5, 6.0, "不是，我叫张伟。"),
            (A, 6.5, 8.0, "好的，先生。"),
        ]);
        let v = judge_zh(&tr);
        assert_eq!(v.outcome, Outcome::Fail, "{}", v.reason);
        assert!(v.reason.contains("'张伟' or '张先生/女士'"), "{}", v.reason);
    }
}

//! `check = "questions"`: counts questions (by default the agent's), open and closed.
//!
//! A sentence is a question when it ends with `?`, or — because speech-to-text output often
//! drops the question mark — when one of its clauses opens like a question:
//! - a wh-word followed by a verb: "what is your account number", "how can I help",
//!   "which card did you use" (but not "what I'll do is…" or "when you get the email…");
//! - an auxiliary followed by a subject: "can you confirm…", "is there anything else",
//!   "do you have…", "would you like…", "don't you have…" (but not "will be done", "do check");
//! - a request for information: "tell me…", "walk me through…", "describe…", "explain…".
//!
//! Open questions are those that cannot be answered yes or no: wh-questions and requests
//! ("could you tell me what happened" is open); the rest are closed.
//! Parameters: `min` (questions needed, default 1), `open_min` (open ones needed, default 0).
//!
//! In a Chinese rubric (`language = "zh"`) a sentence in Chinese is a question when it ends
//! with ？ or ?, ends with the particle 吗 or 呢, asks "A-not-A" (是不是, 有没有, 能不能, 可不可以…)
//! or 是否, or opens with the polite 请问. Without one of those, a question word alone does not
//! make a question: "有什么问题随时联系我们" is a statement. Open questions hold a question word
//! (什么, 怎么, 为什么, 哪, 谁, 多少, 几, 如何…, not after 没 or 不: "没什么" is not a question).

use super::Params;
use crate::lang::Language;
use crate::scope::{Scope, Verdict};
use crate::text::{tokens, Call, Seg, Tok, TokenIter};
use regex::Regex;
use std::ops::Range;

/// Most questions quoted as evidence; the reason gives the full count.
const MAX_EVIDENCE: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuestionKind {
    Open,
    Closed,
}

const WH: &[&str] = &[
    "how", "how's", "what", "what's", "whats", "when", "where", "where's", "which", "who", "who's",
    "whom", "whose", "why",
];
const AUX: &[&str] = &[
    "am",
    "are",
    "aren't",
    "can",
    "can't",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "don't",
    "had",
    "has",
    "hasn't",
    "have",
    "haven't",
    "is",
    "isn't",
    "may",
    "might",
    "must",
    "shall",
    "should",
    "shouldn't",
    "was",
    "wasn't",
    "were",
    "weren't",
    "will",
    "won't",
    "would",
    "wouldn't",
];
/// Subjects that follow an auxiliary in a yes/no question.
const SUBJECTS: &[&str] = &[
    "all",
    "anybody",
    "anyone",
    "anything",
    "everything",
    "he",
    "her",
    "his",
    "i",
    "it",
    "my",
    "our",
    "she",
    "somebody",
    "someone",
    "that",
    "the",
    "their",
    "there",
    "these",
    "they",
    "this",
    "those",
    "we",
    "ya",
    "you",
    "your",
];
/// Subjects that, right after a wh-word, make a statement ("what I'll do", "when you get").
const STATEMENT_SUBJECTS: &[&str] = &[
    "he", "i", "i'd", "i'll", "i'm", "i've", "it", "it's", "she", "that", "that's", "they",
    "they'll", "they're", "this", "we", "we'll", "we're", "we've", "you", "you'll", "you're",
    "you've",
];
/// Openings of requests for information that are open questions in all but punctuation.
const REQUESTS: &[&[&str]] = &[
    &["tell", "me"],
    &["walk", "me", "through"],
    &["describe"],
    &["explain"],
    &["talk", "me", "through"],
];
/// Words skipped before a clause's real opening ("so, can you…", "okay and what…").
const LEAD_INS: &[&str] = &[
    "alright", "also", "and", "but", "er", "erm", "great", "just", "lovely", "no", "now", "oh",
    "ok", "okay", "perfect", "right", "so", "sure", "thanks", "then", "uh", "um", "well", "yeah",
    "yes",
];

/// Whether the sentence at `range` of `seg` is a question, and which kind.
pub(crate) fn classify(seg: &Seg<'_>, range: &Range<usize>) -> Option<QuestionKind> {
    questions_in(seg, range).first().map(|(kind, _)| *kind)
}

/// The questions in the sentence at `range`: at most one for a punctuated sentence; for a run
/// of unpunctuated speech-to-text output ("my name is daniel how can i help you today"), one
/// per interrogative opening found inside it. Each comes with the text to quote.
pub(crate) fn questions_in(
    seg: &Seg<'_>,
    range: &Range<usize>,
) -> Vec<(QuestionKind, Range<usize>)> {
    let text = seg.text[range.clone()].trim_end();
    // Only the first words of each clause decide (lead-ins, opener, and three more), so only
    // those are tokenised: this runs on every sentence of a call.
    let by_opening = clause_starts(seg.text, range.clone()).find_map(|start| {
        let mut head = [Tok {
            text: "",
            start: 0,
            end: 0,
        }; CLAUSE_HEAD_WORDS];
        let mut n = 0;
        for tok in TokenIter::new(seg.text, start..range.end).take(CLAUSE_HEAD_WORDS) {
            head[n] = tok;
            n += 1;
        }
        clause_kind(&head[..n])
    });
    if text.ends_with('?') {
        return vec![(by_opening.unwrap_or(QuestionKind::Closed), range.clone())];
    }
    if let Some(kind) = by_opening {
        return vec![(kind, range.clone())];
    }
    if text.ends_with(['.', '!', '…']) {
        return Vec::new();
    }
    embedded_questions(&tokens(seg.text, range.clone()))
}

/// Words of a clause that [`clause_kind`] looks at: up to three lead-ins and four more.
const CLAUSE_HEAD_WORDS: usize = 7;

/// Where the clauses of `text[range]` start: the sentence start and after each comma,
/// semicolon, colon, or dash standing between words.
fn clause_starts(text: &str, range: Range<usize>) -> impl Iterator<Item = usize> + '_ {
    const EN_DASH: &[u8] = "–".as_bytes();
    let bytes = text.as_bytes();
    let first = range.start;
    // Bytes, not chars: every separator but the en dash is ASCII, and this runs on every sentence.
    std::iter::once(first).chain((range.start..range.end).filter_map(move |at| {
        let (separates, width) = match bytes[at] {
            b',' | b';' | b':' => (true, 1),
            // A dash inside a word ("Mary-Jane") joins; one with a space beside it separates.
            b'-' => (dash_separates(bytes, at, 1), 1),
            0xE2 if bytes[at..].starts_with(EN_DASH) => {
                (dash_separates(bytes, at, EN_DASH.len()), EN_DASH.len())
            }
            _ => (false, 0),
        };
        separates.then_some(at + width)
    }))
}

fn dash_separates(bytes: &[u8], at: usize, width: usize) -> bool {
    bytes.get(at + width).is_some_and(u8::is_ascii_whitespace)
        || (at > 0 && bytes[at - 1].is_ascii_whitespace())
}

/// Interrogative openings inside unpunctuated text, where no sentence boundary tells where a
/// question starts. Stricter than at a clause start, because any word can precede them:
/// a wh-word then an auxiliary then a subject ("… how can i help"), or an auxiliary then
/// "you" ("… can you confirm"), or "is there any…" — and never right after a subject
/// ("i can you" is not a question; "as soon as we can" is not either).
fn embedded_questions(toks: &[Tok<'_>]) -> Vec<(QuestionKind, Range<usize>)> {
    let mut out: Vec<(QuestionKind, usize)> = Vec::new();
    let mut i = 1;
    while i < toks.len() {
        let prev = &toks[i - 1];
        let (t, next, after) = (&toks[i], toks.get(i + 1), toks.get(i + 2));
        let found = if t.is_any(WH) && !t.is_any(&["which", "who", "whom", "whose"]) {
            let contracted =
                t.text.contains(['\'', '’']) && next.is_some_and(|n| n.is_any(SUBJECTS));
            let aux_subject =
                next.is_some_and(|n| n.is_any(AUX)) && after.is_some_and(|a| a.is_any(SUBJECTS));
            (contracted || aux_subject).then_some(QuestionKind::Open)
        } else if t.is_any(AUX)
            && !prev.is_any(STATEMENT_SUBJECTS)
            && !prev.is_any(&["as", "if", "that", "there", "to", "what"])
        {
            let to_you = next.is_some_and(|n| n.is("you"));
            let is_there_any = t.is_any(&["are", "is"])
                && next.is_some_and(|n| n.is("there"))
                && after.is_some_and(|a| a.text.to_ascii_lowercase().starts_with("any"));
            (to_you || is_there_any)
                .then(|| clause_kind(&toks[i..]).unwrap_or(QuestionKind::Closed))
        } else {
            None
        };
        match found {
            Some(kind) => {
                out.push((kind, i));
                i += 3;
            }
            None => i += 1,
        }
    }
    let ends: Vec<usize> = out
        .iter()
        .skip(1)
        .map(|&(_, i)| toks[i - 1].end)
        .chain(toks.last().map(|t| t.end))
        .collect();
    out.iter()
        .zip(ends)
        .map(|(&(kind, i), end)| (kind, toks[i].start..end))
        .collect()
}

fn clause_kind(clause: &[Tok<'_>]) -> Option<QuestionKind> {
    let skip = clause
        .iter()
        .take(3)
        .take_while(|t| t.is_any(LEAD_INS))
        .count();
    let c = &clause[skip..];
    let first = c.first()?;
    let at = |k: usize| c.get(k);
    if first.is_any(WH) {
        let next = at(1)?;
        if next.is_any(STATEMENT_SUBJECTS) {
            return None;
        }
        // "what's your…", "how can…", "which card did you…", "how long have you…"
        let verb_soon =
            first.text.contains(['\'', '’']) || c.iter().skip(1).take(3).any(|t| t.is_any(AUX));
        return verb_soon.then_some(QuestionKind::Open);
    }
    if first.is_any(AUX) {
        let subject = at(1)?;
        if !subject.is_any(SUBJECTS) {
            return None;
        }
        // "could you tell me what happened" asks for an account, not a yes or no.
        let asks_for_account = c
            .iter()
            .skip(2)
            .take(2)
            .any(|t| t.is_any(&["describe", "explain", "talk", "tell", "walk"]));
        return Some(if asks_for_account {
            QuestionKind::Open
        } else {
            QuestionKind::Closed
        });
    }
    let is_request = REQUESTS.iter().any(|words| {
        words
            .iter()
            .enumerate()
            .all(|(k, w)| at(k).is_some_and(|t| t.is(w)))
    });
    is_request.then_some(QuestionKind::Open)
}

/// Mandarin: what makes a sentence a question without a question mark.
const QUESTION_ZH: &str = r"[吗呢][\s…。!！]*$|是不是|有没有|能不能|可不可以|会不会|要不要|对不对|好不好|行不行|是否|对吧|请问";
/// Mandarin question words: a question holding one asks for more than yes or no.
const OPEN_ZH: &str = r"(^|[^没不])(什么|怎么|怎样|为什么|为何|哪|谁|多少|几(点|号|天|个|位|年|月|次|岁|张)|如何|何时|啥)";

/// Whether a sentence of Chinese text is a question, and which kind.
fn zh_question(cues: &(Regex, Regex), text: &str) -> Option<QuestionKind> {
    let t = text.trim_end();
    let marked = t.ends_with(['？', '?']);
    if !marked && !cues.0.is_match(t) {
        return None;
    }
    Some(if cues.1.is_match(t) {
        QuestionKind::Open
    } else {
        QuestionKind::Closed
    })
}

#[derive(Debug)]
pub(crate) struct Questions {
    min: u32,
    open_min: u32,
    /// Mandarin question cues and question words, in a Chinese rubric.
    zh: Option<(Regex, Regex)>,
}

impl Questions {
    pub fn build(p: &mut Params<'_>) -> Questions {
        let min = p.count("min").unwrap_or(1);
        let open_min = p.count("open_min").unwrap_or(0);
        let zh = (p.language == Language::Chinese).then(|| {
            (
                Regex::new(QUESTION_ZH).expect("built-in pattern is valid"),
                Regex::new(OPEN_ZH).expect("built-in pattern is valid"),
            )
        });
        Questions { min, open_min, zh }
    }

    /// The questions of one sentence: by the Chinese rules when it is Chinese text in a
    /// Chinese rubric, else by the English ones.
    fn questions(
        &self,
        seg: &Seg<'_>,
        sentence: &Range<usize>,
    ) -> Vec<(QuestionKind, Range<usize>)> {
        if let Some(cues) = &self.zh {
            let text = &seg.text[sentence.clone()];
            if text.chars().any(crate::text::is_ideographic) {
                return zh_question(cues, text)
                    .map(|k| (k, sentence.clone()))
                    .into_iter()
                    .collect();
            }
        }
        questions_in(seg, sentence)
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope) -> Verdict {
        let mut found = Vec::new();
        let (mut open, mut closed) = (0u32, 0u32);
        for (_, seg) in scope.segs(call) {
            for sentence in seg.sentences {
                for (kind, quoted) in self.questions(seg, sentence) {
                    if !scope.includes_match(call, seg, &quoted) {
                        continue;
                    }
                    match kind {
                        QuestionKind::Open => open += 1,
                        QuestionKind::Closed => closed += 1,
                    }
                    if found.len() < MAX_EVIDENCE {
                        found.push(seg.evidence(&quoted));
                    }
                }
            }
        }
        let total = open + closed;
        let who = match scope.who {
            crate::scope::Who::Agent => "agent",
            crate::scope::Who::Caller => "caller",
            crate::scope::Who::Any => "speakers",
        };
        let counted = format!(
            "{who} asked {total} question{} ({open} open, {closed} closed){}",
            if total == 1 { "" } else { "s" },
            scope.window.describe()
        );
        let mut shortfalls = Vec::new();
        if total < self.min {
            shortfalls.push(format!("at least {} needed", self.min));
        }
        if open < self.open_min {
            shortfalls.push(format!("at least {} open needed", self.open_min));
        }
        if shortfalls.is_empty() {
            Verdict::pass(counted, found)
        } else {
            Verdict::fail(format!("{counted}; {}", shortfalls.join(", ")), found)
        }
    }
}

impl super::Detector for Questions {
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

    fn kind(text: &str) -> Option<QuestionKind> {
        let tr = t(&[(A, 0.0, 1.0, text)]);
        let call = Call::new(&tr);
        let seg = &call.segs[0];
        classify(seg, &seg.sentences[0])
    }

    #[test]
    fn question_marks_make_questions() {
        assert_eq!(kind("Your postcode?"), Some(QuestionKind::Closed));
        assert_eq!(kind("And what's the postcode?"), Some(QuestionKind::Open));
    }

    #[test]
    fn openings_make_questions_without_punctuation() {
        use QuestionKind::*;
        assert_eq!(kind("can you confirm your date of birth"), Some(Closed));
        assert_eq!(kind("is there anything else I can help with"), Some(Closed));
        assert_eq!(kind("so what is the account number"), Some(Open));
        assert_eq!(kind("how can I help you today"), Some(Open));
        assert_eq!(kind("which card did you use"), Some(Open));
        assert_eq!(kind("how long have you had the problem"), Some(Open));
        assert_eq!(kind("okay tell me what happened"), Some(Open));
        assert_eq!(kind("could you tell me what happened"), Some(Open));
        assert_eq!(kind("I see, when did it start"), Some(Open));
        assert_eq!(kind("don't you have the letter"), Some(Closed));
    }

    fn embedded(text: &str) -> Vec<(QuestionKind, String)> {
        let tr = t(&[(A, 0.0, 1.0, text)]);
        let call = Call::new(&tr);
        let seg = &call.segs[0];
        seg.sentences
            .iter()
            .flat_map(|s| questions_in(seg, s))
            .map(|(k, r)| (k, seg.text[r].to_string()))
            .collect()
    }

    #[test]
    fn unpunctuated_runs_hold_several_questions() {
        use QuestionKind::*;
        assert_eq!(
            embedded("thank you for calling my name is daniel how can i help you today"),
            vec![(Open, "how can i help you today".to_string())]
        );
        assert_eq!(
            embedded("sorry to hear that priya can you confirm the postcode and when did it start"),
            vec![
                (Closed, "can you confirm the postcode and".to_string()),
                (Open, "when did it start".to_string())
            ]
        );
        assert!(embedded("i will call you back as soon as we can you know").is_empty());
        assert!(embedded("i know how we handle it and what we do").is_empty());
        assert!(
            embedded("I can help with that.").is_empty(),
            "punctuated statements are not scanned"
        );
    }

    #[test]
    fn statements_are_not_questions() {
        assert_eq!(kind("what I'll do is reset the router."), None);
        assert_eq!(kind("when you get the email, click the link."), None);
        assert_eq!(kind("will be done by Friday."), None);
        assert_eq!(kind("don't worry about it."), None);
        assert_eq!(kind("I can see the problem."), None);
        assert_eq!(kind("how we handle refunds is simple"), None);
        assert_eq!(kind("that is why."), None);
    }

    fn questions(min: u32, open_min: u32) -> Questions {
        Questions {
            min,
            open_min,
            zh: None,
        }
    }

    const AGENT: Scope = Scope {
        who: Who::Agent,
        window: Window::Whole,
    };

    #[test]
    fn counts_agent_questions_only_and_quotes_them() {
        let tr = t(&[
            (A, 0.0, 3.0, "Hello. How can I help?"),
            (C, 3.0, 5.0, "Can you check my bill? Why is it so high?"),
            (A, 5.0, 9.0, "Sure. can you confirm your postcode"),
        ]);
        let v = questions(2, 1).evaluate(&Call::new(&tr), &AGENT);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert_eq!(v.reason, "agent asked 2 questions (1 open, 1 closed)");
        assert_eq!(
            v.evidence
                .iter()
                .map(|e| e.quote.as_str())
                .collect::<Vec<_>>(),
            vec!["How can I help?", "can you confirm your postcode"]
        );
    }

    #[test]
    fn fails_below_min_or_open_min() {
        let tr = t(&[(A, 0.0, 3.0, "Is that right? Okay, thanks.")]);
        let v = questions(2, 0).evaluate(&Call::new(&tr), &AGENT);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.reason
                .contains("agent asked 1 question (0 open, 1 closed); at least 2 needed"),
            "{}",
            v.reason
        );
        let v = questions(1, 1).evaluate(&Call::new(&tr), &AGENT);
        assert!(v.reason.contains("at least 1 open needed"), "{}", v.reason);
    }

    #[test]
    fn mandarin_questions_in_a_chinese_rubric() {
        let mut p = Params::new("questions", vec![], "t", "", 0..0).in_language(Language::Chinese);
        let q = Questions::build(&mut p);
        let count = |line: &str| {
            let v = q.evaluate(&Call::new(&t(&[(A, 0.0, 3.0, line)])), &AGENT);
            v.reason
        };
        assert!(count("请问您贵姓？").contains("1 question (0 open, 1 closed)"));
        assert!(count("请问有什么可以帮您").contains("1 question (1 open, 0 closed)"));
        assert!(count("您是不是已经收到了").contains("(0 open, 1 closed)"));
        assert!(count("您的卡什么时候丢的？").contains("(1 open, 0 closed)"));
        assert!(count("有什么问题随时联系我们。").contains("0 questions"));
        assert!(
            count("没什么问题吧？").contains("(0 open, 1 closed)"),
            "没什么 is not a question word"
        );
        // English sentences in a Chinese rubric keep the English rules.
        assert!(count("Can you confirm your postcode").contains("1 question"));
    }
}

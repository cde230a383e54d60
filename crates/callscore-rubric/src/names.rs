//! People's names in speech: who a speaker says they are, and whether a name is also an
//! ordinary English word (Will, Hope, Rose, Bill, Mark, Grace…), which changes what counts as
//! saying it.
//!
//! No crate answers "is this word a name here?", so the rules are written out here:
//! - a name is *also a common word* when it is in [`Lexicon`], a 40,000-word list of lowercase
//!   English words (SCOWL, see `data/README.md`); "Priya", "Raman", "Novak" are not in it, so
//!   any mention counts; "Will" is, so "I will check" must not;
//! - a common-word name counts only in a *name position*: capitalised away from the start of a
//!   sentence ("Thanks Will"), after a title ("Mr Bill"), set off by commas as an address
//!   ("Thank you, will." / "Will, can you…"), or followed by the person's other name;
//! - after a *weak* cue ("I'm …", "it's …", "this is …", "… speaking") the next word is a name
//!   only if it is capitalised or not a common word ("I'm Priya" yes, "I'm calling" no);
//! - after a *strong* cue ("my name is …", or the answer to "may I have your name?") the next
//!   word is the name unless it is a filler or function word ("my name is will turner").

use crate::text::{next_nonspace, prev_nonspace, tokens, Seg, Tok};

static COMMON_WORDS: &str = include_str!("../data/common_words.txt");

/// Lowercase English dictionary words, sorted, for "is this name also a word?".
#[derive(Debug)]
pub(crate) struct Lexicon {
    words: Vec<&'static str>,
}

impl Lexicon {
    pub fn new() -> Lexicon {
        // The file is sorted (LC_ALL=C sort -u); binary search needs that.
        let words: Vec<&'static str> = COMMON_WORDS.lines().filter(|l| !l.is_empty()).collect();
        debug_assert!(words.windows(2).all(|w| w[0] < w[1]));
        Lexicon { words }
    }

    /// Whether a lowercase word is an ordinary English word.
    pub fn is_common(&self, lower: &str) -> bool {
        let bare = lower.strip_suffix("'s").unwrap_or(lower);
        self.words.binary_search(&bare).is_ok()
    }
}

/// Titles that mark the next word as a (sur)name.
pub(crate) const TITLES: &[&str] = &[
    "dame", "doctor", "dr", "lady", "lord", "madam", "miss", "mister", "mr", "mrs", "ms", "mx",
    "sir",
];

/// Words that end a name or can never start one, whatever the cue.
const NOT_NAMES: &[&str] = &[
    "a",
    "about",
    "actually",
    "again",
    "ah",
    "also",
    "am",
    "an",
    "and",
    "are",
    "at",
    "but",
    "calling",
    "er",
    "erm",
    "fine",
    "for",
    "from",
    "gonna",
    "good",
    "great",
    "he",
    "hello",
    "here",
    "hi",
    "hmm",
    "hold",
    "how",
    "i",
    "i'm",
    "in",
    "is",
    "it",
    "it's",
    "just",
    "ma'am",
    "madam",
    "me",
    "my",
    "no",
    "not",
    "of",
    "oh",
    "ok",
    "okay",
    "on",
    "one",
    "or",
    "our",
    "pardon",
    "phoning",
    "please",
    "really",
    "regarding",
    "ringing",
    "she",
    "sir",
    "so",
    "sorry",
    "speaking",
    "still",
    "sure",
    "thank",
    "thanks",
    "that",
    "the",
    "they",
    "this",
    "to",
    "uh",
    "um",
    "wait",
    "wanna",
    "was",
    "we",
    "well",
    "what",
    "when",
    "where",
    "who",
    "why",
    "with",
    "yeah",
    "yep",
    "yes",
    "you",
    "your",
    "yup",
];

/// A person's name as heard or as given in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonName {
    pub first: String,
    pub last: Option<String>,
}

impl PersonName {
    /// From free text such as "Priya Raman" or "Mrs. Amelia Novak": titles dropped; first and
    /// last word kept (a middle name is rarely said on a call).
    pub fn parse(full: &str) -> Option<PersonName> {
        let toks = tokens(full, 0..full.len());
        let parts: Vec<&Tok<'_>> = toks
            .iter()
            .filter(|t| !t.is_any(TITLES) && t.is_alphabetic())
            .collect();
        let first = parts.first()?.text.to_string();
        let last = (parts.len() > 1).then(|| parts[parts.len() - 1].text.to_string());
        Some(PersonName { first, last })
    }

    /// "'Priya' or 'Raman'"
    pub fn either(&self) -> String {
        match &self.last {
            Some(last) => format!("'{}' or '{}'", self.first, last),
            None => format!("'{}'", self.first),
        }
    }

    pub fn display(&self) -> String {
        match &self.last {
            Some(last) => format!("{} {}", self.first, last),
            None => self.first.clone(),
        }
    }
}

/// Words that can introduce a name ("my name is", "this is", "I'm", "it's", "… speaking",
/// "… calling from", "you've reached", "you're through to"): a sentence without one holds no
/// self-introduction, so the tokenising in [`self_introductions`] can be skipped for it.
pub(crate) const INTRO_CUES: &str = r"(?i)\b(name|name's|this|i'm|i’m|i am|it's|it’s|it is|this's|speaking|calling|reached|you're|you’re|you've|you’ve)\b";

/// How sure a cue makes us that the following word is a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cue {
    /// "my name is", or the answer to a request for the name.
    Strong,
    /// "I'm", "it's", "this is", "… speaking".
    Weak,
}

/// Whether `tok` can start a name after a cue of the given strength.
pub(crate) fn can_be_name(tok: &Tok<'_>, cue: Cue, lex: &Lexicon) -> bool {
    if !tok.is_alphabetic() || tok.is_any(NOT_NAMES) || tok.text.chars().count() < 2 {
        return false;
    }
    match cue {
        Cue::Strong => true,
        Cue::Weak => tok.is_capitalised() || !lex.is_common(&tok.lower()),
    }
}

/// Whether `tok` can continue a name already started (a surname): a capitalised word, or one
/// that is not a common word.
fn can_continue_name(tok: &Tok<'_>, lex: &Lexicon) -> bool {
    tok.is_alphabetic()
        && !tok.is_any(NOT_NAMES)
        && (tok.is_capitalised() || !lex.is_common(&tok.lower()))
}

/// The name that starts at `toks[i]` (and an optional surname after it), or None.
pub(crate) fn name_at(
    toks: &[Tok<'_>],
    i: usize,
    cue: Cue,
    lex: &Lexicon,
) -> Option<(PersonName, usize)> {
    let mut i = i;
    // "my name is Mrs Novak": the title introduces the name.
    let titled = toks.get(i).is_some_and(|t| t.is_any(TITLES));
    if titled {
        i += 1;
    }
    let first = toks.get(i)?;
    let cue = if titled { Cue::Strong } else { cue };
    if !can_be_name(first, cue, lex) {
        return None;
    }
    let second = toks.get(i + 1).filter(|t| can_continue_name(t, lex));
    let end = if second.is_some() { i + 2 } else { i + 1 };
    let name = match (titled, second) {
        // "Mrs Novak" is a surname alone.
        (true, None) => PersonName {
            first: first.text.to_string(),
            last: None,
        },
        (_, Some(s)) => PersonName {
            first: first.text.to_string(),
            last: Some(s.text.to_string()),
        },
        (false, None) => PersonName {
            first: first.text.to_string(),
            last: None,
        },
    };
    Some((name, end))
}

/// Self-introductions in one sentence: "my name is X", "my name's X", "this is X", "I'm X",
/// "I am X", "it's X", "X speaking", "X calling from …", "you're speaking with X", "you've
/// reached X".
/// Returns the name and the byte range from the cue to the end of the name.
///
/// `expected` is a name known beforehand (the agent's, from metadata): after any cue it counts
/// as a name even when it is a common word ("I'm Will" said all in lowercase).
pub(crate) fn self_introductions(
    seg: &Seg<'_>,
    sentence: std::ops::Range<usize>,
    lex: &Lexicon,
    expected: Option<&str>,
) -> Vec<(PersonName, std::ops::Range<usize>)> {
    let expected = expected.map(str::to_lowercase);
    let is_expected = |t: &Tok<'_>| expected.as_deref().is_some_and(|e| t.is(e));
    let toks = tokens(seg.text, sentence);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let lookahead = |k: usize, w: &str| toks.get(i + k).is_some_and(|x| x.is(w));
        // (tokens the cue spans, strength)
        let cue: Option<(usize, Cue)> = if t.is("my") && lookahead(1, "name") && lookahead(2, "is")
        {
            Some((3, Cue::Strong))
        } else if t.is("my") && lookahead(1, "name's") {
            Some((2, Cue::Strong))
        } else if (t.is("you're") || t.is("you've"))
            && (lookahead(1, "speaking") || lookahead(1, "through"))
            && (lookahead(2, "with") || lookahead(2, "to"))
        {
            Some((3, Cue::Weak))
        } else if t.is("you")
            && lookahead(1, "are")
            && lookahead(2, "speaking")
            && (lookahead(3, "with") || lookahead(3, "to"))
        {
            Some((4, Cue::Weak))
        } else if (t.is("you've") && lookahead(1, "reached"))
            || (t.is("this") && lookahead(1, "is"))
            || (t.is("i") && lookahead(1, "am"))
            || (t.is("it") && lookahead(1, "is"))
        {
            Some((2, Cue::Weak))
        } else if t.is("i'm") || t.is("it's") || t.is("this's") {
            Some((1, Cue::Weak))
        } else {
            None
        };
        if let Some((len, strength)) = cue {
            let strength = if toks.get(i + len).is_some_and(is_expected) {
                Cue::Strong
            } else {
                strength
            };
            if let Some((name, end)) = name_at(&toks, i + len, strength, lex) {
                out.push((name, t.start..toks[end - 1].end));
                i = end;
                continue;
            }
        }
        // "Daniel speaking", "Daniel calling from Riverside Energy" (how outbound calls open):
        // the name comes before the cue. "calling" needs "from" or "on behalf of" after it:
        // "I have Priya calling for you" announces someone else.
        let calling_from = t.is("calling")
            && (lookahead(1, "from") || (lookahead(1, "on") && lookahead(2, "behalf")));
        if i > 0
            && (t.is("speaking") || calling_from)
            && !toks[i - 1].is_any(NOT_NAMES)
            && !is_contraction(&toks[i - 1])
        {
            let prev = &toks[i - 1];
            let at_clause_start = i == 1
                || matches!(
                    prev_nonspace(seg.text, prev.start),
                    Some(',' | '.' | '!' | '?' | '-' | '–')
                );
            let is_aux = prev.is_any(&[
                "am", "are", "be", "been", "for", "is", "of", "was", "were", "when", "while",
            ]);
            // The name the call's metadata gives, said right before "calling from", is an
            // introduction wherever it stands: whisper often mishears the word before it
            // ("this is Daniel calling" heard as "Nathan Daniel calling").
            let expected_before_calling = calling_from && is_expected(prev);
            if !is_aux
                && (expected_before_calling
                    || (at_clause_start
                        && (is_expected(prev) || can_be_name(prev, Cue::Weak, lex))))
            {
                out.push((
                    PersonName {
                        first: prev.text.to_string(),
                        last: None,
                    },
                    prev.start..t.end,
                ));
            }
        }
        i += 1;
    }
    out
}

/// "We're", "who's", "they'll": a pronoun or question word with its verb, never a name (O'Brien
/// keeps its apostrophe before a capital).
fn is_contraction(tok: &Tok<'_>) -> bool {
    let lower = tok.lower();
    ["'re", "'ve", "'s", "'ll", "'d", "'m", "n't"]
        .iter()
        .any(|end| lower.ends_with(end))
}

/// Whether `tok` (a word equal to part of a name) is used as a name in its sentence. Names that
/// are not common words always count; common-word names ("Will") need a name position.
pub(crate) fn is_name_use(
    seg: &Seg<'_>,
    sentence_toks: &[Tok<'_>],
    idx: usize,
    name: &PersonName,
    lex: &Lexicon,
) -> bool {
    let tok = &sentence_toks[idx];
    if !lex.is_common(&tok.lower()) {
        return true;
    }
    let sentence_initial = idx == 0;
    if tok.is_capitalised() && !sentence_initial {
        return true;
    }
    if idx > 0
        && sentence_toks[idx - 1].is_any(TITLES)
        && !sentence_toks[idx - 1].is_any(&["madam", "sir"])
    {
        return true;
    }
    let other = if tok.is(&name.first.to_lowercase()) {
        name.last.as_deref()
    } else {
        Some(name.first.as_str())
    };
    if let (Some(other), Some(next)) = (other, sentence_toks.get(idx + 1)) {
        if next.is(&other.to_lowercase()) {
            return true;
        }
    }
    // Addressed directly, set off by punctuation: "Thank you, Will." / "Will, can you hold?"
    let before_ok = sentence_initial || matches!(prev_nonspace(seg.text, tok.start), Some(','));
    let after_ok = matches!(
        next_nonspace(seg.text, tok.end),
        None | Some(',' | '.' | '!' | '?')
    );
    before_ok && after_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Call;
    use callscore_core::{Segment, Speaker, Transcript};

    fn one_seg(text: &str) -> Transcript {
        Transcript {
            segments: vec![Segment {
                speaker: Speaker::Caller,
                start_ms: 0,
                end_ms: 1_000,
                text: text.into(),
                words: vec![],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn intros(text: &str) -> Vec<String> {
        intros_expecting(text, None)
    }

    fn intros_expecting(text: &str, expected: Option<&str>) -> Vec<String> {
        let lex = Lexicon::new();
        let t = one_seg(text);
        let call = Call::new(&t);
        let seg = &call.segs[0];
        seg.sentences
            .iter()
            .flat_map(|s| self_introductions(seg, s.clone(), &lex, expected))
            .map(|(n, _)| n.display())
            .collect()
    }

    #[test]
    fn lexicon_knows_common_words_but_not_most_names() {
        let lex = Lexicon::new();
        for w in [
            "will", "hope", "rose", "bill", "mark", "grace", "calling", "sorry",
        ] {
            assert!(lex.is_common(w), "{w}");
        }
        for w in ["priya", "raman", "amelia", "novak", "daniel"] {
            assert!(!lex.is_common(w), "{w}");
        }
    }

    #[test]
    fn strong_cues_take_the_name_even_when_it_is_a_word() {
        assert_eq!(intros("Hi, my name is Priya Raman."), vec!["Priya Raman"]);
        assert_eq!(intros("my name is will turner and I"), vec!["will"]);
        assert_eq!(intros("My name's Grace."), vec!["Grace"]);
        assert_eq!(intros("my name is Mrs Novak"), vec!["Novak"]);
    }

    #[test]
    fn weak_cues_need_a_capital_or_an_unusual_word() {
        assert_eq!(intros("Hi, it's Amelia Novak here."), vec!["Amelia Novak"]);
        assert_eq!(intros("I'm Will."), vec!["Will"]);
        assert!(intros("I'm calling about my bill.").is_empty());
        assert!(intros("i'm sorry, this is about my account").is_empty());
        assert!(intros("it's fine, I'm not sure").is_empty());
        assert_eq!(intros("this is priya"), vec!["priya"]);
    }

    #[test]
    fn name_speaking_and_reached_forms() {
        assert_eq!(intros("Acme support, Daniel speaking."), vec!["Daniel"]);
        assert_eq!(intros("Daniel speaking, how can I help?"), vec!["Daniel"]);
        assert!(intros("Who am I speaking with?").is_empty());
        assert!(intros("Thanks for speaking with me.").is_empty());
        assert_eq!(intros("You're speaking with Sam."), vec!["Sam"]);
    }

    #[test]
    fn name_calling_from_is_how_outbound_calls_open() {
        assert_eq!(
            intros("Hello, Daniel calling from Riverside Energy."),
            vec!["Daniel"]
        );
        assert_eq!(
            intros("Hi there. Priya calling on behalf of Acme."),
            vec!["Priya"]
        );
        for text in [
            "Thank you for calling from your mobile.",
            "I'm calling from the new address.",
            "We're calling from Riverside Energy.",
            "Who's calling from Acme?",
            "I have Priya calling for you.",
            "Hello, Daniel calling about your meter.",
            "The number calling from abroad is blocked.",
        ] {
            assert!(intros(text).is_empty(), "{text}: {:?}", intros(text));
        }
        // The agent's name from the metadata counts right before "calling from" even where
        // whisper misheard the words before it; another name there does not.
        assert_eq!(
            intros_expecting(
                "Hello, Nathan Daniel calling from Riverside.",
                Some("Daniel")
            ),
            vec!["Daniel"]
        );
        assert!(intros("Hello, Nathan Daniel calling from Riverside.").is_empty());
    }

    fn uses(text: &str, name: &str) -> bool {
        let lex = Lexicon::new();
        let t = one_seg(text);
        let call = Call::new(&t);
        let seg = &call.segs[0];
        let name = PersonName::parse(name).unwrap();
        seg.sentences.iter().any(|s| {
            let toks = tokens(seg.text, s.clone());
            toks.iter().enumerate().any(|(i, t)| {
                (t.is(&name.first.to_lowercase())
                    || name.last.as_ref().is_some_and(|l| t.is(&l.to_lowercase())))
                    && is_name_use(seg, &toks, i, &name, &lex)
            })
        })
    }

    #[test]
    fn common_word_names_need_a_name_position() {
        assert!(!uses("I will check that for you.", "Will Turner"));
        assert!(!uses("Will you hold for a moment?", "Will Turner"));
        assert!(uses("Thanks Will, one moment.", "Will Turner"));
        assert!(uses("Thank you, will.", "Will Turner"));
        assert!(uses("will, can you hold?", "Will Turner"));
        assert!(uses("Thanks Mr. Turner.", "Will Turner"));
        assert!(uses("I hope that helps, Hope.", "Hope"));
        assert!(!uses("I hope that helps.", "Hope"));
        assert!(uses("thanks priya", "Priya Raman"));
        assert!(uses("okay ms raman", "Priya Raman"));
    }
}

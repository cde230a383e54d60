//! Built-in behaviour detectors, one per file (ruff's one-rule-per-file shape): each file holds
//! the detector's parameters, its evaluation, and its own unit cases.
//!
//! A detector is chosen with `check = "<name>"` in a criterion; its parameters sit beside `check`
//! in the same table (`min = 2`, `max = "20s"` …). [`DETECTORS`] lists them all.

pub(crate) mod agent_name;
pub(crate) mod answered_within;
pub(crate) mod dead_air;
pub(crate) mod further_help;
pub(crate) mod greeting;
pub(crate) mod overtalk;
pub(crate) mod questions;
pub(crate) mod talk_ratio;
pub(crate) mod uses_caller_name;

use crate::duration::parse_duration_ms;
use crate::error::{suggestion, Problem, ProblemKind};
use crate::lang::Language;
use crate::names::Lexicon;
use crate::phrases::PhraseCheck;
use crate::scope::{Scope, Verdict, Who};
use crate::text::Call;
use std::ops::Range;
use toml::{Spanned, Value};

/// Whose speech a detector reads, and so whether it can judge a mono transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpeakerRule {
    /// Always the agent; `speaker` may not be set.
    AgentOnly,
    /// `speaker` may be set; this is the default.
    Choosable(Who),
    /// Compares agent and caller; not applicable without speakers; `speaker` may not be set.
    BothParties,
    /// Looks at all speech regardless of who; works on mono; `speaker` may not be set.
    Anyone,
}

/// A built-in behaviour detector, compiled from its criterion's parameters. Each lives in its
/// own file with its parameters, its evaluation and its own unit cases; adding one is that file
/// plus its entry in [`DETECTORS`] (and, for a new parameter name, its field in `spec.rs`).
pub(crate) trait Detector: std::fmt::Debug + Send + Sync {
    /// The verdict on one call. Called only when the call has the speakers the detector needs
    /// (see [`SpeakerRule`]); scope (speaker and time window) is already resolved.
    fn judge(&self, call: &Call<'_>, scope: &Scope, lex: &Lexicon) -> Verdict;
}

/// A built-in detector's name, parameters and speaker rule, and how to build it.
pub struct DetectorInfo {
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub summary: &'static str,
    pub(crate) speaker: SpeakerRule,
    /// The time window when the criterion sets none (`within`/`last`), e.g. the greeting's
    /// opening 30 s.
    pub(crate) default_within_ms: Option<u64>,
    /// Reads this detector's parameters (reporting problems into `Params`) and compiles it.
    pub(crate) build: fn(&mut Params<'_>) -> Box<dyn Detector>,
}

impl std::fmt::Debug for DetectorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectorInfo")
            .field("name", &self.name)
            .field("params", &self.params)
            .finish()
    }
}

/// Every built-in detector.
pub const DETECTORS: &[DetectorInfo] = &[
    DetectorInfo {
        name: "greeting",
        params: &["company"],
        summary: "the agent greets the caller near the start (default: first 30 s)",
        speaker: SpeakerRule::AgentOnly,
        default_within_ms: Some(greeting::DEFAULT_WITHIN_MS),
        build: |p| Box::new(greeting::Greeting::build(p)),
    },
    DetectorInfo {
        name: "agent_name",
        params: &[],
        summary: "the agent introduces themself by name",
        speaker: SpeakerRule::AgentOnly,
        default_within_ms: None,
        build: |p| Box::new(agent_name::AgentName::build(p)),
    },
    DetectorInfo {
        name: "uses_caller_name",
        params: &["min", "unknown_name"],
        summary: "the agent says the caller's name after it became known",
        speaker: SpeakerRule::BothParties,
        default_within_ms: None,
        build: |p| Box::new(uses_caller_name::UsesCallerName::build(p)),
    },
    DetectorInfo {
        name: "questions",
        params: &["min", "open_min"],
        summary: "counts questions, open and closed",
        speaker: SpeakerRule::Choosable(Who::Agent),
        default_within_ms: None,
        build: |p| Box::new(questions::Questions::build(p)),
    },
    DetectorInfo {
        name: "further_help",
        params: &[],
        summary: "the agent offers more help before the end",
        speaker: SpeakerRule::AgentOnly,
        default_within_ms: None,
        build: |p| Box::new(further_help::FurtherHelp::build(p)),
    },
    DetectorInfo {
        name: "dead_air",
        params: &["max"],
        summary: "the longest stretch in which nobody speaks stays under `max`",
        speaker: SpeakerRule::Anyone,
        default_within_ms: None,
        build: |p| Box::new(dead_air::DeadAir::build(p)),
    },
    DetectorInfo {
        name: "talk_ratio",
        params: &["min", "max"],
        summary: "the agent's share of talk time stays within min..max",
        speaker: SpeakerRule::BothParties,
        default_within_ms: None,
        build: |p| Box::new(talk_ratio::TalkRatio::build(p)),
    },
    DetectorInfo {
        name: "overtalk",
        params: &["max", "max_count", "min_overlap"],
        summary: "agent and caller talking at once stays within limits",
        speaker: SpeakerRule::BothParties,
        default_within_ms: None,
        build: |p| Box::new(overtalk::Overtalk::build(p)),
    },
    DetectorInfo {
        name: "answered_within",
        params: &["max"],
        summary: "a placed call (mystery shop) was answered within `max` of ringing",
        speaker: SpeakerRule::Anyone,
        default_within_ms: None,
        build: |p| Box::new(answered_within::AnsweredWithin::build(p)),
    },
];

pub(crate) fn info(name: &str) -> Option<&'static DetectorInfo> {
    DETECTORS.iter().find(|d| d.name == name)
}

/// What a criterion checks: its phrase lists, or a built-in detector.
#[derive(Debug)]
pub(crate) enum Check {
    Phrases(PhraseCheck),
    Detector {
        info: &'static DetectorInfo,
        detector: Box<dyn Detector>,
    },
}

impl Check {
    pub fn name(&self) -> &'static str {
        match self {
            Check::Phrases(_) => "phrases",
            Check::Detector { info, .. } => info.name,
        }
    }

    /// Whether the check reads one party's speech or compares the parties, so that it cannot be
    /// judged on a transcript without speakers.
    pub fn needs_speakers(&self, scope: &Scope) -> bool {
        match self {
            Check::Phrases(_) => scope.who != Who::Any,
            Check::Detector { info, .. } => match info.speaker {
                SpeakerRule::Anyone => false,
                SpeakerRule::Choosable(_) => scope.who != Who::Any,
                SpeakerRule::AgentOnly | SpeakerRule::BothParties => true,
            },
        }
    }

    pub fn evaluate(&self, call: &Call<'_>, scope: &Scope, lex: &Lexicon) -> Verdict {
        if self.needs_speakers(scope) && call.speakers_unknown() {
            let both = matches!(
                self,
                Check::Detector { info, .. } if info.speaker == SpeakerRule::BothParties
            );
            let who = match scope.who {
                _ if both => "agent and caller",
                Who::Caller => "caller",
                _ => "agent",
            };
            return Verdict::speakers_unknown(who, call.speaker_note);
        }
        match self {
            Check::Phrases(c) => c.evaluate(call, scope),
            Check::Detector { detector, .. } => detector.judge(call, scope, lex),
        }
    }
}

/// The detector parameters of one criterion, read one by one by the detector that takes them;
/// whatever is left over does not apply to that detector and is reported.
pub(crate) struct Params<'a> {
    pub check: &'static str,
    values: Vec<(&'static str, Spanned<Value>)>,
    origin: &'a str,
    src: &'a str,
    /// Where to point when a required parameter is missing: the `check = …` value.
    check_span: Range<usize>,
    pub problems: Vec<Problem>,
    /// The rubric's language: which cue words the detector uses.
    pub language: Language,
}

impl<'a> Params<'a> {
    pub fn new(
        check: &'static str,
        values: Vec<(&'static str, Spanned<Value>)>,
        origin: &'a str,
        src: &'a str,
        check_span: Range<usize>,
    ) -> Self {
        Params {
            check,
            values,
            origin,
            src,
            check_span,
            problems: Vec::new(),
            language: Language::default(),
        }
    }

    /// The same parameters, for a rubric in `language`.
    pub fn in_language(mut self, language: Language) -> Self {
        self.language = language;
        self
    }

    fn take(&mut self, name: &str) -> Option<Spanned<Value>> {
        let i = self.values.iter().position(|(n, _)| *n == name)?;
        Some(self.values.remove(i).1)
    }

    fn problem(
        &mut self,
        kind: ProblemKind,
        span: Range<usize>,
        message: String,
        hint: Option<String>,
    ) {
        self.problems.push(Problem::at(
            kind,
            self.origin,
            self.src,
            span,
            message,
            hint,
        ));
    }

    /// A whole number ≥ 0.
    pub fn count(&mut self, name: &str) -> Option<u32> {
        let v = self.take(name)?;
        match v.get_ref() {
            Value::Integer(n) if (0..=i64::from(u32::MAX)).contains(n) => Some(*n as u32),
            other => {
                let msg = format!(
                    "`{name}` of check `{}` must be a whole number ≥ 0, not {}",
                    self.check,
                    describe(other)
                );
                self.problem(ProblemKind::InvalidValue, v.span(), msg, None);
                None
            }
        }
    }

    /// A duration string ("20s").
    pub fn duration(&mut self, name: &str) -> Option<u64> {
        let v = self.take(name)?;
        match v.get_ref() {
            Value::String(s) => match parse_duration_ms(s) {
                Ok(ms) => Some(ms),
                Err(e) => {
                    self.problem(
                        ProblemKind::BadDuration,
                        v.span(),
                        format!("bad duration for `{name}`: {e}"),
                        Some("write e.g. \"20s\", \"1m30s\" or \"500ms\"".into()),
                    );
                    None
                }
            },
            other => {
                let hint = matches!(other, Value::Integer(_) | Value::Float(_))
                    .then(|| format!("write it with a unit, e.g. `{name} = \"{}s\"`", other));
                let msg = format!(
                    "`{name}` of check `{}` must be a duration string, not {}",
                    self.check,
                    describe(other)
                );
                self.problem(ProblemKind::BadDuration, v.span(), msg, hint);
                None
            }
        }
    }

    /// A share between 0 and 1 (a percentage above 1 is read as percent: `70` = 0.70).
    pub fn fraction(&mut self, name: &str) -> Option<f64> {
        let v = self.take(name)?;
        let n = match v.get_ref() {
            Value::Integer(n) => *n as f64,
            Value::Float(f) => *f,
            other => {
                let msg = format!(
                    "`{name}` of check `{}` must be a number between 0 and 1, not {}",
                    self.check,
                    describe(other)
                );
                self.problem(ProblemKind::InvalidValue, v.span(), msg, None);
                return None;
            }
        };
        let share = if n > 1.0 && n <= 100.0 { n / 100.0 } else { n };
        if !(0.0..=1.0).contains(&share) {
            let msg = format!(
                "`{name}` of check `{}` must be between 0 and 1 (or 0–100 percent), not {n}",
                self.check
            );
            self.problem(ProblemKind::OutOfRange, v.span(), msg, None);
            return None;
        }
        Some(share)
    }

    /// A string or a list of strings.
    pub fn strings(&mut self, name: &str) -> Vec<String> {
        let Some(v) = self.take(name) else {
            return Vec::new();
        };
        match v.get_ref() {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) if items.iter().all(|i| matches!(i, Value::String(_))) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            other => {
                let msg = format!(
                    "`{name}` of check `{}` must be a string or a list of strings, not {}",
                    self.check,
                    describe(other)
                );
                self.problem(ProblemKind::InvalidValue, v.span(), msg, None);
                Vec::new()
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice(
        &mut self,
        name: &str,
        options: &[&'static str],
        default: &'static str,
    ) -> &'static str {
        let Some(v) = self.take(name) else {
            return default;
        };
        if let Value::String(s) = v.get_ref() {
            if let Some(found) = options.iter().find(|o| **o == s.as_str()) {
                return found;
            }
            let hint = Some(suggestion(s, options));
            self.problem(
                ProblemKind::InvalidValue,
                v.span(),
                format!("`{name}` cannot be \"{s}\""),
                hint,
            );
        } else {
            let msg = format!("`{name}` must be one of {}", options.join(", "));
            self.problem(ProblemKind::InvalidValue, v.span(), msg, None);
        }
        default
    }

    /// Reports that none of `names` was given although the detector needs one of them.
    pub fn require_one_of(&mut self, names: &[&str]) {
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let example = match names[0] {
            "max" if self.check == "dead_air" => "max = \"20s\"",
            "max" if self.check == "overtalk" => "max = \"10s\"",
            "max" if self.check == "answered_within" => "max = \"15s\"",
            "min" => "min = 0.3",
            _ => "",
        };
        let hint = (!example.is_empty()).then(|| format!("add e.g. `{example}` to this criterion"));
        self.problem(
            ProblemKind::MissingField,
            self.check_span.clone(),
            format!("check `{}` needs {list}", self.check),
            hint,
        );
    }

    /// Reports a value that is valid alone but not with the others.
    pub fn invalid(&mut self, message: String) {
        let span = self.check_span.clone();
        self.problem(ProblemKind::InvalidValue, span, message, None);
    }

    /// Every problem found, including parameters the detector did not take.
    pub fn finish(mut self) -> Vec<Problem> {
        let leftovers = std::mem::take(&mut self.values);
        for (name, v) in leftovers {
            let takes = info(self.check).map(|d| d.params).unwrap_or(&[]);
            let hint = if takes.is_empty() {
                format!(
                    "check `{}` takes no parameters; remove `{name}`",
                    self.check
                )
            } else {
                format!(
                    "check `{}` takes: {}",
                    self.check,
                    takes
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let msg = format!("`{name}` does not apply to check `{}`", self.check);
            // Point at the key's line: the value's span is what toml gives; good enough to find it.
            self.problem(ProblemKind::BadParameter, v.span(), msg, Some(hint));
        }
        self.problems
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Integer(n) => format!("the number {n}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("`{b}`"),
        Value::Datetime(_) => "a date".into(),
        Value::Array(_) => "a list".into(),
        Value::Table(_) => "a table".into(),
    }
}

/// Test helpers shared by the detectors' unit cases.
#[cfg(test)]
pub(crate) mod testutil {
    use callscore_core::{Segment, Speaker, Transcript};

    /// `(speaker, start_s, end_s, text)` lines as a transcript.
    pub fn t(lines: &[(Speaker, f64, f64, &str)]) -> Transcript {
        Transcript {
            segments: lines
                .iter()
                .map(|&(speaker, s, e, text)| Segment {
                    speaker,
                    start_ms: (s * 1000.0) as u64,
                    end_ms: (e * 1000.0) as u64,
                    text: text.into(),
                    words: vec![],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    pub use Speaker::{Agent as A, Caller as C, Unknown as U};
}

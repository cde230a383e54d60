//! A compiled rubric: checked once when loaded (every regex compiled, every parameter read),
//! then evaluated against any number of transcripts without further allocation of patterns.

use crate::detectors::{self, Check, Params, SpeakerRule};
use crate::duration::parse_duration_ms;
use crate::error::{suggestion, Problem, ProblemKind, RubricError};
use crate::lang::Language;
use crate::names::Lexicon;
use crate::phrases::{Pattern, PhraseCheck};
use crate::scope::{Scope, Who, Window};
use crate::spec::PARAM_NAMES;
use crate::spec::{RawCriterion, RawRubric, CRITERION_FIELDS, RUBRIC_FIELDS, SECTION_FIELDS};
use crate::text::Call;
use callscore_core::{CriterionResult, Outcome, Scorecard, Transcript};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// Weight of a criterion that gives none.
pub const DEFAULT_WEIGHT: f64 = 10.0;
/// Pass mark of a rubric that gives none, in percent of applicable points.
pub const DEFAULT_PASS_MARK: f64 = 80.0;
/// `min_judged` of a rubric that gives none: any applicable criterion is enough for a verdict
/// (the behaviour before the option existed).
pub const DEFAULT_MIN_JUDGED: f64 = 0.0;

/// A named group of criteria, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// One compiled criterion.
#[derive(Debug)]
pub struct Criterion {
    id: String,
    name: String,
    description: String,
    section: String,
    weight: f64,
    critical: bool,
    flag: bool,
    scope: Scope,
    check: Check,
}

impl Criterion {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The section's display name (its `name`, else its id), or "".
    pub fn section(&self) -> &str {
        &self.section
    }
    pub fn weight(&self) -> f64 {
        self.weight
    }
    pub fn critical(&self) -> bool {
        self.critical
    }
    pub fn flag(&self) -> bool {
        self.flag
    }
    /// `phrases` for `any`/`all`/`none` criteria, else the detector's name.
    pub fn check_name(&self) -> &'static str {
        self.check.name()
    }
    pub fn speaker(&self) -> Who {
        self.scope.who
    }
    pub fn window(&self) -> Window {
        self.scope.window
    }
}

/// A rubric, compiled and checked. Cheap to share between threads (`Send + Sync`).
#[derive(Debug)]
pub struct Rubric {
    id: String,
    name: String,
    description: String,
    version: u32,
    pass_mark: f64,
    min_judged: f64,
    hash: String,
    origin: String,
    /// The rubric file's text, for the parts other crates read from it (`[redaction]`).
    source: String,
    sections: Vec<Section>,
    criteria: Vec<Criterion>,
    lexicon: Lexicon,
    language: Language,
}

impl Rubric {
    /// Reads and compiles a rubric file. Errors name the file, line and column.
    pub fn from_path(path: &Path) -> Result<Rubric, RubricError> {
        let src =
            crate::read::read_capped(path, crate::read::MAX_RUBRIC_BYTES).map_err(|source| {
                RubricError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Rubric::from_toml_str(&src, &path.display().to_string())
    }

    /// Compiles rubric TOML; `origin` (a file name) is what errors show as the location.
    pub fn from_toml_str(src: &str, origin: &str) -> Result<Rubric, RubricError> {
        let raw: RawRubric = toml::from_str(src).map_err(|e| RubricError::Invalid {
            problems: vec![toml_problem(&e, src, origin)],
        })?;
        Compiler {
            src,
            origin,
            problems: Vec::new(),
            language: Language::default(),
            phrases: 0,
        }
        .compile(raw)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Percent of applicable points needed to pass.
    pub fn pass_mark(&self) -> f64 {
        self.pass_mark
    }
    /// Share (0–1) of the rubric's total weight that must be applicable to a call for it to
    /// be judged at all; below it the scorecard says "cannot be judged".
    pub fn min_judged(&self) -> f64 {
        self.min_judged
    }
    /// sha256 (hex) of the rubric's source text.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The rubric's TOML text, exactly as compiled (its sha256 is [`Rubric::hash`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the rubric was read from, as given when loading.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }
    pub fn criteria(&self) -> &[Criterion] {
        &self.criteria
    }
    /// The calls' language (`language = "…"`, English by default): it picks the detectors'
    /// cue words.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Checks a transcript against every criterion. Pure and deterministic: the same rubric
    /// and transcript give the same scorecard, byte for byte once serialised.
    ///
    /// Score is the percent of the points of applicable criteria that were earned, rounded
    /// to two decimals. Not-applicable criteria leave the denominator. When no criterion is
    /// applicable at all, the call could not be judged: score 0, not passed, and flagged.
    /// When criteria were judged but all weigh 0, the score is 100. When the applicable
    /// criteria carry less than `min_judged` of the rubric's weight, the call "cannot be
    /// judged" either: `judged` is false, it is not passed and it is flagged with that reason,
    /// while `score` still reports the few criteria that applied.
    pub fn evaluate(&self, transcript: &Transcript) -> Scorecard {
        let prepared = crate::text::Prepared::new(transcript);
        let call = Call::with_texts(transcript, &prepared);
        let mut results = Vec::with_capacity(self.criteria.len());
        for c in &self.criteria {
            let verdict = c.check.evaluate(&call, &c.scope, &self.lexicon);
            let (points, max_points) = match verdict.outcome {
                Outcome::Pass => (c.weight, c.weight),
                Outcome::Fail => (0.0, c.weight),
                Outcome::NotApplicable => (0.0, 0.0),
            };
            results.push(CriterionResult {
                criterion_id: c.id.clone(),
                name: c.name.clone(),
                section: c.section.clone(),
                outcome: verdict.outcome,
                points,
                max_points,
                critical: c.critical,
                evidence: verdict.evidence,
                reason: verdict.reason,
            });
        }
        self.scorecard(results)
    }

    fn scorecard(&self, results: Vec<CriterionResult>) -> Scorecard {
        let earned: f64 = results.iter().map(|r| r.points).sum();
        let possible: f64 = results.iter().map(|r| r.max_points).sum();
        let any_applicable = results.iter().any(|r| r.outcome != Outcome::NotApplicable);
        let share = self.applicable_share(&results);
        let judged = any_applicable && share + 1e-9 >= self.min_judged;
        let score = match (any_applicable, possible > 0.0) {
            (false, _) => 0.0,
            (true, false) => 100.0,
            (true, true) => round2(earned / possible * 100.0).clamp(0.0, 100.0),
        };
        let critical_fails: Vec<&CriterionResult> = results
            .iter()
            .filter(|r| r.critical && r.outcome == Outcome::Fail)
            .collect();
        let passed = judged && score >= self.pass_mark && critical_fails.is_empty();

        let mut flag_reasons = Vec::new();
        for r in &critical_fails {
            flag_reasons.push(format!(
                "critical criterion `{}` failed: {}",
                r.criterion_id, r.reason
            ));
        }
        if !any_applicable {
            flag_reasons
                .push("no criterion could be judged on this call (all not applicable)".to_string());
        } else if !judged {
            flag_reasons.push(self.too_little_judged(&results, share));
        } else if score < self.pass_mark {
            flag_reasons.push(format!(
                "score {} is below the pass mark {}",
                fmt_num(score),
                fmt_num(self.pass_mark)
            ));
        }
        for (c, r) in self.criteria.iter().zip(&results) {
            if c.flag && r.outcome == Outcome::Fail && !c.critical {
                flag_reasons.push(format!("`{}` failed: {}", r.criterion_id, r.reason));
            }
        }
        Scorecard {
            rubric_id: self.id.clone(),
            rubric_version: self.version,
            rubric_hash: self.hash.clone(),
            score,
            passed,
            flagged: !flag_reasons.is_empty(),
            flag_reasons,
            judged,
            results,
        }
    }

    /// The share (0–1) of the rubric's total weight whose criteria were applicable. A rubric
    /// whose weights are all 0 counts criteria instead, so `min_judged` still means something.
    fn applicable_share(&self, results: &[CriterionResult]) -> f64 {
        let total: f64 = self.criteria.iter().map(|c| c.weight).sum();
        let applicable = |r: &&CriterionResult| r.outcome != Outcome::NotApplicable;
        if total > 0.0 {
            let judged: f64 = self
                .criteria
                .iter()
                .zip(results)
                .filter(|(_, r)| applicable(r))
                .map(|(c, _)| c.weight)
                .sum();
            judged / total
        } else if results.is_empty() {
            0.0
        } else {
            results.iter().filter(applicable).count() as f64 / results.len() as f64
        }
    }

    /// The flag reason of a call below `min_judged`: how much applied, and why the rest did not
    /// (the first not-applicable criteria and their reasons), so a reviewer sees what to fix.
    fn too_little_judged(&self, results: &[CriterionResult], share: f64) -> String {
        let na: Vec<&CriterionResult> = results
            .iter()
            .filter(|r| r.outcome == Outcome::NotApplicable)
            .collect();
        let mut reason = format!(
            "cannot be judged: only {}% of the rubric's weight applies to this call (min_judged {}%); {} criteria are n/a",
            fmt_num(round2(share * 100.0)),
            fmt_num(round2(self.min_judged * 100.0)),
            na.len()
        );
        if let Some(first) = na.first() {
            reason.push_str(&format!(
                ", e.g. `{}`: {}",
                first.criterion_id, first.reason
            ));
        }
        reason
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `80` for whole numbers, `62.5` otherwise.
pub(crate) fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// A toml/serde error as a located problem, with a hint for misspelt keys and values.
fn toml_problem(e: &toml::de::Error, src: &str, origin: &str) -> Problem {
    let message = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let backticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let (kind, hint) = if message.starts_with("unknown field") {
        let candidates: Vec<&str> = if backticked.len() > 1 {
            backticked[1..].to_vec()
        } else {
            RUBRIC_FIELDS
                .iter()
                .chain(SECTION_FIELDS)
                .chain(CRITERION_FIELDS)
                .chain(PARAM_NAMES)
                .copied()
                .collect()
        };
        (
            ProblemKind::UnknownField,
            backticked.first().map(|w| suggestion(w, &candidates)),
        )
    } else if message.starts_with("missing field") {
        (
            ProblemKind::MissingField,
            backticked.first().map(|f| format!("add `{f} = …`")),
        )
    } else if message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("unknown variant")
    {
        (ProblemKind::InvalidValue, None)
    } else {
        (ProblemKind::Syntax, None)
    };
    // serde's "expected one of …" list is repeated in the hint; keep the message to its first clause.
    let message = match (kind, message.split_once(", expected")) {
        (ProblemKind::UnknownField, Some((head, _))) => head.to_string(),
        _ => message,
    };
    Problem::at(kind, origin, src, span, message, hint)
}

struct Compiler<'a> {
    src: &'a str,
    origin: &'a str,
    problems: Vec<Problem>,
    language: Language,
    /// Phrases compiled so far, against [`crate::phrases::MAX_PHRASES`].
    phrases: usize,
}

impl Compiler<'_> {
    fn problem(
        &mut self,
        kind: ProblemKind,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
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

    fn compile(mut self, raw: RawRubric) -> Result<Rubric, RubricError> {
        if raw.id.get_ref().trim().is_empty() {
            self.problem(
                ProblemKind::InvalidValue,
                raw.id.span(),
                "the rubric `id` is empty",
                Some("give it a short name such as \"inbound-service\"".into()),
            );
        }
        let pass_mark = match &raw.pass_mark {
            Some(pm) if !(0.0..=100.0).contains(pm.get_ref()) => {
                self.problem(
                    ProblemKind::OutOfRange,
                    pm.span(),
                    format!(
                        "`pass_mark` must be between 0 and 100 (percent), not {}",
                        pm.get_ref()
                    ),
                    None,
                );
                DEFAULT_PASS_MARK
            }
            Some(pm) => *pm.get_ref(),
            None => DEFAULT_PASS_MARK,
        };
        if let Some(lang) = &raw.language {
            match Language::parse(lang.get_ref()) {
                Some(l) => self.language = l,
                None => self.problem(
                    ProblemKind::InvalidValue,
                    lang.span(),
                    format!(
                        "the built-in detectors have no cues for language \"{}\"",
                        lang.get_ref()
                    ),
                    Some(format!(
                        "use one of {} (phrase checks work in any language)",
                        Language::NAMES.join(", ")
                    )),
                ),
            }
        }
        let min_judged = match &raw.min_judged {
            Some(mj) if !mj.get_ref().is_finite() || !(0.0..=1.0).contains(mj.get_ref()) => {
                let v = *mj.get_ref();
                let hint = if v > 1.0 && v <= 100.0 {
                    format!(
                        "it is a share of the rubric's weight, not a percent: did you mean {}?",
                        fmt_num(v / 100.0)
                    )
                } else {
                    "0.6 means: at least 60% of the rubric's weight must apply to a call, else it cannot be judged".into()
                };
                self.problem(
                    ProblemKind::OutOfRange,
                    mj.span(),
                    format!("`min_judged` must be between 0 and 1 (a share), not {v}"),
                    Some(hint),
                );
                DEFAULT_MIN_JUDGED
            }
            Some(mj) => *mj.get_ref(),
            None => DEFAULT_MIN_JUDGED,
        };
        if raw.criteria.is_empty() {
            self.problem(
                ProblemKind::MissingField,
                raw.id.span(),
                "the rubric has no criteria",
                Some("add at least one [[criteria]] table".into()),
            );
        }

        let mut sections = Vec::new();
        let mut section_lines: BTreeMap<String, usize> = BTreeMap::new();
        for s in raw.sections {
            let id = s.id.get_ref().clone();
            let line = line_of(self.src, s.id.span().start);
            if let Some(first) = section_lines.get(&id) {
                self.problem(
                    ProblemKind::DuplicateId,
                    s.id.span(),
                    format!("duplicate section id `{id}`"),
                    Some(format!("first defined on line {first}")),
                );
                continue;
            }
            section_lines.insert(id.clone(), line);
            sections.push(Section {
                name: s.name.unwrap_or_else(|| id.clone()),
                id,
                description: s.description.unwrap_or_default(),
            });
        }

        let mut criteria = Vec::new();
        let mut criterion_lines: BTreeMap<String, usize> = BTreeMap::new();
        for rc in raw.criteria {
            let id = rc.id.get_ref().clone();
            let line = line_of(self.src, rc.id.span().start);
            if id.trim().is_empty() {
                self.problem(
                    ProblemKind::InvalidValue,
                    rc.id.span(),
                    "criterion `id` is empty",
                    None,
                );
            } else if let Some(first) = criterion_lines.get(&id) {
                self.problem(
                    ProblemKind::DuplicateId,
                    rc.id.span(),
                    format!("duplicate criterion id `{id}`"),
                    Some(format!("first defined on line {first}; ids must be unique")),
                );
            } else {
                criterion_lines.insert(id.clone(), line);
            }
            if let Some(c) = self.criterion(rc, &sections) {
                criteria.push(c);
            }
        }

        if !self.problems.is_empty() {
            return Err(RubricError::Invalid {
                problems: self.problems,
            });
        }
        Ok(Rubric {
            name: raw.name.unwrap_or_else(|| raw.id.get_ref().clone()),
            id: raw.id.into_inner(),
            description: raw.description.unwrap_or_default(),
            version: raw.version.map_or(1, |v| v.into_inner()),
            pass_mark,
            min_judged,
            hash: hex::encode(Sha256::digest(self.src.as_bytes())),
            origin: self.origin.to_string(),
            source: self.src.to_string(),
            sections,
            criteria,
            lexicon: Lexicon::new(),
            language: self.language,
        })
    }

    fn criterion(&mut self, mut rc: RawCriterion, sections: &[Section]) -> Option<Criterion> {
        let before = self.problems.len();
        let id = rc.id.get_ref().clone();

        let section = match &rc.section {
            None => String::new(),
            Some(s) if sections.is_empty() => s.get_ref().clone(),
            Some(s) => match sections.iter().find(|sec| sec.id == *s.get_ref()) {
                Some(sec) => sec.name.clone(),
                None => {
                    let ids: Vec<&str> = sections.iter().map(|sec| sec.id.as_str()).collect();
                    self.problem(
                        ProblemKind::InvalidValue,
                        s.span(),
                        format!(
                            "criterion `{id}` names section `{}`, which is not declared",
                            s.get_ref()
                        ),
                        Some(suggestion(s.get_ref(), &ids)),
                    );
                    String::new()
                }
            },
        };

        let weight = match &rc.weight {
            Some(w) if !w.get_ref().is_finite() || !(0.0..=100.0).contains(w.get_ref()) => {
                self.problem(
                    ProblemKind::OutOfRange,
                    w.span(),
                    format!(
                        "weight of `{id}` must be between 0 and 100, not {}",
                        w.get_ref()
                    ),
                    Some(
                        "weights are points; the score is the percent of applicable points earned"
                            .into(),
                    ),
                );
                DEFAULT_WEIGHT
            }
            Some(w) => *w.get_ref(),
            None => DEFAULT_WEIGHT,
        };

        let window = self.window(&rc);
        let params = rc.params();

        let has_phrases = rc.any.is_some() || rc.all.is_some() || rc.none.is_some();
        let (check, who) = match &rc.check {
            Some(check_name) => {
                if has_phrases {
                    self.problem(ProblemKind::BadParameter, check_name.span(), format!("criterion `{id}` has both `check` and phrase lists (`any`/`all`/`none`)"), Some("split it into two criteria".into()));
                }
                if let Some(u) = &rc.unless {
                    self.problem(
                        ProblemKind::BadParameter,
                        u.span(),
                        "`unless` applies only to `none` phrase lists",
                        None,
                    );
                }
                let Some(info) = detectors::info(check_name.get_ref()) else {
                    let names: Vec<&str> = detectors::DETECTORS.iter().map(|d| d.name).collect();
                    self.problem(
                        ProblemKind::UnknownCheck,
                        check_name.span(),
                        format!("unknown check `{}`", check_name.get_ref()),
                        Some(suggestion(check_name.get_ref(), &names)),
                    );
                    return None;
                };
                let who = self.detector_speaker(&rc, info.name, info.speaker);
                let mut p =
                    Params::new(info.name, params, self.origin, self.src, check_name.span())
                        .in_language(self.language);
                let check = Check::Detector {
                    info,
                    detector: (info.build)(&mut p),
                };
                self.problems.extend(p.finish());
                (check, who)
            }
            None => {
                for (name, value) in &params {
                    self.problem(ProblemKind::BadParameter, value.span(), format!("`{name}` is a detector parameter, but criterion `{id}` has no `check`"), Some("detector parameters go with `check = \"…\"`; phrase criteria take `any`, `all`, `none`, `unless`".into()));
                }
                if !has_phrases {
                    self.problem(ProblemKind::MissingField, rc.id.span(), format!("criterion `{id}` checks nothing"), Some("add `check = \"<detector>\"` or a phrase list (`any`, `all` or `none`)".into()));
                    return None;
                }
                if rc.unless.is_some() && rc.none.is_none() {
                    let span = rc.unless.as_ref().map_or(rc.id.span(), |u| u.span());
                    self.problem(
                        ProblemKind::BadParameter,
                        span,
                        "`unless` excuses matches of `none`, but this criterion has no `none` list",
                        None,
                    );
                }
                let phrases = PhraseCheck::new(
                    self.patterns(rc.any.take(), "any"),
                    self.patterns(rc.all.take(), "all"),
                    self.patterns(rc.none.take(), "none"),
                    self.patterns(rc.unless.take(), "unless"),
                );
                let who = match &rc.speaker {
                    Some(s) => self.who(s),
                    None => Who::Any,
                };
                (Check::Phrases(phrases), who)
            }
        };

        // The greeting belongs to the opening of the call unless the rubric says otherwise.
        let default_within = match &check {
            Check::Detector { info, .. } => info.default_within_ms,
            Check::Phrases(_) => None,
        };
        let window = match (window, default_within) {
            (Window::Whole, Some(ms)) if rc.within.is_none() && rc.last.is_none() => {
                Window::First(ms)
            }
            (w, _) => w,
        };

        if self.problems.len() > before {
            return None;
        }
        Some(Criterion {
            name: rc.name.unwrap_or_default(),
            description: rc.description.unwrap_or_default(),
            id,
            section,
            weight,
            critical: rc.critical,
            flag: rc.flag,
            scope: Scope { who, window },
            check,
        })
    }

    fn window(&mut self, rc: &RawCriterion) -> Window {
        let mut parse = |field: &str, v: &Spanned<String>| match parse_duration_ms(v.get_ref()) {
            Ok(0) => {
                self.problem(
                    ProblemKind::BadDuration,
                    v.span(),
                    format!("`{field}` must be longer than 0s"),
                    None,
                );
                None
            }
            Ok(ms) => Some(ms),
            Err(e) => {
                self.problem(
                    ProblemKind::BadDuration,
                    v.span(),
                    format!("bad duration for `{field}`: {e}"),
                    Some("write e.g. \"30s\", \"1m30s\" or \"0:30\"".into()),
                );
                None
            }
        };
        let first = rc.within.as_ref().and_then(|v| parse("within", v));
        let last = rc.last.as_ref().and_then(|v| parse("last", v));
        if let (Some(_), Some(l)) = (&rc.within, &rc.last) {
            self.problem(ProblemKind::BadParameter, l.span(), "a criterion takes either `within` (from the start) or `last` (before the end), not both", Some("split it into two criteria".into()));
        }
        match (first, last) {
            (Some(ms), _) => Window::First(ms),
            (None, Some(ms)) => Window::Last(ms),
            _ => Window::Whole,
        }
    }

    fn who(&mut self, s: &Spanned<String>) -> Who {
        Who::parse(s.get_ref()).unwrap_or_else(|| {
            self.problem(
                ProblemKind::InvalidValue,
                s.span(),
                format!("unknown speaker \"{}\"", s.get_ref()),
                Some(suggestion(s.get_ref(), &["agent", "caller", "any"])),
            );
            Who::Any
        })
    }

    fn detector_speaker(&mut self, rc: &RawCriterion, check: &str, rule: SpeakerRule) -> Who {
        match (rule, &rc.speaker) {
            (SpeakerRule::Choosable(_), Some(s)) => self.who(s),
            (SpeakerRule::Choosable(default), None) => default,
            (SpeakerRule::AgentOnly, Some(s)) if Who::parse(s.get_ref()) == Some(Who::Agent) => {
                Who::Agent
            }
            (rule, Some(s)) => {
                let reads = match rule {
                    SpeakerRule::AgentOnly => "it always reads the agent",
                    SpeakerRule::BothParties => "it compares agent and caller",
                    _ => "it reads everyone's speech",
                };
                self.problem(
                    ProblemKind::BadParameter,
                    s.span(),
                    format!("`speaker` does not apply to check `{check}` ({reads})"),
                    Some("remove `speaker`".into()),
                );
                Who::Any
            }
            (SpeakerRule::AgentOnly, None) => Who::Agent,
            (SpeakerRule::BothParties | SpeakerRule::Anyone, None) => Who::Any,
        }
    }

    fn patterns(
        &mut self,
        list: Option<Spanned<Vec<Spanned<String>>>>,
        field: &str,
    ) -> Vec<Pattern> {
        let Some(list) = list else { return Vec::new() };
        if list.get_ref().is_empty() {
            self.problem(
                ProblemKind::InvalidValue,
                list.span(),
                format!("`{field}` is an empty list"),
                Some("add at least one phrase or remove the key".into()),
            );
        }
        let mut out = Vec::new();
        for p in list.into_inner() {
            self.phrases += 1;
            if self.phrases > crate::phrases::MAX_PHRASES {
                if self.phrases == crate::phrases::MAX_PHRASES + 1 {
                    self.problem(
                        ProblemKind::InvalidValue,
                        p.span(),
                        format!(
                            "too many phrases: a rubric may hold {} regular expressions in all",
                            crate::phrases::MAX_PHRASES
                        ),
                        Some("join related phrases into one alternation, `(a|b|c)`".into()),
                    );
                }
                continue;
            }
            // Compiled as the text is read: Chinese folded to simplified characters, and word
            // edges beside CJK characters dropped (each of those is a word by itself).
            let folded = crate::text::fold_chinese(p.get_ref());
            let source = folded.as_deref().unwrap_or(p.get_ref());
            match crate::phrases::compile_phrase(&crate::edges::cjk_word_edges(source)) {
                Ok(regex) => out.push(Pattern {
                    source: p.get_ref().clone(),
                    regex,
                }),
                Err(e) => {
                    // regex's message repeats the pattern with a caret; its last line is the reason.
                    let text = e.to_string();
                    let reason = text
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("invalid")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_string();
                    let hint = Some("phrases are regular expressions (regex crate syntax); escape ( ) [ ] . ? * + with a backslash to match them literally".to_string());
                    self.problem(
                        ProblemKind::InvalidRegex,
                        p.span(),
                        format!("invalid regex in `{field}`: {reason}"),
                        hint,
                    );
                }
            }
        }
        out
    }
}

fn line_of(src: &str, at: usize) -> usize {
    src[..at.min(src.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_core::{Segment, Speaker};

    /// Three criteria: a greeting (agent only, weight 30), a phrase anyone may say (weight 50)
    /// and dead air (weight 20).
    fn rubric(min_judged: &str) -> Rubric {
        let src = format!(
            "id = \"r\"\npass_mark = 50\n{min_judged}\n\
             [[criteria]]\nid = \"greeting\"\nweight = 30\ncheck = \"greeting\"\n\
             [[criteria]]\nid = \"account\"\nweight = 50\nany = ['(?i)account']\n\
             [[criteria]]\nid = \"dead_air\"\nweight = 20\ncheck = \"dead_air\"\nmax = \"25s\"\n"
        );
        Rubric::from_toml_str(&src, "r.toml").unwrap()
    }

    fn transcript(speaker: Speaker) -> Transcript {
        let seg = |start_ms, end_ms, text: &str| Segment {
            speaker,
            start_ms,
            end_ms,
            text: text.into(),
            ..Default::default()
        };
        Transcript {
            duration_ms: 12_000,
            segments: vec![
                seg(0, 4_000, "Hello, thank you for calling."),
                seg(4_500, 9_000, "It's about my account."),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn below_min_judged_the_call_cannot_be_judged() {
        // Unknown speakers: the greeting (30 of 100) is n/a, 70% applies.
        let card = rubric("min_judged = 0.75").evaluate(&transcript(Speaker::Unknown));
        assert_eq!(card.results[0].outcome, Outcome::NotApplicable);
        assert!(!card.judged && !card.passed && card.flagged, "{card:#?}");
        assert_eq!(card.score, 100.0, "the score still reports what applied");
        assert_eq!(card.flag_reasons.len(), 1, "{:?}", card.flag_reasons);
        let reason = &card.flag_reasons[0];
        assert!(
            reason.starts_with("cannot be judged: only 70% of the rubric's weight applies to this call (min_judged 75%); 1 criteria are n/a, e.g. `greeting`: "),
            "{reason}"
        );
    }

    #[test]
    fn at_or_above_min_judged_the_call_is_judged() {
        for mj in ["min_judged = 0.7", "min_judged = 0.5", ""] {
            let card = rubric(mj).evaluate(&transcript(Speaker::Unknown));
            assert!(
                card.judged && card.passed && !card.flagged,
                "{mj}: {card:#?}"
            );
        }
        // With speakers every criterion applies: judged even at min_judged = 1.
        let card = rubric("min_judged = 1").evaluate(&transcript(Speaker::Agent));
        assert!(card.judged && card.passed, "{card:#?}");
    }

    #[test]
    fn nothing_applicable_is_not_judged_whatever_min_judged_says() {
        let src = "id = \"r\"\n[[criteria]]\nid = \"greeting\"\ncheck = \"greeting\"\n";
        let r = Rubric::from_toml_str(src, "r.toml").unwrap();
        let card = r.evaluate(&transcript(Speaker::Unknown));
        assert!(!card.judged && !card.passed && card.flagged);
        assert_eq!(card.score, 0.0);
        assert!(card.flag_reasons[0].starts_with("no criterion could be judged"));
    }

    #[test]
    fn zero_weight_rubrics_count_criteria() {
        let src = "id = \"r\"\nmin_judged = 0.6\n\
                   [[criteria]]\nid = \"greeting\"\nweight = 0\ncheck = \"greeting\"\n\
                   [[criteria]]\nid = \"account\"\nweight = 0\nany = ['(?i)account']\n";
        let r = Rubric::from_toml_str(src, "r.toml").unwrap();
        // One of two criteria applies: 50% < 60%.
        let card = r.evaluate(&transcript(Speaker::Unknown));
        assert!(!card.judged, "{card:#?}");
        assert!(
            card.flag_reasons[0].contains("only 50%"),
            "{:?}",
            card.flag_reasons
        );
        assert!(r.evaluate(&transcript(Speaker::Agent)).judged);
    }
}

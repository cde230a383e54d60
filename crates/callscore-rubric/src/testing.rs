//! Rubric regression tests: each case is a transcript plus the verdicts a rubric must give it.
//! `callscore rubric test` runs them in CI; this module does the work and the binary prints.
//!
//! A case is a TOML (or JSON) file:
//!
//! ```toml
//! description = "caller gives only a first name; agent uses it"
//! rubric = "../default.toml"      # optional: relative to this file (see `RunOptions`)
//! transcript = "calls/x.json"     # a transcript file relative to this file, or inline:
//!
//! [transcript]
//! duration = "1:30"               # optional; default: the end of the last segment
//! meta = { caller_name = "Priya Raman" }
//! segments = [
//!   { speaker = "agent", start = "0:00", end = "0:04", text = "Thank you for calling Acme." },
//!   { speaker = "caller", start_ms = 4500, end_ms = 6000, text = "Hi, it's Priya." },
//! ]
//!
//! [expect]
//! score = 85                      # optional, with `tolerance` (default 0.01)
//! passed = true                   # optional
//! flagged = false                 # optional
//! judged = true                   # optional: false = "cannot be judged" (the rubric's min_judged)
//! outcomes = { greeting = "pass", caller_name = "na" }
//! reasons = { caller_name = "never became known" }   # optional: substrings of the reason
//! ```
//!
//! In a directory, every `.toml` file is a case, and a `.json` file is a case when it has an
//! `expect` key (other JSON files are transcripts that cases point to).

use crate::duration::parse_duration_ms;
use crate::error::closest;
use crate::rubric::{fmt_num, Rubric};
use callscore_core::{fmt_ms, CallMeta, Outcome, Scorecard, Segment, Speaker, Transcript, Word};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default score tolerance when a case expects a score.
pub const DEFAULT_TOLERANCE: f64 = 0.01;

/// Problems that stop the run as a whole (a path that does not exist).
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{}: no such file or directory", .0.display())]
    Missing(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no test cases found in {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoCases(Vec<PathBuf>),
}

/// How cases are run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The rubric for cases that name none. Without it, such a case uses the nearest
    /// `rubrics/default.toml` found walking up from the case's directory.
    pub rubric: Option<PathBuf>,
}

/// Whether a case held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    Passed,
    /// The rubric gave other verdicts than the case expects.
    Failed,
    /// The case could not be run (unreadable, malformed, or its rubric is broken).
    Error,
}

/// One expectation that was not met.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// What was checked: a criterion id, `score`, `passed` or `flagged`.
    pub subject: String,
    pub expected: String,
    pub actual: String,
    /// Why the rubric decided as it did, and the evidence, for the reader of the diff.
    pub detail: Vec<String>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    pub path: PathBuf,
    pub description: String,
    pub status: CaseStatus,
    pub mismatches: Vec<Mismatch>,
    /// Why the case could not run, for [`CaseStatus::Error`].
    pub error: Option<String>,
    pub scorecard: Option<Scorecard>,
}

impl CaseReport {
    /// The file name without extension.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn error(path: &Path, description: String, message: String) -> CaseReport {
        CaseReport {
            path: path.to_path_buf(),
            description,
            status: CaseStatus::Error,
            mismatches: vec![],
            error: Some(message),
            scorecard: None,
        }
    }

    /// The readable expected-vs-actual diff (empty for a passing case).
    pub fn diff(&self) -> String {
        let mut out = String::new();
        if let Some(e) = &self.error {
            for line in e.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        for m in &self.mismatches {
            out.push_str(&format!(
                "    {}: expected {}, got {}\n",
                m.subject, m.expected, m.actual
            ));
            for d in &m.detail {
                out.push_str(&format!("      {d}\n"));
            }
        }
        out
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    pub cases: Vec<CaseReport>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.status == CaseStatus::Passed)
            .count()
    }
    /// Failed and errored cases.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
    pub fn success(&self) -> bool {
        self.failed() == 0
    }

    /// One line per case, the diff under each failure, then `N passed, N failed`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            let status = match c.status {
                CaseStatus::Passed => "PASS ",
                CaseStatus::Failed => "FAIL ",
                CaseStatus::Error => "ERROR",
            };
            let about = if c.description.is_empty() {
                String::new()
            } else {
                format!("  ({})", c.description)
            };
            out.push_str(&format!("{status} {}{about}\n", c.path.display()));
            out.push_str(&c.diff());
        }
        out.push_str(&format!(
            "{} passed, {} failed\n",
            self.passed(),
            self.failed()
        ));
        out
    }

    /// JUnit XML, as CI systems read it: one `testcase` per case, `failure` for a mismatch,
    /// `error` for a case that could not run, the diff as the element text.
    pub fn to_junit_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let failures = self
            .cases
            .iter()
            .filter(|c| c.status == CaseStatus::Failed)
            .count()
            .to_string();
        let errors = self
            .cases
            .iter()
            .filter(|c| c.status == CaseStatus::Error)
            .count()
            .to_string();
        let tests = self.cases.len().to_string();
        let result = (|| -> std::io::Result<()> {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
            w.create_element("testsuites")
                .with_attributes([
                    ("name", "callscore rubric tests"),
                    ("tests", tests.as_str()),
                    ("failures", failures.as_str()),
                    ("errors", errors.as_str()),
                ])
                .write_inner_content(|w| {
                    w.create_element("testsuite")
                        .with_attributes([
                            ("name", "rubric"),
                            ("tests", tests.as_str()),
                            ("failures", failures.as_str()),
                            ("errors", errors.as_str()),
                        ])
                        .write_inner_content(|w| {
                            for c in &self.cases {
                                let classname = c
                                    .path
                                    .parent()
                                    .map(|p| p.display().to_string().replace(['/', '\\'], "."))
                                    .unwrap_or_default();
                                let name = c.name();
                                let file = c.path.display().to_string();
                                let case = w.create_element("testcase").with_attributes([
                                    ("name", name.as_str()),
                                    ("classname", classname.as_str()),
                                    ("file", file.as_str()),
                                ]);
                                match c.status {
                                    CaseStatus::Passed => {
                                        case.write_empty()?;
                                    }
                                    CaseStatus::Failed | CaseStatus::Error => {
                                        let (tag, message) = if c.status == CaseStatus::Failed {
                                            (
                                                "failure",
                                                format!(
                                                    "{} expectation(s) not met",
                                                    c.mismatches.len()
                                                ),
                                            )
                                        } else {
                                            (
                                                "error",
                                                c.error
                                                    .as_deref()
                                                    .and_then(|e| e.lines().next())
                                                    .unwrap_or("error")
                                                    .to_string(),
                                            )
                                        };
                                        let diff = c.diff();
                                        case.write_inner_content(|w| {
                                            w.create_element(tag)
                                                .with_attributes([
                                                    ("message", message.as_str()),
                                                    ("type", tag),
                                                ])
                                                .write_text_content(BytesText::new(&diff))?;
                                            Ok(())
                                        })?;
                                    }
                                }
                            }
                            Ok(())
                        })?;
                    Ok(())
                })?;
            Ok(())
        })();
        // Writing into a Vec cannot fail.
        debug_assert!(result.is_ok());
        let mut xml = String::from_utf8(w.into_inner()).unwrap_or_default();
        xml.push('\n');
        xml
    }
}

/// Finds the case files under `paths`, in sorted order. Named files are always cases.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TestError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            return Err(TestError::Missing(p.clone()));
        }
    }
    if out.is_empty() {
        return Err(TestError::NoCases(paths.to_vec()));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TestError> {
    let read = |source| TestError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => out.push(path),
            Some("json") => {
                let text = crate::read::read_capped(&path, crate::read::MAX_TRANSCRIPT_BYTES)
                    .map_err(|source| TestError::Read {
                        path: path.clone(),
                        source,
                    })?;
                // A JSON file is a case when it says what it expects; otherwise it is data.
                let is_case = serde_json::from_str::<serde_json::Value>(&text)
                    .map_or(true, |v| v.get("expect").is_some());
                if is_case {
                    out.push(path);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs every case under `paths`.
pub fn run(paths: &[PathBuf], opts: &RunOptions) -> Result<TestReport, TestError> {
    let files = discover(paths)?;
    let mut rubrics = RubricCache::default();
    let cases = files
        .iter()
        .map(|f| run_case(f, opts, &mut rubrics))
        .collect();
    Ok(TestReport { cases })
}

/// Rubrics compiled once per run, by path.
#[derive(Default)]
pub struct RubricCache {
    loaded: BTreeMap<PathBuf, Result<Arc<Rubric>, String>>,
}

impl RubricCache {
    fn get(&mut self, path: &Path) -> Result<Arc<Rubric>, String> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.loaded
            .entry(key)
            .or_insert_with(|| {
                Rubric::from_path(path)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    description: String,
    rubric: Option<String>,
    transcript: serde_json::Value,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    score: Option<f64>,
    tolerance: Option<f64>,
    passed: Option<bool>,
    flagged: Option<bool>,
    judged: Option<bool>,
    #[serde(default)]
    outcomes: BTreeMap<String, Outcome>,
    #[serde(default)]
    reasons: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InlineTranscript {
    duration: Option<String>,
    duration_ms: Option<u64>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    meta: CallMeta,
    segments: Vec<InlineSegment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InlineSegment {
    #[serde(default)]
    speaker: Speaker,
    start: Option<String>,
    start_ms: Option<u64>,
    end: Option<String>,
    end_ms: Option<u64>,
    text: String,
    #[serde(default)]
    words: Vec<Word>,
}

/// Runs one case file.
pub fn run_case(path: &Path, opts: &RunOptions, rubrics: &mut RubricCache) -> CaseReport {
    let case = match read_case(path) {
        Ok(c) => c,
        Err(msg) => return CaseReport::error(path, String::new(), msg),
    };
    let description = case.description.clone();
    let base = path.parent().unwrap_or(Path::new("."));
    let rubric_path = match resolve_rubric(&case, base, opts) {
        Ok(p) => p,
        Err(msg) => {
            return CaseReport::error(path, description, format!("{}: {msg}", path.display()))
        }
    };
    let rubric = match rubrics.get(&rubric_path) {
        Ok(r) => r,
        Err(msg) => {
            return CaseReport::error(
                path,
                description,
                format!("rubric {} is invalid:\n{msg}", rubric_path.display()),
            )
        }
    };
    let transcript = match load_transcript(&case.transcript, base, path) {
        Ok(t) => t,
        Err(msg) => return CaseReport::error(path, description, msg),
    };
    if let Err(msg) = check_expectations_name_criteria(&case.expect, &rubric, path) {
        return CaseReport::error(path, description, msg);
    }
    let card = rubric.evaluate(&transcript);
    let mismatches = compare(&case.expect, &card);
    let status = if mismatches.is_empty() {
        CaseStatus::Passed
    } else {
        CaseStatus::Failed
    };
    CaseReport {
        path: path.to_path_buf(),
        description,
        status,
        mismatches,
        error: None,
        scorecard: Some(card),
    }
}

fn read_case(path: &Path) -> Result<CaseFile, String> {
    let text = crate::read::read_capped(path, crate::read::MAX_TRANSCRIPT_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((1, 1));
            format!("{}:{line}:{col}: {}", path.display(), e.message().trim())
        })?
    };
    let case: CaseFile =
        serde_path_to_error::deserialize(&value).map_err(|e| field_error(path, e))?;
    let e = &case.expect;
    if e.score.is_none()
        && e.passed.is_none()
        && e.flagged.is_none()
        && e.judged.is_none()
        && e.outcomes.is_empty()
        && e.reasons.is_empty()
    {
        return Err(format!(
            "{}: `expect` is empty: give outcomes, score, passed, flagged or judged",
            path.display()
        ));
    }
    Ok(case)
}

fn field_error(path: &Path, e: serde_path_to_error::Error<serde_json::Error>) -> String {
    let field = e.path().to_string();
    let reason = e.into_inner().to_string();
    if field == "." {
        format!("{}: {reason}", path.display())
    } else {
        format!("{}: `{field}`: {reason}", path.display())
    }
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (
        text[..at].matches('\n').count() + 1,
        text[line_start..at].chars().count() + 1,
    )
}

fn resolve_rubric(case: &CaseFile, base: &Path, opts: &RunOptions) -> Result<PathBuf, String> {
    if let Some(r) = &case.rubric {
        let p = base.join(r);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("`rubric = \"{r}\"`: no such file {}", p.display()))
        };
    }
    if let Some(r) = &opts.rubric {
        return Ok(r.clone());
    }
    let start = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    start
        .ancestors()
        .map(|dir| dir.join("rubrics").join("default.toml"))
        .find(|p| p.is_file())
        .ok_or_else(|| "the case names no rubric, none was given with --rubric, and no rubrics/default.toml was found above it".to_string())
}

fn load_transcript(
    value: &serde_json::Value,
    base: &Path,
    case_path: &Path,
) -> Result<Transcript, String> {
    if let Some(rel) = value.as_str() {
        let p = base.join(rel);
        return crate::transcript::from_path(&p)
            .map_err(|e| format!("{}: `transcript`: {e}", case_path.display()));
    }
    let inline: InlineTranscript = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        format!(
            "{}: `transcript.{field}`: {}",
            case_path.display(),
            e.into_inner()
        )
    })?;
    let time =
        |field: String, text: &Option<String>, ms: Option<u64>| -> Result<Option<u64>, String> {
            match (text, ms) {
                (Some(_), Some(_)) => Err(format!(
                    "{}: `{field}`: give either the time or the `_ms` field, not both",
                    case_path.display()
                )),
                (Some(t), None) => parse_duration_ms(t)
                    .map(Some)
                    .map_err(|e| format!("{}: `{field}`: {e}", case_path.display())),
                (None, ms) => Ok(ms),
            }
        };
    let mut segments = Vec::with_capacity(inline.segments.len());
    for (i, s) in inline.segments.into_iter().enumerate() {
        let start = time(
            format!("transcript.segments[{i}].start"),
            &s.start,
            s.start_ms,
        )?
        .ok_or_else(|| {
            format!(
                "{}: `transcript.segments[{i}]`: needs `start` (\"0:05\") or `start_ms`",
                case_path.display()
            )
        })?;
        let end =
            time(format!("transcript.segments[{i}].end"), &s.end, s.end_ms)?.ok_or_else(|| {
                format!(
                    "{}: `transcript.segments[{i}]`: needs `end` (\"0:08\") or `end_ms`",
                    case_path.display()
                )
            })?;
        segments.push(Segment {
            speaker: s.speaker,
            start_ms: start,
            end_ms: end,
            text: s.text,
            words: s.words,
            ..Default::default()
        });
    }
    let duration = time(
        "transcript.duration".into(),
        &inline.duration,
        inline.duration_ms,
    )?
    .unwrap_or(0);
    let mut t = Transcript {
        duration_ms: duration,
        model: inline.model,
        segments,
        meta: inline.meta,
        ..Default::default()
    };
    crate::transcript::validate(&t, &case_path.display().to_string()).map_err(|e| e.to_string())?;
    t.normalise();
    Ok(t)
}

fn check_expectations_name_criteria(
    expect: &Expect,
    rubric: &Rubric,
    path: &Path,
) -> Result<(), String> {
    let ids: Vec<&str> = rubric.criteria().iter().map(|c| c.id()).collect();
    for (table, id) in expect
        .outcomes
        .keys()
        .map(|k| ("outcomes", k))
        .chain(expect.reasons.keys().map(|k| ("reasons", k)))
    {
        if !ids.contains(&id.as_str()) {
            let hint = closest(id, ids.iter().copied())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "{}: `expect.{table}.{id}`: rubric `{}` has no criterion `{id}`{hint}",
                path.display(),
                rubric.id()
            ));
        }
    }
    Ok(())
}

fn compare(expect: &Expect, card: &Scorecard) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (id, want) in &expect.outcomes {
        let Some(r) = card.results.iter().find(|r| &r.criterion_id == id) else {
            continue;
        };
        if r.outcome != *want {
            out.push(Mismatch {
                subject: id.clone(),
                expected: want.to_string(),
                actual: r.outcome.to_string(),
                detail: explain(r),
            });
        }
    }
    for (id, want) in &expect.reasons {
        let Some(r) = card.results.iter().find(|r| &r.criterion_id == id) else {
            continue;
        };
        if !r.reason.contains(want.as_str()) {
            out.push(Mismatch {
                subject: format!("{id} reason"),
                expected: format!("to contain \"{want}\""),
                actual: format!("\"{}\"", r.reason),
                detail: vec![],
            });
        }
    }
    if let Some(want) = expect.score {
        let tol = expect.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if (card.score - want).abs() > tol {
            out.push(Mismatch {
                subject: "score".into(),
                expected: format!("{} ± {}", fmt_num(want), fmt_num(tol)),
                actual: fmt_num(card.score),
                detail: point_summary(card),
            });
        }
    }
    if let Some(want) = expect.passed {
        if card.passed != want {
            out.push(Mismatch {
                subject: "passed".into(),
                expected: want.to_string(),
                actual: card.passed.to_string(),
                detail: card.flag_reasons.clone(),
            });
        }
    }
    if let Some(want) = expect.judged {
        if card.judged != want {
            out.push(Mismatch {
                subject: "judged".into(),
                expected: want.to_string(),
                actual: card.judged.to_string(),
                detail: card.flag_reasons.clone(),
            });
        }
    }
    if let Some(want) = expect.flagged {
        if card.flagged != want {
            let detail = if card.flag_reasons.is_empty() {
                vec!["no flag reasons".to_string()]
            } else {
                card.flag_reasons.clone()
            };
            out.push(Mismatch {
                subject: "flagged".into(),
                expected: want.to_string(),
                actual: card.flagged.to_string(),
                detail,
            });
        }
    }
    out
}

fn explain(r: &callscore_core::CriterionResult) -> Vec<String> {
    let mut lines = vec![format!("why: {}", r.reason)];
    for e in r.evidence.iter().take(3) {
        lines.push(format!(
            "evidence: {}–{} {}: \"{}\"",
            fmt_ms(e.start_ms),
            fmt_ms(e.end_ms),
            e.speaker,
            e.quote
        ));
    }
    lines
}

fn point_summary(card: &Scorecard) -> Vec<String> {
    card.results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| {
            format!(
                "{} {} ({}/{})",
                r.criterion_id,
                r.outcome,
                fmt_num(r.points),
                fmt_num(r.max_points)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const RUBRIC: &str = r#"
id = "mini"
pass_mark = 50
[[criteria]]
id = "greeting"
check = "greeting"
[[criteria]]
id = "questions"
check = "questions"
min = 1
"#;

    fn setup(case: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("rubrics/tests")).unwrap();
        fs::write(dir.path().join("rubrics/default.toml"), RUBRIC).unwrap();
        let case_path = dir.path().join("rubrics/tests/case.toml");
        fs::write(&case_path, case).unwrap();
        (dir, case_path)
    }

    const INLINE: &str = r#"
[transcript]
segments = [ { speaker = "agent", start = "0:00", end = "0:03", text = "Hello, how can I help?" } ]
"#;

    #[test]
    fn passing_case_finds_the_default_rubric_above_it() {
        let (_dir, case) = setup(&format!("{INLINE}\n[expect]\nscore = 100\npassed = true\noutcomes = {{ greeting = \"pass\", questions = \"pass\" }}\n"));
        let report = run(&[case], &RunOptions::default()).unwrap();
        assert_eq!(
            report.cases[0].status,
            CaseStatus::Passed,
            "{}",
            report.render()
        );
        assert!(report.render().ends_with("1 passed, 0 failed\n"));
    }

    #[test]
    fn failing_case_shows_expected_actual_and_why() {
        let (_dir, case) = setup(&format!(
            "{INLINE}\n[expect]\noutcomes = {{ greeting = \"fail\" }}\nscore = 50\n"
        ));
        let report = run(&[case], &RunOptions::default()).unwrap();
        let text = report.render();
        assert_eq!(report.failed(), 1);
        assert!(text.contains("    greeting: expected fail, got pass\n      why: agent greeted the caller at 0:00\n      evidence: 0:00–0:03 agent: \"Hello, how can I help?\""), "{text}");
        assert!(
            text.contains("    score: expected 50 ± 0.01, got 100"),
            "{text}"
        );
        assert!(text.ends_with("0 passed, 1 failed\n"));
        let xml = report.to_junit_xml();
        assert!(
            xml.contains(
                r#"<testsuites name="callscore rubric tests" tests="1" failures="1" errors="0">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="2 expectation(s) not met" type="failure">"#),
            "{xml}"
        );
    }

    #[test]
    fn unknown_criterion_in_expect_is_an_error_with_a_hint() {
        let (_dir, case) = setup(&format!(
            "{INLINE}\n[expect]\noutcomes = {{ greting = \"pass\" }}\n"
        ));
        let report = run(&[case], &RunOptions::default()).unwrap();
        assert_eq!(report.cases[0].status, CaseStatus::Error);
        let err = report.cases[0].error.clone().unwrap();
        assert!(err.contains("`expect.outcomes.greting`: rubric `mini` has no criterion `greting` (did you mean `greeting`?)"), "{err}");
    }

    #[test]
    fn malformed_case_names_the_field() {
        let (_dir, case) = setup("[transcript]\nsegments = [ { speaker = \"agent\", start = \"soon\", end = \"0:03\", text = \"x\" } ]\n[expect]\npassed = true\n");
        let report = run(&[case], &RunOptions::default()).unwrap();
        let err = report.cases[0].error.clone().unwrap();
        assert!(err.contains("`transcript.segments[0].start`"), "{err}");

        let (_dir, case) = setup("[transcript]\nsegments = []\n[expect]\npased = true\n");
        let report = run(&[case], &RunOptions::default()).unwrap();
        let err = report.cases[0].error.clone().unwrap();
        assert!(
            err.contains("`expect.pased`") && err.contains("unknown field"),
            "{err}"
        );
    }

    #[test]
    fn directories_hold_toml_cases_and_json_cases_with_expect() {
        let (dir, _case) = setup(&format!("{INLINE}\n[expect]\npassed = true\n"));
        let tests = dir.path().join("rubrics/tests");
        fs::write(tests.join("transcript.json"), r#"{"segments":[]}"#).unwrap();
        fs::write(
            tests.join("b.json"),
            r#"{"transcript":"transcript.json","expect":{"passed":false}}"#,
        )
        .unwrap();
        let report = run(&[tests], &RunOptions::default()).unwrap();
        let names: Vec<String> = report.cases.iter().map(|c| c.name()).collect();
        assert_eq!(names, vec!["b", "case"]);
        assert!(report.success(), "{}", report.render());
    }

    #[test]
    fn missing_paths_and_empty_dirs_are_errors() {
        assert!(matches!(
            run(&[PathBuf::from("/no/such/dir")], &RunOptions::default()),
            Err(TestError::Missing(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            run(&[dir.path().to_path_buf()], &RunOptions::default()),
            Err(TestError::NoCases(_))
        ));
    }
}

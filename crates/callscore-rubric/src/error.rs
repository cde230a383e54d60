//! Rubric errors: every problem in a rubric file is reported with the file, line and column,
//! the offending line of source, and a hint when one can be given.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// What kind of mistake a rubric holds. Tests and tools match on this; people read the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file is not valid TOML.
    Syntax,
    /// A key the rubric format does not know (a typo, usually).
    UnknownField,
    /// A required key is missing.
    MissingField,
    /// A value of the wrong type or outside its allowed set.
    InvalidValue,
    /// `check = "…"` names no built-in detector.
    UnknownCheck,
    /// A phrase is not a valid regular expression.
    InvalidRegex,
    /// Two criteria (or two sections) share an id.
    DuplicateId,
    /// A weight outside 0–100, or a pass mark outside 0–100.
    OutOfRange,
    /// A duration such as `within = "30s"` that cannot be read.
    BadDuration,
    /// A parameter given to a check that does not take it, or a criterion with no check at all.
    BadParameter,
}

/// One problem at one place in a rubric file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The file (or other origin) the rubric came from, as given by the caller.
    pub origin: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
    /// What to do about it ("did you mean `within`?").
    pub hint: Option<String>,
    /// The source line the problem is on, for the caret display.
    pub source_line: String,
    /// Characters to underline from `column` on (at least 1).
    pub underline: usize,
}

impl Problem {
    /// Builds a problem located at a byte span of `src`.
    pub(crate) fn at(
        kind: ProblemKind,
        origin: &str,
        src: &str,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Problem {
        let start = span.start.min(src.len());
        let end = span.end.clamp(start, src.len());
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let column = src[line_start..start].chars().count() + 1;
        let underline = src[start..end.min(line_end)].chars().count().max(1);
        Problem {
            kind,
            origin: origin.to_string(),
            line,
            column,
            message: message.into(),
            hint,
            source_line: src[line_start..line_end].trim_end_matches('\r').to_string(),
            underline,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The layout of rustc and ruff diagnostics: `file:line:col: message`, the source line,
        // a caret under the offending text, then the hint. Editors jump to `file:line:col`.
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(self.column - 1),
            "^".repeat(self.underline)
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{:gutter$} = hint: {hint}", "")?;
        }
        Ok(())
    }
}

/// Why a rubric could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RubricError {
    #[error("cannot read rubric {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems in the rubric text, each with its file, line and column.
    #[error("{}", render_problems(problems))]
    Invalid { problems: Vec<Problem> },
}

impl RubricError {
    /// The problems found, empty for a read error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            RubricError::Invalid { problems } => problems,
            RubricError::Read { .. } => &[],
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&p.to_string());
    }
    if problems.len() > 1 {
        out.push_str(&format!(
            "\n\n{} problems in {}",
            problems.len(),
            problems[0].origin
        ));
    }
    out
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), candidate);
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// "did you mean `x`?" for a misspelt name, or the list of valid names.
pub(crate) fn suggestion(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!(
            "expected one of: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_locates_line_and_column_in_characters() {
        let src = "id = \"x\"\n[[criteria]]\nwïthn = \"30s\"\n";
        let span_start = src.find("wïthn").unwrap();
        let p = Problem::at(
            ProblemKind::UnknownField,
            "r.toml",
            src,
            span_start..span_start + "wïthn".len(),
            "unknown field",
            None,
        );
        assert_eq!((p.line, p.column, p.underline), (3, 1, 5));
        let shown = p.to_string();
        assert!(shown.starts_with("r.toml:3:1: unknown field"), "{shown}");
        assert!(shown.contains("3 | wïthn = \"30s\""), "{shown}");
        assert!(shown.contains("  | ^^^^^"), "{shown}");
    }

    #[test]
    fn suggestion_finds_typos_and_lists_otherwise() {
        assert_eq!(
            suggestion("withn", &["within", "weight", "last"]),
            "did you mean `within`?"
        );
        assert_eq!(suggestion("zzz", &["a", "b"]), "expected one of: `a`, `b`");
    }
}

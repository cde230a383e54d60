//! Errors of the shop crate. Mistakes in a shop script or a programme are [`Problem`]s with the
//! file, line and column (the layout of rubric errors, so editors jump to them the same way).

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One mistake at one place in a script or programme file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given by the caller.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line, for the caret display.
    pub source_line: String,
    /// Characters to underline from `column` on (at least 1).
    pub underline: usize,
}

impl Problem {
    /// A problem at a byte span of `src`.
    pub(crate) fn at(
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
        Problem {
            origin: origin.to_string(),
            line: src[..start].matches('\n').count() + 1,
            column: src[line_start..start].chars().count() + 1,
            message: message.into(),
            hint,
            source_line: src[line_start..line_end].trim_end_matches('\r').to_string(),
            underline: src[start..end.min(line_end)].chars().count().max(1),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

fn render(problems: &[Problem]) -> String {
    let mut out = problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n\n");
    if problems.len() > 1 {
        out.push_str(&format!("\n\n{} problems", problems.len()));
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Mistakes in a script or programme, each with file, line and column.
    #[error("{}", render(problems))]
    Invalid { problems: Vec<Problem> },
    /// A `say` line could not be spoken.
    #[error("{}: line {line}: cannot speak {text:?} with {program}: {reason}", script.display())]
    Speech {
        script: PathBuf,
        /// 1-based number of the line in the script's `[[lines]]`.
        line: usize,
        text: String,
        program: String,
        reason: String,
    },
    /// An `audio` line could not be read.
    #[error("{}: line {line}: {source}", script.display())]
    LineAudio {
        script: PathBuf,
        line: usize,
        #[source]
        source: callscore_ingest::IngestError,
    },
    #[error(transparent)]
    Capture(#[from] callscore_capture::CaptureError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

impl ShopError {
    /// The problems of an invalid script or programme (empty for other errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ShopError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_line_and_column() {
        let src = "id = \"x\"\nname = 3\n";
        let p = Problem::at("s.toml", src, 16..17, "`name` must be text", None);
        assert_eq!((p.line, p.column, p.underline), (2, 8, 1));
        assert_eq!(
            p.to_string(),
            "s.toml:2:8: `name` must be text\n  |\n2 | name = 3\n  |        ^"
        );
    }
}

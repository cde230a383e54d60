//! Writing to the terminal without letting the terminal take the work down, or take over the
//! terminal.
//!
//! - stderr is for logs and progress: a closed or full stderr (`2>/dev/full`, `2>&1 | head -2`,
//!   a recorder whose log pipe closed) must never stop a batch or a recorder. `errln!` writes and
//!   forgets: there is nowhere left to report a failed log line to.
//! - stdout is data: [`data`] writes it; a closed pipe (`| head`) is a normal end, any other
//!   failure (a full disk behind `> file`) is an error naming stdout.
//! - Names and text from outside (sidecar fields, file names, transcripts from other systems)
//!   may carry terminal escape sequences; [`terminal_safe`] makes them visible instead of
//!   letting them move the cursor, recolour or retitle the user's terminal.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;

/// Writes a line to stderr; never panics, never fails. Control characters in the text are made
/// visible (see [`terminal_safe`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::stderr_line(&format!($($arg)*))
    };
}
pub(crate) use errln;

/// Writes text (no newline added) to stderr; never panics, never fails.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::out::stderr_text(&format!($($arg)*))
    };
}
pub(crate) use err;

/// Writes a line of human-readable data to stdout (see [`text`]) and returns early from the
/// calling function (with `?`) when stdout is closed or broken.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::text(&format!("{}\n", format_args!($($arg)*)))?
    };
}
pub(crate) use outln;

pub fn stderr_line(text: &str) {
    let mut line = terminal_safe(text).into_owned();
    line.push('\n');
    stderr_text_raw(&line);
}

pub fn stderr_text(text: &str) {
    stderr_text_raw(&terminal_safe(text));
}

fn stderr_text_raw(text: &str) {
    let mut e = std::io::stderr().lock();
    // Ignored on purpose: a log line that cannot be written is not worth stopping the work for.
    let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
}

/// Why writing the data to stdout stopped.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader went away (`| head`): not an error worth a message; the command ends quietly.
    #[error("stdout was closed")]
    Closed,
    #[error("cannot write to stdout: {0}")]
    Io(std::io::Error),
}

/// Writes data to stdout and flushes it.
pub fn data(text: &str) -> Result<(), OutputError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => OutputError::Closed,
            _ => OutputError::Io(e),
        })
}

/// Writes human-readable data (tables, text) to stdout, with control characters made visible.
pub fn text(text: &str) -> Result<(), OutputError> {
    data(&terminal_safe(text))
}

/// `text` with every control character but newline and tab, and the Unicode controls that
/// reorder text on screen (bidi overrides and isolates), replaced by a visible escape such as
/// `\u{1b}`. Text without them is returned as it is.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let dangerous = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(dangerous) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if dangerous(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(
            terminal_safe("Sarah\u{1b}[2J\u{1b}]0;pwned\u{7}"),
            "Sarah\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"
        );
        assert_eq!(terminal_safe("a\rb"), "a\\u{d}b");
        assert_eq!(terminal_safe("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let t = "Priya Raman\t80.0 passed\n  李小龙 — ça va\n";
        assert!(matches!(terminal_safe(t), Cow::Borrowed(_)));
    }
}

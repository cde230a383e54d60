//! A scorecard as a plain-text table that reads in 80 columns: one row per criterion with its
//! outcome, points, the reason, and the first pieces of evidence (time, speaker, short quote).

use crate::rubric::fmt_num;
use callscore_core::{fmt_ms, Outcome, Scorecard};

/// Width the table is laid out for.
pub const TABLE_WIDTH: usize = 80;
/// Evidence lines shown under each criterion.
const EVIDENCE_LINES: usize = 2;
/// Reason lines shown before it is cut.
const REASON_LINES: usize = 3;

/// Renders a scorecard as a table for a terminal. `title` names what was scored (a file).
pub fn scorecard_table(card: &Scorecard, title: &str) -> String {
    let mut out = String::new();
    let verdict = match (card.judged, card.passed, card.flagged) {
        (false, _, _) => "CANNOT BE JUDGED, flagged",
        (true, true, false) => "PASSED",
        (true, true, true) => "PASSED, flagged",
        (true, false, _) => "FAILED, flagged",
    };
    out.push_str(&format!("{title}\n"));
    out.push_str(&format!(
        "rubric {} v{}: score {} — {verdict}\n",
        card.rubric_id,
        card.rubric_version,
        fmt_num(card.score)
    ));
    for reason in &card.flag_reasons {
        for (i, line) in wrap(reason, TABLE_WIDTH - 4)
            .into_iter()
            .take(REASON_LINES)
            .enumerate()
        {
            out.push_str(if i == 0 { "  ! " } else { "    " });
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');

    let id_width = card
        .results
        .iter()
        .map(|r| r.criterion_id.chars().count() + usize::from(r.critical))
        .max()
        .unwrap_or(9)
        .clamp(9, 20);
    let points_width = 7;
    let result_width = 6;
    let text_col = id_width + 2 + result_width + 2 + points_width + 2;
    let text_width = TABLE_WIDTH - text_col;
    out.push_str(&format!(
        "{:<id_width$}  {:<result_width$}  {:>points_width$}  {}\n",
        "CRITERION", "RESULT", "POINTS", "WHY / EVIDENCE"
    ));
    for r in &card.results {
        let id = if r.critical {
            format!("{}*", r.criterion_id)
        } else {
            r.criterion_id.clone()
        };
        let outcome = match r.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::NotApplicable => "n/a",
        };
        let points = match r.outcome {
            Outcome::NotApplicable => "-".to_string(),
            _ => format!("{}/{}", fmt_num(r.points), fmt_num(r.max_points)),
        };
        let mut lines: Vec<String> = wrap(&r.reason, text_width);
        if lines.len() > REASON_LINES {
            lines.truncate(REASON_LINES);
            let last = lines.pop().unwrap_or_default();
            lines.push(cut(&format!("{last} …"), text_width));
        }
        for ev in r.evidence.iter().take(EVIDENCE_LINES) {
            let when = fmt_ms(ev.start_ms);
            lines.push(cut(
                &format!("{when} {}: \"{}\"", ev.speaker, ev.quote),
                text_width,
            ));
        }
        if r.evidence.len() > EVIDENCE_LINES {
            lines.push(format!("(+{} more)", r.evidence.len() - EVIDENCE_LINES));
        }
        for (i, line) in lines.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!(
                    "{:<id_width$}  {:<result_width$}  {:>points_width$}  {line}\n",
                    cut(&id, id_width),
                    outcome,
                    points
                ));
            } else {
                out.push_str(&format!("{:text_col$}{line}\n", ""));
            }
        }
    }
    if card.results.iter().any(|r| r.critical) {
        out.push_str("\n* critical: failing it fails the call\n");
    }
    out
}

/// Cuts `s` to `width` characters, ending with "…" when cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Greedy word wrap to `width` characters; words longer than a line are cut.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let word = cut(word, width);
        let needed = if line.is_empty() {
            word.chars().count()
        } else {
            line.chars().count() + 1 + word.chars().count()
        };
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_and_cut_respect_the_width() {
        assert_eq!(
            wrap("one two three four", 9),
            vec!["one two", "three", "four"]
        );
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(wrap("", 10), vec![""]);
    }
}

//! Taking redacted words out of what earlier scorecards quoted (evidence, reasons, flag
//! reasons) when a stored transcript is redacted further. Pure text work shared by both
//! backends; each reads and writes its own rows.

use callscore_core::{Evidence, Segment};

/// The words a redaction took out: in a segment's text before, not after (punctuation
/// trimmed; at least two characters, so no stray letter is scrubbed everywhere).
pub(crate) fn removed_words(before: &[Segment], after: &[Segment]) -> Vec<String> {
    let words = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
            .filter(|w| w.chars().count() >= 2)
            .collect()
    };
    let mut removed: Vec<String> = Vec::new();
    for (old, new) in before.iter().zip(after) {
        if old.text == new.text {
            continue;
        }
        let kept = words(&new.text);
        for w in words(&old.text) {
            if !kept.contains(&w) && !removed.contains(&w) {
                removed.push(w);
            }
        }
    }
    // Longest first, so "grace.hall@example.org" goes before a shorter word inside it.
    removed.sort_by_key(|w| std::cmp::Reverse(w.len()));
    removed
}

/// `text` with every whole-word occurrence of `word` replaced by `[redacted]`.
fn scrub(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after_ok = rest[at + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        out.push_str(&rest[..at]);
        if before_ok && after_ok {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// `text` without any of `removed`.
fn clean(text: &str, removed: &[String]) -> String {
    removed
        .iter()
        .fold(text.to_string(), |acc, word| scrub(&acc, word))
}

/// A result's evidence JSON and reason without `removed`; `None` when nothing changes.
/// Unreadable evidence is left as it is (reading it reports the corruption).
pub(crate) fn result(evidence: &str, reason: &str, removed: &[String]) -> Option<(String, String)> {
    let evidence_clean = match serde_json::from_str::<Vec<Evidence>>(evidence) {
        Ok(mut quotes) => {
            for e in &mut quotes {
                e.quote = clean(&e.quote, removed);
            }
            serde_json::to_string(&quotes).unwrap_or_else(|_| evidence.to_string())
        }
        Err(_) => evidence.to_string(),
    };
    let reason_clean = clean(reason, removed);
    (evidence_clean != evidence || reason_clean != reason).then_some((evidence_clean, reason_clean))
}

/// A scorecard's flag reasons JSON without `removed`; `None` when nothing changes.
pub(crate) fn flag_reasons(json: &str, removed: &[String]) -> Option<String> {
    let list: Vec<String> = serde_json::from_str(json).ok()?;
    let cleaned: Vec<String> = list.iter().map(|r| clean(r, removed)).collect();
    (cleaned != list).then(|| serde_json::to_string(&cleaned).unwrap_or_else(|_| json.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str) -> Segment {
        Segment {
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_whole_removed_words_are_scrubbed() {
        let removed = removed_words(
            &[seg("mail grace.hall@example.org or call"), seg("same")],
            &[seg("mail [email address] or call"), seg("same")],
        );
        assert_eq!(removed, ["grace.hall@example.org"]);
        assert_eq!(
            clean(
                "to grace.hall@example.org, xgrace.hall@example.org",
                &removed
            ),
            "to [redacted], xgrace.hall@example.org"
        );
        assert_eq!(
            flag_reasons(r#"["say grace.hall@example.org"]"#, &removed).as_deref(),
            Some(r#"["say [redacted]"]"#)
        );
        assert_eq!(flag_reasons(r#"["nothing here"]"#, &removed), None);
        assert_eq!(result("not json", "fine", &removed), None);
    }
}

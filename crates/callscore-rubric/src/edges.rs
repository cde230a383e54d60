//! Word edges (`\b`) in a rubric's phrases, for text without spaces.
//!
//! In a rubric every CJK character is a word by itself (see [`crate::text::is_ideographic`]),
//! so there is a word edge on each side of one. The regex crate's `\b` knows nothing of that:
//! Chinese characters are word characters to it and running Chinese text has no `\b` inside
//! it, so `\b您好\b` would never match "请问您好吗". A phrase is therefore rewritten before it is
//! compiled: a `\b` whose neighbour in the pattern is certainly a CJK character (a literal, or a
//! group or alternation every branch of which starts or ends with one) is always satisfied
//! under that rule and is dropped. Every other `\b` stays as written, so English phrases are
//! compiled exactly as before. (A `\b` beside a Latin letter keeps the regex crate's meaning even
//! when the text has a CJK character on its other side: `\bVIP` does not match in "我是VIP";
//! that would need look-behind, which the regex crate does not have.)
//!
//! Done on regex-syntax's AST (the parser the regex crate itself uses) rather than on the
//! pattern text, so escapes, classes and nesting are read correctly.

use crate::text::is_ideographic;
use regex_syntax::ast::{self, AssertionKind, Ast, RepetitionKind, RepetitionRange};
use std::borrow::Cow;

/// `pattern` with the `\b`s next to CJK characters removed; the pattern as it is when it has
/// none (or does not parse: compiling it then reports the error).
pub(crate) fn cjk_word_edges(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains(r"\b") || !pattern.chars().any(is_ideographic) {
        return Cow::Borrowed(pattern);
    }
    let Ok(mut tree) = ast::parse::Parser::new().parse(pattern) else {
        return Cow::Borrowed(pattern);
    };
    if !rewrite(&mut tree) {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    match ast::print::Printer::new().print(&tree, &mut out) {
        Ok(()) => Cow::Owned(out),
        Err(_) => Cow::Borrowed(pattern),
    }
}

fn is_word_boundary(a: &Ast) -> bool {
    matches!(a, Ast::Assertion(x) if x.kind == AssertionKind::WordBoundary)
}

/// Whether every match of `a` starts (`first`) or ends with a CJK character.
fn edge_is_cjk(a: &Ast, first: bool) -> bool {
    match a {
        Ast::Literal(l) => is_ideographic(l.c),
        Ast::Group(g) => edge_is_cjk(&g.ast, first),
        Ast::Alternation(alt) => {
            !alt.asts.is_empty() && alt.asts.iter().all(|b| edge_is_cjk(b, first))
        }
        Ast::Concat(c) => {
            // Flags (`(?i)`) match nothing; past them, the first item that does decides.
            let mut items = c.asts.iter().filter(|x| !matches!(x, Ast::Flags(_)));
            let item = if first {
                items.next()
            } else {
                items.next_back()
            };
            item.is_some_and(|x| edge_is_cjk(x, first))
        }
        Ast::Repetition(r) => {
            let at_least_one = match &r.op.kind {
                RepetitionKind::OneOrMore => true,
                RepetitionKind::Range(
                    RepetitionRange::Exactly(n)
                    | RepetitionRange::AtLeast(n)
                    | RepetitionRange::Bounded(n, _),
                ) => *n >= 1,
                _ => false,
            };
            at_least_one && edge_is_cjk(&r.ast, first)
        }
        _ => false,
    }
}

/// Drops the `\b`s next to CJK characters everywhere in `a`; true when it dropped any.
fn rewrite(a: &mut Ast) -> bool {
    match a {
        Ast::Group(g) => rewrite(&mut g.ast),
        Ast::Repetition(r) => rewrite(&mut r.ast),
        Ast::Alternation(alt) => alt.asts.iter_mut().fold(false, |acc, b| rewrite(b) | acc),
        Ast::Concat(c) => {
            let mut changed = c.asts.iter_mut().fold(false, |acc, b| rewrite(b) | acc);
            let items = &c.asts;
            let meaningful =
                |i: &usize| !matches!(items[*i], Ast::Flags(_)) && !is_word_boundary(&items[*i]);
            let keep: Vec<bool> = (0..items.len())
                .map(|k| {
                    if !is_word_boundary(&items[k]) {
                        return true;
                    }
                    let before = (0..k).rev().find(meaningful);
                    let after = (k + 1..items.len()).find(meaningful);
                    let cjk_beside = before.is_some_and(|i| edge_is_cjk(&items[i], false))
                        || after.is_some_and(|i| edge_is_cjk(&items[i], true));
                    !cjk_beside
                })
                .collect();
            if keep.iter().any(|k| !k) {
                let mut k = keep.into_iter();
                c.asts.retain(|_| k.next().unwrap_or(true));
                changed = true;
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn rewritten(p: &str) -> String {
        cjk_word_edges(p).into_owned()
    }

    #[test]
    fn edges_beside_cjk_characters_are_dropped() {
        assert_eq!(rewritten(r"\b您好\b"), "您好");
        assert_eq!(rewritten(r"(?i)\b(您好|你好)\b"), "(?i)(您好|你好)");
        assert_eq!(
            rewritten(r"\b[您你]好"),
            r"\b[您你]好",
            "a class is left as written"
        );
        assert_eq!(
            rewritten(r"\bok您好"),
            r"\bok您好",
            "the edge before ok stays"
        );
        assert_eq!(
            rewritten(r"\b(hello|您好)\b"),
            r"\b(hello|您好)\b",
            "mixed: kept"
        );
        assert_eq!(rewritten(r"\bVIP\b会员"), r"\bVIP会员");
    }

    #[test]
    fn english_phrases_are_untouched() {
        for p in [r"(?i)\bcalm down\b", r"\bthank(s| you)\b", r"[\b]x", "您好"] {
            assert!(matches!(cjk_word_edges(p), Cow::Borrowed(_)), "{p}");
        }
    }

    #[test]
    fn rewritten_phrases_match_running_chinese_text() {
        let text = "请问您好吗，VIP会员";
        assert!(!Regex::new(r"\b您好\b").unwrap().is_match(text));
        assert!(Regex::new(&rewritten(r"\b您好\b")).unwrap().is_match(text));
        assert!(Regex::new(&rewritten(r"\bVIP\b会员"))
            .unwrap()
            .is_match(text));
    }
}

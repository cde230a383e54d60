//! Word error rate, for measuring transcripts against scripts (tests, benches, comparing models).
//!
//! Both texts are normalised first, so that only real recognition errors count: lower case, no
//! punctuation, apostrophes dropped ("I'm" = "im"), and numbers written one digit a word whether
//! they were spelled ("sixty two", "a hundred", "four five two") or written ("62", "100", "452").

/// Levenshtein distance over words, and the reference length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordErrors {
    /// Substitutions + deletions + insertions.
    pub errors: usize,
    pub reference_words: usize,
}

impl WordErrors {
    /// errors / reference words (0 for an empty reference and hypothesis).
    pub fn rate(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.errors == 0 { 0.0 } else { 1.0 };
        }
        self.errors as f64 / self.reference_words as f64
    }
}

/// Word errors of `hypothesis` against `reference`, after [`normalise`].
pub fn word_errors(reference: &str, hypothesis: &str) -> WordErrors {
    let r = normalise(reference);
    let h = normalise(hypothesis);
    WordErrors {
        errors: edit_distance(&r, &h),
        reference_words: r.len(),
    }
}

/// Word error rate of `hypothesis` against `reference`.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    word_errors(reference, hypothesis).rate()
}

fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j]
            } else {
                1 + prev[j].min(prev[j + 1]).min(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Lower-cased words with punctuation removed and every number as single digits.
pub fn normalise(text: &str) -> Vec<String> {
    // Currency symbols become words after the amount ("£60" → "60 pounds").
    let mut spaced = String::with_capacity(text.len());
    let mut pending_currency: Option<&str> = None;
    for c in text.chars() {
        let currency = match c {
            '£' => Some("pounds"),
            '$' => Some("dollars"),
            '€' => Some("euros"),
            _ => None,
        };
        if let Some(cur) = currency {
            pending_currency = Some(cur);
            spaced.push(' ');
            continue;
        }
        if let Some(cur) = pending_currency {
            if !(c.is_ascii_digit() || c == ',' || c == '.') {
                spaced.push(' ');
                spaced.push_str(cur);
                pending_currency = None;
            }
        }
        match c {
            '\'' | '’' => {}
            // Separators inside numbers ("4-5-2", "10.45", "1,000") and hyphenated words split.
            c if c.is_alphanumeric() => spaced.extend(c.to_lowercase()),
            ',' => {}
            _ => spaced.push(' '),
        }
    }
    if let Some(cur) = pending_currency {
        spaced.push(' ');
        spaced.push_str(cur);
    }

    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if let Some((value, used)) = spelled_number(&words[i..]) {
            out.extend(value.to_string().chars().map(String::from));
            i += used;
        } else if words[i].chars().all(|c| c.is_ascii_digit()) {
            out.extend(words[i].chars().map(String::from));
            i += 1;
        } else {
            out.push(words[i].to_owned());
            i += 1;
        }
    }
    out
}

/// Parses a spelled number at the start of `words` ("sixty two", "a hundred", "three hundred and
/// five"); returns its value and how many words it used. Two units in a row are two numbers
/// ("four five"), as people read out digits.
fn spelled_number(words: &[&str]) -> Option<(u64, usize)> {
    let unit = |w: &str| UNITS.iter().position(|u| *u == w).map(|v| v as u64);
    let tens = |w: &str| {
        TENS.iter()
            .position(|t| *t == w)
            .map(|v| (v as u64 + 2) * 10)
    };
    let mut i = 0;
    let mut total = 0u64;
    let mut current: Option<u64> = None;
    // "a hundred", "a thousand"
    if words.first() == Some(&"a") && matches!(words.get(1), Some(&"hundred") | Some(&"thousand")) {
        current = Some(1);
        i = 1;
    }
    while i < words.len() {
        let w = words[i];
        match (current, unit(w), tens(w)) {
            (None, Some(u), _) => current = Some(u),
            (None, _, Some(t)) => current = Some(t),
            // "sixty two": a unit below ten after a round tens.
            (Some(c), Some(u), _) if u < 10 && c % 10 == 0 && c % 100 >= 20 => {
                current = Some(c + u)
            }
            // "hundred and five", "hundred twenty".
            (Some(c), Some(u), _) if c % 100 == 0 && c > 0 => current = Some(c + u),
            (Some(c), _, Some(t)) if c % 100 == 0 && c > 0 => current = Some(c + t),
            (Some(c), _, _) if w == "hundred" && c < 100 => current = Some(c * 100),
            (Some(c), _, _) if w == "thousand" => {
                total += c * 1000;
                current = None;
            }
            // "… hundred and five", "… thousand and twenty".
            (c, _, _)
                if w == "and"
                    && (c.is_some_and(|c| c % 100 == 0 && c > 0) || (c.is_none() && total > 0))
                    && words
                        .get(i + 1)
                        .is_some_and(|n| unit(n).is_some() || tens(n).is_some()) => {}
            _ => break,
        }
        i += 1;
    }
    match current {
        None if total == 0 => None,
        c => Some((total + c.unwrap_or(0), i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_has_no_errors_despite_case_and_punctuation() {
        assert_eq!(
            wer(
                "Good morning, thank you for calling!",
                "good morning thank you for calling"
            ),
            0.0
        );
        assert_eq!(wer("I'm sorry.", "Im sorry"), 0.0);
    }

    #[test]
    fn counts_substitutions_deletions_insertions() {
        let e = word_errors("the cat sat on the mat", "the cat sit on mat today");
        // sat→sit, delete "the", insert "today"
        assert_eq!(
            e,
            WordErrors {
                errors: 3,
                reference_words: 6
            }
        );
        assert!((e.rate() - 0.5).abs() < 1e-12);
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("", "extra"), 1.0);
    }

    #[test]
    fn numbers_compare_by_digits() {
        assert_eq!(normalise("sixty two pounds"), normalise("62 pounds"));
        assert_eq!(normalise("over a hundred"), normalise("over 100"));
        assert_eq!(
            normalise("it says four five two eight one"),
            normalise("it says 45281")
        );
        assert_eq!(
            normalise("it says four five two eight one"),
            normalise("It says 4-5-2-8-1.")
        );
        assert_eq!(normalise("about sixty pounds"), normalise("about £60"));
        assert_eq!(normalise("three hundred and five"), vec!["3", "0", "5"]);
        assert_eq!(normalise("two thousand and twenty four"), normalise("2024"));
        assert_eq!(normalise("one of them"), vec!["1", "of", "them"]);
    }

    #[test]
    fn words_that_are_not_numbers_stay() {
        assert_eq!(
            normalise("a cat and a dog"),
            vec!["a", "cat", "and", "a", "dog"]
        );
        assert_eq!(
            normalise("Riverside Energy's"),
            vec!["riverside", "energys"]
        );
    }
}

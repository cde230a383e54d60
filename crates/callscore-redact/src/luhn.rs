//! The Luhn (mod 10) check digit test that every payment card number passes.

/// Whether a string of ASCII digits passes the Luhn check. Anything that is not all digits, or
/// is empty, does not.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `digits` has the length and check digit of a card number (13–19 digits, Luhn).
pub fn is_card_number(digits: &str) -> bool {
    (13..=19).contains(&digits.len()) && luhn_valid(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_numbers_pass() {
        for n in [
            "4111111111111111",
            "4263982640269299",
            "5425233430109903",
            "2223003122003222",
            "378282246310005",
            "36227206271667",
            "6011000990139424",
            "4222222222222",
            "6205500000000000004",
        ] {
            assert!(is_card_number(n), "{n}");
        }
    }

    #[test]
    fn one_wrong_digit_or_a_swap_fails() {
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("4263982644269299"));
        // Luhn catches adjacent transpositions (except 09 <-> 90).
        assert!(!luhn_valid("4263982640269929"));
        assert!(!luhn_valid("1234567890123456"));
    }

    #[test]
    fn lengths_and_non_digits() {
        assert!(!is_card_number("0"));
        assert!(luhn_valid("0"));
        assert!(!is_card_number("42424242424")); // 11 digits, Luhn-valid, too short
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("4111 1111 1111 1111"));
        assert!(!is_card_number("42424242424242424242")); // 20 digits
    }
}

//! The kinds of data redaction knows, their names (as written in configuration and stored in
//! `Redaction::class`) and their placeholders.

use std::fmt;

/// A kind of sensitive data. Card data (the first three) is on by default; the rest are
/// switched on by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataClass {
    /// A payment card number (PAN): 13–19 digits passing the Luhn check, or a long number read
    /// after a card cue ("card number", "long number on the front").
    CardNumber,
    /// The card security code (CVV/CVC/CID): 3–4 digits after its cue, or read right after a
    /// card number.
    SecurityCode,
    /// The card's expiry date after its cue ("expiry", "expiration date", "valid until").
    ExpiryDate,
    /// A UK National Insurance number: two letters, six digits, a letter A–D ("AB 12 34 56 C").
    NationalInsurance,
    /// A US Social Security number: 123-45-6789, or nine digits after "social security"/"SSN".
    SocialSecurity,
    /// A bank account number (6–17 digits) after "account number".
    BankAccount,
    /// A UK bank sort code: 12-34-56, or six digits after "sort code".
    SortCode,
    /// An email address, written (`a.b@example.com`) or spoken ("a dot b at example dot com").
    Email,
    /// A date of birth after its cue ("date of birth", "born on", "DOB").
    DateOfBirth,
}

impl DataClass {
    /// Every class, in the order detection runs and reports them.
    pub const ALL: [DataClass; 9] = [
        DataClass::CardNumber,
        DataClass::SecurityCode,
        DataClass::ExpiryDate,
        DataClass::NationalInsurance,
        DataClass::SocialSecurity,
        DataClass::BankAccount,
        DataClass::SortCode,
        DataClass::Email,
        DataClass::DateOfBirth,
    ];

    /// The classes on by default: card data (PCI DSS).
    pub const CARD: [DataClass; 3] = [
        DataClass::CardNumber,
        DataClass::SecurityCode,
        DataClass::ExpiryDate,
    ];

    /// The stable name: in configuration, in `Redaction::class`, in reports.
    pub fn name(self) -> &'static str {
        match self {
            DataClass::CardNumber => "card_number",
            DataClass::SecurityCode => "security_code",
            DataClass::ExpiryDate => "expiry_date",
            DataClass::NationalInsurance => "national_insurance",
            DataClass::SocialSecurity => "us_ssn",
            DataClass::BankAccount => "bank_account",
            DataClass::SortCode => "sort_code",
            DataClass::Email => "email",
            DataClass::DateOfBirth => "date_of_birth",
        }
    }

    /// What a reader sees in place of the data: `[card number]`.
    pub fn label(self) -> &'static str {
        match self {
            DataClass::CardNumber => "[card number]",
            DataClass::SecurityCode => "[security code]",
            DataClass::ExpiryDate => "[expiry date]",
            DataClass::NationalInsurance => "[national insurance number]",
            DataClass::SocialSecurity => "[social security number]",
            DataClass::BankAccount => "[account number]",
            DataClass::SortCode => "[sort code]",
            DataClass::Email => "[email address]",
            DataClass::DateOfBirth => "[date of birth]",
        }
    }

    pub fn from_name(name: &str) -> Option<DataClass> {
        DataClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names that switch on several classes at once in a `classes = [...]` list.
pub const GROUPS: &[(&str, &[DataClass])] = &[
    ("card", &DataClass::CARD),
    ("bank", &[DataClass::BankAccount, DataClass::SortCode]),
    ("all", &DataClass::ALL),
];

/// The generic placeholder (`placeholder = "generic"`).
pub const GENERIC_PLACEHOLDER: &str = "[redacted]";

/// Every placeholder text any style writes, so that redacting a redacted transcript again
/// recognises them whatever style wrote them.
pub(crate) fn known_placeholders() -> impl Iterator<Item = (&'static str, Option<DataClass>)> {
    DataClass::ALL
        .into_iter()
        .map(|c| (c.label(), Some(c)))
        .chain(std::iter::once((GENERIC_PLACEHOLDER, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for c in DataClass::ALL {
            assert_eq!(DataClass::from_name(c.name()), Some(c));
        }
        let mut names: Vec<_> = DataClass::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DataClass::ALL.len());
        assert_eq!(DataClass::from_name("card"), None);
    }

    #[test]
    fn labels_hold_no_digits() {
        // A placeholder must never look like data to a second pass.
        for (p, _) in known_placeholders() {
            assert!(p.starts_with('[') && p.ends_with(']'));
            assert!(!p.chars().any(|c| c.is_ascii_digit()), "{p}");
        }
    }
}

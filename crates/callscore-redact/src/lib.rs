//! Payment-card and personal-data redaction for call transcripts and their audio (PCI DSS).
//!
//! A QA database that stores a card number read aloud is itself in PCI scope. This crate finds
//! card data (and, when switched on, other personal data) in a [`Transcript`], replaces the
//! words with placeholders such as `[card number]` in segment text and in `words` (keeping
//! their times), and records each span, widened by an audio margin, in
//! `Transcript::redactions`; the audio functions then mute those spans in a copy of the
//! recording.
//!
//! ```
//! use callscore_core::{Segment, Speaker, Transcript};
//! use callscore_redact::{Redactor, RedactionConfig};
//!
//! let mut t = Transcript {
//!     segments: vec![Segment {
//!         speaker: Speaker::Caller,
//!         start_ms: 1_000,
//!         end_ms: 6_000,
//!         text: "It's 4111 1111 1111 1111, and the security code is 737.".into(),
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let summary = Redactor::new(RedactionConfig::default()).redact(&mut t);
//! assert_eq!(t.segments[0].text, "It's [card number], and the security code is [security code].");
//! assert_eq!(summary.total(), 2);
//! assert_eq!(t.redactions[0].class, "card_number");
//! ```
//!
//! What is found (see [`DataClass`]): card numbers of 13–19 digits that pass the Luhn check,
//! whether speech-to-text wrote digits or words ("four one one one", "double four", "triple
//! one", "oh" for zero, pairs such as "forty one, eleven"), split across words and across a
//! speaker's turns while the other party says "yes" or "go on"; long numbers read after a card
//! cue even when a misheard digit breaks the Luhn check; security codes and expiry dates after
//! their cues. Off by default, by name: national insurance and US social security numbers,
//! bank account numbers and sort codes, email addresses, dates of birth. Order and reference
//! numbers that fail Luhn, phone numbers, amounts, times and dates in ordinary talk stay.
//!
//! Redaction is pure and deterministic, and idempotent: redacting a redacted transcript
//! changes nothing. No type here prints, logs, or shows redacted values in `Debug` output or
//! errors.
//!
//! **Architecture invariant:** no I/O in detection and redaction (only [`audio`] reads a
//! recording, through callscore-ingest, and writes the copy it is asked to write); the
//! original recording is never modified.

pub mod audio;
mod class;
mod config;
mod detect;
pub mod luhn;
mod redact;
mod units;

#[cfg(test)]
mod tests;

pub use audio::{export_redacted_wav, mute_redactions, mute_span, AudioError, RedactedAudio};
pub use class::{DataClass, GENERIC_PLACEHOLDER, GROUPS};
pub use config::{
    AudioStyle, ConfigError, PlaceholderStyle, RedactionConfig, DEFAULT_MARGIN_MS, MAX_MARGIN_MS,
};
pub use redact::{RedactionSummary, Redactor};

#[doc(no_inline)]
pub use callscore_core::{Redaction, Transcript};

//! Calls without payment data come out of redaction exactly as they went in: the stored
//! transcripts in fixtures/transcripts (postcodes, amounts, an account reference) hold no card
//! data, and with every class on only the account number the agent asks for is redacted.

use std::path::Path;

use callscore_core::Transcript;
use callscore_redact::{RedactionConfig, Redactor};

#[test]
fn fixture_transcripts_are_left_as_they_are() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/transcripts");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/transcripts") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let t: Transcript = serde_json::from_str(&text).expect("a transcript");
        let (out, summary) = Redactor::default().redacted(&t);
        assert!(summary.is_empty(), "{}: found {summary}", path.display());
        assert_eq!(out, t, "{}", path.display());

        let (out, summary) = Redactor::new(RedactionConfig::all_classes()).redacted(&t);
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if name == "poor_call" {
            // "Account number." — "it's 4471 2290": a bank account number by its cue.
            assert_eq!(summary.to_string(), "bank_account 1");
            assert_eq!(
                out.segments[2].text.trim(),
                "Hi, my name is Will Turner, it's [account number]. I've been charged twice for March."
            );
            assert_eq!(out.segments.len(), t.segments.len());
        } else {
            assert!(summary.is_empty(), "{}: found {summary}", path.display());
            assert_eq!(out, t, "{}", path.display());
        }
        seen += 1;
    }
    assert!(
        seen >= 3,
        "expected the fixture transcripts in {}",
        dir.display()
    );
}

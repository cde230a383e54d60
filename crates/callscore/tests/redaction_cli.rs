//! Redaction end to end through the binary, on a real SQLite file: calls stored before a rubric
//! asked for more classes are redacted by `rescore`, the stored text follows (so `show`, the
//! review page and its muted audio follow), and no scorecard quotes what was removed.

mod batch_support;

use assert_cmd::Command;
use callscore_core::{CallMeta, Segment, Speaker, Transcript, Word};
use callscore_rubric::Rubric;
use callscore_store::{NewCall, Store};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A segment whose words are spread evenly over its time.
fn seg(speaker: Speaker, start_ms: u64, end_ms: u64, text: &str) -> Segment {
    let words: Vec<&str> = text.split_whitespace().collect();
    let step = (end_ms - start_ms) / words.len() as u64;
    Segment {
        speaker,
        start_ms,
        end_ms,
        text: text.into(),
        words: words
            .iter()
            .enumerate()
            .map(|(i, w)| Word {
                start_ms: start_ms + i as u64 * step,
                end_ms: start_ms + (i as u64 + 1) * step,
                text: format!(" {w}"),
            })
            .collect(),
        ..Default::default()
    }
}

fn callscore(db: &Path, args: &[&str]) -> String {
    let out = Command::cargo_bin("callscore")
        .unwrap()
        .args(args)
        .arg("--db")
        .arg(db)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "callscore {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Stores `transcript` as call `id` (a two-channel WAV at `source`), scored with the default
/// rubric, as a batch that redacts only card data would have stored it.
fn store_call(db: &Path, id: &str, source: &Path, transcript: &Transcript) {
    let default = Rubric::from_path(&repo().join("rubrics/default.toml")).unwrap();
    let mut store = Store::open(db).unwrap();
    store
        .record_scored_call(
            &NewCall {
                id,
                source_path: source,
                duration_ms: transcript.duration_ms,
                channels: 2,
                sample_rate: 8_000,
                format: "wav",
                meta: &transcript.meta,
                warnings: &[],
            },
            transcript,
            &default.evaluate(transcript),
        )
        .unwrap();
}

/// `callscore rescore` with the default rubric plus `[redaction] classes = …`; its stderr.
fn rescore_redacting(db: &Path, classes: &str) -> String {
    let rubric = db.with_file_name("redacting.toml");
    let mut text = std::fs::read_to_string(repo().join("rubrics/default.toml")).unwrap();
    text.push_str(&format!("\n[redaction]\nclasses = {classes}\n"));
    std::fs::write(&rubric, text).unwrap();
    let out = Command::cargo_bin("callscore")
        .unwrap()
        .args(["rescore", "--rubric"])
        .arg(&rubric)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// How many hits `callscore search` gives for `q`.
fn hits(db: &Path, q: &str) -> usize {
    let out = callscore(db, &["search", q, "--format", "json"]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["hits"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn rescoring_with_more_classes_redacts_the_stored_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("calls.db");
    let meta = CallMeta {
        agent: Some("Sarah".into()),
        caller_name: Some("Michael Turner".into()),
        ..Default::default()
    };
    let transcript = Transcript {
        duration_ms: 20_000,
        model: "tiny.en".into(),
        segments: vec![
            seg(
                Speaker::Agent,
                0,
                4_000,
                "Thank you for calling Riverside Energy, Sarah speaking. How can I help?",
            ),
            seg(
                Speaker::Caller,
                4_500,
                9_000,
                "Please send the bill to michael.turner@example.com thanks",
            ),
            seg(
                Speaker::Agent,
                9_500,
                13_000,
                "Thank you Michael. Is there anything else I can help you with?",
            ),
            seg(Speaker::Caller, 13_500, 15_000, "No thanks."),
            seg(
                Speaker::Agent,
                15_500,
                19_000,
                "Thanks for calling, have a great day.",
            ),
        ],
        meta: meta.clone(),
        ..Default::default()
    };
    // Stored as a batch with the default rubric would store it: cards only, so the e-mail
    // address stays.
    let id = "7e57".repeat(16);
    store_call(&db, &id, &dir.path().join("billing.wav"), &transcript);
    assert!(callscore(&db, &["show", &id]).contains("michael.turner@example.com"));

    let stderr = rescore_redacting(&db, "[\"all\"]");
    assert!(
        stderr.contains("Redacted more of 1 stored transcript(s)"),
        "{stderr}"
    );

    let shown = callscore(&db, &["show", &id]);
    assert!(!shown.contains("michael.turner"), "{shown}");
    assert!(shown.contains("[email address]"), "{shown}");
    let store = Store::open(&db).unwrap();
    let stored = store.transcript(&id).unwrap().unwrap();
    assert_eq!(stored.redactions.len(), 1, "{:?}", stored.redactions);
    let span = &stored.redactions[0];
    assert_eq!(span.speaker, Speaker::Caller);
    assert!(span.start_ms >= 4_000 && span.end_ms <= 9_500, "{span:?}");
    // The current scorecard was evaluated on the redacted text: it quotes nothing removed.
    let json = callscore(&db, &["show", &id, "--format", "json"]);
    assert!(!json.contains("michael.turner"), "{json}");
}

/// The search index follows the redaction: nothing removed can be found.
#[test]
fn the_search_index_holds_no_redacted_words() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("calls.db");
    let meta = CallMeta::default();
    let transcript = Transcript {
        duration_ms: 10_000,
        model: "tiny.en".into(),
        segments: vec![seg(
            Speaker::Caller,
            0,
            8_000,
            "my email is grace.hall@example.org and my order number is 55120",
        )],
        meta: meta.clone(),
        ..Default::default()
    };
    let id = "5ea7".repeat(16);
    store_call(&db, &id, &dir.path().join("a.wav"), &transcript);
    assert_eq!(hits(&db, "grace"), 1, "searchable before redaction");
    rescore_redacting(&db, "[\"card\", \"email\"]");
    assert_eq!(hits(&db, "grace"), 0, "the index forgot the address");
    assert_eq!(hits(&db, "example"), 0);
    assert_eq!(
        hits(&db, "55120"),
        1,
        "an order number is not personal data"
    );
}

/// A card read aloud, digit group by digit group, through the whole pipeline (real tiny.en, real
/// SQLite file): the stored text holds only `[card number]`-style placeholders, the search index
/// finds the placeholder and none of the digits, and the exported audio (the same muting the
/// review pages serve) is digital silence over every stored span.
#[test]
fn a_card_read_aloud_is_in_no_stored_text_search_hit_or_exported_audio() {
    let dir = tempfile::tempdir().unwrap();
    let pci = repo().join("fixtures/pci");
    for ext in ["wav", "json"] {
        std::fs::copy(
            pci.join(format!("card_digit_groups.{ext}")),
            dir.path().join(format!("card_digit_groups.{ext}")),
        )
        .unwrap();
    }
    let db = dir.path().join("calls.db");
    let wav = dir.path().join("card_digit_groups.wav");
    let out = batch_support::score_cmd(&db, &[wav.as_path()], &[])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", batch_support::stderr(&out));

    // Everything stored as text about the call: segments, words, evidence quotes, reasons.
    let store = callscore_store::Store::open(&db).unwrap();
    let id = store.find_call("card_digit_groups").unwrap();
    let detail = store.call_detail(&id, None).unwrap();
    let transcript = detail.transcript.clone().unwrap();
    let mut stored = String::new();
    for s in &transcript.segments {
        stored.push_str(&s.text);
        stored.push('\n');
        for w in &s.words {
            stored.push_str(&w.text);
        }
        stored.push('\n');
    }
    for r in &detail.scorecard.unwrap().scorecard.results {
        stored.push_str(&r.reason);
        for e in &r.evidence {
            stored.push_str(&e.quote);
        }
    }
    assert!(stored.contains("[card number]"), "{stored}");
    // The card (4263 9826 4026 9299) and its code (342), as digits or spoken.
    for digits in [
        "4263",
        "9826",
        "4026",
        "9299",
        "342",
        "nine, eight",
        "two, six, three",
    ] {
        assert!(!stored.contains(digits), "{digits} in: {stored}");
    }
    drop(store);
    assert!(
        hits(&db, "\"card number\"") >= 1,
        "the placeholder is searchable"
    );
    for q in ["4263", "9826", "4026", "9299", "342", "six", "nine"] {
        assert_eq!(hits(&db, q), 0, "{q} is searchable");
    }

    let spans = transcript.redactions;
    assert!(spans.len() >= 2, "{spans:?}");
    let exported = dir.path().join("shareable.wav");
    let out = Command::cargo_bin("callscore")
        .unwrap()
        .args(["export-audio", "card_digit_groups", "--out"])
        .arg(&exported)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = hound::WavReader::open(&exported).unwrap();
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let rate = u64::from(spec.sample_rate);
    for span in &spans {
        let from = (span.start_ms * rate / 1000) as usize * channels;
        let to = ((span.end_ms * rate).div_ceil(1000) as usize * channels).min(samples.len());
        assert!(
            samples[from..to].iter().all(|s| *s == 0),
            "sound inside the redacted span {span:?}"
        );
    }
    assert!(
        samples.iter().any(|s| s.unsigned_abs() > 1_000),
        "the rest of the call is still there"
    );
}

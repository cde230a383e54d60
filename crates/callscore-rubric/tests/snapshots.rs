//! Golden files of what a user sees: the scorecard table and JSON for the fixture transcripts.

use callscore_rubric::{render, transcript, Rubric};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn score(name: &str) -> callscore_core::Scorecard {
    let rubric = Rubric::from_path(&repo().join("rubrics/default.toml")).unwrap();
    let t = transcript::from_path(&repo().join("fixtures/transcripts").join(name)).unwrap();
    rubric.evaluate(&t)
}

#[test]
fn good_call_table() {
    insta::assert_snapshot!(render::scorecard_table(
        &score("good_call.json"),
        "fixtures/transcripts/good_call.json"
    ));
}

#[test]
fn poor_call_table() {
    insta::assert_snapshot!(render::scorecard_table(
        &score("poor_call.json"),
        "fixtures/transcripts/poor_call.json"
    ));
}

#[test]
fn mono_call_table() {
    insta::assert_snapshot!(render::scorecard_table(
        &score("mono_call.json"),
        "fixtures/transcripts/mono_call.json"
    ));
}

#[test]
fn poor_call_json() {
    // The rubric hash changes with every edit of default.toml; the rest must not drift.
    let mut card = score("poor_call.json");
    assert_eq!(card.rubric_hash.len(), 64);
    card.rubric_hash = "<sha256 of rubrics/default.toml>".into();
    insta::assert_snapshot!(serde_json::to_string_pretty(&card).unwrap());
}

#[test]
fn tables_fit_in_80_columns() {
    for name in ["good_call.json", "poor_call.json", "mono_call.json"] {
        let table = render::scorecard_table(&score(name), name);
        for line in table.lines() {
            assert!(
                line.chars().count() <= render::TABLE_WIDTH,
                "{} chars: {line}",
                line.chars().count()
            );
        }
    }
}

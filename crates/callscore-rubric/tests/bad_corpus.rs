//! The shared bad-input corpus (fixtures/bad/EXPECTED.toml): rubrics and transcripts.

#[path = "../../../fixtures/bad/corpus.rs"]
mod corpus;

use callscore_rubric::{transcript, Rubric};
use std::path::Path;

#[test]
fn rubrics() {
    corpus::check("rubric", true, |path| {
        let rubric = Rubric::from_path(path).map_err(|e| e.to_string())?;
        Ok(vec![rubric.id().to_string()])
    });
}

#[test]
fn transcripts() {
    let default = Rubric::from_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rubrics/default.toml"),
    )
    .unwrap();
    corpus::check("transcript", true, |path| {
        let t = transcript::from_path(path).map_err(|e| e.to_string())?;
        // A sane result: in call order, the duration covers every segment, and it scores.
        assert!(t
            .segments
            .windows(2)
            .all(|w| w[0].start_ms <= w[1].start_ms));
        assert!(t.segments.iter().all(|s| s.end_ms <= t.duration_ms));
        let card = default.evaluate(&t);
        assert!((0.0..=100.0).contains(&card.score), "{}", card.score);
        Ok(vec![format!(
            "{} segments, score {}",
            t.segments.len(),
            card.score
        )])
    });
}

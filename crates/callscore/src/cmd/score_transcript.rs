//! `callscore score --transcript FILE.json…`: scores transcript files (from `callscore
//! transcribe --json` or another speech-to-text system) and prints the scorecards. No audio, no
//! database.

use super::score::{OutputFormat, ScoreArgs};
use crate::out::errln;
use anyhow::Context;
use callscore_core::Scorecard;
use callscore_rubric::{render, transcript, Rubric};
use std::process::ExitCode;

pub fn run(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    // The rubric is checked before any transcript is read.
    let rubric = Rubric::from_path(&args.rubric)
        .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
    let redactor = callscore_redact::Redactor::new(super::common::redaction_of(&rubric)?);
    let mut cards: Vec<(String, Scorecard)> = Vec::with_capacity(args.transcript.len());
    // A bad file is named with its reason and the others are still scored (exit 1).
    let mut failed = 0usize;
    for path in &args.transcript {
        match transcript::from_path(path) {
            Ok(mut t) => {
                // Evidence quotes come from the transcript: they must not carry card data.
                redactor.redact(&mut t);
                cards.push((path.display().to_string(), rubric.evaluate(&t)))
            }
            Err(e) => {
                failed += 1;
                errln!("error: cannot score transcript {}: {e}", path.display());
            }
        }
    }
    if cards.is_empty() {
        anyhow::bail!(
            "none of the {} transcript file(s) could be read",
            args.transcript.len()
        );
    }
    match args.format {
        OutputFormat::Table => {
            let tables: Vec<String> = cards
                .iter()
                .map(|(name, card)| render::scorecard_table(card, name))
                .collect();
            crate::out::text(&tables.join("\n"))?;
        }
        // One file: its Scorecard. Several: an array of Scorecards, in the order given.
        OutputFormat::Json if cards.len() == 1 => {
            crate::out::data(&format!("{}\n", serde_json::to_string_pretty(&cards[0].1)?))?
        }
        OutputFormat::Json => {
            let all: Vec<&Scorecard> = cards.iter().map(|(_, c)| c).collect();
            crate::out::data(&format!("{}\n", serde_json::to_string_pretty(&all)?))?;
        }
        OutputFormat::Csv => crate::out::data(&csv(&cards))?,
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One row per criterion: transcript, rubric, score, passed, flagged, criterion, outcome,
/// points, max_points, first evidence time (ms), reason.
fn csv(cards: &[(String, Scorecard)]) -> String {
    let mut out = String::from("transcript,rubric_id,rubric_version,score,passed,flagged,criterion,outcome,points,max_points,evidence_ms,reason\n");
    for (name, card) in cards {
        for r in &card.results {
            let fields = [
                name.clone(),
                card.rubric_id.clone(),
                card.rubric_version.to_string(),
                card.score.to_string(),
                card.passed.to_string(),
                card.flagged.to_string(),
                r.criterion_id.clone(),
                r.outcome.to_string(),
                r.points.to_string(),
                r.max_points.to_string(),
                r.evidence
                    .first()
                    .map(|e| e.start_ms.to_string())
                    .unwrap_or_default(),
                r.reason.clone(),
            ];
            out.push_str(
                &fields
                    .iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
    }
    out
}

/// RFC 4180 quoting; written here because this one table is the binary's only CSV.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

//! `callscore score --transcript FILE.json…`: scores transcript files (from `callscore
//! transcribe --json` or another speech-to-text system) and prints the scorecards. No audio, no
//! database.

use super::score::{OutputFormat, ScoreArgs};
use anyhow::Context;
use callscore_core::Scorecard;
use callscore_rubric::{render, transcript, Rubric};
use std::process::ExitCode;

pub fn run(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    // The rubric is checked before any transcript is read.
    let rubric = Rubric::from_path(&args.rubric)
        .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
    let mut cards: Vec<(String, Scorecard)> = Vec::with_capacity(args.transcript.len());
    for path in &args.transcript {
        let t = transcript::from_path(path)
            .with_context(|| format!("cannot score transcript {}", path.display()))?;
        cards.push((path.display().to_string(), rubric.evaluate(&t)));
    }
    match args.format {
        OutputFormat::Table => {
            let tables: Vec<String> = cards
                .iter()
                .map(|(name, card)| render::scorecard_table(card, name))
                .collect();
            print!("{}", tables.join("\n"));
        }
        // One file: its Scorecard. Several: an array of Scorecards, in the order given.
        OutputFormat::Json if cards.len() == 1 => {
            println!("{}", serde_json::to_string_pretty(&cards[0].1)?)
        }
        OutputFormat::Json => {
            let all: Vec<&Scorecard> = cards.iter().map(|(_, c)| c).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        OutputFormat::Csv => print!("{}", csv(&cards)),
    }
    Ok(ExitCode::SUCCESS)
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

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// `callscore score`: with `--transcript`, scores transcript JSON files and prints scorecards
/// (no audio, no database); otherwise runs the batch job over recordings into the database.
#[derive(Args)]
pub struct ScoreArgs {
    /// Recordings or directories of recordings (searched recursively).
    pub paths: Vec<PathBuf>,
    /// Score a transcript JSON file instead of audio (repeatable).
    #[arg(long, value_name = "FILE.json")]
    pub transcript: Vec<PathBuf>,
    /// Rubric file.
    #[arg(long, default_value = "rubrics/default.toml")]
    pub rubric: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

pub fn run(_args: ScoreArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'score' is not built yet")
}

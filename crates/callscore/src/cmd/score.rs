use super::common::{DecodeArgs, ModelArgs};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

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
    /// Score a transcript JSON file instead of audio (repeatable; no database is written).
    #[arg(long, value_name = "FILE.json")]
    pub transcript: Vec<PathBuf>,
    /// Rubric file.
    #[arg(long, default_value = "rubrics/default.toml")]
    pub rubric: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Database: a SQLite file (created when missing), or a postgres:// URL, whose queue
    /// `callscore work` on other machines then shares.
    #[arg(long, default_value = "callscore.db", env = "CALLSCORE_DB")]
    pub db: PathBuf,
    /// Calls processed in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Which stereo channel is the agent, for every file (a sidecar's agent_channel otherwise).
    #[arg(long, value_name = "left|right")]
    pub agent_channel: Option<callscore_core::AgentChannel>,
    /// No progress bar; plain log lines only.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

impl ScoreArgs {
    /// Which of the two jobs the arguments ask for.
    pub fn mode(&self) -> anyhow::Result<ScoreMode> {
        match (self.transcript.is_empty(), self.paths.is_empty()) {
            (false, false) => {
                anyhow::bail!("give either recordings or --transcript files, not both")
            }
            (false, true) => Ok(ScoreMode::Transcripts),
            (true, _) => Ok(ScoreMode::Recordings),
        }
    }
}

/// `score --transcript FILE…` (no database) or `score PATH…` (the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreMode {
    Transcripts,
    Recordings,
}

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RubricCommand {
    /// Validate rubric files.
    Check,
}

pub fn run(_c: RubricCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'rubric' is not built yet")
}

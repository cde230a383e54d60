use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// List known and installed models.
    List,
}

pub fn run(_c: ModelCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'model' is not built yet")
}

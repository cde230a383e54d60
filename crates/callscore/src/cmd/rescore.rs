use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct RescoreArgs {}

pub fn run(_args: RescoreArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'rescore' is not built yet")
}

use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct TranscribeArgs {}

pub fn run(_args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'transcribe' is not built yet")
}

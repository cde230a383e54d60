use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct RecordArgs {}

pub fn run(_args: RecordArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'record' is not built yet")
}

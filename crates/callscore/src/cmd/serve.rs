use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'serve' is not built yet")
}

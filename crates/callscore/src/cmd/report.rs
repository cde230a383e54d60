use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct ReportArgs {}
#[derive(Args)]
pub struct FlaggedArgs {}
#[derive(Args)]
pub struct ShowArgs {}

pub fn run_report(_a: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'report' is not built yet")
}
pub fn run_flagged(_a: FlaggedArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'flagged' is not built yet")
}
pub fn run_show(_a: ShowArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'show' is not built yet")
}

use super::score::ScoreArgs;
use std::process::ExitCode;

pub fn run(_args: ScoreArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}

use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct ImportPcapArgs {}

pub fn run(_args: ImportPcapArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'import_pcap' is not built yet")
}

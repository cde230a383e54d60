//! `callscore import-pcap`: calls out of packet captures.
use crate::out::errln;
use anyhow::Context;
use callscore_capture::pcap;
use callscore_capture::track::TrackConfig;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Reads pcap/pcapng captures (Ethernet, Linux cooked, raw IP; IPv4/IPv6; UDP), pairs the RTP
/// streams of each SIP or SIPREC call through its SDP, groups RTP without SIP by address pair,
/// and writes every call as a WAV with a sidecar .json. Prints each written WAV on stdout.
/// A capture that breaks part-way yields the calls before the break and exit code 1.
#[derive(Args)]
pub struct ImportPcapArgs {
    /// Capture files (.pcap or .pcapng).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where recordings are written.
    #[arg(long, value_name = "DIR", default_value = "recordings")]
    pub out: PathBuf,
}

pub fn run(args: ImportPcapArgs) -> anyhow::Result<ExitCode> {
    let mut problems = 0;
    for file in &args.files {
        let report = match pcap::import(file, &TrackConfig::default()) {
            Ok(r) => r,
            Err(e) => {
                errln!("error: {e}");
                problems += 1;
                continue;
            }
        };
        let mut written = 0;
        for call in report.calls {
            let id = call.meta.call_id.clone().unwrap_or_default();
            let Some(assembled) = call.assemble() else {
                tracing::warn!(
                    "{}: call {id} has no audio; nothing written",
                    file.display()
                );
                continue;
            };
            let w = assembled
                .write(&args.out)
                .with_context(|| format!("{}: cannot write call {id}", file.display()))?;
            crate::out::data(&format!("{}\n", w.wav.display()))?;
            written += 1;
        }
        tracing::info!(
            "{}: {} packets, {} calls written, {} packets not SIP/RTP",
            file.display(),
            report.packets,
            written,
            report.skipped
        );
        if let Some(broken) = report.broken {
            errln!(
                "error: {}: {broken} ({written} call(s) before it were written)",
                file.display()
            );
            problems += 1;
        } else if written == 0 {
            errln!(
                "warning: {}: no calls found (no SIP dialogs or RTP streams)",
                file.display()
            );
        }
    }
    Ok(if problems > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

//! `callscore record`: the SIP/SIPREC recording endpoint.
use super::common::ModelArgs;
use anyhow::Context;
use callscore_capture::server::{record_until_signalled, EndReason};
use callscore_capture::track::TrackConfig;
use callscore_capture::{FinishedCall, RecorderConfig};
use callscore_ingest::LoadOptions;
use callscore_pipeline::{BatchOptions, CallOutcome, Pipeline, Silent};
use callscore_rubric::Rubric;
use clap::Args;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Records calls sent by a PBX or SBC: plain SIP calls (one stream, mono WAV) and SIPREC sessions
/// (two streams, stereo WAV: agent left, caller right). Each call is written when it ends, as
/// DIR/START_CALLID.wav with a sidecar .json. Stops on Ctrl-C or SIGTERM after writing the calls
/// in progress.
#[derive(Args)]
pub struct RecordArgs {
    /// Address to listen on for SIP over UDP.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:5060")]
    pub sip: SocketAddr,
    /// RTP port range (even ports are used, one per stream).
    #[arg(long, value_name = "FIRST-LAST", default_value = "20000-20999", value_parser = parse_port_range)]
    pub rtp_ports: (u16, u16),
    /// Where recordings are written.
    #[arg(long, value_name = "DIR", default_value = "recordings")]
    pub out: PathBuf,
    /// Address to put in SDP answers (default: the SIP address).
    #[arg(long, value_name = "IP")]
    pub media_ip: Option<IpAddr>,
    /// Close a call after this many seconds without SIP or RTP (a lost BYE).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub inactivity_timeout: u64,
    /// Close a call after this many minutes whatever happens.
    #[arg(long, value_name = "MINUTES", default_value_t = 240)]
    pub max_call_minutes: u64,
    /// Milliseconds between 100 Trying and 200 OK (a CANCEL in that time ends the call).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub answer_delay_ms: u64,
    /// Score each call as soon as it is written (transcribe, rubric, database).
    #[arg(long)]
    pub score: bool,
    /// Rubric for --score.
    #[arg(long, default_value = "rubrics/default.toml")]
    pub rubric: PathBuf,
    /// Database for --score: a SQLite file, or a postgres:// URL.
    #[arg(long, default_value = "callscore.db", env = "CALLSCORE_DB")]
    pub db: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub decode: super::common::DecodeArgs,
}

fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("'{s}' is not a range like 20000-20999"))?;
    let first = a.trim().parse::<u16>().map_err(|e| format!("'{a}': {e}"))?;
    let last = b.trim().parse::<u16>().map_err(|e| format!("'{b}': {e}"))?;
    Ok((first, last))
}

pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let mut config = RecorderConfig::new(args.sip, args.out.clone());
    config.rtp_ports = args.rtp_ports;
    config.media_ip = args.media_ip;
    config.inactivity_timeout = Duration::from_secs(args.inactivity_timeout.max(1));
    config.answer_delay = Duration::from_millis(args.answer_delay_ms);
    config.track = TrackConfig {
        max_duration: Duration::from_secs(args.max_call_minutes.max(1) * 60),
        ..TrackConfig::default()
    };
    // One pipeline for the life of the recorder: the rubric is checked now (before any call is
    // accepted) and the model is loaded once, on the first call, not once per call.
    let score = if args.score {
        let rubric = Rubric::from_path(&args.rubric)
            .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
        Some(ScoreWith {
            pipeline: super::common::pipeline(
                rubric,
                &args.model,
                &args.decode,
                LoadOptions::default(),
            )?,
            db: args.db.clone(),
            hooks: super::batch::TestHooks::from_env(),
        })
    } else {
        None
    };
    let out = args.out.clone();
    let stats = record_until_signalled(
        config,
        |addr| {
            tracing::info!(
                "recording SIP calls on udp:{addr}, writing to {}",
                out.display()
            )
        },
        move |call| on_finished(call, score.as_ref()),
    )
    .with_context(|| format!("cannot start the recorder on {}", args.sip))?;
    tracing::info!(
        calls = stats.calls_started,
        written = stats.calls_written,
        rtp_packets = stats.rtp_packets,
        peak_concurrent = stats.peak_concurrent_calls,
        bad_sip_requests = stats.sip_bad_requests,
        "recorder stopped"
    );
    Ok(if stats.calls_failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

struct ScoreWith {
    pipeline: Pipeline,
    db: PathBuf,
    hooks: super::batch::TestHooks,
}

fn on_finished(call: FinishedCall, score: Option<&ScoreWith>) {
    let why = match call.reason {
        EndReason::Bye => "BYE",
        EndReason::Inactivity => "inactivity",
        EndReason::MaxDuration => "maximum duration",
        EndReason::Shutdown => "shutdown",
        EndReason::Recovered => "recovered from the spool after a crash",
    };
    match call.written {
        Ok(Some(written)) => {
            // Data to stdout: one written recording per line, for scripts.
            // A closed stdout must not stop the recorder: the line is for scripts, the call is
            // safely written whatever happens to it.
            let _ = crate::out::data(&format!("{}\n", written.wav.display()));
            tracing::info!(
                call_id = call.call_id,
                duration_ms = call.duration_ms,
                events = call.meta.events.len(),
                "call ended ({why}), written"
            );
            if let Some(s) = score {
                score_recorded(s, &written.wav);
            }
        }
        Ok(None) => tracing::warn!(
            call_id = call.call_id,
            "call ended ({why}) without any audio; nothing written"
        ),
        Err(e) => tracing::error!(
            call_id = call.call_id,
            "call ended ({why}) but could not be written: {e}"
        ),
    }
}

/// Scores one recorded call with the recorder's long-lived pipeline; the outcome is logged
/// (the recorder keeps running whatever happens to one call).
fn score_recorded(s: &ScoreWith, wav: &std::path::Path) {
    let report = s.pipeline.score_paths(
        &s.db,
        &[wav.to_path_buf()],
        &BatchOptions { workers: 1 },
        &Silent,
        &s.hooks,
    );
    match report {
        Err(e) => tracing::error!("scoring {} failed: {e}", wav.display()),
        Ok(report) => {
            for outcome in &report.outcomes {
                match outcome {
                    CallOutcome::Scored {
                        score,
                        passed,
                        flagged,
                        ..
                    } => tracing::info!(
                        score,
                        passed,
                        flagged,
                        "scored {} into {}",
                        wav.display(),
                        callscore_store::DbLocation::of(&s.db).shown()
                    ),
                    CallOutcome::DoneElsewhere { .. } => {
                        tracing::info!("{} was already scored", wav.display())
                    }
                    CallOutcome::Failed { error, .. } => {
                        tracing::error!("scoring failed: {error}")
                    }
                }
            }
            for (path, error) in &report.plan.unreadable {
                tracing::error!("scoring {} failed: {error}", path.display());
            }
        }
    }
}

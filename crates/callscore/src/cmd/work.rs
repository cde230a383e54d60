//! `callscore work --db postgres://…`: one machine's share of a shared queue. Takes queued
//! calls (registered by `callscore score PATH… --db postgres://…` on any machine) one at a
//! time per worker, scores each exactly as `score` does, and ends when the queue is empty —
//! or, with `--follow`, keeps asking for new calls until SIGINT or SIGTERM. The recordings are
//! read by the path they were registered with, so every machine must see them there (shared
//! storage).

use super::batch::{conclude, Log, TestHooks};
use super::common::{DecodeArgs, ModelArgs};
use super::score::OutputFormat;
use crate::out::errln;
use anyhow::Context;
use callscore_ingest::LoadOptions;
use callscore_pipeline::QueueOptions;
use callscore_rubric::Rubric;
use callscore_store::{DbLocation, CLAIM_LEASE_MS};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct WorkArgs {
    /// The shared database: a postgres:// (postgresql://) URL.
    #[arg(long, env = "CALLSCORE_DB")]
    pub db: PathBuf,
    /// Rubric file.
    #[arg(long, default_value = "rubrics/default.toml")]
    pub rubric: PathBuf,
    /// Calls worked on at once on this machine (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// When the queue is empty, keep waiting for new calls (until SIGINT or SIGTERM).
    #[arg(long)]
    pub follow: bool,
    /// With --follow: seconds between looks at an empty queue.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub poll: f64,
    /// Output format of the summary's data on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Which stereo channel is the agent, for every file (a sidecar's agent_channel otherwise).
    #[arg(long, value_name = "left|right")]
    pub agent_channel: Option<callscore_core::AgentChannel>,
    /// Plain log lines only.
    #[arg(long, short)]
    pub quiet: bool,
    /// How long a taken call stays this process's without renewal, in milliseconds. Only the
    /// crash tests shorten it (so a killed worker's call comes back in seconds).
    #[arg(long, hide = true, default_value_t = CLAIM_LEASE_MS as u64)]
    pub lease_ms: u64,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

pub fn run(args: WorkArgs) -> anyhow::Result<ExitCode> {
    let shown = DbLocation::of(&args.db).shown();
    let rubric = Rubric::from_path(&args.rubric)
        .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
    anyhow::ensure!(
        args.poll.is_finite() && args.poll > 0.0,
        "--poll must be a positive number of seconds, not {}",
        args.poll
    );
    let pipeline = super::common::pipeline(
        rubric,
        &args.model,
        &args.decode,
        LoadOptions {
            agent_channel: args.agent_channel,
        },
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    if args.follow {
        stop_on_signal(Arc::clone(&stop))?;
    }
    let opts = QueueOptions {
        workers: args.jobs.unwrap_or_else(super::common::cores).max(1),
        lease: Duration::from_millis(args.lease_ms.max(1)),
        follow: args.follow,
        poll: Duration::from_secs_f64(args.poll),
    };
    let log = Log::new(args.quiet, true);
    let report = pipeline
        .work_queue(&args.db, &opts, &stop, &log, &TestHooks::from_env())
        .map_err(anyhow::Error::new)
        .with_context(|| format!("working on the queue of {shown}"))?;
    conclude(&log, &report, &shown, args.format)
}

/// Sets `stop` on the first SIGINT or SIGTERM: the workers finish the calls in hand and take no
/// more. A second signal ends the process at once (the calls in hand go back to the queue when
/// their leases run out).
fn stop_on_signal(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("cannot set up signal handling")?;
    // Registered here, before any work, so a signal that comes early is not lost.
    let (mut int, mut term) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .context("cannot set up signal handling")?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            errln!("stopping: finishing the calls in hand (a second signal stops at once)");
            stop.store(true, Ordering::SeqCst);
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            // 130: how a shell reports a process ended by SIGINT.
            std::process::exit(130);
        });
    });
    Ok(())
}

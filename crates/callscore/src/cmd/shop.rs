//! `callscore shop`: mystery-shop calls. Places a scripted call (callscore-shop), then scores
//! the recording into the database through callscore-pipeline like any other call.
//! `callscore shop plan PLAN.toml` prints a programme's schedule; `--run` places what is due.
use super::common::ModelArgs;
use anyhow::Context;
use callscore_ingest::LoadOptions;
use callscore_pipeline::{BatchOptions, CallOutcome, Pipeline, Silent};
use callscore_rubric::Rubric;
use callscore_shop::{FileLedger, Plan, ShopCall, ShopFiles, ShopOptions, SlotStatus, Synthesizer};
use clap::{Args, Subcommand};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Places a mystery-shop call: dials the number with a SIP client, plays the script's shopper
/// (taking turns with the agent), records both sides (agent left, shopper right) into --out,
/// and scores the recording into the database. A call nobody answers is written as an attempt
/// record (NAME.attempt.json). Exit status: 0 placed, recorded and scored; 1 not answered or
/// not scored (the attempt is on disk); 2 nothing could be placed (bad script, rubric, target).
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ShopArgs {
    #[command(subcommand)]
    pub command: Option<ShopCommand>,
    /// The shop script (TOML; see shops/README.md).
    #[arg(value_name = "SCRIPT.toml", required = true)]
    pub script: Option<PathBuf>,
    /// The number to call, as a SIP URI.
    #[arg(long, value_name = "sip:USER@HOST:PORT", required = true)]
    pub to: Option<String>,
    #[command(flatten)]
    pub call: CallArgs,
}

#[derive(Subcommand)]
pub enum ShopCommand {
    /// Print a programme's schedule, or place the calls that are due (--run).
    Plan(PlanArgs),
}

/// What placing and scoring a call needs (shared by `shop` and `shop plan --run`).
#[derive(Args, Clone)]
pub struct CallArgs {
    /// Where recordings and attempt records are written.
    #[arg(long, value_name = "DIR", default_value = "shop-calls")]
    pub out: PathBuf,
    /// Database the calls are scored into: a SQLite file, or a postgres:// URL.
    #[arg(
        long,
        value_name = "FILE|URL",
        default_value = "callscore.db",
        env = "CALLSCORE_DB"
    )]
    pub db: PathBuf,
    /// Rubric to score with.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "rubrics/examples/mystery-shop.toml"
    )]
    pub rubric: PathBuf,
    /// Give up after this many seconds of ringing (default: the script's ring_timeout).
    #[arg(long, value_name = "SECONDS")]
    pub ring_timeout: Option<f64>,
    /// Local address for SIP and RTP (default: the one the system routes to the target from).
    #[arg(long, value_name = "IP")]
    pub local_ip: Option<IpAddr>,
    /// Local SIP port (default: any free one).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub sip_port: u16,
    /// Local RTP port, even (default: any free one).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub rtp_port: u16,
    /// The speech synthesiser for `say` lines.
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "espeak-ng",
        env = "CALLSCORE_ESPEAK"
    )]
    pub espeak: PathBuf,
    /// Record only; do not transcribe or score.
    #[arg(long)]
    pub no_score: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args)]
pub struct PlanArgs {
    /// The programme (TOML; see shops/README.md).
    #[arg(value_name = "PLAN.toml")]
    pub plan: PathBuf,
    /// Place the calls that are due now (for cron or a systemd timer). Each slot is placed once.
    #[arg(long)]
    pub run: bool,
    /// The time to plan for, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// The ledger of placed slots (default: PLAN.ledger.json beside the programme).
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    #[command(flatten)]
    pub call: CallArgs,
}

pub fn run(args: ShopArgs) -> anyhow::Result<ExitCode> {
    if let Some(ShopCommand::Plan(plan)) = args.command {
        return run_plan(plan);
    }
    let (Some(script), Some(to)) = (args.script, args.to) else {
        anyhow::bail!("give a shop script and --to sip:…, or `shop plan PLAN.toml`");
    };
    let scorer = Scorer::new(&args.call)?;
    let opts = options(&args.call, &to, &args.call.out);
    let synth = Synthesizer {
        program: args.call.espeak.clone(),
    };
    let call = callscore_shop::run_script(&script, &opts, &synth)
        .with_context(|| format!("cannot place the call of {}", script.display()))?;
    Ok(if report_and_score(&call, scorer.as_ref()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn options(args: &CallArgs, to: &str, out: &Path) -> ShopOptions {
    let mut opts = ShopOptions::new(to, out);
    opts.local_ip = args.local_ip;
    opts.sip_port = args.sip_port;
    opts.rtp_port = args.rtp_port;
    opts.ring_timeout = args
        .ring_timeout
        .map(|s| Duration::from_secs_f64(s.clamp(0.5, 600.0)));
    opts
}

/// One pipeline for the whole run: the rubric is checked before anything is dialled, and the
/// model is loaded once, on the first answered call.
struct Scorer {
    pipeline: Pipeline,
    db: PathBuf,
    hooks: super::batch::TestHooks,
}

impl Scorer {
    fn new(args: &CallArgs) -> anyhow::Result<Option<Scorer>> {
        if args.no_score {
            return Ok(None);
        }
        let rubric = Rubric::from_path(&args.rubric)
            .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
        Ok(Some(Scorer {
            pipeline: super::common::pipeline(
                rubric,
                &args.model,
                &super::common::DecodeArgs::default(),
                LoadOptions::default(),
            )?,
            db: args.db.clone(),
            hooks: super::batch::TestHooks::from_env(),
        }))
    }

    /// Scores one recording; false when it could not be.
    fn score(&self, wav: &Path) -> bool {
        let report = self.pipeline.score_paths(
            &self.db,
            &[wav.to_path_buf()],
            &BatchOptions { workers: 1 },
            &Silent,
            &self.hooks,
        );
        match report {
            Err(e) => {
                tracing::error!("scoring {} failed: {e}", wav.display());
                false
            }
            Ok(report) => {
                let mut ok = report.plan.unreadable.is_empty();
                for (path, error) in &report.plan.unreadable {
                    tracing::error!("scoring {} failed: {error}", path.display());
                }
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
                            callscore_store::DbLocation::of(&self.db).shown()
                        ),
                        CallOutcome::DoneElsewhere { .. } => {
                            tracing::info!("{} was already scored", wav.display())
                        }
                        CallOutcome::Failed { error, .. } => {
                            tracing::error!("scoring {} failed: {error}", wav.display());
                            ok = false;
                        }
                    }
                }
                ok
            }
        }
    }
}

/// Prints what was written (stdout: one path per call), logs the outcome, scores an answered
/// call. True when the call was answered, recorded and (unless --no-score) scored.
fn report_and_score(call: &ShopCall, scorer: Option<&Scorer>) -> bool {
    let scenario = call.meta.scenario.as_deref().unwrap_or("?");
    match &call.files {
        ShopFiles::Recording(written) => {
            // A closed stdout must not stop the scoring of a call already placed.
            let _ = crate::out::data(&format!("{}\n", written.wav.display()));
            tracing::info!(
                scenario,
                outcome = call.outcome.as_str(),
                ring_ms = call.meta.ring_ms,
                "{}",
                call.detail
            );
            scorer.is_none_or(|s| s.score(&written.wav))
        }
        ShopFiles::Attempt(path) => {
            let _ = crate::out::data(&format!("{}\n", path.display()));
            tracing::warn!(
                scenario,
                outcome = call.outcome.as_str(),
                "not answered: {}; attempt recorded in {}",
                call.detail,
                path.display()
            );
            false
        }
    }
}

fn run_plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::from_path(&args.plan)
        .with_context(|| format!("cannot use programme {}", args.plan.display()))?;
    let now = match &args.now {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .with_context(|| {
            format!("--now {t}: not an RFC 3339 time (e.g. 2026-01-05T09:00:00Z)")
        })?,
        None => time::OffsetDateTime::now_utc(),
    };
    let ledger_path = args
        .ledger
        .clone()
        .unwrap_or_else(|| FileLedger::beside(&args.plan));
    if !args.run {
        let ledger = FileLedger::snapshot(&ledger_path)?;
        let slots = plan.schedule();
        let status: Vec<SlotStatus> = slots
            .iter()
            .map(|s| plan.status(s, now, &ledger))
            .collect::<Result<_, _>>()?;
        crate::out::text(&plan.render(&slots, Some(&status)))?;
        return Ok(ExitCode::SUCCESS);
    }
    let scorer = Scorer::new(&args.call)?;
    let mut ledger = FileLedger::open(&ledger_path)?;
    let opts = options(&args.call, "", &args.call.out);
    let synth = Synthesizer {
        program: args.call.espeak.clone(),
    };
    let mut all_ok = true;
    let runs = callscore_shop::run_due(
        &plan,
        now,
        &mut ledger,
        &opts,
        &synth,
        &mut |run| match &run.result {
            Ok(call) => {
                if !report_and_score(call, scorer.as_ref()) {
                    all_ok = false;
                }
            }
            Err(e) => {
                tracing::error!("slot {}: {e:#}", run.slot.id);
                all_ok = false;
            }
        },
    )?;
    if runs.is_empty() {
        tracing::info!("nothing due at {now} in {}", args.plan.display());
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

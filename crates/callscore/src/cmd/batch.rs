//! `callscore score PATH…`: the batch job. The work itself (finding recordings, skipping what
//! the database already has, claims, workers sharing one loaded model, one transaction per call)
//! is `callscore-pipeline`; this module turns the command line into a [`Pipeline`], draws the
//! progress, and prints the summary.

use super::score::{OutputFormat, ScoreArgs};
use crate::out::{err, errln};
use anyhow::Context;
use callscore_core::fmt_ms;
use callscore_ingest::LoadOptions;
use callscore_pipeline::{
    BatchOptions, BatchReport, CallOutcome, FaultHooks, Observer, PlanSummary,
};
use callscore_rubric::Rubric;
use callscore_store::DbLocation;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub fn run(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    if args.paths.is_empty() {
        anyhow::bail!(callscore_pipeline::PipelineError::NothingGiven);
    }
    // The rubric before anything else: a typo in it must not cost an hour of transcription.
    let rubric = Rubric::from_path(&args.rubric)
        .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
    let workers = args.jobs.unwrap_or_else(super::common::cores).max(1);
    let pipeline = super::common::pipeline(
        rubric,
        &args.model,
        &args.decode,
        LoadOptions {
            agent_channel: args.agent_channel,
        },
    )?;
    let hooks = TestHooks::from_env();
    let log = Log::new(args.quiet, false);
    let report = pipeline
        .score_paths(
            &args.db,
            &args.paths,
            &BatchOptions { workers },
            &log,
            &hooks,
        )
        .map_err(anyhow::Error::new)
        .with_context(|| format!("scoring into {}", DbLocation::of(&args.db).shown()))?;

    conclude(
        &log,
        &report,
        &DbLocation::of(&args.db).shown(),
        args.format,
    )
}

/// The batch's summary on stderr, its data in `format` on stdout; exit status 1 when a call
/// failed.
pub fn conclude(
    log: &Log,
    report: &BatchReport,
    db: &str,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let summary = Summary::new(report);
    log.finish(&summary.text(db));
    match format {
        OutputFormat::Table => {}
        OutputFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(&summary.json()).context("cannot encode JSON")?;
            json.push('\n');
            crate::out::data(&json)?;
        }
        OutputFormat::Csv => crate::out::data(&summary.csv()?)?,
    }
    Ok(if summary.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

// ---------------------------------------------------------------------------------------------
// Test hooks

/// Deterministic crash points for the crash-safety tests, read from the environment by the
/// binary only. Each makes the process abort (no destructors, no cleanup: as abrupt as
/// `kill -9` for SQLite) at a chosen moment:
/// - `CALLSCORE_TEST_ABORT_AFTER_COMMITS=N`: right after this process committed its N-th call;
/// - `CALLSCORE_TEST_ABORT_BEFORE_COMMIT=N`: with the N-th call fully computed, just before its
///   commit (work done, nothing stored);
/// - `CALLSCORE_TEST_ABORT_DURING_TRANSCRIPTION=N`: while the N-th transcription is running.
/// - `CALLSCORE_TEST_HANG_BEFORE_COMMIT=N`: with the N-th call fully computed, says so on
///   stderr and waits forever (its claims still renewed), for a test to `kill -9` it mid-call.
#[derive(Debug, Default)]
pub struct TestHooks {
    after_commits: Option<usize>,
    before_commit: Option<usize>,
    during_transcription: Option<usize>,
    hang_before_commit: Option<usize>,
}

impl TestHooks {
    pub fn from_env() -> Self {
        let read = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
        TestHooks {
            after_commits: read("CALLSCORE_TEST_ABORT_AFTER_COMMITS"),
            before_commit: read("CALLSCORE_TEST_ABORT_BEFORE_COMMIT"),
            during_transcription: read("CALLSCORE_TEST_ABORT_DURING_TRANSCRIPTION"),
            hang_before_commit: read("CALLSCORE_TEST_HANG_BEFORE_COMMIT"),
        }
    }
}

impl FaultHooks for TestHooks {
    fn after_commit(&self, n: usize) {
        if self.after_commits == Some(n) {
            errln!("test hook: aborting after commit {n}");
            std::process::abort();
        }
    }

    fn before_commit(&self, n: usize) {
        if self.before_commit == Some(n) {
            errln!("test hook: aborting before commit {n}");
            std::process::abort();
        }
        if self.hang_before_commit == Some(n) {
            errln!("test hook: hanging before commit {n}");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }

    fn during_transcription(&self, n: usize) {
        if self.during_transcription == Some(n) {
            // The abort comes from another thread while this one is inside whisper.cpp; a
            // telephone call takes far longer than this to transcribe.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                errln!("test hook: aborting during transcription {n}");
                std::process::abort();
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Progress and summary

/// Progress on stderr: a bar on a terminal, plain lines otherwise (CI logs) or with --quiet.
pub struct Log {
    bar: Option<ProgressBar>,
    /// Working on a shared queue: how many calls there will be is not known.
    queue: bool,
    /// Audio of the calls finished so far, for the bar's message.
    audio_ms: AtomicU64,
}

impl Log {
    pub fn new(quiet: bool, queue: bool) -> Self {
        // A queue has no known length to draw a bar for: plain lines.
        let bar = (!quiet && !queue && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {wide_bar} {pos}/{len} calls, {msg}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Log {
            bar,
            queue,
            audio_ms: AtomicU64::new(0),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(crate::out::terminal_safe(text)),
            None => errln!("{text}"),
        }
    }

    pub fn finish(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        err!("{text}");
    }
}

impl Observer for Log {
    fn checking(&self, recordings: usize) {
        self.line(&format!(
            "checking {recordings} recordings against the database"
        ));
    }

    fn planned(&self, plan: &PlanSummary, workers: usize) {
        if self.queue {
            self.line(&format!("taking calls from the queue, {workers} worker(s)"));
            return;
        }
        self.line(&format!(
            "{} to score ({} need transcription), {} already scored with this rubric, {} worker(s)",
            plural(plan.to_score, "call"),
            plan.to_transcribe,
            plan.already_scored.len(),
            workers
        ));
        if let Some(bar) = &self.bar {
            bar.set_length(plan.to_score as u64);
            bar.set_position(0);
            bar.set_message("0.00 h audio");
        }
    }

    fn finished(&self, outcome: &CallOutcome, done: usize, total: usize) {
        let counter = if self.queue {
            format!("[{done}]")
        } else {
            format!("[{done}/{total}]")
        };
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let text = match outcome {
            CallOutcome::Scored {
                path,
                score,
                passed,
                flagged,
                judged,
                audio_ms,
                transcribed,
                seconds,
                warnings,
                ..
            } => {
                self.audio_ms.fetch_add(*audio_ms, Ordering::Relaxed);
                let verdict = if !judged {
                    "cannot be judged"
                } else if *passed {
                    "passed"
                } else {
                    "failed"
                };
                let mut line = format!(
                    "{counter} {}: {score:.1} {verdict}{} ({} audio, {} in {seconds:.1} s)",
                    name(path),
                    if *flagged { ", flagged" } else { "" },
                    fmt_ms(*audio_ms),
                    if *transcribed {
                        "transcribed and scored"
                    } else {
                        "scored from the stored transcript"
                    },
                );
                for w in warnings {
                    line.push_str(&format!("\n      warning: {w}"));
                }
                line
            }
            CallOutcome::DoneElsewhere { path } => {
                format!("{counter} {}: already scored by another run", name(path))
            }
            CallOutcome::Failed { error, .. } => format!("{counter} FAILED {error}"),
        };
        match &self.bar {
            Some(bar) => {
                bar.println(crate::out::terminal_safe(&text));
                bar.set_position(done as u64);
                let audio = self.audio_ms.load(Ordering::Relaxed);
                bar.set_message(format!("{:.2} h audio", audio as f64 / 3_600_000.0));
            }
            None => errln!("{text}"),
        }
    }
}

struct Summary {
    scored: Vec<CallOutcome>,
    done_elsewhere: usize,
    failed: Vec<(PathBuf, Option<String>, String)>,
    already_scored: usize,
    duplicates: Vec<(PathBuf, PathBuf)>,
    wall: Duration,
}

impl Summary {
    fn new(report: &BatchReport) -> Self {
        let plan = &report.plan;
        let mut s = Summary {
            scored: Vec::new(),
            done_elsewhere: 0,
            failed: plan
                .unreadable
                .iter()
                .map(|(p, e)| (p.clone(), None, e.clone()))
                .collect(),
            already_scored: plan.already_scored.len(),
            duplicates: plan.duplicates.clone(),
            wall: report.wall,
        };
        for o in report.outcomes.iter().cloned() {
            match o {
                CallOutcome::Scored { .. } => s.scored.push(o),
                CallOutcome::DoneElsewhere { .. } => s.done_elsewhere += 1,
                CallOutcome::Failed { path, id, error } => s.failed.push((path, id, error)),
            }
        }
        s.scored.sort_by(|a, b| a.path().cmp(b.path()));
        s.failed.sort();
        s
    }

    /// (calls scored, calls transcribed, audio of the transcribed calls)
    fn counts(&self) -> (usize, usize, u64) {
        let mut transcribed = 0;
        let mut audio = 0;
        for o in &self.scored {
            if let CallOutcome::Scored {
                transcribed: true,
                audio_ms,
                ..
            } = o
            {
                transcribed += 1;
                audio += audio_ms;
            }
        }
        (self.scored.len(), transcribed, audio)
    }

    fn text(&self, db: &str) -> String {
        let (scored, transcribed, audio_ms) = self.counts();
        let mut out = format!(
            "\nScored {} ({} transcribed, {} from stored transcripts)",
            plural(scored, "call"),
            transcribed,
            scored - transcribed
        );
        if self.already_scored > 0 {
            out.push_str(&format!(
                ", {} already scored with this rubric",
                self.already_scored
            ));
        }
        if self.done_elsewhere > 0 {
            out.push_str(&format!(
                ", {} scored meanwhile by another run",
                self.done_elsewhere
            ));
        }
        if !self.duplicates.is_empty() {
            out.push_str(&format!(
                ", {} duplicate file(s) skipped",
                self.duplicates.len()
            ));
        }
        out.push_str(&format!(", {} failed.\n", self.failed.len()));
        let wall = self.wall.as_secs_f64();
        if audio_ms > 0 && wall > 0.0 {
            out.push_str(&format!(
                "Transcribed {} of audio in {:.1} s: {:.1} audio hours per hour.\n",
                fmt_ms(audio_ms),
                wall,
                audio_ms as f64 / 1000.0 / wall,
            ));
        }
        for (dup, first) in &self.duplicates {
            out.push_str(&format!(
                "  same audio as {}: {}\n",
                first.display(),
                dup.display()
            ));
        }
        let warned: Vec<(&Path, &[String])> = self
            .scored
            .iter()
            .filter_map(|o| match o {
                CallOutcome::Scored { path, warnings, .. } if !warnings.is_empty() => {
                    Some((path.as_path(), warnings.as_slice()))
                }
                _ => None,
            })
            .collect();
        if !warned.is_empty() {
            out.push_str("Scored with warnings (check these recordings):\n");
            for (path, warnings) in warned {
                for w in warnings {
                    out.push_str(&format!("  {}: {w}\n", path.display()));
                }
            }
        }
        if !self.failed.is_empty() {
            out.push_str("Failed (a rerun tries them again):\n");
            for (path, _, error) in &self.failed {
                let error = if error.contains(&*path.to_string_lossy()) {
                    error.clone()
                } else {
                    format!("{}: {error}", path.display())
                };
                out.push_str(&format!("  {error}\n"));
            }
        }
        out.push_str(&format!(
            "Database: {db}  (see `callscore report --db {db}`)\n"
        ));
        out
    }

    fn json(&self) -> BatchJson {
        let (scored, transcribed, audio_ms) = self.counts();
        BatchJson {
            scored,
            transcribed,
            already_scored: self.already_scored,
            scored_elsewhere: self.done_elsewhere,
            duplicates: self.duplicates.len(),
            failed: self.failed.len(),
            transcribed_audio_ms: audio_ms,
            wall_ms: self.wall.as_millis() as u64,
            calls: self.rows(),
        }
    }

    fn rows(&self) -> Vec<BatchRow> {
        let mut rows: Vec<BatchRow> = self
            .scored
            .iter()
            .filter_map(|o| match o {
                CallOutcome::Scored {
                    path,
                    id,
                    score,
                    passed,
                    flagged,
                    judged,
                    audio_ms,
                    transcribed,
                    warnings,
                    ..
                } => Some(BatchRow {
                    path: path.display().to_string(),
                    call_id: Some(id.clone()),
                    status: "scored",
                    judged: Some(*judged),
                    score: Some(*score),
                    passed: Some(*passed),
                    flagged: Some(*flagged),
                    duration_ms: Some(*audio_ms),
                    transcribed: *transcribed,
                    error: None,
                    warnings: warnings.clone(),
                }),
                _ => None,
            })
            .collect();
        rows.extend(self.failed.iter().map(|(path, id, error)| BatchRow {
            path: path.display().to_string(),
            call_id: id.clone(),
            status: "failed",
            judged: None,
            score: None,
            passed: None,
            flagged: None,
            duration_ms: None,
            transcribed: false,
            error: Some(error.clone()),
            warnings: Vec::new(),
        }));
        rows
    }

    fn csv(&self) -> anyhow::Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "path",
            "call_id",
            "status",
            "score",
            "passed",
            "flagged",
            "duration_ms",
            "transcribed",
            "error",
        ])?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        for r in self.rows() {
            w.write_record([
                r.path,
                opt(r.call_id),
                r.status.to_string(),
                opt(r.score.map(|s| format!("{s:.2}"))),
                opt(r.passed.map(|b| b.to_string())),
                opt(r.flagged.map(|b| b.to_string())),
                opt(r.duration_ms.map(|d| d.to_string())),
                r.transcribed.to_string(),
                opt(r.error),
            ])?;
        }
        Ok(String::from_utf8(
            w.into_inner().context("cannot write CSV")?,
        )?)
    }
}

#[derive(Serialize)]
struct BatchJson {
    scored: usize,
    transcribed: usize,
    already_scored: usize,
    scored_elsewhere: usize,
    duplicates: usize,
    failed: usize,
    transcribed_audio_ms: u64,
    wall_ms: u64,
    calls: Vec<BatchRow>,
}

#[derive(Serialize)]
struct BatchRow {
    path: String,
    call_id: Option<String>,
    status: &'static str,
    /// False: too little of the rubric applied to judge the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    judged: Option<bool>,
    score: Option<f64>,
    passed: Option<bool>,
    flagged: Option<bool>,
    duration_ms: Option<u64>,
    transcribed: bool,
    error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

//! `callscore score PATH…`: the batch job. Finds recordings, skips what the database already
//! has, and runs ingest → transcribe → score → store on worker threads that share one loaded
//! model. Every call's rows are committed in one transaction, and work is claimed in the
//! database first, so a killed run can simply be started again and two runs on one database do
//! not duplicate work.

use super::common::ModelArgs;
use super::score::{OutputFormat, ScoreArgs};
use anyhow::Context;
use callscore_core::fmt_ms;
use callscore_ingest::LoadOptions;
use callscore_rubric::Rubric;
use callscore_store::{
    content_id, Claim, ClaimOwner, NewCall, Recorded, Store, CLAIM_RENEW_EVERY_MS,
};
use callscore_transcribe::{TranscribeOptions, Transcriber};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn run(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.paths.is_empty() {
        anyhow::bail!("nothing to score: give recordings or folders (e.g. `callscore score recordings/`), or --transcript FILE.json");
    }
    // The rubric before anything else: a typo in it must not cost an hour of transcription.
    let rubric = Rubric::from_path(&args.rubric)
        .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
    let store = Store::open(&args.db)
        .with_context(|| format!("cannot open the database {}", args.db.display()))?;
    let hooks = TestHooks::from_env();
    let log = Log::new(args.quiet);

    let found = discover(&args.paths);
    if found.files.is_empty() && found.problems.is_empty() {
        anyhow::bail!(
            "no recordings found in {} (looked for {} files)",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            callscore_ingest::AUDIO_EXTENSIONS.join(", ")
        );
    }
    let plan = make_plan(&store, &rubric, found, &log)?;
    drop(store);

    let needs_model = plan.work.iter().any(|w| !w.has_transcript);
    let jobs = args
        .jobs
        .unwrap_or_else(cores)
        .clamp(1, plan.work.len().max(1));
    let transcriber = if needs_model {
        let model = model_path(&args.model)?;
        let opts = TranscribeOptions {
            threads: (cores() / jobs).max(1),
            ..TranscribeOptions::default()
        };
        Some(
            Transcriber::load(&model, opts)
                .with_context(|| format!("cannot load the model {}", model.display()))?,
        )
    } else {
        None
    };
    log.line(&format!(
        "{} to score ({} need transcription), {} already scored with {} v{}, {} worker(s)",
        plural(plan.work.len(), "call"),
        plan.work.iter().filter(|w| !w.has_transcript).count(),
        plan.already_scored.len(),
        rubric.id(),
        rubric.version(),
        jobs
    ));

    let ctx = WorkerContext {
        db: &args.db,
        rubric: &rubric,
        transcriber: transcriber.as_ref(),
        load: LoadOptions {
            agent_channel: args.agent_channel,
        },
        owner: ClaimOwner::current_process(),
        queue: Mutex::new(plan.work.iter().cloned().map(Queued::now).collect()),
        hooks: &hooks,
        commits: AtomicUsize::new(0),
        transcriptions: AtomicUsize::new(0),
    };
    let outcomes = run_workers(&ctx, jobs, plan.work.len(), &log)?;

    let summary = Summary::new(&plan, outcomes, started.elapsed());
    log.finish(&summary.text(&args.db));
    match args.format {
        OutputFormat::Table => {}
        OutputFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(&summary.json()).context("cannot encode JSON")?;
            json.push('\n');
            print!("{json}");
        }
        OutputFormat::Csv => print!("{}", summary.csv()?),
    }
    Ok(if summary.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The model file: `--model`, or the default model (installed into the cache on first use).
fn model_path(args: &ModelArgs) -> anyhow::Result<PathBuf> {
    super::common::resolve_model(args)
}

// ---------------------------------------------------------------------------------------------
// Finding and planning

/// A recording found on disk or a path that could not be used.
struct Found {
    files: Vec<PathBuf>,
    problems: Vec<(PathBuf, String)>,
}

/// Files are taken as given (even without an audio extension: ingest then says what is wrong);
/// folders are searched recursively for audio extensions, in name order so runs are repeatable.
fn discover(paths: &[PathBuf]) -> Found {
    let mut found = Found {
        files: Vec::new(),
        problems: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    let mut push = |found: &mut Found, p: PathBuf| {
        // Absolute paths: the review pages open the recording later from another directory.
        let p = std::fs::canonicalize(&p).unwrap_or(p);
        if seen.insert(p.clone()) {
            found.files.push(p);
        }
    };
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => found
                .problems
                .push((path.clone(), format!("{}: {e}", path.display()))),
            Ok(m) if m.is_dir() => {
                for entry in walkdir::WalkDir::new(path)
                    .follow_links(true)
                    .sort_by_file_name()
                {
                    match entry {
                        Ok(e)
                            if e.file_type().is_file()
                                && callscore_ingest::is_audio_path(e.path()) =>
                        {
                            push(&mut found, e.into_path())
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let at = e.path().unwrap_or(path).to_path_buf();
                            found
                                .problems
                                .push((at.clone(), format!("{}: {e}", at.display())));
                        }
                    }
                }
            }
            Ok(_) => push(&mut found, path.clone()),
        }
    }
    found
}

#[derive(Debug, Clone)]
struct WorkItem {
    path: PathBuf,
    id: String,
    has_transcript: bool,
}

struct Plan {
    work: Vec<WorkItem>,
    already_scored: Vec<PathBuf>,
    /// Same audio as an earlier file in this batch: (file, the file it duplicates).
    duplicates: Vec<(PathBuf, PathBuf)>,
    /// Paths that could not even be read (no content, so no call id to record them under).
    unreadable: Vec<(PathBuf, String)>,
}

fn make_plan(store: &Store, rubric: &Rubric, found: Found, log: &Log) -> anyhow::Result<Plan> {
    let mut plan = Plan {
        work: Vec::new(),
        already_scored: Vec::new(),
        duplicates: Vec::new(),
        unreadable: found.problems,
    };
    let mut first_path: HashMap<String, PathBuf> = HashMap::new();
    if found.files.len() > 50 {
        log.line(&format!(
            "checking {} recordings against {}",
            found.files.len(),
            store.path().display()
        ));
    }
    for path in found.files {
        let id = match content_id(&path) {
            Ok(id) => id,
            Err(e) => {
                plan.unreadable.push((path, e.to_string()));
                continue;
            }
        };
        if let Some(first) = first_path.get(&id) {
            plan.duplicates.push((path, first.clone()));
            continue;
        }
        first_path.insert(id.clone(), path.clone());
        let state = store.plan_state(&id, rubric.hash())?;
        if state.scored_with_rubric {
            plan.already_scored.push(path);
        } else {
            plan.work.push(WorkItem {
                path,
                id,
                has_transcript: state.has_transcript,
            });
        }
    }
    Ok(plan)
}

// ---------------------------------------------------------------------------------------------
// Workers

/// A queued call; `not_before` delays a retry of a call another process holds.
struct Queued {
    item: WorkItem,
    not_before: Instant,
}

impl Queued {
    fn now(item: WorkItem) -> Self {
        Queued {
            item,
            not_before: Instant::now(),
        }
    }
}

struct WorkerContext<'a> {
    db: &'a Path,
    rubric: &'a Rubric,
    transcriber: Option<&'a Transcriber>,
    load: LoadOptions,
    owner: ClaimOwner,
    queue: Mutex<VecDeque<Queued>>,
    hooks: &'a TestHooks,
    commits: AtomicUsize,
    transcriptions: AtomicUsize,
}

/// What happened to one call.
#[derive(Debug, Clone)]
enum CallOutcome {
    Scored {
        path: PathBuf,
        id: String,
        score: f64,
        passed: bool,
        flagged: bool,
        audio_ms: u64,
        transcribed: bool,
        seconds: f64,
    },
    /// Another process scored it with this rubric while we were busy.
    DoneElsewhere { path: PathBuf },
    Failed {
        path: PathBuf,
        id: Option<String>,
        error: String,
    },
}

enum Event {
    Finished(CallOutcome),
}

/// How long to wait before asking again about a call another process holds.
const BUSY_RETRY: Duration = Duration::from_millis(500);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn run_workers(
    ctx: &WorkerContext<'_>,
    jobs: usize,
    total: usize,
    log: &Log,
) -> anyhow::Result<Vec<CallOutcome>> {
    if total == 0 {
        return Ok(Vec::new());
    }
    // The main thread keeps the claims of this process alive while workers run.
    let keeper = Store::open(ctx.db)
        .with_context(|| format!("cannot open the database {}", ctx.db.display()))?;
    let bar = log.progress(total as u64);
    let (tx, rx) = mpsc::channel::<anyhow::Result<Event>>();
    let mut outcomes = Vec::with_capacity(total);
    let mut audio_ms = 0u64;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            scope.spawn(move || {
                if let Err(e) = worker(ctx, &tx) {
                    let _ = tx.send(Err(e));
                }
            });
        }
        drop(tx);
        let mut last_renewal = Instant::now();
        let renew_every = Duration::from_millis(CLAIM_RENEW_EVERY_MS as u64);
        let mut fatal = None;
        loop {
            match rx.recv_timeout(renew_every / 4) {
                Ok(Ok(Event::Finished(outcome))) => {
                    if let CallOutcome::Scored { audio_ms: a, .. } = &outcome {
                        audio_ms += a;
                    }
                    bar.finished(&outcome, outcomes.len() + 1, total, audio_ms);
                    outcomes.push(outcome);
                }
                Ok(Err(e)) => {
                    // A worker lost the database: stop handing out work, let the others finish
                    // their current call, then report.
                    ctx.queue.lock().unwrap_or_else(|p| p.into_inner()).clear();
                    fatal.get_or_insert(e);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_renewal.elapsed() >= renew_every {
                // A failed renewal is not fatal: the lease is long, the next attempt may work.
                let _ = keeper.renew_claims(&ctx.owner, now_ms());
                last_renewal = Instant::now();
            }
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    })
}

fn next_item(ctx: &WorkerContext<'_>) -> Option<WorkItem> {
    loop {
        let wait = {
            let mut queue = ctx.queue.lock().unwrap_or_else(|p| p.into_inner());
            let front = queue.pop_front()?;
            let now = Instant::now();
            if front.not_before <= now {
                return Some(front.item);
            }
            let wait = front.not_before - now;
            queue.push_back(front);
            // Only waiting items left at the front: nap until the first is due.
            wait
        };
        std::thread::sleep(wait.min(BUSY_RETRY));
    }
}

fn worker(ctx: &WorkerContext<'_>, tx: &mpsc::Sender<anyhow::Result<Event>>) -> anyhow::Result<()> {
    let mut store = Store::open(ctx.db)
        .with_context(|| format!("cannot open the database {}", ctx.db.display()))?;
    while let Some(item) = next_item(ctx) {
        let claim = store
            .claim(
                &item.id,
                &item.path,
                ctx.rubric.hash(),
                &ctx.owner,
                now_ms(),
            )
            .with_context(|| {
                format!(
                    "cannot claim {} in {}",
                    item.path.display(),
                    ctx.db.display()
                )
            })?;
        let has_transcript = match claim {
            Claim::AlreadyScored => {
                let _ = tx.send(Ok(Event::Finished(CallOutcome::DoneElsewhere {
                    path: item.path,
                })));
                continue;
            }
            Claim::Busy { .. } => {
                let mut queue = ctx.queue.lock().unwrap_or_else(|p| p.into_inner());
                queue.push_back(Queued {
                    item,
                    not_before: Instant::now() + BUSY_RETRY,
                });
                continue;
            }
            Claim::Acquired { has_transcript } => has_transcript,
        };
        let t0 = Instant::now();
        // A panic inside a library on one recording must not take the whole batch down: it
        // becomes that call's failure, and the other calls go on.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            score_one(ctx, &mut store, &item, has_transcript)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(anyhow::anyhow!(
                "{}: internal error (please report it): {what}",
                item.path.display()
            ))
        });
        let outcome = match attempt {
            Ok((recorded, audio_ms, sc)) => {
                let n = ctx.commits.fetch_add(1, Ordering::SeqCst) + 1;
                ctx.hooks.after_commit(n);
                match recorded {
                    Recorded::AlreadyPresent(_) => CallOutcome::DoneElsewhere { path: item.path },
                    Recorded::Stored(_) => CallOutcome::Scored {
                        path: item.path,
                        id: item.id,
                        score: sc.score,
                        passed: sc.passed,
                        flagged: sc.flagged,
                        audio_ms,
                        transcribed: !has_transcript,
                        seconds: t0.elapsed().as_secs_f64(),
                    },
                }
            }
            Err(e) => {
                let error = format!("{e:#}");
                store
                    .record_failure(&item.id, &item.path, &error, &ctx.owner)
                    .with_context(|| {
                        format!(
                            "cannot record the failure of {} in {}",
                            item.path.display(),
                            ctx.db.display()
                        )
                    })?;
                CallOutcome::Failed {
                    path: item.path,
                    id: Some(item.id),
                    error,
                }
            }
        };
        let _ = tx.send(Ok(Event::Finished(outcome)));
    }
    Ok(())
}

/// One call, claimed: transcript (stored, or ingest + transcribe), scorecard, one commit.
fn score_one(
    ctx: &WorkerContext<'_>,
    store: &mut Store,
    item: &WorkItem,
    has_transcript: bool,
) -> anyhow::Result<(Recorded, u64, callscore_core::Scorecard)> {
    if has_transcript {
        let transcript = store.transcript(&item.id)?.with_context(|| {
            format!("{}: the stored transcript disappeared", item.path.display())
        })?;
        let scorecard = ctx.rubric.evaluate(&transcript);
        ctx.hooks
            .before_commit(ctx.commits.load(Ordering::SeqCst) + 1);
        let recorded =
            store.record_scorecards(&[(item.id.as_str(), &scorecard)], Some(&ctx.owner))?;
        return Ok((recorded[0], transcript.duration_ms, scorecard));
    }
    let recording = callscore_ingest::load(&item.path, &ctx.load)?;
    if recording.content_hash != item.id {
        anyhow::bail!(
            "{}: the file changed while the batch was running; score it again",
            item.path.display()
        );
    }
    let Some(transcriber) = ctx.transcriber else {
        anyhow::bail!(
            "{}: needs transcription but no model was loaded",
            item.path.display()
        );
    };
    let n = ctx.transcriptions.fetch_add(1, Ordering::SeqCst) + 1;
    ctx.hooks.during_transcription(n);
    let mut transcript = transcriber
        .transcribe(&recording.legs)
        .with_context(|| format!("cannot transcribe {}", item.path.display()))?;
    transcript.meta = recording.meta.clone();
    if transcript.model.is_empty() {
        transcript.model = transcriber.model_name().to_string();
    }
    let scorecard = ctx.rubric.evaluate(&transcript);
    ctx.hooks
        .before_commit(ctx.commits.load(Ordering::SeqCst) + 1);
    let call = NewCall {
        id: &item.id,
        source_path: &item.path,
        duration_ms: recording.duration_ms,
        channels: recording.source_channels,
        sample_rate: recording.source_sample_rate,
        format: &recording.source_format,
        meta: &recording.meta,
    };
    let recorded = store.record_scored_call(&call, &transcript, &scorecard)?;
    Ok((recorded, recording.duration_ms, scorecard))
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
#[derive(Debug, Default)]
struct TestHooks {
    after_commits: Option<usize>,
    before_commit: Option<usize>,
    during_transcription: Option<usize>,
}

impl TestHooks {
    fn from_env() -> Self {
        let read = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
        TestHooks {
            after_commits: read("CALLSCORE_TEST_ABORT_AFTER_COMMITS"),
            before_commit: read("CALLSCORE_TEST_ABORT_BEFORE_COMMIT"),
            during_transcription: read("CALLSCORE_TEST_ABORT_DURING_TRANSCRIPTION"),
        }
    }

    fn after_commit(&self, n: usize) {
        if self.after_commits == Some(n) {
            eprintln!("test hook: aborting after commit {n}");
            std::process::abort();
        }
    }

    fn before_commit(&self, n: usize) {
        if self.before_commit == Some(n) {
            eprintln!("test hook: aborting before commit {n}");
            std::process::abort();
        }
    }

    fn during_transcription(&self, n: usize) {
        if self.during_transcription == Some(n) {
            // The abort comes from another thread while this one is inside whisper.cpp; a
            // telephone call takes far longer than this to transcribe.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                eprintln!("test hook: aborting during transcription {n}");
                std::process::abort();
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Progress and summary

/// Progress on stderr: a bar on a terminal, plain lines otherwise (CI logs) or with --quiet.
struct Log {
    bar: Option<ProgressBar>,
}

impl Log {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
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
        Log { bar }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn progress(&self, total: u64) -> Progress<'_> {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(0);
            bar.set_message("0.00 h audio");
        }
        Progress { log: self }
    }

    fn finish(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprint!("{text}");
    }
}

struct Progress<'a> {
    log: &'a Log,
}

impl Progress<'_> {
    fn finished(&self, outcome: &CallOutcome, done: usize, total: usize, audio_ms: u64) {
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
                audio_ms,
                transcribed,
                seconds,
                ..
            } => format!(
                "[{done}/{total}] {}: {score:.1} {}{} ({} audio, {} in {seconds:.1} s)",
                name(path),
                if *passed { "passed" } else { "failed" },
                if *flagged { ", flagged" } else { "" },
                fmt_ms(*audio_ms),
                if *transcribed {
                    "transcribed and scored"
                } else {
                    "scored from the stored transcript"
                },
            ),
            CallOutcome::DoneElsewhere { path } => {
                format!(
                    "[{done}/{total}] {}: already scored by another run",
                    name(path)
                )
            }
            CallOutcome::Failed { error, .. } => format!("[{done}/{total}] FAILED {error}"),
        };
        match &self.log.bar {
            Some(bar) => {
                bar.println(&text);
                bar.set_position(done as u64);
                bar.set_message(format!("{:.2} h audio", audio_ms as f64 / 3_600_000.0));
            }
            None => eprintln!("{text}"),
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
    fn new(plan: &Plan, outcomes: Vec<CallOutcome>, wall: Duration) -> Self {
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
            wall,
        };
        for o in outcomes {
            match o {
                CallOutcome::Scored { .. } => s.scored.push(o),
                CallOutcome::DoneElsewhere { .. } => s.done_elsewhere += 1,
                CallOutcome::Failed { path, id, error } => s.failed.push((path, id, error)),
            }
        }
        s.scored
            .sort_by(|a, b| outcome_path(a).cmp(outcome_path(b)));
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

    fn text(&self, db: &Path) -> String {
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
            "Database: {}  (see `callscore report --db {0}`)\n",
            db.display()
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
                    audio_ms,
                    transcribed,
                    ..
                } => Some(BatchRow {
                    path: path.display().to_string(),
                    call_id: Some(id.clone()),
                    status: "scored",
                    score: Some(*score),
                    passed: Some(*passed),
                    flagged: Some(*flagged),
                    duration_ms: Some(*audio_ms),
                    transcribed: *transcribed,
                    error: None,
                }),
                _ => None,
            })
            .collect();
        rows.extend(self.failed.iter().map(|(path, id, error)| BatchRow {
            path: path.display().to_string(),
            call_id: id.clone(),
            status: "failed",
            score: None,
            passed: None,
            flagged: None,
            duration_ms: None,
            transcribed: false,
            error: Some(error.clone()),
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

fn outcome_path(o: &CallOutcome) -> &Path {
    match o {
        CallOutcome::Scored { path, .. }
        | CallOutcome::DoneElsewhere { path }
        | CallOutcome::Failed { path, .. } => path,
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
    score: Option<f64>,
    passed: Option<bool>,
    flagged: Option<bool>,
    duration_ms: Option<u64>,
    transcribed: bool,
    error: Option<String>,
}

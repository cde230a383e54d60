//! The batch: plan recordings against the database, then score them on worker threads that
//! share one loaded model. Work is claimed in the database before the slow part (so a second
//! process on the same database does not do it too), claims are renewed while the batch runs
//! (so a killed process's claims expire), and each call's rows are committed in one transaction
//! (so a crash leaves a call done or not started, and a rerun skips what is done).

use crate::{FaultHooks, Observer, Pipeline, PipelineError};
use callscore_core::Scorecard;
use callscore_store::{
    content_id, Claim, ClaimOwner, Db, NewCall, NextCall, Recorded, CLAIM_LEASE_MS,
    CLAIM_RENEW_EVERY_MS,
};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a batch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Calls worked on at once (each worker scores one call at a time). At least 1; never more
    /// than there are calls.
    pub workers: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions { workers: 1 }
    }
}

/// How `work_queue` runs: workers taking calls from the database's shared queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// Calls worked on at once. At least 1.
    pub workers: usize,
    /// How long a taken call stays this process's without renewal. The process renews its
    /// calls well within it; a process that is killed loses them when it runs out.
    pub lease: Duration,
    /// Keep asking for new calls when the queue is empty, until `stop` is set.
    pub follow: bool,
    /// How long to wait before asking again when nothing is free.
    pub poll: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            workers: 1,
            lease: Duration::from_millis(CLAIM_LEASE_MS as u64),
            follow: false,
            poll: Duration::from_secs(2),
        }
    }
}

/// What happened to one call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    Scored {
        path: PathBuf,
        id: String,
        score: f64,
        passed: bool,
        flagged: bool,
        /// False when too little of the rubric applied to judge the call.
        judged: bool,
        audio_ms: u64,
        /// Transcribed now (false: scored from the stored transcript).
        transcribed: bool,
        seconds: f64,
        /// Problems ingest worked around (a truncated file, dropped channels…).
        warnings: Vec<String>,
    },
    /// Another process scored it with this rubric while this one was busy.
    DoneElsewhere { path: PathBuf },
    Failed {
        path: PathBuf,
        /// The call id, when the file could be read at all.
        id: Option<String>,
        error: String,
    },
}

impl CallOutcome {
    pub fn path(&self) -> &Path {
        match self {
            CallOutcome::Scored { path, .. }
            | CallOutcome::DoneElsewhere { path }
            | CallOutcome::Failed { path, .. } => path,
        }
    }
}

/// What the plan found before any work: the batch's shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanSummary {
    /// Calls to work on.
    pub to_score: usize,
    /// Of those, how many need transcription (no stored transcript).
    pub to_transcribe: usize,
    /// Recordings already scored with this exact rubric.
    pub already_scored: Vec<PathBuf>,
    /// Same audio as an earlier file in this batch: (file, the file it duplicates).
    pub duplicates: Vec<(PathBuf, PathBuf)>,
    /// Paths that could not be read at all (no content, so no call id to record them under).
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The result of a batch.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub plan: PlanSummary,
    /// One per planned call, in the order they finished.
    pub outcomes: Vec<CallOutcome>,
    pub wall: Duration,
}

impl BatchReport {
    /// Calls that failed, including paths that could not be read.
    pub fn failed(&self) -> usize {
        self.plan.unreadable.len()
            + self
                .outcomes
                .iter()
                .filter(|o| matches!(o, CallOutcome::Failed { .. }))
                .count()
    }
}

#[derive(Debug, Clone)]
struct WorkItem {
    path: PathBuf,
    id: String,
    has_transcript: bool,
}

/// A queued call; `not_before` delays a retry of a call another process holds.
struct Queued {
    item: WorkItem,
    not_before: Instant,
}

/// How long to wait before asking again about a call another process holds.
const BUSY_RETRY: Duration = Duration::from_millis(500);

/// At this many recordings the observer hears that the database check is under way.
const MANY_RECORDINGS: usize = 50;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Pipeline {
    /// Scores recordings (files, or folders searched recursively) into the database at `db`:
    /// plans them (skipping what is scored with this rubric already), then runs the workers.
    /// Per-call problems are outcomes; an `Err` means the batch could not run at all (the
    /// database is unusable, no model, nothing to score).
    pub fn score_paths(
        &self,
        db: &Path,
        paths: &[PathBuf],
        opts: &BatchOptions,
        observer: &dyn Observer,
        hooks: &dyn FaultHooks,
    ) -> Result<BatchReport, PipelineError> {
        let started = Instant::now();
        if paths.is_empty() {
            return Err(PipelineError::NothingGiven);
        }
        let found = crate::discover(paths);
        if found.files.is_empty() && found.problems.is_empty() {
            return Err(PipelineError::NoRecordings {
                paths: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                extensions: callscore_ingest::AUDIO_EXTENSIONS.join(", "),
            });
        }
        let (plan, work) = {
            let mut store = Db::open(db)?;
            if found.files.len() >= MANY_RECORDINGS {
                observer.checking(found.files.len());
            }
            let (plan, work) = self.plan(&store, found)?;
            // On a shared database, `callscore work` on other machines may help with these.
            let calls: Vec<(&str, &Path)> = work
                .iter()
                .map(|w| (w.id.as_str(), w.path.as_path()))
                .collect();
            store.register_many(&calls)?;
            (plan, work)
        };
        let workers = opts.workers.clamp(1, work.len().max(1));
        if plan.to_transcribe > 0 {
            // Before any claim: a missing model must stop the batch, not fail every call.
            self.transcription.transcriber()?;
        }
        observer.planned(&plan, workers);
        let total = work.len();
        if total == 0 {
            return Ok(BatchReport {
                plan,
                outcomes: Vec::new(),
                wall: started.elapsed(),
            });
        }
        let source = Source::Planned(Mutex::new(
            work.into_iter()
                .map(|item| Queued {
                    item,
                    not_before: Instant::now(),
                })
                .collect(),
        ));
        let renew_every = Duration::from_millis(CLAIM_RENEW_EVERY_MS as u64);
        let outcomes =
            self.run_workers(db, source, workers, total, renew_every, observer, hooks)?;
        Ok(BatchReport {
            plan,
            outcomes,
            wall: started.elapsed(),
        })
    }

    /// Works on the shared queue of the database at `db` (PostgreSQL: see
    /// `callscore_store::PgStore::claim_next`) until it is empty — calls other processes hold
    /// included, since one of them may die and its lease run out — or, with `follow`, until
    /// `stop` is set. Each call is scored exactly as `score_paths` scores it. The report's plan
    /// is empty; its outcomes are the calls this process finished.
    pub fn work_queue(
        &self,
        db: &Path,
        opts: &QueueOptions,
        stop: &AtomicBool,
        observer: &dyn Observer,
        hooks: &dyn FaultHooks,
    ) -> Result<BatchReport, PipelineError> {
        let started = Instant::now();
        // Fails here, before any worker starts, when the database has no queue.
        drop(Db::open_queue(db)?);
        let workers = opts.workers.max(1);
        let source = Source::Shared {
            lease: opts.lease,
            follow: opts.follow,
            poll: opts.poll,
            stop,
        };
        // Renewing six times per lease: a renewal or two may fail (a network blip) before
        // the lease is lost.
        let renew_every = (opts.lease / 6).max(Duration::from_millis(50));
        observer.planned(&PlanSummary::default(), workers);
        let outcomes = self.run_workers(db, source, workers, 0, renew_every, observer, hooks)?;
        Ok(BatchReport {
            plan: PlanSummary::default(),
            outcomes,
            wall: started.elapsed(),
        })
    }

    fn plan(
        &self,
        store: &Db,
        found: crate::Found,
    ) -> Result<(PlanSummary, Vec<WorkItem>), PipelineError> {
        let mut plan = PlanSummary {
            unreadable: found.problems,
            ..PlanSummary::default()
        };
        let mut work = Vec::new();
        let mut first_path: HashMap<String, PathBuf> = HashMap::new();
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
            let state = store.plan_state(&id, self.rubric.hash())?;
            if state.scored_with_rubric {
                plan.already_scored.push(path);
            } else {
                work.push(WorkItem {
                    path,
                    id,
                    has_transcript: state.has_transcript,
                });
            }
        }
        plan.to_score = work.len();
        plan.to_transcribe = work.iter().filter(|w| !w.has_transcript).count();
        Ok((plan, work))
    }

    /// Runs `workers` threads over `source` while this thread collects their outcomes and
    /// renews the process's claims every `renew_every`. `total` is the planned number of calls
    /// (0: not known, a shared queue).
    #[allow(clippy::too_many_arguments)]
    fn run_workers(
        &self,
        db: &Path,
        source: Source<'_>,
        workers: usize,
        total: usize,
        renew_every: Duration,
        observer: &dyn Observer,
        hooks: &dyn FaultHooks,
    ) -> Result<Vec<CallOutcome>, PipelineError> {
        let ctx = Workers {
            pipeline: self,
            db,
            owner: ClaimOwner::current_process(),
            source,
            halt: AtomicBool::new(false),
            hooks,
            commits: AtomicUsize::new(0),
            transcriptions: AtomicUsize::new(0),
        };
        // This thread keeps the process's claims alive while the workers run.
        let keeper = Db::open(db)?;
        let (tx, rx) = mpsc::channel::<Result<CallOutcome, PipelineError>>();
        let mut outcomes = Vec::with_capacity(total);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let ctx = &ctx;
                scope.spawn(move || {
                    if let Err(e) = ctx.work(&tx) {
                        let _ = tx.send(Err(e));
                    }
                });
            }
            drop(tx);
            let mut last_renewal = Instant::now();
            let mut fatal = None;
            loop {
                match rx.recv_timeout(renew_every / 4) {
                    Ok(Ok(outcome)) => {
                        outcomes.push(outcome);
                        observer.finished(
                            outcomes.last().expect("just pushed"),
                            outcomes.len(),
                            total.max(outcomes.len()),
                        );
                    }
                    Ok(Err(e)) => {
                        // A worker lost the database: hand out no more work, let the others
                        // finish their current call, then report.
                        ctx.halt.store(true, Ordering::SeqCst);
                        if let Source::Planned(queue) = &ctx.source {
                            queue.lock().unwrap_or_else(|p| p.into_inner()).clear();
                        }
                        fatal.get_or_insert(e);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if last_renewal.elapsed() >= renew_every {
                    // A failed renewal is not fatal: the lease is long, the next try may work.
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
}

/// Where the workers find their calls.
enum Source<'a> {
    /// The batch's own plan; each call is claimed before it is worked on.
    Planned(Mutex<VecDeque<Queued>>),
    /// The database's shared queue.
    Shared {
        lease: Duration,
        follow: bool,
        poll: Duration,
        stop: &'a AtomicBool,
    },
}

/// What the worker threads share.
struct Workers<'a> {
    pipeline: &'a Pipeline,
    db: &'a Path,
    owner: ClaimOwner,
    source: Source<'a>,
    /// A worker lost the database: the others take no new calls.
    halt: AtomicBool,
    hooks: &'a dyn FaultHooks,
    commits: AtomicUsize,
    transcriptions: AtomicUsize,
}

impl Workers<'_> {
    fn next_item(&self, queue: &Mutex<VecDeque<Queued>>) -> Option<WorkItem> {
        loop {
            let wait = {
                let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
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

    /// One worker: claims calls until there are none left for it.
    fn work(
        &self,
        tx: &mpsc::Sender<Result<CallOutcome, PipelineError>>,
    ) -> Result<(), PipelineError> {
        let mut store = Db::open(self.db)?;
        while let Some((item, has_transcript)) = self.next_claimed(&mut store, tx)? {
            let outcome = self.score_claimed(&mut store, item, has_transcript)?;
            let _ = tx.send(Ok(outcome));
        }
        Ok(())
    }

    /// The next call this worker holds a claim on, with whether its transcript is stored;
    /// `None` when there is nothing more to do.
    fn next_claimed(
        &self,
        store: &mut Db,
        tx: &mpsc::Sender<Result<CallOutcome, PipelineError>>,
    ) -> Result<Option<(WorkItem, bool)>, PipelineError> {
        loop {
            if self.halt.load(Ordering::SeqCst) {
                return Ok(None);
            }
            match &self.source {
                Source::Planned(queue) => {
                    let Some(item) = self.next_item(queue) else {
                        return Ok(None);
                    };
                    match store.claim(
                        &item.id,
                        &item.path,
                        self.pipeline.rubric.hash(),
                        &self.owner,
                        now_ms(),
                    )? {
                        Claim::AlreadyScored => {
                            let _ = tx.send(Ok(CallOutcome::DoneElsewhere { path: item.path }));
                        }
                        Claim::Busy { .. } => {
                            queue
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push_back(Queued {
                                    item,
                                    not_before: Instant::now() + BUSY_RETRY,
                                });
                        }
                        Claim::Acquired { has_transcript } => {
                            return Ok(Some((item, has_transcript)))
                        }
                    }
                }
                Source::Shared {
                    lease,
                    follow,
                    poll,
                    stop,
                } => {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(None);
                    }
                    match store.claim_next(&self.owner, *lease)? {
                        NextCall::Claimed(call) => {
                            let item = WorkItem {
                                path: call.source_path,
                                id: call.id,
                                has_transcript: call.has_transcript,
                            };
                            let has_transcript = item.has_transcript;
                            return Ok(Some((item, has_transcript)));
                        }
                        NextCall::Empty if !follow => return Ok(None),
                        NextCall::Empty | NextCall::Wait => {
                            // In small steps, so a stop is heard quickly.
                            let until = Instant::now() + *poll;
                            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(50).min(*poll));
                            }
                        }
                    }
                }
            }
        }
    }

    /// A claimed call, start to finish. Only a lost database is an `Err`; everything that goes
    /// wrong with the recording itself is recorded as the call's failure.
    fn score_claimed(
        &self,
        store: &mut Db,
        item: WorkItem,
        has_transcript: bool,
    ) -> Result<CallOutcome, PipelineError> {
        let t0 = Instant::now();
        // A panic inside a library on one recording must not take the whole batch down: it
        // becomes that call's failure, and the other calls go on.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.score_one(store, &item, has_transcript)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(PipelineError::Panic {
                path: item.path.clone(),
                what: what.to_string(),
            })
        });
        match attempt {
            Ok(done) => {
                let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
                self.hooks.after_commit(n);
                Ok(match done.recorded {
                    Recorded::AlreadyPresent(_) => CallOutcome::DoneElsewhere { path: item.path },
                    Recorded::Stored(_) => CallOutcome::Scored {
                        path: item.path,
                        id: item.id,
                        score: done.scorecard.score,
                        passed: done.scorecard.passed,
                        flagged: done.scorecard.flagged,
                        judged: done.scorecard.judged,
                        audio_ms: done.audio_ms,
                        transcribed: !has_transcript,
                        seconds: t0.elapsed().as_secs_f64(),
                        warnings: done.warnings,
                    },
                })
            }
            // The store is gone: not this call's fault, and nothing more can be recorded.
            Err(PipelineError::Store(e)) => Err(PipelineError::Store(e)),
            // No model on this machine: not this call's fault either (a batch checks before it
            // starts; a queue worker learns it here). The call goes back for another worker.
            Err(e @ (PipelineError::ModelUnavailable(_) | PipelineError::ModelLoad { .. })) => {
                store.release_claim(&item.id, &self.owner)?;
                Err(e)
            }
            Err(e) => {
                let error = describe(&e, &item.path);
                store.record_failure(&item.id, &item.path, &error, &self.owner)?;
                Ok(CallOutcome::Failed {
                    path: item.path,
                    id: Some(item.id),
                    error,
                })
            }
        }
    }

    /// Transcript (stored, or ingest + transcribe), scorecard, one commit.
    fn score_one(
        &self,
        store: &mut Db,
        item: &WorkItem,
        has_transcript: bool,
    ) -> Result<Done, PipelineError> {
        let rubric = &self.pipeline.rubric;
        if has_transcript {
            let mut transcript =
                store
                    .transcript(&item.id)?
                    .ok_or_else(|| PipelineError::TranscriptGone {
                        path: item.path.clone(),
                    })?;
            // Stored transcripts were redacted when stored; a rubric asking for more classes
            // redacts them further before anything is evaluated.
            if !self
                .pipeline
                .transcription
                .redact(&mut transcript)
                .is_empty()
            {
                // The stored text (and the audio the review page mutes) follows.
                store.update_redactions(&item.id, &transcript)?;
            }
            let scorecard = rubric.evaluate(&transcript);
            self.hooks
                .before_commit(self.commits.load(Ordering::SeqCst) + 1);
            let recorded =
                store.record_scorecards(&[(item.id.as_str(), &scorecard)], Some(&self.owner))?;
            return Ok(Done {
                recorded: recorded[0],
                audio_ms: transcript.duration_ms,
                scorecard,
                warnings: Vec::new(),
            });
        }
        let recording = self.pipeline.transcription.load(&item.path)?;
        if recording.content_hash != item.id {
            return Err(PipelineError::FileChanged {
                path: item.path.clone(),
            });
        }
        let n = self.transcriptions.fetch_add(1, Ordering::SeqCst) + 1;
        self.hooks.during_transcription(n);
        let transcript = self.pipeline.transcription.transcribe(&recording)?;
        let scorecard = rubric.evaluate(&transcript);
        self.hooks
            .before_commit(self.commits.load(Ordering::SeqCst) + 1);
        let call = NewCall {
            id: &item.id,
            source_path: &item.path,
            duration_ms: recording.duration_ms,
            channels: recording.source_channels,
            sample_rate: recording.source_sample_rate,
            format: &recording.source_format,
            meta: &recording.meta,
            warnings: &recording.warnings,
        };
        let recorded = store.record_scored_call(&call, &transcript, &scorecard)?;
        Ok(Done {
            recorded,
            audio_ms: recording.duration_ms,
            scorecard,
            warnings: recording.warnings,
        })
    }
}

/// A call's work, committed.
struct Done {
    recorded: Recorded,
    audio_ms: u64,
    scorecard: Scorecard,
    warnings: Vec<String>,
}

/// A failure's text as stored and shown: it always names the recording.
fn describe(e: &PipelineError, path: &Path) -> String {
    let text = e.to_string();
    if text.contains(&*path.to_string_lossy()) {
        text
    } else {
        format!("{}: {text}", path.display())
    }
}

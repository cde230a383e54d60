//! Per-leg transcription with whisper.cpp, merged into one speaker-attributed transcript.
//!
//! One [`Transcriber`] holds one loaded model (a `WhisperContext`) and is shared by worker
//! threads. For each leg, voice activity detection picks the leg's own speech; only that audio
//! is fed to whisper, as speech regions joined by short silences, so the model never spends time
//! on silence and a silent leg costs nothing (a leg's regions can also be packed into chunks of
//! one whisper window, [`FeedMode::Packed`]). The feeds of all legs go to a queue served by
//! single-threaded whisper states from a pool, within one thread budget shared by every call in
//! flight, so two calls at once never run more whisper threads than there are cores. Words come back with token timestamps in chunk time and are mapped back
//! to call time through the region they fall in, and segments are cut at region boundaries, so a
//! segment never spans the other speaker's turn.

use crate::ggml::{GgmlError, GgmlModelInfo};
use crate::vad::{self, LegActivity, SpeechRegion, VadOptions};
use callscore_core::{Leg, Segment, Speaker, Transcript, Word, SAMPLE_RATE};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

/// How speech regions are handed to whisper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedMode {
    /// A leg's regions packed, in order and joined by short silences, into chunks of at most one
    /// whisper window (after `lead_in_ms` of silence; with `fit_audio_ctx`, the encoder covers
    /// only the chunk). Chunks are independent, so one leg spreads over all threads. Not the
    /// default: on the fixtures it was not clearly faster than one stream per leg, and with a
    /// lead-in it changed the text of edge cases the tests pin (benches/RESULTS.md).
    Packed,
    /// All of a leg's regions joined into one stream: whisper runs its full 30 s windows over it,
    /// seeking by the last timestamp (the tail of the last window is padding).
    #[default]
    Concatenated,
    /// One whisper run per region: each run pays for a full 30 s encoder window.
    PerRegion,
}

/// Transcription settings; `Default` is what callscore uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// CPU threads whisper may use at once: the budget of the whole transcriber, shared by every
    /// call it is transcribing (from any number of worker threads) and by the legs of each call.
    pub threads: usize,
    /// Spoken language: a Whisper language code ("en", "zh", …), or "auto" to have a
    /// multilingual model detect it once per call (see [`Transcriber::call_language`]).
    /// English-only models take only "en".
    pub language: String,
    pub vad: VadOptions,
    /// Feed whisper only the speech that voice activity detection finds. Off: every leg goes to
    /// whisper whole (slower, and whisper may write text on silence; for diagnosis).
    pub use_vad: bool,
    pub feed: FeedMode,
    /// Silence inserted between joined regions.
    pub join_gap_ms: u32,
    /// Longest packed chunk (the speech and the silences between it), at most whisper's 30 s
    /// window. A single region longer than this is its own chunk and whisper seeks through it.
    pub max_chunk_ms: u32,
    /// Encoder context for packed chunks: fitted to each chunk (true), or whisper's full 30 s
    /// window every time (false, the default: fitting saved 17% of the CPU time on the fixtures
    /// but cost 4.8 points of WER per leg; tiny.en was trained on full windows).
    pub fit_audio_ctx: bool,
    /// Silence before each packed chunk (not the default feed): whisper drops first words of audio that starts with
    /// speech (fixtures/vad/speech_at_start: WER 42% without, 37% with 500 ms; neutral on the
    /// other fixtures).
    pub lead_in_ms: u32,
    /// whisper.cpp flash attention. On by default (the text the accuracy tests pin), although
    /// with only speech fed to whisper ggml's CPU flash-attention kernel (one dot product and one
    /// scalar `expf` per query-key pair) cost 13% more CPU than plain attention on one leg with
    /// the same text there; off changed a one-word edge case (benches/RESULTS.md).
    pub flash_attention: bool,
    /// Re-decode a window at higher temperatures when the greedy text looks like a loop or has a
    /// low likelihood (whisper's fallback). Off by default: with only speech fed and no carried
    /// context it changed no fixture's WER by more than a word, and it cost up to 7× the time
    /// on the real call (44 s vs 5.7 s for 45 s of audio).
    pub temperature_fallback: bool,
    /// Drop whisper's stock phrases ("Thank you.", "[BLANK_AUDIO]"…) where the leg has no speech.
    pub drop_hallucinations: bool,
    /// Hypotheses whisper's decoder keeps (beam search); 1, the default, decodes greedily.
    /// Beam search of 5 cut tiny.en's word error rate on the fixture calls from 39.9% to 35.4%
    /// per leg for 30% more CPU time and ~85 MB more memory (a larger KV cache per state), so
    /// it is offered, not imposed: the greedy default keeps a day's batch within the time and
    /// memory the side-by-side bench holds it to (benches/RESULTS.md).
    pub beam_size: usize,
    /// whisper's per-token timestamps. On: every word's time comes from them (evidence, speaker
    /// attribution on mono calls, splitting at speech regions). Off only to measure their cost
    /// (benches/RESULTS.md): words then get their segment's times.
    pub token_timestamps: bool,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions {
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            language: "en".into(),
            vad: VadOptions::default(),
            use_vad: true,
            feed: FeedMode::default(),
            join_gap_ms: 300,
            max_chunk_ms: 28_000,
            fit_audio_ctx: false,
            lead_in_ms: 500,
            flash_attention: true,
            temperature_fallback: false,
            drop_hallucinations: true,
            token_timestamps: true,
            beam_size: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("model {}: {source}", path.display())]
    Model { path: PathBuf, source: GgmlError },
    #[error("model {}: whisper.cpp could not load it ({reason})", path.display())]
    Load { path: PathBuf, reason: String },
    #[error("{speaker} leg: whisper.cpp failed: {reason}")]
    Whisper { speaker: Speaker, reason: String },
    #[error("{speaker} leg: worker thread panicked")]
    Worker { speaker: Speaker },
    #[error(
        "unknown language '{0}': use a Whisper language code (en, zh, de, es, fr, ja, …) or auto"
    )]
    UnknownLanguage(String),
    #[error("model {model} is English-only, so it cannot transcribe language '{language}'; for other languages or auto-detection install the multilingual model (`callscore model install base`) and use it (`--model base`)")]
    EnglishOnly { model: String, language: String },
}

/// Whisper's code for a language given by code or English name ("zh", "Chinese" → "zh").
/// Looked up in whisper.cpp's own table; asking whisper.cpp directly would log an error for an
/// unknown name.
pub fn language_code(given: &str) -> Option<&'static str> {
    let given = given.trim().to_ascii_lowercase();
    (0..=whisper_rs::get_lang_max_id()).find_map(|id| {
        let code = whisper_rs::get_lang_str(id)?;
        let name = whisper_rs::get_lang_str_full(id)?;
        (code == given || name == given).then_some(code)
    })
}

/// A loaded Whisper model, shareable across threads.
pub struct Transcriber {
    ctx: WhisperContext,
    model_name: String,
    opts: TranscribeOptions,
    budget: ThreadBudget,
    /// Whisper states not in use, kept for the next chunk (a state owns its KV caches and
    /// compute buffers; building one per chunk would cost more than a short chunk's decoding).
    states: Mutex<Vec<WhisperState>>,
}

/// Threads whisper may use at once across every call of a transcriber. A chunk takes what it
/// wants of what is free (at least one, waiting when none is), and gives it back when done.
struct ThreadBudget {
    free: Mutex<usize>,
    freed: Condvar,
}

impl ThreadBudget {
    fn new(threads: usize) -> Self {
        ThreadBudget {
            free: Mutex::new(threads.max(1)),
            freed: Condvar::new(),
        }
    }

    fn take(&self, want: usize) -> Threads<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        let n = want.clamp(1, *free);
        *free -= n;
        Threads { budget: self, n }
    }
}

/// Threads taken from a [`ThreadBudget`], returned on drop (also when whisper fails or panics).
struct Threads<'a> {
    budget: &'a ThreadBudget,
    n: usize,
}

impl Drop for Threads<'_> {
    fn drop(&mut self) {
        let mut free = self.budget.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += self.n;
        self.budget.freed.notify_all();
    }
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber")
            .field("model", &self.model_name)
            .field("opts", &self.opts)
            .finish()
    }
}

/// A model's display name from its file name: `ggml-tiny.en.bin` → `tiny.en`.
pub fn model_name_from_path(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".bin").unwrap_or(&name);
    name.strip_prefix("ggml-").unwrap_or(name).to_owned()
}

impl Transcriber {
    /// Loads a whisper.cpp ggml model. The file is checked first (magic, hparams, every tensor's
    /// shape), so a wrong or damaged file gives a precise error instead of whisper.cpp's.
    pub fn load(model: &Path, opts: TranscribeOptions) -> Result<Self, TranscribeError> {
        let mut opts = opts;
        if opts.language != "auto" {
            opts.language = language_code(&opts.language)
                .ok_or_else(|| TranscribeError::UnknownLanguage(opts.language.clone()))?
                .to_owned();
        }
        let info = GgmlModelInfo::from_path(model).map_err(|source| TranscribeError::Model {
            path: model.to_owned(),
            source,
        })?;
        info.validate().map_err(|source| TranscribeError::Model {
            path: model.to_owned(),
            source,
        })?;
        // whisper.cpp logs to stderr by default; route it into `tracing` instead (once per
        // process), because a library must not print.
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.flash_attn(opts.flash_attention);
        let path_str = model.to_str().ok_or_else(|| TranscribeError::Load {
            path: model.to_owned(),
            reason: "the path is not UTF-8".into(),
        })?;
        let ctx = WhisperContext::new_with_params(path_str, params).map_err(|e| {
            TranscribeError::Load {
                path: model.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let multilingual = ctx.is_multilingual();
        if !multilingual && opts.language != "en" {
            return Err(TranscribeError::EnglishOnly {
                model: model_name_from_path(model),
                language: opts.language.clone(),
            });
        }
        Ok(Transcriber {
            ctx,
            model_name: model_name_from_path(model),
            budget: ThreadBudget::new(opts.threads),
            states: Mutex::new(Vec::new()),
            opts,
        })
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    pub fn options(&self) -> &TranscribeOptions {
        &self.opts
    }

    /// Transcribes every leg and merges them into one transcript ordered by time. `meta` is left
    /// default; `duration_ms` is the longest leg. The legs' chunks run in parallel, within the
    /// transcriber's thread budget.
    pub fn transcribe(&self, legs: &[Leg]) -> Result<Transcript, TranscribeError> {
        let activity = self.activity(legs);
        let language = self.call_language(legs, &activity)?;
        let mut jobs: Vec<Job> = Vec::new();
        for (leg_index, (leg, act)) in legs.iter().zip(&activity).enumerate() {
            for feed in self.feeds(leg, act) {
                jobs.push(Job { leg_index, feed });
            }
        }
        let results = self.run_jobs(legs, &jobs, language.as_deref());

        let mut per_leg: Vec<Vec<Segment>> = vec![Vec::new(); legs.len()];
        for (job, result) in jobs.iter().zip(results) {
            per_leg[job.leg_index].extend(result?);
        }
        let mut transcript = Transcript {
            duration_ms: legs.iter().map(Leg::duration_ms).max().unwrap_or(0),
            model: self.model_name.clone(),
            language,
            ..Default::default()
        };
        for (mut segments, act) in per_leg.into_iter().zip(&activity) {
            if self.opts.drop_hallucinations {
                segments.retain(|s| !is_hallucination(s, act));
            }
            transcript.segments.extend(segments);
        }
        transcript.normalise();
        Ok(transcript)
    }

    /// Runs every job on up to `threads` worker threads fed from a queue, longest chunk first so
    /// that the last one to finish is short. Results come back in the jobs' order.
    fn run_jobs(&self, legs: &[Leg], jobs: &[Job], language: Option<&str>) -> Vec<JobResult> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let workers = jobs.len().min(self.opts.threads.max(1));
        // Few chunks on many cores: each chunk gets several threads instead.
        let threads_each = (self.opts.threads / workers).max(1);
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        // `pop` takes from the end: the longest chunk goes first.
        order.sort_by_key(|&i| jobs[i].feed.audio.len());
        let queue = Mutex::new(order);
        let results: Vec<Mutex<Option<JobResult>>> =
            jobs.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let Some(i) = next else { break };
                    let job = &jobs[i];
                    let speaker = legs[job.leg_index].speaker;
                    let threads = self.budget.take(threads_each);
                    let result = self.run_job(speaker, &job.feed, threads.n, language);
                    drop(threads);
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                });
            }
        });
        results
            .into_iter()
            .zip(jobs)
            .map(|(r, job)| {
                r.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    // A worker that panicked left its job without a result.
                    .unwrap_or(Err(TranscribeError::Worker {
                        speaker: legs[job.leg_index].speaker,
                    }))
            })
            .collect()
    }

    fn run_job(
        &self,
        speaker: Speaker,
        feed: &Feed,
        threads: usize,
        language: Option<&str>,
    ) -> Result<Vec<Segment>, TranscribeError> {
        let err = |e: whisper_rs::WhisperError| TranscribeError::Whisper {
            speaker,
            reason: e.to_string(),
        };
        // whisper.cpp's beam search is not independent of what an earlier run left in a state:
        // the same file decoded twice in one process on a reused state came out with different
        // words. Greedy decoding is (checked the same way), so only it reuses states.
        let reuse = self.opts.beam_size <= 1;
        let pooled = if reuse {
            self.states.lock().unwrap_or_else(|p| p.into_inner()).pop()
        } else {
            None
        };
        let mut state = match pooled {
            Some(state) => state,
            None => self.ctx.create_state().map_err(err)?,
        };
        let mut segments = Vec::new();
        let mut tail: Option<Feed> = None;
        let mut before_seam: Vec<Vec<u8>> = Vec::new();
        for _ in 0..MAX_RESUMES + 1 {
            let current = tail.as_ref().unwrap_or(feed);
            let mut words = self
                .run_whisper(&mut state, current, threads, language)
                .map_err(err)?;
            if tail.is_some() {
                let repeated = repeated_at_seam(&before_seam, &words, self.opts.lead_in_ms);
                words.drain(..repeated);
            }
            before_seam = words
                .iter()
                .rev()
                .take(SEAM_WORDS)
                .rev()
                .map(|w| w.bytes.clone())
                .collect();
            // whisper sometimes ends a window early (an end-of-text token after the first
            // sentence) and its seek then skips the rest of the window: a chunk's remaining
            // speech would be lost without a trace. Resume after the last word instead.
            let covered = words.last().map_or(0, |w| w.t1_ms);
            let next = current.tail_after(covered, RESUME_AFTER_MS);
            segments.extend(words_to_segments(speaker, current, words));
            match next {
                Some(next) => tail = Some(next.with_lead_in(self.opts.lead_in_ms)),
                None => break,
            }
        }
        // A state is only put back after a successful run: after an error its contents are
        // unknown, and a fresh one is cheap next to a failed call.
        if reuse {
            self.states
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(state);
        }
        Ok(segments)
    }

    /// Voice activity of each leg as [`Transcriber::transcribe`] sees it (for diagnostics).
    pub fn activity(&self, legs: &[Leg]) -> Vec<LegActivity> {
        let samples: Vec<&[f32]> = legs.iter().map(|l| l.samples.as_slice()).collect();
        let mut acts = vad::detect(&samples, &self.opts.vad);
        if !self.opts.use_vad {
            for (a, leg) in acts.iter_mut().zip(legs) {
                a.regions = if leg.samples.is_empty() {
                    vec![]
                } else {
                    vec![SpeechRegion {
                        start: 0,
                        end: leg.samples.len(),
                    }]
                };
            }
        }
        acts
    }

    /// The language this call is decoded in: the one given, or with "auto" the one whisper
    /// detects on the first 30 s of speech of the leg that has the most (None: nobody spoke).
    /// Detected once per call, not per leg, so that every leg is decoded in the same language:
    /// a leg with a few short replies ("嗯", "OK") is where detection goes wrong, and decoding
    /// it in a wrong language turns it into a translation or noise.
    pub fn call_language(
        &self,
        legs: &[Leg],
        activity: &[LegActivity],
    ) -> Result<Option<String>, TranscribeError> {
        if self.opts.language != "auto" {
            return Ok(Some(self.opts.language.clone()));
        }
        let Some((leg, act)) = legs
            .iter()
            .zip(activity)
            .filter(|(_, a)| !a.regions.is_empty())
            .max_by_key(|(_, a)| a.regions.iter().map(|r| r.len()).sum::<usize>())
        else {
            return Ok(None);
        };
        let err = |e: whisper_rs::WhisperError| TranscribeError::Whisper {
            speaker: leg.speaker,
            reason: format!("language detection: {e}"),
        };
        let feed = Feed::join(&leg.samples, act, &act.regions, self.opts.join_gap_ms);
        let mut state = self.ctx.create_state().map_err(err)?;
        let threads = self.opts.threads.max(1);
        state.pcm_to_mel(&feed.audio, threads).map_err(err)?;
        let (id, _probabilities) = state.lang_detect(0, threads).map_err(err)?;
        Ok(whisper_rs::get_lang_str(id).map(str::to_owned))
    }

    /// What whisper is given for one leg, per [`FeedMode`].
    fn feeds(&self, leg: &Leg, act: &LegActivity) -> Vec<Feed> {
        if act.regions.is_empty() {
            return Vec::new();
        }
        let gap = self.opts.join_gap_ms;
        match self.opts.feed {
            FeedMode::Packed => pack(&act.regions, self.opts.max_chunk_ms, gap)
                .into_iter()
                .map(|chunk| {
                    let mut feed = Feed::join(&leg.samples, act, chunk, gap)
                        .with_lead_in(self.opts.lead_in_ms);
                    if self.opts.fit_audio_ctx {
                        feed.audio_ctx = fitted_audio_ctx(feed.audio.len());
                    }
                    feed
                })
                .collect(),
            FeedMode::Concatenated => vec![Feed::join(&leg.samples, act, &act.regions, gap)],
            FeedMode::PerRegion => act
                .regions
                .iter()
                .map(|r| Feed::join(&leg.samples, act, std::slice::from_ref(r), 0))
                .collect(),
        }
    }

    fn run_whisper(
        &self,
        state: &mut WhisperState,
        feed: &Feed,
        threads: usize,
        language: Option<&str>,
    ) -> Result<Vec<RawWord>, whisper_rs::WhisperError> {
        let strategy = match self.opts.beam_size {
            0 | 1 => SamplingStrategy::Greedy { best_of: 1 },
            n => SamplingStrategy::BeamSearch {
                beam_size: n as i32,
                // whisper.cpp's default: stop when `beam_size` hypotheses have ended.
                patience: -1.0,
            },
        };
        let mut p = FullParams::new(strategy);
        p.set_n_threads(threads as i32);
        if let Some(ctx) = feed.audio_ctx {
            p.set_audio_ctx(ctx as i32);
        }
        // whisper's default is English; the call's language is decided once, in `call_language`.
        if let Some(lang) = language.filter(|l| *l != "en") {
            p.set_language(Some(lang));
        }
        p.set_translate(false);
        // Every leg and region stands alone: text from a previous window must not leak in.
        p.set_no_context(true);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_token_timestamps(self.opts.token_timestamps);
        if !self.opts.temperature_fallback {
            p.set_temperature_inc(0.0);
        }
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        state.full(p, &feed.audio)?;

        let eot = self.ctx.token_eot();
        let mut words: Vec<RawWord> = Vec::new();
        for (seg_idx, seg) in state.as_iter().enumerate() {
            let mut first_in_segment = true;
            for k in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(k) else {
                    continue;
                };
                let data = tok.token_data();
                // Special tokens (end of text, timestamps, language…) all sit at or past EOT.
                if data.id >= eot {
                    continue;
                }
                let bytes = tok.to_bytes()?;
                if bytes.is_empty() {
                    continue;
                }
                let (t0, t1) = (
                    data.t0.max(0) as u64 * 10,
                    data.t1.max(data.t0).max(0) as u64 * 10,
                );
                let spaced = bytes[0] == b' ';
                // Chinese and Japanese are written without spaces: each ideograph (or kana)
                // token is a word of its own, so segments can still be cut at speech regions
                // and evidence can point at the characters themselves.
                let starts_word = first_in_segment || spaced || starts_ideograph(bytes);
                first_in_segment = false;
                match words.last_mut() {
                    Some(w) if !starts_word => {
                        w.bytes.extend_from_slice(bytes);
                        w.t1_ms = w.t1_ms.max(t1);
                    }
                    _ => words.push(RawWord {
                        bytes: bytes.to_vec(),
                        t0_ms: t0,
                        t1_ms: t1,
                        segment: seg_idx,
                        spaced,
                    }),
                }
            }
        }
        let feed_ms = feed.audio.len() as u64 * 1000 / SAMPLE_RATE as u64;
        drop_repeats_at_segment_seams(&mut words, feed_ms);
        Ok(words)
    }
}

/// Words compared on each side of a resumed window's seam (see [`repeated_at_seam`]).
const SEAM_WORDS: usize = 6;
/// How soon after a resumed window starts (past its lead-in) a repeated word may begin.
const SEAM_REPEAT_WITHIN_MS: u64 = 1500;
/// How far before the end of whisper's 30 s window its last segment may end for the next
/// window's first words to be checked for a repetition.
const WINDOW_SEAM_SLACK_MS: u64 = 5000;

/// How many of a resumed window's first words repeat the last words before the seam. The
/// resume point is the last word's end by whisper's token timestamps, which are loose at the end
/// of a window: the real end of speech is often later, so the next window hears those words
/// again. Only a repetition that starts right at the seam counts, so someone saying the same
/// words again later is kept.
fn repeated_at_seam(before: &[Vec<u8>], after: &[RawWord], lead_in_ms: u32) -> usize {
    let starts_at_seam = after
        .first()
        .is_some_and(|w| w.t0_ms <= lead_in_ms as u64 + SEAM_REPEAT_WITHIN_MS);
    if !starts_at_seam {
        return 0;
    }
    let before: Vec<&[u8]> = before.iter().map(Vec::as_slice).collect();
    let after: Vec<&[u8]> = after.iter().map(|w| w.bytes.as_slice()).collect();
    repeat_len(&before, &after)
}

/// The same inside one whisper run: whisper moves to its next 30 s window from the last
/// timestamp it wrote and may hear the end of the previous segment again ("… thank you very
/// much." then "very much. Thank you. Bye." on the real mono call, 300 ms later). Checked only
/// where windows meet: at the last segment end of a window, when that is at most
/// [`WINDOW_SEAM_SLACK_MS`] before the window's end and the feed goes on past it. Elsewhere the
/// same words at the start of the next segment are speech: on a mono call, the caller answering
/// "the new one or the regular Chromecast?" with "Regular Chromecast is fine". A repetition is
/// dropped only right after the segment before and with fewer words than it had.
fn drop_repeats_at_segment_seams(words: &mut Vec<RawWord>, feed_ms: u64) {
    const WINDOW_MS: u64 = 30_000;
    let mut window_start = 0u64;
    let mut i = 1;
    while i < words.len() {
        if words[i].segment == words[i - 1].segment {
            i += 1;
            continue;
        }
        let window_end = window_start + WINDOW_MS;
        let prev_end = words[i - 1].t1_ms;
        if prev_end > window_end {
            // Lost track of whisper's windows (a window with no segment end): follow the text.
            window_start = prev_end;
            i += 1;
            continue;
        }
        let this_segment_end = words[i..]
            .windows(2)
            .find(|w| w[0].segment != w[1].segment)
            .map(|w| w[0].t1_ms);
        if this_segment_end.is_some_and(|e| e <= window_end) {
            i += 1;
            continue;
        }
        // The window's last segment ends here: whisper's next window starts from it.
        window_start = prev_end;
        let at_edge = prev_end + WINDOW_SEAM_SLACK_MS >= window_end && window_end < feed_ms;
        let soon = words[i].t0_ms <= prev_end + SEAM_REPEAT_WITHIN_MS;
        if !(at_edge && soon) {
            i += 1;
            continue;
        }
        let prev_start = words[..i]
            .iter()
            .rposition(|w| w.segment != words[i - 1].segment)
            .map_or(0, |p| p + 1);
        let next_end = words[i..]
            .iter()
            .position(|w| w.segment != words[i].segment)
            .map_or(words.len(), |p| i + p);
        let before: Vec<&[u8]> = words[prev_start..i]
            .iter()
            .map(|w| w.bytes.as_slice())
            .collect();
        let after: Vec<&[u8]> = words[i..next_end]
            .iter()
            .map(|w| w.bytes.as_slice())
            .collect();
        let k = repeat_len(&before, &after);
        if k < before.len() {
            words.drain(i..i + k);
        }
        i += 1;
    }
}

/// The longest run of two or more words (at most [`SEAM_WORDS`]) that ends `before` and starts
/// `after`, compared without case or punctuation. One word is not enough: speech repeats one
/// across a sentence end all the time ("we never knew it. It came with the house", a long
/// bench call, lost its "It" when one counted).
fn repeat_len(before: &[&[u8]], after: &[&[u8]]) -> usize {
    let norm = |b: &[u8]| -> Vec<u8> {
        b.iter()
            .filter(|c| c.is_ascii_alphanumeric() || **c >= 0x80)
            .map(u8::to_ascii_lowercase)
            .collect()
    };
    (2..=before.len().min(after.len()).min(SEAM_WORDS))
        .rev()
        .find(|&k| {
            before[before.len() - k..]
                .iter()
                .zip(&after[..k])
                .all(|(a, b)| {
                    let (a, b) = (norm(a), norm(b));
                    !a.is_empty() && a == b
                })
        })
        .unwrap_or(0)
}

/// A word as whisper produced it, in feed time.
#[derive(Debug, Clone)]
struct RawWord {
    bytes: Vec<u8>,
    t0_ms: u64,
    t1_ms: u64,
    segment: usize,
    /// Whisper wrote a space before it (English words); ideographs follow without one.
    spaced: bool,
}

/// Whether a token's bytes begin with an ideograph or kana (U+3040–U+9FFF, U+F900–U+FAFF):
/// the lead byte decides, because byte-level tokens may split a character across tokens.
fn starts_ideograph(bytes: &[u8]) -> bool {
    match bytes {
        [0xE3, b1, ..] => *b1 >= 0x81, // U+3040 onwards (kana, CJK punctuation is U+3000–303F)
        [0xE4..=0xE9, ..] => true,     // U+4000–U+9FFF: CJK extension A and unified ideographs
        [0xEF, 0xA4..=0xAB, ..] => true, // U+F900–U+FAFF: compatibility ideographs
        _ => false,
    }
}

/// Audio handed to whisper, and where each piece of it came from in the call.
struct Feed {
    audio: Vec<f32>,
    /// (feed start ms, call start ms, length ms) per region, in order.
    pieces: Vec<(u64, u64, u64)>,
    /// Encoder positions to run (20 ms each); `None`: whisper's full 1500 (30 s).
    audio_ctx: Option<usize>,
}

/// Speech left after a feed's last word that is worth another whisper run. Token timestamps
/// run early at the end of a window, so a smaller margin re-transcribes speech already
/// transcribed: at 2 s a resumed tail fell into a repetition loop on a fixture ("… thank for
/// calling" twenty times). Only a window that whisper really gave up on is resumed.
const RESUME_AFTER_MS: u64 = 8000;
/// Further runs on one feed at most.
const MAX_RESUMES: usize = 1;

type JobResult = Result<Vec<Segment>, TranscribeError>;

/// One whisper run: a feed of one leg.
struct Job {
    leg_index: usize,
    feed: Feed,
}

/// Packs a leg's regions, in order, into chunks whose audio (regions and the `gap_ms` silences
/// between them) is at most `max_ms` long; a region longer than that is a chunk of its own.
fn pack(regions: &[SpeechRegion], max_ms: u32, gap_ms: u32) -> Vec<&[SpeechRegion]> {
    let max = SAMPLE_RATE as usize * max_ms as usize / 1000;
    let gap = SAMPLE_RATE as usize * gap_ms as usize / 1000;
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut len = 0;
    for (i, r) in regions.iter().enumerate() {
        if i > start && len + gap + r.len() > max {
            chunks.push(&regions[start..i]);
            start = i;
            len = 0;
        }
        len += if i > start { gap } else { 0 } + r.len();
    }
    if start < regions.len() {
        chunks.push(&regions[start..]);
    }
    chunks
}

/// whisper's encoder positions (20 ms each) for a feed of `samples`, with a margin so the last
/// word is not at the very edge of the window; `None` when the full window is needed anyway.
fn fitted_audio_ctx(samples: usize) -> Option<usize> {
    const FULL: usize = 1500;
    const MARGIN: usize = 32;
    let needed = samples.div_ceil(SAMPLE_RATE as usize / 50);
    let ctx = (needed + MARGIN).next_multiple_of(32);
    (ctx < FULL).then_some(ctx)
}

/// whisper.cpp returns nothing for less than a second of audio (and older builds crashed on
/// near-empty input), so short feeds are padded with silence to this length.
const MIN_FEED_SAMPLES: usize = SAMPLE_RATE as usize * 1100 / 1000;

impl Feed {
    fn join(samples: &[f32], act: &LegActivity, regions: &[SpeechRegion], gap_ms: u32) -> Feed {
        let gap = SAMPLE_RATE as usize * gap_ms as usize / 1000;
        let to_ms = |n: usize| n as u64 * 1000 / SAMPLE_RATE as u64;
        let mut audio = Vec::with_capacity(regions.iter().map(|r| r.len() + gap).sum());
        let mut pieces = Vec::with_capacity(regions.len());
        for (i, r) in regions.iter().enumerate() {
            if i > 0 {
                audio.resize(audio.len() + gap, 0.0);
            }
            pieces.push((to_ms(audio.len()), r.start_ms(), to_ms(r.len())));
            audio.extend(act.without_bleed(samples, *r));
        }
        if audio.len() < MIN_FEED_SAMPLES {
            audio.resize(MIN_FEED_SAMPLES, 0.0);
        }
        Feed {
            audio,
            pieces,
            audio_ctx: None,
        }
    }

    /// What of this feed's speech comes after feed time `after_ms`, when at least `min_ms` of
    /// speech is left there (`None` otherwise): a feed of its own, mapped to the same call time.
    fn tail_after(&self, after_ms: u64, min_ms: u64) -> Option<Feed> {
        let left: u64 = self
            .pieces
            .iter()
            .map(|&(start, _, len)| (start + len).saturating_sub(after_ms.max(start)))
            .sum();
        if left < min_ms {
            return None;
        }
        let cut = (after_ms * SAMPLE_RATE as u64 / 1000) as usize;
        let mut audio = self.audio[cut.min(self.audio.len())..].to_vec();
        if audio.len() < MIN_FEED_SAMPLES {
            audio.resize(MIN_FEED_SAMPLES, 0.0);
        }
        let pieces = self
            .pieces
            .iter()
            .filter(|&&(start, _, len)| start + len > after_ms)
            .map(|&(start, call_start, len)| {
                let skipped = after_ms.saturating_sub(start);
                (
                    start.saturating_sub(after_ms),
                    call_start + skipped,
                    len - skipped,
                )
            })
            .collect();
        Some(Feed {
            audio,
            pieces,
            audio_ctx: self.audio_ctx,
        })
    }

    /// The same feed after `ms` of silence: whisper often drops the first word of audio that
    /// starts with speech at its very first sample (a call answered mid-word, a region whose
    /// pre-roll is cut by the start of the file).
    fn with_lead_in(mut self, ms: u32) -> Feed {
        if ms == 0 {
            return self;
        }
        let n = SAMPLE_RATE as usize * ms as usize / 1000;
        let mut audio = vec![0.0f32; n];
        audio.extend_from_slice(&self.audio);
        self.audio = audio;
        for piece in &mut self.pieces {
            piece.0 += ms as u64;
        }
        self
    }

    /// The region a word belongs to. whisper.cpp's token timestamps are loose at pauses: the
    /// first word after a gap is often timed inside the gap or at the end of the region before
    /// (a token starts where the previous one ended), and a region's last word may run into the
    /// gap. So a word whose midpoint lies near a gap between two regions is placed by the
    /// sentence around it: after a sentence end (". ? !") it starts the next region; ending one
    /// itself, it closes the region before. Elsewhere the region holding the midpoint (or the
    /// nearest) wins. Measured on the fixtures with 300 ms gaps, this misplaced the fewest
    /// boundary words (overlap, end-only and longer gaps all did worse).
    fn piece_of(&self, t0: u64, t1: u64, prev_text: Option<&str>, text: &str) -> usize {
        const NEAR_MS: u64 = 150;
        let mid = (t0 + t1) / 2;
        let ends_sentence = |t: &str| t.trim_end().ends_with(['.', '?', '!']);
        for i in 0..self.pieces.len().saturating_sub(1) {
            let (start, _, len) = self.pieces[i];
            let next_start = self.pieces[i + 1].0;
            if mid + NEAR_MS >= start + len && mid <= next_start + NEAR_MS {
                if prev_text.is_some_and(ends_sentence) {
                    return i + 1;
                }
                if ends_sentence(text) || text.trim_end().ends_with(',') {
                    return i;
                }
                break;
            }
        }
        let distance = |&(start, _, len): &(u64, u64, u64)| {
            if mid < start {
                start - mid
            } else {
                mid.saturating_sub(start + len)
            }
        };
        (0..self.pieces.len())
            .min_by_key(|&i| distance(&self.pieces[i]))
            .unwrap_or(0)
    }

    /// Feed time → call time within a region (clamped to it).
    fn to_call_ms(&self, piece: usize, t: u64) -> u64 {
        let (start, call_start, len) = self.pieces[piece];
        call_start + t.saturating_sub(start).min(len)
    }
}

/// Groups words into segments: a new segment at each whisper segment and at each region boundary.
fn words_to_segments(speaker: Speaker, feed: &Feed, words: Vec<RawWord>) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut current_key = None;
    let mut prev_text: Option<String> = None;
    let mut prev_piece = 0usize;
    for w in words {
        let raw = String::from_utf8_lossy(&w.bytes).into_owned();
        let mut piece = feed.piece_of(w.t0_ms, w.t1_ms, prev_text.as_deref(), &raw);
        // Words come in spoken order: once a word has started a region, the next one cannot
        // fall back into the region before ("Thanks | for holding" must stay together).
        if piece + 1 == prev_piece {
            piece = prev_piece;
        }
        prev_piece = piece;
        prev_text = Some(raw);
        let start = feed.to_call_ms(piece, w.t0_ms);
        let end = feed.to_call_ms(piece, w.t1_ms).max(start);
        let text = String::from_utf8_lossy(&w.bytes).trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let word = Word {
            start_ms: start,
            end_ms: end,
            text,
        };
        let key = (w.segment, piece);
        match segments.last_mut() {
            Some(seg) if current_key == Some(key) => {
                seg.end_ms = seg.end_ms.max(end);
                if w.spaced {
                    seg.text.push(' ');
                }
                seg.text.push_str(&word.text);
                seg.words.push(word);
            }
            _ => {
                segments.push(Segment {
                    speaker,
                    start_ms: start,
                    end_ms: end,
                    text: word.text.clone(),
                    words: vec![word],
                    ..Default::default()
                });
                current_key = Some(key);
            }
        }
    }
    segments
}

/// Phrases whisper writes on silence or noise ("Thank you." is the classic). Compared after
/// lower-casing and stripping punctuation.
const STOCK_PHRASES: &[&str] = &[
    "thank you",
    "thanks",
    "thank you very much",
    "thanks for watching",
    "thank you for watching",
    "you",
    "bye",
    "okay",
    "so",
    "uh",
    "um",
    "hmm",
];

fn normalise_phrase(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A segment is dropped when it is a non-speech annotation (`[BLANK_AUDIO]`, `(music)`, `*cough*`),
/// or a stock phrase where the leg has almost no voiced audio under it.
fn is_hallucination(seg: &Segment, act: &LegActivity) -> bool {
    let t = seg.text.trim();
    let annotation = |open: char, close: char| t.starts_with(open) && t.ends_with(close);
    if annotation('[', ']') || annotation('(', ')') || annotation('*', '*') || annotation('♪', '♪')
    {
        return true;
    }
    let phrase = normalise_phrase(t);
    if phrase.is_empty() {
        return true;
    }
    STOCK_PHRASES.contains(&phrase.as_str())
        && act.voiced_fraction(seg.start_ms, seg.end_ms.max(seg.start_ms + 1)) < 0.3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start_ms: u64, end_ms: u64) -> SpeechRegion {
        let s = |ms: u64| (ms * SAMPLE_RATE as u64 / 1000) as usize;
        SpeechRegion {
            start: s(start_ms),
            end: s(end_ms),
        }
    }

    /// Activity with no bleed anywhere, for feeds built from given regions.
    fn no_bleed(samples: &[f32]) -> LegActivity {
        vad::detect(&[samples], &VadOptions::default()).remove(0)
    }

    fn raw(text: &str, t0_ms: u64) -> RawWord {
        RawWord {
            bytes: text.as_bytes().to_vec(),
            t0_ms,
            t1_ms: t0_ms + 300,
            segment: 0,
            spaced: true,
        }
    }

    fn said(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    /// The real mono call's seam: "… Thank you very much." then " very much. Thank you. Bye."
    #[test]
    fn words_heard_again_right_after_a_resume_are_dropped() {
        let before = said(&[
            " It's", " on", " the", " way.", " Thank", " you", " very", " much.",
        ]);
        let after = [
            raw(" very", 600),
            raw(" much.", 900),
            raw(" Thank", 3000),
            raw(" you.", 3300),
        ];
        assert_eq!(repeated_at_seam(&before[2..], &after, 500), 2);
        // Case and punctuation do not hide a repetition.
        let after = [raw(" Very", 600), raw(" much", 900)];
        assert_eq!(repeated_at_seam(&before[2..], &after, 500), 2);
    }

    fn in_segment(segment: usize, text: &str, t0_ms: u64) -> RawWord {
        RawWord {
            segment,
            ..raw(text, t0_ms)
        }
    }

    fn texts(words: &[RawWord]) -> Vec<String> {
        words
            .iter()
            .map(|w| String::from_utf8_lossy(&w.bytes).trim().to_string())
            .collect()
    }

    /// What whisper wrote on the real mono call at its 30 s window boundary.
    #[test]
    fn a_segment_that_starts_by_hearing_the_last_words_again_loses_them() {
        let mut words = vec![
            in_segment(13, " Thank", 28_190),
            in_segment(13, " you", 28_280),
            in_segment(13, " very", 28_410),
            in_segment(13, " much.", 28_620),
            in_segment(14, " very", 29_190),
            in_segment(14, " much.", 30_580),
            in_segment(14, " Thank", 31_460),
            in_segment(14, " you.", 32_230),
            in_segment(14, " Bye.", 33_160),
        ];
        drop_repeats_at_segment_seams(&mut words, 34_000);
        assert_eq!(
            texts(&words),
            ["Thank", "you", "very", "much.", "Thank", "you.", "Bye."]
        );
    }

    /// At whisper's window edge (28 s into a 34 s feed), what is speech stays.
    #[test]
    fn a_phrase_said_twice_or_later_stays() {
        // A whole segment said again: "Thank you. Thank you."
        let mut twice = vec![
            in_segment(0, " Thank", 28_000),
            in_segment(0, " you.", 28_300),
            in_segment(1, " Thank", 28_900),
            in_segment(1, " you.", 29_200),
        ];
        drop_repeats_at_segment_seams(&mut twice, 34_000);
        assert_eq!(twice.len(), 4);
        // The last words again, but seconds later.
        let mut later = vec![
            in_segment(0, " is", 27_000),
            in_segment(0, " that", 27_300),
            in_segment(0, " right?", 27_600),
            in_segment(1, " that", 31_000),
            in_segment(1, " right.", 31_300),
        ];
        drop_repeats_at_segment_seams(&mut later, 34_000);
        assert_eq!(later.len(), 5);
        // One word again right away: "No, we never knew it. It came with the house."
        let mut knew = vec![
            in_segment(0, " we", 27_000),
            in_segment(0, " never", 27_300),
            in_segment(0, " knew", 27_600),
            in_segment(0, " it.", 27_900),
            in_segment(1, " It", 28_400),
            in_segment(1, " came", 28_700),
        ];
        drop_repeats_at_segment_seams(&mut knew, 34_000);
        assert_eq!(knew.len(), 6);
    }

    /// An answer that echoes the question, inside a window: the real mono call's caller.
    #[test]
    fn an_answer_echoing_the_question_stays() {
        let mut words = vec![
            in_segment(7, " or", 22_000),
            in_segment(7, " the", 22_300),
            in_segment(7, " regular", 22_600),
            in_segment(7, " Chromecast?", 22_900),
            in_segment(8, " Regular", 24_000),
            in_segment(8, " Chromecast", 24_400),
            in_segment(8, " is", 26_000),
            in_segment(8, " fine.", 26_300),
            in_segment(9, " Okay,", 28_000),
            in_segment(9, " sure.", 28_300),
        ];
        drop_repeats_at_segment_seams(&mut words, 34_000);
        assert_eq!(words.len(), 10);
        // The same words at the edge of a feed that ends there: no next window to hear them.
        let mut words = vec![
            in_segment(0, " Thank", 28_190),
            in_segment(0, " you", 28_280),
            in_segment(0, " very", 28_410),
            in_segment(0, " much.", 28_620),
            in_segment(1, " very", 29_190),
            in_segment(1, " much.", 29_580),
        ];
        drop_repeats_at_segment_seams(&mut words, 29_900);
        assert_eq!(words.len(), 6);
    }

    #[test]
    fn words_said_again_later_or_different_words_are_kept() {
        let before = said(&[" thank", " you"]);
        // The same words, but well after the seam: said again, not heard again.
        let later = [raw(" thank", 4000), raw(" you", 4300)];
        assert_eq!(repeated_at_seam(&before, &later, 500), 0);
        // Different words at the seam.
        let other = [raw(" bye", 600), raw(" now", 900)];
        assert_eq!(repeated_at_seam(&before, &other, 500), 0);
        // One word again is speech, not a seam: "… knew it. It came with the house."
        let knew = said(&[" we", " never", " knew", " it."]);
        let it = [raw(" It", 600), raw(" came", 900)];
        assert_eq!(repeated_at_seam(&knew, &it, 500), 0);
        let partial = [raw(" you", 600), raw(" too", 900)];
        assert_eq!(repeated_at_seam(&before, &partial, 500), 0);
        assert_eq!(repeated_at_seam(&[], &partial, 500), 0);
        assert_eq!(repeated_at_seam(&before, &[], 500), 0);
    }

    #[test]
    fn feed_maps_words_back_to_their_region() {
        let samples = vec![0.1f32; SAMPLE_RATE as usize * 20];
        let feed = Feed::join(
            &samples,
            &no_bleed(&samples),
            &[region(1000, 3000), region(10_000, 11_000)],
            300,
        );
        assert_eq!(feed.pieces, vec![(0, 1000, 2000), (2300, 10_000, 1000)]);
        assert_eq!(feed.audio.len(), SAMPLE_RATE as usize * 3300 / 1000);
        // A word at 2.5–2.9 s of the feed is in the second region: call time 10.2–10.6 s.
        let p = feed.piece_of(2500, 2900, Some(" said"), " this");
        assert_eq!(p, 1);
        assert_eq!(feed.to_call_ms(p, 2500), 10_200);
        // A word timed inside the gap after a sentence end starts the next region, at its edge.
        let p = feed.piece_of(1900, 2100, Some(" there."), " And");
        assert_eq!(p, 1);
        assert_eq!(feed.to_call_ms(p, 1900), 10_000);
        // A word timed inside the gap that ends a sentence closes the region before.
        let p = feed.piece_of(2100, 2400, Some(" the"), " bill?");
        assert_eq!(p, 0);
        assert_eq!(feed.to_call_ms(p, 2400), 3000);
        // Otherwise the midpoint decides.
        assert_eq!(feed.piece_of(1950, 2050, Some(" the"), " big"), 0);
    }

    #[test]
    fn the_tail_of_a_feed_maps_to_the_same_call_time() {
        let samples = vec![0.1f32; SAMPLE_RATE as usize * 20];
        let feed = Feed::join(
            &samples,
            &no_bleed(&samples),
            &[region(1000, 3000), region(10_000, 14_000)],
            300,
        );
        // Words covered the feed up to 3.3 s: 1 s into the second region (which starts at
        // 2.3 s of the feed), so 3 s of it are left.
        let tail = feed.tail_after(3300, 2000).expect("3 s of speech left");
        assert_eq!(tail.pieces, vec![(0, 11_000, 3000)]);
        assert_eq!(
            tail.audio.len(),
            feed.audio.len() - SAMPLE_RATE as usize * 3300 / 1000
        );
        assert_eq!(tail.to_call_ms(0, 500), 11_500);
        // Cut inside the gap: the second region whole.
        let tail = feed.tail_after(2100, 2000).unwrap();
        assert_eq!(tail.pieces, vec![(200, 10_000, 4000)]);
        // Little left: no tail.
        assert!(feed.tail_after(5000, 2000).is_none());
        assert!(feed.tail_after(99_000, 2000).is_none());
    }

    #[test]
    fn short_feeds_are_padded_to_more_than_a_second() {
        let samples = vec![0.1f32; SAMPLE_RATE as usize];
        let feed = Feed::join(&samples, &no_bleed(&samples), &[region(100, 400)], 300);
        assert!(feed.audio.len() >= SAMPLE_RATE as usize);
    }

    #[test]
    fn segments_are_cut_at_region_boundaries() {
        let samples = vec![0.1f32; SAMPLE_RATE as usize * 20];
        let feed = Feed::join(
            &samples,
            &no_bleed(&samples),
            &[region(1000, 3000), region(10_000, 12_000)],
            300,
        );
        let w = |text: &str, t0, t1| RawWord {
            bytes: text.as_bytes().to_vec(),
            t0_ms: t0,
            t1_ms: t1,
            segment: 0,
            spaced: text.starts_with(' '),
        };
        let segs = words_to_segments(
            Speaker::Agent,
            &feed,
            vec![
                w(" Hello", 100, 500),
                w(" there.", 600, 1900),
                w(" How", 2400, 2700),
                w(" are", 2700, 2900),
                w(" you?", 2900, 3200),
            ],
        );
        assert_eq!(segs.len(), 2);
        assert_eq!(
            (segs[0].text.as_str(), segs[0].start_ms, segs[0].end_ms),
            ("Hello there.", 1100, 2900)
        );
        assert_eq!(
            (segs[1].text.as_str(), segs[1].start_ms, segs[1].end_ms),
            ("How are you?", 10_100, 10_900)
        );
        assert_eq!(segs[1].words.len(), 3);

        // "Thanks" starts the next region after a sentence end; "for", timed in the gap too,
        // follows it rather than falling back.
        let segs = words_to_segments(
            Speaker::Agent,
            &feed,
            vec![
                w(" Please", 100, 500),
                w(" hold.", 600, 1950),
                w(" Thanks", 1950, 2000),
                w(" for", 2000, 2050),
                w(" holding.", 2400, 3000),
            ],
        );
        assert_eq!(
            segs.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
            vec!["Please hold.", "Thanks for holding."]
        );
        assert_eq!(segs[1].start_ms, 10_000);
        assert!(segs.iter().all(|s| s.speaker == Speaker::Agent));
    }

    #[test]
    fn stock_phrases_are_dropped_only_on_non_speech() {
        let sr = SAMPLE_RATE as usize;
        let mut leg = vec![0f32; sr * 6];
        for (i, x) in leg[sr..3 * sr].iter_mut().enumerate() {
            *x = 0.2 * (i as f32 * 0.08).sin();
        }
        let act = &vad::detect(&[&leg], &VadOptions::default())[0];
        let seg = |text: &str, s, e| Segment {
            speaker: Speaker::Agent,
            start_ms: s,
            end_ms: e,
            text: text.into(),
            words: vec![],
            ..Default::default()
        };
        assert!(
            !is_hallucination(&seg("Thank you.", 1200, 2000), act),
            "spoken thanks stay"
        );
        assert!(
            is_hallucination(&seg("Thank you.", 4000, 5000), act),
            "thanks on silence go"
        );
        assert!(is_hallucination(&seg("[BLANK_AUDIO]", 1200, 2000), act));
        assert!(is_hallucination(&seg("(music)", 1200, 2000), act));
        assert!(!is_hallucination(
            &seg("Thank you for calling.", 4000, 5000),
            act
        ));
    }

    #[test]
    fn languages_are_known_by_code_or_name() {
        assert_eq!(language_code("zh"), Some("zh"));
        assert_eq!(language_code("Chinese"), Some("zh"));
        assert_eq!(language_code(" EN "), Some("en"));
        assert_eq!(language_code("yue"), Some("yue"));
        assert_eq!(language_code("klingon"), None);
        assert_eq!(
            language_code("auto"),
            None,
            "auto is an option, not a language"
        );
    }

    #[test]
    fn regions_pack_into_chunks_of_at_most_one_window() {
        // 10 s, 10 s, 9 s, then 40 s alone, then 1 s: with 300 ms gaps, the first two fit in
        // 28 s (20.3 s), the third would make 29.6 s.
        let rs = [
            region(0, 10_000),
            region(11_000, 21_000),
            region(30_000, 39_000),
            region(40_000, 80_000),
            region(81_000, 82_000),
        ];
        let chunks = pack(&rs, 28_000, 300);
        let lens: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(lens, vec![2, 1, 1, 1]);
        assert_eq!(chunks[2], &rs[3..4], "a long region is a chunk of its own");
        assert_eq!(
            chunks.iter().map(|c| c.len()).sum::<usize>(),
            rs.len(),
            "every region is in exactly one chunk, in order"
        );
        assert!(pack(&[], 28_000, 300).is_empty());
        assert_eq!(pack(&rs[..1], 28_000, 300).len(), 1);
    }

    #[test]
    fn audio_ctx_covers_the_chunk_with_a_margin() {
        let sr = SAMPLE_RATE as usize;
        // 10 s = 500 positions of 20 ms, plus the margin, rounded to 32.
        let ctx = fitted_audio_ctx(10 * sr).unwrap();
        assert!((532..=576).contains(&ctx), "{ctx}");
        assert_eq!(ctx % 32, 0);
        // Whisper's mel has 2 frames per position: the chunk always fits in the window.
        for secs in [1, 5, 17, 28] {
            let ctx = fitted_audio_ctx(secs * sr).unwrap();
            assert!(ctx * 2 * 160 >= secs * sr, "{secs} s");
        }
        assert_eq!(
            fitted_audio_ctx(30 * sr),
            None,
            "a full window needs no fitting"
        );
    }

    #[test]
    fn the_thread_budget_is_shared_and_returned() {
        let budget = ThreadBudget::new(3);
        let a = budget.take(2);
        assert_eq!(a.n, 2);
        let b = budget.take(2);
        assert_eq!(b.n, 1, "only what is free");
        drop(a);
        let c = budget.take(5);
        assert_eq!(c.n, 2);
        drop((b, c));
        assert_eq!(*budget.free.lock().unwrap(), 3);
        // A taker waits for a thread to come back.
        let first = budget.take(3);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| budget.take(1).n);
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(first);
            assert_eq!(waiter.join().unwrap(), 1);
        });
    }

    #[test]
    fn ideographs_start_words_and_join_without_spaces() {
        assert!(starts_ideograph("您".as_bytes()));
        assert!(starts_ideograph("の".as_bytes()));
        assert!(
            starts_ideograph(&"欢".as_bytes()[..1]),
            "a split character still starts"
        );
        assert!(
            !starts_ideograph("，".as_bytes()),
            "full-width punctuation joins"
        );
        assert!(!starts_ideograph("。".as_bytes()));
        assert!(!starts_ideograph(b" Hello"));
        assert!(!starts_ideograph(b"lo"));
        let samples = vec![0.0f32; SAMPLE_RATE as usize * 4];
        let feed = Feed::join(&samples, &no_bleed(&samples), &[region(0, 3000)], 300);
        let w = |text: &str, t0, t1| RawWord {
            bytes: text.as_bytes().to_vec(),
            t0_ms: t0,
            t1_ms: t1,
            segment: 0,
            spaced: text.starts_with(' '),
        };
        let segs = words_to_segments(
            Speaker::Agent,
            &feed,
            vec![w("您", 0, 300), w("好", 300, 600), w(" OK", 700, 900)],
        );
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].text, "您好 OK");
        assert_eq!(segs[0].words.len(), 3);
        assert_eq!(
            (segs[0].words[1].start_ms, segs[0].words[1].end_ms),
            (300, 600)
        );
    }

    #[test]
    fn model_names_come_from_file_names() {
        assert_eq!(
            model_name_from_path(Path::new("/c/ggml-tiny.en.bin")),
            "tiny.en"
        );
        assert_eq!(model_name_from_path(Path::new("my-model.bin")), "my-model");
    }
}

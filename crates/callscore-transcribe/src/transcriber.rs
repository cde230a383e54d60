//! Per-leg transcription with whisper.cpp, merged into one speaker-attributed transcript.
//!
//! One [`Transcriber`] holds one loaded model (a `WhisperContext`) and can be shared by worker
//! threads; every leg gets its own `WhisperState`. For each leg, voice activity detection picks
//! the leg's own speech; only that audio is fed to whisper, as one stream of speech regions
//! joined by short silences, so the model never spends time on silence and a silent leg costs
//! nothing. Words come back with token timestamps in that stream and are mapped back to call
//! time through the region they fall in, and segments are cut at region boundaries, so a
//! segment never spans the other speaker's turn.

use crate::ggml::{GgmlError, GgmlModelInfo};
use crate::vad::{self, LegActivity, SpeechRegion, VadOptions};
use callscore_core::{Leg, Segment, Speaker, Transcript, Word, SAMPLE_RATE};
use std::path::{Path, PathBuf};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

/// How speech regions are handed to whisper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedMode {
    /// All of a leg's regions joined by short silences into one stream: whisper runs its 30 s
    /// windows over speech only. The fastest, measured on the fixtures.
    #[default]
    Concatenated,
    /// One whisper run per region: each run pays for a full 30 s encoder window.
    PerRegion,
}

/// Transcription settings; `Default` is what callscore uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// CPU threads for one call (shared among its legs, which run in parallel).
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
    /// whisper.cpp flash attention: about 2.4× faster on CPU with the same text.
    pub flash_attention: bool,
    /// Re-decode a window at higher temperatures when the greedy text looks like a loop or has a
    /// low likelihood (whisper's fallback). Off by default: with only speech fed and no carried
    /// context it changed no fixture's WER by more than a word, and it cost up to 7× the time
    /// on the real call (44 s vs 5.7 s for 45 s of audio).
    pub temperature_fallback: bool,
    /// Drop whisper's stock phrases ("Thank you.", "[BLANK_AUDIO]"…) where the leg has no speech.
    pub drop_hallucinations: bool,
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
            flash_attention: true,
            temperature_fallback: false,
            drop_hallucinations: true,
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
            opts,
        })
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    pub fn options(&self) -> &TranscribeOptions {
        &self.opts
    }

    /// Transcribes every leg (in parallel, each with its own whisper state) and merges them into
    /// one transcript ordered by time. `meta` is left default; `duration_ms` is the longest leg.
    pub fn transcribe(&self, legs: &[Leg]) -> Result<Transcript, TranscribeError> {
        let activity = self.activity(legs);
        let active = activity
            .iter()
            .filter(|a| !a.regions.is_empty())
            .count()
            .max(1);
        let threads_per_leg = (self.opts.threads / active).max(1);
        let language = self.call_language(legs, &activity)?;
        let language = language.as_deref();

        let results: Vec<Result<Vec<Segment>, TranscribeError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = legs
                .iter()
                .zip(&activity)
                .map(|(leg, act)| {
                    (
                        leg.speaker,
                        scope.spawn(move || {
                            self.transcribe_leg(leg, act, threads_per_leg, language)
                        }),
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|(speaker, h)| h.join().unwrap_or(Err(TranscribeError::Worker { speaker })))
                .collect()
        });
        let mut transcript = Transcript {
            duration_ms: legs.iter().map(Leg::duration_ms).max().unwrap_or(0),
            model: self.model_name.clone(),
            language: language.map(str::to_owned),
            ..Default::default()
        };
        for r in results {
            transcript.segments.extend(r?);
        }
        transcript.normalise();
        Ok(transcript)
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

    fn transcribe_leg(
        &self,
        leg: &Leg,
        act: &LegActivity,
        threads: usize,
        language: Option<&str>,
    ) -> Result<Vec<Segment>, TranscribeError> {
        if act.regions.is_empty() {
            return Ok(Vec::new());
        }
        let err = |e: whisper_rs::WhisperError| TranscribeError::Whisper {
            speaker: leg.speaker,
            reason: e.to_string(),
        };
        let mut state = self.ctx.create_state().map_err(err)?;
        let feeds: Vec<Feed> = match self.opts.feed {
            FeedMode::Concatenated => vec![Feed::join(
                &leg.samples,
                act,
                &act.regions,
                self.opts.join_gap_ms,
            )],
            FeedMode::PerRegion => act
                .regions
                .iter()
                .map(|r| Feed::join(&leg.samples, act, std::slice::from_ref(r), 0))
                .collect(),
        };
        let mut segments = Vec::new();
        for feed in feeds {
            let words = self
                .run_whisper(&mut state, &feed, threads, language)
                .map_err(err)?;
            segments.extend(words_to_segments(leg.speaker, &feed, words));
        }
        if self.opts.drop_hallucinations {
            segments.retain(|s| !is_hallucination(s, act));
        }
        Ok(segments)
    }

    fn run_whisper(
        &self,
        state: &mut WhisperState,
        feed: &Feed,
        threads: usize,
        language: Option<&str>,
    ) -> Result<Vec<RawWord>, whisper_rs::WhisperError> {
        let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        p.set_n_threads(threads as i32);
        // whisper's default is English; the call's language is decided once, in `call_language`.
        if let Some(lang) = language.filter(|l| *l != "en") {
            p.set_language(Some(lang));
        }
        p.set_translate(false);
        // Every leg and region stands alone: text from a previous window must not leak in.
        p.set_no_context(true);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_token_timestamps(true);
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
                let starts_word = first_in_segment || bytes[0] == b' ';
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
                    }),
                }
            }
        }
        Ok(words)
    }
}

/// A word as whisper produced it, in feed time.
#[derive(Debug, Clone)]
struct RawWord {
    bytes: Vec<u8>,
    t0_ms: u64,
    t1_ms: u64,
    segment: usize,
}

/// Audio handed to whisper, and where each piece of it came from in the call.
struct Feed {
    audio: Vec<f32>,
    /// (feed start ms, call start ms, length ms) per region, in order.
    pieces: Vec<(u64, u64, u64)>,
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
        Feed { audio, pieces }
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
                seg.text.push(' ');
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
    fn model_names_come_from_file_names() {
        assert_eq!(
            model_name_from_path(Path::new("/c/ggml-tiny.en.bin")),
            "tiny.en"
        );
        assert_eq!(model_name_from_path(Path::new("my-model.bin")), "my-model");
    }
}

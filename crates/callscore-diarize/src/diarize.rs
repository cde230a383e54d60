//! Who speaks when on one mixed channel.
//!
//! ```text
//! samples ─► speech regions (callscore-transcribe's VAD, against the leg's own noise floor)
//!         ─► 25 ms spectra every 10 ms
//!         ─► one embedding per window of speech (1.5 s, every 0.5 s)
//!         ─► clustering of the windows into 1–3 voices (average linkage, k-means rounds)
//!         ─► per frame: similarity of the windows around it to each voice; Viterbi smoothing
//!            with a switch penalty, so a turn changes only where the voice does
//!         ─► turns (speaker, start, end, confidence)
//! ```
//!
//! The embedding is a [`crate::encoder::VoiceEncoder`] (the speaker encoder callscore installs)
//! or, with [`Embedding::Spectral`], statistics of telephone-band cepstra (no model).

use crate::cluster::{self, ClusterOptions, Clustering};
use crate::encoder::VoiceEncoder;
use crate::features::{self, Spectra, FRAME_MS, HOP, N_CEPS};
use callscore_transcribe::vad::{self, VadOptions};
use serde::{Deserialize, Serialize};

/// One stretch of one voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Local label: 0 is the first voice heard, 1 the next, …; says nothing about roles.
    pub speaker: usize,
    pub start_ms: u64,
    pub end_ms: u64,
    /// How sure the voice of this turn is, 0–1 (the mean posterior of its frames).
    pub confidence: f32,
}

impl Turn {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Who speaks when, on one mixed channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Diarization {
    /// Turns ordered by start; two turns may overlap where two voices do.
    pub turns: Vec<Turn>,
    /// Distinct voices found (0 on silence).
    pub speakers: usize,
    /// How distinct the voices' windows are: the mean silhouette of the clustering (−1…1, 0 with
    /// a single voice). Two voices on the mono mixes score 0.38–0.5; a single voice forced into
    /// two groups scores 0.25–0.55 too, so this catches hopeless separations, not one voice.
    pub separation: f32,
    /// Per 10 ms frame, the voice it belongs to (`None` outside speech), and its posterior.
    #[serde(skip)]
    pub frames: Vec<Option<(usize, f32)>>,
    /// Per voice, the unit-length mean of its windows' speaker-encoder embeddings, to compare
    /// with enrolled agent voices (empty with the spectral embedding, which is per call).
    #[serde(skip)]
    pub centroids: Vec<Vec<f32>>,
    pub duration_ms: u64,
    /// Why the separation should not be trusted, when it should not.
    pub unsure: Option<String>,
}

impl Diarization {
    /// Speech time of each voice, in ms.
    pub fn talk_ms(&self) -> Vec<u64> {
        let mut t = vec![0; self.speakers];
        for turn in &self.turns {
            if turn.speaker < t.len() {
                t[turn.speaker] += turn.duration_ms();
            }
        }
        t
    }

    /// The voice heard most in `start_ms..end_ms`: `(voice, share, posterior, coverage)` — the
    /// share of the span's speech frames it holds, their mean posterior, and the share of the
    /// whole span those frames cover. `None` when no frame there is speech.
    pub fn voice_in(&self, start_ms: u64, end_ms: u64) -> Option<(usize, f32, f32, f32)> {
        let a = (start_ms / FRAME_MS) as usize;
        let b = (end_ms.div_ceil(FRAME_MS) as usize)
            .max(a + 1)
            .min(self.frames.len());
        let mut count = vec![0usize; self.speakers];
        let mut post = vec![0f32; self.speakers];
        let mut total = 0usize;
        for (s, p) in self.frames.get(a..b)?.iter().flatten() {
            if *s < count.len() {
                count[*s] += 1;
                post[*s] += p;
                total += 1;
            }
        }
        if total == 0 {
            return None;
        }
        let best = (0..count.len()).max_by_key(|&s| count[s])?;
        Some((
            best,
            count[best] as f32 / total as f32,
            post[best] / count[best] as f32,
            count[best] as f32 / (b - a) as f32,
        ))
    }
}

/// Which speaker embedding drives the clustering.
#[derive(Debug)]
pub enum Embedding {
    /// The neural speaker encoder (a 3-layer LSTM over 40 mel bands, 256-d output).
    Encoder(VoiceEncoder),
    /// Mean and spread of telephone-band cepstra over the window: no model, less robust.
    Spectral,
}

/// Diarization settings; `Default` is what callscore uses.
#[derive(Debug, Clone, PartialEq)]
pub struct DiarizeOptions {
    pub vad: VadOptions,
    /// Window length and step for embeddings, in 10 ms frames.
    pub window_frames: usize,
    pub step_frames: usize,
    /// Windows with less speech than this share are skipped.
    pub min_window_speech: f32,
    pub cluster: ClusterOptions,
    /// Posterior sharpness: similarity differences are multiplied by this before the softmax.
    pub sharpness: f32,
    /// Cost of changing voice between two adjacent speech frames, in log-posterior units; a
    /// pause between them costs only `gap_switch_cost`.
    pub switch_cost: f32,
    pub gap_switch_cost: f32,
    /// Same-voice turns closer than this are joined (pauses inside one person's turn).
    pub join_gap_ms: u64,
    /// Below this separation (silhouette) the voices are not trusted as two people.
    pub min_separation: f32,
    /// CPU threads for the speaker encoder.
    pub threads: usize,
}

impl DiarizeOptions {
    /// Settings for an embedding: the spectral statistics live on another distance scale.
    pub fn for_embedding(e: &Embedding) -> Self {
        let base = DiarizeOptions {
            vad: VadOptions::default(),
            window_frames: 150,
            step_frames: 50,
            min_window_speech: 0.5,
            cluster: ClusterOptions::default(),
            sharpness: 12.0,
            switch_cost: 6.0,
            gap_switch_cost: 0.5,
            join_gap_ms: 600,
            min_separation: 0.15,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        };
        match e {
            Embedding::Encoder(_) => base,
            Embedding::Spectral => DiarizeOptions {
                // Cepstral statistics of one voice spread widely (what is said moves them), so
                // the merge heights run higher than the encoder's: measured on the mono mixes,
                // two voices merge near 1.0 and a third split appears at 0.9–1.0 within a voice.
                cluster: ClusterOptions {
                    split_distance: 0.5,
                    third_distance: 1.2,
                    ..ClusterOptions::default()
                },
                sharpness: 6.0,
                min_separation: 0.15,
                ..base
            },
        }
    }
}

/// A window of frames and its embedding.
struct Window {
    start: usize,
    end: usize,
}

/// A leg's speech and one embedding per window over it.
pub(crate) struct Embedded {
    /// Per 10 ms frame, whether it is speech.
    pub speech: Vec<bool>,
    windows: Vec<Window>,
    pub embeddings: Vec<Vec<f32>>,
}

/// Finds the speech in 16 kHz mono `samples` and embeds every window of it; `Err` says why
/// there is nothing to embed (no speech, or too little for one window).
pub(crate) fn embed_speech(
    samples: &[f32],
    embedding: &Embedding,
    opts: &DiarizeOptions,
) -> Result<Embedded, &'static str> {
    let act = vad::detect(&[samples], &opts.vad)
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!("detect returns one activity per leg"));
    let regions: Vec<std::ops::Range<usize>> = act.regions.iter().map(|r| r.start..r.end).collect();
    let frames = features::frame_count(samples.len());
    let mut speech = vec![false; frames];
    for r in &regions {
        let (a, b) = (r.start / HOP, (r.end.div_ceil(HOP)).min(frames));
        speech[a..b].iter_mut().for_each(|s| *s = true);
    }
    if !speech.iter().any(|&s| s) {
        return Err("no speech found");
    }
    let gain = features::speech_gain(samples, &regions);
    let spectra = features::spectra(samples, gain);
    let windows = windows_over(&speech, opts);
    if windows.is_empty() {
        return Err("too little speech to tell voices apart");
    }
    let embeddings = match embedding {
        Embedding::Encoder(enc) => {
            let spans: Vec<(usize, usize)> = windows.iter().map(|w| (w.start, w.end)).collect();
            enc.embed_windows(&spectra, &spans, opts.threads)
        }
        Embedding::Spectral => spectral_embeddings(&spectra, &speech, &windows),
    };
    Ok(Embedded {
        speech,
        windows,
        embeddings,
    })
}

/// Finds who speaks when in 16 kHz mono `samples`.
pub fn diarize(samples: &[f32], embedding: &Embedding, opts: &DiarizeOptions) -> Diarization {
    let duration_ms = samples.len() as u64 * 1000 / callscore_core::SAMPLE_RATE as u64;
    let frames = features::frame_count(samples.len());
    let Embedded {
        speech,
        windows,
        embeddings: emb,
    } = match embed_speech(samples, embedding, opts) {
        Ok(e) => e,
        Err(unsure) => {
            return Diarization {
                duration_ms,
                frames: vec![None; frames],
                unsure: Some(unsure.into()),
                ..Default::default()
            }
        }
    };
    let clustering = cluster::cluster(&emb, &opts.cluster);
    let k = clustering.k().max(1);
    let separation = cluster::silhouette(&emb, &clustering.labels, clustering.k(), 300);

    let posteriors = frame_posteriors(&emb, &windows, &clustering, &speech, opts);
    let labels = viterbi(&posteriors, &speech, k, opts);
    let mut frame_out = vec![None; frames];
    for f in 0..frames {
        if let (true, Some(l)) = (speech[f], labels[f]) {
            frame_out[f] = Some((l, posteriors[f][l]));
        }
    }
    let turns = turns_of(&frame_out, opts.join_gap_ms);
    let unsure = if clustering.k() < 2 {
        Some("only one voice found: the speakers cannot be told apart".to_string())
    } else if separation < opts.min_separation {
        Some(format!(
            "the voices are too alike to separate reliably (separation {separation:.2} < {:.2})",
            opts.min_separation
        ))
    } else {
        None
    };
    Diarization {
        speakers: clustering.k(),
        turns,
        separation,
        // Spectral statistics are standardised within the call, so they say nothing outside it.
        centroids: match embedding {
            Embedding::Encoder(_) => clustering.centroids,
            Embedding::Spectral => Vec::new(),
        },
        frames: frame_out,
        duration_ms,
        unsure,
    }
}

/// Windows over the speech: within each run of speech frames, windows of `window_frames`
/// every `step_frames`; a run shorter than a window gets one window of its own length when it
/// holds enough speech (half a window).
fn windows_over(speech: &[bool], opts: &DiarizeOptions) -> Vec<Window> {
    let mut out = Vec::new();
    let w = opts.window_frames.max(1);
    let step = opts.step_frames.max(1);
    let min_len = ((w as f32) * opts.min_window_speech) as usize;
    let mut f = 0;
    while f < speech.len() {
        if !speech[f] {
            f += 1;
            continue;
        }
        let start = f;
        while f < speech.len() && speech[f] {
            f += 1;
        }
        let end = f;
        let len = end - start;
        if len < min_len.max(1) {
            continue;
        }
        if len <= w {
            out.push(Window { start, end });
            continue;
        }
        let mut s = start;
        loop {
            let e = (s + w).min(end);
            out.push(Window { start: s, end: e });
            if e == end {
                break;
            }
            s += step;
            // The last window is kept whole rather than cut short.
            if s + w > end {
                s = end - w;
            }
        }
    }
    out
}

/// Mean and standard deviation of each cepstral coefficient over a window's speech frames,
/// standardised across the call's windows (so every dimension weighs the same).
// Frame indices address the speech mask and the spectra together.
#[allow(clippy::needless_range_loop)]
fn spectral_embeddings(spectra: &Spectra, speech: &[bool], windows: &[Window]) -> Vec<Vec<f32>> {
    let mut raw: Vec<Vec<f32>> = windows
        .iter()
        .map(|w| {
            let mut mean = [0f64; N_CEPS];
            let mut sq = [0f64; N_CEPS];
            let mut n = 0usize;
            for f in w.start..w.end.min(spectra.frames) {
                if !speech[f] {
                    continue;
                }
                for (c, &x) in spectra.ceps_frame(f).iter().enumerate() {
                    mean[c] += x as f64;
                    sq[c] += (x as f64) * (x as f64);
                }
                n += 1;
            }
            let n = n.max(1) as f64;
            let mut v = Vec::with_capacity(2 * N_CEPS);
            for c in 0..N_CEPS {
                let m = mean[c] / n;
                v.push(m as f32);
                v.push(((sq[c] / n - m * m).max(0.0)).sqrt() as f32);
            }
            v
        })
        .collect();
    let dim = 2 * N_CEPS;
    let n = raw.len().max(1) as f32;
    for d in 0..dim {
        let mean = raw.iter().map(|v| v[d]).sum::<f32>() / n;
        let var = raw.iter().map(|v| (v[d] - mean).powi(2)).sum::<f32>() / n;
        let sd = var.sqrt().max(1e-6);
        for v in &mut raw {
            v[d] = (v[d] - mean) / sd;
        }
    }
    raw
}

/// Per frame, the posterior of each voice: the mean similarity to each centroid of the windows
/// covering the frame, through a softmax.
fn frame_posteriors(
    emb: &[Vec<f32>],
    windows: &[Window],
    clustering: &Clustering,
    speech: &[bool],
    opts: &DiarizeOptions,
) -> Vec<Vec<f32>> {
    let k = clustering.k().max(1);
    let frames = speech.len();
    let mut sum = vec![vec![0f32; k]; frames];
    let mut count = vec![0u32; frames];
    for (w, e) in windows.iter().zip(emb) {
        let sims: Vec<f32> = clustering
            .centroids
            .iter()
            .map(|c| cluster::cosine(e, c))
            .collect();
        for f in w.start..w.end.min(frames) {
            for (s, &v) in sum[f].iter_mut().zip(&sims) {
                *s += v;
            }
            count[f] += 1;
        }
    }
    // Speech frames no window covers (runs too short for one) borrow the nearest covered frame.
    let covered: Vec<usize> = (0..frames).filter(|&f| count[f] > 0).collect();
    let mut out = vec![vec![1.0 / k as f32; k]; frames];
    for f in 0..frames {
        if !speech[f] || covered.is_empty() {
            continue;
        }
        let src = if count[f] > 0 {
            f
        } else {
            let i = covered.partition_point(|&c| c < f);
            let before = i.checked_sub(1).map(|j| covered[j]);
            let after = covered.get(i).copied();
            match (before, after) {
                (Some(b), Some(a)) if f - b <= a - f => b,
                (_, Some(a)) => a,
                (Some(b), None) => b,
                (None, None) => continue,
            }
        };
        let n = count[src] as f32;
        let logits: Vec<f32> = sum[src].iter().map(|s| opts.sharpness * s / n).collect();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let z: f32 = exp.iter().sum();
        out[f] = exp.iter().map(|e| e / z).collect();
    }
    out
}

/// The most likely voice per speech frame given the posteriors, paying `switch_cost` for each
/// change between adjacent speech frames and `gap_switch_cost` across a pause.
fn viterbi(
    post: &[Vec<f32>],
    speech: &[bool],
    k: usize,
    opts: &DiarizeOptions,
) -> Vec<Option<usize>> {
    let idx: Vec<usize> = (0..speech.len()).filter(|&f| speech[f]).collect();
    let mut labels = vec![None; speech.len()];
    if idx.is_empty() {
        return labels;
    }
    let ln = |p: f32| p.max(1e-6).ln();
    let mut score: Vec<f32> = (0..k).map(|s| ln(post[idx[0]][s])).collect();
    let mut back: Vec<Vec<u8>> = Vec::with_capacity(idx.len());
    back.push(vec![0; k]);
    for w in idx.windows(2) {
        let (prev, f) = (w[0], w[1]);
        let cost = if f == prev + 1 {
            opts.switch_cost
        } else {
            opts.gap_switch_cost
        };
        let mut next = vec![0f32; k];
        let mut from = vec![0u8; k];
        for s in 0..k {
            let (mut best, mut arg) = (f32::NEG_INFINITY, 0);
            for (p, &sc) in score.iter().enumerate() {
                let v = sc - if p == s { 0.0 } else { cost };
                if v > best {
                    (best, arg) = (v, p);
                }
            }
            next[s] = best + ln(post[f][s]);
            from[s] = arg as u8;
        }
        score = next;
        back.push(from);
    }
    let mut s = (0..k)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(0);
    for i in (0..idx.len()).rev() {
        labels[idx[i]] = Some(s);
        s = back[i][s] as usize;
    }
    labels
}

/// Turns from frame labels: runs of one voice, joined across pauses shorter than `join_gap_ms`
/// when the same voice goes on.
fn turns_of(frames: &[Option<(usize, f32)>], join_gap_ms: u64) -> Vec<Turn> {
    let mut turns: Vec<(Turn, f32, u32)> = Vec::new();
    for (f, slot) in frames.iter().enumerate() {
        let Some((s, p)) = *slot else { continue };
        let t = f as u64 * FRAME_MS;
        match turns.last_mut() {
            Some((last, sum, n)) if last.speaker == s && t <= last.end_ms + join_gap_ms => {
                last.end_ms = t + FRAME_MS;
                *sum += p;
                *n += 1;
            }
            _ => turns.push((
                Turn {
                    speaker: s,
                    start_ms: t,
                    end_ms: t + FRAME_MS,
                    confidence: 0.0,
                },
                p,
                1,
            )),
        }
    }
    turns
        .into_iter()
        .map(|(mut t, sum, n)| {
            t.confidence = sum / n.max(1) as f32;
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> DiarizeOptions {
        DiarizeOptions::for_embedding(&Embedding::Spectral)
    }

    #[test]
    fn windows_cover_each_speech_run() {
        let mut speech = vec![false; 1000];
        speech[10..400].iter_mut().for_each(|s| *s = true); // 3.9 s
        speech[500..560].iter_mut().for_each(|s| *s = true); // 0.6 s: short, half a window
        speech[600..620].iter_mut().for_each(|s| *s = true); // 0.2 s: too short
        let w = windows_over(&speech, &opts());
        let spans: Vec<(usize, usize)> = w.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(
            spans,
            vec![
                (10, 160),
                (60, 210),
                (110, 260),
                (160, 310),
                (210, 360),
                (250, 400)
            ]
            .into_iter()
            .chain([])
            .collect::<Vec<_>>()
        );
        let short = DiarizeOptions {
            min_window_speech: 0.3,
            ..opts()
        };
        assert!(windows_over(&speech, &short)
            .iter()
            .any(|w| (w.start, w.end) == (500, 560)));
    }

    #[test]
    fn viterbi_ignores_a_blip_but_follows_a_real_change() {
        let mut post = vec![vec![0.9, 0.1]; 300];
        // A 5-frame blip of the other voice, then a lasting change.
        for p in post.iter_mut().skip(50).take(5) {
            *p = vec![0.3, 0.7];
        }
        for p in post.iter_mut().skip(150) {
            *p = vec![0.1, 0.9];
        }
        let speech = vec![true; 300];
        let l = viterbi(&post, &speech, 2, &opts());
        assert!(l[..150].iter().all(|&x| x == Some(0)));
        assert!(l[150..].iter().all(|&x| x == Some(1)));
    }

    #[test]
    fn turns_join_short_pauses_of_one_voice_only() {
        let mut frames = vec![None; 400];
        frames[0..100].fill(Some((0, 0.9)));
        frames[130..200].fill(Some((0, 0.7))); // a 300 ms pause: same turn
        frames[240..300].fill(Some((1, 0.8))); // the other voice
        let t = turns_of(&frames, 600);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].start_ms, t[0].end_ms), (0, 2000));
        assert!((t[0].confidence - (100.0 * 0.9 + 70.0 * 0.7) / 170.0).abs() < 1e-4);
        assert_eq!((t[1].speaker, t[1].start_ms, t[1].end_ms), (1, 2400, 3000));
    }

    #[test]
    fn silence_has_no_turns_and_says_why() {
        let d = diarize(&vec![0.0; 32_000], &Embedding::Spectral, &opts());
        assert!(d.turns.is_empty());
        assert_eq!(d.speakers, 0);
        assert_eq!(d.unsure.as_deref(), Some("no speech found"));
    }
}

//! Voice activity detection: which stretches of each leg hold that leg's own speech.
//!
//! An energy gate, not a neural VAD: on call legs (one speaker per channel, telephone band) level
//! separates speech from the rest well, it costs microseconds per second of audio, and whisper.cpp's
//! Silero VAD cost more time than tiny.en itself on these calls. A fixed threshold does not work
//! on real recordings: quiet frames of real legs sit anywhere from −90 to −46 dBFS while speech is
//! around −15 to −20 dBFS. So every threshold here is relative to the leg itself:
//!
//! - the leg's **noise floor** (a low percentile of its frame levels) and its **speech level**
//!   (a high percentile); a frame is speech when it is well above the floor and not far below the
//!   leg's own speech level;
//! - **cross-talk**: on a stereo call a leg often carries a faint copy of the other leg (−25 dB or
//!   so). A frame whose level is far below what another leg carries at that moment is that other
//!   speaker's bleed, not speech of this leg;
//! - **hysteresis and hangover** keep word endings and short pauses inside a region, and short
//!   clicks are dropped.

use callscore_core::SAMPLE_RATE;

/// Tuning of the gate. The defaults were measured on the fixtures (clean, noisy at −50 dBFS with
/// −25 dB bleed, 8-bit with a −48 dBFS floor) and on a real call.
#[derive(Debug, Clone, PartialEq)]
pub struct VadOptions {
    /// Analysis frame length.
    pub frame_ms: u32,
    /// Percentile of frame levels taken as the noise floor.
    pub floor_percentile: f32,
    /// Percentile of frame levels taken as the leg's speech level.
    pub speech_percentile: f32,
    /// Speech must be at least this far above the noise floor.
    pub floor_margin_db: f32,
    /// … and no further than this below the leg's speech level.
    pub speech_range_db: f32,
    /// Frames quieter than this are never speech.
    pub min_level_dbfs: f32,
    /// Once in speech, frames down to this much below the threshold keep the region open.
    pub hysteresis_db: f32,
    /// A frame this far below another leg's level (around the same moment) is that leg's bleed.
    pub bleed_margin_db: f32,
    /// Speech continues this long after the last loud frame (word endings, short pauses).
    pub hangover_ms: u32,
    /// Regions with less loud speech than this are clicks or breaths.
    pub min_speech_ms: u32,
    /// Audio kept before each region, for soft onsets ("s", "f", "h").
    pub pre_roll_ms: u32,
    /// Regions closer than this are merged into one.
    pub merge_gap_ms: u32,
}

impl Default for VadOptions {
    fn default() -> Self {
        VadOptions {
            frame_ms: 10,
            floor_percentile: 10.0,
            speech_percentile: 97.0,
            floor_margin_db: 12.0,
            speech_range_db: 24.0,
            min_level_dbfs: -60.0,
            hysteresis_db: 8.0,
            bleed_margin_db: 15.0,
            hangover_ms: 300,
            min_speech_ms: 120,
            pre_roll_ms: 200,
            merge_gap_ms: 400,
        }
    }
}

/// A stretch of speech on one leg, in samples of the 16 kHz leg, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechRegion {
    pub start: usize,
    pub end: usize,
}

impl SpeechRegion {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    pub fn start_ms(&self) -> u64 {
        self.start as u64 * 1000 / SAMPLE_RATE as u64
    }
    pub fn end_ms(&self) -> u64 {
        self.end as u64 * 1000 / SAMPLE_RATE as u64
    }
}

/// What the gate decided for one leg, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct LegActivity {
    /// Estimated noise floor, dBFS.
    pub floor_dbfs: f32,
    /// Estimated level of the leg's speech, dBFS.
    pub speech_dbfs: f32,
    /// Level a frame needs to start speech, dBFS.
    pub threshold_dbfs: f32,
    /// Per frame: loud enough and not bleed.
    pub voiced: Vec<bool>,
    /// Per frame: another leg is so much louder here that what this leg carries is its bleed.
    pub bleed: Vec<bool>,
    pub regions: Vec<SpeechRegion>,
    pub frame_len: usize,
}

impl LegActivity {
    /// Share of the frames in `start_ms..end_ms` that are voiced (0 when the span is empty).
    pub fn voiced_fraction(&self, start_ms: u64, end_ms: u64) -> f32 {
        let per_frame_ms = (self.frame_len as u64 * 1000 / SAMPLE_RATE as u64).max(1);
        let a = (start_ms / per_frame_ms) as usize;
        let b = ((end_ms.div_ceil(per_frame_ms)) as usize).min(self.voiced.len());
        if b <= a {
            return 0.0;
        }
        self.voiced[a..b].iter().filter(|&&v| v).count() as f32 / (b - a) as f32
    }

    pub fn speech_samples(&self) -> usize {
        self.regions.iter().map(SpeechRegion::len).sum()
    }

    /// A copy of `samples[region]` with the other legs' bleed muted: frames flagged as bleed get
    /// gain 0, others 1, interpolated across each frame so the gate does not click. Whisper hears
    /// even faint bleed (it normalises every window to its loudest part), so bleed inside a
    /// region (under the hangover, or in double talk) would otherwise become this leg's words.
    pub fn without_bleed(&self, samples: &[f32], region: SpeechRegion) -> Vec<f32> {
        let gain = |f: usize| {
            if self.bleed.get(f).copied().unwrap_or(false) {
                0.0f32
            } else {
                1.0
            }
        };
        let n = self.frame_len.max(1);
        (region.start..region.end.min(samples.len()))
            .map(|i| {
                // Gains sit at frame centres; interpolate linearly between neighbouring centres.
                let pos = (i as f32 + 0.5) / n as f32 - 0.5;
                let f0 = pos.floor().max(0.0) as usize;
                let frac = (pos - f0 as f32).clamp(0.0, 1.0);
                let g = gain(f0) * (1.0 - frac) + gain(f0 + 1) * frac;
                samples[i] * g
            })
            .collect()
    }
}

/// RMS level of each frame in dBFS (full-scale sine = −3 dBFS), floored at −100 dBFS so digital
/// silence has a finite level.
pub fn frame_levels(samples: &[f32], frame_len: usize) -> Vec<f32> {
    samples
        .chunks(frame_len.max(1))
        .map(|f| {
            let mean_sq = f.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / f.len() as f64;
            (10.0 * (mean_sq + 1e-10).log10()) as f32
        })
        .collect()
}

fn percentile(levels: &[f32], p: f32) -> f32 {
    if levels.is_empty() {
        return -100.0;
    }
    let mut v = levels.to_vec();
    let k = (((p / 100.0) * (v.len() - 1) as f32).round() as usize).min(v.len() - 1);
    let (_, x, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    *x
}

/// Detects speech on every leg of a call at once, so that each leg's bleed of the others can be
/// recognised. Legs are 16 kHz and start at call time 0.
pub fn detect(legs: &[&[f32]], opts: &VadOptions) -> Vec<LegActivity> {
    let frame_len = (SAMPLE_RATE * opts.frame_ms / 1000).max(1) as usize;
    let levels: Vec<Vec<f32>> = legs.iter().map(|s| frame_levels(s, frame_len)).collect();
    // The loudest any other leg is around each frame; ±3 frames absorbs small delays in the bleed.
    let spread = 3usize;
    levels
        .iter()
        .enumerate()
        .map(|(i, own)| {
            let others: Vec<f32> = (0..own.len())
                .map(|f| {
                    let mut loudest = f32::NEG_INFINITY;
                    for (j, other) in levels.iter().enumerate() {
                        let (lo, hi) =
                            (f.saturating_sub(spread), (f + spread + 1).min(other.len()));
                        if j != i && lo < hi {
                            loudest = other[lo..hi].iter().copied().fold(loudest, f32::max);
                        }
                    }
                    loudest
                })
                .collect();
            detect_leg(own, &others, frame_len, legs[i].len(), opts)
        })
        .collect()
}

/// The gate on one leg's frame levels, given the loudest other leg per frame (−∞ for none).
fn detect_leg(
    levels: &[f32],
    others: &[f32],
    frame_len: usize,
    n_samples: usize,
    opts: &VadOptions,
) -> LegActivity {
    let floor = percentile(levels, opts.floor_percentile);
    let speech = percentile(levels, opts.speech_percentile);
    let threshold = (floor + opts.floor_margin_db)
        .max(speech - opts.speech_range_db)
        .max(opts.min_level_dbfs);
    let stay = threshold - opts.hysteresis_db;
    let not_bleed = |f: usize, level: f32| {
        others
            .get(f)
            .is_none_or(|&o| level > o - opts.bleed_margin_db)
    };
    let loud: Vec<bool> = levels
        .iter()
        .enumerate()
        .map(|(f, &l)| l >= threshold && not_bleed(f, l))
        .collect();
    let voiced: Vec<bool> = levels
        .iter()
        .enumerate()
        .map(|(f, &l)| l >= stay && not_bleed(f, l))
        .collect();
    let bleed: Vec<bool> = levels
        .iter()
        .enumerate()
        .map(|(f, &l)| !not_bleed(f, l))
        .collect();

    let ms_to_frames = |ms: u32| (ms / opts.frame_ms.max(1)) as usize;
    let hangover = ms_to_frames(opts.hangover_ms);
    let min_loud = ms_to_frames(opts.min_speech_ms).max(1);

    // Regions in frames: open on a loud frame, stay open through voiced frames and the hangover.
    let mut regions: Vec<(usize, usize)> = Vec::new();
    let mut f = 0;
    while f < levels.len() {
        if !loud[f] {
            f += 1;
            continue;
        }
        let start = f;
        let mut last_voiced = f;
        let mut n_loud = 0;
        let mut g = f;
        while g < levels.len() && g <= last_voiced + hangover {
            if voiced[g] {
                last_voiced = g;
            }
            if loud[g] {
                n_loud += 1;
            }
            g += 1;
        }
        let end = (last_voiced + 1 + hangover).min(levels.len());
        if n_loud >= min_loud {
            regions.push((start, end));
        }
        f = g.max(end);
    }

    // Pre-roll, merge, convert to samples.
    let pre = ms_to_frames(opts.pre_roll_ms);
    let gap = ms_to_frames(opts.merge_gap_ms);
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in regions {
        let s = s.saturating_sub(pre);
        match merged.last_mut() {
            Some(last) if s <= last.1 + gap => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let regions = merged
        .into_iter()
        .map(|(s, e)| SpeechRegion {
            start: (s * frame_len).min(n_samples),
            end: (e * frame_len).min(n_samples),
        })
        .filter(|r| !r.is_empty())
        .collect();
    LegActivity {
        floor_dbfs: floor,
        speech_dbfs: speech,
        threshold_dbfs: threshold,
        voiced,
        bleed,
        regions,
        frame_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: usize = SAMPLE_RATE as usize;

    /// A deterministic "voice": a 200 Hz tone with a 4 Hz syllable envelope, at `dbfs` RMS.
    fn voice(seconds: f32, dbfs: f32, seed: u32) -> Vec<f32> {
        let n = (seconds * SR as f32) as usize;
        let amp = 10f32.powf(dbfs / 20.0) * std::f32::consts::SQRT_2;
        (0..n)
            .map(|i| {
                let t = i as f32 / SR as f32;
                let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t + seed as f32).sin();
                amp * env * (2.0 * std::f32::consts::PI * (200.0 + seed as f32 * 37.0) * t).sin()
            })
            .collect()
    }

    /// White-ish noise from an LCG at `dbfs` RMS (no rand dependency, same every run).
    fn noise(seconds: f32, dbfs: f32, seed: u64) -> Vec<f32> {
        let n = (seconds * SR as f32) as usize;
        let amp = 10f32.powf(dbfs / 20.0) * 3f32.sqrt();
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                amp * (((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0)
            })
            .collect()
    }

    fn mix(a: &mut [f32], b: &[f32], at: usize, gain_db: f32) {
        let g = 10f32.powf(gain_db / 20.0);
        for (i, x) in b.iter().enumerate() {
            if let Some(y) = a.get_mut(at + i) {
                *y += x * g;
            }
        }
    }

    fn ms(samples: usize) -> u64 {
        (samples * 1000 / SR) as u64
    }

    #[test]
    fn digital_silence_has_no_speech() {
        let silent = vec![0f32; 10 * SR];
        let acts = detect(&[&silent, &silent], &VadOptions::default());
        assert!(acts.iter().all(|a| a.regions.is_empty()));
    }

    #[test]
    fn steady_noise_alone_has_no_speech_at_any_floor() {
        for floor in [-90.0, -65.0, -46.0] {
            let n = noise(20.0, floor, 7);
            let acts = detect(&[&n], &VadOptions::default());
            assert!(
                acts[0].regions.is_empty(),
                "noise at {floor} dBFS gave {:?}",
                acts[0].regions
            );
        }
    }

    #[test]
    fn speech_is_found_over_each_real_noise_floor() {
        for floor in [-90.0, -84.0, -69.0, -65.0, -46.0] {
            let mut leg = noise(12.0, floor, 3);
            mix(&mut leg, &voice(2.0, -18.0, 1), 2 * SR, 0.0);
            mix(&mut leg, &voice(1.5, -18.0, 2), 8 * SR, 0.0);
            let a = &detect(&[&leg], &VadOptions::default())[0];
            assert_eq!(a.regions.len(), 2, "floor {floor}: {:?}", a.regions);
            let r = a.regions[0];
            assert!(
                ms(r.start) <= 2000 && ms(r.start) >= 1700,
                "floor {floor}: {r:?}"
            );
            assert!(
                ms(r.end) >= 4000 && ms(r.end) <= 4500,
                "floor {floor}: {r:?}"
            );
        }
    }

    #[test]
    fn bleed_of_the_other_leg_is_not_speech() {
        // Agent talks 1–4 s, caller 5–8 s; each leg carries the other at −25 dB, over a −50 dBFS
        // noise floor.
        let mut agent = noise(10.0, -50.0, 1);
        let mut caller = noise(10.0, -50.0, 2);
        let a_voice = voice(3.0, -16.0, 1);
        let c_voice = voice(3.0, -16.0, 2);
        mix(&mut agent, &a_voice, SR, 0.0);
        mix(&mut caller, &c_voice, 5 * SR, 0.0);
        mix(&mut agent, &c_voice, 5 * SR, -25.0);
        mix(&mut caller, &a_voice, SR, -25.0);
        let acts = detect(&[&agent, &caller], &VadOptions::default());
        let spans = |a: &LegActivity| {
            a.regions
                .iter()
                .map(|r| (ms(r.start), ms(r.end)))
                .collect::<Vec<_>>()
        };
        assert_eq!(acts[0].regions.len(), 1, "agent {:?}", spans(&acts[0]));
        assert!(
            ms(acts[0].regions[0].end) < 5000,
            "agent region runs into the caller's turn: {:?}",
            spans(&acts[0])
        );
        assert_eq!(acts[1].regions.len(), 1, "caller {:?}", spans(&acts[1]));
        assert!(
            ms(acts[1].regions[0].start) > 4000,
            "caller region starts in the agent's turn: {:?}",
            spans(&acts[1])
        );
    }

    #[test]
    fn bleed_is_muted_in_the_audio_given_to_whisper() {
        let mut agent = noise(4.0, -50.0, 1);
        let mut caller = noise(4.0, -50.0, 2);
        let a_voice = voice(1.0, -16.0, 1);
        let c_voice = voice(1.0, -16.0, 2);
        mix(&mut agent, &a_voice, SR / 2, 0.0);
        mix(&mut caller, &c_voice, 2 * SR, 0.0);
        mix(&mut agent, &c_voice, 2 * SR, -25.0);
        let acts = detect(&[&agent, &caller], &VadOptions::default());
        let whole = SpeechRegion {
            start: 0,
            end: agent.len(),
        };
        let fed = acts[0].without_bleed(&agent, whole);
        assert_eq!(fed.len(), agent.len());
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        // The agent's own speech passes untouched; the caller's bleed is gone.
        assert_eq!(rms(&fed[SR / 2 + 1000..SR]), rms(&agent[SR / 2 + 1000..SR]));
        assert!(rms(&fed[2 * SR + 1000..3 * SR - 1000]) < 1e-6);
    }

    #[test]
    fn double_talk_keeps_both_speakers() {
        let mut agent = vec![0f32; 6 * SR];
        let mut caller = vec![0f32; 6 * SR];
        mix(&mut agent, &voice(3.0, -18.0, 1), SR, 0.0);
        mix(&mut caller, &voice(3.0, -15.0, 2), 2 * SR, 0.0);
        let acts = detect(&[&agent, &caller], &VadOptions::default());
        assert_eq!(acts[0].regions.len(), 1);
        assert!(ms(acts[0].regions[0].end) >= 4000, "{:?}", acts[0].regions);
        assert_eq!(acts[1].regions.len(), 1);
    }

    #[test]
    fn clicks_are_dropped_and_close_regions_merge() {
        let mut leg = vec![0f32; 10 * SR];
        mix(&mut leg, &voice(0.03, -10.0, 1), 2 * SR, 0.0); // a 30 ms click
        mix(&mut leg, &voice(1.0, -18.0, 1), 5 * SR, 0.0);
        mix(&mut leg, &voice(1.0, -18.0, 1), 6 * SR + SR / 4, 0.0); // 250 ms later
        let a = &detect(&[&leg], &VadOptions::default())[0];
        assert_eq!(a.regions.len(), 1, "{:?}", a.regions);
        assert!(ms(a.regions[0].start) >= 4700);
    }

    #[test]
    fn voiced_fraction_reflects_the_gate() {
        let mut leg = vec![0f32; 4 * SR];
        mix(&mut leg, &voice(1.0, -18.0, 1), SR, 0.0);
        let a = &detect(&[&leg], &VadOptions::default())[0];
        assert!(a.voiced_fraction(1000, 2000) > 0.9);
        assert_eq!(a.voiced_fraction(2500, 3500), 0.0);
        assert_eq!(a.voiced_fraction(3000, 3000), 0.0);
    }

    #[test]
    fn empty_leg_is_handled() {
        let acts = detect(&[&[]], &VadOptions::default());
        assert!(acts[0].regions.is_empty());
    }
}

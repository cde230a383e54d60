//! Live voice activity on the far end's audio, 20 ms frame by frame, against the line's own noise
//! floor.
//!
//! Real lines differ: between words one leg sits near −90 dBFS, another near −46 dBFS (8-bit
//! quantisation noise), while speech runs around −15 to −20 dBFS. A fixed threshold would hear
//! speech in the noise of one line and miss quiet speech on another, so the floor is estimated
//! as a low percentile of the last few seconds' frame levels (a percentile, not the minimum, so
//! a few frames of digital silence from a lost packet do not drag it down), and a frame is
//! speech when it stands `margin_db` above that floor (and above an absolute minimum that no
//! speech on a telephone line falls under). A frame only counts as active when most of the
//! last few frames were speech, so a click does not start a turn.
//!
//! Written here rather than taken from a crate: the VAD crates on the registries are neural
//! (ONNX models, 16 kHz) and give probabilities per 30 ms window, while turn-taking needs a
//! cheap decision per 20 ms G.711 frame with a floor that adapts as the call goes on.

use std::collections::VecDeque;

/// Samples in a 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Milliseconds per frame.
pub const FRAME_MS: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadSettings {
    /// A frame is speech this far above the noise floor.
    pub margin_db: f32,
    /// …and above this level, whatever the floor (nothing quieter is speech on a phone line).
    pub absolute_min_db: f32,
    /// Frames of history the floor is estimated over (250 = 5 s).
    pub floor_window: usize,
    /// The floor is this percentile of the window's levels.
    pub floor_percentile: f32,
    /// A frame is active when at least `votes` of the last `vote_window` frames are speech.
    pub votes: u32,
    pub vote_window: u32,
}

impl Default for VadSettings {
    fn default() -> Self {
        VadSettings {
            margin_db: 10.0,
            absolute_min_db: -60.0,
            floor_window: 250,
            floor_percentile: 0.1,
            votes: 3,
            vote_window: 5,
        }
    }
}

/// The level of a frame in dBFS (−100 for digital silence).
pub fn frame_dbfs(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return -100.0;
    }
    let sum: f64 = frame.iter().map(|&s| (s as f64) * (s as f64)).sum();
    let mean = sum / frame.len() as f64 / (32768.0 * 32768.0);
    if mean <= 1e-10 {
        -100.0
    } else {
        (10.0 * mean.log10()) as f32
    }
}

/// Voice activity of one stream, decided frame by frame.
#[derive(Debug, Clone)]
pub struct Vad {
    settings: VadSettings,
    levels: VecDeque<f32>,
    floor_db: f32,
    /// The last `vote_window` raw decisions, newest in bit 0.
    recent: u32,
    frames: u64,
}

impl Vad {
    pub fn new(settings: VadSettings) -> Vad {
        Vad {
            settings,
            levels: VecDeque::with_capacity(settings.floor_window + 1),
            floor_db: -100.0,
            recent: 0,
            frames: 0,
        }
    }

    /// Takes the next 20 ms frame; returns whether the stream is active (speaking) at it.
    pub fn push(&mut self, frame: &[i16]) -> bool {
        let level = frame_dbfs(frame);
        self.levels.push_back(level);
        if self.levels.len() > self.settings.floor_window {
            self.levels.pop_front();
        }
        // Re-estimated every 10 frames (200 ms): the floor moves slowly, and sorting a window
        // per frame would be waste.
        if self.frames.is_multiple_of(10) || self.levels.len() < 10 {
            let mut sorted: Vec<f32> = self.levels.iter().copied().collect();
            sorted.sort_by(f32::total_cmp);
            let i = ((sorted.len() - 1) as f32 * self.settings.floor_percentile) as usize;
            self.floor_db = sorted[i];
        }
        self.frames += 1;
        let speech =
            level > (self.floor_db + self.settings.margin_db).max(self.settings.absolute_min_db);
        let mask = (1u32 << self.settings.vote_window) - 1;
        self.recent = ((self.recent << 1) | speech as u32) & mask;
        self.recent.count_ones() >= self.settings.votes
    }

    /// The current noise floor estimate, dBFS.
    pub fn floor_db(&self) -> f32 {
        self.floor_db
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

/// Synthetic test audio: speech-like bursts over a noise floor.
#[cfg(test)]
pub(crate) mod synth {
    use super::FRAME_SAMPLES;

    /// A reproducible noise source (a linear congruential generator: test data, not crypto).
    pub struct Noise(u64);

    impl Noise {
        pub fn new(seed: u64) -> Noise {
            Noise(seed.wrapping_mul(6364136223846793005).wrapping_add(1))
        }
        /// Uniform in [-1, 1).
        pub fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    /// Amplitude of uniform noise whose RMS is `dbfs`.
    fn noise_amplitude(dbfs: f32) -> f32 {
        // Uniform noise on [-a, a] has RMS a/√3.
        10f32.powf(dbfs / 20.0) * 3f32.sqrt() * 32768.0
    }

    /// `ms` milliseconds of noise at `floor_dbfs`.
    pub fn noise(ms: u64, floor_dbfs: f32, rng: &mut Noise) -> Vec<i16> {
        let a = noise_amplitude(floor_dbfs);
        (0..ms * 8)
            .map(|_| (rng.next() * a).clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    /// `ms` of voiced "speech" at about `dbfs` RMS: a 140 Hz buzz with harmonics, shaped into
    /// syllables (4 per second, dipping ~25 dB between them), plus the line's noise.
    pub fn speech(ms: u64, dbfs: f32, floor_dbfs: f32, rng: &mut Noise) -> Vec<i16> {
        // The buzz (RMS 0.58) times the syllable envelope (RMS 0.64) has RMS 0.37: scale it up.
        let peak = 10f32.powf(dbfs / 20.0) * 32768.0 / 0.366;
        let n = noise(ms, floor_dbfs, rng);
        (0..(ms * 8) as usize)
            .map(|i| {
                let t = i as f32 / 8000.0;
                let buzz: f32 = (1..=6)
                    .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                    .sum::<f32>()
                    / 1.5;
                let syllable = 0.55 - 0.45 * (2.0 * std::f32::consts::PI * 4.0 * t).cos();
                (buzz * syllable * peak + n[i] as f32).clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    /// Frames of `audio` (the tail shorter than a frame dropped).
    pub fn frames(audio: &[i16]) -> impl Iterator<Item = &[i16]> {
        audio.chunks_exact(FRAME_SAMPLES)
    }
}

#[cfg(test)]
mod tests {
    use super::synth::*;
    use super::*;

    /// Active frames of `audio` as (start_ms, end_ms) runs.
    fn runs(audio: &[i16]) -> Vec<(u64, u64)> {
        let mut vad = Vad::new(VadSettings::default());
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut start = None;
        for (i, f) in frames(audio).enumerate() {
            let t = i as u64 * FRAME_MS;
            match (vad.push(f), start) {
                (true, None) => start = Some(t),
                (false, Some(s)) => {
                    out.push((s, t));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((s, audio.len() as u64 / 8));
        }
        out
    }

    #[test]
    fn levels_are_measured_in_dbfs() {
        assert_eq!(frame_dbfs(&[0; 160]), -100.0);
        let full = [i16::MAX; 160];
        assert!(frame_dbfs(&full).abs() < 0.01);
        let mut rng = Noise::new(1);
        let n = noise(1000, -46.0, &mut rng);
        assert!((frame_dbfs(&n) + 46.0).abs() < 0.5, "{}", frame_dbfs(&n));
        let s = speech(1000, -20.0, -100.0, &mut rng);
        assert!((frame_dbfs(&s) + 20.0).abs() < 3.0, "{}", frame_dbfs(&s));
    }

    #[test]
    fn finds_speech_over_very_different_noise_floors() {
        for floor in [-90.0, -65.0, -46.0] {
            let mut rng = Noise::new(7);
            let mut audio = noise(2000, floor, &mut rng);
            audio.extend(speech(3000, -20.0, floor, &mut rng));
            audio.extend(noise(2000, floor, &mut rng));
            audio.extend(speech(1500, -24.0, floor, &mut rng));
            audio.extend(noise(1500, floor, &mut rng));
            let r = runs(&audio);
            // Within a syllable's dip the level may fall under the threshold: merge gaps under
            // 300 ms, as turn-taking (which waits a second) effectively does.
            let mut merged: Vec<(u64, u64)> = Vec::new();
            for (s, e) in r {
                match merged.last_mut() {
                    Some(last) if s - last.1 < 300 => last.1 = e,
                    _ => merged.push((s, e)),
                }
            }
            assert_eq!(merged.len(), 2, "floor {floor} dBFS: {merged:?}");
            for ((s, e), (ws, we)) in merged.iter().zip([(2000, 5000), (7000, 8500)]) {
                assert!(
                    s.abs_diff(ws) <= 160 && e.abs_diff(we) <= 200,
                    "floor {floor} dBFS: speech {ws}-{we} found at {s}-{e}"
                );
            }
        }
    }

    #[test]
    fn the_floor_follows_the_line_and_ignores_lost_packets() {
        let mut rng = Noise::new(3);
        let mut vad = Vad::new(VadSettings::default());
        let mut audio = noise(3000, -46.0, &mut rng);
        // Two lost packets (digital zero) in the noise.
        audio[8000..8320].fill(0);
        for f in frames(&audio) {
            assert!(!vad.push(f), "noise is not speech");
        }
        assert!((vad.floor_db() + 46.0).abs() < 1.5, "{}", vad.floor_db());
    }

    #[test]
    fn clicks_and_digital_silence_are_not_speech() {
        let mut vad = Vad::new(VadSettings::default());
        let mut audio = vec![0i16; 8000];
        // A 20 ms click at full level.
        audio[4000..4160].fill(20000);
        assert!(frames(&audio).all(|f| !vad.push(f)));
        // Faint hiss well under any speech, on a line that is otherwise digitally silent.
        let mut rng = Noise::new(9);
        let hiss = noise(1000, -75.0, &mut rng);
        assert!(frames(&hiss).all(|f| !vad.push(f)));
    }
}

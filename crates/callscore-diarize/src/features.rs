//! Short-time spectra of a 16 kHz leg: 25 ms Hann windows every 10 ms, a 40-band mel power
//! spectrum (librosa's `melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)`, the
//! input the speaker encoder was trained on), and cepstra of the telephone band for the
//! spectral-statistics speaker features.

use callscore_core::SAMPLE_RATE;
use realfft::RealFftPlanner;

/// Samples between frames (10 ms).
pub const HOP: usize = 160;
/// FFT and window length (25 ms).
pub const N_FFT: usize = 400;
/// Mel bands.
pub const N_MELS: usize = 40;
/// Milliseconds per frame step.
pub const FRAME_MS: u64 = (HOP as u64 * 1000) / SAMPLE_RATE as u64;

/// Mel bands whose centre lies inside the telephone band (about 150–3500 Hz on Slaney's scale
/// with 40 bands to 8 kHz). Bands above it hold only the resampler's residue on 8 kHz calls,
/// which says nothing about the speaker.
const PHONE_BANDS: std::ops::Range<usize> = 2..30;
/// Cepstral coefficients kept (c1…c16; c0 is loudness, which says where the speaker sat, not
/// who they are).
pub const N_CEPS: usize = 16;

/// Frame-wise features of one leg.
#[derive(Debug, Clone)]
pub struct Spectra {
    /// `frames × N_MELS` mel power, row-major.
    pub mel: Vec<f32>,
    /// `frames × N_CEPS` cepstra of the telephone band, row-major.
    pub ceps: Vec<f32>,
    /// Frame level in dB (10·log10 of the mean square of the window).
    pub level_db: Vec<f32>,
    pub frames: usize,
}

impl Spectra {
    pub fn mel_frame(&self, f: usize) -> &[f32] {
        &self.mel[f * N_MELS..(f + 1) * N_MELS]
    }
    pub fn ceps_frame(&self, f: usize) -> &[f32] {
        &self.ceps[f * N_CEPS..(f + 1) * N_CEPS]
    }
}

/// Frame `f` is centred on sample `f * HOP` (librosa's `center=True`, zero padded).
pub fn frame_count(samples: usize) -> usize {
    1 + samples / HOP
}

/// Computes mel power spectra and telephone-band cepstra. `gain` scales the samples first (the
/// encoder expects speech at −30 dBFS; see [`speech_gain`]).
pub fn spectra(samples: &[f32], gain: f32) -> Spectra {
    let frames = frame_count(samples.len());
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(N_FFT);
    let window: Vec<f32> = (0..N_FFT)
        .map(|i| {
            // Periodic Hann, as scipy's get_window('hann') that librosa uses.
            let x = std::f32::consts::PI * 2.0 * i as f32 / N_FFT as f32;
            0.5 - 0.5 * x.cos()
        })
        .collect();
    let filters = callscore_transcribe::mel::mel_filterbank(N_MELS, N_FFT, SAMPLE_RATE as f64);
    let n_bins = N_FFT / 2 + 1;
    // Each band's non-zero bins, so the filterbank costs what its triangles cover.
    let spans: Vec<(usize, usize)> = (0..N_MELS)
        .map(|m| {
            let row = &filters[m * n_bins..(m + 1) * n_bins];
            let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&w| w > 0.0).map_or(0, |i| i + 1);
            (first, last.max(first))
        })
        .collect();
    let dct = dct_matrix(PHONE_BANDS.len(), N_CEPS);

    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut mel = vec![0f32; frames * N_MELS];
    let mut ceps = vec![0f32; frames * N_CEPS];
    let mut level_db = vec![0f32; frames];
    let half = N_FFT / 2;
    let mut log_band = vec![0f32; PHONE_BANDS.len()];
    for f in 0..frames {
        let centre = f * HOP;
        let mut energy = 0f64;
        for (i, slot) in input.iter_mut().enumerate() {
            let idx = (centre + i) as isize - half as isize;
            let x = if idx >= 0 && (idx as usize) < samples.len() {
                samples[idx as usize] * gain
            } else {
                0.0
            };
            energy += (x as f64) * (x as f64);
            *slot = x * window[i];
        }
        level_db[f] = (10.0 * (energy / N_FFT as f64 + 1e-10).log10()) as f32;
        // The planner's sizes match the buffers it made, so this cannot fail.
        if fft
            .process_with_scratch(&mut input, &mut output, &mut scratch)
            .is_err()
        {
            continue;
        }
        let row = &mut mel[f * N_MELS..(f + 1) * N_MELS];
        for (m, &(lo, hi)) in spans.iter().enumerate() {
            let w = &filters[m * n_bins..(m + 1) * n_bins];
            row[m] = (lo..hi).map(|b| w[b] * output[b].norm_sqr()).sum();
        }
        for (k, b) in PHONE_BANDS.enumerate() {
            log_band[k] = (row[b] + 1e-8).ln();
        }
        let out = &mut ceps[f * N_CEPS..(f + 1) * N_CEPS];
        for (c, slot) in out.iter_mut().enumerate() {
            let basis = &dct[c * PHONE_BANDS.len()..(c + 1) * PHONE_BANDS.len()];
            *slot = basis.iter().zip(&log_band).map(|(a, b)| a * b).sum();
        }
    }
    Spectra {
        mel,
        ceps,
        level_db,
        frames,
    }
}

/// Orthonormal DCT-II rows 1..=n (row 0, the mean, is skipped), each `bands` long.
fn dct_matrix(bands: usize, n: usize) -> Vec<f32> {
    let scale = (2.0 / bands as f64).sqrt();
    let mut m = Vec::with_capacity(n * bands);
    for c in 1..=n {
        for b in 0..bands {
            let x = std::f64::consts::PI * c as f64 * (b as f64 + 0.5) / bands as f64;
            m.push((scale * x.cos()) as f32);
        }
    }
    m
}

/// The gain that brings the speech in `regions` (sample ranges) to −30 dBFS RMS, never
/// lowering it: the speaker encoder's own preprocessing (`normalize_volume(increase_only)`).
pub fn speech_gain(samples: &[f32], regions: &[std::ops::Range<usize>]) -> f32 {
    let (mut sum, mut n) = (0f64, 0usize);
    for r in regions {
        for &x in &samples[r.start.min(samples.len())..r.end.min(samples.len())] {
            sum += (x as f64) * (x as f64);
            n += 1;
        }
    }
    if n == 0 || sum <= 0.0 {
        return 1.0;
    }
    let dbfs = 10.0 * (sum / n as f64).log10();
    let change_db = -30.0 - dbfs;
    if change_db <= 0.0 {
        1.0
    } else {
        10f64.powf(change_db / 20.0) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, secs: f32, amp: f32) -> Vec<f32> {
        (0..(secs * SAMPLE_RATE as f32) as usize)
            .map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / SAMPLE_RATE as f32).sin())
            .collect()
    }

    #[test]
    fn a_tone_lands_in_its_mel_band() {
        let s = spectra(&tone(1000.0, 0.5, 0.5), 1.0);
        assert_eq!(s.frames, 1 + 8000 / HOP);
        let mid = s.mel_frame(20);
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| mid[a].total_cmp(&mid[b]))
            .unwrap();
        // 1 kHz is mel 15 on Slaney's scale; 40 bands to 8 kHz are 1.1 mel apart.
        assert!((12..=14).contains(&loudest), "band {loudest}");
        assert!((s.level_db[20] - -9.0).abs() < 0.5, "{}", s.level_db[20]);
    }

    /// Deterministic white noise.
    fn noise(secs: f32, amp: f32) -> Vec<f32> {
        let mut seed = 1u32;
        (0..(secs * SAMPLE_RATE as f32) as usize)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amp * ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            })
            .collect()
    }

    #[test]
    fn cepstra_tell_two_spectra_apart_and_ignore_gain() {
        let a = spectra(&noise(0.3, 0.1), 1.0);
        let b = spectra(&noise(0.3, 0.1), 4.0);
        let toned: Vec<f32> = tone(300.0, 0.3, 0.2)
            .iter()
            .zip(noise(0.3, 0.01))
            .map(|(t, n)| t + n)
            .collect();
        let c = spectra(&toned, 1.0);
        let d = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| (p - q).abs()).sum::<f32>();
        assert!(d(a.ceps_frame(10), b.ceps_frame(10)) < 1e-2);
        assert!(d(a.ceps_frame(10), c.ceps_frame(10)) > 5.0);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // one region: the whole clip
    fn speech_gain_raises_quiet_speech_only() {
        let quiet = tone(500.0, 1.0, 0.01);
        let g = speech_gain(&quiet, &[0..quiet.len()]);
        // RMS of a 0.01 sine is −43 dBFS: 13 dB up to −30.
        assert!((20.0 * g.log10() - 13.0).abs() < 0.2, "{g}");
        let loud = tone(500.0, 1.0, 0.5);
        assert_eq!(speech_gain(&loud, &[0..loud.len()]), 1.0);
        assert_eq!(speech_gain(&loud, &[]), 1.0);
    }
}

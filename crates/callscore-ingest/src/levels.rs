//! Signal levels of a leg, for voice-activity gates and for reports ("the caller leg is silent").
//!
//! Real legs differ widely between turns (quiet frames measured near -90, -84, -69 and -65 dBFS
//! on four real legs, -46 dBFS on an 8-bit one), so a gate should compare each frame with the
//! leg's own noise floor ([`noise_floor_dbfs`]) rather than with one fixed threshold.

/// The level reported for digital silence, where the logarithm would be minus infinity.
pub const SILENCE_DBFS: f32 = -120.0;

/// RMS level of `samples` in dBFS (a full-scale sine is -3 dBFS), floored at [`SILENCE_DBFS`].
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return SILENCE_DBFS;
    }
    let mean_square = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    to_dbfs(mean_square.sqrt())
}

/// Peak level of `samples` in dBFS, floored at [`SILENCE_DBFS`].
pub fn peak_dbfs(samples: &[f32]) -> f32 {
    to_dbfs(samples.iter().fold(0.0f32, |m, &s| m.max(s.abs())) as f64)
}

fn to_dbfs(amplitude: f64) -> f32 {
    if amplitude <= 0.0 {
        return SILENCE_DBFS;
    }
    (20.0 * amplitude.log10()).max(f64::from(SILENCE_DBFS)) as f32
}

/// RMS level in dBFS of each consecutive frame of `frame_ms` milliseconds (the last, partial
/// frame included). With 20 ms frames at 16 kHz each value covers 320 samples.
pub fn frame_levels_dbfs(samples: &[f32], sample_rate: u32, frame_ms: u32) -> Vec<f32> {
    let frame_len = (sample_rate as usize * frame_ms as usize / 1000).max(1);
    samples.chunks(frame_len).map(rms_dbfs).collect()
}

/// The `percentile` (0–100) of frame levels: a low percentile (10–20) of 20 ms frames estimates
/// the leg's noise floor, since even a busy leg is quiet between words more than that often.
/// Returns [`SILENCE_DBFS`] for no frames.
pub fn percentile_dbfs(levels: &[f32], percentile: f32) -> f32 {
    if levels.is_empty() {
        return SILENCE_DBFS;
    }
    let mut sorted = levels.to_vec();
    sorted.sort_by(f32::total_cmp);
    let rank = (percentile.clamp(0.0, 100.0) / 100.0 * (sorted.len() - 1) as f32).round() as usize;
    sorted[rank]
}

/// The leg's noise floor: the 10th percentile of its 20 ms frame levels.
pub fn noise_floor_dbfs(samples: &[f32], sample_rate: u32) -> f32 {
    percentile_dbfs(&frame_levels_dbfs(samples, sample_rate, 20), 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_is_minus_three_dbfs() {
        let sine: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        assert!(
            (rms_dbfs(&sine) - -3.01).abs() < 0.05,
            "{}",
            rms_dbfs(&sine)
        );
        assert!(peak_dbfs(&sine).abs() < 0.01);
    }

    #[test]
    fn silence_is_floored_not_infinite() {
        assert_eq!(rms_dbfs(&[0.0; 320]), SILENCE_DBFS);
        assert_eq!(rms_dbfs(&[]), SILENCE_DBFS);
        assert_eq!(peak_dbfs(&[0.0; 4]), SILENCE_DBFS);
    }

    #[test]
    fn frames_cover_every_sample() {
        let levels = frame_levels_dbfs(&vec![0.5; 16_000 + 100], 16_000, 20);
        assert_eq!(levels.len(), 51);
        assert!(levels.iter().all(|&l| (l - -6.02).abs() < 0.01));
    }

    #[test]
    fn noise_floor_ignores_the_loud_frames() {
        // 80% speech-like loud frames, 20% quiet frames at -60 dBFS.
        let mut x = Vec::new();
        for i in 0..100 {
            let amp = if i % 5 == 0 { 0.001 } else { 0.3 };
            x.extend(std::iter::repeat_n(amp, 320));
        }
        assert!((noise_floor_dbfs(&x, 16_000) - -60.0).abs() < 0.1);
        assert_eq!(percentile_dbfs(&[-10.0, -50.0, -30.0], 0.0), -50.0);
        assert_eq!(percentile_dbfs(&[-10.0, -50.0, -30.0], 100.0), -10.0);
    }
}

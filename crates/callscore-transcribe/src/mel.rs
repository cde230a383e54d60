//! The mel filterbank that whisper.cpp reads from the model file.
//!
//! Whisper was trained on log-mel spectrograms made with librosa's `filters.mel(sr=16000,
//! n_fft=400, n_mels=80)`: Slaney's mel scale (linear below 1 kHz, logarithmic above) and
//! Slaney's area normalisation. CTranslate2 models do not carry the filterbank, so the converter
//! computes it here, in f64 like librosa, and stores f32 like whisper's own `mel_filters.npz`.
//! Hand-written because it is twenty lines of well-known arithmetic and no maintained crate
//! offers Slaney-normalised filters with librosa's exact conventions.

/// Sample rate Whisper models expect.
pub const WHISPER_SAMPLE_RATE: f64 = 16_000.0;
/// Whisper's FFT size (25 ms windows at 16 kHz).
pub const WHISPER_N_FFT: usize = 400;

const F_SP: f64 = 200.0 / 3.0; // Hz per mel below the break frequency
const MIN_LOG_HZ: f64 = 1000.0; // where the scale turns logarithmic
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz → mel on Slaney's scale (librosa's default, `htk=False`).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Mel → Hz on Slaney's scale.
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `n_mels × (n_fft/2 + 1)` triangular filters, row-major, Slaney-normalised, from 0 Hz to
/// the Nyquist frequency.
pub fn mel_filterbank(n_mels: usize, n_fft: usize, sample_rate: f64) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|i| i as f64 * sample_rate / n_fft as f64)
        .collect();

    // n_mels + 2 edge frequencies, evenly spaced in mel from 0 to Nyquist.
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0));
    let n_edges = n_mels + 2;
    let step = (hi - lo) / (n_edges - 1) as f64;
    let edges: Vec<f64> = (0..n_edges)
        .map(|i| {
            if i == n_edges - 1 {
                hi
            } else {
                lo + step * i as f64
            }
        })
        .map(mel_to_hz)
        .collect();

    let mut weights = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let (left, center, right) = (edges[m], edges[m + 1], edges[m + 2]);
        // Slaney normalisation: every triangle has unit area in Hz.
        let norm = 2.0 / (right - left);
        for (b, &f) in fft_freqs.iter().enumerate() {
            let rising = (f - left) / (center - left);
            let falling = (right - f) / (right - center);
            let w = rising.min(falling).max(0.0);
            weights[m * n_bins + b] = (w * norm) as f32;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_linear_below_1khz_and_round_trips() {
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        for hz in [0.0, 40.0, 999.0, 1000.0, 3000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
    }

    #[test]
    fn whisper_filterbank_matches_librosa_reference_values() {
        let w = mel_filterbank(80, WHISPER_N_FFT, WHISPER_SAMPLE_RATE);
        assert_eq!(w.len(), 80 * 201);
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0] (whisper's mel_filters.npz):
        // the first filter spans 0–74.5 Hz, so only the 40 Hz bin is non-zero.
        assert_eq!(w[0], 0.0);
        assert!((w[1] - 0.024_862_59).abs() < 1e-7, "{}", w[1]);
        assert!(w[2..201].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn every_filter_has_unit_area_and_peaks_in_order() {
        let bins = 201;
        let w = mel_filterbank(80, WHISPER_N_FFT, WHISPER_SAMPLE_RATE);
        let mut last_peak = 0;
        for m in 0..80 {
            let row = &w[m * bins..(m + 1) * bins];
            let peak = (0..bins)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            assert!(
                peak >= last_peak,
                "filter {m} peaks before filter {}",
                m.saturating_sub(1)
            );
            last_peak = peak;
            // Sampled every 40 Hz, each triangle's area is 1 within the sampling error, which
            // is largest where filters are 2–4 bins wide (around 1–2 kHz).
            let area: f64 = row.iter().map(|&x| x as f64 * 40.0).sum();
            assert!((area - 1.0).abs() < 0.1, "filter {m} area {area}");
            if m >= 42 {
                assert!((area - 1.0).abs() < 0.02, "filter {m} area {area}");
            }
            assert!(row.iter().all(|&x| x >= 0.0));
        }
    }
}

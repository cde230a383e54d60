//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository's fixtures directory, as a path relative to this crate (the test's working
/// directory), so error messages that name files are the same on every machine.
pub fn fixtures() -> PathBuf {
    PathBuf::from("../../fixtures")
}

pub fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// Files of a fixtures subdirectory, sorted, without sidecars or notes.
pub fn audio_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(dir))
        .unwrap_or_else(|e| panic!("reading fixtures/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    // The bad-input corpus's table and harness sit in fixtures/bad/ too.
                    .is_some_and(|e| {
                        !matches!(e.to_str(), Some("json" | "md" | "script" | "toml" | "rs"))
                    })
        })
        .collect();
    files.sort();
    files
}

pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Frequency of a steady tone from its rising zero crossings, interpolated between samples:
/// accurate to well under 0.1 Hz over a second of a clean tone.
pub fn tone_frequency(samples: &[f32], rate: u32) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..samples.len() {
        let (a, b) = (samples[i - 1] as f64, samples[i] as f64);
        if a < 0.0 && b >= 0.0 {
            crossings.push((i - 1) as f64 + a / (a - b));
        }
    }
    assert!(crossings.len() >= 2, "no tone found");
    let periods = (crossings.len() - 1) as f64;
    periods * rate as f64 / (crossings[crossings.len() - 1] - crossings[0])
}

/// The middle of a clip, clear of decoder start-up and end effects.
pub fn middle(samples: &[f32], rate: u32) -> &[f32] {
    let margin = (rate / 4) as usize;
    &samples[margin.min(samples.len())..samples.len().saturating_sub(margin)]
}

/// Writes a 16-bit PCM WAV of the given channels (each a slice of -1..1 samples).
pub fn write_wav(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample((ch[i] * 32767.0).round() as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Writes a 32-bit float WAV, so tests of the resampler are not limited by 16-bit noise.
pub fn write_wav_f32(path: &Path, rate: u32, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

pub fn sine(freq: f64, rate: u32, seconds: f64, amplitude: f32) -> Vec<f32> {
    let n = (seconds * rate as f64).round() as usize;
    (0..n)
        .map(|i| {
            amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() as f32
        })
        .collect()
}

/// RMS of a slice in dBFS.
pub fn rms_db(x: &[f32]) -> f64 {
    callscore_ingest::levels::rms_dbfs(x) as f64
}

/// Samples of a 16 kHz leg between two call times.
pub fn window(samples: &[f32], start_ms: u64, end_ms: u64) -> &[f32] {
    let a = (start_ms * 16) as usize;
    let b = ((end_ms * 16) as usize).min(samples.len());
    &samples[a.min(b)..b]
}

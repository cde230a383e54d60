//! Resampling through `load`: a tone keeps its frequency and level, the duration is preserved
//! within 1 ms, and what 16 kHz cannot carry is filtered out rather than aliased.

mod common;

use callscore_core::SAMPLE_RATE;
use callscore_ingest::{load, resample::resample, LoadOptions};
use common::*;

const RATES: [u32; 7] = [8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000];

#[test]
fn a_1khz_tone_stays_1khz_and_the_duration_is_preserved() {
    let dir = tempfile::tempdir().unwrap();
    for rate in RATES {
        // An odd length, so the duration is not a round number of output samples either.
        let seconds = 3.0 + 37.0 / rate as f64;
        let p = dir.path().join(format!("tone_{rate}.wav"));
        let x = sine(1000.0, rate, seconds, 0.5);
        write_wav_f32(&p, rate, &x);
        let rec = load(&p, &LoadOptions::default()).unwrap();
        let leg = &rec.legs[0].samples;

        let source_ms = x.len() as f64 * 1000.0 / rate as f64;
        let leg_ms = leg.len() as f64 * 1000.0 / SAMPLE_RATE as f64;
        assert!(
            (leg_ms - source_ms).abs() <= 1.0,
            "{rate} Hz: {leg_ms} ms vs {source_ms} ms"
        );
        assert!(
            (rec.duration_ms as f64 - source_ms).abs() <= 1.0,
            "{rate} Hz: {} ms",
            rec.duration_ms
        );

        let f = tone_frequency(middle(leg, SAMPLE_RATE), SAMPLE_RATE);
        assert!((f - 1000.0).abs() < 0.05, "{rate} Hz: {f:.3} Hz");
        let level = rms_db(middle(leg, SAMPLE_RATE));
        assert!((level - -9.03).abs() < 0.05, "{rate} Hz: {level:.3} dBFS");
    }
}

#[test]
fn the_tone_starts_where_it_started_in_the_source() {
    // Evidence points listeners at moments in the call: resampling must not shift time.
    let dir = tempfile::tempdir().unwrap();
    for rate in RATES {
        let mut x = vec![0.0f32; rate as usize];
        x.extend(sine(1000.0, rate, 1.0, 0.5));
        let p = dir.path().join(format!("onset_{rate}.wav"));
        write_wav_f32(&p, rate, &x);
        let leg = &load(&p, &LoadOptions::default()).unwrap().legs[0].samples;
        let onset = leg.iter().position(|s| s.abs() > 0.25).unwrap();
        let onset_ms = onset as f64 * 1000.0 / SAMPLE_RATE as f64;
        assert!(
            (onset_ms - 1000.0).abs() < 1.0,
            "{rate} Hz: tone starts at {onset_ms:.2} ms"
        );
    }
}

#[test]
fn frequencies_above_8khz_are_removed_not_aliased() {
    // 16 kHz output carries up to 8 kHz. A 6 kHz tone passes; an 11 kHz tone must vanish
    // instead of folding back to 5 kHz.
    for rate in [44_100u32, 48_000] {
        let pass = resample(&sine(6000.0, rate, 1.0, 0.5), rate, SAMPLE_RATE).unwrap();
        assert!(
            (rms_db(middle(&pass, SAMPLE_RATE)) - -9.03).abs() < 0.2,
            "{rate} Hz: 6 kHz level"
        );
        let stop = resample(&sine(11_000.0, rate, 1.0, 0.5), rate, SAMPLE_RATE).unwrap();
        let residue = rms_db(middle(&stop, SAMPLE_RATE));
        assert!(
            residue < -60.0,
            "{rate} Hz: 11 kHz leaks at {residue:.1} dBFS"
        );
    }
}

#[test]
fn upsampling_telephone_audio_adds_nothing_above_4khz() {
    // 8 kHz audio has nothing above 4 kHz; the 16 kHz version must not invent images there.
    let up = resample(&sine(3000.0, 8_000, 1.0, 0.5), 8_000, SAMPLE_RATE).unwrap();
    let mid = middle(&up, SAMPLE_RATE);
    // An image of a 3 kHz tone would appear at 5 kHz: measure it with a Goertzel filter.
    let power_at = |freq: f64| {
        let w = 2.0 * std::f64::consts::PI * freq / SAMPLE_RATE as f64;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in mid {
            let s = x as f64 + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (mid.len() as f64).powi(2)
    };
    let image_db = 10.0 * (power_at(5000.0) / power_at(3000.0)).log10();
    assert!(
        image_db < -60.0,
        "image at 5 kHz only {image_db:.1} dB below the tone"
    );
}

//! Every clip in fixtures/formats decodes to the right rate, length, level and channel order.
//! The clips are 2.0 s of -6 dBFS tones: channel 1 at 1000 Hz, channel 2 at 400 Hz.

mod common;

use callscore_core::{Speaker, SAMPLE_RATE};
use callscore_ingest::{load, LoadOptions};
use common::*;

struct Expect {
    file: &'static str,
    format: &'static str,
    channels: u16,
    rate: u32,
    /// How far the decoded length may be from 2000 ms: 1 ms for PCM and lossless codecs; lossy
    /// codecs carry encoder delay and padding.
    duration_slack_ms: u64,
    /// How far the level may be from the -9.03 dBFS RMS of a 0.5-amplitude sine.
    level_slack_db: f64,
}

const fn e(
    file: &'static str,
    format: &'static str,
    channels: u16,
    rate: u32,
    duration_slack_ms: u64,
    level_slack_db: f64,
) -> Expect {
    Expect {
        file,
        format,
        channels,
        rate,
        duration_slack_ms,
        level_slack_db,
    }
}

const EXPECTED: &[Expect] = &[
    e("aac_stereo_16000.m4a", "mp4/aac", 2, 16_000, 150, 1.0),
    e("alaw_stereo_8000.wav", "wav/alaw", 2, 8_000, 1, 0.2),
    e("flac_stereo_16000.flac", "flac/flac", 2, 16_000, 1, 0.05),
    e(
        "float32_stereo_8000.wav",
        "wav/pcm_f32le",
        2,
        8_000,
        1,
        0.05,
    ),
    e("ima_adpcm_mono_8000.wav", "wav/adpcm_ima", 1, 8_000, 1, 0.5),
    e("mp3_stereo_44100.mp3", "mp3/mp3", 2, 44_100, 30, 1.0),
    e("mulaw_mono_8000.wav", "wav/mulaw", 1, 8_000, 1, 0.2),
    e("pcm16_4ch_8000.wav", "wav/pcm_s16le", 4, 8_000, 1, 0.05),
    e("pcm16_mono_16000.wav", "wav/pcm_s16le", 1, 16_000, 1, 0.05),
    e(
        "pcm16_stereo_44100.wav",
        "wav/pcm_s16le",
        2,
        44_100,
        1,
        0.05,
    ),
    e(
        "pcm24_stereo_11025.wav",
        "wav/pcm_s24le",
        2,
        11_025,
        1,
        0.05,
    ),
    e("pcm32_stereo_8000.wav", "wav/pcm_s32le", 2, 8_000, 1, 0.05),
    e("pcm8u_mono_8000.wav", "wav/pcm_u8", 1, 8_000, 1, 0.3),
    e("vorbis_stereo_22050.ogg", "ogg/vorbis", 2, 22_050, 30, 1.0),
];

#[test]
fn every_format_fixture_is_in_the_table() {
    let on_disk: Vec<String> = audio_files("formats")
        .iter()
        .map(|p| file_name(p))
        .collect();
    let listed: Vec<String> = EXPECTED.iter().map(|x| x.file.to_string()).collect();
    assert_eq!(
        on_disk, listed,
        "fixtures/formats and this test's table must list the same files"
    );
}

#[test]
fn every_format_decodes_to_16k_legs_with_the_right_tones() {
    for x in EXPECTED {
        let path = fixture("formats").join(x.file);
        let rec = load(&path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let what = x.file;
        assert_eq!(rec.source_format, x.format, "{what}");
        assert_eq!(rec.source_channels, x.channels, "{what}");
        assert_eq!(rec.source_sample_rate, x.rate, "{what}");
        assert!(
            rec.duration_ms.abs_diff(2000) <= x.duration_slack_ms,
            "{what}: {} ms",
            rec.duration_ms
        );

        let speakers: Vec<Speaker> = rec.legs.iter().map(|l| l.speaker).collect();
        let tones: &[f64] = if x.channels == 1 {
            &[1000.0]
        } else {
            &[1000.0, 400.0]
        };
        if x.channels == 1 {
            assert_eq!(speakers, [Speaker::Unknown], "{what}");
        } else {
            assert_eq!(speakers, [Speaker::Agent, Speaker::Caller], "{what}");
        }
        for (leg, &tone) in rec.legs.iter().zip(tones) {
            assert_eq!(
                leg.samples.len(),
                rec.legs[0].samples.len(),
                "{what}: legs differ in length"
            );
            assert!(leg.duration_ms().abs_diff(rec.duration_ms) <= 1, "{what}");
            let mid = middle(&leg.samples, SAMPLE_RATE);
            let f = tone_frequency(mid, SAMPLE_RATE);
            assert!(
                (f - tone).abs() < 0.5,
                "{what} {}: {f:.2} Hz, expected {tone}",
                leg.speaker
            );
            let level = rms_db(mid);
            assert!(
                (level - -9.03).abs() <= x.level_slack_db,
                "{what} {}: {level:.2} dBFS",
                leg.speaker
            );
            assert!(
                leg.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0),
                "{what}: sample out of range"
            );
        }
        let expect_warning = x.channels > 2;
        assert_eq!(
            !rec.warnings.is_empty(),
            expect_warning,
            "{what}: {:?}",
            rec.warnings
        );
    }
}

#[test]
fn more_than_two_channels_keeps_the_first_two_and_says_so() {
    let rec = load(
        &fixture("formats/pcm16_4ch_8000.wav"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.legs.len(), 2);
    assert_eq!(rec.source_channels, 4);
    assert_eq!(
        rec.warnings,
        ["the recording has 4 channels; used channels 1 and 2 as the call's two legs and ignored channels 3 to 4"]
    );
    let f: Vec<f64> = rec
        .legs
        .iter()
        .map(|l| tone_frequency(middle(&l.samples, SAMPLE_RATE), SAMPLE_RATE))
        .collect();
    assert!(
        (f[0] - 1000.0).abs() < 0.5 && (f[1] - 400.0).abs() < 0.5,
        "{f:?}"
    );
}

#[test]
fn g711_decodes_to_the_same_audio_as_the_pcm_it_came_from() {
    // The mu-law and A-law clips were encoded from the same 16-bit tones: G.711's quantisation
    // noise is about 38 dB below a -9 dBFS tone.
    let pcm = load(
        &fixture("formats/pcm32_stereo_8000.wav"),
        &LoadOptions::default(),
    )
    .unwrap();
    for (file, leg) in [
        ("formats/alaw_stereo_8000.wav", 0),
        ("formats/alaw_stereo_8000.wav", 1),
        ("formats/mulaw_mono_8000.wav", 0),
    ] {
        let g711 = load(&fixture(file), &LoadOptions::default()).unwrap();
        let (a, b) = (&pcm.legs[leg].samples, &g711.legs[leg].samples);
        assert_eq!(a.len(), b.len());
        let signal: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum();
        let noise: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum();
        let snr = 10.0 * (signal / noise).log10();
        assert!(snr > 30.0, "{file} leg {leg}: SNR {snr:.1} dB");
    }
}

#[test]
fn content_is_sniffed_not_taken_from_the_extension() {
    // A FLAC file named .wav, and a WAV named .mp3, as mislabelled exports arrive.
    let dir = tempfile::tempdir().unwrap();
    let flac_as_wav = dir.path().join("flac.wav");
    std::fs::copy(fixture("formats/flac_stereo_16000.flac"), &flac_as_wav).unwrap();
    let wav_as_mp3 = dir.path().join("wav.mp3");
    std::fs::copy(fixture("formats/pcm16_mono_16000.wav"), &wav_as_mp3).unwrap();
    assert_eq!(
        load(&flac_as_wav, &LoadOptions::default())
            .unwrap()
            .source_format,
        "flac/flac"
    );
    assert_eq!(
        load(&wav_as_mp3, &LoadOptions::default())
            .unwrap()
            .source_format,
        "wav/pcm_s16le"
    );
}

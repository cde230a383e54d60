//! Bad input gives a typed error naming the file and the reason, never a panic.

mod common;

use std::path::Path;

use callscore_ingest::{load, IngestError, LoadOptions};
use common::*;

fn load_err(rel: &str) -> IngestError {
    match load(&fixture(rel), &LoadOptions::default()) {
        Ok(r) => panic!(
            "{rel} loaded ({} ms, {:?}), expected an error",
            r.duration_ms, r.warnings
        ),
        Err(e) => e,
    }
}

#[test]
fn each_bad_file_gives_its_specific_error() {
    let cases: &[(&str, &str)] = &[
        ("bad/empty.wav", "empty"),
        ("bad/gsm610.wav", "unsupported_codec"),
        ("bad/not_audio.wav", "not_audio"),
        ("bad/random_bytes.mp3", "not_audio"),
        ("bad/truncated_header.wav", "truncated_header"),
        ("bad/unknown_format_tag.wav", "unsupported_codec"),
        ("bad/zero_channels.wav", "unsupported_channels"),
    ];
    for (rel, kind) in cases {
        let err = load_err(rel);
        assert_eq!(err.kind(), *kind, "{rel}: {err}");
        assert_eq!(err.path(), fixture(rel), "{rel}");
        assert!(
            err.to_string()
                .contains(&fixture(rel).display().to_string()),
            "{rel}: message must name the file: {err}"
        );
    }
}

#[test]
fn bad_input_messages() {
    // The messages users read, one per bad file: a golden file so a change is reviewed.
    let mut out = String::new();
    for path in audio_files("bad") {
        let line = match load(&path, &LoadOptions::default()) {
            Ok(r) => format!(
                "ok: {} ms, {} legs, warnings: {:?}",
                r.duration_ms,
                r.legs.len(),
                r.warnings
            ),
            Err(e) => format!("{}: {e}", e.kind()),
        };
        out.push_str(&format!("{}\n    {line}\n", file_name(&path)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn truncated_data_decodes_what_is_present_and_warns() {
    let rec = load(&fixture("bad/truncated_data.wav"), &LoadOptions::default()).unwrap();
    assert_eq!(rec.duration_ms, 500);
    assert_eq!(rec.legs.len(), 1);
    assert_eq!(rec.legs[0].samples.len(), 8_000);
    assert_eq!(
        rec.warnings,
        ["the file is truncated: its header promises 2.00 s of audio but only 0.50 s is present; decoded what is present"]
    );
    let f = tone_frequency(&rec.legs[0].samples[800..7200], 16_000);
    assert!((f - 1000.0).abs() < 0.5, "{f}");
}

#[test]
fn silent_stereo_loads_as_two_silent_legs() {
    let rec = load(
        &fixture("bad/silent_stereo_10s.wav"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.duration_ms, 10_000);
    assert_eq!(rec.legs.len(), 2);
    assert!(rec.warnings.is_empty());
    for leg in &rec.legs {
        assert_eq!(leg.samples.len(), 160_000);
        assert!(leg.samples.iter().all(|&s| s == 0.0));
    }
}

#[test]
fn missing_file_and_directory_are_io_errors_naming_them() {
    for p in [
        Path::new("../../fixtures/bad/no_such_file.wav"),
        Path::new("../../fixtures/bad"),
    ] {
        let err = load(p, &LoadOptions::default()).unwrap_err();
        assert_eq!(err.kind(), "io", "{err}");
        assert!(err.to_string().contains(&p.display().to_string()), "{err}");
    }
}

#[test]
fn a_wav_with_no_samples_is_no_audio() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("header_only.wav");
    write_wav(&p, 8000, &[vec![]]);
    assert_eq!(
        load(&p, &LoadOptions::default()).unwrap_err().kind(),
        "no_audio"
    );
}

#[test]
fn unfinished_recording_with_placeholder_length_decodes_to_the_end() {
    // Streaming writers put 0xFFFFFFFF (or 0) as the data length until they finish; a recorder
    // that crashes leaves it there. hound alone rejects such a file.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("streamed.wav");
    write_wav(&p, 8000, &[sine(1000.0, 8000, 1.0, 0.5)]);
    let mut bytes = std::fs::read(&p).unwrap();
    for placeholder in [u32::MAX, 0] {
        bytes[40..44].copy_from_slice(&placeholder.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let rec = load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(rec.duration_ms, 1000, "placeholder {placeholder:#x}");
        assert_eq!(rec.warnings.len(), 1, "{:?}", rec.warnings);
        assert!(
            rec.warnings[0].contains("decoded to the end of the file"),
            "{:?}",
            rec.warnings
        );
    }
}

#[test]
fn cutting_any_fixture_anywhere_never_panics() {
    // Every format cut at many points: each load returns Ok (with what is there) or an error.
    let dir = tempfile::tempdir().unwrap();
    for src in audio_files("formats")
        .into_iter()
        .chain([fixture("calls/mono_call.wav")])
    {
        let bytes = std::fs::read(&src).unwrap();
        let name = file_name(&src);
        // Every few bytes through the headers, then points spread through the data.
        let mut cuts: Vec<usize> = (0..80.min(bytes.len())).step_by(3).collect();
        cuts.extend((1..16).map(|k| bytes.len() * k / 16));
        for cut in cuts {
            let p = dir.path().join(&name);
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let result = std::panic::catch_unwind(|| load(&p, &LoadOptions::default()));
            let outcome = result.unwrap_or_else(|_| panic!("{name} cut at {cut} bytes panicked"));
            if let Err(e) = outcome {
                assert!(e.to_string().contains(&name), "{name} cut at {cut}: {e}");
            }
        }
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary bytes under every audio extension: an error or a recording, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000), ext in "(wav|mp3|flac|ogg|m4a)") {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join(format!("fuzz.{ext}"));
            std::fs::write(&p, &bytes).unwrap();
            let _ = load(&p, &LoadOptions::default());
        }

        /// A valid WAV header followed by arbitrary bytes, and with arbitrary header fields.
        #[test]
        fn corrupted_wav_headers_never_panic(
            tag in prop_oneof![Just(1u16), Just(3), Just(6), Just(7), Just(0x11), Just(2), any::<u16>()],
            channels in 0u16..9, rate in prop_oneof![Just(0u32), Just(8000), any::<u32>()],
            bits in prop_oneof![Just(8u16), Just(16), Just(24), Just(32), Just(64), any::<u16>()],
            block_align in 0u16..64, data_len in any::<u32>(),
            body in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let mut v = Vec::new();
            v.extend_from_slice(b"RIFF");
            v.extend_from_slice(&(36 + body.len() as u32).to_le_bytes());
            v.extend_from_slice(b"WAVEfmt ");
            v.extend_from_slice(&16u32.to_le_bytes());
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&channels.to_le_bytes());
            v.extend_from_slice(&rate.to_le_bytes());
            v.extend_from_slice(&rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
            v.extend_from_slice(&block_align.to_le_bytes());
            v.extend_from_slice(&bits.to_le_bytes());
            v.extend_from_slice(b"data");
            v.extend_from_slice(&data_len.to_le_bytes());
            v.extend_from_slice(&body);
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("fuzz.wav");
            std::fs::write(&p, &v).unwrap();
            let _ = load(&p, &LoadOptions::default());
        }
    }
}

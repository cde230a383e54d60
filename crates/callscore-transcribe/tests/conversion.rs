//! The installed model: the converter's output checked against the manifest and against what
//! whisper.cpp loads.
mod common;

use callscore_transcribe::ggml::{expected_tensors, GgmlModelInfo, GgmlType};
use callscore_transcribe::model::{self, InstallOutcome, Manifest, Pip, DEFAULT_MODEL};
use callscore_transcribe::{TranscribeError, TranscribeOptions, Transcriber};

#[test]
fn installed_model_matches_the_manifest_sha256() {
    let path = common::model_path();
    let manifest = Manifest::builtin();
    let spec = manifest.find(DEFAULT_MODEL).unwrap();
    let v = model::verify(&path, Some(spec)).unwrap();
    assert_eq!(
        v.info.file_size, 77_704_715,
        "the size of the official ggml-tiny.en.bin"
    );
    assert_eq!(
        v.sha256,
        spec.sha256,
        "{} differs from models/manifest.toml",
        path.display()
    );
    assert_eq!(v.matches_manifest, Some(true));
}

#[test]
fn tensor_count_and_shapes_match_the_hparams() {
    let info = GgmlModelInfo::from_path(&common::model_path()).unwrap();
    let h = info.hparams;
    assert_eq!(
        (
            h.n_vocab,
            h.n_audio_ctx,
            h.n_audio_state,
            h.n_audio_head,
            h.n_audio_layer
        ),
        (51864, 1500, 384, 6, 4)
    );
    assert_eq!(
        (
            h.n_text_ctx,
            h.n_text_state,
            h.n_text_head,
            h.n_text_layer,
            h.n_mels,
            h.ftype
        ),
        (448, 384, 6, 4, 80, 1)
    );
    assert_eq!((info.n_mel, info.n_fft_bins), (80, 201));
    assert_eq!(info.tensors.len(), 167);
    let expected = expected_tensors(&h).unwrap();
    for e in &expected {
        let t = info
            .tensors
            .iter()
            .find(|t| t.name == e.name)
            .unwrap_or_else(|| panic!("missing {}", e.name));
        assert_eq!((&t.ne, t.ty), (&e.ne, e.ty), "{}", e.name);
    }
    info.validate().unwrap();
    // f32 exactly where whisper.cpp wants it.
    let ty = |n: &str| info.tensors.iter().find(|t| t.name == n).unwrap().ty;
    assert_eq!(ty("encoder.conv1.bias"), GgmlType::F32);
    assert_eq!(ty("decoder.positional_embedding"), GgmlType::F32);
    assert_eq!(ty("decoder.token_embedding.weight"), GgmlType::F16);
    assert!(!info.tensors.iter().any(|t| t.name.ends_with("key.bias")));
}

#[test]
fn vocabulary_is_raw_bytes_up_to_end_of_text() {
    let info = GgmlModelInfo::from_path(&common::model_path()).unwrap();
    assert_eq!(info.tokens.len(), 50_257);
    assert_eq!(info.tokens[50_256], b"<|endoftext|>");
    // GPT-2 token 262 is " the": its "Ġ" must have become a space byte.
    assert_eq!(info.tokens[262], b" the");
    assert_eq!(info.tokens[198], b"\n");
}

#[test]
fn converted_model_loads_in_whisper_and_knows_its_tokens() {
    let t = Transcriber::load(
        &common::model_path(),
        TranscribeOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.model_name(), "tiny.en");
    // One second of a tone: it runs end to end without error.
    let tone: Vec<f32> = (0..32_000).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    t.transcribe(&[callscore_core::Leg {
        speaker: callscore_core::Speaker::Agent,
        samples: tone,
    }])
    .unwrap();
}

#[test]
fn second_install_is_a_no_op() {
    let path = common::model_path();
    let dir = path.parent().unwrap();
    let manifest = Manifest::builtin();
    if path.file_name().unwrap() != manifest.find(DEFAULT_MODEL).unwrap().file.as_str() {
        // CALLSCORE_MODEL points at a file under another name: no cache to reinstall into.
        return;
    }
    // `false` as pip: if install tried to download, it would fail.
    let pip = Pip {
        program: "false".into(),
        args: vec![],
    };
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let outcome = model::install(DEFAULT_MODEL, dir, &pip).unwrap();
    assert_eq!(
        outcome,
        InstallOutcome::AlreadyInstalled { path: path.clone() }
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn damaged_model_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("ggml-notes.bin");
    std::fs::write(&text, "these are not weights").unwrap();
    let err = Transcriber::load(&text, TranscribeOptions::default()).unwrap_err();
    assert!(matches!(err, TranscribeError::Model { .. }));
    assert!(
        err.to_string().contains("ggml-notes.bin")
            && err.to_string().contains("not a whisper.cpp ggml model"),
        "{err}"
    );

    // The real model cut short, as after an interrupted copy.
    let bytes = std::fs::read(common::model_path()).unwrap();
    let cut = dir.path().join("ggml-cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = Transcriber::load(&cut, TranscribeOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("ggml-cut.bin") && err.to_string().contains("truncated"),
        "{err}"
    );

    let err = Transcriber::load(&dir.path().join("absent.bin"), TranscribeOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("absent.bin"), "{err}");
}

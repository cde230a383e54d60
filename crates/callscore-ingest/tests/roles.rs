//! Channel roles: the override beats the sidecar, which beats the default (left = agent); mono
//! is one `unknown` leg. Plus the sidecar and the content hash.

mod common;

use callscore_core::{AgentChannel, CallMeta, Direction, Speaker, SAMPLE_RATE};
use callscore_ingest::{load, IngestError, LoadOptions};
use common::*;
use sha2::Digest;

/// Each leg's speaker and tone (Hz), agent first.
type LegTones = Vec<(Speaker, u32)>;

/// The tone of each leg, agent first: the stereo clip has 1000 Hz left and 400 Hz right.
fn leg_tones(path: &std::path::Path, opts: &LoadOptions) -> LegTones {
    let rec = load(path, opts).unwrap();
    rec.legs
        .iter()
        .map(|l| {
            (
                l.speaker,
                tone_frequency(middle(&l.samples, SAMPLE_RATE), SAMPLE_RATE).round() as u32,
            )
        })
        .collect()
}

fn with_sidecar(dir: &tempfile::TempDir, audio: &str, sidecar: Option<&str>) -> std::path::PathBuf {
    let p = dir.path().join("call.wav");
    std::fs::copy(fixture(audio), &p).unwrap();
    if let Some(json) = sidecar {
        std::fs::write(dir.path().join("call.json"), json).unwrap();
    }
    p
}

const LEFT: Option<AgentChannel> = Some(AgentChannel::Left);
const RIGHT: Option<AgentChannel> = Some(AgentChannel::Right);

#[test]
fn override_beats_sidecar_beats_default() {
    let agent_left = vec![(Speaker::Agent, 1000), (Speaker::Caller, 400)];
    let agent_right = vec![(Speaker::Agent, 400), (Speaker::Caller, 1000)];
    let cases: &[(Option<&str>, Option<AgentChannel>, &LegTones)] = &[
        (None, None, &agent_left),
        (None, RIGHT, &agent_right),
        (None, LEFT, &agent_left),
        (Some(r#"{"agent_channel":"right"}"#), None, &agent_right),
        (Some(r#"{"agent_channel":"right"}"#), LEFT, &agent_left),
        (Some(r#"{"agent_channel":"left"}"#), RIGHT, &agent_right),
        (Some(r#"{"agent":"Sarah"}"#), None, &agent_left),
    ];
    for (sidecar, agent_channel, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let p = with_sidecar(&dir, "formats/pcm16_stereo_44100.wav", *sidecar);
        let opts = LoadOptions {
            agent_channel: *agent_channel,
        };
        assert_eq!(
            &leg_tones(&p, &opts),
            *expected,
            "sidecar {sidecar:?}, override {agent_channel:?}"
        );
        // The recording says which channel it used.
        let used = if expected[0].1 == 1000 {
            AgentChannel::Left
        } else {
            AgentChannel::Right
        };
        assert_eq!(load(&p, &opts).unwrap().meta.agent_channel, Some(used));
    }
}

#[test]
fn mono_is_one_unknown_leg_and_a_channel_override_is_reported_not_applied() {
    let plain = load(
        &fixture("formats/mulaw_mono_8000.wav"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        plain.legs.iter().map(|l| l.speaker).collect::<Vec<_>>(),
        [Speaker::Unknown]
    );
    assert!(plain.warnings.is_empty());
    assert_eq!(plain.meta.agent_channel, None);

    let forced = load(
        &fixture("formats/mulaw_mono_8000.wav"),
        &LoadOptions {
            agent_channel: RIGHT,
        },
    )
    .unwrap();
    assert_eq!(forced.legs.len(), 1);
    assert_eq!(forced.legs[0].speaker, Speaker::Unknown);
    assert_eq!(
        forced.warnings,
        ["agent channel 'right' ignored: the recording is mono, so speakers cannot be told apart by channel"]
    );
}

#[test]
fn sidecar_meta_is_read_into_the_recording() {
    let rec = load(&fixture("calls/good_call.wav"), &LoadOptions::default()).unwrap();
    let expected = CallMeta {
        agent: Some("Sarah".into()),
        caller_name: Some("Michael Turner".into()),
        direction: Some(Direction::Inbound),
        started_at: Some("2024-03-11T09:15:00Z".into()),
        agent_channel: Some(AgentChannel::Left),
        ..CallMeta::default()
    };
    assert_eq!(rec.meta, expected);
}

#[test]
fn no_sidecar_gives_default_meta() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_sidecar(&dir, "formats/pcm16_mono_16000.wav", None);
    assert_eq!(callscore_ingest::load_sidecar(&p).unwrap(), None);
    assert_eq!(
        load(&p, &LoadOptions::default()).unwrap().meta,
        CallMeta::default()
    );
}

#[test]
fn a_bad_sidecar_is_an_error_naming_the_sidecar_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_sidecar(
        &dir,
        "formats/pcm16_mono_16000.wav",
        Some(r#"{"agent":"Sarah","agnet_channel":"left"}"#),
    );
    let err = load(&p, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, IngestError::Sidecar { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("call.json") && msg.contains("agnet_channel"),
        "{msg}"
    );

    std::fs::write(dir.path().join("call.json"), "{ not json").unwrap();
    let err = load(&p, &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("call.json"), "{err}");
}

#[test]
fn content_hash_is_the_sha256_of_the_bytes_whatever_the_name() {
    let src = fixture("formats/alaw_stereo_8000.wav");
    let bytes = std::fs::read(&src).unwrap();
    let expected = hex::encode(sha2::Sha256::digest(&bytes));
    let rec = load(&src, &LoadOptions::default()).unwrap();
    assert_eq!(rec.content_hash, expected);
    assert_eq!(rec.content_hash.len(), 64);

    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("renamed.wav");
    std::fs::write(&renamed, &bytes).unwrap();
    assert_eq!(
        load(&renamed, &LoadOptions::default())
            .unwrap()
            .content_hash,
        expected
    );

    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0x01;
    std::fs::write(&renamed, &changed).unwrap();
    assert_ne!(
        load(&renamed, &LoadOptions::default())
            .unwrap()
            .content_hash,
        expected
    );
}

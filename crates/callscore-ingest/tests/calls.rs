//! The rendered call fixtures load as their timelines describe: length, format, sidecar,
//! who speaks when on which leg, silent holds, and the noise floors the noisy variants promise.

mod common;

use std::path::PathBuf;

use callscore_core::{CallMeta, Speaker, SAMPLE_RATE};
use callscore_ingest::levels::{noise_floor_dbfs, SILENCE_DBFS};
use callscore_ingest::{load, LoadOptions, Recording};
use common::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Timeline {
    audio: String,
    duration_ms: u64,
    channels: u16,
    encoding: String,
    lines: Vec<Line>,
    holds: Vec<Span>,
}

#[derive(Deserialize)]
struct Line {
    speaker: String,
    start_ms: u64,
    end_ms: u64,
}

#[derive(Deserialize)]
struct Span {
    start_ms: u64,
    end_ms: u64,
}

/// Every call, loaded once per test binary: the tests run in parallel on shared recordings.
fn calls() -> &'static [(String, Timeline, Recording)] {
    static CALLS: std::sync::OnceLock<Vec<(String, Timeline, Recording)>> =
        std::sync::OnceLock::new();
    CALLS.get_or_init(load_calls)
}

fn load_calls() -> Vec<(String, Timeline, Recording)> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(fixture("calls"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "script"))
        .collect();
    scripts.sort();
    assert!(
        scripts.len() >= 9,
        "expected at least 9 call scripts, found {}",
        scripts.len()
    );
    scripts
        .into_iter()
        .map(|script| {
            let name = script.file_stem().unwrap().to_string_lossy().into_owned();
            let tl_path = fixture(&format!("calls/{name}.timeline.json"));
            let tl: Timeline =
                serde_json::from_str(&std::fs::read_to_string(&tl_path).unwrap()).unwrap();
            assert_eq!(tl.audio, format!("{name}.wav"));
            let rec = load(
                &fixture(&format!("calls/{name}.wav")),
                &LoadOptions::default(),
            )
            .unwrap();
            (name, tl, rec)
        })
        .collect()
}

#[test]
fn every_call_loads_with_its_timeline_length_format_and_sidecar() {
    for (name, tl, rec) in calls() {
        assert!(rec.warnings.is_empty(), "{name}: {:?}", rec.warnings);
        assert!(
            rec.duration_ms.abs_diff(tl.duration_ms) <= 1,
            "{name}: {} vs {}",
            rec.duration_ms,
            tl.duration_ms
        );
        assert!(
            (25_000..=60_000).contains(&rec.duration_ms),
            "{name}: {} ms",
            rec.duration_ms
        );
        assert_eq!(rec.source_sample_rate, 8_000, "{name}");
        assert_eq!(rec.source_channels, tl.channels, "{name}");
        let format = match tl.encoding.as_str() {
            "mu-law" => "wav/mulaw",
            "pcm-u8" => "wav/pcm_u8",
            other => panic!("{name}: unexpected encoding {other}"),
        };
        assert_eq!(rec.source_format, format, "{name}");

        let sidecar: CallMeta = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("calls/{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(rec.meta.agent, sidecar.agent, "{name}");
        assert_eq!(rec.meta.caller_name, sidecar.caller_name, "{name}");
        assert!(
            sidecar.agent.is_some() && sidecar.caller_name.is_some(),
            "{name}: sidecar lacks names"
        );
    }
}

#[test]
fn each_line_is_on_its_speakers_leg() {
    for (name, tl, rec) in calls() {
        if rec.legs.len() == 1 {
            assert_eq!(rec.legs[0].speaker, Speaker::Unknown, "{name}");
            continue;
        }
        let leg = |who: &str| {
            let speaker = if who == "agent" {
                Speaker::Agent
            } else {
                Speaker::Caller
            };
            &rec.legs
                .iter()
                .find(|l| l.speaker == speaker)
                .unwrap()
                .samples
        };
        for (i, line) in tl.lines.iter().enumerate() {
            // Only the part of the line nobody else talks over.
            let (mut start, mut end) = (line.start_ms, line.end_ms);
            for (j, other) in tl.lines.iter().enumerate() {
                if j != i && other.start_ms < end && other.end_ms > start {
                    if other.start_ms <= start {
                        start = start.max(other.end_ms);
                    } else {
                        end = end.min(other.start_ms);
                    }
                }
            }
            if end <= start + 200 {
                continue;
            }
            let listener = if line.speaker == "agent" {
                "caller"
            } else {
                "agent"
            };
            let own = rms_db(window(leg(&line.speaker), start, end));
            let other = rms_db(window(leg(listener), start, end));
            // Bleed on the noisy line is -25 dB; everywhere else the other leg is silent.
            assert!(
                own > other + 18.0,
                "{name} line {i} ({}): {own:.1} dBFS vs {other:.1} on the {listener} leg",
                line.speaker
            );
        }
    }
}

#[test]
fn holds_are_silent_in_both_legs() {
    let mut holds_seen = 0;
    for (name, tl, rec) in calls() {
        for hold in &tl.holds {
            holds_seen += 1;
            assert!(
                hold.end_ms - hold.start_ms >= 29_000,
                "{name}: hold is {} ms",
                hold.end_ms - hold.start_ms
            );
            for leg in &rec.legs {
                let inside = window(&leg.samples, hold.start_ms + 100, hold.end_ms - 100);
                let peak = inside.iter().fold(0.0f32, |m, s| m.max(s.abs()));
                assert!(
                    peak < 1e-4,
                    "{name}: {} leg peaks at {peak} inside the hold",
                    leg.speaker
                );
            }
        }
    }
    assert!(holds_seen >= 1, "no call has a hold");
}

#[test]
fn mulaw_good_call_matches_its_pcm_original() {
    let mulaw = load(&fixture("calls/good_call.wav"), &LoadOptions::default()).unwrap();
    let pcm = load(
        &fixture("calls/pcm/good_call_pcm16.wav"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(pcm.source_format, "wav/pcm_s16le");
    assert_eq!(mulaw.duration_ms, pcm.duration_ms);
    for (a, b) in mulaw.legs.iter().zip(&pcm.legs) {
        assert_eq!(a.speaker, b.speaker);
        assert_eq!(a.samples.len(), b.samples.len());
        let signal: f64 = b.samples.iter().map(|&x| (x as f64).powi(2)).sum();
        let noise: f64 = a
            .samples
            .iter()
            .zip(&b.samples)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum();
        let snr = 10.0 * (signal / noise).log10();
        assert!(snr > 30.0, "{} leg: mu-law SNR {snr:.1} dB", a.speaker);
    }
}

#[test]
fn noise_floors_are_what_the_fixtures_promise() {
    let floor = |file: &str| -> Vec<f32> {
        let rec = load(&fixture(file), &LoadOptions::default()).unwrap();
        rec.legs
            .iter()
            .map(|l| noise_floor_dbfs(&l.samples, SAMPLE_RATE))
            .collect()
    };
    // Clean renders are digital silence between turns.
    assert!(floor("calls/good_call.wav")
        .iter()
        .all(|&f| f == SILENCE_DBFS));
    // Pink noise at -50 dBFS RMS, through G.711 (whose quantisation adds a little).
    for f in floor("calls/noisy_line.wav") {
        assert!((-53.0..=-46.0).contains(&f), "noisy_line floor {f:.1} dBFS");
    }
    // 8-bit dither: about -48 dBFS, never silence.
    for f in floor("calls/u8_agent_right.wav") {
        assert!((-52.0..=-44.0).contains(&f), "u8 floor {f:.1} dBFS");
    }
}

#[test]
fn the_real_call_is_mono_pcm() {
    let rec = load(
        &fixture("real/commercial_mono.wav"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.source_format, "wav/pcm_s16le");
    assert_eq!(rec.duration_ms, 45_300);
    assert_eq!(rec.legs.len(), 1);
    assert_eq!(rec.legs[0].speaker, Speaker::Unknown);
    assert_eq!(rec.legs[0].samples.len(), 45_300 * 16);
}

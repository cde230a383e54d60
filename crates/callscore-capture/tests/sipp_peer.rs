//! The recorder against a real SIP peer (sipp, Debian's sip-tester), all on 127.0.0.1.

mod common;

use callscore_capture::g711::G711;
use callscore_capture::pcap_writer::{write_pcap, Datagram};
use callscore_capture::rtp::RtpPacket;
use callscore_core::{AgentChannel, CallMeta};
use common::*;
use std::path::Path;
use std::time::Duration;

#[test]
fn records_sipps_uac_pcap_call_with_its_audio_and_dtmf() {
    let mut recorder = RunningRecorder::start(|_| {});
    let dir = sipp_dir();
    run_sipp(dir.path(), recorder.addr, &["-sn", "uac_pcap", "-m", "1"]);
    let call = recorder.next_call(Duration::from_secs(30));
    let written = call.written.expect("call written").expect("call had audio");
    let (spec, channels) = read_wav(&written.wav);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8000, 16),
        "one stream: mono"
    );
    let duration_ms = channels[0].len() as i64 * 1000 / 8000;
    assert!(
        (duration_ms - 7080).abs() <= 100,
        "duration {duration_ms} ms, the pcap holds 7080 ms"
    );

    // The recording is the A-law payload of g711a.pcap, decoded, sample for sample.
    let packets = rtp_payloads_of(&Path::new(SIP_TESTER).join("g711a.pcap"));
    assert_eq!(packets.len(), 236);
    let expected: Vec<i16> = packets
        .iter()
        .flat_map(|(_, pt, p)| {
            assert_eq!(*pt, 8);
            decode(G711::Alaw, p)
        })
        .collect();
    let (lag, equal) = best_match(&expected[..16000], &channels[0], 80);
    assert!(
        equal > 0.99,
        "only {:.1}% of samples match (lag {lag})",
        equal * 100.0
    );
    assert_eq!(lag, 0, "audio starts at the first packet");

    let meta: CallMeta = serde_json::from_slice(&std::fs::read(&written.sidecar).unwrap()).unwrap();
    assert_eq!(meta.call_id.as_deref(), Some(call.call_id.as_str()));
    assert!(
        meta.from.as_deref().unwrap().contains("sip:sipp@127.0.0.1"),
        "{:?}",
        meta.from
    );
    assert!(meta.started_at.is_some());
    assert_eq!(meta.agent_channel, None, "mono: no channel roles");
    // uac_pcap keys a '1' (dtmf_2833_1.pcap) 8 s after the audio starts.
    assert_eq!(meta.events.len(), 1, "{:?}", meta.events);
    assert_eq!(meta.events[0].digit, "1");
    assert!(
        (7500..9500).contains(&meta.events[0].at_ms),
        "{:?}",
        meta.events[0]
    );
    let (stats, _) = recorder.stop();
    assert_eq!(stats.calls_written, 1);
}

#[test]
fn dtmf_digits_become_events() {
    let mut recorder = RunningRecorder::start(|_| {});
    let dir = sipp_dir();
    let scenario = workspace_root().join("fixtures/sip/dtmf_uac.xml");
    run_sipp(
        dir.path(),
        recorder.addr,
        &["-sf", scenario.to_str().unwrap(), "-m", "1"],
    );
    let call = recorder.next_call(Duration::from_secs(30));
    let written = call
        .written
        .unwrap()
        .expect("digits are written even without voice");
    let meta: CallMeta = serde_json::from_slice(&std::fs::read(&written.sidecar).unwrap()).unwrap();
    let digits: Vec<&str> = meta.events.iter().map(|e| e.digit.as_str()).collect();
    assert_eq!(digits, ["4", "2", "#"], "{:?}", meta.events);
    assert!(
        meta.events
            .windows(2)
            .all(|w| w[1].at_ms >= w[0].at_ms + 500),
        "{:?}",
        meta.events
    );
    assert!(meta.events.iter().all(|e| e.duration_ms > 0));
}

/// Builds legs.pcap: the caller leg (right channel) to port 4000 and the agent leg (left) to
/// 4002, 20 ms PCMU packets, as the SIPREC scenario expects.
fn legs_pcap(caller: &[u8], agent: &[u8], path: &Path) {
    let mut datagrams = Vec::new();
    for (stream, (bytes, port, ssrc)) in [
        (caller, 4000u16, 0x1111_1111u32),
        (agent, 4002, 0x2222_2222),
    ]
    .into_iter()
    .enumerate()
    {
        for (i, frame) in bytes.chunks(160).enumerate() {
            let packet = RtpPacket {
                payload_type: 0,
                marker: i == 0,
                sequence: (1000 * stream + i) as u16,
                timestamp: 5000 + (i * 160) as u32,
                ssrc,
                payload: frame.to_vec(),
            };
            datagrams.push(Datagram {
                at: Duration::from_millis(20 * i as u64),
                from: format!("127.0.0.1:{}", 6000 + 2 * stream).parse().unwrap(),
                to: format!("127.0.0.1:{port}").parse().unwrap(),
                payload: packet.to_bytes(),
            });
        }
    }
    datagrams.sort_by_key(|d| d.at);
    write_pcap(std::fs::File::create(path).unwrap(), &datagrams).unwrap();
}

#[test]
fn records_a_siprec_session_as_two_legs_with_roles_and_names() {
    let fixture = workspace_root().join("fixtures/calls/good_call.wav");
    let [left, right] = ulaw_wav_channels(&fixture);
    // 6 s of the call from 4 s in, where the agent finishes a turn and the caller starts one;
    // the fixture's agent is on the left, the caller on the right.
    let window = 8000 * 4..8000 * 10;
    let (agent, caller) = (&left[window.clone()], &right[window]);
    let dir = sipp_dir();
    legs_pcap(caller, agent, &dir.path().join("legs.pcap"));

    let mut recorder = RunningRecorder::start(|_| {});
    let scenario = workspace_root().join("fixtures/sip/siprec_uac.xml");
    run_sipp(
        dir.path(),
        recorder.addr,
        &["-sf", scenario.to_str().unwrap(), "-m", "1"],
    );
    let call = recorder.next_call(Duration::from_secs(30));
    let written = call.written.unwrap().unwrap();
    let (spec, channels) = read_wav(&written.wav);
    assert_eq!(spec.channels, 2);
    let meta: CallMeta = serde_json::from_slice(&std::fs::read(&written.sidecar).unwrap()).unwrap();
    assert_eq!(meta.caller_name.as_deref(), Some("Michael Turner"));
    assert_eq!(meta.agent.as_deref(), Some("Sarah"));
    assert_eq!(meta.agent_channel, Some(AgentChannel::Left));

    let want_agent = decode(G711::Ulaw, agent);
    let want_caller = decode(G711::Ulaw, caller);
    let speech = |x: &[i16]| x.iter().filter(|s| s.unsigned_abs() > 500).count();
    assert!(
        speech(&want_agent) > 4000 && speech(&want_caller) > 4000,
        "the window must hold speech on both legs"
    );
    let (lag_a, eq_a) = best_match(&want_agent, &channels[0], 160);
    let (lag_c, eq_c) = best_match(&want_caller, &channels[1], 160);
    assert!(
        eq_a > 0.99,
        "agent leg matches {:.1}% (lag {lag_a})",
        eq_a * 100.0
    );
    assert!(
        eq_c > 0.99,
        "caller leg matches {:.1}% (lag {lag_c})",
        eq_c * 100.0
    );
    // Both legs left sipp together, so they stay aligned within a few milliseconds.
    assert!(
        (lag_a - lag_c).abs() <= 40,
        "legs drifted apart: {lag_a} vs {lag_c} samples"
    );
    let duration_ms = channels[0].len() as i64 / 8;
    assert!(
        (duration_ms - 6000).abs() <= 100,
        "duration {duration_ms} ms"
    );
}

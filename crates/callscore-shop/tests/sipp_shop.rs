//! Mystery-shop calls against a real SIP peer: sipp plays the business (fixtures/sip/shop_uas*.xml),
//! callscore-shop places the call. All traffic on 127.0.0.1.

mod common;

use callscore_core::{AgentChannel, CallMeta};
use callscore_shop::{
    call::AttemptRecord, place, speech, ShopFiles, ShopOptions, ShopOutcome, ShopScript,
    Synthesizer,
};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// good_call.wav's agent lines (timeline ms): the greeting, "Can I take your full name,
/// please?", and "Thank you, Michael. What did you expect the bill to be?".
const GREETING: (u64, u64) = (450, 6350);
const NAME_PLEASE: (u64, u64) = (12160, 17360);
const THANK_YOU: (u64, u64) = (19700, 23330);

/// A script in `dir`: a spoken line, then a recorded one (the fixture caller giving his name).
fn script_in(dir: &Path, lines: &str) -> ShopScript {
    std::fs::create_dir_all(dir.join("lines")).unwrap();
    std::fs::copy(
        workspace_root().join("shops/lines/michael-turner.wav"),
        dir.join("lines/name.wav"),
    )
    .unwrap();
    let text = format!(
        "id = \"billing-question\"\nname = \"Billing question\"\nbusiness = \"Riverside Energy\"\n\
         [persona]\nname = \"Michael Turner\"\nwants = \"to know why his bill went up\"\n\
         [turns]\nsilence = \"1s\"\nmax_wait = \"8s\"\n{lines}"
    );
    let path = dir.join("billing-question.toml");
    std::fs::write(&path, text).unwrap();
    ShopScript::from_path(&path).unwrap()
}

const TWO_LINES: &str = "[[lines]]\nsay = \"Hi, my latest bill is much higher than usual.\"\n\
                         [[lines]]\naudio = \"lines/name.wav\"\n";

fn options(business: &Business, out: &Path) -> ShopOptions {
    let mut o = ShopOptions::new(business.uri(), out);
    o.local_ip = Some("127.0.0.1".parse().unwrap());
    o
}

#[test]
fn places_a_scripted_call_and_records_both_legs_in_turn() {
    const RING_MS: u64 = 2000;
    let agent = AgentAudio::from_good_call(&[GREETING, NAME_PLEASE, THANK_YOU], 300, &[5500, 4500]);
    let business = Business::start("shop_uas.xml", RING_MS, |dir| agent.write_pcap(dir));
    let work = tempfile::tempdir().unwrap();
    let script = script_in(work.path(), TWO_LINES);
    let lines = speech::prepare_lines(&script, &Synthesizer::default()).unwrap();
    let out = work.path().join("out");
    let call = place(&script, lines, &options(&business, &out)).unwrap();
    let uri = business.uri();
    business.finish();

    assert_eq!(call.outcome, ShopOutcome::Answered, "{}", call.detail);
    let ShopFiles::Recording(written) = &call.files else {
        panic!("no recording: {:?}", call.files)
    };
    // The sidecar: the shop's facts, complete.
    let meta: CallMeta = serde_json::from_slice(&std::fs::read(&written.sidecar).unwrap()).unwrap();
    assert_eq!(meta, call.meta);
    assert_eq!(meta.scenario.as_deref(), Some("billing-question"));
    assert_eq!(meta.caller_name.as_deref(), Some("Michael Turner"));
    assert_eq!(meta.to.as_deref(), Some(uri.as_str()));
    assert_eq!(meta.outcome.as_deref(), Some("answered"));
    assert_eq!(meta.agent_channel, Some(AgentChannel::Left));
    assert!(meta.call_id.as_deref().is_some_and(|c| !c.is_empty()));
    assert!(
        meta.from.as_deref().unwrap().contains("Michael Turner"),
        "{:?}",
        meta.from
    );
    let started = time::OffsetDateTime::parse(
        meta.started_at.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((time::OffsetDateTime::now_utc() - started).whole_seconds() < 120);
    let ring_ms = meta.ring_ms.unwrap();
    assert!(
        (RING_MS..RING_MS + 100).contains(&ring_ms),
        "ring time {ring_ms} ms; sipp rings {RING_MS} ms"
    );

    // The recording: stereo, agent left, shopper right, both the whole call.
    let (spec, channels) = read_wav(&written.wav);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let duration_ms = channels[0].len() as u64 / 8;
    assert!(
        duration_ms.abs_diff(call.duration_ms) <= 20,
        "{duration_ms} vs {}",
        call.duration_ms
    );

    // The agent leg is the pcap's audio, sample for sample, shortly after the answer.
    let want = decode(&agent.ulaw);
    let (lag, share) = locate(&want, &channels[0], 160);
    assert!(
        share > 0.99,
        "agent leg matches the pcap at {:.2}% (lag {lag})",
        share * 100.0
    );
    assert!(
        (0..8 * 300).contains(&lag),
        "agent audio starts {lag} samples after the answer"
    );
    let lag_ms = lag as u64 / 8;

    // The shopper spoke twice, each time inside the agent's pauses, a second or so after the
    // agent stopped; and hung up about a second after the agent's last words.
    let agent_spans: Vec<(u64, u64)> = agent
        .utterances
        .iter()
        .map(|&(s, e)| (s + lag_ms, e + lag_ms))
        .collect();
    let shopper = speech_runs(&channels[1]);
    assert_eq!(shopper.len(), 2, "shopper speech at {shopper:?}");
    for (i, &(s, e)) in shopper.iter().enumerate() {
        let (after, before) = (agent_spans[i].1, agent_spans[i + 1].0);
        assert!(
            s > after && e < before,
            "shopper line {i} at {s}-{e} ms is not inside the agent's pause {after}-{before} ms"
        );
        assert!(
            (after + 900..after + 1700).contains(&s),
            "shopper line {i} starts {} ms after the agent stopped",
            s - after
        );
    }
    assert_eq!(call.turns.len(), 2);
    for (turn, run) in call.turns.iter().zip(&shopper) {
        assert!(turn.start_ms.abs_diff(run.0) <= 100, "{turn:?} vs {run:?}");
    }
    let last_agent = agent_spans[2].1;
    assert!(
        (last_agent + 900..last_agent + 2000).contains(&duration_ms),
        "hung up at {duration_ms} ms, the agent stopped at {last_agent} ms"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn attempt_of(call: &callscore_shop::ShopCall) -> AttemptRecord {
    let ShopFiles::Attempt(path) = &call.files else {
        panic!("expected an attempt record, got {:?}", call.files)
    };
    assert!(path.to_string_lossy().ends_with(".attempt.json"));
    let dir = path.parent().unwrap();
    let wavs = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "wav"))
        .count();
    assert_eq!(wavs, 0, "no audio, no recording");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_busy_line_is_recorded_as_busy() {
    let business = Business::start("shop_uas_busy.xml", 300, |_| {});
    let work = tempfile::tempdir().unwrap();
    let script = script_in(work.path(), TWO_LINES);
    let lines = speech::prepare_lines(&script, &Synthesizer::default()).unwrap();
    let call = place(
        &script,
        lines,
        &options(&business, &work.path().join("out")),
    )
    .unwrap();
    business.finish();
    assert_eq!(call.outcome, ShopOutcome::Busy);
    let record = attempt_of(&call);
    assert_eq!(record.sip_status, Some(486));
    assert_eq!(record.meta.outcome.as_deref(), Some("busy"));
    assert_eq!(record.meta.scenario.as_deref(), Some("billing-question"));
    assert_eq!(record.meta.ring_ms, None);
    assert!(record.meta.call_id.is_some() && record.meta.started_at.is_some());
}

#[test]
fn no_answer_within_the_ring_timeout_cancels_and_is_recorded() {
    let business = Business::start("shop_uas_no_answer.xml", 0, |_| {});
    let work = tempfile::tempdir().unwrap();
    let script = script_in(work.path(), TWO_LINES);
    let lines = speech::prepare_lines(&script, &Synthesizer::default()).unwrap();
    let mut opts = options(&business, &work.path().join("out"));
    opts.ring_timeout = Some(Duration::from_secs(2));
    let start = Instant::now();
    let call = place(&script, lines, &opts).unwrap();
    let took = start.elapsed();
    // sipp's scenario only passes if it got the CANCEL and the ACK of its 487.
    business.finish();
    assert_eq!(call.outcome, ShopOutcome::NoAnswer, "{}", call.detail);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let record = attempt_of(&call);
    assert_eq!(record.sip_status, Some(487));
    assert_eq!(record.meta.outcome.as_deref(), Some("no_answer"));
}

#[test]
fn a_far_end_hang_up_mid_script_is_recorded_with_the_audio_so_far() {
    // The agent thanks the caller (3.6 s) and hangs up 6 s after answering, while the shopper
    // is still on the first of three lines.
    let agent = AgentAudio::from_good_call(&[THANK_YOU], 300, &[0]);
    let business = Business::start("shop_uas_hangup.xml", 300, |dir| agent.write_pcap(dir));
    let work = tempfile::tempdir().unwrap();
    let script = script_in(
        work.path(),
        &format!("{TWO_LINES}[[lines]]\nsay = \"No, that's everything.\"\n"),
    );
    let lines = speech::prepare_lines(&script, &Synthesizer::default()).unwrap();
    let call = place(
        &script,
        lines,
        &options(&business, &work.path().join("out")),
    )
    .unwrap();
    business.finish();
    assert_eq!(call.outcome, ShopOutcome::HungUp, "{}", call.detail);
    let ShopFiles::Recording(written) = &call.files else {
        panic!("the answered part is recorded: {:?}", call.files)
    };
    let meta: CallMeta = serde_json::from_slice(&std::fs::read(&written.sidecar).unwrap()).unwrap();
    assert_eq!(meta.outcome.as_deref(), Some("hung_up"));
    assert!(meta.ring_ms.is_some());
    let (_, channels) = read_wav(&written.wav);
    let ms = channels[0].len() as u64 / 8;
    assert!(
        (5800..6600).contains(&ms),
        "call lasted {ms} ms; sipp hung up after 6 s"
    );
    assert!(call.turns.len() < 3, "{:?}", call.turns);
    let (_, share) = locate(&decode(&agent.ulaw), &channels[0], 160);
    assert!(share > 0.99, "agent audio matches at {:.2}%", share * 100.0);
}

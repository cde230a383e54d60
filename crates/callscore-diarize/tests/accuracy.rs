//! Accuracy on mono recordings whose truth is known: the stereo fixtures mixed down to one
//! channel (16-bit PCM, 8-bit unsigned, G.711 mu-law), whose timelines say who spoke when; the
//! original mono fixture; and the real mono call. Targets (issue 11): diarization error rate
//! ≤ 15% with a 250 ms collar, ≥ 95% of words attributed to the right speaker, verdicts that
//! agree with the stereo version of the call on ≥ 95% of criteria, and agent/caller turns on the
//! real call that match its approximate transcript.
#![allow(clippy::print_stderr)]

mod common;

use callscore_core::{Outcome, Scorecard, Speaker, Transcript};
use callscore_diarize::der::der;
use callscore_diarize::{attribute, AgentVoices, Attribution, DiarizeError};
use callscore_rubric::Rubric;
use common::*;

fn rubric() -> Rubric {
    Rubric::from_path(&repo_root().join("rubrics/default.toml")).unwrap()
}

/// A loaded mono recording transcribed as the pipeline does it: diarized, one track per voice
/// transcribed, words attributed.
fn separate(rec: &callscore_ingest::Recording) -> Attribution {
    assert_eq!(rec.legs.len(), 1, "{}: one leg", rec.path.display());
    diarizer()
        .transcribe_mono(transcriber(), &rec.legs[0], &rec.meta)
        .unwrap_or_else(|e| panic!("{}: {e}", rec.path.display()))
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
    // The same calls in flite's voices, as the verdict test mixes them (a man and a woman in
    // each, other voices than espeak-ng's).
    let flite: Vec<(String, Encoding)> = VERDICT_CALLS
        .iter()
        .map(|&(call, enc)| (format!("flite/{call}"), enc))
        .collect();
    let cases = cases
        .into_iter()
        .chain(flite.iter().map(|(call, enc)| (call.as_str(), *enc)));
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

/// The mono mixes the verdicts are compared on: every stereo fixture, in the encodings mono
/// recorders write.
const VERDICT_CALLS: &[(&str, Encoding)] = &[
    ("good_call", Encoding::Pcm16),
    ("curt_agent", Encoding::MuLaw),
    ("rude_agent", Encoding::U8),
    ("no_caller_name", Encoding::MuLaw),
    ("long_hold", Encoding::MuLaw),
    ("common_name_will", Encoding::Pcm16),
    ("noisy_line", Encoding::MuLaw),
    ("u8_agent_right", Encoding::U8),
];

/// Calls whose roles cannot be told from one channel with tiny.en's greedy transcript, and why:
/// where the roles are not decided the call must come out "cannot be judged", never with guessed
/// roles. (Another model or beam search may hear enough of this call for its roles to be
/// decided; they are then checked like every other call's.)
const ROLELESS: &[(&str, &str)] = &[(
    "curt_agent",
    "the agent never greets, names a company or themself, or offers help; whisper tiny.en hears \
     the caller's \"I'm calling because\" as \"I'm calling Bitcoin\"",
)];

/// What comparing the mono path's scorecards with the stereo ones measured on a set of calls.
#[derive(Debug, Default)]
struct Agreement {
    /// Words attributed to the right speaker, of all words the mono path heard.
    right_words: usize,
    words: usize,
    /// Criteria compared (calls whose roles were decided).
    criteria: usize,
    /// Mono verdicts equal to the stereo call's.
    with_stereo: usize,
    /// Mono verdicts equal to those of the same mono transcript with the reference speakers.
    with_reference_speakers: usize,
    /// Stereo verdicts equal to those of the same stereo file stored 1 ms later.
    stereo_with_itself: usize,
    /// Stereo and mono verdicts equal to the verdicts on the script (what was said).
    stereo_true: usize,
    mono_true: usize,
    /// `call: criterion` where mono and stereo differ.
    differing: Vec<String>,
    /// Calls whose roles stayed undecided (not judged, not counted).
    roleless: Vec<String>,
    /// Calls whose agent has no voice print (too little of their voice in the other calls).
    not_enrolled: Vec<String>,
}

impl Agreement {
    /// Counts one judged call's verdicts: the stereo call's, the stereo call's 1 ms later, the
    /// mono transcript's with the reference speakers, the mono path's, and the script's.
    fn add(
        &mut self,
        call: &str,
        stereo: &Scorecard,
        again: &Scorecard,
        perfect: &Scorecard,
        got: &Scorecard,
        truth: &Scorecard,
    ) {
        for ((((w, again), p), g), said) in stereo
            .results
            .iter()
            .zip(&again.results)
            .zip(&perfect.results)
            .zip(&got.results)
            .zip(&truth.results)
        {
            self.criteria += 1;
            self.stereo_true += usize::from(w.outcome == said.outcome);
            self.mono_true += usize::from(g.outcome == said.outcome);
            self.stereo_with_itself += usize::from(w.outcome == again.outcome);
            self.with_reference_speakers += usize::from(p.outcome == g.outcome);
            if p.outcome != g.outcome {
                eprintln!(
                    "{call}: `{}` with reference speakers {} ({}) vs diarized {} ({})",
                    p.criterion_id, p.outcome, p.reason, g.outcome, g.reason
                );
            }
            if w.outcome == g.outcome {
                self.with_stereo += 1;
            } else {
                eprintln!(
                    "{call}: `{}` stereo {} ({}) vs mono {} ({}); on the script {}",
                    w.criterion_id, w.outcome, w.reason, g.outcome, g.reason, said.outcome
                );
                self.differing.push(format!("{call}: {}", w.criterion_id));
            }
        }
    }

    fn share(&self, n: usize) -> f64 {
        n as f64 / self.criteria as f64
    }

    fn word_share(&self) -> f64 {
        self.right_words as f64 / self.words as f64
    }

    fn summary(&self) -> String {
        format!(
            "words: {}/{} = {:.1}%; verdicts vs stereo: {}/{} = {:.1}% (differing: {:?}); vs the \
             same transcript with reference speakers: {}/{} = {:.1}%; the stereo call against \
             itself 1 ms later: {}/{} = {:.1}%; against the verdicts on the script: stereo \
             {}/{} = {:.1}%, mono {}/{} = {:.1}%; not judged (roles unknown): {:?}; agents not enrolled: {:?}",
            self.right_words,
            self.words,
            self.word_share() * 100.0,
            self.with_stereo,
            self.criteria,
            self.share(self.with_stereo) * 100.0,
            self.differing,
            self.with_reference_speakers,
            self.criteria,
            self.share(self.with_reference_speakers) * 100.0,
            self.stereo_with_itself,
            self.criteria,
            self.share(self.stereo_with_itself) * 100.0,
            self.stereo_true,
            self.criteria,
            self.share(self.stereo_true) * 100.0,
            self.mono_true,
            self.criteria,
            self.share(self.mono_true) * 100.0,
            self.roleless,
            self.not_enrolled,
        )
    }
}

/// The TTS voice that speaks a fixture's agent or caller (`"agent"` / `"caller"`), from its
/// timeline.
fn voice_of(call: &str, role: &str) -> String {
    let path = call_file(call, "timeline.json");
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    t["voices"][role]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no {role} voice", path.display()))
        .to_owned()
}

/// A voice print for the agent of every one of [`VERDICT_CALLS`] under `set`, enrolled as a
/// contact centre would from other recordings of that person alone — here the legs of the
/// *other* stereo fixtures spoken in the same voice (agent or caller leg: a print holds a
/// voice, not a role) — and never from the call it will judge. Keyed by the call's agent name.
/// An agent whose voice the other calls hold too little of goes unenrolled, as an agent new to
/// the team would: the second list names those calls.
fn enrolled_elsewhere(set: &str) -> (AgentVoices, Vec<String>) {
    let (mut prints, mut not_enrolled) = (Vec::new(), Vec::new());
    for &(name, _) in VERDICT_CALLS {
        let call = format!("{set}{name}");
        let voice = voice_of(&call, "agent");
        let mut tracks: Vec<(String, Vec<f32>)> = Vec::new();
        for &(other, _) in VERDICT_CALLS {
            let other = format!("{set}{other}");
            // noisy_line's legs carry the other party's voice under cross-talk: not a
            // recording of one person, and enrolment refuses them, as it should.
            if other == call || other.ends_with("noisy_line") {
                continue;
            }
            for (role, speaker) in [("agent", Speaker::Agent), ("caller", Speaker::Caller)] {
                if voice_of(&other, role) == voice {
                    let rec = load(&call_file(&other, "wav"));
                    let leg = rec.legs.iter().find(|l| l.speaker == speaker).unwrap();
                    tracks.push((format!("{other} {role} leg"), leg.samples.clone()));
                }
            }
        }
        let agent = load(&call_file(&call, "wav")).meta.agent.unwrap();
        let tracks: Vec<(&str, &[f32])> = tracks
            .iter()
            .take(3)
            .map(|(s, t)| (s.as_str(), t.as_slice()))
            .collect();
        let print = match diarizer().enrol(&agent, &tracks) {
            Ok(print) => print,
            Err(DiarizeError::Enrol { reason, .. }) if reason.contains("a print needs") => {
                eprintln!("{call}: {agent}'s voice ({voice}) not enrolled: {reason}");
                not_enrolled.push(call);
                continue;
            }
            Err(e) => panic!("{call}: {e}"),
        };
        eprintln!(
            "{call}: {agent}'s voice ({voice}) enrolled from {:?}, {:.1} s of speech",
            print.sources,
            print.speech_ms as f64 / 1000.0
        );
        prints.push(print);
    }
    (AgentVoices::from_prints(prints), not_enrolled)
}

/// Mixes each of [`VERDICT_CALLS`] (under fixtures/`set`, e.g. `flite/`; `""` for
/// fixtures/calls) down to mono, separates its speakers, and compares the scorecards: with the
/// stereo call's, with the same transcript given the reference speakers, and both with the
/// verdicts on the script; and the stereo call with itself stored 1 ms later. Each mono mix is
/// transcribed and diarized once and attributed twice: on its words alone (the first
/// [`Agreement`]), and with its agent's voice enrolled from other calls (the second). A call
/// whose roles stay undecided must come out "cannot be judged", and without prints be one of
/// `roleless`.
fn compare_verdicts(set: &str, roleless: &[(&str, &str)]) -> (Agreement, Agreement) {
    let dir = tempfile::tempdir().unwrap();
    let rubric = rubric();
    let (voices, not_enrolled) = enrolled_elsewhere(set);
    let (mut plain, mut enrolled) = (Agreement::default(), Agreement::default());
    enrolled.not_enrolled = not_enrolled;
    for &(name, enc) in VERDICT_CALLS {
        let call = format!("{set}{name}");
        let call = call.as_str();
        let tl = timeline(call);
        let rec = load(&mono_mix(call, enc, dir.path()));
        assert_eq!(rec.legs.len(), 1, "{}: one leg", rec.path.display());
        let transcript = transcribe(&rec);
        let d = diarizer().diarize(&rec.legs[0].samples);
        let known = voices.of(rec.meta.agent.as_deref().unwrap());
        let stereo = rubric.evaluate(&transcribe(&load(&call_file(call, "wav"))));
        let again = rubric.evaluate(&transcribe(&load(&delayed_stereo(call, 1, dir.path()))));
        let truth = rubric.evaluate(&script_transcript(&tl, &rec.meta));
        for (m, print) in [(&mut plain, None), (&mut enrolled, known)] {
            let a = attribute(&transcript, &d, &rec.meta, print);
            let with = if print.is_some() {
                " with the enrolled voice"
            } else {
                ""
            };
            eprintln!(
                "{call} {enc:?}{with}: {}\n{}",
                a.role.reason,
                show(&a.transcript)
            );
            let got = rubric.evaluate(&a.transcript);
            if a.role.agent.is_none() {
                assert!(
                    print.is_some() || roleless.iter().any(|(c, _)| *c == name),
                    "{call}: roles not decided: {}",
                    a.role.reason
                );
                assert!(
                    !got.judged && !got.passed && got.flagged,
                    "{call}: a call without roles must not be judged: {got:#?}"
                );
                m.roleless.push(call.to_owned());
                continue;
            }
            assert!(a.transcript.diarized, "{call}: {:?}", a.unknown_reasons);
            assert!(a
                .transcript
                .segments
                .iter()
                .filter(|s| s.speaker != Speaker::Unknown)
                .all(|s| s.speaker_confidence.is_some()));
            let (r, n) = word_accuracy(&a.transcript, &tl);
            eprintln!("{call}{with}: {r}/{n} words attributed to the right speaker");
            m.right_words += r;
            m.words += n;
            let perfect = rubric.evaluate(&oracle(&a.transcript, &tl));
            assert!(got.judged, "{call}: {:?}", got.flag_reasons);
            m.add(call, &stereo, &again, &perfect, &got, &truth);
        }
    }
    let set = if set.is_empty() { "calls/" } else { set };
    eprintln!("{set}: {}", plain.summary());
    eprintln!("{set} with enrolled agent voices: {}", enrolled.summary());
    (plain, enrolled)
}

/// The calls in flite's voices whose roles the default transcriber leaves undecided, and why.
const FLITE_ROLELESS: &[(&str, &str)] = &[
    (
        "curt_agent",
        "on the words, not on whisper: the agent gives no cue at all, and the caller's one \
         (\"I'm calling because…\") is too little",
    ),
    (
        "rude_agent",
        "the agent gives no courtesy cue, and whisper runs the caller's \"This is unbelievable. I \
         want to make a complaint.\" and the agent's \"Fine, whatever.\" into one segment whose \
         word times put the complaint in the agent's turn",
    ),
];

/// Words attributed to the right speaker, and verdicts against the stereo scorecard, on the
/// mono mixes of the stereo fixtures (overlapping speech in good_call, a hold, the noisy
/// outbound line, 8-bit and mu-law files), in espeak-ng's voices.
///
/// A verdict can differ from the stereo call's for two reasons, measured apart: the speakers
/// were attributed wrongly (the same mono transcript with the reference speakers must give the
/// same verdicts on ≥ 95% of criteria), or whisper heard the mono audio differently from the
/// separate legs. The second is bounded by whisper's own repeatability, measured here too: the
/// same stereo file stored 1 ms later (a recorder that started a moment later) changes about
/// one verdict in ten with tiny.en on espeak-ng's voices, so agreement with the stereo call
/// must come within 5 points of that (the absolute 95% is asserted on the same calls in flite's
/// voices, below). Which side whisper heard better is measured too: both scorecards against the
/// verdicts on the call's script (what was said, by whom, when). The mono path must be within 5
/// points of the stereo one there; on these calls it is ahead, because whisper hears the mix as
/// a conversation and each stereo leg as half of one.
#[test]
fn words_and_verdicts_match_the_stereo_call() {
    let (m, enrolled) = compare_verdicts("", ROLELESS);
    // With the agents' voices enrolled from other calls, every call is judged but those whose
    // agent could not be enrolled (curt_agent's voice is in one other call, for 14 s).
    assert!(
        enrolled
            .roleless
            .iter()
            .all(|c| enrolled.not_enrolled.contains(c)),
        "{}",
        enrolled.summary()
    );
    assert!(enrolled.word_share() >= 0.95, "{}", enrolled.summary());
    assert!(
        enrolled.share(enrolled.with_reference_speakers) >= 0.95,
        "{}",
        enrolled.summary()
    );
    assert!(
        enrolled.share(enrolled.with_stereo) >= enrolled.share(enrolled.stereo_with_itself) - 0.05,
        "{}",
        enrolled.summary()
    );
    // Only the default transcriber is known to leave these calls' roles undecided.
    let t = transcriber();
    if t.options().beam_size == 1 && t.model_name() == callscore_transcribe::model::DEFAULT_MODEL {
        assert_eq!(m.roleless.len(), ROLELESS.len(), "{:?}", m.roleless);
    }
    assert!(m.word_share() >= 0.95, "{}", m.summary());
    assert!(
        m.share(m.with_reference_speakers) >= 0.95,
        "attribution changed verdicts: {}",
        m.summary()
    );
    // Judged against what was said, the mono path must come within 5 points of the stereo one.
    assert!(
        m.mono_true + m.criteria / 20 >= m.stereo_true,
        "against the script's verdicts: {}",
        m.summary()
    );
    assert!(
        m.share(m.with_stereo) >= m.share(m.stereo_with_itself) - 0.05,
        "{}",
        m.summary()
    );
}

/// Issue 11's verdict target itself, on the same calls spoken by flite's voices
/// (fixtures/flite), which whisper tiny.en hears close to word for word (WER 0.08 pooled against
/// 0.37 in espeak-ng's voices): mono scorecards agree with the stereo ones on ≥ 95% of criteria,
/// ≥ 95% of words are on the right speaker, and only the calls in [`FLITE_ROLELESS`] go unjudged.
#[test]
fn in_flite_voices_mono_verdicts_agree_with_stereo_on_95_percent() {
    let (m, enrolled) = compare_verdicts("flite/", FLITE_ROLELESS);
    // With the agents' voices enrolled from other calls, every call is judged, and the target
    // holds over all of them.
    assert!(
        enrolled.not_enrolled.is_empty(),
        "{:?}",
        enrolled.not_enrolled
    );
    assert!(enrolled.roleless.is_empty(), "{}", enrolled.summary());
    assert!(enrolled.word_share() >= 0.95, "{}", enrolled.summary());
    assert!(
        enrolled.share(enrolled.with_stereo) >= 0.95,
        "{}",
        enrolled.summary()
    );
    assert!(m.word_share() >= 0.95, "{}", m.summary());
    assert!(
        m.share(m.with_reference_speakers) >= 0.95,
        "attribution changed verdicts: {}",
        m.summary()
    );
    assert!(m.share(m.with_stereo) >= 0.95, "{}", m.summary());
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
    let a = separate(&rec);
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
    let a = separate(&rec);
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
    // "Thank you very much" is said once, across whisper's 30 s window edge: the next window
    // heard "very much" again until such repetitions were dropped at window seams.
    let text: Vec<&str> = a
        .transcript
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let said = text.join(" ").to_lowercase().matches("very much").count();
    assert!(said <= 1, "'very much' {said} times: {text:?}");
}

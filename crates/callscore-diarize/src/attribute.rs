//! Attribution: the words of a mono transcript given to the voices of a [`Diarization`], and
//! the voices given roles.
//!
//! Each word goes to the voice heard most under its time span; a segment is split wherever the
//! voice changes. Which voice is the agent is decided from what each voice says — the opening
//! ("thank you for calling…", "welcome to…"), a self-introduction with the agent's name from the
//! call's metadata, the offer of help ("how can I help", "anything else"), the caller introducing
//! themself by the caller's name or stating their business ("I'd like to…", "my bill…") — with the
//! order of turns as a weak tie-breaker; and, when the agent has enrolled their voice
//! ([`crate::voiceprint`]), which voice sounds like them. Every cue is a point for one side; the
//! decision needs a clear margin. When the voices could not be separated, when the role is unclear, or when a
//! word's voice is unsure, segments stay `unknown` and [`Attribution`] says why.

use crate::diarize::Diarization;
use crate::voiceprint::{VoicePrint, VOICE_POINTS};
use callscore_core::{CallMeta, Direction, Segment, Speaker, Transcript, Word};
use regex::Regex;
use std::sync::OnceLock;

/// How the agent's voice was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDecision {
    /// The local voice label of the agent, when decided.
    pub agent: Option<usize>,
    /// The local voice label of the caller, when decided.
    pub caller: Option<usize>,
    /// 0–1: how clear the cues were (0 when undecided).
    pub confidence: f32,
    /// The cues that decided, or why nothing could be decided, for people to read.
    pub reason: String,
}

/// A transcript with its words attributed to speakers, and the reasons behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub transcript: Transcript,
    pub role: RoleDecision,
    /// Segments left `unknown`.
    pub unknown_segments: usize,
    /// Why segments stayed `unknown` (one line per cause), empty when none did.
    pub unknown_reasons: Vec<String>,
}

/// Below this voice confidence a word (and so its segment) stays `unknown`.
pub const MIN_VOICE_CONFIDENCE: f32 = 0.6;
/// The agent must lead the role cues by at least this many points.
pub const MIN_ROLE_MARGIN: f32 = 2.0;

/// Attributes a mono transcript's words to the diarized voices and the voices to roles.
/// Segments that already carry a speaker (a stereo call) are left as they are. `agent_voice` is
/// the enrolled voice of the call's agent, when there is one.
pub fn attribute(
    transcript: &Transcript,
    d: &Diarization,
    meta: &CallMeta,
    agent_voice: Option<&VoicePrint>,
) -> Attribution {
    let mut out = transcript.clone();
    if transcript
        .segments
        .iter()
        .any(|s| s.speaker != Speaker::Unknown)
    {
        return Attribution {
            transcript: out,
            role: RoleDecision {
                agent: None,
                caller: None,
                confidence: 0.0,
                reason: "the speakers are known from the recording's channels".into(),
            },
            unknown_segments: 0,
            unknown_reasons: vec![],
        };
    }
    let pieces = split_by_voice(transcript, d);
    let role = decide_roles(&pieces, d, meta, agent_voice);

    let mut reasons: Vec<String> = Vec::new();
    let mut push_reason = |r: String| {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    };
    let mut segments = Vec::with_capacity(pieces.len());
    for p in &pieces {
        let mut seg = p.segment.clone();
        let role_of = |v: usize| {
            if Some(v) == role.agent {
                Some(Speaker::Agent)
            } else if Some(v) == role.caller {
                Some(Speaker::Caller)
            } else {
                None
            }
        };
        match (&d.unsure, p.voice, role.agent) {
            (Some(why), _, _) => push_reason(format!("speakers not separated: {why}")),
            (None, None, _) => push_reason("no voice was heard under some words".into()),
            (None, Some(_), None) => push_reason(format!("roles not decided: {}", role.reason)),
            (None, Some(v), Some(_)) => match role_of(v) {
                None => push_reason(format!(
                    "a third voice (a transfer or a recorded prompt) is neither agent nor caller: voice {v}"
                )),
                Some(_) if p.confidence < MIN_VOICE_CONFIDENCE => push_reason(format!(
                    "the voice of some words is unsure (confidence under {MIN_VOICE_CONFIDENCE})"
                )),
                Some(speaker) => {
                    seg.speaker = speaker;
                    seg.speaker_confidence = Some(round3(p.confidence * role.confidence));
                }
            },
        }
        segments.push(seg);
    }
    let unknown_segments = segments
        .iter()
        .filter(|s| s.speaker == Speaker::Unknown)
        .count();
    out.diarized = unknown_segments < segments.len();
    out.segments = segments;
    out.normalise();
    Attribution {
        transcript: out,
        role,
        unknown_segments,
        unknown_reasons: if unknown_segments == 0 {
            vec![]
        } else {
            reasons
        },
    }
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

/// A piece of a segment spoken by one voice.
#[derive(Debug, Clone)]
struct Piece {
    segment: Segment,
    voice: Option<usize>,
    /// Duration-weighted mean voice confidence of its words.
    confidence: f32,
}

/// Each word's voice: the voice heard most under it. Its confidence is the share of the word's
/// speech frames that voice holds × their mean posterior × the square root of the share of the
/// word's span they cover (a word timed mostly outside the voice's speech is less sure). A word with no speech under it (loose timestamps) takes the
/// voice of the nearest word that has one, at half that word's confidence.
fn word_voices(words: &[Word], d: &Diarization) -> Vec<Option<(usize, f32)>> {
    let mut v: Vec<Option<(usize, f32)>> = words
        .iter()
        .map(|w| {
            let end = w.end_ms.max(w.start_ms + 1);
            d.voice_in(w.start_ms, end)
                .or_else(|| d.voice_in(w.start_ms.saturating_sub(150), end + 150))
                .map(|(s, share, post, coverage)| (s, share * post * coverage.sqrt()))
        })
        .collect();
    for i in 0..v.len() {
        if v[i].is_some() {
            continue;
        }
        let before = (0..i).rev().find_map(|j| v[j].map(|x| (i - j, x)));
        let after = (i + 1..v.len()).find_map(|j| v[j].map(|x| (j - i, x)));
        let pick = match (before, after) {
            (Some(b), Some(a)) => Some(if b.0 <= a.0 { b.1 } else { a.1 }),
            (Some(b), None) => Some(b.1),
            (None, Some(a)) => Some(a.1),
            (None, None) => None,
        };
        v[i] = pick.map(|(s, c)| (s, c * 0.5));
    }
    v
}

/// Splits every segment where the voice of its words changes.
fn split_by_voice(t: &Transcript, d: &Diarization) -> Vec<Piece> {
    let mut out = Vec::new();
    for seg in &t.segments {
        // A segment without word times is one word spanning it.
        let words = if seg.words.is_empty() {
            vec![Word {
                start_ms: seg.start_ms,
                end_ms: seg.end_ms,
                text: seg.text.clone(),
            }]
        } else {
            seg.words.clone()
        };
        let voices = word_voices(&words, d);
        let first_piece = out.len();
        let mut current: Option<(Option<usize>, Vec<Word>, f64, f64)> = None;
        let flush = |cur: Option<(Option<usize>, Vec<Word>, f64, f64)>, out: &mut Vec<Piece>| {
            if let Some((voice, ws, csum, wsum)) = cur {
                out.push(piece(seg, voice, ws, (csum / wsum.max(1e-9)) as f32));
            }
        };
        for (w, v) in words.into_iter().zip(voices) {
            let voice = v.map(|x| x.0);
            let conf = v.map_or(0.0, |x| x.1) as f64;
            let weight = (w.end_ms.saturating_sub(w.start_ms)).max(20) as f64;
            match current.as_mut() {
                Some((cv, ws, csum, wsum)) if *cv == voice => {
                    ws.push(w);
                    *csum += conf * weight;
                    *wsum += weight;
                }
                _ => {
                    flush(current.take(), &mut out);
                    current = Some((voice, vec![w], conf * weight, weight));
                }
            }
        }
        flush(current, &mut out);
        let mine = out.split_off(first_piece);
        out.extend(mend_boundary_words(seg, mine));
    }
    out
}

/// Whether a text ends a sentence.
fn ends_sentence(text: &str) -> bool {
    text.trim_end().ends_with(['.', '?', '!'])
}

/// Most words per piece that [`mend_boundary_words`] may move.
const BOUNDARY_WORDS: usize = 2;

/// Whisper's word times are loose at the edges of speech: the last word of a turn often runs
/// into the pause after it (where no voice is heard, so its confidence is low), and the first
/// word of a reply is often timed inside the other speaker's last syllables. So a piece of one
/// or two words that is unsure, or that does not end a sentence, joins the neighbouring piece
/// of its segment it reads with: the piece before when that one does not end a sentence ("I
/// don't understand | why."), else the piece after ("It's | 3, 1, 10"). A confident piece that
/// ends a sentence ("Yes.") stays where the voices put it.
fn mend_boundary_words(seg: &Segment, mut pieces: Vec<Piece>) -> Vec<Piece> {
    let mut i = 0;
    while pieces.len() > 1 && i < pieces.len() {
        let p = &pieces[i];
        let words = p.segment.text.split_whitespace().count();
        let unsure = p.confidence < MIN_VOICE_CONFIDENCE;
        let fragment = !ends_sentence(&p.segment.text);
        let target = if words > BOUNDARY_WORDS || !(unsure || fragment) {
            None
        } else if i > 0 && !ends_sentence(&pieces[i - 1].segment.text) {
            Some(i - 1)
        } else if i + 1 < pieces.len() {
            Some(i + 1)
        } else if unsure {
            Some(i - 1)
        } else {
            // A confident fragment that ends the segment after a full sentence: its own voice.
            None
        };
        let Some(target) = target else {
            i += 1;
            continue;
        };
        let moved = pieces.remove(i);
        let (before, into) = if target < i {
            (false, target)
        } else {
            (true, target - 1)
        };
        let host = &mut pieces[into];
        let (voice, confidence) = (host.voice, host.confidence);
        *host = piece(seg, voice, words_or_text(&moved, host, before), confidence);
        // The merged piece may itself be short now; look at it again from where it stands.
        i = into;
    }
    pieces
}

/// The words of two joined pieces in spoken order (a piece without word times contributes
/// one word spanning it).
fn words_or_text(moved: &Piece, host: &Piece, moved_first: bool) -> Vec<Word> {
    let as_words = |p: &Piece| {
        if p.segment.words.is_empty() {
            vec![Word {
                start_ms: p.segment.start_ms,
                end_ms: p.segment.end_ms,
                text: p.segment.text.clone(),
            }]
        } else {
            p.segment.words.clone()
        }
    };
    let (a, b) = if moved_first {
        (as_words(moved), as_words(host))
    } else {
        (as_words(host), as_words(moved))
    };
    a.into_iter().chain(b).collect()
}

fn piece(seg: &Segment, voice: Option<usize>, words: Vec<Word>, confidence: f32) -> Piece {
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let start_ms = words.first().map_or(seg.start_ms, |w| w.start_ms);
    let end_ms = words.last().map_or(seg.end_ms, |w| w.end_ms).max(start_ms);
    Piece {
        segment: Segment {
            speaker: Speaker::Unknown,
            start_ms,
            end_ms,
            text,
            // A segment that had no word times gets none invented.
            words: if seg.words.is_empty() { vec![] } else { words },
            speaker_confidence: None,
        },
        voice,
        confidence,
    }
}

/// A role cue: a pattern, the side it speaks for, its points, and its name for the reason.
struct Cue {
    regex: Regex,
    agent: bool,
    points: f32,
    name: &'static str,
}

fn cues() -> &'static [Cue] {
    static CUES: OnceLock<Vec<Cue>> = OnceLock::new();
    CUES.get_or_init(|| {
        let c = |re: &str, agent: bool, points: f32, name: &'static str| Cue {
            regex: Regex::new(re).unwrap_or_else(|e| unreachable!("cue pattern {re}: {e}")),
            agent,
            points,
            name,
        };
        vec![
            c(r"(?i)\bthanks? (you )?for (calling|holding|your patience|contacting)\b", true, 3.0, "\"thank you for calling\""),
            c(r"(?i)\b(welcome to|you'?ve reached|you are through to)\b", true, 3.0, "\"welcome to…\""),
            c(r"(?i)\bhow (can|may|could) (i|we) (help|assist)\b", true, 3.0, "\"how can I help\""),
            c(r"(?i)\b(is there )?anything else (i|we) can\b", true, 2.0, "\"anything else I can help with\""),
            c(r"(?i)\b(calling|call) (you )?from\b", true, 2.0, "\"calling from…\""),
            c(r"(?i)\b(can|could|may) i (take|have|get|confirm) (your|the)\b", true, 2.0, "asks for the caller's details"),
            c(r"(?i)\b(let me|i'?ll|i will|i can) (check|look|see|pull|put you|transfer|correct|send|arrange|help|sort)\b", true, 1.0, "offers to act"),
            c(r"(?i)\b(would you like|do you want) (to|the|a|me)\b", true, 1.0, "offers a choice"),
            c(r"(?i)\b(i'?d like to|i want to|i need to|i was wondering|i'?m calling (about|because|to)|i'?m ringing)\b", false, 2.0, "states their business (\"I'd like to…\")"),
            c(r"(?i)\bmy (bill|account|order|payment|delivery|card|meter|booking|parcel|electricity|gas|power|supply|internet|broadband|phone|contract|policy|claim|refund)\b", false, 1.0, "speaks of their own account"),
            // A caller who wants someone above the agent: the agent is the one being asked.
            c(r"(?i)\b(can|could|may) i (speak|talk) (to|with) (a|the|your) (manager|supervisor|team leader)\b|\bi want to (make|raise|file) a complaint\b", false, 2.0, "asks for a manager or to complain"),
        ]
    })
}

/// Word-boundary match of a name (case-insensitive) in a text.
fn says_name(text: &str, name: &str) -> bool {
    let name = name.trim();
    if name.is_empty() {
        return false;
    }
    Regex::new(&format!(r"(?i)\b{}\b", regex::escape(name)))
        .map(|r| r.is_match(text))
        .unwrap_or(false)
}

/// A self-introduction with a given name: "my name is X", "this is X", "I'm X", "it's X",
/// "you're speaking with X", "X speaking", "X here", "X calling (from…)". Not "am I speaking
/// with X?", which asks for the other party.
fn introduces(text: &str, name: &str) -> bool {
    let name = name.trim();
    if name.is_empty() {
        return false;
    }
    let n = regex::escape(name);
    Regex::new(&format!(
        r"(?i)\b(my name is|my name's|this is|i'?m|i am|it'?s|you'?re speaking (with|to)|you'?re through to) {n}\b|\b{n} (speaking|here|calling)\b"
    ))
    .map(|r| r.is_match(text))
    .unwrap_or(false)
}

/// Scores each voice as agent against caller and decides, or says why it cannot.
fn decide_roles(
    pieces: &[Piece],
    d: &Diarization,
    meta: &CallMeta,
    agent_voice: Option<&VoicePrint>,
) -> RoleDecision {
    let undecided = |reason: String| RoleDecision {
        agent: None,
        caller: None,
        confidence: 0.0,
        reason,
    };
    if let Some(why) = &d.unsure {
        return undecided(why.clone());
    }
    let k = d.speakers;
    if k < 2 {
        return undecided("fewer than two voices".into());
    }
    let mut text = vec![String::new(); k];
    let mut talk = vec![0u64; k];
    for p in pieces {
        if let Some(v) = p.voice.filter(|&v| v < k) {
            text[v].push(' ');
            text[v].push_str(&p.segment.text);
            talk[v] += p.segment.duration_ms();
        }
    }
    // Agent points minus caller points, per voice, and what earned them.
    let mut score = vec![0f32; k];
    let mut why: Vec<Vec<String>> = vec![Vec::new(); k];
    for v in 0..k {
        for cue in cues() {
            let hits = cue.regex.find_iter(&text[v]).count().min(2) as f32;
            if hits > 0.0 {
                let pts = cue.points * hits;
                score[v] += if cue.agent { pts } else { -pts };
                why[v].push(cue.name.to_string());
            }
        }
        if let Some(agent) = meta.agent.as_deref() {
            if introduces(&text[v], agent) {
                score[v] += 4.0;
                why[v].push(format!("introduces themself as {agent}"));
            }
        }
        if let Some(caller) = meta.caller_name.as_deref() {
            let intro = caller
                .split_whitespace()
                .chain(std::iter::once(caller))
                .any(|n| introduces(&text[v], n));
            if intro {
                score[v] -= 4.0;
                why[v].push(format!("introduces themself as {caller}"));
            }
        }
        let questions = text[v].matches('?').count().min(4) as f32;
        if questions > 0.0 {
            score[v] += 0.5 * questions;
        }
    }
    // Addressing someone by name says the speaker is the other party.
    if let Some(agent) = meta.agent.as_deref() {
        for v in 0..k {
            if says_name(&text[v], agent) && !introduces(&text[v], agent) {
                score[v] -= 1.0;
                why[v].push(format!("addresses {agent}"));
            }
        }
    }
    // The agent's enrolled voice, when one of the call's voices is clearly it. One that matches
    // no voice is said (the metadata may name the wrong agent) and earns nothing.
    let mut voice_note = None;
    if let Some(print) = agent_voice {
        match print.compare(&d.centroids) {
            Some(m) if m.recognised() && m.voice < k => {
                score[m.voice] += VOICE_POINTS;
                why[m.voice].push(format!(
                    "sounds like {}'s enrolled voice (similarity {:.2}, the other voice {:.2})",
                    print.agent, m.similarity, m.others
                ));
            }
            Some(m) => {
                voice_note = Some(format!(
                "; {}'s enrolled voice is not clearly either voice (similarity {:.2} and {:.2})",
                print.agent, m.similarity, m.others
            ))
            }
            None => {}
        }
    }
    // The first voice of an inbound call usually answers it; of an outbound call, the callee.
    let first = pieces.iter().find_map(|p| p.voice).unwrap_or(0);
    match meta.direction {
        Some(Direction::Outbound) => score[first] -= 0.5,
        _ => score[first] += 0.5,
    }

    let mut order: Vec<usize> = (0..k).filter(|&v| talk[v] > 0).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    if order.len() < 2 {
        return undecided("only one voice says anything the transcript holds".into());
    }
    let (agent, runner_up) = (order[0], order[1]);
    let margin = score[agent] - score[runner_up];
    let cues_of = |v: usize| {
        if why[v].is_empty() {
            "none".to_string()
        } else {
            why[v].join(", ")
        }
    };
    if margin < MIN_ROLE_MARGIN {
        return undecided(format!(
            "the cues do not tell which voice is the agent (voice {agent}: {}; voice {runner_up}: {}; margin {margin:.1} < {MIN_ROLE_MARGIN}){}",
            cues_of(agent),
            cues_of(runner_up),
            voice_note.unwrap_or_default()
        ));
    }
    // Of the rest, the caller is the voice that talks most: a third voice is usually brief.
    let caller = order[1..]
        .iter()
        .copied()
        .max_by_key(|&v| talk[v])
        .unwrap_or(runner_up);
    RoleDecision {
        agent: Some(agent),
        caller: Some(caller),
        confidence: round3(1.0 - (-(margin - 1.0) / 2.0).exp()),
        reason: format!(
            "voice {agent} is the agent: {} (caller's voice {caller}: {}){}",
            cues_of(agent),
            cues_of(caller),
            voice_note.unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diarize::Turn;
    use crate::features::FRAME_MS;

    /// A diarization from turns (voice, start, end) with the given posterior everywhere.
    fn diarization(turns: &[(usize, u64, u64)], post: f32) -> Diarization {
        let end = turns.iter().map(|t| t.2).max().unwrap_or(0);
        let mut frames = vec![None; (end / FRAME_MS) as usize + 1];
        for &(v, s, e) in turns {
            for f in (s / FRAME_MS)..(e / FRAME_MS) {
                frames[f as usize] = Some((v, post));
            }
        }
        let speakers = turns.iter().map(|t| t.0 + 1).max().unwrap_or(0);
        Diarization {
            turns: turns
                .iter()
                .map(|&(speaker, start_ms, end_ms)| Turn {
                    speaker,
                    start_ms,
                    end_ms,
                    confidence: post,
                })
                .collect(),
            speakers,
            separation: 0.8,
            frames,
            // Voice v points along axis v.
            centroids: (0..speakers)
                .map(|v| (0..4).map(|i| if i == v { 1.0 } else { 0.0 }).collect())
                .collect(),
            duration_ms: end,
            unsure: None,
        }
    }

    fn print_along(agent: &str, axis: &[f32]) -> crate::VoicePrint {
        let n = axis.iter().map(|x| x * x).sum::<f32>().sqrt();
        crate::VoicePrint {
            format: crate::voiceprint::VOICE_PRINT_FORMAT,
            agent: agent.into(),
            encoder: crate::voiceprint::encoder_id(),
            speech_ms: 30_000,
            sources: vec![],
            embedding: axis.iter().map(|x| x / n).collect(),
        }
    }

    /// An unknown-speaker segment whose words are evenly spread over its span.
    fn seg(start_ms: u64, end_ms: u64, text: &str) -> Segment {
        let words: Vec<&str> = text.split_whitespace().collect();
        let step = (end_ms - start_ms) / words.len() as u64;
        Segment {
            speaker: Speaker::Unknown,
            start_ms,
            end_ms,
            text: text.into(),
            words: words
                .iter()
                .enumerate()
                .map(|(i, w)| Word {
                    start_ms: start_ms + i as u64 * step,
                    end_ms: start_ms + (i as u64 + 1) * step - 10,
                    text: (*w).into(),
                })
                .collect(),
            speaker_confidence: None,
        }
    }

    fn meta() -> CallMeta {
        CallMeta {
            agent: Some("Sarah".into()),
            caller_name: Some("Michael Turner".into()),
            ..Default::default()
        }
    }

    fn speakers(a: &Attribution) -> Vec<(Speaker, &str)> {
        a.transcript
            .segments
            .iter()
            .map(|s| (s.speaker, s.text.as_str()))
            .collect()
    }

    #[test]
    fn the_greeting_voice_is_the_agent_and_segments_split_at_the_change() {
        // Whisper ran the agent's line and the caller's reply together into one segment.
        let t = Transcript {
            segments: vec![
                seg(0, 6000, "Good morning, thank you for calling. My name is Sarah. Hi Sarah, my bill is wrong."),
                seg(6500, 9000, "Can I take your name, please?"),
                seg(9500, 11000, "It's Michael Turner."),
            ],
            ..Default::default()
        };
        // Words 0..9 (0–3600 ms) are the agent's, the rest of the first segment the caller's.
        let d = diarization(
            &[
                (0, 0, 3550),
                (1, 3600, 6000),
                (0, 6500, 9000),
                (1, 9500, 11000),
            ],
            0.95,
        );
        let a = attribute(&t, &d, &meta(), None);
        assert_eq!(
            speakers(&a),
            vec![
                (
                    Speaker::Agent,
                    "Good morning, thank you for calling. My name is Sarah."
                ),
                (Speaker::Caller, "Hi Sarah, my bill is wrong."),
                (Speaker::Agent, "Can I take your name, please?"),
                (Speaker::Caller, "It's Michael Turner."),
            ]
        );
        assert!(a.transcript.diarized);
        assert_eq!(a.unknown_segments, 0);
        assert!(a.unknown_reasons.is_empty());
        assert_eq!(a.role.agent, Some(0));
        assert!(
            a.role.reason.contains("thank you for calling"),
            "{}",
            a.role.reason
        );
        assert!(
            a.role.reason.contains("introduces themself as Sarah"),
            "{}",
            a.role.reason
        );
        let conf = a.transcript.segments[0].speaker_confidence.unwrap();
        assert!(conf > 0.8 && conf <= 1.0, "{conf}");
    }

    #[test]
    fn the_caller_may_speak_first() {
        // The real call's shape: the customer opens, the agent offers choices.
        let t = Transcript {
            segments: vec![
                seg(
                    0,
                    4000,
                    "Hi, I'd like to buy a Chromecast, I was wondering whether you could help.",
                ),
                seg(
                    4500,
                    8000,
                    "Certainly, which colour would you like? We have blue and black.",
                ),
                seg(8500, 9500, "The black one."),
                seg(
                    10000,
                    13000,
                    "Would you like to ship it regular or express?",
                ),
            ],
            ..Default::default()
        };
        let d = diarization(
            &[
                (0, 0, 4000),
                (1, 4500, 8000),
                (0, 8500, 9500),
                (1, 10000, 13000),
            ],
            0.9,
        );
        let a = attribute(&t, &d, &CallMeta::default(), None);
        assert_eq!(a.role.agent, Some(1), "{}", a.role.reason);
        assert_eq!(a.transcript.segments[0].speaker, Speaker::Caller);
        assert_eq!(a.transcript.segments[1].speaker, Speaker::Agent);
    }

    #[test]
    fn a_complaining_caller_tells_a_curt_agent_apart() {
        // The agent gives no courtesy cue at all; the caller speaks of their supply and asks
        // for a manager, which only the caller of a call does.
        let t = Transcript {
            segments: vec![
                seg(0, 2000, "Riverside Energy."),
                seg(
                    2500,
                    9000,
                    "Hello, my electricity was cut off this morning.",
                ),
                seg(9500, 12000, "Calm down. That's not my problem."),
                seg(12500, 15000, "Can I speak to a manager, please?"),
                seg(15500, 17000, "There's no manager available."),
            ],
            ..Default::default()
        };
        let d = diarization(
            &[
                (0, 0, 2000),
                (1, 2500, 9000),
                (0, 9500, 12000),
                (1, 12500, 15000),
                (0, 15500, 17000),
            ],
            0.9,
        );
        let a = attribute(&t, &d, &CallMeta::default(), None);
        assert_eq!(a.role.agent, Some(0), "{}", a.role.reason);
        assert!(
            a.role.reason.contains("asks for a manager"),
            "{}",
            a.role.reason
        );
        assert_eq!(a.transcript.segments[3].speaker, Speaker::Caller);
    }

    #[test]
    fn an_enrolled_voice_tells_the_agent_where_the_words_do_not() {
        let t = Transcript {
            segments: vec![
                seg(0, 2000, "Yeah?"),
                seg(2500, 6000, "Hi, it's about the parcel that never came."),
                seg(6500, 9000, "Name and postcode."),
            ],
            ..Default::default()
        };
        let d = diarization(&[(0, 0, 2000), (1, 2500, 6000), (0, 6500, 9000)], 0.9);
        let meta = CallMeta {
            agent: Some("Tom".into()),
            ..CallMeta::default()
        };
        let a = attribute(&t, &d, &meta, None);
        assert_eq!(a.role.agent, None, "{}", a.role.reason);

        // Tom's print is close to voice 0 (similarity 0.94) and far from voice 1 (0.31).
        let tom = print_along("Tom", &[0.95, 0.31, 0.0, 0.0]);
        let a = attribute(&t, &d, &meta, Some(&tom));
        assert_eq!(a.role.agent, Some(0), "{}", a.role.reason);
        assert!(
            a.role.reason.contains("sounds like Tom's enrolled voice"),
            "{}",
            a.role.reason
        );
        let who: Vec<Speaker> = a.transcript.segments.iter().map(|s| s.speaker).collect();
        assert_eq!(who, [Speaker::Agent, Speaker::Caller, Speaker::Agent]);

        // A print like both voices, or like neither, decides nothing and says so.
        for unclear in [[0.7, 0.7, 0.1, 0.0], [0.3, 0.2, 0.9, 0.0]] {
            let p = print_along("Tom", &unclear);
            let a = attribute(&t, &d, &meta, Some(&p));
            assert_eq!(a.role.agent, None, "{}", a.role.reason);
            assert!(
                a.role
                    .reason
                    .contains("Tom's enrolled voice is not clearly either voice"),
                "{}",
                a.role.reason
            );
        }

        // Words that say strongly otherwise outweigh the print: the roles stay undecided.
        let t = Transcript {
            segments: vec![
                seg(
                    0,
                    2000,
                    "Hi, I'm calling about my bill, I'd like to complain.",
                ),
                seg(2500, 6000, "Thank you for calling, how can I help?"),
            ],
            ..Default::default()
        };
        let d = diarization(&[(0, 0, 2000), (1, 2500, 6000)], 0.9);
        let a = attribute(&t, &d, &meta, Some(&tom));
        assert_ne!(a.role.agent, Some(0), "{}", a.role.reason);
    }

    #[test]
    fn unsure_roles_leave_everything_unknown_and_say_why() {
        let t = Transcript {
            segments: vec![seg(0, 2000, "Okay then."), seg(2500, 4000, "Right, fine.")],
            ..Default::default()
        };
        let d = diarization(&[(0, 0, 2000), (1, 2500, 4000)], 0.95);
        let a = attribute(&t, &d, &CallMeta::default(), None);
        assert!(a
            .transcript
            .segments
            .iter()
            .all(|s| s.speaker == Speaker::Unknown));
        assert!(!a.transcript.diarized);
        assert_eq!(a.role.agent, None);
        assert_eq!(a.unknown_segments, 2);
        assert!(
            a.unknown_reasons[0].starts_with("roles not decided: the cues do not tell"),
            "{:?}",
            a.unknown_reasons
        );
    }

    #[test]
    fn unsure_separation_leaves_everything_unknown() {
        let t = Transcript {
            segments: vec![seg(0, 3000, "Thank you for calling, how can I help?")],
            ..Default::default()
        };
        let mut d = diarization(&[(0, 0, 3000)], 0.9);
        d.unsure = Some("only one voice found".into());
        let a = attribute(&t, &d, &meta(), None);
        assert_eq!(a.transcript.segments[0].speaker, Speaker::Unknown);
        assert_eq!(
            a.unknown_reasons,
            vec!["speakers not separated: only one voice found"]
        );
    }

    #[test]
    fn unsure_words_and_a_third_voice_stay_unknown() {
        let t = Transcript {
            segments: vec![
                seg(0, 3000, "Thank you for calling, how can I help?"),
                seg(3500, 6000, "I'd like to pay my bill."),
                seg(6500, 8000, "Please hold."),
                seg(8500, 10000, "mumble mumble"),
            ],
            ..Default::default()
        };
        let mut d = diarization(
            &[
                (0, 0, 3000),
                (1, 3500, 6000),
                (2, 6500, 8000),
                (1, 8500, 10000),
            ],
            0.95,
        );
        for f in &mut d.frames[850..1000] {
            *f = f.map(|(v, _)| (v, 0.4));
        }
        let a = attribute(&t, &d, &CallMeta::default(), None);
        assert_eq!(
            a.transcript
                .segments
                .iter()
                .map(|s| s.speaker)
                .collect::<Vec<_>>(),
            vec![
                Speaker::Agent,
                Speaker::Caller,
                Speaker::Unknown,
                Speaker::Unknown
            ]
        );
        assert_eq!(a.unknown_reasons.len(), 2, "{:?}", a.unknown_reasons);
        assert!(a.unknown_reasons[0].contains("third voice"));
        assert!(a.unknown_reasons[1].contains("unsure"));
    }

    #[test]
    fn a_stereo_transcript_is_left_alone() {
        let mut s = seg(0, 1000, "Hello there");
        s.speaker = Speaker::Agent;
        let t = Transcript {
            segments: vec![s],
            ..Default::default()
        };
        let a = attribute(&t, &diarization(&[(0, 0, 1000)], 0.9), &meta(), None);
        assert_eq!(a.transcript, t);
        assert!(!a.transcript.diarized);
    }

    #[test]
    fn loose_words_at_turn_edges_join_the_sentence_they_belong_to() {
        // "why." runs into the pause after the caller's line (no voice under it); "It's" is
        // timed inside the agent's last syllables but opens the caller's answer.
        let t = Transcript {
            segments: vec![
                seg(0, 3000, "I don't understand why."),
                seg(3000, 6000, "It's three one ten"),
            ],
            ..Default::default()
        };
        let d = diarization(&[(1, 0, 2200), (0, 2800, 3700), (1, 3800, 6000)], 0.95);
        let pieces = split_by_voice(&t, &d);
        let texts: Vec<(Option<usize>, &str)> = pieces
            .iter()
            .map(|p| (p.voice, p.segment.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            vec![
                (Some(1), "I don't understand why."),
                (Some(1), "It's three one ten")
            ]
        );
        // A confident one-word reply inside a run-on segment stays with its own voice.
        let t = Transcript {
            segments: vec![seg(0, 4000, "Is that right? Yes. Okay then")],
            ..Default::default()
        };
        let d = diarization(&[(0, 0, 1950), (1, 2000, 2950), (0, 3000, 4000)], 0.95);
        let texts: Vec<(Option<usize>, String)> = split_by_voice(&t, &d)
            .into_iter()
            .map(|p| (p.voice, p.segment.text))
            .collect();
        assert_eq!(
            texts,
            vec![
                (Some(0), "Is that right?".to_string()),
                (Some(1), "Yes.".to_string()),
                (Some(0), "Okay then".to_string())
            ]
        );
    }

    #[test]
    fn introductions_need_an_introducing_phrase() {
        assert!(introduces(
            "hello, my name is Sarah, how can I help",
            "Sarah"
        ));
        assert!(introduces("Good morning, Sarah speaking.", "sarah"));
        assert!(!introduces("Hi Sarah, my bill is wrong", "Sarah"));
        assert!(introduces(
            "Hello, Daniel calling from Riverside Energy",
            "Daniel"
        ));
        assert!(introduces("you're speaking with Daniel", "Daniel"));
        assert!(!introduces("Am I speaking with Sophie?", "Sophie"));
        assert!(!introduces("Sarahs", "Sarah"));
        assert!(says_name("Hi Sarah, my bill", "Sarah"));
    }
}

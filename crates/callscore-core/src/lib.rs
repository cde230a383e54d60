//! Types shared by every callscore crate.
//!
//! **Architecture invariant:** this crate knows nothing about audio, files, models or databases.
//! It holds plain data with stable serde representations; the JSON written by
//! `callscore transcribe --json` and read by `callscore score --transcript` is [`Transcript`].
//! The one piece of input handling here, [`limits::read_to_string_limited`], reads from a reader
//! it is handed and opens nothing.

pub mod limits;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Who spoke. Mono recordings cannot be attributed, so their segments are `Unknown`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Agent,
    Caller,
    #[default]
    Unknown,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Agent => "agent",
            Speaker::Caller => "caller",
            Speaker::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Speaker {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "agent" => Ok(Speaker::Agent),
            "caller" | "customer" => Ok(Speaker::Caller),
            "unknown" => Ok(Speaker::Unknown),
            other => Err(format!(
                "unknown speaker '{other}' (expected agent, caller or unknown)"
            )),
        }
    }
}

/// Sample rate of every leg handed from ingest to transcription.
pub const SAMPLE_RATE: u32 = 16_000;

/// One speaker's audio: 16 kHz mono f32 samples in -1.0..=1.0, starting at call time 0.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Leg {
    pub speaker: Speaker,
    pub samples: Vec<f32>,
}

impl Leg {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / SAMPLE_RATE as u64
    }
}

/// One word with its time span in call time (milliseconds from the start of the recording).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// A stretch of speech by one speaker. Times are in call time, not leg-local time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Segment {
    #[serde(default)]
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
    /// How sure the speaker attribution is, 0–1, when it was inferred (speakers separated from
    /// one mixed channel). `None` when the speaker is known from the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_confidence: Option<f32>,
}

impl Segment {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Which way the call went, from the contact centre's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Which stereo channel carries the agent. The other channel is the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AgentChannel {
    #[default]
    Left,
    Right,
}

impl std::str::FromStr for AgentChannel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "left" | "l" | "0" => Ok(AgentChannel::Left),
            "right" | "r" | "1" => Ok(AgentChannel::Right),
            other => Err(format!(
                "unknown channel '{other}' (expected left or right)"
            )),
        }
    }
}

/// A telephone event (RFC 4733 DTMF digit) heard during the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub at_ms: u64,
    pub duration_ms: u64,
    /// "0"-"9", "*", "#", "A"-"D", or "event-N" for other events.
    pub digit: String,
}

/// What is known about a call besides its audio. Every field is optional: it comes from a
/// sidecar JSON beside the recording, from SIP/SIPREC signalling, or from a transcript file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// RFC 3339 timestamp of the start of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_channel: Option<AgentChannel>,
    /// SIP Call-ID or another identifier from the recording system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<CallEvent>,
    /// Mystery-shop calls: the scenario id of the shop script that placed the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Milliseconds from sending the INVITE until the far end answered (a placed call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_ms: Option<u64>,
    /// How a placed call ended up: `answered`, `hung_up` (the far end hung up mid-script),
    /// `busy`, `no_answer`, `rejected`, `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// A speaker-attributed transcript of a whole call, segments ordered by start time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Transcript {
    /// Length of the call. When a transcript file omits it, the end of the last segment is used.
    #[serde(default)]
    pub duration_ms: u64,
    /// Which model produced it ("tiny.en", a file name, or another system's name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    pub segments: Vec<Segment>,
    #[serde(default, skip_serializing_if = "is_default_meta")]
    pub meta: CallMeta,
    /// The speakers were separated from one mixed (mono) channel by speaker diarization, not
    /// taken from the recording's channels; each segment then carries `speaker_confidence`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diarized: bool,
    /// How the speakers were decided, when they were inferred: how the agent was recognised,
    /// and why segments stayed `unknown` (so criteria can say n/a with the reason).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speaker_notes: Vec<String>,
    /// Spoken language (ISO 639-1 code such as `en`, `zh`), as given or as detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Spans whose words were redacted (card numbers, security codes…): their text is replaced
    /// by a `[class]` placeholder and their audio is muted wherever callscore plays it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redactions: Vec<Redaction>,
}

/// A redacted span of the call: what kind of data it held, who said it and when (call time,
/// with the margin already applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// The data class, e.g. `card_number`, `security_code`, `expiry_date`.
    pub class: String,
    #[serde(default)]
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
}

fn is_default_meta(m: &CallMeta) -> bool {
    *m == CallMeta::default()
}

impl Transcript {
    /// Sorts segments by (start, end, speaker) so merged legs read in call order, and fixes
    /// `duration_ms` when it is shorter than the last segment's end.
    pub fn normalise(&mut self) {
        // Text breaks the last tie so the order never depends on the input's order.
        self.segments.sort_by(|a, b| {
            a.start_ms
                .cmp(&b.start_ms)
                .then(a.end_ms.cmp(&b.end_ms))
                .then(a.speaker.cmp(&b.speaker))
                .then_with(|| a.text.cmp(&b.text))
        });
        let last_end = self.segments.iter().map(|s| s.end_ms).max().unwrap_or(0);
        if self.duration_ms < last_end {
            self.duration_ms = last_end;
        }
    }

    /// All text, one segment per line, with speaker and mm:ss time.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push_str(&format!(
                "[{} - {}] {:>7}: {}\n",
                fmt_ms(s.start_ms),
                fmt_ms(s.end_ms),
                s.speaker,
                s.text.trim()
            ));
        }
        out
    }
}

/// Formats milliseconds as `m:ss` (or `h:mm:ss` past an hour), as a listener reads time.
pub fn fmt_ms(ms: u64) -> String {
    let total = ms / 1000;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The verdict on one criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not applicable: the criterion cannot be judged on this call (e.g. needs speakers on a
    /// mono recording). Its points leave the denominator.
    #[serde(rename = "na")]
    NotApplicable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotApplicable => "na",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pass" => Ok(Outcome::Pass),
            "fail" => Ok(Outcome::Fail),
            "na" | "n/a" | "not_applicable" => Ok(Outcome::NotApplicable),
            other => Err(format!(
                "unknown outcome '{other}' (expected pass, fail or na)"
            )),
        }
    }
}

/// The words that decided a verdict, and where they are in the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub quote: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    pub criterion_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub section: String,
    pub outcome: Outcome,
    pub points: f64,
    pub max_points: f64,
    #[serde(default)]
    pub critical: bool,
    pub evidence: Vec<Evidence>,
    pub reason: String,
}

/// The result of checking one transcript against one rubric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub rubric_id: String,
    pub rubric_version: u32,
    /// sha256 of the rubric file's bytes, so two edits with the same version stay apart.
    pub rubric_hash: String,
    /// Percent of applicable points, 0–100.
    pub score: f64,
    pub passed: bool,
    pub flagged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flag_reasons: Vec<String>,
    /// False when too little of the rubric could be applied to this call (the rubric's
    /// `min_judged`): the call "cannot be judged", is not passed and is flagged, whatever
    /// `score` says about the few criteria that did apply.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub judged: bool,
    pub results: Vec<CriterionResult>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Scorecard {
    /// The first failed criterion's earliest evidence time, for "jump to the failed moment".
    pub fn first_failed_moment_ms(&self) -> Option<u64> {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .flat_map(|r| r.evidence.iter().map(|e| e.start_ms))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_json_accepts_the_minimal_shape() {
        let json = r#"{"segments":[{"speaker":"agent","start_ms":0,"end_ms":2400,"text":"Thank you for calling"}],
                       "meta":{"caller_name":"Priya Raman","agent":"Daniel"}}"#;
        let t: Transcript = serde_json::from_str(json).unwrap();
        assert_eq!(t.segments[0].speaker, Speaker::Agent);
        assert_eq!(t.meta.caller_name.as_deref(), Some("Priya Raman"));
        assert_eq!(t.duration_ms, 0);
    }

    #[test]
    fn normalise_orders_segments_and_extends_duration() {
        let seg = |sp, s, e| Segment {
            speaker: sp,
            start_ms: s,
            end_ms: e,
            ..Default::default()
        };
        let mut t = Transcript {
            segments: vec![seg(Speaker::Caller, 500, 900), seg(Speaker::Agent, 0, 1000)],
            ..Default::default()
        };
        t.normalise();
        assert_eq!(t.segments[0].speaker, Speaker::Agent);
        assert_eq!(t.duration_ms, 1000);
    }

    #[test]
    fn outcome_serialises_na() {
        assert_eq!(
            serde_json::to_string(&Outcome::NotApplicable).unwrap(),
            "\"na\""
        );
    }

    #[test]
    fn fmt_ms_reads_like_a_clock() {
        assert_eq!(fmt_ms(5_000), "0:05");
        assert_eq!(fmt_ms(125_000), "2:05");
        assert_eq!(fmt_ms(3_725_000), "1:02:05");
    }

    #[test]
    fn meta_rejects_unknown_fields() {
        assert!(serde_json::from_str::<CallMeta>(r#"{"agnet":"x"}"#).is_err());
    }
}

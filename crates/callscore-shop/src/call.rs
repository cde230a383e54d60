//! Placing one mystery-shop call and writing what came of it.
//!
//! An answered call becomes a stereo WAV (the agent, the far end, on the left; the shopper on
//! the right) plus its sidecar JSON: the capture crate's writer, atomic, sidecar first. A call
//! that was not answered (busy, no answer, refused, no response) becomes `STEM.attempt.json`,
//! the sidecar's metadata with the SIP status and a note, written atomically too, so that every
//! attempt is on disk whatever happened.

use crate::error::ShopError;
use crate::script::ShopScript;
use crate::turns::{Conversation, SpokenLine, Turn};
use callscore_capture::call::{file_stem, CallRecording, RecordedLeg, WrittenCall};
use callscore_capture::track::TrackResult;
use callscore_capture::uac::{self, Attempt, Ended, PlacedCall, UacConfig};
use callscore_core::{CallMeta, Direction, Speaker};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How a placed call ended up (`CallMeta::outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopOutcome {
    /// Answered, and the script was played to its end (the shopper hung up, or the agent did
    /// after the last line).
    Answered,
    /// Answered, but the far end hung up before the script was finished.
    HungUp,
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy,
    /// Nobody answered within the ring timeout (or the far end said 408/480).
    NoAnswer,
    /// Refused with another final response (4xx, 5xx, 6xx).
    Rejected,
    /// No response at all, or an answer without usable audio.
    Failed,
}

impl ShopOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ShopOutcome::Answered => "answered",
            ShopOutcome::HungUp => "hung_up",
            ShopOutcome::Busy => "busy",
            ShopOutcome::NoAnswer => "no_answer",
            ShopOutcome::Rejected => "rejected",
            ShopOutcome::Failed => "failed",
        }
    }

    /// Whether the call was answered and so has a recording to score.
    pub fn answered(self) -> bool {
        matches!(self, ShopOutcome::Answered | ShopOutcome::HungUp)
    }
}

impl std::fmt::Display for ShopOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and how to place a call.
#[derive(Debug, Clone)]
pub struct ShopOptions {
    /// The number called, as a SIP URI: `sip:reception@192.0.2.10:5060`.
    pub to: String,
    /// Where the recording (or attempt record) is written.
    pub out_dir: PathBuf,
    /// Local address for SIP and RTP; None: the one the system routes to the target from.
    pub local_ip: Option<IpAddr>,
    pub sip_port: u16,
    pub rtp_port: u16,
    /// Overrides the script's `ring_timeout`.
    pub ring_timeout: Option<Duration>,
    /// The user part of the From URI.
    pub from_user: String,
}

impl ShopOptions {
    pub fn new(to: impl Into<String>, out_dir: impl Into<PathBuf>) -> Self {
        ShopOptions {
            to: to.into(),
            out_dir: out_dir.into(),
            local_ip: None,
            sip_port: 0,
            rtp_port: 0,
            ring_timeout: None,
            from_user: "shopper".into(),
        }
    }
}

/// What was written for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopFiles {
    /// The recording and its sidecar.
    Recording(WrittenCall),
    /// No audio: the attempt record.
    Attempt(PathBuf),
}

/// A placed mystery-shop call.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopCall {
    pub outcome: ShopOutcome,
    /// The metadata written (the sidecar, or the attempt record's).
    pub meta: CallMeta,
    pub files: ShopFiles,
    /// The lines as spoken, on the call clock (empty when not answered).
    pub turns: Vec<Turn>,
    /// The final SIP status of the INVITE (200 when answered).
    pub sip_status: Option<u16>,
    /// What happened, in words, for the attempt record and logs.
    pub detail: String,
    /// Call length, answer to hang-up.
    pub duration_ms: u64,
}

/// The attempt record of a call without audio: the sidecar's metadata plus the SIP status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    #[serde(flatten)]
    pub meta: CallMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_status: Option<u16>,
    #[serde(default)]
    pub detail: String,
}

/// Places the call of `script` with its prepared `lines` and writes the result.
pub fn place(
    script: &ShopScript,
    lines: Vec<SpokenLine>,
    opts: &ShopOptions,
) -> Result<ShopCall, ShopError> {
    let send_to = uac::resolve_target(&opts.to)?;
    let local_ip = match opts.local_ip {
        Some(ip) => ip,
        None => {
            uac::local_ip_towards(send_to).map_err(|e| callscore_capture::CaptureError::Dial {
                target: opts.to.clone(),
                reason: format!("no route to {send_to}: {e}"),
            })?
        }
    };
    let mut config = UacConfig::new(&opts.to, local_ip);
    config.proxy = Some(send_to);
    config.sip_port = opts.sip_port;
    config.rtp_port = opts.rtp_port;
    config.from_user = opts.from_user.clone();
    config.display_name = Some(script.persona.name.clone());
    config.ring_timeout = opts
        .ring_timeout
        .unwrap_or(Duration::from_millis(script.ring_timeout_ms));
    // The conversation ends the call at the script's max_duration; this is the backstop.
    config.max_duration = Duration::from_millis(script.max_duration_ms) + Duration::from_secs(5);
    let mut conversation = Conversation::new(lines, script.turns, script.max_duration_ms);
    tracing::info!(
        scenario = script.id,
        "calling {} as {}",
        opts.to,
        script.persona.name
    );
    let placed = uac::place_call_blocking(&config, &mut conversation)?;
    finish(script, opts, placed, &conversation)
}

fn rfc3339(t: SystemTime) -> Option<String> {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// A From value without its tag (the sidecar names parties, not dialogs).
fn without_tag(from: &str) -> String {
    match from.find(";tag=") {
        Some(i) => from[..i].to_string(),
        None => from.to_string(),
    }
}

fn finish(
    script: &ShopScript,
    opts: &ShopOptions,
    placed: PlacedCall,
    conversation: &Conversation,
) -> Result<ShopCall, ShopError> {
    let mut meta = CallMeta {
        caller_name: Some(script.persona.name.clone()),
        // The business receives the call: for its agent this is an inbound call.
        direction: Some(Direction::Inbound),
        started_at: rfc3339(placed.invited_at),
        call_id: Some(placed.call_id.clone()),
        from: Some(without_tag(&placed.from)),
        to: Some(placed.to.clone()),
        scenario: Some(script.id.clone()),
        ..Default::default()
    };
    let (outcome, sip_status, detail) = match &placed.attempt {
        Attempt::Answered(a) => {
            let complete = conversation.finished_script();
            let outcome = if a.ended == Ended::FarEnd && !complete {
                ShopOutcome::HungUp
            } else {
                ShopOutcome::Answered
            };
            let how = match (a.ended, conversation.hung_up()) {
                (Ended::FarEnd, _) => "the far end hung up".to_string(),
                (Ended::MaxDuration, _) => "hung up at the maximum duration".to_string(),
                (Ended::Driver, Some((_, cue))) => format!("the shopper hung up ({cue:?})"),
                (Ended::Driver, None) => "the shopper hung up".to_string(),
            };
            let detail = format!(
                "answered after {} ms; {} of {} lines spoken; {how} after {} ms",
                a.ring_ms,
                conversation.turns().len(),
                script.lines.len(),
                a.duration_ms
            );
            (outcome, Some(200), detail)
        }
        Attempt::Busy { status } => (ShopOutcome::Busy, Some(*status), format!("busy ({status})")),
        Attempt::NoAnswer { status } => (
            ShopOutcome::NoAnswer,
            *status,
            format!(
                "no answer within {} s{}",
                opts.ring_timeout
                    .map_or(script.ring_timeout_ms, |d| d.as_millis() as u64)
                    as f64
                    / 1000.0,
                status.map_or(String::new(), |s| format!(" ({s})"))
            ),
        ),
        Attempt::Rejected { status, reason } => (
            ShopOutcome::Rejected,
            Some(*status),
            format!("refused: {status} {reason}"),
        ),
        Attempt::Failed { reason } => (ShopOutcome::Failed, None, reason.clone()),
    };
    meta.outcome = Some(outcome.as_str().to_string());
    tracing::info!(scenario = script.id, outcome = outcome.as_str(), "{detail}");

    if let Attempt::Answered(a) = placed.attempt {
        meta.ring_ms = Some(a.ring_ms);
        if !a.near.is_empty() {
            let near = TrackResult {
                samples: a.near,
                first_audio: Some(0),
                ..Default::default()
            };
            let recording = CallRecording {
                meta: meta.clone(),
                legs: vec![
                    RecordedLeg {
                        role: Speaker::Agent,
                        track: a.far,
                    },
                    RecordedLeg {
                        role: Speaker::Caller,
                        track: near,
                    },
                ],
            };
            if let Some(assembled) = recording.assemble() {
                let written = assembled.write(&opts.out_dir)?;
                return Ok(ShopCall {
                    outcome,
                    meta: assembled.meta,
                    files: ShopFiles::Recording(written),
                    turns: conversation.turns().to_vec(),
                    sip_status,
                    detail,
                    duration_ms: a.duration_ms,
                });
            }
        }
    }
    let record = AttemptRecord {
        meta: meta.clone(),
        sip_status,
        detail: detail.clone(),
    };
    let path = write_attempt(&opts.out_dir, &record)?;
    Ok(ShopCall {
        outcome,
        meta,
        files: ShopFiles::Attempt(path),
        turns: conversation.turns().to_vec(),
        sip_status,
        detail,
        duration_ms: 0,
    })
}

/// Writes `DIR/STEM.attempt.json` under a temporary name, synced, then renamed into place;
/// an existing record is never overwritten (`-2`, `-3`… is appended).
pub fn write_attempt(dir: &Path, record: &AttemptRecord) -> Result<PathBuf, ShopError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ShopError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let stem = file_stem(&record.meta);
    let path = (1..)
        .map(|n| match n {
            1 => dir.join(format!("{stem}.attempt.json")),
            n => dir.join(format!("{stem}-{n}.attempt.json")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| unreachable!("an unbounded range always yields a free name"));
    let tmp = dir.join(format!(
        ".{}.part",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let json = serde_json::to_vec_pretty(record).map_err(|e| ShopError::Write {
        path: path.clone(),
        source: e.into(),
    })?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ShopError::Write { path, source });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_records_round_trip_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let record = AttemptRecord {
            meta: CallMeta {
                call_id: Some("abc@127.0.0.1".into()),
                started_at: Some("2026-01-05T09:37:00Z".into()),
                scenario: Some("billing-question".into()),
                outcome: Some("busy".into()),
                to: Some("sip:reception@127.0.0.1:5080".into()),
                ..Default::default()
            },
            sip_status: Some(486),
            detail: "busy (486)".into(),
        };
        let a = write_attempt(dir.path(), &record).unwrap();
        let b = write_attempt(dir.path(), &record).unwrap();
        assert_eq!(
            a.file_name().unwrap(),
            "20260105T093700Z_abc_127.0.0.1.attempt.json"
        );
        assert_eq!(
            b.file_name().unwrap(),
            "20260105T093700Z_abc_127.0.0.1-2.attempt.json"
        );
        let back: AttemptRecord = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
        assert_eq!(back, record);
        let text = std::fs::read_to_string(&a).unwrap();
        assert!(text.contains("\"outcome\": \"busy\""), "{text}");
        assert!(text.contains("\"sip_status\": 486"), "{text}");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn tags_are_dropped_from_from() {
        assert_eq!(
            without_tag("\"Priya\" <sip:shopper@127.0.0.1:5070>;tag=ab12"),
            "\"Priya\" <sip:shopper@127.0.0.1:5070>"
        );
    }
}

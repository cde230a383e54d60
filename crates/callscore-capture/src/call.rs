//! The legs of one call assembled into channels, and written as WAV + sidecar JSON, atomically.

use crate::track::{TrackResult, TrackStats, RECORDING_RATE};
use crate::CaptureError;
use callscore_core::{AgentChannel, CallEvent, CallMeta, Speaker};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One received stream and whose voice it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedLeg {
    pub role: Speaker,
    pub track: TrackResult,
}

/// Everything captured for one call, before assembly.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallRecording {
    /// Signalling facts (Call-ID, From/To, start time, names). Events are filled in by assembly.
    pub meta: CallMeta,
    pub legs: Vec<RecordedLeg>,
}

/// A call ready to write: one channel (mono) or two (agent left, caller right), aligned in time.
#[derive(Debug, Clone, PartialEq)]
pub struct AssembledCall {
    pub channels: Vec<Vec<i16>>,
    pub meta: CallMeta,
    pub duration_ms: u64,
    pub stats: Vec<TrackStats>,
}

fn samples_to_ms(samples: u64) -> u64 {
    samples * 1000 / RECORDING_RATE as u64
}

fn mix_into(target: &mut Vec<i16>, source: &[i16]) {
    if target.len() < source.len() {
        target.resize(source.len(), 0);
    }
    for (t, s) in target.iter_mut().zip(source) {
        *t = t.saturating_add(*s);
    }
}

impl CallRecording {
    /// Aligns the legs on the call clock and trims the silence before the first audio. A single
    /// stream becomes a mono recording (its speaker cannot be known); two or more become stereo,
    /// agent left and caller right, with legs of unknown role taking the free channels in order.
    /// A call with DTMF but no audio (an IVR-only call) is written as silence long enough to hold
    /// its events. Returns None when neither audio nor events were received.
    pub fn assemble(self) -> Option<AssembledCall> {
        let first_event = self
            .legs
            .iter()
            .flat_map(|l| l.track.events.iter().map(|e| e.at))
            .min();
        let t0 = self
            .legs
            .iter()
            .filter_map(|l| l.track.first_audio)
            .chain(first_event)
            .min()?;
        let events_end = self
            .legs
            .iter()
            .flat_map(|l| l.track.events.iter().map(|e| e.at + e.duration))
            .max()
            .unwrap_or(0)
            .saturating_sub(t0) as usize;
        let stats = self.legs.iter().map(|l| l.track.stats).collect();
        let mut meta = self.meta;
        let mut events: Vec<CallEvent> = self
            .legs
            .iter()
            .flat_map(|l| l.track.events.iter())
            .map(|e| CallEvent {
                at_ms: samples_to_ms(e.at.saturating_sub(t0)),
                duration_ms: samples_to_ms(e.duration),
                digit: e.digit.clone(),
            })
            .collect();
        events.sort_by(|a, b| (a.at_ms, &a.digit).cmp(&(b.at_ms, &b.digit)));
        events.dedup();
        meta.events = events;
        let trimmed = |t: &TrackResult| -> Vec<i16> {
            t.samples
                .get(t0 as usize..)
                .map(<[i16]>::to_vec)
                .unwrap_or_default()
        };
        let audio_legs: Vec<&RecordedLeg> = self
            .legs
            .iter()
            .filter(|l| l.track.first_audio.is_some())
            .collect();
        let mut channels: Vec<Vec<i16>> = if self.legs.len() == 1 {
            meta.agent_channel = None;
            vec![trimmed(&self.legs[0].track)]
        } else {
            let mut agent: Option<Vec<i16>> = None;
            let mut caller: Option<Vec<i16>> = None;
            let mut unknown = Vec::new();
            for leg in &audio_legs {
                let slot = match leg.role {
                    Speaker::Agent => &mut agent,
                    Speaker::Caller => &mut caller,
                    Speaker::Unknown => {
                        unknown.push(trimmed(&leg.track));
                        continue;
                    }
                };
                mix_into(slot.get_or_insert_with(Vec::new), &trimmed(&leg.track));
            }
            let roles_known = agent.is_some() || caller.is_some();
            for samples in unknown {
                // The left channel first; once both are taken, further legs mix into the right.
                let slot = if agent.is_none() {
                    &mut agent
                } else {
                    &mut caller
                };
                mix_into(slot.get_or_insert_with(Vec::new), &samples);
            }
            meta.agent_channel = roles_known.then_some(AgentChannel::Left);
            vec![agent.unwrap_or_default(), caller.unwrap_or_default()]
        };
        let audio_len = channels.iter().map(Vec::len).max().unwrap_or(0);
        // Digits only stretch the recording when there is no audio to carry them.
        let len = if audio_legs.is_empty() {
            events_end
        } else {
            audio_len
        };
        for c in &mut channels {
            c.resize(len, 0);
        }
        Some(AssembledCall {
            channels,
            meta,
            duration_ms: samples_to_ms(len as u64),
            stats,
        })
    }
}

/// Paths of a written call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenCall {
    pub wav: PathBuf,
    pub sidecar: PathBuf,
}

/// A file-name-safe stem: start time and Call-ID, e.g. `20240311T091500Z_a84b4c76e66710`.
pub fn file_stem(meta: &CallMeta) -> String {
    let when = meta
        .started_at
        .as_deref()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .and_then(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(time::macros::format_description!(
                    "[year][month][day]T[hour][minute][second]Z"
                ))
                .ok()
        })
        .unwrap_or_else(|| "undated".into());
    let id: String = meta
        .call_id
        .as_deref()
        .unwrap_or("call")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{when}_{}", id.trim_matches('.'))
}

impl AssembledCall {
    /// Writes `DIR/STEM.wav` and `DIR/STEM.json`. Each is written under a temporary name and
    /// renamed into place, sidecar first, so anything that watches for `.wav` files finds a
    /// complete recording with its metadata already beside it. An existing call of the same name
    /// is never overwritten: `-2`, `-3`… is appended.
    pub fn write(&self, dir: &Path) -> Result<WrittenCall, CaptureError> {
        std::fs::create_dir_all(dir).map_err(|source| CaptureError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let stem = file_stem(&self.meta);
        let (wav, sidecar) = (1..)
            .map(|n| {
                if n == 1 {
                    stem.clone()
                } else {
                    format!("{stem}-{n}")
                }
            })
            .map(|s| (dir.join(format!("{s}.wav")), dir.join(format!("{s}.json"))))
            .find(|(w, j)| !w.exists() && !j.exists())
            .unwrap_or_else(|| unreachable!("an unbounded range always yields a free name"));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CaptureError::Io { path, source }
        };
        let wav_tmp = temp_name(&wav);
        let json_tmp = temp_name(&sidecar);
        let result = (|| {
            self.write_wav(&wav_tmp)?;
            let json = serde_json::to_vec_pretty(&self.meta).map_err(|e| CaptureError::Io {
                path: json_tmp.clone(),
                source: e.into(),
            })?;
            let mut f = File::create(&json_tmp).map_err(io(&json_tmp))?;
            f.write_all(&json)
                .and_then(|_| f.write_all(b"\n"))
                .and_then(|_| f.sync_all())
                .map_err(io(&json_tmp))?;
            std::fs::rename(&json_tmp, &sidecar).map_err(io(&sidecar))?;
            std::fs::rename(&wav_tmp, &wav).map_err(io(&wav))?;
            Ok(WrittenCall {
                wav: wav.clone(),
                sidecar: sidecar.clone(),
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&wav_tmp);
            let _ = std::fs::remove_file(&json_tmp);
        }
        result
    }

    fn write_wav(&self, path: &Path) -> Result<(), CaptureError> {
        let spec = hound::WavSpec {
            channels: self.channels.len() as u16,
            sample_rate: RECORDING_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let wav_err = |source| CaptureError::Wav {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut writer =
            hound::WavWriter::new(std::io::BufWriter::new(file), spec).map_err(wav_err)?;
        let len = self.channels.first().map_or(0, Vec::len);
        for i in 0..len {
            for c in &self.channels {
                writer.write_sample(c[i]).map_err(wav_err)?;
            }
        }
        writer.finalize().map_err(wav_err)?;
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|source| CaptureError::Io {
                path: path.to_path_buf(),
                source,
            })
    }
}

/// Makes sure recordings can be written into `dir`: creates it when missing, then writes (and
/// removes) a 64 KiB probe file, so a read-only folder, a path that is a file, or a full disk is
/// found before any call is accepted.
pub fn ensure_writable(dir: &Path) -> Result<(), CaptureError> {
    let problem = |reason: String| CaptureError::OutDir {
        path: dir.to_path_buf(),
        reason,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(problem("it exists and is not a folder".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| problem(format!("cannot create it: {e}")))?;
    let probe = dir.join(format!(".callscore-probe-{}", std::process::id()));
    let written = File::create(&probe).and_then(|mut f| f.write_all(&[0u8; 64 * 1024]));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| problem(format!("cannot write in it: {e}")))
}

/// `DIR/.NAME.part`: hidden, and without an audio extension, so directory walks skip it.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::TrackEvent;

    fn leg(role: Speaker, first: u64, value: i16, len: usize) -> RecordedLeg {
        let mut samples = vec![0; first as usize];
        samples.extend(std::iter::repeat_n(value, len));
        RecordedLeg {
            role,
            track: TrackResult {
                samples,
                first_audio: Some(first),
                events: vec![],
                stats: TrackStats::default(),
            },
        }
    }

    #[test]
    fn puts_agent_left_and_caller_right_aligned_on_the_first_audio() {
        let mut caller = leg(Speaker::Caller, 800, 7, 1600);
        caller.track.events.push(TrackEvent {
            at: 1600,
            duration: 800,
            digit: "5".into(),
        });
        let rec = CallRecording {
            meta: CallMeta {
                call_id: Some("abc".into()),
                ..Default::default()
            },
            legs: vec![caller, leg(Speaker::Agent, 1600, 3, 800)],
        };
        let a = rec.assemble().unwrap();
        assert_eq!(a.channels.len(), 2);
        assert_eq!(a.channels[0][..800], vec![0; 800][..]);
        assert_eq!(a.channels[0][800], 3);
        assert_eq!(a.channels[1][0], 7);
        assert_eq!(a.duration_ms, 200);
        assert_eq!(a.meta.agent_channel, Some(AgentChannel::Left));
        assert_eq!(
            a.meta.events,
            vec![CallEvent {
                at_ms: 100,
                duration_ms: 100,
                digit: "5".into()
            }]
        );
    }

    #[test]
    fn one_stream_is_mono_and_no_audio_is_nothing() {
        let a = CallRecording {
            meta: CallMeta::default(),
            legs: vec![leg(Speaker::Unknown, 80, 1, 80)],
        }
        .assemble()
        .unwrap();
        assert_eq!(a.channels.len(), 1);
        assert_eq!(a.channels[0].len(), 80);
        let silent = RecordedLeg {
            role: Speaker::Caller,
            track: TrackResult::default(),
        };
        assert!(CallRecording {
            meta: CallMeta::default(),
            legs: vec![silent.clone()]
        }
        .assemble()
        .is_none());
        let mut digits_only = silent;
        digits_only.track.events.push(TrackEvent {
            at: 4000,
            duration: 800,
            digit: "#".into(),
        });
        let a = CallRecording {
            meta: CallMeta::default(),
            legs: vec![digits_only],
        }
        .assemble()
        .unwrap();
        assert_eq!((a.duration_ms, a.meta.events[0].at_ms), (100, 0));
    }

    #[test]
    fn writes_wav_and_sidecar_without_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let meta = CallMeta {
            call_id: Some("a/b@c".into()),
            started_at: Some("2024-03-11T09:15:00Z".into()),
            caller_name: Some("Michael".into()),
            ..Default::default()
        };
        let rec = CallRecording {
            meta,
            legs: vec![
                leg(Speaker::Agent, 0, 100, 8000),
                leg(Speaker::Caller, 0, -100, 8000),
            ],
        };
        let a = rec.assemble().unwrap();
        let first = a.write(dir.path()).unwrap();
        assert_eq!(first.wav.file_name().unwrap(), "20240311T091500Z_a_b_c.wav");
        let second = a.write(dir.path()).unwrap();
        assert_eq!(
            second.wav.file_name().unwrap(),
            "20240311T091500Z_a_b_c-2.wav"
        );
        let reader = hound::WavReader::open(&first.wav).unwrap();
        assert_eq!(
            (
                reader.spec().channels,
                reader.spec().sample_rate,
                reader.len()
            ),
            (2, 8000, 16000)
        );
        let meta: CallMeta =
            serde_json::from_slice(&std::fs::read(&first.sidecar).unwrap()).unwrap();
        assert_eq!(meta.caller_name.as_deref(), Some("Michael"));
        assert_eq!(meta.agent_channel, Some(AgentChannel::Left));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty());
    }
}

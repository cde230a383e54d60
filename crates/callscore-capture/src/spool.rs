//! The recorder's spool: every RTP packet a call in progress has accepted, on disk as it arrives,
//! so that a recorder killed mid-call (`kill -9`, a power cut, the OOM killer) loses nothing it
//! had received. The finished WAV is still written from memory at the end of the call; the
//! spool is only read when that never happened: on the next start, [`recover`] replays each
//! spooled call through the same [`StreamTrack`] code as live audio and writes it whole, or
//! reports it lost with its Call-ID.
//!
//! Layout, under the recording folder (hidden, and without audio extensions, so batch scoring of
//! the folder never picks it up):
//!
//! ```text
//! OUT/.spool/<stem>/call.json    CallMeta and the streams (file, role, payload types), atomic
//! OUT/.spool/<stem>/s<N>.rtp     "CSSPOOL1", then per packet: u32 LE arrival ms, u16 LE length,
//!                                the datagram as received
//! ```
//!
//! Appends are buffered and flushed at least every [`FLUSH_EVERY`], so a crash loses at most
//! that much of the end of a call. A truncated last record (killed mid-write) is expected and
//! ignored. Written by hand rather than as pcap because the replay needs the call clock and the
//! stream's role, not link-layer framing, and a pcap reader would reject the truncated tail.

use crate::call::{file_stem, CallRecording, RecordedLeg, WrittenCall};
use crate::g711::G711;
use crate::track::{PayloadKind, PayloadMap, StreamTrack, TrackConfig};
use crate::CaptureError;
use callscore_core::{CallMeta, Speaker};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The spool folder's name inside the recording folder.
pub const SPOOL_DIR: &str = ".spool";
const MAGIC: &[u8; 8] = b"CSSPOOL1";
const CALL_FILE: &str = "call.json";
/// How much of the end of a call a crash may lose.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Larger records cannot be RTP over UDP on any real network; a length above this means the
/// file is damaged and the replay stops there.
const MAX_RECORD: usize = 65_535;

/// What `call.json` says about one stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SpooledStream {
    file: String,
    role: Speaker,
    /// Payload type → "pcmu" | "pcma" | "telephone-event" | "cn".
    payloads: Vec<(u8, String)>,
    #[serde(default)]
    guess_dynamic_events: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SpooledCall {
    meta: CallMeta,
    streams: Vec<SpooledStream>,
}

fn kind_name(kind: PayloadKind) -> &'static str {
    match kind {
        PayloadKind::Audio(G711::Ulaw) => "pcmu",
        PayloadKind::Audio(G711::Alaw) => "pcma",
        PayloadKind::TelephoneEvent => "telephone-event",
        PayloadKind::ComfortNoise => "cn",
    }
}

fn kind_of(name: &str) -> Option<PayloadKind> {
    Some(match name {
        "pcmu" => PayloadKind::Audio(G711::Ulaw),
        "pcma" => PayloadKind::Audio(G711::Alaw),
        "telephone-event" => PayloadKind::TelephoneEvent,
        "cn" => PayloadKind::ComfortNoise,
        _ => return None,
    })
}

fn payload_names(payloads: &PayloadMap) -> Vec<(u8, String)> {
    payloads
        .entries()
        .into_iter()
        .map(|(pt, k)| (pt, kind_name(k).to_string()))
        .collect()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaptureError + '_ {
    move |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One call's spool folder while the call runs.
#[derive(Debug)]
pub struct CallSpool {
    dir: PathBuf,
    record: SpooledCall,
}

impl CallSpool {
    /// Creates `OUT/.spool/<stem>/` and its `call.json`; streams are added with
    /// [`CallSpool::add_stream`] as they start.
    pub fn create(out_dir: &Path, meta: &CallMeta) -> Result<CallSpool, CaptureError> {
        let base = out_dir.join(SPOOL_DIR);
        let stem = file_stem(meta);
        let dir = (1..)
            .map(|n| {
                if n == 1 {
                    base.join(&stem)
                } else {
                    base.join(format!("{stem}-{n}"))
                }
            })
            .find(|d| !d.exists())
            .unwrap_or_else(|| unreachable!("an unbounded range always yields a free name"));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let record = SpooledCall {
            meta: meta.clone(),
            streams: Vec::new(),
        };
        let spool = CallSpool { dir, record };
        spool.write_record()?;
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many streams have been added.
    pub fn stream_count(&self) -> usize {
        self.record.streams.len()
    }

    /// A re-INVITE changed a stream's payload types: the replay uses the latest map.
    pub fn set_payloads(
        &mut self,
        stream: usize,
        payloads: &PayloadMap,
    ) -> Result<(), CaptureError> {
        if let Some(s) = self.record.streams.get_mut(stream) {
            s.payloads = payload_names(payloads);
            s.guess_dynamic_events = payloads.guesses_dynamic_events();
        }
        self.write_record()
    }

    fn write_record(&self) -> Result<(), CaptureError> {
        let path = self.dir.join(CALL_FILE);
        let tmp = self.dir.join(".call.json.part");
        let json = serde_json::to_vec_pretty(&self.record).map_err(|e| CaptureError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&json)
            .and_then(|()| f.sync_all())
            .map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    /// A new stream of the call (in the order streams start: its index for
    /// [`CallSpool::set_payloads`]), and its append-only packet file.
    pub fn add_stream(
        &mut self,
        role: Speaker,
        payloads: &PayloadMap,
    ) -> Result<StreamSpool, CaptureError> {
        let n = self.record.streams.len();
        let file_name = format!("s{n}.rtp");
        let path = self.dir.join(&file_name);
        let mut file =
            BufWriter::with_capacity(32 * 1024, File::create(&path).map_err(io_err(&path))?);
        file.write_all(MAGIC).map_err(io_err(&path))?;
        self.record.streams.push(SpooledStream {
            file: file_name,
            role,
            payloads: payload_names(payloads),
            guess_dynamic_events: payloads.guesses_dynamic_events(),
        });
        self.write_record()?;
        Ok(StreamSpool {
            path,
            file: Some(file),
            last_flush: Instant::now(),
            error: None,
        })
    }

    /// The call was written (or had no audio): its spool is no longer needed.
    pub fn remove(self) -> Result<(), CaptureError> {
        std::fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
    }
}

/// One stream's packet file. A write error (a full disk) stops the spooling of this stream —
/// the audio is still kept in memory and written at the end of the call — and is reported once.
#[derive(Debug)]
pub struct StreamSpool {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    last_flush: Instant,
    error: Option<String>,
}

impl StreamSpool {
    /// Appends one accepted datagram that arrived `arrival` after the call started. Returns the
    /// error the first time spooling fails, so the caller can log it; afterwards it is quiet.
    pub fn append(&mut self, arrival: Duration, datagram: &[u8]) -> Option<String> {
        let file = self.file.as_mut()?;
        let len = datagram.len().min(MAX_RECORD) as u16;
        let ms = u32::try_from(arrival.as_millis()).unwrap_or(u32::MAX);
        let mut result = file
            .write_all(&ms.to_le_bytes())
            .and_then(|()| file.write_all(&len.to_le_bytes()))
            .and_then(|()| file.write_all(&datagram[..len as usize]));
        if result.is_ok() && self.last_flush.elapsed() >= FLUSH_EVERY {
            result = file.flush();
            self.last_flush = Instant::now();
        }
        self.fail_on(result)
    }

    /// Writes out what is buffered (at the end of the stream).
    pub fn flush(&mut self) -> Option<String> {
        let result = match self.file.as_mut() {
            Some(f) => f.flush(),
            None => return None,
        };
        self.fail_on(result)
    }

    fn fail_on(&mut self, result: std::io::Result<()>) -> Option<String> {
        let e = result.err()?;
        self.file = None;
        let msg = format!("{}: {e}", self.path.display());
        self.error = Some(msg.clone());
        Some(msg)
    }

    /// Why spooling stopped, if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

/// A spooled call found at start-up.
#[derive(Debug)]
pub struct Recovered {
    /// The spool folder it came from (removed once the call is written).
    pub spool: PathBuf,
    /// The Call-ID, when the spool still says it.
    pub call_id: Option<String>,
    pub meta: CallMeta,
    pub duration_ms: u64,
    /// Ok(Some): written whole from the spool. Ok(None): nothing recoverable (no audio had been
    /// received). Err: lost, with the reason; the spool is left in place for inspection.
    pub written: Result<Option<WrittenCall>, CaptureError>,
}

/// Replays and writes every call left in `OUT/.spool` by a recorder that did not finish them,
/// oldest first. A call written (or with nothing to write) has its spool removed; one that cannot
/// be read keeps it and is returned as an error.
pub fn recover(out_dir: &Path, track: &TrackConfig) -> Vec<Recovered> {
    let base = out_dir.join(SPOOL_DIR);
    let Ok(entries) = std::fs::read_dir(&base) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| recover_one(&dir, out_dir, track))
        .collect()
}

fn recover_one(dir: &Path, out_dir: &Path, track: &TrackConfig) -> Recovered {
    let call_file = dir.join(CALL_FILE);
    let record: SpooledCall = match std::fs::read(&call_file)
        .map_err(io_err(&call_file))
        .and_then(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| CaptureError::Io {
                path: call_file.clone(),
                source: e.into(),
            })
        }) {
        Ok(r) => r,
        Err(e) => {
            return Recovered {
                spool: dir.to_path_buf(),
                call_id: None,
                meta: CallMeta::default(),
                duration_ms: 0,
                written: Err(e),
            }
        }
    };
    let mut legs = Vec::with_capacity(record.streams.len());
    for s in &record.streams {
        let entries = s
            .payloads
            .iter()
            .filter_map(|(pt, name)| kind_of(name).map(|k| (*pt, k)));
        let mut payloads = PayloadMap::from_sdp(entries);
        if s.guess_dynamic_events {
            payloads = PayloadMap::default();
        }
        let mut stream = StreamTrack::new(payloads, track.clone());
        let path = dir.join(&s.file);
        if let Ok(bytes) = std::fs::read(&path) {
            for (arrival, datagram) in records(&bytes) {
                stream.push(arrival, datagram);
            }
        }
        legs.push(RecordedLeg {
            role: s.role,
            track: stream.finish(),
        });
    }
    let recording = CallRecording {
        meta: record.meta.clone(),
        legs,
    };
    let call_id = record.meta.call_id.clone();
    let (written, duration_ms, meta) = match recording.assemble() {
        None => (Ok(None), 0, record.meta),
        Some(a) => (a.write(out_dir).map(Some), a.duration_ms, a.meta),
    };
    if written.is_ok() {
        // Written (or nothing there): the spool has done its job. A failure to remove it only
        // means the next start recovers the call again, under a new name; say so in the log.
        if let Err(e) = std::fs::remove_dir_all(dir) {
            tracing::warn!("{}: cannot remove the spool: {e}", dir.display());
        }
    }
    Recovered {
        spool: dir.to_path_buf(),
        call_id,
        meta,
        duration_ms,
        written,
    }
}

/// The complete records of a packet file (a truncated last one is dropped).
fn records(bytes: &[u8]) -> impl Iterator<Item = (Duration, &[u8])> {
    let body = bytes.strip_prefix(MAGIC.as_slice()).unwrap_or(&[]);
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.len() < 6 {
            return None;
        }
        let ms = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = u16::from_le_bytes([rest[4], rest[5]]) as usize;
        let end = 6 + len;
        if rest.len() < end {
            return None;
        }
        let datagram = &rest[6..end];
        rest = &rest[end..];
        Some((Duration::from_millis(u64::from(ms)), datagram))
    })
}

/// Reads a whole packet file (for tests and tools).
pub fn read_stream_file(path: &Path) -> Result<Vec<(Duration, Vec<u8>)>, CaptureError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    Ok(records(&bytes).map(|(t, d)| (t, d.to_vec())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTP packet: version 2, payload type 0 (PCMU).
    fn pcmu(seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend(seq.to_be_bytes());
        p.extend(timestamp.to_be_bytes());
        p.extend(ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn meta() -> CallMeta {
        CallMeta {
            call_id: Some("abc@host".into()),
            started_at: Some("2026-11-22T09:14:00Z".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_spooled_call_is_replayed_and_written_whole_and_the_spool_removed() {
        let out = tempfile::tempdir().unwrap();
        let mut spool = CallSpool::create(out.path(), &meta()).unwrap();
        let mut s0 = spool
            .add_stream(Speaker::Unknown, &PayloadMap::default())
            .unwrap();
        // 50 packets of 20 ms µ-law: one second of audio.
        for i in 0..50u16 {
            let pkt = pcmu(i, u32::from(i) * 160, 0x1234, &[0x10; 160]);
            assert!(s0
                .append(Duration::from_millis(u64::from(i) * 20), &pkt)
                .is_none());
        }
        // Half a record at the end, as a kill mid-write leaves it.
        assert!(s0
            .append(Duration::from_millis(1_000), &[0x80; 40])
            .is_none());
        assert!(s0.flush().is_none());
        drop(s0);
        let path = spool.dir().join("s0.rtp");
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 3).unwrap();
        drop(spool);

        let recovered = recover(out.path(), &TrackConfig::default());
        assert_eq!(recovered.len(), 1);
        let r = &recovered[0];
        assert_eq!(r.call_id.as_deref(), Some("abc@host"));
        let written = r.written.as_ref().unwrap().as_ref().expect("audio written");
        assert!(written.wav.exists() && written.sidecar.exists());
        assert!(
            (990..=1_010).contains(&r.duration_ms),
            "one second of audio, got {} ms",
            r.duration_ms
        );
        assert!(!out
            .path()
            .join(SPOOL_DIR)
            .join("20261122T091400Z_abc_host")
            .exists());
        // Nothing left to recover the second time.
        assert!(recover(out.path(), &TrackConfig::default()).is_empty());
    }

    #[test]
    fn a_damaged_spool_is_reported_with_its_folder_and_kept() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join(SPOOL_DIR).join("20261122T091400Z_x");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CALL_FILE), b"{ not json").unwrap();
        let recovered = recover(out.path(), &TrackConfig::default());
        assert_eq!(recovered.len(), 1);
        let err = recovered[0].written.as_ref().unwrap_err().to_string();
        assert!(err.contains("call.json"), "{err}");
        assert!(dir.exists(), "kept for inspection");
    }

    #[test]
    fn records_stop_at_a_truncated_or_absurd_tail() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend(7u32.to_le_bytes());
        bytes.extend(3u16.to_le_bytes());
        bytes.extend([1, 2, 3]);
        bytes.extend(9u32.to_le_bytes());
        bytes.extend(200u16.to_le_bytes());
        bytes.extend([0; 10]);
        let got: Vec<_> = records(&bytes).collect();
        assert_eq!(got, vec![(Duration::from_millis(7), &[1u8, 2, 3][..])]);
        assert_eq!(records(b"not a spool").count(), 0);
    }
}

//! One received media stream turned into a PCM timeline: RTP in, 8 kHz samples and DTMF events out.
//!
//! Audio is placed by RTP timestamp, not by arrival order, so loss leaves silence of the right
//! length and every leg of a call keeps wall-clock alignment with the others. Where a stream starts
//! (and where a new SSRC starts) comes from the arrival time on the call clock, which is shared by
//! all legs of a call. Telephone events (RFC 4733) are collected as DTMF digits, never as audio.

use crate::g711::G711;
use crate::jitter::{JitterBuffer, Pushed, TimestampExtender};
use crate::rtp::{RtpPacket, TelephoneEvent};
use std::collections::HashMap;
use std::time::Duration;

/// Sample rate of recorded legs and of the written WAV: G.711's own rate.
pub const RECORDING_RATE: u32 = 8_000;

/// What an RTP payload type carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Audio(G711),
    /// RFC 4733 telephone-event (DTMF).
    TelephoneEvent,
    /// RFC 3389 comfort noise: the sender is silent; the timeline's silence says the same.
    ComfortNoise,
}

/// Payload type numbers and what they mean, from the SDP (`a=rtpmap`) or the RFC 3551 defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadMap {
    kinds: HashMap<u8, PayloadKind>,
    /// Without SDP (raw captures), a dynamic payload type with a 4-byte payload is taken to be a
    /// telephone event, as RFC 4733 packets always are.
    guess_dynamic_events: bool,
}

impl Default for PayloadMap {
    /// The static assignments of RFC 3551, and 101 as telephone-event (the near-universal choice).
    fn default() -> Self {
        let mut kinds = HashMap::new();
        kinds.insert(0, PayloadKind::Audio(G711::Ulaw));
        kinds.insert(8, PayloadKind::Audio(G711::Alaw));
        kinds.insert(13, PayloadKind::ComfortNoise);
        kinds.insert(101, PayloadKind::TelephoneEvent);
        PayloadMap {
            kinds,
            guess_dynamic_events: true,
        }
    }
}

impl PayloadMap {
    /// An empty map: only what the SDP declares (and static 0/8/13) will be accepted.
    pub fn from_sdp(entries: impl IntoIterator<Item = (u8, PayloadKind)>) -> Self {
        let mut kinds = HashMap::new();
        kinds.insert(0, PayloadKind::Audio(G711::Ulaw));
        kinds.insert(8, PayloadKind::Audio(G711::Alaw));
        kinds.insert(13, PayloadKind::ComfortNoise);
        kinds.extend(entries);
        PayloadMap {
            kinds,
            guess_dynamic_events: false,
        }
    }

    /// The declared payload types, in number order.
    pub fn entries(&self) -> Vec<(u8, PayloadKind)> {
        let mut e: Vec<(u8, PayloadKind)> = self.kinds.iter().map(|(k, v)| (*k, *v)).collect();
        e.sort_by_key(|(k, _)| *k);
        e
    }

    /// Whether unknown dynamic payload types of 4 bytes are taken as telephone events (the
    /// default map, for captures without SDP).
    pub fn guesses_dynamic_events(&self) -> bool {
        self.guess_dynamic_events
    }

    pub fn kind(&self, payload_type: u8, payload: &[u8]) -> Option<PayloadKind> {
        if let Some(kind) = self.kinds.get(&payload_type) {
            return Some(*kind);
        }
        if self.guess_dynamic_events && (96..=127).contains(&payload_type) && payload.len() == 4 {
            return Some(PayloadKind::TelephoneEvent);
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    /// Packets held back per SSRC for reordering.
    pub reorder_depth: usize,
    /// Audio past this point on the call clock is dropped (a stuck or hostile stream cannot
    /// exhaust memory).
    pub max_duration: Duration,
    /// When a packet's timestamp puts it further than this from its arrival time, the sender's
    /// clock jumped: the stream is re-anchored at the arrival time.
    pub resync_after: Duration,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            reorder_depth: 8,
            max_duration: Duration::from_secs(4 * 3600),
            resync_after: Duration::from_secs(10),
        }
    }
}

/// Counters of what a stream received and what became of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrackStats {
    pub packets: u64,
    pub audio_packets: u64,
    pub event_packets: u64,
    pub duplicates: u64,
    pub late: u64,
    pub malformed: u64,
    pub unknown_payload_type: u64,
    pub ssrc_changes: u64,
    pub resyncs: u64,
    pub beyond_max_duration: u64,
    /// Samples of silence inserted for lost or missing packets.
    pub gap_samples: u64,
}

/// One DTMF digit on the call clock, in samples at [`RECORDING_RATE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEvent {
    pub at: u64,
    pub duration: u64,
    pub digit: String,
}

/// The finished stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackResult {
    /// PCM at 8 kHz; index 0 is call-clock time 0.
    pub samples: Vec<i16>,
    /// Where the first audio sample sits on the call clock (None: no audio was received).
    pub first_audio: Option<u64>,
    pub events: Vec<TrackEvent>,
    pub stats: TrackStats,
}

#[derive(Debug)]
struct Pending {
    arrival: u64,
    timestamp: u64,
    codec: G711,
    payload: Vec<u8>,
}

#[derive(Debug)]
struct Source {
    jitter: JitterBuffer<Pending>,
    timestamps: TimestampExtender,
    /// (extended RTP timestamp, call-clock sample position) that anchors this SSRC.
    anchor: Option<(u64, u64)>,
}

#[derive(Debug)]
struct EventState {
    at: u64,
    duration: u64,
    event: u8,
}

/// A media stream being received. Feed it datagrams with [`StreamTrack::push`]; call
/// [`StreamTrack::finish`] at the end of the call.
#[derive(Debug)]
pub struct StreamTrack {
    config: TrackConfig,
    payloads: PayloadMap,
    sources: HashMap<u32, Source>,
    last_audio_ssrc: Option<u32>,
    samples: Vec<i16>,
    first_audio: Option<u64>,
    events: HashMap<(u32, u32), EventState>,
    stats: TrackStats,
    scratch: Vec<i16>,
}

fn to_samples(d: Duration) -> u64 {
    (d.as_nanos() * RECORDING_RATE as u128 / 1_000_000_000) as u64
}

impl StreamTrack {
    pub fn new(payloads: PayloadMap, config: TrackConfig) -> Self {
        StreamTrack {
            config,
            payloads,
            sources: HashMap::new(),
            last_audio_ssrc: None,
            samples: Vec::new(),
            first_audio: None,
            events: HashMap::new(),
            stats: TrackStats::default(),
            scratch: Vec::new(),
        }
    }

    pub fn set_payloads(&mut self, payloads: PayloadMap) {
        self.payloads = payloads;
    }

    pub fn stats(&self) -> &TrackStats {
        &self.stats
    }

    /// The audio placed so far (8 kHz, index 0 = call-clock zero): what a live listener (a
    /// calling client's turn-taking) can hear. Packets still held for reordering are not in it.
    pub fn timeline(&self) -> &[i16] {
        &self.samples
    }

    /// Takes one datagram that arrived `arrival` after the call clock's zero.
    pub fn push(&mut self, arrival: Duration, datagram: &[u8]) {
        self.stats.packets += 1;
        let packet = match RtpPacket::parse(datagram) {
            Ok(p) => p,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        self.push_packet(arrival, packet);
    }

    pub fn push_packet(&mut self, arrival: Duration, packet: RtpPacket) {
        let arrival = to_samples(arrival);
        match self.payloads.kind(packet.payload_type, &packet.payload) {
            None => self.stats.unknown_payload_type += 1,
            Some(PayloadKind::ComfortNoise) => {}
            Some(PayloadKind::TelephoneEvent) => self.push_event(arrival, &packet),
            Some(PayloadKind::Audio(codec)) => self.push_audio(arrival, packet, codec),
        }
    }

    fn push_event(&mut self, arrival: u64, packet: &RtpPacket) {
        self.stats.event_packets += 1;
        let Some(ev) = TelephoneEvent::parse(&packet.payload) else {
            self.stats.malformed += 1;
            return;
        };
        // Every packet of one event carries the event's start timestamp; retransmitted end packets
        // (RFC 4733 sends the last one three times) land on the same key.
        let key = (packet.ssrc, packet.timestamp);
        let start = self.sources.get_mut(&packet.ssrc).and_then(|s| {
            let (anchor_ts, anchor_pos) = s.anchor?;
            let ts = s.timestamps.extend(packet.timestamp);
            (anchor_pos as i64 + (ts as i64 - anchor_ts as i64))
                .try_into()
                .ok()
        });
        let at = start.unwrap_or(arrival);
        // Like audio, nothing past the longest call is kept: a digit "hours later" (a timestamp
        // jump, a corrupt capture) would otherwise stretch an audio-less call to that length.
        let limit = to_samples(self.config.max_duration);
        if at.saturating_add(u64::from(ev.duration)) > limit {
            self.stats.beyond_max_duration += 1;
            return;
        }
        let entry = self.events.entry(key).or_insert(EventState {
            at,
            duration: 0,
            event: ev.event,
        });
        entry.duration = entry.duration.max(ev.duration as u64);
    }

    fn push_audio(&mut self, arrival: u64, packet: RtpPacket, codec: G711) {
        self.stats.audio_packets += 1;
        if self.last_audio_ssrc.is_some_and(|s| s != packet.ssrc)
            && !self.sources.contains_key(&packet.ssrc)
        {
            self.stats.ssrc_changes += 1;
        }
        self.last_audio_ssrc = Some(packet.ssrc);
        let depth = self.config.reorder_depth;
        let source = self.sources.entry(packet.ssrc).or_insert_with(|| Source {
            jitter: JitterBuffer::new(depth),
            timestamps: TimestampExtender::default(),
            anchor: None,
        });
        let pending = Pending {
            arrival,
            timestamp: source.timestamps.extend(packet.timestamp),
            codec,
            payload: packet.payload,
        };
        let mut ready = Vec::new();
        match source.jitter.push(packet.sequence, pending) {
            Pushed::Queued => {}
            Pushed::Duplicate => self.stats.duplicates += 1,
            Pushed::Late(_, p) => {
                self.stats.late += 1;
                ready.push(p);
            }
        }
        while let Some((_, p)) = source.jitter.pop_ready() {
            ready.push(p);
        }
        for p in ready {
            self.place(packet.ssrc, p);
        }
    }

    fn place(&mut self, ssrc: u32, p: Pending) {
        let resync = to_samples(self.config.resync_after) as i64;
        let written_end = self.samples.len() as u64;
        let Some(source) = self.sources.get_mut(&ssrc) else {
            return;
        };
        let (anchor_ts, anchor_pos) = *source.anchor.get_or_insert_with(|| {
            // A new source starts at its arrival time; if that falls a little inside audio already
            // written by a previous SSRC (network jitter), it continues where that audio ends.
            let start =
                if p.arrival < written_end && written_end - p.arrival < RECORDING_RATE as u64 / 5 {
                    written_end
                } else {
                    p.arrival
                };
            (p.timestamp, start)
        });
        let mut pos = anchor_pos as i64 + (p.timestamp as i64 - anchor_ts as i64);
        if (pos - p.arrival as i64).abs() > resync {
            self.stats.resyncs += 1;
            source.anchor = Some((p.timestamp, p.arrival));
            pos = p.arrival as i64;
        }
        if pos < 0 {
            self.stats.late += 1;
            return;
        }
        let pos = pos as usize;
        let end = pos + p.payload.len();
        if end as u64 > to_samples(self.config.max_duration) {
            self.stats.beyond_max_duration += 1;
            return;
        }
        // Silence before a stream's first packet is not loss.
        if pos > self.samples.len() && self.first_audio.is_some() {
            self.stats.gap_samples += (pos - self.samples.len()) as u64;
        }
        if end > self.samples.len() {
            self.samples.resize(end, 0);
        }
        self.scratch.clear();
        p.codec.decode_into(&p.payload, &mut self.scratch);
        self.samples[pos..end].copy_from_slice(&self.scratch);
        self.first_audio = Some(self.first_audio.map_or(pos as u64, |f| f.min(pos as u64)));
    }

    /// Releases everything still held for reordering and returns the stream.
    pub fn finish(mut self) -> TrackResult {
        let ssrcs: Vec<u32> = self.sources.keys().copied().collect();
        for ssrc in ssrcs {
            let drained = self
                .sources
                .get_mut(&ssrc)
                .map(|s| s.jitter.drain())
                .unwrap_or_default();
            for (_, p) in drained {
                self.place(ssrc, p);
            }
        }
        let mut events: Vec<TrackEvent> = self
            .events
            .into_values()
            .map(|e| TrackEvent {
                at: e.at,
                duration: e.duration,
                digit: TelephoneEvent::digit(e.event),
            })
            .collect();
        events.sort_by(|a, b| (a.at, &a.digit).cmp(&(b.at, &b.digit)));
        TrackResult {
            samples: self.samples,
            first_audio: self.first_audio,
            events,
            stats: self.stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::G711;

    const FRAME: usize = 160;

    fn frame_packet(ssrc: u32, seq: u16, ts: u32, level: i16) -> RtpPacket {
        RtpPacket {
            payload_type: 0,
            marker: false,
            sequence: seq,
            timestamp: ts,
            ssrc,
            payload: vec![G711::Ulaw.encode(level); FRAME],
        }
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// Pushes frames i (20 ms apart, level 1000 + 100 i) in the given order; returns the track.
    fn track_of(order: &[u16], seq0: u16, ts0: u32) -> TrackResult {
        let mut t = StreamTrack::new(PayloadMap::default(), TrackConfig::default());
        for &i in order {
            let p = frame_packet(
                7,
                seq0.wrapping_add(i),
                ts0.wrapping_add(i as u32 * FRAME as u32),
                1000 + 100 * i as i16,
            );
            t.push(at(1000 + 20 * i as u64), &p.to_bytes());
        }
        t.finish()
    }

    fn level_of_frame(r: &TrackResult, i: usize) -> i16 {
        let start = r.first_audio.unwrap() as usize + i * FRAME;
        r.samples[start + FRAME / 2]
    }

    #[test]
    fn places_reordered_frames_in_time_order() {
        let r = track_of(&[0, 2, 1, 4, 3, 5], 100, 5000);
        assert_eq!(r.first_audio, Some(8000));
        for i in 0..6 {
            let expected = G711::Ulaw.encode(1000 + 100 * i as i16);
            let mut d = Vec::new();
            G711::Ulaw.decode_into(&[expected], &mut d);
            assert_eq!(level_of_frame(&r, i), d[0], "frame {i}");
        }
        assert_eq!(r.samples.len(), 8000 + 6 * FRAME);
    }

    #[test]
    fn loss_becomes_silence_of_the_right_length() {
        let r = track_of(&[0, 1, 4, 5], 0, 0);
        assert_eq!(r.samples.len(), 8000 + 6 * FRAME);
        assert!(r.samples[8000 + 2 * FRAME..8000 + 4 * FRAME]
            .iter()
            .all(|&s| s == 0));
        assert_eq!(r.stats.gap_samples, 2 * FRAME as u64);
        assert_ne!(level_of_frame(&r, 4), 0);
    }

    #[test]
    fn duplicates_are_dropped() {
        let r = track_of(&[0, 1, 1, 2, 0, 3], 0, 0);
        assert_eq!(r.stats.duplicates, 2);
        assert_eq!(r.samples.len(), 8000 + 4 * FRAME);
    }

    #[test]
    fn survives_sequence_and_timestamp_wrap_around() {
        let r = track_of(&[0, 1, 3, 2, 4, 5], 65534, u32::MAX - 200);
        assert_eq!(r.samples.len(), 8000 + 6 * FRAME);
        assert_eq!(r.stats.resyncs, 0);
        for i in 0..6 {
            assert_ne!(level_of_frame(&r, i), 0, "frame {i}");
        }
    }

    #[test]
    fn a_new_ssrc_starts_at_its_arrival_time() {
        let mut t = StreamTrack::new(PayloadMap::default(), TrackConfig::default());
        for i in 0..5u16 {
            t.push(
                at(20 * i as u64),
                &frame_packet(1, i, i as u32 * 160, 500).to_bytes(),
            );
        }
        // A second source, unrelated numbering, one second later.
        for i in 0..5u16 {
            t.push(
                at(1000 + 20 * i as u64),
                &frame_packet(2, 40000 + i, 99_999 + i as u32 * 160, 900).to_bytes(),
            );
        }
        let r = t.finish();
        assert_eq!(r.stats.ssrc_changes, 1);
        assert_eq!(r.samples.len(), 8000 + 5 * FRAME);
        assert!(r.samples[5 * FRAME..8000].iter().all(|&s| s == 0));
    }

    #[test]
    fn dtmf_end_retransmits_make_one_digit() {
        let mut t = StreamTrack::new(PayloadMap::default(), TrackConfig::default());
        t.push(at(0), &frame_packet(1, 0, 0, 500).to_bytes());
        for (i, (end, dur)) in [
            (false, 160u16),
            (false, 320),
            (false, 480),
            (true, 640),
            (true, 640),
            (true, 640),
        ]
        .into_iter()
        .enumerate()
        {
            let ev = TelephoneEvent {
                event: 5,
                end,
                volume: 10,
                duration: dur,
            };
            let p = RtpPacket {
                payload_type: 101,
                marker: i == 0,
                sequence: 1 + i as u16,
                timestamp: 800,
                ssrc: 1,
                payload: ev.to_bytes().to_vec(),
            };
            t.push(at(100 + 20 * i as u64), &p.to_bytes());
        }
        let r = t.finish();
        assert_eq!(
            r.events,
            vec![TrackEvent {
                at: 800,
                duration: 640,
                digit: "5".into()
            }]
        );
        assert_eq!(r.samples.len(), FRAME, "events are not audio");
    }

    #[test]
    fn garbage_and_unknown_payload_types_are_counted_not_recorded() {
        let mut t = StreamTrack::new(PayloadMap::from_sdp([]), TrackConfig::default());
        t.push(at(0), b"\x00\x01garbage");
        let mut p = frame_packet(1, 0, 0, 100);
        p.payload_type = 18;
        t.push(at(0), &p.to_bytes());
        let r = t.finish();
        assert_eq!((r.stats.malformed, r.stats.unknown_payload_type), (1, 1));
        assert!(r.samples.is_empty());
        assert_eq!(r.first_audio, None);
    }

    #[test]
    fn a_timestamp_jump_re_anchors_on_arrival() {
        let mut t = StreamTrack::new(PayloadMap::default(), TrackConfig::default());
        t.push(at(0), &frame_packet(1, 0, 0, 500).to_bytes());
        t.push(
            at(20),
            &frame_packet(1, 1, 160 + 8000 * 3600, 500).to_bytes(),
        );
        let r = t.finish();
        assert_eq!(r.stats.resyncs, 1);
        assert_eq!(r.samples.len(), 2 * FRAME);
    }
}

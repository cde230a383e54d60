//! The sending side of one RTP stream (RFC 3550): 20 ms G.711 frames with a random SSRC and
//! random initial sequence number and timestamp, the timestamp advancing by the frame's samples
//! whether or not a frame is sent, and the marker bit on the first packet of each talk spurt.

use crate::g711::G711;
use crate::rtp::RtpPacket;

/// Samples in one 20 ms frame at 8 kHz (G.711's packet size almost everywhere, `a=ptime:20`).
pub const FRAME_SAMPLES: usize = 160;

/// Numbers one stream's packets. Frames go in one per packet time; each either becomes a packet
/// ([`RtpSender::packet`]) or is left out ([`RtpSender::skip`], silence not sent), which moves
/// the timestamp on so the receiver keeps the gap and marks the next packet as a new talk spurt.
#[derive(Debug, Clone)]
pub struct RtpSender {
    codec: G711,
    payload_type: u8,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// The next packet starts a talk spurt (the stream's first, or the first after skipped
    /// frames).
    spurt_start: bool,
    packets: u64,
    scratch: Vec<u8>,
}

/// Initial values of a stream. RFC 3550 section 5.1 wants the sequence number and timestamp
/// to start at random values (so that known-plaintext attacks on encryption are harder, and
/// restarted senders are told apart) and the SSRC to be random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpStart {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
}

impl RtpStart {
    /// Random initial values from the operating system's generator.
    pub fn random() -> RtpStart {
        let a = getrandom::u64().unwrap_or(0x5eed_5eed_5eed_5eed);
        let b = getrandom::u32().unwrap_or(0x1234_5678);
        RtpStart {
            ssrc: (a >> 32) as u32,
            sequence: a as u16,
            timestamp: b,
        }
    }
}

impl RtpSender {
    pub fn new(codec: G711, payload_type: u8, start: RtpStart) -> RtpSender {
        RtpSender {
            codec,
            payload_type,
            ssrc: start.ssrc,
            sequence: start.sequence,
            timestamp: start.timestamp,
            spurt_start: true,
            packets: 0,
            scratch: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    pub fn codec(&self) -> G711 {
        self.codec
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Packets made so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Encodes one frame of linear PCM as the next packet; `decoded` receives what the far end
    /// will hear (the frame after G.711 quantisation).
    pub fn packet(&mut self, pcm: &[i16], decoded: &mut Vec<i16>) -> RtpPacket {
        self.scratch.clear();
        self.scratch
            .extend(pcm.iter().map(|&s| self.codec.encode(s)));
        self.codec.decode_into(&self.scratch, decoded);
        let packet = RtpPacket {
            payload_type: self.payload_type,
            marker: self.spurt_start,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
            payload: self.scratch.clone(),
        };
        self.spurt_start = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(pcm.len() as u32);
        self.packets += 1;
        packet
    }

    /// Leaves out one frame of `samples` (silence suppression): the sequence number stays, the
    /// timestamp moves on, and the next packet carries the marker.
    pub fn skip(&mut self, samples: usize) {
        self.timestamp = self.timestamp.wrapping_add(samples as u32);
        self.spurt_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: RtpStart = RtpStart {
        ssrc: 0xCAFE_F00D,
        sequence: 65534,
        timestamp: u32::MAX - 100,
    };

    #[test]
    fn numbers_packets_and_wraps_sequence_and_timestamp() {
        let mut s = RtpSender::new(G711::Ulaw, 0, START);
        let mut heard = Vec::new();
        let frame = [1000i16; FRAME_SAMPLES];
        let p: Vec<RtpPacket> = (0..3).map(|_| s.packet(&frame, &mut heard)).collect();
        assert_eq!(
            p.iter().map(|p| p.sequence).collect::<Vec<_>>(),
            [65534, 65535, 0]
        );
        assert_eq!(p[1].timestamp, START.timestamp.wrapping_add(160));
        assert_eq!(p[2].timestamp, 219, "u32::MAX - 100 + 320 wraps to 219");
        assert_eq!(
            p.iter().map(|p| p.marker).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert!(p
            .iter()
            .all(|p| p.ssrc == START.ssrc && p.payload.len() == 160));
        assert_eq!(heard.len(), 3 * FRAME_SAMPLES);
        // What the far end hears is the quantised frame, not the exact input.
        let mut want = Vec::new();
        G711::Ulaw.decode_into(&[G711::Ulaw.encode(1000)], &mut want);
        assert!(heard.iter().all(|&h| h == want[0]));
        assert_eq!(s.packets(), 3);
    }

    #[test]
    fn skipped_frames_keep_the_gap_and_mark_the_next_talk_spurt() {
        let mut s = RtpSender::new(G711::Alaw, 8, START);
        let mut heard = Vec::new();
        let frame = [0i16; FRAME_SAMPLES];
        let first = s.packet(&frame, &mut heard);
        s.skip(FRAME_SAMPLES);
        s.skip(FRAME_SAMPLES);
        let next = s.packet(&frame, &mut heard);
        let after = s.packet(&frame, &mut heard);
        assert_eq!(next.sequence, first.sequence.wrapping_add(1));
        assert_eq!(next.timestamp, first.timestamp.wrapping_add(3 * 160));
        assert!(next.marker && !after.marker);
        assert_eq!(next.payload_type, 8);
        assert!(next.payload.iter().all(|&b| b == G711::Alaw.encode(0)));
    }

    #[test]
    fn random_starts_differ() {
        let (a, b) = (RtpStart::random(), RtpStart::random());
        assert_ne!(
            (a.ssrc, a.sequence, a.timestamp),
            (b.ssrc, b.sequence, b.timestamp)
        );
    }
}

//! RTP packets (RFC 3550, parsed with rtp-rs) and RFC 4733 telephone-event payloads.

use rtp_rs::RtpReader;

/// The parts of an RTP packet a recorder uses, with the payload copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// Why a datagram is not an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpParseError {
    #[error("not an RTP packet: {0}")]
    Malformed(String),
    #[error("RTCP packet (payload type {0}), not media")]
    Rtcp(u8),
}

impl RtpPacket {
    pub fn parse(datagram: &[u8]) -> Result<RtpPacket, RtpParseError> {
        let reader =
            RtpReader::new(datagram).map_err(|e| RtpParseError::Malformed(format!("{e:?}")))?;
        let payload_type = reader.payload_type();
        // RTCP shares the version bits; its packet types 200-204 read as marker + PT 72-76.
        if (72..=76).contains(&payload_type) {
            return Err(RtpParseError::Rtcp(payload_type));
        }
        Ok(RtpPacket {
            payload_type,
            marker: reader.mark(),
            sequence: u16::from(reader.sequence_number()),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
            payload: reader.payload().to_vec(),
        })
    }

    /// Serialises the packet (version 2, no padding, CSRCs or extension). Used to build test
    /// captures and benchmark input.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.payload.len());
        out.push(0x80);
        out.push(((self.marker as u8) << 7) | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Quick check used to tell RTP from other UDP traffic in captures: version 2, room for a header,
/// and a payload type that is not RTCP.
pub fn looks_like_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && datagram[0] >> 6 == 2 && !(72..=76).contains(&(datagram[1] & 0x7F))
}

/// One RFC 4733 telephone-event payload (the first 4 bytes; redundant blocks are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In RTP timestamp units (1/8000 s for 8 kHz audio).
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        if payload.len() < 4 {
            return None;
        }
        Some(TelephoneEvent {
            event: payload[0],
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3F,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            ((self.end as u8) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// The digit as RFC 4733 section 3.2 names it.
    pub fn digit(event: u8) -> String {
        match event {
            0..=9 => char::from(b'0' + event).to_string(),
            10 => "*".into(),
            11 => "#".into(),
            12..=15 => char::from(b'A' + event - 12).to_string(),
            other => format!("event-{other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let p = RtpPacket {
            payload_type: 8,
            marker: true,
            sequence: 65535,
            timestamp: 0xFFFF_FF00,
            ssrc: 0xDEADBEEF,
            payload: vec![0xD5; 160],
        };
        assert_eq!(RtpPacket::parse(&p.to_bytes()).unwrap(), p);
    }

    #[test]
    fn rejects_rtcp_and_garbage() {
        // An RTCP sender report: V=2, PT=200.
        let sr = [0x80u8, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            RtpPacket::parse(&sr),
            Err(RtpParseError::Rtcp(72))
        ));
        assert!(RtpPacket::parse(b"hello").is_err());
        assert!(RtpPacket::parse(&[0x40; 40]).is_err());
        assert!(!looks_like_rtp(b"INVITE sip:x SIP/2.0"));
    }

    #[test]
    fn telephone_event_round_trips_and_names_digits() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()), Some(e));
        assert_eq!(TelephoneEvent::digit(0), "0");
        assert_eq!(TelephoneEvent::digit(10), "*");
        assert_eq!(TelephoneEvent::digit(11), "#");
        assert_eq!(TelephoneEvent::digit(13), "B");
        assert_eq!(TelephoneEvent::digit(16), "event-16");
    }
}

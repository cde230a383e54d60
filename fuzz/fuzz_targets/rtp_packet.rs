//! RTP packets and RFC 4733 telephone events from the wire: parse, and a parsed packet
//! serialises back to bytes that parse to the same packet.
#![no_main]
use callscore_capture::rtp::{looks_like_rtp, RtpPacket, TelephoneEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_rtp(data);
    if let Ok(packet) = RtpPacket::parse(data) {
        if let Some(ev) = TelephoneEvent::parse(&packet.payload) {
            let _ = TelephoneEvent::digit(ev.event);
            assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Some(ev));
        }
        let again = RtpPacket::parse(&packet.to_bytes()).expect("a serialised packet parses");
        assert_eq!(again, packet);
    }
});

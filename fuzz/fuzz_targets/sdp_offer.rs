//! SDP offers: parse, and answer every stream.
#![no_main]
use callscore_capture::sdp::{parse_offer, write_answer, MediaAnswer};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(offers) = parse_offer(text) {
        let answers: Vec<MediaAnswer> = offers.iter().map(|_| MediaAnswer::Reject).collect();
        let _ = write_answer(IpAddr::V4(Ipv4Addr::LOCALHOST), 1, &offers, &answers);
    }
});

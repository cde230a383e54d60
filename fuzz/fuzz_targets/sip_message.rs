//! SIP datagrams as the recorder receives them: parse, read every header it uses, and build the
//! response it would send.
#![no_main]
use callscore_capture::sip::{self, Parsed};
use callscore_capture::siprec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let msg = match sip::parse(data) {
        Parsed::Message(m) => m,
        Parsed::BadRequest(m, _) => m,
        Parsed::Garbage(_) => return,
    };
    let _ = msg.method();
    let _ = msg.call_id();
    let _ = msg.cseq();
    let _ = msg.tag_of("From");
    let _ = msg.tag_of("To");
    let _ = msg.branch();
    let _ = msg.unsupported_requirements();
    if let Some((mime, full)) = msg.content_type() {
        if mime.starts_with("multipart/") {
            let _ = siprec::split_multipart(full, &msg.body);
        }
    }
    for code in [100, 200, 400, 488, 501] {
        let _ = sip::response(
            &msg,
            code,
            Some("tag1"),
            &[],
            Some(("application/sdp", b"v=0\r\n")),
        );
    }
});

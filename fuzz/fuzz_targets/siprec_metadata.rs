//! SIPREC (RFC 7866) recording metadata XML and multipart bodies.
#![no_main]
use callscore_capture::siprec::{split_multipart, RecordingMetadata};
use callscore_core::Speaker;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte picks the entry point: metadata XML, or a multipart body with a fixed boundary.
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let Ok(xml) = std::str::from_utf8(rest) else {
            return;
        };
        if let Ok(meta) = RecordingMetadata::parse(xml) {
            let _ = meta.roles();
            for label in meta.stream_labels.values() {
                let _ = meta.sender_of_label(label);
            }
            let _ = meta.name_of(Speaker::Agent);
            let _ = meta.name_of(Speaker::Caller);
        }
    } else {
        let _ = split_multipart("multipart/mixed;boundary=UniqueBoundary", rest);
        let _ = split_multipart("multipart/mixed; boundary=\"x\"", rest);
    }
});

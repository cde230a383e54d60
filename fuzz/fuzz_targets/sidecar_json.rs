//! Sidecar JSON (`NAME.json` beside a recording): CallMeta from outside.
#![no_main]
use callscore_ingest::parse_sidecar;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(meta) = parse_sidecar(text, Path::new("fuzz.json")) {
        // What is stored must read back the same.
        let json = serde_json::to_string(&meta).expect("CallMeta serialises");
        assert_eq!(
            parse_sidecar(&json, Path::new("again.json")).ok(),
            Some(meta)
        );
    }
});

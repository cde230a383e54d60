//! whisper.cpp ggml model files (`--model PATH` takes any): read the header, vocabulary and
//! tensor table, then check them against what whisper.cpp expects.
#![no_main]
use callscore_transcribe::ggml::GgmlModelInfo;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = GgmlModelInfo::read(Cursor::new(data)) {
        let _ = info.validate();
    }
});

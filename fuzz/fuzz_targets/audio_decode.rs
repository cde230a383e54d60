//! Recordings: every decoder's entry point through `callscore_ingest::load`, which sniffs the
//! container (WAV, MP3, FLAC, Ogg, MP4, ADTS) from the bytes. The first byte picks the file
//! extension, which only orders symphonia's probe.
#![no_main]
use callscore_ingest::{load, LoadOptions};
use libfuzzer_sys::fuzz_target;

const EXTENSIONS: [&str; 6] = ["wav", "mp3", "flac", "ogg", "m4a", "aac"];

fuzz_target!(init: {
    // ingest turns a panic inside symphonia into a `Corrupt` error (catch_unwind); libFuzzer's
    // hook would abort on it before that. Put the default hook back, so only panics that escape
    // ingest reach libfuzzer-sys, which still aborts on them.
    let _ = std::panic::take_hook();
}, |data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(format!("fuzz.{}", EXTENSIONS[usize::from(which) % EXTENSIONS.len()]));
    std::fs::write(&path, bytes).expect("write the input");
    match load(&path, &LoadOptions::default()) {
        Ok(rec) => {
            assert!(!rec.legs.is_empty() && rec.legs.len() <= 2);
            let n = rec.legs[0].samples.len();
            assert!(rec.legs.iter().all(|l| l.samples.len() == n), "legs of equal length");
            assert!(rec.legs.iter().all(|l| l.samples.iter().all(|s| s.is_finite())));
        }
        Err(e) => assert_eq!(e.path(), path),
    }
});

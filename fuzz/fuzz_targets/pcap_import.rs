//! pcap and pcapng captures: import every call, then assemble each one's legs.
#![no_main]
use callscore_capture::pcap::import_bytes;
use callscore_capture::track::TrackConfig;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let config = TrackConfig {
        max_duration: Duration::from_secs(120),
        ..TrackConfig::default()
    };
    if let Ok(report) = import_bytes(Path::new("fuzz.pcap"), data, &config) {
        for call in report.calls {
            let _ = call.assemble();
        }
    }
});

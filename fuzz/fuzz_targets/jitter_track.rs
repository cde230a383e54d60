//! One RTP stream through the jitter buffer and the track that turns it into PCM: a sequence of
//! datagrams with arrival times, in any order, with any headers. The input is split into records:
//! 2 bytes of arrival delta (ms), 1 byte of length, then that many bytes of datagram.
#![no_main]
use callscore_capture::jitter::{JitterBuffer, Pushed};
use callscore_capture::track::{PayloadMap, StreamTrack, TrackConfig};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let config = TrackConfig {
        // Bounded so a fuzzed timestamp jump cannot ask for hours of samples.
        max_duration: Duration::from_secs(120),
        ..TrackConfig::default()
    };
    let mut track = StreamTrack::new(PayloadMap::default(), config);
    let mut jitter = JitterBuffer::new(usize::from(data.first().copied().unwrap_or(4) % 16));
    let mut at = Duration::ZERO;
    let mut rest = data.get(1..).unwrap_or_default();
    let mut released = 0usize;
    while rest.len() >= 3 {
        let delta = u16::from_le_bytes([rest[0], rest[1]]);
        let len = usize::from(rest[2]).min(rest.len() - 3);
        let datagram = &rest[3..3 + len];
        rest = &rest[3 + len..];
        at += Duration::from_millis(u64::from(delta));
        track.push(at, datagram);
        if datagram.len() >= 4 {
            let seq = u16::from_be_bytes([datagram[2], datagram[3]]);
            match jitter.push(seq, at) {
                Pushed::Queued | Pushed::Duplicate | Pushed::Late(..) => {}
            }
            while jitter.pop_ready().is_some() {
                released += 1;
            }
        }
    }
    released += jitter.drain().len();
    let _ = released;
    let result = track.finish();
    assert!(
        result.samples.len() <= 8_000 * 121,
        "{} samples",
        result.samples.len()
    );
});

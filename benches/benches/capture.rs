//! Capture speed: G.711 decoding, one stream through the jitter buffer into a PCM timeline, and
//! pcap import. For scale: a live call brings 50 packets/s per stream, so 100 two-stream calls
//! are 10,000 packets/s. Run with `cargo bench -p callscore-benches --bench capture`; the item
//! counters give samples/s and packets/s. The live endpoint under sipp load is measured by
//! benches/sip_load.sh.

use callscore_capture::g711::G711;
use callscore_capture::pcap::import_bytes;
use callscore_capture::pcap_writer::{write_pcap, Datagram};
use callscore_capture::rtp::RtpPacket;
use callscore_capture::track::{PayloadMap, StreamTrack, TrackConfig};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use std::path::Path;
use std::time::Duration;

fn main() {
    divan::main();
}

/// One minute of 20 ms PCMU packets, with every 50th pair swapped (reordering) and every 97th
/// dropped (loss).
fn minute_of_packets(ssrc: u32) -> Vec<(Duration, Vec<u8>)> {
    let mut packets: Vec<(Duration, Vec<u8>)> = (0..3000u32)
        .filter(|i| i % 97 != 96)
        .map(|i| {
            let payload: Vec<u8> = (0..160)
                .map(|j| G711::Ulaw.encode((((i * 160 + j) as f64 * 0.05).sin() * 8000.0) as i16))
                .collect();
            let p = RtpPacket {
                payload_type: 0,
                marker: false,
                sequence: (60000 + i) as u16,
                timestamp: i * 160,
                ssrc,
                payload,
            };
            (Duration::from_millis(20 * i as u64), p.to_bytes())
        })
        .collect();
    for i in (0..packets.len() - 1).step_by(50) {
        packets.swap(i, i + 1);
    }
    packets
}

#[divan::bench]
fn g711_decode_one_second(bencher: Bencher<'_, '_>) {
    let payload: Vec<u8> = (0..8000u32).map(|i| (i % 256) as u8).collect();
    let mut out = Vec::with_capacity(8000);
    bencher.counter(ItemsCount::new(8000usize)).bench_local(|| {
        out.clear();
        G711::Alaw.decode_into(black_box(&payload), &mut out);
        black_box(out.len())
    });
}

#[divan::bench]
fn track_one_minute_stream(bencher: Bencher<'_, '_>) {
    let packets = minute_of_packets(7);
    bencher
        .counter(ItemsCount::new(packets.len()))
        .bench_local(|| {
            let mut track = StreamTrack::new(PayloadMap::default(), TrackConfig::default());
            for (at, bytes) in &packets {
                track.push(*at, bytes);
            }
            black_box(track.finish().samples.len())
        });
}

#[divan::bench]
fn import_pcap_of_ten_rtp_calls(bencher: Bencher<'_, '_>) {
    let mut datagrams = Vec::new();
    for call in 0..10u16 {
        for (at, bytes) in minute_of_packets(call as u32) {
            datagrams.push(Datagram {
                at: at + Duration::from_secs(1_700_000_000),
                from: format!("10.0.0.1:{}", 20000 + 2 * call).parse().unwrap(),
                to: format!("10.0.0.2:{}", 30000 + 2 * call).parse().unwrap(),
                payload: bytes,
            });
        }
    }
    datagrams.sort_by_key(|d| d.at);
    let mut bytes = Vec::new();
    write_pcap(&mut bytes, &datagrams).unwrap();
    bencher
        .counter(ItemsCount::new(datagrams.len()))
        .bench_local(|| {
            let report = import_bytes(
                Path::new("bench.pcap"),
                black_box(&bytes),
                &TrackConfig::default(),
            )
            .unwrap();
            black_box(report.calls.len())
        });
}

//! pcap/pcapng import of captures made here: by the crate's writer, by hand (Linux cooked), and
//! converted by tshark (pcapng).

mod common;

use callscore_capture::g711::G711;
use callscore_capture::pcap::{import, import_bytes};
use callscore_capture::pcap_writer::{write_pcap, Datagram};
use callscore_capture::rtp::{RtpPacket, TelephoneEvent};
use callscore_capture::track::TrackConfig;
use callscore_capture::CaptureError;
use callscore_core::{AgentChannel, Speaker};
use common::decode;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const T0: Duration = Duration::from_secs(1_710_148_500); // 2024-03-11T09:15:00Z

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A voice-like test signal: a tone whose pitch and level identify the leg.
fn tone(freq: f64, level: f64, samples: usize) -> Vec<u8> {
    (0..samples)
        .map(|i| {
            G711::Ulaw.encode(
                (level * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16,
            )
        })
        .collect()
}

fn rtp_stream(from: &str, to: &str, ssrc: u32, start: Duration, audio: &[u8]) -> Vec<Datagram> {
    audio
        .chunks(160)
        .enumerate()
        .map(|(i, frame)| Datagram {
            at: T0 + start + Duration::from_millis(20 * i as u64),
            from: addr(from),
            to: addr(to),
            payload: RtpPacket {
                payload_type: 0,
                marker: i == 0,
                sequence: 65500u16.wrapping_add(i as u16),
                timestamp: 1234 + 160 * i as u32,
                ssrc,
                payload: frame.to_vec(),
            }
            .to_bytes(),
        })
        .collect()
}

fn sip(at_ms: u64, from: &str, to: &str, text: &str) -> Datagram {
    Datagram {
        at: T0 + Duration::from_millis(at_ms),
        from: addr(from),
        to: addr(to),
        payload: text.replace('\n', "\r\n").into_bytes(),
    }
}

fn with_body(head: &str, body: &str) -> String {
    let body = body.replace('\n', "\r\n");
    format!(
        "{head}Content-Length: {}\n\n{}",
        body.len(),
        body.replace("\r\n", "\n")
    )
}

/// A plain call: INVITE from the caller (10.0.0.1) offering port 4000, answered by the agent's
/// phone (10.0.0.2) on port 5000; 2 s of audio each way; the caller keys a 7; BYE.
fn plain_call(caller_audio: &[u8], agent_audio: &[u8]) -> Vec<Datagram> {
    let heads = "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\nFrom: \"Pat\" <sip:pat@10.0.0.1>;tag=a1\nCall-ID: plain-1@10.0.0.1\n";
    let offer = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\n";
    let answer = "v=0\no=- 2 2 IN IP4 10.0.0.2\ns=-\nc=IN IP4 10.0.0.2\nt=0 0\nm=audio 5000 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\n";
    let invite = with_body(&format!("INVITE sip:agent@10.0.0.2 SIP/2.0\n{heads}To: <sip:agent@10.0.0.2>\nCSeq: 1 INVITE\nContent-Type: application/sdp\n"), offer);
    let ok = with_body(&format!("SIP/2.0 200 OK\n{heads}To: <sip:agent@10.0.0.2>;tag=b2\nCSeq: 1 INVITE\nContent-Type: application/sdp\n"), answer);
    let bye = format!("BYE sip:agent@10.0.0.2 SIP/2.0\n{heads}To: <sip:agent@10.0.0.2>;tag=b2\nCSeq: 2 BYE\nContent-Length: 0\n\n");
    let mut d = vec![
        sip(0, "10.0.0.1:5060", "10.0.0.2:5060", &invite),
        sip(100, "10.0.0.2:5060", "10.0.0.1:5060", &ok),
    ];
    d.extend(rtp_stream(
        "10.0.0.1:4000",
        "10.0.0.2:5000",
        0xCA11E4,
        Duration::from_millis(200),
        caller_audio,
    ));
    d.extend(rtp_stream(
        "10.0.0.2:5000",
        "10.0.0.1:4000",
        0xA6E47,
        Duration::from_millis(200),
        agent_audio,
    ));
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let ev = TelephoneEvent {
            event: 7,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1).min(3),
        };
        let p = RtpPacket {
            payload_type: 101,
            marker: i == 0,
            sequence: 9000 + i as u16,
            timestamp: 1234 + 8000,
            ssrc: 0xCA11E4,
            payload: ev.to_bytes().to_vec(),
        };
        d.push(Datagram {
            at: T0 + Duration::from_millis(1200 + 20 * i as u64),
            from: addr("10.0.0.1:4000"),
            to: addr("10.0.0.2:5000"),
            payload: p.to_bytes(),
        });
    }
    d.push(sip(2400, "10.0.0.1:5060", "10.0.0.2:5060", &bye));
    // Reorder a pair of packets and duplicate one, as networks do.
    d.sort_by_key(|x| x.at);
    d.swap(10, 12);
    let dup = d[20].clone();
    d.insert(25, dup);
    d
}

fn pcap_bytes(datagrams: &[Datagram]) -> Vec<u8> {
    let mut out = Vec::new();
    write_pcap(&mut out, datagrams).unwrap();
    out
}

#[test]
fn pairs_a_sip_calls_streams_by_sdp_and_assigns_roles() {
    let (caller, agent) = (tone(440.0, 8000.0, 16000), tone(1000.0, 3000.0, 16000));
    let report = import_bytes(
        Path::new("plain.pcap"),
        &pcap_bytes(&plain_call(&caller, &agent)),
        &TrackConfig::default(),
    )
    .unwrap();
    assert!(report.broken.is_none());
    assert_eq!(report.calls.len(), 1, "one dialog, no stray RTP");
    let call = &report.calls[0];
    assert_eq!(call.meta.call_id.as_deref(), Some("plain-1@10.0.0.1"));
    assert_eq!(
        call.meta.started_at.as_deref(),
        Some("2024-03-11T09:15:00Z")
    );
    assert_eq!(
        call.meta.from.as_deref(),
        Some("\"Pat\" <sip:pat@10.0.0.1>")
    );
    let mut roles: Vec<Speaker> = call.legs.iter().map(|l| l.role).collect();
    roles.sort();
    assert_eq!(roles, [Speaker::Agent, Speaker::Caller]);
    let a = call.clone().assemble().unwrap();
    assert_eq!(a.meta.agent_channel, Some(AgentChannel::Left));
    assert_eq!(
        a.channels[0],
        decode(G711::Ulaw, &agent),
        "left: the answerer's (agent's) audio"
    );
    assert_eq!(
        a.channels[1],
        decode(G711::Ulaw, &caller),
        "right: the caller's audio"
    );
    assert_eq!(a.meta.events.len(), 1);
    assert_eq!(
        (a.meta.events[0].digit.as_str(), a.meta.events[0].at_ms),
        ("7", 1000)
    );
    assert_eq!(a.stats.iter().map(|s| s.duplicates).sum::<u64>(), 1);
}

#[test]
fn rtp_without_sip_is_grouped_by_address_pair() {
    let mut d = rtp_stream(
        "192.168.1.5:30000",
        "192.168.1.9:40000",
        1,
        Duration::ZERO,
        &tone(300.0, 5000.0, 8000),
    );
    d.extend(rtp_stream(
        "192.168.1.9:40000",
        "192.168.1.5:30000",
        2,
        Duration::from_millis(500),
        &tone(700.0, 5000.0, 8000),
    ));
    d.extend(rtp_stream(
        "192.168.1.7:30002",
        "192.168.1.9:40002",
        3,
        Duration::ZERO,
        &tone(500.0, 5000.0, 4000),
    ));
    // Not RTP: ignored.
    d.push(Datagram {
        at: T0,
        from: addr("192.168.1.5:53"),
        to: addr("192.168.1.9:53"),
        payload: b"\x12\x34 dns-ish".to_vec(),
    });
    d.sort_by_key(|x| x.at);
    let report = import_bytes(
        Path::new("rtp.pcap"),
        &pcap_bytes(&d),
        &TrackConfig::default(),
    )
    .unwrap();
    assert_eq!(report.calls.len(), 2);
    let two_way = report.calls.iter().find(|c| c.legs.len() == 2).unwrap();
    let a = two_way.clone().assemble().unwrap();
    assert_eq!(a.channels.len(), 2);
    // The second direction started 500 ms later and stays 500 ms later.
    assert!(a.channels[1][..4000].iter().all(|&s| s == 0));
    assert_ne!(a.channels[1][4100], 0);
    assert_eq!(a.duration_ms, 1500);
    let one_way = report
        .calls
        .iter()
        .find(|c| c.legs.len() == 1)
        .unwrap()
        .clone()
        .assemble()
        .unwrap();
    assert_eq!((one_way.channels.len(), one_way.duration_ms), (1, 500));
}

#[test]
fn a_truncated_capture_keeps_the_calls_before_the_break_and_says_where() {
    let mut d = rtp_stream(
        "10.1.1.1:7000",
        "10.1.1.2:7002",
        5,
        Duration::ZERO,
        &tone(300.0, 5000.0, 8000),
    );
    d.extend(rtp_stream(
        "10.9.9.1:7000",
        "10.9.9.2:7002",
        6,
        Duration::from_secs(5),
        &tone(300.0, 5000.0, 8000),
    ));
    let bytes = pcap_bytes(&d);
    // Each record: 16-byte header + 214-byte frame. Cut inside record 60 (the second stream).
    let cut = 24 + 59 * 230 + 100;
    let report = import_bytes(
        Path::new("cut.pcap"),
        &bytes[..cut],
        &TrackConfig::default(),
    )
    .unwrap();
    let broken = report.broken.expect("the break is reported");
    assert_eq!((broken.packet, broken.byte_offset), (60, 24 + 59 * 230));
    assert!(
        broken.to_string().contains("packet 60 (byte offset 13594)"),
        "{broken}"
    );
    assert_eq!(report.calls.len(), 2);
    assert_eq!(
        report.calls[0].clone().assemble().unwrap().duration_ms,
        1000
    );
    assert_eq!(report.calls[1].clone().assemble().unwrap().duration_ms, 180);
}

#[test]
fn not_a_capture_is_a_clear_error() {
    let err = import_bytes(
        Path::new("notes.txt"),
        b"hello, this is text",
        &TrackConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, CaptureError::NotACapture { .. }));
    assert!(
        err.to_string().starts_with("notes.txt: not a pcap"),
        "{err}"
    );
    let err = import(Path::new("/nonexistent/x.pcap"), &TrackConfig::default()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.pcap"), "{err}");
}

#[test]
fn reads_ipv6_and_linux_cooked_captures() {
    // IPv6 through the crate's writer.
    let d = rtp_stream(
        "[2001:db8::1]:4000",
        "[2001:db8::2]:5000",
        9,
        Duration::ZERO,
        &tone(440.0, 5000.0, 1600),
    );
    let report = import_bytes(
        Path::new("v6.pcap"),
        &pcap_bytes(&d),
        &TrackConfig::default(),
    )
    .unwrap();
    assert_eq!(report.calls.len(), 1);
    assert_eq!(report.calls[0].clone().assemble().unwrap().duration_ms, 200);

    // Linux cooked (SLL) frames made by hand: 16-byte header, then IPv4/UDP.
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let mut bytes = Vec::new();
    let mut w = PcapWriter::with_header(
        &mut bytes,
        PcapHeader {
            datalink: pcap_file::DataLink::LINUX_SLL,
            ..Default::default()
        },
    )
    .unwrap();
    for dg in rtp_stream(
        "10.0.0.1:4000",
        "10.0.0.2:5000",
        9,
        Duration::ZERO,
        &tone(440.0, 5000.0, 1600),
    ) {
        let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        let SocketAddr::V4(from) = dg.from else {
            unreachable!()
        };
        let SocketAddr::V4(to) = dg.to else {
            unreachable!()
        };
        etherparse::PacketBuilder::ipv4(from.ip().octets(), to.ip().octets(), 64)
            .udp(from.port(), to.port())
            .write(&mut frame, &dg.payload)
            .unwrap();
        w.write_packet(&PcapPacket::new(dg.at, frame.len() as u32, &frame))
            .unwrap();
    }
    w.into_writer();
    let report = import_bytes(Path::new("sll.pcap"), &bytes, &TrackConfig::default()).unwrap();
    assert_eq!((report.calls.len(), report.skipped), (1, 0));
    assert_eq!(report.calls[0].clone().assemble().unwrap().duration_ms, 200);
}

#[test]
fn reads_a_pcapng_written_by_tshark() {
    assert!(
        Path::new("/usr/bin/tshark").exists(),
        "tshark is not installed: run `scripts/install-deps.sh capture`"
    );
    let dir = tempfile::tempdir().unwrap();
    let (caller, agent) = (tone(440.0, 8000.0, 16000), tone(1000.0, 3000.0, 16000));
    let pcap = dir.path().join("call.pcap");
    std::fs::write(&pcap, pcap_bytes(&plain_call(&caller, &agent))).unwrap();
    let pcapng = dir.path().join("call.pcapng");
    let out = std::process::Command::new("/usr/bin/tshark")
        .args(["-r"])
        .arg(&pcap)
        .args(["-F", "pcapng", "-w"])
        .arg(&pcapng)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        &std::fs::read(&pcapng).unwrap()[..4],
        &[0x0A, 0x0D, 0x0D, 0x0A]
    );
    let report = import(&pcapng, &TrackConfig::default()).unwrap();
    assert!(report.broken.is_none());
    assert_eq!(report.calls.len(), 1);
    let a = report.calls[0].clone().assemble().unwrap();
    assert_eq!(
        a.meta.started_at.as_deref(),
        Some("2024-03-11T09:15:00Z"),
        "pcapng timestamps keep their resolution"
    );
    assert_eq!(a.channels[0], decode(G711::Ulaw, &agent));
    assert_eq!(a.channels[1], decode(G711::Ulaw, &caller));
}

/// A reader that hands out a few bytes at a time, as a pipe or a slow disk may.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        // Vary the step so records split at every kind of boundary.
        self.step = self.step % 97 + 13;
        Ok(n)
    }
}

#[test]
fn a_capture_read_in_small_pieces_gives_the_same_calls_and_the_same_break() {
    let d = rtp_stream(
        "10.1.1.1:7000",
        "10.1.1.2:7002",
        5,
        Duration::ZERO,
        &tone(300.0, 5000.0, 8000),
    );
    let bytes = pcap_bytes(&d);
    let cut = &bytes[..bytes.len() - 50];
    let whole = import_bytes(Path::new("a.pcap"), cut, &TrackConfig::default()).unwrap();
    let trickled = callscore_capture::pcap::import_reader(
        Path::new("a.pcap"),
        Trickle { data: cut, step: 1 },
        &TrackConfig::default(),
    )
    .unwrap();
    assert_eq!(whole.packets, trickled.packets);
    assert_eq!(whole.broken, trickled.broken);
    assert!(trickled.broken.is_some());
    assert_eq!(
        whole.calls[0].clone().assemble().unwrap().channels,
        trickled.calls[0].clone().assemble().unwrap().channels
    );
}

#[test]
fn a_pcapng_whose_only_link_type_is_unknown_is_an_error_like_its_pcap() {
    // Section header, one interface of link type 147 (USER0), one enhanced packet on it.
    let mut b = Vec::new();
    let block = |b: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = 12 + body.len() as u32;
        b.extend(kind.to_le_bytes());
        b.extend(len.to_le_bytes());
        b.extend(body);
        b.extend(len.to_le_bytes());
    };
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    block(&mut b, 0x0A0D_0D0A, &shb);
    let mut idb = 147u16.to_le_bytes().to_vec();
    idb.extend(0u16.to_le_bytes());
    idb.extend(65535u32.to_le_bytes());
    block(&mut b, 1, &idb);
    let mut epb = 0u32.to_le_bytes().to_vec();
    epb.extend(0u32.to_le_bytes());
    epb.extend(0u32.to_le_bytes());
    epb.extend(4u32.to_le_bytes());
    epb.extend(4u32.to_le_bytes());
    epb.extend([1, 2, 3, 4]);
    block(&mut b, 6, &epb);
    let err = import_bytes(Path::new("odd.pcapng"), &b, &TrackConfig::default()).unwrap_err();
    assert!(
        matches!(err, CaptureError::LinkType { .. }),
        "an error, not an empty success: {err}"
    );
    assert!(err.to_string().contains("odd.pcapng"), "{err}");
}

#[test]
fn a_record_declaring_gigabytes_is_a_break_not_an_allocation() {
    let d = rtp_stream(
        "10.1.1.1:7000",
        "10.1.1.2:7002",
        5,
        Duration::ZERO,
        &tone(300.0, 5000.0, 800),
    );
    let mut bytes = pcap_bytes(&d);
    let frame = callscore_capture::pcap_writer::ethernet_frame(&d[0]).len();
    // Packet 3's incl_len (offset 8 in its record header) set to 3 GB, in the file's byte order.
    let at = 24 + 2 * (16 + frame) + 8;
    let big_endian = bytes[..4] == [0xA1, 0xB2, 0xC3, 0xD4];
    let huge = 3_000_000_000u32;
    bytes[at..at + 4].copy_from_slice(&if big_endian {
        huge.to_be_bytes()
    } else {
        huge.to_le_bytes()
    });
    let report = import_bytes(Path::new("huge.pcap"), &bytes, &TrackConfig::default()).unwrap();
    let broken = report.broken.expect("reported as broken");
    assert_eq!(broken.packet, 3, "{broken}");
}

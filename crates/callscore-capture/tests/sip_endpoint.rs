//! The SIP endpoint's behaviour on the wire: answers, errors, garbage, CANCEL, re-INVITE,
//! timeouts and shutdown, driven over UDP on 127.0.0.1.

mod common;

use callscore_capture::g711::G711;
use callscore_capture::rtp::RtpPacket;
use callscore_capture::EndReason;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

struct Phone {
    sock: UdpSocket,
    target: SocketAddr,
}

impl Phone {
    fn new(target: SocketAddr) -> Phone {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Phone { sock, target }
    }

    fn send(&self, text: &str) {
        self.sock
            .send_to(text.replace('\n', "\r\n").as_bytes(), self.target)
            .unwrap();
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 65536];
        let (n, _) = self.sock.recv_from(&mut buf).expect("no SIP response");
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    /// The next response that is not 100 Trying.
    fn final_response(&self) -> String {
        loop {
            let r = self.recv();
            if !r.starts_with("SIP/2.0 100") {
                return r;
            }
        }
    }

    fn nothing_within(&self, d: Duration) -> bool {
        self.sock.set_read_timeout(Some(d)).unwrap();
        let mut buf = [0u8; 2048];
        let got = self.sock.recv_from(&mut buf).is_ok();
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        !got
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().unwrap().port()
    }

    fn request(
        &self,
        method: &str,
        call_id: &str,
        cseq: u32,
        to_tag: Option<&str>,
        body: Option<&str>,
    ) -> String {
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let (ctype, body) = match body {
            Some(b) => ("Content-Type: application/sdp\n", b.to_string()),
            None => ("", String::new()),
        };
        format!(
            "{method} sip:rec@{t} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-{call_id}-{cseq}\nFrom: <sip:tester@127.0.0.1>;tag=t1\nTo: <sip:rec@{t}>{to_tag}\nCall-ID: {call_id}\nCSeq: {cseq} {method}\nMax-Forwards: 70\n{ctype}Content-Length: {}\n\n{body}",
            body.replace('\n', "\r\n").len(),
            t = self.target,
            p = self.port(),
        )
    }
}

fn offer(media_port: u16) -> String {
    format!("v=0\no=t 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio {media_port} RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\n")
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

fn to_tag(response: &str) -> String {
    header(response, "To")
        .unwrap()
        .split(";tag=")
        .nth(1)
        .unwrap()
        .trim()
        .to_string()
}

/// The RTP port the 200 OK's SDP answer gives.
fn answered_port(response: &str) -> u16 {
    response
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn frames(ssrc: u32, first_seq: u16, count: usize, level: i16) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            RtpPacket {
                payload_type: 0,
                marker: false,
                sequence: first_seq + i as u16,
                timestamp: 160 * (first_seq as u32 + i as u32),
                ssrc,
                payload: vec![G711::Ulaw.encode(level); 160],
            }
            .to_bytes()
        })
        .collect()
}

#[test]
fn options_unknown_methods_and_garbage() {
    let recorder = RunningRecorder::start(|_| {});
    let phone = Phone::new(recorder.addr);

    phone.send(&phone.request("OPTIONS", "opt-1", 1, None, None));
    let r = phone.recv();
    assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{r}");
    assert_eq!(
        header(&r, "Allow"),
        Some("INVITE, ACK, BYE, CANCEL, OPTIONS")
    );
    assert!(header(&r, "Via")
        .unwrap()
        .contains("branch=z9hG4bK-opt-1-1"));

    phone.send(&phone.request("FOO", "foo-1", 1, None, None));
    let r = phone.recv();
    assert!(r.starts_with("SIP/2.0 501 Not Implemented"), "{r}");
    assert!(header(&r, "Allow").is_some());

    phone.send(&phone.request("REGISTER", "reg-1", 1, None, None));
    assert!(phone.recv().starts_with("SIP/2.0 405 Method Not Allowed"));

    phone.send(&phone.request("BYE", "no-such-call", 2, Some("x"), None));
    assert!(phone.recv().starts_with("SIP/2.0 481 "));

    // Truncated: Content-Length promises more than arrived.
    let truncated = phone
        .request("INVITE", "trunc-1", 1, None, Some(&offer(4000)))
        .replace("Content-Length: ", "Content-Length: 9");
    phone.send(&truncated);
    let r = phone.recv();
    assert!(r.starts_with("SIP/2.0 400 Bad Request"), "{r}");
    assert!(header(&r, "Warning").unwrap().contains("Content-Length"));

    // Binary junk, a huge datagram, a header-less request line: no answer, no harm.
    phone
        .sock
        .send_to(&[0xFF, 0x00, 0x13, 0x37, 0x80, 0x81], recorder.addr)
        .unwrap();
    phone
        .sock
        .send_to(&vec![b'A'; 60_000], recorder.addr)
        .unwrap();
    phone.send("INVITE sip:x SIP/2.0\n\n");
    assert!(phone.nothing_within(Duration::from_millis(500)));

    phone.send(&phone.request("OPTIONS", "opt-2", 1, None, None));
    assert!(
        phone.recv().starts_with("SIP/2.0 200 OK"),
        "still answering after garbage"
    );
    let (stats, calls) = recorder.stop();
    assert!(calls.is_empty());
    assert_eq!(stats.sip_dropped, 3);
    assert_eq!(
        stats.sip_bad_requests, 1,
        "only the truncated INVITE could be answered"
    );
}

#[test]
fn a_call_with_reinvite_foreign_packets_and_garbage_records_only_its_audio() {
    let mut recorder = RunningRecorder::start(|_| {});
    let phone = Phone::new(recorder.addr);
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let media_port = media.local_addr().unwrap().port();

    let invite = phone.request("INVITE", "call-1", 1, None, Some(&offer(media_port)));
    phone.send(&invite);
    let ok = phone.final_response();
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    assert!(ok.contains("a=recvonly"));
    let tag = to_tag(&ok);
    let rtp = SocketAddr::new("127.0.0.1".parse().unwrap(), answered_port(&ok));
    // A retransmitted INVITE gets the same answer and no second call.
    phone.send(&invite);
    assert_eq!(phone.final_response(), ok);
    phone.send(&phone.request("ACK", "call-1", 1, Some(&tag), None));

    for (i, f) in frames(7, 100, 25, 2000).iter().enumerate() {
        media.send_to(f, rtp).unwrap();
        if i == 5 {
            media.send_to(b"\x00garbage on the RTP port", rtp).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // From an address the SDP did not name: ignored.
    let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
    for f in frames(99, 500, 10, -9000) {
        stranger.send_to(&f, rtp).unwrap();
    }
    // Re-INVITE with the same media: the recording goes on.
    phone.send(&phone.request("INVITE", "call-1", 2, Some(&tag), Some(&offer(media_port))));
    let re = phone.final_response();
    assert!(re.starts_with("SIP/2.0 200 OK"), "{re}");
    assert_eq!(answered_port(&re), rtp.port(), "the stream keeps its port");
    phone.send(&phone.request("ACK", "call-1", 2, Some(&tag), None));
    for f in frames(7, 125, 25, 2000) {
        media.send_to(&f, rtp).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    phone.send(&phone.request("BYE", "call-1", 3, Some(&tag), None));
    assert!(phone.final_response().starts_with("SIP/2.0 200 OK"));

    let call = recorder.next_call(Duration::from_secs(20));
    assert_eq!(call.reason, EndReason::Bye);
    let written = call.written.unwrap().unwrap();
    let (_, channels) = read_wav(&written.wav);
    assert_eq!(channels.len(), 1);
    assert_eq!(
        channels[0].len(),
        50 * 160,
        "50 frames of 20 ms, nothing else"
    );
    let level = decode(G711::Ulaw, &[G711::Ulaw.encode(2000)])[0];
    assert!(
        channels[0].iter().all(|&s| s == level),
        "only the caller's own packets are recorded"
    );
    let (stats, _) = recorder.stop();
    assert_eq!(stats.calls_started, 1);
    assert_eq!(stats.rtp_from_unexpected_sources, 10);
    assert_eq!(stats.rtp_not_rtp, 1);
}

#[test]
fn cancel_before_the_answer_ends_the_call_with_487() {
    let recorder = RunningRecorder::start(|c| c.answer_delay = Duration::from_secs(5));
    let phone = Phone::new(recorder.addr);
    phone.send(&phone.request("INVITE", "cancel-1", 1, None, Some(&offer(4000))));
    assert!(phone.recv().starts_with("SIP/2.0 100 Trying"));
    phone.send(&phone.request("CANCEL", "cancel-1", 1, None, None));
    let mut got = vec![phone.recv(), phone.recv()];
    got.sort();
    assert!(
        got[0].starts_with("SIP/2.0 200 OK") && header(&got[0], "CSeq") == Some("1 CANCEL"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("SIP/2.0 487 Request Terminated")
            && header(&got[1], "CSeq") == Some("1 INVITE"),
        "{got:?}"
    );
    let out = recorder.out.path().to_path_buf();
    let (stats, calls) = recorder.stop();
    assert_eq!(stats.calls_cancelled, 1);
    assert!(calls.is_empty());
    assert_eq!(
        std::fs::read_dir(out).map(|d| d.count()).unwrap_or(0),
        0,
        "nothing written"
    );
}

#[test]
fn a_call_without_bye_is_written_after_the_inactivity_timeout() {
    let mut recorder = RunningRecorder::start(|c| c.inactivity_timeout = Duration::from_secs(1));
    let phone = Phone::new(recorder.addr);
    phone.send(&phone.request("INVITE", "idle-1", 1, None, Some(&offer(4000))));
    let ok = phone.final_response();
    phone.send(&phone.request("ACK", "idle-1", 1, Some(&to_tag(&ok)), None));
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp = SocketAddr::new("127.0.0.1".parse().unwrap(), answered_port(&ok));
    for f in frames(1, 0, 10, 500) {
        media.send_to(&f, rtp).unwrap();
    }
    let call = recorder.next_call(Duration::from_secs(20));
    assert_eq!(call.reason, EndReason::Inactivity);
    assert_eq!(call.duration_ms, 200);
    assert!(call.written.unwrap().unwrap().wav.exists());
}

#[test]
fn shutdown_writes_calls_in_progress() {
    let recorder = RunningRecorder::start(|_| {});
    let phone = Phone::new(recorder.addr);
    phone.send(&phone.request("INVITE", "open-1", 1, None, Some(&offer(4000))));
    let ok = phone.final_response();
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp = SocketAddr::new("127.0.0.1".parse().unwrap(), answered_port(&ok));
    for f in frames(1, 0, 5, 500) {
        media.send_to(&f, rtp).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let (stats, calls) = recorder.stop();
    assert_eq!(stats.calls_written, 1);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].reason, EndReason::Shutdown);
    assert_eq!(calls[0].duration_ms, 100);
}

//! Helpers for the mystery-shop tests against a real SIP peer: sipp as the business (a UAS
//! scenario from fixtures/sip/), the agent's audio built into a pcap from a fixture call, and
//! the checks on the recording. Shared with the binary's tests (`#[path]`).
#![allow(dead_code)]

use callscore_capture::g711::G711;
use callscore_capture::pcap_writer::{write_pcap, Datagram};
use callscore_capture::rtp::RtpPacket;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SIPP: &str = "/usr/bin/sipp";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A UDP port that is free now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An even port p with p..p+3 free (sipp's media and RTCP ports).
pub fn free_media_port() -> u16 {
    for _ in 0..100 {
        let p = free_udp_port() & !1;
        if p > 1024 && p < 60000 && (0..4).all(|i| UdpSocket::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
    panic!("no free media port block");
}

/// sipp running as the business, in its own working directory.
pub struct Business {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Business {
    /// Starts `sipp -sf fixtures/sip/SCENARIO` answering on a free port of 127.0.0.1, with
    /// `ring_ms` as its default pause; `agent_pcap` (if any) is copied in as agent.pcap.
    pub fn start(scenario: &str, ring_ms: u64, prepare: impl FnOnce(&Path)) -> Business {
        assert!(
            Path::new(SIPP).exists(),
            "sipp is not installed: run `scripts/install-deps.sh capture` (Debian package sip-tester)"
        );
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        let port = free_udp_port();
        let media = free_media_port();
        let scenario = workspace_root().join("fixtures/sip").join(scenario);
        let child = Command::new(SIPP)
            .current_dir(dir.path())
            .arg("-sf")
            .arg(&scenario)
            .args(["-i", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(["-mi", "127.0.0.1", "-mp"])
            .arg(media.to_string())
            .arg("-d")
            .arg(ring_ms.to_string())
            .args([
                "-m",
                "1",
                "-timeout",
                "90s",
                "-timeout_error",
                "-nostdin",
                "-trace_err",
                "-error_file",
            ])
            .arg(dir.path().join("sipp_errors.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run sipp");
        // Wait until sipp holds its port, so the first INVITE is not lost (that would add a
        // retransmission's 500 ms to the ring time).
        let start = Instant::now();
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sipp did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Business {
            dir,
            port,
            child: Some(child),
        }
    }

    pub fn uri(&self) -> String {
        format!("sip:reception@127.0.0.1:{}", self.port)
    }

    /// Waits for sipp to finish its scenario and asserts it succeeded.
    pub fn finish(mut self) {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = child.wait_with_output().unwrap();
        let log =
            std::fs::read_to_string(self.dir.path().join("sipp_errors.log")).unwrap_or_default();
        assert!(
            status.success(),
            "sipp failed ({status}):\n{}\n{}\n{log}",
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Business {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The two channels of a G.711 mu-law stereo WAV (format tag 7) as raw mu-law bytes.
pub fn ulaw_wav_channels(path: &Path) -> [Vec<u8>; 2] {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    let mut pos = 12;
    let (mut format, mut channels, mut data) = (0u16, 0u16, None);
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            format = u16::from_le_bytes([body[0], body[1]]);
            channels = u16::from_le_bytes([body[2], body[3]]);
        } else if id == b"data" {
            data = Some(body.to_vec());
        }
        pos += 8 + len + (len & 1);
    }
    assert_eq!(
        (format, channels),
        (7, 2),
        "{} is not mu-law stereo",
        path.display()
    );
    let data = data.unwrap();
    [
        data.iter().step_by(2).copied().collect(),
        data.iter().skip(1).step_by(2).copied().collect(),
    ]
}

pub fn decode(bytes: &[u8]) -> Vec<i16> {
    let mut out = Vec::new();
    G711::Ulaw.decode_into(bytes, &mut out);
    out
}

/// The agent's side of a call for sipp to play.
pub struct AgentAudio {
    /// The mu-law stream, 8 kHz, as it will be sent.
    pub ulaw: Vec<u8>,
    /// (start_ms, end_ms) of each utterance in the stream.
    pub utterances: Vec<(u64, u64)>,
}

impl AgentAudio {
    /// Utterances of good_call.wav's agent leg (left channel), by the fixture's timeline
    /// (start_ms, end_ms), laid out with `gaps_ms` of silence between them after `lead_ms`.
    pub fn from_good_call(lines: &[(u64, u64)], lead_ms: u64, gaps_ms: &[u64]) -> AgentAudio {
        let [left, _] = ulaw_wav_channels(&workspace_root().join("fixtures/calls/good_call.wav"));
        let silence = G711::Ulaw.encode(0);
        let mut ulaw = vec![silence; (lead_ms * 8) as usize];
        let mut utterances = Vec::new();
        for (i, &(s, e)) in lines.iter().enumerate() {
            let start = ulaw.len() as u64 / 8;
            ulaw.extend_from_slice(&left[(s * 8) as usize..(e * 8) as usize]);
            utterances.push((start, ulaw.len() as u64 / 8));
            let gap = gaps_ms.get(i).copied().unwrap_or(0);
            ulaw.extend(std::iter::repeat_n(silence, (gap * 8) as usize));
        }
        // Whole packets.
        while !ulaw.len().is_multiple_of(160) {
            ulaw.push(silence);
        }
        AgentAudio { ulaw, utterances }
    }

    /// Writes it as `DIR/agent.pcap`: 20 ms PCMU packets, one SSRC, sent 20 ms apart.
    pub fn write_pcap(&self, dir: &Path) {
        let datagrams: Vec<Datagram> = self
            .ulaw
            .chunks(160)
            .enumerate()
            .map(|(i, frame)| Datagram {
                at: Duration::from_millis(20 * i as u64),
                from: "10.0.0.2:7000".parse().unwrap(),
                to: "10.0.0.1:6000".parse().unwrap(),
                payload: RtpPacket {
                    payload_type: 0,
                    marker: i == 0,
                    sequence: 4000u16.wrapping_add(i as u16),
                    timestamp: 90_000 + 160 * i as u32,
                    ssrc: 0xA6E7_0001,
                    payload: frame.to_vec(),
                }
                .to_bytes(),
            })
            .collect();
        write_pcap(
            std::fs::File::create(dir.join("agent.pcap")).unwrap(),
            &datagrams,
        )
        .unwrap();
    }
}

/// Channels of a 16-bit WAV.
pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<i16>>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let n = spec.channels as usize;
    let channels = (0..n)
        .map(|c| samples.iter().skip(c).step_by(n).copied().collect())
        .collect();
    (spec, channels)
}

/// Where `want` sits in `got` (the lag in samples) and the share of its samples that are equal
/// there: first aligned on the first non-silent sample, then refined within ±`refine`.
pub fn locate(want: &[i16], got: &[i16], refine: i64) -> (i64, f64) {
    let first = |x: &[i16]| x.iter().position(|s| s.unsigned_abs() > 64).unwrap_or(0) as i64;
    let coarse = first(got) - first(want);
    let mut best = (coarse, 0.0);
    for lag in coarse - refine..=coarse + refine {
        let equal = want
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                let j = *i as i64 + lag;
                j >= 0 && (j as usize) < got.len() && got[j as usize] == **w
            })
            .count();
        let share = equal as f64 / want.len() as f64;
        if share > best.1 {
            best = (lag, share);
        }
    }
    best
}

/// Runs of speech on a clean leg (the shopper's: exact silence between lines), in ms:
/// 20 ms frames above -45 dBFS, gaps under 400 ms merged.
pub fn speech_runs(x: &[i16]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (i, f) in x.chunks(160).enumerate() {
        let rms = (f.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / f.len() as f64).sqrt();
        if 20.0 * (rms / 32768.0 + 1e-9).log10() > -45.0 {
            let t = i as u64 * 20;
            match runs.last_mut() {
                Some(last) if t - last.1 < 400 => last.1 = t + 20,
                _ => runs.push((t, t + 20)),
            }
        }
    }
    runs
}

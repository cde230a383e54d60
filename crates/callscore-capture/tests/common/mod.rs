//! Helpers shared by the capture integration tests: a recorder running in-process, sipp runs,
//! and the reference audio read straight from the pcaps sipp plays.
#![allow(dead_code)]

use callscore_capture::g711::G711;
use callscore_capture::{FinishedCall, Recorder, RecorderConfig, RecorderStats};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub const SIPP: &str = "/usr/bin/sipp";
pub const SIP_TESTER: &str = "/usr/share/sip-tester";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A UDP port the system says is free now (the OS picks it).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An even port p with p..p+3 free, for sipp's media (sipp uses p and p+2 for two streams).
pub fn free_media_port() -> u16 {
    for _ in 0..100 {
        let p = free_udp_port() & !1;
        if p < 60000 && (0..4).all(|i| UdpSocket::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
    panic!("no free media port block");
}

pub struct RunningRecorder {
    pub addr: SocketAddr,
    pub out: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    finished: mpsc::UnboundedReceiver<FinishedCall>,
    thread: Option<std::thread::JoinHandle<RecorderStats>>,
}

impl RunningRecorder {
    /// Starts a recorder on 127.0.0.1 with a free SIP port and a private RTP range.
    pub fn start(tune: impl FnOnce(&mut RecorderConfig)) -> RunningRecorder {
        let out = tempfile::tempdir().unwrap();
        let mut config =
            RecorderConfig::new("127.0.0.1:0".parse().unwrap(), out.path().to_path_buf());
        let base = 30000 + (std::process::id() % 300) as u16 * 100;
        config.rtp_ports = (base, base + 99);
        config.inactivity_timeout = Duration::from_secs(20);
        tune(&mut config);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (tx, rx) = mpsc::unbounded_channel();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let recorder = Recorder::bind(config).await.unwrap();
                addr_tx.send(recorder.local_addr()).unwrap();
                recorder
                    .run(tx, async {
                        let _ = stop_rx.await;
                    })
                    .await
            })
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("recorder did not start");
        RunningRecorder {
            addr,
            out,
            stop: Some(stop_tx),
            finished: rx,
            thread: Some(thread),
        }
    }

    /// Waits (generously) for the next finished call.
    pub fn next_call(&mut self, deadline: Duration) -> FinishedCall {
        let start = std::time::Instant::now();
        loop {
            match self.finished.try_recv() {
                Ok(call) => return call,
                Err(_) if start.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("no call finished within {deadline:?}: {e}"),
            }
        }
    }

    pub fn stop(mut self) -> (RecorderStats, Vec<FinishedCall>) {
        let _ = self.stop.take().unwrap().send(());
        let stats = self.thread.take().unwrap().join().unwrap();
        let mut rest = Vec::new();
        while let Ok(c) = self.finished.try_recv() {
            rest.push(c);
        }
        (stats, rest)
    }
}

/// A temporary directory to run sipp in, with the `pcap` link its built-in scenarios expect.
pub fn sipp_dir() -> tempfile::TempDir {
    assert!(
        Path::new(SIPP).exists(),
        "sipp is not installed: run `scripts/install-deps.sh capture` (Debian package sip-tester)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(SIP_TESTER, dir.path().join("pcap")).unwrap();
    dir
}

/// Runs sipp to completion and asserts it succeeded; returns its error log on failure.
pub fn run_sipp(dir: &Path, target: SocketAddr, args: &[&str]) {
    let media = free_media_port().to_string();
    let errors = dir.join("sipp_errors.log");
    let output = Command::new(SIPP)
        .current_dir(dir)
        .arg(target.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-mp",
            &media,
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-error_file",
        ])
        .arg(&errors)
        .args(args)
        .output()
        .expect("cannot run sipp");
    let log = std::fs::read_to_string(&errors).unwrap_or_default();
    assert!(
        output.status.success(),
        "sipp failed ({}):\n{}\n{}\n{log}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The RTP packets (sequence, payload type, payload) of an Ethernet/IPv4/UDP pcap, read without
/// the crate under test: fixed header offsets, as in sipp's own captures.
pub fn rtp_payloads_of(pcap: &Path) -> Vec<(u16, u8, Vec<u8>)> {
    let file = std::fs::File::open(pcap).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        let udp_payload = &p.data[14 + 20 + 8..];
        let seq = u16::from_be_bytes([udp_payload[2], udp_payload[3]]);
        out.push((seq, udp_payload[1] & 0x7F, udp_payload[12..].to_vec()));
    }
    out.sort_by_key(|(s, _, _)| *s);
    out
}

pub fn decode(codec: G711, bytes: &[u8]) -> Vec<i16> {
    let mut out = Vec::new();
    codec.decode_into(bytes, &mut out);
    out
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

/// The lag (in samples, within ±max_lag) at which `got` best matches `want`, and the fraction of
/// equal samples there.
pub fn best_match(want: &[i16], got: &[i16], max_lag: i64) -> (i64, f64) {
    let mut best = (0, 0.0);
    for lag in -max_lag..=max_lag {
        let (mut equal, mut total) = (0usize, 0usize);
        for (i, w) in want.iter().enumerate() {
            let j = i as i64 + lag;
            if j < 0 || j as usize >= got.len() {
                continue;
            }
            total += 1;
            if got[j as usize] == *w {
                equal += 1;
            }
        }
        let frac = if total == 0 {
            0.0
        } else {
            equal as f64 / want.len() as f64
        };
        if frac > best.1 {
            best = (lag, frac);
        }
    }
    best
}

/// The two channels of a G.711 mu-law stereo WAV (format tag 7), as raw mu-law bytes.
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

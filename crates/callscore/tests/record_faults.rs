//! `callscore record` when things go wrong: a recording folder that cannot be written, a recorder
//! killed with `kill -9` mid-call, and a disk that fills during a call. Against sipp on 127.0.0.1.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("callscore")
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn recorder(out: &Path, port: u16, rtp_base: u16) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args([
        "record",
        "--sip",
        &format!("127.0.0.1:{port}"),
        "--rtp-ports",
        &format!("{rtp_base}-{}", rtp_base + 19),
        "--out",
    ])
    .arg(out)
    .env("CALLSCORE_LOG", "info")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Polls with OPTIONS until the recorder answers.
fn wait_until_listening(port: u16, child: &mut Child) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let me = sock.local_addr().unwrap().port();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "callscore record exited early"
        );
        let options = format!("OPTIONS sip:rec@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-up\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:rec@127.0.0.1>\r\nCall-ID: up\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        sock.send_to(options.as_bytes(), ("127.0.0.1", port))
            .unwrap();
        let mut buf = [0u8; 4096];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if buf[..n].starts_with(b"SIP/2.0 200") {
                return;
            }
        }
    }
    panic!("callscore record never answered OPTIONS");
}

/// sipp's built-in `uac_pcap` call (7 s of G.711 A-law, then DTMF and BYE), started in the
/// background.
fn sipp_call(port: u16) -> (Child, tempfile::TempDir) {
    assert!(
        Path::new("/usr/bin/sipp").exists(),
        "sipp is not installed: run `scripts/install-deps.sh capture`"
    );
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap")).unwrap();
    let media = (free_udp_port() & !1).to_string();
    let child = Command::new("/usr/bin/sipp")
        .current_dir(dir.path())
        .args([
            &format!("127.0.0.1:{port}"),
            "-sn",
            "uac_pcap",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-mp",
            &media,
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, dir)
}

fn wavs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wav"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn spooled_calls(out: &Path) -> usize {
    std::fs::read_dir(out.join(".spool"))
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}

fn wav_seconds(path: &Path) -> f64 {
    let r = hound::WavReader::open(path).unwrap();
    r.duration() as f64 / r.spec().sample_rate as f64
}

fn sigterm(child: &mut Child) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the recorder did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    err
}

fn rtp_base(offset: u16) -> u16 {
    41000 + (std::process::id() % 100) as u16 * 60 + offset
}

#[test]
fn an_unwritable_recording_folder_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let out = recorder(&file, free_udp_port(), rtp_base(0))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not-a-folder") && err.contains("not a folder"),
        "the error names the folder and the reason: {err}"
    );
}

#[test]
fn a_recorder_killed_mid_call_writes_the_call_whole_on_restart() {
    let out = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let mut rec = recorder(out.path(), port, rtp_base(20)).spawn().unwrap();
    wait_until_listening(port, &mut rec);
    let (mut sipp, _sipp_dir) = sipp_call(port);
    // Wait until about three seconds of audio are in the spool, then kill -9.
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no call spooled"
        );
        let spooled: u64 = std::fs::read_dir(out.path().join(".spool"))
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|call| {
                std::fs::read_dir(call.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .filter(|f| f.path().extension().is_some_and(|e| e == "rtp"))
            .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
            .sum();
        // 30 ms A-law packets of 240 bytes plus 6 bytes of framing and a 12-byte header.
        if spooled > 100 * 258 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    rec.kill().unwrap();
    rec.wait().unwrap();
    let _ = sipp.kill();
    let _ = sipp.wait();
    assert!(
        wavs_in(out.path()).is_empty(),
        "nothing was written before the kill"
    );
    assert_eq!(spooled_calls(out.path()), 1);

    // The next start writes the interrupted call from its spool before taking new calls.
    let port = free_udp_port();
    let mut rec = recorder(out.path(), port, rtp_base(40)).spawn().unwrap();
    wait_until_listening(port, &mut rec);
    let log = sigterm(&mut rec);
    let wavs = wavs_in(out.path());
    assert_eq!(wavs.len(), 1, "recovered call written: {log}");
    let secs = wav_seconds(&wavs[0]);
    assert!(
        (2.5..7.2).contains(&secs),
        "the audio received before the kill is all there: {secs:.2} s"
    );
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wavs[0].with_extension("json")).unwrap()).unwrap();
    assert!(sidecar["call_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        spooled_calls(out.path()),
        0,
        "the spool is cleared once written"
    );
    assert!(log.contains("recovered"), "{log}");
}

/// A tmpfs too small for the call: the WAV cannot be written, the spool keeps what was received,
/// and once space is back the next start writes the call. Mounting needs root (CI runs as root).
#[test]
#[allow(clippy::print_stderr)] // the skip must be visible in the test log
fn a_disk_that_fills_during_a_call_loses_nothing() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("small");
    std::fs::create_dir(&out).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=256k",
            "callscore-test",
            out.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs");
    let _unmount = Unmount(out.clone());
    // Leave room for the probe and the spool, not for the WAV on top of them.
    let filler = out.join("filler");
    std::fs::write(&filler, vec![0u8; 256 * 1024 - 150 * 1024]).unwrap();

    let port = free_udp_port();
    let mut rec = recorder(&out, port, rtp_base(80)).spawn().unwrap();
    wait_until_listening(port, &mut rec);
    let (mut sipp, _d) = sipp_call(port);
    let _ = sipp.wait();
    // The call ended (BYE); writing fails three times, two seconds apart.
    std::thread::sleep(Duration::from_secs(8));
    let log = sigterm(&mut rec);
    assert!(wavs_in(&out).is_empty(), "no half-written WAV: {log}");
    assert_eq!(spooled_calls(&out), 1, "what was received is kept: {log}");
    assert!(log.contains("kept in"), "{log}");

    std::fs::remove_file(&filler).unwrap();
    let port = free_udp_port();
    let mut rec = recorder(&out, port, rtp_base(100)).spawn().unwrap();
    wait_until_listening(port, &mut rec);
    let log = sigterm(&mut rec);
    let wavs = wavs_in(&out);
    assert_eq!(wavs.len(), 1, "{log}");
    assert!(wav_seconds(&wavs[0]) > 6.0, "the whole call");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

//! `callscore record` and `callscore import-pcap` as a user runs them, against sipp on 127.0.0.1.

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

/// Channel count and sample frames of a 16-bit PCM WAV, from its RIFF chunks.
fn wav_channels_and_frames(path: &Path) -> (u16, usize) {
    let bytes = std::fs::read(path).unwrap();
    let (mut pos, mut channels, mut data_len) = (12, 0u16, 0usize);
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        match &bytes[pos..pos + 4] {
            b"fmt " => channels = u16::from_le_bytes([bytes[pos + 10], bytes[pos + 11]]),
            b"data" => data_len = len,
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    (channels, data_len / 2 / channels.max(1) as usize)
}

fn wavs_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wav"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn record_writes_sipps_call_and_stops_cleanly_on_sigterm() {
    assert!(
        Path::new("/usr/bin/sipp").exists(),
        "sipp is not installed: run `scripts/install-deps.sh capture`"
    );
    let out = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let rtp_base = 40000 + (std::process::id() % 200) as u16 * 50;
    let mut child = Command::new(bin())
        .args([
            "record",
            "--sip",
            &format!("127.0.0.1:{port}"),
            "--rtp-ports",
            &format!("{rtp_base}-{}", rtp_base + 49),
            "--out",
        ])
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_listening(port, &mut child);

    let sipp_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr/share/sip-tester", sipp_dir.path().join("pcap")).unwrap();
    let media = (free_udp_port() & !1).to_string();
    let sipp = Command::new("/usr/bin/sipp")
        .current_dir(sipp_dir.path())
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
        .output()
        .unwrap();
    assert!(
        sipp.status.success(),
        "sipp failed: {}",
        String::from_utf8_lossy(&sipp.stderr)
    );

    let start = Instant::now();
    while wavs_in(out.path()).is_empty() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let wavs = wavs_in(out.path());
    assert_eq!(wavs.len(), 1, "one call, one WAV");
    assert!(
        wavs[0].with_extension("json").exists(),
        "sidecar beside the WAV"
    );

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        wavs[0].display().to_string(),
        "stdout lists the written recording"
    );
}

#[test]
fn import_pcap_writes_the_call_and_reports_a_broken_capture() {
    let out = tempfile::tempdir().unwrap();
    // sipp's own capture: 7.08 s of A-law RTP without SIP.
    let ok = assert_cmd::Command::new(bin())
        .args(["import-pcap", "/usr/share/sip-tester/g711a.pcap", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let stdout = String::from_utf8(ok.get_output().stdout.clone()).unwrap();
    let wav = PathBuf::from(stdout.trim());
    assert!(wav.exists(), "{stdout}");
    assert_eq!(wav_channels_and_frames(&wav), (1, 56_640));

    // The same capture cut in the middle of a packet.
    let cut = out.path().join("cut.pcap");
    let bytes = std::fs::read("/usr/share/sip-tester/g711a.pcap").unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let failed = assert_cmd::Command::new(bin())
        .args(["import-pcap"])
        .arg(&cut)
        .arg("--out")
        .arg(out.path().join("cut"))
        .assert()
        .code(1);
    let stderr = String::from_utf8(failed.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("cut.pcap")
            && stderr.contains("capture is broken at packet")
            && stderr.contains("byte offset"),
        "{stderr}"
    );
    assert_eq!(
        wavs_in(&out.path().join("cut")).len(),
        1,
        "the part before the break is written"
    );

    let missing = assert_cmd::Command::new(bin())
        .args(["import-pcap", "/nonexistent/calls.pcap"])
        .assert()
        .code(1);
    assert!(
        String::from_utf8_lossy(&missing.get_output().stderr).contains("/nonexistent/calls.pcap")
    );
}

//! `/calls/{id}/audio`: byte ranges, and nothing but the recordings of calls in the database.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

fn ranged(uri: &str, range: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "localhost:8080")
        .header(header::RANGE, range)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_whole_recording_advertises_ranges() {
    let db = build();
    let app = app(&db, None);
    let bytes = std::fs::read(&db.wav).unwrap();
    let whole = fetch(&app, &format!("/calls/{RUDE_ID}/audio")).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header(header::ACCEPT_RANGES), Some("bytes"));
    assert_eq!(whole.header(header::CONTENT_TYPE), Some("audio/wav"));
    assert_eq!(
        whole.header(header::CONTENT_LENGTH),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(
        whole.header(header::CACHE_CONTROL),
        Some("private, no-cache")
    );
    assert_eq!(
        whole.header(header::CONTENT_DISPOSITION),
        Some("inline; filename=\"rude.wav\"")
    );
}

#[tokio::test]
async fn ranges_return_206_with_exactly_those_bytes() {
    let db = build();
    let app = app(&db, None);
    let bytes = std::fs::read(&db.wav).unwrap();
    let n = bytes.len();
    let uri = format!("/calls/{RUDE_ID}/audio");
    for (range, from, to) in [
        ("bytes=0-99", 0, 99),
        ("bytes=44-44", 44, 44),
        ("bytes=1000-", 1000, n - 1),
        ("bytes=-16", n - 16, n - 1),
        // A range past the end is cut at the end (RFC 9110 §14.1.2).
        (&*format!("bytes={}-{}", n - 10, n + 500), n - 10, n - 1),
    ] {
        let part = send(&app, ranged(&uri, range)).await;
        assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(part.body, bytes[from..=to], "{range}");
        assert_eq!(
            part.header(header::CONTENT_RANGE),
            Some(format!("bytes {from}-{to}/{n}").as_str()),
            "{range}"
        );
        assert_eq!(
            part.header(header::CONTENT_LENGTH),
            Some((to - from + 1).to_string().as_str()),
            "{range}"
        );
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_are_416() {
    let db = build();
    let app = app(&db, None);
    let n = std::fs::metadata(&db.wav).unwrap().len();
    let uri = format!("/calls/{RUDE_ID}/audio");
    for range in [
        format!("bytes={n}-"),
        format!("bytes={}-{}", n + 10, n + 20),
        "bytes=50-10".into(),
        "bytes=abc".into(),
        "lines=1-2".into(),
    ] {
        let reply = send(&app, ranged(&uri, &range)).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            reply.header(header::CONTENT_RANGE),
            Some(format!("bytes */{n}").as_str()),
            "{range}"
        );
    }
}

#[tokio::test]
async fn paths_in_the_request_never_reach_the_file_system() {
    let db = build();
    let app = app(&db, None);
    // A file the server must never hand out, beside the recordings.
    std::fs::write(db.dir.path().join("secret.txt"), "root:x:0:0").unwrap();
    for uri in [
        "/calls/..%2f..%2fetc%2fpasswd/audio",
        "/calls/..%2F..%2F..%2Fetc%2Fpasswd/audio",
        "/calls/%2e%2e%2fsecret.txt/audio",
        "/calls/../../etc/passwd/audio",
        "/calls/..%5c..%5cetc%5cpasswd/audio",
        "/calls/secret.txt/audio",
        "/calls/%2Fetc%2Fpasswd/audio",
        "/calls/4444444444444444444444444444444444444444444444444444444444444444/audio",
        "/../../etc/passwd",
        "/assets/..%2f..%2fCargo.toml",
    ] {
        let reply = fetch(&app, uri).await;
        assert!(
            reply.status == StatusCode::NOT_FOUND,
            "{uri}: {}",
            reply.status
        );
        let text = reply.text();
        assert!(!text.contains("root:"), "{uri} leaked a file");
    }
}

#[tokio::test]
async fn a_moved_recording_is_404_with_a_reason() {
    let db = build();
    let app = app(&db, None);
    let reply = fetch(&app, &format!("/calls/{MEH_ID}/audio")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains("moved-away.wav"), "{}", reply.text());
}

/// The call id is the sha256 of the recording: anything else at the stored path is refused.
#[tokio::test]
async fn only_the_recording_whose_hash_is_the_call_id_is_served() {
    let db = build();
    let app = app(&db, None);
    let uri = format!("/calls/{RUDE_ID}/audio");
    let original = std::fs::read(&db.wav).unwrap();
    assert_eq!(fetch(&app, &uri).await.status, StatusCode::OK);

    // Replaced by another file of the same size (a later recording written over it).
    let aside = db.dir.path().join("rude.wav.orig");
    std::fs::rename(&db.wav, &aside).unwrap();
    let mut other = original.clone();
    other[100] ^= 0x55;
    std::fs::write(&db.wav, &other).unwrap();
    let reply = send(&app, ranged(&uri, "bytes=0-99")).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("rude.wav"), "{}", reply.text());
    assert!(reply.text().contains("sha256"), "{}", reply.text());
    assert_ne!(reply.body.get(..4), Some(&b"RIFF"[..]), "no audio bytes");

    // Put back, it is served again.
    std::fs::rename(&aside, &db.wav).unwrap();
    let reply = send(&app, ranged(&uri, "bytes=0-99")).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(reply.body, original[..100]);

    // Edited in place after it was verified, with its modification time put back: the change
    // time still moves, so it is checked again and refused.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&db.wav)
        .unwrap();
    let mtime = file.metadata().unwrap().modified().unwrap();
    use std::os::unix::fs::FileExt;
    file.write_at(&[0x7f; 16], 2000).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    assert_eq!(
        send(&app, ranged(&uri, "bytes=0-99")).await.status,
        StatusCode::CONFLICT
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_swapped_in_after_scoring_is_not_followed_to_other_content() {
    let db = build();
    let app = app(&db, None);
    let uri = format!("/calls/{RUDE_ID}/audio");
    std::fs::write(db.dir.path().join("secret.txt"), "root:x:0:0").unwrap();
    std::fs::remove_file(&db.wav).unwrap();
    std::os::unix::fs::symlink(db.dir.path().join("secret.txt"), &db.wav).unwrap();
    let reply = fetch(&app, &uri).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(!reply.text().contains("root:"), "leaked");

    // Devices and FIFOs are refused without reading them (reading /dev/zero never ends, and
    // opening a FIFO would wait for a writer).
    std::fs::remove_file(&db.wav).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &db.wav).unwrap();
    let reply = fetch(&app, &uri).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.text().contains("not a regular file"),
        "{}",
        reply.text()
    );
    std::fs::remove_file(&db.wav).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&db.wav).status();
    if made.is_ok_and(|s| s.success()) {
        let reply = fetch(&app, &uri).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
    }

    // A symlink to the very recording (moved elsewhere) is the same bytes: served.
    std::fs::remove_file(&db.wav).unwrap();
    let moved = db.dir.path().join("archive.wav");
    write_wav(&moved);
    std::os::unix::fs::symlink(&moved, &db.wav).unwrap();
    assert_eq!(fetch(&app, &uri).await.status, StatusCode::OK);
}

#[tokio::test]
async fn audio_carries_a_strong_validator_and_serves_head() {
    let db = build();
    let app = app(&db, None);
    let uri = format!("/calls/{RUDE_ID}/audio");
    let head = send(
        &app,
        Request::head(&uri)
            .header(header::HOST, "localhost:8080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    let n = std::fs::metadata(&db.wav).unwrap().len();
    assert_eq!(
        head.header(header::CONTENT_LENGTH),
        Some(n.to_string().as_str())
    );
    assert_eq!(
        head.header(header::ETAG),
        Some(format!("\"{RUDE_ID}\"").as_str())
    );
    assert!(head.header(header::LAST_MODIFIED).is_some());
}

/// A call with redacted spans (a card number read out) never has those spans played: the
/// route serves a WAV copy with them silent, whole or by ranges, and the call page says so.
#[tokio::test]
async fn redacted_spans_are_served_muted() {
    use callscore_core::{CallMeta, Redaction, Speaker, Transcript};
    use callscore_rubric::Rubric;
    use callscore_store::{NewCall, Store};

    let db = build();
    let wav = db.dir.path().join("card.wav");
    write_wav_tone(&wav, 10);
    let id = sha256_hex(&wav);
    let mut transcript: Transcript = serde_json::from_str(
        r#"{"duration_ms": 3000, "segments": [
            {"speaker": "caller", "start_ms": 0, "end_ms": 3000,
             "text": "my card is [card number] thanks", "words": []}]}"#,
    )
    .unwrap();
    transcript.redactions = vec![Redaction {
        class: "card_number".into(),
        speaker: Speaker::Caller,
        start_ms: 1_000,
        end_ms: 2_000,
    }];
    let rubric = Rubric::from_toml_str(RUBRIC, "test.toml").unwrap();
    let scorecard = rubric.evaluate(&transcript);
    let meta = CallMeta::default();
    let mut store = Store::open(&db.db).unwrap();
    store
        .record_scored_call(
            &NewCall {
                id: &id,
                source_path: &wav,
                duration_ms: 3_000,
                channels: 2,
                sample_rate: 8_000,
                format: "wav",
                meta: &meta,
                warnings: &[],
            },
            &transcript,
            &scorecard,
        )
        .unwrap();
    drop(store);

    let app = app(&db, None);
    let uri = format!("/calls/{id}/audio");
    let whole = fetch(&app, &uri).await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.text());
    assert_ne!(whole.body, std::fs::read(&wav).unwrap(), "not the original");
    assert_eq!(whole.header(header::CONTENT_TYPE), Some("audio/wav"));
    assert_eq!(
        whole.header(header::CONTENT_DISPOSITION),
        Some("inline; filename=\"card-redacted.wav\"")
    );
    let mut reader = hound::WavReader::new(std::io::Cursor::new(&whole.body)).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8_000));
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let left_at = |sec: f64| {
        let frame = (sec * 8_000.0) as usize;
        samples[frame * 2..(frame + 400) * 2]
            .iter()
            .step_by(2)
            .map(|s| i32::from(*s).abs())
            .max()
            .unwrap()
    };
    assert!(left_at(0.5) > 1_000, "sound before the span");
    assert_eq!(left_at(1.2), 0, "silence inside the span");
    assert_eq!(left_at(1.9), 0, "silence to the span's end");
    assert!(left_at(2.5) > 1_000, "sound after the span");

    // Seeking: a range of the muted copy is exactly those bytes of it.
    let part = send(&app, ranged(&uri, "bytes=100-199")).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, whole.body[100..200]);

    let page = fetch(&app, &format!("/calls/{id}")).await;
    assert!(
        page.text()
            .contains("1 span(s) redacted (card number): the player plays them as silence."),
        "{}",
        page.text()
    );
}

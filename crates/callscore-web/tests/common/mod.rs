//! A small scored database for the handler tests: three calls scored by a real rubric from
//! transcript JSON, stored through the store's write API, each with a short stereo WAV.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use callscore_core::{CallMeta, Transcript};
use callscore_rubric::Rubric;
use callscore_store::{Db, NewCall};
use http_body_util::BodyExt;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

pub const RUBRIC: &str = r#"
id = "test-service"
name = "Test service rubric"
version = 3
pass_mark = 80

[[sections]]
id = "opening"
name = "Opening"

[[sections]]
id = "conduct"
name = "Conduct"

[[criteria]]
id = "greeting"
name = "Warm greeting"
section = "opening"
weight = 10
speaker = "agent"
any = ['(?i)\b(good (morning|afternoon)|thank you for calling)\b']

[[criteria]]
id = "agent_name"
name = "Agent gives their name"
section = "opening"
weight = 10
speaker = "agent"
any = ['(?i)\bmy name is\b']

[[criteria]]
id = "courtesy"
name = "No rude language"
section = "conduct"
weight = 0
critical = true
speaker = "agent"
none = ['(?i)\b(calm down|not my problem|whatever)\b']
"#;

pub const RUDE_ID: &str = "08c0f1bf1e253f5aed3a968729e1bc49153a3839d31f4a5c9bad0857e636f646";
pub const GOOD_ID: &str = "0814a7485f745e85a7c63334bc317ac9cbe30a5618c8e31385da6a44c24ccd5b";
pub const MEH_ID: &str = "3333333333333333333333333333333333333333333333333333333333333333";

/// The rude call's transcript holds markup in the caller's words: it must come out as text.
const RUDE: &str = r#"{
  "duration_ms": 14000, "model": "tiny.en",
  "segments": [
    {"speaker": "agent", "start_ms": 500, "end_ms": 1400, "text": "Riverside Energy."},
    {"speaker": "caller", "start_ms": 1800, "end_ms": 8900, "text": "Hello, <script>alert('owned')</script> my power is off & I paid."},
    {"speaker": "agent", "start_ms": 9400, "end_ms": 12500, "text": "Calm down. If you paid late, that's not my problem."},
    {"speaker": "caller", "start_ms": 12900, "end_ms": 13900, "text": "Unbelievable."}
  ]
}"#;

const GOOD: &str = r#"{
  "duration_ms": 9000, "model": "tiny.en",
  "segments": [
    {"speaker": "agent", "start_ms": 300, "end_ms": 3900, "text": "Good morning, thank you for calling Acme, my name is Daniel."},
    {"speaker": "caller", "start_ms": 4200, "end_ms": 8000, "text": "Hi Daniel, I'd like to check my bill."}
  ]
}"#;

const MEH: &str = r#"{
  "duration_ms": 8000, "model": "tiny.en",
  "segments": [
    {"speaker": "agent", "start_ms": 400, "end_ms": 2000, "text": "Acme, my name is Maria."},
    {"speaker": "caller", "start_ms": 2500, "end_ms": 6000, "text": "My meter reading is wrong."}
  ]
}"#;

pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub wav: PathBuf,
}

/// A 3-second 8 kHz stereo 16-bit WAV: a triangle tone with the given period (in samples) on
/// the left (agent), silence on the right. Integer arithmetic only, so the bytes (and so the
/// call ids, which are their sha256) are the same on every machine.
pub fn write_wav_tone(path: &Path, period: i32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(8_000 * 3) {
        let phase = i % period;
        let half = period / 2;
        let tri = if phase < half { phase } else { period - phase };
        w.write_sample(((tri * 16_000 / half) - 8_000) as i16)
            .unwrap();
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
}

/// The rude call's recording.
pub fn write_wav(path: &Path) {
    write_wav_tone(path, 18);
}

/// The sha256 of a file, lowercase hex: what a call id is.
pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

pub fn build() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("calls.db");
    let wav = dir.path().join("rude.wav");
    write_wav(&wav);
    write_wav_tone(&dir.path().join("good.wav"), 12);
    // Ids are the recordings' hashes, as a batch stores them: the audio route checks that.
    assert_eq!(
        sha256_hex(&wav),
        RUDE_ID,
        "rude.wav's bytes changed: update RUDE_ID"
    );
    assert_eq!(
        sha256_hex(&dir.path().join("good.wav")),
        GOOD_ID,
        "good.wav's bytes changed: update GOOD_ID"
    );
    fill(dir.path(), &db);
    TestDb { dir, db, wav }
}

/// Scores the three calls, whose recordings are in `dir`, into the database at `location` (a
/// SQLite path or a PostgreSQL URL), as a batch would.
pub fn fill(dir: &Path, location: &Path) {
    let rubric = Rubric::from_toml_str(RUBRIC, "test.toml").unwrap();
    let mut store = Db::open(location).unwrap();
    let calls: [(&str, &str, &str, &str, &str); 3] = [
        (RUDE_ID, "rude.wav", RUDE, "Gary", "2024-03-11T11:40:00Z"),
        (GOOD_ID, "good.wav", GOOD, "Daniel", "2024-03-12T09:00:00Z"),
        // Its recording is gone: the page must say so instead of offering a dead player.
        (
            MEH_ID,
            "moved-away.wav",
            MEH,
            "Maria",
            "2024-03-13T15:30:00Z",
        ),
    ];
    for (id, file, json, agent, started) in calls {
        let mut transcript: Transcript = serde_json::from_str(json).unwrap();
        let meta = CallMeta {
            agent: Some(agent.into()),
            started_at: Some(started.into()),
            caller_name: Some("Helen Price".into()),
            ..Default::default()
        };
        transcript.meta = meta.clone();
        let scorecard = rubric.evaluate(&transcript);
        let path = dir.join(file);
        let call = NewCall {
            id,
            source_path: &path,
            duration_ms: 3_000,
            channels: 2,
            sample_rate: 8_000,
            format: "wav",
            meta: &meta,
            warnings: &[],
        };
        store
            .record_scored_call(&call, &transcript, &scorecard)
            .unwrap();
    }
}

pub fn app(db: &TestDb, token: Option<&str>) -> Router {
    callscore_web::router(callscore_web::ServeConfig {
        db: db.db.clone(),
        token: token.map(str::to_string),
    })
    .unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `name=value` of a Set-Cookie header for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let text = self.text();
        let at = text
            .find("name=\"csrf\" value=\"")
            .expect("page has a form with a csrf field");
        let rest = &text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A GET from this machine's browser.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap()
}

pub async fn fetch(app: &Router, uri: &str) -> Reply {
    send(app, get(uri)).await
}

/// A form POST from this site with the given cookie header.
pub fn post_form(uri: &str, cookie: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body = form_encode(form);
    Request::post(uri)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

pub fn form_encode(form: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// A session: its cookie and the CSRF token of a page fetched with it.
pub async fn session(app: &Router, page: &str) -> (String, String) {
    let first = fetch(app, page).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let cookie = first
        .cookie(callscore_web::COOKIE_SESSION)
        .expect("a new visitor gets a session cookie");
    (cookie, first.csrf())
}

//! The review pages' query strings and forms, through the real router over a real (temporary)
//! database: whatever the query or body, the answer is a page or a 4xx, never a panic or a 500.
//!
//! Input: the first byte picks a route (and with it GET or POST), the bytes up to the first
//! newline are appended to its path (`?page=…`, more path, anything), the rest is the form body.
//! Requests carry the bearer token, so forms reach their handlers without a CSRF token.
#![no_main]
use axum::body::Body;
use axum::http::{header, Method, Request};
use callscore_core::{CallMeta, Transcript};
use callscore_rubric::Rubric;
use callscore_store::{NewCall, Store};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use tower::ServiceExt;

const TOKEN: &str = "fuzz-token-0123456789";
const CALL: &str = "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

struct Fixture {
    _dir: tempfile::TempDir,
    app: axum::Router,
    runtime: tokio::runtime::Runtime,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let db: PathBuf = dir.path().join("fuzz.db");
        let rubric = Rubric::from_toml_str(
            include_str!("../../rubrics/default.toml"),
            "default.toml",
        )
        .expect("the default rubric compiles");
        let mut transcript: Transcript = serde_json::from_str(
            r#"{"duration_ms": 9000, "model": "tiny.en", "segments": [
                {"speaker": "agent", "start_ms": 300, "end_ms": 3900, "text": "Good morning, thank you for calling Acme, my name is Daniel."},
                {"speaker": "caller", "start_ms": 4200, "end_ms": 8000, "text": "Hi Daniel, I'd like to check my bill."}]}"#,
        )
        .expect("transcript JSON");
        let meta = CallMeta {
            agent: Some("Gary".into()),
            caller_name: Some("Helen Price".into()),
            started_at: Some("2024-03-11T11:40:00Z".into()),
            ..Default::default()
        };
        transcript.meta = meta.clone();
        let card = rubric.evaluate(&transcript);
        let wav = dir.path().join("call.wav");
        std::fs::write(&wav, b"RIFF").expect("write");
        let mut store = Store::open(&db).expect("a database");
        store
            .record_scored_call(
                &NewCall {
                    id: CALL,
                    source_path: &wav,
                    duration_ms: 9_000,
                    channels: 2,
                    sample_rate: 8_000,
                    format: "wav",
                    meta: &meta,
                    warnings: &[],
                },
                &transcript,
                &card,
            )
            .expect("store a call");
        drop(store);
        let app = callscore_web::router(callscore_web::ServeConfig {
            db,
            token: Some(TOKEN.into()),
        })
        .expect("a router");
        // Paused time: the login form's delay after a wrong token passes at once.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        Fixture {
            _dir: dir,
            app,
            runtime,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let routes: [(&str, Method); 12] = [
        ("/", Method::GET),
        ("/calls", Method::GET),
        (&format!("/calls/{CALL}"), Method::GET),
        (&format!("/calls/{CALL}/review"), Method::POST),
        ("/agents", Method::GET),
        ("/agents/Gary", Method::GET),
        ("/calibration", Method::GET),
        ("/login", Method::GET),
        ("/login", Method::POST),
        ("/logout", Method::POST),
        ("/calls/", Method::GET),
        ("/agents/", Method::GET),
    ];
    let (path, method) = &routes[usize::from(which) % routes.len()];
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let Ok(suffix) = std::str::from_utf8(&rest[..split]) else {
        return;
    };
    let body = rest.get(split + 1..).unwrap_or_default().to_vec();
    let uri = format!("{path}{suffix}");
    // What hyper would refuse with 400 before routing is not the pages' to handle.
    let Ok(req) = Request::builder()
        .method(method.clone())
        .uri(&uri)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
    else {
        return;
    };
    let f = fixture();
    let (status, text) = f.runtime.block_on(async {
        let resp = f
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("a body").to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    });
    assert!(
        !status.is_server_error(),
        "{method} {uri}: {status}\n{text}"
    );
    // The pages' only scripts are our own files; fuzzed text must come out escaped.
    let own_scripts = text.replace("<script src=\"/assets/", "");
    if let Some(at) = own_scripts.find("<script") {
        panic!("{uri}: unescaped script at {at}");
    }
});

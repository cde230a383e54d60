//! The server over real TCP: idle and half-sent requests are timed out, the connection cap holds,
//! a normal client still gets its page, and shutdown finishes with requests half-sent.
//!
//! Every wait on the server is bounded by `GUARD` so a regression fails instead of hanging; no
//! assertion is about how fast anything is.

mod common;

use callscore_web::Limits;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Far longer than any limit below: only a server that never answers reaches it.
const GUARD: Duration = Duration::from_secs(60);

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), callscore_web::WebError>>,
    _db: TestDb,
}

async fn start(limits: Limits) -> Running {
    let db = build();
    let app = app(&db, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(callscore_web::serve_with_limits(
        listener,
        app,
        limits,
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        stop: Some(tx),
        task,
        _db: db,
    }
}

fn request(path: &str, keep_alive: bool) -> String {
    let conn = if keep_alive { "keep-alive" } else { "close" };
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {conn}\r\n\r\n")
}

/// Sends a whole request and reads the whole response (the server closes after it).
async fn get_page(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request(path, false).as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits until the server closes `s` (EOF or reset); returns what it sent before.
async fn closed_by_server(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn short(max_connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(800),
        request_timeout: Duration::from_millis(800),
        max_connections,
        shutdown_grace: Duration::from_millis(500),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_and_a_normal_client_still_gets_its_page() {
    let server = start(short(8)).await;
    // Five times the cap, each stopping in the middle of its request head.
    let mut attackers = Vec::new();
    for i in 0..40 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(
            format!("GET /calls?page={i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").as_bytes(),
        )
        .await
        .unwrap();
        attackers.push(s);
    }
    let page = tokio::time::timeout(GUARD, get_page(server.addr, "/"))
        .await
        .expect("the normal client is served while half-sent requests wait");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("rude.wav"), "the flagged queue");
    // Every half-sent connection was closed by the server (its descriptor freed), none answered
    // with a page.
    for (i, s) in attackers.iter_mut().enumerate() {
        let got = tokio::time::timeout(GUARD, closed_by_server(s))
            .await
            .unwrap_or_else(|_| panic!("half-sent connection {i} was never closed"));
        assert!(!String::from_utf8_lossy(&got).contains("rude.wav"), "{i}");
    }
    // Still serving afterwards.
    assert!(get_page(server.addr, "/calls")
        .await
        .starts_with("HTTP/1.1 200"));
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let server = start(short(8)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(request("/assets/style.css", true).as_bytes())
        .await
        .unwrap();
    // The response arrives, then the connection sits idle until the server closes it.
    let got = tokio::time::timeout(GUARD, closed_by_server(&mut s))
        .await
        .expect("an idle keep-alive connection is closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // A connection that never sends a byte is closed too.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let got = tokio::time::timeout(GUARD, closed_by_server(&mut silent))
        .await
        .expect("a silent connection is closed");
    assert!(got.is_empty() || String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"));
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_body_gets_408_and_its_connection_closed() {
    let server = start(short(8)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(b"csrf=abc&token=").await.unwrap();
    let got = tokio::time::timeout(GUARD, closed_by_server(&mut s))
        .await
        .expect("a stalled body is timed out");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_with_requests_half_sent() {
    // Headers may take a minute here: only the shutdown deadline can end these connections.
    let server = start(Limits {
        header_timeout: Duration::from_secs(120),
        request_timeout: Duration::from_secs(120),
        max_connections: 16,
        shutdown_grace: Duration::from_millis(500),
    })
    .await;
    let mut half = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        half.push(s);
    }
    // An idle keep-alive connection, and a normal request, before the stop.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(request("/assets/style.css", true).as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(get_page(server.addr, "/").await.starts_with("HTTP/1.1 200"));
    stop(server).await;
    for s in half.iter_mut().chain([&mut idle]) {
        tokio::time::timeout(GUARD, closed_by_server(s))
            .await
            .expect("connections are closed at shutdown");
    }
}

async fn stop(mut server: Running) {
    let _ = server.stop.take().unwrap().send(());
    tokio::time::timeout(GUARD, server.task)
        .await
        .expect("the server stops within its shutdown grace")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed"
    );
}

//! Review pages over the store: flagged queue, call page with audio player and evidence, reviews.
//!
//! Server-rendered HTML (maud, which escapes every interpolated value: transcripts are
//! untrusted text) with one small plain-JavaScript file for the player. [`router`] builds the
//! axum [`Router`]; [`serve`] runs it on a listener until a shutdown signal.
//!
//! Pages: `/` the flagged queue, `/calls` all calls (filters, sort, pages), `/calls/{id}` one
//! call (player, transcript, scorecard, review), `/calls/{id}/audio` its recording (HTTP
//! ranges), `/agents` and `/agents/{name}` per-agent trends, `/calibration` where reviewers
//! disagree with the machine.
//!
//! **Architecture invariant:** the pages read and write only through `callscore-store`; audio is
//! served only for a call id found in the database, from the path the database holds, never
//! from a path in the request.

mod assets;
mod audio;
mod chart;
mod db;
mod pages;
mod review;
mod security;
mod server;

use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use server::{serve_with_limits, Limits};

pub use security::{COOKIE_AUTH, COOKIE_REVIEWER, COOKIE_SESSION};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "refusing to listen on {addr} without a token: recordings hold personal data; \
         give --token (or CALLSCORE_TOKEN), or listen on 127.0.0.1"
    )]
    TokenRequired { addr: SocketAddr },
    #[error("the access token is empty; give a token of at least 16 characters")]
    EmptyToken,
    #[error(
        "the access token starts or ends with white space, which a browser's login form or an \
         Authorization header would never send back; remove the spaces (check how it was quoted)"
    )]
    TokenWhitespace,
    #[error(
        "the access token is {len} characters long; use at least 16 (e.g. `openssl rand -hex 16`)"
    )]
    ShortToken { len: usize },
    #[error(transparent)]
    Store(#[from] callscore_store::StoreError),
    #[error("cannot get random bytes for session keys: {0}")]
    Random(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the review pages' server on {addr} stopped: {source}")]
    Serve {
        addr: String,
        source: std::io::Error,
    },
}

/// What the server needs to know. [`ServeConfig::new`] checks the token; [`Server::bind`] and
/// [`router`] check it again for configs built field by field.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The callscore database, as `--db` names it: a SQLite file's path or a `postgres://`
    /// URL (what [`callscore_store::Db::open_existing`] takes). It must already hold calls.
    pub db: PathBuf,
    /// With a token, every request must carry it (`Authorization: Bearer`, or the cookie the
    /// login form sets). Without one, only loopback host names are answered.
    pub token: Option<String>,
}

impl ServeConfig {
    /// A config over `db`, refusing a token that is empty, too short, or padded with white space
    /// (a token read from a file or an environment variable often carries a newline).
    pub fn new(db: PathBuf, token: Option<String>) -> Result<ServeConfig, WebError> {
        if let Some(t) = &token {
            check_token(t)?;
        }
        Ok(ServeConfig { db, token })
    }
}

fn check_token(t: &str) -> Result<(), WebError> {
    if t.trim().is_empty() {
        return Err(WebError::EmptyToken);
    }
    if t.trim() != t {
        return Err(WebError::TokenWhitespace);
    }
    let len = t.chars().count();
    if len < 16 {
        return Err(WebError::ShortToken { len });
    }
    Ok(())
}

/// Refuses a non-loopback listen address without a token, and tokens too short to resist
/// guessing or padded with white space.
pub fn check_listen(addr: SocketAddr, token: Option<&str>) -> Result<(), WebError> {
    match token {
        Some(t) => check_token(t)?,
        None if !addr.ip().is_loopback() => return Err(WebError::TokenRequired { addr }),
        None => {}
    }
    Ok(())
}

/// Builds the review pages' router over the database in `config`: opens it once (so a wrong
/// path fails here, not on the first request) and adds the pages' indexes when missing.
pub fn router(config: ServeConfig) -> Result<Router, WebError> {
    if let Some(token) = &config.token {
        // Length is check_listen's concern (tests build routers with short tokens); a token
        // that can never match is refused everywhere.
        if token.trim().is_empty() {
            return Err(WebError::EmptyToken);
        }
        if token.trim() != token {
            return Err(WebError::TokenWhitespace);
        }
    }
    let pool = db::Pool::open(config.db.clone())?;
    let keys = security::Keys::generate(config.token.as_deref())?;
    let state = Arc::new(AppState {
        pool,
        keys,
        verified: audio::Verified::default(),
        muted: audio::MutedCopies::default(),
    });
    let app = Router::new()
        .route("/", get(pages::queue::flagged))
        .route("/calls", get(pages::queue::all_calls))
        .route("/calls/{id}", get(pages::call::call_page))
        .route("/calls/{id}/audio", get(audio::audio))
        .route("/calls/{id}/review", post(review::submit))
        .route("/agents", get(pages::agent::agents))
        .route("/agents/{name}", get(pages::agent::agent_page))
        .route("/calibration", get(pages::calibration::calibration))
        .route("/search", get(pages::search::search_page))
        .route("/login", get(security::login_page).post(security::login))
        .route("/logout", post(security::logout))
        .route("/assets/{file}", get(assets::asset))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state);
    Ok(app)
}

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown` resolves, then lets
/// the requests in flight finish (within [`Limits::shutdown_grace`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    serve_with_limits(listener, app, Limits::default(), shutdown).await
}

/// A bound server with its own runtime, for a synchronous caller (the `callscore` binary).
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: Router,
    addr: SocketAddr,
    limits: Limits,
}

impl Server {
    /// Checks the listen address against the token, opens the database, and binds.
    pub fn bind(config: ServeConfig, listen: SocketAddr) -> Result<Server, WebError> {
        check_listen(listen, config.token.as_deref())?;
        let app = router(config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            // Pages are light; database work runs on the blocking pool.
            .worker_threads(2)
            .thread_name("callscore-web")
            .build()
            .map_err(|source| WebError::Serve {
                addr: listen.to_string(),
                source,
            })?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|source| WebError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| WebError::Bind {
            addr: listen,
            source,
        })?;
        Ok(Server {
            runtime,
            listener,
            app,
            addr,
            limits: Limits::default(),
        })
    }

    /// Replaces the default timeouts and connection cap.
    pub fn with_limits(mut self, limits: Limits) -> Server {
        self.limits = limits;
        self
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish (within the
    /// shutdown grace period).
    pub fn run_until_interrupted(self) -> Result<(), WebError> {
        let Server {
            runtime,
            listener,
            app,
            limits,
            ..
        } = self;
        let result = runtime.block_on(serve_with_limits(listener, app, limits, interrupted()));
        // Blocking tasks still running (a slow query for a connection cut at the deadline) must
        // not hold the process up either.
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        result
    }
}

/// Resolves on Ctrl-C, or SIGTERM where there is one (service managers stop with it).
async fn interrupted() {
    let ctrl_c = async {
        // If the handler cannot be installed, serve until killed rather than stop at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// Shared by every handler.
pub(crate) struct AppState {
    pub pool: db::Pool,
    pub keys: security::Keys,
    /// Recordings whose bytes were checked against their call id.
    pub verified: audio::Verified,
    /// Muted copies of recordings with redacted spans, for the audio route.
    pub muted: audio::MutedCopies,
}

pub(crate) type SharedState = Arc<AppState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_listens_without_a_token() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let local6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_listen(local, None).is_ok());
        assert!(check_listen(local6, None).is_ok());
        let err = check_listen(any, None).unwrap_err();
        assert!(
            err.to_string().contains("0.0.0.0:8080") && err.to_string().contains("--token"),
            "{err}"
        );
        assert!(check_listen(any, Some("0123456789abcdef")).is_ok());
        assert!(matches!(
            check_listen(any, Some("short")),
            Err(WebError::ShortToken { len: 5 })
        ));
        assert!(matches!(
            check_listen(local, Some("   ")),
            Err(WebError::EmptyToken)
        ));
    }

    #[test]
    fn a_token_padded_with_white_space_is_refused_everywhere() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for padded in [
            " 0123456789abcdef",
            "0123456789abcdef ",
            "0123456789abcdef\n",
            "\t0123456789abcdef",
        ] {
            assert!(
                matches!(
                    check_listen(local, Some(padded)),
                    Err(WebError::TokenWhitespace)
                ),
                "{padded:?}"
            );
            let err = ServeConfig::new(PathBuf::from("x.db"), Some(padded.into())).unwrap_err();
            assert!(err.to_string().contains("white space"), "{err}");
            let err = router(ServeConfig {
                db: PathBuf::from("no-such.db"),
                token: Some(padded.into()),
            })
            .unwrap_err();
            assert!(matches!(err, WebError::TokenWhitespace), "{err}");
        }
        // Spaces inside are part of the token.
        assert!(
            ServeConfig::new(PathBuf::from("x.db"), Some("0123 4567 89ab cdef".into())).is_ok()
        );
        assert!(matches!(
            ServeConfig::new(PathBuf::from("x.db"), Some("short".into())),
            Err(WebError::ShortToken { len: 5 })
        ));
    }
}

//! `callscore serve`: the review pages over a database.
use crate::out::errln;
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve the review pages (flagged queue, call pages with audio and evidence, reviews).
#[derive(Args)]
pub struct ServeArgs {
    /// Database written by `callscore score` or `callscore work`: a SQLite file, or a
    /// postgres://user@host/db URL. Relative recording paths stored in it are looked for from
    /// the current folder, then (SQLite) beside the database file; PostgreSQL has no database
    /// folder, so start serve where those paths resolve.
    #[arg(long, default_value = "callscore.db", env = "CALLSCORE_DB")]
    pub db: PathBuf,
    /// Address and port to listen on. Any address but loopback needs --token.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Access token every request must carry (login form, or `Authorization: Bearer`);
    /// at least 16 characters.
    #[arg(long, env = "CALLSCORE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Never the password of a postgres:// URL, in messages or on stdout.
    let shown_db = callscore_store::DbLocation::of(&args.db).shown();
    let config = callscore_web::ServeConfig {
        db: args.db.clone(),
        token: args.token.clone(),
    };
    let server = callscore_web::Server::bind(config, args.listen)
        .with_context(|| format!("cannot serve the review pages of {shown_db}"))?;
    let addr = server.local_addr();
    let shown = if addr.ip().is_unspecified() {
        format!("port {}", addr.port())
    } else {
        format!("http://{addr}/")
    };
    // The address goes to stdout (scripts starting the server on port 0 read it there).
    let mut out = std::io::stdout().lock();
    writeln!(out, "Review pages for {shown_db} at {shown}")?;
    out.flush()?;
    drop(out);
    if args.token.is_none() {
        errln!("Only this machine can open them (listening on loopback, no token). Ctrl-C stops.");
    } else {
        errln!("Every request needs the token (log in once per browser). Ctrl-C stops.");
    }
    server
        .run_until_interrupted()
        .with_context(|| format!("serving the review pages of {shown_db}"))?;
    Ok(ExitCode::SUCCESS)
}

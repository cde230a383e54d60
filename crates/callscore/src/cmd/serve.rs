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
    /// SQLite database written by `callscore score` (the review pages are not yet on
    /// PostgreSQL).
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
    let location = callscore_store::DbLocation::of(&args.db);
    if let callscore_store::DbLocation::Postgres(_) = location {
        anyhow::bail!(
            "the review pages (serve) are not yet on PostgreSQL ({}); serve a SQLite database",
            location.shown()
        );
    }
    let config = callscore_web::ServeConfig {
        db: args.db.clone(),
        token: args.token.clone(),
    };
    let server = callscore_web::Server::bind(config, args.listen)
        .with_context(|| format!("cannot serve the review pages of {}", args.db.display()))?;
    let addr = server.local_addr();
    let shown = if addr.ip().is_unspecified() {
        format!("port {}", addr.port())
    } else {
        format!("http://{addr}/")
    };
    // The address goes to stdout (scripts starting the server on port 0 read it there).
    let mut out = std::io::stdout().lock();
    writeln!(out, "Review pages for {} at {shown}", args.db.display())?;
    out.flush()?;
    drop(out);
    if args.token.is_none() {
        errln!("Only this machine can open them (listening on loopback, no token). Ctrl-C stops.");
    } else {
        errln!("Every request needs the token (log in once per browser). Ctrl-C stops.");
    }
    server
        .run_until_interrupted()
        .with_context(|| format!("serving the review pages of {}", args.db.display()))?;
    Ok(ExitCode::SUCCESS)
}

//! Test-only: a real PostgreSQL server for the tests, one per test process, and one fresh
//! database per test.
//!
//! [`database`] starts the server on first use (initdb into a temporary folder, `pg_ctl start`
//! on a free loopback port, its socket in that folder) and hands out a new database on it; the
//! server stops, and its folder is removed, when the last [`TestDb`] of the process is dropped.
//! PostgreSQL refuses to run as root, so when the tests run as root the server's commands run
//! as the `postgres` user (`runuser`), on a folder that user owns.
//!
//! There is no skipping: without the server binaries every test that asks for a database
//! fails, saying how to install them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A database of its own for one test, on the process's server.
pub struct TestDb {
    url: String,
    // Keeps the server running while the test uses it.
    _server: Arc<Server>,
}

impl TestDb {
    /// `postgres://callscore@127.0.0.1:PORT/NAME`: what `--db` takes.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A fresh, empty database for the test called `name` (any text: it is made into an
/// identifier). Panics, saying why, when no server can be started.
pub fn database(name: &str) -> TestDb {
    static SERVER: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = {
        let mut slot = SERVER.lock().unwrap_or_else(|p| p.into_inner());
        match slot.upgrade() {
            Some(s) => s,
            None => {
                let s = Arc::new(Server::start().unwrap_or_else(|e| panic!("{e}")));
                *slot = Arc::downgrade(&s);
                s
            }
        }
    };
    let ident: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let db_name = format!(
        "t_{ident}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE \"{db_name}\""))
        .unwrap_or_else(|e| panic!("cannot create test database {db_name}: {e}"));
    TestDb {
        url: server.url(&db_name),
        _server: server,
    }
}

/// A running server, stopped on drop.
struct Server {
    // Removed after the server stops (declared after nothing that needs it).
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl Server {
    fn url(&self, db: &str) -> String {
        format!("postgres://callscore@127.0.0.1:{}/{db}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start() -> Result<Server, String> {
        let bin = server_bin_dir()?;
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("callscore-pg-")
            .tempdir()
            .map_err(|e| format!("cannot make a folder for the test server: {e}"))?;
        if as_postgres_user {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .map_err(|e| format!("cannot run chown: {e}"))?
                .success();
            if !ok {
                return Err(format!(
                    "cannot give {} to the postgres user (is there one? `scripts/install-deps.sh postgresql` creates it)",
                    dir.path().display()
                ));
            }
        }
        let mut server = Server {
            dir,
            bin,
            port: 0,
            as_postgres_user,
        };
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "callscore",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )?;
        // A free port can be taken between our look and the server's bind: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            let options = format!(
                "-k {} -c listen_addresses=127.0.0.1 -p {} -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=200",
                server.dir.path().display(),
                server.port
            );
            let log = server.dir.path().join("server.log");
            match server.run(
                "pg_ctl",
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-l",
                    &log.to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    last = format!("{e}\n{log}");
                }
            }
        }
        Err(format!("cannot start the test PostgreSQL server: {last}"))
    }

    /// Runs one of the server's programs (as the postgres user when we are root).
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            // The server's own cwd must be readable by its user.
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {} failed ({}): {}{}",
                exe.display(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data();
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
        }
    }
}

fn is_root() -> bool {
    // `id -u` rather than libc: this crate needs no unsafe for one number.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Where initdb, pg_ctl and postgres are: `CALLSCORE_PG_BIN`, else the newest Debian
/// `/usr/lib/postgresql/N/bin`, else `pg_config --bindir`, else the PATH.
fn server_bin_dir() -> Result<PathBuf, String> {
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("CALLSCORE_PG_BIN").map(PathBuf::from) {
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "CALLSCORE_PG_BIN={} holds no initdb and pg_ctl (install the server with `scripts/install-deps.sh postgresql`)",
                dir.display()
            ))
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| has_server(d))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|d| has_server(d))
    {
        return Ok(dir);
    }
    Err(
        "the PostgreSQL tests need a PostgreSQL server (initdb, pg_ctl): install it with \
         `scripts/install-deps.sh postgresql` (apt-get install postgresql), or point \
         CALLSCORE_PG_BIN at its bin folder"
            .to_string(),
    )
}

//! SQLite store of calls, transcripts, scorecards and reviews, with versioned migrations.
//!
//! One [`Store`] is one connection (rusqlite, bundled SQLite, WAL journal, busy timeout), so
//! several processes and threads can share a database file: open one `Store` per thread.
//!
//! - Calls are identified by [`content_id`], the sha256 of the recording's bytes.
//! - Work is claimed ([`Store::claim`]) before the slow part, and everything a call produces is
//!   written in one transaction ([`Store::record_scored_call`]): a crash leaves a call either
//!   done or not started, never half written.
//! - Scorecards are kept per rubric content hash; per call and rubric id one is *current* and
//!   reports use that one, while earlier rubric versions stay queryable.
//! - All SQL lives here; reports, the review pages and the CLI call the query functions in
//!   [`query`] and get plain structs back.
//!
//! **Architecture invariant:** this crate knows nothing about audio decoding, models or rubric
//! evaluation; it stores the core types it is given.

pub mod browse;
mod claim;
mod db;
pub mod pg;
pub mod query;
mod review;
mod schema;
mod scrub;
pub mod search;
mod write;

pub use claim::{ClaimOwner, CLAIM_LEASE_MS, CLAIM_RENEW_EVERY_MS};
pub use db::{Db, DbLocation};
pub use pg::{NextCall, PgStore, QueuedCall, PG_SCHEMA_VERSION};
pub use query::{
    AgentRow, CallDetail, CallRecord, CallRow, CriterionRow, FailedCallRow, GroupBy, GroupRow,
    Report, ReportFilter, RubricUse, StatusCounts, StoredScorecard,
};
pub use review::{NewReview, Review};
pub use schema::SCHEMA_VERSION;
pub use search::{SearchHit, SearchQuery, SearchResults};
pub use write::{Claim, NewCall, PlanState, Recorded};

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another writer before giving up. Writers hold the lock for
/// one call's rows (milliseconds), so this is generous on purpose: a slow disk must not turn
/// into "database is locked" errors mid-batch.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the folder for database {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "database {path} looks like a URL of a kind callscore does not know; give a SQLite \
         file's path or a postgres:// (postgresql://) URL"
    )]
    NotAPath { path: PathBuf },
    #[error("cannot connect to database {url}: {source}")]
    PgConnect {
        url: String,
        source: postgres::Error,
    },
    #[error("database {url}: {context}: {source}")]
    Pg {
        url: String,
        context: String,
        source: postgres::Error,
    },
    #[error("cannot bring database {url} to schema version {target}: {source}")]
    PgMigrate {
        url: String,
        target: usize,
        source: postgres::Error,
    },
    #[error("database {url} holds no callscore tables (score some calls into it first)")]
    NoCallscoreTables { url: String },
    #[error(
        "database {path}: the shared work queue needs PostgreSQL (--db postgres://…); a SQLite \
         database is scored by `callscore score PATH…`"
    )]
    QueueNeedsPostgres { path: PathBuf },
    #[error("cannot create database {path}: {file} is a file, not a folder")]
    ParentIsAFile { path: PathBuf, file: PathBuf },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot bring database {path} to schema version {target}: {source}")]
    Migrate {
        path: PathBuf,
        target: usize,
        source: Box<rusqlite_migration::Error>,
    },
    #[error(
        "database {path} has schema version {found}, newer than this callscore knows ({known}); \
         use a newer callscore or another --db"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(
        "database {path} can only be read here and has schema version {found}; this callscore \
         needs version {known}: run any callscore command on it once where it can be written, \
         to upgrade it"
    )]
    ReadOnlyOutdated {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("database {path}: {context}: {source}")]
    Sql {
        path: PathBuf,
        context: String,
        source: rusqlite::Error,
    },
    #[error("database {path}: stored {what} of call {call_id} is unreadable: {source}")]
    Corrupt {
        path: PathBuf,
        call_id: String,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("cannot read recording {path}: {source}")]
    ReadRecording {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no call matches '{reference}' in {path} (give a call id, an id prefix, or a file name)"
    )]
    CallNotFound { reference: String, path: PathBuf },
    #[error("'{reference}' matches {count} calls in {path}: {candidates}; give more of the id")]
    AmbiguousCall {
        reference: String,
        path: PathBuf,
        count: usize,
        candidates: String,
    },
    #[error("invalid {what} '{value}': expected YYYY-MM-DD or an RFC 3339 time such as 2024-05-02T09:00:00Z")]
    BadDate { what: &'static str, value: String },
    #[error("cannot search for '{query}': {reason}")]
    BadSearch { query: String, reason: String },
    #[error("invalid review for call {call_id}: {reason}")]
    BadReview { call_id: String, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The sha256 (lowercase hex) of a recording's bytes: the call's id. It is the same value as
/// ingest's `Recording::content_hash`, computed here without decoding so a batch can skip calls
/// that are already done by reading each file once, fast.
pub fn content_id(path: &Path) -> Result<String> {
    let read_err = |source| StoreError::ReadRecording {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A connection to a callscore database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating it and its folder when missing) the database at `path` and brings its
    /// schema to [`SCHEMA_VERSION`].
    pub fn open(path: &Path) -> Result<Store> {
        // `--db mysql://host/db` would otherwise become a folder named `mysql:`.
        refuse_urls(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // "File exists" is what the OS says when a parent is a file; say which one.
            if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
                return Err(StoreError::ParentIsAFile {
                    path: path.to_path_buf(),
                    file: file.to_path_buf(),
                });
            }
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::set_up(conn, path.to_path_buf(), true)
    }

    /// Opens an existing database for reading and writing without creating it; for reports,
    /// where a mistyped `--db` should say so instead of showing an empty new database.
    pub fn open_existing(path: &Path) -> Result<Store> {
        refuse_urls(path)?;
        if !path.is_file() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some("no such database file (score some calls into it first)".into()),
                ),
            });
        }
        match Self::open(path) {
            Ok(store) => Ok(store),
            // A database on a read-only disk, or one this user may only read, is still worth
            // reporting on: read it as it is.
            Err(writable) if lacks_write_access(&writable) => match Self::open_read_only(path) {
                Ok(store) => Ok(store),
                Err(e @ StoreError::ReadOnlyOutdated { .. }) => Err(e),
                Err(_) => Err(writable),
            },
            Err(other) => Err(other),
        }
    }

    /// Opens an existing database only for reading (no migration, no journal change): for a
    /// file on read-only media or without write permission. Its schema must be this build's.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let open = |flags: OpenFlags, target: &str| {
            Connection::open_with_flags(target, flags).map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let version_of = |conn: &Connection| -> rusqlite::Result<usize> {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        };
        let plain = open(flags, &path.to_string_lossy())?;
        let (conn, found) = match version_of(&plain) {
            Ok(v) => (plain, v),
            // A WAL database whose -shm file cannot be created (read-only folder or disk):
            // SQLite can still read it when told that nothing will change it meanwhile.
            Err(_) => {
                let uri = format!("file:{}?immutable=1", percent_path(&path.to_string_lossy()));
                let conn = open(flags | OpenFlags::SQLITE_OPEN_URI, &uri)?;
                let v = version_of(&conn).map_err(|source| StoreError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
                (conn, v)
            }
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::ReadOnlyOutdated {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// How long a statement waits for another process's lock before failing with "database is
    /// locked" (default 30 s).
    pub fn set_busy_timeout(&self, wait: Duration) -> Result<()> {
        self.conn
            .busy_timeout(wait)
            .map_err(self.sql("setting the busy timeout"))
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Self::set_up(conn, path, false)
    }

    /// Opens `path` and migrates it only up to `version` (tests of upgrades from older schemas).
    #[doc(hidden)]
    pub fn open_at_schema_version(path: &Path, version: usize) -> Result<Store> {
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        schema::migrations()
            .to_version(&mut conn, version)
            .map_err(|source| StoreError::Migrate {
                path: path.to_path_buf(),
                target: version,
                source: Box::new(source),
            })?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn set_up(mut conn: Connection, path: PathBuf, wal: bool) -> Result<Store> {
        let sql = |context: &str| {
            let (path, context) = (path.clone(), context.to_string());
            move |source| StoreError::Sql {
                path,
                context,
                source,
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql("setting the busy timeout"))?;
        if wal {
            // WAL: readers (reports, the web pages) never block the batch's writer, and a
            // killed writer's uncommitted frames are simply ignored on the next open.
            // A filesystem that cannot do WAL (some network mounts) answers with another mode;
            // that still works, with less concurrency, so the answer is not checked.
            let _mode: String =
                retry_when_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)))
                    .map_err(|source| StoreError::Open {
                    path: path.clone(),
                    source,
                })?;
            // NORMAL is durable against process crashes in WAL mode (a power cut may lose the
            // last commits, never corrupt the file): the right trade for a rerunnable batch.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(sql("setting synchronous"))?;
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql("enabling foreign keys"))?;
        // Migrations take the write lock up front, so two processes opening a new database at
        // once queue instead of both trying to create the tables.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        migrate(&mut conn, &path)?;
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Deferred);
        Ok(Store { conn, path })
    }

    /// Where this database lives (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<usize> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.sql("reading the schema version"))
    }

    pub(crate) fn sql(&self, context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let (path, context) = (self.path.clone(), context.to_string());
        move |source| StoreError::Sql {
            path,
            context,
            source,
        }
    }

    pub(crate) fn corrupt(
        &self,
        call_id: &str,
        what: &'static str,
    ) -> impl FnOnce(serde_json::Error) -> StoreError {
        let (path, call_id) = (self.path.clone(), call_id.to_string());
        move |source| StoreError::Corrupt {
            path,
            call_id,
            what,
            source,
        }
    }

    /// The underlying connection, for crates that need a query this one does not offer yet.
    /// Prefer adding the query here, so SQL stays in one place.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A SQLite database is a path: anything that looks like a URL (`scheme://…`) is refused,
/// named without any password it holds.
fn refuse_urls(path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    if text.contains("://") {
        return Err(StoreError::NotAPath {
            path: pg::without_password(&text).into(),
        });
    }
    Ok(())
}

/// Runs `op` again while SQLite answers "busy". Switching a new file to WAL needs an exclusive
/// lock, and SQLite answers that request with SQLITE_BUSY at once, without its busy handler,
/// while another connection is opening the same file; a short wait resolves it.
fn retry_when_busy<T>(mut op: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    loop {
        match op() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Whether opening for writing failed because this process may not write (read-only file,
/// folder or disk), rather than for a problem reading only would not have.
fn lacks_write_access(e: &StoreError) -> bool {
    use rusqlite::ErrorCode::{CannotOpen, PermissionDenied, ReadOnly};
    let code = |source: &rusqlite::Error| {
        matches!(
            source.sqlite_error_code(),
            Some(ReadOnly | CannotOpen | PermissionDenied)
        )
    };
    match e {
        StoreError::Open { source, .. } | StoreError::Sql { source, .. } => code(source),
        // rusqlite_migration keeps SQLite's error as text.
        StoreError::Migrate { source, .. } => source.to_string().contains("readonly database"),
        StoreError::CreateDir { .. } => true,
        _ => false,
    }
}

/// A path for an SQLite `file:` URI: `%`, `?` and `#` would otherwise end or change it.
fn percent_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let migrations = schema::migrations();
    let version = |conn: &Connection| -> Result<usize> {
        retry_when_busy(|| conn.query_row("PRAGMA user_version", [], |r| r.get(0))).map_err(
            |source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
        )
    };
    // A second process may migrate between our reading the version and our transaction
    // (rusqlite_migration reads it outside the transaction); then our attempt fails on
    // "table exists" and a fresh look finds the work done.
    for attempt in 0..3 {
        let found = version(conn)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        match migrations.to_latest(conn) {
            Ok(()) => return Ok(()),
            Err(_) if attempt < 2 && version(conn)? > found => continue,
            Err(source) => {
                return Err(StoreError::Migrate {
                    path: path.to_path_buf(),
                    target: SCHEMA_VERSION,
                    source: Box::new(source),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_id_is_sha256_of_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.wav");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            content_id(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let err = content_id(&dir.path().join("missing.wav")).unwrap_err();
        assert!(err.to_string().contains("missing.wav"), "{err}");
    }

    #[test]
    fn open_creates_folder_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nested/deeper/calls.db");
        let store = Store::open(&db).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Reopening an up-to-date database is a no-op.
        assert_eq!(
            Store::open(&db).unwrap().schema_version().unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn urls_and_paths_through_a_file_are_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let url = Store::open(Path::new("postgres://qa@db.local/calls")).unwrap_err();
        assert!(matches!(url, StoreError::NotAPath { .. }), "{url}");
        assert!(!Path::new("postgres:").exists(), "no folder was made");
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "x").unwrap();
        let err = Store::open(&file.join("sub/calls.db")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with(&format!("{} is a file, not a folder", file.display())),
            "{err}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("future.db");
        drop(Store::open(&db).unwrap());
        Connection::open(&db)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&db).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("future.db"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("notes.db");
        std::fs::write(
            &db,
            "these are my notes, not a database, and they are long enough",
        )
        .unwrap();
        let err = Store::open(&db).unwrap_err();
        assert!(err.to_string().contains("notes.db"), "{err}");
    }

    #[test]
    fn open_existing_refuses_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open_existing(&dir.path().join("typo.db")).unwrap_err();
        assert!(err.to_string().contains("typo.db"), "{err}");
        assert!(!dir.path().join("typo.db").exists());
    }
}

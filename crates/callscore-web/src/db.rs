//! Database access for handlers. Both backends' clients are synchronous (rusqlite, the sync
//! `postgres` client), so every query runs on tokio's blocking pool; connections are kept in a
//! small pool between requests (opening one costs a schema check, and on PostgreSQL a login).
//! Which backend a connection talks to is the store's business: the pages hold a [`Db`].
//!
//! - SQLite: WAL mode lets the pages read while a batch writes; more connections are opened
//!   under load (each is a file handle) and the extra ones dropped after.
//! - PostgreSQL: each connection is a server process, and a busy page must not use up the
//!   server's `max_connections` that the workers need too, so at most
//!   [`MAX_OPEN_POSTGRES`] are open at once; a request beyond them waits for one to come back.
//!   A connection the server has closed (a restart) is dropped, not handed out again.
//!
//! No pooling crate: a mutex, a condition variable and a list are the whole of it.

use crate::pages::PageError;
use crate::{SharedState, WebError};
use callscore_store::{Db, DbLocation, StoreError};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Idle connections kept for the next request.
const MAX_IDLE: usize = 8;

/// Connections open at once to a PostgreSQL server (pages are short queries: a few serve many
/// reviewers).
pub(crate) const MAX_OPEN_POSTGRES: usize = 4;

pub(crate) struct Pool {
    /// What `--db` named: a SQLite path or a PostgreSQL URL.
    given: PathBuf,
    /// Where relative recording paths are also looked for (a SQLite database's folder).
    folder: Option<PathBuf>,
    /// The most connections open at once; `None`: no cap (SQLite).
    max_open: Option<usize>,
    slots: Mutex<Slots>,
    returned: Condvar,
}

struct Slots {
    idle: Vec<Db>,
    /// Connections handed out and not yet given back.
    in_use: usize,
}

impl Pool {
    /// Opens the database (it must exist; a typo must not serve an empty new database) and
    /// creates the pages' indexes when missing.
    pub fn open(given: PathBuf) -> Result<Pool, WebError> {
        let db = off_the_runtime(|| {
            let db = Db::open_existing(&given)?;
            db.ensure_browse_indexes()?;
            Ok::<_, StoreError>(db)
        })?;
        let max_open = match DbLocation::of(&given) {
            DbLocation::Sqlite(_) => None,
            DbLocation::Postgres(_) => Some(MAX_OPEN_POSTGRES),
        };
        Ok(Pool {
            given,
            folder: db.folder(),
            max_open,
            slots: Mutex::new(Slots {
                idle: vec![db],
                in_use: 0,
            }),
            returned: Condvar::new(),
        })
    }

    /// The database's folder: relative recording paths are also looked for there. A
    /// PostgreSQL database has none (relative paths resolve against the current directory).
    pub fn db_dir(&self) -> Option<PathBuf> {
        self.folder.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A poisoned lock only means another request panicked while holding the list; the
        // connections in it are still sound.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Result<Db, StoreError> {
        let mut slots = self.lock();
        loop {
            if let Some(db) = slots.idle.pop() {
                slots.in_use += 1;
                return Ok(db);
            }
            if self.max_open.is_none_or(|max| slots.in_use < max) {
                break;
            }
            slots = self.returned.wait(slots).unwrap_or_else(|e| e.into_inner());
        }
        // Counted before connecting (outside the lock: a connection takes a round trip or a
        // schema check), so concurrent requests cannot open more than the cap.
        slots.in_use += 1;
        drop(slots);
        let opened = Db::open_existing(&self.given);
        if opened.is_err() {
            self.lock().in_use -= 1;
            self.returned.notify_one();
        }
        opened
    }

    fn give_back(&self, db: Db) {
        let mut slots = self.lock();
        slots.in_use = slots.in_use.saturating_sub(1);
        let spare = if !db.is_broken() && slots.idle.len() < MAX_IDLE {
            slots.idle.push(db);
            None
        } else {
            Some(db)
        };
        drop(slots);
        self.returned.notify_one();
        // Closed outside the lock: closing a PostgreSQL connection is a round trip.
        drop(spare);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.lock().idle);
        if !idle.is_empty() {
            off_the_runtime(move || drop(idle));
        }
    }
}

/// Runs `work` on a thread of its own and waits for it. The PostgreSQL client runs each call
/// (connecting and closing too) on a small runtime of its own, which tokio refuses to start, or
/// drop, on a thread that is running async code; and the pool is opened by [`crate::router`]
/// and dropped with the router, both often done in async code. Queries need none of this:
/// they run on the blocking pool ([`with_store`]).
fn off_the_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(work).join() {
        Ok(out) => out,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A connection taken from the pool, given back when dropped: also when the handler's work
/// panics, since a lost slot would shrink a capped pool for good.
struct Held<'a>(&'a Pool, Option<Db>);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.1.take() {
            self.0.give_back(db);
        }
    }
}

/// Runs `work` with a connection on the blocking pool.
pub(crate) async fn with_store<T, F>(state: &SharedState, work: F) -> Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Db) -> Result<T, StoreError> + Send + 'static,
{
    let state = state.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut held = Held(&state.pool, Some(state.pool.take()?));
        match held.1.as_mut() {
            Some(db) => work(db),
            None => unreachable!("a connection is held until `held` is dropped"),
        }
    })
    .await;
    match joined {
        Ok(result) => result.map_err(PageError::from),
        Err(e) => Err(PageError::Internal(format!("a database task failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn sqlite_pool(dir: &tempfile::TempDir) -> Pool {
        let path = dir.path().join("calls.db");
        drop(callscore_store::Store::open(&path).unwrap());
        Pool::open(path).unwrap()
    }

    #[test]
    fn a_capped_pool_makes_the_next_request_wait_for_a_connection() {
        let dir = tempfile::tempdir().unwrap();
        let mut pool = sqlite_pool(&dir);
        pool.max_open = Some(1);
        let pool = Arc::new(pool);
        let held = pool.take().unwrap();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let db = pool.take().unwrap();
                pool.give_back(db);
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !waiter.is_finished(),
            "a second connection was opened past the cap"
        );
        pool.give_back(held);
        waiter.join().unwrap();
        let slots = pool.lock();
        assert_eq!((slots.in_use, slots.idle.len()), (0, 1));
    }

    #[test]
    fn sqlite_opens_more_under_load_and_keeps_a_few() {
        let dir = tempfile::tempdir().unwrap();
        let pool = sqlite_pool(&dir);
        assert_eq!(pool.db_dir().as_deref(), Some(dir.path()));
        let taken: Vec<Db> = (0..MAX_IDLE + 2).map(|_| pool.take().unwrap()).collect();
        assert_eq!(pool.lock().in_use, MAX_IDLE + 2);
        for db in taken {
            pool.give_back(db);
        }
        let slots = pool.lock();
        assert_eq!((slots.in_use, slots.idle.len()), (0, MAX_IDLE));
    }
}

//! Database access for handlers. rusqlite is synchronous, so every query runs on tokio's
//! blocking pool; connections are kept in a small pool between requests (opening one costs a
//! schema check) and WAL mode lets the pages read while a batch writes.

use crate::pages::PageError;
use crate::{SharedState, WebError};
use callscore_store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::Mutex;

/// Idle connections kept for the next request; more are opened under load and dropped after.
const MAX_IDLE: usize = 8;

pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Pool {
    /// Opens the database (it must exist) and creates the pages' indexes when missing.
    pub fn open(path: PathBuf) -> Result<Pool, WebError> {
        let store = Store::open_existing(&path)?;
        store.ensure_browse_indexes()?;
        Ok(Pool {
            path,
            idle: Mutex::new(vec![store]),
        })
    }

    /// The database's folder: relative recording paths are also looked for there.
    pub fn db_dir(&self) -> Option<PathBuf> {
        self.path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.to_path_buf())
    }

    fn take(&self) -> Result<Store, StoreError> {
        // A poisoned lock only means another request panicked while holding the list; the
        // connections in it are still sound.
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(store) => Ok(store),
            None => Store::open_existing(&self.path),
        }
    }

    fn give_back(&self, store: Store) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(store);
        }
    }
}

/// Runs `work` with a connection on the blocking pool.
pub(crate) async fn with_store<T, F>(state: &SharedState, work: F) -> Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let state = state.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut store = state.pool.take()?;
        let out = work(&mut store);
        state.pool.give_back(store);
        out
    })
    .await;
    match joined {
        Ok(result) => result.map_err(PageError::from),
        Err(e) => Err(PageError::Internal(format!("a database task failed: {e}"))),
    }
}

//! The PostgreSQL backend: the same calls, transcripts, scorecards, results and reviews as the
//! SQLite store, on a server that many machines share, plus the work queue (`queue`) that lets
//! `callscore work` on each of them take calls one at a time.
//!
//! One [`PgStore`] is one connection (the sync `postgres` client), like one [`crate::Store`]:
//! open one per thread. Statements are written for PostgreSQL in this module and its children,
//! mirroring the SQLite ones beside them; callers never see which backend they use (they hold a
//! [`crate::Db`]).
//!
//! Text columns that reports sort or compare (ids, file names, agents, times) are declared
//! `COLLATE "C"`: byte order, as SQLite compares, so both backends list calls in the same order
//! whatever the server's default locale is. Times are stored as the same UTC
//! `YYYY-MM-DDTHH:MM:SSZ` text as in SQLite, so every value read back is the same.

mod browse;
mod query;
mod queue;
mod schema;
mod search;
mod write;

pub use queue::{NextCall, QueuedCall};
pub use schema::PG_SCHEMA_VERSION;

use crate::{Result, StoreError};
use postgres::{Client, NoTls};
use std::cell::{RefCell, RefMut};

/// A connection to a callscore database on a PostgreSQL server.
pub struct PgStore {
    // The client needs `&mut` for every statement; the store's API (shared with SQLite) reads
    // through `&self`. One store is one thread's connection, never shared, so a RefCell is
    // enough (statements never nest).
    client: RefCell<Client>,
    /// The URL without its password: what errors and logs show.
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish()
    }
}

/// `url` with any password replaced by `***`, for messages.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // userinfo ends at the last '@' before the first '/' (the path may hold '@').
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let shown_rest = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            format!("{user}{}", &rest[at..])
        }
        None => rest.to_string(),
    };
    // A password may also come as a query parameter.
    let shown = format!("{scheme}://{shown_rest}");
    match shown.find("password=") {
        Some(i) => {
            let end = shown[i..].find('&').map_or(shown.len(), |e| i + e);
            format!("{}password=***{}", &shown[..i], &shown[end..])
        }
        None => shown,
    }
}

impl PgStore {
    /// Connects to the database at `url` and brings its schema to [`PG_SCHEMA_VERSION`],
    /// creating the tables in an empty database.
    pub fn open(url: &str) -> Result<PgStore> {
        let store = Self::connect(url)?;
        store.migrate()?;
        Ok(store)
    }

    /// Connects to a database that already holds callscore's tables (reports: a mistyped URL
    /// must say so instead of showing an empty new database), bringing an older schema up to
    /// date.
    pub fn open_existing(url: &str) -> Result<PgStore> {
        let store = Self::connect(url)?;
        if !store.has_schema()? {
            return Err(StoreError::NoCallscoreTables {
                url: store.shown.clone(),
            });
        }
        store.migrate()?;
        Ok(store)
    }

    fn connect(url: &str) -> Result<PgStore> {
        let shown = without_password(url);
        // No TLS: the workspace carries no TLS stack, and the server is expected on a private
        // network (see the README's "many machines"); `sslmode=require` in the URL fails here
        // with the client's own message rather than silently going unencrypted.
        let client = Client::connect(url, NoTls).map_err(|source| StoreError::PgConnect {
            url: shown.clone(),
            source,
        })?;
        Ok(PgStore {
            client: RefCell::new(client),
            shown,
        })
    }

    /// The URL of this database, without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    pub(crate) fn client_mut(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    /// The underlying client, for tests that pin timestamps as the SQLite tests do through
    /// [`crate::Store::connection`]. Prefer adding the statement here.
    #[doc(hidden)]
    pub fn client(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    pub(crate) fn sql(&self, context: &str) -> impl FnOnce(postgres::Error) -> StoreError {
        let (url, context) = (self.shown.clone(), context.to_string());
        move |source| StoreError::Pg {
            url,
            context,
            source,
        }
    }

    pub(crate) fn corrupt(
        &self,
        call_id: &str,
        what: &'static str,
    ) -> impl FnOnce(serde_json::Error) -> StoreError {
        let (path, call_id) = (self.shown.clone().into(), call_id.to_string());
        move |source| StoreError::Corrupt {
            path,
            call_id,
            what,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("postgres://qa:s3cret@db.local:5432/calls"),
            "postgres://qa:***@db.local:5432/calls"
        );
        assert_eq!(
            without_password("postgresql://qa@db.local/calls"),
            "postgresql://qa@db.local/calls"
        );
        assert_eq!(
            without_password("postgres://db.local/calls?user=qa&password=x&sslmode=disable"),
            "postgres://db.local/calls?user=qa&password=***&sslmode=disable"
        );
    }
}

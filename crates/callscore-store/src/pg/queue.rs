//! The work queue on PostgreSQL: recordings are registered (path and content hash, status
//! `queued`), and any number of workers on any number of machines take them one at a time.
//!
//! A worker takes a call with `SELECT … FOR UPDATE SKIP LOCKED` (two workers asking at once
//! get different calls, and neither waits for the other) and holds it by a lease: the claim
//! records when the lease ends by the server's clock; the worker renews it while it works. A
//! worker killed with `kill -9` stops renewing, its lease runs out, and the next worker that
//! asks takes the call. Scoring stays exactly-once even if a lease is taken from a worker that
//! was only slow: the scorecard's UNIQUE (call, rubric hash) and the row lock every write takes
//! make the second finisher store nothing.

use super::write::{NOW_MS, NOW_STAMP};
use super::PgStore;
use crate::claim::ClaimOwner;
use crate::write::file_name_of;
use crate::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A call taken from the queue: this worker's until it records it, fails it or releases it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCall {
    pub id: String,
    pub source_path: PathBuf,
    /// Its transcript is stored: scoring needs no audio and no model.
    pub has_transcript: bool,
}

/// The answer to `claim_next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextCall {
    /// This call is ours.
    Claimed(QueuedCall),
    /// Nothing free now, but other workers hold calls that are not done: one of them may be
    /// killed and its lease run out, so ask again later.
    Wait,
    /// Nothing left to do.
    Empty,
}

impl PgStore {
    /// Registers recordings to score (call id = content hash, and the path workers read it
    /// from), in one transaction. A new call is `queued`; a call that failed is queued again
    /// (a new registration is a new try, as a rerun of `score` is on SQLite); a call that is
    /// queued, in work or scored is left as it is. Returns how many calls were queued.
    pub fn register_many(&mut self, calls: &[(&str, &Path)]) -> Result<usize> {
        let sql = self.sql("registering recordings");
        let mut client = self.client_mut();
        let result = (|| {
            let mut tx = client.transaction()?;
            let insert = tx.prepare(&format!(
                "INSERT INTO calls (id, source_path, file_name, status) VALUES ($1, $2, $3, 'queued')
                 ON CONFLICT (id) DO UPDATE SET
                     status = 'queued', error = NULL, source_path = excluded.source_path,
                     file_name = excluded.file_name, updated_at = {NOW_STAMP}
                 WHERE calls.status = 'failed'"
            ))?;
            let mut queued = 0;
            for (id, path) in calls {
                let source = path.to_string_lossy();
                queued += tx.execute(&insert, &[id, &source.as_ref(), &file_name_of(path)])?;
            }
            tx.commit()?;
            Ok(queued as usize)
        })();
        result.map_err(sql)
    }

    /// [`PgStore::register_many`] for one recording; whether it was queued.
    pub fn register(&mut self, call_id: &str, source_path: &Path) -> Result<bool> {
        Ok(self.register_many(&[(call_id, source_path)])? > 0)
    }

    /// Takes the oldest call that is queued (or transcribed, waiting for a scorecard) and not
    /// held under a live lease, for `owner`, with a lease of `lease`.
    pub fn claim_next(&mut self, owner: &ClaimOwner, lease: Duration) -> Result<NextCall> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4);
        let sql = self.sql("taking a call from the queue");
        let mut client = self.client_mut();
        let row = client
            .query_opt(
                &format!(
                    "WITH next AS (
                         SELECT id FROM calls
                         WHERE status IN ('queued', 'transcribed')
                           AND (claimed_by IS NULL OR lease_expires_ms IS NULL OR lease_expires_ms < {NOW_MS})
                         ORDER BY created_at, id
                         LIMIT 1
                         FOR UPDATE SKIP LOCKED
                     )
                     UPDATE calls c SET claimed_by = $1, claimed_at_ms = {NOW_MS},
                         lease_expires_ms = {NOW_MS} + $2::bigint, attempts = c.attempts + 1,
                         updated_at = {NOW_STAMP}
                     FROM next WHERE c.id = next.id
                     RETURNING c.id, c.source_path,
                               EXISTS (SELECT 1 FROM transcripts t WHERE t.call_id = c.id)"
                ),
                &[&owner.token(), &lease_ms],
            )
            .map_err(sql)?;
        if let Some(r) = row {
            return Ok(NextCall::Claimed(QueuedCall {
                id: r.get(0),
                source_path: PathBuf::from(r.get::<_, String>(1)),
                has_transcript: r.get(2),
            }));
        }
        let pending: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM calls WHERE status IN ('queued', 'transcribed'))",
                &[],
            )
            .map_err(self.sql("looking at the queue"))?
            .get(0);
        Ok(if pending {
            NextCall::Wait
        } else {
            NextCall::Empty
        })
    }
}

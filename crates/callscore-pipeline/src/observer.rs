//! Progress reporting. The pipeline tells an observer what it is doing; the binary draws a
//! progress bar or prints lines, a server could log, tests count.

use crate::batch::{CallOutcome, PlanSummary};

/// Receives the batch's progress, from the thread that runs the batch (never from a worker, so
/// implementations need no locking of their own beyond `Sync`). Every method defaults to nothing.
pub trait Observer: Sync {
    /// Many recordings were found and are being checked against the database.
    fn checking(&self, _recordings: usize) {}
    /// The plan is made: what will be done, and by how many workers.
    fn planned(&self, _plan: &PlanSummary, _workers: usize) {}
    /// One call is done (scored, failed, or found done by another process). `done` counts the
    /// finished calls so far, of `total` planned.
    fn finished(&self, _outcome: &CallOutcome, _done: usize, _total: usize) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {}

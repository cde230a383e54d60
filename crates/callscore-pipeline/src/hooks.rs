//! Crash-test points. The crash-safety tests need the process to die at exact moments (after
//! the N-th commit, just before it, in the middle of a transcription); the pipeline calls these
//! hooks at those moments and the caller decides what happens. The library never reads the
//! environment for them: the binary does, and passes its implementation in.

/// Called by the workers at the moments a crash is most interesting. Every method defaults to
/// doing nothing. `n` counts from 1 within this process.
pub trait FaultHooks: Sync {
    /// The `n`-th transcription of this process has just started (on a worker thread).
    fn during_transcription(&self, _n: usize) {}
    /// The `n`-th call is fully computed and about to be committed.
    fn before_commit(&self, _n: usize) {}
    /// The `n`-th call has just been committed.
    fn after_commit(&self, _n: usize) {}
}

/// No crash points: what everything but the crash tests uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFaults;

impl FaultHooks for NoFaults {}

//! Who is working on a call: the claim (lease) that keeps two processes on one database from
//! transcribing the same call, and the check that lets a rerun take over the claims of a
//! process that was killed.
//!
//! A claim is `calls.claimed_by` (the owner's token) plus `calls.claimed_at_ms` (last renewal).
//! It can be taken over when it is older than [`CLAIM_LEASE_MS`] (the owner stopped renewing,
//! wherever it ran), or at once when the owner ran on this host and that process is gone: after
//! `kill -9` the rerun should not wait out a lease. Correctness never rests on the claim alone:
//! the scorecard's UNIQUE (call, rubric hash) makes a second scoring a no-op even if a lease
//! is wrongly taken over; the claim only saves duplicated transcription work.

use std::path::Path;

/// How long a claim holds without renewal. Workers renew well within it (see
/// [`CLAIM_RENEW_EVERY_MS`]), so only a stopped or frozen process loses its claims.
pub const CLAIM_LEASE_MS: i64 = 120_000;

/// How often a live process should renew its claims ([`crate::Store::renew_claims`]).
pub const CLAIM_RENEW_EVERY_MS: i64 = 20_000;

/// The identity of a working process: `host:pid:start`, where `start` is the process's start
/// time in clock ticks since boot (Linux `/proc/PID/stat` field 22) so a recycled pid is not
/// mistaken for the original owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOwner {
    pub host: String,
    pub pid: u32,
    pub start_ticks: Option<u64>,
}

impl ClaimOwner {
    /// The running process.
    pub fn current_process() -> Self {
        let pid = std::process::id();
        ClaimOwner {
            host: local_host_name(),
            pid,
            start_ticks: process_start_ticks(pid),
        }
    }

    /// The text stored in `calls.claimed_by`.
    pub fn token(&self) -> String {
        match self.start_ticks {
            Some(t) => format!("{}:{}:{}", self.host, self.pid, t),
            None => format!("{}:{}:", self.host, self.pid),
        }
    }

    /// Parses a stored token back; `None` for text in another shape.
    pub fn parse(token: &str) -> Option<Self> {
        // Host names cannot contain ':', but split from the right to be safe.
        let mut parts = token.rsplitn(3, ':');
        let start = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        let start_ticks = if start.is_empty() {
            None
        } else {
            Some(start.parse().ok()?)
        };
        Some(ClaimOwner {
            host,
            pid,
            start_ticks,
        })
    }
}

/// Whether the process that holds `holder` is known to be gone. Only a holder on this host can
/// be checked; for anything else (another host, an unreadable token) the answer is "not known
/// dead" and the lease decides.
pub(crate) fn holder_is_dead(holder: &str, local: &ClaimOwner) -> bool {
    let Some(owner) = ClaimOwner::parse(holder) else {
        return false;
    };
    if owner.host != local.host {
        return false;
    }
    if !Path::new("/proc/self").exists() {
        // No procfs (not Linux): cannot tell.
        return false;
    }
    match process_start_ticks(owner.pid) {
        None => true,
        // The pid is alive; it is the owner only if it started at the same moment.
        Some(ticks) => owner.start_ticks.is_some_and(|t| t != ticks),
    }
}

/// Whether a claim taken by `holder` at `claimed_at_ms` may be taken over at `now_ms` by `me`.
pub(crate) fn claim_is_free(
    holder: Option<&str>,
    claimed_at_ms: Option<i64>,
    me: &ClaimOwner,
    now_ms: i64,
) -> bool {
    let Some(holder) = holder else { return true };
    if holder == me.token() {
        return true;
    }
    let expired = claimed_at_ms.is_none_or(|at| now_ms.saturating_sub(at) > CLAIM_LEASE_MS);
    expired || holder_is_dead(holder, me)
}

fn local_host_name() -> String {
    // Read from procfs rather than a crate: it is one file, and a missing value only weakens the
    // dead-owner shortcut (the lease still works).
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Start time of a process in clock ticks since boot, or `None` when it does not exist (or
/// there is no procfs).
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (comm) is in parentheses and may contain spaces; fields after the last ')' are
    // plain. starttime is field 22, i.e. the 20th after comm.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips() {
        let me = ClaimOwner::current_process();
        assert_eq!(ClaimOwner::parse(&me.token()), Some(me.clone()));
        let no_start = ClaimOwner {
            host: "box".into(),
            pid: 7,
            start_ticks: None,
        };
        assert_eq!(ClaimOwner::parse(&no_start.token()), Some(no_start));
        assert_eq!(ClaimOwner::parse("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_missing_pid_is_dead() {
        let me = ClaimOwner::current_process();
        assert!(!holder_is_dead(&me.token(), &me));
        // pid_max on Linux is at most 2^22, so this pid cannot exist.
        let gone = ClaimOwner {
            pid: 9_999_999,
            ..me.clone()
        };
        if Path::new("/proc/self").exists() {
            assert!(holder_is_dead(&gone.token(), &me));
        }
        // A recycled pid (same pid, different start) is not the owner.
        let recycled = ClaimOwner {
            start_ticks: me.start_ticks.map(|t| t + 1),
            ..me.clone()
        };
        if me.start_ticks.is_some() {
            assert!(holder_is_dead(&recycled.token(), &me));
        }
    }

    #[test]
    fn other_hosts_are_judged_by_the_lease_alone() {
        let me = ClaimOwner::current_process();
        let remote = ClaimOwner {
            host: format!("{}-elsewhere", me.host),
            pid: 9_999_999,
            start_ticks: Some(1),
        };
        assert!(!holder_is_dead(&remote.token(), &me));
        assert!(!claim_is_free(
            Some(&remote.token()),
            Some(1_000),
            &me,
            1_000 + CLAIM_LEASE_MS
        ));
        assert!(claim_is_free(
            Some(&remote.token()),
            Some(1_000),
            &me,
            1_001 + CLAIM_LEASE_MS
        ));
    }

    #[test]
    fn own_and_unclaimed_calls_are_free() {
        let me = ClaimOwner::current_process();
        assert!(claim_is_free(None, None, &me, 0));
        assert!(claim_is_free(Some(&me.token()), Some(0), &me, 1));
    }
}

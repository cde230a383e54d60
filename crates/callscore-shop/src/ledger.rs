//! Which programme slots have been placed, so that a slot is never called twice (cron may run
//! `shop plan --run` every few minutes, and two runs may overlap).
//!
//! A slot is recorded *before* it is dialled (outcome `None`) and again with its outcome after:
//! a run that dies mid-call leaves the slot marked as placed, so "never twice" wins over "at
//! least once" (a crashed slot shows up without an outcome, for a person to look at).
//!
//! [`MemoryLedger`] is for tests; [`FileLedger`] keeps a JSON file beside the programme,
//! rewritten atomically on every record and locked while a run holds it. A database-backed
//! ledger implements the same trait.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One slot's attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The slot's id ([`crate::plan::Slot::id`]).
    pub slot: String,
    pub scenario: String,
    pub to: String,
    /// When the slot was scheduled (RFC 3339).
    pub scheduled: String,
    /// When the attempt began (RFC 3339).
    pub placed_at: String,
    /// The call's outcome (`answered`, `busy`…); None while the call is in progress, or when
    /// the run that placed it died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The recording or attempt record written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why the attempt could not be made, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("ledger {place}: {reason}")]
pub struct LedgerError {
    /// The ledger's file, table or other location.
    pub place: String,
    pub reason: String,
}

/// Where placed slots are remembered.
pub trait Ledger {
    /// Whether the slot has already been placed (or is being placed).
    fn is_placed(&self, slot: &str) -> Result<bool, LedgerError>;
    /// Records an attempt, replacing an earlier entry of the same slot. It must be durable
    /// when this returns: the call is dialled next.
    fn record(&mut self, entry: &LedgerEntry) -> Result<(), LedgerError>;
}

/// A ledger in memory (tests, dry runs).
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    entries: BTreeMap<String, LedgerEntry>,
}

impl MemoryLedger {
    pub fn entries(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.entries.values()
    }
}

impl Ledger for MemoryLedger {
    fn is_placed(&self, slot: &str) -> Result<bool, LedgerError> {
        Ok(self.entries.contains_key(slot))
    }

    fn record(&mut self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        self.entries.insert(entry.slot.clone(), entry.clone());
        Ok(())
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    entries: Vec<LedgerEntry>,
}

/// A ledger kept in a JSON file. Opening it takes an exclusive lock on `FILE.lock`, held until
/// the ledger is dropped, so two runs never place the same slot.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    entries: BTreeMap<String, LedgerEntry>,
    _lock: std::fs::File,
}

impl FileLedger {
    /// The ledger file that belongs beside a programme: `PLAN.ledger.json`.
    pub fn beside(plan: &Path) -> PathBuf {
        let stem = plan
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "plan".into());
        plan.with_file_name(format!("{stem}.ledger.json"))
    }

    /// Opens (or starts) the ledger at `path`. Fails at once, rather than waiting, when another
    /// run holds it.
    pub fn open(path: &Path) -> Result<FileLedger, LedgerError> {
        let err = |reason: String| LedgerError {
            place: path.display().to_string(),
            reason,
        };
        let lock_path = path.with_file_name(format!(
            "{}.lock",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| err(format!("cannot open its lock {}: {e}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(err(
                    "another run is placing calls from this programme (its lock is held)".into(),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(err(format!("cannot lock {}: {e}", lock_path.display())))
            }
        }
        let entries = match std::fs::read(path) {
            Ok(bytes) => {
                let file: LedgerFile = serde_json::from_slice(&bytes)
                    .map_err(|e| err(format!("unreadable ({e}); fix or move it aside")))?;
                file.entries
                    .into_iter()
                    .map(|e| (e.slot.clone(), e))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        Ok(FileLedger {
            path: path.to_path_buf(),
            entries,
            _lock: lock,
        })
    }

    pub fn entries(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.entries.values()
    }

    /// The ledger's entries as they are on disk now, without taking the lock (for printing a
    /// schedule while a run may be placing calls). A missing file is an empty ledger.
    pub fn snapshot(path: &Path) -> Result<MemoryLedger, LedgerError> {
        let mut ledger = MemoryLedger::default();
        match std::fs::read(path) {
            Ok(bytes) => {
                let file: LedgerFile = serde_json::from_slice(&bytes).map_err(|e| LedgerError {
                    place: path.display().to_string(),
                    reason: format!("unreadable ({e}); fix or move it aside"),
                })?;
                for e in file.entries {
                    ledger.entries.insert(e.slot.clone(), e);
                }
                Ok(ledger)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ledger),
            Err(e) => Err(LedgerError {
                place: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    fn save(&self) -> Result<(), LedgerError> {
        let file = LedgerFile {
            entries: self.entries.values().cloned().collect(),
        };
        let tmp = self.path.with_file_name(format!(
            ".{}.part",
            self.path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let result = (|| -> std::io::Result<()> {
            let json = serde_json::to_vec_pretty(&file)?;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // The rename is durable once the folder is synced.
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            LedgerError {
                place: self.path.display().to_string(),
                reason: format!("cannot write: {e}"),
            }
        })
    }
}

impl Ledger for FileLedger {
    fn is_placed(&self, slot: &str) -> Result<bool, LedgerError> {
        Ok(self.entries.contains_key(slot))
    }

    fn record(&mut self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let previous = self.entries.insert(entry.slot.clone(), entry.clone());
        let saved = self.save();
        if saved.is_err() {
            // Keep memory and disk in step.
            match previous {
                Some(p) => self.entries.insert(entry.slot.clone(), p),
                None => self.entries.remove(&entry.slot),
            };
        }
        saved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(slot: &str, outcome: Option<&str>) -> LedgerEntry {
        LedgerEntry {
            slot: slot.into(),
            scenario: "billing-question".into(),
            to: "sip:reception@127.0.0.1".into(),
            scheduled: "2026-01-05T09:37:00Z".into(),
            placed_at: "2026-01-05T09:37:04Z".into(),
            outcome: outcome.map(str::to_string),
            call_id: None,
            file: None,
            error: None,
        }
    }

    #[test]
    fn memory_ledger_remembers() {
        let mut l = MemoryLedger::default();
        assert!(!l.is_placed("a").unwrap());
        l.record(&entry("a", None)).unwrap();
        assert!(l.is_placed("a").unwrap());
        l.record(&entry("a", Some("busy"))).unwrap();
        assert_eq!(l.entries().count(), 1);
    }

    #[test]
    fn file_ledger_survives_reopening_and_is_locked_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = FileLedger::beside(&dir.path().join("PLAN.toml"));
        assert_eq!(path.file_name().unwrap(), "PLAN.ledger.json");
        {
            let mut l = FileLedger::open(&path).unwrap();
            l.record(&entry("s1", None)).unwrap();
            l.record(&entry("s1", Some("answered"))).unwrap();
            l.record(&entry("s2", Some("no_answer"))).unwrap();
            let second = FileLedger::open(&path).unwrap_err();
            assert!(second.reason.contains("another run"), "{second}");
        }
        let snapshot = FileLedger::snapshot(&path).unwrap();
        assert_eq!(snapshot.entries().count(), 2);
        let l = FileLedger::open(&path).unwrap();
        assert!(FileLedger::snapshot(&path).is_ok(), "reading needs no lock");
        assert!(l.is_placed("s1").unwrap() && l.is_placed("s2").unwrap());
        assert!(!l.is_placed("s3").unwrap());
        let outcomes: Vec<_> = l.entries().map(|e| e.outcome.clone().unwrap()).collect();
        assert_eq!(outcomes, ["answered", "no_answer"]);
    }

    #[test]
    fn a_damaged_ledger_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ledger.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let err = FileLedger::open(&path).unwrap_err();
        assert!(err.reason.contains("unreadable"), "{err}");
    }
}

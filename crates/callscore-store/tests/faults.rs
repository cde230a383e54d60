//! The database under faults: a disk that fills mid-batch, a database on read-only media, and
//! one locked by another process. Each gives a clear error, damages nothing, and the work can
//! go on once the fault is gone. The disk tests mount a small tmpfs, which needs root (CI runs
//! as root); elsewhere they say they were skipped.
#![allow(clippy::print_stderr)] // a skip must be visible in the test log

use callscore_core::{CallMeta, Scorecard, Segment, Speaker, Transcript};
use callscore_store::{NewCall, ReportFilter, Store, StoreError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct Tmpfs {
    _base: tempfile::TempDir,
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("disk");
        std::fs::create_dir(&dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "callscore-test",
            ])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs on {}", dir.display());
        Tmpfs { _base: base, dir }
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// A 5-minute call's transcript (about 20 KB of JSON and search rows).
fn transcript(i: usize) -> Transcript {
    Transcript {
        duration_ms: 300_000,
        model: "tiny.en".into(),
        segments: (0..60u64)
            .map(|k| Segment {
                speaker: if k % 2 == 0 { Speaker::Agent } else { Speaker::Caller },
                start_ms: k * 5_000,
                end_ms: k * 5_000 + 4_000,
                text: format!("Call {i}, line {k}: I can look into the bill for you, could you read me the meter?"),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn scorecard() -> Scorecard {
    Scorecard {
        rubric_id: "default".into(),
        rubric_version: 1,
        rubric_hash: "h".into(),
        score: 100.0,
        passed: true,
        flagged: false,
        flag_reasons: vec![],
        judged: true,
        results: vec![],
    }
}

fn store_call(store: &mut Store, i: usize) -> Result<(), StoreError> {
    let id = format!("{i:064x}");
    let path = PathBuf::from(format!("/recordings/call-{i}.wav"));
    let meta = CallMeta::default();
    store
        .record_scored_call(
            &NewCall {
                id: &id,
                source_path: &path,
                duration_ms: 300_000,
                channels: 2,
                sample_rate: 8_000,
                format: "wav",
                meta: &meta,
                warnings: &[],
            },
            &transcript(i),
            &scorecard(),
        )
        .map(|_| ())
}

fn integrity(db: &Path) -> String {
    let store = Store::open(db).unwrap();
    store
        .connection()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_full_disk_fails_one_call_keeps_the_rest_and_the_next_run_completes() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let disk = Tmpfs::mount("640k");
    let db = disk.dir.join("calls.db");
    let mut store = Store::open(&db).unwrap();
    let mut stored = 0;
    let failure = loop {
        match store_call(&mut store, stored) {
            Ok(()) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 1_000, "a 640 KB disk never filled");
    };
    assert!(stored > 0, "some calls fit before the disk filled");
    let text = failure.to_string();
    assert!(
        text.contains(&db.display().to_string()) && text.contains("full"),
        "the error names the database and the reason: {text}"
    );
    drop(store);
    // What was committed is whole; the call that failed left nothing behind.
    assert_eq!(integrity(&db), "ok");
    let store = Store::open(&db).unwrap();
    let report = store.report(&ReportFilter::default()).unwrap();
    assert_eq!(report.calls.len(), stored);
    assert!(store
        .transcript(&format!("{stored:064x}"))
        .unwrap()
        .is_none());
    drop(store);

    // Space again: the next run stores the call that failed, and more.
    disk.remount("size=16m");
    let mut store = Store::open(&db).unwrap();
    for i in stored..stored + 3 {
        store_call(&mut store, i).unwrap();
    }
    let report = store.report(&ReportFilter::default()).unwrap();
    assert_eq!(report.calls.len(), stored + 3);
    drop(store);
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn a_database_on_read_only_media_is_reported_on_and_refuses_writes_clearly() {
    if !is_root() {
        eprintln!("skipped: mounting a read-only tmpfs needs root (CI runs as root)");
        return;
    }
    let disk = Tmpfs::mount("16m");
    let db = disk.dir.join("calls.db");
    {
        let mut store = Store::open(&db).unwrap();
        for i in 0..3 {
            store_call(&mut store, i).unwrap();
        }
    }
    disk.remount("ro");
    // Root may write to a file whatever its mode; only a read-only mount stops it.
    assert!(std::fs::write(disk.dir.join("probe"), b"x").is_err());

    let mut store = Store::open_existing(&db).expect("a read-only database opens for reading");
    assert_eq!(
        store.report(&ReportFilter::default()).unwrap().calls.len(),
        3
    );
    let err = store_call(&mut store, 9).unwrap_err().to_string();
    assert!(
        err.contains(&db.display().to_string()) && err.contains("readonly"),
        "{err}"
    );
    assert_eq!(
        store.report(&ReportFilter::default()).unwrap().calls.len(),
        3
    );
}

#[test]
fn an_outdated_database_on_read_only_media_says_how_to_upgrade_it() {
    if !is_root() {
        eprintln!("skipped: mounting a read-only tmpfs needs root (CI runs as root)");
        return;
    }
    let disk = Tmpfs::mount("4m");
    let db = disk.dir.join("old.db");
    drop(Store::open_at_schema_version(&db, 3).unwrap());
    disk.remount("ro");
    let err = Store::open_existing(&db).unwrap_err();
    assert!(
        matches!(err, StoreError::ReadOnlyOutdated { found: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("where it can be written"), "{err}");
}

#[test]
fn a_database_locked_by_another_process_waits_then_fails_without_damage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("calls.db");
    let mut store = Store::open(&db).unwrap();
    store_call(&mut store, 0).unwrap();
    store.set_busy_timeout(Duration::from_millis(300)).unwrap();

    // Another process's writer holds the lock (a plain SQLite connection, as any tool would).
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let err = store_call(&mut store, 1).unwrap_err().to_string();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "it waited for the lock first"
    );
    assert!(
        err.contains(&db.display().to_string()) && err.contains("locked"),
        "{err}"
    );
    holder.execute_batch("ROLLBACK").unwrap();

    // Free again: the same call goes in, the first is untouched.
    store_call(&mut store, 1).unwrap();
    assert_eq!(
        store.report(&ReportFilter::default()).unwrap().calls.len(),
        2
    );
    drop(store);
    assert_eq!(integrity(&db), "ok");
}

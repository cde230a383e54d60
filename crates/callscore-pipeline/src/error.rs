//! What can stop the pipeline, and what can fail one call.

use callscore_ingest::IngestError;
use callscore_store::StoreError;
use callscore_transcribe::TranscribeError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(
        "nothing to score: give recordings or folders (e.g. `callscore score recordings/`), \
         or --transcript FILE.json"
    )]
    NothingGiven,
    #[error("no recordings found in {paths} (looked for {extensions} files)")]
    NoRecordings { paths: String, extensions: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no model to transcribe with: {0}")]
    ModelUnavailable(String),
    #[error("cannot load the model {}: {source}", path.display())]
    ModelLoad {
        path: PathBuf,
        source: TranscribeError,
    },
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("cannot transcribe {}: {source}", path.display())]
    Transcribe {
        path: PathBuf,
        source: TranscribeError,
    },
    #[error("{}: the file changed while the batch was running; score it again", path.display())]
    FileChanged { path: PathBuf },
    #[error("{}: the stored transcript disappeared", path.display())]
    TranscriptGone { path: PathBuf },
    #[error("{}: internal error (please report it): {what}", path.display())]
    Panic { path: PathBuf, what: String },
}

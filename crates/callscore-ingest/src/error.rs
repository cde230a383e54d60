use std::path::{Path, PathBuf};

use crate::resample::ResampleError;

/// Why a recording could not be loaded. Every variant names the file, and its message says what
/// is wrong in words a QA analyst can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: the file is empty (0 bytes)", path.display())]
    Empty { path: PathBuf },

    #[error("{}: truncated WAV header: {detail}", path.display())]
    TruncatedHeader { path: PathBuf, detail: String },

    #[error("{}: invalid WAV header: {detail}", path.display())]
    InvalidHeader { path: PathBuf, detail: String },

    #[error("{}: not an audio file ({detail})", path.display())]
    NotAudio { path: PathBuf, detail: String },

    #[error("{}: unsupported container: {detail}", path.display())]
    UnsupportedFormat { path: PathBuf, detail: String },

    #[error("{}: unsupported codec: {codec}", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },

    #[error("{}: unsupported channel count {channels} (expected 1 or more)", path.display())]
    UnsupportedChannels { path: PathBuf, channels: u16 },

    #[error("{}: corrupt audio: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    #[error("{}: contains no audio samples", path.display())]
    NoAudio { path: PathBuf },

    #[error("{}: invalid sidecar: {reason}", path.display())]
    Sidecar { path: PathBuf, reason: String },

    #[error("{}: {source}", path.display())]
    Resample {
        path: PathBuf,
        source: ResampleError,
    },
}

impl IngestError {
    /// The file the error is about (the sidecar's path for [`IngestError::Sidecar`]).
    pub fn path(&self) -> &Path {
        match self {
            IngestError::Io { path, .. }
            | IngestError::Empty { path }
            | IngestError::TruncatedHeader { path, .. }
            | IngestError::InvalidHeader { path, .. }
            | IngestError::NotAudio { path, .. }
            | IngestError::UnsupportedFormat { path, .. }
            | IngestError::UnsupportedCodec { path, .. }
            | IngestError::UnsupportedChannels { path, .. }
            | IngestError::Corrupt { path, .. }
            | IngestError::NoAudio { path }
            | IngestError::Sidecar { path, .. }
            | IngestError::Resample { path, .. } => path,
        }
    }

    /// A short stable name for the kind of failure, for stores and CSV exports.
    pub fn kind(&self) -> &'static str {
        match self {
            IngestError::Io { .. } => "io",
            IngestError::Empty { .. } => "empty",
            IngestError::TruncatedHeader { .. } => "truncated_header",
            IngestError::InvalidHeader { .. } => "invalid_header",
            IngestError::NotAudio { .. } => "not_audio",
            IngestError::UnsupportedFormat { .. } => "unsupported_format",
            IngestError::UnsupportedCodec { .. } => "unsupported_codec",
            IngestError::UnsupportedChannels { .. } => "unsupported_channels",
            IngestError::Corrupt { .. } => "corrupt",
            IngestError::NoAudio { .. } => "no_audio",
            IngestError::Sidecar { .. } => "sidecar",
            IngestError::Resample { .. } => "resample",
        }
    }
}

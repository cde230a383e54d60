//! Reading rubric, transcript and case files with a size cap, so `/dev/zero` or a mistaken huge
//! file is refused after a bounded read instead of filling memory.

use callscore_core::limits::{read_to_string_limited, LimitedReadError};
use std::io;
use std::path::Path;

pub(crate) use callscore_core::limits::{MAX_RUBRIC_BYTES, MAX_TRANSCRIPT_BYTES};

/// The file's text, or an I/O error whose message says what is wrong (too large, not UTF-8).
pub(crate) fn read_capped(path: &Path, limit: u64) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    read_to_string_limited(file, limit).map_err(|e| match e {
        LimitedReadError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    })
}

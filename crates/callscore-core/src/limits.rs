//! Size caps for outside input that is read whole (rubrics, transcripts, sidecars), and the
//! bounded read that enforces them.
//!
//! `std::fs::read_to_string` reads until the input ends: on `/dev/zero`, a FIFO or a mistaken
//! multi-gigabyte file that is until memory runs out. [`read_to_string_limited`] reads at most
//! one byte past the cap, so the work is bounded by the cap whatever the input is. It takes any
//! reader (this crate opens no files); callers open the file and name it in their error.

use std::io::{self, Read};

/// Largest rubric file: hundreds of criteria fit in a few dozen KiB.
pub const MAX_RUBRIC_BYTES: u64 = 1024 * 1024;
/// Largest transcript JSON: a three-hour call with word timings is a few MiB.
pub const MAX_TRANSCRIPT_BYTES: u64 = 32 * 1024 * 1024;
/// Largest sidecar JSON (a handful of metadata fields).
pub const MAX_SIDECAR_BYTES: u64 = 1024 * 1024;

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum LimitedReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("it is larger than {} (the most accepted); is it the right file?", fmt_bytes(*.limit))]
    TooLarge { limit: u64 },
    #[error("it is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
}

fn fmt_bytes(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// Reads all of `reader` as UTF-8 text, refusing (after reading at most `limit + 1` bytes) input
/// longer than `limit` bytes.
pub fn read_to_string_limited<R: Read>(reader: R, limit: u64) -> Result<String, LimitedReadError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(LimitedReadError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|e| LimitedReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_past_it() {
        assert_eq!(read_to_string_limited(&b"abc"[..], 3).unwrap(), "abc");
        assert_eq!(read_to_string_limited(&b""[..], 0).unwrap(), "");
        let err = read_to_string_limited(&b"abcd"[..], 3).unwrap_err();
        assert!(
            matches!(err, LimitedReadError::TooLarge { limit: 3 }),
            "{err}"
        );
        assert_eq!(
            read_to_string_limited(&b"x"[..], 0)
                .unwrap_err()
                .to_string(),
            "it is larger than 0 bytes (the most accepted); is it the right file?"
        );
    }

    #[test]
    fn an_endless_reader_stops_at_the_limit() {
        // io::repeat never ends, like /dev/zero.
        let err = read_to_string_limited(io::repeat(b'a'), MAX_RUBRIC_BYTES).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is larger than 1 MiB (the most accepted); is it the right file?"
        );
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let err = read_to_string_limited(&b"ok \xff"[..], 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is not UTF-8 text (invalid byte at offset 3)"
        );
    }
}

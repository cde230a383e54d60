//! Reading transcript JSON (what `callscore transcribe --json` writes, or another speech-to-text
//! system's output in the same shape) with errors that name the file and the field.

use callscore_core::Transcript;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("cannot read transcript {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The JSON is malformed or a field has the wrong shape.
    #[error("{origin}:{line}:{column}: invalid transcript at `{field}`: {reason}")]
    Invalid {
        origin: String,
        field: String,
        reason: String,
        line: usize,
        column: usize,
    },
    /// Well-formed JSON whose values contradict each other (a segment ending before it starts).
    #[error("{origin}: invalid transcript at `{field}`: {reason}")]
    Inconsistent {
        origin: String,
        field: String,
        reason: String,
    },
}

/// Reads a transcript file.
pub fn from_path(path: &Path) -> Result<Transcript, TranscriptError> {
    let src =
        crate::read::read_capped(path, crate::read::MAX_TRANSCRIPT_BYTES).map_err(|source| {
            TranscriptError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    from_json_str(&src, &path.display().to_string())
}

/// Parses transcript JSON. `origin` names the input in errors. Segments are put in call order
/// and the duration is extended to the last segment's end.
pub fn from_json_str(src: &str, origin: &str) -> Result<Transcript, TranscriptError> {
    let de = &mut serde_json::Deserializer::from_str(src);
    let mut transcript: Transcript = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json appends " at line L column C" to its messages; the location is shown separately.
        let reason = inner.to_string();
        let reason = reason
            .split(" at line ")
            .next()
            .unwrap_or(&reason)
            .to_string();
        TranscriptError::Invalid {
            origin: origin.to_string(),
            field: if path == "." {
                "(top level)".to_string()
            } else {
                path
            },
            reason,
            line: inner.line(),
            column: inner.column(),
        }
    })?;
    validate(&transcript, origin)?;
    transcript.normalise();
    Ok(transcript)
}

/// Checks what serde cannot: times that make sense.
pub fn validate(t: &Transcript, origin: &str) -> Result<(), TranscriptError> {
    for (i, s) in t.segments.iter().enumerate() {
        if s.end_ms < s.start_ms {
            return Err(TranscriptError::Inconsistent {
                origin: origin.to_string(),
                field: format!("segments[{i}].end_ms"),
                reason: format!(
                    "segment ends ({} ms) before it starts ({} ms)",
                    s.end_ms, s.start_ms
                ),
            });
        }
        for (j, w) in s.words.iter().enumerate() {
            if w.end_ms < w.start_ms {
                return Err(TranscriptError::Inconsistent {
                    origin: origin.to_string(),
                    field: format!("segments[{i}].words[{j}].end_ms"),
                    reason: format!(
                        "word ends ({} ms) before it starts ({} ms)",
                        w.end_ms, w.start_ms
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_core::Speaker;

    #[test]
    fn reads_the_minimal_shape_and_orders_segments() {
        let t = from_json_str(
            r#"{"segments":[{"speaker":"caller","start_ms":3000,"end_ms":4000,"text":"Hi"},
                            {"speaker":"agent","start_ms":0,"end_ms":2400,"text":"Thank you for calling"}],
                "meta":{"caller_name":"Priya Raman","agent":"Daniel"}}"#,
            "t.json",
        )
        .unwrap();
        assert_eq!(t.segments[0].speaker, Speaker::Agent);
        assert_eq!(t.duration_ms, 4_000);
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let err = from_json_str(r#"{"segments":[{"speaker":"agent","start_ms":0,"end_ms":1},{"speaker":"boss","start_ms":0,"end_ms":1,"text":""}]}"#, "t.json").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("t.json:1:"), "{msg}");
        assert!(
            msg.contains("`segments[0]`") && msg.contains("missing field `text`"),
            "{msg}"
        );

        let err = from_json_str(
            r#"{"segments":[{"speaker":"boss","start_ms":0,"end_ms":1,"text":""}]}"#,
            "t.json",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`segments[0].speaker`"), "{err}");

        let err = from_json_str(
            r#"{"segments":[{"speaker":"agent","start_ms":"soon","end_ms":1,"text":""}]}"#,
            "t.json",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`segments[0].start_ms`"), "{err}");

        let err = from_json_str(r#"{"segments":[], "meta":{"agnet":"x"}}"#, "t.json").unwrap_err();
        assert!(
            err.to_string().contains("`meta.agnet`") || err.to_string().contains("`meta`"),
            "{err}"
        );
    }

    #[test]
    fn rejects_broken_json_and_backwards_times() {
        let err = from_json_str("{\"segments\": [", "t.json").unwrap_err();
        assert!(err.to_string().starts_with("t.json:1:"), "{err}");
        let err = from_json_str(
            r#"{"segments":[{"speaker":"agent","start_ms":5,"end_ms":1,"text":"x"}]}"#,
            "t.json",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`segments[0].end_ms`: segment ends (1 ms) before it starts (5 ms)"),
            "{err}"
        );
    }
}

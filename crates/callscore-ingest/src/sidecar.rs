//! The sidecar: `NAME.json` beside `NAME.wav`, holding the call's [`CallMeta`].

use std::path::{Path, PathBuf};

use callscore_core::limits::{read_to_string_limited, LimitedReadError, MAX_SIDECAR_BYTES};
use callscore_core::CallMeta;

use crate::error::IngestError;

/// Where the sidecar of `audio_path` would be: the same name with the extension `.json`.
pub fn sidecar_path(audio_path: &Path) -> PathBuf {
    audio_path.with_extension("json")
}

/// Reads the sidecar beside `audio_path`, if there is one. A missing sidecar is `Ok(None)`; a
/// sidecar that is not valid `CallMeta` JSON (bad syntax, an unknown field, a wrong value) is an
/// error naming the sidecar file and, through serde, the field, line and column.
pub fn load_sidecar(audio_path: &Path) -> Result<Option<CallMeta>, IngestError> {
    let path = sidecar_path(audio_path);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(IngestError::Io { path, source }),
    };
    // Read with a cap: a sidecar is a few fields, and `/dev/zero` or a FIFO named like one
    // must not be read until memory runs out.
    let text = match read_to_string_limited(file, MAX_SIDECAR_BYTES) {
        Ok(text) => text,
        Err(LimitedReadError::Io(source)) => return Err(IngestError::Io { path, source }),
        Err(other) => {
            return Err(IngestError::Sidecar {
                path,
                reason: other.to_string(),
            })
        }
    };
    parse_sidecar(&text, &path).map(Some)
}

/// Parses sidecar JSON; `path` is only used to name the file in errors.
pub fn parse_sidecar(text: &str, path: &Path) -> Result<CallMeta, IngestError> {
    serde_json::from_str(text).map_err(|e| IngestError::Sidecar {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_core::{AgentChannel, Direction};

    #[test]
    fn parses_every_documented_field() {
        let meta = parse_sidecar(
            r#"{"agent":"Sarah","caller_name":"Michael Turner","direction":"inbound",
                "started_at":"2024-03-11T09:15:00Z","agent_channel":"right"}"#,
            Path::new("call.json"),
        )
        .unwrap();
        assert_eq!(meta.agent.as_deref(), Some("Sarah"));
        assert_eq!(meta.caller_name.as_deref(), Some("Michael Turner"));
        assert_eq!(meta.direction, Some(Direction::Inbound));
        assert_eq!(meta.agent_channel, Some(AgentChannel::Right));
    }

    #[test]
    fn unknown_field_names_the_file_and_the_field() {
        let err = parse_sidecar(r#"{"agnet":"Sarah"}"#, Path::new("/calls/a.json")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/calls/a.json") && msg.contains("agnet"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_value_is_an_error() {
        let err = parse_sidecar(r#"{"agent_channel":"middle"}"#, Path::new("a.json")).unwrap_err();
        assert!(matches!(err, IngestError::Sidecar { .. }));
        assert!(err.to_string().contains("middle"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_sidecar_is_refused_after_a_bounded_read() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("call.json")).unwrap();
        let err = load_sidecar(&dir.path().join("call.wav")).unwrap_err();
        assert_eq!(err.kind(), "sidecar", "{err}");
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
        assert!(err.to_string().contains("call.json"), "{err}");
    }

    #[test]
    fn a_sidecar_that_is_not_utf8_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("call.json"), b"{\"agent\": \"Jos\xe9\"}").unwrap();
        let err = load_sidecar(&dir.path().join("call.wav")).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn sidecar_sits_beside_the_audio() {
        assert_eq!(
            sidecar_path(Path::new("/x/call 1.wav")),
            Path::new("/x/call 1.json")
        );
        assert_eq!(sidecar_path(Path::new("call")), Path::new("call.json"));
    }
}

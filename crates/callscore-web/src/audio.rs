//! `/calls/{id}/audio`: a call's recording, with HTTP range requests so the player can seek
//! without downloading the whole file.
//!
//! The file is the one the database holds for that call id; nothing in the request names a
//! path. Ranges, `Accept-Ranges`, 206 and 416 answers, `Last-Modified` and `HEAD` come from
//! tower-http's `ServeFile`, which implements RFC 9110's byte ranges (one range per request;
//! a multi-range request gets 416, which players never send).

use crate::db::with_store;
use crate::pages::PageError;
use crate::SharedState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::path::{Path as FsPath, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// Call ids are sha256 hex; anything else (`..`, slashes, dots) is not looked up at all.
pub(crate) fn is_call_id(id: &str) -> bool {
    (8..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where a stored source path is now. Batches store the path as they were given it; a
/// relative one is tried from the server's working directory, then beside the database.
pub(crate) fn resolve_recording(source_path: &str, db_dir: Option<&FsPath>) -> Option<PathBuf> {
    let stored = PathBuf::from(source_path);
    if stored.is_file() {
        return Some(stored);
    }
    if stored.is_relative() {
        if let Some(dir) = db_dir {
            let beside = dir.join(&stored);
            if beside.is_file() {
                return Some(beside);
            }
        }
    }
    None
}

pub(crate) async fn audio(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    if !is_call_id(&id) {
        return Err(PageError::NotFound(
            "There is no such call in this database.".into(),
        ));
    }
    let db_dir = state.pool.db_dir();
    let lookup = id.clone();
    let (source, file_name) = with_store(&state, move |store| {
        let call = store.call_record(&lookup)?;
        Ok((call.source_path, call.file_name))
    })
    .await?;
    let Some(path) =
        tokio::task::spawn_blocking(move || resolve_recording(&source, db_dir.as_deref()))
            .await
            .map_err(|e| PageError::Internal(format!("looking for a recording failed: {e}")))?
    else {
        return Err(PageError::NotFound(format!(
            "The recording of call {file_name} is no longer where it was scored from; \
             put it back or rescore it from its new place."
        )));
    };
    let served = ServeFile::new(&path).oneshot(req).await.map_err(|e| {
        PageError::Internal(format!("cannot read recording {}: {e}", path.display()))
    })?;
    let (mut parts, body) = served.into_parts();
    // Recordings are personal data: the browser may keep them for seeking, nobody else.
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    let disposition = format!(
        "inline; filename=\"{}\"",
        file_name.replace(['"', '\\', '\r', '\n'], "_")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        parts.headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(Response::from_parts(parts, Body::new(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_id_shaped_strings_are_looked_up() {
        assert!(is_call_id(&"ab".repeat(32)));
        for bad in [
            "..",
            "../../etc/passwd",
            "..%2fetc",
            "a/b",
            "",
            "abc",
            "x.wav",
        ] {
            assert!(!is_call_id(bad), "{bad}");
        }
    }

    #[test]
    fn relative_recordings_are_found_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("calls")).unwrap();
        std::fs::write(dir.path().join("calls/a.wav"), b"RIFF").unwrap();
        assert_eq!(
            resolve_recording("calls/a.wav", Some(dir.path())),
            Some(dir.path().join("calls/a.wav"))
        );
        let abs = dir.path().join("calls/a.wav");
        assert_eq!(resolve_recording(abs.to_str().unwrap(), None), Some(abs));
        assert_eq!(
            resolve_recording("calls/missing.wav", Some(dir.path())),
            None
        );
    }
}

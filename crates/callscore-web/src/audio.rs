//! `/calls/{id}/audio`: a call's recording, with HTTP range requests so the player can seek
//! without downloading the whole file.
//!
//! The file is the one the database holds for that call id; nothing in the request names a
//! path. A call's id *is* the sha256 of its recording, so the file is served only when its
//! bytes still hash to the id: a recording replaced, edited or swapped for a symlink to
//! something else after scoring is refused with 409, never served in its place.
//!
//! Hashing a long recording on every range request (a player sends several while seeking)
//! would be slow, so a verified file is remembered by its identity on disk (device, inode,
//! size, modification and change times): a later request opens the path, and when the opened
//! file's identity is the verified one it is served without hashing again. The change time
//! cannot be set by a user, so an edit in place is noticed even if the modification time is
//! put back. Every response is read from the very handle whose identity (and hash) was checked,
//! so nothing swapped in between the check and the read can be served. That is why ranges are
//! answered here rather than by tower-http's `ServeFile`, which opens the path again itself;
//! the `Range` header is still parsed by `http-range-header`, the parser `ServeFile` uses.

use crate::db::with_store;
use crate::pages::PageError;
use crate::{AppState, SharedState};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Call ids are sha256 hex; anything else (`..`, slashes, dots) is not looked up at all.
pub(crate) fn is_call_id(id: &str) -> bool {
    (8..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where a stored source path is now. Batches store the path as they were given it; a
/// relative one is tried from the server's working directory, then beside the database.
/// Anything at the path counts (what it is, and whether it is the recording, is
/// [`open_verified`]'s to say).
pub(crate) fn resolve_recording(source_path: &str, db_dir: Option<&FsPath>) -> Option<PathBuf> {
    let stored = PathBuf::from(source_path);
    if stored.exists() {
        return Some(stored);
    }
    if stored.is_relative() {
        if let Some(dir) = db_dir {
            let beside = dir.join(&stored);
            if beside.exists() {
                return Some(beside);
            }
        }
    }
    None
}

/// A file's identity on disk: when it is unchanged, so are its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed_ns: i128,
}

impl FileIdentity {
    fn of(meta: &std::fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        let (dev, ino, changed_ns) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.dev(),
                meta.ino(),
                i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            )
        };
        #[cfg(not(unix))]
        let (dev, ino, changed_ns) = (0, 0, 0);
        FileIdentity {
            dev,
            ino,
            len: meta.len(),
            modified: meta.modified().ok(),
            changed_ns,
        }
    }
}

/// Verified files by call id, with whether their bytes hashed to the id. A mismatch is kept too,
/// so a replaced file is not hashed again on every request.
#[derive(Default)]
pub(crate) struct Verified {
    files: Mutex<HashMap<String, (FileIdentity, bool)>>,
}

/// Entries kept; past this the memory is simply cleared (re-verifying costs one hash each).
const VERIFIED_ENTRIES: usize = 4096;

impl Verified {
    fn lookup(&self, id: &str, identity: &FileIdentity) -> Option<bool> {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files
            .get(id)
            .filter(|(known, _)| known == identity)
            .map(|(_, ok)| *ok)
    }

    fn remember(&self, id: &str, identity: FileIdentity, ok: bool) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if files.len() >= VERIFIED_ENTRIES && !files.contains_key(id) {
            files.clear();
        }
        files.insert(id.to_string(), (identity, ok));
    }
}

/// Why a stored recording cannot be served.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Nothing is at the stored path any more.
    Missing,
    /// Something is there, but not the recording that was scored.
    Replaced(&'static str),
    Io(io::Error),
}

/// Opens a recording without blocking on a FIFO swapped in for it.
fn open_for_reading(path: &FsPath) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO would block the open until a writer came; for a regular file it changes nothing.
        opts.custom_flags(libc::O_NONBLOCK);
    }
    opts.open(path)
}

fn sha256_hex(file: &File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut reader = file;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Opens the recording at `path` and checks that it is the one whose sha256 is `id` (hashing
/// only when its identity on disk is not already verified). Returns the checked handle, read
/// from the start, and its length.
pub(crate) fn open_verified(
    verified: &Verified,
    id: &str,
    path: &FsPath,
) -> Result<(File, u64), Refusal> {
    let file = match open_for_reading(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Refusal::Missing),
        Err(e) => return Err(Refusal::Io(e)),
    };
    let meta = file.metadata().map_err(Refusal::Io)?;
    if !meta.is_file() {
        return Err(Refusal::Replaced("it is not a regular file"));
    }
    let identity = FileIdentity::of(&meta);
    let ok = match verified.lookup(id, &identity) {
        Some(ok) => ok,
        None => {
            let ok = sha256_hex(&file)
                .map_err(Refusal::Io)?
                .eq_ignore_ascii_case(id);
            verified.remember(id, identity, ok);
            ok
        }
    };
    if !ok {
        return Err(Refusal::Replaced(
            "its contents are not the recording that was scored (their sha256 is not the call's id)",
        ));
    }
    Ok((file, meta.len()))
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
    let (source, file_name, redactions) = with_store(&state, move |store| {
        let call = store.call_record(&lookup)?;
        let redactions = store
            .transcript(&lookup)?
            .map(|t| t.redactions)
            .unwrap_or_default();
        Ok((call.source_path, call.file_name, redactions))
    })
    .await?;
    let moved = || {
        PageError::NotFound(format!(
            "The recording of call {file_name} is no longer where it was scored from; \
             put it back or rescore it from its new place."
        ))
    };
    let checking = state.clone();
    let checked_id = id.clone();
    let muting = !redactions.is_empty();
    let opened = tokio::task::spawn_blocking(move || {
        let path = resolve_recording(&source, db_dir.as_deref()).ok_or(Refusal::Missing)?;
        let (file, len) = open_verified(&checking.verified, &checked_id, &path)?;
        if !muting {
            return Ok(Served::File(file, len));
        }
        drop(file);
        muted_copy(&checking, &checked_id, &path, &redactions).map(Served::Muted)
    })
    .await
    .map_err(|e| PageError::Internal(format!("looking for a recording failed: {e}")))?;
    let served = match opened {
        Ok(opened) => opened,
        Err(Refusal::Missing) => return Err(moved()),
        Err(Refusal::Replaced(why)) => {
            return Err(PageError::Conflict(format!(
                "The file now at the place call {file_name} was scored from is not its recording: \
                 {why}. It is not served; put the original recording back, or score the new file."
            )))
        }
        Err(Refusal::Io(e)) => {
            return Err(PageError::Internal(format!(
                "cannot read the recording of call {file_name}: {e}"
            )))
        }
    };
    // Taken out first: the request's body is not `Sync`, so the request cannot be held across
    // the reads below.
    let range = req
        .headers()
        .get(header::RANGE)
        .map(|v| v.to_str().map(str::to_string));
    drop(req);
    let etag = match &served {
        Served::File(..) => format!("\"{id}\""),
        // The muted copy changes when the redacted spans do (a rescore that redacts more).
        Served::Muted(bytes) => format!("\"{id}-muted-{}\"", bytes.len()),
    };
    let (mut resp, file_name) = match served {
        Served::File(file, len) => (
            ranged_response(range, file, len, &file_name).await?,
            file_name,
        ),
        Served::Muted(bytes) => {
            // A muted copy is a WAV whatever the original was; its name says it is not the
            // original.
            let stem = FsPath::new(&file_name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| file_name.clone());
            (ranged_bytes(range, &bytes), format!("{stem}-redacted.wav"))
        }
    };
    let headers = resp.headers_mut();
    // Recordings are personal data: the browser may keep them for seeking, nobody else.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    // The id is the content's hash: a strong validator for free.
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    let disposition = format!(
        "inline; filename=\"{}\"",
        file_name.replace(|c: char| c == '"' || c == '\\' || c.is_control(), "_")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// What the audio route answers with: the verified recording itself, or (for a call with
/// redacted spans) a WAV copy with those spans muted.
enum Served {
    File(File, u64),
    Muted(Arc<Vec<u8>>),
}

/// Muted copies kept in memory: a player sends several range requests while seeking, and
/// decoding the call again for each would be slow. A few calls' worth (a 10-minute stereo call
/// is about 38 MB at 16 kHz).
const MUTED_ENTRIES: usize = 4;

/// Muted copies of recordings with redactions, by call id, newest last.
#[derive(Default)]
pub(crate) struct MutedCopies {
    copies: Mutex<Vec<(String, Arc<Vec<u8>>)>>,
}

/// The recording at `path` (verified to be call `id`) decoded, with `redactions` muted, as a
/// 16-bit WAV. Redacted words are never played: the original's bytes are not served at all for
/// such a call. After decoding, the file is verified again, so a recording swapped for another
/// while it was being decoded is refused rather than served muted in the wrong places.
fn muted_copy(
    state: &AppState,
    id: &str,
    path: &FsPath,
    redactions: &[callscore_core::Redaction],
) -> Result<Arc<Vec<u8>>, Refusal> {
    {
        let copies = state.muted.copies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bytes)) = copies.iter().find(|(known, _)| known == id) {
            return Ok(bytes.clone());
        }
    }
    let audio = callscore_redact::RedactedAudio::from_file(
        path,
        redactions,
        callscore_redact::AudioStyle::Silence,
    )
    .and_then(|a| a.to_wav_bytes())
    .map_err(|e| Refusal::Io(io::Error::other(e.to_string())))?;
    open_verified(&state.verified, id, path)?;
    let bytes = Arc::new(audio);
    let mut copies = state.muted.copies.lock().unwrap_or_else(|e| e.into_inner());
    copies.retain(|(known, _)| known != id);
    if copies.len() >= MUTED_ENTRIES {
        copies.remove(0);
    }
    copies.push((id.to_string(), bytes.clone()));
    Ok(bytes)
}

/// A `Range` header that cannot be satisfied or parsed, or asks for several ranges (players
/// never ask for more than one): answered with 416.
struct Unsatisfiable;

fn unsatisfiable(len: u64) -> Response {
    let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    resp
}

/// The one byte range a request asks for (`None`: the whole body).
fn requested_range(
    range: Option<Result<String, header::ToStrError>>,
    len: u64,
) -> Result<Option<std::ops::RangeInclusive<u64>>, Unsatisfiable> {
    match range {
        None => Ok(None),
        Some(value) => {
            let Ok(text) = value else {
                return Err(Unsatisfiable);
            };
            match http_range_header::parse_range_header(&text).and_then(|r| r.validate(len)) {
                Ok(ranges) if ranges.len() == 1 => Ok(Some(ranges[0].clone())),
                _ => Err(Unsatisfiable),
            }
        }
    }
}

/// A muted copy (in memory), whole or the range asked for.
fn ranged_bytes(range: Option<Result<String, header::ToStrError>>, bytes: &[u8]) -> Response {
    let len = bytes.len() as u64;
    let range = match requested_range(range, len) {
        Ok(range) => range,
        Err(Unsatisfiable) => return unsatisfiable(len),
    };
    let (start, end) = match &range {
        Some(r) => (*r.start(), *r.end() + 1),
        None => (0, len),
    };
    let body = bytes[start as usize..end as usize].to_vec();
    let mut resp = Response::new(Body::from(body));
    let headers = resp.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    if let Some(r) = range {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{len}", r.start(), r.end())) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// The whole file (200) or the one byte range asked for (206); 416 for a range that cannot be
/// satisfied or parsed, and for several ranges (players never ask for more than one).
async fn ranged_response(
    range: Option<Result<String, header::ToStrError>>,
    file: File,
    len: u64,
    file_name: &str,
) -> Result<Response, PageError> {
    let range = match requested_range(range, len) {
        Ok(range) => range,
        Err(Unsatisfiable) => return Ok(unsatisfiable(len)),
    };
    let (start, count) = match &range {
        Some(r) => (*r.start(), r.end() - r.start() + 1),
        None => (0, len),
    };
    let modified = file.metadata().ok().and_then(|m| m.modified().ok());
    let mut file = tokio::fs::File::from_std(file);
    file.seek(io::SeekFrom::Start(start))
        .await
        .map_err(|e| PageError::Internal(format!("cannot read the recording {file_name}: {e}")))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(count), 64 * 1024);
    let mut resp = Response::new(Body::from_stream(stream));
    let headers = resp.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let mime = mime_guess::from_path(file_name).first_or_octet_stream();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(modified) = modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
            headers.insert(header::LAST_MODIFIED, v);
        }
    }
    if let Some(r) = range {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{len}", r.start(), r.end())) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
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

//! The pages' stylesheet and script, compiled into the binary so `callscore serve` is one
//! file to run. Served only by these two names: there is no static directory to list.

use axum::extract::Path;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::pages::PageError;

const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/app.js");

/// FNV-1a, evaluated at compile time: a fingerprint of each file for its URL, so a browser's
/// cached copy is used exactly as long as the file is unchanged. (A const fn is needed, and
/// no hashing crate offers one; collisions only cost a stale cache.)
const fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

const STYLE_FINGERPRINT: u64 = fingerprint(STYLE.as_bytes());
const SCRIPT_FINGERPRINT: u64 = fingerprint(SCRIPT.as_bytes());

/// An asset's URL, carrying its fingerprint.
pub(crate) fn url(file: &str) -> String {
    let print = if file == "app.js" {
        SCRIPT_FINGERPRINT
    } else {
        STYLE_FINGERPRINT
    };
    format!("/assets/{file}?v={print:016x}")
}

pub(crate) async fn asset(Path(file): Path<String>) -> Result<Response, PageError> {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return Err(PageError::NotFound("There is no such file.".into())),
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // URLs carry the file's fingerprint (`?v=`), so a day's caching is safe and a changed file
    // is fetched anew.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(resp)
}

//! Who may see the pages and send the forms.
//!
//! - Without a token the server answers only requests addressed to a loopback host name
//!   (`localhost`, `127.0.0.1`, `[::1]`): a web page the reviewer visits cannot reach it
//!   through DNS rebinding (its requests would carry the attacker's host name).
//! - With a token every request needs it: `Authorization: Bearer TOKEN`, or the cookie the
//!   login form sets after checking the token; anything else gets 401 (with the login form).
//! - Every request gets a session cookie (random id, HttpOnly, SameSite=Strict). Forms carry a
//!   CSRF token derived from it (an HMAC under a key made at start-up), and every POST not
//!   authorised by a bearer header must carry it, and must not come from another origin.
//!
//! Session state is not stored: cookie values are HMACs that the server recomputes, so there
//! is nothing to expire or clean up; restarting the server (new key) logs everyone out.

use crate::pages::{self, PageError};
use crate::{SharedState, WebError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::net::IpAddr;

pub const COOKIE_SESSION: &str = "callscore_session";
pub const COOKIE_AUTH: &str = "callscore_auth";
pub const COOKIE_REVIEWER: &str = "callscore_reviewer";

/// Largest form body accepted (a review note is a few lines).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The policy keeps scripts and styles to our own files: even if some text escaped the HTML
/// escaping, no inline script would run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type HmacSha256 = Hmac<Sha256>;

/// The server's secret key, and the token's MAC under it (so comparing a presented token
/// takes the same time whatever it is).
pub(crate) struct Keys {
    secret: [u8; 32],
    token_tag: Option<Vec<u8>>,
}

impl Keys {
    pub fn generate(token: Option<&str>) -> Result<Keys, WebError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| WebError::Random(e.to_string()))?;
        let mut keys = Keys {
            secret,
            token_tag: None,
        };
        keys.token_tag = token.map(|t| {
            keys.mac("token", t.as_bytes())
                .finalize()
                .into_bytes()
                .to_vec()
        });
        Ok(keys)
    }

    fn mac(&self, purpose: &str, value: &[u8]) -> HmacSha256 {
        // Any key length is valid for HMAC.
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        mac
    }

    fn tag(&self, purpose: &str, value: &str) -> String {
        hex::encode(self.mac(purpose, value.as_bytes()).finalize().into_bytes())
    }

    /// Constant-time check of a hex tag.
    fn verify(&self, purpose: &str, value: &str, tag_hex: &str) -> bool {
        match hex::decode(tag_hex) {
            Ok(tag) => self
                .mac(purpose, value.as_bytes())
                .verify_slice(&tag)
                .is_ok(),
            Err(_) => false,
        }
    }

    pub fn token_required(&self) -> bool {
        self.token_tag.is_some()
    }

    fn token_matches(&self, given: &str) -> bool {
        match &self.token_tag {
            Some(tag) => self
                .mac("token", given.as_bytes())
                .verify_slice(tag)
                .is_ok(),
            None => false,
        }
    }
}

/// The requester's session, for handlers (forms need its CSRF token).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub csrf: String,
    /// The name this browser last reviewed under.
    pub reviewer: Option<String>,
    /// A token guards the server (pages show a log-out button).
    pub token_required: bool,
}

fn new_session_id() -> Result<String, PageError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| PageError::Internal(format!("cannot get random bytes: {e}")))?;
    Ok(hex::encode(id))
}

fn is_session_id(v: &str) -> bool {
    v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

fn base_cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}

/// The host name of a `Host` header value, without port or IPv6 brackets.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    })
}

fn is_loopback_host(host: &str) -> bool {
    let name = host_name(host);
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
    }
}

fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A POST from another site: its `Origin` names another host, or the browser says so.
fn cross_site(headers: &HeaderMap, host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        // Browsers send `Origin: null` from sandboxed or privacy-sensitive contexts: not ours.
        (Some(origin), Some(host)) => {
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            authority != Some(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

fn is_public_path(path: &str) -> bool {
    path == "/login" || path.starts_with("/assets/")
}

/// Host check, authentication, session cookie, CSRF and Origin checks, security headers.
pub(crate) async fn guard(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let keys = &state.keys;
    let host = request_host(&req);
    if !keys.token_required() && !host.as_deref().is_some_and(is_loopback_host) {
        return finish(
            PageError::Forbidden(
                "this server answers only to localhost; to review from other machines, \
                 start it with --token and --listen on a public address"
                    .into(),
            )
            .into_response(),
            None,
        );
    }

    let jar = CookieJar::from_headers(req.headers());
    let existing = jar
        .get(COOKIE_SESSION)
        .map(|c| c.value().to_string())
        .filter(|v| is_session_id(v));
    let (session_id, fresh) = match existing {
        Some(id) => (id, false),
        None => match new_session_id() {
            Ok(id) => (id, true),
            Err(e) => return finish(e.into_response(), None),
        },
    };
    let new_cookie = fresh.then(|| base_cookie(COOKIE_SESSION, session_id.clone()));
    let bearer_ok = bearer(req.headers()).is_some_and(|t| keys.token_matches(t));
    let cookie_ok = jar
        .get(COOKIE_AUTH)
        .is_some_and(|c| keys.verify("auth", &session_id, c.value()));
    let session = Session {
        csrf: keys.tag("csrf", &session_id),
        reviewer: jar
            .get(COOKIE_REVIEWER)
            .map(|c| c.value().trim().to_string())
            .filter(|v| !v.is_empty()),
        token_required: keys.token_required(),
    };

    if keys.token_required() && !bearer_ok && !cookie_ok && !is_public_path(req.uri().path()) {
        let next_path = local_path(req.uri().path_and_query().map(|p| p.as_str()));
        let mut resp = pages::login::page(&session, &next_path, None).into_response();
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"callscore\""),
        );
        return finish(resp, new_cookie);
    }

    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD) && !bearer_ok {
        if cross_site(req.headers(), host.as_deref()) {
            return finish(
                PageError::Forbidden("a form from another site was refused".into()).into_response(),
                new_cookie,
            );
        }
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                let e = PageError::BadRequest(format!(
                    "the form is larger than {} KiB",
                    MAX_FORM_BYTES / 1024
                ));
                return finish(e.into_response(), new_cookie);
            }
        };
        let csrf = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        if !csrf.is_some_and(|t| keys.verify("csrf", &session_id, &t)) {
            let e = PageError::Forbidden(
                "the form's security token is missing or out of date (the server may have restarted): \
                 reload the page and send it again"
                    .into(),
            );
            return finish(e.into_response(), new_cookie);
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(session);
    finish(next.run(req).await, new_cookie)
}

/// Adds the session cookie (when new) and the security headers every response carries.
fn finish(mut resp: Response, cookie: Option<Cookie<'static>>) -> Response {
    let headers = resp.headers_mut();
    if let Some(cookie) = cookie {
        if let Ok(v) = HeaderValue::from_str(&cookie.encoded().to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages and recordings hold personal data: no shared or disk caches unless a handler says so.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

pub(crate) async fn login_page(
    Extension(session): Extension<Session>,
    query: axum::extract::Query<NextParam>,
) -> Response {
    pages::login::page(&session, &local_path(query.next.as_deref()), None).into_response()
}

#[derive(Deserialize)]
pub(crate) struct NextParam {
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Longest `next` kept; a real one is a path and query of this site's own pages.
const MAX_NEXT_LEN: usize = 2048;

/// Where to go after logging in: `next` when it is a path on this site, else `/`.
///
/// Browsers read `//host`, `/\host` and `\\host` as another site, drop tabs and newlines from
/// URLs before parsing them (so `/<TAB>/host` is `//host`), and some servers and proxies decode
/// `%2F` and `%5C` before routing. So only printable ASCII is kept (which also keeps CR/LF out of
/// the `Location` header), and the path must start with exactly one `/` and hold no backslash
/// or control character, both as given and with its percent-escapes decoded (repeatedly, for
/// double encoding).
pub(crate) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if is_local_path(p) => p.to_string(),
        _ => "/".to_string(),
    }
}

fn is_local_path(p: &str) -> bool {
    if p.len() > MAX_NEXT_LEN || !p.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let mut text = p.to_string();
    // Each round undoes one level of encoding; a path encoded more deeply than this is not one
    // of ours.
    for _ in 0..4 {
        let path = text.split(['?', '#']).next().unwrap_or("");
        let bytes = path.as_bytes();
        if bytes.first() != Some(&b'/')
            || bytes.get(1) == Some(&b'/')
            || bytes.contains(&b'\\')
            || bytes.iter().any(|b| b.is_ascii_control())
        {
            return false;
        }
        let decoded = percent_encoding::percent_decode_str(&text)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == text {
            return true;
        }
        text = decoded;
    }
    false
}

pub(crate) async fn login(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    if !state.keys.token_required() {
        return Redirect::to(&next).into_response();
    }
    if !state.keys.token_matches(form.token.trim()) {
        // Slows guessing; a token of 16+ random characters is out of reach anyway.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let mut resp =
            pages::login::page(&session, &next, Some("That token is not right.")).into_response();
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        return resp;
    }
    // A new session id on login, so a session id planted before login is worth nothing after.
    let id = match new_session_id() {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let auth = state.keys.tag("auth", &id);
    let jar = CookieJar::new()
        .add(base_cookie(COOKIE_SESSION, id))
        .add(base_cookie(COOKIE_AUTH, auth));
    (jar, Redirect::to(&next)).into_response()
}

pub(crate) async fn logout(jar: CookieJar) -> Response {
    let jar = jar
        .remove(Cookie::build(COOKIE_AUTH).path("/"))
        .remove(Cookie::build(COOKIE_SESSION).path("/"));
    (jar, Redirect::to("/login")).into_response()
}

/// The cookie remembering the reviewer's name for the next form.
pub(crate) fn reviewer_cookie(name: &str) -> Cookie<'static> {
    let mut c = base_cookie(COOKIE_REVIEWER, name.to_string());
    c.set_max_age(Some(time::Duration::days(365)));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
            "app.localhost:9",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.5:8080",
            "[2001:db8::1]:80",
            "localhost.evil.example",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn tags_verify_only_their_own_value_and_purpose() {
        let keys = Keys::generate(Some("0123456789abcdef")).unwrap();
        let tag = keys.tag("csrf", "session-a");
        assert!(keys.verify("csrf", "session-a", &tag));
        assert!(!keys.verify("csrf", "session-b", &tag));
        assert!(!keys.verify("auth", "session-a", &tag));
        assert!(!keys.verify("csrf", "session-a", "not hex"));
        assert!(keys.token_matches("0123456789abcdef"));
        assert!(!keys.token_matches("0123456789abcdeF"));
        let other = Keys::generate(None).unwrap();
        assert!(
            !other.verify("csrf", "session-a", &tag),
            "a restart's new key invalidates old tags"
        );
        assert!(!other.token_matches(""));
    }

    #[test]
    fn redirects_stay_on_this_site() {
        for kept in [
            "/",
            "/calls?page=2",
            "/calls?agent=Gary%20Smith&sort=score",
            "/calls/abcdef0123456789/audio",
            "/agents/Mar%C3%ADa",
            // Only the path decides where the browser goes; a query may hold anything.
            "/calls?next=//x",
        ] {
            assert_eq!(local_path(Some(kept)), kept, "{kept}");
        }
        for other_site in [
            "//evil.example/",
            "///evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%252F%252Fevil.example",
            "/%25252F%25252Fevil.example",
            "/%2525252F%2525252Fevil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/calls\r\nSet-Cookie: x=1",
            "/calls%0D%0ASet-Cookie:%20x=1",
            "/calls%00",
            "/ /evil.example",
            "/caf\u{e9}",
        ] {
            assert_eq!(local_path(Some(other_site)), "/", "{other_site:?}");
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(3000)))), "/");
        assert_eq!(local_path(None), "/");
    }
}

//! HTML pages. maud escapes every `(value)` it interpolates, so stored text (transcripts,
//! reasons, reviewer notes, file names) can never become markup; nothing here uses
//! `PreEscaped` on data.

pub(crate) mod agent;
pub(crate) mod calibration;
pub(crate) mod call;
pub(crate) mod login;
pub(crate) mod queue;
pub(crate) mod search;

use crate::security::Session;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use callscore_core::Outcome;
use callscore_store::StoreError;
use maud::{html, Markup, DOCTYPE};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// Why a page could not be shown; rendered as a small page with the reason.
#[derive(Debug)]
pub(crate) enum PageError {
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
    /// The request is fine but what it asks for is not in a state to be given (409).
    Conflict(String),
    Store(StoreError),
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CallNotFound { .. } => {
                PageError::NotFound("There is no such call in this database.".into())
            }
            StoreError::BadDate { .. } | StoreError::BadReview { .. } => {
                PageError::BadRequest(e.to_string())
            }
            other => PageError::Store(other),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Refused", m),
            PageError::Conflict(m) => (StatusCode::CONFLICT, "Recording changed", m),
            PageError::Store(e) => {
                tracing::error!("review pages: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Database error",
                    e.to_string(),
                )
            }
            PageError::Internal(m) => {
                tracing::error!("review pages: {m}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Server error", m)
            }
        };
        let body = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · callscore" }
                    link rel="stylesheet" href=(asset("style.css"));
                }
                body {
                    header.top { a.brand href="/" { "callscore" } }
                    main.narrow {
                        h1 { (title) }
                        p.error { (message) }
                        p { a href="/" { "Back to the flagged queue" } }
                    }
                }
            }
        };
        (status, body).into_response()
    }
}

/// The 404 page for every path no route knows (there is no directory listing anywhere).
pub(crate) async fn not_found() -> PageError {
    PageError::NotFound("There is no page here.".into())
}

pub(crate) use crate::assets::url as asset;

/// Which top-level section a page belongs to (highlighted in the navigation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Flagged,
    Calls,
    Agents,
    Calibration,
    Search,
    None,
}

/// The frame of every page: navigation, who is reviewing, log-out when a token guards it.
pub(crate) fn layout(title: &str, section: Section, session: &Session, content: Markup) -> Markup {
    let nav = [
        (Section::Flagged, "/", "Flagged queue"),
        (Section::Calls, "/calls", "All calls"),
        (Section::Agents, "/agents", "Agents"),
        (Section::Calibration, "/calibration", "Calibration"),
        (Section::Search, "/search", "Search"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · callscore" }
                link rel="stylesheet" href=(asset("style.css"));
                script src=(asset("app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "callscore" }
                    nav {
                        @for (s, href, label) in nav {
                            a class=[(s == section).then_some("current")] href=(href) { (label) }
                        }
                    }
                    div.who {
                        @if let Some(name) = &session.reviewer { span title="Reviews are saved under this name" { "Reviewing as " strong { (name) } } }
                        @if session.token_required {
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(session.csrf);
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// `2024-03-11T11:40:00Z` → `2024-03-11 11:40` (times are stored in UTC).
pub(crate) fn fmt_when(stamp: &str) -> String {
    match (stamp.get(..10), stamp.get(11..16)) {
        (Some(day), Some(hm)) => format!("{day} {hm}"),
        _ => stamp.to_string(),
    }
}

pub(crate) fn fmt_duration(ms: Option<u64>) -> String {
    ms.map(callscore_core::fmt_ms).unwrap_or_else(|| "–".into())
}

pub(crate) fn fmt_score(score: f64) -> String {
    format!("{score:.0}")
}

/// A score with its verdict's colour.
pub(crate) fn score_badge(score: f64, passed: bool, flagged: bool) -> Markup {
    let class = if passed {
        "score pass"
    } else if flagged {
        "score flag"
    } else {
        "score fail"
    };
    html! { span class=(class) title=(if passed { "passed" } else { "did not pass" }) { (fmt_score(score)) } }
}

pub(crate) fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "Pass",
        Outcome::Fail => "Fail",
        Outcome::NotApplicable => "N/A",
    }
}

pub(crate) fn outcome_badge(o: Outcome) -> Markup {
    html! { span class={ "outcome " (o.as_str()) } { (outcome_label(o)) } }
}

/// A path segment (agent names hold spaces and anything else).
pub(crate) fn path_segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// A query string from pairs, leaving out empty values.
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if !v.is_empty() {
            ser.append_pair(k, &v);
            any = true;
        }
    }
    if any {
        format!("?{}", ser.finish())
    } else {
        String::new()
    }
}

/// A link to an agent's page, or a dash for calls without an agent.
pub(crate) fn agent_link(agent: Option<&str>) -> Markup {
    html! {
        @match agent {
            Some(name) => a href={ "/agents/" (path_segment(name)) } { (name) },
            None => span.muted { "–" },
        }
    }
}

/// Page links for a list of `total` rows shown `per_page` at a time; `href(page)` builds each.
pub(crate) fn pager(total: u64, page: u64, per_page: u64, href: impl Fn(u64) -> String) -> Markup {
    let pages = total.div_ceil(per_page.max(1)).max(1);
    let first = (page.saturating_sub(1)) * per_page + 1;
    let last = (page * per_page).min(total);
    html! {
        nav.pager aria-label="pages" {
            @if total == 0 { span.muted { "No calls" } }
            @else { span { (first) "–" (last) " of " (total) } }
            @if page > 1 { a href=(href(1)) { "« First" } a href=(href(page - 1)) rel="prev" { "‹ Previous" } }
            @if pages > 1 { span.muted { "page " (page) " of " (pages) } }
            @if page < pages { a href=(href(page + 1)) rel="next" { "Next ›" } a href=(href(pages)) { "Last »" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_like_a_person_writes() {
        assert_eq!(fmt_when("2024-03-11T11:40:00Z"), "2024-03-11 11:40");
        assert_eq!(fmt_when("odd"), "odd");
        assert_eq!(fmt_duration(Some(125_000)), "2:05");
        assert_eq!(fmt_duration(None), "–");
        assert_eq!(path_segment("Mary Ann/../x"), "Mary%20Ann%2F%2E%2E%2Fx");
        assert_eq!(
            query_string([("a", "x y".into()), ("b", String::new())]),
            "?a=x+y"
        );
        assert_eq!(query_string([("b", String::new())]), "");
    }
}

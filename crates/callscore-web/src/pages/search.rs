//! `/search?q=…`: the same search as `callscore search`, each hit opening its call with the
//! player at the moment of the match.

use super::{fmt_when, layout, query_string, PageError, Section};
use crate::db::with_store;
use crate::security::Session;
use crate::SharedState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use callscore_core::{fmt_ms, Speaker};
use callscore_store::search::{MARK_CLOSE, MARK_OPEN};
use callscore_store::{ReportFilter, SearchQuery, SearchResults, StoreError};
use maud::{html, Markup};
use serde::Deserialize;

/// Hits on one page; more are a narrower query away.
const SEARCH_LIMIT: usize = 100;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    speaker: String,
    #[serde(default)]
    agent: String,
}

pub(crate) async fn search_page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(params): Query<SearchParams>,
) -> Result<Response, PageError> {
    let text = params.q.trim().to_string();
    let speaker = match params.speaker.as_str() {
        "agent" => Some(Speaker::Agent),
        "caller" => Some(Speaker::Caller),
        _ => None,
    };
    let agent = Some(params.agent.trim().to_string()).filter(|a| !a.is_empty());
    let outcome = if text.is_empty() {
        None
    } else {
        let query = SearchQuery {
            text: text.clone(),
            speaker,
            filter: ReportFilter {
                agent,
                ..Default::default()
            },
            limit: SEARCH_LIMIT,
        };
        // A query the index cannot take is the analyst's to fix: shown on the page, not a 400.
        Some(
            match with_store(&state, move |store| store.search(&query)).await {
                Ok(results) => Ok(results),
                Err(PageError::Store(StoreError::BadSearch { reason, .. })) => Err(reason),
                Err(PageError::BadRequest(reason)) => Err(reason),
                Err(other) => return Err(other),
            },
        )
    };
    let title = if text.is_empty() {
        "Search".to_string()
    } else {
        format!("Search: {text}")
    };
    Ok(layout(
        &title,
        Section::Search,
        &session,
        render(&params, outcome.as_ref()),
    )
    .into_response())
}

fn render(params: &SearchParams, outcome: Option<&Result<SearchResults, String>>) -> Markup {
    html! {
        h1 { "Search transcripts" }
        form.filters method="get" action="/search" role="search" {
            label { "Words or \"a phrase\" "
                input type="search" name="q" value=(params.q) placeholder="cancel my account" autofocus; }
            label { "Said by "
                select name="speaker" {
                    option value="" selected[params.speaker.is_empty()] { "anyone" }
                    option value="agent" selected[params.speaker == "agent"] { "agent" }
                    option value="caller" selected[params.speaker == "caller"] { "caller" }
                }
            }
            label { "Agent " input type="text" name="agent" value=(params.agent); }
            button type="submit" { "Search" }
        }
        p.muted { "Words must all be in one turn; use \"quotes\" for a phrase, " code { "refund NEAR/5 manager" } ", OR, NOT, " code { "cancel*" } "." }
        @match outcome {
            None => {}
            Some(Err(reason)) => p.error { "Cannot search for that: " (reason) },
            Some(Ok(results)) if results.hits.is_empty() => p.empty { "No transcript matches." },
            Some(Ok(results)) => {
                p { (results.hits.len()) @if results.more { "+" } " hit(s), newest call first." }
                ol.hits {
                    @for h in &results.hits {
                        li {
                            a.hit href={ "/calls/" (h.call_id) (query_string([("t", h.start_ms.to_string())])) }
                                title="open the call and play from here" {
                                span.when { (fmt_when(&h.call_time)) }
                                " " strong { (h.file_name) }
                                " · " (speaker_label(h.speaker)) " at " (fmt_ms(h.start_ms))
                            }
                            @if let Some(a) = &h.agent { span.muted { " agent " (a) } }
                            blockquote { (marked(&h.marked)) }
                        }
                    }
                }
                @if results.more {
                    p.muted { "Only the newest " (results.hits.len()) " hits are shown: narrow the search for more."
                        " (" a href={ "/search" (query_string([("q", params.q.clone()), ("speaker", params.speaker.clone()), ("agent", params.agent.clone())])) } { "this search" } ")" }
                }
            }
        }
    }
}

fn speaker_label(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "agent",
        Speaker::Caller => "caller",
        Speaker::Unknown => "speaker",
    }
}

/// The index's snippet with its marks as `<mark>` elements; every piece of text is escaped.
fn marked(snippet: &str) -> Markup {
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = snippet;
    while let Some(open) = rest.find(MARK_OPEN) {
        parts.push((false, &rest[..open]));
        let after = &rest[open + MARK_OPEN.len()..];
        match after.find(MARK_CLOSE) {
            Some(close) => {
                parts.push((true, &after[..close]));
                rest = &after[close + MARK_CLOSE.len()..];
            }
            None => {
                parts.push((true, after));
                rest = "";
            }
        }
    }
    parts.push((false, rest));
    html! {
        @for (hit, text) in parts {
            @if hit { mark { (text) } } @else { (text) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_mark_elements_and_text_stays_escaped() {
        let html = marked("say «cancel» <b>now</b> «my").into_string();
        assert_eq!(
            html,
            "say <mark>cancel</mark> &lt;b&gt;now&lt;/b&gt; <mark>my</mark>"
        );
    }
}

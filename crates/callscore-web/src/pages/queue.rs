//! The flagged queue (home page) and the list of all calls.

use super::{
    agent_link, fmt_duration, fmt_when, layout, pager, query_string, score_badge, PageError,
    Section,
};
use crate::db::with_store;
use crate::security::Session;
use crate::SharedState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use callscore_store::browse::{CallListItem, CallPage, CallQuery, SortKey, Verdict};
use maud::{html, Markup};
use serde::Deserialize;

pub(crate) const PER_PAGE: u32 = 50;

/// Query parameters of both lists. Everything arrives as text so that an empty field means
/// "no filter" and a bad value is reported on the page rather than as a bare 400.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ListParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub agent: Option<String>,
    pub rubric: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub verdict: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<String>,
    /// "1": leave out calls the current reviewer has listened to.
    pub unheard: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl ListParams {
    fn page(&self) -> Result<u64, String> {
        match non_empty(&self.page) {
            None => Ok(1),
            Some(p) => p
                .parse::<u64>()
                .ok()
                .filter(|&p| p >= 1)
                .ok_or_else(|| format!("page '{p}' is not a page number")),
        }
    }

    fn score(v: &Option<String>, what: &str) -> Result<Option<f64>, String> {
        match non_empty(v) {
            None => Ok(None),
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    format!("{what} score '{s}' is not a number (scores run from 0 to 100)")
                }),
        }
    }

    /// The store query these parameters ask for, or what is wrong with them.
    pub fn to_query(&self, reviewer: Option<&str>) -> Result<CallQuery, String> {
        let verdict = match non_empty(&self.verdict) {
            None => Verdict::All,
            Some(v) => Verdict::parse(&v)
                .ok_or_else(|| format!("unknown verdict '{v}' (all, passed, failed or flagged)"))?,
        };
        let sort = match non_empty(&self.sort) {
            None => SortKey::Time,
            Some(s) => SortKey::parse(&s).ok_or_else(|| format!("cannot sort by '{s}'"))?,
        };
        let descending = match non_empty(&self.dir).as_deref() {
            None => default_descending(sort),
            Some("desc") => true,
            Some("asc") => false,
            Some(other) => return Err(format!("sort direction '{other}' is neither asc nor desc")),
        };
        let page = self.page()?;
        let (min_score, max_score) = (
            Self::score(&self.min, "minimum")?,
            Self::score(&self.max, "maximum")?,
        );
        if let (Some(lo), Some(hi)) = (min_score, max_score) {
            if lo > hi {
                return Err(format!("the minimum score {lo} is above the maximum {hi}"));
            }
        }
        let unheard = non_empty(&self.unheard).is_some_and(|v| v == "1");
        Ok(CallQuery {
            from: non_empty(&self.from),
            to: non_empty(&self.to),
            agent: non_empty(&self.agent),
            rubric_id: non_empty(&self.rubric),
            min_score,
            max_score,
            verdict,
            not_listened_by: if unheard {
                reviewer.map(str::to_string)
            } else {
                None
            },
            sort,
            descending,
            offset: (page - 1).saturating_mul(PER_PAGE as u64),
            limit: PER_PAGE,
        })
    }

    /// The pairs to rebuild this list's URL, with `page` and sort replaced.
    fn pairs(&self, page: u64, sort: Option<(SortKey, bool)>) -> Vec<(&'static str, String)> {
        let v = |o: &Option<String>| non_empty(o).unwrap_or_default();
        let (sort, dir) = match sort {
            Some((k, desc)) => (
                k.as_str().to_string(),
                if desc { "desc" } else { "asc" }.to_string(),
            ),
            None => (v(&self.sort), v(&self.dir)),
        };
        vec![
            ("from", v(&self.from)),
            ("to", v(&self.to)),
            ("agent", v(&self.agent)),
            ("rubric", v(&self.rubric)),
            ("min", v(&self.min)),
            ("max", v(&self.max)),
            ("verdict", v(&self.verdict)),
            ("unheard", v(&self.unheard)),
            ("sort", sort),
            ("dir", dir),
            (
                "page",
                if page > 1 {
                    page.to_string()
                } else {
                    String::new()
                },
            ),
        ]
    }
}

/// Newest, longest first; names, files and scores (worst first) ascending.
fn default_descending(sort: SortKey) -> bool {
    matches!(sort, SortKey::Time | SortKey::Duration)
}

/// What the list pages need besides the rows.
struct ListData {
    page: CallPage,
    agents: Vec<String>,
    rubrics: Vec<String>,
}

async fn load(state: &SharedState, q: CallQuery) -> Result<ListData, PageError> {
    with_store(state, move |store| {
        let page = store.list_calls(&q)?;
        let agents = store.agent_names()?;
        let mut rubrics: Vec<String> = store.rubrics()?.into_iter().map(|r| r.rubric_id).collect();
        rubrics.sort();
        rubrics.dedup();
        Ok(ListData {
            page,
            agents,
            rubrics,
        })
    })
    .await
}

/// `/`: flagged calls, worst first (critical failures, then lowest score).
pub(crate) async fn flagged(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let mut q = params
        .to_query(session.reviewer.as_deref())
        .map_err(PageError::BadRequest)?;
    q.verdict = Verdict::Flagged;
    q.sort = SortKey::Worst;
    let page_no = params.page().unwrap_or(1);
    let data = load(&state, q).await?;
    let unheard = non_empty(&params.unheard).is_some_and(|v| v == "1");
    let toggle = if unheard {
        "/".to_string()
    } else {
        "/?unheard=1".to_string()
    };
    let content = html! {
        div.page-head {
            h1 { "Flagged calls" }
            p.lede {
                "Calls that failed a critical criterion or scored below the pass mark, worst first. "
                @if let Some(r) = &data.page.rubric_id { "Rubric " code { (r) } "." }
            }
        }
        div.toolbar {
            @if session.reviewer.is_some() {
                a.button.secondary href=(toggle) {
                    @if unheard { "Show calls I have listened to" } @else { "Hide calls I have listened to" }
                }
            }
        }
        @if data.page.rubric_id.is_none() {
            p.empty { "Nothing has been scored yet. Score some calls with " code { "callscore score RECORDINGS --db FILE" } "." }
        } @else if data.page.rows.is_empty() {
            p.empty { "No flagged calls" @if unheard { " left to listen to" } ". " }
        } @else {
            (call_table(&data.page.rows, &session, None))
            (pager(data.page.total, page_no, PER_PAGE as u64, |p| format!("/{}", query_string(params.pairs(p, None)))))
        }
    };
    Ok(layout("Flagged calls", Section::Flagged, &session, content).into_response())
}

/// `/calls`: every scored call, filtered, sorted and paged.
pub(crate) async fn all_calls(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let q = match params.to_query(session.reviewer.as_deref()) {
        Ok(q) => q,
        Err(problem) => {
            let content = html! {
                h1 { "All calls" }
                p.error role="alert" { (problem) }
                (filter_form(&params, &[], &[]))
            };
            let mut resp = layout("All calls", Section::Calls, &session, content).into_response();
            *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            return Ok(resp);
        }
    };
    let (sort, descending) = (q.sort, q.descending);
    let page_no = params.page().unwrap_or(1);
    let data = load(&state, q).await?;
    let sort_href = |key: SortKey| {
        let desc = if key == sort {
            !descending
        } else {
            default_descending(key)
        };
        format!("/calls{}", query_string(params.pairs(1, Some((key, desc)))))
    };
    let header = SortHeader {
        current: sort,
        descending,
        href: &sort_href,
    };
    let content = html! {
        div.page-head {
            h1 { "All calls" }
            p.lede { @if let Some(r) = &data.page.rubric_id { "Current scorecards of rubric " code { (r) } "." } }
        }
        (filter_form(&params, &data.agents, &data.rubrics))
        @if data.page.rows.is_empty() {
            p.empty { "No calls match these filters." }
        } @else {
            (call_table(&data.page.rows, &session, Some(&header)))
        }
        (pager(data.page.total, page_no, PER_PAGE as u64, |p| format!("/calls{}", query_string(params.pairs(p, None)))))
    };
    Ok(layout("All calls", Section::Calls, &session, content).into_response())
}

fn filter_form(params: &ListParams, agents: &[String], rubrics: &[String]) -> Markup {
    let v = |o: &Option<String>| non_empty(o).unwrap_or_default();
    let verdict = v(&params.verdict);
    html! {
        form.filters method="get" action="/calls" {
            label { "From" input type="date" name="from" value=(v(&params.from)); }
            label { "To" input type="date" name="to" value=(v(&params.to)); }
            label { "Agent"
                input type="text" name="agent" list="agent-names" value=(v(&params.agent)) placeholder="any";
            }
            datalist #agent-names { @for a in agents { option value=(a) {} } }
            @if rubrics.len() > 1 {
                label { "Rubric"
                    select name="rubric" {
                        option value="" { "latest" }
                        @for r in rubrics { option value=(r) selected[v(&params.rubric) == *r] { (r) } }
                    }
                }
            }
            label.score { "Score"
                span.range {
                    input type="number" name="min" min="0" max="100" step="any" value=(v(&params.min)) placeholder="0" aria-label="lowest score";
                    "to"
                    input type="number" name="max" min="0" max="100" step="any" value=(v(&params.max)) placeholder="100" aria-label="highest score";
                }
            }
            label { "Verdict"
                select name="verdict" {
                    @for (value, label) in [("", "all"), ("passed", "passed"), ("failed", "not passed"), ("flagged", "flagged")] {
                        option value=(value) selected[verdict == value] { (label) }
                    }
                }
            }
            input type="hidden" name="sort" value=(v(&params.sort));
            input type="hidden" name="dir" value=(v(&params.dir));
            button type="submit" { "Filter" }
            a.button.secondary href="/calls" { "Clear" }
        }
    }
}

pub(crate) struct SortHeader<'a> {
    current: SortKey,
    descending: bool,
    href: &'a dyn Fn(SortKey) -> String,
}

impl SortHeader<'_> {
    fn th(&self, key: SortKey, label: &str) -> Markup {
        let active = key == self.current;
        let arrow = if !active {
            ""
        } else if self.descending {
            " ↓"
        } else {
            " ↑"
        };
        let aria = if !active {
            "none"
        } else if self.descending {
            "descending"
        } else {
            "ascending"
        };
        html! { th aria-sort=(aria) { a href=((self.href)(key)) { (label) (arrow) } } }
    }
}

/// The table both lists share. With `sort`, column headers are sort links.
pub(crate) fn call_table(
    rows: &[CallListItem],
    session: &Session,
    sort: Option<&SortHeader<'_>>,
) -> Markup {
    let th = |key: SortKey, label: &str| match sort {
        Some(s) => s.th(key, label),
        None => html! { th { (label) } },
    };
    html! {
        table.calls {
            thead { tr {
                (th(SortKey::Score, "Score"))
                (th(SortKey::File, "Call"))
                (th(SortKey::Agent, "Agent"))
                (th(SortKey::Time, "Started (UTC)"))
                (th(SortKey::Duration, "Length"))
                th { "Failed criteria" }
                th { "Listened" }
                th {}
            } }
            tbody {
                @for row in rows {
                    tr {
                        td.num { (score_badge(row.score, row.passed, row.flagged)) }
                        td.file { a href={ "/calls/" (row.call_id) } title=(row.call_id) { (row.file_name) } }
                        td { (agent_link(row.agent.as_deref())) }
                        td.when title=(if row.started_at_known { "call start" } else { "when the database first saw it" }) {
                            (fmt_when(&row.call_time))
                        }
                        td.num { (fmt_duration(row.duration_ms)) }
                        td.criteria {
                            @for c in &row.failed_criteria {
                                @let critical = row.critical_failures.contains(c);
                                span.chip.critical[critical] title=(if critical { "critical" } else { "failed" }) { (c) }
                            }
                            @if row.overridden_criteria > 0 {
                                span.chip.reviewed title="criteria a reviewer overrode" { "✎ " (row.overridden_criteria) }
                            }
                        }
                        td.listened {
                            @if row.listened_by.is_empty() { span.muted { "not yet" } }
                            @for (i, name) in row.listened_by.iter().enumerate() {
                                @if i > 0 { ", " }
                                @if session.reviewer.as_deref() == Some(name.as_str()) { strong.you { (name) } } @else { (name) }
                            }
                        }
                        td.action {
                            // The moment that flagged the call (a critical failure) before merely the first miss.
                            @match row.critical_failed_ms.or(row.first_failed_ms) {
                                Some(ms) => a.button.small href={ "/calls/" (row.call_id) "?t=" (ms) }
                                    title=(if row.critical_failed_ms.is_some() { "open at the critical failure" } else { "open at the first failed moment" }) {
                                    "▶ Listen from " (callscore_core::fmt_ms(ms))
                                },
                                None => a.button.small.secondary href={ "/calls/" (row.call_id) } { "Open" },
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(pairs);
        let uri: axum::http::Uri = format!("/calls?{}", q.finish()).parse().unwrap();
        Query::<ListParams>::try_from_uri(&uri).unwrap().0
    }

    #[test]
    fn empty_fields_mean_no_filter() {
        let q = params(&[
            ("from", ""),
            ("agent", "  "),
            ("min", ""),
            ("verdict", ""),
            ("page", ""),
        ])
        .to_query(None)
        .unwrap();
        assert_eq!(
            q,
            CallQuery {
                limit: PER_PAGE,
                ..Default::default()
            }
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = |pairs: &[(&str, &str)]| params(pairs).to_query(None).unwrap_err();
        assert!(err(&[("min", "high")]).contains("'high'"));
        assert!(err(&[("min", "90"), ("max", "10")]).contains("above the maximum"));
        assert!(err(&[("sort", "colour")]).contains("'colour'"));
        assert!(err(&[("page", "0")]).contains("page '0'"));
        assert!(err(&[("verdict", "maybe")]).contains("'maybe'"));
    }

    #[test]
    fn pages_and_sorts_become_offsets_and_directions() {
        let q = params(&[("page", "3"), ("sort", "score"), ("unheard", "1")])
            .to_query(Some("maria"))
            .unwrap();
        assert_eq!(
            (q.offset, q.sort, q.descending),
            (100, SortKey::Score, false)
        );
        assert_eq!(q.not_listened_by.as_deref(), Some("maria"));
        let q = params(&[("sort", "duration"), ("dir", "asc")])
            .to_query(None)
            .unwrap();
        assert!(!q.descending);
    }
}

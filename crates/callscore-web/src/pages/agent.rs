//! `/agents` (every agent's numbers) and `/agents/{name}` (one agent's trend and criteria).

use super::queue::call_table;
use super::{agent_link, fmt_score, layout, query_string, PageError, Section};
use crate::chart::trend_svg;
use crate::db::with_store;
use crate::security::Session;
use crate::SharedState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use callscore_store::browse::{CallListItem, CallQuery, SortKey, TrendPoint};
use callscore_store::{AgentRow, CriterionRow};
use maud::{html, Markup};
use serde::Deserialize;

/// How many days with calls the trend shows.
const TREND_DAYS: u32 = 90;
const RECENT_CALLS: u32 = 10;

#[derive(Debug, Deserialize)]
pub(crate) struct RubricParam {
    rubric: Option<String>,
}

fn pct(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn hours(ms: u64) -> String {
    let minutes = ms / 60_000;
    format!("{}h {:02}m", minutes / 60, minutes % 60)
}

pub(crate) async fn agents(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(params): Query<RubricParam>,
) -> Result<Response, PageError> {
    let rubric = params.rubric.filter(|r| !r.trim().is_empty());
    let rows = with_store(&state, move |store| {
        store.agent_summaries(rubric.as_deref(), None)
    })
    .await?;
    let content = html! {
        div.page-head { h1 { "Agents" } p.lede { "Current scorecards per agent. Open an agent for their trend and criteria." } }
        @if rows.is_empty() { p.empty { "Nothing has been scored yet." } }
        @else {
            table.calls {
                thead { tr { th { "Agent" } th.num { "Calls" } th.num { "Average" } th.num { "Passed" } th.num { "Flagged" } th.num { "Audio" } } }
                tbody {
                    @for a in &rows {
                        tr {
                            td { (agent_link(a.agent.as_deref())) @if a.agent.is_none() { span.muted { " (no agent in metadata)" } } }
                            td.num { (a.calls) }
                            td.num { (fmt_score(a.average_score)) }
                            td.num { (pct(a.pass_rate)) }
                            td.num { (a.flagged) }
                            td.num { (hours(a.audio_ms)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout("Agents", Section::Agents, &session, content).into_response())
}

struct AgentData {
    summary: AgentRow,
    trend: Vec<TrendPoint>,
    criteria: Vec<CriterionRow>,
    recent: Vec<CallListItem>,
}

pub(crate) async fn agent_page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(params): Query<RubricParam>,
) -> Result<Response, PageError> {
    let rubric = params.rubric.filter(|r| !r.trim().is_empty());
    let lookup = name.clone();
    let data = with_store(&state, move |store| {
        let Some(summary) = store
            .agent_summaries(rubric.as_deref(), Some(&lookup))?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let trend = store.agent_trend(&lookup, rubric.as_deref(), TREND_DAYS)?;
        let criteria = store.agent_criteria(&lookup, rubric.as_deref())?;
        let q = CallQuery {
            agent: Some(lookup.clone()),
            rubric_id: rubric.clone(),
            sort: SortKey::Time,
            descending: true,
            limit: RECENT_CALLS,
            ..Default::default()
        };
        let recent = store.list_calls(&q)?.rows;
        Ok(Some(AgentData {
            summary,
            trend,
            criteria,
            recent,
        }))
    })
    .await?
    .ok_or_else(|| PageError::NotFound(format!("No scored calls by an agent named '{name}'.")))?;
    let shown = data.summary.agent.clone().unwrap_or(name);
    let content = render(&shown, &data, &session);
    Ok(layout(&shown, Section::Agents, &session, content).into_response())
}

fn criteria_table(rows: &[CriterionRow]) -> Markup {
    html! {
        table.criteria-rates {
            thead { tr { th { "Criterion" } th { "Section" } th { "Pass rate" } th.num { "Pass" } th.num { "Fail" } th.num { "N/A" } } }
            tbody {
                @for c in rows {
                    tr {
                        td {
                            (if c.name.is_empty() { c.criterion_id.as_str() } else { c.name.as_str() })
                            @if c.critical { " " span.chip.critical { "critical" } }
                        }
                        td.muted { (c.section) }
                        td { div.bar {
                            @match c.pass_rate {
                                Some(rate) => {
                                    meter min="0" max="1" low="0.6" high="0.85" optimum="1" value=(format!("{rate:.3}")) { (pct(rate)) }
                                    span { (pct(rate)) }
                                }
                                None => span.muted { "never applicable" },
                            }
                        } }
                        td.num { (c.pass) } td.num { (c.fail) } td.num { (c.na) }
                    }
                }
            }
        }
    }
}

fn render(name: &str, data: &AgentData, session: &Session) -> Markup {
    let s = &data.summary;
    let all_calls = format!("/calls{}", query_string([("agent", name.to_string())]));
    html! {
        div.page-head {
            a.back href="/agents" { "← Agents" }
            h1 { (name) }
        }
        div.stats {
            div.stat { span.value { (s.calls) } span.label { "calls" } }
            div.stat { span.value { (fmt_score(s.average_score)) } span.label { "average score" } }
            div.stat { span.value { (pct(s.pass_rate)) } span.label { "passed" } }
            div.stat { span.value { (s.flagged) } span.label { "flagged" } }
        }
        section.card {
            h2 { "Score trend" span.muted { " daily average, last " (data.trend.len()) " days with calls" } }
            (trend_svg(&data.trend, &format!("Daily average score of {name}")))
        }
        section.card {
            h2 { "Criteria" }
            (criteria_table(&data.criteria))
        }
        section.card {
            h2 { "Recent calls" a.small href=(all_calls) { " all calls by " (name) " →" } }
            (call_table(&data.recent, session, None))
        }
    }
}

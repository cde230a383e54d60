//! `/calibration`: criteria on which reviewers overrode the machine, most often first. This is
//! how a QA team finds the rubric's weak criteria.

use super::{layout, PageError, Section};
use crate::db::with_store;
use crate::security::Session;
use crate::SharedState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use callscore_store::browse::DisagreementFilter;
use maud::html;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct CalibrationParams {
    rubric: Option<String>,
    /// Leave out criteria reviewed on fewer scorecards than this.
    min: Option<String>,
}

pub(crate) async fn calibration(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(params): Query<CalibrationParams>,
) -> Result<Response, PageError> {
    let min_reviewed = match params
        .min
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => 1,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| PageError::BadRequest(format!("'{s}' is not a number of calls")))?,
    };
    let filter = DisagreementFilter {
        rubric_id: params.rubric.filter(|r| !r.trim().is_empty()),
        min_reviewed,
    };
    let rows = with_store(&state, move |store| store.disagreements(&filter)).await?;
    let content = html! {
        div.page-head {
            h1 { "Calibration" }
            p.lede {
                "Criteria on which reviewers overrode the machine's verdict, most often first. "
                "A high rate says the rubric's wording or detector for that criterion needs work."
            }
        }
        form.filters method="get" action="/calibration" {
            label.inline { "Criteria reviewed on at least" input type="number" name="min" min="1" value=(min_reviewed); "calls" }
            button type="submit" { "Show" }
        }
        @if rows.is_empty() {
            p.empty { "No reviewed calls yet. Reviews made on call pages show up here." }
        } @else {
            table.calls {
                thead { tr {
                    th { "Criterion" } th { "Rubric" } th.num { "Reviewed" } th.num { "Overridden" } th { "Rate" }
                    th.num title="the machine failed it, a reviewer passed it" { "Too strict" }
                    th.num title="the machine passed it, a reviewer failed it" { "Missed" }
                    th.num title="changed to or from not applicable" { "N/A changes" }
                } }
                tbody {
                    @for d in &rows {
                        tr {
                            td { (if d.name.is_empty() { d.criterion_id.as_str() } else { d.name.as_str() }) " " code.muted { (d.criterion_id) } }
                            td.nowrap { code { (d.rubric_id) } " v" (d.rubric_version) }
                            td.num { (d.reviewed) }
                            td.num { (d.overridden) }
                            td { div.bar {
                                meter min="0" max="1" low="0.1" high="0.25" optimum="0" value=(format!("{:.3}", d.override_rate)) {}
                                span { (format!("{:.0}%", d.override_rate * 100.0)) }
                            } }
                            td.num { (d.machine_fail_reviewer_pass) }
                            td.num { (d.machine_pass_reviewer_fail) }
                            td.num { (d.applicability_changes) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout("Calibration", Section::Calibration, &session, content).into_response())
}

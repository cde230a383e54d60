//! One call: the player, the transcript following playback, the scorecard with evidence that
//! seeks the player, and the review forms.

use super::{
    agent_link, fmt_duration, fmt_score, fmt_when, layout, outcome_badge, outcome_label,
    score_badge, PageError, Section,
};
use crate::audio::{is_call_id, resolve_recording};
use crate::db::with_store;
use crate::security::Session;
use crate::SharedState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use callscore_core::{fmt_ms, CriterionResult, Outcome, Speaker};
use callscore_store::browse::{CriterionOverride, ReviewedScore};
use callscore_store::{CallDetail, Review};
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct CallParams {
    /// Show the current scorecard of this rubric id (default: the latest the call was scored with).
    rubric: Option<String>,
    /// Show the reviewer-name field even when a name is remembered.
    rename: Option<String>,
}

struct CallView {
    detail: CallDetail,
    overrides: Vec<CriterionOverride>,
    reviewed: Option<ReviewedScore>,
    recording_found: bool,
}

pub(crate) async fn call_page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(params): Query<CallParams>,
) -> Result<Response, PageError> {
    if !is_call_id(&id) {
        return Err(PageError::NotFound(
            "There is no such call in this database.".into(),
        ));
    }
    let rubric = params.rubric.clone().filter(|r| !r.trim().is_empty());
    let db_dir = state.pool.db_dir();
    let view = with_store(&state, move |store| {
        let detail = store.call_detail(&id, rubric.as_deref())?;
        let (overrides, reviewed) = match &detail.scorecard {
            Some(sc) => {
                let overrides = store.overrides_for_scorecard(sc.id)?;
                let reviewed = store.reviewed(sc.id, &sc.scorecard, &overrides)?;
                (overrides, Some(reviewed))
            }
            None => (vec![], None),
        };
        let recording_found =
            resolve_recording(&detail.call.source_path, db_dir.as_deref()).is_some();
        Ok(CallView {
            detail,
            overrides,
            reviewed,
            recording_found,
        })
    })
    .await?;
    let rename = params.rename.is_some();
    let title = view.detail.call.file_name.clone();
    Ok(layout(
        &title,
        Section::None,
        &session,
        render(&view, &session, rename),
    )
    .into_response())
}

/// The redacted data classes of a transcript, each once, in the order first redacted.
fn redacted_classes(t: &callscore_core::Transcript) -> String {
    let mut classes: Vec<&str> = Vec::new();
    for r in &t.redactions {
        if !classes.contains(&r.class.as_str()) {
            classes.push(&r.class);
        }
    }
    classes.join(", ").replace('_', " ")
}

fn speaker_label(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "Agent",
        Speaker::Caller => "Caller",
        Speaker::Unknown => "Speaker",
    }
}

fn render(view: &CallView, session: &Session, rename: bool) -> Markup {
    let call = &view.detail.call;
    let sc = view.detail.scorecard.as_ref();
    let first_failed = sc.and_then(|s| s.scorecard.first_failed_moment_ms());
    html! {
        div.call-head {
            a.back href="/" { "← Flagged queue" }
            div.title-row {
                h1 { (call.file_name) }
                @if let Some(sc) = sc {
                    div.verdict {
                        (score_badge(sc.scorecard.score, sc.scorecard.passed, sc.scorecard.flagged))
                        span.verdict-text {
                            @if !sc.scorecard.judged { "Cannot be judged" }
                            @else if sc.scorecard.passed { "Passed" } @else { "Did not pass" }
                            @if sc.scorecard.flagged { " · flagged" }
                        }
                        @if let Some(r) = view.reviewed.as_ref().filter(|r| r.changed_criteria > 0) {
                            span.reviewed-score title="the machine score with reviewers' overrides applied" {
                                "Reviewed: " strong { (fmt_score(r.reviewed_score)) }
                                @if r.critical_failure { " · critical failure stands" }
                            }
                        }
                    }
                }
            }
            dl.meta {
                div { dt { "Agent" } dd { (agent_link(call.agent.as_deref())) } }
                div { dt { "Caller" } dd { (call.meta.caller_name.as_deref().unwrap_or("–")) } }
                div { dt { "Started (UTC)" } dd { (call.started_at.as_deref().map(fmt_when).unwrap_or_else(|| "–".into())) } }
                div { dt { "Length" } dd { (fmt_duration(call.duration_ms)) } }
                @if let Some(d) = call.meta.direction { div { dt { "Direction" } dd { (format!("{d:?}").to_lowercase()) } } }
                @if let Some(scenario) = &call.meta.scenario { div { dt { "Mystery shop" } dd { code { (scenario) } } } }
                @if let Some(ring) = call.meta.ring_ms { div { dt { "Answered after" } dd { (format!("{:.1} s", ring as f64 / 1000.0)) } } }
                @if let Some(t) = view.detail.transcript.as_ref().filter(|t| t.diarized) {
                    div.speakers { dt { "Speakers" } dd { "separated from a mono recording" @for n in &t.speaker_notes { br; span.muted { (n) } } } }
                }
                @if let Some(sc) = sc { div { dt { "Rubric" } dd { code { (sc.scorecard.rubric_id) } " v" (sc.scorecard.rubric_version) } } }
                @if let Some(t) = &view.detail.transcript { @if !t.model.is_empty() { div { dt { "Transcribed by" } dd { (t.model) } } } }
                @if let Some(lang) = view.detail.transcript.as_ref().and_then(|t| t.language.as_deref()) { div { dt { "Language" } dd { (lang) } } }
                div { dt { "Call id" } dd { code title=(call.id) { (call.id.get(..12).unwrap_or(&call.id)) } } }
            }
            @if let Some(sc) = sc {
                @if !sc.scorecard.flag_reasons.is_empty() {
                    ul.flag-reasons { @for r in &sc.scorecard.flag_reasons { li { (r) } } }
                }
            }
            @for w in &call.warnings { p.warning { "Warning: " (w) } }
            @if let Some(t) = view.detail.transcript.as_ref().filter(|t| !t.redactions.is_empty()) {
                p.redacted { (t.redactions.len()) " span(s) redacted (" (redacted_classes(t)) "): the player plays them as silence." }
            }
            @if call.status == "failed" {
                p.error { "This recording could not be scored: " (call.error.as_deref().unwrap_or("unknown error")) }
            }
        }
        (player(view, first_failed))
        div.columns {
            section.scorecard aria-label="Scorecard" {
                h2 { "Scorecard" }
                @match sc {
                    Some(sc) => (scorecard(&sc.scorecard.results, sc.id, &view.overrides, &call.id, session, rename)),
                    None => p.empty { "This call has no scorecard." },
                }
                (review_panel(view, session, rename))
            }
            section.transcript aria-label="Transcript" {
                div.transcript-head {
                    h2 { "Transcript" }
                    label.follow { input #follow type="checkbox" checked; " Follow playback" }
                }
                @match &view.detail.transcript {
                    Some(t) if !t.segments.is_empty() => {
                        ol #transcript {
                            @for seg in &t.segments {
                                li class={ "seg " (seg.speaker.as_str()) } data-start=(seg.start_ms) data-end=(seg.end_ms) {
                                    button.ts type="button" data-seek=(seg.start_ms) title="play from here" { (fmt_ms(seg.start_ms)) }
                                    span.spk { (speaker_label(seg.speaker)) }
                                    span.text { (seg.text.trim()) }
                                }
                            }
                        }
                    }
                    _ => p.empty { "No transcript is stored for this call." },
                }
            }
        }
    }
}

fn player(view: &CallView, first_failed: Option<u64>) -> Markup {
    let call = &view.detail.call;
    let critical = view.detail.scorecard.as_ref().and_then(|s| {
        s.scorecard
            .results
            .iter()
            .filter(|r| r.critical && r.outcome == Outcome::Fail)
            .flat_map(|r| r.evidence.iter().map(|e| e.start_ms))
            .min()
    });
    html! {
        div.player #player-bar {
            @if view.recording_found {
                audio #player controls preload="metadata" src={ "/calls/" (call.id) "/audio" } {
                    "Your browser cannot play this recording."
                }
                div.player-tools {
                    @if let Some(ms) = critical {
                        button.small type="button" data-seek=(ms) { "▶ Critical failure at " (fmt_ms(ms)) }
                    }
                    @if let Some(ms) = first_failed.filter(|ms| Some(*ms) != critical) {
                        button.small.secondary type="button" data-seek=(ms) { "▶ First failure at " (fmt_ms(ms)) }
                    }
                    label { "Speed "
                        select #speed {
                            @for rate in ["0.75", "1", "1.25", "1.5", "2"] { option value=(rate) selected[rate == "1"] { (rate) "×" } }
                        }
                    }
                    @if call.channels == Some(2) {
                        label title="stereo recordings carry one speaker per channel" { "Hear "
                            select #channels {
                                option value="both" selected { "both" }
                                option value="agent" { "agent only" }
                                option value="caller" { "caller only" }
                            }
                        }
                    }
                    span #player-error.error hidden {}
                }
            } @else {
                p.error { "The recording is no longer at " code { (call.source_path) } "; the transcript and scorecard are still here." }
            }
        }
        @if let Some(ch) = call.meta.agent_channel {
            // Read by the player script: which stereo channel is the agent's.
            span #agent-channel hidden data-channel=(format!("{ch:?}").to_lowercase()) {}
        }
    }
}

/// Criteria grouped by section, in rubric order.
fn sections(results: &[CriterionResult]) -> Vec<(&str, Vec<&CriterionResult>)> {
    let mut out: Vec<(&str, Vec<&CriterionResult>)> = Vec::new();
    for r in results {
        let name = if r.section.trim().is_empty() {
            "Criteria"
        } else {
            r.section.as_str()
        };
        match out.iter_mut().find(|(s, _)| *s == name) {
            Some((_, list)) => list.push(r),
            None => out.push((name, vec![r])),
        }
    }
    out
}

fn points(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The verdict an override form offers first: the opposite of the machine's.
fn suggested_override(machine: Outcome) -> Outcome {
    if machine == Outcome::Pass {
        Outcome::Fail
    } else {
        Outcome::Pass
    }
}

fn reviewer_field(session: &Session, rename: bool) -> Markup {
    html! {
        @match (&session.reviewer, rename) {
            (Some(name), false) => input type="hidden" name="reviewer" value=(name);,
            (current, _) => label.reviewer { "Your name"
                input type="text" name="reviewer" required maxlength="80" autocomplete="name" value=(current.as_deref().unwrap_or(""));
            },
        }
    }
}

fn scorecard(
    results: &[CriterionResult],
    scorecard_id: i64,
    overrides: &[CriterionOverride],
    call_id: &str,
    session: &Session,
    rename: bool,
) -> Markup {
    html! {
        @for (section, list) in sections(results) {
            div.section {
                h3 {
                    (section)
                    span.section-points {
                        (points(list.iter().filter(|r| r.outcome != Outcome::NotApplicable).map(|r| r.points).sum::<f64>()))
                        " / "
                        (points(list.iter().filter(|r| r.outcome != Outcome::NotApplicable).map(|r| r.max_points).sum::<f64>()))
                    }
                }
                ol.criteria {
                    @for r in list {
                        @let over = overrides.iter().find(|o| o.criterion_id == r.criterion_id);
                        @let shown = over.map(|o| o.outcome).unwrap_or(r.outcome);
                        li class={ "criterion " (shown.as_str()) } id={ "criterion-" (r.criterion_id) } {
                            div.crit-row {
                                (outcome_badge(r.outcome))
                                @if let Some(o) = over.filter(|o| o.outcome != r.outcome) {
                                    span.arrow title="overridden by a reviewer" { "→" }
                                    (outcome_badge(o.outcome))
                                }
                                span.crit-name {
                                    (if r.name.is_empty() { r.criterion_id.as_str() } else { r.name.as_str() })
                                    @if r.critical { span.chip.critical title="failing it fails the call" { "critical" } }
                                }
                                span.crit-points { (points(r.points)) " / " (points(r.max_points)) }
                            }
                            @if !r.reason.is_empty() { p.reason { (r.reason) } }
                            @if let Some(o) = over {
                                p.override-note {
                                    "Reviewer " strong { (o.reviewer) } " says " strong { (outcome_label(o.outcome)) }
                                    " (machine: " (outcome_label(r.outcome)) "): " span.note { (o.note) }
                                }
                            }
                            @if !r.evidence.is_empty() {
                                ul.evidence {
                                    @for e in &r.evidence {
                                        li {
                                            button.evidence type="button" data-seek=(e.start_ms) data-end=(e.end_ms)
                                                title="play this moment" {
                                                span.ts { "▶ " (fmt_ms(e.start_ms)) }
                                                // Evidence about the whole call (silence) has no speaker.
                                                @if e.speaker != Speaker::Unknown { span.spk { (speaker_label(e.speaker)) } }
                                                @if !e.quote.is_empty() { q { (e.quote) } }
                                            }
                                        }
                                    }
                                }
                            }
                            details.override {
                                summary { "Override" }
                                form method="post" action={ "/calls/" (call_id) "/review" } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    input type="hidden" name="action" value="override";
                                    input type="hidden" name="scorecard_id" value=(scorecard_id);
                                    input type="hidden" name="criterion" value=(r.criterion_id);
                                    (reviewer_field(session, rename))
                                    label { "Verdict"
                                        select name="outcome" {
                                            @for o in [Outcome::Pass, Outcome::Fail, Outcome::NotApplicable] {
                                                option value=(o.as_str()) selected[o == suggested_override(r.outcome)] {
                                                    (outcome_label(o))
                                                }
                                            }
                                        }
                                    }
                                    label.grow { "Reason"
                                        input type="text" name="note" required maxlength="2000" placeholder="what you heard";
                                    }
                                    button type="submit" { "Save override" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn review_panel(view: &CallView, session: &Session, rename: bool) -> Markup {
    let call_id = &view.detail.call.id;
    let sid = view.detail.scorecard.as_ref().map(|s| s.id);
    let reviews: Vec<&Review> = view.detail.reviews.iter().rev().collect();
    let mut listened: Vec<&str> = view
        .detail
        .reviews
        .iter()
        .filter(|r| r.listened)
        .map(|r| r.reviewer.as_str())
        .collect();
    listened.sort_unstable();
    listened.dedup();
    let me_listened = session
        .reviewer
        .as_deref()
        .is_some_and(|me| listened.contains(&me));
    html! {
        div.review #review {
            h2 { "Review" }
            p.listened-by {
                @if listened.is_empty() { "Nobody has marked this call listened yet." }
                @else { "Listened by " (listened.join(", ")) "." }
                @if let Some(name) = &session.reviewer {
                    " You review as " strong { (name) } " · " a href="?rename=1#review" { "change" }
                }
            }
            form.row method="post" action={ "/calls/" (call_id) "/review" } {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value="listened";
                @if let Some(id) = sid { input type="hidden" name="scorecard_id" value=(id); }
                (reviewer_field(session, rename))
                button type="submit" disabled[me_listened] { @if me_listened { "✓ You listened" } @else { "Mark listened" } }
            }
            form.comment method="post" action={ "/calls/" (call_id) "/review" } {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value="comment";
                @if let Some(id) = sid { input type="hidden" name="scorecard_id" value=(id); }
                (reviewer_field(session, rename))
                label.grow { "Comment" textarea name="note" rows="2" required maxlength="4000" placeholder="for the agent's coach, or the rubric's author" {} }
                button type="submit" { "Add comment" }
            }
            @if !reviews.is_empty() {
                ol.history {
                    @for r in reviews {
                        li {
                            span.when { (fmt_when(&r.created_at)) }
                            strong { (r.reviewer) }
                            @if let (Some(c), Some(o)) = (&r.criterion_id, r.override_outcome) {
                                " set " code { (c) } " to " (outcome_badge(o))
                            } @else if r.listened {
                                " listened"
                            } @else {
                                " commented" @if let Some(c) = &r.criterion_id { " on " code { (c) } }
                            }
                            @if !r.note.is_empty() { ": " span.note { (r.note) } }
                        }
                    }
                }
            }
        }
    }
}

//! Queries for the review pages: paginated, filtered and sorted call lists, per-agent trends,
//! review overrides, the reviewed score and reviewer/machine disagreements. (Owned by the
//! review-pages work; the batch/report queries are in `query`.)
//!
//! Every list is filtered, sorted and cut into pages by SQLite on indexes
//! ([`BROWSE_INDEXES_SQL`]); nothing is filtered in memory, so a database of 100,000 calls
//! answers a page in milliseconds. The SQL is assembled from fixed fragments chosen by enums;
//! every value from a request is a bound parameter.

use crate::query::{normalise_instant, AgentRow, CriterionRow};
use crate::{Result, Store, StoreError};
use callscore_core::{CriterionResult, Outcome, Scorecard};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use time::macros::format_description;
use time::{Date, PrimitiveDateTime};

/// Indexes the review pages need on large databases, as SQL for the next migration.
///
/// - `scorecards_current_rubric_score`: "the current scorecards of rubric R, by score" — the
///   all-calls list sorted by score, the score-range and verdict filters and the count, from
///   the index alone.
/// - `scorecards_current_by_call`: a call's current scorecard with the numbers the agent
///   pages add up, without reading the scorecard row (agent summaries and trends).
/// - `results_critical_failures`: the few results that are failed critical criteria — the
///   flagged queue puts those calls first.
/// - `calls_by_duration`: the list sorted by length.
///
/// The time, agent and file-name orders use the schema's `calls_by_time`, `calls_by_agent`
/// (case-insensitive, as agents are matched) and `calls_by_file`.
///
/// `IF NOT EXISTS` on purpose: [`Store::ensure_browse_indexes`] creates them on databases made
/// before the migration exists, and the migration must then find them already there.
pub const BROWSE_INDEXES_SQL: &str = "
CREATE INDEX IF NOT EXISTS scorecards_current_rubric_score ON scorecards (rubric_id, score, call_id, flagged, passed) WHERE is_current = 1;
CREATE INDEX IF NOT EXISTS scorecards_current_by_call ON scorecards (call_id, rubric_id, score, passed, flagged) WHERE is_current = 1;
CREATE INDEX IF NOT EXISTS results_critical_failures ON results (scorecard_id) WHERE outcome = 'fail' AND critical = 1;
CREATE INDEX IF NOT EXISTS calls_by_duration ON calls (duration_ms);
";

/// Which calls of the list to show, by verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    All,
    Passed,
    /// Did not pass (score below the pass mark or a critical failure).
    Failed,
    Flagged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::All => "all",
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Flagged => "flagged",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        Some(match text {
            "" | "all" => Verdict::All,
            "passed" => Verdict::Passed,
            "failed" => Verdict::Failed,
            "flagged" => Verdict::Flagged,
            _ => return None,
        })
    }
}

/// The column a call list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// When the call started.
    #[default]
    Time,
    Score,
    Agent,
    Duration,
    File,
    /// The flagged queue's order: critical failures first, then lowest score.
    Worst,
}

impl SortKey {
    pub const ALL: [SortKey; 6] = [
        SortKey::Time,
        SortKey::Score,
        SortKey::Agent,
        SortKey::Duration,
        SortKey::File,
        SortKey::Worst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Time => "time",
            SortKey::Score => "score",
            SortKey::Agent => "agent",
            SortKey::Duration => "duration",
            SortKey::File => "file",
            SortKey::Worst => "worst",
        }
    }

    pub fn parse(text: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The ORDER BY terms. Each ends on the call id so pages never repeat or skip a call whose
    /// sort value ties with another's. Time and agent orders are written exactly as the
    /// indexes `calls_by_time` and `calls_by_agent` are, so SQLite reads them in
    /// index order instead of sorting.
    fn order_by(self, desc: bool) -> String {
        let d = if desc { "DESC" } else { "ASC" };
        match self {
            SortKey::Time => format!("COALESCE(c.started_at, c.created_at) {d}, c.id {d}"),
            SortKey::Score => format!("s.score {d}, s.call_id {d}"),
            SortKey::Agent => format!(
                "c.agent COLLATE NOCASE {d}, COALESCE(c.started_at, c.created_at) {d}, c.id {d}"
            ),
            SortKey::Duration => format!("c.duration_ms {d}, c.id {d}"),
            SortKey::File => format!("c.file_name {d}, c.id {d}"),
            // "Worst" has one meaning; the direction is ignored. Critical failures come first
            // through two queries (see `ListPlan::id_queries`); each is in score order.
            SortKey::Worst => "s.score ASC, s.call_id ASC".to_string(),
        }
    }
}

/// A request for one page of the call list.
#[derive(Debug, Clone, PartialEq)]
pub struct CallQuery {
    /// Inclusive start: `YYYY-MM-DD` (that day, UTC) or an RFC 3339 time.
    pub from: Option<String>,
    /// Inclusive end: `YYYY-MM-DD` (the whole day, UTC) or an RFC 3339 time.
    pub to: Option<String>,
    /// Agent name, matched without regard to case.
    pub agent: Option<String>,
    /// Rubric id; `None`: the rubric most recently scored with.
    pub rubric_id: Option<String>,
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    pub verdict: Verdict,
    /// Leave out calls this reviewer has marked listened.
    pub not_listened_by: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u64,
    /// Rows per page (at most [`CallQuery::MAX_LIMIT`]).
    pub limit: u32,
}

impl CallQuery {
    pub const MAX_LIMIT: u32 = 500;
}

impl Default for CallQuery {
    fn default() -> Self {
        CallQuery {
            from: None,
            to: None,
            agent: None,
            rubric_id: None,
            min_score: None,
            max_score: None,
            verdict: Verdict::All,
            not_listened_by: None,
            sort: SortKey::Time,
            descending: true,
            offset: 0,
            limit: 50,
        }
    }
}

/// One call in a list page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallListItem {
    pub call_id: String,
    pub file_name: String,
    pub agent: Option<String>,
    /// `started_at` from the call's metadata, or when the database first saw the call.
    pub call_time: String,
    /// Whether `call_time` is the real start of the call (from metadata).
    pub started_at_known: bool,
    pub duration_ms: Option<u64>,
    pub scorecard_id: i64,
    pub rubric_id: String,
    pub rubric_version: u32,
    pub score: f64,
    pub passed: bool,
    pub flagged: bool,
    /// Failed criteria ids, in rubric order.
    pub failed_criteria: Vec<String>,
    /// The failed criteria that are critical.
    pub critical_failures: Vec<String>,
    /// Earliest evidence time of a failed criterion.
    pub first_failed_ms: Option<u64>,
    /// Earliest evidence time of a failed critical criterion: the moment that flagged the call.
    pub critical_failed_ms: Option<u64>,
    /// Reviewers who marked the call listened, sorted.
    pub listened_by: Vec<String>,
    /// Criteria of this scorecard a reviewer has overridden.
    pub overridden_criteria: u64,
}

/// One page of the call list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallPage {
    /// The rubric listed (`None`: nothing scored yet).
    pub rubric_id: Option<String>,
    /// Calls matching the filters, over all pages.
    pub total: u64,
    pub offset: u64,
    pub rows: Vec<CallListItem>,
}

/// A reviewer's verdict replacing the machine's on one criterion: the latest override of that
/// criterion on that scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionOverride {
    pub review_id: i64,
    pub scorecard_id: i64,
    pub criterion_id: String,
    pub outcome: Outcome,
    pub reviewer: String,
    /// The reviewer's reason.
    pub note: String,
    pub created_at: String,
}

/// A scorecard's machine score beside the score with reviewers' overrides applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewedScore {
    pub scorecard_id: i64,
    pub machine_score: f64,
    pub reviewed_score: f64,
    /// Criteria whose reviewed outcome differs from the machine's.
    pub changed_criteria: u32,
    /// A critical criterion fails after the overrides.
    pub critical_failure: bool,
}

/// How often reviewers overrode the machine on one criterion: calibration for rubric authors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub rubric_id: String,
    pub rubric_version: u32,
    pub criterion_id: String,
    pub name: String,
    pub section: String,
    /// Scorecards with this criterion that a reviewer reviewed (listened, commented or overrode).
    pub reviewed: u64,
    /// Of those, how many have a latest override different from the machine's outcome.
    pub overridden: u64,
    /// Machine said fail, reviewer said pass: the rubric is too strict here.
    pub machine_fail_reviewer_pass: u64,
    /// Machine said pass, reviewer said fail: the rubric misses something here.
    pub machine_pass_reviewer_fail: u64,
    /// Overrides to or from "not applicable".
    pub applicability_changes: u64,
    /// overridden / reviewed.
    pub override_rate: f64,
}

/// Which disagreements to list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisagreementFilter {
    /// Only this rubric id (all when `None`).
    pub rubric_id: Option<String>,
    /// Leave out criteria reviewed on fewer scorecards than this (rates on two calls mislead).
    pub min_reviewed: u64,
}

/// One day of an agent's score trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub calls: u64,
    pub average_score: f64,
    pub passed: u64,
}

/// [`apply_overrides`] with the weights of the criteria overridden from "not applicable", each
/// looked up by `weight(rubric_hash, criterion_id)` (both backends' `reviewed`).
pub(crate) fn reviewed_with(
    scorecard_id: i64,
    scorecard: &Scorecard,
    overrides: &[CriterionOverride],
    mut weight: impl FnMut(&str, &str) -> Result<Option<f64>>,
) -> Result<ReviewedScore> {
    let mut na_weights = HashMap::new();
    for o in overrides
        .iter()
        .filter(|o| o.scorecard_id == scorecard_id && o.outcome != Outcome::NotApplicable)
    {
        let was_na = scorecard
            .results
            .iter()
            .any(|r| r.criterion_id == o.criterion_id && r.outcome == Outcome::NotApplicable);
        if was_na {
            if let Some(w) = weight(&scorecard.rubric_hash, &o.criterion_id)? {
                na_weights.insert(o.criterion_id.clone(), w);
            }
        }
    }
    Ok(apply_overrides(
        scorecard_id,
        scorecard,
        overrides,
        &na_weights,
    ))
}

/// Applies reviewers' overrides to a machine scorecard and recomputes its score exactly as
/// `callscore-rubric` scores: the percent of the points of applicable criteria earned, rounded
/// to two decimals; a pass earns the criterion's weight, a fail none, and a not-applicable
/// criterion leaves the denominator; nothing applicable at all scores 0, applicable criteria
/// that all weigh 0 score 100.
///
/// A result the machine judged not applicable is stored with 0 of 0 points, so its weight is
/// not on the scorecard: `na_weights` gives it (by criterion id) for overrides from n/a to
/// pass or fail; [`Store::reviewed_score`] looks it up among the same rubric's other
/// scorecards. A weight that cannot be found counts as 0.
///
/// When no override changes an outcome, the machine score is returned as it is.
pub fn apply_overrides(
    scorecard_id: i64,
    scorecard: &Scorecard,
    overrides: &[CriterionOverride],
    na_weights: &HashMap<String, f64>,
) -> ReviewedScore {
    let latest: HashMap<&str, Outcome> = overrides
        .iter()
        .filter(|o| o.scorecard_id == scorecard_id)
        .map(|o| (o.criterion_id.as_str(), o.outcome))
        .collect();
    let reviewed_outcome = |r: &CriterionResult| {
        latest
            .get(r.criterion_id.as_str())
            .copied()
            .unwrap_or(r.outcome)
    };
    let changed_criteria = scorecard
        .results
        .iter()
        .filter(|r| reviewed_outcome(r) != r.outcome)
        .count() as u32;
    let critical_failure = scorecard
        .results
        .iter()
        .any(|r| r.critical && reviewed_outcome(r) == Outcome::Fail);
    if changed_criteria == 0 {
        return ReviewedScore {
            scorecard_id,
            machine_score: scorecard.score,
            reviewed_score: scorecard.score,
            changed_criteria,
            critical_failure,
        };
    }
    let weight = |r: &CriterionResult| match r.outcome {
        Outcome::NotApplicable => na_weights.get(&r.criterion_id).copied().unwrap_or(0.0),
        _ => r.max_points,
    };
    let (mut earned, mut possible, mut judged) = (0.0, 0.0, false);
    for r in &scorecard.results {
        match reviewed_outcome(r) {
            Outcome::Pass => {
                earned += weight(r);
                possible += weight(r);
                judged = true;
            }
            Outcome::Fail => {
                possible += weight(r);
                judged = true;
            }
            Outcome::NotApplicable => {}
        }
    }
    let reviewed_score = match (judged, possible > 0.0) {
        (false, _) => 0.0,
        (true, false) => 100.0,
        (true, true) => ((earned / possible * 100.0) * 100.0).round() / 100.0,
    };
    ReviewedScore {
        scorecard_id,
        machine_score: scorecard.score,
        reviewed_score: reviewed_score.clamp(0.0, 100.0),
        changed_criteria,
        critical_failure,
    }
}

const STAMP: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// A list's date bound in the stored form. `from` is inclusive; `to` becomes an exclusive
/// upper bound (a date alone means the whole of that day, a time that whole second).
pub(crate) fn date_bound(text: &str, what: &'static str, upper: bool) -> Result<String> {
    let bad = || StoreError::BadDate {
        what,
        value: text.to_string(),
    };
    let trimmed = text.trim();
    if let Ok(date) = Date::parse(trimmed, format_description!("[year]-[month]-[day]")) {
        let day = if upper {
            date.next_day().ok_or_else(bad)?
        } else {
            date
        };
        return day.midnight().assume_utc().format(STAMP).map_err(|_| bad());
    }
    let at = normalise_instant(trimmed).ok_or_else(bad)?;
    if !upper {
        return Ok(at);
    }
    let next = PrimitiveDateTime::parse(&at, STAMP)
        .map_err(|_| bad())?
        .assume_utc()
        + time::Duration::seconds(1);
    next.format(STAMP).map_err(|_| bad())
}

fn split_ids(joined: Option<String>) -> Vec<String> {
    joined
        .filter(|s| !s.is_empty())
        .map(|s| s.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default()
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|v| v.max(0) as u64)
}

/// Appends `clause` to `sql` with its one `?` numbered as the next parameter, `value`.
fn push_filter(sql: &mut String, params: &mut Vec<Value>, clause: &str, value: Value) {
    params.push(value);
    sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
}

/// The WHERE clause (after `s.is_current = 1 AND s.rubric_id = ?1`) and its parameters.
fn list_filters(q: &CallQuery, params: &mut Vec<Value>) -> Result<String> {
    let mut sql = String::new();
    if let Some(from) = q.from.as_deref().filter(|s| !s.trim().is_empty()) {
        let at = date_bound(from, "'from' date", false)?;
        push_filter(
            &mut sql,
            params,
            " AND COALESCE(c.started_at, c.created_at) >= ?",
            Value::Text(at),
        );
    }
    if let Some(to) = q.to.as_deref().filter(|s| !s.trim().is_empty()) {
        let at = date_bound(to, "'to' date", true)?;
        push_filter(
            &mut sql,
            params,
            " AND COALESCE(c.started_at, c.created_at) < ?",
            Value::Text(at),
        );
    }
    if let Some(agent) = q.agent.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        push_filter(
            &mut sql,
            params,
            " AND c.agent = ? COLLATE NOCASE",
            Value::Text(agent.to_string()),
        );
    }
    if let Some(min) = q.min_score.filter(|v| v.is_finite()) {
        push_filter(&mut sql, params, " AND s.score >= ?", Value::Real(min));
    }
    if let Some(max) = q.max_score.filter(|v| v.is_finite()) {
        push_filter(&mut sql, params, " AND s.score <= ?", Value::Real(max));
    }
    match q.verdict {
        Verdict::All => {}
        Verdict::Passed => sql.push_str(" AND s.passed = 1"),
        Verdict::Failed => sql.push_str(" AND s.passed = 0"),
        Verdict::Flagged => sql.push_str(" AND s.flagged = 1"),
    }
    if let Some(reviewer) = q
        .not_listened_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        push_filter(
            &mut sql,
            params,
            " AND NOT EXISTS (SELECT 1 FROM reviews rv WHERE rv.call_id = s.call_id AND rv.listened = 1 AND rv.reviewer = ?)",
            Value::Text(reviewer.to_string()),
        );
    }
    Ok(sql)
}

/// A failed critical criterion on scorecard `s` (served by `results_critical_failures`).
const HAS_CRITICAL: &str =
    "EXISTS (SELECT 1 FROM results r WHERE r.scorecard_id = s.id AND r.outcome = 'fail' AND r.critical = 1)";
const IS_CRITICAL: &str =
    "s.id IN (SELECT r.scorecard_id FROM results r WHERE r.outcome = 'fail' AND r.critical = 1)";

/// The SQL of one list request. Pages are found in two steps: the ids of the page's
/// scorecards (an index walk that touches nothing else, however deep the page), then the
/// details of those few. SQLite computes a select list even for rows that OFFSET skips, so
/// one query with the per-row subqueries would do that work for every skipped row.
struct ListPlan {
    /// `FROM … WHERE …` of the page query; `?1` is the rubric id.
    from: String,
    /// The same for counting: without the join to calls when no filter needs it.
    count_from: String,
    params: Vec<Value>,
    order: String,
    limit: u32,
    offset: u64,
}

fn list_plan(q: &CallQuery, rubric: &str) -> Result<ListPlan> {
    let mut params = vec![Value::Text(rubric.to_string())];
    let filters = list_filters(q, &mut params)?;
    let given = |v: &Option<String>| v.as_deref().is_some_and(|a| !a.trim().is_empty());
    let calls_filtered = given(&q.agent) || given(&q.from) || given(&q.to);
    // Which table drives the join decides which index serves the page. SQLite's planner, left
    // to itself, starts from scorecards (its rubric term looks selective) and then sorts all
    // 100,000 rows for a time order; CROSS JOIN fixes the order (SQLite documents it as the way
    // to do so). Calls drive when an agent or date filter narrows them, or when the order is
    // theirs (time, agent, duration, file name); otherwise the current scorecards of the
    // rubric drive, in score order.
    let calls_drive = calls_filtered
        || matches!(
            q.sort,
            SortKey::Time | SortKey::Agent | SortKey::Duration | SortKey::File
        );
    let join = if calls_drive {
        "calls c CROSS JOIN scorecards s"
    } else {
        "scorecards s CROSS JOIN calls c"
    };
    let from = format!(
        "FROM {join} WHERE s.call_id = c.id AND s.is_current = 1 AND s.rubric_id = ?1{filters}"
    );
    let count_from = if calls_filtered {
        from.clone()
    } else {
        format!("FROM scorecards s WHERE s.is_current = 1 AND s.rubric_id = ?1{filters}")
    };
    Ok(ListPlan {
        from,
        count_from,
        params,
        order: q.sort.order_by(q.descending),
        limit: q.limit.clamp(1, CallQuery::MAX_LIMIT),
        offset: q.offset.min(i64::MAX as u64),
    })
}

impl ListPlan {
    /// The page's id queries: one, or for the worst-first order two — the calls with a
    /// critical failure (few; sorted by score) followed by the rest (read in score order from
    /// the score index) — with each one's LIMIT and OFFSET given `critical` such calls.
    fn id_queries(&self, sort: SortKey, critical: u64) -> Vec<String> {
        let page = |extra: &str, limit: u64, offset: u64| {
            format!(
                "SELECT s.id {}{extra} ORDER BY {} LIMIT {limit} OFFSET {offset}",
                self.from, self.order
            )
        };
        let limit = u64::from(self.limit);
        if sort != SortKey::Worst {
            return vec![page("", limit, self.offset)];
        }
        let mut out = Vec::new();
        if self.offset < critical {
            out.push(page(&format!(" AND {IS_CRITICAL}"), limit, self.offset));
        }
        let taken = critical.saturating_sub(self.offset).min(limit);
        if taken < limit {
            out.push(page(
                &format!(" AND NOT {HAS_CRITICAL}"),
                limit - taken,
                self.offset.saturating_sub(critical),
            ));
        }
        out
    }
}

/// The columns of one list row, for the scorecards whose ids are `?1…?n`.
fn details_sql(n: usize) -> String {
    let ids = (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT s.call_id, c.file_name, c.agent, COALESCE(c.started_at, c.created_at),
                c.started_at IS NOT NULL, c.duration_ms, s.id, s.rubric_id, s.rubric_version, s.score,
                s.passed, s.flagged, s.first_failed_ms,
                (SELECT group_concat(r.criterion_id, char(31) ORDER BY r.position) FROM results r
                  WHERE r.scorecard_id = s.id AND r.outcome = 'fail'),
                (SELECT group_concat(r.criterion_id, char(31) ORDER BY r.position) FROM results r
                  WHERE r.scorecard_id = s.id AND r.outcome = 'fail' AND r.critical = 1),
                (SELECT group_concat(reviewer, char(31) ORDER BY reviewer) FROM
                  (SELECT DISTINCT rv.reviewer AS reviewer FROM reviews rv WHERE rv.call_id = s.call_id AND rv.listened = 1)),
                (SELECT count(DISTINCT rv.criterion_id) FROM reviews rv
                  WHERE rv.scorecard_id = s.id AND rv.override_outcome IS NOT NULL),
                (SELECT min(json_extract(e.value, '$.start_ms')) FROM results r, json_each(r.evidence_json) e
                  WHERE r.scorecard_id = s.id AND r.outcome = 'fail' AND r.critical = 1)
         FROM scorecards s JOIN calls c ON c.id = s.call_id
         WHERE s.id IN ({ids})"
    )
}

impl Store {
    /// Creates the review pages' indexes when missing ([`BROWSE_INDEXES_SQL`]); a no-op once
    /// the migration carrying them has run. `callscore serve` calls it at start.
    pub fn ensure_browse_indexes(&self) -> Result<()> {
        self.conn
            .execute_batch(BROWSE_INDEXES_SQL)
            .map_err(self.sql("creating the review pages' indexes"))
    }

    /// One page of current scorecards of a rubric with their calls, filtered and sorted in SQL.
    pub fn list_calls(&self, q: &CallQuery) -> Result<CallPage> {
        let Some(rubric) = self.rubric_or_latest(q.rubric_id.as_deref())? else {
            return Ok(CallPage {
                rubric_id: None,
                total: 0,
                offset: q.offset,
                rows: vec![],
            });
        };
        let plan = list_plan(q, &rubric)?;
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = self
                .conn
                .prepare_cached(sql)
                .and_then(|mut st| st.query_row(params_from_iter(plan.params.iter()), |r| r.get(0)))
                .map_err(self.sql("counting calls"))?;
            Ok(n.max(0) as u64)
        };
        let total = count(&format!("SELECT count(*) {}", plan.count_from))?;
        let critical = if q.sort == SortKey::Worst {
            count(&format!("SELECT count(*) {} AND {IS_CRITICAL}", plan.from))?
        } else {
            0
        };
        let mut ids: Vec<i64> = Vec::with_capacity(plan.limit as usize);
        for sql in plan.id_queries(q.sort, critical) {
            let mut stmt = self
                .conn
                .prepare_cached(&sql)
                .map_err(self.sql("listing calls"))?;
            let page = stmt
                .query_map(params_from_iter(plan.params.iter()), |r| r.get::<_, i64>(0))
                .map_err(self.sql("listing calls"))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sql("listing calls"))?;
            ids.extend(page);
        }
        let rows = self.list_details(&ids)?;
        Ok(CallPage {
            rubric_id: Some(rubric),
            total,
            offset: q.offset,
            rows,
        })
    }

    /// The list rows of these scorecards, in the order given.
    fn list_details(&self, ids: &[i64]) -> Result<Vec<CallListItem>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut stmt = self
            .conn
            .prepare_cached(&details_sql(ids.len()))
            .map_err(self.sql("listing calls"))?;
        let mut by_id: HashMap<i64, CallListItem> = stmt
            .query_map(params_from_iter(ids.iter()), |r| {
                Ok(CallListItem {
                    call_id: r.get(0)?,
                    file_name: r.get(1)?,
                    agent: r.get(2)?,
                    call_time: r.get(3)?,
                    started_at_known: r.get(4)?,
                    duration_ms: opt_u64(r.get(5)?),
                    scorecard_id: r.get(6)?,
                    rubric_id: r.get(7)?,
                    rubric_version: r.get(8)?,
                    score: r.get(9)?,
                    passed: r.get(10)?,
                    flagged: r.get(11)?,
                    first_failed_ms: opt_u64(r.get(12)?),
                    failed_criteria: split_ids(r.get(13)?),
                    critical_failures: split_ids(r.get(14)?),
                    listened_by: split_ids(r.get(15)?),
                    overridden_criteria: r.get::<_, i64>(16)?.max(0) as u64,
                    critical_failed_ms: opt_u64(r.get(17)?),
                })
            })
            .map_err(self.sql("listing calls"))?
            .map(|row| row.map(|row| (row.scorecard_id, row)))
            .collect::<rusqlite::Result<_>>()
            .map_err(self.sql("listing calls"))?;
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// The query plans SQLite chooses for `q`'s page, one line per step, each query's plan
    /// after a `QUERY` line (tests and benchmarks check that lists are served by indexes).
    #[doc(hidden)]
    pub fn explain_list_calls(&self, q: &CallQuery) -> Result<Vec<String>> {
        let rubric = q.rubric_id.clone().unwrap_or_default();
        let plan = list_plan(q, &rubric)?;
        // Both halves of the worst-first order: pretend the page straddles them.
        let straddle = CallQuery {
            offset: 0,
            ..q.clone()
        };
        let plan_for_ids = ListPlan {
            offset: straddle.offset,
            ..list_plan(&straddle, &rubric)?
        };
        let mut queries = vec![format!("SELECT count(*) {}", plan.count_from)];
        queries.extend(plan_for_ids.id_queries(q.sort, 1));
        let mut out = Vec::new();
        for sql in queries {
            out.push(format!("QUERY {sql}"));
            let mut stmt = self
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .map_err(self.sql("explaining"))?;
            let rows = stmt
                .query_map(params_from_iter(plan.params.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .map_err(self.sql("explaining"))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sql("explaining"))?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Agent names seen in calls, one spelling per agent (case-insensitively), sorted.
    pub fn agent_names(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT min(agent) FROM calls WHERE agent IS NOT NULL
                 GROUP BY agent COLLATE NOCASE ORDER BY agent COLLATE NOCASE",
            )
            .map_err(self.sql("listing agents"))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.sql("listing agents"))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(self.sql("listing agents"))
    }

    /// Per-agent summary over the current scorecards of a rubric (`None`: the latest rubric).
    pub fn agent_summaries(
        &self,
        rubric_id: Option<&str>,
        agent: Option<&str>,
    ) -> Result<Vec<AgentRow>> {
        let Some(rubric) = self.rubric_or_latest(rubric_id)? else {
            return Ok(vec![]);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT min(c.agent), count(*), avg(s.score), sum(s.passed), sum(s.flagged), sum(COALESCE(c.duration_ms, 0))
                 FROM calls c JOIN scorecards s ON s.call_id = c.id AND s.is_current = 1 AND s.rubric_id = ?1
                 WHERE (?2 IS NULL OR c.agent = ?2 COLLATE NOCASE)
                 GROUP BY c.agent COLLATE NOCASE
                 ORDER BY min(c.agent) IS NULL, min(c.agent) COLLATE NOCASE",
            )
            .map_err(self.sql("summarising agents"))?;
        let rows = stmt
            .query_map(params![rubric, agent], |r| {
                let calls = r.get::<_, i64>(1)?.max(0) as u64;
                let passed = r.get::<_, i64>(3)?.max(0) as u64;
                Ok(AgentRow {
                    agent: r.get(0)?,
                    calls,
                    average_score: r.get(2)?,
                    passed,
                    pass_rate: if calls == 0 {
                        0.0
                    } else {
                        passed as f64 / calls as f64
                    },
                    flagged: r.get::<_, i64>(4)?.max(0) as u64,
                    audio_ms: r.get::<_, i64>(5)?.max(0) as u64,
                })
            })
            .map_err(self.sql("summarising agents"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("summarising agents"))
    }

    /// An agent's daily average score, the last `days` days that have calls, oldest first.
    pub fn agent_trend(
        &self,
        agent: &str,
        rubric_id: Option<&str>,
        days: u32,
    ) -> Result<Vec<TrendPoint>> {
        let Some(rubric) = self.rubric_or_latest(rubric_id)? else {
            return Ok(vec![]);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT substr(COALESCE(c.started_at, c.created_at), 1, 10) AS day, count(*), avg(s.score), sum(s.passed)
                 FROM calls c JOIN scorecards s ON s.call_id = c.id AND s.is_current = 1 AND s.rubric_id = ?2
                 WHERE c.agent = ?1 COLLATE NOCASE
                 GROUP BY day ORDER BY day DESC LIMIT ?3",
            )
            .map_err(self.sql("reading an agent's trend"))?;
        let mut rows = stmt
            .query_map(params![agent, rubric, days], |r| {
                Ok(TrendPoint {
                    day: r.get(0)?,
                    calls: r.get::<_, i64>(1)?.max(0) as u64,
                    average_score: r.get(2)?,
                    passed: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })
            .map_err(self.sql("reading an agent's trend"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading an agent's trend"))?;
        rows.reverse();
        Ok(rows)
    }

    /// Per-criterion pass rates over one agent's current scorecards, in rubric order.
    pub fn agent_criteria(
        &self,
        agent: &str,
        rubric_id: Option<&str>,
    ) -> Result<Vec<CriterionRow>> {
        let Some(rubric) = self.rubric_or_latest(rubric_id)? else {
            return Ok(vec![]);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.criterion_id, max(r.name), max(r.section), max(r.critical),
                        sum(r.outcome = 'pass'), sum(r.outcome = 'fail'), sum(r.outcome = 'na'), min(r.position) AS pos
                 FROM calls c JOIN scorecards s ON s.call_id = c.id AND s.is_current = 1 AND s.rubric_id = ?2
                      JOIN results r ON r.scorecard_id = s.id
                 WHERE c.agent = ?1 COLLATE NOCASE
                 GROUP BY r.criterion_id ORDER BY pos, r.criterion_id",
            )
            .map_err(self.sql("summarising an agent's criteria"))?;
        let rows = stmt
            .query_map(params![agent, rubric], |r| {
                let pass = r.get::<_, i64>(4)?.max(0) as u64;
                let fail = r.get::<_, i64>(5)?.max(0) as u64;
                Ok(CriterionRow {
                    criterion_id: r.get(0)?,
                    name: r.get(1)?,
                    section: r.get(2)?,
                    critical: r.get(3)?,
                    pass,
                    fail,
                    na: r.get::<_, i64>(6)?.max(0) as u64,
                    pass_rate: (pass + fail > 0).then(|| pass as f64 / (pass + fail) as f64),
                })
            })
            .map_err(self.sql("summarising an agent's criteria"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("summarising an agent's criteria"))
    }

    fn rubric_or_latest(&self, rubric_id: Option<&str>) -> Result<Option<String>> {
        match rubric_id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => Ok(Some(id.to_string())),
            None => self.latest_rubric_id(),
        }
    }

    /// The latest override of each overridden criterion of a scorecard, in criterion id order.
    pub fn overrides_for_scorecard(&self, scorecard_id: i64) -> Result<Vec<CriterionOverride>> {
        self.latest_overrides("rv.scorecard_id = ?1", params![scorecard_id])
    }

    fn latest_overrides(
        &self,
        condition: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<CriterionOverride>> {
        // The latest override wins: a second reviewer (or the same one) can correct the first.
        // Review times have one-second resolution, so the id breaks ties in insertion order.
        let sql = format!(
            "SELECT id, scorecard_id, criterion_id, override_outcome, reviewer, note, created_at FROM (
                 SELECT rv.id, rv.scorecard_id, rv.criterion_id, rv.override_outcome, rv.reviewer, rv.note, rv.created_at,
                        row_number() OVER (PARTITION BY rv.scorecard_id, rv.criterion_id
                                           ORDER BY rv.created_at DESC, rv.id DESC) AS nth
                 FROM reviews rv
                 WHERE rv.override_outcome IS NOT NULL AND rv.scorecard_id IS NOT NULL AND {condition})
             WHERE nth = 1 ORDER BY scorecard_id, criterion_id"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(self.sql("reading overrides"))?;
        let rows = stmt
            .query_map(p, |r| {
                let outcome: String = r.get(3)?;
                Ok(CriterionOverride {
                    review_id: r.get(0)?,
                    scorecard_id: r.get(1)?,
                    criterion_id: r.get(2)?,
                    // The CHECK constraint admits only values Outcome parses.
                    outcome: outcome.parse().unwrap_or(Outcome::NotApplicable),
                    reviewer: r.get(4)?,
                    note: r.get(5)?,
                    created_at: r.get(6)?,
                })
            })
            .map_err(self.sql("reading overrides"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading overrides"))
    }

    /// A scorecard's machine and reviewed scores; `None` when there is no such scorecard.
    pub fn reviewed_score(&self, scorecard_id: i64) -> Result<Option<ReviewedScore>> {
        let Some(stored) = self.scorecard(scorecard_id)? else {
            return Ok(None);
        };
        let overrides = self.overrides_for_scorecard(scorecard_id)?;
        self.reviewed(scorecard_id, &stored.scorecard, &overrides)
            .map(Some)
    }

    /// [`apply_overrides`] with the weights of criteria overridden from "not applicable".
    pub fn reviewed(
        &self,
        scorecard_id: i64,
        scorecard: &Scorecard,
        overrides: &[CriterionOverride],
    ) -> Result<ReviewedScore> {
        reviewed_with(scorecard_id, scorecard, overrides, |hash, id| {
            self.criterion_weight(hash, id)
        })
    }

    /// A criterion's weight in a rubric (by content hash), from any scorecard of that rubric
    /// that judged it; `None` when none did.
    fn criterion_weight(&self, rubric_hash: &str, criterion_id: &str) -> Result<Option<f64>> {
        // Walks results_by_criterion (criterion_id, outcome) and stops at the first match.
        self.conn
            .query_row(
                "SELECT r.max_points FROM results r JOIN scorecards s ON s.id = r.scorecard_id
                 WHERE r.criterion_id = ?2 AND r.outcome IN ('pass', 'fail') AND s.rubric_hash = ?1 LIMIT 1",
                params![rubric_hash, criterion_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("finding a criterion's weight"))
    }

    /// Reviewed scores of every scorecard that has an override (of `rubric_id`'s scorecards when
    /// given), by scorecard id. A scorecard that is not in the map has no override: its
    /// reviewed score is its machine score. Reviewers override a small share of calls, so this
    /// reads only those scorecards, whatever the size of the database.
    pub fn reviewed_scores(&self, rubric_id: Option<&str>) -> Result<BTreeMap<i64, ReviewedScore>> {
        let overrides = self.latest_overrides(
            "(?1 IS NULL OR rv.scorecard_id IN (SELECT id FROM scorecards WHERE rubric_id = ?1))",
            params![rubric_id],
        )?;
        let mut by_scorecard: BTreeMap<i64, Vec<CriterionOverride>> = BTreeMap::new();
        for o in overrides {
            by_scorecard.entry(o.scorecard_id).or_default().push(o);
        }
        let mut out = BTreeMap::new();
        for (scorecard_id, overrides) in by_scorecard {
            if let Some(stored) = self.scorecard(scorecard_id)? {
                out.insert(
                    scorecard_id,
                    self.reviewed(scorecard_id, &stored.scorecard, &overrides)?,
                );
            }
        }
        Ok(out)
    }

    /// Criteria on which reviewers overrode the machine, most often overridden first.
    ///
    /// A scorecard counts as reviewed when a review points at it, or when a review without a
    /// scorecard (a note about the whole call) was left on a call whose current scorecard it is.
    pub fn disagreements(&self, filter: &DisagreementFilter) -> Result<Vec<Disagreement>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "WITH reviewed AS (
                     SELECT scorecard_id AS sid FROM reviews WHERE scorecard_id IS NOT NULL
                     UNION
                     SELECT s.id FROM reviews rv JOIN scorecards s ON s.call_id = rv.call_id AND s.is_current = 1
                     WHERE rv.scorecard_id IS NULL
                 ),
                 latest AS (
                     SELECT scorecard_id, criterion_id, override_outcome FROM (
                         SELECT rv.scorecard_id, rv.criterion_id, rv.override_outcome,
                                row_number() OVER (PARTITION BY rv.scorecard_id, rv.criterion_id
                                                   ORDER BY rv.created_at DESC, rv.id DESC) AS nth
                         FROM reviews rv WHERE rv.override_outcome IS NOT NULL AND rv.scorecard_id IS NOT NULL)
                     WHERE nth = 1
                 )
                 SELECT s.rubric_id, s.rubric_version, r.criterion_id, max(r.name), max(r.section), count(*),
                        coalesce(sum(l.override_outcome IS NOT NULL AND l.override_outcome <> r.outcome), 0),
                        coalesce(sum(r.outcome = 'fail' AND l.override_outcome = 'pass'), 0),
                        coalesce(sum(r.outcome = 'pass' AND l.override_outcome = 'fail'), 0),
                        coalesce(sum(l.override_outcome IS NOT NULL AND l.override_outcome <> r.outcome
                            AND (r.outcome = 'na' OR l.override_outcome = 'na')), 0),
                        min(r.position)
                 FROM reviewed x
                      JOIN scorecards s ON s.id = x.sid
                      JOIN results r ON r.scorecard_id = s.id
                      LEFT JOIN latest l ON l.scorecard_id = r.scorecard_id AND l.criterion_id = r.criterion_id
                 WHERE (?1 IS NULL OR s.rubric_id = ?1)
                 GROUP BY s.rubric_id, s.rubric_version, r.criterion_id
                 HAVING count(*) >= ?2",
            )
            .map_err(self.sql("counting disagreements"))?;
        let mut rows = stmt
            .query_map(
                params![
                    filter.rubric_id,
                    filter.min_reviewed.min(i64::MAX as u64) as i64
                ],
                |r| {
                    let reviewed = r.get::<_, i64>(5)?.max(0) as u64;
                    let overridden = r.get::<_, i64>(6)?.max(0) as u64;
                    Ok((
                        Disagreement {
                            rubric_id: r.get(0)?,
                            rubric_version: r.get(1)?,
                            criterion_id: r.get(2)?,
                            name: r.get(3)?,
                            section: r.get(4)?,
                            reviewed,
                            overridden,
                            machine_fail_reviewer_pass: r.get::<_, i64>(7)?.max(0) as u64,
                            machine_pass_reviewer_fail: r.get::<_, i64>(8)?.max(0) as u64,
                            applicability_changes: r.get::<_, i64>(9)?.max(0) as u64,
                            override_rate: if reviewed == 0 {
                                0.0
                            } else {
                                overridden as f64 / reviewed as f64
                            },
                        },
                        r.get::<_, i64>(10)?,
                    ))
                },
            )
            .map_err(self.sql("counting disagreements"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("counting disagreements"))?;
        // Most disagreed first; ties in rubric order, so the list reads stably.
        rows.sort_by(|(a, pa), (b, pb)| {
            b.override_rate
                .total_cmp(&a.override_rate)
                .then(b.overridden.cmp(&a.overridden))
                .then(a.rubric_id.cmp(&b.rubric_id))
                .then(b.rubric_version.cmp(&a.rubric_version))
                .then(pa.cmp(pb))
        });
        Ok(rows.into_iter().map(|(d, _)| d).collect())
    }

    /// Whether a call exists (the audio route answers 404 before touching the file system).
    pub fn call_exists(&self, call_id: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM calls WHERE id = ?1", [call_id], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(self.sql("finding a call"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewCall, NewReview};
    use callscore_core::{CallMeta, Evidence, Segment, Speaker, Transcript};
    use std::path::PathBuf;

    fn result(id: &str, outcome: Outcome, weight: f64, critical: bool) -> CriterionResult {
        CriterionResult {
            criterion_id: id.into(),
            name: format!("{id} name"),
            section: "Opening".into(),
            outcome,
            points: if outcome == Outcome::Pass {
                weight
            } else {
                0.0
            },
            max_points: weight,
            critical,
            evidence: vec![Evidence {
                speaker: Speaker::Agent,
                start_ms: 1_000,
                end_ms: 2_000,
                quote: "hi".into(),
            }],
            reason: String::new(),
        }
    }

    fn scorecard(results: Vec<CriterionResult>) -> Scorecard {
        let max: f64 = results
            .iter()
            .filter(|r| r.outcome != Outcome::NotApplicable)
            .map(|r| r.max_points)
            .sum();
        let got: f64 = results.iter().map(|r| r.points).sum();
        let score = if max > 0.0 { 100.0 * got / max } else { 100.0 };
        let critical = results
            .iter()
            .any(|r| r.critical && r.outcome == Outcome::Fail);
        let passed = score >= 80.0 && !critical;
        Scorecard {
            rubric_id: "inbound".into(),
            rubric_version: 1,
            rubric_hash: "h1".into(),
            score,
            passed,
            flagged: !passed,
            flag_reasons: vec![],
            judged: true,
            results,
        }
    }

    fn over(scorecard_id: i64, criterion: &str, outcome: Outcome) -> CriterionOverride {
        CriterionOverride {
            review_id: 1,
            scorecard_id,
            criterion_id: criterion.into(),
            outcome,
            reviewer: "maria".into(),
            note: "heard it".into(),
            created_at: String::new(),
        }
    }

    #[test]
    fn overrides_recompute_the_score_like_the_rubric() {
        let mut hold = result("hold", Outcome::NotApplicable, 10.0, false);
        // As the rubric stores it: a not-applicable criterion has 0 of 0 points.
        hold.max_points = 0.0;
        let sc = scorecard(vec![
            result("greeting", Outcome::Fail, 10.0, false),
            result("name", Outcome::Pass, 30.0, false),
            hold,
            result("courtesy", Outcome::Fail, 0.0, true),
        ]);
        assert_eq!(sc.score, 75.0);
        let no_weights = HashMap::new();
        let none = apply_overrides(7, &sc, &[], &no_weights);
        assert_eq!(
            (
                none.reviewed_score,
                none.changed_criteria,
                none.critical_failure
            ),
            (75.0, 0, true)
        );

        // Greeting fail → pass: 40 of 40. The critical failure overridden to pass.
        let fixed = apply_overrides(
            7,
            &sc,
            &[
                over(7, "greeting", Outcome::Pass),
                over(7, "courtesy", Outcome::Pass),
            ],
            &no_weights,
        );
        assert_eq!(
            (
                fixed.reviewed_score,
                fixed.changed_criteria,
                fixed.critical_failure
            ),
            (100.0, 2, false)
        );

        // Name pass → n/a leaves the denominator: 0 of 10.
        let na = apply_overrides(
            7,
            &sc,
            &[over(7, "name", Outcome::NotApplicable)],
            &no_weights,
        );
        assert_eq!(na.reviewed_score, 0.0);
        // Hold n/a → fail joins the denominator with its weight from elsewhere: 30 of 50.
        let weights = HashMap::from([("hold".to_string(), 10.0)]);
        assert_eq!(
            apply_overrides(7, &sc, &[over(7, "hold", Outcome::Fail)], &weights).reviewed_score,
            60.0
        );
        // Without a known weight it counts as 0: 30 of 40.
        assert_eq!(
            apply_overrides(7, &sc, &[over(7, "hold", Outcome::Fail)], &no_weights).reviewed_score,
            75.0
        );
        // Two decimals, as the rubric rounds: 40 of 45.
        let w5 = HashMap::from([("hold".to_string(), 5.0)]);
        let r = apply_overrides(
            7,
            &sc,
            &[
                over(7, "greeting", Outcome::Pass),
                over(7, "hold", Outcome::Fail),
            ],
            &w5,
        );
        assert_eq!(r.reviewed_score, 88.89);
        // Everything not applicable: nothing could be judged, score 0.
        let all_na: Vec<_> = ["greeting", "name", "courtesy"]
            .iter()
            .map(|c| over(7, c, Outcome::NotApplicable))
            .collect();
        assert_eq!(
            apply_overrides(7, &sc, &all_na, &no_weights).reviewed_score,
            0.0
        );
        // Overrides of another scorecard and overrides that agree with the machine change nothing.
        let other = apply_overrides(
            7,
            &sc,
            &[
                over(8, "greeting", Outcome::Pass),
                over(7, "name", Outcome::Pass),
            ],
            &no_weights,
        );
        assert_eq!((other.reviewed_score, other.changed_criteria), (75.0, 0));
    }

    #[test]
    fn a_not_applicable_criterion_takes_its_weight_from_the_same_rubric() {
        let mut store = Store::open_in_memory().unwrap();
        let t = Transcript {
            segments: vec![],
            ..Default::default()
        };
        let mut na = result("hold", Outcome::NotApplicable, 0.0, false);
        na.max_points = 0.0;
        let judged = scorecard(vec![
            result("greeting", Outcome::Pass, 10.0, false),
            result("hold", Outcome::Pass, 5.0, false),
        ]);
        let unjudged = scorecard(vec![result("greeting", Outcome::Pass, 10.0, false), na]);
        let (path, meta) = (PathBuf::from("/r/a.wav"), CallMeta::default());
        let call = |id: &'static str| NewCall {
            id,
            source_path: &path,
            duration_ms: 1,
            channels: 1,
            sample_rate: 8_000,
            format: "wav",
            meta: &meta,
            warnings: &[],
        };
        store
            .record_scored_call(&call("a1a1a1a1"), &t, &judged)
            .unwrap();
        let sid = store
            .record_scored_call(&call("b2b2b2b2"), &t, &unjudged)
            .unwrap()
            .scorecard_id();
        store
            .add_review(&NewReview {
                call_id: "b2b2b2b2".into(),
                scorecard_id: Some(sid),
                reviewer: "maria".into(),
                criterion_id: Some("hold".into()),
                override_outcome: Some(Outcome::Fail),
                note: "held for 3 minutes without asking".into(),
                listened: true,
            })
            .unwrap();
        let r = store.reviewed_score(sid).unwrap().unwrap();
        assert_eq!((r.machine_score, r.reviewed_score), (100.0, 66.67));
        assert_eq!(store.reviewed_scores(None).unwrap()[&sid], r);
        assert_eq!(store.reviewed_score(9_999).unwrap(), None);
    }

    #[test]
    fn date_bounds_take_days_and_times() {
        assert_eq!(
            date_bound("2024-05-02", "from", false).unwrap(),
            "2024-05-02T00:00:00Z"
        );
        assert_eq!(
            date_bound("2024-05-02", "to", true).unwrap(),
            "2024-05-03T00:00:00Z"
        );
        assert_eq!(
            date_bound("2024-05-02T10:00:00+02:00", "to", true).unwrap(),
            "2024-05-02T08:00:01Z"
        );
        let err = date_bound("May 2nd", "'from' date", false).unwrap_err();
        assert!(
            err.to_string().contains("May 2nd") && err.to_string().contains("'from' date"),
            "{err}"
        );
    }

    fn id(n: usize) -> String {
        format!("{n:064x}")
    }

    const AGENTS: [&str; 6] = ["Daniel", "Maria", "Gary", "Priya", "Tom", "Aisha"];

    /// The `i`th synthetic call: 6 agents, 200 days, a third failing the greeting, two fifths
    /// missing questions, one in 17 with a critical courtesy failure.
    fn synthetic_call(i: usize) -> (CallMeta, Scorecard, u64) {
        let day = i % 200;
        let meta = CallMeta {
            agent: Some(AGENTS[i % AGENTS.len()].to_string()),
            started_at: Some(format!(
                "2024-{:02}-{:02}T{:02}:{:02}:00Z",
                1 + day / 28,
                1 + day % 28,
                8 + i % 9,
                i % 60
            )),
            ..Default::default()
        };
        let greeting = if i.is_multiple_of(3) {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let courtesy = if i.is_multiple_of(17) {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let questions = if i % 5 < 2 {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let mut rude = result("courtesy", courtesy, 0.0, true);
        rude.evidence[0].start_ms = 5_000;
        let sc = scorecard(vec![
            result("greeting", greeting, 10.0, false),
            result("questions", questions, 15.0, false),
            rude,
        ]);
        (meta, sc, 30_000 + (i as u64 * 7919) % 600_000)
    }

    /// Fills a database with `n` scored calls through the store's write API (each call with its
    /// transcript and scorecard, one transaction each).
    fn fill(store: &mut Store, n: usize) {
        let transcript = Transcript {
            duration_ms: 60_000,
            model: "tiny.en".into(),
            segments: vec![Segment {
                speaker: Speaker::Agent,
                start_ms: 0,
                end_ms: 2_000,
                text: "Thank you for calling".into(),
                words: vec![],
                ..Default::default()
            }],
            meta: CallMeta::default(),
            ..Default::default()
        };
        for i in 0..n {
            let (meta, sc, duration_ms) = synthetic_call(i);
            let path = PathBuf::from(format!("/recordings/call-{i:06}.wav"));
            let call = NewCall {
                id: &id(i),
                source_path: &path,
                duration_ms,
                channels: 2,
                sample_rate: 8_000,
                format: "wav",
                meta: &meta,
                warnings: &[],
            };
            store.record_scored_call(&call, &transcript, &sc).unwrap();
        }
    }

    /// The same rows as [`fill`] (less the transcripts, which lists never read) written in one
    /// transaction: a call per transaction through the API takes a minute for 100,000 calls in
    /// a debug build, this takes seconds. `bulk_rows_match_the_write_api` keeps the two equal.
    fn fill_bulk(store: &mut Store, n: usize) {
        let tx = store.conn.transaction().unwrap();
        {
            let mut call = tx
                .prepare(
                    "INSERT INTO calls (id, source_path, file_name, duration_ms, channels, sample_rate, format, meta_json,
                                        agent, started_at, status)
                     VALUES (?1, ?2, ?3, ?4, 2, 8000, 'wav', ?5, ?6, ?7, 'scored')",
                )
                .unwrap();
            let mut card = tx
                .prepare(
                    "INSERT INTO scorecards (id, call_id, rubric_id, rubric_version, rubric_hash, score, passed, flagged,
                                             flag_reasons_json, first_failed_ms, is_current)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '[]', ?9, 1)",
                )
                .unwrap();
            let mut result = tx
                .prepare(
                    "INSERT INTO results (scorecard_id, position, criterion_id, name, section, outcome, points, max_points,
                                          critical, evidence_json, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '')",
                )
                .unwrap();
            for i in 0..n {
                let (meta, sc, duration_ms) = synthetic_call(i);
                let call_id = id(i);
                let file = format!("call-{i:06}.wav");
                call.execute(params![
                    call_id,
                    format!("/recordings/{file}"),
                    file,
                    duration_ms as i64,
                    serde_json::to_string(&meta).unwrap(),
                    meta.agent,
                    meta.started_at,
                ])
                .unwrap();
                let sid = i as i64 + 1;
                card.execute(params![
                    sid,
                    call_id,
                    sc.rubric_id,
                    sc.rubric_version,
                    sc.rubric_hash,
                    sc.score,
                    sc.passed,
                    sc.flagged,
                    sc.first_failed_moment_ms().map(|v| v as i64),
                ])
                .unwrap();
                for (pos, r) in sc.results.iter().enumerate() {
                    result
                        .execute(params![
                            sid,
                            pos as i64,
                            r.criterion_id,
                            r.name,
                            r.section,
                            r.outcome.as_str(),
                            r.points,
                            r.max_points,
                            r.critical,
                            serde_json::to_string(&r.evidence).unwrap(),
                        ])
                        .unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }

    #[test]
    fn bulk_rows_match_the_write_api() {
        let mut api = Store::open_in_memory().unwrap();
        fill(&mut api, 40);
        let mut bulk = Store::open_in_memory().unwrap();
        fill_bulk(&mut bulk, 40);
        let q = CallQuery {
            limit: 500,
            ..Default::default()
        };
        let (mut a, mut b) = (api.list_calls(&q).unwrap(), bulk.list_calls(&q).unwrap());
        // Scorecard ids are the only thing allowed to differ (the API numbers its own).
        for row in a.rows.iter_mut().chain(b.rows.iter_mut()) {
            row.scorecard_id = 0;
        }
        assert_eq!(a, b);
    }

    fn small_store() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        store.ensure_browse_indexes().unwrap();
        fill(&mut store, 60);
        store
    }

    #[test]
    fn list_filters_sorts_and_pages_in_sql() {
        let store = small_store();
        let all = store
            .list_calls(&CallQuery {
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((all.total, all.rows.len()), (60, 60));
        assert_eq!(all.rubric_id.as_deref(), Some("inbound"));
        // Newest first by default, ties broken by id.
        assert!(all
            .rows
            .windows(2)
            .all(|w| w[0].call_time >= w[1].call_time));

        let page2 = store
            .list_calls(&CallQuery {
                limit: 25,
                offset: 25,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page2.total, 60);
        assert_eq!(
            page2.rows.iter().map(|r| &r.call_id).collect::<Vec<_>>(),
            all.rows[25..50]
                .iter()
                .map(|r| &r.call_id)
                .collect::<Vec<_>>()
        );

        let daniel = store
            .list_calls(&CallQuery {
                agent: Some("daniel".into()),
                sort: SortKey::Score,
                descending: false,
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(daniel.total, 10);
        assert!(daniel
            .rows
            .iter()
            .all(|r| r.agent.as_deref() == Some("Daniel")));
        assert!(daniel.rows.windows(2).all(|w| w[0].score <= w[1].score));

        let range = store
            .list_calls(&CallQuery {
                min_score: Some(40.0),
                max_score: Some(70.0),
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        assert!(range.total > 0 && range.rows.iter().all(|r| (40.0..=70.0).contains(&r.score)));

        let passed = store
            .list_calls(&CallQuery {
                verdict: Verdict::Passed,
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        let flagged = store
            .list_calls(&CallQuery {
                verdict: Verdict::Flagged,
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(passed.total + flagged.total, 60);
        assert!(passed
            .rows
            .iter()
            .all(|r| r.passed && r.failed_criteria.iter().all(|c| c != "courtesy")));

        let january = store
            .list_calls(&CallQuery {
                from: Some("2024-01-01".into()),
                to: Some("2024-01-28".into()),
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        assert!(
            january.total > 0
                && january
                    .rows
                    .iter()
                    .all(|r| r.call_time.starts_with("2024-01-"))
        );

        let bad = store
            .list_calls(&CallQuery {
                from: Some("last tuesday".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(bad.to_string().contains("last tuesday"), "{bad}");
    }

    #[test]
    fn worst_puts_critical_failures_first_then_lowest_score() {
        let store = small_store();
        let q = CallQuery {
            verdict: Verdict::Flagged,
            sort: SortKey::Worst,
            limit: 500,
            ..Default::default()
        };
        let rows = store.list_calls(&q).unwrap().rows;
        let critical = rows
            .iter()
            .take_while(|r| !r.critical_failures.is_empty())
            .count();
        assert!(critical > 0, "the fixture has critical failures");
        assert!(rows[critical..]
            .iter()
            .all(|r| r.critical_failures.is_empty()));
        assert!(rows[critical..]
            .windows(2)
            .all(|w| w[0].score <= w[1].score));
        assert_eq!(rows[0].critical_failures, vec!["courtesy".to_string()]);
        // Its first failure may be an earlier, minor one; the critical moment is the rude line.
        assert_eq!(rows[0].critical_failed_ms, Some(5_000));
        assert!(rows
            .iter()
            .any(|r| r.critical_failed_ms == Some(5_000) && r.first_failed_ms == Some(1_000)));
        assert!(rows[critical..]
            .iter()
            .all(|r| r.critical_failed_ms.is_none()));
    }

    #[test]
    fn listened_state_overrides_and_disagreements() {
        let store = small_store();
        let rows = store
            .list_calls(&CallQuery {
                verdict: Verdict::Flagged,
                sort: SortKey::Worst,
                ..Default::default()
            })
            .unwrap()
            .rows;
        let worst = &rows[0];
        let review = |reviewer: &str,
                      criterion: Option<&str>,
                      outcome: Option<Outcome>,
                      listened: bool| NewReview {
            call_id: worst.call_id.clone(),
            scorecard_id: Some(worst.scorecard_id),
            reviewer: reviewer.into(),
            criterion_id: criterion.map(str::to_string),
            override_outcome: outcome,
            note: "reason".into(),
            listened,
        };
        store
            .add_review(&review("maria", None, None, true))
            .unwrap();
        store.add_review(&review("tom", None, None, true)).unwrap();
        store
            .add_review(&review("maria", None, None, true))
            .unwrap();
        store
            .add_review(&review(
                "maria",
                Some("courtesy"),
                Some(Outcome::Pass),
                false,
            ))
            .unwrap();
        // A second opinion on the same criterion replaces the first.
        store
            .add_review(&review("tom", Some("courtesy"), Some(Outcome::Fail), false))
            .unwrap();
        store
            .add_review(&review("tom", Some("courtesy"), Some(Outcome::Pass), false))
            .unwrap();

        let again = store
            .list_calls(&CallQuery {
                verdict: Verdict::Flagged,
                sort: SortKey::Worst,
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        let row = again
            .rows
            .iter()
            .find(|r| r.call_id == worst.call_id)
            .unwrap();
        assert_eq!(
            row.listened_by,
            vec!["maria".to_string(), "tom".to_string()]
        );
        assert_eq!(row.overridden_criteria, 1);
        let unheard = store
            .list_calls(&CallQuery {
                verdict: Verdict::Flagged,
                not_listened_by: Some("maria".into()),
                limit: 500,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(unheard.total, again.total - 1);

        let overrides = store.overrides_for_scorecard(worst.scorecard_id).unwrap();
        assert_eq!(overrides.len(), 1);
        assert_eq!(
            (overrides[0].outcome, overrides[0].reviewer.as_str()),
            (Outcome::Pass, "tom")
        );

        let reviewed = store.reviewed_score(worst.scorecard_id).unwrap().unwrap();
        assert!(!reviewed.critical_failure);
        assert_eq!(reviewed.changed_criteria, 1);
        // courtesy has weight 0: the score itself does not move, the critical failure goes.
        assert_eq!(reviewed.reviewed_score, reviewed.machine_score);
        let all = store.reviewed_scores(None).unwrap();
        assert_eq!(
            all.keys().copied().collect::<Vec<_>>(),
            vec![worst.scorecard_id]
        );
        assert!(store
            .reviewed_scores(Some("another-rubric"))
            .unwrap()
            .is_empty());

        let d = store.disagreements(&DisagreementFilter::default()).unwrap();
        assert_eq!(
            d.len(),
            3,
            "one row per criterion of the reviewed scorecard: {d:?}"
        );
        assert_eq!(d[0].criterion_id, "courtesy");
        assert_eq!(
            (
                d[0].reviewed,
                d[0].overridden,
                d[0].machine_fail_reviewer_pass
            ),
            (1, 1, 1)
        );
        assert_eq!(d[0].override_rate, 1.0);
        assert!(d[1..].iter().all(|x| x.overridden == 0 && x.reviewed == 1));
        assert!(store
            .disagreements(&DisagreementFilter {
                min_reviewed: 2,
                ..Default::default()
            })
            .unwrap()
            .is_empty());
    }

    #[test]
    fn agent_pages_have_trend_and_criteria() {
        let store = small_store();
        assert_eq!(
            store.agent_names().unwrap(),
            vec!["Aisha", "Daniel", "Gary", "Maria", "Priya", "Tom"]
        );
        let trend = store.agent_trend("MARIA", None, 365).unwrap();
        assert_eq!(trend.iter().map(|p| p.calls).sum::<u64>(), 10);
        assert!(trend.windows(2).all(|w| w[0].day < w[1].day));
        let last3 = store.agent_trend("maria", None, 3).unwrap();
        assert_eq!(last3.len(), 3);
        assert_eq!(last3.last(), trend.last());
        let criteria = store.agent_criteria("maria", None).unwrap();
        assert_eq!(
            criteria
                .iter()
                .map(|c| c.criterion_id.as_str())
                .collect::<Vec<_>>(),
            vec!["greeting", "questions", "courtesy"]
        );
        assert!(criteria.iter().all(|c| c.pass + c.fail + c.na == 10));
        let summary = store.agent_summaries(None, Some("maria")).unwrap();
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0].calls, 10);
        assert_eq!(store.agent_summaries(None, None).unwrap().len(), 6);
    }

    #[test]
    fn an_empty_database_lists_nothing() {
        let store = Store::open_in_memory().unwrap();
        let page = store.list_calls(&CallQuery::default()).unwrap();
        assert_eq!((page.rubric_id, page.total, page.rows.len()), (None, 0, 0));
        assert!(store.agent_trend("x", None, 10).unwrap().is_empty());
        assert!(store
            .disagreements(&DisagreementFilter::default())
            .unwrap()
            .is_empty());
        assert!(!store.call_exists("abc").unwrap());
    }

    /// Asserts a plan reads its driving table through an index and needs no sort for the page.
    fn assert_indexed(plan: &[String], what: &str, needs_no_sort: bool) {
        let text = plan.join("\n");
        assert!(
            !plan
                .iter()
                .any(|l| (l.starts_with("SCAN s") || l.starts_with("SCAN c"))
                    && !l.contains("INDEX")),
            "{what}: a full table scan\n{text}"
        );
        if needs_no_sort {
            assert!(
                !text.contains("USE TEMP B-TREE FOR ORDER BY"),
                "{what}: sorts in a temporary b-tree\n{text}"
            );
        }
    }

    #[test]
    fn lists_over_100k_calls_are_served_by_indexes() {
        let mut store = Store::open_in_memory().unwrap();
        store.ensure_browse_indexes().unwrap();
        fill_bulk(&mut store, 100_000);
        store.conn.execute_batch("ANALYZE").unwrap();
        let base = CallQuery {
            rubric_id: Some("inbound".into()),
            ..Default::default()
        };
        let cases = [
            ("newest first", CallQuery { ..base.clone() }, true),
            (
                "by score",
                CallQuery {
                    sort: SortKey::Score,
                    descending: false,
                    ..base.clone()
                },
                true,
            ),
            (
                "score range by score",
                CallQuery {
                    sort: SortKey::Score,
                    min_score: Some(10.0),
                    max_score: Some(50.0),
                    ..base.clone()
                },
                true,
            ),
            (
                "one agent, newest first",
                CallQuery {
                    agent: Some("maria".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                "by agent",
                CallQuery {
                    sort: SortKey::Agent,
                    ..base.clone()
                },
                true,
            ),
            (
                "date range",
                CallQuery {
                    from: Some("2024-03-01".into()),
                    to: Some("2024-03-07".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                "flagged, worst first",
                CallQuery {
                    verdict: Verdict::Flagged,
                    sort: SortKey::Worst,
                    ..base.clone()
                },
                false,
            ),
            (
                "by duration",
                CallQuery {
                    sort: SortKey::Duration,
                    ..base.clone()
                },
                true,
            ),
            (
                "by file name",
                CallQuery {
                    sort: SortKey::File,
                    descending: false,
                    ..base.clone()
                },
                true,
            ),
        ];
        for (what, q, no_sort) in cases {
            let plan = store.explain_list_calls(&q).unwrap();
            assert_indexed(&plan, what, no_sort);
            let page = store.list_calls(&q).unwrap();
            assert!(!page.rows.is_empty(), "{what}: no rows");
        }
        let total = store.list_calls(&base).unwrap().total;
        assert_eq!(total, 100_000);
        // The last page is reachable and complete.
        let last = store
            .list_calls(&CallQuery {
                offset: 99_990,
                ..base.clone()
            })
            .unwrap();
        assert_eq!(last.rows.len(), 10);
    }
}

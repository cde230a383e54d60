//! Read queries for reports, the flagged queue, one call's page and rescoring history. They
//! return plain structs (serde-serialisable, field order stable) so the CLI and the review pages
//! share them. Filters run in SQL on indexed columns; nothing is filtered in memory.

use crate::review::Review;
use crate::{Result, Store, StoreError};
use callscore_core::{CallMeta, CriterionResult, Evidence, Outcome, Scorecard, Transcript};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Which calls a report covers. Dates are `YYYY-MM-DD` (a whole UTC day) or RFC 3339 times; both
/// bounds are inclusive. A call's time is its `started_at` from metadata, or when the database
/// first saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Agent name, matched without regard to case.
    pub agent: Option<String>,
    /// Rubric id; `None` means the rubric most recently scored with.
    pub rubric_id: Option<String>,
    pub flagged_only: bool,
}

/// A rubric (id, version, content) that has scored calls in this database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RubricUse {
    pub rubric_id: String,
    pub rubric_version: u32,
    pub rubric_hash: String,
    /// Scorecards from this exact rubric text.
    pub scorecards: u64,
    /// How many of them are the current scorecard of their call.
    pub current: u64,
    pub last_scored_at: String,
}

/// One scored call in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRow {
    pub call_id: String,
    pub file_name: String,
    pub source_path: String,
    pub agent: Option<String>,
    pub started_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub scorecard_id: i64,
    pub rubric_id: String,
    pub rubric_version: u32,
    pub score: f64,
    pub passed: bool,
    pub flagged: bool,
    pub flag_reasons: Vec<String>,
    /// Failed criteria ids, in rubric order.
    pub failed_criteria: Vec<String>,
    /// The failed criteria that are critical.
    pub critical_failures: Vec<String>,
    /// Earliest evidence time of a failed criterion.
    pub first_failed_ms: Option<u64>,
    pub scored_at: String,
}

/// Per-agent summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    /// `None`: calls without an agent in their metadata.
    pub agent: Option<String>,
    pub calls: u64,
    pub average_score: f64,
    pub passed: u64,
    pub pass_rate: f64,
    pub flagged: u64,
    pub audio_ms: u64,
}

/// Per-criterion summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionRow {
    pub criterion_id: String,
    pub name: String,
    pub section: String,
    pub critical: bool,
    pub pass: u64,
    pub fail: u64,
    pub na: u64,
    /// pass / (pass + fail); `None` when no call could be judged on it.
    pub pass_rate: Option<f64>,
}

/// A call that could not be scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedCallRow {
    pub call_id: String,
    pub file_name: String,
    pub source_path: String,
    pub error: String,
    pub attempts: u64,
    pub updated_at: String,
}

/// Everything `callscore report` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The rubric id reported on (`None`: nothing scored yet).
    pub rubric_id: Option<String>,
    /// Other rubric ids with scorecards in this database.
    pub other_rubric_ids: Vec<String>,
    pub calls: Vec<CallRow>,
    pub agents: Vec<AgentRow>,
    pub criteria: Vec<CriterionRow>,
    /// Calls whose recording failed, in the same date range (not filtered by agent).
    pub failed: Vec<FailedCallRow>,
}

/// How `report --by` groups calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Hour of the day the call started (UTC, `00`–`23`).
    Hour,
    /// Day of the week the call started (UTC), Monday first.
    Weekday,
    /// The mystery-shop scenario that placed the call (calls that were not shops are left out).
    Scenario,
}

/// One group of calls in a grouped report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    /// `00`–`23`, `Monday`…`Sunday`, or the scenario id.
    pub group: String,
    pub calls: u64,
    pub average_score: f64,
    pub passed: u64,
    pub pass_rate: f64,
    pub flagged: u64,
    /// Mean time to answer over the group's placed calls (mystery shops); `None` without any.
    pub average_ring_ms: Option<f64>,
}

pub(crate) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Calls by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StatusCounts {
    pub queued: u64,
    pub transcribed: u64,
    pub scored: u64,
    pub failed: u64,
}

/// A call's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub id: String,
    pub source_path: String,
    pub file_name: String,
    pub duration_ms: Option<u64>,
    pub channels: Option<u16>,
    pub sample_rate: Option<u32>,
    pub format: Option<String>,
    pub meta: CallMeta,
    pub agent: Option<String>,
    pub started_at: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub attempts: u64,
    pub created_at: String,
    pub updated_at: String,
    /// What ingest worked around when the call was stored (a truncated file, dropped
    /// channels…); empty for an ordinary recording.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A stored scorecard with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredScorecard {
    pub id: i64,
    pub call_id: String,
    pub is_current: bool,
    pub scored_at: String,
    pub scorecard: Scorecard,
}

/// Everything `callscore show` and a call's review page need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallDetail {
    pub call: CallRecord,
    /// The current scorecard of the chosen rubric (or of the rubric most recently scored with).
    pub scorecard: Option<StoredScorecard>,
    /// Every scorecard of the call, newest first, without results.
    pub history: Vec<ScorecardSummary>,
    pub transcript: Option<Transcript>,
    pub reviews: Vec<Review>,
}

/// A scorecard without its per-criterion results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorecardSummary {
    pub id: i64,
    pub rubric_id: String,
    pub rubric_version: u32,
    pub rubric_hash: String,
    pub score: f64,
    pub passed: bool,
    pub flagged: bool,
    pub is_current: bool,
    pub scored_at: String,
}

const STAMP: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// An RFC 3339 time (any offset) as UTC `YYYY-MM-DDTHH:MM:SSZ`, the stored form, whose text
/// order is time order. A date alone is taken as midnight UTC. `None` if unreadable.
pub fn normalise_instant(text: &str) -> Option<String> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return t.to_offset(UtcOffset::UTC).format(STAMP).ok();
    }
    // Recorders often omit the offset ("2024-05-02T09:14:00" or with a space): take it as UTC.
    let naive = format_description!("[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(text, naive) {
        return t.assume_utc().format(STAMP).ok();
    }
    let date = Date::parse(text, format_description!("[year]-[month]-[day]")).ok()?;
    date.midnight().assume_utc().format(STAMP).ok()
}

/// A report bound: `from` is inclusive; `to` is turned into an exclusive upper bound (a date
/// means the whole of that day).
pub(crate) fn bound(
    value: &Option<String>,
    what: &'static str,
    upper: bool,
) -> Result<Option<String>> {
    let Some(text) = value else { return Ok(None) };
    let bad = || StoreError::BadDate {
        what,
        value: text.clone(),
    };
    let text_t = text.trim();
    if let Ok(date) = Date::parse(text_t, format_description!("[year]-[month]-[day]")) {
        let day = if upper {
            date.next_day().ok_or_else(bad)?
        } else {
            date
        };
        return day
            .midnight()
            .assume_utc()
            .format(STAMP)
            .map(Some)
            .map_err(|_| bad());
    }
    let at = normalise_instant(text_t).ok_or_else(bad)?;
    if upper {
        // Inclusive of that second: compare against the next one.
        let t = PrimitiveDateTime::parse(&at, STAMP)
            .map_err(|_| bad())?
            .assume_utc()
            + time::Duration::seconds(1);
        return t.format(STAMP).map(Some).map_err(|_| bad());
    }
    Ok(Some(at))
}

/// The current scorecards of one rubric id joined to their calls, after the report filters, as
/// a CTE named `f`, with the values its placeholders take. Only the filters in use are written
/// into the SQL: `(?x IS NULL OR …)` would keep SQLite from using the indexes on call time and
/// agent (see the schema).
struct Filtered {
    cte: String,
    values: Vec<String>,
}

impl Filtered {
    fn new(rubric: &str, filter: &ReportFilter, flagged_only: bool) -> Result<Filtered> {
        let from = bound(&filter.from, "--from date", false)?;
        let to = bound(&filter.to, "--to date", true)?;
        let mut values = vec![rubric.to_string()];
        let mut conditions = String::new();
        let mut add = |clause: &str, value: Option<String>| match value {
            Some(v) => {
                values.push(v);
                conditions.push_str(&clause.replace('?', &format!("?{}", values.len())));
            }
            None => conditions.push_str(clause),
        };
        if let Some(from) = from {
            add(" AND COALESCE(c.started_at, c.created_at) >= ?", Some(from));
        }
        if let Some(to) = to {
            add(" AND COALESCE(c.started_at, c.created_at) < ?", Some(to));
        }
        if let Some(agent) = &filter.agent {
            add(" AND c.agent = ? COLLATE NOCASE", Some(agent.clone()));
        }
        if flagged_only || filter.flagged_only {
            add(" AND s.flagged = 1", None);
        }
        let cte = format!(
            "WITH f AS (
                SELECT s.id AS sid, s.call_id, s.rubric_id, s.rubric_version, s.score, s.passed, s.flagged,
                       s.flag_reasons_json, s.first_failed_ms, s.scored_at, s.failed_criteria, s.critical_failures,
                       c.file_name, c.source_path, c.agent, c.started_at, c.duration_ms,
                       COALESCE(c.started_at, c.created_at) AS call_time,
                       json_extract(c.meta_json, '$.scenario') AS scenario,
                       json_extract(c.meta_json, '$.ring_ms') AS ring_ms
                FROM scorecards s JOIN calls c ON c.id = s.call_id
                WHERE s.is_current = 1 AND s.rubric_id = ?1{conditions}
            )"
        );
        Ok(Filtered { cte, values })
    }

    fn params(&self) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, String>> {
        rusqlite::params_from_iter(self.values.iter())
    }
}

const CALL_COLUMNS: &str = "
    f.call_id, f.file_name, f.source_path, f.agent, f.started_at, f.duration_ms, f.sid, f.rubric_id,
    f.rubric_version, f.score, f.passed, f.flagged, f.flag_reasons_json, f.failed_criteria,
    f.critical_failures, f.first_failed_ms, f.scored_at";

pub(crate) fn split_ids(joined: String) -> Vec<String> {
    if joined.is_empty() {
        return Vec::new();
    }
    joined.split('\u{1f}').map(str::to_string).collect()
}

pub(crate) fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|v| v.max(0) as u64)
}

impl Store {
    fn call_row(&self, r: &Row<'_>) -> rusqlite::Result<(CallRow, String)> {
        let flag_reasons: String = r.get(12)?;
        Ok((
            CallRow {
                call_id: r.get(0)?,
                file_name: r.get(1)?,
                source_path: r.get(2)?,
                agent: r.get(3)?,
                started_at: r.get(4)?,
                duration_ms: opt_u64(r.get(5)?),
                scorecard_id: r.get(6)?,
                rubric_id: r.get(7)?,
                rubric_version: r.get(8)?,
                score: r.get(9)?,
                passed: r.get(10)?,
                flagged: r.get(11)?,
                flag_reasons: Vec::new(),
                failed_criteria: split_ids(r.get(13)?),
                critical_failures: split_ids(r.get(14)?),
                first_failed_ms: opt_u64(r.get(15)?),
                scored_at: r.get(16)?,
            },
            flag_reasons,
        ))
    }

    /// The rubric id reports use when none is named: the one most recently scored with.
    pub fn latest_rubric_id(&self) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT rubric_id FROM scorecards ORDER BY scored_at DESC, id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("finding the latest rubric"))
    }

    /// Every rubric version that scored calls here, most recently used first.
    pub fn rubrics(&self) -> Result<Vec<RubricUse>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT rubric_id, rubric_version, rubric_hash, count(*), sum(is_current), max(scored_at)
                 FROM scorecards GROUP BY rubric_id, rubric_version, rubric_hash
                 ORDER BY max(scored_at) DESC, max(id) DESC",
            )
            .map_err(self.sql("listing rubrics"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RubricUse {
                    rubric_id: r.get(0)?,
                    rubric_version: r.get(1)?,
                    rubric_hash: r.get(2)?,
                    scorecards: r.get::<_, i64>(3)? as u64,
                    current: r.get::<_, i64>(4)? as u64,
                    last_scored_at: r.get(5)?,
                })
            })
            .map_err(self.sql("listing rubrics"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("listing rubrics"))
    }

    /// How many calls are in each status.
    pub fn status_counts(&self) -> Result<StatusCounts> {
        let mut stmt = self
            .conn
            .prepare("SELECT status, count(*) FROM calls GROUP BY status")
            .map_err(self.sql("counting calls"))?;
        let mut counts = StatusCounts::default();
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.sql("counting calls"))?;
        for row in rows {
            let (status, n) = row.map_err(self.sql("counting calls"))?;
            match status.as_str() {
                "queued" => counts.queued = n,
                "transcribed" => counts.transcribed = n,
                "scored" => counts.scored = n,
                _ => counts.failed += n,
            }
        }
        Ok(counts)
    }

    fn resolve_rubric(&self, filter: &ReportFilter) -> Result<Option<String>> {
        match &filter.rubric_id {
            Some(id) => Ok(Some(id.clone())),
            None => self.latest_rubric_id(),
        }
    }

    fn scored_calls(
        &self,
        rubric: &str,
        filter: &ReportFilter,
        flagged_only: bool,
        order: &str,
        limit: Option<usize>,
    ) -> Result<Vec<CallRow>> {
        let f = Filtered::new(rubric, filter, flagged_only)?;
        let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!(
            "{} SELECT {CALL_COLUMNS} FROM f ORDER BY {order}{limit}",
            f.cte
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(self.sql("reading scored calls"))?;
        let rows = stmt
            .query_map(f.params(), |r| self.call_row(r))
            .map_err(self.sql("reading scored calls"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading scored calls"))?;
        rows.into_iter()
            .map(|(mut row, reasons)| {
                row.flag_reasons = serde_json::from_str(&reasons)
                    .map_err(self.corrupt(&row.call_id, "flag reasons"))?;
                Ok(row)
            })
            .collect()
    }

    /// The full report: calls, per-agent and per-criterion summaries, failed recordings.
    pub fn report(&self, filter: &ReportFilter) -> Result<Report> {
        let Some(rubric) = self.resolve_rubric(filter)? else {
            return Ok(Report {
                rubric_id: None,
                other_rubric_ids: vec![],
                calls: vec![],
                agents: vec![],
                criteria: vec![],
                failed: self.failed_calls(filter)?,
            });
        };
        let calls = self.scored_calls(
            &rubric,
            filter,
            false,
            "f.call_time, f.file_name, f.call_id",
            None,
        )?;
        let f = Filtered::new(&rubric, filter, false)?;
        let filtered = &f.cte;

        // Agents group without regard to case, as the --agent filter matches ("Daniel" in one
        // sidecar and "daniel" in another are one person); the first spelling is shown.
        let agents_sql = format!(
            "{filtered} SELECT min(f.agent), count(*), avg(f.score), sum(f.passed), sum(f.flagged), sum(COALESCE(f.duration_ms, 0))
             FROM f GROUP BY f.agent COLLATE NOCASE ORDER BY min(f.agent) IS NULL, min(f.agent) COLLATE NOCASE"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&agents_sql)
            .map_err(self.sql("summarising agents"))?;
        let agents = stmt
            .query_map(f.params(), |r| {
                let calls = r.get::<_, i64>(1)? as u64;
                let passed = r.get::<_, i64>(3)? as u64;
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
                    flagged: r.get::<_, i64>(4)? as u64,
                    audio_ms: r.get::<_, i64>(5)?.max(0) as u64,
                })
            })
            .map_err(self.sql("summarising agents"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("summarising agents"))?;

        let criteria_sql = format!(
            "{filtered} SELECT r.criterion_id, max(r.name), max(r.section), max(r.critical),
                    sum(r.outcome = 'pass'), sum(r.outcome = 'fail'), sum(r.outcome = 'na'), min(r.position) AS pos
             FROM results r JOIN f ON r.scorecard_id = f.sid
             GROUP BY r.criterion_id ORDER BY pos, r.criterion_id"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&criteria_sql)
            .map_err(self.sql("summarising criteria"))?;
        let criteria = stmt
            .query_map(f.params(), |r| {
                let pass = r.get::<_, i64>(4)? as u64;
                let fail = r.get::<_, i64>(5)? as u64;
                Ok(CriterionRow {
                    criterion_id: r.get(0)?,
                    name: r.get(1)?,
                    section: r.get(2)?,
                    critical: r.get(3)?,
                    pass,
                    fail,
                    na: r.get::<_, i64>(6)? as u64,
                    pass_rate: (pass + fail > 0).then(|| pass as f64 / (pass + fail) as f64),
                })
            })
            .map_err(self.sql("summarising criteria"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("summarising criteria"))?;

        let other_rubric_ids = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT DISTINCT rubric_id FROM scorecards WHERE rubric_id <> ?1 ORDER BY rubric_id")
                .map_err(self.sql("listing rubrics"))?;
            let ids = stmt
                .query_map([&rubric], |r| r.get(0))
                .map_err(self.sql("listing rubrics"))?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(self.sql("listing rubrics"))?;
            ids
        };
        let failed = if filter.agent.is_none() && !filter.flagged_only {
            self.failed_calls(filter)?
        } else {
            vec![]
        };
        Ok(Report {
            rubric_id: Some(rubric),
            other_rubric_ids,
            calls,
            agents,
            criteria,
            failed,
        })
    }

    /// The report's calls (same filter) grouped by hour of day, weekday or shop scenario, in
    /// the group's natural order: where service drops. Call times are UTC, as stored.
    pub fn report_by(&self, filter: &ReportFilter, by: GroupBy) -> Result<Vec<GroupRow>> {
        let Some(rubric) = self.resolve_rubric(filter)? else {
            return Ok(vec![]);
        };
        let f = Filtered::new(&rubric, filter, false)?;
        // Weekday: SQLite's %w is 0 for Sunday; (w + 6) % 7 puts Monday first.
        let (key, only) = match by {
            GroupBy::Hour => ("substr(f.call_time, 12, 2)", ""),
            GroupBy::Weekday => (
                "CAST((CAST(strftime('%w', f.call_time) AS INTEGER) + 6) % 7 AS TEXT)",
                "",
            ),
            GroupBy::Scenario => ("f.scenario", " WHERE f.scenario IS NOT NULL"),
        };
        let sql = format!(
            "{} SELECT {key} AS g, count(*), avg(f.score), sum(f.passed), sum(f.flagged), avg(f.ring_ms)
             FROM f{only} GROUP BY g ORDER BY g",
            f.cte
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(self.sql("grouping the report"))?;
        let rows = stmt
            .query_map(f.params(), |r| {
                let calls = r.get::<_, i64>(1)?.max(0) as u64;
                let passed = r.get::<_, i64>(3)?.max(0) as u64;
                Ok(GroupRow {
                    group: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    calls,
                    average_score: r.get(2)?,
                    passed,
                    pass_rate: if calls == 0 {
                        0.0
                    } else {
                        passed as f64 / calls as f64
                    },
                    flagged: r.get::<_, i64>(4)?.max(0) as u64,
                    average_ring_ms: r.get(5)?,
                })
            })
            .map_err(self.sql("grouping the report"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("grouping the report"))?;
        Ok(rows
            .into_iter()
            .map(|mut row| {
                if by == GroupBy::Weekday {
                    if let Some(day) = row
                        .group
                        .parse::<usize>()
                        .ok()
                        .and_then(|d| WEEKDAYS.get(d))
                    {
                        row.group = (*day).to_string();
                    }
                }
                row
            })
            .collect())
    }

    /// Flagged calls, worst first: critical failures, then lowest score; at most `limit`.
    pub fn flagged(&self, filter: &ReportFilter, limit: Option<usize>) -> Result<Vec<CallRow>> {
        let Some(rubric) = self.resolve_rubric(filter)? else {
            return Ok(vec![]);
        };
        self.scored_calls(
            &rubric,
            filter,
            true,
            "(f.critical_failures <> '') DESC, f.score ASC, f.call_time, f.file_name, f.call_id",
            limit,
        )
    }

    /// Recordings that failed, within the filter's dates (by when they were last tried).
    pub fn failed_calls(&self, filter: &ReportFilter) -> Result<Vec<FailedCallRow>> {
        let from = bound(&filter.from, "--from date", false)?;
        let to = bound(&filter.to, "--to date", true)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, file_name, source_path, COALESCE(error, ''), attempts, updated_at FROM calls
                 WHERE status = 'failed'
                   AND (?1 IS NULL OR COALESCE(started_at, created_at) >= ?1)
                   AND (?2 IS NULL OR COALESCE(started_at, created_at) < ?2)
                 ORDER BY file_name, id",
            )
            .map_err(self.sql("listing failed calls"))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(FailedCallRow {
                    call_id: r.get(0)?,
                    file_name: r.get(1)?,
                    source_path: r.get(2)?,
                    error: r.get(3)?,
                    attempts: r.get::<_, i64>(4)?.max(0) as u64,
                    updated_at: r.get(5)?,
                })
            })
            .map_err(self.sql("listing failed calls"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("listing failed calls"))
    }

    /// Finds a call by id, unique id prefix (4+ hex characters), file name, file stem or
    /// source path.
    pub fn find_call(&self, reference: &str) -> Result<String> {
        let reference = reference.trim();
        let not_found = || StoreError::CallNotFound {
            reference: reference.to_string(),
            path: self.path.clone(),
        };
        if reference.is_empty() {
            return Err(not_found());
        }
        let lower = reference.to_ascii_lowercase();
        let mut matches: Vec<(String, String)> = Vec::new();
        let looks_like_id = lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit());
        if looks_like_id {
            // Range scan on the primary key: id >= prefix AND id < prefix + 'g' ('g' sorts after
            // every hex digit), which the index serves without LIKE's pitfalls.
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, file_name FROM calls WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT 6")
                .map_err(self.sql("finding a call"))?;
            matches = stmt
                .query_map([&lower], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.sql("finding a call"))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sql("finding a call"))?;
        }
        if matches.is_empty() {
            // File name, source path, or stem: each an indexed lookup (a stem is a range of file
            // names, "stem." up to "stem/", with no further dot after it).
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, file_name FROM calls WHERE file_name = ?1
                     UNION SELECT id, file_name FROM calls WHERE source_path = ?1
                     UNION SELECT id, file_name FROM calls
                           WHERE file_name > ?1 || '.' AND file_name < ?1 || '/'
                             AND instr(substr(file_name, length(?1) + 2), '.') = 0
                     ORDER BY 1 LIMIT 6",
                )
                .map_err(self.sql("finding a call"))?;
            matches = stmt
                .query_map([reference], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.sql("finding a call"))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sql("finding a call"))?;
        }
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.remove(0).0),
            n => Err(StoreError::AmbiguousCall {
                reference: reference.to_string(),
                path: self.path.clone(),
                count: n,
                candidates: matches
                    .iter()
                    .take(5)
                    .map(|(id, name)| format!("{} ({name})", &id[..id.len().min(12)]))
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if n > 5 { ", …" } else { "" },
            }),
        }
    }

    /// A call's row.
    pub fn call_record(&self, call_id: &str) -> Result<CallRecord> {
        let row = self
            .conn
            .query_row(
                "SELECT id, source_path, file_name, duration_ms, channels, sample_rate, format, meta_json, agent,
                        started_at, status, error, attempts, created_at, updated_at, warnings_json
                 FROM calls WHERE id = ?1",
                [call_id],
                |r| {
                    Ok((
                        CallRecord {
                            id: r.get(0)?,
                            source_path: r.get(1)?,
                            file_name: r.get(2)?,
                            duration_ms: opt_u64(r.get(3)?),
                            channels: r.get(4)?,
                            sample_rate: r.get(5)?,
                            format: r.get(6)?,
                            meta: CallMeta::default(),
                            agent: r.get(8)?,
                            started_at: r.get(9)?,
                            status: r.get(10)?,
                            error: r.get(11)?,
                            attempts: r.get::<_, i64>(12)?.max(0) as u64,
                            created_at: r.get(13)?,
                            updated_at: r.get(14)?,
                            warnings: Vec::new(),
                        },
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(15)?,
                    ))
                },
            )
            .optional()
            .map_err(self.sql("reading a call"))?;
        let Some((mut record, meta, warnings)) = row else {
            return Err(StoreError::CallNotFound {
                reference: call_id.to_string(),
                path: self.path.clone(),
            });
        };
        record.meta = serde_json::from_str(&meta).map_err(self.corrupt(call_id, "metadata"))?;
        record.warnings =
            serde_json::from_str(&warnings).map_err(self.corrupt(call_id, "warnings"))?;
        Ok(record)
    }

    /// Every scorecard of a call, newest first.
    pub fn scorecard_history(&self, call_id: &str) -> Result<Vec<ScorecardSummary>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, rubric_id, rubric_version, rubric_hash, score, passed, flagged, is_current, scored_at
                 FROM scorecards WHERE call_id = ?1 ORDER BY scored_at DESC, id DESC",
            )
            .map_err(self.sql("reading scorecards"))?;
        let rows = stmt
            .query_map([call_id], |r| {
                Ok(ScorecardSummary {
                    id: r.get(0)?,
                    rubric_id: r.get(1)?,
                    rubric_version: r.get(2)?,
                    rubric_hash: r.get(3)?,
                    score: r.get(4)?,
                    passed: r.get(5)?,
                    flagged: r.get(6)?,
                    is_current: r.get(7)?,
                    scored_at: r.get(8)?,
                })
            })
            .map_err(self.sql("reading scorecards"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading scorecards"))
    }

    /// One stored scorecard with its results, as evaluation produced it.
    pub fn scorecard(&self, scorecard_id: i64) -> Result<Option<StoredScorecard>> {
        let head = self
            .conn
            .query_row(
                "SELECT call_id, rubric_id, rubric_version, rubric_hash, score, passed, flagged, flag_reasons_json,
                        is_current, scored_at, judged
                 FROM scorecards WHERE id = ?1",
                [scorecard_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u32>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, f64>(4)?,
                        r.get::<_, bool>(5)?,
                        r.get::<_, bool>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, bool>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, bool>(10)?,
                    ))
                },
            )
            .optional()
            .map_err(self.sql("reading a scorecard"))?;
        let Some((
            call_id,
            rubric_id,
            rubric_version,
            rubric_hash,
            score,
            passed,
            flagged,
            reasons,
            is_current,
            scored_at,
            judged,
        )) = head
        else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT criterion_id, name, section, outcome, points, max_points, critical, evidence_json, reason
                 FROM results WHERE scorecard_id = ?1 ORDER BY position",
            )
            .map_err(self.sql("reading results"))?;
        let raw = stmt
            .query_map([scorecard_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })
            .map_err(self.sql("reading results"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading results"))?;
        let mut results = Vec::with_capacity(raw.len());
        for (
            criterion_id,
            name,
            section,
            outcome,
            points,
            max_points,
            critical,
            evidence,
            reason,
        ) in raw
        {
            let evidence: Vec<Evidence> =
                serde_json::from_str(&evidence).map_err(self.corrupt(&call_id, "evidence"))?;
            // The CHECK constraint admits only 'pass', 'fail' and 'na'.
            let outcome: Outcome = outcome.parse().unwrap_or(Outcome::NotApplicable);
            results.push(CriterionResult {
                criterion_id,
                name,
                section,
                outcome,
                points,
                max_points,
                critical,
                evidence,
                reason,
            });
        }
        let flag_reasons =
            serde_json::from_str(&reasons).map_err(self.corrupt(&call_id, "flag reasons"))?;
        Ok(Some(StoredScorecard {
            id: scorecard_id,
            call_id,
            is_current,
            scored_at,
            scorecard: Scorecard {
                rubric_id,
                rubric_version,
                rubric_hash,
                score,
                passed,
                flagged,
                flag_reasons,
                judged,
                results,
            },
        }))
    }

    /// A call with its scorecard (current one of `rubric_id`, or of the rubric it was most
    /// recently scored with), scorecard history, transcript and reviews.
    pub fn call_detail(&self, call_id: &str, rubric_id: Option<&str>) -> Result<CallDetail> {
        let call = self.call_record(call_id)?;
        let history = self.scorecard_history(call_id)?;
        let chosen = history
            .iter()
            .filter(|s| s.is_current)
            .find(|s| rubric_id.is_none_or(|id| s.rubric_id == id))
            .map(|s| s.id);
        let scorecard = match chosen {
            Some(id) => self.scorecard(id)?,
            None => None,
        };
        let transcript = self.transcript(call_id)?;
        let reviews = self.reviews_for_call(call_id)?;
        Ok(CallDetail {
            call,
            scorecard,
            history,
            transcript,
            reviews,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_normalise_to_utc() {
        assert_eq!(
            normalise_instant("2024-05-02T09:14:00+01:00").as_deref(),
            Some("2024-05-02T08:14:00Z")
        );
        assert_eq!(
            normalise_instant("2024-05-02T09:14:00.250Z").as_deref(),
            Some("2024-05-02T09:14:00Z")
        );
        assert_eq!(
            normalise_instant("2024-05-02 09:14:00").as_deref(),
            Some("2024-05-02T09:14:00Z")
        );
        assert_eq!(
            normalise_instant("2024-05-02").as_deref(),
            Some("2024-05-02T00:00:00Z")
        );
        assert_eq!(normalise_instant("yesterday"), None);
    }

    #[test]
    fn date_bounds_cover_whole_days() {
        let d = |s: &str| Some(s.to_string());
        assert_eq!(
            bound(&d("2024-05-02"), "--from", false).unwrap().as_deref(),
            Some("2024-05-02T00:00:00Z")
        );
        assert_eq!(
            bound(&d("2024-05-02"), "--to", true).unwrap().as_deref(),
            Some("2024-05-03T00:00:00Z")
        );
        assert_eq!(
            bound(&d("2024-12-31"), "--to", true).unwrap().as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            bound(&d("2024-05-02T10:00:00Z"), "--to", true)
                .unwrap()
                .as_deref(),
            Some("2024-05-02T10:00:01Z")
        );
        let err = bound(&d("02/05/2024"), "--from date", false).unwrap_err();
        assert!(
            err.to_string().contains("02/05/2024") && err.to_string().contains("--from date"),
            "{err}"
        );
        assert_eq!(bound(&None, "--to", true).unwrap(), None);
    }
}

//! Read queries on PostgreSQL: the same reports, flagged queue, call page and lookups as
//! `crate::query`, returning the same structs, so `report`, `flagged` and `show` print the same
//! whichever backend holds the calls.

use super::PgStore;
use crate::browse::{Disagreement, DisagreementFilter};
use crate::query::{bound, opt_u64, split_ids, ScorecardSummary, WEEKDAYS};
use crate::{
    AgentRow, CallDetail, CallRecord, CallRow, CriterionRow, FailedCallRow, GroupBy, GroupRow,
    Report, ReportFilter, Result, Review, RubricUse, StatusCounts, StoreError, StoredScorecard,
};
use callscore_core::{CriterionResult, Evidence, Outcome, Scorecard};
use postgres::types::ToSql;

/// `crate::query::Filtered` for PostgreSQL: the current scorecards of one rubric id joined to
/// their calls, after the report filters, as a CTE named `f`. Agents match without regard to
/// case through `lower()`, as the index on calls is built.
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
        let mut add = |clause: &str, value: String| {
            values.push(value);
            conditions.push_str(&clause.replace('?', &format!("${}", values.len())));
        };
        if let Some(from) = from {
            add(" AND COALESCE(c.started_at, c.created_at) >= ?", from);
        }
        if let Some(to) = to {
            add(" AND COALESCE(c.started_at, c.created_at) < ?", to);
        }
        if let Some(agent) = &filter.agent {
            add(" AND lower(c.agent) = lower(?)", agent.clone());
        }
        if flagged_only || filter.flagged_only {
            conditions.push_str(" AND s.flagged");
        }
        let cte = format!(
            "WITH f AS (
                SELECT s.id AS sid, s.call_id, s.rubric_id, s.rubric_version, s.score, s.passed, s.flagged,
                       s.flag_reasons_json, s.first_failed_ms, s.scored_at, s.failed_criteria, s.critical_failures,
                       c.file_name, c.source_path, c.agent, c.started_at, c.duration_ms,
                       COALESCE(c.started_at, c.created_at) AS call_time,
                       c.meta_json::jsonb ->> 'scenario' AS scenario,
                       (c.meta_json::jsonb ->> 'ring_ms')::double precision AS ring_ms
                FROM scorecards s JOIN calls c ON c.id = s.call_id
                WHERE s.is_current AND s.rubric_id = $1{conditions}
            )"
        );
        Ok(Filtered { cte, values })
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|v| v as &(dyn ToSql + Sync))
            .collect()
    }
}

const CALL_COLUMNS: &str = "
    f.call_id, f.file_name, f.source_path, f.agent, f.started_at, f.duration_ms, f.sid, f.rubric_id,
    f.rubric_version, f.score, f.passed, f.flagged, f.flag_reasons_json, f.failed_criteria,
    f.critical_failures, f.first_failed_ms, f.scored_at";

pub(super) fn count(r: &postgres::Row, i: usize) -> u64 {
    r.get::<_, Option<i64>>(i).unwrap_or(0).max(0) as u64
}

pub(super) fn version(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl PgStore {
    /// See [`crate::Store::latest_rubric_id`].
    pub fn latest_rubric_id(&self) -> Result<Option<String>> {
        let row = self
            .client_mut()
            .query_opt(
                "SELECT rubric_id FROM scorecards ORDER BY scored_at DESC, id DESC LIMIT 1",
                &[],
            )
            .map_err(self.sql("finding the latest rubric"))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// See [`crate::Store::rubrics`].
    pub fn rubrics(&self) -> Result<Vec<RubricUse>> {
        let rows = self
            .client_mut()
            .query(
                "SELECT rubric_id, rubric_version, rubric_hash, count(*), count(*) FILTER (WHERE is_current),
                        max(scored_at)
                 FROM scorecards GROUP BY rubric_id, rubric_version, rubric_hash
                 ORDER BY max(scored_at) DESC, max(id) DESC",
                &[],
            )
            .map_err(self.sql("listing rubrics"))?;
        Ok(rows
            .iter()
            .map(|r| RubricUse {
                rubric_id: r.get(0),
                rubric_version: version(r.get(1)),
                rubric_hash: r.get(2),
                scorecards: count(r, 3),
                current: count(r, 4),
                last_scored_at: r.get(5),
            })
            .collect())
    }

    /// See [`crate::Store::status_counts`].
    pub fn status_counts(&self) -> Result<StatusCounts> {
        let rows = self
            .client_mut()
            .query("SELECT status, count(*) FROM calls GROUP BY status", &[])
            .map_err(self.sql("counting calls"))?;
        let mut counts = StatusCounts::default();
        for r in &rows {
            let n = count(r, 1);
            match r.get::<_, &str>(0) {
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
        let rows = self
            .client_mut()
            .query(&sql, &f.params())
            .map_err(self.sql("reading scored calls"))?;
        rows.iter()
            .map(|r| {
                let call_id: String = r.get(0);
                let flag_reasons = serde_json::from_str(r.get(12))
                    .map_err(self.corrupt(&call_id, "flag reasons"))?;
                Ok(CallRow {
                    call_id,
                    file_name: r.get(1),
                    source_path: r.get(2),
                    agent: r.get(3),
                    started_at: r.get(4),
                    duration_ms: opt_u64(r.get(5)),
                    scorecard_id: r.get(6),
                    rubric_id: r.get(7),
                    rubric_version: version(r.get(8)),
                    score: r.get(9),
                    passed: r.get(10),
                    flagged: r.get(11),
                    flag_reasons,
                    failed_criteria: split_ids(r.get(13)),
                    critical_failures: split_ids(r.get(14)),
                    first_failed_ms: opt_u64(r.get(15)),
                    scored_at: r.get(16),
                })
            })
            .collect()
    }

    /// See [`crate::Store::report`].
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
        let agents_sql = format!(
            "{filtered} SELECT min(f.agent), count(*), callscore_avg(f.score), count(*) FILTER (WHERE f.passed),
                    count(*) FILTER (WHERE f.flagged), sum(COALESCE(f.duration_ms, 0))::bigint
             FROM f GROUP BY lower(f.agent)
             ORDER BY min(f.agent) IS NULL, lower(min(f.agent))"
        );
        let agents = self
            .client_mut()
            .query(&agents_sql, &f.params())
            .map_err(self.sql("summarising agents"))?
            .iter()
            .map(|r| {
                let calls = count(r, 1);
                let passed = count(r, 3);
                AgentRow {
                    agent: r.get(0),
                    calls,
                    average_score: r.get(2),
                    passed,
                    pass_rate: if calls == 0 {
                        0.0
                    } else {
                        passed as f64 / calls as f64
                    },
                    flagged: count(r, 4),
                    audio_ms: count(r, 5),
                }
            })
            .collect();
        let criteria_sql = format!(
            "{filtered} SELECT r.criterion_id, max(r.name), max(r.section), bool_or(r.critical),
                    count(*) FILTER (WHERE r.outcome = 'pass'), count(*) FILTER (WHERE r.outcome = 'fail'),
                    count(*) FILTER (WHERE r.outcome = 'na'), min(r.position) AS pos
             FROM results r JOIN f ON r.scorecard_id = f.sid
             GROUP BY r.criterion_id ORDER BY pos, r.criterion_id"
        );
        let criteria = self
            .client_mut()
            .query(&criteria_sql, &f.params())
            .map_err(self.sql("summarising criteria"))?
            .iter()
            .map(|r| {
                let pass = count(r, 4);
                let fail = count(r, 5);
                CriterionRow {
                    criterion_id: r.get(0),
                    name: r.get(1),
                    section: r.get(2),
                    critical: r.get(3),
                    pass,
                    fail,
                    na: count(r, 6),
                    pass_rate: (pass + fail > 0).then(|| pass as f64 / (pass + fail) as f64),
                }
            })
            .collect();
        let other_rubric_ids = self
            .client_mut()
            .query(
                "SELECT DISTINCT rubric_id FROM scorecards WHERE rubric_id <> $1 ORDER BY rubric_id",
                &[&rubric],
            )
            .map_err(self.sql("listing rubrics"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
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

    /// See [`crate::Store::report_by`].
    pub fn report_by(&self, filter: &ReportFilter, by: GroupBy) -> Result<Vec<GroupRow>> {
        let Some(rubric) = self.resolve_rubric(filter)? else {
            return Ok(vec![]);
        };
        let f = Filtered::new(&rubric, filter, false)?;
        // isodow is 1 for Monday: minus one indexes WEEKDAYS.
        let (key, only) = match by {
            GroupBy::Hour => ("substr(f.call_time, 12, 2)", ""),
            GroupBy::Weekday => (
                "(extract(isodow from f.call_time::timestamp)::int - 1)::text",
                "",
            ),
            GroupBy::Scenario => ("f.scenario", " WHERE f.scenario IS NOT NULL"),
        };
        let sql = format!(
            "{} SELECT {key} COLLATE \"C\" AS g, count(*), callscore_avg(f.score), count(*) FILTER (WHERE f.passed),
                    count(*) FILTER (WHERE f.flagged), avg(f.ring_ms)
             FROM f{only} GROUP BY g ORDER BY g",
            f.cte
        );
        let rows = self
            .client_mut()
            .query(&sql, &f.params())
            .map_err(self.sql("grouping the report"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let calls = count(r, 1);
                let passed = count(r, 3);
                let mut group = r.get::<_, Option<String>>(0).unwrap_or_default();
                if by == GroupBy::Weekday {
                    if let Some(day) = group.parse::<usize>().ok().and_then(|d| WEEKDAYS.get(d)) {
                        group = (*day).to_string();
                    }
                }
                GroupRow {
                    group,
                    calls,
                    average_score: r.get(2),
                    passed,
                    pass_rate: if calls == 0 {
                        0.0
                    } else {
                        passed as f64 / calls as f64
                    },
                    flagged: count(r, 4),
                    average_ring_ms: r.get(5),
                }
            })
            .collect())
    }

    /// See [`crate::Store::flagged`].
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

    /// See [`crate::Store::failed_calls`].
    pub fn failed_calls(&self, filter: &ReportFilter) -> Result<Vec<FailedCallRow>> {
        let from = bound(&filter.from, "--from date", false)?;
        let to = bound(&filter.to, "--to date", true)?;
        let rows = self
            .client_mut()
            .query(
                "SELECT id, file_name, source_path, COALESCE(error, ''), attempts, updated_at FROM calls
                 WHERE status = 'failed'
                   AND ($1::text IS NULL OR COALESCE(started_at, created_at) >= $1)
                   AND ($2::text IS NULL OR COALESCE(started_at, created_at) < $2)
                 ORDER BY file_name, id",
                &[&from, &to],
            )
            .map_err(self.sql("listing failed calls"))?;
        Ok(rows
            .iter()
            .map(|r| FailedCallRow {
                call_id: r.get(0),
                file_name: r.get(1),
                source_path: r.get(2),
                error: r.get(3),
                attempts: count(r, 4),
                updated_at: r.get(5),
            })
            .collect())
    }

    /// See [`crate::Store::find_call`].
    pub fn find_call(&self, reference: &str) -> Result<String> {
        let reference = reference.trim();
        let not_found = || StoreError::CallNotFound {
            reference: reference.to_string(),
            path: self.shown.clone().into(),
        };
        if reference.is_empty() {
            return Err(not_found());
        }
        let lower = reference.to_ascii_lowercase();
        let mut matches: Vec<(String, String)> = Vec::new();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
            matches = self
                .client_mut()
                .query(
                    "SELECT id, file_name FROM calls WHERE id >= $1 AND id < $1 || 'g' ORDER BY id LIMIT 6",
                    &[&lower],
                )
                .map_err(self.sql("finding a call"))?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        }
        if matches.is_empty() {
            matches = self
                .client_mut()
                .query(
                    "SELECT id, file_name FROM calls WHERE file_name = $1
                     UNION SELECT id, file_name FROM calls WHERE source_path = $1
                     UNION SELECT id, file_name FROM calls
                           WHERE file_name > $1 || '.' AND file_name < $1 || '/'
                             AND strpos(substr(file_name, length($1) + 2), '.') = 0
                     ORDER BY 1 LIMIT 6",
                    &[&reference],
                )
                .map_err(self.sql("finding a call"))?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        }
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.remove(0).0),
            n => Err(StoreError::AmbiguousCall {
                reference: reference.to_string(),
                path: self.shown.clone().into(),
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

    /// See [`crate::Store::call_record`].
    pub fn call_record(&self, call_id: &str) -> Result<CallRecord> {
        let row = self
            .client_mut()
            .query_opt(
                "SELECT id, source_path, file_name, duration_ms, channels, sample_rate, format, meta_json, agent,
                        started_at, status, error, attempts, created_at, updated_at, warnings_json
                 FROM calls WHERE id = $1",
                &[&call_id],
            )
            .map_err(self.sql("reading a call"))?;
        let Some(r) = row else {
            return Err(StoreError::CallNotFound {
                reference: call_id.to_string(),
                path: self.shown.clone().into(),
            });
        };
        Ok(CallRecord {
            id: r.get(0),
            source_path: r.get(1),
            file_name: r.get(2),
            duration_ms: opt_u64(r.get(3)),
            channels: r
                .get::<_, Option<i64>>(4)
                .map(|v| u16::try_from(v).unwrap_or(u16::MAX)),
            sample_rate: r
                .get::<_, Option<i64>>(5)
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
            format: r.get(6),
            meta: serde_json::from_str(r.get(7)).map_err(self.corrupt(call_id, "metadata"))?,
            agent: r.get(8),
            started_at: r.get(9),
            status: r.get(10),
            error: r.get(11),
            attempts: count(&r, 12),
            created_at: r.get(13),
            updated_at: r.get(14),
            warnings: serde_json::from_str(r.get(15)).map_err(self.corrupt(call_id, "warnings"))?,
        })
    }

    /// See [`crate::Store::scorecard_history`].
    pub fn scorecard_history(&self, call_id: &str) -> Result<Vec<ScorecardSummary>> {
        let rows = self
            .client_mut()
            .query(
                "SELECT id, rubric_id, rubric_version, rubric_hash, score, passed, flagged, is_current, scored_at
                 FROM scorecards WHERE call_id = $1 ORDER BY scored_at DESC, id DESC",
                &[&call_id],
            )
            .map_err(self.sql("reading scorecards"))?;
        Ok(rows
            .iter()
            .map(|r| ScorecardSummary {
                id: r.get(0),
                rubric_id: r.get(1),
                rubric_version: version(r.get(2)),
                rubric_hash: r.get(3),
                score: r.get(4),
                passed: r.get(5),
                flagged: r.get(6),
                is_current: r.get(7),
                scored_at: r.get(8),
            })
            .collect())
    }

    /// See [`crate::Store::scorecard`].
    pub fn scorecard(&self, scorecard_id: i64) -> Result<Option<StoredScorecard>> {
        let head = self
            .client_mut()
            .query_opt(
                "SELECT call_id, rubric_id, rubric_version, rubric_hash, score, passed, flagged, flag_reasons_json,
                        is_current, scored_at, judged
                 FROM scorecards WHERE id = $1",
                &[&scorecard_id],
            )
            .map_err(self.sql("reading a scorecard"))?;
        let Some(h) = head else { return Ok(None) };
        let call_id: String = h.get(0);
        let rows = self
            .client_mut()
            .query(
                "SELECT criterion_id, name, section, outcome, points, max_points, critical, evidence_json, reason
                 FROM results WHERE scorecard_id = $1 ORDER BY position",
                &[&scorecard_id],
            )
            .map_err(self.sql("reading results"))?;
        let mut results = Vec::with_capacity(rows.len());
        for r in &rows {
            let evidence: Vec<Evidence> =
                serde_json::from_str(r.get(7)).map_err(self.corrupt(&call_id, "evidence"))?;
            results.push(CriterionResult {
                criterion_id: r.get(0),
                name: r.get(1),
                section: r.get(2),
                // The CHECK constraint admits only 'pass', 'fail' and 'na'.
                outcome: r
                    .get::<_, &str>(3)
                    .parse()
                    .unwrap_or(Outcome::NotApplicable),
                points: r.get(4),
                max_points: r.get(5),
                critical: r.get(6),
                evidence,
                reason: r.get(8),
            });
        }
        let flag_reasons =
            serde_json::from_str(h.get(7)).map_err(self.corrupt(&call_id, "flag reasons"))?;
        Ok(Some(StoredScorecard {
            id: scorecard_id,
            call_id,
            is_current: h.get(8),
            scored_at: h.get(9),
            scorecard: Scorecard {
                rubric_id: h.get(1),
                rubric_version: version(h.get(2)),
                rubric_hash: h.get(3),
                score: h.get(4),
                passed: h.get(5),
                flagged: h.get(6),
                flag_reasons,
                judged: h.get(10),
                results,
            },
        }))
    }

    /// See [`crate::Store::call_detail`].
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

    /// See [`crate::Store::reviews_for_call`].
    pub fn reviews_for_call(&self, call_id: &str) -> Result<Vec<Review>> {
        let rows = self
            .client_mut()
            .query(
                "SELECT id, call_id, scorecard_id, reviewer, criterion_id, override_outcome, note, listened, created_at
                 FROM reviews WHERE call_id = $1 ORDER BY created_at, id",
                &[&call_id],
            )
            .map_err(self.sql("reading reviews"))?;
        Ok(rows
            .iter()
            .map(|r| Review {
                id: r.get(0),
                call_id: r.get(1),
                scorecard_id: r.get(2),
                reviewer: r.get(3),
                criterion_id: r.get(4),
                override_outcome: r.get::<_, Option<&str>>(5).and_then(|o| o.parse().ok()),
                note: r.get(6),
                listened: r.get(7),
                created_at: r.get(8),
            })
            .collect())
    }

    /// See [`crate::Store::disagreements`].
    pub fn disagreements(&self, filter: &DisagreementFilter) -> Result<Vec<Disagreement>> {
        let rows = self
            .client_mut()
            .query(
                "WITH reviewed AS (
                     SELECT scorecard_id AS sid FROM reviews WHERE scorecard_id IS NOT NULL
                     UNION
                     SELECT s.id FROM reviews rv JOIN scorecards s ON s.call_id = rv.call_id AND s.is_current
                     WHERE rv.scorecard_id IS NULL
                 ),
                 latest AS (
                     SELECT scorecard_id, criterion_id, override_outcome FROM (
                         SELECT rv.scorecard_id, rv.criterion_id, rv.override_outcome,
                                row_number() OVER (PARTITION BY rv.scorecard_id, rv.criterion_id
                                                   ORDER BY rv.created_at DESC, rv.id DESC) AS nth
                         FROM reviews rv WHERE rv.override_outcome IS NOT NULL AND rv.scorecard_id IS NOT NULL
                     ) ranked
                     WHERE nth = 1
                 )
                 SELECT s.rubric_id, s.rubric_version, r.criterion_id, max(r.name), max(r.section), count(*),
                        count(*) FILTER (WHERE l.override_outcome IS NOT NULL AND l.override_outcome <> r.outcome),
                        count(*) FILTER (WHERE r.outcome = 'fail' AND l.override_outcome = 'pass'),
                        count(*) FILTER (WHERE r.outcome = 'pass' AND l.override_outcome = 'fail'),
                        count(*) FILTER (WHERE l.override_outcome IS NOT NULL AND l.override_outcome <> r.outcome
                                         AND (r.outcome = 'na' OR l.override_outcome = 'na')),
                        min(r.position)
                 FROM reviewed x
                      JOIN scorecards s ON s.id = x.sid
                      JOIN results r ON r.scorecard_id = s.id
                      LEFT JOIN latest l ON l.scorecard_id = r.scorecard_id AND l.criterion_id = r.criterion_id
                 WHERE ($1::text IS NULL OR s.rubric_id = $1)
                 GROUP BY s.rubric_id, s.rubric_version, r.criterion_id
                 HAVING count(*) >= $2",
                &[
                    &filter.rubric_id,
                    &(filter.min_reviewed.min(i64::MAX as u64) as i64),
                ],
            )
            .map_err(self.sql("counting disagreements"))?;
        let mut rows: Vec<(Disagreement, i64)> = rows
            .iter()
            .map(|r| {
                let reviewed = count(r, 5);
                let overridden = count(r, 6);
                (
                    Disagreement {
                        rubric_id: r.get(0),
                        rubric_version: version(r.get(1)),
                        criterion_id: r.get(2),
                        name: r.get(3),
                        section: r.get(4),
                        reviewed,
                        overridden,
                        machine_fail_reviewer_pass: count(r, 7),
                        machine_pass_reviewer_fail: count(r, 8),
                        applicability_changes: count(r, 9),
                        override_rate: if reviewed == 0 {
                            0.0
                        } else {
                            overridden as f64 / reviewed as f64
                        },
                    },
                    r.get(10),
                )
            })
            .collect();
        // The same order as on SQLite: most disagreed first, ties in rubric order.
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

    /// See [`crate::Store::add_review`].
    pub fn add_review(&self, review: &crate::NewReview) -> Result<i64> {
        let bad = |reason: &str| StoreError::BadReview {
            call_id: review.call_id.clone(),
            reason: reason.to_string(),
        };
        if review.reviewer.trim().is_empty() {
            return Err(bad("the reviewer's name is empty"));
        }
        if review.override_outcome.is_some() && review.criterion_id.is_none() {
            return Err(bad("an override needs the criterion it overrides"));
        }
        let known: bool = self
            .client_mut()
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM calls WHERE id = $1)",
                &[&review.call_id],
            )
            .map_err(self.sql("storing a review"))?
            .get(0);
        if !known {
            return Err(bad("no such call"));
        }
        if let Some(sid) = review.scorecard_id {
            let owner: Option<String> = self
                .client_mut()
                .query_opt("SELECT call_id FROM scorecards WHERE id = $1", &[&sid])
                .map_err(self.sql("storing a review"))?
                .map(|r| r.get(0));
            if owner.as_deref() != Some(review.call_id.as_str()) {
                return Err(bad(&format!("scorecard {sid} is not one of this call's")));
            }
        }
        let row = self
            .client_mut()
            .query_one(
                "INSERT INTO reviews (call_id, scorecard_id, reviewer, criterion_id, override_outcome, note, listened)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &review.call_id,
                    &review.scorecard_id,
                    &review.reviewer.trim(),
                    &review.criterion_id,
                    &review.override_outcome.map(Outcome::as_str),
                    &review.note,
                    &review.listened,
                ],
            )
            .map_err(self.sql("storing a review"))?;
        Ok(row.get(0))
    }
}

//! The review pages' queries on PostgreSQL: the same call lists, agent pages, overrides and
//! reviewed scores as `crate::browse`, returning the same structs in the same order, so a page
//! renders the same HTML whichever backend holds the calls.
//!
//! What has to be spelled differently to mean the same as on SQLite:
//!
//! - SQLite's `COLLATE NOCASE` folds ASCII letters only; `lower()` on the `COLLATE "C"`
//!   columns does the same (the C collation lower-cases nothing beyond ASCII). Request values
//!   are cast to `COLLATE "C"` before `lower()` so a server whose default locale folds more
//!   still matches exactly what SQLite matches.
//! - SQLite sorts NULL before every value; PostgreSQL after. Nullable sort keys (agent,
//!   duration) say `NULLS FIRST` ascending and `NULLS LAST` descending.
//! - `reviews.reviewer` is not declared `COLLATE "C"` (nothing in version 1 sorted on it), so
//!   the listened-by names are ordered `COLLATE "C"` explicitly: byte order, as SQLite.
//! - `sum()` of a BIGINT is NUMERIC in PostgreSQL: counts are `count(*) FILTER (…)` instead.

use super::query::{count, version};
use super::PgStore;
use crate::browse::{
    date_bound, reviewed_with, CallListItem, CallPage, CallQuery, CriterionOverride, ReviewedScore,
    SortKey, TrendPoint, Verdict,
};
use crate::query::opt_u64;
use crate::{AgentRow, CriterionRow, Result};
use callscore_core::{Outcome, Scorecard};
use postgres::types::ToSql;
use std::collections::{BTreeMap, HashMap};

/// Version 3: the indexes the review pages need on large databases — the PostgreSQL
/// counterparts of SQLite's `crate::browse::BROWSE_INDEXES_SQL`, plus one for "who listened".
///
/// - `scorecards_current_rubric_score`: the current scorecards of a rubric by score (the list
///   by score, the score-range and verdict filters, the count).
/// - `scorecards_current_by_call`: a call's current scorecard with the numbers the agent pages
///   add up.
/// - `results_critical_failures`: the few failed critical criteria (the flagged queue puts
///   those calls first).
/// - `calls_by_duration`: the list sorted by length.
/// - `reviews_listened`: who listened to a call (the list's listened-by column and the
///   "hide calls I have listened to" filter).
///
/// The time, agent and file-name orders use version 1's `calls_by_time`, `calls_by_agent` and
/// `calls_by_file`.
///
/// And `callscore_avg`, the average as SQLite's `avg()` computes it: SQLite adds REAL values
/// with Kahan-Babuska-Neumaier compensation (since 3.43; the bundled one is newer), PostgreSQL's
/// `avg()` adds them plainly, so an agent's average score could differ in its last bits and,
/// at a rounding edge, in what a page shows. The step is SQLite's, operation for operation, in
/// IEEE doubles on both sides. (Sums of whole numbers are exact either way and need none of
/// this.)
pub(super) const V3_BROWSE: &str = r#"
CREATE FUNCTION callscore_avg_step(state double precision[], x double precision)
RETURNS double precision[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY[s.t,
                 state[2] + CASE WHEN abs(state[1]) > abs(x) THEN (state[1] - s.t) + x
                                 ELSE (x - s.t) + state[1] END,
                 state[3] + 1]
    FROM (SELECT state[1] + x AS t) AS s
$$;
CREATE FUNCTION callscore_avg_final(state double precision[])
RETURNS double precision LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN state[3] > 0 THEN (state[1] + state[2]) / state[3] END
$$;
CREATE AGGREGATE callscore_avg(double precision) (
    SFUNC = callscore_avg_step,
    STYPE = double precision[],
    FINALFUNC = callscore_avg_final,
    INITCOND = '{0,0,0}'
);

CREATE INDEX IF NOT EXISTS scorecards_current_rubric_score ON scorecards (rubric_id, score, call_id) WHERE is_current;
CREATE INDEX IF NOT EXISTS scorecards_current_by_call ON scorecards (call_id, rubric_id, score, passed, flagged) WHERE is_current;
CREATE INDEX IF NOT EXISTS results_critical_failures ON results (scorecard_id) WHERE outcome = 'fail' AND critical;
CREATE INDEX IF NOT EXISTS calls_by_duration ON calls (duration_ms);
CREATE INDEX IF NOT EXISTS reviews_listened ON reviews (call_id, reviewer) WHERE listened;
"#;

/// A failed critical criterion on scorecard `s` (served by `results_critical_failures`).
const HAS_CRITICAL: &str =
    "EXISTS (SELECT 1 FROM results r WHERE r.scorecard_id = s.id AND r.outcome = 'fail' AND r.critical)";

/// The ORDER BY terms of `crate::browse::SortKey::order_by`, in PostgreSQL. Each ends on the
/// call id so that pages never repeat or skip a call whose sort value ties with another's.
fn order_by(sort: SortKey, desc: bool) -> String {
    let d = if desc { "DESC" } else { "ASC" };
    // Where SQLite puts NULL: first ascending, last descending.
    let nulls = if desc { "NULLS LAST" } else { "NULLS FIRST" };
    match sort {
        SortKey::Time => format!("COALESCE(c.started_at, c.created_at) {d}, c.id {d}"),
        SortKey::Score => format!("s.score {d}, s.call_id {d}"),
        SortKey::Agent => format!(
            "lower(c.agent) {d} {nulls}, COALESCE(c.started_at, c.created_at) {d}, c.id {d}"
        ),
        SortKey::Duration => format!("c.duration_ms {d} {nulls}, c.id {d}"),
        SortKey::File => format!("c.file_name {d}, c.id {d}"),
        // SQLite reads the critical failures and the rest with two queries, each in score
        // order; one ORDER BY gives the same sequence here. The direction is ignored there too.
        SortKey::Worst => format!("{HAS_CRITICAL} DESC, s.score ASC, s.call_id ASC"),
    }
}

/// The list's WHERE conditions after the rubric (`$1`), with their parameters.
fn list_filters(q: &CallQuery, params: &mut Vec<Box<dyn ToSql + Sync>>) -> Result<String> {
    let mut sql = String::new();
    let mut add = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync>| {
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", params.len())));
    };
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(from) = q.from.as_deref().filter(|s| !s.trim().is_empty()) {
        let at = date_bound(from, "'from' date", false)?;
        add(
            &mut sql,
            " AND COALESCE(c.started_at, c.created_at) >= ?",
            Box::new(at),
        );
    }
    if let Some(to) = q.to.as_deref().filter(|s| !s.trim().is_empty()) {
        let at = date_bound(to, "'to' date", true)?;
        add(
            &mut sql,
            " AND COALESCE(c.started_at, c.created_at) < ?",
            Box::new(at),
        );
    }
    if let Some(agent) = given(&q.agent) {
        add(
            &mut sql,
            " AND lower(c.agent) = lower(?::text COLLATE \"C\")",
            Box::new(agent),
        );
    }
    if let Some(min) = q.min_score.filter(|v| v.is_finite()) {
        add(&mut sql, " AND s.score >= ?", Box::new(min));
    }
    if let Some(max) = q.max_score.filter(|v| v.is_finite()) {
        add(&mut sql, " AND s.score <= ?", Box::new(max));
    }
    match q.verdict {
        Verdict::All => {}
        Verdict::Passed => sql.push_str(" AND s.passed"),
        Verdict::Failed => sql.push_str(" AND NOT s.passed"),
        Verdict::Flagged => sql.push_str(" AND s.flagged"),
    }
    if let Some(reviewer) = given(&q.not_listened_by) {
        add(
            &mut sql,
            " AND NOT EXISTS (SELECT 1 FROM reviews rv WHERE rv.call_id = s.call_id AND rv.listened AND rv.reviewer = ?)",
            Box::new(reviewer),
        );
    }
    Ok(sql)
}

fn refs(params: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref()).collect()
}

/// The columns of one list row, for the scorecards whose ids are in `$1`.
const DETAILS_SQL: &str = r#"
SELECT s.call_id, c.file_name, c.agent, COALESCE(c.started_at, c.created_at),
       c.started_at IS NOT NULL, c.duration_ms, s.id, s.rubric_id, s.rubric_version, s.score,
       s.passed, s.flagged, s.first_failed_ms,
       (SELECT string_agg(r.criterion_id, chr(31) ORDER BY r.position) FROM results r
         WHERE r.scorecard_id = s.id AND r.outcome = 'fail'),
       (SELECT string_agg(r.criterion_id, chr(31) ORDER BY r.position) FROM results r
         WHERE r.scorecard_id = s.id AND r.outcome = 'fail' AND r.critical),
       (SELECT string_agg(DISTINCT rv.reviewer COLLATE "C", chr(31) ORDER BY rv.reviewer COLLATE "C")
          FROM reviews rv WHERE rv.call_id = s.call_id AND rv.listened),
       (SELECT count(DISTINCT rv.criterion_id) FROM reviews rv
         WHERE rv.scorecard_id = s.id AND rv.override_outcome IS NOT NULL),
       (SELECT min((e.value ->> 'start_ms')::bigint)
          FROM results r, jsonb_array_elements(r.evidence_json::jsonb) e
         WHERE r.scorecard_id = s.id AND r.outcome = 'fail' AND r.critical)
FROM scorecards s JOIN calls c ON c.id = s.call_id
WHERE s.id = ANY($1)
"#;

fn split(joined: Option<String>) -> Vec<String> {
    joined
        .filter(|s| !s.is_empty())
        .map(|s| s.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default()
}

impl PgStore {
    /// See [`crate::Store::list_calls`].
    pub fn list_calls(&self, q: &CallQuery) -> Result<CallPage> {
        let Some(rubric) = self.rubric_or_latest(q.rubric_id.as_deref())? else {
            return Ok(CallPage {
                rubric_id: None,
                total: 0,
                offset: q.offset,
                rows: vec![],
            });
        };
        let mut params: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(rubric.clone())];
        let filters = list_filters(q, &mut params)?;
        let from = format!(
            "FROM scorecards s JOIN calls c ON c.id = s.call_id \
             WHERE s.is_current AND s.rubric_id = $1{filters}"
        );
        let total: i64 = self
            .client_mut()
            .query_one(&format!("SELECT count(*) {from}"), &refs(&params))
            .map_err(self.sql("counting calls"))?
            .get(0);
        // Ids first, details of the page's few after, as on SQLite: the per-row subqueries
        // then run for the rows shown, never for those OFFSET skips.
        let limit = i64::from(q.limit.clamp(1, CallQuery::MAX_LIMIT));
        let offset = q.offset.min(i64::MAX as u64) as i64;
        let ids: Vec<i64> = self
            .client_mut()
            .query(
                &format!(
                    "SELECT s.id {from} ORDER BY {} LIMIT {limit} OFFSET {offset}",
                    order_by(q.sort, q.descending)
                ),
                &refs(&params),
            )
            .map_err(self.sql("listing calls"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows = self.list_details(&ids)?;
        Ok(CallPage {
            rubric_id: Some(rubric),
            total: total.max(0) as u64,
            offset: q.offset,
            rows,
        })
    }

    /// The list rows of these scorecards, in the order given.
    fn list_details(&self, ids: &[i64]) -> Result<Vec<CallListItem>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let rows = self
            .client_mut()
            .query(DETAILS_SQL, &[&ids])
            .map_err(self.sql("listing calls"))?;
        let mut by_id: HashMap<i64, CallListItem> = rows
            .iter()
            .map(|r| {
                let item = CallListItem {
                    call_id: r.get(0),
                    file_name: r.get(1),
                    agent: r.get(2),
                    call_time: r.get(3),
                    started_at_known: r.get(4),
                    duration_ms: opt_u64(r.get(5)),
                    scorecard_id: r.get(6),
                    rubric_id: r.get(7),
                    rubric_version: version(r.get(8)),
                    score: r.get(9),
                    passed: r.get(10),
                    flagged: r.get(11),
                    first_failed_ms: opt_u64(r.get(12)),
                    failed_criteria: split(r.get(13)),
                    critical_failures: split(r.get(14)),
                    listened_by: split(r.get(15)),
                    overridden_criteria: count(r, 16),
                    critical_failed_ms: opt_u64(r.get(17)),
                };
                (item.scorecard_id, item)
            })
            .collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// See [`crate::Store::agent_names`].
    pub fn agent_names(&self) -> Result<Vec<String>> {
        let rows = self
            .client_mut()
            .query(
                "SELECT min(agent) FROM calls WHERE agent IS NOT NULL
                 GROUP BY lower(agent) ORDER BY lower(agent)",
                &[],
            )
            .map_err(self.sql("listing agents"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// See [`crate::Store::agent_summaries`].
    pub fn agent_summaries(
        &self,
        rubric_id: Option<&str>,
        agent: Option<&str>,
    ) -> Result<Vec<AgentRow>> {
        let Some(rubric) = self.rubric_or_latest(rubric_id)? else {
            return Ok(vec![]);
        };
        let rows = self
            .client_mut()
            .query(
                "SELECT min(c.agent), count(*), callscore_avg(s.score), count(*) FILTER (WHERE s.passed),
                        count(*) FILTER (WHERE s.flagged), COALESCE(sum(c.duration_ms), 0)::bigint
                 FROM calls c JOIN scorecards s ON s.call_id = c.id AND s.is_current AND s.rubric_id = $1
                 WHERE ($2::text IS NULL OR lower(c.agent) = lower($2::text COLLATE \"C\"))
                 GROUP BY lower(c.agent)
                 ORDER BY min(c.agent) IS NULL, lower(min(c.agent))",
                &[&rubric, &agent],
            )
            .map_err(self.sql("summarising agents"))?;
        Ok(rows
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
            .collect())
    }

    /// See [`crate::Store::agent_trend`].
    pub fn agent_trend(
        &self,
        agent: &str,
        rubric_id: Option<&str>,
        days: u32,
    ) -> Result<Vec<TrendPoint>> {
        let Some(rubric) = self.rubric_or_latest(rubric_id)? else {
            return Ok(vec![]);
        };
        let rows = self
            .client_mut()
            .query(
                "SELECT substr(COALESCE(c.started_at, c.created_at), 1, 10) AS day, count(*), callscore_avg(s.score),
                        count(*) FILTER (WHERE s.passed)
                 FROM calls c JOIN scorecards s ON s.call_id = c.id AND s.is_current AND s.rubric_id = $2
                 WHERE lower(c.agent) = lower($1::text COLLATE \"C\")
                 GROUP BY day ORDER BY day DESC LIMIT $3",
                &[&agent, &rubric, &i64::from(days)],
            )
            .map_err(self.sql("reading an agent's trend"))?;
        let mut points: Vec<TrendPoint> = rows
            .iter()
            .map(|r| TrendPoint {
                day: r.get(0),
                calls: count(r, 1),
                average_score: r.get(2),
                passed: count(r, 3),
            })
            .collect();
        points.reverse();
        Ok(points)
    }

    /// See [`crate::Store::agent_criteria`].
    pub fn agent_criteria(
        &self,
        agent: &str,
        rubric_id: Option<&str>,
    ) -> Result<Vec<CriterionRow>> {
        let Some(rubric) = self.rubric_or_latest(rubric_id)? else {
            return Ok(vec![]);
        };
        let rows = self
            .client_mut()
            .query(
                "SELECT r.criterion_id, max(r.name), max(r.section), bool_or(r.critical),
                        count(*) FILTER (WHERE r.outcome = 'pass'), count(*) FILTER (WHERE r.outcome = 'fail'),
                        count(*) FILTER (WHERE r.outcome = 'na'), min(r.position) AS pos
                 FROM calls c JOIN scorecards s ON s.call_id = c.id AND s.is_current AND s.rubric_id = $2
                      JOIN results r ON r.scorecard_id = s.id
                 WHERE lower(c.agent) = lower($1::text COLLATE \"C\")
                 GROUP BY r.criterion_id ORDER BY pos, r.criterion_id",
                &[&agent, &rubric],
            )
            .map_err(self.sql("summarising an agent's criteria"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let (pass, fail) = (count(r, 4), count(r, 5));
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
            .collect())
    }

    fn rubric_or_latest(&self, rubric_id: Option<&str>) -> Result<Option<String>> {
        match rubric_id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => Ok(Some(id.to_string())),
            None => self.latest_rubric_id(),
        }
    }

    /// See [`crate::Store::overrides_for_scorecard`].
    pub fn overrides_for_scorecard(&self, scorecard_id: i64) -> Result<Vec<CriterionOverride>> {
        self.latest_overrides("rv.scorecard_id = $1", &[&scorecard_id])
    }

    /// The latest override of each overridden criterion of the scorecards `condition` picks,
    /// by scorecard and criterion id. A later override (by anyone) replaces an earlier one;
    /// times have one-second resolution, so the id breaks ties in insertion order.
    fn latest_overrides(
        &self,
        condition: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<CriterionOverride>> {
        let sql = format!(
            "SELECT id, scorecard_id, criterion_id, override_outcome, reviewer, note, created_at FROM (
                 SELECT rv.id, rv.scorecard_id, rv.criterion_id, rv.override_outcome, rv.reviewer, rv.note,
                        rv.created_at,
                        row_number() OVER (PARTITION BY rv.scorecard_id, rv.criterion_id
                                           ORDER BY rv.created_at DESC, rv.id DESC) AS nth
                 FROM reviews rv
                 WHERE rv.override_outcome IS NOT NULL AND rv.scorecard_id IS NOT NULL AND {condition}) latest
             WHERE nth = 1 ORDER BY scorecard_id, criterion_id"
        );
        let rows = self
            .client_mut()
            .query(&sql, params)
            .map_err(self.sql("reading overrides"))?;
        Ok(rows
            .iter()
            .map(|r| CriterionOverride {
                review_id: r.get(0),
                scorecard_id: r.get(1),
                criterion_id: r.get(2),
                // The CHECK constraint admits only values Outcome parses.
                outcome: r
                    .get::<_, &str>(3)
                    .parse()
                    .unwrap_or(Outcome::NotApplicable),
                reviewer: r.get(4),
                note: r.get(5),
                created_at: r.get(6),
            })
            .collect())
    }

    /// See [`crate::Store::reviewed_score`].
    pub fn reviewed_score(&self, scorecard_id: i64) -> Result<Option<ReviewedScore>> {
        let Some(stored) = self.scorecard(scorecard_id)? else {
            return Ok(None);
        };
        let overrides = self.overrides_for_scorecard(scorecard_id)?;
        self.reviewed(scorecard_id, &stored.scorecard, &overrides)
            .map(Some)
    }

    /// See [`crate::Store::reviewed`].
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
    /// that judged it.
    fn criterion_weight(&self, rubric_hash: &str, criterion_id: &str) -> Result<Option<f64>> {
        let row = self
            .client_mut()
            .query_opt(
                "SELECT r.max_points FROM results r JOIN scorecards s ON s.id = r.scorecard_id
                 WHERE r.criterion_id = $2 AND r.outcome IN ('pass', 'fail') AND s.rubric_hash = $1
                 LIMIT 1",
                &[&rubric_hash, &criterion_id],
            )
            .map_err(self.sql("finding a criterion's weight"))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// See [`crate::Store::reviewed_scores`].
    pub fn reviewed_scores(&self, rubric_id: Option<&str>) -> Result<BTreeMap<i64, ReviewedScore>> {
        let overrides = self.latest_overrides(
            "($1::text IS NULL OR rv.scorecard_id IN (SELECT id FROM scorecards WHERE rubric_id = $1))",
            &[&rubric_id],
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

    /// See [`crate::Store::call_exists`].
    pub fn call_exists(&self, call_id: &str) -> Result<bool> {
        let row = self
            .client_mut()
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM calls WHERE id = $1)",
                &[&call_id],
            )
            .map_err(self.sql("finding a call"))?;
        Ok(row.get(0))
    }

    /// Whether the connection to the server is gone (a pool drops such a connection rather
    /// than hand it out again).
    pub fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_sort_keys_put_null_where_sqlite_does() {
        assert!(order_by(SortKey::Agent, false).contains("ASC NULLS FIRST"));
        assert!(order_by(SortKey::Agent, true).contains("DESC NULLS LAST"));
        assert!(order_by(SortKey::Duration, true).contains("DESC NULLS LAST"));
        // Every order ends on the call id, so ties never repeat or skip a call across pages.
        for key in SortKey::ALL {
            for desc in [false, true] {
                let o = order_by(key, desc);
                assert!(
                    o.ends_with("c.id ASC")
                        || o.ends_with("c.id DESC")
                        || o.ends_with("call_id ASC")
                        || o.ends_with("call_id DESC"),
                    "{o}"
                );
            }
        }
    }

    #[test]
    fn every_request_value_is_a_parameter() {
        let q = CallQuery {
            from: Some("2024-05-01".into()),
            to: Some("2024-05-02".into()),
            agent: Some("O'Brien".into()),
            min_score: Some(10.0),
            max_score: Some(90.0),
            verdict: Verdict::Flagged,
            not_listened_by: Some("maria'; DROP TABLE calls; --".into()),
            ..Default::default()
        };
        let mut params: Vec<Box<dyn ToSql + Sync>> = vec![Box::new("inbound".to_string())];
        let sql = list_filters(&q, &mut params).unwrap();
        assert_eq!(params.len(), 7);
        assert!(!sql.contains("O'Brien") && !sql.contains("maria"), "{sql}");
        assert!(sql.contains("$7") && !sql.contains('?'), "{sql}");
    }
}

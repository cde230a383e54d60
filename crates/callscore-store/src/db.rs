//! [`Db`]: the one database type the pipeline and the binary use, whichever backend holds the
//! calls. `--db` is a SQLite file's path or a `postgres://` / `postgresql://` URL
//! ([`DbLocation`]); every operation both backends have is a method here, so nothing above the
//! store asks which one it talks to.
//!
//! An enum rather than a trait: there are exactly two backends, both in this crate, and an enum
//! keeps `Db` a plain value (no boxing, no object safety constraints on the methods) that the
//! pipeline's threads each open for themselves.

use crate::browse::{
    CallPage, CallQuery, CriterionOverride, Disagreement, DisagreementFilter, ReviewedScore,
    TrendPoint,
};
use crate::query::ScorecardSummary;
use crate::{
    AgentRow, CallDetail, CallRecord, CallRow, Claim, ClaimOwner, CriterionRow, FailedCallRow,
    GroupBy, GroupRow, NewCall, NewReview, NextCall, PgStore, PlanState, Recorded, Report,
    ReportFilter, Result, Review, RubricUse, SearchQuery, SearchResults, StatusCounts, Store,
    StoreError, StoredScorecard,
};
use callscore_core::{Scorecard, Transcript};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a database is: what `--db` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    Sqlite(PathBuf),
    /// A libpq-style URL (`postgres://user@host:port/database?…`).
    Postgres(String),
}

impl DbLocation {
    /// Reads `--db`: a `postgres://` or `postgresql://` URL (any case) is PostgreSQL; anything
    /// else is a SQLite path. A URL of another scheme stays a "path" here and is refused by
    /// [`Store::open`], never made into a folder.
    pub fn of(given: &Path) -> DbLocation {
        let text = given.to_string_lossy();
        if let Some((scheme, _)) = text.split_once("://") {
            if scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
            {
                return DbLocation::Postgres(text.into_owned());
            }
        }
        DbLocation::Sqlite(given.to_path_buf())
    }

    /// How messages name it: the path, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            // A URL of an unknown scheme is a "path" here: it may hold a password too.
            DbLocation::Sqlite(path) => crate::pg::without_password(&path.to_string_lossy()),
            DbLocation::Postgres(url) => crate::pg::without_password(url),
        }
    }
}

/// A connection to a callscore database: SQLite or PostgreSQL. Open one per thread.
#[derive(Debug)]
pub enum Db {
    Sqlite(Store),
    Postgres(PgStore),
}

/// The same call on whichever store `$db` holds (both have the method).
macro_rules! on_both {
    ($db:expr, $s:ident => $call:expr) => {
        match $db {
            Db::Sqlite($s) => $call,
            Db::Postgres($s) => $call,
        }
    };
}

impl Db {
    /// Opens (creating it when missing: the SQLite file, or the tables in an existing
    /// PostgreSQL database) the database `--db` names, schema up to date.
    pub fn open(given: &Path) -> Result<Db> {
        match DbLocation::of(given) {
            DbLocation::Sqlite(path) => Store::open(&path).map(Db::Sqlite),
            DbLocation::Postgres(url) => PgStore::open(&url).map(Db::Postgres),
        }
    }

    /// Opens a database that must already hold calls (reports: a typo must not show an empty
    /// new database).
    pub fn open_existing(given: &Path) -> Result<Db> {
        match DbLocation::of(given) {
            DbLocation::Sqlite(path) => Store::open_existing(&path).map(Db::Sqlite),
            DbLocation::Postgres(url) => PgStore::open_existing(&url).map(Db::Postgres),
        }
    }

    /// Opens a database for working on its shared queue: PostgreSQL (set up when empty). A
    /// SQLite path is refused without creating the file.
    pub fn open_queue(given: &Path) -> Result<Db> {
        match DbLocation::of(given) {
            DbLocation::Sqlite(path) => Err(StoreError::QueueNeedsPostgres { path }),
            DbLocation::Postgres(url) => PgStore::open(&url).map(Db::Postgres),
        }
    }

    /// How messages name this database (a PostgreSQL URL without its password).
    pub fn shown(&self) -> String {
        match self {
            Db::Sqlite(s) => s.path().display().to_string(),
            Db::Postgres(p) => p.url().to_string(),
        }
    }

    /// The SQLite store, for what only SQLite has (its file, its query plans).
    pub fn sqlite(&self) -> Option<&Store> {
        match self {
            Db::Sqlite(s) => Some(s),
            Db::Postgres(_) => None,
        }
    }

    // -- the queue and writing ------------------------------------------------------------

    /// Makes recordings available to every `callscore work` on this database (see
    /// [`PgStore::register_many`]); returns how many were queued. On SQLite there is no shared
    /// queue (a SQLite file is worked on by the batch that plans it, and its claims create the
    /// rows): nothing is written and the answer is 0.
    pub fn register_many(&mut self, calls: &[(&str, &Path)]) -> Result<usize> {
        match self {
            Db::Sqlite(_) => Ok(0),
            Db::Postgres(p) => p.register_many(calls),
        }
    }

    /// [`Db::register_many`] for one recording; whether it was queued.
    pub fn register(&mut self, call_id: &str, source_path: &Path) -> Result<bool> {
        Ok(self.register_many(&[(call_id, source_path)])? > 0)
    }

    /// Takes the next call from the shared queue (PostgreSQL only: see [`PgStore::claim_next`]).
    pub fn claim_next(&mut self, owner: &ClaimOwner, lease: Duration) -> Result<NextCall> {
        match self {
            Db::Sqlite(s) => Err(StoreError::QueueNeedsPostgres {
                path: s.path().to_path_buf(),
            }),
            Db::Postgres(p) => p.claim_next(owner, lease),
        }
    }

    pub fn plan_state(&self, call_id: &str, rubric_hash: &str) -> Result<PlanState> {
        on_both!(self, s => s.plan_state(call_id, rubric_hash))
    }

    pub fn claim(
        &mut self,
        call_id: &str,
        source_path: &Path,
        rubric_hash: &str,
        owner: &ClaimOwner,
        now_ms: i64,
    ) -> Result<Claim> {
        on_both!(self, s => s.claim(call_id, source_path, rubric_hash, owner, now_ms))
    }

    pub fn renew_claims(&self, owner: &ClaimOwner, now_ms: i64) -> Result<usize> {
        on_both!(self, s => s.renew_claims(owner, now_ms))
    }

    pub fn release_claim(&self, call_id: &str, owner: &ClaimOwner) -> Result<()> {
        on_both!(self, s => s.release_claim(call_id, owner))
    }

    pub fn record_scored_call(
        &mut self,
        call: &NewCall<'_>,
        transcript: &Transcript,
        scorecard: &Scorecard,
    ) -> Result<Recorded> {
        on_both!(self, s => s.record_scored_call(call, transcript, scorecard))
    }

    pub fn record_transcribed_call(
        &mut self,
        call: &NewCall<'_>,
        transcript: &Transcript,
    ) -> Result<()> {
        on_both!(self, s => s.record_transcribed_call(call, transcript))
    }

    pub fn record_scorecards(
        &mut self,
        scorecards: &[(&str, &Scorecard)],
        owner: Option<&ClaimOwner>,
    ) -> Result<Vec<Recorded>> {
        on_both!(self, s => s.record_scorecards(scorecards, owner))
    }

    pub fn record_failure(
        &mut self,
        call_id: &str,
        source_path: &Path,
        error: &str,
        owner: &ClaimOwner,
    ) -> Result<()> {
        on_both!(self, s => s.record_failure(call_id, source_path, error, owner))
    }

    pub fn transcript(&self, call_id: &str) -> Result<Option<Transcript>> {
        on_both!(self, s => s.transcript(call_id))
    }

    pub fn transcripts_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Transcript)>> {
        on_both!(self, s => s.transcripts_after(after, limit))
    }

    pub fn update_redactions(&mut self, call_id: &str, transcript: &Transcript) -> Result<()> {
        on_both!(self, s => s.update_redactions(call_id, transcript))
    }

    // -- reading --------------------------------------------------------------------------

    pub fn latest_rubric_id(&self) -> Result<Option<String>> {
        on_both!(self, s => s.latest_rubric_id())
    }

    pub fn rubrics(&self) -> Result<Vec<RubricUse>> {
        on_both!(self, s => s.rubrics())
    }

    pub fn status_counts(&self) -> Result<StatusCounts> {
        on_both!(self, s => s.status_counts())
    }

    pub fn report(&self, filter: &ReportFilter) -> Result<Report> {
        on_both!(self, s => s.report(filter))
    }

    pub fn report_by(&self, filter: &ReportFilter, by: GroupBy) -> Result<Vec<GroupRow>> {
        on_both!(self, s => s.report_by(filter, by))
    }

    pub fn flagged(&self, filter: &ReportFilter, limit: Option<usize>) -> Result<Vec<CallRow>> {
        on_both!(self, s => s.flagged(filter, limit))
    }

    pub fn failed_calls(&self, filter: &ReportFilter) -> Result<Vec<FailedCallRow>> {
        on_both!(self, s => s.failed_calls(filter))
    }

    pub fn find_call(&self, reference: &str) -> Result<String> {
        on_both!(self, s => s.find_call(reference))
    }

    pub fn call_record(&self, call_id: &str) -> Result<CallRecord> {
        on_both!(self, s => s.call_record(call_id))
    }

    pub fn scorecard_history(&self, call_id: &str) -> Result<Vec<ScorecardSummary>> {
        on_both!(self, s => s.scorecard_history(call_id))
    }

    pub fn call_detail(&self, call_id: &str, rubric_id: Option<&str>) -> Result<CallDetail> {
        on_both!(self, s => s.call_detail(call_id, rubric_id))
    }

    pub fn reviews_for_call(&self, call_id: &str) -> Result<Vec<Review>> {
        on_both!(self, s => s.reviews_for_call(call_id))
    }

    pub fn reviewed_scores(&self, rubric_id: Option<&str>) -> Result<BTreeMap<i64, ReviewedScore>> {
        on_both!(self, s => s.reviewed_scores(rubric_id))
    }

    pub fn add_review(&self, review: &NewReview) -> Result<i64> {
        on_both!(self, s => s.add_review(review))
    }

    pub fn disagreements(&self, filter: &DisagreementFilter) -> Result<Vec<Disagreement>> {
        on_both!(self, s => s.disagreements(filter))
    }

    /// Full-text search: FTS5 on SQLite, tsvector + GIN on PostgreSQL (same hits; the marked
    /// text is each engine's own snippet).
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults> {
        on_both!(self, s => s.search(q))
    }

    // -- the review pages -----------------------------------------------------------------

    /// Creates the review pages' indexes on a SQLite database made before the migration that
    /// carries them (see [`Store::ensure_browse_indexes`]). On PostgreSQL they come with the
    /// schema (version 3), which opening has already brought up to date: nothing to do.
    pub fn ensure_browse_indexes(&self) -> Result<()> {
        match self {
            Db::Sqlite(s) => s.ensure_browse_indexes(),
            Db::Postgres(_) => Ok(()),
        }
    }

    /// Whether this connection can no longer be used (a PostgreSQL server that closed it); a
    /// pool drops such a connection instead of handing it out again. A SQLite connection is a
    /// file handle and never goes away.
    pub fn is_broken(&self) -> bool {
        match self {
            Db::Sqlite(_) => false,
            Db::Postgres(p) => p.is_closed(),
        }
    }

    /// Where relative recording paths stored in this database may also be found: a SQLite
    /// database's folder. A PostgreSQL database has no folder; its relative paths resolve
    /// against the current directory only.
    pub fn folder(&self) -> Option<PathBuf> {
        match self {
            Db::Sqlite(s) => s
                .path()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf),
            Db::Postgres(_) => None,
        }
    }

    pub fn list_calls(&self, q: &CallQuery) -> Result<CallPage> {
        on_both!(self, s => s.list_calls(q))
    }

    pub fn agent_names(&self) -> Result<Vec<String>> {
        on_both!(self, s => s.agent_names())
    }

    pub fn agent_summaries(
        &self,
        rubric_id: Option<&str>,
        agent: Option<&str>,
    ) -> Result<Vec<AgentRow>> {
        on_both!(self, s => s.agent_summaries(rubric_id, agent))
    }

    pub fn agent_trend(
        &self,
        agent: &str,
        rubric_id: Option<&str>,
        days: u32,
    ) -> Result<Vec<TrendPoint>> {
        on_both!(self, s => s.agent_trend(agent, rubric_id, days))
    }

    pub fn agent_criteria(
        &self,
        agent: &str,
        rubric_id: Option<&str>,
    ) -> Result<Vec<CriterionRow>> {
        on_both!(self, s => s.agent_criteria(agent, rubric_id))
    }

    pub fn scorecard(&self, scorecard_id: i64) -> Result<Option<StoredScorecard>> {
        on_both!(self, s => s.scorecard(scorecard_id))
    }

    pub fn overrides_for_scorecard(&self, scorecard_id: i64) -> Result<Vec<CriterionOverride>> {
        on_both!(self, s => s.overrides_for_scorecard(scorecard_id))
    }

    pub fn reviewed_score(&self, scorecard_id: i64) -> Result<Option<ReviewedScore>> {
        on_both!(self, s => s.reviewed_score(scorecard_id))
    }

    pub fn reviewed(
        &self,
        scorecard_id: i64,
        scorecard: &Scorecard,
        overrides: &[CriterionOverride],
    ) -> Result<ReviewedScore> {
        on_both!(self, s => s.reviewed(scorecard_id, scorecard, overrides))
    }

    pub fn call_exists(&self, call_id: &str) -> Result<bool> {
        on_both!(self, s => s.call_exists(call_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_from_paths() {
        let pg = |s: &str| matches!(DbLocation::of(Path::new(s)), DbLocation::Postgres(_));
        assert!(pg("postgres://qa@db.local/calls"));
        assert!(pg("postgresql://qa:pw@db.local:5433/calls"));
        assert!(pg("POSTGRES://db.local/calls"));
        assert!(!pg("calls.db"));
        assert!(!pg("postgres.db"));
        assert!(!pg("mysql://db.local/calls"));
        assert_eq!(
            DbLocation::of(Path::new("postgres://qa:pw@h/db")).shown(),
            "postgres://qa:***@h/db"
        );
    }

    #[test]
    fn unknown_schemes_are_refused_not_made_into_folders() {
        let err = Db::open(Path::new("mysql://qa@db.local/calls")).unwrap_err();
        assert!(matches!(err, StoreError::NotAPath { .. }), "{err}");
        assert!(err.to_string().contains("postgres://"), "{err}");
        assert!(!Path::new("mysql:").exists());
    }

    #[test]
    fn the_queue_is_postgres_only() {
        let mut db = Db::Sqlite(Store::open_in_memory().unwrap());
        let err = db
            .claim_next(&ClaimOwner::current_process(), Duration::from_secs(1))
            .unwrap_err();
        assert!(err.to_string().contains("PostgreSQL"), "{err}");
        assert_eq!(db.register_many(&[("x", Path::new("a.wav"))]).unwrap(), 0);
    }
}

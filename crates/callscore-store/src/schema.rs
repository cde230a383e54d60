//! The schema, as an ordered list of migrations. `PRAGMA user_version` holds how many have run
//! (rusqlite_migration's scheme). Never edit a released migration: append a new one.

use rusqlite_migration::{Migrations, M};

/// Version 1: calls, transcripts, scorecards and their per-criterion results.
///
/// Why these shapes:
/// - `calls.id` is the sha256 of the recording's bytes, so the same audio under two paths, or
///   scored twice, is one call.
/// - `claimed_by`/`claimed_at_ms` are a lease: a worker claims a call before the slow work
///   (decode, transcribe) so a second process on the same database does not do it too.
/// - `scorecards` keep history: one row per call and rubric content hash (UNIQUE, so a call is
///   never scored twice by the same rubric text), and `is_current` marks, per call and rubric
///   id, the one reports use. The partial unique index makes "one current" a database rule.
/// - `started_at` is normalised to UTC `YYYY-MM-DDTHH:MM:SSZ` so text comparison is time order.
/// - `scorecards.failed_criteria`/`critical_failures` (ids joined by U+001F, rubric order) repeat
///   what `results` says, so listing 100,000 calls needs no per-row subquery.
const V1_SCORING: &str = r#"
CREATE TABLE calls (
    id            TEXT PRIMARY KEY NOT NULL,
    source_path   TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    duration_ms   INTEGER,
    channels      INTEGER,
    sample_rate   INTEGER,
    format        TEXT,
    meta_json     TEXT NOT NULL DEFAULT '{}',
    agent         TEXT,
    started_at    TEXT,
    status        TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'transcribed', 'scored', 'failed')),
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_by    TEXT,
    claimed_at_ms INTEGER,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) WITHOUT ROWID;

-- Reports filter on the call's time (started_at, or when first seen) and on the agent without
-- regard to case: the indexes are on exactly those expressions, as the queries write them.
CREATE INDEX calls_by_time    ON calls (COALESCE(started_at, created_at));
CREATE INDEX calls_by_agent   ON calls (agent COLLATE NOCASE, COALESCE(started_at, created_at));
CREATE INDEX calls_by_status  ON calls (status);
CREATE INDEX calls_by_file    ON calls (file_name);
CREATE INDEX calls_by_path    ON calls (source_path);

CREATE TABLE transcripts (
    call_id       TEXT PRIMARY KEY NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    model         TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL,
    segments_json TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) WITHOUT ROWID;

CREATE TABLE scorecards (
    id                INTEGER PRIMARY KEY,
    call_id           TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    rubric_id         TEXT NOT NULL,
    rubric_version    INTEGER NOT NULL,
    rubric_hash       TEXT NOT NULL,
    score             REAL NOT NULL,
    passed            INTEGER NOT NULL,
    flagged           INTEGER NOT NULL,
    flag_reasons_json TEXT NOT NULL DEFAULT '[]',
    first_failed_ms   INTEGER,
    failed_criteria   TEXT NOT NULL DEFAULT '',
    critical_failures TEXT NOT NULL DEFAULT '',
    is_current        INTEGER NOT NULL DEFAULT 1,
    scored_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (call_id, rubric_hash)
);

CREATE UNIQUE INDEX scorecards_one_current ON scorecards (call_id, rubric_id) WHERE is_current = 1;
CREATE INDEX scorecards_current_by_score ON scorecards (rubric_id, is_current, flagged, score);
CREATE INDEX scorecards_by_scored_at ON scorecards (scored_at);

CREATE TABLE results (
    scorecard_id  INTEGER NOT NULL REFERENCES scorecards (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    criterion_id  TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    section       TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'na')),
    points        REAL NOT NULL,
    max_points    REAL NOT NULL,
    critical      INTEGER NOT NULL DEFAULT 0,
    evidence_json TEXT NOT NULL DEFAULT '[]',
    reason        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scorecard_id, position)
) WITHOUT ROWID;

CREATE INDEX results_by_criterion ON results (criterion_id, outcome);
"#;

/// Version 2: human reviews of a call (listened, per-criterion overrides, notes).
///
/// A review row is one reviewer action. `criterion_id` NULL means it is about the whole call;
/// an override outcome needs a criterion. `scorecard_id` pins which machine verdict was
/// overridden; it survives (as NULL) if that scorecard is ever deleted.
const V2_REVIEWS: &str = r#"
CREATE TABLE reviews (
    id               INTEGER PRIMARY KEY,
    call_id          TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    scorecard_id     INTEGER REFERENCES scorecards (id) ON DELETE SET NULL,
    reviewer         TEXT NOT NULL,
    criterion_id     TEXT,
    override_outcome TEXT CHECK (override_outcome IS NULL OR override_outcome IN ('pass', 'fail', 'na')),
    note             TEXT NOT NULL DEFAULT '',
    listened         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    CHECK (override_outcome IS NULL OR criterion_id IS NOT NULL)
);

CREATE INDEX reviews_by_call      ON reviews (call_id, created_at);
CREATE INDEX reviews_by_scorecard ON reviews (scorecard_id, criterion_id);
"#;

/// Version 4: what a transcript says beyond its segments, and the call's ingest warnings.
///
/// - `transcripts.language`: the spoken language, as given or detected (a column, so reports
///   and search can filter on it).
/// - `transcripts.details_json`: whether the speakers were separated from a mono channel, the
///   notes on how, and the redacted spans (the review page mutes their audio). Rows from
///   earlier versions read as `{}`: channels were the truth, nothing redacted.
/// - `scorecards.judged`: 0 when too little of the rubric applied to judge the call (the
///   rubric's `min_judged`); earlier scorecards were all judged.
/// - `calls.warnings_json`: what ingest worked around (a truncated file, dropped channels), so
///   a call that looks ordinary but is not says so where it is reviewed.
const V4_TRANSCRIPT_DETAILS: &str = r#"
ALTER TABLE transcripts ADD COLUMN language TEXT;
ALTER TABLE transcripts ADD COLUMN details_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE calls ADD COLUMN warnings_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scorecards ADD COLUMN judged INTEGER NOT NULL DEFAULT 1;
"#;

/// All migrations, oldest first.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1_SCORING).foreign_key_check(),
        M::up(V2_REVIEWS).foreign_key_check(),
        // Version 3: the indexes the review pages need on large databases (see `browse`).
        M::up(crate::browse::BROWSE_INDEXES_SQL),
        M::up(V4_TRANSCRIPT_DETAILS),
        // Version 5: full-text search over every segment (see `search`).
        M::up(crate::search::V5_SEARCH),
    ])
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn schema_version_matches_the_migration_count() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let v: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }
}

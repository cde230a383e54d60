//! Writing: claims, scored calls, rescored scorecards, failures.

use crate::claim::{claim_is_free, ClaimOwner};
use crate::query::normalise_instant;
use crate::scrub;
use crate::{Result, Store};
use callscore_core::{CallMeta, Outcome, Scorecard, Transcript};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use std::path::Path;

/// What a batch needs to know about a call before deciding to do any work on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanState {
    /// The database has seen this call.
    pub known: bool,
    /// It already has a scorecard from a rubric with this content hash: nothing to do.
    pub scored_with_rubric: bool,
    /// Its transcript is stored: scoring needs no audio and no model.
    pub has_transcript: bool,
}

/// The answer to [`Store::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The call is ours to work on until we record it, fail it or release it.
    Acquired { has_transcript: bool },
    /// A scorecard from this rubric exists already (another process finished it).
    AlreadyScored,
    /// Another live process holds it; try again later.
    Busy { holder: String },
}

/// A recording as ingest described it: what is stored in `calls` beside the transcript.
#[derive(Debug, Clone, Copy)]
pub struct NewCall<'a> {
    pub id: &'a str,
    pub source_path: &'a Path,
    pub duration_ms: u64,
    pub channels: u16,
    pub sample_rate: u32,
    pub format: &'a str,
    pub meta: &'a CallMeta,
    /// Problems ingest worked around (a header promising more audio than the file holds,
    /// channels beyond two dropped…): kept with the call so a reviewer sees them.
    pub warnings: &'a [String],
}

/// The result of recording a scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Newly stored under this scorecard id.
    Stored(i64),
    /// A scorecard from the same rubric hash was already there (this id); nothing was added,
    /// and it was made current again.
    AlreadyPresent(i64),
}

impl Recorded {
    pub fn scorecard_id(self) -> i64 {
        match self {
            Recorded::Stored(id) | Recorded::AlreadyPresent(id) => id,
        }
    }
}

pub(crate) fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

pub(crate) fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Where `call_id` stands with respect to the rubric with content hash `rubric_hash`.
    pub fn plan_state(&self, call_id: &str, rubric_hash: &str) -> Result<PlanState> {
        let row = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM scorecards WHERE call_id = ?1 AND rubric_hash = ?2),
                        EXISTS (SELECT 1 FROM transcripts WHERE call_id = ?1)
                 FROM calls WHERE id = ?1",
                params![call_id, rubric_hash],
                |r| Ok((r.get::<_, bool>(0)?, r.get::<_, bool>(1)?)),
            )
            .optional()
            .map_err(self.sql("reading a call's state"))?;
        Ok(match row {
            None => PlanState::default(),
            Some((scored, transcript)) => PlanState {
                known: true,
                scored_with_rubric: scored,
                has_transcript: transcript,
            },
        })
    }

    /// Atomically claims a call for scoring with the rubric `rubric_hash`, creating its row
    /// (status `queued`) when it is new. See [`crate::ClaimOwner`] for when another process's
    /// claim may be taken over. `now_ms` is Unix time in milliseconds.
    pub fn claim(
        &mut self,
        call_id: &str,
        source_path: &Path,
        rubric_hash: &str,
        owner: &ClaimOwner,
        now_ms: i64,
    ) -> Result<Claim> {
        let path = self.path.clone();
        let sql = |context: &'static str| {
            let path = path.clone();
            move |source| crate::StoreError::Sql {
                path,
                context: context.to_string(),
                source,
            }
        };
        // IMMEDIATE: take the write lock before reading, so the read-check-write is atomic
        // across processes.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("claiming a call"))?;
        let existing: Option<(Option<String>, Option<i64>)> = tx
            .query_row(
                "SELECT claimed_by, claimed_at_ms FROM calls WHERE id = ?1",
                [call_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("claiming a call"))?;
        let scored: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM scorecards WHERE call_id = ?1 AND rubric_hash = ?2)",
                params![call_id, rubric_hash],
                |r| r.get(0),
            )
            .map_err(sql("claiming a call"))?;
        if scored {
            return Ok(Claim::AlreadyScored);
        }
        if let Some((holder, at)) = &existing {
            if !claim_is_free(holder.as_deref(), *at, owner, now_ms) {
                return Ok(Claim::Busy {
                    holder: holder.clone().unwrap_or_default(),
                });
            }
        }
        let source = source_path.to_string_lossy();
        tx.execute(
            "INSERT INTO calls (id, source_path, file_name, status, claimed_by, claimed_at_ms)
             VALUES (?1, ?2, ?3, 'queued', ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET
                 source_path = excluded.source_path,
                 file_name = excluded.file_name,
                 claimed_by = excluded.claimed_by,
                 claimed_at_ms = excluded.claimed_at_ms,
                 attempts = attempts + 1,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
            params![
                call_id,
                source,
                file_name_of(source_path),
                owner.token(),
                now_ms
            ],
        )
        .map_err(sql("claiming a call"))?;
        let has_transcript: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM transcripts WHERE call_id = ?1)",
                [call_id],
                |r| r.get(0),
            )
            .map_err(sql("claiming a call"))?;
        tx.commit().map_err(sql("claiming a call"))?;
        Ok(Claim::Acquired { has_transcript })
    }

    /// Renews every claim `owner` holds; returns how many. Call it every
    /// [`crate::CLAIM_RENEW_EVERY_MS`] while working.
    pub fn renew_claims(&self, owner: &ClaimOwner, now_ms: i64) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE calls SET claimed_at_ms = ?2 WHERE claimed_by = ?1",
                params![owner.token(), now_ms],
            )
            .map_err(self.sql("renewing claims"))
    }

    /// Gives up a claim without recording anything (e.g. the batch was interrupted).
    pub fn release_claim(&self, call_id: &str, owner: &ClaimOwner) -> Result<()> {
        self.conn
            .execute(
                "UPDATE calls SET claimed_by = NULL, claimed_at_ms = NULL WHERE id = ?1 AND claimed_by = ?2",
                params![call_id, owner.token()],
            )
            .map_err(self.sql("releasing a claim"))?;
        Ok(())
    }

    /// Stores everything one call produced — the recording's description, its transcript and its
    /// scorecard with per-criterion results — in one transaction, marks it `scored` and releases
    /// its claim. A transcript already stored for the call is kept (the first one wins). If a
    /// scorecard from the same rubric hash exists, nothing new is scored.
    pub fn record_scored_call(
        &mut self,
        call: &NewCall<'_>,
        transcript: &Transcript,
        scorecard: &Scorecard,
    ) -> Result<Recorded> {
        let encoded = self.encode(call, transcript)?;
        let sql = self.sql("storing a scored call");
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            write_call_and_transcript(&tx, call, transcript, &encoded, Becomes::Scored)?;
            let recorded = insert_scorecard(&tx, call.id, scorecard)?;
            tx.commit()?;
            Ok(recorded)
        })();
        result.map_err(sql)
    }

    /// Stores a call and its transcript without a scorecard, in one transaction: status
    /// `transcribed` (a scored call stays scored), claim released. Any worker scores it later
    /// from the stored transcript, without audio or a model.
    pub fn record_transcribed_call(
        &mut self,
        call: &NewCall<'_>,
        transcript: &Transcript,
    ) -> Result<()> {
        let encoded = self.encode(call, transcript)?;
        let sql = self.sql("storing a transcribed call");
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            write_call_and_transcript(&tx, call, transcript, &encoded, Becomes::Transcribed)?;
            tx.commit()
        })();
        result.map_err(sql)
    }

    /// The JSON columns of a call and its transcript.
    fn encode(&self, call: &NewCall<'_>, transcript: &Transcript) -> Result<Encoded> {
        Ok(Encoded {
            meta: serde_json::to_string(call.meta).map_err(self.corrupt(call.id, "metadata"))?,
            segments: serde_json::to_string(&transcript.segments)
                .map_err(self.corrupt(call.id, "transcript"))?,
            details: serde_json::to_string(&TranscriptDetails::of(transcript))
                .map_err(self.corrupt(call.id, "transcript"))?,
            warnings: serde_json::to_string(call.warnings)
                .map_err(self.corrupt(call.id, "warnings"))?,
        })
    }

    /// Stores scorecards for calls whose transcripts are already stored (rescoring, or a batch
    /// reusing a transcript), all in one transaction, marking each call `scored` and releasing
    /// `owner`'s claim on it.
    pub fn record_scorecards(
        &mut self,
        scorecards: &[(&str, &Scorecard)],
        owner: Option<&ClaimOwner>,
    ) -> Result<Vec<Recorded>> {
        let token = owner.map(ClaimOwner::token);
        let sql = self.sql("storing scorecards");
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Vec::with_capacity(scorecards.len());
            for (call_id, scorecard) in scorecards {
                out.push(insert_scorecard(&tx, call_id, scorecard)?);
                tx.execute(
                    "UPDATE calls SET status = 'scored', error = NULL,
                         claimed_by = CASE WHEN claimed_by = ?2 THEN NULL ELSE claimed_by END,
                         claimed_at_ms = CASE WHEN claimed_by = ?2 THEN NULL ELSE claimed_at_ms END,
                         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                     WHERE id = ?1",
                    params![call_id, token],
                )?;
            }
            tx.commit()?;
            Ok(out)
        })();
        result.map_err(sql)
    }

    /// Records that a call could not be scored: status `failed`, the error text, claim released.
    /// A later batch tries it again.
    pub fn record_failure(
        &mut self,
        call_id: &str,
        source_path: &Path,
        error: &str,
        owner: &ClaimOwner,
    ) -> Result<()> {
        let source = source_path.to_string_lossy();
        self.conn
            .execute(
                "INSERT INTO calls (id, source_path, file_name, status, error, attempts)
                 VALUES (?1, ?2, ?3, 'failed', ?4, 1)
                 ON CONFLICT (id) DO UPDATE SET
                     source_path = excluded.source_path, file_name = excluded.file_name,
                     status = 'failed', error = excluded.error,
                     claimed_by = CASE WHEN claimed_by = ?5 THEN NULL ELSE claimed_by END,
                     claimed_at_ms = CASE WHEN claimed_by = ?5 THEN NULL ELSE claimed_at_ms END,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                params![
                    call_id,
                    source,
                    file_name_of(source_path),
                    error,
                    owner.token()
                ],
            )
            .map_err(self.sql("recording a failed call"))?;
        Ok(())
    }

    /// The stored transcript of a call, with the call's metadata in `meta` (rubrics read the
    /// caller's name and the agent from it).
    pub fn transcript(&self, call_id: &str) -> Result<Option<Transcript>> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {TRANSCRIPT_COLUMNS} {TRANSCRIPT_FROM} WHERE t.call_id = ?1"),
                [call_id],
                TranscriptRow::read,
            )
            .optional()
            .map_err(self.sql("reading a transcript"))?;
        row.map(|row| self.build_transcript(row)).transpose()
    }

    /// Stored transcripts in call-id order, `limit` at a time after `after` (exclusive), so a
    /// rescore of 100,000 calls never holds them all in memory.
    pub fn transcripts_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Transcript)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {TRANSCRIPT_COLUMNS} {TRANSCRIPT_FROM}
                 WHERE t.call_id > ?1 ORDER BY t.call_id LIMIT ?2"
            ))
            .map_err(self.sql("reading transcripts"))?;
        let rows = stmt
            .query_map(
                params![after.unwrap_or(""), limit as i64],
                TranscriptRow::read,
            )
            .map_err(self.sql("reading transcripts"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading transcripts"))?;
        rows.into_iter()
            .map(|row| {
                let id = row.call_id.clone();
                Ok((id, self.build_transcript(row)?))
            })
            .collect()
    }

    /// Replaces a stored transcript's redactions (and the redacted words' text): rescoring with
    /// a rubric that asks for more redaction classes must not leave the stored text, or the
    /// audio the review page plays, unredacted.
    pub fn update_redactions(&mut self, call_id: &str, transcript: &Transcript) -> Result<()> {
        let segments_json = serde_json::to_string(&transcript.segments)
            .map_err(self.corrupt(call_id, "transcript"))?;
        let details_json = serde_json::to_string(&TranscriptDetails::of(transcript))
            .map_err(self.corrupt(call_id, "transcript"))?;
        let sql = self.sql("storing redactions");
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let before: Option<String> = tx
                .query_row(
                    "SELECT segments_json FROM transcripts WHERE call_id = ?1",
                    [call_id],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "UPDATE transcripts SET segments_json = ?2, details_json = ?3 WHERE call_id = ?1",
                params![call_id, segments_json, details_json],
            )?;
            // The search index must not keep what the text no longer holds.
            crate::search::index_segments(&tx, call_id, &transcript.segments)?;
            // Nor may the call's earlier scorecards, whose evidence and reasons quote the
            // transcript as it was.
            let before: Vec<callscore_core::Segment> = before
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            let removed = scrub::removed_words(&before, &transcript.segments);
            if !removed.is_empty() {
                scrub_scorecards(&tx, call_id, &removed)?;
            }
            tx.commit()
        })();
        result.map_err(sql)
    }

    fn build_transcript(&self, row: TranscriptRow) -> Result<Transcript> {
        let call_id = row.call_id.as_str();
        let details: TranscriptDetails =
            serde_json::from_str(&row.details).map_err(self.corrupt(call_id, "transcript"))?;
        Ok(Transcript {
            duration_ms: row.duration_ms.max(0) as u64,
            model: row.model,
            segments: serde_json::from_str(&row.segments)
                .map_err(self.corrupt(call_id, "transcript"))?,
            meta: serde_json::from_str(&row.meta).map_err(self.corrupt(call_id, "metadata"))?,
            diarized: details.diarized,
            speaker_notes: details.speaker_notes,
            language: row.language,
            redactions: details.redactions,
        })
    }
}

/// Rewrites the evidence quotes and reasons of every scorecard of `call_id` without `removed`.
fn scrub_scorecards(
    tx: &Transaction<'_>,
    call_id: &str,
    removed: &[String],
) -> rusqlite::Result<()> {
    let rows: Vec<(i64, i64, String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT r.scorecard_id, r.position, r.evidence_json, r.reason
             FROM results r JOIN scorecards s ON s.id = r.scorecard_id WHERE s.call_id = ?1",
        )?;
        let rows = stmt.query_map([call_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare_cached(
        "UPDATE results SET evidence_json = ?3, reason = ?4 WHERE scorecard_id = ?1 AND position = ?2",
    )?;
    for (scorecard_id, position, evidence, reason) in rows {
        if let Some((evidence, reason)) = scrub::result(&evidence, &reason, removed) {
            update.execute(params![scorecard_id, position, evidence, reason])?;
        }
    }
    let reasons: Vec<(i64, String)> = {
        let mut stmt =
            tx.prepare("SELECT id, flag_reasons_json FROM scorecards WHERE call_id = ?1")?;
        let rows = stmt.query_map([call_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, json) in reasons {
        if let Some(json) = scrub::flag_reasons(&json, removed) {
            tx.execute(
                "UPDATE scorecards SET flag_reasons_json = ?2 WHERE id = ?1",
                params![id, json],
            )?;
        }
    }
    Ok(())
}

const TRANSCRIPT_COLUMNS: &str =
    "t.call_id, t.model, t.duration_ms, t.segments_json, c.meta_json, t.language, t.details_json";
const TRANSCRIPT_FROM: &str = "FROM transcripts t JOIN calls c ON c.id = t.call_id";

/// One stored transcript as read, before its JSON is parsed.
struct TranscriptRow {
    call_id: String,
    model: String,
    duration_ms: i64,
    segments: String,
    meta: String,
    language: Option<String>,
    details: String,
}

impl TranscriptRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<TranscriptRow> {
        Ok(TranscriptRow {
            call_id: r.get(0)?,
            model: r.get(1)?,
            duration_ms: r.get(2)?,
            segments: r.get(3)?,
            meta: r.get(4)?,
            language: r.get(5)?,
            details: r.get(6)?,
        })
    }
}

/// What a transcript says beyond its segments, stored as one JSON column (`details_json`):
/// how the speakers were decided and what was redacted. Missing keys read as defaults, so rows
/// from before schema version 4 read as "channels were the truth, nothing redacted".
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct TranscriptDetails {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) diarized: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) speaker_notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) redactions: Vec<callscore_core::Redaction>,
}

impl TranscriptDetails {
    pub(crate) fn of(t: &Transcript) -> TranscriptDetails {
        TranscriptDetails {
            diarized: t.diarized,
            speaker_notes: t.speaker_notes.clone(),
            redactions: t.redactions.clone(),
        }
    }
}

/// A call's and its transcript's JSON columns, encoded before the transaction starts.
struct Encoded {
    meta: String,
    segments: String,
    details: String,
    warnings: String,
}

/// The status a stored call takes.
#[derive(Clone, Copy)]
enum Becomes {
    Scored,
    /// Transcribed, unless it is already scored (a scored call stays scored).
    Transcribed,
}

/// Writes (or updates) the call's row, releasing its claim, and its transcript unless one is
/// stored already (the first one wins, and only a newly stored one is indexed for search, in
/// the same transaction).
fn write_call_and_transcript(
    tx: &Transaction<'_>,
    call: &NewCall<'_>,
    transcript: &Transcript,
    encoded: &Encoded,
    becomes: Becomes,
) -> rusqlite::Result<()> {
    let (new_status, updated_status) = match becomes {
        Becomes::Scored => ("'scored'", "'scored'"),
        Becomes::Transcribed => (
            "'transcribed'",
            "CASE WHEN status = 'scored' THEN 'scored' ELSE 'transcribed' END",
        ),
    };
    tx.execute(
        &format!(
            "INSERT INTO calls (id, source_path, file_name, duration_ms, channels, sample_rate, format,
                                meta_json, agent, started_at, status, warnings_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, {new_status}, ?11)
             ON CONFLICT (id) DO UPDATE SET
                 source_path = excluded.source_path, file_name = excluded.file_name,
                 duration_ms = excluded.duration_ms, channels = excluded.channels,
                 sample_rate = excluded.sample_rate, format = excluded.format,
                 meta_json = excluded.meta_json, agent = excluded.agent,
                 started_at = excluded.started_at, status = {updated_status}, error = NULL,
                 warnings_json = excluded.warnings_json,
                 claimed_by = NULL, claimed_at_ms = NULL,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
        ),
        params![
            call.id,
            call.source_path.to_string_lossy(),
            file_name_of(call.source_path),
            ms(call.duration_ms),
            call.channels,
            call.sample_rate,
            call.format,
            encoded.meta,
            call.meta.agent,
            call.meta.started_at.as_deref().and_then(normalise_instant),
            encoded.warnings,
        ],
    )?;
    let inserted = tx.execute(
        "INSERT INTO transcripts (call_id, model, duration_ms, segments_json, language, details_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (call_id) DO NOTHING",
        params![
            call.id,
            transcript.model,
            ms(transcript.duration_ms),
            encoded.segments,
            transcript.language,
            encoded.details
        ],
    )?;
    if inserted > 0 {
        crate::search::index_segments(tx, call.id, &transcript.segments)?;
    }
    Ok(())
}

/// Inserts one scorecard and its results, or finds the existing one with the same rubric hash;
/// either way it becomes the call's current scorecard for its rubric id.
fn insert_scorecard(
    tx: &Transaction<'_>,
    call_id: &str,
    sc: &Scorecard,
) -> rusqlite::Result<Recorded> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM scorecards WHERE call_id = ?1 AND rubric_hash = ?2",
            params![call_id, sc.rubric_hash],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "UPDATE scorecards SET is_current = 0 WHERE call_id = ?1 AND rubric_id = ?2 AND is_current = 1",
        params![call_id, sc.rubric_id],
    )?;
    if let Some(id) = existing {
        tx.execute("UPDATE scorecards SET is_current = 1 WHERE id = ?1", [id])?;
        return Ok(Recorded::AlreadyPresent(id));
    }
    let flag_reasons = serde_json::to_string(&sc.flag_reasons).map_err(json_err)?;
    let failed = |critical_only: bool| {
        sc.results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && (r.critical || !critical_only))
            .map(|r| r.criterion_id.as_str())
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    tx.execute(
        "INSERT INTO scorecards (call_id, rubric_id, rubric_version, rubric_hash, score, passed, flagged,
                                 flag_reasons_json, first_failed_ms, failed_criteria, critical_failures, is_current,
                                 judged)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12)",
        params![
            call_id,
            sc.rubric_id,
            sc.rubric_version,
            sc.rubric_hash,
            sc.score,
            sc.passed,
            sc.flagged,
            flag_reasons,
            sc.first_failed_moment_ms().map(ms),
            failed(false),
            failed(true),
            sc.judged,
        ],
    )?;
    let scorecard_id = tx.last_insert_rowid();
    let mut insert = tx.prepare_cached(
        "INSERT INTO results (scorecard_id, position, criterion_id, name, section, outcome, points, max_points,
                              critical, evidence_json, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for (position, r) in sc.results.iter().enumerate() {
        let evidence = serde_json::to_string(&r.evidence).map_err(json_err)?;
        insert.execute(params![
            scorecard_id,
            position as i64,
            r.criterion_id,
            r.name,
            r.section,
            r.outcome.as_str(),
            r.points,
            r.max_points,
            r.critical,
            evidence,
            r.reason,
        ])?;
    }
    Ok(Recorded::Stored(scorecard_id))
}

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

//! Writing on PostgreSQL: the same claims, scored calls, rescored scorecards and failures as
//! `crate::write`, each call in one transaction.
//!
//! Every transaction that stores a scorecard first locks the call's row, so two workers that
//! finish the same call at once (a lease taken over from a worker that was only slow) are
//! serialised: the second finds the first one's scorecard and stores nothing.

use super::search::index_segments;
use super::PgStore;
use crate::claim::{holder_is_dead, ClaimOwner, CLAIM_LEASE_MS};
use crate::query::normalise_instant;
use crate::write::{file_name_of, ms, TranscriptDetails};
use crate::{Claim, NewCall, PlanState, Recorded, Result};
use callscore_core::{Outcome, Scorecard, Transcript};
use postgres::Transaction;

/// The server's clock in Unix milliseconds: leases are judged by the one clock every worker
/// shares, not by each machine's own.
pub(crate) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
/// The server's clock as the stored time text.
pub(crate) const NOW_STAMP: &str =
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

impl PgStore {
    /// See [`crate::Store::plan_state`].
    pub fn plan_state(&self, call_id: &str, rubric_hash: &str) -> Result<PlanState> {
        let row = self
            .client_mut()
            .query_opt(
                "SELECT EXISTS (SELECT 1 FROM scorecards WHERE call_id = $1 AND rubric_hash = $2),
                        EXISTS (SELECT 1 FROM transcripts WHERE call_id = $1)
                 FROM calls WHERE id = $1",
                &[&call_id, &rubric_hash],
            )
            .map_err(self.sql("reading a call's state"))?;
        Ok(match row {
            None => PlanState::default(),
            Some(r) => PlanState {
                known: true,
                scored_with_rubric: r.get(0),
                has_transcript: r.get(1),
            },
        })
    }

    /// See [`crate::Store::claim`]. The lease is [`CLAIM_LEASE_MS`], judged by the server's
    /// clock (`_now_ms` is the SQLite store's clock and unused here).
    pub fn claim(
        &mut self,
        call_id: &str,
        source_path: &std::path::Path,
        rubric_hash: &str,
        owner: &ClaimOwner,
        _now_ms: i64,
    ) -> Result<Claim> {
        let sql = self.sql("claiming a call");
        let source = source_path.to_string_lossy();
        let token = owner.token();
        let mut client = self.client_mut();
        let result = (|| {
            let mut tx = client.transaction()?;
            // The row first (a no-op when it exists), so the lock below always has a row to
            // take: two claimers of a new call must not both see "no row" and both win.
            tx.execute(
                "INSERT INTO calls (id, source_path, file_name, status) VALUES ($1, $2, $3, 'queued')
                 ON CONFLICT (id) DO NOTHING",
                &[&call_id, &source.as_ref(), &file_name_of(source_path)],
            )?;
            let row = tx.query_one(
                &format!(
                    "SELECT claimed_by, lease_expires_ms, {NOW_MS} FROM calls WHERE id = $1 FOR UPDATE"
                ),
                &[&call_id],
            )?;
            let holder: Option<String> = row.get(0);
            let expires: Option<i64> = row.get(1);
            let now: i64 = row.get(2);
            // What is stored is read by a statement of its own, after the lock: `FOR UPDATE`
            // waits for a finisher's transaction and then reads the call's row as it committed,
            // but the rest of that statement still sees the snapshot taken before the wait — it
            // would find the claim released and no scorecard yet, and hand out a call that was
            // just scored. (READ COMMITTED gives each statement a new snapshot.)
            let done = tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM scorecards WHERE call_id = $1 AND rubric_hash = $2),
                        EXISTS (SELECT 1 FROM transcripts WHERE call_id = $1)",
                &[&call_id, &rubric_hash],
            )?;
            if done.get::<_, bool>(0) {
                return Ok(Claim::AlreadyScored);
            }
            let free = match &holder {
                None => true,
                Some(h) if *h == token => true,
                Some(h) => expires.is_none_or(|at| at < now) || holder_is_dead(h, owner),
            };
            if !free {
                return Ok(Claim::Busy {
                    holder: holder.unwrap_or_default(),
                });
            }
            tx.execute(
                &format!(
                    "UPDATE calls SET source_path = $2, file_name = $3, claimed_by = $4,
                         claimed_at_ms = $5::bigint, lease_expires_ms = $5::bigint + $6::bigint, attempts = attempts + 1,
                         updated_at = {NOW_STAMP}
                     WHERE id = $1"
                ),
                &[
                    &call_id,
                    &source.as_ref(),
                    &file_name_of(source_path),
                    &token,
                    &now,
                    &CLAIM_LEASE_MS,
                ],
            )?;
            let has_transcript: bool = done.get(1);
            tx.commit()?;
            Ok(Claim::Acquired { has_transcript })
        })();
        result.map_err(sql)
    }

    /// Renews every claim `owner` holds, each by the lease length it was taken with; returns
    /// how many. `_now_ms` is unused: the server's clock decides.
    pub fn renew_claims(&self, owner: &ClaimOwner, _now_ms: i64) -> Result<usize> {
        let n = self
            .client_mut()
            .execute(
                &format!(
                    "UPDATE calls SET lease_expires_ms = {NOW_MS} + (lease_expires_ms - claimed_at_ms),
                         claimed_at_ms = {NOW_MS}
                     WHERE claimed_by = $1"
                ),
                &[&owner.token()],
            )
            .map_err(self.sql("renewing claims"))?;
        Ok(n as usize)
    }

    /// See [`crate::Store::release_claim`].
    pub fn release_claim(&self, call_id: &str, owner: &ClaimOwner) -> Result<()> {
        self.client_mut()
            .execute(
                "UPDATE calls SET claimed_by = NULL, claimed_at_ms = NULL, lease_expires_ms = NULL
                 WHERE id = $1 AND claimed_by = $2",
                &[&call_id, &owner.token()],
            )
            .map_err(self.sql("releasing a claim"))?;
        Ok(())
    }

    /// See [`crate::Store::record_scored_call`].
    pub fn record_scored_call(
        &mut self,
        call: &NewCall<'_>,
        transcript: &Transcript,
        scorecard: &Scorecard,
    ) -> Result<Recorded> {
        let (fields, sql) = (
            CallFields::of(self, call, transcript)?,
            self.sql("storing a scored call"),
        );
        let mut client = self.client_mut();
        let result = (|| {
            let mut tx = client.transaction()?;
            upsert_call(&mut tx, call, &fields, "scored")?;
            if insert_transcript(&mut tx, call.id, transcript, &fields)? {
                index_segments(&mut tx, call.id, &transcript.segments)?;
            }
            let recorded = insert_scorecard(&mut tx, call.id, scorecard)?;
            tx.commit()?;
            Ok(recorded)
        })();
        result.map_err(sql)
    }

    /// See [`crate::Store::record_transcribed_call`].
    pub fn record_transcribed_call(
        &mut self,
        call: &NewCall<'_>,
        transcript: &Transcript,
    ) -> Result<()> {
        let (fields, sql) = (
            CallFields::of(self, call, transcript)?,
            self.sql("storing a transcribed call"),
        );
        let mut client = self.client_mut();
        let result = (|| {
            let mut tx = client.transaction()?;
            upsert_call(&mut tx, call, &fields, "transcribed")?;
            if insert_transcript(&mut tx, call.id, transcript, &fields)? {
                index_segments(&mut tx, call.id, &transcript.segments)?;
            }
            tx.commit()
        })();
        result.map_err(sql)
    }

    /// See [`crate::Store::record_scorecards`].
    pub fn record_scorecards(
        &mut self,
        scorecards: &[(&str, &Scorecard)],
        owner: Option<&ClaimOwner>,
    ) -> Result<Vec<Recorded>> {
        let token = owner.map(ClaimOwner::token);
        let sql = self.sql("storing scorecards");
        let mut client = self.client_mut();
        let result = (|| {
            let mut tx = client.transaction()?;
            let mut out = Vec::with_capacity(scorecards.len());
            for (call_id, scorecard) in scorecards {
                lock_call(&mut tx, call_id)?;
                out.push(insert_scorecard(&mut tx, call_id, scorecard)?);
                tx.execute(
                    &format!(
                        "UPDATE calls SET status = 'scored', error = NULL,
                             claimed_at_ms = CASE WHEN claimed_by = $2 THEN NULL ELSE claimed_at_ms END,
                             lease_expires_ms = CASE WHEN claimed_by = $2 THEN NULL ELSE lease_expires_ms END,
                             claimed_by = CASE WHEN claimed_by = $2 THEN NULL ELSE claimed_by END,
                             updated_at = {NOW_STAMP}
                         WHERE id = $1"
                    ),
                    &[call_id, &token],
                )?;
            }
            tx.commit()?;
            Ok(out)
        })();
        result.map_err(sql)
    }

    /// See [`crate::Store::record_failure`].
    pub fn record_failure(
        &mut self,
        call_id: &str,
        source_path: &std::path::Path,
        error: &str,
        owner: &ClaimOwner,
    ) -> Result<()> {
        let source = source_path.to_string_lossy();
        self.client_mut()
            .execute(
                &format!(
                    "INSERT INTO calls (id, source_path, file_name, status, error, attempts)
                     VALUES ($1, $2, $3, 'failed', $4, 1)
                     ON CONFLICT (id) DO UPDATE SET
                         source_path = excluded.source_path, file_name = excluded.file_name,
                         status = 'failed', error = excluded.error,
                         claimed_at_ms = CASE WHEN calls.claimed_by = $5 THEN NULL ELSE calls.claimed_at_ms END,
                         lease_expires_ms = CASE WHEN calls.claimed_by = $5 THEN NULL ELSE calls.lease_expires_ms END,
                         claimed_by = CASE WHEN calls.claimed_by = $5 THEN NULL ELSE calls.claimed_by END,
                         updated_at = {NOW_STAMP}"
                ),
                &[
                    &call_id,
                    &source.as_ref(),
                    &file_name_of(source_path),
                    &error,
                    &owner.token(),
                ],
            )
            .map_err(self.sql("recording a failed call"))?;
        Ok(())
    }

    /// See [`crate::Store::transcript`].
    pub fn transcript(&self, call_id: &str) -> Result<Option<Transcript>> {
        let row = self
            .client_mut()
            .query_opt(
                &format!("SELECT {TRANSCRIPT_COLUMNS} {TRANSCRIPT_FROM} WHERE t.call_id = $1"),
                &[&call_id],
            )
            .map_err(self.sql("reading a transcript"))?;
        row.map(|r| self.build_transcript(&r)).transpose()
    }

    /// See [`crate::Store::transcripts_after`].
    pub fn transcripts_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Transcript)>> {
        let rows = self
            .client_mut()
            .query(
                &format!(
                    "SELECT {TRANSCRIPT_COLUMNS} {TRANSCRIPT_FROM}
                     WHERE t.call_id > $1 ORDER BY t.call_id LIMIT $2"
                ),
                &[&after.unwrap_or(""), &(limit as i64)],
            )
            .map_err(self.sql("reading transcripts"))?;
        rows.iter()
            .map(|r| Ok((r.get::<_, String>(0), self.build_transcript(r)?)))
            .collect()
    }

    /// See [`crate::Store::update_redactions`]: the search rows follow in the same
    /// transaction.
    pub fn update_redactions(&mut self, call_id: &str, transcript: &Transcript) -> Result<()> {
        let segments_json = serde_json::to_string(&transcript.segments)
            .map_err(self.corrupt(call_id, "transcript"))?;
        let details_json = serde_json::to_string(&TranscriptDetails::of(transcript))
            .map_err(self.corrupt(call_id, "transcript"))?;
        let sql = self.sql("storing redactions");
        let mut client = self.client_mut();
        let result = (|| {
            let mut tx = client.transaction()?;
            let before: Option<String> = tx
                .query_opt(
                    "SELECT segments_json FROM transcripts WHERE call_id = $1 FOR UPDATE",
                    &[&call_id],
                )?
                .map(|r| r.get(0));
            tx.execute(
                "UPDATE transcripts SET segments_json = $2, details_json = $3 WHERE call_id = $1",
                &[&call_id, &segments_json, &details_json],
            )?;
            index_segments(&mut tx, call_id, &transcript.segments)?;
            // Earlier scorecards quote the transcript as it was: take the removed words out.
            let before: Vec<callscore_core::Segment> = before
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            let removed = crate::scrub::removed_words(&before, &transcript.segments);
            if !removed.is_empty() {
                let rows = tx.query(
                    "SELECT r.scorecard_id, r.position, r.evidence_json, r.reason
                     FROM results r JOIN scorecards s ON s.id = r.scorecard_id WHERE s.call_id = $1",
                    &[&call_id],
                )?;
                for row in rows {
                    let (scorecard_id, position): (i64, i64) = (row.get(0), row.get(1));
                    let (evidence, reason): (String, String) = (row.get(2), row.get(3));
                    if let Some((evidence, reason)) =
                        crate::scrub::result(&evidence, &reason, &removed)
                    {
                        tx.execute(
                            "UPDATE results SET evidence_json = $3, reason = $4
                             WHERE scorecard_id = $1 AND position = $2",
                            &[&scorecard_id, &position, &evidence, &reason],
                        )?;
                    }
                }
                let rows = tx.query(
                    "SELECT id, flag_reasons_json FROM scorecards WHERE call_id = $1",
                    &[&call_id],
                )?;
                for row in rows {
                    let (id, json): (i64, String) = (row.get(0), row.get(1));
                    if let Some(json) = crate::scrub::flag_reasons(&json, &removed) {
                        tx.execute(
                            "UPDATE scorecards SET flag_reasons_json = $2 WHERE id = $1",
                            &[&id, &json],
                        )?;
                    }
                }
            }
            tx.commit()
        })();
        result.map_err(sql)
    }

    fn build_transcript(&self, r: &postgres::Row) -> Result<Transcript> {
        let call_id: String = r.get(0);
        let details: TranscriptDetails =
            serde_json::from_str(r.get(6)).map_err(self.corrupt(&call_id, "transcript"))?;
        Ok(Transcript {
            duration_ms: r.get::<_, i64>(2).max(0) as u64,
            model: r.get(1),
            segments: serde_json::from_str(r.get(3))
                .map_err(self.corrupt(&call_id, "transcript"))?,
            meta: serde_json::from_str(r.get(4)).map_err(self.corrupt(&call_id, "metadata"))?,
            diarized: details.diarized,
            speaker_notes: details.speaker_notes,
            language: r.get(5),
            redactions: details.redactions,
        })
    }
}

const TRANSCRIPT_COLUMNS: &str =
    "t.call_id, t.model, t.duration_ms, t.segments_json, c.meta_json, t.language, t.details_json";
const TRANSCRIPT_FROM: &str = "FROM transcripts t JOIN calls c ON c.id = t.call_id";

/// A call's values as stored, encoded before the transaction starts.
struct CallFields {
    meta_json: String,
    segments_json: String,
    details_json: String,
    warnings_json: String,
    started_at: Option<String>,
}

impl CallFields {
    fn of(store: &PgStore, call: &NewCall<'_>, transcript: &Transcript) -> Result<CallFields> {
        Ok(CallFields {
            meta_json: serde_json::to_string(call.meta)
                .map_err(store.corrupt(call.id, "metadata"))?,
            segments_json: serde_json::to_string(&transcript.segments)
                .map_err(store.corrupt(call.id, "transcript"))?,
            details_json: serde_json::to_string(&TranscriptDetails::of(transcript))
                .map_err(store.corrupt(call.id, "transcript"))?,
            warnings_json: serde_json::to_string(call.warnings)
                .map_err(store.corrupt(call.id, "warnings"))?,
            started_at: call.meta.started_at.as_deref().and_then(normalise_instant),
        })
    }
}

/// Stores the call's row with `status` and releases whatever claim it had: the call is done
/// with (or, `transcribed`, handed back to the queue with its transcript). A call already
/// `scored` stays scored.
fn upsert_call(
    tx: &mut Transaction<'_>,
    call: &NewCall<'_>,
    f: &CallFields,
    status: &str,
) -> Result<(), postgres::Error> {
    let source = call.source_path.to_string_lossy();
    tx.execute(
        &format!(
            "INSERT INTO calls (id, source_path, file_name, duration_ms, channels, sample_rate, format,
                                meta_json, agent, started_at, status, warnings_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET
                 source_path = excluded.source_path, file_name = excluded.file_name,
                 duration_ms = excluded.duration_ms, channels = excluded.channels,
                 sample_rate = excluded.sample_rate, format = excluded.format,
                 meta_json = excluded.meta_json, agent = excluded.agent,
                 started_at = excluded.started_at,
                 status = CASE WHEN calls.status = 'scored' THEN 'scored' ELSE excluded.status END,
                 error = NULL, warnings_json = excluded.warnings_json,
                 claimed_by = NULL, claimed_at_ms = NULL, lease_expires_ms = NULL,
                 updated_at = {NOW_STAMP}"
        ),
        &[
            &call.id,
            &source.as_ref(),
            &file_name_of(call.source_path),
            &ms(call.duration_ms),
            &i64::from(call.channels),
            &i64::from(call.sample_rate),
            &call.format,
            &f.meta_json,
            &call.meta.agent,
            &f.started_at,
            &status,
            &f.warnings_json,
        ],
    )?;
    Ok(())
}

/// The first transcript stored for a call wins, as on SQLite; whether this one was stored (and
/// so is to be made searchable).
fn insert_transcript(
    tx: &mut Transaction<'_>,
    call_id: &str,
    transcript: &Transcript,
    f: &CallFields,
) -> Result<bool, postgres::Error> {
    let inserted = tx.execute(
        "INSERT INTO transcripts (call_id, model, duration_ms, segments_json, language, details_json)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (call_id) DO NOTHING",
        &[
            &call_id,
            &transcript.model,
            &ms(transcript.duration_ms),
            &f.segments_json,
            &transcript.language,
            &f.details_json,
        ],
    )?;
    Ok(inserted > 0)
}

fn lock_call(tx: &mut Transaction<'_>, call_id: &str) -> Result<(), postgres::Error> {
    tx.query_opt("SELECT 1 FROM calls WHERE id = $1 FOR UPDATE", &[&call_id])?;
    Ok(())
}

/// See `crate::write::insert_scorecard`; the caller holds the call's row lock.
fn insert_scorecard(
    tx: &mut Transaction<'_>,
    call_id: &str,
    sc: &Scorecard,
) -> Result<Recorded, postgres::Error> {
    let existing = tx
        .query_opt(
            "SELECT id FROM scorecards WHERE call_id = $1 AND rubric_hash = $2",
            &[&call_id, &sc.rubric_hash],
        )?
        .map(|r| r.get::<_, i64>(0));
    tx.execute(
        "UPDATE scorecards SET is_current = FALSE WHERE call_id = $1 AND rubric_id = $2 AND is_current",
        &[&call_id, &sc.rubric_id],
    )?;
    if let Some(id) = existing {
        tx.execute(
            "UPDATE scorecards SET is_current = TRUE WHERE id = $1",
            &[&id],
        )?;
        return Ok(Recorded::AlreadyPresent(id));
    }
    // Scorecards serialise as they always have (plain data), so this cannot fail in practice;
    // an empty list keeps the row readable if it ever did.
    let flag_reasons = serde_json::to_string(&sc.flag_reasons).unwrap_or_else(|_| "[]".into());
    let failed = |critical_only: bool| {
        sc.results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && (r.critical || !critical_only))
            .map(|r| r.criterion_id.as_str())
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    let row = tx.query_one(
        "INSERT INTO scorecards (call_id, rubric_id, rubric_version, rubric_hash, score, passed, flagged,
                                 flag_reasons_json, first_failed_ms, failed_criteria, critical_failures,
                                 is_current, judged)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, TRUE, $12)
         RETURNING id",
        &[
            &call_id,
            &sc.rubric_id,
            &i64::from(sc.rubric_version),
            &sc.rubric_hash,
            &sc.score,
            &sc.passed,
            &sc.flagged,
            &flag_reasons,
            &sc.first_failed_moment_ms().map(ms),
            &failed(false),
            &failed(true),
            &sc.judged,
        ],
    )?;
    let scorecard_id: i64 = row.get(0);
    let insert = tx.prepare(
        "INSERT INTO results (scorecard_id, position, criterion_id, name, section, outcome, points,
                              max_points, critical, evidence_json, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )?;
    for (position, r) in sc.results.iter().enumerate() {
        let evidence = serde_json::to_string(&r.evidence).unwrap_or_else(|_| "[]".into());
        tx.execute(
            &insert,
            &[
                &scorecard_id,
                &(position as i64),
                &r.criterion_id,
                &r.name,
                &r.section,
                &r.outcome.as_str(),
                &r.points,
                &r.max_points,
                &r.critical,
                &evidence,
                &r.reason,
            ],
        )?;
    }
    Ok(Recorded::Stored(scorecard_id))
}

//! Human reviews: a reviewer listened to a call, overrode a criterion's verdict, or left a note.

use crate::{Result, Store, StoreError};
use callscore_core::Outcome;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// One reviewer action to store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewReview {
    pub call_id: String,
    /// The scorecard whose verdict is reviewed; `None` for a note about the call itself.
    pub scorecard_id: Option<i64>,
    pub reviewer: String,
    /// The criterion a verdict override or note is about; `None` for the whole call.
    pub criterion_id: Option<String>,
    /// The reviewer's verdict replacing the machine's (needs `criterion_id`).
    pub override_outcome: Option<Outcome>,
    pub note: String,
    pub listened: bool,
}

/// A stored review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub id: i64,
    pub call_id: String,
    pub scorecard_id: Option<i64>,
    pub reviewer: String,
    pub criterion_id: Option<String>,
    pub override_outcome: Option<Outcome>,
    pub note: String,
    pub listened: bool,
    pub created_at: String,
}

impl Store {
    /// Stores a review and returns its id.
    pub fn add_review(&self, review: &NewReview) -> Result<i64> {
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
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM calls WHERE id = ?1)",
                [&review.call_id],
                |r| r.get(0),
            )
            .map_err(self.sql("storing a review"))?;
        if !known {
            return Err(bad("no such call"));
        }
        if let Some(sid) = review.scorecard_id {
            let owner: Option<String> = self
                .conn
                .query_row("SELECT call_id FROM scorecards WHERE id = ?1", [sid], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(self.sql("storing a review"))?;
            if owner.as_deref() != Some(review.call_id.as_str()) {
                return Err(bad(&format!("scorecard {sid} is not one of this call's")));
            }
        }
        self.conn
            .execute(
                "INSERT INTO reviews (call_id, scorecard_id, reviewer, criterion_id, override_outcome, note, listened)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    review.call_id,
                    review.scorecard_id,
                    review.reviewer.trim(),
                    review.criterion_id,
                    review.override_outcome.map(Outcome::as_str),
                    review.note,
                    review.listened,
                ],
            )
            .map_err(self.sql("storing a review"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A call's reviews, oldest first.
    pub fn reviews_for_call(&self, call_id: &str) -> Result<Vec<Review>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, call_id, scorecard_id, reviewer, criterion_id, override_outcome, note, listened, created_at
                 FROM reviews WHERE call_id = ?1 ORDER BY created_at, id",
            )
            .map_err(self.sql("reading reviews"))?;
        let rows = stmt
            .query_map([call_id], |r| {
                let outcome: Option<String> = r.get(5)?;
                Ok(Review {
                    id: r.get(0)?,
                    call_id: r.get(1)?,
                    scorecard_id: r.get(2)?,
                    reviewer: r.get(3)?,
                    criterion_id: r.get(4)?,
                    // The CHECK constraint admits only values FromStr accepts.
                    override_outcome: outcome.and_then(|o| o.parse().ok()),
                    note: r.get(6)?,
                    listened: r.get(7)?,
                    created_at: r.get(8)?,
                })
            })
            .map_err(self.sql("reading reviews"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading reviews"))
    }
}

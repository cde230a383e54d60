//! `POST /calls/{id}/review`: mark listened, override a criterion with a reason, comment.
//! (The CSRF token and Origin were checked by the guard before this runs.)

use crate::audio::is_call_id;
use crate::db::with_store;
use crate::pages::PageError;
use crate::security::{reviewer_cookie, Session};
use crate::SharedState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::CookieJar;
use callscore_core::Outcome;
use callscore_store::{NewReview, StoreError};
use serde::Deserialize;

const MAX_NAME: usize = 80;
const MAX_NOTE: usize = 4000;

#[derive(Debug, Deserialize)]
pub(crate) struct ReviewForm {
    action: String,
    reviewer: Option<String>,
    scorecard_id: Option<String>,
    criterion: Option<String>,
    outcome: Option<String>,
    note: Option<String>,
}

/// The review a form asks to store, and where to send the browser after it.
fn to_review(
    call_id: &str,
    form: &ReviewForm,
    session: &Session,
) -> Result<(NewReview, String), String> {
    let reviewer = form
        .reviewer
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(session.reviewer.as_deref())
        .ok_or("give your name, so others can see who reviewed the call")?
        .to_string();
    if reviewer.chars().count() > MAX_NAME {
        return Err(format!(
            "a reviewer's name is at most {MAX_NAME} characters"
        ));
    }
    if reviewer.chars().any(char::is_control) {
        return Err("a reviewer's name cannot hold control characters".into());
    }
    let note = form.note.as_deref().unwrap_or("").trim().to_string();
    if note.chars().count() > MAX_NOTE {
        return Err(format!("a note is at most {MAX_NOTE} characters"));
    }
    let scorecard_id = match form
        .scorecard_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| format!("'{s}' is not a scorecard id"))?,
        ),
    };
    let criterion = form
        .criterion
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let mut review = NewReview {
        call_id: call_id.to_string(),
        scorecard_id,
        reviewer,
        ..Default::default()
    };
    let anchor = match form.action.as_str() {
        "listened" => {
            review.listened = true;
            "#review".to_string()
        }
        "override" => {
            let criterion = criterion.ok_or("an override needs the criterion it is about")?;
            if scorecard_id.is_none() {
                return Err("an override needs the scorecard it corrects".into());
            }
            let outcome = form.outcome.as_deref().unwrap_or("");
            let outcome: Outcome = outcome.parse().map_err(|e: String| e)?;
            if note.is_empty() {
                return Err("say why you override the machine's verdict (the reason field)".into());
            }
            let anchor = format!("#criterion-{criterion}");
            review.criterion_id = Some(criterion);
            review.override_outcome = Some(outcome);
            review.note = note;
            anchor
        }
        "comment" => {
            if note.is_empty() {
                return Err("the comment is empty".into());
            }
            review.criterion_id = criterion;
            review.note = note;
            "#review".to_string()
        }
        other => return Err(format!("unknown review action '{other}'")),
    };
    Ok((review, anchor))
}

pub(crate) async fn submit(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    jar: CookieJar,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    if !is_call_id(&id) {
        return Err(PageError::NotFound(
            "There is no such call in this database.".into(),
        ));
    }
    let (review, anchor) = to_review(&id, &form, &session).map_err(PageError::BadRequest)?;
    let reviewer = review.reviewer.clone();
    with_store(&state, move |store| {
        // An override must name a criterion the scorecard has; the store checks the rest
        // (the call exists, the scorecard is the call's).
        if let (Some(sid), Some(criterion), Some(_)) = (
            review.scorecard_id,
            &review.criterion_id,
            review.override_outcome,
        ) {
            let known = store.scorecard(sid)?.is_some_and(|s| {
                s.call_id == review.call_id
                    && s.scorecard
                        .results
                        .iter()
                        .any(|r| &r.criterion_id == criterion)
            });
            if !known {
                return Err(StoreError::BadReview {
                    call_id: review.call_id.clone(),
                    reason: format!("scorecard {sid} has no criterion '{criterion}'"),
                });
            }
        }
        store.add_review(&review).map(|_| ())
    })
    .await?;
    let jar = jar.add(reviewer_cookie(&reviewer));
    Ok((jar, Redirect::to(&format!("/calls/{id}{anchor}"))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(action: &str, pairs: &[(&str, &str)]) -> ReviewForm {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        ReviewForm {
            action: action.into(),
            reviewer: get("reviewer"),
            scorecard_id: get("scorecard_id"),
            criterion: get("criterion"),
            outcome: get("outcome"),
            note: get("note"),
        }
    }

    fn session(reviewer: Option<&str>) -> Session {
        Session {
            csrf: String::new(),
            reviewer: reviewer.map(str::to_string),
            token_required: false,
        }
    }

    #[test]
    fn an_override_needs_a_reason_criterion_and_known_outcome() {
        let s = session(Some("maria"));
        let ok = to_review(
            "c1",
            &form(
                "override",
                &[
                    ("scorecard_id", "3"),
                    ("criterion", "greeting"),
                    ("outcome", "pass"),
                    ("note", " heard it "),
                ],
            ),
            &s,
        )
        .unwrap();
        assert_eq!(ok.0.override_outcome, Some(Outcome::Pass));
        assert_eq!(
            (ok.0.note.as_str(), ok.0.reviewer.as_str(), ok.1.as_str()),
            ("heard it", "maria", "#criterion-greeting")
        );
        let err = |f: ReviewForm| to_review("c1", &f, &s).unwrap_err();
        assert!(err(form(
            "override",
            &[
                ("scorecard_id", "3"),
                ("criterion", "greeting"),
                ("outcome", "pass")
            ]
        ))
        .contains("why"));
        assert!(err(form(
            "override",
            &[("scorecard_id", "3"), ("outcome", "pass"), ("note", "x")]
        ))
        .contains("criterion"));
        assert!(err(form(
            "override",
            &[
                ("scorecard_id", "3"),
                ("criterion", "g"),
                ("outcome", "great"),
                ("note", "x")
            ]
        ))
        .contains("great"));
        assert!(err(form(
            "override",
            &[
                ("scorecard_id", "x"),
                ("criterion", "g"),
                ("outcome", "pass"),
                ("note", "x")
            ]
        ))
        .contains("'x'"));
        assert!(err(form("delete", &[])).contains("delete"));
    }

    #[test]
    fn the_form_name_beats_the_remembered_one_and_one_is_needed() {
        let r = to_review(
            "c1",
            &form("listened", &[("reviewer", "tom")]),
            &session(Some("maria")),
        )
        .unwrap();
        assert_eq!((r.0.reviewer.as_str(), r.0.listened), ("tom", true));
        assert!(to_review(
            "c1",
            &form("listened", &[("reviewer", "  ")]),
            &session(None)
        )
        .unwrap_err()
        .contains("name"));
        assert!(to_review(
            "c1",
            &form("comment", &[("reviewer", "tom")]),
            &session(None)
        )
        .unwrap_err()
        .contains("empty"));
        let long = "x".repeat(81);
        assert!(to_review(
            "c1",
            &form("listened", &[("reviewer", &long)]),
            &session(None)
        )
        .is_err());
    }
}

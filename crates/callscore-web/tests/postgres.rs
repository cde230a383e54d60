//! The review pages served from PostgreSQL: the same three calls scored into a SQLite file and
//! into a PostgreSQL database (callscore-pgtest) give the same pages, byte for byte, before and
//! after a reviewer's verdicts; and what is posted on the PostgreSQL pages lands there.
//!
//! The PostgreSQL client must not be used on a thread running async code, so the database work
//! of the test itself (filling, pinning times, reading back) runs outside the runtime, and the
//! pages inside it.

mod common;

use axum::http::{header, StatusCode};
use axum::Router;
use callscore_core::Outcome;
use callscore_store::Db;
use common::*;
use std::path::{Path, PathBuf};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn router(location: &Path) -> Router {
    callscore_web::router(callscore_web::ServeConfig {
        db: location.to_path_buf(),
        token: None,
    })
    .unwrap()
}

/// A page's HTML with the per-session values (the CSRF token of its forms) masked: nothing
/// else may differ between the backends.
fn html(reply: &Reply) -> String {
    let text = reply.text();
    if text.contains("name=\"csrf\" value=\"") {
        text.replace(&reply.csrf(), "[csrf]")
    } else {
        text
    }
}

/// Review times are each database's own clock: pinned to one second on both before pages
/// that show them are compared.
fn pin_review_times(location: &Path) {
    let db = Db::open_existing(location).unwrap();
    let pin = "UPDATE reviews SET created_at = '2024-03-14T10:00:00Z'";
    match &db {
        Db::Sqlite(s) => {
            s.connection().execute(pin, []).unwrap();
        }
        Db::Postgres(p) => {
            p.client().execute(pin, &[]).unwrap();
        }
    }
}

/// The pages a reviewer walks through, as the one browser session sees them.
const PAGES: &[&str] = &[
    "/",
    "/?unheard=1",
    "/calls",
    "/calls?sort=agent&dir=asc",
    "/calls?sort=worst",
    "/calls?sort=duration&dir=desc&verdict=failed",
    "/calls?agent=GARY&from=2024-03-11&to=2024-03-12",
    "/calls?min=10&max=60&sort=score",
    "/agents",
    "/agents/gary",
    "/agents/Maria",
    "/calibration",
];

/// Every page of [`PAGES`] and the calls' pages, with the session's cookies.
async fn walk(app: &Router, cookies: &str) -> Vec<(String, StatusCode, String)> {
    let mut out = Vec::new();
    let calls = [RUDE_ID, GOOD_ID, MEH_ID].map(|id| format!("/calls/{id}"));
    for uri in PAGES
        .iter()
        .copied()
        .chain(calls.iter().map(String::as_str))
    {
        let mut req = get(uri);
        if !cookies.is_empty() {
            req.headers_mut()
                .insert(header::COOKIE, cookies.parse().unwrap());
        }
        let reply = send(app, req).await;
        out.push((uri.to_string(), reply.status, html(&reply)));
    }
    out
}

/// Posts a reviewer's listened mark, an override and a comment on the rude call; returns the
/// session's cookies (session and reviewer name).
async fn review(app: &Router, scorecard_id: &str) -> String {
    let call = format!("/calls/{RUDE_ID}");
    let (cookie, csrf) = session(app, &call).await;
    let review = format!("{call}/review");
    let listened = [
        ("csrf", csrf.as_str()),
        ("action", "listened"),
        ("reviewer", "Maria"),
        ("scorecard_id", scorecard_id),
    ];
    let done = send(app, post_form(&review, &cookie, &listened)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let cookies = format!(
        "{cookie}; {}",
        done.cookie(callscore_web::COOKIE_REVIEWER).unwrap()
    );
    let overridden = [
        ("csrf", csrf.as_str()),
        ("action", "override"),
        ("scorecard_id", scorecard_id),
        ("criterion", "greeting"),
        ("outcome", "pass"),
        ("note", "Said good morning under the line noise"),
    ];
    let done = send(app, post_form(&review, &cookies, &overridden)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let comment = [
        ("csrf", csrf.as_str()),
        ("action", "comment"),
        ("note", "Coach on tone."),
    ];
    let done = send(app, post_form(&review, &cookies, &comment)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    cookies
}

fn assert_same_pages(
    when: &str,
    sqlite: &[(String, StatusCode, String)],
    postgres: &[(String, StatusCode, String)],
) {
    assert_eq!(sqlite.len(), postgres.len());
    for ((uri, s_status, s_html), (_, p_status, p_html)) in sqlite.iter().zip(postgres) {
        assert_eq!(s_status, p_status, "{when}: {uri}");
        assert_eq!(s_status, &StatusCode::OK, "{when}: {uri}: {s_html}");
        assert!(
            s_html == p_html,
            "{when}: {uri} differs between SQLite and PostgreSQL\n--- SQLite\n{s_html}\n--- PostgreSQL\n{p_html}"
        );
    }
}

#[test]
fn postgres_serves_the_same_pages_as_sqlite() {
    let sqlite = build();
    let pg = callscore_pgtest::database("web_pages");
    let pg_url = PathBuf::from(pg.url());
    // The same recordings (the SQLite fixture's), so both store the same paths.
    fill(sqlite.dir.path(), &pg_url);
    let rt = runtime();
    let apps = [router(&sqlite.db), router(&pg_url)];

    let before: Vec<_> = apps.iter().map(|app| rt.block_on(walk(app, ""))).collect();
    assert_same_pages("before reviews", &before[0], &before[1]);
    let queue = &before[1][0].2;
    assert!(
        queue.contains("Flagged calls") && queue.contains("rude.wav"),
        "{queue}"
    );
    assert!(queue.find("rude.wav") < queue.find("moved-away.wav"));
    assert!(!queue.contains("good.wav"));
    let call_page = &before[1][PAGES.len()].2;
    assert!(call_page.contains(&format!(
        r#"<audio id="player" controls preload="metadata" src="/calls/{RUDE_ID}/audio">"#
    )));

    // The scorecards are numbered alike (one per call, in the same order).
    let scorecard_id = [&sqlite.db, &pg_url]
        .map(|location| {
            let db = Db::open_existing(location).unwrap();
            db.call_detail(RUDE_ID, None).unwrap().scorecard.unwrap().id
        })
        .map(|id| id.to_string());
    assert_eq!(scorecard_id[0], scorecard_id[1]);
    let cookies: Vec<String> = apps
        .iter()
        .map(|app| rt.block_on(review(app, &scorecard_id[0])))
        .collect();

    // Stored in PostgreSQL, with the reviewed score.
    let db = Db::open_existing(&pg_url).unwrap();
    let reviews = db.reviews_for_call(RUDE_ID).unwrap();
    assert_eq!(reviews.len(), 3);
    assert_eq!(reviews[1].override_outcome, Some(Outcome::Pass));
    assert_eq!(
        db.reviewed_score(scorecard_id[0].parse().unwrap())
            .unwrap()
            .unwrap()
            .reviewed_score,
        50.0
    );
    drop(db);
    pin_review_times(&sqlite.db);
    pin_review_times(&pg_url);

    // Each session's own cookies (the reviewer's name is shown, "you" is marked).
    let after: Vec<_> = apps
        .iter()
        .zip(&cookies)
        .map(|(app, cookies)| rt.block_on(walk(app, cookies)))
        .collect();
    assert_same_pages("after reviews", &after[0], &after[1]);
    let call_page = &after[1][PAGES.len()].2;
    assert!(
        call_page
            .contains("Reviewer <strong>Maria</strong> says <strong>Pass</strong> (machine: Fail)"),
        "{call_page}"
    );
    assert!(call_page.contains("Reviewed: <strong>50</strong>"));
    assert!(call_page.contains("Coach on tone."));
    let queue = &after[1][0].2;
    assert!(
        queue.contains(r#"<strong class="you">Maria</strong>"#),
        "{queue}"
    );
    assert!(queue.contains("✎ 1"));
    let unheard = &after[1][1].2;
    assert!(!unheard.contains("rude.wav") && unheard.contains("moved-away.wav"));
    let calibration = &after[1][PAGES.len() - 1].2;
    assert!(calibration.contains("Warm greeting") && calibration.contains("100%"));

    // Search is PostgreSQL's own index (its marked snippets are its own, so the page is not
    // compared): the same turns, each opening its call at that moment.
    let search = rt.block_on(fetch(&apps[1], "/search?q=paid")).text();
    assert!(search.contains("2 hit(s)"), "{search}");
    assert!(search.contains(&format!("href=\"/calls/{RUDE_ID}?t=1800\"")));
    assert!(search.contains(&format!("href=\"/calls/{RUDE_ID}?t=9400\"")));

    // The recording is served from the path PostgreSQL holds.
    let audio = rt.block_on(fetch(&apps[1], &format!("/calls/{RUDE_ID}/audio")));
    assert_eq!(audio.status, StatusCode::OK);
    assert_eq!(audio.body, std::fs::read(&sqlite.wav).unwrap());
    drop(apps);
    drop(rt);
}

#[test]
fn a_postgres_database_without_calls_is_refused_not_created() {
    let pg = callscore_pgtest::database("web_empty");
    let err = callscore_web::router(callscore_web::ServeConfig {
        db: PathBuf::from(pg.url()),
        token: None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("no callscore tables"), "{err}");
    // Refused before anything was written: the database is still empty.
    let err = Db::open_existing(Path::new(pg.url())).unwrap_err();
    assert!(err.to_string().contains("no callscore tables"), "{err}");
}

#[tokio::test]
async fn the_router_opens_and_drops_postgres_connections_inside_a_runtime() {
    // Built and dropped in async code, as an embedding server would: the PostgreSQL client's
    // own runtime must not be started or dropped on this thread.
    let dir = tempfile::tempdir().unwrap();
    let fill_dir = dir.path().to_path_buf();
    // The test's own database work is the blocking kind too.
    let pg = tokio::task::spawn_blocking(move || {
        let pg = callscore_pgtest::database("web_async");
        fill(&fill_dir, Path::new(pg.url()));
        pg
    })
    .await
    .unwrap();
    let url = PathBuf::from(pg.url());
    let app = router(&url);
    let page = fetch(&app, "/calls").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("1–3 of 3"), "{}", page.text());
    drop(app);
}

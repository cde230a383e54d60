//! Every page through the router, on a database scored from transcript JSON by a real rubric.

mod common;

use axum::http::{header, StatusCode};
use common::*;

#[tokio::test]
async fn the_flagged_queue_lists_flagged_calls_worst_first() {
    let db = build();
    let app = app(&db, None);
    let page = fetch(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header(header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    // The rude call (critical failure) comes before the merely low-scoring one; the good call
    // is not flagged.
    let rude = html.find("rude.wav").expect("rude call listed");
    let meh = html
        .find("moved-away.wav")
        .expect("low-scoring call listed");
    assert!(rude < meh, "critical failures first");
    assert!(!html.contains("good.wav"));
    // Agent, date, duration, the failed criteria (critical marked), listened state, and a link
    // that opens the call at its first failed moment.
    assert!(html.contains(r#"<a href="/agents/Gary">Gary</a>"#));
    assert!(html.contains("2024-03-11 11:40"));
    assert!(html.contains("0:03"));
    assert!(
        html.contains(r#"<span class="chip critical" title="critical">courtesy</span>"#),
        "{html}"
    );
    assert!(html.contains("not yet"));
    assert!(html.contains(&format!("/calls/{RUDE_ID}?t=9400")), "{html}");
}

#[tokio::test]
async fn all_calls_filter_sort_and_page_in_the_database() {
    let db = build();
    let app = app(&db, None);
    let all = fetch(&app, "/calls").await.text();
    assert!(all.contains("rude.wav") && all.contains("good.wav") && all.contains("moved-away.wav"));
    assert!(all.contains("1–3 of 3"));
    // Newest first by default.
    assert!(
        all.find("moved-away.wav") < all.find("good.wav")
            && all.find("good.wav") < all.find("rude.wav")
    );

    let passed = fetch(&app, "/calls?verdict=passed").await.text();
    assert!(passed.contains("good.wav") && !passed.contains("rude.wav"));
    let gary = fetch(&app, "/calls?agent=gary").await.text();
    assert!(gary.contains("rude.wav") && !gary.contains("good.wav"));
    let high = fetch(&app, "/calls?min=90&max=100").await.text();
    assert!(high.contains("good.wav") && !high.contains("moved-away.wav"));
    let march12 = fetch(&app, "/calls?from=2024-03-12&to=2024-03-12")
        .await
        .text();
    assert!(
        march12.contains("good.wav")
            && !march12.contains("rude.wav")
            && !march12.contains("moved-away.wav")
    );

    let by_score = fetch(&app, "/calls?sort=score&dir=asc").await.text();
    assert!(by_score.find("moved-away.wav") < by_score.find("good.wav"));
    assert!(by_score.contains(r#"aria-sort="ascending""#));
    // The header link flips the direction and keeps the filters.
    let filtered = fetch(&app, "/calls?sort=score&dir=asc&agent=gary")
        .await
        .text();
    assert!(
        filtered.contains("/calls?agent=gary&amp;sort=score&amp;dir=desc"),
        "{filtered}"
    );

    let past_the_end = fetch(&app, "/calls?page=2").await;
    assert_eq!(past_the_end.status, StatusCode::OK);
    assert!(past_the_end.text().contains("No calls match"));
}

#[tokio::test]
async fn bad_filters_are_explained_not_ignored() {
    let db = build();
    let app = app(&db, None);
    for (uri, words) in [
        ("/calls?min=lots", "'lots'"),
        ("/calls?min=90&max=10", "above the maximum"),
        ("/calls?from=yesterday", "yesterday"),
        ("/calls?sort=colour", "'colour'"),
        ("/calls?page=-1", "'-1'"),
    ] {
        let reply = fetch(&app, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(reply.text().contains(words), "{uri}: {}", reply.text());
    }
}

#[tokio::test]
async fn the_call_page_has_player_transcript_scorecard_and_review() {
    let db = build();
    let app = app(&db, None);
    let page = fetch(&app, &format!("/calls/{RUDE_ID}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains(&format!(
            r#"<audio id="player" controls preload="metadata" src="/calls/{RUDE_ID}/audio">"#
        )),
        "{html}"
    );
    // Transcript: speakers, times, and the spans the player highlights.
    assert!(
        html.contains(r#"<li class="seg agent" data-start="9400" data-end="12500">"#),
        "{html}"
    );
    assert!(html.contains(
        r#"<button class="ts" type="button" data-seek="9400" title="play from here">0:09</button>"#
    ));
    // Scorecard by section with outcome, points and evidence that seeks the player.
    assert!(html.contains("<h3>Opening"));
    assert!(html.contains("<h3>Conduct"));
    assert!(html.contains("No rude language"));
    assert!(
        html.contains(r#"class="evidence" type="button" data-seek="9400""#),
        "{html}"
    );
    assert!(html.contains(r#"<span class="outcome fail">Fail</span>"#));
    assert!(html.contains("critical criterion `courtesy` failed"));
    // Review forms carry the CSRF token; the reviewer is asked for a name.
    assert!(html.contains(r#"name="action" value="override""#));
    assert!(html.contains(r#"name="reviewer" required"#));
    assert!(page.csrf().len() == 64);
}

#[tokio::test]
async fn transcript_text_is_escaped() {
    let db = build();
    let app = app(&db, None);
    let html = fetch(&app, &format!("/calls/{RUDE_ID}")).await.text();
    assert!(
        !html.contains("<script>alert"),
        "markup from a transcript reached the page"
    );
    assert!(
        html.contains(
            "Hello, &lt;script&gt;alert('owned')&lt;/script&gt; my power is off &amp; I paid."
        ),
        "{html}"
    );
    // The only scripts are our own file.
    assert_eq!(html.matches("<script").count(), 1);
}

#[tokio::test]
async fn the_call_page_reads_as_expected() {
    let db = build();
    let app = app(&db, None);
    let page = fetch(&app, &format!("/calls/{RUDE_ID}")).await;
    let mut html = page
        .text()
        .replace(&page.csrf(), "[csrf]")
        .replace("><", ">\n<");
    // Asset URLs carry the files' fingerprints, which change with every style edit.
    let mut from = 0;
    while let Some(at) = html[from..].find("?v=").map(|i| from + i) {
        html.replace_range(at..at + 3 + 16, "?v=[fingerprint]");
        from = at + 1;
    }
    insta::assert_snapshot!("call_page", html);
}

#[tokio::test]
async fn a_call_whose_recording_moved_says_so() {
    let db = build();
    let app = app(&db, None);
    let html = fetch(&app, &format!("/calls/{MEH_ID}")).await.text();
    assert!(!html.contains("<audio"));
    assert!(html.contains("The recording is no longer at"), "{html}");
    assert!(html.contains("moved-away.wav"));
    // Its transcript and scorecard are still shown.
    assert!(html.contains("My meter reading is wrong."));
}

#[tokio::test]
async fn unknown_calls_and_paths_are_404() {
    let db = build();
    let app = app(&db, None);
    for uri in [
        "/calls/4444444444444444444444444444444444444444444444444444444444444444",
        "/calls/not-a-call",
        "/nothing-here",
        "/assets/",
        "/assets/secret.txt",
        "/agents/Nobody",
    ] {
        let reply = fetch(&app, uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(reply.text().contains("<h1>Not found</h1>"), "{uri}");
    }
}

#[tokio::test]
async fn reviews_are_stored_and_shown_beside_the_machine_verdict() {
    let db = build();
    let app = app(&db, None);
    let call = format!("/calls/{RUDE_ID}");
    let (cookie, csrf) = session(&app, &call).await;
    let scorecard_id = {
        let store = callscore_store::Store::open(&db.db).unwrap();
        store
            .call_detail(RUDE_ID, None)
            .unwrap()
            .scorecard
            .unwrap()
            .id
            .to_string()
    };
    let review = format!("{call}/review");

    // Listened.
    let done = send(
        &app,
        post_form(
            &review,
            &cookie,
            &[
                ("csrf", &csrf),
                ("action", "listened"),
                ("reviewer", "Maria"),
                ("scorecard_id", &scorecard_id),
            ],
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.header(header::LOCATION),
        Some(format!("{call}#review").as_str())
    );
    let reviewer_cookie = done
        .cookie(callscore_web::COOKIE_REVIEWER)
        .expect("the name is remembered");
    let cookies = format!("{cookie}; {reviewer_cookie}");

    // Override the greeting with a reason; then the machine verdict and the reviewer's show.
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "override"),
        ("scorecard_id", &scorecard_id),
        ("criterion", "greeting"),
        ("outcome", "pass"),
        ("note", "Said <b>good morning</b> under the line noise"),
    ];
    let done = send(&app, post_form(&review, &cookies, &form)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.header(header::LOCATION),
        Some(format!("{call}#criterion-greeting").as_str())
    );

    let mut req = get(&call);
    req.headers_mut()
        .insert(header::COOKIE, cookies.parse().unwrap());
    let html = send(&app, req).await.text();
    assert!(
        html.contains(r#"<span class="arrow" title="overridden by a reviewer">→</span>"#),
        "{html}"
    );
    assert!(
        html.contains("Reviewer <strong>Maria</strong> says <strong>Pass</strong> (machine: Fail)"),
        "{html}"
    );
    assert!(html.contains("Said &lt;b&gt;good morning&lt;/b&gt; under the line noise"));
    assert!(
        html.contains("Reviewed: <strong>50</strong>"),
        "10 of 20 points after the override: {html}"
    );
    assert!(html.contains("✓ You listened"));
    assert!(html.contains("Reviewing as <strong>Maria</strong>"));

    // A comment.
    let done = send(
        &app,
        post_form(
            &review,
            &cookies,
            &[
                ("csrf", &csrf),
                ("action", "comment"),
                ("note", "Coach on tone."),
            ],
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);

    // The queue shows who listened and that a criterion was overridden.
    let mut req = get("/");
    req.headers_mut()
        .insert(header::COOKIE, cookies.parse().unwrap());
    let queue = send(&app, req).await.text();
    assert!(
        queue.contains(r#"<strong class="you">Maria</strong>"#),
        "{queue}"
    );
    assert!(queue.contains("✎ 1"));
    // "Hide calls I have listened to" leaves it out.
    let mut req = get("/?unheard=1");
    req.headers_mut()
        .insert(header::COOKIE, cookies.parse().unwrap());
    let unheard = send(&app, req).await.text();
    assert!(!unheard.contains("rude.wav") && unheard.contains("moved-away.wav"));

    // Stored in the reviews table, with the reviewed score and the disagreement.
    let store = callscore_store::Store::open(&db.db).unwrap();
    let reviews = store.reviews_for_call(RUDE_ID).unwrap();
    assert_eq!(reviews.len(), 3);
    assert_eq!(
        reviews[1].override_outcome,
        Some(callscore_core::Outcome::Pass)
    );
    let sid: i64 = scorecard_id.parse().unwrap();
    assert_eq!(
        store.reviewed_score(sid).unwrap().unwrap().reviewed_score,
        50.0
    );

    let calibration = fetch(&app, "/calibration").await.text();
    assert!(calibration.contains("Warm greeting"), "{calibration}");
    assert!(calibration.contains("100%"));
}

#[tokio::test]
async fn bad_reviews_are_refused_with_the_reason() {
    let db = build();
    let app = app(&db, None);
    let call = format!("/calls/{RUDE_ID}");
    let (cookie, csrf) = session(&app, &call).await;
    let review = format!("{call}/review");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("action", "override"),
                ("reviewer", "M"),
                ("scorecard_id", "1"),
                ("criterion", "greeting"),
                ("outcome", "pass"),
            ],
            "why",
        ),
        (
            &[
                ("action", "override"),
                ("reviewer", "M"),
                ("scorecard_id", "1"),
                ("criterion", "no_such"),
                ("outcome", "pass"),
                ("note", "x"),
            ],
            "no_such",
        ),
        (&[("action", "listened")], "your name"),
        (
            &[
                ("action", "override"),
                ("reviewer", "M"),
                ("scorecard_id", "999"),
                ("criterion", "greeting"),
                ("outcome", "pass"),
                ("note", "x"),
            ],
            "999",
        ),
    ];
    for (fields, words) in cases {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let reply = send(&app, post_form(&review, &cookie, &form)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{fields:?}: {}",
            reply.text()
        );
        assert!(reply.text().contains(words), "{fields:?}: {}", reply.text());
    }
    let unknown = send(
        &app,
        post_form(
            &format!("/calls/{}/review", "9".repeat(64)),
            &cookie,
            &[("csrf", &csrf), ("action", "listened"), ("reviewer", "M")],
        ),
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown.text()
    );
    assert!(unknown.text().contains("no such call"));
    assert!(callscore_store::Store::open(&db.db)
        .unwrap()
        .reviews_for_call(RUDE_ID)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn agent_pages_show_trend_and_pass_rates() {
    let db = build();
    let app = app(&db, None);
    let index = fetch(&app, "/agents").await.text();
    for name in ["Daniel", "Gary", "Maria"] {
        assert!(
            index.contains(&format!(r#"<a href="/agents/{name}">{name}</a>"#)),
            "{index}"
        );
    }
    let gary = fetch(&app, "/agents/gary").await;
    assert_eq!(gary.status, StatusCode::OK);
    let html = gary.text();
    assert!(
        html.contains("<h1>Gary</h1>"),
        "the stored spelling is shown"
    );
    assert!(html.contains(r#"<svg class="trend""#));
    assert!(html.contains("2024-03-11: 1 call, average"));
    assert!(html.contains("No rude language"));
    assert!(
        html.contains(
            r#"<meter min="0" max="1" low="0.6" high="0.85" optimum="1" value="0.000">0%</meter>"#
        ),
        "{html}"
    );
    assert!(html.contains("rude.wav"), "recent calls");
    // Names with spaces and slashes survive the path.
    assert_eq!(
        fetch(&app, "/agents/Mary%20Ann%2F..").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let db = build();
    let app = app(&db, None);
    let css = fetch(&app, "/assets/style.css?v=1").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        css.header(header::CONTENT_TYPE),
        Some("text/css; charset=utf-8")
    );
    let js = fetch(&app, "/assets/app.js").await;
    assert_eq!(
        js.header(header::CONTENT_TYPE),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.text().contains("data-seek"));
}

#[tokio::test]
async fn an_empty_database_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    drop(callscore_store::Store::open(&db).unwrap());
    let app = callscore_web::router(callscore_web::ServeConfig { db, token: None }).unwrap();
    let html = fetch(&app, "/").await.text();
    assert!(html.contains("Nothing has been scored yet"), "{html}");
    assert_eq!(fetch(&app, "/calls").await.status, StatusCode::OK);
    assert_eq!(fetch(&app, "/agents").await.status, StatusCode::OK);
    assert_eq!(fetch(&app, "/calibration").await.status, StatusCode::OK);
}

#[test]
fn a_missing_database_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = callscore_web::router(callscore_web::ServeConfig {
        db: dir.path().join("typo.db"),
        token: None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("typo.db"), "{err}");
    assert!(!dir.path().join("typo.db").exists());
}

#[tokio::test]
async fn search_finds_turns_and_each_hit_opens_its_call_at_that_moment() {
    let db = build();
    let app = app(&db, None);
    let page = fetch(&app, "/search?q=paid").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    // Both of the rude call's turns with "paid", in call order, each a link that seeks.
    assert!(
        html.contains(&format!("href=\"/calls/{RUDE_ID}?t=1800\"")),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/calls/{RUDE_ID}?t=9400\"")));
    assert!(html.contains("<mark>paid</mark>"));
    // The caller's markup is text here too.
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("2 hit(s)"));

    let agent_only = fetch(&app, "/search?q=paid&speaker=caller").await.text();
    assert!(agent_only.contains("1 hit(s)"), "{agent_only}");
    let phrase = fetch(&app, "/search?q=%22check+my+bill%22").await.text();
    assert!(
        phrase.contains(&format!("href=\"/calls/{GOOD_ID}?t=4200\"")),
        "{phrase}"
    );
    let none = fetch(&app, "/search?q=refund").await.text();
    assert!(none.contains("No transcript matches."));
    // A query the index cannot take is explained on the page.
    let bad = fetch(&app, "/search?q=NEAR%2Fx+paid").await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad
        .text()
        .contains("Cannot search for that: NEAR/ takes a number"));
}

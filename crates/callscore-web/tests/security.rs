//! Who may see the pages and send the forms: tokens, sessions, CSRF, Origin, Host.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

const TOKEN: &str = "s3cret-token-for-tests";

fn with(mut req: Request<Body>, name: header::HeaderName, value: &str) -> Request<Body> {
    req.headers_mut().insert(name, value.parse().unwrap());
    req
}

#[tokio::test]
async fn with_a_token_every_request_needs_it() {
    let db = build();
    let app = app(&db, Some(TOKEN));
    for uri in [
        "/",
        "/calls",
        &format!("/calls/{RUDE_ID}"),
        &format!("/calls/{RUDE_ID}/audio"),
        "/agents/Gary",
        "/calibration",
        "/nothing",
    ] {
        let reply = fetch(&app, uri).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
        let html = reply.text();
        assert!(
            html.contains(r#"<form class="card" method="post" action="/login">"#),
            "{uri}: the login form"
        );
        for private in [
            "rude.wav",
            "Helen Price",
            "Riverside",
            "Calm down",
            "courtesy",
        ] {
            assert!(!html.contains(private), "{uri}: {private} leaked");
        }
        assert_eq!(
            reply.header(header::WWW_AUTHENTICATE),
            Some("Bearer realm=\"callscore\"")
        );
    }
    let wrong = send(
        &app,
        with(
            get("/"),
            header::AUTHORIZATION,
            "Bearer not-the-token-at-all",
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = send(
        &app,
        with(get("/"), header::AUTHORIZATION, &format!("Bearer {TOKEN}")),
    )
    .await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(right.text().contains("rude.wav"));
    // The stylesheet is needed by the login page and holds nothing private.
    assert_eq!(
        fetch(&app, "/assets/style.css").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn with_a_token_any_host_is_answered() {
    let db = build();
    let app = app(&db, Some(TOKEN));
    let req = Request::get("/")
        .header(header::HOST, "qa.example.com")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    let reply = send(&app, req.body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_login_form_sets_an_http_only_strict_cookie() {
    let db = build();
    let app = app(&db, Some(TOKEN));
    let first = fetch(&app, "/calls?agent=gary").await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let cookie = first.cookie(callscore_web::COOKIE_SESSION).unwrap();
    let csrf = first.csrf();
    assert!(first
        .text()
        .contains(r#"name="next" value="/calls?agent=gary""#));

    let bad = send(
        &app,
        post_form(
            "/login",
            &cookie,
            &[("csrf", &csrf), ("token", "guess"), ("next", "/")],
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.text().contains("That token is not right."));
    assert!(bad.cookie(callscore_web::COOKIE_AUTH).is_none());

    let good = send(
        &app,
        post_form(
            "/login",
            &cookie,
            &[
                ("csrf", &csrf),
                ("token", TOKEN),
                ("next", "/calls?agent=gary"),
            ],
        ),
    )
    .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    assert_eq!(good.header(header::LOCATION), Some("/calls?agent=gary"));
    let set: Vec<&str> = good
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    for c in &set {
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"),
            "{c}"
        );
    }
    let session = good.cookie(callscore_web::COOKIE_SESSION).unwrap();
    assert_ne!(session, cookie, "login starts a new session");
    let auth = good.cookie(callscore_web::COOKIE_AUTH).unwrap();
    let cookies = format!("{session}; {auth}");
    let page = send(
        &app,
        with(get("/calls?agent=gary"), header::COOKIE, &cookies),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("rude.wav"));
    // The auth cookie belongs to its session: with another session id it is worthless.
    let stolen = format!("{cookie}; {auth}");
    assert_eq!(
        send(&app, with(get("/"), header::COOKIE, &stolen))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Logging out ends it.
    let out = send(
        &app,
        post_form("/logout", &cookies, &[("csrf", &page.csrf())]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let cleared = out.cookie(callscore_web::COOKIE_AUTH).unwrap();
    assert_eq!(cleared, format!("{}=", callscore_web::COOKIE_AUTH));
}

#[tokio::test]
async fn login_redirects_stay_on_this_site() {
    let db = build();
    let app = app(&db, Some(TOKEN));
    let first = fetch(&app, "/login").await;
    let (cookie, csrf) = (
        first.cookie(callscore_web::COOKIE_SESSION).unwrap(),
        first.csrf(),
    );
    // Each is another site to a browser, or to a server that decodes before routing, or a
    // header injection (CR/LF gave a 500 once: the redirect could not be built).
    for next in [
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "/%255C%255Cevil.example",
        "/\t/evil.example",
        "/calls\r\nSet-Cookie: planted=1",
        "/calls%0d%0aSet-Cookie:%20planted=1",
    ] {
        let reply = send(
            &app,
            post_form(
                "/login",
                &cookie,
                &[("csrf", &csrf), ("token", TOKEN), ("next", next)],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(reply.header(header::LOCATION), Some("/"), "{next:?}");
        assert!(reply.cookie("planted").is_none(), "{next:?}");
    }
    // A path of this site is kept.
    let reply = send(
        &app,
        post_form(
            "/login",
            &cookie,
            &[
                ("csrf", &csrf),
                ("token", TOKEN),
                ("next", "/calls?agent=Gary&page=2"),
            ],
        ),
    )
    .await;
    assert_eq!(
        reply.header(header::LOCATION),
        Some("/calls?agent=Gary&page=2")
    );
    // The login form never carries a foreign `next` either.
    let page = fetch(&app, "/login?next=%2F%2Fevil.example").await;
    assert!(
        page.text().contains(r#"name="next" value="/""#),
        "{}",
        page.text()
    );
}

#[tokio::test]
async fn forms_need_the_csrf_token_of_their_session() {
    let db = build();
    let app = app(&db, None);
    let call = format!("/calls/{RUDE_ID}");
    let review = format!("{call}/review");
    let (cookie, csrf) = session(&app, &call).await;
    let (other_cookie, other_csrf) = session(&app, &call).await;
    assert_ne!(csrf, other_csrf);
    let form = |token: &str| {
        vec![
            ("csrf", token.to_string()),
            ("action", "listened".into()),
            ("reviewer", "Mallory".into()),
        ]
    };
    let as_pairs = |f: &Vec<(&'static str, String)>| {
        f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    for (cookie, token, why) in [
        (cookie.as_str(), "", "no token"),
        (
            cookie.as_str(),
            other_csrf.as_str(),
            "another session's token",
        ),
        (
            other_cookie.as_str(),
            csrf.as_str(),
            "token of the first session with the second's cookie",
        ),
        ("", csrf.as_str(), "no session cookie"),
    ] {
        let pairs = as_pairs(&form(token));
        let fields: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = send(&app, post_form(&review, cookie, &fields)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{why}");
        assert!(reply.text().contains("reload the page"), "{why}");
    }
    assert!(callscore_store::Store::open(&db.db)
        .unwrap()
        .reviews_for_call(RUDE_ID)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn forms_from_another_origin_are_refused_even_with_the_token() {
    let db = build();
    let app = app(&db, None);
    let call = format!("/calls/{RUDE_ID}");
    let (cookie, csrf) = session(&app, &call).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("action", "listened"),
        ("reviewer", "Mallory"),
    ];
    let cross = with(
        post_form(&format!("{call}/review"), &cookie, &fields),
        header::ORIGIN,
        "http://evil.example",
    );
    assert_eq!(send(&app, cross).await.status, StatusCode::FORBIDDEN);
    let fetch_site = with(
        post_form(&format!("{call}/review"), &cookie, &fields),
        "sec-fetch-site".parse().unwrap(),
        "cross-site",
    );
    assert_eq!(send(&app, fetch_site).await.status, StatusCode::FORBIDDEN);
    let null_origin = with(
        post_form(&format!("{call}/review"), &cookie, &fields),
        header::ORIGIN,
        "null",
    );
    assert_eq!(send(&app, null_origin).await.status, StatusCode::FORBIDDEN);
    // The same form from this origin goes through.
    assert_eq!(
        send(&app, post_form(&format!("{call}/review"), &cookie, &fields))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn without_a_token_only_loopback_host_names_are_answered() {
    let db = build();
    let app = app(&db, None);
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "localhost",
    ] {
        let req = Request::get("/")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, req).await.status, StatusCode::OK, "{host}");
    }
    // A DNS-rebinding page reaches 127.0.0.1 under its own host name.
    for host in [
        "evil.example:8080",
        "192.168.1.20:8080",
        "localhost.evil.example",
    ] {
        let req = Request::get(format!("/calls/{RUDE_ID}/audio"))
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        let reply = send(&app, req).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{host}");
        assert!(reply.text().contains("--token"), "{host}");
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let db = build();
    let app = app(&db, None);
    for uri in ["/", &format!("/calls/{RUDE_ID}"), "/nothing"] {
        let reply = fetch(&app, uri).await;
        let csp = reply.header(header::CONTENT_SECURITY_POLICY).unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{uri}"
        );
        assert_eq!(
            reply.header(header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff")
        );
        assert_eq!(reply.header(header::X_FRAME_OPTIONS), Some("DENY"));
        assert_eq!(
            reply.header(header::CACHE_CONTROL),
            Some("no-store"),
            "{uri}: pages hold personal data"
        );
        let session = reply
            .headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Strict"),
            "{session}"
        );
    }
}

#[test]
fn a_public_address_needs_a_token() {
    let db = build();
    let config = callscore_web::ServeConfig {
        db: db.db.clone(),
        token: None,
    };
    let err = callscore_web::Server::bind(config, "0.0.0.0:0".parse().unwrap())
        .err()
        .unwrap();
    assert!(err.to_string().contains("--token"), "{err}");
}

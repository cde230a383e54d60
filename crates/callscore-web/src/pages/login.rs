//! The login form shown when a token guards the server.

use super::asset;
use crate::security::Session;
use maud::{html, Markup, DOCTYPE};

pub(crate) fn page(session: &Session, next: &str, problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Log in · callscore" }
                link rel="stylesheet" href=(asset("style.css"));
            }
            body {
                header.top { a.brand href="/" { "callscore" } }
                main.narrow {
                    h1 { "Log in" }
                    p { "This server holds call recordings. Enter the access token it was started with." }
                    @if let Some(problem) = problem { p.error role="alert" { (problem) } }
                    form.card method="post" action="/login" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="next" value=(next);
                        label { "Access token" input type="password" name="token" autocomplete="current-password" required autofocus; }
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

//! `callscore search QUERY`: words and phrases across every stored transcript, newest call
//! first, each hit with the call, the speaker, the moment and where to listen from.
use super::report::{csv_string, emit, to_json, DbArgs};
use super::score::OutputFormat;
use anyhow::Context;
use callscore_core::{fmt_ms, Speaker};
use callscore_store::{ReportFilter, SearchHit, SearchQuery};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::process::ExitCode;

/// Searches the stored transcripts (the database's full-text index). QUERY is words (all must
/// be in one segment), "a quoted phrase", `refund NEAR/5 manager`, `OR`, `NOT`, `prefix*`.
#[derive(Args)]
pub struct SearchArgs {
    /// What to look for.
    #[arg(value_name = "QUERY", required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// Only what this party said.
    #[arg(long, value_enum)]
    pub speaker: Option<SpeakerArg>,
    /// Only this agent's calls (case does not matter).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Only calls from this date (YYYY-MM-DD, UTC) or time (RFC 3339) on.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only calls up to and including this date or time.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// At most this many hits.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SpeakerArg {
    Agent,
    Caller,
}

/// A hit as printed: the store's, plus where the review pages play it from.
#[derive(Serialize)]
struct Hit<'a> {
    #[serde(flatten)]
    hit: &'a SearchHit,
    /// The review page's address for this moment (`callscore serve`), relative to the server.
    listen: String,
}

#[derive(Serialize)]
struct HitsJson<'a> {
    query: &'a str,
    engine_query: &'a str,
    hits: Vec<Hit<'a>>,
    /// More hits than `--limit` matched.
    more: bool,
}

fn listen(hit: &SearchHit) -> String {
    format!("/calls/{}?t={}", hit.call_id, hit.start_ms)
}

fn speaker(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "agent",
        Speaker::Caller => "caller",
        Speaker::Unknown => "unknown speaker",
    }
}

pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open()?;
    let text = args.query.join(" ");
    let results = store
        .search(&SearchQuery {
            text: text.clone(),
            speaker: args.speaker.map(|s| match s {
                SpeakerArg::Agent => Speaker::Agent,
                SpeakerArg::Caller => Speaker::Caller,
            }),
            filter: ReportFilter {
                from: args.from.clone(),
                to: args.to.clone(),
                agent: args.agent.clone(),
                ..Default::default()
            },
            limit: args.limit,
        })
        .with_context(|| format!("cannot search {}", args.db.shown()))?;
    let out = match args.format {
        OutputFormat::Json => to_json(&HitsJson {
            query: &text,
            engine_query: &results.engine_query,
            hits: results
                .hits
                .iter()
                .map(|hit| Hit {
                    hit,
                    listen: listen(hit),
                })
                .collect(),
            more: results.more,
        })?,
        OutputFormat::Csv => csv_string(|w| {
            w.write_record([
                "call_id",
                "file_name",
                "agent",
                "call_time",
                "speaker",
                "start_ms",
                "end_ms",
                "marked",
                "listen",
            ])?;
            for h in &results.hits {
                w.write_record([
                    h.call_id.clone(),
                    h.file_name.clone(),
                    h.agent.clone().unwrap_or_default(),
                    h.call_time.clone(),
                    speaker(h.speaker).to_string(),
                    h.start_ms.to_string(),
                    h.end_ms.to_string(),
                    h.marked.clone(),
                    listen(h),
                ])?;
            }
            Ok(())
        })?,
        OutputFormat::Table => {
            let mut out = String::new();
            if results.hits.is_empty() {
                out.push_str(&format!("No stored transcript matches {text:?}.\n"));
            }
            for h in &results.hits {
                out.push_str(&format!(
                    "{} · {} · {} at {}{}\n  {}\n  listen: {}\n\n",
                    h.file_name,
                    h.call_time.replace('T', " ").replace('Z', " UTC"),
                    speaker(h.speaker),
                    fmt_ms(h.start_ms),
                    h.agent
                        .as_deref()
                        .map(|a| format!(" (agent {a})"))
                        .unwrap_or_default(),
                    h.marked.trim(),
                    listen(h),
                ));
            }
            if results.more {
                out.push_str(&format!(
                    "Showing the newest {} hits; more match (--limit N shows more).\n",
                    results.hits.len()
                ));
            }
            out
        }
    };
    emit(&out)
}

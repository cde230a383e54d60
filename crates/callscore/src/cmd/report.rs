//! `callscore report`, `callscore flagged` and `callscore show`: what the database says, as
//! aligned tables (readable in 80 columns), stable JSON, or CSV. Data to stdout only.

use super::score::OutputFormat;
use anyhow::Context;
use callscore_core::{fmt_ms, Outcome, Speaker};
use callscore_store::{
    CallDetail, CallRow, Db, DbLocation, GroupBy, GroupRow, Report, ReportFilter,
};
use clap::{Args, ValueEnum};
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// The database to read.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Database written by `callscore score`: a SQLite file, or a postgres:// URL.
    #[arg(long, default_value = "callscore.db", env = "CALLSCORE_DB")]
    pub db: PathBuf,
}

impl DbArgs {
    /// Opens an existing database (a typo in --db must not create an empty one).
    pub fn open(&self) -> anyhow::Result<Db> {
        Db::open_existing(&self.db)
            .with_context(|| format!("cannot read the database {}", self.shown()))
    }

    /// The database as messages name it (a URL without its password).
    pub fn shown(&self) -> String {
        DbLocation::of(&self.db).shown()
    }
}

/// Which calls to include.
#[derive(Args, Clone, Debug, Default)]
pub struct FilterArgs {
    /// Only calls from this date (YYYY-MM-DD, UTC) or time (RFC 3339) on.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only calls up to and including this date or time.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this agent's calls (case does not matter).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Scorecards of this rubric id (default: the rubric most recently scored with).
    #[arg(long, value_name = "ID")]
    pub rubric: Option<String>,
}

impl FilterArgs {
    fn to_filter(&self, flagged_only: bool) -> ReportFilter {
        ReportFilter {
            from: self.from.clone(),
            to: self.to.clone(),
            agent: self.agent.clone(),
            rubric_id: self.rubric.clone(),
            flagged_only,
        }
    }
}

/// Which table CSV output holds (a CSV file holds one table).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum CsvTable {
    #[default]
    Calls,
    Agents,
    Criteria,
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Only flagged calls.
    #[arg(long)]
    pub flagged: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// With --format csv: which table to write.
    #[arg(long, value_enum, default_value_t = CsvTable::Calls)]
    pub table: CsvTable,
    /// Instead of the report: the criteria where reviewers overrode the machine, most
    /// overridden first (rubric calibration).
    #[arg(long)]
    pub disagreements: bool,
    /// With --disagreements: leave out criteria reviewed on fewer calls than this.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_reviewed: u64,
    /// Instead of the report: calls grouped by the hour or weekday they started (UTC), or by
    /// mystery-shop scenario: where service drops.
    #[arg(
        long,
        value_enum,
        value_name = "GROUP",
        conflicts_with = "disagreements"
    )]
    pub by: Option<ReportGroup>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ReportGroup {
    Hour,
    Weekday,
    Scenario,
}

impl From<ReportGroup> for GroupBy {
    fn from(g: ReportGroup) -> GroupBy {
        match g {
            ReportGroup::Hour => GroupBy::Hour,
            ReportGroup::Weekday => GroupBy::Weekday,
            ReportGroup::Scenario => GroupBy::Scenario,
        }
    }
}

#[derive(Args)]
pub struct FlaggedArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many calls (the worst ones).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The call: its id, a unique prefix of the id, or the recording's file name or stem.
    pub call: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Show the scorecard of this rubric id (default: the one most recently scored with).
    #[arg(long, value_name = "ID")]
    pub rubric: Option<String>,
    /// Output format (csv: one row per criterion).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

pub fn run_report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open()?;
    if args.disagreements {
        return run_disagreements(&store, &args);
    }
    if let Some(by) = args.by {
        return run_grouped(&store, &args, by);
    }
    let report = store
        .report(&args.filter.to_filter(args.flagged))
        .with_context(|| format!("cannot build the report from {}", args.db.shown()))?;
    // Machine vs reviewed score, for the calls a reviewer overrode; shown only when there are any
    // so a database nobody reviewed reads as before.
    let reviewed = store
        .reviewed_scores(report.rubric_id.as_deref())
        .with_context(|| format!("cannot read reviews from {}", args.db.shown()))?;
    let reviewed: Vec<ReviewedCall<'_>> = report
        .calls
        .iter()
        .filter_map(|c| {
            reviewed.get(&c.scorecard_id).map(|r| ReviewedCall {
                file: &c.file_name,
                call_id: &c.call_id,
                machine_score: r.machine_score,
                reviewed_score: r.reviewed_score,
                changed_criteria: r.changed_criteria,
                critical_failure: r.critical_failure,
            })
        })
        .collect();
    let out = match args.format {
        OutputFormat::Table => {
            let mut out = render_report_table(&report, table_width());
            append_reviewed(&mut out, &reviewed, table_width());
            out
        }
        OutputFormat::Json => to_json(&ReportJson {
            report: &report,
            reviewed: &reviewed,
        })?,
        OutputFormat::Csv => match args.table {
            CsvTable::Calls => calls_csv(&report.calls)?,
            CsvTable::Agents => agents_csv(&report)?,
            CsvTable::Criteria => criteria_csv(&report)?,
        },
    };
    emit(&out)
}

/// `report --by hour|weekday|scenario`.
fn run_grouped(store: &Db, args: &ReportArgs, by: ReportGroup) -> anyhow::Result<ExitCode> {
    let filter = args.filter.to_filter(args.flagged);
    let rows = store
        .report_by(&filter, by.into())
        .with_context(|| format!("cannot build the report from {}", args.db.shown()))?;
    let rubric = match filter.rubric_id.clone() {
        Some(id) => Some(id),
        None => store.latest_rubric_id()?,
    };
    let out = match args.format {
        OutputFormat::Table => render_grouped(&rows, by, rubric.as_deref(), table_width()),
        OutputFormat::Json => to_json(&GroupedJson {
            by: by.into(),
            rubric_id: rubric.clone(),
            groups: &rows,
        })?,
        OutputFormat::Csv => grouped_csv(&rows, by)?,
    };
    emit(&out)
}

#[derive(serde::Serialize)]
struct GroupedJson<'a> {
    by: GroupBy,
    rubric_id: Option<String>,
    groups: &'a [GroupRow],
}

fn group_heading(by: ReportGroup) -> &'static str {
    match by {
        ReportGroup::Hour => "hour (UTC)",
        ReportGroup::Weekday => "weekday (UTC)",
        ReportGroup::Scenario => "scenario",
    }
}

fn render_grouped(
    rows: &[GroupRow],
    by: ReportGroup,
    rubric: Option<&str>,
    width: Option<u16>,
) -> String {
    if rows.is_empty() {
        return match (by, rubric) {
            (_, None) => {
                "No scored calls in this database yet. Score some with: callscore score PATH…\n"
                    .into()
            }
            (ReportGroup::Scenario, Some(_)) => {
                "No mystery-shop calls match. Place some with: callscore shop SCRIPT.toml --to URI\n"
                    .into()
            }
            _ => "No scored calls match.\n".into(),
        };
    }
    let ring = rows.iter().any(|r| r.average_ring_ms.is_some());
    let mut header = vec![
        group_heading(by),
        "calls",
        "avg score",
        "pass rate",
        "flagged",
    ];
    if ring {
        header.push("avg answer");
    }
    let mut t = new_table(&header, width);
    for r in rows {
        let mut row = vec![
            r.group.clone(),
            r.calls.to_string(),
            format!("{:.1}", r.average_score),
            pct(r.pass_rate),
            r.flagged.to_string(),
        ];
        if ring {
            row.push(
                r.average_ring_ms
                    .map(|ms| format!("{:.1} s", ms / 1000.0))
                    .unwrap_or_else(|| "-".into()),
            );
        }
        t.add_row(row);
    }
    right_align(&mut t, &[1, 2, 3, 4, 5]);
    let mut out = format!(
        "Calls by {}, rubric {}\n\n",
        group_heading(by),
        rubric.unwrap_or("-")
    );
    out.push_str(&finish(&t));
    out
}

fn grouped_csv(rows: &[GroupRow], by: ReportGroup) -> anyhow::Result<String> {
    csv_string(|w| {
        w.write_record([
            match by {
                ReportGroup::Hour => "hour_utc",
                ReportGroup::Weekday => "weekday_utc",
                ReportGroup::Scenario => "scenario",
            },
            "calls",
            "average_score",
            "passed",
            "pass_rate",
            "flagged",
            "average_ring_ms",
        ])?;
        for r in rows {
            w.write_record([
                r.group.clone(),
                r.calls.to_string(),
                format!("{:.2}", r.average_score),
                r.passed.to_string(),
                format!("{:.4}", r.pass_rate),
                r.flagged.to_string(),
                r.average_ring_ms
                    .map(|ms| format!("{ms:.0}"))
                    .unwrap_or_default(),
            ])?;
        }
        Ok(())
    })
}

pub fn run_flagged(args: FlaggedArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open()?;
    let calls = store
        .flagged(&args.filter.to_filter(true), args.limit)
        .with_context(|| format!("cannot list flagged calls from {}", args.db.shown()))?;
    let out = match args.format {
        OutputFormat::Table => render_flagged_table(&calls, table_width()),
        OutputFormat::Json => to_json(
            &FlaggedJson {
                calls: calls.iter().map(FlaggedEntry::from).collect(),
            }
            .ranked(),
        )?,
        OutputFormat::Csv => flagged_csv(&calls)?,
    };
    emit(&out)
}

pub fn run_show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open()?;
    let id = store.find_call(&args.call)?;
    let detail = store
        .call_detail(&id, args.rubric.as_deref())
        .with_context(|| format!("cannot read call {id} from {}", args.db.shown()))?;
    let out = match args.format {
        OutputFormat::Table => render_show(&detail, table_width()),
        OutputFormat::Json => to_json(&detail)?,
        OutputFormat::Csv => show_csv(&detail)?,
    };
    emit(&out)
}

/// Writes to stdout, with control characters in names and text from outside made visible (JSON
/// has none left raw); a closed pipe (`| head`) is a normal end, not an error.
pub(super) fn emit(text: &str) -> anyhow::Result<ExitCode> {
    crate::out::text(text)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
    s.push('\n');
    Ok(s)
}

/// The width tables wrap to: the terminal's on a terminal, otherwise 80 columns so piped and
/// logged output is the same everywhere.
fn table_width() -> Option<u16> {
    if std::io::stdout().is_terminal() {
        None
    } else {
        Some(80)
    }
}

/// Wraps a table to `width` (piped output), or to the terminal's width, 80 when unknown.
fn fit_width(t: &mut Table, width: Option<u16>) {
    match width {
        Some(w) => {
            t.force_no_tty().set_width(w);
        }
        None => {
            if t.width().is_none() {
                t.set_width(80);
            }
        }
    }
}

/// A borderless table with a dashed header underline and two spaces between columns.
fn new_table(header: &[&str], width: Option<u16>) -> Table {
    let mut t = Table::new();
    // Only the header line (position 5 of comfy-table's preset string) is drawn.
    t.load_preset("     -             ");
    t.set_content_arrangement(ContentArrangement::Dynamic);
    fit_width(&mut t, width);
    t.set_header(header.to_vec());
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
    }
    t
}

fn right_align(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn finish(t: &Table) -> String {
    let mut s = t
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    s.push('\n');
    s
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn pct(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn duration(ms: Option<u64>) -> String {
    ms.map(fmt_ms).unwrap_or_else(|| "-".into())
}

fn stem(file_name: &str) -> &str {
    std::path::Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file_name)
}

fn agent_name(agent: &Option<String>) -> &str {
    agent.as_deref().unwrap_or("-")
}

fn render_report_table(r: &Report, width: Option<u16>) -> String {
    let mut out = String::new();
    let Some(rubric) = &r.rubric_id else {
        out.push_str(
            "No scored calls in this database yet. Score some with: callscore score PATH…\n",
        );
        append_failed(&mut out, r, width);
        return out;
    };
    let versions: std::collections::BTreeSet<u32> =
        r.calls.iter().map(|c| c.rubric_version).collect();
    let versions = versions
        .iter()
        .map(|v| format!("v{v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let audio: u64 = r.calls.iter().filter_map(|c| c.duration_ms).sum();
    let passed = r.calls.iter().filter(|c| c.passed).count();
    let flagged = r.calls.iter().filter(|c| c.flagged).count();
    out.push_str(&format!(
        "Rubric {rubric}{}: {} calls, {} of audio, {} passed, {} flagged\n",
        if versions.is_empty() {
            String::new()
        } else {
            format!(" {versions}")
        },
        r.calls.len(),
        fmt_ms(audio),
        passed,
        flagged,
    ));
    if !r.other_rubric_ids.is_empty() {
        out.push_str(&format!(
            "(also scored with: {}; choose with --rubric)\n",
            r.other_rubric_ids.join(", ")
        ));
    }
    if r.calls.is_empty() {
        out.push_str("\nNo calls match these filters.\n");
        append_failed(&mut out, r, width);
        return out;
    }

    out.push('\n');
    let mut t = new_table(
        &[
            "CALL",
            "AGENT",
            "LENGTH",
            "SCORE",
            "PASS",
            "FLAG",
            "FAILED CRITERIA",
        ],
        width,
    );
    for c in &r.calls {
        t.add_row(vec![
            stem(&c.file_name).to_string(),
            agent_name(&c.agent).to_string(),
            duration(c.duration_ms),
            format!("{:.1}", c.score),
            yes(c.passed).to_string(),
            if c.flagged {
                "FLAG".into()
            } else {
                String::new()
            },
            failed_list(c),
        ]);
    }
    right_align(&mut t, &[2, 3]);
    if let Some(col) = t.column_mut(0) {
        col.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(24)));
    }
    out.push_str(&finish(&t));

    out.push_str("\nBy agent\n");
    let mut t = new_table(
        &[
            "AGENT",
            "CALLS",
            "AVG SCORE",
            "PASS RATE",
            "FLAGGED",
            "AUDIO",
        ],
        width,
    );
    for a in &r.agents {
        t.add_row(vec![
            agent_name(&a.agent).to_string(),
            a.calls.to_string(),
            format!("{:.1}", a.average_score),
            pct(a.pass_rate),
            a.flagged.to_string(),
            fmt_ms(a.audio_ms),
        ]);
    }
    right_align(&mut t, &[1, 2, 3, 4, 5]);
    out.push_str(&finish(&t));

    out.push_str("\nBy criterion\n");
    let mut t = new_table(
        &["CRITERION", "SECTION", "PASS", "FAIL", "N/A", "PASS RATE"],
        width,
    );
    for c in &r.criteria {
        t.add_row(vec![
            if c.critical {
                format!("{} (critical)", c.criterion_id)
            } else {
                c.criterion_id.clone()
            },
            c.section.clone(),
            c.pass.to_string(),
            c.fail.to_string(),
            c.na.to_string(),
            c.pass_rate.map(pct).unwrap_or_else(|| "-".into()),
        ]);
    }
    right_align(&mut t, &[2, 3, 4, 5]);
    out.push_str(&finish(&t));
    append_failed(&mut out, r, width);
    out
}

/// The report's JSON: the report's own fields, then `reviewed` when any call has overrides.
#[derive(Serialize)]
struct ReportJson<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    reviewed: &'a [ReviewedCall<'a>],
}

/// One call's machine score beside the score with the reviewers' overrides applied.
#[derive(Serialize)]
struct ReviewedCall<'a> {
    file: &'a str,
    call_id: &'a str,
    machine_score: f64,
    reviewed_score: f64,
    changed_criteria: u32,
    critical_failure: bool,
}

fn append_reviewed(out: &mut String, reviewed: &[ReviewedCall<'_>], width: Option<u16>) {
    if reviewed.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\nMachine vs reviewed score ({} call(s) with reviewer verdicts)\n",
        reviewed.len()
    ));
    let mut t = new_table(
        &["FILE", "MACHINE", "REVIEWED", "CHANGED", "CRITICAL"],
        width,
    );
    for r in reviewed {
        t.add_row(vec![
            r.file.to_string(),
            format!("{:.1}", r.machine_score),
            format!("{:.1}", r.reviewed_score),
            r.changed_criteria.to_string(),
            if r.critical_failure { "fail" } else { "" }.to_string(),
        ]);
    }
    out.push_str(&finish(&t));
}

/// `callscore report --disagreements`: where reviewers overrode the machine, per criterion.
fn run_disagreements(store: &Db, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let rows = store
        .disagreements(&callscore_store::browse::DisagreementFilter {
            rubric_id: args.filter.rubric.clone(),
            min_reviewed: args.min_reviewed,
        })
        .with_context(|| format!("cannot read reviews from {}", args.db.shown()))?;
    let out = match args.format {
        OutputFormat::Json => to_json(&rows)?,
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "rubric_id",
                "rubric_version",
                "criterion_id",
                "reviewed",
                "overridden",
                "machine_fail_reviewer_pass",
                "machine_pass_reviewer_fail",
            ])?;
            for d in &rows {
                w.write_record([
                    d.rubric_id.clone(),
                    d.rubric_version.to_string(),
                    d.criterion_id.clone(),
                    d.reviewed.to_string(),
                    d.overridden.to_string(),
                    d.machine_fail_reviewer_pass.to_string(),
                    d.machine_pass_reviewer_fail.to_string(),
                ])?;
            }
            String::from_utf8(w.into_inner().context("cannot write CSV")?)?
        }
        OutputFormat::Table => {
            if rows.is_empty() {
                "No reviewer has overridden a verdict yet (overrides are made on the review pages: callscore serve).\n".to_string()
            } else {
                let mut t = new_table(
                    &[
                        "RUBRIC",
                        "CRITERION",
                        "REVIEWED",
                        "OVERRIDDEN",
                        "TOO STRICT",
                        "MISSED",
                    ],
                    table_width(),
                );
                for d in &rows {
                    let rate = if d.reviewed > 0 {
                        d.overridden as f64 * 100.0 / d.reviewed as f64
                    } else {
                        0.0
                    };
                    t.add_row(vec![
                        format!("{} v{}", d.rubric_id, d.rubric_version),
                        d.criterion_id.clone(),
                        d.reviewed.to_string(),
                        format!("{} ({rate:.0}%)", d.overridden),
                        d.machine_fail_reviewer_pass.to_string(),
                        d.machine_pass_reviewer_fail.to_string(),
                    ]);
                }
                let mut out = "Criteria where reviewers overrode the machine (too strict: machine fail, reviewer pass; missed: the reverse)\n".to_string();
                out.push_str(&finish(&t));
                out
            }
        }
    };
    emit(&out)
}

fn append_failed(out: &mut String, r: &Report, width: Option<u16>) {
    if r.failed.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\nNot scored: {} recording(s) failed (callscore score retries them)\n",
        r.failed.len()
    ));
    let mut t = new_table(&["FILE", "ERROR"], width);
    for f in &r.failed {
        t.add_row(vec![f.file_name.clone(), f.error.clone()]);
    }
    out.push_str(&finish(&t));
}

fn failed_list(c: &CallRow) -> String {
    c.failed_criteria
        .iter()
        .map(|id| {
            if c.critical_failures.contains(id) {
                format!("{id}!")
            } else {
                id.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a call needs a listen, in one line.
fn flag_reason(c: &CallRow) -> String {
    if !c.flag_reasons.is_empty() {
        return c.flag_reasons.join("; ");
    }
    let mut parts = Vec::new();
    if !c.critical_failures.is_empty() {
        parts.push(format!("critical: {}", c.critical_failures.join(", ")));
    }
    let others: Vec<_> = c
        .failed_criteria
        .iter()
        .filter(|id| !c.critical_failures.contains(id))
        .cloned()
        .collect();
    if !others.is_empty() {
        parts.push(format!("failed: {}", others.join(", ")));
    }
    if parts.is_empty() {
        parts.push(format!("score {:.1}", c.score));
    }
    parts.join("; ")
}

fn render_flagged_table(calls: &[CallRow], width: Option<u16>) -> String {
    if calls.is_empty() {
        return "No flagged calls.\n".into();
    }
    let mut out = format!("{} flagged call(s), worst first\n\n", calls.len());
    let mut t = new_table(&["#", "CALL", "AGENT", "SCORE", "AT", "WHY"], width);
    for (i, c) in calls.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            stem(&c.file_name).to_string(),
            agent_name(&c.agent).to_string(),
            format!("{:.1}", c.score),
            c.first_failed_ms.map(fmt_ms).unwrap_or_else(|| "-".into()),
            flag_reason(c),
        ]);
    }
    right_align(&mut t, &[0, 3, 4]);
    if let Some(col) = t.column_mut(1) {
        col.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(24)));
    }
    out.push_str(&finish(&t));
    out.push_str("\nAT: the first failed moment. Listen with: callscore show CALL\n");
    out
}

#[derive(Serialize)]
struct FlaggedJson<'a> {
    calls: Vec<FlaggedEntry<'a>>,
}

#[derive(Serialize)]
struct FlaggedEntry<'a> {
    rank: usize,
    reason: String,
    first_failed_at: Option<String>,
    #[serde(flatten)]
    call: &'a CallRow,
}

impl<'a> From<&'a CallRow> for FlaggedEntry<'a> {
    fn from(c: &'a CallRow) -> Self {
        FlaggedEntry {
            rank: 0,
            reason: flag_reason(c),
            first_failed_at: c.first_failed_ms.map(fmt_ms),
            call: c,
        }
    }
}

impl FlaggedJson<'_> {
    fn ranked(mut self) -> Self {
        for (i, e) in self.calls.iter_mut().enumerate() {
            e.rank = i + 1;
        }
        self
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::NotApplicable => "N/A",
    }
}

fn points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

fn render_show(d: &CallDetail, width: Option<u16>) -> String {
    let c = &d.call;
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("{label:<10}{value}\n"));
    line("Call", c.file_name.clone());
    line("Id", c.id.clone());
    line("Path", c.source_path.clone());
    let mut who = vec![format!("agent {}", agent_name(&c.agent))];
    if let Some(name) = &c.meta.caller_name {
        who.push(format!("caller {name}"));
    }
    if let Some(dir) = c.meta.direction {
        who.push(format!("{dir:?}").to_lowercase());
    }
    if let Some(at) = &c.started_at {
        who.push(at.replace('T', " ").replace('Z', " UTC"));
    }
    line("Who", who.join(", "));
    let mut audio = vec![duration(c.duration_ms)];
    if let Some(ch) = c.channels {
        audio.push(if ch == 1 {
            "mono".into()
        } else {
            format!("{ch} channels")
        });
    }
    if let Some(sr) = c.sample_rate {
        audio.push(format!("{sr} Hz"));
    }
    if let Some(f) = &c.format {
        audio.push(f.clone());
    }
    line("Audio", audio.join(", "));
    if let Some(language) = d.transcript.as_ref().and_then(|t| t.language.as_deref()) {
        line("Language", language.to_string());
    }
    if let Some(t) = d.transcript.as_ref().filter(|t| t.diarized) {
        let mut speakers = "separated from a mono recording (speaker diarization)".to_string();
        for note in &t.speaker_notes {
            speakers.push_str("; ");
            speakers.push_str(note);
        }
        line("Speakers", speakers);
    }
    if let Some(scenario) = &c.meta.scenario {
        let mut shop = vec![format!("scenario {scenario}")];
        if let Some(to) = &c.meta.to {
            shop.push(format!("called {to}"));
        }
        if let Some(ring) = c.meta.ring_ms {
            shop.push(format!("answered after {:.1} s", ring as f64 / 1000.0));
        }
        if let Some(outcome) = &c.meta.outcome {
            shop.push(outcome.replace('_', " "));
        }
        line("Shop", shop.join(", "));
    }
    line(
        "Status",
        match &c.error {
            Some(e) if c.status == "failed" => format!("failed: {e}"),
            _ => c.status.clone(),
        },
    );
    for warning in &c.warnings {
        line("Warning", warning.clone());
    }

    let Some(sc) = &d.scorecard else {
        out.push_str("\nNo scorecard for this call yet.\n");
        append_transcript(&mut out, d, width);
        return out;
    };
    let s = &sc.scorecard;
    out.push_str(&format!(
        "{:<10}{} v{} (sha256 {})\n",
        "Rubric",
        s.rubric_id,
        s.rubric_version,
        &s.rubric_hash[..s.rubric_hash.len().min(12)],
    ));
    out.push_str(&format!(
        "{:<10}{}\n",
        "Scored",
        sc.scored_at.replace('T', " ").replace('Z', " UTC")
    ));
    let verdict = if !s.judged {
        "CANNOT BE JUDGED"
    } else if s.passed {
        "PASSED"
    } else {
        "FAILED"
    };
    let flag = if s.flagged {
        ", FLAGGED for review"
    } else {
        ""
    };
    out.push_str(&format!(
        "{:<10}{:.1} of 100, {verdict}{flag}\n",
        "Score", s.score
    ));
    for reason in &s.flag_reasons {
        out.push_str(&indented(reason, 10, width));
    }
    let earlier: Vec<_> = d.history.iter().filter(|h| h.id != sc.id).collect();
    if !earlier.is_empty() {
        out.push_str("Also scored with\n");
        for h in earlier {
            let line = format!(
                "{} v{} (sha256 {}): {:.1}{}{}, {}",
                h.rubric_id,
                h.rubric_version,
                &h.rubric_hash[..h.rubric_hash.len().min(12)],
                h.score,
                if h.passed { " passed" } else { " failed" },
                if h.is_current { "" } else { " (superseded)" },
                h.scored_at.replace('T', " ").replace('Z', " UTC"),
            );
            out.push_str(&indented(&line, 10, width));
        }
    }

    out.push_str("\nScorecard\n");
    let mut t = new_table(&["CRITERION", "RESULT", "POINTS", "WHY AND WHERE"], width);
    for r in &s.results {
        let mut why = r.reason.trim().to_string();
        for e in &r.evidence {
            if !why.is_empty() {
                why.push('\n');
            }
            why.push_str(&format!(
                "{} {}: \"{}\"",
                fmt_ms(e.start_ms),
                e.speaker,
                e.quote.trim()
            ));
        }
        let name = if r.critical {
            format!("{} (critical)", r.criterion_id)
        } else {
            r.criterion_id.clone()
        };
        let pts = if r.outcome == Outcome::NotApplicable {
            format!("-/{}", points(r.max_points))
        } else {
            format!("{}/{}", points(r.points), points(r.max_points))
        };
        t.add_row(vec![name, outcome_word(r.outcome).to_string(), pts, why]);
    }
    right_align(&mut t, &[2]);
    out.push_str(&finish(&t));
    if !d.reviews.is_empty() {
        out.push_str("\nReviews\n");
        for r in &d.reviews {
            let what = match (&r.criterion_id, r.override_outcome) {
                (Some(cid), Some(o)) => format!("{cid} -> {}", outcome_word(o)),
                (Some(cid), None) => cid.clone(),
                (None, _) => {
                    if r.listened {
                        "listened".into()
                    } else {
                        "note".into()
                    }
                }
            };
            out.push_str(&format!(
                "  {} {}: {what}{}\n",
                r.created_at,
                r.reviewer,
                if r.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.note)
                }
            ));
        }
    }
    append_transcript(&mut out, d, width);
    out
}

/// `text` wrapped to the table width, every line indented by `indent` spaces.
fn indented(text: &str, indent: u16, width: Option<u16>) -> String {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    fit_width(&mut t, width);
    t.add_row(vec![text.to_string()]);
    for c in t.column_iter_mut() {
        c.set_padding((indent, 0));
    }
    finish(&t)
}

fn append_transcript(out: &mut String, d: &CallDetail, width: Option<u16>) {
    let Some(t) = &d.transcript else {
        out.push_str("\nNo transcript stored.\n");
        return;
    };
    out.push_str(&format!(
        "\nTranscript ({})\n",
        if t.model.is_empty() {
            "model unknown"
        } else {
            &t.model
        }
    ));
    if t.segments.is_empty() {
        out.push_str("(no speech)\n");
        return;
    }
    let mut table = new_table(&["TIME", "SPEAKER", "TEXT"], width);
    for s in &t.segments {
        let speaker = match s.speaker {
            Speaker::Unknown => "?".to_string(),
            other => other.to_string(),
        };
        table.add_row(vec![fmt_ms(s.start_ms), speaker, s.text.trim().to_string()]);
    }
    right_align(&mut table, &[0]);
    out.push_str(&finish(&table));
}

pub(super) fn csv_string(
    build: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>,
) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    build(&mut w).context("cannot write CSV")?;
    let bytes = w.into_inner().context("cannot write CSV")?;
    String::from_utf8(bytes).context("CSV is not UTF-8")
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

const CALL_CSV_HEADER: [&str; 17] = [
    "call_id",
    "file_name",
    "source_path",
    "agent",
    "started_at",
    "duration_ms",
    "rubric_id",
    "rubric_version",
    "score",
    "passed",
    "flagged",
    "failed_criteria",
    "critical_failures",
    "first_failed_ms",
    "first_failed_at",
    "flag_reasons",
    "scored_at",
];

fn call_csv_record(c: &CallRow) -> Vec<String> {
    vec![
        c.call_id.clone(),
        c.file_name.clone(),
        c.source_path.clone(),
        opt(&c.agent),
        opt(&c.started_at),
        opt(&c.duration_ms),
        c.rubric_id.clone(),
        c.rubric_version.to_string(),
        format!("{:.2}", c.score),
        c.passed.to_string(),
        c.flagged.to_string(),
        c.failed_criteria.join(" "),
        c.critical_failures.join(" "),
        opt(&c.first_failed_ms),
        c.first_failed_ms.map(fmt_ms).unwrap_or_default(),
        c.flag_reasons.join("; "),
        c.scored_at.clone(),
    ]
}

fn calls_csv(calls: &[CallRow]) -> anyhow::Result<String> {
    csv_string(|w| {
        w.write_record(CALL_CSV_HEADER)?;
        for c in calls {
            w.write_record(call_csv_record(c))?;
        }
        Ok(())
    })
}

fn flagged_csv(calls: &[CallRow]) -> anyhow::Result<String> {
    csv_string(|w| {
        let mut header = vec!["rank", "reason"];
        header.extend(CALL_CSV_HEADER);
        w.write_record(header)?;
        for (i, c) in calls.iter().enumerate() {
            let mut rec = vec![(i + 1).to_string(), flag_reason(c)];
            rec.extend(call_csv_record(c));
            w.write_record(rec)?;
        }
        Ok(())
    })
}

fn agents_csv(r: &Report) -> anyhow::Result<String> {
    csv_string(|w| {
        w.write_record([
            "agent",
            "calls",
            "average_score",
            "passed",
            "pass_rate",
            "flagged",
            "audio_ms",
        ])?;
        for a in &r.agents {
            w.write_record([
                opt(&a.agent),
                a.calls.to_string(),
                format!("{:.2}", a.average_score),
                a.passed.to_string(),
                format!("{:.4}", a.pass_rate),
                a.flagged.to_string(),
                a.audio_ms.to_string(),
            ])?;
        }
        Ok(())
    })
}

fn criteria_csv(r: &Report) -> anyhow::Result<String> {
    csv_string(|w| {
        w.write_record([
            "criterion_id",
            "name",
            "section",
            "critical",
            "pass",
            "fail",
            "na",
            "pass_rate",
        ])?;
        for c in &r.criteria {
            w.write_record([
                c.criterion_id.clone(),
                c.name.clone(),
                c.section.clone(),
                c.critical.to_string(),
                c.pass.to_string(),
                c.fail.to_string(),
                c.na.to_string(),
                c.pass_rate.map(|p| format!("{p:.4}")).unwrap_or_default(),
            ])?;
        }
        Ok(())
    })
}

fn show_csv(d: &CallDetail) -> anyhow::Result<String> {
    csv_string(|w| {
        w.write_record([
            "call_id",
            "file_name",
            "criterion_id",
            "section",
            "outcome",
            "points",
            "max_points",
            "critical",
            "reason",
            "evidence",
        ])?;
        if let Some(sc) = &d.scorecard {
            for r in &sc.scorecard.results {
                let evidence = r
                    .evidence
                    .iter()
                    .map(|e| format!("{} {}: {}", fmt_ms(e.start_ms), e.speaker, e.quote.trim()))
                    .collect::<Vec<_>>()
                    .join(" | ");
                w.write_record([
                    d.call.id.clone(),
                    d.call.file_name.clone(),
                    r.criterion_id.clone(),
                    r.section.clone(),
                    r.outcome.as_str().to_string(),
                    points(r.points),
                    points(r.max_points),
                    r.critical.to_string(),
                    r.reason.clone(),
                    evidence,
                ])?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(failed: &[&str], critical: &[&str]) -> CallRow {
        CallRow {
            call_id: "ab".into(),
            file_name: "x.wav".into(),
            source_path: "/r/x.wav".into(),
            agent: None,
            started_at: None,
            duration_ms: None,
            scorecard_id: 1,
            rubric_id: "r".into(),
            rubric_version: 1,
            score: 42.0,
            passed: false,
            flagged: true,
            flag_reasons: vec![],
            failed_criteria: failed.iter().map(|s| s.to_string()).collect(),
            critical_failures: critical.iter().map(|s| s.to_string()).collect(),
            first_failed_ms: None,
            scored_at: String::new(),
        }
    }

    #[test]
    fn flag_reason_puts_critical_failures_first() {
        assert_eq!(
            flag_reason(&row(&["greeting", "courtesy"], &["courtesy"])),
            "critical: courtesy; failed: greeting"
        );
        assert_eq!(flag_reason(&row(&[], &[])), "score 42.0");
        let mut r = row(&["greeting"], &[]);
        r.flag_reasons = vec!["matched flag phrase".into()];
        assert_eq!(flag_reason(&r), "matched flag phrase");
    }

    #[test]
    fn failed_list_marks_critical_criteria() {
        assert_eq!(
            failed_list(&row(&["greeting", "courtesy"], &["courtesy"])),
            "greeting courtesy!"
        );
    }

    #[test]
    fn tables_fit_in_80_columns() {
        let mut t = new_table(&["A", "B"], Some(80));
        t.add_row(vec!["short".to_string(), "word ".repeat(60)]);
        for line in finish(&t).lines() {
            assert!(
                line.chars().count() <= 80,
                "{line:?} is {} wide",
                line.chars().count()
            );
        }
    }
}

//! `callscore rescore --rubric FILE`: re-evaluates every stored transcript against a rubric,
//! without audio or a model. Scorecards are kept per rubric content hash, so the scorecards of
//! earlier rubric versions stay in the database; the new ones become current for reports.

use super::report::DbArgs;
use crate::out::errln;
use anyhow::Context;
use callscore_rubric::Rubric;
use callscore_store::Recorded;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct RescoreArgs {
    /// Rubric file to score every stored transcript with.
    #[arg(long, default_value = "rubrics/default.toml")]
    pub rubric: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// No per-page progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Transcripts evaluated and committed together: one transaction per page keeps a rescore of
/// 100,000 calls to a few hundred commits, while each call's scorecard is still all-or-nothing.
const PAGE: usize = 500;

pub fn run(args: RescoreArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let rubric = Rubric::from_path(&args.rubric)
        .with_context(|| format!("cannot use rubric {}", args.rubric.display()))?;
    let redactor = callscore_redact::Redactor::new(super::common::redaction_of(&rubric)?);
    let mut redacted = 0usize;
    let mut store = args.db.open()?;
    let db = args.db.shown();
    let (mut new, mut existing, mut passed, mut flagged) = (0usize, 0usize, 0usize, 0usize);
    let mut after: Option<String> = None;
    loop {
        let page = store
            .transcripts_after(after.as_deref(), PAGE)
            .with_context(|| format!("cannot read transcripts from {db}"))?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        // A rubric asking for more redaction classes than the transcripts were stored with
        // redacts them now, and the stored text (and so the muted audio) follows, before any
        // scorecard quotes them.
        let mut page = page;
        for (id, t) in &mut page {
            if !redactor.redact(t).is_empty() {
                store
                    .update_redactions(id, t)
                    .with_context(|| format!("cannot store redactions in {db}"))?;
                redacted += 1;
            }
        }
        let scorecards: Vec<_> = page
            .iter()
            .map(|(id, t)| (id.as_str(), rubric.evaluate(t)))
            .collect();
        passed += scorecards.iter().filter(|(_, s)| s.passed).count();
        flagged += scorecards.iter().filter(|(_, s)| s.flagged).count();
        let refs: Vec<_> = scorecards.iter().map(|(id, s)| (*id, s)).collect();
        for r in store
            .record_scorecards(&refs, None)
            .with_context(|| format!("cannot store scorecards in {db}"))?
        {
            match r {
                Recorded::Stored(_) => new += 1,
                Recorded::AlreadyPresent(_) => existing += 1,
            }
        }
        if !args.quiet {
            errln!("rescored {} calls", new + existing);
        }
    }
    let total = new + existing;
    if total == 0 {
        errln!("No stored transcripts in {db}: score recordings first with `callscore score PATH… --db {db}`.");
        return Ok(ExitCode::SUCCESS);
    }
    errln!(
        "Rescored {total} call(s) with {} v{} (sha256 {}) in {:.1} s: {new} new scorecard(s), {existing} already stored; \
         {passed} passed, {flagged} flagged.",
        rubric.id(),
        rubric.version(),
        &rubric.hash()[..rubric.hash().len().min(12)],
        started.elapsed().as_secs_f64(),
    );
    if redacted > 0 {
        errln!("Redacted more of {redacted} stored transcript(s), as the rubric's [redaction] table asks.");
    }
    let history = store
        .rubrics()
        .with_context(|| format!("cannot list rubrics in {db}"))?;
    let earlier: Vec<_> = history
        .iter()
        .filter(|u| u.rubric_hash != rubric.hash())
        .collect();
    if !earlier.is_empty() {
        errln!("Earlier scorecards are kept:");
        for u in earlier {
            errln!(
                "  {} v{} (sha256 {}): {} scorecard(s), last scored {}",
                u.rubric_id,
                u.rubric_version,
                &u.rubric_hash[..u.rubric_hash.len().min(12)],
                u.scorecards,
                u.last_scored_at
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

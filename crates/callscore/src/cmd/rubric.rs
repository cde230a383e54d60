//! `callscore rubric check|test|detectors`: validate rubrics and run rubric regression cases.
//! The work is in `callscore_rubric` (its `testing` module runs the cases); this only prints.

use crate::out::errln;
use anyhow::Context;
use callscore_rubric::testing::{self, RunOptions};
use callscore_rubric::{Rubric, RubricError, DETECTORS};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RubricCommand {
    /// Validate rubric files; every problem is reported with file:line:column and a hint.
    Check(CheckArgs),
    /// Run rubric regression cases: transcripts with the verdicts a rubric must give them.
    Test(TestArgs),
    /// List the built-in detectors (`check = "…"`) and their parameters.
    Detectors,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Rubric TOML files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Args)]
pub struct TestArgs {
    /// Case files or directories of cases (searched recursively).
    #[arg(value_name = "PATH", default_value = "rubrics/tests")]
    pub paths: Vec<PathBuf>,
    /// Rubric for cases that name none (default: the nearest rubrics/default.toml above each case).
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

pub fn run(c: RubricCommand) -> anyhow::Result<ExitCode> {
    match c {
        RubricCommand::Check(a) => check(a),
        RubricCommand::Test(a) => test(a),
        RubricCommand::Detectors => {
            for d in DETECTORS {
                let params = if d.params.is_empty() {
                    "no parameters".to_string()
                } else {
                    d.params.join(", ")
                };
                crate::out::outln!("{:<18} {} ({params})", d.name, d.summary);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut invalid = 0;
    for file in &a.files {
        match Rubric::from_path(file) {
            Ok(r) => crate::out::outln!(
                "ok      {} ({} v{}, {} criteria)",
                file.display(),
                r.id(),
                r.version(),
                r.criteria().len()
            ),
            Err(RubricError::Read { path, source }) => {
                return Err(source)
                    .with_context(|| format!("cannot read rubric {}", path.display()));
            }
            Err(e) => {
                invalid += 1;
                crate::out::outln!("invalid {}", file.display());
                errln!("{e}\n");
            }
        }
    }
    crate::out::outln!("{} valid, {} invalid", a.files.len() - invalid, invalid);
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    let report = testing::run(
        &a.paths,
        &RunOptions {
            rubric: a.rubric.clone(),
        },
    )?;
    crate::out::text(&report.render())?;
    if let Some(junit) = &a.junit {
        if let Some(dir) = junit.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(junit, report.to_junit_xml())
            .with_context(|| format!("cannot write JUnit XML to {}", junit.display()))?;
        errln!("wrote JUnit XML to {}", junit.display());
    }
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

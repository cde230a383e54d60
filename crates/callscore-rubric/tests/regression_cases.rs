//! The rubric regression cases in rubrics/tests/ run as part of the test suite, so a change to a
//! detector or to rubrics/default.toml that breaks an expected verdict fails `cargo nextest`.

use callscore_rubric::testing::{run, CaseStatus, RunOptions};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_default_rubric_case_holds() {
    let report =
        run(&[repo().join("rubrics/tests")], &RunOptions::default()).expect("cases are found");
    assert!(
        report.cases.len() >= 30,
        "at least 30 cases, found {}",
        report.cases.len()
    );
    assert!(report.success(), "{}", report.render());
    assert!(report.cases.iter().all(|c| c.status == CaseStatus::Passed));
}

#[test]
fn the_default_rubric_has_the_documented_criteria() {
    let rubric = callscore_rubric::Rubric::from_path(&repo().join("rubrics/default.toml")).unwrap();
    let ids: Vec<&str> = rubric.criteria().iter().map(|c| c.id()).collect();
    for required in [
        "greeting",
        "agent_name",
        "caller_name",
        "questions",
        "further_help",
        "courtesy",
        "dead_air",
    ] {
        assert!(
            ids.contains(&required),
            "default rubric lacks `{required}`: {ids:?}"
        );
    }
    let courtesy = rubric
        .criteria()
        .iter()
        .find(|c| c.id() == "courtesy")
        .unwrap();
    assert!(courtesy.critical());
    // Every criterion of the README's rubric is documented there.
    let readme = std::fs::read_to_string(repo().join("rubrics/README.md")).unwrap();
    for id in ids {
        assert!(
            readme.contains(&format!("`{id}`")),
            "rubrics/README.md does not explain `{id}`"
        );
    }
}

#[test]
fn example_rubrics_are_valid() {
    let dir = repo().join("rubrics/examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            callscore_rubric::Rubric::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n > 0, "no example rubrics in {}", dir.display());
}

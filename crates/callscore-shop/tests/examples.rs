//! The documented examples in shops/ are valid: every script reads and renders (espeak-ng and
//! the recorded line), and the programme reads with its scripts.

use callscore_shop::{speech, Plan, ShopScript, Synthesizer};
use std::path::Path;

fn shops() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shops")
}

#[test]
fn every_example_script_reads_and_renders() {
    let mut scripts = 0;
    for entry in std::fs::read_dir(shops()).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") || path.file_name().unwrap() == "PLAN.toml"
        {
            continue;
        }
        let script = ShopScript::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
        let lines = speech::prepare_lines(&script, &Synthesizer::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lines.len(), script.lines.len());
        for (i, line) in lines.iter().enumerate() {
            let seconds = line.samples.len() as f64 / 8000.0;
            assert!(
                (0.8..12.0).contains(&seconds),
                "{}: line {} lasts {seconds} s",
                path.display(),
                i + 1
            );
        }
        scripts += 1;
    }
    assert!(scripts >= 2);
}

#[test]
fn the_example_programme_reads_with_its_scripts() {
    let plan = Plan::from_path(&shops().join("PLAN.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.scenarios.len(), 2);
    assert_eq!(
        plan.schedule().len(),
        (plan.weeks * plan.calls_per_week) as usize
    );
}

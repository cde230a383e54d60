//! The shared bad-input corpus (fixtures/bad/EXPECTED.toml): recordings and sidecars.

#[path = "../../../fixtures/bad/corpus.rs"]
mod corpus;

use callscore_ingest::{load, load_sidecar, LoadOptions};

#[test]
fn the_table_is_complete() {
    corpus::check_table();
}

#[test]
fn recordings() {
    corpus::check("audio", true, |path| {
        let rec = load(path, &LoadOptions::default()).map_err(|e| e.to_string())?;
        // A sane result: one or two legs of equal length, finite samples in range.
        assert!(matches!(rec.legs.len(), 1 | 2), "{} legs", rec.legs.len());
        let n = rec.legs[0].samples.len();
        for leg in &rec.legs {
            assert_eq!(leg.samples.len(), n, "legs of equal length");
            assert!(
                leg.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.5),
                "samples finite and in range"
            );
        }
        Ok(rec.warnings)
    });
}

#[test]
fn sidecars() {
    corpus::check("sidecar", true, |path| {
        // load_sidecar takes the recording's path and reads NAME.json beside it.
        load_sidecar(&path.with_extension("wav"))
            .map(|meta| vec![format!("{meta:?}")])
            .map_err(|e| e.to_string())
    });
}

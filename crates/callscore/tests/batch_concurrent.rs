//! Two `callscore score` processes on one database at the same time: the database stays
//! sound, every call is scored once, and no call is transcribed by both (claims).

mod batch_support;

use batch_support::*;

#[test]
fn two_processes_share_the_work_without_duplicates() {
    let calls = ["mono_call", "u8_agent_right", "curt_agent"];
    let inputs = copy_calls(&calls);
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("shared.db");
    // Both start on a database that does not exist yet: creating it is part of the race.
    let spawn = || {
        score_cmd(&db, &[inputs.path()], &["--jobs", "1"])
            .current_dir(work.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "first run failed:\n{}", stderr(&a));
    assert!(b.status.success(), "second run failed:\n{}", stderr(&b));
    let (sa, sb) = (summary(&a), summary(&b));
    let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap();

    // Each call was transcribed and scored by exactly one of the two.
    assert_eq!(
        n(&sa, "transcribed") + n(&sb, "transcribed"),
        calls.len() as u64,
        "a: {sa}\nb: {sb}"
    );
    assert_eq!(
        n(&sa, "scored") + n(&sb, "scored"),
        calls.len() as u64,
        "a: {sa}\nb: {sb}"
    );
    // Whatever one did, the other saw as done (planned as done, or found done after waiting).
    for (mine, other) in [(&sa, &sb), (&sb, &sa)] {
        assert_eq!(
            n(mine, "scored") + n(mine, "already_scored") + n(mine, "scored_elsewhere"),
            calls.len() as u64,
            "{mine}"
        );
        assert_eq!(n(mine, "failed"), 0, "{mine} / {other}");
    }
    let state = check_db(&db);
    assert_eq!(
        (
            state.calls,
            state.scored,
            state.transcripts,
            state.scorecards
        ),
        (3, 3, 3, 3),
        "{state:?}"
    );
}

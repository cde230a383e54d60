//! Crash safety: a batch killed at any moment, then run again, ends with every call scored
//! exactly once — no duplicates, no half-written calls, no lost calls. The real binary is killed
//! at deterministic points (test hooks that abort the process) and once from outside with
//! SIGKILL at whatever moment it has reached; after every kill the database is checked.

mod batch_support;

use batch_support::*;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const CALLS: [&str; 3] = ["mono_call", "u8_agent_right", "curt_agent"];

#[test]
fn killed_batches_resume_and_score_every_call_exactly_once() {
    let inputs = copy_calls(&CALLS);
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("calls.db");
    let run_with = |hook: &str, n: &str, jobs: &str| {
        let out = score_cmd(&db, &[inputs.path()], &["--jobs", jobs])
            .current_dir(work.path())
            .env(hook, n)
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{hook}={n} should abort the run; stderr:\n{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("test hook: aborting"),
            "{}",
            stderr(&out)
        );
        check_db(&db)
    };

    // 1. Killed right after the first call was committed: that call is kept, complete.
    let state = run_with("CALLSCORE_TEST_ABORT_AFTER_COMMITS", "1", "1");
    assert_eq!(
        (state.scored, state.transcripts, state.scorecards),
        (1, 1, 1),
        "{state:?}"
    );

    // 2. Killed with a call transcribed and scored but not yet committed (two workers, so the
    //    other is killed mid-transcription): nothing of either is stored.
    let state = run_with("CALLSCORE_TEST_ABORT_BEFORE_COMMIT", "1", "2");
    assert_eq!(
        (state.scored, state.transcripts, state.scorecards),
        (1, 1, 1),
        "{state:?}"
    );

    // 3. Killed while whisper is transcribing.
    let state = run_with("CALLSCORE_TEST_ABORT_DURING_TRANSCRIPTION", "1", "2");
    assert_eq!(
        (state.scored, state.transcripts, state.scorecards),
        (1, 1, 1),
        "{state:?}"
    );

    // 4. SIGKILL from outside as soon as one more call is stored: wherever the process is then.
    let mut child = score_cmd(&db, &[inputs.path()], &["--jobs", "1"])
        .current_dir(work.path())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if child.try_wait().unwrap().is_some() || check_db(&db).scored >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the batch made no progress in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let state = check_db(&db);
    assert!(
        state.scored >= 2 && state.scorecards == state.scored && state.transcripts == state.scored,
        "{state:?}"
    );

    // 5. The same command again finishes the job: only the missing calls are transcribed.
    let before = state.scored;
    let out = score_cmd(&db, &[inputs.path()], &["--jobs", "2"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(s["already_scored"], before as u64);
    assert_eq!(s["transcribed"], (CALLS.len() - before) as u64);
    assert_eq!(s["failed"], 0);
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

    // 6. And once more: nothing left to do.
    let out = score_cmd(&db, &[inputs.path()], &[])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(
        (s["already_scored"].as_u64(), s["transcribed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(check_db(&db).scorecards, 3);
}

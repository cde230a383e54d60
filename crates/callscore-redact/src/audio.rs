//! Muting redacted spans in audio, and the redacted copy of a recording as a 16-bit PCM WAV.
//!
//! The original file is only ever read. The copy keeps the source's channels (mono stays mono,
//! stereo stays stereo; ingest reads the first two channels of a file with more) and its sample
//! rate up to 16 kHz. Ingest decodes to 16 kHz, so a source above that is written at 16 kHz:
//! resampling back up would only make a larger file with nothing above 8 kHz in it.
//!
//! Every channel is muted over every span, not only the speaker's: on real lines each leg
//! carries an echo of the other (hybrid echo, handset bleed), so the caller's card number is
//! faintly audible in the agent's channel too.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use callscore_core::{Redaction, SAMPLE_RATE};
use callscore_ingest::resample::{resample, ResampleError};
use callscore_ingest::IngestError;

use crate::config::AudioStyle;

/// The tone that replaces redacted audio with [`AudioStyle::Tone`]: 1 kHz at -20 dBFS.
pub const TONE_HZ: f32 = 1_000.0;
pub const TONE_AMPLITUDE: f32 = 0.1;

/// The sample range `[start, end)` of a span in milliseconds at `rate`, clamped to `len`:
/// the start rounded down and the end rounded up, so the muted range covers the span.
pub fn span_samples(start_ms: u64, end_ms: u64, rate: u32, len: usize) -> (usize, usize) {
    let to_sample = |ms: u64, up: bool| {
        let num = u128::from(ms) * u128::from(rate);
        let s = if up { num.div_ceil(1000) } else { num / 1000 };
        usize::try_from(s).unwrap_or(usize::MAX).min(len)
    };
    let start = to_sample(start_ms, false);
    (start, to_sample(end_ms, true).max(start))
}

/// Mutes (or replaces with the tone) `[start_ms, end_ms)` of one channel at `rate`.
pub fn mute_span(samples: &mut [f32], rate: u32, start_ms: u64, end_ms: u64, style: AudioStyle) {
    let (a, b) = span_samples(start_ms, end_ms, rate, samples.len());
    match style {
        AudioStyle::Silence => samples[a..b].fill(0.0),
        AudioStyle::Tone => {
            let step = std::f32::consts::TAU * TONE_HZ / rate as f32;
            for (i, s) in samples[a..b].iter_mut().enumerate() {
                // The phase counts from the span start, so every span sounds the same.
                *s = TONE_AMPLITUDE * (step * (i as f32)).sin();
            }
        }
    }
}

/// Mutes every redacted span in every channel (see the module notes for why every channel).
pub fn mute_redactions(
    channels: &mut [Vec<f32>],
    rate: u32,
    redactions: &[Redaction],
    style: AudioStyle,
) {
    for r in redactions {
        for ch in channels.iter_mut() {
            mute_span(ch, rate, r.start_ms, r.end_ms, style);
        }
    }
}

/// Why a redacted copy could not be made. Errors name files, never transcript text.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Decode(#[from] IngestError),
    #[error("{}: cannot convert back to {rate} Hz: {source}", path.display())]
    Resample {
        path: PathBuf,
        rate: u32,
        source: ResampleError,
    },
    #[error("{}: refusing to write the redacted copy over the original recording; choose another output file", path.display())]
    WouldOverwriteOriginal { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the redacted audio of {}: {reason}", path.display())]
    Encode { path: PathBuf, reason: String },
}

/// A recording's audio with its redacted spans muted, ready to be written as WAV.
#[derive(Clone, PartialEq)]
pub struct RedactedAudio {
    /// The file it was decoded from.
    pub source: PathBuf,
    /// Planar samples, -1.0..=1.0, one vector per channel, equal lengths.
    pub channels: Vec<Vec<f32>>,
    pub sample_rate: u32,
}

impl std::fmt::Debug for RedactedAudio {
    // Samples are the muted audio; a Debug of them would be useless and enormous.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactedAudio")
            .field("source", &self.source)
            .field("channels", &self.channels.len())
            .field("frames", &self.frames())
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

impl RedactedAudio {
    /// Decodes `source` (any format ingest reads) and mutes `redactions` (call time, as stored
    /// in `Transcript::redactions`, margin included). The file is only read.
    pub fn from_file(
        source: &Path,
        redactions: &[Redaction],
        style: AudioStyle,
    ) -> Result<RedactedAudio, AudioError> {
        let decoded = callscore_ingest::decode(source)?;
        let rate = decoded.source_sample_rate.min(SAMPLE_RATE);
        let frames = usize::try_from(
            (u128::from(decoded.source_frames) * u128::from(rate)
                / u128::from(decoded.source_sample_rate.max(1))) as u64,
        )
        .unwrap_or(usize::MAX);
        let mut channels = Vec::with_capacity(decoded.channels.len());
        for ch in decoded.channels {
            let mut ch = if rate == SAMPLE_RATE {
                ch
            } else {
                resample(&ch, SAMPLE_RATE, rate).map_err(|e| AudioError::Resample {
                    path: source.to_path_buf(),
                    rate,
                    source: e,
                })?
            };
            // The round trip through 16 kHz may differ from the source by a frame.
            ch.resize(frames, 0.0);
            channels.push(ch);
        }
        // Muted after resampling, at the output rate: the resampler's filter would otherwise
        // smear a little sound back into the edges of each muted span.
        mute_redactions(&mut channels, rate, redactions, style);
        Ok(RedactedAudio {
            source: source.to_path_buf(),
            channels,
            sample_rate: rate,
        })
    }

    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// The audio as a 16-bit PCM WAV file in memory (for serving over HTTP).
    pub fn to_wav_bytes(&self) -> Result<Vec<u8>, AudioError> {
        let encode = |reason: hound::Error| AudioError::Encode {
            path: self.source.clone(),
            reason: reason.to_string(),
        };
        let spec = hound::WavSpec {
            channels: self.channels.len().max(1) as u16,
            sample_rate: self.sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = Cursor::new(Vec::with_capacity(
            44 + self.frames() * 2 * self.channels.len(),
        ));
        {
            let mut w = hound::WavWriter::new(&mut cursor, spec).map_err(encode)?;
            {
                let mut w16 = w.get_i16_writer((self.frames() * self.channels.len()) as u32);
                for i in 0..self.frames() {
                    for ch in &self.channels {
                        w16.write_sample(to_i16(ch[i]));
                    }
                }
                w16.flush().map_err(encode)?;
            }
            w.finalize().map_err(encode)?;
        }
        Ok(cursor.into_inner())
    }

    /// Writes the WAV to `out` atomically (a temporary file beside it, then renamed), so a
    /// crash never leaves half a file. Refuses to write over the source recording.
    pub fn write_wav(&self, out: &Path) -> Result<(), AudioError> {
        if same_file(&self.source, out) {
            return Err(AudioError::WouldOverwriteOriginal {
                path: out.to_path_buf(),
            });
        }
        let bytes = self.to_wav_bytes()?;
        let write_err = |source: std::io::Error| AudioError::Write {
            path: out.to_path_buf(),
            source,
        };
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        tmp.write_all(&bytes).map_err(write_err)?;
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(out).map_err(|e| write_err(e.error))?;
        Ok(())
    }
}

fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// Whether two paths name one file (an existing `out` that is the source, by any path).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Decodes `source`, mutes `redactions` and writes the copy to `out` (16-bit PCM WAV).
pub fn export_redacted_wav(
    source: &Path,
    redactions: &[Redaction],
    style: AudioStyle,
    out: &Path,
) -> Result<RedactedAudio, AudioError> {
    let audio = RedactedAudio::from_file(source, redactions, style)?;
    audio.write_wav(out)?;
    Ok(audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(start_ms: u64, end_ms: u64) -> Redaction {
        Redaction {
            class: "card_number".into(),
            speaker: callscore_core::Speaker::Caller,
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn spans_round_outwards_and_clamp() {
        assert_eq!(span_samples(1000, 2000, 8000, 100_000), (8000, 16000));
        assert_eq!(span_samples(1, 2, 8000, 100_000), (8, 16));
        // 0.1 ms at 8 kHz is 0.8 of a sample: the end rounds up to cover it.
        assert_eq!(span_samples(0, 1, 8000, 100), (0, 8));
        assert_eq!(span_samples(500, 99_000, 8000, 10_000), (4000, 10_000));
        assert_eq!(span_samples(5000, 6000, 8000, 100), (100, 100));
    }

    #[test]
    fn silence_zeroes_only_the_span_in_every_channel() {
        let mut chs = vec![vec![0.5f32; 8000], vec![-0.25f32; 8000]];
        mute_redactions(&mut chs, 8000, &[red(250, 500)], AudioStyle::Silence);
        for ch in &chs {
            assert!(ch[2000..4000].iter().all(|&s| s == 0.0));
            assert!(ch[..2000].iter().all(|&s| s != 0.0));
            assert!(ch[4000..].iter().all(|&s| s != 0.0));
        }
    }

    #[test]
    fn the_tone_is_a_steady_sine_at_minus_20_dbfs() {
        let mut ch = vec![0.0f32; 16000];
        mute_span(&mut ch, 16000, 0, 1000, AudioStyle::Tone);
        let rms = (ch.iter().map(|s| s * s).sum::<f32>() / ch.len() as f32).sqrt();
        let db = 20.0 * rms.log10();
        assert!((db - (-23.0)).abs() < 0.1, "{db}"); // a sine's RMS is 3 dB under its peak
        let crossings = ch.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((999..=1000).contains(&crossings), "{crossings}");
    }

    #[test]
    fn wav_bytes_are_16_bit_pcm_with_the_layout_kept() {
        let audio = RedactedAudio {
            source: PathBuf::from("x.wav"),
            channels: vec![vec![0.5; 800], vec![-1.5; 800]],
            sample_rate: 8000,
        };
        let bytes = audio.to_wav_bytes().unwrap();
        let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        let spec = r.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 8000, 16)
        );
        let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(s.len(), 1600);
        assert_eq!((s[0], s[1]), (16384, -32767)); // clamped, not wrapped
        assert!(format!("{audio:?}").contains("frames: 800"));
    }
}

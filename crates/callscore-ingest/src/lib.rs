//! Audio in: decodes call recordings (WAV, G.711 WAV, MP3, FLAC, OGG, M4A), resamples to 16 kHz
//! and splits channels into speaker legs.
//!
//! ```no_run
//! use callscore_ingest::{load, LoadOptions};
//! # fn main() -> Result<(), callscore_ingest::IngestError> {
//! let rec = load(std::path::Path::new("fixtures/calls/good_call.wav"), &LoadOptions::default())?;
//! for leg in &rec.legs {
//!     println!("{}: {} ms", leg.speaker, leg.duration_ms());
//! }
//! # Ok(()) }
//! ```
//!
//! Decoders: hound for PCM and float WAV (8/16/24/32-bit integer, 32-bit float, plain or
//! WAVE_FORMAT_EXTENSIBLE); symphonia for G.711 A-law and mu-law WAV (format tags 6 and 7), IMA
//! and Microsoft ADPCM WAV, 64-bit float WAV, MP3, FLAC, Ogg Vorbis, MP4/M4A AAC and ADTS AAC.
//! The container is recognised by its contents, not by the file name. Resampling to 16 kHz is
//! rubato's FFT resampler, streamed while decoding.
//!
//! **Architecture invariant:** this crate reads files and returns values; it never prints, never
//! exits, and never reads the environment. Every failure is an [`IngestError`] naming the file.

mod decode;
mod error;
pub mod levels;
pub mod resample;
mod sidecar;
mod wav;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use callscore_core::{AgentChannel, CallMeta, Leg, Speaker};
use sha2::{Digest, Sha256};

pub use decode::Decoded;
pub use error::IngestError;
pub use sidecar::{load_sidecar, parse_sidecar, sidecar_path};

/// How to load a recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Which stereo channel is the agent. Beats the sidecar's `agent_channel`, which beats the
    /// default, left.
    pub agent_channel: Option<AgentChannel>,
}

/// A call recording ready for transcription.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub path: PathBuf,
    /// Stereo: `[agent, caller]`. Mono: `[unknown]`. 16 kHz, equal lengths, call time from 0.
    pub legs: Vec<Leg>,
    /// The sidecar's metadata (default when there is none). For stereo recordings
    /// `agent_channel` is set to the channel actually used as the agent.
    pub meta: CallMeta,
    pub duration_ms: u64,
    pub source_channels: u16,
    pub source_sample_rate: u32,
    /// Container and codec, e.g. `wav/mulaw`, `wav/pcm_s16le`, `mp3/mp3`, `mp4/aac`.
    pub source_format: String,
    /// sha256 of the file's bytes, lowercase hex: the same recording under another name has the
    /// same hash.
    pub content_hash: String,
    /// Problems worked around while loading (a truncated file decoded as far as it goes, skipped
    /// damaged packets, dropped extra channels, a channel override on a mono file). Empty for a
    /// clean file.
    pub warnings: Vec<String>,
}

/// File extensions ingest reads, lowercase, for directory walks.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "mp3", "flac", "ogg", "oga", "m4a", "mp4", "aac",
];

/// Whether `p` names a file ingest reads, by its extension (case-insensitive). Sidecars
/// (`.json`) and everything else are not audio.
pub fn is_audio_path(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Loads a call recording: decodes it, resamples to 16 kHz, reads the sidecar beside it, and
/// assigns channel roles (stereo: agent and caller by `opts`, then the sidecar, then left =
/// agent; mono: one `unknown` leg).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Recording, IngestError> {
    // The sidecar first: a typo in it is cheaper to report than after decoding an hour of audio.
    let sidecar = load_sidecar(path)?;
    let decoded = decode(path)?;
    let content_hash = sha256_file(path)?;
    let mut meta = sidecar.unwrap_or_default();
    let duration_ms = decoded.duration_ms();
    let mut warnings = decoded.warnings;
    let mut channels = decoded.channels.into_iter();
    let legs = match (channels.next(), channels.next()) {
        (Some(left), Some(right)) => {
            let agent_channel = opts
                .agent_channel
                .or(meta.agent_channel)
                .unwrap_or_default();
            meta.agent_channel = Some(agent_channel);
            let (agent, caller) = match agent_channel {
                AgentChannel::Left => (left, right),
                AgentChannel::Right => (right, left),
            };
            vec![
                Leg {
                    speaker: Speaker::Agent,
                    samples: agent,
                },
                Leg {
                    speaker: Speaker::Caller,
                    samples: caller,
                },
            ]
        }
        (Some(mono), None) => {
            if let Some(ch) = opts.agent_channel.or(meta.agent_channel) {
                let side = match ch {
                    AgentChannel::Left => "left",
                    AgentChannel::Right => "right",
                };
                warnings.push(format!(
                    "agent channel '{side}' ignored: the recording is mono, so speakers cannot be told apart by channel"
                ));
            }
            vec![Leg {
                speaker: Speaker::Unknown,
                samples: mono,
            }]
        }
        _ => {
            return Err(IngestError::NoAudio {
                path: path.to_path_buf(),
            })
        }
    };
    Ok(Recording {
        path: path.to_path_buf(),
        legs,
        meta,
        duration_ms,
        source_channels: decoded.source_channels,
        source_sample_rate: decoded.source_sample_rate,
        source_format: decoded.source_format,
        content_hash,
        warnings,
    })
}

/// What the first bytes say the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    Wav,
    /// RF64/BW64: WAV's 64-bit variant for files over 4 GiB.
    Rf64,
    /// A RIFF file of another form (AVI, WebP...).
    OtherRiff([u8; 4]),
    /// Starts like RIFF but is too short to say more.
    ShortRiff,
    Flac,
    Ogg,
    Mp4,
    Mp3,
    Adts,
    Unknown,
}

fn sniff(head: &[u8]) -> Sniffed {
    let starts = |m: &[u8]| head.len() >= m.len() && &head[..m.len()] == m;
    if head.len() < 12 && !head.is_empty() && b"RIFF".starts_with(&head[..head.len().min(4)]) {
        return Sniffed::ShortRiff;
    }
    if starts(b"RIFF") {
        return if &head[8..12] == b"WAVE" {
            Sniffed::Wav
        } else {
            Sniffed::OtherRiff([head[8], head[9], head[10], head[11]])
        };
    }
    if starts(b"RF64") || starts(b"BW64") {
        return Sniffed::Rf64;
    }
    if starts(b"fLaC") {
        return Sniffed::Flac;
    }
    if starts(b"OggS") {
        return Sniffed::Ogg;
    }
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return Sniffed::Mp4;
    }
    if starts(b"ID3") {
        return Sniffed::Mp3;
    }
    if head.len() >= 2 && head[0] == 0xFF {
        // MPEG audio frame sync is 11 set bits; ADTS is 12 set bits with layer bits 00.
        if head[1] & 0xF6 == 0xF0 {
            return Sniffed::Adts;
        }
        if head[1] & 0xE0 == 0xE0 {
            return Sniffed::Mp3;
        }
    }
    Sniffed::Unknown
}

/// Text (UTF-8 without control characters other than whitespace) is not audio, and saying so
/// is more useful than "no known audio format".
fn looks_like_text(head: &[u8]) -> bool {
    // A multi-byte character may be cut at the end of the sample; judge what is complete.
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return false,
    };
    !valid.is_empty() && valid.chars().all(|c| !c.is_control() || c.is_whitespace())
}

/// Decodes a recording's first two channels to 16 kHz without assigning speakers. [`load`] is
/// this plus the sidecar, roles and hash.
pub fn decode(path: &Path) -> Result<Decoded, IngestError> {
    let io_err = |source: io::Error| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(io_err(io::Error::other("it is a directory, not a file")));
    }
    let len = meta.len();
    if len == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut file = File::open(path).map_err(io_err)?;
    let mut head = Vec::with_capacity(512);
    (&mut file)
        .take(512)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;

    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let sniffed = sniff(&head);
    let hint = match sniffed {
        Sniffed::Wav => return wav::decode_wav(path, file, len),
        Sniffed::ShortRiff => {
            return Err(IngestError::TruncatedHeader {
                path: path.to_path_buf(),
                detail: format!("the file is only {len} bytes"),
            })
        }
        Sniffed::Rf64 => {
            return Err(IngestError::UnsupportedFormat {
                path: path.to_path_buf(),
                detail: "RF64/BW64 (64-bit WAV); convert it to WAV, FLAC or MP3 with ffmpeg or sox"
                    .into(),
            })
        }
        Sniffed::OtherRiff(form) => {
            return Err(IngestError::NotAudio {
                path: path.to_path_buf(),
                detail: format!(
                    "a RIFF '{}' file, not RIFF WAVE",
                    String::from_utf8_lossy(&form)
                ),
            })
        }
        Sniffed::Flac => "flac",
        Sniffed::Ogg => "ogg",
        Sniffed::Mp4 => "mp4",
        Sniffed::Mp3 => "mp3",
        Sniffed::Adts => "aac",
        Sniffed::Unknown if looks_like_text(&head) => {
            return Err(IngestError::NotAudio {
                path: path.to_path_buf(),
                detail: "it contains text".into(),
            })
        }
        Sniffed::Unknown => ext.as_deref().unwrap_or("unknown"),
    };
    decode::decode_symphonia(path, Box::new(file), Some(hint))
}

fn sha256_file(path: &Path) -> Result<String, IngestError> {
    let mut file = File::open(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_paths_by_extension() {
        for p in [
            "a.wav",
            "b.WAV",
            "c.mp3",
            "d.flac",
            "e.ogg",
            "f.m4a",
            "dir/g.Wave",
            "h.aac",
        ] {
            assert!(is_audio_path(Path::new(p)), "{p}");
        }
        for p in ["a.json", "b.timeline.json", "c.script", "wav", "d.txt", "e"] {
            assert!(!is_audio_path(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn sniffing_recognises_containers_by_their_magic() {
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Sniffed::Wav);
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), Sniffed::OtherRiff(*b"AVI "));
        assert_eq!(sniff(b"RIF"), Sniffed::ShortRiff);
        assert_eq!(sniff(b"RF64\xff\xff\xff\xffWAVE"), Sniffed::Rf64);
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Sniffed::Flac);
        assert_eq!(sniff(b"OggS\0\x02"), Sniffed::Ogg);
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Sniffed::Mp4);
        assert_eq!(sniff(b"ID3\x04\0"), Sniffed::Mp3);
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90]), Sniffed::Mp3);
        assert_eq!(sniff(&[0xFF, 0xF1, 0x50]), Sniffed::Adts);
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
    }

    #[test]
    fn text_is_recognised_even_when_a_character_is_cut() {
        assert!(looks_like_text(
            "Call notes: caller asked about the bill.\n".as_bytes()
        ));
        assert!(looks_like_text(&"é".repeat(10).as_bytes()[..19]));
        assert!(!looks_like_text(&[0x00, 0x01, 0x02]));
        assert!(!looks_like_text(b""));
    }
}

//! Decoding to planar f32 at 16 kHz: the collector shared by every decoder, and the symphonia
//! path for MP3, FLAC, Ogg Vorbis, MP4/AAC, ADTS AAC, and the WAV codecs hound cannot read.

use std::path::Path;

use callscore_core::SAMPLE_RATE;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self, CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::IngestError;
use crate::resample::StreamResampler;

/// Decoded audio before channel roles are assigned.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The first one or two source channels, resampled to 16 kHz mono each, equal lengths.
    pub channels: Vec<Vec<f32>>,
    /// Channels in the source (more than `channels.len()` when channels were dropped).
    pub source_channels: u16,
    pub source_sample_rate: u32,
    /// Frames decoded at the source rate.
    pub source_frames: u64,
    /// Container and codec, e.g. `wav/mulaw`, `wav/pcm_s16le`, `mp3/mp3`, `mp4/aac`.
    pub source_format: String,
    /// What the decoder had to work around: truncation, skipped corrupt packets, dropped channels.
    pub warnings: Vec<String>,
}

impl Decoded {
    /// Duration of the decoded audio, from the source frame count (rounded to the nearest ms).
    pub fn duration_ms(&self) -> u64 {
        if self.source_sample_rate == 0 {
            return 0;
        }
        (self.source_frames * 1000 + u64::from(self.source_sample_rate) / 2)
            / u64::from(self.source_sample_rate)
    }
}

/// Sample rates ingest accepts. Outside this a header is corrupt, not exotic, and the resampler's
/// FFT sizes (which grow with the rates' least common multiple) would be unbounded.
pub(crate) const SOURCE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

pub(crate) fn implausible_rate(rate: u32) -> String {
    format!(
        "implausible sample rate {rate} Hz (expected {} Hz to {} Hz)",
        SOURCE_RATES.start(),
        SOURCE_RATES.end()
    )
}

/// Takes interleaved samples from a decoder, keeps the first two channels and resamples them.
pub(crate) struct Collector {
    path: std::path::PathBuf,
    source_channels: usize,
    source_rate: u32,
    resampler: StreamResampler,
    planes: Vec<Vec<f32>>,
    warnings: Vec<String>,
}

impl Collector {
    pub(crate) fn new(
        path: &Path,
        source_rate: u32,
        source_channels: usize,
    ) -> Result<Self, IngestError> {
        if source_channels == 0 || source_channels > usize::from(u16::MAX) {
            return Err(IngestError::UnsupportedChannels {
                path: path.to_path_buf(),
                channels: source_channels as u16,
            });
        }
        if !SOURCE_RATES.contains(&source_rate) {
            return Err(IngestError::Corrupt {
                path: path.to_path_buf(),
                detail: implausible_rate(source_rate),
            });
        }
        let kept = source_channels.min(2);
        let mut warnings = Vec::new();
        if source_channels > 2 {
            // Multi-channel call recordings put the two parties first; further channels are
            // conference legs, mixes or silence, which the agent/caller model cannot place.
            let ignored = if source_channels == 3 {
                "channel 3".to_string()
            } else {
                format!("channels 3 to {source_channels}")
            };
            warnings.push(format!(
                "the recording has {source_channels} channels; used channels 1 and 2 as the call's two legs and ignored {ignored}"
            ));
        }
        let resampler = StreamResampler::new(source_rate, SAMPLE_RATE, kept).map_err(|source| {
            IngestError::Resample {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            source_channels,
            source_rate,
            resampler,
            planes: vec![Vec::new(); kept],
            warnings,
        })
    }

    /// Pushes whole interleaved frames (`samples.len()` a multiple of the source channel count).
    pub(crate) fn push_interleaved(&mut self, samples: &[f32]) -> Result<(), IngestError> {
        debug_assert_eq!(samples.len() % self.source_channels, 0);
        for (c, plane) in self.planes.iter_mut().enumerate() {
            plane.clear();
            // Float formats can carry NaN, infinities or values past full scale (a glitching
            // recorder, a corrupt file); one NaN would poison the resampler's whole FFT block.
            plane.extend(
                samples
                    .iter()
                    .skip(c)
                    .step_by(self.source_channels)
                    .map(|&s| {
                        if s.is_finite() {
                            s.clamp(-1.0, 1.0)
                        } else {
                            0.0
                        }
                    }),
            );
        }
        let refs: Vec<&[f32]> = self.planes.iter().map(Vec::as_slice).collect();
        self.resampler
            .push(&refs)
            .map_err(|source| IngestError::Resample {
                path: self.path.clone(),
                source,
            })
    }

    pub(crate) fn frames(&self) -> u64 {
        self.resampler.frames_in()
    }

    fn same_stream(&self, rate: u32, channels: usize) -> bool {
        rate == self.source_rate && channels == self.source_channels
    }

    pub(crate) fn finish(self) -> Result<Decoded, IngestError> {
        let source_frames = self.resampler.frames_in();
        if source_frames == 0 {
            return Err(IngestError::NoAudio { path: self.path });
        }
        let channels = self
            .resampler
            .finish()
            .map_err(|source| IngestError::Resample {
                path: self.path.clone(),
                source,
            })?;
        Ok(Decoded {
            channels,
            source_channels: self.source_channels as u16,
            source_sample_rate: self.source_rate,
            source_frames,
            source_format: String::new(),
            warnings: self.warnings,
        })
    }
}

/// Names for codecs symphonia knows of but this build does not decode.
fn codec_label(codec: CodecType) -> String {
    if let Some(d) = symphonia::default::get_codecs().get_codec(codec) {
        return d.long_name.to_string();
    }
    let name = match codec {
        codecs::CODEC_TYPE_OPUS => "Opus",
        codecs::CODEC_TYPE_SPEEX => "Speex",
        codecs::CODEC_TYPE_ALAC => "Apple Lossless (ALAC)",
        codecs::CODEC_TYPE_MP1 => "MPEG Layer 1",
        codecs::CODEC_TYPE_MP2 => "MPEG Layer 2",
        codecs::CODEC_TYPE_WAVPACK => "WavPack",
        codecs::CODEC_TYPE_MONKEYS_AUDIO => "Monkey's Audio",
        codecs::CODEC_TYPE_TTA => "True Audio (TTA)",
        codecs::CODEC_TYPE_ATRAC1
        | codecs::CODEC_TYPE_ATRAC3
        | codecs::CODEC_TYPE_ATRAC3PLUS
        | codecs::CODEC_TYPE_ATRAC9 => "ATRAC",
        _ => return format!("codec id {codec}"),
    };
    name.to_string()
}

fn short_codec_name(codec: CodecType) -> &'static str {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map_or("unknown", |d| d.short_name)
}

/// Decodes any container symphonia reads. `ext_hint` (a file extension) only orders the probe;
/// the contents decide. The returned `source_format` is `"<hint>/<codec>"`.
///
/// symphonia 0.5 panics on some malformed input (its ADTS reader divides a short stream into
/// zero-length steps, found by this crate's fuzz test). Recordings are untrusted input and a
/// batch must not die on one bad file, so a decoder panic becomes [`IngestError::Corrupt`].
pub(crate) fn decode_symphonia(
    path: &Path,
    source: Box<dyn MediaSource>,
    ext_hint: Option<&str>,
) -> Result<Decoded, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_symphonia_inner(path, source, ext_hint)
    }))
    .unwrap_or_else(|_| {
        Err(IngestError::Corrupt {
            path: path.to_path_buf(),
            detail: "the decoder failed on malformed data".into(),
        })
    })
}

fn decode_symphonia_inner(
    path: &Path,
    source: Box<dyn MediaSource>,
    ext_hint: Option<&str>,
) -> Result<Decoded, IngestError> {
    let not_audio = |detail: &str| IngestError::NotAudio {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext_hint {
        hint.with_extension(ext);
    }
    // Gapless trims MP3/AAC encoder delay and padding, so durations match the original audio.
    let format_opts = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            // Running out of bytes while probing means a stray header-like pattern, not audio.
            SymphoniaError::Unsupported(_) => not_audio("no known audio format in its contents"),
            SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                not_audio("no known audio format in its contents")
            }
            SymphoniaError::IoError(source) => IngestError::Io {
                path: path.to_path_buf(),
                source,
            },
            other => not_audio(&other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| not_audio("it has no audio track"))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => IngestError::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: codec_label(params.codec),
            },
            other => IngestError::Corrupt {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;

    let mut collector: Option<Collector> = None;
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    let (mut good_packets, mut bad_packets) = (0u64, 0u64);
    let mut first_bad: Option<String> = None;
    let mut stop_reason: Option<String> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => {
                stop_reason = Some("the stream changes its parameters part-way".into());
                break;
            }
            Err(e) => {
                stop_reason = Some(format!("the container is damaged ({e})"));
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet: symphonia's guidance is to skip it and carry on.
            Err(SymphoniaError::DecodeError(msg)) => {
                bad_packets += 1;
                first_bad.get_or_insert_with(|| msg.to_string());
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                bad_packets += 1;
                first_bad.get_or_insert_with(|| e.to_string());
                continue;
            }
            Err(SymphoniaError::ResetRequired) => {
                stop_reason = Some("the stream changes its parameters part-way".into());
                break;
            }
            Err(e) => {
                return Err(IngestError::Corrupt {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
        };
        if decoded.frames() == 0 {
            continue;
        }
        good_packets += 1;
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        match &collector {
            None => collector = Some(Collector::new(path, spec.rate, channels)?),
            Some(c) if !c.same_stream(spec.rate, channels) => {
                stop_reason = Some(format!(
                    "the stream changes to {} Hz, {channels} channels part-way",
                    spec.rate
                ));
                break;
            }
            Some(_) => {}
        }
        let mut buf = match sample_buf.take() {
            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
            _ => SampleBuffer::<f32>::new(decoded.capacity() as u64, spec),
        };
        buf.copy_interleaved_ref(decoded);
        if let Some(c) = collector.as_mut() {
            c.push_interleaved(buf.samples())?;
        }
        sample_buf = Some(buf);
    }

    let Some(collector) = collector else {
        return Err(if bad_packets > 0 {
            not_audio(&format!(
                "none of its {bad_packets} packets decode: {}",
                first_bad.unwrap_or_default()
            ))
        } else {
            IngestError::NoAudio {
                path: path.to_path_buf(),
            }
        });
    };
    // Random bytes that happen to contain a frame sync word decode a stray frame or two between
    // many failures; real files with a few damaged packets decode mostly fine.
    if bad_packets > good_packets {
        return Err(not_audio(&format!(
            "{bad_packets} of {} packets fail to decode ({})",
            bad_packets + good_packets,
            first_bad.unwrap_or_default()
        )));
    }
    let mut warnings = Vec::new();
    let rate = collector.source_rate;
    let frames = collector.frames();
    let secs = |f: u64| f as f64 / f64::from(rate);
    if bad_packets > 0 {
        warnings.push(format!(
            "skipped {bad_packets} damaged packet(s) ({}); the audio has gaps there",
            first_bad.unwrap_or_default()
        ));
    }
    if let Some(reason) = stop_reason {
        warnings.push(format!(
            "decoding stopped at {:.2} s: {reason}; kept the audio before that point",
            secs(frames)
        ));
    }
    if let (Some(declared), Some(declared_rate)) = (params.n_frames, params.sample_rate) {
        // Allow a codec's worth of slack (priming, padding) before calling a file truncated.
        let slack = u64::from(declared_rate) / 5;
        if declared_rate == rate && frames + slack < declared {
            warnings.push(format!(
                "the file is truncated: it declares {:.2} s of audio but only {:.2} s decodes",
                secs(declared),
                secs(frames)
            ));
        }
    }
    let mut decoded = collector.finish()?;
    decoded.warnings.extend(warnings);
    decoded.source_format = format!(
        "{}/{}",
        ext_hint.unwrap_or("unknown"),
        short_codec_name(params.codec)
    );
    Ok(decoded)
}

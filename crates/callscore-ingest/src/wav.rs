//! WAV files: a small RIFF chunk walker in front of hound (PCM, float) and symphonia (G.711,
//! ADPCM).
//!
//! Why walk the chunks ourselves when both decoders parse WAV: call recorders die mid-call and
//! leave a header that promises more data than the file holds, or the streaming placeholder
//! length 0xFFFFFFFF that hound rejects outright. Reading the header first lets ingest decode
//! exactly the bytes that are present (via a corrected header), say precisely what is wrong
//! ("ends inside the fmt chunk", "format tag 0x0031 (GSM 6.10)"), and pick the decoder by codec.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use crate::decode::{decode_symphonia, Collector, Decoded};
use crate::error::IngestError;

pub(crate) const TAG_PCM: u16 = 0x0001;
pub(crate) const TAG_MS_ADPCM: u16 = 0x0002;
pub(crate) const TAG_FLOAT: u16 = 0x0003;
pub(crate) const TAG_ALAW: u16 = 0x0006;
pub(crate) const TAG_MULAW: u16 = 0x0007;
pub(crate) const TAG_IMA_ADPCM: u16 = 0x0011;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// A fmt chunk larger than this is not a real fmt chunk (the largest standard one is 40 bytes
/// plus codec extras of a few dozen).
const MAX_FMT_LEN: u32 = 64 * 1024;

/// hound yields one sample at a time; push them to the resampler in blocks of this many frames.
const PUSH_FRAMES: usize = 4096;

/// What the RIFF header says, up to the start of the data chunk.
#[derive(Debug, Clone)]
pub(crate) struct WavHeader {
    /// The codec, with WAVE_FORMAT_EXTENSIBLE resolved to its sub-format.
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub byte_rate: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    /// The fmt chunk's body as written, so the corrected header keeps every codec detail.
    pub fmt_body: Vec<u8>,
    pub data_offset: u64,
    pub declared_data_len: u32,
    /// Frames per channel from the fact chunk: what block codecs (ADPCM) really hold, since
    /// their last block is padded.
    pub fact_frames: Option<u32>,
}

/// A codec's name from its WAV format tag, for error messages and `source_format`.
pub(crate) fn codec_name(tag: u16) -> &'static str {
    match tag {
        TAG_PCM => "PCM",
        TAG_MS_ADPCM => "Microsoft ADPCM",
        TAG_FLOAT => "IEEE float",
        TAG_ALAW => "G.711 A-law",
        TAG_MULAW => "G.711 mu-law",
        0x0010 => "OKI ADPCM",
        TAG_IMA_ADPCM => "IMA ADPCM",
        0x0014 => "G.723 ADPCM (Yamaha)",
        0x0017 => "Dialogic OKI ADPCM",
        0x0022 => "DSP Group TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0032 => "MSN Audio (GSM 6.10)",
        0x0040 => "G.721 ADPCM",
        0x0042 => "G.723.1",
        0x0045 => "G.726 ADPCM",
        0x0050 => "MPEG audio",
        0x0055 => "MPEG Layer 3 (MP3 inside WAV)",
        0x0064 => "G.726 ADPCM (APICOM)",
        0x0065 => "G.722 ADPCM",
        0x0067 => "G.722.1",
        0x00FF | 0x1610 => "AAC",
        0x0161..=0x0163 => "Windows Media Audio",
        _ => "unknown codec",
    }
}

fn truncated(path: &Path, detail: impl Into<String>) -> IngestError {
    IngestError::TruncatedHeader {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn invalid(path: &Path, detail: impl Into<String>) -> IngestError {
    IngestError::InvalidHeader {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the RIFF/WAVE header from the start of `r` up to the data chunk. `file_len` bounds
/// every chunk so a short file gives "truncated" rather than an I/O error.
pub(crate) fn read_header<R: Read + Seek>(
    r: &mut R,
    path: &Path,
    file_len: u64,
) -> Result<WavHeader, IngestError> {
    let mut riff = [0u8; 12];
    r.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    if file_len < 12 {
        return Err(truncated(
            path,
            format!("the file is only {file_len} bytes"),
        ));
    }
    r.read_exact(&mut riff).map_err(io_err(path))?;
    debug_assert!(&riff[0..4] == b"RIFF" && &riff[8..12] == b"WAVE");

    let mut pos = 12u64;
    let mut fmt: Option<WavHeader> = None;
    let mut fact_frames = None;
    loop {
        if pos + 8 > file_len {
            let missing = if fmt.is_none() { "fmt" } else { "data" };
            return Err(truncated(
                path,
                format!("the file ends after {file_len} bytes, before the {missing} chunk"),
            ));
        }
        let mut head = [0u8; 8];
        r.seek(SeekFrom::Start(pos)).map_err(io_err(path))?;
        r.read_exact(&mut head).map_err(io_err(path))?;
        let id = [head[0], head[1], head[2], head[3]];
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        pos += 8;
        match &id {
            b"fmt " => {
                if len < 16 {
                    return Err(invalid(
                        path,
                        format!("the fmt chunk is {len} bytes, expected at least 16"),
                    ));
                }
                if len > MAX_FMT_LEN {
                    return Err(invalid(path, format!("the fmt chunk claims {len} bytes")));
                }
                if pos + u64::from(len) > file_len {
                    return Err(truncated(
                        path,
                        format!(
                            "the file ends inside the fmt chunk ({} of {len} bytes present)",
                            file_len - pos
                        ),
                    ));
                }
                let mut body = vec![0u8; len as usize];
                r.read_exact(&mut body).map_err(io_err(path))?;
                fmt = Some(parse_fmt(path, body)?);
            }
            b"fact" if len >= 4 && pos + 4 <= file_len => {
                let mut n = [0u8; 4];
                r.read_exact(&mut n).map_err(io_err(path))?;
                fact_frames = Some(u32::from_le_bytes(n));
            }
            b"data" => {
                let Some(mut header) = fmt else {
                    return Err(invalid(path, "the data chunk comes before any fmt chunk"));
                };
                header.data_offset = pos;
                header.declared_data_len = len;
                header.fact_frames = fact_frames;
                return Ok(header);
            }
            _ => {}
        }
        // Past the fmt chunk just read, or LIST, fact, bext, cue and any other chunk skipped;
        // chunks are padded to an even length.
        pos += u64::from(len) + u64::from(len & 1);
    }
}

fn parse_fmt(path: &Path, body: Vec<u8>) -> Result<WavHeader, IngestError> {
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let mut format_tag = u16_at(0);
    if format_tag == TAG_EXTENSIBLE {
        // WAVEFORMATEXTENSIBLE: the real codec is the first two bytes of the sub-format GUID.
        if body.len() < 40 {
            return Err(invalid(
                path,
                format!(
                    "WAVE_FORMAT_EXTENSIBLE fmt chunk is {} bytes, expected 40",
                    body.len()
                ),
            ));
        }
        format_tag = u16_at(24);
    }
    Ok(WavHeader {
        format_tag,
        channels: u16_at(2),
        sample_rate: u32_at(4),
        byte_rate: u32_at(8),
        block_align: u16_at(12),
        bits_per_sample: u16_at(14),
        fmt_body: body,
        data_offset: 0,
        declared_data_len: 0,
        fact_frames: None,
    })
}

impl WavHeader {
    fn seconds(&self, bytes: u64) -> f64 {
        // byte_rate covers block codecs (ADPCM) where a block holds many frames.
        let rate = if self.byte_rate > 0 {
            f64::from(self.byte_rate)
        } else {
            f64::from(self.block_align) * f64::from(self.sample_rate)
        };
        if rate > 0.0 {
            bytes as f64 / rate
        } else {
            0.0
        }
    }

    /// A canonical header (RIFF, fmt, data) describing exactly `data_len` bytes of audio, for the
    /// decoders to read in front of the file's own data bytes.
    fn corrected(&self, data_len: u32) -> Vec<u8> {
        let mut fmt = self.fmt_body.clone();
        if self.format_tag == TAG_PCM && !matches!(fmt.len(), 16 | 18 | 40) {
            // hound accepts only the standard fmt sizes for PCM; the first 16 bytes are the
            // whole PCMWAVEFORMAT, so the rest is padding some writers add.
            fmt.truncate(16);
        }
        if fmt.len() % 2 == 1 {
            fmt.push(0);
        }
        let riff_len = 4 + 8 + fmt.len() as u32 + 8 + data_len;
        let mut out = Vec::with_capacity(12 + 8 + fmt.len() + 8);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&riff_len.to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        out.extend_from_slice(&fmt);
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        out
    }

    fn format_label(&self) -> String {
        match self.format_tag {
            TAG_PCM if self.bits_per_sample == 8 => "wav/pcm_u8".into(),
            TAG_PCM => format!("wav/pcm_s{}le", self.bits_per_sample),
            TAG_FLOAT => format!("wav/pcm_f{}le", self.bits_per_sample),
            TAG_ALAW => "wav/alaw".into(),
            TAG_MULAW => "wav/mulaw".into(),
            TAG_IMA_ADPCM => "wav/adpcm_ima".into(),
            TAG_MS_ADPCM => "wav/adpcm_ms".into(),
            other => format!("wav/0x{other:04x}"),
        }
    }
}

/// Whether the 4 bytes look like a RIFF chunk id (printable ASCII), to tell a real empty data
/// chunk followed by another chunk from an unfinished recording whose length was never written.
fn looks_like_chunk_id(bytes: &[u8]) -> bool {
    bytes.len() == 4
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b' ')
}

/// Decodes a RIFF/WAVE file.
pub(crate) fn decode_wav(
    path: &Path,
    mut file: File,
    file_len: u64,
) -> Result<Decoded, IngestError> {
    let header = read_header(&mut file, path, file_len)?;
    let mut warnings = Vec::new();

    if header.channels == 0 {
        return Err(IngestError::UnsupportedChannels {
            path: path.to_path_buf(),
            channels: 0,
        });
    }
    if !crate::decode::SOURCE_RATES.contains(&header.sample_rate) {
        return Err(invalid(
            path,
            crate::decode::implausible_rate(header.sample_rate),
        ));
    }
    if header.block_align == 0 {
        return Err(invalid(path, "the block alignment is 0 bytes"));
    }
    let decoder = match header.format_tag {
        TAG_PCM => WavDecoder::Hound,
        TAG_FLOAT if header.bits_per_sample == 32 => WavDecoder::Hound,
        TAG_FLOAT | TAG_ALAW | TAG_MULAW | TAG_IMA_ADPCM | TAG_MS_ADPCM => WavDecoder::Symphonia,
        other => {
            return Err(IngestError::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: format!("{} (WAV format tag 0x{other:04x})", codec_name(other)),
            })
        }
    };

    let available = file_len - header.data_offset.min(file_len);
    let declared = u64::from(header.declared_data_len);
    let data_len = if declared == 0
        && available >= 8
        && !looks_like_chunk_id(&peek(&mut file, path, header.data_offset)?)
    {
        warnings.push(format!(
            "the WAV header gives a data length of 0 but {available} bytes follow (an unfinished recording); decoded to the end of the file"
        ));
        available
    } else if header.declared_data_len == u32::MAX {
        // The placeholder streaming writers put before they know the length.
        if available > 0 {
            warnings.push("the WAV header gives no data length (a streamed or unfinished recording); decoded to the end of the file".into());
        }
        available
    } else if declared > available {
        warnings.push(format!(
            "the file is truncated: its header promises {:.2} s of audio but only {:.2} s is present; decoded what is present",
            header.seconds(declared),
            header.seconds(available)
        ));
        available
    } else {
        declared
    };
    // Whole blocks only (a frame for PCM, a block of frames for ADPCM); a partial one is dropped.
    let block = u64::from(header.block_align);
    let data_len = (data_len / block * block).min(u64::from(u32::MAX) / block * block) as u32;
    if data_len == 0 {
        return Err(IngestError::NoAudio {
            path: path.to_path_buf(),
        });
    }

    file.seek(SeekFrom::Start(header.data_offset))
        .map_err(io_err(path))?;
    let stream = Cursor::new(header.corrected(data_len))
        .chain(BufReader::new(file).take(u64::from(data_len)));
    let label = header.format_label();
    let mut decoded = match decoder {
        WavDecoder::Hound => decode_hound(path, stream, &header)?,
        WavDecoder::Symphonia => decode_symphonia(
            path,
            Box::new(symphonia::core::io::ReadOnlySource::new(stream)),
            Some("wav"),
        )?,
    };
    decoded.source_format = label;
    let block_codec = matches!(header.format_tag, TAG_IMA_ADPCM | TAG_MS_ADPCM);
    if let (true, Some(fact), true) = (
        block_codec,
        header.fact_frames,
        u64::from(data_len) == declared,
    ) {
        trim_to_frames(&mut decoded, u64::from(fact));
    }
    warnings.append(&mut decoded.warnings);
    decoded.warnings = warnings;
    Ok(decoded)
}

/// Drops the padding at the end of a block codec's last block, keeping `frames` source frames.
fn trim_to_frames(decoded: &mut Decoded, frames: u64) {
    if frames == 0 || frames >= decoded.source_frames {
        return;
    }
    let rate = u64::from(decoded.source_sample_rate);
    let keep = ((frames * u64::from(callscore_core::SAMPLE_RATE) + rate / 2) / rate) as usize;
    for ch in &mut decoded.channels {
        ch.truncate(keep);
    }
    decoded.source_frames = frames;
}

enum WavDecoder {
    Hound,
    Symphonia,
}

fn peek(file: &mut File, path: &Path, at: u64) -> Result<Vec<u8>, IngestError> {
    let mut buf = [0u8; 4];
    file.seek(SeekFrom::Start(at)).map_err(io_err(path))?;
    file.read_exact(&mut buf).map_err(io_err(path))?;
    Ok(buf.to_vec())
}

fn decode_hound<R: Read>(
    path: &Path,
    stream: R,
    header: &WavHeader,
) -> Result<Decoded, IngestError> {
    let reader = hound::WavReader::new(stream).map_err(|e| map_hound(path, e, header))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let mut collector = Collector::new(path, spec.sample_rate, channels)?;
    let mut block = Vec::with_capacity(PUSH_FRAMES * channels);
    let mut warnings = Vec::new();
    let mut stopped: Option<hound::Error> = None;
    match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            for s in reader.into_samples::<i32>() {
                match s {
                    Ok(v) => block.push(v as f32 * scale),
                    Err(e) => {
                        stopped = Some(e);
                        break;
                    }
                }
                if block.len() == block.capacity() {
                    collector.push_interleaved(&block)?;
                    block.clear();
                }
            }
        }
        hound::SampleFormat::Float => {
            for s in reader.into_samples::<f32>() {
                match s {
                    // The collector replaces NaN and infinities.
                    Ok(v) => block.push(v),
                    Err(e) => {
                        stopped = Some(e);
                        break;
                    }
                }
                if block.len() == block.capacity() {
                    collector.push_interleaved(&block)?;
                    block.clear();
                }
            }
        }
    }
    // A partial frame at the very end (the file changed under us) is dropped.
    block.truncate(block.len() / channels * channels);
    collector.push_interleaved(&block)?;
    if let Some(e) = stopped {
        warnings.push(format!(
            "decoding stopped early ({e}); kept the audio before that point"
        ));
    }
    let mut decoded = collector.finish()?;
    decoded.warnings.extend(warnings);
    Ok(decoded)
}

fn map_hound(path: &Path, e: hound::Error, header: &WavHeader) -> IngestError {
    match e {
        hound::Error::IoError(source) => IngestError::Io {
            path: path.to_path_buf(),
            source,
        },
        hound::Error::Unsupported | hound::Error::TooWide => IngestError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec: format!(
                "{}-bit {}",
                header.bits_per_sample,
                codec_name(header.format_tag)
            ),
        },
        other => invalid(path, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(
        fmt_tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
        data: &[u8],
        declared: Option<u32>,
    ) -> Vec<u8> {
        let block = channels * bits / 8;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(b"LIST");
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(b"abc\0"); // odd chunk plus its pad byte
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&fmt_tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        v.extend_from_slice(&block.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&declared.unwrap_or(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn header_walker_skips_odd_chunks_and_finds_data() {
        let bytes = wav_bytes(TAG_MULAW, 2, 8000, 8, &[0xFF; 16], None);
        let len = bytes.len() as u64;
        let h = read_header(&mut Cursor::new(bytes), Path::new("x.wav"), len).unwrap();
        assert_eq!(
            (h.format_tag, h.channels, h.sample_rate, h.block_align),
            (TAG_MULAW, 2, 8000, 2)
        );
        assert_eq!(h.declared_data_len, 16);
        assert_eq!(h.data_offset, len - 16);
    }

    #[test]
    fn corrected_header_round_trips_through_the_walker() {
        let bytes = wav_bytes(TAG_PCM, 1, 8000, 16, &[0; 100], Some(u32::MAX));
        let len = bytes.len() as u64;
        let h = read_header(&mut Cursor::new(bytes), Path::new("x.wav"), len).unwrap();
        let fixed = h.corrected(100);
        let again = read_header(
            &mut Cursor::new(fixed.clone()),
            Path::new("x.wav"),
            fixed.len() as u64 + 100,
        )
        .unwrap();
        assert_eq!(again.declared_data_len, 100);
        assert_eq!(again.data_offset, fixed.len() as u64);
    }

    #[test]
    fn a_header_cut_short_is_a_truncated_header_error() {
        let bytes = wav_bytes(TAG_PCM, 1, 8000, 16, &[0; 10], None);
        for cut in [12usize, 20, 30, 40] {
            let b = bytes[..cut].to_vec();
            let err =
                read_header(&mut Cursor::new(b), Path::new("cut.wav"), cut as u64).unwrap_err();
            assert!(
                matches!(err, IngestError::TruncatedHeader { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn extensible_resolves_to_its_sub_format() {
        let mut body = vec![0u8; 40];
        body[0..2].copy_from_slice(&TAG_EXTENSIBLE.to_le_bytes());
        body[24..26].copy_from_slice(&TAG_FLOAT.to_le_bytes());
        assert_eq!(
            parse_fmt(Path::new("x.wav"), body).unwrap().format_tag,
            TAG_FLOAT
        );
    }

    #[test]
    fn codec_names_cover_what_call_recorders_write() {
        assert_eq!(codec_name(0x0031), "GSM 6.10");
        assert_eq!(codec_name(TAG_MULAW), "G.711 mu-law");
        assert_eq!(codec_name(0x5A5A), "unknown codec");
    }
}

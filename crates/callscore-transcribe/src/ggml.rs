//! whisper.cpp's ggml model file: writer (for the converter) and reader (to check any model file,
//! ours or a user's `ggml-base.en.bin`, before handing it to whisper.cpp, whose loader gives
//! vague errors on bad files).
//!
//! Layout (all little-endian), as `whisper_model_load` in whisper.cpp reads it:
//! `u32 magic "ggml"`, 11 × `i32` hparams, `i32 n_mel, i32 n_fft, n_mel×n_fft f32` filterbank,
//! `i32 n_tokens, n_tokens × (u32 len, bytes)` vocabulary, then tensors until end of file, each
//! `i32 n_dims, i32 name_len, i32 type, n_dims × i32 ne (innermost first), name, data`.
//! Hand-written: the ggml crates on crates.io read the newer GGUF format, not this one.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// `"ggml"` read as a little-endian u32.
pub const GGML_MAGIC: u32 = 0x6767_6d6c;
/// whisper.cpp stores `ftype + GGML_QNT_VERSION * 1000` for quantized models.
pub const QNT_VERSION_FACTOR: i32 = 1000;
/// The quantization version ggml writes today.
pub const QNT_VERSION: i32 = 2;

/// Model dimensions, in the order whisper.cpp reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    /// ggml file type (0 f32, 1 f16, 7 q8_0 …), plus 1000 × quantization version.
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    /// The tensor type of the big weight matrices, from `ftype` (ggml's `ggml_ftype_to_ggml_type`).
    pub fn weight_type(&self) -> Option<GgmlType> {
        Some(match self.ftype % QNT_VERSION_FACTOR {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            7 => GgmlType::Q8_0,
            8 => GgmlType::Q5_0,
            9 => GgmlType::Q5_1,
            10 => GgmlType::Q2K,
            11 => GgmlType::Q3K,
            12 => GgmlType::Q4K,
            13 => GgmlType::Q5K,
            14 => GgmlType::Q6K,
            _ => return None,
        })
    }

    /// Whisper's size names, as whisper.cpp derives them from the layer count.
    pub fn size_name(&self) -> &'static str {
        match self.n_audio_layer {
            4 => "tiny",
            6 => "base",
            12 => "small",
            24 => "medium",
            32 => "large",
            _ => "unknown",
        }
    }
}

/// Tensor element types that whisper model files use (ggml's `ggml_type` numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
}

impl GgmlType {
    pub fn code(self) -> i32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q5_0 => 6,
            GgmlType::Q5_1 => 7,
            GgmlType::Q8_0 => 8,
            GgmlType::Q2K => 10,
            GgmlType::Q3K => 11,
            GgmlType::Q4K => 12,
            GgmlType::Q5K => 13,
            GgmlType::Q6K => 14,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        [
            GgmlType::F32,
            GgmlType::F16,
            GgmlType::Q4_0,
            GgmlType::Q4_1,
            GgmlType::Q5_0,
            GgmlType::Q5_1,
            GgmlType::Q8_0,
            GgmlType::Q2K,
            GgmlType::Q3K,
            GgmlType::Q4K,
            GgmlType::Q5K,
            GgmlType::Q6K,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }

    /// (elements per block, bytes per block), as in ggml's type traits.
    fn block(self) -> (usize, usize) {
        match self {
            GgmlType::F32 => (1, 4),
            GgmlType::F16 => (1, 2),
            GgmlType::Q4_0 => (32, 18),
            GgmlType::Q4_1 => (32, 20),
            GgmlType::Q5_0 => (32, 22),
            GgmlType::Q5_1 => (32, 24),
            GgmlType::Q8_0 => (32, 34),
            GgmlType::Q2K => (256, 84),
            GgmlType::Q3K => (256, 110),
            GgmlType::Q4K => (256, 144),
            GgmlType::Q5K => (256, 176),
            GgmlType::Q6K => (256, 210),
        }
    }

    /// Bytes that `n` elements take, or None when `n` is not a whole number of blocks.
    pub fn bytes_for(self, n: usize) -> Option<usize> {
        let (per_block, bytes) = self.block();
        if n % per_block != 0 {
            return None;
        }
        (n / per_block).checked_mul(bytes)
    }
}

/// Writes the file header: magic, hparams, mel filterbank, vocabulary.
pub fn write_header(
    w: &mut impl Write,
    h: &Hparams,
    n_fft_bins: usize,
    filters: &[f32],
    tokens: &[Vec<u8>],
) -> io::Result<()> {
    w.write_all(&GGML_MAGIC.to_le_bytes())?;
    for v in h.fields() {
        w.write_all(&v.to_le_bytes())?;
    }
    w.write_all(&h.n_mels.to_le_bytes())?;
    w.write_all(&(n_fft_bins as i32).to_le_bytes())?;
    for f in filters {
        w.write_all(&f.to_le_bytes())?;
    }
    w.write_all(&(tokens.len() as i32).to_le_bytes())?;
    for t in tokens {
        w.write_all(&(t.len() as u32).to_le_bytes())?;
        w.write_all(t)?;
    }
    Ok(())
}

/// Writes one tensor record. `ne` is in ggml order (innermost dimension first).
pub fn write_tensor(
    w: &mut impl Write,
    name: &str,
    ne: &[usize],
    ty: GgmlType,
    data: &[u8],
) -> io::Result<()> {
    w.write_all(&(ne.len() as i32).to_le_bytes())?;
    w.write_all(&(name.len() as i32).to_le_bytes())?;
    w.write_all(&ty.code().to_le_bytes())?;
    for &d in ne {
        w.write_all(&(d as i32).to_le_bytes())?;
    }
    w.write_all(name.as_bytes())?;
    w.write_all(data)
}

/// One tensor record as found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in ggml order (innermost first).
    pub ne: Vec<usize>,
    pub ty: GgmlType,
    /// Byte offset of the data in the file.
    pub offset: u64,
    pub n_bytes: u64,
}

/// What a model file holds, read without loading the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct GgmlModelInfo {
    pub hparams: Hparams,
    pub n_mel: usize,
    pub n_fft_bins: usize,
    /// The vocabulary as stored (whisper.cpp adds the special tokens past it itself).
    pub tokens: Vec<Vec<u8>>,
    pub tensors: Vec<TensorInfo>,
    pub file_size: u64,
}

/// Why a file is not a usable whisper.cpp model.
#[derive(Debug, thiserror::Error)]
pub enum GgmlError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("not a whisper.cpp ggml model (magic {found:#010x}, expected {GGML_MAGIC:#010x} \"ggml\"; GGUF and PyTorch files need converting)")]
    Magic { found: u32 },
    #[error("file ends at byte {at} inside {what} (truncated download?)")]
    Truncated { what: String, at: u64 },
    #[error("implausible {what}: {value}")]
    Implausible { what: &'static str, value: i64 },
    #[error("tensor '{name}' has unknown type code {code}")]
    TensorType { name: String, code: i32 },
    #[error("tensor '{name}' is not whole blocks of {ty:?}")]
    Blocks { name: String, ty: GgmlType },
    #[error("unsupported ftype {0}")]
    Ftype(i32),
    #[error("tensor '{name}': {problem}")]
    Tensor { name: String, problem: String },
    #[error("missing tensor '{0}'")]
    Missing(String),
}

struct Reader<R> {
    r: R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Reader<R> {
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgmlError> {
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(GgmlError::Truncated {
                what: what.to_owned(),
                at: self.len,
            }),
            Err(e) => Err(e.into()),
        }
    }
    fn i32(&mut self, what: &str) -> Result<i32, GgmlError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(i32::from_le_bytes(b))
    }
    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgmlError> {
        if self.pos + n > self.len {
            return Err(GgmlError::Truncated {
                what: what.to_owned(),
                at: self.len,
            });
        }
        self.r.seek(SeekFrom::Current(n as i64))?;
        self.pos += n;
        Ok(())
    }
    fn count(&mut self, what: &'static str, max: i64) -> Result<usize, GgmlError> {
        let v = self.i32(what)? as i64;
        if v < 0 || v > max {
            return Err(GgmlError::Implausible { what, value: v });
        }
        Ok(v as usize)
    }
}

impl GgmlModelInfo {
    pub fn from_path(path: &Path) -> Result<Self, GgmlError> {
        let f = std::fs::File::open(path)?;
        Self::read(io::BufReader::new(f))
    }

    /// Reads the header, vocabulary and tensor table, seeking over the tensor data.
    pub fn read<R: Read + Seek>(mut r: R) -> Result<Self, GgmlError> {
        let len = r.seek(SeekFrom::End(0))?;
        r.seek(SeekFrom::Start(0))?;
        let mut rd = Reader { r, pos: 0, len };
        let mut b4 = [0u8; 4];
        rd.exact(&mut b4, "the magic number")?;
        let magic = u32::from_le_bytes(b4);
        if magic != GGML_MAGIC {
            return Err(GgmlError::Magic { found: magic });
        }
        let mut f = [0i32; 11];
        for v in &mut f {
            *v = rd.i32("the hyperparameters")?;
        }
        let hparams = Hparams {
            n_vocab: f[0],
            n_audio_ctx: f[1],
            n_audio_state: f[2],
            n_audio_head: f[3],
            n_audio_layer: f[4],
            n_text_ctx: f[5],
            n_text_state: f[6],
            n_text_head: f[7],
            n_text_layer: f[8],
            n_mels: f[9],
            ftype: f[10],
        };
        for (what, v) in [
            ("n_vocab", hparams.n_vocab),
            ("n_audio_ctx", hparams.n_audio_ctx),
            ("n_audio_state", hparams.n_audio_state),
            ("n_audio_head", hparams.n_audio_head),
            ("n_audio_layer", hparams.n_audio_layer),
            ("n_text_ctx", hparams.n_text_ctx),
            ("n_text_state", hparams.n_text_state),
            ("n_text_head", hparams.n_text_head),
            ("n_text_layer", hparams.n_text_layer),
            ("n_mels", hparams.n_mels),
        ] {
            if !(1..=1_000_000).contains(&v) {
                return Err(GgmlError::Implausible {
                    what,
                    value: v as i64,
                });
            }
        }
        if hparams.weight_type().is_none() {
            return Err(GgmlError::Ftype(hparams.ftype));
        }
        let n_mel = rd.count("mel filter count", 1024)?;
        let n_fft_bins = rd.count("mel filter width", 1 << 16)?;
        rd.skip((n_mel * n_fft_bins * 4) as u64, "the mel filterbank")?;
        let n_tokens = rd.count("vocabulary size", 1 << 20)?;
        let mut tokens = Vec::with_capacity(n_tokens);
        for i in 0..n_tokens {
            let n = rd.count("token length", 1 << 16)?;
            let mut t = vec![0u8; n];
            rd.exact(&mut t, &format!("vocabulary token {i}"))?;
            tokens.push(t);
        }
        let mut tensors = Vec::new();
        while rd.pos < len {
            let what = format!("the record of tensor {}", tensors.len());
            let n_dims = rd.count("tensor rank", 4)?;
            let name_len = rd.count("tensor name length", 4096)?;
            let code = rd.i32(&what)?;
            let mut ne = Vec::with_capacity(n_dims);
            for _ in 0..n_dims {
                ne.push(rd.count("tensor dimension", 1 << 28)?);
            }
            let mut name = vec![0u8; name_len];
            rd.exact(&mut name, &what)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            let ty = GgmlType::from_code(code).ok_or_else(|| GgmlError::TensorType {
                name: name.clone(),
                code,
            })?;
            // Checked: four dimensions of up to 2^28 overflow.
            let elements = ne
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| GgmlError::Tensor {
                    name: name.clone(),
                    problem: format!("dimensions {ne:?} are too large to be real (corrupt file?)"),
                })?;
            let n_bytes = ty.bytes_for(elements).ok_or_else(|| GgmlError::Blocks {
                name: name.clone(),
                ty,
            })? as u64;
            let offset = rd.pos;
            rd.skip(n_bytes, &format!("the data of tensor '{name}'"))?;
            tensors.push(TensorInfo {
                name,
                ne,
                ty,
                offset,
                n_bytes,
            });
        }
        Ok(GgmlModelInfo {
            hparams,
            n_mel,
            n_fft_bins,
            tokens,
            tensors,
            file_size: len,
        })
    }

    /// Checks the tensors against what whisper.cpp's loader will ask for: every tensor present
    /// once, with the shape and type the hparams imply, and nothing else.
    pub fn validate(&self) -> Result<(), GgmlError> {
        // Every layer has tensors of its own, so a file holding fewer tensors than layers is
        // wrong before the expected list is built: hparams of a million layers in a 100-byte
        // file took minutes and gigabytes to list. This bounds the work by the file's size.
        let layers = i64::from(self.hparams.n_audio_layer) + i64::from(self.hparams.n_text_layer);
        if layers > self.tensors.len() as i64 {
            return Err(GgmlError::Implausible {
                what: "layer count (more layers than tensors in the file)",
                value: layers,
            });
        }
        let expected = expected_tensors(&self.hparams)?;
        if self.n_mel != self.hparams.n_mels as usize {
            return Err(GgmlError::Implausible {
                what: "mel filter count (differs from n_mels)",
                value: self.n_mel as i64,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.tensors {
            let Some(e) = expected.iter().find(|e| e.name == t.name) else {
                return Err(GgmlError::Tensor {
                    name: t.name.clone(),
                    problem: "is not a tensor whisper.cpp knows".into(),
                });
            };
            if !seen.insert(t.name.as_str()) {
                return Err(GgmlError::Tensor {
                    name: t.name.clone(),
                    problem: "appears twice".into(),
                });
            }
            if t.ne != e.ne {
                return Err(GgmlError::Tensor {
                    name: t.name.clone(),
                    problem: format!("has shape {:?}, the hparams imply {:?}", t.ne, e.ne),
                });
            }
            if t.ty != e.ty {
                return Err(GgmlError::Tensor {
                    name: t.name.clone(),
                    problem: format!("is {:?}, whisper.cpp expects {:?}", t.ty, e.ty),
                });
            }
        }
        if let Some(e) = expected.iter().find(|e| !seen.contains(e.name.as_str())) {
            return Err(GgmlError::Missing(e.name.clone()));
        }
        Ok(())
    }
}

/// A tensor whisper.cpp's loader creates, with the shape and type it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTensor {
    pub name: String,
    pub ne: Vec<usize>,
    pub ty: GgmlType,
}

/// Every tensor `whisper_model_load` creates for these hparams (167 for a 4-layer model).
pub fn expected_tensors(h: &Hparams) -> Result<Vec<ExpectedTensor>, GgmlError> {
    let wtype = h.weight_type().ok_or(GgmlError::Ftype(h.ftype))?;
    // Convolutions stay f16 unless the whole model is f32.
    let vtype = if wtype == GgmlType::F32 {
        GgmlType::F32
    } else {
        GgmlType::F16
    };
    let f32t = GgmlType::F32;
    let (a, t) = (h.n_audio_state as usize, h.n_text_state as usize);
    let mut out = Vec::new();
    let mut add = |name: String, ne: &[usize], ty| {
        out.push(ExpectedTensor {
            name,
            ne: ne.to_vec(),
            ty,
        })
    };

    add(
        "encoder.positional_embedding".into(),
        &[a, h.n_audio_ctx as usize],
        f32t,
    );
    add(
        "encoder.conv1.weight".into(),
        &[3, h.n_mels as usize, a],
        vtype,
    );
    add("encoder.conv1.bias".into(), &[1, a], f32t);
    add("encoder.conv2.weight".into(), &[3, a, a], vtype);
    add("encoder.conv2.bias".into(), &[1, a], f32t);
    add("encoder.ln_post.weight".into(), &[a], f32t);
    add("encoder.ln_post.bias".into(), &[a], f32t);
    for i in 0..h.n_audio_layer {
        let p = format!("encoder.blocks.{i}");
        block_tensors(&mut add, &p, "attn", a, wtype);
        mlp_tensors(&mut add, &p, a, wtype);
    }
    add(
        "decoder.positional_embedding".into(),
        &[t, h.n_text_ctx as usize],
        f32t,
    );
    add(
        "decoder.token_embedding.weight".into(),
        &[t, h.n_vocab as usize],
        wtype,
    );
    add("decoder.ln.weight".into(), &[t], f32t);
    add("decoder.ln.bias".into(), &[t], f32t);
    for i in 0..h.n_text_layer {
        let p = format!("decoder.blocks.{i}");
        block_tensors(&mut add, &p, "attn", t, wtype);
        block_tensors(&mut add, &p, "cross_attn", t, wtype);
        mlp_tensors(&mut add, &p, t, wtype);
    }
    Ok(out)
}

fn block_tensors(
    add: &mut impl FnMut(String, &[usize], GgmlType),
    prefix: &str,
    attn: &str,
    n: usize,
    wtype: GgmlType,
) {
    add(format!("{prefix}.{attn}_ln.weight"), &[n], GgmlType::F32);
    add(format!("{prefix}.{attn}_ln.bias"), &[n], GgmlType::F32);
    add(format!("{prefix}.{attn}.query.weight"), &[n, n], wtype);
    add(format!("{prefix}.{attn}.query.bias"), &[n], GgmlType::F32);
    // whisper.cpp's key projections have no bias.
    add(format!("{prefix}.{attn}.key.weight"), &[n, n], wtype);
    add(format!("{prefix}.{attn}.value.weight"), &[n, n], wtype);
    add(format!("{prefix}.{attn}.value.bias"), &[n], GgmlType::F32);
    add(format!("{prefix}.{attn}.out.weight"), &[n, n], wtype);
    add(format!("{prefix}.{attn}.out.bias"), &[n], GgmlType::F32);
}

fn mlp_tensors(
    add: &mut impl FnMut(String, &[usize], GgmlType),
    prefix: &str,
    n: usize,
    wtype: GgmlType,
) {
    add(format!("{prefix}.mlp_ln.weight"), &[n], GgmlType::F32);
    add(format!("{prefix}.mlp_ln.bias"), &[n], GgmlType::F32);
    add(format!("{prefix}.mlp.0.weight"), &[n, 4 * n], wtype);
    add(format!("{prefix}.mlp.0.bias"), &[4 * n], GgmlType::F32);
    add(format!("{prefix}.mlp.2.weight"), &[4 * n, n], wtype);
    add(format!("{prefix}.mlp.2.bias"), &[n], GgmlType::F32);
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny_hparams() -> Hparams {
        Hparams {
            n_vocab: 51864,
            n_audio_ctx: 1500,
            n_audio_state: 384,
            n_audio_head: 6,
            n_audio_layer: 4,
            n_text_ctx: 448,
            n_text_state: 384,
            n_text_head: 6,
            n_text_layer: 4,
            n_mels: 80,
            ftype: 1,
        }
    }

    #[test]
    fn tiny_model_has_167_tensors() {
        let e = expected_tensors(&tiny_hparams()).unwrap();
        assert_eq!(e.len(), 167);
        let names: std::collections::HashSet<_> = e.iter().map(|t| &t.name).collect();
        assert_eq!(names.len(), 167, "names are unique");
        assert!(!names.iter().any(|n| n.contains("key.bias")));
    }

    #[test]
    fn block_sizes_follow_ggml() {
        assert_eq!(
            GgmlType::Q8_0.bytes_for(384 * 384),
            Some(384 * 384 / 32 * 34)
        );
        assert_eq!(GgmlType::F16.bytes_for(3), Some(6));
        assert_eq!(GgmlType::Q8_0.bytes_for(33), None);
        assert_eq!(GgmlType::from_code(8), Some(GgmlType::Q8_0));
        assert_eq!(GgmlType::from_code(4), None);
    }

    fn small_hparams() -> Hparams {
        Hparams {
            n_vocab: 4,
            n_audio_ctx: 2,
            n_audio_state: 32,
            n_audio_head: 1,
            n_audio_layer: 1,
            n_text_ctx: 2,
            n_text_state: 32,
            n_text_head: 1,
            n_text_layer: 1,
            n_mels: 2,
            ftype: 1,
        }
    }

    fn write_small(skip: Option<&str>, reshape: Option<&str>) -> Vec<u8> {
        let h = small_hparams();
        let mut out = Vec::new();
        write_header(&mut out, &h, 3, &[0.5; 6], &[b"a".to_vec(), b" b".to_vec()]).unwrap();
        for t in expected_tensors(&h).unwrap() {
            if Some(t.name.as_str()) == skip {
                continue;
            }
            let mut ne = t.ne.clone();
            if Some(t.name.as_str()) == reshape {
                ne.reverse();
                ne.push(1);
            }
            let n = t.ty.bytes_for(t.ne.iter().product()).unwrap();
            write_tensor(&mut out, &t.name, &ne, t.ty, &vec![0u8; n]).unwrap();
        }
        out
    }

    #[test]
    fn written_file_reads_back_and_validates() {
        let bytes = write_small(None, None);
        let info = GgmlModelInfo::read(io::Cursor::new(&bytes)).unwrap();
        assert_eq!(info.hparams, small_hparams());
        assert_eq!((info.n_mel, info.n_fft_bins), (2, 3));
        assert_eq!(info.tokens, vec![b"a".to_vec(), b" b".to_vec()]);
        assert_eq!(info.tensors.len(), 7 + 15 + 4 + 24);
        assert_eq!(info.file_size, bytes.len() as u64);
        info.validate().unwrap();
    }

    #[test]
    fn validation_names_the_missing_or_misshapen_tensor() {
        let bytes = write_small(Some("decoder.ln.bias"), None);
        let err = GgmlModelInfo::read(io::Cursor::new(&bytes))
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("decoder.ln.bias"), "{err}");

        let bytes = write_small(None, Some("encoder.conv1.weight"));
        let err = GgmlModelInfo::read(io::Cursor::new(&bytes))
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(
            err.to_string().contains("encoder.conv1.weight") && err.to_string().contains("shape"),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_foreign_files_are_rejected() {
        let bytes = write_small(None, None);
        let err = GgmlModelInfo::read(io::Cursor::new(&bytes[..bytes.len() - 10])).unwrap_err();
        assert!(matches!(err, GgmlError::Truncated { .. }), "{err}");

        let err = GgmlModelInfo::read(io::Cursor::new(b"GGUF\x03\0\0\0rest".to_vec())).unwrap_err();
        assert!(matches!(err, GgmlError::Magic { .. }), "{err}");

        let err = GgmlModelInfo::read(io::Cursor::new(Vec::new())).unwrap_err();
        assert!(matches!(err, GgmlError::Truncated { .. }), "{err}");
    }
}

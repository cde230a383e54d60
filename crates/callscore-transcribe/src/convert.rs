//! CTranslate2 Whisper model → whisper.cpp ggml model.
//!
//! The mapping, checked against whisper.cpp's loader:
//! - CTranslate2 fuses self-attention q/k/v into `…/self_attention/linear_0` (rows q, k, v) and
//!   cross-attention k/v into `…/attention/linear_1` (rows k, v); whisper.cpp wants them apart.
//! - whisper.cpp's key projections have no bias; CTranslate2 stores zeros there, which we check
//!   and drop.
//! - 1-D tensors, the conv biases (as n×1) and both positional embeddings are f32; every other
//!   tensor is f16 (or q8_0 when asked).
//! - The mel filterbank is computed ([`crate::mel`]); the vocabulary is vocabulary.txt up to and
//!   including `<|endoftext|>`, decoded from GPT-2's byte-level alphabet to raw bytes (whisper.cpp
//!   adds the other special tokens itself).

use crate::ct2::{Ct2Dtype, Ct2Error, Ct2Model, Ct2Variable};
use crate::ggml::{self, GgmlType, Hparams, QNT_VERSION, QNT_VERSION_FACTOR};
use crate::mel;
use std::io::{self, Write};

/// Weight type of the big matrices in the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quantization {
    /// Half precision, as the published weights are: no loss.
    #[default]
    F16,
    /// 8-bit blocks (ggml q8_0): about half the size and faster on CPUs, with a tiny loss.
    Q8_0,
    /// 5-bit blocks with a scale and a minimum (ggml q5_1): about a third of f16's size.
    Q5_1,
}

impl Quantization {
    pub fn as_str(self) -> &'static str {
        match self {
            Quantization::F16 => "f16",
            Quantization::Q8_0 => "q8_0",
            Quantization::Q5_1 => "q5_1",
        }
    }
}

impl std::str::FromStr for Quantization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "f16" => Ok(Quantization::F16),
            "q8_0" | "q8" => Ok(Quantization::Q8_0),
            "q5_1" => Ok(Quantization::Q5_1),
            other => Err(format!(
                "unknown quantization '{other}' (expected f16, q8_0 or q5_1)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("model.bin: {0}")]
    Ct2(#[from] Ct2Error),
    #[error("model.bin is a '{0}' model, not a Whisper model (WhisperSpec)")]
    NotWhisper(String),
    #[error("model.bin has no variable '{0}'")]
    Missing(String),
    #[error("model.bin: '{name}' has shape {shape:?}, expected {expected}")]
    Shape {
        name: String,
        shape: Vec<usize>,
        expected: String,
    },
    #[error("model.bin: '{name}' is {dtype:?}; only float16/float32/bfloat16 models convert (int8-quantized CTranslate2 models do not)")]
    Dtype { name: String, dtype: Ct2Dtype },
    #[error("model.bin: the key bias in '{0}' is not zero; whisper.cpp has no key bias, so this is not a Whisper model as expected")]
    KeyBias(String),
    #[error("vocabulary.txt: {0}")]
    Vocabulary(String),
    #[error("writing the converted model: {0}")]
    Write(#[from] io::Error),
}

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertSummary {
    pub hparams: Hparams,
    pub tensors: usize,
    pub vocabulary: usize,
}

/// Converts `model.bin` + `vocabulary.txt` of a CTranslate2 Whisper model into a ggml file.
pub fn convert(
    model_bin: &[u8],
    vocabulary_txt: &str,
    quant: Quantization,
    out: &mut impl Write,
) -> Result<ConvertSummary, ConvertError> {
    let model = Ct2Model::parse(model_bin)?;
    if model.spec != "WhisperSpec" {
        return Err(ConvertError::NotWhisper(model.spec));
    }
    let tokens = vocabulary_bytes(vocabulary_txt)?;
    let hparams = hparams_of(&model, quant)?;
    let c = Converter {
        model: &model,
        quant,
    };

    let filters = mel::mel_filterbank(
        hparams.n_mels as usize,
        mel::WHISPER_N_FFT,
        mel::WHISPER_SAMPLE_RATE,
    );
    ggml::write_header(out, &hparams, mel::WHISPER_N_FFT / 2 + 1, &filters, &tokens)?;

    let mut n = 0usize;
    let mut emit =
        |name: &str, ne: &[usize], kind: Kind, values: Vec<f32>| -> Result<(), ConvertError> {
            let (ty, bytes) = c.encode(kind, ne, &values);
            ggml::write_tensor(out, name, ne, ty, &bytes)?;
            n += 1;
            Ok(())
        };

    let a = hparams.n_audio_state as usize;
    let t = hparams.n_text_state as usize;

    // Encoder.
    emit(
        "encoder.positional_embedding",
        &[a, hparams.n_audio_ctx as usize],
        Kind::F32,
        c.values("encoder/position_encodings/encodings")?,
    )?;
    for (i, conv) in ["conv1", "conv2"].iter().enumerate() {
        let w = c.var(&format!("encoder/{conv}/weight"))?;
        let n_in = if i == 0 { hparams.n_mels as usize } else { a };
        c.expect_shape(w, &[a, n_in, 3])?;
        emit(
            &format!("encoder.{conv}.weight"),
            &[3, n_in, a],
            Kind::Conv,
            c.values(&w.name)?,
        )?;
        emit(
            &format!("encoder.{conv}.bias"),
            &[1, a],
            Kind::F32,
            c.values_shaped(&format!("encoder/{conv}/bias"), &[a])?,
        )?;
    }
    emit(
        "encoder.ln_post.weight",
        &[a],
        Kind::F32,
        c.values_shaped("encoder/layer_norm/gamma", &[a])?,
    )?;
    emit(
        "encoder.ln_post.bias",
        &[a],
        Kind::F32,
        c.values_shaped("encoder/layer_norm/beta", &[a])?,
    )?;
    for l in 0..hparams.n_audio_layer {
        let src = format!("encoder/layer_{l}");
        let dst = format!("encoder.blocks.{l}");
        c.self_attention(
            &mut emit,
            &format!("{src}/self_attention"),
            &format!("{dst}.attn"),
            a,
        )?;
        c.mlp(&mut emit, &format!("{src}/ffn"), &dst, a)?;
    }

    // Decoder.
    emit(
        "decoder.positional_embedding",
        &[t, hparams.n_text_ctx as usize],
        Kind::F32,
        c.values("decoder/position_encodings/encodings")?,
    )?;
    emit(
        "decoder.token_embedding.weight",
        &[t, hparams.n_vocab as usize],
        Kind::Weight,
        c.values("decoder/embeddings/weight")?,
    )?;
    emit(
        "decoder.ln.weight",
        &[t],
        Kind::F32,
        c.values_shaped("decoder/layer_norm/gamma", &[t])?,
    )?;
    emit(
        "decoder.ln.bias",
        &[t],
        Kind::F32,
        c.values_shaped("decoder/layer_norm/beta", &[t])?,
    )?;
    for l in 0..hparams.n_text_layer {
        let src = format!("decoder/layer_{l}");
        let dst = format!("decoder.blocks.{l}");
        c.self_attention(
            &mut emit,
            &format!("{src}/self_attention"),
            &format!("{dst}.attn"),
            t,
        )?;
        c.cross_attention(
            &mut emit,
            &format!("{src}/attention"),
            &format!("{dst}.cross_attn"),
            t,
        )?;
        c.mlp(&mut emit, &format!("{src}/ffn"), &dst, t)?;
    }
    out.flush()?;
    Ok(ConvertSummary {
        hparams,
        tensors: n,
        vocabulary: tokens.len(),
    })
}

/// How a tensor is stored in the output.
#[derive(Clone, Copy)]
enum Kind {
    /// Always f32: norms, biases, positional embeddings.
    F32,
    /// Convolution kernels: f16 (whisper.cpp never quantizes them).
    Conv,
    /// Matrices: f16 or the requested quantization.
    Weight,
}

struct Converter<'a> {
    model: &'a Ct2Model,
    quant: Quantization,
}

impl Converter<'_> {
    fn var(&self, name: &str) -> Result<&Ct2Variable, ConvertError> {
        self.model
            .get(name)
            .ok_or_else(|| ConvertError::Missing(name.to_owned()))
    }

    fn values(&self, name: &str) -> Result<Vec<f32>, ConvertError> {
        let v = self.var(name)?;
        v.to_f32().ok_or_else(|| ConvertError::Dtype {
            name: name.to_owned(),
            dtype: v.dtype,
        })
    }

    fn values_shaped(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ConvertError> {
        self.expect_shape(self.var(name)?, shape)?;
        self.values(name)
    }

    fn expect_shape(&self, v: &Ct2Variable, shape: &[usize]) -> Result<(), ConvertError> {
        if v.shape != shape {
            return Err(ConvertError::Shape {
                name: v.name.clone(),
                shape: v.shape.clone(),
                expected: format!("{shape:?}"),
            });
        }
        Ok(())
    }

    fn encode(&self, kind: Kind, ne: &[usize], values: &[f32]) -> (GgmlType, Vec<u8>) {
        match (kind, self.quant) {
            (Kind::F32, _) => (
                GgmlType::F32,
                values.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            // Quantized blocks run along rows, so a row must be whole blocks; otherwise keep f16.
            (Kind::Weight, Quantization::Q8_0) if ne[0] % 32 == 0 => {
                (GgmlType::Q8_0, quantize_q8_0(values))
            }
            (Kind::Weight, Quantization::Q5_1) if ne[0] % 32 == 0 => {
                (GgmlType::Q5_1, quantize_q5_1(values))
            }
            _ => (
                GgmlType::F16,
                values
                    .iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect(),
            ),
        }
    }

    /// `…/linear_0` holds q, k and v stacked by rows; `…/linear_1` is the output projection.
    fn self_attention(
        &self,
        emit: &mut impl FnMut(&str, &[usize], Kind, Vec<f32>) -> Result<(), ConvertError>,
        src: &str,
        dst: &str,
        n: usize,
    ) -> Result<(), ConvertError> {
        self.layer_norm(emit, &format!("{src}/layer_norm"), &format!("{dst}_ln"), n)?;
        let w = self.values_shaped(&format!("{src}/linear_0/weight"), &[3 * n, n])?;
        let b_name = format!("{src}/linear_0/bias");
        let b = self.values_shaped(&b_name, &[3 * n])?;
        let (wq, wk, wv) = (&w[..n * n], &w[n * n..2 * n * n], &w[2 * n * n..]);
        let (bq, bk, bv) = (&b[..n], &b[n..2 * n], &b[2 * n..]);
        if bk.iter().any(|&x| x != 0.0) {
            return Err(ConvertError::KeyBias(b_name));
        }
        emit(
            &format!("{dst}.query.weight"),
            &[n, n],
            Kind::Weight,
            wq.to_vec(),
        )?;
        emit(&format!("{dst}.query.bias"), &[n], Kind::F32, bq.to_vec())?;
        emit(
            &format!("{dst}.key.weight"),
            &[n, n],
            Kind::Weight,
            wk.to_vec(),
        )?;
        emit(
            &format!("{dst}.value.weight"),
            &[n, n],
            Kind::Weight,
            wv.to_vec(),
        )?;
        emit(&format!("{dst}.value.bias"), &[n], Kind::F32, bv.to_vec())?;
        self.linear(
            emit,
            &format!("{src}/linear_1"),
            &format!("{dst}.out"),
            [n, n],
        )
    }

    /// `…/linear_0` is the query, `…/linear_1` holds k and v stacked, `…/linear_2` the output.
    fn cross_attention(
        &self,
        emit: &mut impl FnMut(&str, &[usize], Kind, Vec<f32>) -> Result<(), ConvertError>,
        src: &str,
        dst: &str,
        n: usize,
    ) -> Result<(), ConvertError> {
        self.layer_norm(emit, &format!("{src}/layer_norm"), &format!("{dst}_ln"), n)?;
        self.linear(
            emit,
            &format!("{src}/linear_0"),
            &format!("{dst}.query"),
            [n, n],
        )?;
        let w = self.values_shaped(&format!("{src}/linear_1/weight"), &[2 * n, n])?;
        let b_name = format!("{src}/linear_1/bias");
        let b = self.values_shaped(&b_name, &[2 * n])?;
        if b[..n].iter().any(|&x| x != 0.0) {
            return Err(ConvertError::KeyBias(b_name));
        }
        emit(
            &format!("{dst}.key.weight"),
            &[n, n],
            Kind::Weight,
            w[..n * n].to_vec(),
        )?;
        emit(
            &format!("{dst}.value.weight"),
            &[n, n],
            Kind::Weight,
            w[n * n..].to_vec(),
        )?;
        emit(
            &format!("{dst}.value.bias"),
            &[n],
            Kind::F32,
            b[n..].to_vec(),
        )?;
        self.linear(
            emit,
            &format!("{src}/linear_2"),
            &format!("{dst}.out"),
            [n, n],
        )
    }

    /// `…/linear_0` expands to 4n, `…/linear_1` projects back (PyTorch's mlp.0 and mlp.2).
    fn mlp(
        &self,
        emit: &mut impl FnMut(&str, &[usize], Kind, Vec<f32>) -> Result<(), ConvertError>,
        src: &str,
        dst: &str,
        n: usize,
    ) -> Result<(), ConvertError> {
        self.layer_norm(
            emit,
            &format!("{src}/layer_norm"),
            &format!("{dst}.mlp_ln"),
            n,
        )?;
        self.linear(
            emit,
            &format!("{src}/linear_0"),
            &format!("{dst}.mlp.0"),
            [4 * n, n],
        )?;
        self.linear(
            emit,
            &format!("{src}/linear_1"),
            &format!("{dst}.mlp.2"),
            [n, 4 * n],
        )
    }

    fn layer_norm(
        &self,
        emit: &mut impl FnMut(&str, &[usize], Kind, Vec<f32>) -> Result<(), ConvertError>,
        src: &str,
        dst: &str,
        n: usize,
    ) -> Result<(), ConvertError> {
        emit(
            &format!("{dst}.weight"),
            &[n],
            Kind::F32,
            self.values_shaped(&format!("{src}/gamma"), &[n])?,
        )?;
        emit(
            &format!("{dst}.bias"),
            &[n],
            Kind::F32,
            self.values_shaped(&format!("{src}/beta"), &[n])?,
        )
    }

    /// A linear layer with weight `[rows, cols]` (out × in) and bias `[rows]`.
    fn linear(
        &self,
        emit: &mut impl FnMut(&str, &[usize], Kind, Vec<f32>) -> Result<(), ConvertError>,
        src: &str,
        dst: &str,
        [rows, cols]: [usize; 2],
    ) -> Result<(), ConvertError> {
        emit(
            &format!("{dst}.weight"),
            &[cols, rows],
            Kind::Weight,
            self.values_shaped(&format!("{src}/weight"), &[rows, cols])?,
        )?;
        emit(
            &format!("{dst}.bias"),
            &[rows],
            Kind::F32,
            self.values_shaped(&format!("{src}/bias"), &[rows])?,
        )
    }
}

/// Reads the model's dimensions from tensor shapes and the `num_heads` scalars.
fn hparams_of(model: &Ct2Model, quant: Quantization) -> Result<Hparams, ConvertError> {
    let shape = |name: &str, rank: usize| -> Result<Vec<usize>, ConvertError> {
        let v = model
            .get(name)
            .ok_or_else(|| ConvertError::Missing(name.to_owned()))?;
        if v.shape.len() != rank {
            return Err(ConvertError::Shape {
                name: name.to_owned(),
                shape: v.shape.clone(),
                expected: format!("rank {rank}"),
            });
        }
        Ok(v.shape.clone())
    };
    let layers = |prefix: &str| {
        (0..)
            .take_while(|i| {
                model
                    .variables
                    .keys()
                    .any(|k| k.starts_with(&format!("{prefix}/layer_{i}/")))
            })
            .count() as i32
    };
    let emb = shape("decoder/embeddings/weight", 2)?;
    let conv1 = shape("encoder/conv1/weight", 3)?;
    let enc_pos = shape("encoder/position_encodings/encodings", 2)?;
    let dec_pos = shape("decoder/position_encodings/encodings", 2)?;
    let (n_audio_state, n_text_state) = (conv1[0], emb[1]);
    // Whisper's attention heads are 64 wide in every size; use that when a scalar is absent.
    let heads = |name: &str, state: usize| -> Result<i32, ConvertError> {
        match model.get(name) {
            Some(v) => v
                .scalar_i64()
                .map(|h| h as i32)
                .ok_or_else(|| ConvertError::Shape {
                    name: name.to_owned(),
                    shape: v.shape.clone(),
                    expected: "an integer scalar".into(),
                }),
            None => Ok((state / 64) as i32),
        }
    };
    if enc_pos[1] != n_audio_state || dec_pos[1] != n_text_state || n_audio_state != n_text_state {
        return Err(ConvertError::Shape {
            name: "encoder/position_encodings/encodings".into(),
            shape: enc_pos,
            expected: format!("[n_audio_ctx, {n_audio_state}] with the decoder as wide"),
        });
    }
    let ftype = match quant {
        Quantization::F16 => 1,
        Quantization::Q8_0 => 7 + QNT_VERSION * QNT_VERSION_FACTOR,
        Quantization::Q5_1 => 9 + QNT_VERSION * QNT_VERSION_FACTOR,
    };
    Ok(Hparams {
        n_vocab: emb[0] as i32,
        n_audio_ctx: enc_pos[0] as i32,
        n_audio_state: n_audio_state as i32,
        n_audio_head: heads("encoder/num_heads", n_audio_state)?,
        n_audio_layer: layers("encoder"),
        n_text_ctx: dec_pos[0] as i32,
        n_text_state: n_text_state as i32,
        n_text_head: heads("decoder/num_heads", n_text_state)?,
        n_text_layer: layers("decoder"),
        n_mels: conv1[1] as i32,
        ftype,
    })
}

/// ggml's q8_0: blocks of 32 values as one f16 scale `d = max|x| / 127` and 32 i8 `round(x / d)`.
pub fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / 32 * 34);
    for block in values.chunks(32) {
        let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        for i in 0..32 {
            let x = block.get(i).copied().unwrap_or(0.0);
            out.push((x * inv).round() as i8 as u8);
        }
    }
    out
}

/// ggml's q5_1: blocks of 32 values as f16 `d = (max - min) / 31` and f16 `min`, then the fifth
/// bits of the 32 quants `round((x - min) / d)` as a little-endian u32 and their low four bits
/// two to a byte (value j in the low nibble of byte j, value j + 16 in its high nibble), as
/// ggml's `quantize_row_q5_1_ref` lays them out.
pub fn quantize_q5_1(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / 32 * 24);
    for block in values.chunks(32) {
        let x = |i: usize| block.get(i).copied().unwrap_or(0.0);
        let (min, max) = (0..32).fold((f32::MAX, f32::MIN), |(lo, hi), i| {
            (lo.min(x(i)), hi.max(x(i)))
        });
        let d = (max - min) / 31.0;
        let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        out.extend_from_slice(&half::f16::from_f32(min).to_le_bytes());
        // ggml truncates `x + 0.5` to u8, which is rounding half up for these non-negative values.
        let q = |i: usize| ((x(i) - min) * inv + 0.5) as u8;
        let mut qh = 0u32;
        let mut qs = [0u8; 16];
        for (j, byte) in qs.iter_mut().enumerate() {
            let (lo, hi) = (q(j), q(j + 16));
            *byte = (lo & 0x0F) | ((hi & 0x0F) << 4);
            qh |= u32::from((lo & 0x10) >> 4) << j;
            qh |= u32::from((hi & 0x10) >> 4) << (j + 16);
        }
        out.extend_from_slice(&qh.to_le_bytes());
        out.extend_from_slice(&qs);
    }
    out
}

/// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68
/// bytes are shifted to U+0100 onwards so every token is printable text.
fn gpt2_char_to_byte() -> std::collections::HashMap<char, u8> {
    let printable = |b: u8| {
        (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut map = std::collections::HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        map.insert(c, b);
    }
    map
}

/// How many tokens whisper.cpp's model files carry: GPT-2's byte-level vocabulary size. Past
/// them, whisper.cpp adds the special tokens itself (end of text, start of transcript, the
/// languages, the tasks, the timestamps) from `n_vocab`.
pub const FILE_TOKENS: usize = 50_257;

/// The tokens of vocabulary.txt up to and including `<|endoftext|>`, at most [`FILE_TOKENS`] of
/// them, as raw bytes. In an English-only vocabulary `<|endoftext|>` is token 50,256, the last
/// one kept; in a multilingual one token 50,256 is an empty token and `<|endoftext|>` comes one
/// later, so it is left for whisper.cpp to add. Either way the file holds what whisper.cpp's own
/// converter writes (the converted tiny.en and base are byte for byte the size of the official
/// ggml files).
pub fn vocabulary_bytes(vocabulary_txt: &str) -> Result<Vec<Vec<u8>>, ConvertError> {
    const END: &str = "<|endoftext|>";
    let lines: Vec<&str> = vocabulary_txt.lines().take(FILE_TOKENS + 1).collect();
    let end = lines.iter().position(|l| *l == END).ok_or_else(|| {
        ConvertError::Vocabulary(format!(
            "no '{END}' token in the first {} lines",
            lines.len()
        ))
    })?;
    let map = gpt2_char_to_byte();
    lines[..=end.min(FILE_TOKENS - 1)]
        .iter()
        .enumerate()
        .map(|(i, line)| {
            if *line == END {
                return Ok(END.as_bytes().to_vec());
            }
            line.chars()
                .map(|c| map.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| {
                    ConvertError::Vocabulary(format!(
                        "line {} ('{line}') has a character outside GPT-2's byte alphabet",
                        i + 1
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct2::tests::write_ct2;
    use crate::ggml::GgmlModelInfo;

    #[test]
    fn gpt2_alphabet_decodes_space_and_newline() {
        let toks =
            vocabulary_bytes("!\nĠthe\nĊ\nÃ©\n<|endoftext|>\n<|startoftranscript|>\n").unwrap();
        assert_eq!(
            toks,
            vec![
                b"!".to_vec(),
                b" the".to_vec(),
                b"\n".to_vec(),
                "é".as_bytes().to_vec(),
                b"<|endoftext|>".to_vec()
            ]
        );
        assert_eq!(gpt2_char_to_byte().len(), 256);
    }

    #[test]
    fn vocabulary_without_end_token_is_an_error() {
        assert!(vocabulary_bytes("a\nb\n")
            .unwrap_err()
            .to_string()
            .contains("<|endoftext|>"));
        assert!(vocabulary_bytes("a b\n<|endoftext|>")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
    }

    #[test]
    fn q8_0_round_trips_within_half_a_step() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 7.0).collect();
        let q = quantize_q8_0(&values);
        assert_eq!(q.len(), 2 * 34);
        for (b, block) in values.chunks(32).enumerate() {
            let raw = &q[b * 34..(b + 1) * 34];
            let d = half::f16::from_le_bytes([raw[0], raw[1]]).to_f32();
            for (i, &x) in block.iter().enumerate() {
                let back = raw[2 + i] as i8 as f32 * d;
                assert!((back - x).abs() <= d * 0.51 + 1e-3, "{x} -> {back}");
            }
        }
        assert_eq!(quantize_q8_0(&[0.0; 32])[2..], [0u8; 32]);
    }

    #[test]
    fn q5_1_round_trips_within_half_a_step() {
        let values: Vec<f32> = (0..64)
            .map(|i| ((i * 37) % 64) as f32 / 9.0 - 3.0)
            .collect();
        let q = quantize_q5_1(&values);
        assert_eq!(q.len(), 2 * 24);
        for (b, block) in values.chunks(32).enumerate() {
            let raw = &q[b * 24..(b + 1) * 24];
            let d = half::f16::from_le_bytes([raw[0], raw[1]]).to_f32();
            let m = half::f16::from_le_bytes([raw[2], raw[3]]).to_f32();
            let qh = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
            for (i, &x) in block.iter().enumerate() {
                let nibble = if i < 16 {
                    raw[8 + i] & 0x0F
                } else {
                    raw[8 + i - 16] >> 4
                };
                let quant = nibble | (((qh >> i) & 1) as u8) << 4;
                let back = quant as f32 * d + m;
                assert!((back - x).abs() <= d * 0.51 + 1e-2, "{x} -> {back}");
            }
        }
        // A constant block: no step, every quant 0, the value in the minimum.
        let flat = quantize_q5_1(&[0.5; 32]);
        assert_eq!(half::f16::from_le_bytes([flat[2], flat[3]]).to_f32(), 0.5);
        assert_eq!(flat[4..], [0u8; 20]);
    }

    #[test]
    fn multilingual_vocabulary_stops_before_its_end_of_text() {
        // English-only: token 50,256 is <|endoftext|> and is the last one kept.
        let mut english: Vec<String> = (0..FILE_TOKENS - 1).map(|i| format!("t{i}")).collect();
        english.extend(["<|endoftext|>".into(), "<|startoftranscript|>".into()]);
        let toks = vocabulary_bytes(&english.join("\n")).unwrap();
        assert_eq!(toks.len(), FILE_TOKENS);
        assert_eq!(toks[FILE_TOKENS - 1], b"<|endoftext|>");
        // Multilingual: token 50,256 is empty and <|endoftext|> (50,257) is whisper.cpp's to add.
        let mut multi: Vec<String> = (0..FILE_TOKENS - 1).map(|i| format!("t{i}")).collect();
        multi.extend([
            String::new(),
            "<|endoftext|>".into(),
            "<|startoftranscript|>".into(),
            "<|en|>".into(),
        ]);
        let toks = vocabulary_bytes(&multi.join("\n")).unwrap();
        assert_eq!(toks.len(), FILE_TOKENS);
        assert_eq!(toks[FILE_TOKENS - 1], b"");
        assert_eq!(toks[FILE_TOKENS - 2], b"t50255");
    }

    /// A miniature Whisper in CTranslate2 layout (state 32, 1 layer each, 4 tokens), with
    /// every value distinct so a mis-split shows up.
    fn mini_whisper(key_bias: f32) -> Vec<u8> {
        let n = 32usize;
        let mut counter = 0f32;
        let mut vals = |count: usize| -> Vec<u8> {
            (0..count)
                .flat_map(|_| {
                    counter += 1.0;
                    half::f16::from_f32(counter / 1024.0).to_le_bytes()
                })
                .collect()
        };
        let mut vars: Vec<(String, Vec<usize>, u8, Vec<u8>)> = vec![
            (
                "decoder/embeddings/weight".into(),
                vec![4, n],
                4,
                vals(4 * n),
            ),
            (
                "decoder/position_encodings/encodings".into(),
                vec![2, n],
                4,
                vals(2 * n),
            ),
            ("decoder/layer_norm/gamma".into(), vec![n], 4, vals(n)),
            ("decoder/layer_norm/beta".into(), vec![n], 4, vals(n)),
            (
                "decoder/num_heads".into(),
                vec![],
                2,
                1i16.to_le_bytes().to_vec(),
            ),
            (
                "encoder/num_heads".into(),
                vec![],
                2,
                1i16.to_le_bytes().to_vec(),
            ),
            (
                "encoder/conv1/weight".into(),
                vec![n, 2, 3],
                4,
                vals(n * 2 * 3),
            ),
            ("encoder/conv1/bias".into(), vec![n], 4, vals(n)),
            (
                "encoder/conv2/weight".into(),
                vec![n, n, 3],
                4,
                vals(n * n * 3),
            ),
            ("encoder/conv2/bias".into(), vec![n], 4, vals(n)),
            ("encoder/layer_norm/gamma".into(), vec![n], 4, vals(n)),
            ("encoder/layer_norm/beta".into(), vec![n], 4, vals(n)),
            (
                "encoder/position_encodings/encodings".into(),
                vec![2, n],
                4,
                vals(2 * n),
            ),
        ];
        let fused_bias = |parts: usize, key_at: usize| -> Vec<u8> {
            let mut b: Vec<f32> = (0..parts * n).map(|i| (i as f32 + 1.0) / 512.0).collect();
            b[key_at * n..(key_at + 1) * n]
                .iter_mut()
                .for_each(|x| *x = key_bias);
            b.iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect()
        };
        let sa_bias_enc = fused_bias(3, 1);
        let sa_bias_dec = fused_bias(3, 1);
        let ca_bias = fused_bias(2, 0);
        for side in ["encoder", "decoder"] {
            let p = format!("{side}/layer_0");
            vars.push((
                format!("{p}/self_attention/layer_norm/gamma"),
                vec![n],
                4,
                vals(n),
            ));
            vars.push((
                format!("{p}/self_attention/layer_norm/beta"),
                vec![n],
                4,
                vals(n),
            ));
            vars.push((
                format!("{p}/self_attention/linear_0/weight"),
                vec![3 * n, n],
                4,
                vals(3 * n * n),
            ));
            let b = if side == "encoder" {
                sa_bias_enc.clone()
            } else {
                sa_bias_dec.clone()
            };
            vars.push((
                format!("{p}/self_attention/linear_0/bias"),
                vec![3 * n],
                4,
                b,
            ));
            vars.push((
                format!("{p}/self_attention/linear_1/weight"),
                vec![n, n],
                4,
                vals(n * n),
            ));
            vars.push((
                format!("{p}/self_attention/linear_1/bias"),
                vec![n],
                4,
                vals(n),
            ));
            vars.push((format!("{p}/ffn/layer_norm/gamma"), vec![n], 4, vals(n)));
            vars.push((format!("{p}/ffn/layer_norm/beta"), vec![n], 4, vals(n)));
            vars.push((
                format!("{p}/ffn/linear_0/weight"),
                vec![4 * n, n],
                4,
                vals(4 * n * n),
            ));
            vars.push((
                format!("{p}/ffn/linear_0/bias"),
                vec![4 * n],
                4,
                vals(4 * n),
            ));
            vars.push((
                format!("{p}/ffn/linear_1/weight"),
                vec![n, 4 * n],
                4,
                vals(4 * n * n),
            ));
            vars.push((format!("{p}/ffn/linear_1/bias"), vec![n], 4, vals(n)));
        }
        let p = "decoder/layer_0/attention";
        vars.push((format!("{p}/layer_norm/gamma"), vec![n], 4, vals(n)));
        vars.push((format!("{p}/layer_norm/beta"), vec![n], 4, vals(n)));
        vars.push((format!("{p}/linear_0/weight"), vec![n, n], 4, vals(n * n)));
        vars.push((format!("{p}/linear_0/bias"), vec![n], 4, vals(n)));
        vars.push((
            format!("{p}/linear_1/weight"),
            vec![2 * n, n],
            4,
            vals(2 * n * n),
        ));
        vars.push((format!("{p}/linear_1/bias"), vec![2 * n], 4, ca_bias));
        vars.push((format!("{p}/linear_2/weight"), vec![n, n], 4, vals(n * n)));
        vars.push((format!("{p}/linear_2/bias"), vec![n], 4, vals(n)));
        let refs: Vec<(&str, Vec<usize>, u8, Vec<u8>)> = vars
            .iter()
            .map(|(a, b, c, d)| (a.as_str(), b.clone(), *c, d.clone()))
            .collect();
        write_ct2(
            "WhisperSpec",
            &refs,
            &[("decoder/projection/weight", "decoder/embeddings/weight")],
        )
    }

    const MINI_VOCAB: &str = "a\nĠb\nc\n<|endoftext|>\n";

    fn tensor_f32(bytes: &[u8], t: &crate::ggml::TensorInfo) -> Vec<f32> {
        let d = &bytes[t.offset as usize..(t.offset + t.n_bytes) as usize];
        match t.ty {
            GgmlType::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            GgmlType::F16 => d
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => panic!("test reads only float tensors, got {other:?}"),
        }
    }

    #[test]
    fn mini_whisper_converts_to_a_valid_layout_with_split_projections() {
        let ct2 = mini_whisper(0.0);
        let mut out = Vec::new();
        let summary = convert(&ct2, MINI_VOCAB, Quantization::F16, &mut out).unwrap();
        assert_eq!(summary.tensors, 7 + 15 + 4 + 24);
        assert_eq!(summary.vocabulary, 4);
        let info = GgmlModelInfo::read(std::io::Cursor::new(&out)).unwrap();
        info.validate().unwrap();
        assert_eq!(info.hparams.n_mels, 2);
        assert_eq!(info.hparams.n_audio_layer, 1);
        assert_eq!(info.tokens[1], b" b".to_vec());

        let model = Ct2Model::parse(&ct2).unwrap();
        let src = model
            .get("encoder/layer_0/self_attention/linear_0/weight")
            .unwrap()
            .to_f32()
            .unwrap();
        let get =
            |name: &str| tensor_f32(&out, info.tensors.iter().find(|t| t.name == name).unwrap());
        let n = 32 * 32;
        assert_eq!(get("encoder.blocks.0.attn.query.weight"), src[..n]);
        assert_eq!(get("encoder.blocks.0.attn.key.weight"), src[n..2 * n]);
        assert_eq!(get("encoder.blocks.0.attn.value.weight"), src[2 * n..]);
        let src_b = model
            .get("encoder/layer_0/self_attention/linear_0/bias")
            .unwrap()
            .to_f32()
            .unwrap();
        assert_eq!(get("encoder.blocks.0.attn.value.bias"), src_b[64..]);
        let kv = model
            .get("decoder/layer_0/attention/linear_1/weight")
            .unwrap()
            .to_f32()
            .unwrap();
        assert_eq!(get("decoder.blocks.0.cross_attn.value.weight"), kv[n..]);
        let conv_b = info
            .tensors
            .iter()
            .find(|t| t.name == "encoder.conv1.bias")
            .unwrap();
        assert_eq!((conv_b.ne.clone(), conv_b.ty), (vec![1, 32], GgmlType::F32));
        let pe = info
            .tensors
            .iter()
            .find(|t| t.name == "decoder.positional_embedding")
            .unwrap();
        assert_eq!(pe.ty, GgmlType::F32);
    }

    #[test]
    fn quantized_conversion_quantizes_matrices_only() {
        for (quant, ty_q) in [
            (Quantization::Q8_0, GgmlType::Q8_0),
            (Quantization::Q5_1, GgmlType::Q5_1),
        ] {
            let mut out = Vec::new();
            convert(&mini_whisper(0.0), MINI_VOCAB, quant, &mut out).unwrap();
            let info = GgmlModelInfo::read(std::io::Cursor::new(&out)).unwrap();
            info.validate().unwrap();
            assert_eq!(info.hparams.weight_type(), Some(ty_q));
            let ty = |name: &str| info.tensors.iter().find(|t| t.name == name).unwrap().ty;
            assert_eq!(ty("encoder.blocks.0.mlp.0.weight"), ty_q);
            assert_eq!(ty("decoder.token_embedding.weight"), ty_q);
            assert_eq!(ty("encoder.conv2.weight"), GgmlType::F16);
            assert_eq!(ty("encoder.blocks.0.mlp.0.bias"), GgmlType::F32);
        }
    }

    #[test]
    fn non_zero_key_bias_and_foreign_specs_are_refused() {
        let err = convert(
            &mini_whisper(0.25),
            MINI_VOCAB,
            Quantization::F16,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ConvertError::KeyBias(name) if name.contains("linear_0/bias")),
            "{err}"
        );

        let other = write_ct2("TransformerSpec", &[], &[]);
        let err = convert(&other, MINI_VOCAB, Quantization::F16, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, ConvertError::NotWhisper(_)), "{err}");
    }

    #[test]
    fn missing_variable_is_named() {
        let ct2 = write_ct2(
            "WhisperSpec",
            &[("encoder/num_heads", vec![], 2, vec![6, 0])],
            &[],
        );
        let err = convert(&ct2, MINI_VOCAB, Quantization::F16, &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("decoder/embeddings/weight"),
            "{err}"
        );
    }
}

//! The speaker encoder: a 3-layer LSTM (256 units) over 40-band mel power frames, whose last
//! hidden state goes through a 256×256 linear layer and a ReLU and is scaled to unit length —
//! the network of the `resemblyzer` package (GE2E-trained), run here from its published weights.
//!
//! Windows are encoded in batches: each layer's input projection for every frame of every window
//! is one matrix product, and each time step's recurrent product covers the whole batch, so the
//! work is a few large matrix multiplications (ndarray, through matrixmultiply) rather than
//! millions of small ones. Windows shorter than the batch's longest are aligned at their end and
//! start from a zero state, exactly as if encoded alone.

use crate::features::{Spectra, N_MELS};
use crate::torch::{self, Tensor, TorchError};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};

/// LSTM width and embedding size.
pub const HIDDEN: usize = 256;
const LAYERS: usize = 3;
const GATES: usize = 4 * HIDDEN;
/// Windows encoded together: large enough for efficient matrix products, small enough that a
/// batch's gate activations stay in a few tens of MB.
const BATCH: usize = 48;
/// Time steps whose input projection is computed together (see `embed_batch`).
const STEPS_AT_ONCE: usize = 16;

struct Layer {
    /// `input × 4·HIDDEN`, the transpose of PyTorch's `weight_ih` (gate order i, f, g, o).
    w_ih: Array2<f32>,
    /// `HIDDEN × 4·HIDDEN`.
    w_hh: Array2<f32>,
    /// `bias_ih + bias_hh`.
    bias: Array1<f32>,
}

/// The loaded speaker encoder. Immutable once loaded: share it between threads freely.
pub struct VoiceEncoder {
    layers: Vec<Layer>,
    /// `HIDDEN × HIDDEN`, transposed.
    linear_w: Array2<f32>,
    linear_b: Array1<f32>,
}

impl std::fmt::Debug for VoiceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceEncoder")
            .field("layers", &self.layers.len())
            .field("hidden", &HIDDEN)
            .finish()
    }
}

impl VoiceEncoder {
    /// Builds the encoder from the checkpoint's bytes (`pretrained.pt`).
    pub fn from_checkpoint(bytes: &[u8]) -> Result<VoiceEncoder, TorchError> {
        let mut t = torch::read_state_dict(bytes, Some("model_state"))?;
        let mut take = |name: &str, shape: &[usize]| -> Result<Tensor, TorchError> {
            let tensor = t
                .remove(name)
                .ok_or_else(|| TorchError::Missing(name.into()))?;
            if tensor.shape != shape {
                return Err(TorchError::Tensor {
                    name: name.into(),
                    reason: format!("shape {:?}, expected {shape:?}", tensor.shape),
                });
            }
            Ok(tensor)
        };
        let transpose = |t: Tensor| -> Array2<f32> {
            let (rows, cols) = (t.shape[0], t.shape[1]);
            ArrayView2::from_shape((rows, cols), &t.data)
                .map(|v| v.t().as_standard_layout().into_owned())
                .unwrap_or_else(|_| Array2::zeros((cols, rows)))
        };
        let mut layers = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let input = if l == 0 { N_MELS } else { HIDDEN };
            let w_ih = transpose(take(&format!("lstm.weight_ih_l{l}"), &[GATES, input])?);
            let w_hh = transpose(take(&format!("lstm.weight_hh_l{l}"), &[GATES, HIDDEN])?);
            let b_ih = take(&format!("lstm.bias_ih_l{l}"), &[GATES])?;
            let b_hh = take(&format!("lstm.bias_hh_l{l}"), &[GATES])?;
            let bias = Array1::from_iter(b_ih.data.iter().zip(&b_hh.data).map(|(a, b)| a + b));
            layers.push(Layer { w_ih, w_hh, bias });
        }
        let linear_w = transpose(take("linear.weight", &[HIDDEN, HIDDEN])?);
        let linear_b = Array1::from(take("linear.bias", &[HIDDEN])?.data);
        Ok(VoiceEncoder {
            layers,
            linear_w,
            linear_b,
        })
    }

    /// One unit-length embedding per window (`start..end` in frames of `spectra`), the batches
    /// spread over up to `threads` threads.
    pub fn embed_windows(
        &self,
        spectra: &Spectra,
        windows: &[(usize, usize)],
        threads: usize,
    ) -> Vec<Vec<f32>> {
        let batches: Vec<&[(usize, usize)]> = windows.chunks(BATCH).collect();
        let threads = threads.clamp(1, batches.len().max(1));
        if threads == 1 {
            return batches
                .into_iter()
                .flat_map(|b| self.embed_batch(spectra, b))
                .collect();
        }
        // Thread i takes batches i, i + threads, …; results are put back in window order.
        let mut per_batch: Vec<Vec<Vec<f32>>> = vec![Vec::new(); batches.len()];
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let batches = &batches;
                    scope.spawn(move || {
                        (t..batches.len())
                            .step_by(threads)
                            .map(|i| (i, self.embed_batch(spectra, batches[i])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                // A panic in a worker is a bug in this file; re-raise it on the caller's thread.
                let done = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                for (i, e) in done {
                    per_batch[i] = e;
                }
            }
        });
        per_batch.into_iter().flatten().collect()
    }

    // Window indices address rows of several batch matrices and `first` together.
    #[allow(clippy::needless_range_loop)]
    fn embed_batch(&self, spectra: &Spectra, windows: &[(usize, usize)]) -> Vec<Vec<f32>> {
        let b = windows.len();
        let lens: Vec<usize> = windows
            .iter()
            .map(|&(s, e)| e.min(spectra.frames).saturating_sub(s))
            .collect();
        let t_max = lens.iter().copied().max().unwrap_or(0);
        if b == 0 || t_max == 0 {
            return vec![vec![0.0; HIDDEN]; b];
        }
        // Frame-major input, `(t · b + i) × features`: the rows of one time step are contiguous.
        let mut x = Array2::<f32>::zeros((t_max * b, N_MELS));
        for (i, &(start, _)) in windows.iter().enumerate() {
            let offset = t_max - lens[i];
            for k in 0..lens[i] {
                x.row_mut((offset + k) * b + i)
                    .assign(&ndarray::ArrayView1::from(spectra.mel_frame(start + k)));
            }
        }
        // First time step at which each window is running.
        let first: Vec<usize> = lens.iter().map(|&l| t_max - l).collect();
        let mut h = Array2::<f32>::zeros((b, HIDDEN));
        for (l, layer) in self.layers.iter().enumerate() {
            let last = l + 1 == self.layers.len();
            let mut out = if last {
                Array2::zeros((0, HIDDEN))
            } else {
                Array2::<f32>::zeros((t_max * b, HIDDEN))
            };
            h = Array2::zeros((b, HIDDEN));
            let mut c = Array2::<f32>::zeros((b, HIDDEN));
            let mut act = vec![0f32; GATES];
            let mut gates_in = Array2::<f32>::zeros((0, GATES));
            for t in 0..t_max {
                // The input projection, STEPS_AT_ONCE time steps at a time: large products
                // run fast, and the whole batch's at once (frames × windows × 4·HIDDEN floats,
                // ~30 MB) was the largest allocation of a mono call, held once per thread.
                let in_chunk = t % STEPS_AT_ONCE;
                if in_chunk == 0 {
                    let rows = t * b..(t + STEPS_AT_ONCE).min(t_max) * b;
                    gates_in = x.slice(s![rows, ..]).dot(&layer.w_ih);
                    gates_in += &layer.bias;
                }
                // This step's gates: the input projection plus the recurrent product, in place.
                let mut g = gates_in.slice_mut(s![in_chunk * b..(in_chunk + 1) * b, ..]);
                ndarray::linalg::general_mat_mul(1.0, &h, &layer.w_hh, 1.0, &mut g);
                for i in 0..b {
                    if t < first[i] {
                        continue;
                    }
                    let gi = g.row(i);
                    let Some(gi) = gi.as_slice() else { continue };
                    // Sigmoid on the i, f, o gates and tanh (2·sigmoid(2x) − 1) on g, as one
                    // branch-free pass the compiler vectorises.
                    for (j, (a, &x)) in act.iter_mut().zip(gi).enumerate() {
                        let cell = (2 * HIDDEN..3 * HIDDEN).contains(&j);
                        *a = if cell { 2.0 * x } else { x };
                    }
                    sigmoid_in_place(&mut act);
                    let (hr, cr) = (h.row_mut(i), c.row_mut(i));
                    let (Some(hr), Some(cr)) = (hr.into_slice(), cr.into_slice()) else {
                        continue;
                    };
                    let (ig, rest) = act.split_at(HIDDEN);
                    let (fg, rest) = rest.split_at(HIDDEN);
                    let (gg, og) = rest.split_at(HIDDEN);
                    for j in 0..HIDDEN {
                        let cj = fg[j] * cr[j] + ig[j] * (2.0 * gg[j] - 1.0);
                        cr[j] = cj;
                        hr[j] = og[j] * (2.0 * sigmoid(2.0 * cj) - 1.0);
                    }
                }
                if !last {
                    out.slice_mut(s![t * b..(t + 1) * b, ..]).assign(&h);
                }
            }
            if !last {
                x = out;
            }
        }
        let mut e = h.dot(&self.linear_w);
        e += &self.linear_b;
        e.mapv_inplace(|v| v.max(0.0));
        e.axis_iter(Axis(0))
            .map(|row| {
                let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                row.iter().map(|v| v / norm).collect()
            })
            .collect()
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

fn sigmoid_in_place(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = 1.0 / (1.0 + exp_approx(-*x));
    }
}

/// e^x to about 1e-5 relative error (from rounding x·log2 e in f32; ample for gates), written without branches or calls so that loops over it
/// vectorise (libm's `expf` does not, and the gates need a million a second of audio): 2^(x·log2 e)
/// split into an integer power, set in the exponent bits, and a polynomial for the fraction.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    let y = (x * std::f32::consts::LOG2_E).clamp(-126.0, 126.0);
    let n = y.floor();
    let f = y - n;
    // 2^f on [0, 1): a degree-6 polynomial (Taylor of e^(f·ln 2)).
    let l = std::f32::consts::LN_2;
    let p = 1.0
        + f * (l + f
            * (l * l / 2.0
                + f * (l * l * l / 6.0
                    + f * (l * l * l * l / 24.0
                        + f * (l * l * l * l * l / 120.0 + f * (l * l * l * l * l * l / 720.0))))));
    f32::from_bits((((n as i32) + 127) as u32) << 23) * p
}

/// The tensors a checkpoint must hold, for error messages and tests.
pub fn expected_tensors() -> Vec<String> {
    let mut v: Vec<String> = (0..LAYERS)
        .flat_map(|l| {
            ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
                .into_iter()
                .map(move |p| format!("lstm.{p}_l{l}"))
        })
        .collect();
    v.push("linear.weight".into());
    v.push("linear.bias".into());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_close_to_exp() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            let (a, b) = (exp_approx(x), x.exp());
            assert!(((a - b) / b).abs() < 2e-5, "{x}: {a} vs {b}");
        }
        assert!(exp_approx(-200.0) >= 0.0 && exp_approx(-200.0) < 1e-37);
        assert!(exp_approx(200.0).is_finite());
    }

    #[test]
    fn expected_tensors_are_the_lstm_and_the_projection() {
        let t = expected_tensors();
        assert_eq!(t.len(), 14);
        assert!(t.contains(&"lstm.weight_hh_l2".to_string()));
    }
}

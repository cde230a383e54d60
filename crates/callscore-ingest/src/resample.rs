//! Sample-rate conversion with rubato, streaming so a long recording never sits in memory at its
//! source rate: decoders push frames as they decode them and only 16 kHz output accumulates.

use rubato::{FftFixedInOut, Resampler};

/// Why resampling failed. Only reachable with nonsensical rates (zero) or a channel-count
/// mismatch between pushes, both of which callers in this crate rule out first.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Setup { from: u32, to: u32, reason: String },
    #[error("resampling failed: {0}")]
    Process(String),
    #[error("expected {expected} channels, got {got}")]
    Channels { expected: usize, got: usize },
}

/// Input frames per FFT block (rubato rounds it up to a multiple of the rates' ratio). About
/// 64 ms at 16 kHz: long enough for a sharp filter, short enough to stream.
const CHUNK_FRAMES: usize = 1024;

/// Resamples planar audio as it arrives. Output length is exactly
/// `round(frames_in * to_rate / from_rate)` and output sample `k` lines up with input time
/// `k / to_rate`: rubato's filter delay is removed, and the tail is flushed.
pub struct StreamResampler {
    from_rate: u32,
    to_rate: u32,
    channels: usize,
    /// `None` when the rates are equal: samples pass through untouched.
    inner: Option<FftFixedInOut<f32>>,
    pending: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
    /// Output frames still to drop from the start: the filter's group delay.
    delay_left: usize,
    frames_in: u64,
    block_out: Vec<Vec<f32>>,
}

impl StreamResampler {
    pub fn new(from_rate: u32, to_rate: u32, channels: usize) -> Result<Self, ResampleError> {
        if from_rate == 0 || to_rate == 0 || channels == 0 {
            return Err(ResampleError::Setup {
                from: from_rate,
                to: to_rate,
                reason: format!(
                    "rates must be positive and channels at least 1 (channels: {channels})"
                ),
            });
        }
        let inner = if from_rate == to_rate {
            None
        } else {
            Some(
                FftFixedInOut::<f32>::new(
                    from_rate as usize,
                    to_rate as usize,
                    CHUNK_FRAMES,
                    channels,
                )
                .map_err(|e| ResampleError::Setup {
                    from: from_rate,
                    to: to_rate,
                    reason: e.to_string(),
                })?,
            )
        };
        let delay_left = inner.as_ref().map_or(0, |r| r.output_delay());
        let block_out = inner
            .as_ref()
            .map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(Self {
            from_rate,
            to_rate,
            channels,
            inner,
            pending: vec![Vec::new(); channels],
            output: vec![Vec::new(); channels],
            delay_left,
            frames_in: 0,
            block_out,
        })
    }

    /// Number of input frames pushed so far.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Pushes one block of planar input: `planes[c]` holds channel `c`, all the same length.
    pub fn push(&mut self, planes: &[&[f32]]) -> Result<(), ResampleError> {
        if planes.len() != self.channels {
            return Err(ResampleError::Channels {
                expected: self.channels,
                got: planes.len(),
            });
        }
        let frames = planes[0].len();
        self.frames_in += frames as u64;
        if self.inner.is_none() {
            for (out, plane) in self.output.iter_mut().zip(planes) {
                out.extend_from_slice(plane);
            }
            return Ok(());
        }
        for (pending, plane) in self.pending.iter_mut().zip(planes) {
            pending.extend_from_slice(plane);
        }
        self.process_full_blocks()
    }

    fn process_full_blocks(&mut self) -> Result<(), ResampleError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let need = inner.input_frames_next();
        let mut consumed = 0;
        while self.pending[0].len() - consumed >= need {
            let block: Vec<&[f32]> = self
                .pending
                .iter()
                .map(|p| &p[consumed..consumed + need])
                .collect();
            let (_, produced) = inner
                .process_into_buffer(&block, &mut self.block_out, None)
                .map_err(|e| ResampleError::Process(e.to_string()))?;
            consumed += need;
            append_skipping(
                &mut self.output,
                &self.block_out,
                produced,
                &mut self.delay_left,
            );
        }
        if consumed > 0 {
            for p in &mut self.pending {
                p.drain(..consumed);
            }
        }
        Ok(())
    }

    /// Flushes the filter and returns the resampled channels.
    pub fn finish(mut self) -> Result<Vec<Vec<f32>>, ResampleError> {
        let expected = (self.frames_in as u128 * self.to_rate as u128 + self.from_rate as u128 / 2)
            / self.from_rate as u128;
        let expected = expected as usize;
        if let Some(inner) = self.inner.as_mut() {
            // The last partial block is zero-padded; then silence pushes the delayed tail out.
            let mut first = true;
            while self.output[0].len() < expected {
                let (_, produced) = if first && !self.pending[0].is_empty() {
                    inner.process_partial_into_buffer(
                        Some(&self.pending),
                        &mut self.block_out,
                        None,
                    )
                } else {
                    inner.process_partial_into_buffer(
                        None::<&[Vec<f32>]>,
                        &mut self.block_out,
                        None,
                    )
                }
                .map_err(|e| ResampleError::Process(e.to_string()))?;
                first = false;
                append_skipping(
                    &mut self.output,
                    &self.block_out,
                    produced,
                    &mut self.delay_left,
                );
            }
        }
        for out in &mut self.output {
            out.truncate(expected);
        }
        Ok(self.output)
    }
}

fn append_skipping(output: &mut [Vec<f32>], block: &[Vec<f32>], produced: usize, skip: &mut usize) {
    let from = (*skip).min(produced);
    *skip -= from;
    for (out, b) in output.iter_mut().zip(block) {
        out.extend_from_slice(&b[from..produced]);
    }
}

/// Resamples one channel in one go. For whole-buffer callers (tests, RTP legs already in memory).
pub fn resample(samples: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>, ResampleError> {
    let mut r = StreamResampler::new(from_rate, to_rate, 1)?;
    r.push(&[samples])?;
    Ok(r.finish()?.pop().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn equal_rates_pass_through_untouched() {
        let x = sine(440.0, 16_000, 1000);
        assert_eq!(resample(&x, 16_000, 16_000).unwrap(), x);
    }

    #[test]
    fn output_length_is_exact_for_odd_lengths_and_rates() {
        for (from, frames) in [
            (8_000u32, 12_345usize),
            (44_100, 44_101),
            (11_025, 7),
            (22_050, 0),
            (48_000, 96_000),
        ] {
            let out = resample(&vec![0.1; frames], from, 16_000).unwrap();
            let expected = ((frames as u64 * 16_000 + from as u64 / 2) / from as u64) as usize;
            assert_eq!(out.len(), expected, "from {from} Hz, {frames} frames");
        }
    }

    #[test]
    fn filter_delay_is_removed_so_an_impulse_stays_in_place() {
        // A click at 0.5 s must come out at 0.5 s, not a block later.
        let mut x = vec![0.0f32; 8_000];
        x[4_000] = 1.0;
        let y = resample(&x, 8_000, 16_000).unwrap();
        let peak = y
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert!(
            (peak as i64 - 8_000).abs() <= 1,
            "peak at {peak}, expected 8000"
        );
    }

    #[test]
    fn streaming_in_uneven_pushes_equals_one_push() {
        let x = sine(1000.0, 44_100, 30_000);
        let whole = resample(&x, 44_100, 16_000).unwrap();
        let mut r = StreamResampler::new(44_100, 16_000, 1).unwrap();
        for piece in x.chunks(777) {
            r.push(&[piece]).unwrap();
        }
        let streamed = r.finish().unwrap().pop().unwrap();
        assert_eq!(streamed.len(), whole.len());
        let max_diff = streamed
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-5, "max difference {max_diff}");
    }

    #[test]
    fn rates_with_no_common_factor_still_convert_exactly() {
        // gcd(rate, 16000) = 1 makes rubato's FFT as long as a second of input; still correct.
        for rate in [44_101u32, 7_993, 96_001] {
            let x = sine(440.0, rate, rate as usize / 2);
            let y = resample(&x, rate, 16_000).unwrap();
            let expected = ((x.len() as u64 * 16_000 + rate as u64 / 2) / rate as u64) as usize;
            assert_eq!(y.len(), expected, "{rate} Hz");
            let rms = (y[2000..6000].iter().map(|v| v * v).sum::<f32>() / 4000.0).sqrt();
            assert!((rms - 0.3536).abs() < 0.01, "{rate} Hz: rms {rms}");
        }
    }

    #[test]
    fn zero_rate_is_an_error_not_a_panic() {
        assert!(matches!(
            StreamResampler::new(0, 16_000, 1),
            Err(ResampleError::Setup { .. })
        ));
    }

    #[test]
    fn pushing_the_wrong_channel_count_is_an_error() {
        let mut r = StreamResampler::new(8_000, 16_000, 2).unwrap();
        assert!(matches!(
            r.push(&[&[0.0]]),
            Err(ResampleError::Channels {
                expected: 2,
                got: 1
            })
        ));
    }
}

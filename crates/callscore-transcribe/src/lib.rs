//! Local transcription with whisper.cpp (whisper-rs): model install and conversion, voice
//! activity detection, per-leg decoding merged into one speaker-attributed transcript.
//!
//! **Architecture invariant:** this crate never prints, never exits and never reads environment
//! variables; the caller passes paths (model file, cache directory, pip command) in. It knows
//! nothing about audio file formats: it takes 16 kHz legs ([`callscore_core::Leg`]) from ingest.

// `n % k == 0` rather than `is_multiple_of`: the workspace's rust-version is 1.85.
#![allow(clippy::manual_is_multiple_of)]

pub mod convert;
pub mod ct2;
pub mod ggml;
pub mod mel;
pub mod model;
pub mod transcriber;
pub mod vad;
pub mod wer;

pub use convert::Quantization;
pub use model::{ModelError, DEFAULT_MODEL};
pub use transcriber::{FeedMode, TranscribeError, TranscribeOptions, Transcriber};
pub use vad::VadOptions;

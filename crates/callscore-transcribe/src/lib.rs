//! Local transcription with whisper.cpp (whisper-rs): model install and conversion, voice
//! activity detection, per-leg decoding merged into one speaker-attributed transcript.
//!
//! **Architecture invariant:** this crate never prints, never exits and never reads environment
//! variables; the caller passes paths (model file, cache directory, pip command) in. It knows
//! nothing about audio file formats: it takes 16 kHz legs ([`callscore_core::Leg`]) from ingest.

pub mod convert;
pub mod ct2;
pub mod ggml;
pub mod mel;

//! Local transcription with whisper.cpp (whisper-rs): model install and conversion, voice activity detection, per-leg decoding merged into one transcript.

//! Audio in: decodes call recordings (WAV, G.711 WAV, MP3, FLAC, OGG, M4A), resamples to 16 kHz and splits channels into speaker legs.

//! ITU-T G.711 companding: mu-law (RTP payload type 0) and A-law (payload type 8).
//!
//! Written by hand because it is a few lines of bit arithmetic, fully specified by G.711, and the
//! crates that offer it are either unmaintained or pull in whole codec frameworks. Decoding is by
//! 256-entry tables built at compile time, so the hot path is one array lookup per sample.

/// Decodes one mu-law byte to 16-bit linear PCM (G.711 Table 2a, as in the ITU reference code).
pub const fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let mut t = (((u & 0x0F) as i32) << 3) + 0x84;
    t <<= ((u & 0x70) >> 4) as i32;
    if u & 0x80 != 0 {
        (0x84 - t) as i16
    } else {
        (t - 0x84) as i16
    }
}

/// Decodes one A-law byte to 16-bit linear PCM (G.711 Table 1a; even bits inverted on the wire).
pub const fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let segment = ((a & 0x70) >> 4) as i32;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= segment - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn table(ulaw: bool) -> [i16; 256] {
    let mut out = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = if ulaw {
            ulaw_to_linear(i as u8)
        } else {
            alaw_to_linear(i as u8)
        };
        i += 1;
    }
    out
}

static ULAW_TABLE: [i16; 256] = table(true);
static ALAW_TABLE: [i16; 256] = table(false);

/// Encodes 16-bit linear PCM to mu-law (the ITU reference algorithm, bias 0x84, clip 32635).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut pcm = sample as i32;
    let mask = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    pcm = pcm.min(CLIP) + BIAS;
    let segment = segment_of(pcm >> 8, 8);
    let value = ((segment << 4) | ((pcm >> (segment + 3)) & 0x0F)) as u8;
    value ^ mask
}

/// Encodes 16-bit linear PCM to A-law (the ITU reference algorithm).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let segment = segment_of(pcm >> 5, 8);
    let value = if segment >= 8 {
        0x7F
    } else {
        let shift = if segment < 2 { 1 } else { segment };
        ((segment << 4) | ((pcm >> shift) & 0x0F)) as u8
    };
    value ^ mask
}

/// Number of the G.711 segment holding `value`: the position of its highest set bit, capped.
fn segment_of(value: i32, segments: i32) -> i32 {
    let mut segment = 0;
    let mut v = value;
    while v > 0 && segment < segments {
        v >>= 1;
        segment += 1;
    }
    segment
}

/// The audio codecs a recorder can turn into PCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    Ulaw,
    Alaw,
}

impl G711 {
    /// Appends the decoded samples of `payload` to `out`.
    pub fn decode_into(self, payload: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            G711::Ulaw => &ULAW_TABLE,
            G711::Alaw => &ALAW_TABLE,
        };
        out.extend(payload.iter().map(|&b| table[b as usize]));
    }

    /// Decodes `payload` into `out`, which must be exactly as long as the payload.
    pub fn decode_slice(self, payload: &[u8], out: &mut [i16]) {
        let table = match self {
            G711::Ulaw => &ULAW_TABLE,
            G711::Alaw => &ALAW_TABLE,
        };
        for (o, &b) in out.iter_mut().zip(payload) {
            *o = table[b as usize];
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            G711::Ulaw => linear_to_ulaw(sample),
            G711::Alaw => linear_to_alaw(sample),
        }
    }

    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Ulaw => 0,
            G711::Alaw => 8,
        }
    }

    pub fn encoding_name(self) -> &'static str {
        match self {
            G711::Ulaw => "PCMU",
            G711::Alaw => "PCMA",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from the G.711 decoding tables (and the ITU-T G.191 reference implementation).
    #[test]
    fn ulaw_decodes_known_codes() {
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0x7E), -8);
        assert_eq!(ulaw_to_linear(0xF0), 120);
        assert_eq!(ulaw_to_linear(0x8F), 16764);
    }

    #[test]
    fn alaw_decodes_known_codes() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(alaw_to_linear(0xD4), 24);
        assert_eq!(alaw_to_linear(0xC5), 264);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for code in 0..=255u8 {
            let linear = ulaw_to_linear(code);
            let back = linear_to_ulaw(linear);
            // 0x7F and 0xFF both mean zero; the encoder picks the positive one.
            assert_eq!(ulaw_to_linear(back), linear, "mu-law code {code:#04x}");
            let linear = alaw_to_linear(code);
            assert_eq!(linear_to_alaw(linear), code, "A-law code {code:#04x}");
        }
    }

    #[test]
    fn encoding_is_monotonic_and_close() {
        for s in (-32768i32..=32767).step_by(7) {
            let s = s as i16;
            for codec in [G711::Ulaw, G711::Alaw] {
                let mut out = Vec::new();
                codec.decode_into(&[codec.encode(s)], &mut out);
                let err = (out[0] as i32 - s as i32).abs();
                // The quantisation step is at most 1024 (mu-law top segment) / 1024 (A-law).
                assert!(err <= 1024, "{codec:?} {s} -> {}", out[0]);
            }
        }
    }
}

//! G.711 µ-law and A-law companding (ITU-T G.711), sample- and frame-level.
//!
//! Hand-written: the whole codec is two bit-twiddling functions per law, written from the
//! segment/quantisation tables of the recommendation; a crate would add nothing but a
//! dependency. Decoding goes through 256-entry tables computed at compile time.
//! Works on 16-bit linear PCM: µ-law uses the top 14 bits, A-law the top 13.

use super::Codec;

/// µ-law bias added before the segment search (33 in 14-bit units, 132 at 16 bits).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent before adding the bias.
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as a µ-law byte.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (sign, magnitude) = if value < 0 {
        (0x80u8, -value)
    } else {
        (0x00u8, value)
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` lies in 132..=32767, so its top bit is bit 7..=14: segment 0..=7.
    let segment = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (biased >> (segment + 3)) & 0x0F;
    !(sign | ((segment as u8) << 4) | mantissa as u8)
}

/// Decodes one µ-law byte to 16-bit linear PCM.
pub const fn ulaw_to_linear(byte: u8) -> i16 {
    let code = !byte;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    // Reconstruct at the middle of the quantisation step, then remove the bias.
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if code & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one 16-bit linear sample as an A-law byte (even bits inverted, as sent on the wire).
pub fn linear_to_alaw(sample: i16) -> u8 {
    // 13-bit signed. A-law has no zero code: negative values map through the one's
    // complement so both halves of the scale are symmetric.
    let value = i32::from(sample) >> 3;
    let (sign_mask, magnitude) = if value >= 0 {
        (0xD5u8, value)
    } else {
        (0x55u8, !value)
    };
    // magnitude is 0..=4095 (12 bits).
    let code = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let segment = (31 - magnitude.leading_zeros() as i32 - 4).clamp(1, 7);
        ((segment as u8) << 4) | ((magnitude >> segment) & 0x0F) as u8
    };
    code ^ sign_mask
}

/// Decodes one A-law byte to 16-bit linear PCM.
pub const fn alaw_to_linear(byte: u8) -> i16 {
    let code = byte ^ 0x55;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    // 13-bit magnitude at the middle of the step, then scaled to 16 bits.
    let magnitude13 = if segment == 0 {
        (mantissa << 1) + 1
    } else {
        ((mantissa | 0x10) << segment) + (1 << (segment - 1))
    };
    let magnitude = magnitude13 << 3;
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut out = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = if alaw {
            alaw_to_linear(i as u8)
        } else {
            ulaw_to_linear(i as u8)
        };
        i += 1;
    }
    out
}

static ULAW_TABLE: [i16; 256] = table(false);
static ALAW_TABLE: [i16; 256] = table(true);

impl Codec {
    /// Encodes one sample with this codec.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => linear_to_ulaw(sample),
            Codec::Pcma => linear_to_alaw(sample),
        }
    }

    /// Decodes one byte with this codec.
    pub fn decode_sample(self, byte: u8) -> i16 {
        let table = match self {
            Codec::Pcmu => &ULAW_TABLE,
            Codec::Pcma => &ALAW_TABLE,
        };
        table[usize::from(byte)]
    }

    /// Encodes a frame of 8 kHz linear PCM (one byte per sample).
    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        pcm.iter().map(|&s| self.encode_sample(s)).collect()
    }

    /// Decodes a G.711 payload to 8 kHz linear PCM (one sample per byte).
    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        payload.iter().map(|&b| self.decode_sample(b)).collect()
    }

    /// The byte that encodes digital silence (0xFF for µ-law, 0xD5 for A-law).
    pub fn silence_byte(self) -> u8 {
        self.encode_sample(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ulaw_values() {
        let cases: [(i16, u8); 7] = [
            (0, 0xFF),
            (-1, 0x7F),
            (32767, 0x80),
            (-32768, 0x00),
            (100, 0xF2),
            (-100, 0x72),
            (1000, 0xCE),
        ];
        for (pcm, byte) in cases {
            assert_eq!(linear_to_ulaw(pcm), byte, "encode {pcm}");
        }
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0xF2), 104);
    }

    #[test]
    fn known_alaw_values() {
        let cases: [(i16, u8); 6] = [
            (0, 0xD5),
            (-1, 0x55),
            (32767, 0xAA),
            (-32768, 0x2A),
            (16, 0xD4),
            (1000, 0xFA),
        ];
        for (pcm, byte) in cases {
            assert_eq!(linear_to_alaw(pcm), byte, "encode {pcm}");
        }
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    /// Half a quantisation step of the segment `magnitude` falls in, plus the clipping at the
    /// top of the scale: a bound derived from the segment tables, not from the code under test.
    fn max_error(codec: Codec, magnitude: i32) -> i32 {
        match codec {
            // step = 2^(segment+3) where (magnitude + 132) >= 2^(segment+7)
            Codec::Pcmu if magnitude > ULAW_CLIP => magnitude - 32124,
            Codec::Pcmu => ((magnitude + ULAW_BIAS) / 16).max(8) / 2,
            // step = 16 in segments 0 and 1, else 2^(segment+3) where magnitude >= 2^(segment+7)
            Codec::Pcma if magnitude > 32256 => magnitude - 32256,
            Codec::Pcma => (magnitude / 16).max(16) / 2 + 8,
        }
    }

    #[test]
    fn round_trip_error_is_within_half_a_step_for_every_sample() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for sample in i16::MIN..=i16::MAX {
                let back = codec.decode_sample(codec.encode_sample(sample));
                let error = (i32::from(back) - i32::from(sample)).abs();
                let bound = max_error(codec, i32::from(sample).abs());
                assert!(
                    error <= bound,
                    "{codec:?} {sample} -> {back}: error {error} > {bound}"
                );
                assert!(
                    back == 0 || (back > 0) == (sample >= 0) || sample.abs() <= 8,
                    "{codec:?} sign flip {sample} -> {back}"
                );
            }
        }
    }

    #[test]
    fn decode_encode_decode_is_stable_for_every_byte() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for byte in 0..=u8::MAX {
                let once = codec.decode(&[byte]);
                let twice = codec.decode(&codec.encode(&once));
                assert_eq!(once, twice, "{codec:?} byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn frames_encode_one_byte_per_sample() {
        let pcm: Vec<i16> = (0..160).map(|i| (i * 200 - 16000) as i16).collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let bytes = codec.encode(&pcm);
            assert_eq!(bytes.len(), 160);
            assert_eq!(codec.decode(&bytes).len(), 160);
            // A-law has no zero: its quietest code decodes to +8.
            assert!(codec.decode_sample(codec.silence_byte()).abs() <= 8);
        }
    }
}

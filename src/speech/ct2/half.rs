//! IEEE 754 binary16 <-> binary32 conversion for tensor data.
//!
//! Hand-written because it is thirty lines and the only float16 need in voxdesk (the `half`
//! crate would be a dependency for two functions).

/// Widens a binary16 bit pattern to `f32` exactly (every f16 value is representable).
pub fn f16_to_f32(h: u16) -> f32 {
    let negative = h & 0x8000 != 0;
    let exponent = u32::from((h >> 10) & 0x1f);
    let mantissa = u32::from(h & 0x3ff);
    let sign = if negative { 0x8000_0000 } else { 0 };
    let bits = match exponent {
        0 if mantissa == 0 => sign,
        0 => {
            // Subnormal: mantissa counts units of 2^-24, exact in f32.
            let magnitude = mantissa as f32 * f32::from_bits(0x3380_0000);
            return if negative { -magnitude } else { magnitude };
        }
        0x1f => sign | 0x7f80_0000 | (mantissa << 13),
        _ => sign | ((exponent + 112) << 23) | (mantissa << 13),
    };
    f32::from_bits(bits)
}

/// Narrows an `f32` to binary16, rounding to nearest even; overflow becomes infinity.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0xff {
        let nan_payload = if mantissa != 0 { 0x200 } else { 0 };
        return sign | 0x7c00 | nan_payload;
    }
    let half_exponent = exponent - 112;
    if half_exponent >= 0x1f {
        return sign | 0x7c00;
    }
    if half_exponent <= 0 {
        // Result is subnormal (or zero): shift the full significand down to units of 2^-24.
        let shift = (126 - exponent) as u32;
        if shift > 24 {
            return sign;
        }
        let significand = mantissa | 0x80_0000;
        return sign | round_shift(significand, shift) as u16;
    }
    let normal = ((half_exponent as u32) << 10) | (mantissa >> 13);
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    let rounded = normal + round_up(mantissa, 13);
    sign | rounded as u16
}

fn round_shift(value: u32, shift: u32) -> u32 {
    (value >> shift) + round_up(value, shift)
}

/// 1 when dropping the low `shift` bits of `value` must round up (nearest, ties to even).
fn round_up(value: u32, shift: u32) -> u32 {
    let dropped = value & ((1 << shift) - 1);
    let halfway = 1 << (shift - 1);
    let kept_is_odd = (value >> shift) & 1 == 1;
    u32::from(dropped > halfway || (dropped == halfway && kept_is_odd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_f16_survives_a_round_trip_through_f32() {
        for h in 0..=u16::MAX {
            let wide = f16_to_f32(h);
            if wide.is_nan() {
                assert!(f16_to_f32(f32_to_f16(wide)).is_nan());
            } else {
                assert_eq!(f32_to_f16(wide), h, "{h:#06x} -> {wide}");
            }
        }
    }

    #[test]
    fn known_values() {
        let cases: &[(f32, u16)] = &[
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00), // rounds up to infinity
            (1.0e-8, 0x0000),  // below half the smallest subnormal
            (5.960_464_5e-8, 0x0001),
            (1.000_488_3, 0x3c00), // exactly halfway, ties to even
            (1.001_464_8, 0x3c02), // halfway above an odd mantissa rounds up
            (0.333_333_34, 0x3555),
        ];
        for &(x, h) in cases {
            assert_eq!(f32_to_f16(x), h, "{x}");
        }
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    }
}

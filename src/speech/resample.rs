//! Sample-rate conversion of whole prompts to the 8 kHz telephone rate, and `i16`/`f32` helpers.
//!
//! Uses rubato's `FftFixedInOut`: a fixed rational ratio (via the gcd of the two rates) whose
//! FFT filter removes everything above the lower Nyquist frequency, so the conversion is also
//! the anti-alias filter. Whole buffers in, whole buffers out: prompts are short and prepared
//! before playback, so no streaming state is kept. The resampler's delay is removed and the
//! tail flushed with zeros, so output sample `n` lines up with input time `n / to_hz`.

use rubato::{FftFixedInOut, Resampler};

use super::tts::TtsError;

/// Input frames per FFT block; rubato rounds it up to a multiple of the reduced ratio.
const CHUNK_FRAMES: usize = 1024;

/// Converts mono `input` sampled at `from_hz` into `ceil(len * to_hz / from_hz)` samples at `to_hz`.
pub fn resample(input: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, TtsError> {
    if from_hz == to_hz || input.is_empty() {
        return Ok(input.to_vec());
    }
    let mut resampler =
        FftFixedInOut::<f32>::new(from_hz as usize, to_hz as usize, CHUNK_FRAMES, 1)?;
    let chunk_in = resampler.input_frames_next();
    let chunk_out = resampler.output_frames_next();
    let delay = resampler.output_delay();
    let expected = output_len(input.len(), from_hz, to_hz);
    // chunk_in / chunk_out == from_hz / to_hz exactly, so enough output blocks to cover the
    // delay and the expected length also consume every input sample; the rest is zero padding.
    let blocks = (delay + expected).div_ceil(chunk_out);
    let mut padded = Vec::with_capacity(blocks * chunk_in);
    padded.extend_from_slice(input);
    padded.resize(blocks * chunk_in, 0.0);
    let mut output = vec![0.0; blocks * chunk_out];
    for (block_in, block_out) in padded
        .chunks_exact(chunk_in)
        .zip(output.chunks_exact_mut(chunk_out))
    {
        resampler.process_into_buffer(&[block_in], &mut [block_out], None)?;
    }
    output.drain(..delay);
    output.truncate(expected);
    Ok(output)
}

/// Number of samples `len` input samples become when converted from `from_hz` to `to_hz`.
pub fn output_len(len: usize, from_hz: u32, to_hz: u32) -> usize {
    let scaled = (len as u64).saturating_mul(u64::from(to_hz));
    usize::try_from(scaled.div_ceil(u64::from(from_hz.max(1)))).unwrap_or(usize::MAX)
}

/// Full-scale `i16` to `[-1, 1)`.
pub fn i16_to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32768.0
}

/// `[-1, 1]` to `i16`, clipping out-of-range values; NaN becomes silence.
pub fn f32_to_i16(sample: f32) -> i16 {
    // `as` saturates and maps NaN to 0, which is exactly the clipping wanted.
    (sample * 32767.0).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn sine(freq: f32, rate: u32, seconds: f32) -> Vec<f32> {
        let len = (rate as f32 * seconds) as usize;
        (0..len)
            .map(|n| 0.5 * (TAU * freq * n as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
    }

    fn zero_crossings(samples: &[f32]) -> usize {
        samples
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count()
    }

    #[test]
    fn output_length_matches_ratio() {
        for (from, len, expected) in [
            (22_050, 22_050, 8_000),
            (22_050, 1, 1),
            (48_000, 4_800, 800),
            (44_100, 44_101, 8_001),
            (16_000, 3, 2),
            (8_000, 123, 123),
        ] {
            let out = resample(&vec![0.1; len], from, 8_000).expect("resample");
            assert_eq!(out.len(), expected, "{from} Hz, {len} samples");
        }
    }

    #[test]
    fn in_band_sine_keeps_frequency_and_level() {
        let out = resample(&sine(1_000.0, 22_050, 1.0), 22_050, 8_000).expect("resample");
        // 1 kHz crosses zero 2000 times a second.
        let crossings = zero_crossings(&out);
        assert!((1_990..=2_010).contains(&crossings), "{crossings}");
        let level = rms(&out[800..7_200]);
        assert!((level - 0.5 / 2f32.sqrt()).abs() < 0.01, "{level}");
    }

    #[test]
    fn above_nyquist_sine_is_filtered_not_aliased() {
        let input = sine(6_000.0, 22_050, 1.0);
        let out = resample(&input, 22_050, 8_000).expect("resample");
        // A naive decimator would fold 6 kHz onto 2 kHz at full level; demand -40 dB.
        assert!(rms(&out) < 0.01 * rms(&input), "{}", rms(&out));
    }

    #[test]
    fn tail_is_flushed_not_cut() {
        let out = resample(&sine(500.0, 44_100, 0.5), 44_100, 8_000).expect("resample");
        let last_10ms = &out[out.len() - 80..];
        assert!(rms(last_10ms) > 0.3, "{}", rms(last_10ms));
    }

    #[test]
    fn delay_is_compensated() {
        let mut impulse = vec![0.0; 22_050];
        impulse[11_025] = 1.0;
        let out = resample(&impulse, 22_050, 8_000).expect("resample");
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        assert!(matches!(peak, Some(3_999..=4_001)), "{peak:?}");
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(resample(&[0.0; 10], 0, 8_000).is_err());
    }

    #[test]
    fn sample_conversion_clips() {
        for (input, expected) in [
            (0.0, 0),
            (1.0, 32_767),
            (-1.0, -32_767),
            (2.0, 32_767),
            (-2.0, -32_768),
            (f32::NAN, 0),
        ] {
            assert_eq!(f32_to_i16(input), expected, "{input}");
        }
        assert_eq!(i16_to_f32(-32_768), -1.0);
    }
}

//! Prompt files: any PCM WAV (8–32-bit integer or 32-bit float, any channel count, 8–192 kHz)
//! decoded with hound into 8 kHz mono `i16`, by averaging channels and resampling.
//!
//! Files are operator-supplied but still untrusted: the declared length is checked against
//! [`MAX_PROMPT`] before any sample is read, and malformed files are errors, never panics.

use std::io::Read;
use std::ops::RangeInclusive;

use hound::{SampleFormat, WavReader};

use super::resample::{f32_to_i16, output_len, resample};
use super::tts::{duration_samples, TtsError, MAX_PROMPT};
use crate::media::SAMPLE_RATE;

/// Sample rates accepted in prompt files.
pub const WAV_SAMPLE_RATES: RangeInclusive<u32> = 8_000..=192_000;

/// Decodes a whole WAV stream to 8 kHz mono.
pub fn decode_wav<R: Read>(reader: R) -> Result<Vec<i16>, TtsError> {
    let mut wav = WavReader::new(reader)?;
    let spec = wav.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 {
        return Err(TtsError::NoChannels);
    }
    if !WAV_SAMPLE_RATES.contains(&spec.sample_rate) {
        return Err(TtsError::UnsupportedSampleRate(spec.sample_rate));
    }
    let max_frames = duration_samples(MAX_PROMPT, spec.sample_rate);
    let frames = usize::try_from(wav.duration()).unwrap_or(usize::MAX);
    if frames > max_frames {
        return Err(TtsError::PromptTooLong);
    }
    // `duration` comes from the header; `take` also bounds what is actually read.
    let max_samples = max_frames.saturating_mul(channels);
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / 2f32.powi(i32::from(bits) - 1);
            wav.samples::<i32>()
                .take(max_samples)
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
        (SampleFormat::Float, 32) => wav
            .samples::<f32>()
            .take(max_samples)
            .map(|s| s.map(|v| if v.is_finite() { v } else { 0.0 }))
            .collect::<Result<_, _>>()?,
        (format, bits) => {
            return Err(TtsError::UnsupportedFormat {
                bits,
                float: format == SampleFormat::Float,
            })
        }
    };
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    let resampled = resample(&mono, spec.sample_rate, SAMPLE_RATE)?;
    debug_assert_eq!(
        resampled.len(),
        output_len(mono.len(), spec.sample_rate, SAMPLE_RATE)
    );
    Ok(resampled.into_iter().map(f32_to_i16).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{WavSpec, WavWriter};
    use proptest::prelude::*;
    use std::f32::consts::TAU;
    use std::io::Cursor;

    /// A WAV in memory: `seconds` of a 1 kHz tone on every channel.
    fn tone_wav(
        rate: u32,
        channels: u16,
        format: SampleFormat,
        bits: u16,
        seconds: f32,
    ) -> Vec<u8> {
        let spec = WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut bytes = Cursor::new(Vec::new());
        let mut writer = WavWriter::new(&mut bytes, spec).expect("writer");
        let frames = (rate as f32 * seconds) as usize;
        for n in 0..frames {
            let value = 0.5 * (TAU * 1_000.0 * n as f32 / rate as f32).sin();
            for _ in 0..channels {
                match format {
                    SampleFormat::Float => writer.write_sample(value),
                    SampleFormat::Int => {
                        let full_scale = 2f32.powi(i32::from(bits) - 1);
                        writer.write_sample((value * full_scale) as i32)
                    }
                }
                .expect("sample");
            }
        }
        writer.finalize().expect("finalize");
        bytes.into_inner()
    }

    fn zero_crossings(samples: &[i16]) -> usize {
        samples
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count()
    }

    #[test]
    fn formats_and_rates_become_8khz_mono() {
        for (rate, channels, format, bits) in [
            (8_000, 1, SampleFormat::Int, 16),
            (16_000, 2, SampleFormat::Int, 16),
            (22_050, 1, SampleFormat::Int, 16),
            (44_100, 2, SampleFormat::Int, 16),
            (48_000, 1, SampleFormat::Float, 32),
            (48_000, 2, SampleFormat::Int, 24),
            (11_025, 1, SampleFormat::Int, 8),
        ] {
            let case = format!("{rate} Hz, {channels} ch, {bits}-bit {format:?}");
            let audio =
                decode_wav(Cursor::new(tone_wav(rate, channels, format, bits, 0.5))).expect(&case);
            assert_eq!(audio.len(), 4_000, "{case}");
            // 1 kHz for 0.5 s crosses zero about 1000 times, whatever the source rate.
            let crossings = zero_crossings(&audio);
            assert!((990..=1_010).contains(&crossings), "{case}: {crossings}");
            let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!((15_000..=17_500).contains(&peak), "{case}: peak {peak}");
        }
    }

    #[test]
    fn unsupported_inputs_are_errors() {
        let too_slow = tone_wav(4_000, 1, SampleFormat::Int, 16, 0.1);
        assert!(matches!(
            decode_wav(Cursor::new(too_slow)),
            Err(TtsError::UnsupportedSampleRate(4_000))
        ));
        assert!(matches!(
            decode_wav(Cursor::new(b"RIFF nonsense".to_vec())),
            Err(TtsError::Wav(_))
        ));
        assert!(matches!(
            decode_wav(Cursor::new(Vec::new())),
            Err(TtsError::Wav(_))
        ));
    }

    proptest! {
        #[test]
        fn corrupted_files_never_panic(
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..8),
            cut in 0usize..2_000,
        ) {
            let mut bytes = tone_wav(16_000, 2, SampleFormat::Int, 16, 0.05);
            for (at, value) in flips {
                if let Some(byte) = bytes.get_mut(at) {
                    *byte = value;
                }
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            let _ = decode_wav(Cursor::new(bytes));
        }
    }
}

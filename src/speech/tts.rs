//! Text to 8 kHz mono `i16` speech with espeak-ng, in process, through `espeakng-sys`.
//!
//! [`synthesize`] validates its input, has `speech::espeak` speak it at espeak-ng's native
//! rate (22050 Hz, read from `espeak_Initialize`), trims leading silence beyond [`LEAD_IN`] so
//! prompts start promptly (trailing silence is kept), and resamples to
//! [`crate::media::SAMPLE_RATE`]. Async callers go through
//! [`super::PromptCache::synthesize_async`].

use std::ffi::{c_int, CString};
use std::ops::RangeInclusive;
use std::time::Duration;

use super::espeak;
use super::resample::{f32_to_i16, i16_to_f32, resample};
use crate::media::SAMPLE_RATE;

/// Speaking rates espeak-ng accepts, in words per minute.
pub const RATE_WPM: RangeInclusive<u16> = 80..=450;
/// A clear rate for telephone prompts (espeak's own default is 175).
pub const DEFAULT_RATE_WPM: u16 = 160;
/// Longest text accepted, in bytes: far beyond any prompt, small enough to bound the work.
pub const MAX_TEXT_BYTES: usize = 2_000;
/// Longest audio any prompt (spoken or loaded from a file) may produce.
pub const MAX_PROMPT: Duration = Duration::from_secs(180);
/// Silence kept before the first audible sample.
pub const LEAD_IN: Duration = Duration::from_millis(50);
/// Longest voice name accepted; espeak-ng's own buffer is 40 bytes.
const MAX_VOICE_NAME: usize = 40;
/// |sample| above this (about -40 dBFS) counts as audible when trimming lead-in silence.
const SILENCE_THRESHOLD: i16 = 328;

/// What can go wrong turning text or a file into prompt audio.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// `espeak_Initialize` failed, usually because espeak-ng-data is not installed.
    #[error("espeak-ng failed to initialise (is espeak-ng-data installed?)")]
    Init,
    /// espeak-ng knows no voice by this name, or the name has characters a voice cannot have.
    #[error("unknown voice {0:?}")]
    UnknownVoice(String),
    /// The speaking rate is outside [`RATE_WPM`].
    #[error("speaking rate {0} wpm is outside 80..=450")]
    InvalidRate(u16),
    /// The text contains a NUL byte, which cannot be passed to C.
    #[error("text contains a NUL byte")]
    NulInText,
    /// The text is longer than [`MAX_TEXT_BYTES`].
    #[error("text is {len} bytes, more than the {max} allowed")]
    TextTooLong {
        /// Length of the rejected text.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The audio would be longer than [`MAX_PROMPT`].
    #[error("prompt audio is longer than {} s", MAX_PROMPT.as_secs())]
    PromptTooLong,
    /// espeak-ng returned an error code while synthesising.
    #[error("espeak-ng synthesis failed with code {0}")]
    Synthesis(c_int),
    /// The resampler could not be built for these rates.
    #[error("resampler setup: {0}")]
    ResamplerSetup(#[from] rubato::ResamplerConstructionError),
    /// The resampler rejected a block.
    #[error("resampling: {0}")]
    Resample(#[from] rubato::ResampleError),
    /// Reading a prompt file failed.
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
    /// A prompt file is not a valid WAV file.
    #[error("WAV: {0}")]
    Wav(#[from] hound::Error),
    /// A WAV file uses a sample format other than 8–32-bit integer or 32-bit float.
    #[error("unsupported WAV sample format: {bits}-bit {}", if *.float { "float" } else { "integer" })]
    UnsupportedFormat {
        /// Bits per sample.
        bits: u16,
        /// Whether samples are IEEE float.
        float: bool,
    },
    /// A WAV file's sample rate is outside 8–192 kHz.
    #[error("unsupported WAV sample rate {0} Hz")]
    UnsupportedSampleRate(u32),
    /// A WAV file declares zero channels.
    #[error("WAV has no channels")]
    NoChannels,
    /// A problem with one prompt file, with its path.
    #[error("{}: {source}", path.display())]
    PromptFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: Box<TtsError>,
    },
    /// The blocking task running synthesis panicked or was cancelled.
    #[error("synthesis task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Speaks `text` with espeak-ng voice `voice` (e.g. `"en-us"`, `"en"`, `"en-gb+f3"`) at
/// `rate_wpm`, returning 8 kHz mono samples. Empty or blank text gives empty audio.
pub fn synthesize(text: &str, voice: &str, rate_wpm: u16) -> Result<Vec<i16>, TtsError> {
    if !RATE_WPM.contains(&rate_wpm) {
        return Err(TtsError::InvalidRate(rate_wpm));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(TtsError::TextTooLong {
            len: text.len(),
            max: MAX_TEXT_BYTES,
        });
    }
    let voice_c = voice_name(voice)?;
    let text_c = CString::new(text).map_err(|_| TtsError::NulInText)?;
    let mut engine = espeak::lock()?;
    engine.select(voice, &voice_c, rate_wpm)?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let native = engine.speak(&text_c)?;
    let native_rate = engine.native_rate();
    drop(engine);

    let samples: Vec<f32> = trim_lead_in(&native, native_rate)
        .iter()
        .copied()
        .map(i16_to_f32)
        .collect();
    let resampled = resample(&samples, native_rate, SAMPLE_RATE)?;
    Ok(resampled.into_iter().map(f32_to_i16).collect())
}

/// Drops silence before the first audible sample, except the last [`LEAD_IN`] of it; audio
/// that never gets loud keeps only its last [`LEAD_IN`].
fn trim_lead_in(samples: &[i16], rate_hz: u32) -> &[i16] {
    let first_audible = samples
        .iter()
        .position(|s| s.unsigned_abs() > SILENCE_THRESHOLD.unsigned_abs())
        .unwrap_or(samples.len());
    let start = first_audible.saturating_sub(duration_samples(LEAD_IN, rate_hz));
    samples.get(start..).unwrap_or_default()
}

/// The rate espeak-ng synthesises at before resampling (22050 Hz for its own voices).
pub fn native_sample_rate() -> Result<u32, TtsError> {
    Ok(espeak::lock()?.native_rate())
}

/// Validates a voice name before it reaches C: espeak-ng also resolves names as paths under
/// its data directory, so `.` and a leading `/` are refused to keep lookups inside it.
fn voice_name(voice: &str) -> Result<CString, TtsError> {
    let plausible = !voice.is_empty()
        && voice.len() <= MAX_VOICE_NAME
        && !voice.starts_with('/')
        && voice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+()/".contains(&b));
    if !plausible {
        return Err(TtsError::UnknownVoice(voice.to_owned()));
    }
    CString::new(voice).map_err(|_| TtsError::UnknownVoice(voice.to_owned()))
}

pub(super) fn duration_samples(duration: Duration, rate_hz: u32) -> usize {
    let samples = duration.as_millis().saturating_mul(u128::from(rate_hz)) / 1_000;
    usize::try_from(samples).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }

    #[test]
    fn greeting_is_audible_and_plausibly_long() {
        let audio = synthesize("Hello, thank you for calling.", "en-us", DEFAULT_RATE_WPM)
            .expect("synthesize");
        let seconds = audio.len() as f64 / f64::from(SAMPLE_RATE);
        assert!((0.5..=5.0).contains(&seconds), "{seconds} s");
        assert!(rms(&audio) > 1_000.0, "rms {}", rms(&audio));
    }

    #[test]
    fn native_rate_comes_from_espeak() {
        assert_eq!(native_sample_rate().expect("init"), 22_050);
    }

    #[test]
    fn lead_in_silence_is_trimmed_to_50ms() {
        let silence = |n| vec![0i16; n];
        let loud = [5_000i16; 100];
        // (leading silent samples at 8 kHz, trailing loud samples, expected output length)
        for (lead, tail, expected) in [
            (1_600, 100, 400 + 100), // 200 ms of silence: 50 ms kept
            (160, 100, 160 + 100),   // 20 ms: all kept
            (400, 100, 400 + 100),   // exactly 50 ms
            (1_000, 0, 400),         // never audible: last 50 ms
            (0, 0, 0),
        ] {
            let mut samples = silence(lead);
            samples.extend_from_slice(&loud[..tail]);
            assert_eq!(
                trim_lead_in(&samples, 8_000).len(),
                expected,
                "{lead}+{tail}"
            );
        }
        // Quiet noise under the threshold counts as silence.
        let mut noisy = vec![300i16; 2_000];
        noisy.push(-5_000);
        assert_eq!(trim_lead_in(&noisy, 8_000).len(), 401);
    }

    #[test]
    fn speech_starts_promptly() {
        let audio = synthesize("Welcome.", "en", DEFAULT_RATE_WPM).expect("synthesize");
        let first_audible = audio
            .iter()
            .position(|s| s.unsigned_abs() > SILENCE_THRESHOLD.unsigned_abs());
        let lead_in = duration_samples(LEAD_IN, SAMPLE_RATE);
        assert!(
            matches!(first_audible, Some(n) if n <= lead_in + 8),
            "{first_audible:?}"
        );
    }

    #[test]
    fn faster_rate_gives_shorter_audio() {
        let text = "Please hold while we connect you to an agent.";
        let slow = synthesize(text, "en-us", 100).expect("slow");
        let fast = synthesize(text, "en-us", 300).expect("fast");
        assert!(
            fast.len() * 2 < slow.len(),
            "{} vs {}",
            fast.len(),
            slow.len()
        );
    }

    #[test]
    fn blank_text_is_empty_audio() {
        for text in ["", "   ", "\n\t"] {
            assert_eq!(
                synthesize(text, "en", DEFAULT_RATE_WPM).expect(text),
                Vec::<i16>::new()
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let long = "a".repeat(MAX_TEXT_BYTES + 1);
        type IsExpected = fn(&TtsError) -> bool;
        let cases: [(&str, &str, u16, IsExpected); 8] = [
            ("hi", "no-such-voice-xyz", 160, |e| {
                matches!(e, TtsError::UnknownVoice(_))
            }),
            ("hi", "", 160, |e| matches!(e, TtsError::UnknownVoice(_))),
            ("hi", "../../etc/passwd", 160, |e| {
                matches!(e, TtsError::UnknownVoice(_))
            }),
            ("hi", "/usr/share/x", 160, |e| {
                matches!(e, TtsError::UnknownVoice(_))
            }),
            ("hi", "en\0us", 160, |e| {
                matches!(e, TtsError::UnknownVoice(_))
            }),
            ("hi", "en", 79, |e| matches!(e, TtsError::InvalidRate(79))),
            ("a\0b", "en", 160, |e| matches!(e, TtsError::NulInText)),
            (&long, "en", 160, |e| {
                matches!(e, TtsError::TextTooLong { .. })
            }),
        ];
        for (text, voice, rate, expected) in cases {
            let result = synthesize(text, voice, rate);
            assert!(
                matches!(&result, Err(e) if expected(e)),
                "{voice:?}: {result:?}"
            );
        }
        // A failed voice change must not break the next call.
        assert!(!synthesize("Still here.", "en", 160)
            .expect("recover")
            .is_empty());
    }

    #[test]
    fn markup_and_unicode_are_spoken() {
        for text in ["<speak>one</speak>", "Café, naïve — ✓ 😀 \u{7f}\u{1b}[0m"] {
            let audio = synthesize(text, "en", DEFAULT_RATE_WPM).expect(text);
            assert!(rms(&audio) > 500.0, "{text}");
        }
    }

    #[test]
    fn concurrent_calls_are_serialised() {
        let voices = ["en-us", "en", "en-gb", "en-us+f3", "en-gb+f3", "gmw/en"];
        let handles: Vec<_> = (0..8)
            .map(|i| {
                std::thread::spawn(move || {
                    let text = format!("Caller number {i}, please hold.");
                    synthesize(&text, voices[i % voices.len()], 140 + 10 * i as u16)
                })
            })
            .collect();
        for handle in handles {
            let audio = handle.join().expect("no panic").expect("synthesize");
            assert!(rms(&audio) > 1_000.0);
        }
    }
}

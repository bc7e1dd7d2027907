//! What the bench's callers say: call-center sentences labelled with the intent the bench
//! dialplan should find, spoken by espeak-ng (`speech::tts`) with varying voice and rate,
//! trimmed of trailing silence and cut into 20 ms µ-law frames.
//!
//! Numbers are spelled as single digits so the word error rate can compare them with
//! Whisper's `1234` (see `wer`).

use std::sync::Arc;
use std::time::Duration;

use crate::media::{Codec, FRAME_SAMPLES, SAMPLE_RATE};
use crate::speech::tts::{self, TtsError};
use crate::speech::vad::frame_dbfs;

/// One 20 ms µ-law payload.
pub type Frame = [u8; FRAME_SAMPLES];

/// A frame at or below this level (dBFS) counts as silence when trimming the tail. espeak-ng
/// leaves a few hundred ms of near-digital silence after the last phoneme.
pub const VOICED_DBFS: f32 = -45.0;

/// A sentence and the intent it should be recognized as (`None`: no intent expected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence {
    /// What the caller says.
    pub text: &'static str,
    /// The intent name of dialplans/bench-speech.yaml, if one applies.
    pub intent: Option<&'static str>,
}

const fn s(text: &'static str, intent: Option<&'static str>) -> Sentence {
    Sentence { text, intent }
}

const ORDER: Option<&str> = Some("order_status");
const RETURNS: Option<&str> = Some("returns");
const HOURS: Option<&str> = Some("opening_hours");
const AGENT: Option<&str> = Some("agent");
const GOODBYE: Option<&str> = Some("goodbye");

/// The corpus; calls pick from it round-robin.
pub const SENTENCES: [Sentence; 24] = [
    s("I want to check the status of my order", ORDER),
    s("I would like to return an item", RETURNS),
    s("What are your opening hours", HOURS),
    s("Can I talk to a person please", AGENT),
    s("My order number is one two three four", None),
    s("Where is my order", ORDER),
    s("How do I get a refund for my purchase", RETURNS),
    s("When are you open on Saturday", HOURS),
    s("I would like to speak to an agent", AGENT),
    s("That's all, thank you, goodbye", GOODBYE),
    s("My phone number is five five five zero one nine nine", None),
    s("I am calling about my order, it has not arrived yet", ORDER),
    s(
        "The shoes I bought do not fit and I want to send them back",
        RETURNS,
    ),
    s("What time do you close today", HOURS),
    s("Please put me through to a real person", AGENT),
    s("The tracking number is nine eight seven six five", None),
    s("Can you tell me the status of my order", ORDER),
    s("Can I return something I bought last week", RETURNS),
    s("Are you open tomorrow morning", HOURS),
    s("Let me speak to someone from customer service", AGENT),
    s("No, that was everything, goodbye", GOODBYE),
    s("The package arrived damaged", None),
    s("My name is John Smith", None),
    s("I received the wrong size", None),
];

/// espeak-ng voice and rate for sentence `index`: three voices, three rates, so no two
/// neighbouring sentences sound alike.
pub fn voice_for(index: usize) -> (&'static str, u16) {
    const VOICES: [&str; 3] = ["en-us", "en-gb", "en-us+f3"];
    const RATES: [u16; 3] = [150, 165, 180];
    let voice = VOICES.get(index % VOICES.len()).copied().unwrap_or("en-us");
    let rate = RATES.get((index / VOICES.len()) % RATES.len()).copied();
    (voice, rate.unwrap_or(tts::DEFAULT_RATE_WPM))
}

/// Which sentences call number `call` says: two or three, walking the corpus so every
/// sentence is used about equally.
pub fn sentences_for_call(call: usize) -> Vec<usize> {
    let count = 2 + call % 2;
    let first = call * 5 / 2;
    (0..count).map(|k| (first + k) % SENTENCES.len()).collect()
}

/// Samples up to and including the last 20 ms frame louder than [`VOICED_DBFS`] (0 if none).
pub fn voiced_len(samples: &[i16]) -> usize {
    samples
        .chunks(FRAME_SAMPLES)
        .enumerate()
        .rfind(|(_, frame)| frame_dbfs(frame) > VOICED_DBFS)
        .map_or(0, |(index, frame)| index * FRAME_SAMPLES + frame.len())
}

/// µ-law frames of `samples`, the last one padded with silence.
pub fn to_frames(samples: &[i16]) -> Vec<Frame> {
    samples
        .chunks(FRAME_SAMPLES)
        .map(|chunk| {
            let mut frame = [Codec::Pcmu.silence_byte(); FRAME_SAMPLES];
            for (byte, &sample) in frame.iter_mut().zip(chunk) {
                *byte = Codec::Pcmu.encode_sample(sample);
            }
            frame
        })
        .collect()
}

/// Whether a received µ-law payload carries voice rather than (near) silence.
pub fn is_voiced(payload: &[u8]) -> bool {
    !payload.is_empty() && frame_dbfs(&Codec::Pcmu.decode(payload)) > VOICED_DBFS
}

/// One sentence, ready to send.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Index into [`SENTENCES`].
    pub sentence: usize,
    /// The voiced audio; the last frame is the last voiced one.
    pub frames: Arc<[Frame]>,
}

impl Clip {
    /// Audio duration of the frames.
    pub fn duration(&self) -> Duration {
        let samples = self.frames.len() * FRAME_SAMPLES;
        Duration::from_secs_f64(samples as f64 / f64::from(SAMPLE_RATE))
    }
}

/// Synthesizes every sentence of the corpus (a second or two of CPU for all).
pub fn synthesize_all() -> Result<Vec<Clip>, TtsError> {
    SENTENCES
        .iter()
        .enumerate()
        .map(|(index, sentence)| {
            let (voice, rate) = voice_for(index);
            let samples = tts::synthesize(sentence.text, voice, rate)?;
            let voiced = samples.get(..voiced_len(&samples)).unwrap_or_default();
            Ok(Clip {
                sentence: index,
                frames: to_frames(voiced).into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize, amplitude: i16) -> Vec<i16> {
        (0..len)
            .map(|i| if i % 2 == 0 { amplitude } else { -amplitude })
            .collect()
    }

    #[test]
    fn trailing_silence_is_trimmed_to_the_last_voiced_frame() {
        let mut samples = tone(3 * FRAME_SAMPLES + 10, 8000);
        samples.extend(tone(5 * FRAME_SAMPLES, 3)); // about -80 dBFS
        assert_eq!(voiced_len(&samples), 4 * FRAME_SAMPLES);
        assert_eq!(voiced_len(&tone(70, 8000)), 70);
        assert_eq!(voiced_len(&tone(FRAME_SAMPLES * 4, 3)), 0);
        assert_eq!(voiced_len(&[]), 0);
    }

    #[test]
    fn frames_are_padded_with_ulaw_silence() {
        let frames = to_frames(&tone(FRAME_SAMPLES + 1, 8000));
        assert_eq!(frames.len(), 2);
        let last = frames.last().copied().unwrap_or([0; FRAME_SAMPLES]);
        assert_ne!(last[0], 0xFF);
        assert!(last[1..].iter().all(|&b| b == 0xFF));
        assert!(is_voiced(&frames[0]));
        assert!(!is_voiced(&[0xFF; FRAME_SAMPLES]));
        assert!(!is_voiced(&[]));
    }

    #[test]
    fn calls_walk_the_corpus() {
        assert_eq!(sentences_for_call(0), vec![0, 1]);
        assert_eq!(sentences_for_call(1), vec![2, 3, 4]);
        assert_eq!(sentences_for_call(9), vec![22, 23, 0]);
        let mut used = [0usize; SENTENCES.len()];
        for call in 0..24 {
            for s in sentences_for_call(call) {
                used[s] += 1;
            }
        }
        assert!(used.iter().all(|&n| (2..=3).contains(&n)), "{used:?}");
    }

    #[test]
    fn voices_and_rates_vary_and_are_valid() {
        let picks: Vec<_> = (0..9).map(voice_for).collect();
        assert_ne!(picks[0], picks[1]);
        assert_ne!(picks[0], picks[3]);
        assert!(picks.iter().all(|(_, rate)| tts::RATE_WPM.contains(rate)));
    }

    #[test]
    fn labels_name_intents_of_the_bench_dialplan() {
        let dialplan = include_str!("../../../dialplans/bench-speech.yaml");
        for sentence in SENTENCES {
            if let Some(intent) = sentence.intent {
                assert!(dialplan.contains(&format!("{intent}:")), "{intent}");
            }
        }
    }
}

//! The audio path of `voxdesk eval`: each case becomes 8 kHz G.711 call audio (espeak-ng
//! speech, or the case's own recording), goes through the call's endpointer and the Whisper
//! pool, and comes back as the transcript the bot would have seen on a call.
//!
//! Synthesized cases cycle through three voices and three rates so one voice's quirks do not
//! decide the figures. Each clip gets silence around it, as on a line, and the endpointer
//! decides where speech starts and ends; several utterances (a caller pausing) are joined.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::cases::Case;
use super::EvalError;
use crate::media::{Codec, FRAME_SAMPLES, SAMPLE_RATE};
use crate::speech::asr::{AsrConfig, AsrJob, AsrPool, Transcript};
use crate::speech::endpoint::{EndpointConfig, EndpointEvent, Endpointer};
use crate::speech::{tts, wav};

const VOICES: [&str; 3] = ["en-us", "en-gb", "en-us+f3"];
const RATES_WPM: [u16; 3] = [150, 165, 180];
/// Line silence before and after each clip.
const LEAD_MS: usize = 400;
const TAIL_MS: usize = 1_000;

/// espeak-ng voice and rate for case number `index`.
pub fn voice_for(index: usize) -> (&'static str, u16) {
    let voice = VOICES.get(index % VOICES.len()).copied().unwrap_or("en-us");
    let rate = RATES_WPM
        .get((index / VOICES.len()) % RATES_WPM.len())
        .copied()
        .unwrap_or(tts::DEFAULT_RATE_WPM);
    (voice, rate)
}

/// What the caller's line carried for `case` (number `index`): 8 kHz samples after G.711.
pub fn case_audio(case: &Case, index: usize) -> Result<Vec<i16>, EvalError> {
    let samples = match &case.audio {
        Some(path) => read_audio(path)?,
        None => {
            let (voice, rate) = voice_for(index);
            tts::synthesize(&case.text, voice, rate).map_err(|e| EvalError::Audio {
                what: format!("line {}: synthesizing", case.line),
                message: e.to_string(),
            })?
        }
    };
    Ok(Codec::Pcmu.decode(&Codec::Pcmu.encode(&samples)))
}

/// An 8 kHz WAV file, or raw µ-law when the name ends in `.ul`.
fn read_audio(path: &Path) -> Result<Vec<i16>, EvalError> {
    let fail = |message: String| EvalError::Audio {
        what: path.display().to_string(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    if path.extension().is_some_and(|e| e == "ul") {
        use std::io::Read;
        let mut bytes = Vec::new();
        // Whisper hears at most 30 s.
        file.take(30 * u64::from(SAMPLE_RATE))
            .read_to_end(&mut bytes)
            .map_err(|e| fail(e.to_string()))?;
        return Ok(Codec::Pcmu.decode(&bytes));
    }
    wav::decode_wav(std::io::BufReader::new(file)).map_err(|e| fail(e.to_string()))
}

/// The utterances the call's endpointer finds in `samples` (padded with line silence),
/// driven by a clock that advances 20 ms a frame.
pub fn utterances(samples: &[i16], config: &EndpointConfig) -> Vec<Vec<i16>> {
    let per_ms = SAMPLE_RATE as usize / 1000;
    let mut line = vec![0i16; LEAD_MS * per_ms];
    line.extend_from_slice(samples);
    line.resize(line.len() + TAIL_MS * per_ms, 0);
    let mut endpointer = Endpointer::new(config);
    let start = Instant::now();
    endpointer.listen(start);
    let mut found = Vec::new();
    for (n, frame) in line.chunks(FRAME_SAMPLES).enumerate() {
        let now = start + Duration::from_millis(20 * n as u64);
        let mut padded = frame.to_vec();
        padded.resize(FRAME_SAMPLES, 0);
        endpointer.push_frame(&padded, now);
        while let Some(event) = endpointer.poll_event() {
            match event {
                EndpointEvent::SpeechEnded { utterance }
                | EndpointEvent::MaxLength { utterance } => found.push(utterance),
                EndpointEvent::SpeechStarted
                | EndpointEvent::Paused { .. }
                | EndpointEvent::NoInput => {}
            }
        }
    }
    found
}

/// Transcribes every case through the audio path, `workers` at a time, reporting progress
/// on stderr. A case with no speech found gets an empty transcript.
pub fn transcribe_cases(
    cases: &[Case],
    model: &Path,
    workers: usize,
    endpoint: &EndpointConfig,
) -> Result<Vec<String>, EvalError> {
    let pool = AsrPool::new(
        model,
        AsrConfig {
            workers,
            threads_per_worker: 1,
            queue: workers,
            beam_size: 1,
        },
    )
    .map_err(|e| EvalError::Audio {
        what: model.display().to_string(),
        message: e.to_string(),
    })?;
    let mut texts: Vec<Vec<String>> = vec![Vec::new(); cases.len()];
    let mut pending: VecDeque<(usize, oneshot::Receiver<Transcript>)> = VecDeque::new();
    let wait_oldest = |pending: &mut VecDeque<(usize, oneshot::Receiver<Transcript>)>,
                       texts: &mut Vec<Vec<String>>| {
        if let Some((index, reply)) = pending.pop_front() {
            if let (Ok(transcript), Some(slot)) = (reply.blocking_recv(), texts.get_mut(index)) {
                if !transcript.is_noise() {
                    slot.push(transcript.text);
                }
            }
        }
    };
    for (index, case) in cases.iter().enumerate() {
        let audio = case_audio(case, index)?;
        for samples in utterances(&audio, endpoint) {
            let job = AsrJob {
                samples,
                prompt: None,
            };
            loop {
                match pool.try_submit(job.clone()) {
                    Ok(reply) => {
                        pending.push_back((index, reply));
                        break;
                    }
                    Err(_) if !pending.is_empty() => wait_oldest(&mut pending, &mut texts),
                    Err(_) => {
                        // Nothing of ours in flight yet the queue is full: give the workers
                        // a moment rather than spin.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        if (index + 1) % 25 == 0 {
            eprintln!(
                "[eval] {} of {} cases through the audio path",
                index + 1,
                cases.len()
            );
        }
    }
    while !pending.is_empty() {
        wait_oldest(&mut pending, &mut texts);
    }
    Ok(texts.into_iter().map(|parts| parts.join(" ")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_and_rates_vary() {
        assert_eq!(voice_for(0), ("en-us", 150));
        assert_eq!(voice_for(1), ("en-gb", 150));
        assert_eq!(voice_for(3), ("en-us", 165));
        assert_eq!(voice_for(8), ("en-us+f3", 180));
        assert_eq!(voice_for(9), voice_for(0));
    }

    #[test]
    fn the_endpointer_finds_a_synthesized_sentence() {
        let speech = tts::synthesize("I would like to check my order", "en-us", 160).unwrap();
        let found = utterances(&speech, &EndpointConfig::default());
        assert_eq!(found.len(), 1, "one utterance");
        let len = found[0].len() as f64;
        assert!(len > speech.len() as f64 * 0.7, "{len} of {}", speech.len());
        assert!(utterances(&[], &EndpointConfig::default()).is_empty());
    }
}

use std::time::{Duration, Instant};

use super::*;
use crate::media::FRAME_SAMPLES;
use crate::speech::vad::EnergyVad;

const FRAME: Duration = Duration::from_millis(20);

fn config() -> EndpointConfig {
    EndpointConfig {
        start_ms: 80,
        end_silence_ms: 400,
        pre_roll_ms: 200,
        post_roll_ms: 100,
        max_utterance_ms: 10_000,
        no_input_ms: 60_000,
        threshold: 0.5,
        speculate_ms: 200,
    }
}

/// A listener on the energy VAD, a fake clock, and everything it has output so far.
struct Rig {
    listener: Listener<EnergyVad>,
    now: Instant,
    outputs: Vec<Output>,
}

impl Rig {
    fn new() -> Rig {
        let config = config();
        let endpointer = Endpointer::with_classifier(&config, EnergyVad::new());
        let mut listener = Listener::with_endpointer(&config, endpointer);
        let now = Instant::now();
        listener.listen("hint".into(), now);
        let mut rig = Rig {
            listener,
            now,
            outputs: Vec::new(),
        };
        rig.drain();
        rig
    }

    fn drain(&mut self) {
        while let Some(output) = self.listener.poll_output() {
            self.outputs.push(output);
        }
    }

    fn silence(&mut self, frames: usize) {
        self.frames(frames, 0);
    }

    fn tone(&mut self, frames: usize) {
        self.frames(frames, 8_000);
    }

    fn frames(&mut self, frames: usize, amplitude: i16) {
        for _ in 0..frames {
            let frame: Vec<i16> = (0..FRAME_SAMPLES)
                .map(|i| {
                    let phase = i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 8000.0;
                    (f32::from(amplitude) * phase.sin()) as i16
                })
                .collect();
            self.now += FRAME;
            self.listener.push_frame(&frame, self.now);
            self.drain();
        }
    }

    fn finish(&mut self, job: JobId, text: &str) {
        let transcript = Transcript {
            text: text.into(),
            confidence: 0.9,
            no_speech_prob: 0.0,
            elapsed: Duration::from_millis(120),
        };
        self.listener.transcribed(job, transcript, self.now);
        self.drain();
    }

    fn jobs(&self) -> Vec<JobId> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Transcribe { job, .. } => Some(*job),
                _ => None,
            })
            .collect()
    }

    fn cancelled(&self) -> Vec<JobId> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Cancel(job) => Some(*job),
                _ => None,
            })
            .collect()
    }

    fn heard(&self) -> Vec<(String, HeardTiming)> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Heard { transcript, timing } => Some((transcript.text.clone(), *timing)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_pause_that_ends_the_utterance_uses_the_speculative_transcript() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(50);
    let last_voice = rig.now;
    rig.silence(10);
    assert_eq!(rig.jobs().len(), 1, "speculative job at the 200 ms pause");
    assert!(matches!(rig.outputs.first(), Some(Output::SpeechStarted)));
    let job = rig.jobs()[0];
    // The worker finishes before the end of speech is certain.
    rig.finish(job, "check my order");
    assert!(rig.heard().is_empty(), "nothing heard before the end");
    rig.silence(10);
    let heard = rig.heard();
    assert_eq!(heard.len(), 1);
    assert_eq!(rig.jobs().len(), 1, "no second transcription");
    let (text, timing) = &heard[0];
    assert_eq!(text, "check my order");
    assert!(timing.speculative);
    assert_eq!(timing.speech_end, last_voice);
    assert_eq!(
        timing.transcript_at, rig.now,
        "available the moment speech ended"
    );
}

#[test]
fn a_late_speculative_result_is_heard_when_it_arrives() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(50);
    rig.silence(25);
    let job = rig.jobs()[0];
    assert!(rig.heard().is_empty());
    rig.silence(3);
    rig.finish(job, "returns");
    let heard = rig.heard();
    assert_eq!(heard.len(), 1);
    assert!(heard[0].1.speculative);
    assert_eq!(heard[0].1.transcript_at, rig.now);
}

#[test]
fn speech_after_the_pause_cancels_the_speculation() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(40);
    rig.silence(12);
    rig.tone(20);
    rig.silence(25);
    let jobs = rig.jobs();
    // One speculation per pause; the second pause was the end, so its job is the final one.
    assert_eq!(jobs.len(), 2);
    assert_eq!(rig.cancelled(), [jobs[0]]);
    rig.finish(jobs[0], "stale");
    assert!(rig.heard().is_empty());
    rig.finish(jobs[1], "one two three four");
    let heard = rig.heard();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0, "one two three four");
    assert!(heard[0].1.speculative);
}

#[test]
fn a_blip_is_noise_without_transcription() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(5);
    rig.silence(25);
    assert!(rig.jobs().len() <= 1, "at most the pause speculation");
    let heard = rig.heard();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0, "");
}

#[test]
fn transcripts_come_out_in_speaking_order() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(40);
    rig.silence(25);
    rig.tone(40);
    rig.silence(25);
    let jobs = rig.jobs();
    assert_eq!(jobs.len(), 2, "two speculations reused as finals");
    rig.finish(jobs[1], "second");
    assert!(rig.heard().is_empty(), "held until the first is in");
    rig.finish(jobs[0], "first");
    let texts: Vec<String> = rig.heard().into_iter().map(|(t, _)| t).collect();
    assert_eq!(texts, ["first", "second"]);
}

#[test]
fn listening_again_drops_pending_work() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(40);
    rig.silence(25);
    let job = rig.jobs()[0];
    rig.listener.listen("new question".into(), rig.now);
    rig.drain();
    assert!(rig.cancelled().contains(&job));
    rig.finish(job, "too late");
    assert!(rig.heard().is_empty());
}

#[test]
fn a_refused_job_makes_speech_unavailable() {
    let mut rig = Rig::new();
    rig.silence(25);
    rig.tone(40);
    rig.silence(25);
    let job = rig.jobs()[0];
    rig.listener.failed(job);
    rig.drain();
    assert_eq!(rig.outputs.last(), Some(&Output::Unavailable));
}

#[test]
fn stopped_listener_ignores_audio() {
    let mut rig = Rig::new();
    rig.listener.stop();
    rig.drain();
    rig.outputs.clear();
    rig.silence(25);
    rig.tone(40);
    rig.silence(25);
    assert!(rig.outputs.is_empty());
}

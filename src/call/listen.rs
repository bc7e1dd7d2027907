//! One call's ear, sans-IO: caller frames in, "speech started" and transcripts out.
//!
//! Wraps the endpointer and decides which audio to transcribe. At a short pause it asks for a
//! *speculative* transcription of the utterance so far; when the endpointer then confirms the
//! end with the very same samples, that transcript is used and most of the recognition time
//! has already passed while the caller was silent. If speech resumes, the speculative job is
//! cancelled and the final utterance is transcribed as usual. Transcripts come out in the order
//! the utterances were spoken, whatever order the workers finish in; utterances too short to
//! hold a word are reported as noise without being transcribed. The call task does the I/O:
//! submits [`Output::Transcribe`] jobs to the ASR pool, drops cancelled ones, and feeds
//! results back with [`Listener::transcribed`] or [`Listener::failed`].

use std::collections::VecDeque;

/// Utterances recognised at once for one call; an older one is dropped beyond this.
const MAX_AWAITED: usize = 4;
/// Speech shorter than this (beyond pre- and post-roll) is a click or a cough, not words.
const MIN_SPEECH_MS: u64 = 150;
use std::time::{Duration, Instant};

use crate::media::SAMPLE_RATE;
use crate::speech::asr::Transcript;
use crate::speech::endpoint::{ms_to_samples, EndpointConfig, EndpointEvent, Endpointer};
use crate::speech::vad::{EarshotVad, FrameClassifier};

/// Names one transcription request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct JobId(pub(super) u64);

/// When things happened for one utterance, for the ticket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct HeardTiming {
    /// The last voiced audio: the end decision minus the silence that confirmed it.
    pub(super) speech_end: Instant,
    /// The transcript was available.
    pub(super) transcript_at: Instant,
    /// Recognition time of the transcript used.
    pub(super) asr: Duration,
    /// Length of the utterance audio.
    pub(super) audio: Duration,
    /// The speculative (pause-time) transcript was the one used.
    pub(super) speculative: bool,
}

/// What the call task should do or know.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Output {
    /// The caller started speaking.
    SpeechStarted,
    /// Transcribe these 8 kHz samples.
    Transcribe {
        /// Reported back with the result.
        job: JobId,
        /// The utterance.
        samples: Vec<i16>,
        /// Decoder hints.
        hints: String,
    },
    /// The job is no longer wanted.
    Cancel(JobId),
    /// An utterance was recognised.
    Heard {
        /// Transcript.
        transcript: Transcript,
        /// Timings.
        timing: HeardTiming,
    },
    /// The recogniser could not take the utterance.
    Unavailable,
}

#[derive(Debug, Clone)]
struct Awaited {
    job: JobId,
    speech_end: Instant,
    audio: Duration,
    speculative: bool,
    /// Arrived out of order: held until the earlier utterances are out.
    result: Option<(Transcript, Instant)>,
}

#[derive(Debug)]
struct Speculation {
    job: JobId,
    samples: Vec<i16>,
    result: Option<Transcript>,
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct Listener<C: FrameClassifier = EarshotVad> {
    endpointer: Endpointer<C>,
    end_silence: Duration,
    hints: String,
    next_job: u64,
    speculation: Option<Speculation>,
    /// Jobs whose results become `Heard`, in speaking order.
    awaited: VecDeque<Awaited>,
    /// Shortest utterance worth transcribing, in samples.
    min_utterance: usize,
    outputs: VecDeque<Output>,
}

impl Listener {
    /// Not listening yet; frames are scored by the earshot VAD.
    pub(super) fn new(config: &EndpointConfig) -> Self {
        Self::with_endpointer(config, Endpointer::new(config))
    }
}

impl<C: FrameClassifier> Listener<C> {
    /// Not listening yet; `endpointer` was built from `config`.
    fn with_endpointer(config: &EndpointConfig, endpointer: Endpointer<C>) -> Self {
        Self {
            endpointer,
            end_silence: Duration::from_millis(u64::from(config.end_silence_ms)),
            hints: String::new(),
            next_job: 1,
            speculation: None,
            awaited: VecDeque::new(),
            min_utterance: ms_to_samples(
                u64::from(config.pre_roll_ms) + u64::from(config.post_roll_ms) + MIN_SPEECH_MS,
            ),
            outputs: VecDeque::new(),
        }
    }

    /// Starts listening afresh; whatever was being heard or transcribed is dropped.
    pub(super) fn listen(&mut self, hints: String, now: Instant) {
        self.drop_jobs();
        self.hints = hints;
        self.endpointer.listen(now);
    }

    /// Stops listening and drops pending work.
    pub(super) fn stop(&mut self) {
        self.drop_jobs();
        self.endpointer.stop();
    }

    /// One 20 ms caller frame, received at `now`.
    pub(super) fn push_frame(&mut self, frame: &[i16], now: Instant) {
        // Fed even when not listening: the endpointer keeps the pre-roll (and its VAD warm)
        // for a caller who starts talking as the question ends.
        self.endpointer.push_frame(frame, now);
        while let Some(event) = self.endpointer.poll_event() {
            match event {
                EndpointEvent::SpeechStarted => {
                    self.cancel_speculation();
                    self.outputs.push_back(Output::SpeechStarted);
                }
                EndpointEvent::Paused { utterance } => {
                    self.cancel_speculation();
                    let job = self.submit(utterance.clone());
                    self.speculation = Some(Speculation {
                        job,
                        samples: utterance,
                        result: None,
                    });
                }
                EndpointEvent::SpeechEnded { utterance } => {
                    let speech_end = now.checked_sub(self.end_silence).unwrap_or(now);
                    self.utterance_ended(utterance, speech_end, now);
                }
                EndpointEvent::MaxLength { utterance } => self.utterance_ended(utterance, now, now),
                // The dialplan owns the no-input timeout.
                EndpointEvent::NoInput => {}
            }
        }
    }

    /// A job finished.
    pub(super) fn transcribed(&mut self, job: JobId, transcript: Transcript, now: Instant) {
        if let Some(spec) = self.speculation.as_mut().filter(|s| s.job == job) {
            spec.result = Some(transcript);
            return;
        }
        if let Some(awaited) = self.awaited.iter_mut().find(|a| a.job == job) {
            awaited.result = Some((transcript, now));
        }
        while self.awaited.front().is_some_and(|a| a.result.is_some()) {
            let Some(Awaited {
                speech_end,
                audio,
                speculative,
                result: Some((transcript, at)),
                ..
            }) = self.awaited.pop_front()
            else {
                break;
            };
            self.outputs.push_back(Output::Heard {
                timing: HeardTiming {
                    speech_end,
                    transcript_at: at,
                    asr: transcript.elapsed,
                    audio,
                    speculative,
                },
                transcript,
            });
        }
    }

    /// A job was refused (pool busy) or failed.
    pub(super) fn failed(&mut self, job: JobId) {
        if self.speculation.as_ref().is_some_and(|s| s.job == job) {
            self.speculation = None;
        }
        let before = self.awaited.len();
        self.awaited.retain(|a| a.job != job);
        if self.awaited.len() < before {
            self.outputs.push_back(Output::Unavailable);
        }
    }

    /// The next thing for the call task.
    pub(super) fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn utterance_ended(&mut self, utterance: Vec<i16>, speech_end: Instant, now: Instant) {
        let audio = Duration::from_millis(utterance.len() as u64 * 1000 / u64::from(SAMPLE_RATE));
        if utterance.len() < self.min_utterance {
            self.cancel_speculation();
            let blip = Transcript {
                text: String::new(),
                confidence: 0.0,
                no_speech_prob: 1.0,
                elapsed: Duration::ZERO,
            };
            let job = JobId(0);
            self.awaited.push_back(Awaited {
                job,
                speech_end,
                audio,
                speculative: false,
                result: None,
            });
            self.transcribed(job, blip, now);
            return;
        }
        if self.awaited.len() >= MAX_AWAITED {
            if let Some(oldest) = self.awaited.pop_front() {
                self.outputs.push_back(Output::Cancel(oldest.job));
            }
        }
        let mut awaited = Awaited {
            job: JobId(0),
            speech_end,
            audio,
            speculative: true,
            result: None,
        };
        match self.speculation.take() {
            Some(spec) if spec.samples == utterance => {
                awaited.job = spec.job;
                self.awaited.push_back(awaited);
                if let Some(transcript) = spec.result {
                    self.transcribed(spec.job, transcript, now);
                }
            }
            other => {
                if let Some(spec) = other {
                    self.outputs.push_back(Output::Cancel(spec.job));
                }
                awaited.job = self.submit(utterance);
                awaited.speculative = false;
                self.awaited.push_back(awaited);
            }
        }
    }

    fn submit(&mut self, samples: Vec<i16>) -> JobId {
        let job = JobId(self.next_job);
        self.next_job += 1;
        self.outputs.push_back(Output::Transcribe {
            job,
            samples,
            hints: self.hints.clone(),
        });
        job
    }

    fn cancel_speculation(&mut self) {
        if let Some(spec) = self.speculation.take() {
            self.outputs.push_back(Output::Cancel(spec.job));
        }
    }

    fn drop_jobs(&mut self) {
        self.cancel_speculation();
        for awaited in std::mem::take(&mut self.awaited) {
            self.outputs.push_back(Output::Cancel(awaited.job));
        }
        self.outputs
            .retain(|o| !matches!(o, Output::SpeechStarted | Output::Heard { .. }));
    }
}

#[cfg(test)]
#[path = "listen_tests.rs"]
mod tests;

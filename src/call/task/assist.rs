//! The call task's agent-assist shell: while an agent is bridged, the agent leg's audio goes
//! through its own [`Listener`] (no hints) to the shared ASR pool, and each utterance becomes
//! an `agent-speech` ticket turn beside the caller's. Best effort by design: the media task
//! drops frames when the channel is full, and an utterance the pool refuses (full queue) is
//! skipped, so the caller's own recognition and the call never wait for the agent's words.
//! The ear lives in the bridged leg and stops with it (hang-up, transfer, end of call).

use std::time::Instant;

use tokio::sync::mpsc;
use tracing::debug;

use super::speech::{next_frame, next_job, Jobs};
use super::Call;
use crate::call::listen::{JobId, Listener, Output};
use crate::speech::asr::{AsrJob, Transcript};
use crate::speech::endpoint::EndpointConfig;

/// Agent frames buffered between the agent leg's media task and the call task (20 ms each).
pub(super) const AGENT_AUDIO_FRAMES: usize = 50;

/// The ear on one bridged agent leg.
pub(super) struct AgentEar {
    agent: String,
    frames: Option<mpsc::Receiver<Vec<i16>>>,
    listener: Listener,
    jobs: Jobs,
}

/// What the ear waits for.
pub(super) enum EarInput {
    /// A frame of the agent's audio (`None`: the leg's media stopped sending).
    Frame(Option<Vec<i16>>),
    /// A transcription finished (`Err`: its worker gave up).
    Transcribed(JobId, Result<Transcript, ()>),
}

impl AgentEar {
    /// A listening ear for `agent`, and the sender for the leg's `MediaConfig::caller_audio`.
    pub(super) fn start(
        agent: &str,
        config: &EndpointConfig,
        now: Instant,
    ) -> (AgentEar, mpsc::Sender<Vec<i16>>) {
        let (tx, rx) = mpsc::channel(AGENT_AUDIO_FRAMES);
        (AgentEar::on_frames(agent, config, now, rx), tx)
    }

    /// An ear on frames already flowing (a leg handed over from another call).
    pub(super) fn on_frames(
        agent: &str,
        config: &EndpointConfig,
        now: Instant,
        frames: mpsc::Receiver<Vec<i16>>,
    ) -> AgentEar {
        let mut listener = Listener::new(config);
        listener.listen(String::new(), now);
        AgentEar {
            agent: agent.to_owned(),
            frames: Some(frames),
            listener,
            jobs: Vec::new(),
        }
    }

    /// The leg's frames, for an ear on another call; transcriptions in flight are dropped.
    pub(super) fn into_frames(self) -> Option<mpsc::Receiver<Vec<i16>>> {
        self.frames
    }

    /// The next input; never resolves when there is nothing to wait for.
    pub(super) async fn next_input(&mut self) -> EarInput {
        tokio::select! {
            frame = next_frame(&mut self.frames) => EarInput::Frame(frame),
            (job, result) = next_job(&mut self.jobs), if !self.jobs.is_empty() => {
                EarInput::Transcribed(job, result)
            }
        }
    }
}

/// The next input of the bridged agent's ear; never resolves without one.
pub(super) async fn next_ear_input(ear: Option<&mut AgentEar>) -> EarInput {
    match ear {
        Some(ear) => ear.next_input().await,
        None => std::future::pending().await,
    }
}

impl Call {
    /// Feeds one input to the agent's ear and carries out what its listener asks for.
    pub(super) fn on_agent_ear(&mut self, input: EarInput) {
        let Some(ear) = self
            .queue
            .as_mut()
            .and_then(|q| q.bridged.as_mut())
            .and_then(|b| b.ear.as_mut())
        else {
            return;
        };
        let now = Instant::now();
        match input {
            EarInput::Frame(Some(frame)) => ear.listener.push_frame(&frame, now),
            EarInput::Frame(None) => ear.frames = None,
            EarInput::Transcribed(job, Ok(transcript)) => {
                ear.listener.transcribed(job, transcript, now)
            }
            EarInput::Transcribed(job, Err(())) => ear.listener.failed(job),
        }
        while let Some(output) = ear.listener.poll_output() {
            match output {
                Output::Transcribe { job, samples, .. } => {
                    let submitted = self.svc.asr.as_ref().map(|asr| {
                        asr.try_submit(AsrJob {
                            samples,
                            prompt: None,
                        })
                    });
                    match submitted {
                        Some(Ok(rx)) => ear.jobs.push((job, rx)),
                        _ => {
                            debug!(agent = %ear.agent, "ASR busy: agent utterance skipped");
                            ear.listener.failed(job);
                        }
                    }
                }
                Output::Cancel(job) => ear.jobs.retain(|(j, _)| *j != job),
                Output::Heard { transcript, timing } => {
                    self.log.agent_heard(&ear.agent, &transcript, &timing, now);
                }
                Output::SpeechStarted | Output::Unavailable => {}
            }
        }
    }
}

//! The call task's speech shell: caller frames to the [`Listener`], its transcription jobs to
//! the shared ASR pool, its results to the interpreter.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::Call;
use crate::call::listen::{JobId, Listener, Output};
use crate::dialplan::{Event, Interp};
use crate::speech::asr::{AsrJob, Transcript};

/// Transcription jobs in flight for one call (a speculative and a final one at most).
pub(super) type Jobs = Vec<(JobId, oneshot::Receiver<Transcript>)>;

impl Call {
    /// Carries out what the listener asked for; returns whether there was anything.
    pub(super) fn pump_listener(
        &mut self,
        listener: &mut Listener,
        jobs: &mut Jobs,
        interp: &mut Interp,
    ) -> bool {
        let mut any = false;
        while let Some(output) = listener.poll_output() {
            any = true;
            let now = Instant::now();
            match output {
                Output::SpeechStarted => {
                    tracing::debug!("speech started");
                    interp.handle_event(Event::SpeechStarted, now)
                }
                Output::Transcribe {
                    job,
                    samples,
                    hints,
                } => {
                    tracing::debug!(job = job.0, samples = samples.len(), "transcribing");
                    let submitted = self.svc.asr.as_ref().map(|asr| {
                        asr.try_submit(AsrJob {
                            samples,
                            prompt: Some(hints).filter(|h| !h.is_empty()),
                        })
                    });
                    match submitted {
                        Some(Ok(rx)) => jobs.push((job, rx)),
                        _ => {
                            crate::metrics::global().asr_busy.inc();
                            listener.failed(job);
                        }
                    }
                }
                Output::Cancel(job) => jobs.retain(|(j, _)| *j != job),
                Output::Heard { transcript, timing } => {
                    tracing::debug!(text = %transcript.text, confidence = transcript.confidence,
                        no_speech = transcript.no_speech_prob, asr_ms = transcript.elapsed.as_millis() as u64,
                        speculative = timing.speculative, "heard");
                    crate::metrics::global().asr_utterances.inc();
                    self.log.heard = Some(timing);
                    let text = if transcript.is_noise() {
                        String::new()
                    } else {
                        transcript.text
                    };
                    let confidence = transcript.confidence;
                    // Reading the turn embeds it (~10 ms of CPU): let the runtime move other
                    // tasks off this worker meanwhile.
                    let heard = || interp.handle_event(Event::Heard { text, confidence }, now);
                    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                            tokio::task::block_in_place(heard)
                        }
                        _ => heard(),
                    }
                    // Its ticket record must be written with this timing before the next
                    // utterance's arrives: let the caller run the interpreter's actions first.
                    return true;
                }
                Output::Unavailable => interp.handle_event(Event::SpeechUnavailable, now),
            }
        }
        any
    }
}

/// The next caller frame; never resolves when none are forwarded.
pub(super) async fn next_frame(rx: &mut Option<mpsc::Receiver<Vec<i16>>>) -> Option<Vec<i16>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The first job to finish; never resolves when there are none. A job whose worker gave up
/// (its sender dropped) resolves with an error.
pub(super) async fn next_job(jobs: &mut Jobs) -> (JobId, Result<Transcript, ()>) {
    std::future::poll_fn(|cx| {
        let ready = jobs.iter_mut().enumerate().find_map(|(index, (job, rx))| {
            match Pin::new(rx).poll(cx) {
                Poll::Ready(result) => Some((index, *job, result.map_err(|_| ()))),
                Poll::Pending => None,
            }
        });
        match ready {
            Some((index, job, result)) => {
                jobs.swap_remove(index);
                Poll::Ready((job, result))
            }
            None => Poll::Pending,
        }
    })
    .await
}

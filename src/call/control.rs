//! Commands to a live call from outside its task: the API asks a call (by its ticket) to let a
//! supervisor listen, whisper or barge in; a caller's call asks an agent's consultation call
//! for its bridged colleague (attended transfer). Each call task registers a bounded channel here
//! for its lifetime; a command carries a oneshot for the task's answer, so the API can say
//! whether it worked without reaching into the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::media::bridge::SupervisorMode;
use crate::media::session::{MediaEvent, MediaHandle};
use crate::sip::endpoint::CallKey;

/// Commands one call holds at once; beyond them the API answers 503.
pub const CONTROL_QUEUE: usize = 4;
/// How long a command waits for the call's answer (a call still being set up reads its
/// commands only once answered).
pub const CONTROL_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A command to one call.
#[derive(Debug)]
pub enum CallControl {
    /// Ring `user`'s phones and attach the one that answers in `mode`; with a supervisor
    /// already attached, switch its mode (or replace it with another user).
    Supervise {
        /// The supervisor's login (an agent of the agents file).
        user: String,
        /// Listen, whisper or barge.
        mode: SupervisorMode,
        /// The call's answer.
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// Hang up the supervisor's leg.
    EndSupervision {
        /// The call's answer.
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// Attended transfer: give the agent leg bridged to this call (a consultation `by`
    /// placed) to the call `to`, whose task owns the leg's SIP events from now on; this call
    /// then ends without hanging up its own leg (the taker does, after its NOTIFY).
    HandOver {
        /// The agent who placed this consultation and now transfers.
        by: String,
        /// The caller's call that takes the leg.
        to: CallKey,
        /// The dialog the transferring agent named; must be this call's.
        replaces: crate::sip::replaces::Replaces,
        /// The leg, or why not.
        reply: oneshot::Sender<Result<HandedLeg, ControlError>>,
    },
}

/// An agent leg moving from a consultation to the caller's call: its running media session
/// (still recording on the consultation's ticket until the taker says otherwise) and what the
/// taker needs to bridge, hang up and account for it.
#[derive(Debug)]
pub struct HandedLeg {
    /// The agent leg's SIP key.
    pub key: CallKey,
    /// The agent on it.
    pub user: String,
    /// Its RTP port (the taker releases it when the leg ends).
    pub port: u16,
    /// Its media session, unbridged.
    pub media: MediaHandle,
    /// The session's events.
    pub media_rx: mpsc::Receiver<MediaEvent>,
    /// The leg's audio for agent assist, when it was being transcribed.
    pub agent_audio: Option<mpsc::Receiver<Vec<i16>>>,
    /// Our SDP origin on the leg (re-INVITE answers continue its versions).
    pub origin: crate::sdp::SessionOrigin,
    /// The consultation's own leg to the transferring agent, for the taker to hang up.
    pub consultation: CallKey,
    /// The consultation's ticket.
    pub ticket: i64,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// No live call has that ticket.
    #[error("no live call has this ticket")]
    NoCall,
    /// The call is not bridged to an agent.
    #[error("the call is not with an agent")]
    NotWithAgent,
    /// The supervisor has no registered phone.
    #[error("{0} has no reachable phone")]
    Unreachable(String),
    /// The supervisor is the agent on the call.
    #[error("{0} is the agent on this call")]
    IsTheAgent(String),
    /// No supervisor is attached.
    #[error("no supervisor on this call")]
    NoSupervisor,
    /// A hand-over asked by someone other than the agent who placed the consultation.
    #[error("this call was not placed by {0}")]
    NotPlacedBy(String),
    /// The call's command queue is full.
    #[error("the call is busy; try again")]
    Busy,
}

/// The command channels of live calls, by ticket id.
#[derive(Clone, Default)]
pub struct CallControls {
    calls: Arc<Mutex<HashMap<i64, mpsc::Sender<CallControl>>>>,
}

impl CallControls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, mpsc::Sender<CallControl>>> {
        // Inserts and removes are single operations: a panic elsewhere cannot leave it torn.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the call of `ticket`; its task reads the returned receiver.
    pub(crate) fn register(&self, ticket: i64) -> mpsc::Receiver<CallControl> {
        let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
        self.lock().insert(ticket, tx);
        rx
    }

    /// Forgets the call of `ticket` (it ended).
    pub(crate) fn remove(&self, ticket: i64) {
        self.lock().remove(&ticket);
    }

    /// Sends the command `make` builds to the call of `ticket` and waits for its answer.
    pub async fn send<T>(
        &self,
        ticket: i64,
        make: impl FnOnce(oneshot::Sender<Result<T, ControlError>>) -> CallControl,
    ) -> Result<T, ControlError> {
        let tx = self
            .lock()
            .get(&ticket)
            .cloned()
            .ok_or(ControlError::NoCall)?;
        let (reply, answer) = oneshot::channel();
        tx.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ControlError::Busy,
            mpsc::error::TrySendError::Closed(_) => ControlError::NoCall,
        })?;
        match tokio::time::timeout(CONTROL_ANSWER_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            // The call ended before it answered: the same as it not being there.
            Ok(Err(_)) => Err(ControlError::NoCall),
            Err(_) => Err(ControlError::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_reach_the_registered_call_and_its_answer_comes_back() {
        let controls = CallControls::default();
        let mut rx = controls.register(7);
        let task = tokio::spawn(async move {
            match rx.recv().await {
                Some(CallControl::EndSupervision { reply }) => {
                    let _ = reply.send(Err(ControlError::NoSupervisor));
                }
                other => panic!("unexpected {other:?}"),
            }
        });
        let answer = controls
            .send(7, |reply| CallControl::EndSupervision { reply })
            .await;
        assert_eq!(answer, Err(ControlError::NoSupervisor));
        task.await.unwrap();
        assert_eq!(
            controls
                .send(8, |reply| CallControl::EndSupervision { reply })
                .await,
            Err(ControlError::NoCall)
        );
    }

    #[tokio::test]
    async fn a_full_or_gone_call_is_reported_not_waited_for() {
        let controls = CallControls::default();
        let rx = controls.register(1);
        for _ in 0..CONTROL_QUEUE {
            let tx = controls.lock().get(&1).cloned().unwrap();
            let (reply, _) = oneshot::channel();
            tx.try_send(CallControl::EndSupervision { reply }).unwrap();
        }
        assert_eq!(
            controls
                .send(1, |reply| CallControl::EndSupervision { reply })
                .await,
            Err(ControlError::Busy)
        );
        drop(rx);
        assert_eq!(
            controls
                .send(1, |reply| CallControl::EndSupervision { reply })
                .await,
            Err(ControlError::NoCall)
        );
        controls.remove(1);
        assert!(controls.lock().is_empty());
    }
}

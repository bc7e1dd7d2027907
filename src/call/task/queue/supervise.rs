//! A supervisor on a bridged call: the API names a supervisor (any agent of the agents file)
//! and a mode; voxdesk rings the supervisor's phones like an agent's (with an
//! `X-Voxdesk-Supervise` header saying the mode), and attaches the leg that answers to the
//! caller–agent bridge: listen (hears both, heard by nobody), whisper (only the agent hears
//! the supervisor: coaching) or barge (a three-way call). The mode can change while attached;
//! the supervisor's leg ends with the bridge, or when either side hangs it up.
//!
//! The supervisor's leg is recorded like an agent's: the supervisor on the left, what they
//! heard on the right.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::{Call, RingingLeg, MAX_PHONES_PER_AGENT};
use crate::call::{CallControl, ControlError};
use crate::dialplan::Interp;
use crate::media::bridge::SupervisorMode;
use crate::media::session::{MediaEvent, MediaHandle, MediaSession};
use crate::sdp;
use crate::sip::endpoint::{CallKey, SipEvent};
use crate::sip::transport::SipCommand;
use crate::tickets::TurnKind;

/// A supervisor asked for on a bridged call.
pub(in crate::call::task) struct Supervision {
    user: String,
    mode: SupervisorMode,
    ringing: HashMap<CallKey, RingingLeg>,
    attached: Option<SupervisorLeg>,
}

/// The supervisor's phone that answered.
struct SupervisorLeg {
    key: CallKey,
    port: u16,
    media: MediaHandle,
    media_rx: mpsc::Receiver<MediaEvent>,
}

impl Call {
    /// A command from the API.
    /// Carries out an API or hand-over command; true when this call must end now (its agent
    /// leg went to another call).
    pub(in crate::call::task) async fn on_control(
        &mut self,
        command: CallControl,
        interp: &Interp,
    ) -> bool {
        match command {
            CallControl::Supervise { user, mode, reply } => {
                let result = self.supervise(user, mode, interp).await;
                let _ = reply.send(result);
            }
            CallControl::EndSupervision { reply } => {
                let result = self.end_supervision().await;
                let _ = reply.send(result);
            }
            CallControl::HandOver {
                by,
                to,
                replaces,
                reply,
            } => {
                let result = self.hand_over(&by, to, &replaces).await;
                let handed = result.is_ok();
                if let Err(Ok(leg)) = reply.send(result) {
                    // The taker gave up waiting: the leg stays with nobody, so it ends.
                    self.hang_up_leg(leg.key).await;
                    let _ = leg.media.shutdown();
                    self.svc.ports.release(leg.port);
                }
                return handed;
            }
        }
        false
    }

    fn supervision(&mut self) -> Option<&mut Option<Supervision>> {
        Some(&mut self.queue.as_mut()?.bridged.as_mut()?.supervision)
    }

    async fn supervise(
        &mut self,
        user: String,
        mode: SupervisorMode,
        interp: &Interp,
    ) -> Result<(), ControlError> {
        let agent = self
            .queue
            .as_ref()
            .and_then(|q| q.bridged.as_ref())
            .map(|b| b.user.clone())
            .ok_or(ControlError::NotWithAgent)?;
        if agent == user {
            return Err(ControlError::IsTheAgent(user));
        }
        let switched = self.switch_mode(&user, mode);
        if let Some(result) = switched {
            return result;
        }
        // Someone else was supervising: they make way.
        if let Some(previous) = self.supervision().and_then(Option::take) {
            self.drop_supervision(previous).await;
        }
        let (reply, answer) = oneshot::channel();
        self.sip(SipCommand::Lookup(user.clone(), reply)).await;
        let bindings = answer.await.unwrap_or_default();
        let mut ringing = HashMap::new();
        for binding in bindings.into_iter().take(MAX_PHONES_PER_AGENT) {
            if let Some((key, leg)) = self.place_leg(&user, &binding, interp, Some(mode)).await {
                ringing.insert(key, leg);
            }
        }
        if ringing.is_empty() {
            return Err(ControlError::Unreachable(user));
        }
        self.log.turn(
            TurnKind::Note,
            format!("supervisor {user} called in to {}", mode.name()),
            json!(null),
        );
        match self.supervision() {
            Some(slot) => {
                *slot = Some(Supervision {
                    user,
                    mode,
                    ringing,
                    attached: None,
                });
                Ok(())
            }
            None => {
                for (key, leg) in ringing {
                    self.svc.ports.release(leg.port);
                    self.hang_up_leg(key).await;
                }
                Err(ControlError::NotWithAgent)
            }
        }
    }

    /// The same supervisor asked again: a new mode for their leg. `None` when `user` is not
    /// the current supervisor.
    fn switch_mode(
        &mut self,
        user: &str,
        mode: SupervisorMode,
    ) -> Option<Result<(), ControlError>> {
        let bridged = self.queue.as_mut()?.bridged.as_mut()?;
        let supervision = bridged.supervision.as_mut().filter(|s| s.user == user)?;
        supervision.mode = mode;
        if let (Some(leg), Some(link)) = (&supervision.attached, bridged.bridge.as_mut()) {
            if let Err(e) = link.supervise(mode, &leg.media) {
                warn!(error = %e, "switching the supervisor's mode");
            }
        }
        self.log.turn(
            TurnKind::Note,
            format!("supervisor {user} switched to {}", mode.name()),
            json!(null),
        );
        Some(Ok(()))
    }

    async fn end_supervision(&mut self) -> Result<(), ControlError> {
        let supervision = self
            .supervision()
            .and_then(Option::take)
            .ok_or(ControlError::NoSupervisor)?;
        self.drop_supervision(supervision).await;
        Ok(())
    }

    /// Hangs up every leg of `supervision` and detaches it from the bridge.
    pub(in crate::call::task) async fn drop_supervision(&mut self, supervision: Supervision) {
        for (key, leg) in supervision.ringing {
            self.svc.ports.release(leg.port);
            self.hang_up_leg(key).await;
        }
        if let Some(leg) = supervision.attached {
            self.hang_up_leg(leg.key).await;
            self.detach(leg).await;
            self.log.turn(
                TurnKind::Note,
                format!("supervisor {} left", supervision.user),
                json!(null),
            );
        }
    }

    async fn detach(&mut self, leg: SupervisorLeg) {
        if let Some(link) = self
            .queue
            .as_mut()
            .and_then(|q| q.bridged.as_mut())
            .and_then(|b| b.bridge.as_mut())
        {
            let _ = link.end_supervision();
        }
        let _ = leg.media.shutdown();
        let mut rx = leg.media_rx;
        let _ = super::super::wait_stopped(&mut rx).await;
        self.svc.ports.release(leg.port);
    }

    /// Whether `key` is a leg of the call's supervisor.
    pub(in crate::call::task) fn is_supervisor_leg(&self, key: CallKey) -> bool {
        self.queue
            .as_ref()
            .and_then(|q| q.bridged.as_ref())
            .and_then(|b| b.supervision.as_ref())
            .is_some_and(|s| {
                s.ringing.contains_key(&key) || s.attached.as_ref().is_some_and(|l| l.key == key)
            })
    }

    /// An event of a supervisor's leg.
    pub(in crate::call::task) async fn on_supervisor_event(&mut self, event: SipEvent) {
        match event {
            SipEvent::Answered { key, sdp } => self.supervisor_answered(key, sdp).await,
            SipEvent::Rejected { key, .. } => {
                let Some(supervision) = self.supervision().and_then(Option::as_mut) else {
                    return;
                };
                if let Some(leg) = supervision.ringing.remove(&key) {
                    self.svc.ports.release(leg.port);
                }
                let gone = self
                    .supervision()
                    .and_then(|s| s.as_ref())
                    .is_some_and(|s| s.ringing.is_empty() && s.attached.is_none());
                if gone {
                    if let Some(s) = self.supervision().and_then(Option::take) {
                        info!(user = %s.user, "supervisor did not answer");
                    }
                }
            }
            SipEvent::RemoteBye(key) | SipEvent::Ended(key) => {
                let Some(supervision) = self.supervision().and_then(Option::as_mut) else {
                    return;
                };
                if let Some(leg) = supervision.ringing.remove(&key) {
                    self.svc.ports.release(leg.port);
                    return;
                }
                if supervision.attached.as_ref().is_some_and(|l| l.key == key) {
                    if let Some(s) = self.supervision().and_then(Option::take) {
                        let user = s.user.clone();
                        if let Some(leg) = s.attached {
                            self.detach(leg).await;
                        }
                        self.log.turn(
                            TurnKind::Note,
                            format!("supervisor {user} left"),
                            json!(null),
                        );
                    }
                }
            }
            SipEvent::ReInvite { key, .. } => {
                // Supervisors' phones have no reason to hold; refuse rather than guess.
                self.sip(SipCommand::AnswerReinvite(key, Err(488))).await;
            }
            _ => {}
        }
    }

    async fn supervisor_answered(&mut self, key: CallKey, answer: Option<String>) {
        let Some(supervision) = self.supervision().and_then(Option::as_mut) else {
            self.hang_up_leg(key).await;
            return;
        };
        let Some(leg) = supervision.ringing.remove(&key) else {
            self.hang_up_leg(key).await;
            return;
        };
        let others: Vec<(CallKey, RingingLeg)> = supervision.ringing.drain().collect();
        let mode = supervision.mode;
        let user = supervision.user.clone();
        let already = supervision.attached.is_some();
        for (other, ringing) in others {
            self.svc.ports.release(ringing.port);
            self.hang_up_leg(other).await;
        }
        let negotiated = answer
            .as_deref()
            .ok_or_else(|| "no SDP in the answer".to_string())
            .and_then(|a| sdp::accept_answer(a, &leg.local).map_err(|e| e.to_string()));
        let negotiated = match negotiated {
            Ok(n) if !already => n,
            Ok(_) => {
                self.svc.ports.release(leg.port);
                self.hang_up_leg(key).await;
                return;
            }
            Err(e) => {
                warn!(user = %user, error = %e, "supervisor answer unusable");
                self.svc.ports.release(leg.port);
                self.hang_up_leg(key).await;
                let _ = self.supervision().and_then(Option::take);
                return;
            }
        };
        self.supervisor_legs += 1;
        let record_path = self.supervisor_recording(self.supervisor_legs);
        let media_cfg = self.media_config(&negotiated, record_path.clone());
        let (media, media_rx) = MediaSession::start(leg.socket, media_cfg);
        let wired = self
            .queue
            .as_mut()
            .and_then(|q| q.bridged.as_mut())
            .and_then(|b| b.bridge.as_mut())
            .map(|link| link.supervise(mode, &media));
        if !matches!(wired, Some(Ok(()))) {
            warn!(user = %user, "attaching the supervisor failed");
        }
        if let Some(supervision) = self.supervision().and_then(Option::as_mut) {
            supervision.attached = Some(SupervisorLeg {
                key,
                port: leg.port,
                media,
                media_rx,
            });
        }
        info!(supervisor = %user, mode = mode.name(), "supervisor attached");
        self.log.turn(
            TurnKind::Note,
            format!("supervisor {user} is on the call ({})", mode.name()),
            json!({
                "supervisor": user,
                "mode": mode.name(),
                "recording": record_path.map(|p| p.to_string_lossy().into_owned()),
            }),
        );
    }

    /// Where the `n`th supervisor leg (1-based) of this call is recorded: the first keeps the
    /// plain name, later ones are numbered, as agent legs are.
    fn supervisor_recording(&self, n: u32) -> Option<PathBuf> {
        self.leg_recording("supervisor", n)
    }
}

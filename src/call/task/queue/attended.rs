//! Attended transfer (REFER with Replaces, RFC 3891; the flow of RFC 5589 §7) through voxdesk.
//!
//! The consultation: while the caller hears hold music, the agent's phone calls a colleague
//! (`sip:bob@voxdesk`) or a queue. Its INVITE is digest-authenticated (the registrar's
//! `identify_inviter`), so only an agent can call an agent this way. The call runs a small
//! generated dialplan, one `queue` step pinned to that colleague, so ringing, bridging,
//! recording and the ACD work as for any caller, on a ticket of its own.
//!
//! The transfer: the agent sends REFER on the caller's leg, `Refer-To: <sip:bob@…?Replaces=…>`
//! naming the consultation dialog. voxdesk is the B2BUA of both calls, so it sends no INVITE
//! with Replaces anywhere: the caller's task asks the consultation's task for its bridged leg
//! ([`CallControl::HandOver`]), bridges the caller to it, records it on the caller's ticket
//! from then on, NOTIFYs 200 and hangs up both of the transferring agent's legs. The ACD
//! moves the colleague onto the caller's call without counting a new call taken.
//!
//! Refusals leave the caller with the transferring agent: a Replaces that names no live
//! consultation (or one placed by someone else) gets NOTIFY 481, one whose colleague has not
//! answered yet (no early-dialog transfer) 481 too, a malformed one 400.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tracing::{info, warn};

use super::super::assist::AgentEar;
use super::transfer::TransferTarget;
use super::{Bridged, Call, Queueing};
use crate::acd::AcdSnapshot;
use crate::call::{CallControl, ControlError, HandedLeg};
use crate::dialplan::{load_str, Dialplan, Event, Interp};
use crate::media::bridge::bridge;
use crate::sip::endpoint::CallKey;
use crate::sip::replaces::{self, Replaces};
use crate::sip::transport::SipCommand;
use crate::tickets::{HandlingUpdate, Timestamp, TurnKind};

/// Seconds a consultation rings its colleague (or waits in the queue) before giving up.
const CONSULTATION_MAX_WAIT_SECS: u32 = 60;

/// Whom an agent's call to `called` consults: an agent by login (not the caller themself),
/// else a queue no dialplan route claims (a routed user is a dialplan, as for any caller).
pub(in crate::call::task) fn consultation_target(
    called: &str,
    placed_by: &str,
    acd: &AcdSnapshot,
    routed: impl Fn(&str) -> bool,
) -> Option<TransferTarget> {
    if let Some(agent) = acd.agents.iter().find(|a| a.user == called) {
        if agent.user == placed_by {
            return None;
        }
        return Some(TransferTarget::Agent {
            user: agent.user.clone(),
            queue: agent.queues.first()?.clone(),
        });
    }
    let queue = acd.queues.iter().find(|q| q.name == called)?;
    (!routed(called)).then(|| TransferTarget::Queue(queue.name.clone()))
}

/// The dialplan of a consultation: ring the colleague (first in line), else say why not.
pub(in crate::call::task) fn consultation_plan(target: &TransferTarget) -> Option<Dialplan> {
    // JSON strings are YAML double-quoted scalars: names cannot break out of their line.
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let (queue, agent) = match target {
        TransferTarget::Agent { user, queue } => {
            (queue, format!("\n      agent: {}", quoted(user)))
        }
        TransferTarget::Queue(name) => (name, String::new()),
    };
    let yaml = format!(
        "name: consultation\n\
         steps:\n  \
           - queue:\n      \
               name: {queue}{agent}\n      \
               priority: 9\n      \
               max_wait: {CONSULTATION_MAX_WAIT_SECS}\n      \
               on_timeout: unanswered\n      \
               on_full: unavailable\n  \
           - label: unanswered\n    \
             say: \"Nobody answered.\"\n  \
           - hangup: completed\n  \
           - label: unavailable\n    \
             say: \"Nobody is available right now.\"\n  \
           - hangup: completed\n",
        queue = quoted(queue),
    );
    load_str("consultation", &yaml)
        .inspect_err(|e| warn!(error = %e, "consultation dialplan"))
        .ok()
}

impl Call {
    /// The consultation dialplan when `placed_by` (an authenticated agent) calls a colleague
    /// or a queue; `None` runs the ordinary dialplan.
    pub(in crate::call::task) async fn consultation(
        &self,
        placed_by: &str,
        called: &str,
    ) -> Option<Arc<Dialplan>> {
        let (snapshot, _) = self.svc.acd.snapshot().await.ok()?;
        let routes = &self.svc.dialplans;
        let routed = |user: &str| {
            routes
                .routed()
                .iter()
                .any(|(u, _)| u.eq_ignore_ascii_case(user))
        };
        let target = consultation_target(called, placed_by, &snapshot, routed)?;
        let plan = consultation_plan(&target)?;
        let (kind, name) = match &target {
            TransferTarget::Agent { user, .. } => ("agent", user.as_str()),
            TransferTarget::Queue(name) => ("queue", name.as_str()),
        };
        self.log.turn(
            TurnKind::Note,
            format!("consultation: {placed_by} calls {kind} {name}"),
            json!({"consultation": {"by": placed_by, "target_kind": kind, "target": name}}),
        );
        Some(Arc::new(plan))
    }

    /// The bridged agent sent REFER with Replaces: take the consultation's colleague.
    pub(in crate::call::task) async fn attended_transfer(
        &mut self,
        key: CallKey,
        from: String,
        replaces: &str,
        interp: &mut Interp,
    ) {
        let Some(replaces) = replaces::parse(replaces) else {
            self.sip(SipCommand::NotifyRefer(key, 400)).await;
            return;
        };
        let Some(ticket) = self.svc.registry.ticket_of_call_id(&replaces.call_id) else {
            info!(agent = %from, call_id = %replaces.call_id, "attended transfer: no such consultation");
            self.sip(SipCommand::NotifyRefer(key, 481)).await;
            return;
        };
        let me = self.key;
        let by = from.clone();
        let handed = self
            .svc
            .controls
            .send(ticket, |reply| CallControl::HandOver {
                by,
                to: me,
                replaces,
                reply,
            })
            .await;
        let leg = match handed {
            Ok(leg) => leg,
            Err(e) => {
                info!(agent = %from, error = %e, "attended transfer refused");
                self.log.turn(
                    TurnKind::Note,
                    format!("attended transfer by {from} refused: {e}"),
                    json!(null),
                );
                self.sip(SipCommand::NotifyRefer(key, 481)).await;
                return;
            }
        };
        self.take_handed_leg(key, from, leg, interp).await;
    }

    /// Bridges the caller to the consultation's colleague and lets the transferring agent go.
    async fn take_handed_leg(
        &mut self,
        key: CallKey,
        from: String,
        leg: HandedLeg,
        interp: &mut Interp,
    ) {
        let by_recording = self
            .agent_recording(self.agent_legs)
            .map(|p| p.to_string_lossy().into_owned());
        self.sip(SipCommand::NotifyRefer(key, 200)).await;
        if let Some(b) = self.queue.as_mut().and_then(|q| q.bridged.take()) {
            self.end_bridge(b, true).await;
        }
        self.sip(SipCommand::Hangup(leg.consultation)).await;
        let consultation = crate::acd::CallId(leg.consultation.0);
        if let Err(e) = self
            .svc
            .acd
            .hand_over(consultation, Queueing::acd_call(self.key))
            .await
        {
            warn!(error = %e, "ACD hand-over");
        }
        self.agent_legs += 1;
        let record_path = self.agent_recording(self.agent_legs);
        let _ = leg.media.record_to(record_path.clone());
        if let Some(path) = record_path {
            self.log.handling(HandlingUpdate::AgentRecording(
                path.to_string_lossy().into(),
            ));
        }
        let linked = self
            .media
            .as_ref()
            .and_then(|caller| bridge(caller, &leg.media).ok());
        if linked.is_none() {
            warn!("bridging the transferred agent failed");
        }
        let user = leg.user.clone();
        self.log.handling(HandlingUpdate::AgentTried(user.clone()));
        self.log.handling(HandlingUpdate::Transfer(json!({
            "kind": "attended",
            "by": from,
            "target_kind": "agent",
            "target": user,
            "outcome": "answered",
            "wait_ms": 0,
            "by_recording": by_recording,
            "consultation_ticket": leg.ticket,
            "at": Timestamp::now(),
        })));
        self.log.turn(
            TurnKind::Note,
            format!(
                "{from} transferred the call to agent {user} after consulting (ticket {})",
                leg.ticket
            ),
            json!(null),
        );
        let ear = leg.agent_audio.map(|frames| {
            AgentEar::on_frames(
                &user,
                &self.svc.config.speech.endpoint,
                Instant::now(),
                frames,
            )
        });
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        let id = q.id;
        q.bridged = Some(Bridged::new(
            leg.key,
            user.clone(),
            leg.port,
            (leg.media, leg.media_rx),
            linked,
            leg.origin,
            ear,
        ));
        self.svc
            .registry
            .update(self.key, |c| c.state = "with agent".into());
        info!(by = %from, agent = %user, "attended transfer");
        interp.handle_event(Event::AgentAnswered { id, agent: user }, Instant::now());
    }

    /// In a consultation: give the bridged colleague's leg to the caller's call `to`.
    pub(in crate::call::task) async fn hand_over(
        &mut self,
        by: &str,
        to: CallKey,
        replaces: &Replaces,
    ) -> Result<HandedLeg, ControlError> {
        if self.placed_by.as_deref() != Some(by) {
            return Err(ControlError::NotPlacedBy(by.to_owned()));
        }
        let (ours, theirs) = &self.dialog_tags;
        if !replaces.names_tags(ours, theirs) {
            return Err(ControlError::NoCall);
        }
        let mut b = self
            .queue
            .as_mut()
            .and_then(|q| q.bridged.take())
            .ok_or(ControlError::NotWithAgent)?;
        if let Some(supervision) = b.supervision.take() {
            self.drop_supervision(supervision).await;
        }
        if let Some(link) = b.bridge.take() {
            let _ = link.unbridge();
        }
        let talked = b.since.elapsed();
        self.log.handling(HandlingUpdate::TalkEnded {
            talk_ms: i64::try_from(talked.as_millis()).unwrap_or(i64::MAX),
            hold_ms: b.hold.hold_ms(Instant::now()),
        });
        self.log.turn(
            TurnKind::Note,
            format!("{by} transferred a caller to {}", b.user),
            json!(null),
        );
        self.svc.legs.reroute(b.key, to);
        // The ACD entry goes with the leg (`hand_over` on the taker's side).
        self.queue = None;
        Ok(HandedLeg {
            key: b.key,
            user: b.user,
            port: b.port,
            media: b.media,
            media_rx: b.media_rx,
            agent_audio: b.ear.and_then(AgentEar::into_frames),
            origin: b.origin,
            consultation: self.key,
            ticket: self.ticket.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::transfer::tests::snapshot;
    use super::*;

    #[test]
    fn an_agent_consults_a_colleague_or_an_unrouted_queue() {
        let acd = snapshot();
        let routed = |user: &str| user == "support";
        let cases = [
            (
                "bob",
                Some(TransferTarget::Agent {
                    user: "bob".into(),
                    queue: "billing".into(),
                }),
            ),
            ("billing", Some(TransferTarget::Queue("billing".into()))),
            // A routed user is a dialplan, as for any caller.
            ("support", None),
            ("alice", None),
            ("idle", None),
            ("0612345678", None),
        ];
        for (called, want) in cases {
            assert_eq!(
                consultation_target(called, "alice", &acd, routed),
                want,
                "{called}"
            );
        }
    }

    #[test]
    fn the_consultation_plan_loads_and_quotes_names() {
        for target in [
            TransferTarget::Agent {
                user: "bob".into(),
                queue: "billing".into(),
            },
            TransferTarget::Queue("billing".into()),
            TransferTarget::Agent {
                user: "o'neil: \"x\"\n- hangup: failed".into(),
                queue: "q#1".into(),
            },
        ] {
            let plan = consultation_plan(&target);
            assert!(plan.is_some(), "{target:?}");
        }
    }
}

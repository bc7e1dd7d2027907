//! Blind transfers by the agent (attended ones are in [`super::attended`]) (REFER from the agent's phone, or the desk's transfer
//! button): voxdesk is the B2BUA, so it does not pass the REFER on to the caller; it takes
//! the caller back from the agent, plays hold music, and queues the caller again, first in
//! line, for the named agent or queue. The transferring agent hears `200 OK` in the NOTIFY
//! as soon as the target is accepted, then a BYE: the caller is voxdesk's to place.
//!
//! A transfer nobody takes within [`TRANSFER_MAX_WAIT`] ends like the agent hanging up (the
//! dialplan goes on, e.g. to its survey or a callback offer); the ticket's `transfers` list
//! says so.

use std::time::{Duration, Instant};

use serde_json::json;
use tracing::info;

use super::{Call, Queueing};
use crate::acd::AcdSnapshot;
use crate::acd::CallerInfo;
use crate::dialplan::Interp;
use crate::sip::endpoint::CallKey;
use crate::sip::transport::SipCommand;
use crate::tickets::{HandlingUpdate, Timestamp, TurnKind};

/// Longest a transferred caller waits for the target before the dialplan takes over again.
pub(in crate::call::task) const TRANSFER_MAX_WAIT: Duration = Duration::from_secs(90);

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::call::task) enum TransferTarget {
    /// One agent, rung through the first queue they serve.
    Agent {
        /// Their login.
        user: String,
        /// The queue the call waits in meanwhile.
        queue: String,
    },
    /// Anyone of a queue, by its strategy.
    Queue(String),
}

impl TransferTarget {
    fn queue(&self) -> &str {
        match self {
            TransferTarget::Agent { queue, .. } => queue,
            TransferTarget::Queue(name) => name,
        }
    }

    fn describe(&self) -> (&'static str, &str) {
        match self {
            TransferTarget::Agent { user, .. } => ("agent", user),
            TransferTarget::Queue(name) => ("queue", name),
        }
    }
}

/// A transfer waiting for its target to answer.
#[derive(Debug)]
pub(in crate::call::task) struct PendingTransfer {
    /// Who transferred.
    pub(super) from: String,
    pub(super) target: TransferTarget,
    pub(super) since: Instant,
    pub(super) deadline: Instant,
    /// The transferring agent's leg recording (the ticket's path moves on to the target's).
    recording: Option<String>,
}

/// Why a REFER was refused: the NOTIFY's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::call::task) enum Refusal {
    /// No agent or queue of that name (404).
    Unknown = 404,
    /// The agent named themselves (403).
    ToSelf = 403,
}

/// The target a Refer-To's user part names: a queue first (queue and agent names are
/// separate namespaces in the agents file; a queue is the more common target), then an agent.
pub(in crate::call::task) fn transfer_target(
    name: &str,
    from: &str,
    acd: &AcdSnapshot,
) -> Result<TransferTarget, Refusal> {
    if acd.queues.iter().any(|q| q.name == name) {
        return Ok(TransferTarget::Queue(name.to_owned()));
    }
    let agent = acd
        .agents
        .iter()
        .find(|a| a.user == name)
        .ok_or(Refusal::Unknown)?;
    if agent.user == from {
        return Err(Refusal::ToSelf);
    }
    let queue = agent.queues.first().ok_or(Refusal::Unknown)?;
    Ok(TransferTarget::Agent {
        user: agent.user.clone(),
        queue: queue.clone(),
    })
}

impl Call {
    /// The bridged agent asked (REFER) to transfer the caller to `refer_to`.
    pub(in crate::call::task) async fn agent_transfer(
        &mut self,
        key: CallKey,
        refer_to: &str,
        replaces: Option<&str>,
        interp: &mut Interp,
    ) {
        let from = self
            .queue
            .as_ref()
            .and_then(|q| q.bridged.as_ref())
            .filter(|b| b.key == key)
            .map(|b| b.user.clone());
        let Some(from) = from else {
            self.sip(SipCommand::NotifyRefer(key, 481)).await;
            return;
        };
        if let Some(replaces) = replaces {
            self.attended_transfer(key, from, replaces, interp).await;
            return;
        }
        let name = super::super::user_part(refer_to);
        let target = match self.svc.acd.snapshot().await {
            Ok((snapshot, _)) => transfer_target(&name, &from, &snapshot),
            Err(_) => Err(Refusal::Unknown),
        };
        let target = match target {
            Ok(target) => target,
            Err(refusal) => {
                info!(agent = %from, target = %name, ?refusal, "transfer refused");
                self.sip(SipCommand::NotifyRefer(key, refusal as u16)).await;
                return;
            }
        };
        let (kind, to) = target.describe();
        let info = CallerInfo {
            // A transferred caller has waited once already: first in line.
            priority: u8::MAX,
            agent: match &target {
                TransferTarget::Agent { user, .. } => Some(user.clone()),
                TransferTarget::Queue(_) => None,
            },
            ..CallerInfo::default()
        };
        let recording = self
            .agent_recording(self.agent_legs)
            .map(|p| p.to_string_lossy().into_owned());
        // The ACD lets go of the first agent (wrap-up) before the call is queued again.
        if let Some(b) = self.queue.as_mut().and_then(|q| q.bridged.take()) {
            self.sip(SipCommand::NotifyRefer(key, 200)).await;
            self.end_bridge(b, true).await;
        }
        self.svc.acd.leave(Queueing::acd_call(self.key)).await;
        self.log.turn(
            TurnKind::Note,
            format!("{from} transferred the call to {kind} {to}"),
            json!(null),
        );
        info!(agent = %from, kind, to, "blind transfer");
        let joined = self
            .svc
            .acd
            .enqueue(Queueing::acd_call(self.key), target.queue(), info)
            .await;
        let now = Instant::now();
        match joined {
            Ok((_, notices)) => {
                if let Some(q) = self.queue.as_mut() {
                    q.notices = notices;
                    q.name = target.queue().to_owned();
                    q.transfer = Some(PendingTransfer {
                        from,
                        target,
                        since: now,
                        deadline: now + TRANSFER_MAX_WAIT,
                        recording,
                    });
                }
                self.svc
                    .registry
                    .update(self.key, |c| c.state = "transferring".into());
                self.resume_hold_music();
            }
            Err(e) => {
                let pending = PendingTransfer {
                    from,
                    target,
                    since: now,
                    deadline: now,
                    recording,
                };
                self.record_transfer(&pending, "failed");
                self.log
                    .turn(TurnKind::Note, format!("transfer failed: {e}"), json!(null));
                self.agent_gone(interp).await;
            }
        }
    }

    /// The transfer's target answered: the ticket gets the transfer with its wait.
    pub(in crate::call::task) fn transfer_answered(&mut self) {
        let Some(pending) = self.queue.as_mut().and_then(|q| q.transfer.take()) else {
            return;
        };
        self.record_transfer(&pending, "answered");
    }

    /// Nobody took the transfer in time: the dialplan goes on as if the agent hung up.
    pub(in crate::call::task) async fn transfer_unanswered(&mut self, interp: &mut Interp) {
        let Some(pending) = self.queue.as_mut().and_then(|q| q.transfer.take()) else {
            return;
        };
        self.record_transfer(&pending, "unanswered");
        self.stop_ringing_all().await;
        self.agent_gone(interp).await;
    }

    fn record_transfer(&self, pending: &PendingTransfer, outcome: &str) {
        let (kind, to) = pending.target.describe();
        let waited = pending.since.elapsed();
        self.log.handling(HandlingUpdate::Transfer(json!({
            "kind": "blind",
            "by": pending.from,
            "target_kind": kind,
            "target": to,
            "outcome": outcome,
            "wait_ms": u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            "by_recording": pending.recording,
            "at": Timestamp::now(),
        })));
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::acd::agent::AgentState;
    use crate::acd::file::Strategy;
    use crate::acd::{AgentSnapshot, QueueSnapshot, StateCounts};

    /// Queues support and billing; alice (support), bob (billing first) and an agent in none.
    pub(in crate::call::task::queue) fn snapshot() -> AcdSnapshot {
        let agent = |user: &str, queues: &[&str]| AgentSnapshot {
            user: user.into(),
            name: user.into(),
            state: AgentState::Available,
            since: Instant::now(),
            calls_taken: 0,
            misses: 0,
            queues: queues.iter().map(|q| q.to_string()).collect(),
        };
        let queue = |name: &str| QueueSnapshot {
            name: name.into(),
            strategy: Strategy::RingAll,
            waiting: 0,
            longest_wait: Duration::ZERO,
            agents: StateCounts::default(),
        };
        AcdSnapshot {
            queues: vec![queue("support"), queue("billing")],
            agents: vec![
                agent("alice", &["support"]),
                agent("bob", &["billing", "support"]),
                agent("idle", &[]),
            ],
        }
    }

    #[test]
    fn refer_to_names_a_queue_or_an_agent() {
        let acd = snapshot();
        let cases = [
            ("billing", Ok(TransferTarget::Queue("billing".into()))),
            (
                "bob",
                Ok(TransferTarget::Agent {
                    user: "bob".into(),
                    queue: "billing".into(),
                }),
            ),
            ("alice", Err(Refusal::ToSelf)),
            ("nobody", Err(Refusal::Unknown)),
            ("", Err(Refusal::Unknown)),
            // An agent in no queue cannot be rung by the ACD.
            ("idle", Err(Refusal::Unknown)),
        ];
        for (name, want) in cases {
            assert_eq!(transfer_target(name, "alice", &acd), want, "{name}");
        }
    }
}

//! [`AcdSnapshot`]: the live picture the HTTP API shows (queues, waiting callers, agents).

use std::time::{Duration, Instant};

use super::agent::AgentState;
use super::file::Strategy;
use super::queue::Phase;
use super::Acd;

/// Live picture for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcdSnapshot {
    /// In file order.
    pub queues: Vec<QueueSnapshot>,
    /// In user order.
    pub agents: Vec<AgentSnapshot>,
}

/// One queue in an [`AcdSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Queue name.
    pub name: String,
    /// Its strategy.
    pub strategy: Strategy,
    /// Callers not yet connected (ringing ones included).
    pub waiting: usize,
    /// How long the earliest of them has waited; zero when none waits.
    pub longest_wait: Duration,
    /// The queue's members by state.
    pub agents: StateCounts,
}

/// Agents per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// Not logged in.
    pub offline: usize,
    /// Free.
    pub available: usize,
    /// Being offered a call.
    pub ringing: usize,
    /// Talking.
    pub on_call: usize,
    /// After-call work.
    pub wrap_up: usize,
    /// Paused.
    pub paused: usize,
}

/// One agent in an [`AcdSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSnapshot {
    /// Login name.
    pub user: String,
    /// Display name.
    pub name: String,
    /// Current state.
    pub state: AgentState,
    /// When the state began.
    pub since: Instant,
    /// Calls answered since the ACD started.
    pub calls_taken: u64,
    /// Rings missed in a row.
    pub misses: u32,
    /// Queues the agent serves.
    pub queues: Vec<String>,
}

impl Acd {
    /// Live figures per queue and agent.
    pub fn snapshot(&self, now: Instant) -> AcdSnapshot {
        let queues = self
            .queues
            .iter()
            .enumerate()
            // A retired queue is gone from the directory; only its last callers keep it.
            .filter(|(_, q)| !q.retired)
            .map(|(index, q)| {
                let longest_wait = self
                    .calls
                    .values()
                    .filter(|c| c.queue == index && matches!(c.phase, Phase::Waiting { .. }))
                    .map(|c| now.saturating_duration_since(c.arrived))
                    .max()
                    .unwrap_or_default();
                let mut agents = StateCounts::default();
                for agent in q.members.iter().filter_map(|u| self.agents.get(u)) {
                    let slot = match agent.state {
                        AgentState::Offline => &mut agents.offline,
                        AgentState::Available => &mut agents.available,
                        AgentState::Ringing { .. } => &mut agents.ringing,
                        AgentState::OnCall { .. } => &mut agents.on_call,
                        AgentState::WrapUp { .. } => &mut agents.wrap_up,
                        AgentState::Paused { .. } => &mut agents.paused,
                    };
                    *slot += 1;
                }
                QueueSnapshot {
                    name: q.config.name.clone(),
                    strategy: q.config.strategy,
                    waiting: q.len(),
                    longest_wait,
                    agents,
                }
            })
            .collect();
        let agents = self
            .agents
            .values()
            .map(|a| AgentSnapshot {
                user: a.user.clone(),
                name: a.name.clone(),
                state: a.state.clone(),
                since: a.since,
                calls_taken: a.calls_taken,
                misses: a.misses,
                queues: self
                    .queues
                    .iter()
                    .filter(|q| q.members.contains(&a.user))
                    .map(|q| q.config.name.clone())
                    .collect(),
            })
            .collect();
        AcdSnapshot { queues, agents }
    }
}

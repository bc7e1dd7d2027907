//! One agent's presence: the state machine Offline → Available → Ringing → OnCall → WrapUp →
//! Available, with Paused beside it, and the counters the strategies rank by.
//!
//! Every change goes through `LiveAgent::set_state`, which stamps the time and emits an
//! [`AgentEvent`]; nothing here knows about queues or calls beyond their ids.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::CallId;

/// Agent events kept for [`super::Acd::poll_event`]; older ones are dropped (and counted)
/// when nobody polls, because they only feed dashboards.
pub const MAX_PENDING_EVENTS: usize = 4096;

/// Reason given when an agent is paused for missing rings.
pub const MISSED_CALLS: &str = "missed calls";

/// Where an agent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Not logged in (or the phone is not registered).
    Offline,
    /// Waiting for a call.
    Available,
    /// Their phone is ringing with `call`.
    Ringing {
        /// The caller being offered.
        call: CallId,
    },
    /// Talking to `call`.
    OnCall {
        /// The connected caller.
        call: CallId,
    },
    /// After-call work until the timer ends (or the agent ends it).
    WrapUp {
        /// When the agent becomes available again.
        until: Instant,
    },
    /// Taking no calls.
    Paused {
        /// Said by the agent, or [`MISSED_CALLS`].
        reason: String,
    },
}

impl AgentState {
    /// Short name for APIs and logs.
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::Offline => "offline",
            AgentState::Available => "available",
            AgentState::Ringing { .. } => "ringing",
            AgentState::OnCall { .. } => "on-call",
            AgentState::WrapUp { .. } => "wrap-up",
            AgentState::Paused { .. } => "paused",
        }
    }
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEvent {
    /// The agent's user.
    pub user: String,
    /// Previous state.
    pub from: AgentState,
    /// New state.
    pub to: AgentState,
    /// When it changed.
    pub at: Instant,
}

/// Bounded queue of [`AgentEvent`]s.
#[derive(Debug, Default)]
pub(crate) struct Events {
    queue: VecDeque<AgentEvent>,
    pub dropped: u64,
}

impl Events {
    fn push(&mut self, event: AgentEvent) {
        if self.queue.len() >= MAX_PENDING_EVENTS {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(event);
    }

    pub fn pop(&mut self) -> Option<AgentEvent> {
        self.queue.pop_front()
    }
}

/// The live side of one agent from the agents file.
#[derive(Debug)]
pub(crate) struct LiveAgent {
    pub user: String,
    pub name: String,
    pub skills: BTreeMap<String, u8>,
    pub state: AgentState,
    /// When `state` began.
    pub since: Instant,
    /// Since when the agent has been free of work (ringing does not count as work).
    pub idle_since: Instant,
    pub calls_taken: u64,
    /// Rings missed in a row.
    pub misses: u32,
    /// Asked to pause while on a call: applied when the call ends.
    pub pending_pause: Option<String>,
    /// Devices logged in: the registered phones (counted once) and open desks. The agent is
    /// offline only when the last one goes.
    pub devices: u32,
}

impl LiveAgent {
    pub fn new(user: String, name: String, skills: BTreeMap<String, u8>, now: Instant) -> Self {
        LiveAgent {
            user,
            name,
            skills,
            state: AgentState::Offline,
            since: now,
            idle_since: now,
            calls_taken: 0,
            misses: 0,
            pending_pause: None,
            devices: 0,
        }
    }

    pub fn is_available(&self) -> bool {
        self.state == AgentState::Available
    }

    /// The one place state changes: stamps the time, keeps `idle_since` and emits an event.
    pub fn set_state(&mut self, to: AgentState, now: Instant, events: &mut Events) {
        if self.state == to {
            return;
        }
        // A ring that ends without a call is no work: the agent stays as idle as before.
        let was_ringing = matches!(self.state, AgentState::Ringing { .. });
        if to == AgentState::Available && !was_ringing {
            self.idle_since = now;
        }
        let from = std::mem::replace(&mut self.state, to.clone());
        self.since = now;
        events.push(AgentEvent {
            user: self.user.clone(),
            from,
            to,
            at: now,
        });
    }

    /// The agent's ring went unanswered or was refused; pauses after `max_misses` in a row.
    pub fn missed(&mut self, max_misses: u32, now: Instant, events: &mut Events) {
        self.misses = self.misses.saturating_add(1);
        let next = if self.misses >= max_misses {
            AgentState::Paused {
                reason: MISSED_CALLS.to_owned(),
            }
        } else {
            AgentState::Available
        };
        self.set_state(next, now, events);
    }

    pub fn answered(&mut self, call: CallId, now: Instant, events: &mut Events) {
        self.misses = 0;
        self.calls_taken = self.calls_taken.saturating_add(1);
        self.set_state(AgentState::OnCall { call }, now, events);
    }

    /// The call ended: wrap-up, or straight to a pause asked for during the call.
    pub fn call_ended(&mut self, wrap_up: Duration, now: Instant, events: &mut Events) {
        let next = match self.pending_pause.take() {
            Some(reason) => AgentState::Paused { reason },
            None if wrap_up.is_zero() => AgentState::Available,
            None => AgentState::WrapUp {
                until: now + wrap_up,
            },
        };
        self.set_state(next, now, events);
    }

    pub fn unpause(&mut self, now: Instant, events: &mut Events) {
        self.misses = 0;
        self.set_state(AgentState::Available, now, events);
    }

    /// When the wrap-up timer fires, if one runs.
    pub fn wrap_up_until(&self) -> Option<Instant> {
        match self.state {
            AgentState::WrapUp { until } => Some(until),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(now: Instant) -> LiveAgent {
        LiveAgent::new("a".into(), "A".into(), BTreeMap::new(), now)
    }

    #[test]
    fn idle_since_survives_a_missed_ring_but_not_a_call() {
        let t0 = Instant::now();
        let mut events = Events::default();
        let mut a = agent(t0);
        a.set_state(AgentState::Available, t0, &mut events);
        a.set_state(
            AgentState::Ringing { call: CallId(1) },
            t0 + Duration::from_secs(5),
            &mut events,
        );
        a.missed(3, t0 + Duration::from_secs(20), &mut events);
        assert_eq!((a.idle_since, a.misses), (t0, 1));
        a.set_state(
            AgentState::Ringing { call: CallId(2) },
            t0 + Duration::from_secs(30),
            &mut events,
        );
        a.answered(CallId(2), t0 + Duration::from_secs(31), &mut events);
        a.call_ended(Duration::ZERO, t0 + Duration::from_secs(90), &mut events);
        assert_eq!(a.state, AgentState::Available);
        assert_eq!(
            (a.idle_since, a.misses, a.calls_taken),
            (t0 + Duration::from_secs(90), 0, 1)
        );
        let names: Vec<_> = std::iter::from_fn(|| events.pop())
            .map(|e| e.to.name())
            .collect();
        assert_eq!(
            names,
            [
                "available",
                "ringing",
                "available",
                "ringing",
                "on-call",
                "available"
            ]
        );
    }

    #[test]
    fn misses_in_a_row_pause_the_agent() {
        let t0 = Instant::now();
        let mut events = Events::default();
        let mut a = agent(t0);
        for _ in 0..2 {
            a.set_state(AgentState::Ringing { call: CallId(1) }, t0, &mut events);
            a.missed(2, t0, &mut events);
        }
        assert_eq!(
            a.state,
            AgentState::Paused {
                reason: MISSED_CALLS.into()
            }
        );
    }

    #[test]
    fn pause_asked_during_a_call_skips_wrap_up() {
        let t0 = Instant::now();
        let mut events = Events::default();
        let mut a = agent(t0);
        a.answered(CallId(1), t0, &mut events);
        a.pending_pause = Some("lunch".into());
        a.call_ended(Duration::from_secs(10), t0, &mut events);
        assert_eq!(
            a.state,
            AgentState::Paused {
                reason: "lunch".into()
            }
        );
        assert_eq!(a.wrap_up_until(), None);
    }

    #[test]
    fn event_queue_is_bounded() {
        let t0 = Instant::now();
        let mut events = Events::default();
        let mut a = agent(t0);
        for i in 0..MAX_PENDING_EVENTS + 10 {
            let to = if i % 2 == 0 {
                AgentState::Available
            } else {
                AgentState::Offline
            };
            a.set_state(to, t0, &mut events);
        }
        assert_eq!(events.dropped, 10);
        assert_eq!(
            std::iter::from_fn(|| events.pop()).count(),
            MAX_PENDING_EVENTS
        );
    }
}

//! ACD, the automatic call distributor: human agents, their presence, call queues and the
//! strategies that pick which agent a waiting caller is offered to.
//!
//! Sans-IO like the SIP and media cores: the shell (`call/`, `sip/`) reports what happened
//! (`agent_online`, `enqueue`, `answered`, `ring_failed`, `call_ended`, `handle_timeout`, each
//! with `now`) and drains [`Acd::poll_action`] (ring these phones, stop ringing, connected,
//! tell a caller their position) and [`Acd::poll_event`] (agent state changes), arming one timer
//! at [`Acd::poll_timeout`]. No tokio, no sockets, no clock here.
//!
//! [`service`] is the tokio task that owns the [`Acd`] in the running server; [`desk`] is the
//! tokio shell of browser agents' desks (logins, desk sockets, rings, WebRTC legs) around the
//! sans-IO `desk_state`.
//!
//! Agents and queues come from the agents file ([`mod@file`], `dialplans/agents.yaml`);
//! `voxdesk agents passwd` ([`mod@passwd`]) swaps a clear-text password for digest hashes.
//! The API changes agents and queues at run time on top of the file ([`directory`]: the file
//! plus the changes stored in the ticket database); [`Acd::set_directory`] applies a new one.
//!
//! Why each strategy exists:
//! - `ring-all`: small teams; every free phone rings, so the fastest answer wins.
//! - `longest-idle`: fairness; the agent who has waited longest for work gets the next call.
//! - `round-robin`: predictable turns, even when idle times are equal or unknown.
//! - `fewest-calls`: evens out call counts across a shift (ties go to the longest idle).
//! - `skills`: the caller reaches the agent best at what they need (and speaks their language);
//!   priority callers are still served first.

pub mod agent;
pub mod desk;
mod desk_state;
pub mod directory;
mod distributor;
pub mod file;
mod file_error;
pub mod passwd;
mod queue;
pub mod service;
mod snapshot;
mod strategy;

#[cfg(test)]
mod desk_tests;
#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod passwd_tests;
#[cfg(test)]
mod tests;

pub use agent::{AgentEvent, AgentState, MAX_PENDING_EVENTS, MISSED_CALLS};
pub use distributor::Acd;
pub use file::{
    load_file, parse_str, Agent, AgentsFile, FileError, FileProblem, Queue, Secret, Strategy,
};
pub use passwd::{set_password, set_password_in_file};
pub use snapshot::{AcdSnapshot, AgentSnapshot, QueueSnapshot, StateCounts};

/// The shell's id for one caller (its SIP dialog); opaque to the ACD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// What the ACD knows about a caller when it is queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerInfo {
    /// Higher is served first.
    pub priority: u8,
    /// Skill the caller needs (skills strategy), e.g. from the IVR menu or the bot's intent.
    pub skill: Option<String>,
    /// Language the caller speaks; an agent needs a skill of that name (skills strategy).
    pub language: Option<String>,
    /// Only this agent may take the call (a transfer to a named agent).
    pub agent: Option<String>,
}

/// 1-based place among a queue's waiting callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub usize);

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring these agents' phones for `call` (ring-all: every free agent; otherwise one).
    Ring {
        /// The caller.
        call: CallId,
        /// Agents' users.
        users: Vec<String>,
    },
    /// Cancel these ringing legs: another agent answered, the caller left or the agent left.
    StopRinging {
        /// The caller.
        call: CallId,
        /// Agents' users.
        users: Vec<String>,
    },
    /// Bridge `call` to `user`'s answered leg.
    Connected {
        /// The caller.
        call: CallId,
        /// The agent.
        user: String,
    },
    /// Tell a waiting caller their new place.
    Position {
        /// The caller.
        call: CallId,
        /// New place.
        position: Position,
    },
}

/// Why a caller could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// No queue of that name.
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    /// `max_waiting` callers already wait.
    #[error("queue `{queue}` is full ({max} callers waiting)")]
    Full {
        /// The queue.
        queue: String,
        /// Its `max_waiting`.
        max: usize,
    },
    /// No agent of the queue is logged in (or, for skills, none has what the caller needs).
    #[error("no agent of queue `{0}` is logged in who could take this call")]
    NoAgents(String),
    /// The call is already queued or connected.
    #[error("{0:?} is already known")]
    DuplicateCall(CallId),
}

/// An input the ACD cannot apply; the shell logs it (a race with the ACD's own decisions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// Not in the agents file.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// Not queued nor connected.
    #[error("unknown call {0:?}")]
    UnknownCall(CallId),
    /// `answered`/`ring_failed` for a leg the ACD is not ringing (already stopped).
    #[error("{call:?} is not ringing `{user}`")]
    NotRinging {
        /// The caller.
        call: CallId,
        /// The agent.
        user: String,
    },
    /// Pausing an agent who is not logged in.
    #[error("agent `{0}` is offline")]
    AgentOffline(String),
    /// Unpausing an agent who is not paused.
    #[error("agent `{0}` is not paused")]
    NotPaused(String),
    /// Ending wrap-up for an agent not in wrap-up.
    #[error("agent `{0}` is not in wrap-up")]
    NotInWrapUp(String),
    /// A hand-over between calls that are not both connected to an agent.
    #[error("{0:?} is not connected to an agent")]
    NotConnected(CallId),
}

//! The ACD over HTTP: queues, agents, pausing and unpausing agents, and the ACD's gauges for
//! `/metrics`. Every answer comes from one [`AcdSnapshot`] taken for the request, with the
//! agent's queues and skills and the queue's settings from the live directory when the API
//! manages one; changes to agents and queues themselves are `super::directory`'s.

use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::directory::{self, Profile, Settings};
use super::error::ApiError;
use super::ApiState;
use crate::acd::directory::AgentFields;
use crate::acd::service::{age, AcdGone, AcdHandle};
use crate::acd::AgentsFile;
use crate::acd::{AcdError, AcdSnapshot, AgentSnapshot, AgentState, QueueSnapshot, StateCounts};
use crate::metrics::{GaugeFamily, Metrics};

/// Longest pause reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 100;
/// Reason recorded when a pause request gives none.
const DEFAULT_REASON: &str = "paused";
/// A snapshot the ACD has not answered by then is reported as unavailable, so a stuck ACD
/// cannot hold API requests (and their in-flight permits) forever.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

/// State words as keys of the per-state counts and as `state` label values in `/metrics`.
const STATE_KEYS: [&str; 6] = [
    "offline",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
];

fn state_slot(state: &AgentState) -> usize {
    match state {
        AgentState::Offline => 0,
        AgentState::Available => 1,
        AgentState::Ringing { .. } => 2,
        AgentState::OnCall { .. } => 3,
        AgentState::WrapUp { .. } => 4,
        AgentState::Paused { .. } => 5,
    }
}

/// Agents per state, keyed by [`STATE_KEYS`].
#[derive(Serialize)]
pub(super) struct CountsView {
    offline: usize,
    available: usize,
    ringing: usize,
    on_call: usize,
    wrap_up: usize,
    paused: usize,
}

impl From<StateCounts> for CountsView {
    fn from(c: StateCounts) -> Self {
        CountsView {
            offline: c.offline,
            available: c.available,
            ringing: c.ringing,
            on_call: c.on_call,
            wrap_up: c.wrap_up,
            paused: c.paused,
        }
    }
}

/// One queue as `GET /api/queues` shows it.
#[derive(Serialize)]
pub(super) struct QueueView {
    name: String,
    strategy: &'static str,
    waiting: usize,
    longest_wait_ms: u64,
    agents: CountsView,
    #[serde(flatten)]
    settings: Option<Settings>,
}

impl QueueView {
    pub(super) fn new(q: QueueSnapshot, directory: Option<&AgentsFile>) -> Self {
        QueueView {
            settings: directory.and_then(|d| d.queue(&q.name)).map(Settings::from),
            name: q.name,
            strategy: q.strategy.name(),
            waiting: q.waiting,
            longest_wait_ms: millis(q.longest_wait),
            agents: q.agents.into(),
        }
    }
}

/// One agent as `GET /api/agents` shows it.
#[derive(Serialize)]
pub(super) struct AgentView {
    user: String,
    name: String,
    state: &'static str,
    /// Time in this state when the snapshot was taken.
    since_ms: u64,
    calls_taken: u64,
    misses: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(flatten)]
    profile: Option<Profile>,
}

impl AgentView {
    fn new(agent: AgentSnapshot, taken: Instant, directory: Option<&AgentsFile>) -> Self {
        let profile = directory
            .and_then(|d| d.agent(&agent.user))
            .map(Profile::from);
        let state = agent.state.name();
        let reason = match agent.state {
            AgentState::Paused { reason } => Some(reason),
            _ => None,
        };
        AgentView {
            user: agent.user,
            name: agent.name,
            state,
            since_ms: millis(age(agent.since, taken)),
            calls_taken: agent.calls_taken,
            misses: agent.misses,
            reason,
            profile,
        }
    }
}

/// One agent as `GET /api/agents/{user}` shows it.
pub(super) async fn agent_view(state: &ApiState, user: &str) -> Result<AgentView, ApiError> {
    let (agent, taken) = find_agent(handle(state)?, user).await?;
    Ok(AgentView::new(
        agent,
        taken,
        directory::current(state).as_deref(),
    ))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Queue outcomes since start, from the call layer's counters.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct Totals {
    answered: u64,
    abandoned: u64,
    timed_out: u64,
    /// Answered within 20 s over all calls that left a queue; `None` before the first.
    service_level: Option<f64>,
    /// Abandoned over all calls that left a queue; `None` before the first.
    abandon_rate: Option<f64>,
    /// Talk time over answered calls; `None` before the first answer.
    average_talk_seconds: Option<f64>,
}

impl Totals {
    pub(super) fn from_metrics(m: &Metrics) -> Self {
        let answered = m.queue_calls_answered.get();
        let abandoned = m.queue_calls_abandoned.get();
        let timed_out = m.queue_calls_timed_out.get();
        let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        let left = answered.saturating_add(abandoned).saturating_add(timed_out);
        Totals {
            answered,
            abandoned,
            timed_out,
            service_level: ratio(m.queue_answered_within_20s.get(), left),
            abandon_rate: ratio(abandoned, left),
            average_talk_seconds: ratio(m.agent_talk_millis.get(), answered).map(|ms| ms / 1000.0),
        }
    }
}

pub(super) fn handle(state: &ApiState) -> Result<&AcdHandle, ApiError> {
    state
        .acd
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no ACD"))
}

pub(super) async fn snapshot(acd: &AcdHandle) -> Result<(AcdSnapshot, Instant), ApiError> {
    match tokio::time::timeout(SNAPSHOT_TIMEOUT, acd.snapshot()).await {
        Ok(Ok(taken)) => Ok(taken),
        Ok(Err(AcdGone)) => Err(ApiError::unavailable("the ACD is not running")),
        Err(_) => Err(ApiError::unavailable("the ACD did not answer in time")),
    }
}

#[derive(Serialize)]
pub(super) struct QueuesBody {
    queues: Vec<QueueView>,
    totals: Totals,
}

pub(super) async fn queues(State(state): State<ApiState>) -> Result<Json<QueuesBody>, ApiError> {
    let (snapshot, _) = snapshot(handle(&state)?).await?;
    let directory = directory::current(&state);
    Ok(Json(QueuesBody {
        queues: snapshot
            .queues
            .into_iter()
            .map(|q| QueueView::new(q, directory.as_deref()))
            .collect(),
        totals: Totals::from_metrics(state.metrics),
    }))
}

pub(super) async fn queue(
    State(state): State<ApiState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<QueueView>, ApiError> {
    let Path(name) = name?;
    let (snapshot, _) = snapshot(handle(&state)?).await?;
    let directory = directory::current(&state);
    snapshot
        .queues
        .into_iter()
        .find(|q| q.name == name)
        .map(|q| Json(QueueView::new(q, directory.as_deref())))
        .ok_or_else(|| ApiError::not_found(format!("no queue {name:?}")))
}

#[derive(Serialize)]
pub(super) struct AgentsBody {
    agents: Vec<AgentView>,
}

pub(super) async fn agents(State(state): State<ApiState>) -> Result<Json<AgentsBody>, ApiError> {
    let (snapshot, taken) = snapshot(handle(&state)?).await?;
    let directory = directory::current(&state);
    let agents = snapshot
        .agents
        .into_iter()
        .map(|a| AgentView::new(a, taken, directory.as_deref()))
        .collect();
    Ok(Json(AgentsBody { agents }))
}

async fn find_agent(acd: &AcdHandle, user: &str) -> Result<(AgentSnapshot, Instant), ApiError> {
    let (snapshot, taken) = snapshot(acd).await?;
    snapshot
        .agents
        .into_iter()
        .find(|a| a.user == user)
        .map(|a| (a, taken))
        .ok_or_else(|| ApiError::not_found(format!("no agent {user:?}")))
}

pub(super) async fn agent(
    State(state): State<ApiState>,
    user: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, ApiError> {
    let Path(user) = user?;
    Ok(Json(agent_view(&state, &user).await?))
}

/// The state an agent (or a supervisor) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Wanted {
    Paused,
    Available,
}

/// Body of `PATCH /api/agents/{user}`: a state change, profile fields, or both (the profile
/// first).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentPatch {
    state: Option<Wanted>,
    reason: Option<String>,
    name: Option<String>,
    password: Option<String>,
    ha1: Option<String>,
    ha1_sha256: Option<String>,
    queues: Option<Vec<String>>,
    skills: Option<std::collections::BTreeMap<String, u64>>,
}

impl AgentPatch {
    fn profile(&mut self) -> AgentFields {
        AgentFields {
            name: self.name.take(),
            password: self.password.take(),
            ha1: self.ha1.take(),
            ha1_sha256: self.ha1_sha256.take(),
            queues: self.queues.take(),
            skills: self.skills.take(),
        }
    }

    /// The pause reason to record, or why the patch is refused.
    fn reason(&self) -> Result<&str, ApiError> {
        let Some(reason) = &self.reason else {
            return Ok(DEFAULT_REASON);
        };
        if self.state != Some(Wanted::Paused) {
            return Err(ApiError::unprocessable(
                "a reason goes only with \"paused\"",
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ApiError::unprocessable("reason is empty"));
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(ApiError::unprocessable(format!(
                "reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        if reason.chars().any(char::is_control) {
            return Err(ApiError::unprocessable("reason has control characters"));
        }
        Ok(reason)
    }
}

/// Pauses the agent, or makes them available (unpausing, or ending their wrap-up).
pub(super) async fn patch_agent(
    State(state): State<ApiState>,
    user: Result<Path<String>, PathRejection>,
    patch: Result<Json<AgentPatch>, JsonRejection>,
) -> Result<Json<AgentView>, ApiError> {
    let Path(user) = user?;
    let Json(mut patch) = patch?;
    let reason = patch.reason()?.to_owned();
    let profile = patch.profile();
    let acd = handle(&state)?;
    if profile.is_empty() && patch.state.is_none() {
        return Err(ApiError::unprocessable("nothing to change"));
    }
    if !profile.is_empty() {
        directory::update_agent(&state, &user, profile).await?;
    }
    let Some(wanted) = patch.state else {
        return Ok(Json(agent_view(&state, &user).await?));
    };
    let reason = reason.as_str();
    let (agent, _) = find_agent(acd, &user).await?;
    let outcome = match (wanted, &agent.state) {
        (Wanted::Paused, _) => acd.pause(&user, reason).await,
        (Wanted::Available, AgentState::Available) => Ok(Ok(())),
        (Wanted::Available, AgentState::WrapUp { .. }) => acd.end_wrap_up(&user).await,
        (Wanted::Available, _) => acd.unpause(&user).await,
    };
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(AcdError::UnknownAgent(_))) => {
            return Err(ApiError::not_found(format!("no agent {user:?}")))
        }
        Ok(Err(refused)) => return Err(ApiError::conflict(refused.to_string())),
        Err(AcdGone) => return Err(ApiError::unavailable("the ACD is not running")),
    }
    Ok(Json(agent_view(&state, &user).await?))
}

/// The ACD's gauges for `/metrics`: agents by state, and per queue its waiting callers and
/// longest wait.
pub(super) fn gauge_families(snapshot: &AcdSnapshot) -> [GaugeFamily; 3] {
    let mut by_state = [0usize; STATE_KEYS.len()];
    for agent in &snapshot.agents {
        if let Some(n) = by_state.get_mut(state_slot(&agent.state)) {
            *n += 1;
        }
    }
    let label = |key, value: &str| Some((key, value.to_owned()));
    let per_queue = |value: fn(&QueueSnapshot) -> f64| {
        snapshot
            .queues
            .iter()
            .map(|q| (label("queue", &q.name), value(q)))
            .collect()
    };
    [
        GaugeFamily {
            name: "agents",
            help: "Agents by state.",
            samples: STATE_KEYS
                .iter()
                .zip(by_state)
                .map(|(key, n)| (label("state", key), n as f64))
                .collect(),
        },
        GaugeFamily {
            name: "queue_waiting",
            help: "Callers waiting in the queue (ringing ones included).",
            samples: per_queue(|q| q.waiting as f64),
        },
        GaugeFamily {
            name: "queue_longest_wait_seconds",
            help: "How long the queue's earliest waiting caller has waited.",
            samples: per_queue(|q| q.longest_wait.as_secs_f64()),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_null_before_any_call_then_ratios() {
        let m = Metrics::new();
        let none = Totals::from_metrics(&m);
        assert_eq!(
            (
                none.service_level,
                none.abandon_rate,
                none.average_talk_seconds
            ),
            (None, None, None)
        );
        m.queue_calls_answered.add(3);
        m.queue_answered_within_20s.add(2);
        m.queue_calls_abandoned.inc();
        m.agent_talked(Duration::from_secs(90));
        let t = Totals::from_metrics(&m);
        assert_eq!(
            t,
            Totals {
                answered: 3,
                abandoned: 1,
                timed_out: 0,
                service_level: Some(0.5),
                abandon_rate: Some(0.25),
                average_talk_seconds: Some(30.0),
            }
        );
    }

    #[test]
    fn pause_reasons_are_checked() {
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        let cases: [(Wanted, Option<&str>, Result<&str, ()>); 7] = [
            (Wanted::Paused, None, Ok(DEFAULT_REASON)),
            (Wanted::Paused, Some(" lunch "), Ok("lunch")),
            (Wanted::Paused, Some("  "), Err(())),
            (Wanted::Paused, Some("a\u{7}b"), Err(())),
            (Wanted::Paused, Some(&long), Err(())),
            (Wanted::Available, None, Ok(DEFAULT_REASON)),
            (Wanted::Available, Some("lunch"), Err(())),
        ];
        for (state, reason, want) in cases {
            let patch = AgentPatch {
                state: Some(state),
                reason: reason.map(str::to_owned),
                ..AgentPatch::default()
            };
            let got = patch.reason().map_err(|e| {
                assert_eq!(e.status.as_u16(), 422);
            });
            assert_eq!(got, want, "{state:?} {reason:?}");
        }
    }
}

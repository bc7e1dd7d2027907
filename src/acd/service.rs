//! The tokio shell around [`Acd`]: one task owns the distributor, takes requests from call
//! tasks, the SIP registrar and the API over a bounded channel, arms the distributor's one
//! timer, and hands its actions to the call they concern. Agent state changes go out on a
//! broadcast channel (for the API's event stream) and into the metrics.
//!
//! Started with [`AcdHandle::follow`], the task also follows the live directory (a `watch` of
//! the effective agents file): a new value is applied before the next request is handled, so
//! whoever published it and then asks the ACD anything sees the change.
//!
//! Each queued caller gives the ACD a bounded notice channel; a caller that stopped reading
//! it loses position updates, never a ring (a ring that cannot be delivered counts as failed,
//! so the next agent gets it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::{
    Acd, AcdAction, AcdError, AcdSnapshot, AgentState, AgentsFile, CallId, CallerInfo,
    EnqueueError, Position,
};

/// Requests waiting for the ACD task.
const REQUEST_QUEUE: usize = 1024;
/// Notices waiting for one call task.
pub const NOTICE_QUEUE: usize = 64;
/// Agent events kept for slow API subscribers.
const EVENT_BACKLOG: usize = 256;

/// What the ACD tells one queued caller's task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueNotice {
    /// Ring these agents' phones.
    Ring(Vec<String>),
    /// Stop ringing these.
    StopRinging(Vec<String>),
    /// The caller's new place in the queue.
    Position(Position),
}

/// An agent's state change as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentChange {
    /// The agent.
    pub user: String,
    /// Previous state word.
    pub from: &'static str,
    /// New state word.
    pub to: &'static str,
    /// Pause reason, when paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

enum Request {
    Enqueue {
        call: CallId,
        queue: String,
        info: CallerInfo,
        notices: mpsc::Sender<QueueNotice>,
        reply: oneshot::Sender<Result<Position, EnqueueError>>,
    },
    Leave(CallId),
    Answered(CallId, String),
    HandOver {
        from: CallId,
        to: CallId,
        reply: oneshot::Sender<Result<String, AcdError>>,
    },
    RingFailed(CallId, String),
    Online(String),
    Offline(String),
    Pause(String, String, oneshot::Sender<Result<(), AcdError>>),
    Unpause(String, oneshot::Sender<Result<(), AcdError>>),
    EndWrapUp(String, oneshot::Sender<Result<(), AcdError>>),
    Snapshot(oneshot::Sender<(AcdSnapshot, Instant)>),
}

/// Cheap to clone; every method is a message to the ACD task.
#[derive(Clone)]
pub struct AcdHandle {
    requests: mpsc::Sender<Request>,
    changes: broadcast::Sender<AgentChange>,
}

/// The ACD task is gone (shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ACD is not running")]
pub struct AcdGone;

impl AcdHandle {
    /// Starts the ACD task for these agents and queues.
    pub fn start(file: &AgentsFile) -> AcdHandle {
        Self::spawn(file, None)
    }

    /// Starts the ACD task on the directory's current value and follows its changes
    /// ([`Acd::set_directory`]) until the sender is dropped.
    pub fn follow(mut directory: watch::Receiver<Arc<AgentsFile>>) -> AcdHandle {
        let file = directory.borrow_and_update().clone();
        Self::spawn(&file, Some(directory))
    }

    fn spawn(file: &AgentsFile, directory: Option<watch::Receiver<Arc<AgentsFile>>>) -> AcdHandle {
        let (requests, rx) = mpsc::channel(REQUEST_QUEUE);
        let (changes, _) = broadcast::channel(EVENT_BACKLOG);
        let acd = Acd::new(file, Instant::now());
        tokio::spawn(run(acd, rx, changes.clone(), directory));
        AcdHandle { requests, changes }
    }

    /// Queues a caller; notices about it arrive on the returned receiver.
    pub async fn enqueue(
        &self,
        call: CallId,
        queue: &str,
        info: CallerInfo,
    ) -> Result<(Position, mpsc::Receiver<QueueNotice>), EnqueueError> {
        let (notices, rx) = mpsc::channel(NOTICE_QUEUE);
        let (reply, answer) = oneshot::channel();
        let request = Request::Enqueue {
            call,
            queue: queue.to_owned(),
            info,
            notices,
            reply,
        };
        let gone = || EnqueueError::NoAgents(queue.to_owned());
        self.requests.send(request).await.map_err(|_| gone())?;
        let position = answer.await.map_err(|_| gone())??;
        Ok((position, rx))
    }

    /// The caller left the queue or its agent (hung up, timed out, call over).
    pub async fn leave(&self, call: CallId) {
        let _ = self.requests.send(Request::Leave(call)).await;
    }

    /// `user`'s phone answered `call`.
    pub async fn answered(&self, call: CallId, user: &str) {
        let _ = self
            .requests
            .send(Request::Answered(call, user.to_owned()))
            .await;
    }

    /// Attended transfer: the agent connected to `from` takes over `to` (see
    /// [`Acd::hand_over`]); the agent's login.
    pub async fn hand_over(&self, from: CallId, to: CallId) -> Result<String, AcdError> {
        self.ask(|reply| Request::HandOver { from, to, reply })
            .await
            .map_err(|_| AcdError::NotConnected(from))?
    }

    /// `user`'s phone declined or could not be reached for `call`.
    pub async fn ring_failed(&self, call: CallId, user: &str) {
        let _ = self
            .requests
            .send(Request::RingFailed(call, user.to_owned()))
            .await;
    }

    /// The agent's phone registered (from the SIP task: never waits).
    pub fn online(&self, user: &str) {
        if self
            .requests
            .try_send(Request::Online(user.to_owned()))
            .is_err()
        {
            warn!(user, "ACD busy: agent online dropped");
        }
    }

    /// The agent's last contact went away (from the SIP task: never waits).
    pub fn offline(&self, user: &str) {
        if self
            .requests
            .try_send(Request::Offline(user.to_owned()))
            .is_err()
        {
            warn!(user, "ACD busy: agent offline dropped");
        }
    }

    /// Pauses an agent with a reason.
    pub async fn pause(&self, user: &str, reason: &str) -> Result<Result<(), AcdError>, AcdGone> {
        self.ask(|reply| Request::Pause(user.to_owned(), reason.to_owned(), reply))
            .await
    }

    /// Makes a paused agent available.
    pub async fn unpause(&self, user: &str) -> Result<Result<(), AcdError>, AcdGone> {
        self.ask(|reply| Request::Unpause(user.to_owned(), reply))
            .await
    }

    /// Ends an agent's wrap-up early.
    pub async fn end_wrap_up(&self, user: &str) -> Result<Result<(), AcdError>, AcdGone> {
        self.ask(|reply| Request::EndWrapUp(user.to_owned(), reply))
            .await
    }

    /// The live picture, with the instant it was taken.
    pub async fn snapshot(&self) -> Result<(AcdSnapshot, Instant), AcdGone> {
        self.ask(Request::Snapshot).await
    }

    /// Agent state changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AgentChange> {
        self.changes.subscribe()
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T, AcdGone> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(make(reply)).await.map_err(|_| AcdGone)?;
        answer.await.map_err(|_| AcdGone)
    }
}

async fn run(
    mut acd: Acd,
    mut requests: mpsc::Receiver<Request>,
    changes: broadcast::Sender<AgentChange>,
    mut directory: Option<watch::Receiver<Arc<AgentsFile>>>,
) {
    let mut callers: HashMap<CallId, mpsc::Sender<QueueNotice>> = HashMap::new();
    loop {
        let deadline = acd.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        let changed = async {
            match directory.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            request = requests.recv() => {
                let Some(request) = request else { return };
                follow_directory(&mut acd, &mut directory);
                apply(&mut acd, request, &mut callers, Instant::now());
            }
            alive = changed => {
                if alive {
                    // `changed` marked the value seen: apply it without asking again.
                    if let Some(rx) = directory.as_mut() {
                        let file = rx.borrow_and_update().clone();
                        set_directory(&mut acd, &file);
                    }
                } else {
                    // The publisher is gone: the directory stays as it is.
                    directory = None;
                }
            }
            _ = sleep => acd.handle_timeout(Instant::now()),
        }
        dispatch(&mut acd, &mut callers);
        while let Some(event) = acd.poll_event() {
            let change = AgentChange {
                user: event.user.clone(),
                from: event.from.name(),
                to: event.to.name(),
                reason: match &event.to {
                    AgentState::Paused { reason } => Some(reason.clone()),
                    _ => None,
                },
            };
            info!(user = %change.user, from = change.from, to = change.to, "agent state");
            // No subscriber is fine: nobody is watching.
            let _ = changes.send(change);
        }
    }
}

/// Applies a directory published since the last look.
fn follow_directory(acd: &mut Acd, directory: &mut Option<watch::Receiver<Arc<AgentsFile>>>) {
    let Some(rx) = directory.as_mut() else { return };
    if rx.has_changed().unwrap_or(false) {
        let file = rx.borrow_and_update().clone();
        set_directory(acd, &file);
    }
}

fn set_directory(acd: &mut Acd, file: &AgentsFile) {
    info!(
        agents = file.agents.len(),
        queues = file.queues.len(),
        "ACD follows the new directory"
    );
    acd.set_directory(file, Instant::now());
}

fn apply(
    acd: &mut Acd,
    request: Request,
    callers: &mut HashMap<CallId, mpsc::Sender<QueueNotice>>,
    now: Instant,
) {
    let logged = |what: &str, result: Result<(), AcdError>| {
        if let Err(e) = result {
            debug!(error = %e, "{what}");
        }
    };
    match request {
        Request::Enqueue {
            call,
            queue,
            info,
            notices,
            reply,
        } => {
            let result = acd.enqueue(call, &queue, info, now);
            if result.is_ok() {
                callers.insert(call, notices);
            }
            let _ = reply.send(result);
        }
        Request::Leave(call) => {
            callers.remove(&call);
            logged("leave", acd.call_ended(call, now));
        }
        Request::Answered(call, user) => logged("answered", acd.answered(call, &user, now)),
        Request::HandOver { from, to, reply } => {
            let result = acd.hand_over(from, to, now);
            if result.is_ok() {
                callers.remove(&from);
            }
            let _ = reply.send(result);
        }
        Request::RingFailed(call, user) => logged("ring failed", acd.ring_failed(call, &user, now)),
        Request::Online(user) => logged("online", acd.agent_online(&user, now)),
        Request::Offline(user) => logged("offline", acd.agent_offline(&user, now)),
        Request::Pause(user, reason, reply) => {
            let _ = reply.send(acd.pause(&user, &reason, now));
        }
        Request::Unpause(user, reply) => {
            let _ = reply.send(acd.unpause(&user, now));
        }
        Request::EndWrapUp(user, reply) => {
            let _ = reply.send(acd.end_wrap_up(&user, now));
        }
        Request::Snapshot(reply) => {
            let _ = reply.send((acd.snapshot(now), now));
        }
    }
}

/// Hands the distributor's actions to the calls; an undeliverable ring is a failed ring.
fn dispatch(acd: &mut Acd, callers: &mut HashMap<CallId, mpsc::Sender<QueueNotice>>) {
    let mut undeliverable = Vec::new();
    while let Some(action) = acd.poll_action() {
        let (call, notice) = match action {
            AcdAction::Ring { call, users } => (call, QueueNotice::Ring(users)),
            AcdAction::StopRinging { call, users } => (call, QueueNotice::StopRinging(users)),
            AcdAction::Position { call, position } => (call, QueueNotice::Position(position)),
            // The call task bridged the leg itself when it reported the answer.
            AcdAction::Connected { .. } => continue,
        };
        let Some(tx) = callers.get(&call) else {
            continue;
        };
        if let Err(e) = tx.try_send(notice) {
            if let QueueNotice::Ring(users) = e.into_inner() {
                undeliverable.extend(users.into_iter().map(|u| (call, u)));
            }
        }
    }
    let now = Instant::now();
    for (call, user) in undeliverable {
        let _ = acd.ring_failed(call, &user, now);
    }
    if !callers.is_empty() {
        callers.retain(|_, tx| !tx.is_closed());
    }
}

/// How long ago `then` was, from `now` (zero for the future).
pub fn age(then: Instant, now: Instant) -> Duration {
    now.saturating_duration_since(then)
}

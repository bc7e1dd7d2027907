//! Calls: one task per call glues a SIP dialog, its RTP session and its dialplan run, and
//! writes the call's ticket. The manager routes endpoint events to call tasks; the registry is
//! the live-call view the API reads.
//!
//! Speech: while the dialplan listens, a call's caller frames go through its [`listen`]er
//! (endpointing, speculative transcription) to the shared ASR pool, and transcripts reach the
//! interpreter as events next to DTMF.
//!
//! A dialplan `http` step's request is performed by [`http`] inside the call task's loop, its
//! outcome fed back to the interpreter like any other event.

mod control;
mod history;
mod http;
mod listen;
mod registry;
mod task;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tracing::warn;

use crate::acd::desk::DeskHub;
use crate::acd::service::AcdHandle;
use crate::config::Config;
use crate::dialplan::Routes;
use crate::media::ports::PortAllocator;
use crate::sip::endpoint::{CallKey, IncomingCall, SipEvent, OUTGOING_KEY_BIT};
use crate::sip::transport::SipCommand;
use crate::speech::asr::AsrPool;
use crate::speech::PromptCache;
use crate::tickets::TicketStore;

pub use control::{CallControl, CallControls, ControlError, HandedLeg};
pub use registry::Registry;

/// What every call task shares.
pub struct CallServices {
    /// Limits and timers.
    pub config: Config,
    /// Which dialplan a call runs, by called user.
    pub dialplans: Routes,
    /// Ticket database.
    pub tickets: TicketStore,
    /// TTS and WAV prompts.
    pub prompts: PromptCache,
    /// Speech recognition; `None` runs `ask` steps on keys only.
    pub asr: Option<Arc<AsrPool>>,
    /// RTP ports.
    pub ports: PortAllocator,
    /// Address for RTP sockets and SDP.
    pub media_ip: IpAddr,
    /// Where recordings go.
    pub recordings_dir: PathBuf,
    /// Commands to the SIP endpoint.
    pub sip: mpsc::Sender<SipCommand>,
    /// Live calls.
    pub registry: Registry,
    /// Turns true when the process starts draining.
    pub draining: watch::Receiver<bool>,
    /// The automatic call distributor (agents, queues).
    pub acd: AcdHandle,
    /// Where each call's SIP events go, agent legs included.
    pub legs: LegRoutes,
    /// The HTTP API's base URL, for ticket links given to agents' phones.
    pub http_base: String,
    /// Commands to live calls from the API (supervision).
    pub controls: CallControls,
    /// Browser agents: presence, rings and signalling of their desks.
    pub desk: DeskHub,
}

/// The SIP event channel of every live call, by key. Shared, so a call task can route the
/// agent legs it places to itself before their first response can arrive.
#[derive(Clone, Default)]
pub struct LegRoutes {
    routes: Arc<Mutex<HashMap<CallKey, mpsc::Sender<SipEvent>>>>,
    next: Arc<AtomicU64>,
}

impl LegRoutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallKey, mpsc::Sender<SipEvent>>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes `key`'s events to `tx` (the manager for incoming calls; tests for fake owners).
    pub(crate) fn insert(&self, key: CallKey, tx: mpsc::Sender<SipEvent>) {
        self.lock().insert(key, tx);
    }

    fn get(&self, key: CallKey) -> Option<mpsc::Sender<SipEvent>> {
        self.lock().get(&key).cloned()
    }

    fn remove(&self, key: CallKey) {
        self.lock().remove(&key);
    }

    /// Hands `event` to the task that owns `key`, from outside the SIP endpoint (the browser
    /// desk's legs). Never waits: a full queue gets the event delivered late by a spawned
    /// send. `Ended` forgets the route. False when nobody owns `key` any more.
    pub fn deliver(&self, key: CallKey, event: SipEvent) -> bool {
        self.deliver_all(key, vec![event])
    }

    /// [`LegRoutes::deliver`] for events that must arrive in this order (e.g. `Rejected`
    /// then `Ended`): once one has to wait, the rest wait behind it.
    pub fn deliver_all(&self, key: CallKey, events: Vec<SipEvent>) -> bool {
        let Some(tx) = self.get(key) else {
            return false;
        };
        if events.iter().any(|e| matches!(e, SipEvent::Ended(_))) {
            self.remove(key);
        }
        let mut events = events.into_iter();
        while let Some(event) = events.next() {
            match tx.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                        return false;
                    };
                    runtime.spawn(async move {
                        for event in std::iter::once(event).chain(events) {
                            if tx.send(event).await.is_err() {
                                return;
                            }
                        }
                    });
                    return true;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        true
    }

    /// Sends `key`'s events to `owner`'s channel from now on (a leg handed to another call).
    pub fn reroute(&self, key: CallKey, owner: CallKey) -> bool {
        let Some(tx) = self.get(owner) else {
            return false;
        };
        self.insert(key, tx);
        true
    }

    /// A fresh key for an outgoing leg whose events go to `owner`'s channel.
    pub fn new_leg(&self, owner: CallKey) -> Option<CallKey> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let key = CallKey(OUTGOING_KEY_BIT | n);
        let tx = self.get(owner)?;
        self.insert(key, tx);
        Some(key)
    }
}

/// Routes endpoint events to call tasks, starting one per incoming call, until the endpoint
/// stops sending events.
pub async fn run_manager(mut events: mpsc::Receiver<SipEvent>, services: Arc<CallServices>) {
    let routes = services.legs.clone();
    while let Some(event) = events.recv().await {
        let key = match &event {
            SipEvent::AgentOnline(user) => {
                services.acd.online(user);
                continue;
            }
            SipEvent::AgentOffline(user) => {
                services.acd.offline(user);
                continue;
            }
            other => event_key(other),
        };
        let Some(key) = key else {
            continue;
        };
        match event {
            SipEvent::IncomingCall(setup) => {
                let (tx, rx) = mpsc::channel(services.config.limits.call_queue);
                routes.insert(key, tx);
                tokio::spawn(task::run(setup, rx, services.clone()));
            }
            other => {
                let Some(tx) = routes.get(key) else {
                    continue;
                };
                let ended = matches!(other, SipEvent::Ended(_));
                // A full queue means the call task is busy (e.g. an INFO flood): DTMF may be
                // dropped, but events that move the call along are delivered late, not lost.
                if let Err(mpsc::error::TrySendError::Full(event)) = tx.try_send(other) {
                    if matches!(event, SipEvent::Info { .. }) {
                        warn!(?key, "call event queue full; INFO dropped");
                    } else {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            let _ = tx.send(event).await;
                        });
                    }
                }
                if ended {
                    routes.remove(key);
                }
            }
        }
    }
}

fn event_key(event: &SipEvent) -> Option<CallKey> {
    match event {
        SipEvent::IncomingCall(IncomingCall { key, .. })
        | SipEvent::Acked { key, .. }
        | SipEvent::ReInvite { key, .. }
        | SipEvent::Info { key, .. }
        | SipEvent::Progress { key, .. }
        | SipEvent::Answered { key, .. }
        | SipEvent::Rejected { key, .. }
        | SipEvent::ReferReceived { key, .. } => Some(*key),
        SipEvent::Cancelled(k)
        | SipEvent::RemoteBye(k)
        | SipEvent::ReferResponse(k, _)
        | SipEvent::TransferProgress(k, _)
        | SipEvent::AckTimeout(k)
        | SipEvent::Ended(k) => Some(*k),
        SipEvent::AgentOnline(_) | SipEvent::AgentOffline(_) => None,
    }
}

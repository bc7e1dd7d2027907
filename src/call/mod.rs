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

mod history;
mod http;
mod listen;
mod registry;
mod task;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tracing::warn;

use crate::config::Config;
use crate::dialplan::Routes;
use crate::media::ports::PortAllocator;
use crate::sip::endpoint::{CallKey, IncomingCall, SipEvent};
use crate::sip::transport::SipCommand;
use crate::speech::asr::AsrPool;
use crate::speech::PromptCache;
use crate::tickets::TicketStore;

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
}

/// Routes endpoint events to call tasks, starting one per incoming call, until the endpoint
/// stops sending events.
pub async fn run_manager(mut events: mpsc::Receiver<SipEvent>, services: Arc<CallServices>) {
    let mut routes: HashMap<CallKey, mpsc::Sender<SipEvent>> = HashMap::new();
    while let Some(event) = events.recv().await {
        // Agent presence is not about a call: nothing listens to it here yet.
        let Some(key) = event_key(&event) else {
            continue;
        };
        match event {
            SipEvent::IncomingCall(setup) => {
                let (tx, rx) = mpsc::channel(services.config.limits.call_queue);
                routes.insert(key, tx);
                tokio::spawn(task::run(setup, rx, services.clone()));
            }
            other => {
                let Some(tx) = routes.get(&key) else {
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
                    routes.remove(&key);
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

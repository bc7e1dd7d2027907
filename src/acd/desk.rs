//! The browser agent desk's hub (tokio shell around [`DeskState`]): agents log in with their
//! agents-file password, open desk websockets (which make them present in the ACD), get rings
//! pushed to their pages, and answer with a WebRTC leg whose audio is relayed as plain RTP to
//! the call's agent-leg socket.
//!
//! To the call task a desk leg looks like a SIP agent leg: its events (`Answered`,
//! `Rejected`, `RemoteBye`, `ReferReceived`, `ReInvite` for hold, `Ended`) arrive through [`LegRoutes`] under the
//! key the call task gave the ring; the call task ends a desk leg with [`DeskHub::hangup`],
//! which sends nothing back.
//!
//! One std mutex guards the state, the sockets' senders and the browser legs; it is never
//! held across an await. Pages get at most [`SOCKET_QUEUE`] unread messages; a page that
//! falls further behind is disconnected.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

pub use super::desk_state::{CallPhase, DeskError, DeskLimits, DeskState, SocketId};
use super::service::AcdHandle;
use super::AgentsFile;
use crate::call::LegRoutes;
use crate::media::webrtc::{LegState, WebrtcConfig, WebrtcLeg};
use crate::sdp::{self, Direction, LocalMedia, SessionOrigin};
use crate::sip::endpoint::{CallKey, SipEvent};

/// Messages waiting for one page.
pub const SOCKET_QUEUE: usize = 32;
/// Longest wait for the WebRTC stack to answer a browser's offer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often expired sessions are dropped.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// telephone-event payload type and packet time of the plain leg towards the call.
const DTMF_PT: u8 = 101;
const PTIME_MS: u32 = 20;

/// A call offered to a browser agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskRing {
    /// The agent leg's key (from `LegRoutes::new_leg`): events for it go to the call task.
    pub key: CallKey,
    /// The agent.
    pub user: String,
    /// Plain RTP SDP offer of the call's agent-leg socket.
    pub offer_sdp: String,
    /// The caller's ticket.
    pub ticket: i64,
    /// The caller (From URI).
    pub caller: String,
    /// The caller's last intent.
    pub intent: Option<String>,
    /// The queue the caller waited in.
    pub queue: String,
    /// How long the caller waited.
    pub queue_wait_secs: u64,
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskLogin {
    /// Bearer token for the desk's requests and websocket.
    pub token: String,
    /// The agent.
    pub user: String,
    /// Display name.
    pub name: String,
}

/// A message to a page; call ids are strings because a u64 does not fit a JS number.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum PageMessage<'a> {
    Ring {
        call: String,
        ticket: i64,
        caller: &'a str,
        intent: Option<&'a str>,
        queue: &'a str,
        queue_wait_secs: u64,
    },
    StopRinging {
        call: String,
    },
    Ended {
        call: String,
    },
    /// A turn was added to a ticket the page shows: reload it.
    Turn {
        ticket: i64,
    },
}

impl PageMessage<'_> {
    fn text(&self) -> Arc<str> {
        // Strings and numbers always serialize.
        Arc::from(serde_json::to_string(self).unwrap_or_default())
    }
}

/// The JSON form of a call id.
pub fn call_id(key: CallKey) -> String {
    key.0.to_string()
}

struct Shared {
    state: DeskState,
    sockets: HashMap<SocketId, mpsc::Sender<Arc<str>>>,
    legs: HashMap<CallKey, DeskLeg>,
}

/// An answered browser leg, and its plain RTP side towards the call (for hold re-offers).
struct DeskLeg {
    webrtc: WebrtcLeg,
    relay: LocalMedia,
    origin: SessionOrigin,
}

struct Inner {
    acd: AcdHandle,
    routes: LegRoutes,
    webrtc: WebrtcConfig,
    directory: watch::Receiver<Arc<AgentsFile>>,
    shared: Mutex<Shared>,
}

/// Presence and signalling of browser agents. Cheap to clone.
#[derive(Clone)]
pub struct DeskHub {
    inner: Arc<Inner>,
}

/// One open desk socket: pushed messages arrive on `messages`. Dropping it closes the
/// socket in the hub (last one: the agent goes offline and their desk calls end).
pub struct DeskSocket {
    /// The socket.
    pub id: SocketId,
    /// Its agent.
    pub user: String,
    /// Messages for the page (JSON text). `None`: the hub closed the socket.
    pub messages: mpsc::Receiver<Arc<str>>,
    hub: DeskHub,
}

impl Drop for DeskSocket {
    fn drop(&mut self) {
        self.hub.close_socket(self.id);
    }
}

impl DeskHub {
    /// A hub checking logins against `directory` (the current agents file).
    pub fn new(
        acd: AcdHandle,
        legs: LegRoutes,
        webrtc: WebrtcConfig,
        directory: watch::Receiver<Arc<AgentsFile>>,
    ) -> DeskHub {
        Self::with_limits(acd, legs, webrtc, directory, DeskLimits::default())
    }

    /// [`DeskHub::new`] with other bounds.
    pub fn with_limits(
        acd: AcdHandle,
        legs: LegRoutes,
        webrtc: WebrtcConfig,
        directory: watch::Receiver<Arc<AgentsFile>>,
        limits: DeskLimits,
    ) -> DeskHub {
        let hub = DeskHub {
            inner: Arc::new(Inner {
                acd,
                routes: legs,
                webrtc,
                directory,
                shared: Mutex::new(Shared {
                    state: DeskState::new(limits),
                    sockets: HashMap::new(),
                    legs: HashMap::new(),
                }),
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(expire_sessions(Arc::downgrade(&hub.inner)));
        }
        hub
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Every critical section leaves the maps consistent, so a poisoned lock is usable.
        self.inner.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks the password and opens a session.
    pub fn login(&self, user: &str, password: &str) -> Result<DeskLogin, DeskError> {
        let token = new_token();
        let directory = Arc::clone(&self.inner.directory.borrow());
        let name =
            self.lock()
                .state
                .login(&directory, user, password, token.clone(), Instant::now())?;
        info!(user, "desk login");
        Ok(DeskLogin {
            token,
            user: user.to_owned(),
            name,
        })
    }

    /// Ends a session and closes the sockets opened with it. False for an unknown token.
    pub fn logout(&self, token: &str) -> bool {
        let mut shared = self.lock();
        let Some(sockets) = shared.state.logout(token) else {
            return false;
        };
        for id in sockets {
            // The socket task sees its channel close and ends; its drop does the rest.
            shared.sockets.remove(&id);
        }
        true
    }

    /// The agent of a live session.
    pub fn authenticate(&self, token: &str) -> Result<String, DeskError> {
        self.lock().state.authenticate(token, Instant::now())
    }

    /// Opens a desk socket; the agent's first makes them present in the ACD.
    pub fn open_socket(&self, token: &str) -> Result<DeskSocket, DeskError> {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let (id, user, first) = {
            let mut shared = self.lock();
            let opened = shared.state.open_socket(token, Instant::now())?;
            shared.sockets.insert(opened.0, tx);
            opened
        };
        if first {
            info!(%user, "desk open: agent online");
            self.inner.acd.online(&user);
        }
        Ok(DeskSocket {
            id,
            user,
            messages: rx,
            hub: self.clone(),
        })
    }

    fn close_socket(&self, id: SocketId) {
        let (closed, legs) = {
            let mut shared = self.lock();
            shared.sockets.remove(&id);
            let Some(closed) = shared.state.close_socket(id) else {
                return;
            };
            let legs: Vec<WebrtcLeg> = closed
                .ended
                .iter()
                .filter_map(|(key, _)| shared.legs.remove(key))
                .map(|leg| leg.webrtc)
                .collect();
            (closed, legs)
        };
        for (key, phase) in &closed.ended {
            self.agent_gone(*key, *phase);
        }
        close_legs(legs);
        if closed.last {
            info!(user = %closed.user, "last desk closed: agent offline");
            self.inner.acd.offline(&closed.user);
        }
    }

    /// Agent state changes (the desk socket forwards its agent's own).
    pub fn agent_changes(&self) -> tokio::sync::broadcast::Receiver<super::service::AgentChange> {
        self.inner.acd.subscribe()
    }

    /// Whether `user` has at least one desk open.
    pub fn is_logged_in(&self, user: &str) -> bool {
        self.lock().state.is_logged_in(user)
    }

    /// Offers a call to the agent's desk(s). False when no desk of theirs is open (or a
    /// bound is reached); the call task then treats the ring as failed.
    pub fn ring(&self, ring: DeskRing) -> bool {
        let mut shared = self.lock();
        if !shared
            .state
            .ring(ring.key, &ring.user, ring.offer_sdp.clone())
        {
            return false;
        }
        shared.state.set_ticket(ring.key, ring.ticket);
        let message = PageMessage::Ring {
            call: call_id(ring.key),
            ticket: ring.ticket,
            caller: &ring.caller,
            intent: ring.intent.as_deref(),
            queue: &ring.queue,
            queue_wait_secs: ring.queue_wait_secs,
        };
        push(&mut shared, &ring.user, &message.text());
        true
    }

    /// A turn was committed to `ticket`: the desks with a call on it are told to reload it.
    pub fn turn_added(&self, ticket: i64) {
        let mut shared = self.lock();
        let text = PageMessage::Turn { ticket }.text();
        for user in shared.state.users_on_ticket(ticket) {
            push(&mut shared, &user, &text);
        }
    }

    /// Every desk with a call is told to reload its ticket (turn notices were missed).
    pub fn reload_all(&self) {
        let mut shared = self.lock();
        for (user, ticket) in shared.state.tickets_shown() {
            push(&mut shared, &user, &PageMessage::Turn { ticket }.text());
        }
    }

    /// The call side ends a desk leg (ringing or answered): the page is told, the browser
    /// leg closed. No event goes back to the call task.
    pub fn hangup(&self, key: CallKey) {
        let leg = {
            let mut shared = self.lock();
            let Some(call) = shared.state.end(key) else {
                return;
            };
            push(&mut shared, &call.user, &ended(key));
            shared.legs.remove(&key).map(|leg| leg.webrtc)
        };
        close_legs(leg);
    }

    /// The agent answers with the browser's SDP offer; returns the SDP answer for the
    /// browser once the call task has been told the leg answered.
    pub async fn answer(
        &self,
        user: &str,
        key: CallKey,
        browser_offer: &str,
    ) -> Result<String, DeskError> {
        let offer = self.lock().state.start_answer(key, user)?;
        match self.connect(&offer, browser_offer).await {
            Ok(answered) => self.answered(user, key, answered),
            Err(e) => {
                self.lock().state.answer_failed(key);
                Err(e)
            }
        }
    }

    /// Sets up the browser leg and the plain SDP answer for the call.
    async fn connect(&self, call_offer: &str, browser_offer: &str) -> Result<Connected, DeskError> {
        let rtp_peer = call_rtp_address(call_offer, &self.inner.webrtc)?;
        let setup = WebrtcLeg::answer(browser_offer, rtp_peer, &self.inner.webrtc);
        let webrtc = tokio::time::timeout(ANSWER_TIMEOUT, setup)
            .await
            .map_err(|_| DeskError::Media("no answer from the WebRTC stack in time".into()))?
            .map_err(|e| match e {
                crate::media::webrtc::WebrtcError::Offer(why) => DeskError::BadSdp(why),
                other => DeskError::Media(other.to_string()),
            })?;
        let relay = LocalMedia {
            addr: webrtc.relay.ip(),
            port: webrtc.relay.port(),
            codecs: vec![webrtc.codec],
            dtmf_pt: DTMF_PT,
            ptime_ms: PTIME_MS,
        };
        let mut origin = SessionOrigin::new(rand::random::<u32>() >> 1);
        match sdp::answer(call_offer, &relay, &mut origin) {
            Ok((_, plain_answer)) => Ok(Connected {
                leg: webrtc.leg,
                browser_answer: webrtc.sdp,
                plain_answer,
                relay,
                origin,
            }),
            Err(e) => {
                webrtc.leg.close().await;
                Err(DeskError::BadSdp(e.to_string()))
            }
        }
    }

    fn answered(&self, user: &str, key: CallKey, up: Connected) -> Result<String, DeskError> {
        let states = up.leg.state();
        {
            let mut shared = self.lock();
            if shared.state.answered(key) {
                let event = SipEvent::Answered {
                    key,
                    sdp: Some(up.plain_answer),
                };
                if self.inner.routes.deliver(key, event) {
                    shared.legs.insert(
                        key,
                        DeskLeg {
                            webrtc: up.leg,
                            relay: up.relay,
                            origin: up.origin,
                        },
                    );
                    push(&mut shared, user, &stop_ringing(key));
                    drop(shared);
                    tokio::spawn(watch_leg(Arc::downgrade(&self.inner), key, states));
                    info!(user, call = key.0, "desk answered");
                    return Ok(up.browser_answer);
                }
                shared.state.end(key);
                push(&mut shared, user, &ended(key));
            }
        }
        close_legs(Some(up.leg));
        Err(DeskError::CallGone)
    }

    /// The agent declines a ringing call (603).
    pub fn decline(&self, user: &str, key: CallKey) -> Result<(), DeskError> {
        let mut shared = self.lock();
        shared.state.decline(key, user)?;
        push(&mut shared, user, &stop_ringing(key));
        drop(shared);
        self.inner.routes.deliver_all(
            key,
            vec![SipEvent::Rejected { key, code: 603 }, SipEvent::Ended(key)],
        );
        Ok(())
    }

    /// The agent hangs up (a ringing call counts as unavailable, 480).
    pub fn agent_hangup(&self, user: &str, key: CallKey) -> Result<(), DeskError> {
        let (phase, leg) = {
            let mut shared = self.lock();
            let phase = shared.state.agent_hangup(key, user)?;
            push(&mut shared, user, &ended(key));
            (phase, shared.legs.remove(&key).map(|leg| leg.webrtc))
        };
        self.agent_gone(key, phase);
        close_legs(leg);
        Ok(())
    }

    /// The agent transfers an answered call to an agent, a queue or a number.
    pub fn transfer(&self, user: &str, key: CallKey, target: &str) -> Result<(), DeskError> {
        check_target(target)?;
        let phase = self.lock().state.call(key, user)?.phase;
        if phase != CallPhase::Answered {
            return Err(DeskError::WrongPhase("not answered"));
        }
        let refer = SipEvent::ReferReceived {
            key,
            refer_to: format!("sip:{target}@voxdesk"),
            replaces: None,
            referred_by: Some(user.to_owned()),
        };
        if self.inner.routes.deliver(key, refer) {
            info!(user, call = key.0, target, "desk transfer");
            Ok(())
        } else {
            Err(DeskError::CallGone)
        }
    }

    /// The agent holds (`true`) or resumes an answered call: the browser leg re-offers to the
    /// call as a phone would (sendonly / sendrecv, RFC 3264 §8.4), so the call task holds
    /// the same way for both. The call's answer needs nothing from us: the relay's address
    /// stays, and what the call sends while held is silence.
    pub fn hold(&self, user: &str, key: CallKey, held: bool) -> Result<(), DeskError> {
        let mut shared = self.lock();
        if shared.state.call(key, user)?.phase != CallPhase::Answered {
            return Err(DeskError::WrongPhase("not answered"));
        }
        let leg = shared.legs.get_mut(&key).ok_or(DeskError::CallGone)?;
        let direction = if held {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        let offer = sdp::offer_directed(&leg.relay, direction, &mut leg.origin);
        drop(shared);
        let reinvite = SipEvent::ReInvite {
            key,
            offer: Some(offer),
        };
        if self.inner.routes.deliver(key, reinvite) {
            info!(user, call = key.0, held, "desk hold");
            Ok(())
        } else {
            Err(DeskError::CallGone)
        }
    }

    /// Tells the call task the agent side went away.
    fn agent_gone(&self, key: CallKey, phase: CallPhase) {
        let first = match phase {
            CallPhase::Answered => SipEvent::RemoteBye(key),
            CallPhase::Ringing | CallPhase::Answering => SipEvent::Rejected { key, code: 480 },
        };
        self.inner
            .routes
            .deliver_all(key, vec![first, SipEvent::Ended(key)]);
    }

    /// The browser leg closed by itself (ICE lost, the page went away).
    fn leg_closed(&self, key: CallKey) {
        let (call, leg) = {
            let mut shared = self.lock();
            let Some(call) = shared.state.end(key) else {
                return;
            };
            push(&mut shared, &call.user, &ended(key));
            (call, shared.legs.remove(&key).map(|leg| leg.webrtc))
        };
        warn!(user = %call.user, call = key.0, "browser leg closed");
        self.agent_gone(key, call.phase);
        close_legs(leg);
    }

    #[cfg(test)]
    pub(crate) fn state_for_test<T>(&self, f: impl FnOnce(&mut DeskState) -> T) -> T {
        f(&mut self.lock().state)
    }
}

struct Connected {
    leg: WebrtcLeg,
    browser_answer: String,
    plain_answer: String,
    relay: LocalMedia,
    origin: SessionOrigin,
}

/// The call leg's RTP address, from its offer.
fn call_rtp_address(offer: &str, cfg: &WebrtcConfig) -> Result<SocketAddr, DeskError> {
    let probe = LocalMedia {
        addr: cfg.bind_ip,
        port: 9,
        codecs: Vec::new(),
        dtmf_pt: DTMF_PT,
        ptime_ms: PTIME_MS,
    };
    let (negotiated, _) = sdp::answer(offer, &probe, &mut SessionOrigin::new(1))
        .map_err(|e| DeskError::BadSdp(format!("call offer: {e}")))?;
    negotiated
        .remote_rtp
        .ok_or_else(|| DeskError::BadSdp("call offer has no RTP address".into()))
}

/// Longest transfer target: agent user, queue name or phone number.
pub const MAX_TARGET_CHARS: usize = 64;

fn check_target(target: &str) -> Result<(), DeskError> {
    if target.is_empty() {
        return Err(DeskError::BadTarget("empty"));
    }
    if target.chars().count() > MAX_TARGET_CHARS {
        return Err(DeskError::BadTarget("too long"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+');
    if !target.chars().all(allowed) {
        return Err(DeskError::BadTarget(
            "only letters, digits and . _ - + are allowed",
        ));
    }
    Ok(())
}

fn stop_ringing(key: CallKey) -> Arc<str> {
    PageMessage::StopRinging { call: call_id(key) }.text()
}

fn ended(key: CallKey) -> Arc<str> {
    PageMessage::Ended { call: call_id(key) }.text()
}

/// Sends to every desk of `user`; a page too far behind is disconnected.
fn push(shared: &mut Shared, user: &str, text: &Arc<str>) {
    for id in shared.state.sockets_of(user) {
        let Some(tx) = shared.sockets.get(&id) else {
            continue;
        };
        if tx.try_send(Arc::clone(text)).is_err() {
            warn!(user, "desk page not reading: disconnected");
            shared.sockets.remove(&id);
        }
    }
}

fn close_legs(legs: impl IntoIterator<Item = WebrtcLeg>) {
    for leg in legs {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(leg.close());
            }
            Err(_) => drop(leg),
        }
    }
}

/// 256 random bits, hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Ends the desk call when its browser leg closes.
async fn watch_leg(hub: Weak<Inner>, key: CallKey, mut states: watch::Receiver<LegState>) {
    loop {
        if *states.borrow_and_update() == LegState::Closed {
            break;
        }
        if states.changed().await.is_err() {
            break;
        }
    }
    if let Some(inner) = hub.upgrade() {
        DeskHub { inner }.leg_closed(key);
    }
}

async fn expire_sessions(hub: Weak<Inner>) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    loop {
        tick.tick().await;
        let Some(inner) = hub.upgrade() else {
            return;
        };
        DeskHub { inner }.lock().state.expire(Instant::now());
    }
}

//! The sans-IO user agent core: routes every received message to its transaction or dialog,
//! answers what needs no application decision (OPTIONS, 400/405/481/503…), and turns the rest
//! into [`SipEvent`]s for the call layer, which answers with commands (`answer`, `hangup`, …).
//!
//! Matching rules worth knowing: an ACK for a 2xx is matched by dialog (Call-ID + our To-tag),
//! never by source address, so ACKs that come through a proxy or from another port still stop
//! the 2xx retransmissions (the classic "every call drops after 32 s" bug). Server
//! transactions are keyed by top Via branch + method (ACK folds into INVITE, §17.2.3).
//!
//! Outgoing calls (we are UAC, [`Endpoint::invite`]) share the call table and the in-dialog
//! handling: the `dialogs` map is keyed by (Call-ID, our tag), and our tag is the To tag of
//! requests the other side sends in either role.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rsip::Method as M;

use crate::sip::dialog::Dialog;
use crate::sip::message::{
    param, parse, response_to, validate_request, Message, ParseError, Request,
};
use crate::sip::registrar::Registrar;
use crate::sip::transaction::{
    ClientNonInvite, ServerInvite, ServerNonInvite, SipTimers, TxEvent, Wire,
};

mod commands;
mod incoming;
mod outgoing;
mod refer;
mod registration;

pub use outgoing::{OutgoingInvite, OUTGOING_KEY_BIT};

/// Methods we implement, for Allow headers.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY";
/// The same on an endpoint that is also a registrar.
pub const ALLOW_WITH_REGISTER: &str =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY, REGISTER";

/// Identifies a TCP connection owned by the transport shell.
pub type ConnId = u64;

/// Where a message came from and where its answers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A UDP source address.
    Udp(SocketAddr),
    /// A TCP connection (and its remote address).
    Tcp(ConnId, SocketAddr),
}

impl Peer {
    pub(super) fn reliable(self) -> bool {
        matches!(self, Peer::Tcp(..))
    }
    pub(super) fn transport(self) -> &'static str {
        match self {
            Peer::Udp(_) => "UDP",
            Peer::Tcp(..) => "TCP",
        }
    }
    /// The remote address.
    pub fn addr(self) -> SocketAddr {
        match self {
            Peer::Udp(a) | Peer::Tcp(_, a) => a,
        }
    }
}

/// Bytes for the shell to send.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// Destination.
    pub peer: Peer,
    /// Serialized message.
    pub bytes: Wire,
}

/// The endpoint's handle for one call (one INVITE dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(pub u64);

/// A new INVITE, as the call layer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    /// The call.
    pub key: CallKey,
    /// Call-ID header.
    pub call_id: String,
    /// From URI.
    pub from: String,
    /// To URI.
    pub to: String,
    /// Request-URI.
    pub request_uri: String,
    /// The SDP offer, if the INVITE had one.
    pub offer: Option<String>,
    /// Source of the INVITE.
    pub source: SocketAddr,
    /// The agent who placed the call, proven by digest; `None` for every other caller.
    pub agent: Option<String>,
    /// The dialog's tags, ours (To) and the caller's (From): with the Call-ID, what a
    /// Replaces header names.
    pub tags: (String, String),
}

/// What the call layer is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipEvent {
    /// A new INVITE: answer, reject or redirect it.
    IncomingCall(IncomingCall),
    /// The caller acknowledged our 200 (with the SDP answer when we offered in the 200).
    Acked {
        /// The call.
        key: CallKey,
        /// SDP in the ACK.
        answer: Option<String>,
    },
    /// The caller cancelled before we answered.
    Cancelled(CallKey),
    /// The caller hung up.
    RemoteBye(CallKey),
    /// A re-INVITE (hold/unhold): reply with `answer_reinvite`.
    ReInvite {
        /// The call.
        key: CallKey,
        /// The new offer (None: we must offer).
        offer: Option<String>,
    },
    /// A SIP INFO with a DTMF body (`application/dtmf-relay` or `application/dtmf`).
    Info {
        /// The call.
        key: CallKey,
        /// Its Content-Type, lower-cased.
        content_type: String,
        /// Its body.
        body: String,
    },
    /// Final response to our REFER.
    ReferResponse(CallKey, u16),
    /// Transfer progress from NOTIFY (the sipfrag status code).
    TransferProgress(CallKey, u16),
    /// Our 200 was never acknowledged; a BYE has been sent.
    AckTimeout(CallKey),
    /// The call is gone from the endpoint; no more events for it.
    Ended(CallKey),
    /// An agent's first phone registered.
    AgentOnline(String),
    /// An agent's last registration is gone (expired, removed, or its phone stopped answering).
    AgentOffline(String),
    /// Our INVITE got a provisional response (180 Ringing, 183 Session Progress …; not 100).
    Progress {
        /// The outgoing call.
        key: CallKey,
        /// The status code.
        code: u16,
    },
    /// Our INVITE was answered; the ACK has been sent.
    Answered {
        /// The outgoing call.
        key: CallKey,
        /// The SDP answer in the 2xx.
        sdp: Option<String>,
    },
    /// Our INVITE failed: a final non-2xx response, 408 for no answer at all (timer B), or
    /// 503/400 generated here when no call slot was free or the request could not be built.
    /// `Ended` follows.
    Rejected {
        /// The outgoing call.
        key: CallKey,
        /// The status code.
        code: u16,
    },
    /// The other side asked us to transfer it (REFER, already answered 202): report the
    /// outcome with `notify_refer`.
    ReferReceived {
        /// The call.
        key: CallKey,
        /// The Refer-To URI, without `<>` and without its `?headers`.
        refer_to: String,
        /// The Replaces header embedded in Refer-To (attended transfer), unescaped.
        replaces: Option<String>,
        /// The Referred-By header, as sent.
        referred_by: Option<String>,
    },
}

/// Limits and identity.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Address put in Via and Contact.
    pub advertised: SocketAddr,
    /// Calls accepted at once; beyond: 503.
    pub max_calls: usize,
    /// Largest message accepted, bytes.
    pub max_message_size: usize,
    /// Seconds in Retry-After of a 503.
    pub retry_after_secs: u32,
    /// RFC 3261 timers.
    pub timers: SipTimers,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            advertised: SocketAddr::from(([127, 0, 0, 1], 5060)),
            max_calls: 500,
            max_message_size: 65_535,
            retry_after_secs: 5,
            timers: SipTimers::default(),
        }
    }
}

/// Counters the shell exports as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Unparsable input dropped.
    pub junk_dropped: u64,
    /// Requests answered 400.
    pub malformed: u64,
    /// Requests answered 503 for load or drain.
    pub rejected_busy: u64,
}

type TxKey = (String, String);

enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

struct ServerEntry {
    tx: ServerTx,
    peer: Peer,
    call: Option<CallKey>,
    /// The INVITE, kept to build the final response later.
    invite: Option<Request>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Bye,
    Refer,
    /// An OPTIONS ping to a registered phone (its entry's call is [`registration::NO_CALL`]).
    Keepalive {
        user: String,
        contact: String,
    },
    /// CANCEL of an outgoing INVITE: the INVITE's 487 ends the call, not this.
    Cancel,
    /// NOTIFY of a transfer's progress: nothing waits for its answer.
    Notify,
    /// BYE of a dialog we never kept (a forked or late 2xx): nothing waits for its answer.
    Discard,
}

struct ClientEntry {
    tx: ClientNonInvite,
    peer: Peer,
    call: CallKey,
    purpose: Purpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// INVITE received, no final response yet.
    Early,
    /// 200 sent, waiting for ACK.
    AwaitingAck,
    /// ACK received.
    Confirmed,
    /// BYE sent or final non-2xx sent; waiting to forget.
    Terminating,
    /// Our INVITE sent, no final response yet.
    Outgoing,
}

struct Call {
    dialog: Dialog,
    state: CallState,
    peer: Peer,
    invite_tx: TxKey,
    /// A re-INVITE waiting for `answer_reinvite`.
    pending_reinvite: Option<TxKey>,
    /// The INVITE transaction (initial or re-INVITE) whose 2xx awaits ACK, by CSeq.
    awaiting_ack: Option<(u32, TxKey)>,
    bye_after_ack: bool,
    /// State of our INVITE when we placed the call.
    outgoing: Option<outgoing::UacLeg>,
    /// CSeq of the REFER whose progress `notify_refer` reports.
    refer_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TimerOwner {
    Server(TxKey),
    Client(TxKey),
    ClientInvite(TxKey),
}

/// The user agent core.
pub struct Endpoint {
    cfg: EndpointConfig,
    server_txs: HashMap<TxKey, ServerEntry>,
    client_txs: HashMap<TxKey, ClientEntry>,
    client_invites: HashMap<TxKey, outgoing::ClientInviteEntry>,
    calls: HashMap<CallKey, Call>,
    dialogs: HashMap<(String, String), CallKey>,
    timers: BinaryHeap<Reverse<(Instant, TimerOwner)>>,
    /// The live deadline of each owner; heap entries that disagree are stale and skipped.
    armed: HashMap<TimerOwner, Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SipEvent>,
    next_key: u64,
    draining: bool,
    stats: EndpointStats,
    /// Answers REGISTER when set; without it REGISTER gets 405.
    registrar: Option<Registrar>,
}

fn random_token(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}{n:016x}")
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(cfg: EndpointConfig) -> Self {
        Endpoint {
            cfg,
            server_txs: HashMap::new(),
            client_txs: HashMap::new(),
            client_invites: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            timers: BinaryHeap::new(),
            armed: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_key: 1,
            draining: false,
            stats: EndpointStats::default(),
            registrar: None,
        }
    }

    /// Calls that hold a slot (from INVITE until forgotten).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Counters.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// While draining, new INVITEs get 503.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
    }

    /// The configured message size limit (the shell frames TCP with it).
    pub fn max_message_size(&self) -> usize {
        self.cfg.max_message_size
    }

    /// Bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Events for the call layer.
    pub fn poll_event(&mut self) -> Option<SipEvent> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.timers.peek().map(|Reverse((at, _))| *at);
        let registrar = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        tx.into_iter().chain(registrar).min()
    }

    /// Handles one datagram or stream frame.
    pub fn handle_input(&mut self, bytes: &[u8], peer: Peer, now: Instant) {
        match parse(bytes, self.cfg.max_message_size) {
            Ok(Message::Request(req)) => self.handle_request(req, peer, now),
            Ok(Message::Response(rsp)) => self.handle_response(rsp, now),
            Err(ParseError::BadRequest(reason)) => {
                self.stats.malformed += 1;
                self.reply_to_broken(bytes, peer, 400, &reason);
            }
            // Answered when its head is readable (counted as junk otherwise).
            Err(ParseError::TooLarge) => {
                self.reply_to_broken(bytes, peer, 513, "Message Too Large")
            }
            Err(_) => self.stats.junk_dropped += 1,
        }
    }

    /// A 400 for a request whose framing failed but whose headers may still be readable.
    fn reply_to_broken(&mut self, bytes: &[u8], peer: Peer, code: u16, reason: &str) {
        // Re-read the head alone (the body was the problem) to find the headers to echo.
        let head_len = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |p| p + 4);
        let mut head = bytes[..head_len].to_vec();
        if !head.ends_with(b"\r\n\r\n") {
            head.extend_from_slice(b"\r\n\r\n");
        }
        let stripped = String::from_utf8_lossy(&head)
            .lines()
            .filter(|l| {
                let name = l.split(':').next().unwrap_or("").trim();
                !(name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l"))
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n\r\n";
        match parse(stripped.as_bytes(), usize::MAX) {
            Ok(Message::Request(req)) if !req.method.is(M::Ack) => {
                if validate_request(&req).is_ok() {
                    let rsp = response_to(&req, code, reason, None);
                    self.send_direct(peer, rsp.to_bytes());
                } else {
                    self.stats.junk_dropped += 1;
                }
            }
            _ => self.stats.junk_dropped += 1,
        }
    }

    pub(super) fn send_direct(&mut self, peer: Peer, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            peer,
            bytes: Arc::from(bytes),
        });
    }

    pub(super) fn tx_key(req: &Request) -> TxKey {
        let method = if req.method.is(M::Ack) {
            "INVITE".to_string()
        } else {
            req.method.to_string()
        };
        let branch = req.branch();
        if branch.starts_with("z9hG4bK") {
            // §17.2.3: branch and sent-by together, so two clients reusing a branch differ.
            let top_via = req.headers.get_all("Via").first().copied().unwrap_or("");
            (format!("{branch}|{}", via_sent_by(top_via)), method)
        } else {
            // RFC 2543 peers: fall back to the §17.2.3 tuple.
            let from_tag = param(req.headers.get("From").unwrap_or(""), "tag").unwrap_or("");
            let (cseq, _) = req.cseq();
            (format!("{}|{}|{}", req.call_id(), from_tag, cseq), method)
        }
    }

    /// Removes the call from the dialog tables; its transactions live on to finish.
    pub(super) fn forget_call(&mut self, call_key: CallKey, now: Instant) {
        // A re-INVITE still waiting for the call layer gets its final answer now (§15.1.2),
        // or its transaction would wait forever.
        let pending = self
            .calls
            .get_mut(&call_key)
            .and_then(|c| c.pending_reinvite.take());
        if let Some(tx_key) = pending {
            self.respond_invite(call_key, &tx_key, 487, None, now);
        }
        if let Some(call) = self.calls.remove(&call_key) {
            self.dialogs
                .remove(&(call.dialog.call_id.clone(), call.dialog.local_tag.clone()));
            self.events.push_back(SipEvent::Ended(call_key));
        }
    }

    /// Fires every due timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, owner))) = self.timers.pop() else {
                break;
            };
            if self.armed.get(&owner) != Some(&at) {
                continue;
            }
            self.armed.remove(&owner);
            match owner {
                TimerOwner::Server(key) => {
                    if let Some(entry) = self.server_txs.get_mut(&key) {
                        match &mut entry.tx {
                            ServerTx::Invite(tx) => tx.handle_timeout(now),
                            ServerTx::NonInvite(tx) => tx.handle_timeout(now),
                        }
                        self.drain_server(&key, now);
                    }
                }
                TimerOwner::Client(key) => {
                    if let Some(entry) = self.client_txs.get_mut(&key) {
                        entry.tx.handle_timeout(now);
                        self.drain_client(&key, now);
                    }
                }
                TimerOwner::ClientInvite(key) => self.client_invite_timeout(&key, now),
            }
        }
        self.registrar_timeout(now);
    }

    fn arm(&mut self, owner: TimerOwner, deadline: Option<Instant>) {
        match deadline {
            None => {
                self.armed.remove(&owner);
            }
            Some(at) if self.armed.get(&owner) != Some(&at) => {
                self.armed.insert(owner.clone(), at);
                self.timers.push(Reverse((at, owner)));
            }
            Some(_) => {}
        }
    }

    /// Moves a server transaction's output to the queues and re-arms its timer.
    pub(super) fn drain_server(&mut self, key: &TxKey, now: Instant) {
        let Some(entry) = self.server_txs.get_mut(key) else {
            return;
        };
        let peer = entry.peer;
        let call = entry.call;
        let mut events = Vec::new();
        let (deadline, done) = match &mut entry.tx {
            ServerTx::Invite(tx) => {
                while let Some(bytes) = tx.poll_transmit() {
                    self.transmits.push_back(Transmit { peer, bytes });
                }
                while let Some(ev) = tx.poll_event() {
                    events.push(ev);
                }
                (tx.poll_timeout(), tx.is_terminated())
            }
            ServerTx::NonInvite(tx) => {
                while let Some(bytes) = tx.poll_transmit() {
                    self.transmits.push_back(Transmit { peer, bytes });
                }
                (tx.poll_timeout(), tx.is_terminated())
            }
        };
        if done {
            self.server_txs.remove(key);
        }
        self.arm(TimerOwner::Server(key.clone()), deadline.filter(|_| !done));
        for ev in events {
            if let (TxEvent::AckTimeout, Some(call_key)) = (ev, call) {
                let Some(c) = self.calls.get_mut(&call_key) else {
                    continue;
                };
                c.awaiting_ack = None;
                // Already hanging up (a BYE is on its way): nothing more to send.
                if c.state == CallState::Terminating {
                    continue;
                }
                c.state = CallState::Confirmed;
                if &c.invite_tx == key {
                    self.events.push_back(SipEvent::AckTimeout(call_key));
                }
                self.send_bye(call_key, now);
            }
        }
    }

    pub(super) fn drain_client(&mut self, key: &TxKey, now: Instant) {
        let Some(entry) = self.client_txs.get_mut(key) else {
            return;
        };
        let peer = entry.peer;
        let (call, purpose) = (entry.call, entry.purpose.clone());
        while let Some(bytes) = entry.tx.poll_transmit() {
            self.transmits.push_back(Transmit { peer, bytes });
        }
        let mut finals = Vec::new();
        while let Some(ev) = entry.tx.poll_event() {
            finals.push(ev);
        }
        let deadline = entry.tx.poll_timeout();
        let done = entry.tx.is_terminated();
        if done {
            self.client_txs.remove(key);
        }
        self.arm(TimerOwner::Client(key.clone()), deadline.filter(|_| !done));
        for ev in finals {
            match (&purpose, ev) {
                (Purpose::Bye, TxEvent::Final(_) | TxEvent::Timeout) => self.forget_call(call, now),
                (Purpose::Refer, TxEvent::Final(code)) => {
                    self.events.push_back(SipEvent::ReferResponse(call, code));
                }
                (Purpose::Refer, TxEvent::Timeout) => {
                    self.events.push_back(SipEvent::ReferResponse(call, 408));
                }
                (Purpose::Keepalive { user, contact }, TxEvent::Final(_)) => {
                    self.keepalive_done(user, contact, true, now);
                }
                (Purpose::Keepalive { user, contact }, TxEvent::Timeout) => {
                    self.keepalive_done(user, contact, false, now);
                }
                _ => {}
            }
        }
    }
}

/// The sent-by (`host[:port]`) of a Via value: `SIP/2.0/UDP host:port;branch=…`.
pub(super) fn via_sent_by(via: &str) -> &str {
    via.split(';')
        .next()
        .and_then(|proto_and_host| proto_and_host.split_whitespace().nth(1))
        .unwrap_or("")
}

/// Adds `received` (source IP differs from sent-by) and fills an empty `rport` (RFC 3581) on
/// the top Via, as the server transport must on receipt (§18.2.1), so responses tell clients
/// behind NAT where their packets came from.
pub(super) fn stamp_top_via(req: &mut Request, source: SocketAddr) {
    req.headers.map_first_element("Via", |via| {
        let sent_by_host = via_sent_by(via)
            .rsplit_once(':')
            .filter(|(h, _)| !h.ends_with(']') || h.starts_with('['))
            .map_or(via_sent_by(via), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let mut params: Vec<String> = via.split(';').map(str::to_string).collect();
        let mut has_received = false;
        let mut wants_rport = false;
        for p in params.iter_mut().skip(1) {
            let name = p
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if name == "received" {
                has_received = true;
            } else if name == "rport" {
                wants_rport = true;
                *p = format!("rport={}", source.port());
            }
        }
        if !has_received && (wants_rport || sent_by_host != source.ip().to_string()) {
            params.push(format!("received={}", source.ip()));
        }
        params.join(";")
    });
}

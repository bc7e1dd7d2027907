//! The sans-IO user agent core: routes every received message to its transaction or dialog,
//! answers what needs no application decision (OPTIONS, 400/405/481/503…), and turns the rest
//! into [`SipEvent`]s for the call layer, which answers with commands (`answer`, `hangup`, …).
//!
//! Matching rules worth knowing: an ACK for a 2xx is matched by dialog (Call-ID + our To-tag),
//! never by source address, so ACKs that come through a proxy or from another port still stop
//! the 2xx retransmissions (the classic "every call drops after 32 s" bug). Server
//! transactions are keyed by top Via branch + method (ACK folds into INVITE, §17.2.3).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rsip::Method as M;

use super::dialog::Dialog;
use super::message::{
    self, param, parse, reason_phrase, response_to, validate_request, Message, ParseError, Request,
    Response,
};
use super::transaction::{
    ClientNonInvite, ServerInvite, ServerNonInvite, SipTimers, TxEvent, Wire,
};

/// Methods we implement, for Allow headers.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY";

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
    fn reliable(self) -> bool {
        matches!(self, Peer::Tcp(..))
    }
    fn transport(self) -> &'static str {
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

/// What the call layer is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipEvent {
    /// A new INVITE: answer, reject or redirect it.
    IncomingCall {
        /// The call.
        key: CallKey,
        /// Call-ID header.
        call_id: String,
        /// From URI.
        from: String,
        /// To URI.
        to: String,
        /// Request-URI.
        request_uri: String,
        /// The SDP offer, if the INVITE had one.
        offer: Option<String>,
        /// Source of the INVITE.
        source: SocketAddr,
    },
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
    /// A digit from SIP INFO.
    Dtmf(CallKey, char),
    /// Final response to our REFER.
    ReferResponse(CallKey, u16),
    /// Transfer progress from NOTIFY (the sipfrag status code).
    TransferProgress(CallKey, u16),
    /// Our 200 was never acknowledged; a BYE has been sent.
    AckTimeout(CallKey),
    /// The call is gone from the endpoint; no more events for it.
    Ended(CallKey),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Bye,
    Refer,
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
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TimerOwner {
    Server(TxKey),
    Client(TxKey),
}

/// The user agent core.
pub struct Endpoint {
    cfg: EndpointConfig,
    server_txs: HashMap<TxKey, ServerEntry>,
    client_txs: HashMap<TxKey, ClientEntry>,
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
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            timers: BinaryHeap::new(),
            armed: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_key: 1,
            draining: false,
            stats: EndpointStats::default(),
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

    /// Keys of every live call.
    pub fn call_keys(&self) -> Vec<CallKey> {
        self.calls.keys().copied().collect()
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
        self.timers.peek().map(|Reverse((at, _))| *at)
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
            Err(ParseError::TooLarge) => {
                self.stats.junk_dropped += 1;
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
                    self.sendnow(peer, rsp.to_bytes());
                } else {
                    self.stats.junk_dropped += 1;
                }
            }
            _ => self.stats.junk_dropped += 1,
        }
    }

    fn sendnow(&mut self, peer: Peer, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            peer,
            bytes: Arc::from(bytes),
        });
    }

    fn tx_key(req: &Request) -> TxKey {
        let method = if req.method.is(M::Ack) {
            "INVITE".to_string()
        } else {
            req.method.to_string()
        };
        let branch = req.branch();
        if branch.starts_with("z9hG4bK") {
            (branch.to_string(), method)
        } else {
            // RFC 2543 peers: fall back to the §17.2.3 tuple.
            let from_tag = param(req.headers.get("From").unwrap_or(""), "tag").unwrap_or("");
            let (cseq, _) = req.cseq();
            (format!("{}|{}|{}", req.call_id(), from_tag, cseq), method)
        }
    }

    fn handle_request(&mut self, req: Request, peer: Peer, now: Instant) {
        if let Err(reason) = validate_request(&req) {
            self.stats.malformed += 1;
            if !req.method.is(M::Ack) {
                let rsp = response_to(&req, 400, &reason, None);
                self.sendnow(peer, rsp.to_bytes());
            }
            return;
        }
        let key = Self::tx_key(&req);
        // Retransmissions are absorbed by their transaction (ACK is handled below).
        if !req.method.is(M::Ack) {
            if let Some(entry) = self.server_txs.get_mut(&key) {
                match &mut entry.tx {
                    ServerTx::Invite(tx) => tx.handle_retransmit(),
                    ServerTx::NonInvite(tx) => tx.handle_retransmit(),
                }
                self.drain_server(&key, now);
                return;
            }
        }
        if req
            .headers
            .get("Max-Forwards")
            .is_some_and(|mf| mf.trim() == "0")
            && !req.method.is(M::Ack)
        {
            self.respond_stateless(&req, peer, 483, now);
            return;
        }
        let to_tag = param(req.headers.get("To").unwrap_or(""), "tag").map(str::to_string);
        match (&req.method, to_tag) {
            (m, _) if m.is(M::Ack) => self.handle_ack(req, key, now),
            (m, _) if m.is(M::Cancel) => self.handle_cancel(req, peer, now),
            (m, None) if m.is(M::Invite) => self.handle_new_invite(req, key, peer, now),
            (m, _) if m.is(M::Options) => {
                let rsp = self.options_response(&req);
                self.respond_new_non_invite(key, rsp, peer, now);
            }
            (_, Some(tag)) => self.handle_in_dialog(req, key, tag, peer, now),
            (m, None) if m.is(M::Bye) || m.is(M::Info) || m.is(M::Notify) || m.is(M::Refer) => {
                self.respond_stateless(&req, peer, 481, now);
            }
            _ => self.respond_stateless(&req, peer, 405, now),
        }
    }

    fn options_response(&self, req: &Request) -> Response {
        let mut rsp = response_to(req, 200, "OK", Some(&random_token("o")));
        rsp.headers.push("Allow", ALLOW);
        rsp.headers
            .push("Accept", "application/sdp, application/dtmf-relay");
        rsp.headers.push("Supported", "replaces");
        rsp.headers.push("User-Agent", "voxdesk");
        rsp
    }

    /// Answers through a fresh non-INVITE transaction so retransmits get the same answer.
    fn respond_stateless(&mut self, req: &Request, peer: Peer, code: u16, now: Instant) {
        let mut rsp = response_to(req, code, reason_phrase(code), None);
        if code == 405 {
            rsp.headers.push("Allow", ALLOW);
        }
        if req.method.is(M::Invite) {
            let key = Self::tx_key(req);
            let mut tx = ServerInvite::new(peer.reliable(), self.cfg.timers);
            tx.respond(code, Arc::from(rsp.to_bytes()), now);
            self.server_txs.insert(
                key.clone(),
                ServerEntry {
                    tx: ServerTx::Invite(tx),
                    peer,
                    call: None,
                    invite: None,
                },
            );
            self.drain_server(&key, now);
        } else {
            self.respond_new_non_invite(Self::tx_key(req), rsp, peer, now);
        }
    }

    fn respond_new_non_invite(&mut self, key: TxKey, rsp: Response, peer: Peer, now: Instant) {
        let mut tx = ServerNonInvite::new(peer.reliable(), self.cfg.timers);
        tx.respond(rsp.code, Arc::from(rsp.to_bytes()), now);
        self.server_txs.insert(
            key.clone(),
            ServerEntry {
                tx: ServerTx::NonInvite(tx),
                peer,
                call: None,
                invite: None,
            },
        );
        self.drain_server(&key, now);
    }

    fn handle_new_invite(&mut self, req: Request, key: TxKey, peer: Peer, now: Instant) {
        if self.draining || self.calls.len() >= self.cfg.max_calls {
            self.stats.rejected_busy += 1;
            let mut rsp = response_to(&req, 503, reason_phrase(503), Some(&random_token("v")));
            rsp.headers
                .push("Retry-After", self.cfg.retry_after_secs.to_string());
            self.start_invite_tx(key, &req, rsp, peer, None, now);
            return;
        }
        if let Some(require) = req.headers.get("Require") {
            let mut rsp = response_to(&req, 420, reason_phrase(420), Some(&random_token("v")));
            rsp.headers.push("Unsupported", require.to_string());
            self.start_invite_tx(key, &req, rsp, peer, None, now);
            return;
        }
        let offer = if req.body.is_empty() {
            None
        } else {
            let ct = req.headers.get("Content-Type").unwrap_or("application/sdp");
            match std::str::from_utf8(&req.body) {
                Ok(sdp) if ct.to_ascii_lowercase().starts_with("application/sdp") => {
                    Some(sdp.to_string())
                }
                _ => {
                    let mut rsp =
                        response_to(&req, 415, reason_phrase(415), Some(&random_token("v")));
                    rsp.headers.push("Accept", "application/sdp");
                    self.start_invite_tx(key, &req, rsp, peer, None, now);
                    return;
                }
            }
        };
        let call_key = CallKey(self.next_key);
        self.next_key += 1;
        let dialog = Dialog::from_invite(&req, &random_token("vx"));
        self.dialogs
            .insert((dialog.call_id.clone(), dialog.local_tag.clone()), call_key);
        let event = SipEvent::IncomingCall {
            key: call_key,
            call_id: dialog.call_id.clone(),
            from: message::name_addr_uri(req.headers.get("From").unwrap_or("")).to_string(),
            to: message::name_addr_uri(req.headers.get("To").unwrap_or("")).to_string(),
            request_uri: req.uri.clone(),
            offer,
            source: peer.addr(),
        };
        let trying = response_to(&req, 100, "Trying", None);
        self.start_invite_tx(key.clone(), &req, trying, peer, Some(call_key), now);
        self.calls.insert(
            call_key,
            Call {
                dialog,
                state: CallState::Early,
                peer,
                invite_tx: key,
                pending_reinvite: None,
                awaiting_ack: None,
                bye_after_ack: false,
            },
        );
        self.events.push_back(event);
    }

    fn start_invite_tx(
        &mut self,
        key: TxKey,
        req: &Request,
        first: Response,
        peer: Peer,
        call: Option<CallKey>,
        now: Instant,
    ) {
        let mut tx = ServerInvite::new(peer.reliable(), self.cfg.timers);
        tx.respond(first.code, Arc::from(first.to_bytes()), now);
        self.server_txs.insert(
            key.clone(),
            ServerEntry {
                tx: ServerTx::Invite(tx),
                peer,
                call,
                invite: Some(req.clone()),
            },
        );
        self.drain_server(&key, now);
    }

    fn handle_ack(&mut self, req: Request, key: TxKey, now: Instant) {
        // ACK for a non-2xx shares the INVITE's branch.
        if let Some(entry) = self.server_txs.get_mut(&key) {
            if let ServerTx::Invite(tx) = &mut entry.tx {
                if tx.is_final() && !tx.awaiting_ack() {
                    tx.handle_ack(now);
                    self.drain_server(&key, now);
                    return;
                }
            }
        }
        // ACK for a 2xx: a new transaction, matched to its dialog whatever its source.
        let to_tag = param(req.headers.get("To").unwrap_or(""), "tag").unwrap_or("");
        let Some(&call_key) = self
            .dialogs
            .get(&(req.call_id().to_string(), to_tag.to_string()))
        else {
            return;
        };
        let cseq = req.cseq().0;
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let Some((ack_cseq, tx_key)) = call.awaiting_ack.clone() else {
            return;
        };
        if ack_cseq != cseq {
            return;
        }
        call.awaiting_ack = None;
        let initial = tx_key == call.invite_tx;
        if initial && call.state == CallState::AwaitingAck {
            call.state = CallState::Confirmed;
        }
        let send_bye = call.bye_after_ack;
        if let Some(ServerEntry {
            tx: ServerTx::Invite(tx),
            ..
        }) = self.server_txs.get_mut(&tx_key)
        {
            tx.handle_ack(now);
        }
        self.drain_server(&tx_key, now);
        if initial {
            let answer =
                (!req.body.is_empty()).then(|| String::from_utf8_lossy(&req.body).into_owned());
            self.events.push_back(SipEvent::Acked {
                key: call_key,
                answer,
            });
        }
        if send_bye {
            self.send_bye(call_key, now);
        }
    }

    fn handle_cancel(&mut self, req: Request, peer: Peer, now: Instant) {
        let invite_key = (Self::tx_key(&req).0, "INVITE".to_string());
        let Some(entry) = self.server_txs.get_mut(&invite_key) else {
            self.respond_stateless(&req, peer, 481, now);
            return;
        };
        let call = entry.call;
        let pending = matches!(&entry.tx, ServerTx::Invite(tx) if !tx.is_final());
        let ok = response_to(&req, 200, "OK", None);
        self.respond_new_non_invite(Self::tx_key(&req), ok, peer, now);
        if !pending {
            return;
        }
        if let Some(call_key) = call {
            self.final_response(call_key, 487, None, now);
            self.events.push_back(SipEvent::Cancelled(call_key));
            self.forget_call(call_key);
        }
    }

    fn handle_in_dialog(
        &mut self,
        req: Request,
        key: TxKey,
        tag: String,
        peer: Peer,
        now: Instant,
    ) {
        let Some(&call_key) = self.dialogs.get(&(req.call_id().to_string(), tag)) else {
            self.respond_stateless(&req, peer, 481, now);
            return;
        };
        let (cseq, _) = req.cseq();
        let Some(call) = self.calls.get_mut(&call_key) else {
            self.respond_stateless(&req, peer, 481, now);
            return;
        };
        if !call.dialog.accept_remote_cseq(cseq, &req.method) {
            let rsp = response_to(&req, 500, "CSeq Out of Order", None);
            self.respond_new_non_invite(key, rsp, peer, now);
            return;
        }
        match &req.method {
            m if m.is(M::Bye) => {
                self.respond_new_non_invite(key, response_to(&req, 200, "OK", None), peer, now);
                if let Some(entry) = self.server_txs.get(&self.calls[&call_key].invite_tx) {
                    if matches!(&entry.tx, ServerTx::Invite(tx) if !tx.is_final()) {
                        self.final_response(call_key, 487, None, now);
                    }
                }
                self.events.push_back(SipEvent::RemoteBye(call_key));
                self.forget_call(call_key);
            }
            m if m.is(M::Invite) => {
                if call.pending_reinvite.is_some() || call.awaiting_ack.is_some() {
                    let mut tx = ServerInvite::new(peer.reliable(), self.cfg.timers);
                    let rsp = response_to(&req, 491, reason_phrase(491), None);
                    tx.respond(491, Arc::from(rsp.to_bytes()), now);
                    self.server_txs.insert(
                        key.clone(),
                        ServerEntry {
                            tx: ServerTx::Invite(tx),
                            peer,
                            call: None,
                            invite: None,
                        },
                    );
                    self.drain_server(&key, now);
                    return;
                }
                if let Some(contact) = req.headers.get_all("Contact").first() {
                    call.dialog.remote_target = message::name_addr_uri(contact).to_string();
                }
                call.pending_reinvite = Some(key.clone());
                let offer =
                    (!req.body.is_empty()).then(|| String::from_utf8_lossy(&req.body).into_owned());
                let trying = response_to(&req, 100, "Trying", None);
                self.start_invite_tx(key, &req, trying, peer, Some(call_key), now);
                self.events.push_back(SipEvent::ReInvite {
                    key: call_key,
                    offer,
                });
            }
            m if m.is(M::Info) => {
                let ct = req
                    .headers
                    .get("Content-Type")
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let body = String::from_utf8_lossy(&req.body);
                let digit = if ct.starts_with("application/dtmf-relay") {
                    parse_dtmf_relay(&body)
                } else if ct.starts_with("application/dtmf") {
                    body.trim().chars().next().filter(|c| is_dtmf(*c))
                } else {
                    None
                };
                let code = if req.body.is_empty() || digit.is_some() {
                    200
                } else {
                    415
                };
                let rsp = response_to(&req, code, reason_phrase(code), None);
                self.respond_new_non_invite(key, rsp, peer, now);
                if let Some(d) = digit {
                    self.events.push_back(SipEvent::Dtmf(call_key, d));
                }
            }
            m if m.is(M::Notify) => {
                self.respond_new_non_invite(key, response_to(&req, 200, "OK", None), peer, now);
                let frag = String::from_utf8_lossy(&req.body);
                if let Some(code) = frag
                    .strip_prefix("SIP/2.0 ")
                    .and_then(|r| r.get(..3))
                    .and_then(|c| c.parse::<u16>().ok())
                {
                    self.events
                        .push_back(SipEvent::TransferProgress(call_key, code));
                }
            }
            m if m.is(M::Options) => {
                let rsp = self.options_response(&req);
                self.respond_new_non_invite(key, rsp, peer, now);
            }
            _ => {
                let mut rsp = response_to(&req, 405, reason_phrase(405), None);
                rsp.headers.push("Allow", ALLOW);
                self.respond_new_non_invite(key, rsp, peer, now);
            }
        }
    }

    fn handle_response(&mut self, rsp: Response, now: Instant) {
        let Some((_, method)) = rsp.cseq() else {
            self.stats.junk_dropped += 1;
            return;
        };
        let key = (rsp.branch().to_string(), method);
        let Some(entry) = self.client_txs.get_mut(&key) else {
            return;
        };
        entry.tx.handle_response(rsp.code, now);
        self.drain_client(&key, now);
    }

    fn contact(&self, peer: Peer) -> String {
        match peer {
            Peer::Udp(_) => format!("sip:voxdesk@{}", self.cfg.advertised),
            Peer::Tcp(..) => format!("sip:voxdesk@{};transport=tcp", self.cfg.advertised),
        }
    }

    /// Sends a final response to the call's INVITE.
    fn final_response(&mut self, call_key: CallKey, code: u16, sdp: Option<&str>, now: Instant) {
        let Some(call) = self.calls.get(&call_key) else {
            return;
        };
        let tx_key = call.invite_tx.clone();
        let local_tag = call.dialog.local_tag.clone();
        let contact = self.contact(call.peer);
        let Some(entry) = self.server_txs.get_mut(&tx_key) else {
            return;
        };
        let Some(invite) = &entry.invite else {
            return;
        };
        let mut rsp = response_to(invite, code, reason_phrase(code), Some(&local_tag));
        if (200..300).contains(&code) {
            for rr in invite.headers.get_all("Record-Route") {
                rsp.headers.push("Record-Route", rr);
            }
            rsp.headers.push("Contact", format!("<{contact}>"));
            rsp.headers.push("Allow", ALLOW);
            rsp.headers.push("Supported", "replaces");
        }
        rsp.headers.push("User-Agent", "voxdesk");
        if let Some(sdp) = sdp {
            rsp.headers.push("Content-Type", "application/sdp");
            rsp.body = sdp.as_bytes().to_vec();
        }
        if let ServerTx::Invite(tx) = &mut entry.tx {
            tx.respond(code, Arc::from(rsp.to_bytes()), now);
        }
        self.drain_server(&tx_key, now);
    }

    /// 180 Ringing.
    pub fn ringing(&mut self, call_key: CallKey, now: Instant) {
        if self
            .calls
            .get(&call_key)
            .is_some_and(|c| c.state == CallState::Early)
        {
            self.final_response(call_key, 180, None, now);
        }
    }

    /// Answers with 200 OK carrying `sdp` (an answer, or our offer when the INVITE had none).
    pub fn answer(&mut self, call_key: CallKey, sdp: &str, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        if call.state != CallState::Early {
            return;
        }
        call.state = CallState::AwaitingAck;
        call.awaiting_ack = Some((call.dialog.remote_cseq, call.invite_tx.clone()));
        self.final_response(call_key, 200, Some(sdp), now);
    }

    /// Rejects an unanswered call (486, 488, 503 …).
    pub fn reject(&mut self, call_key: CallKey, code: u16, now: Instant) {
        if self
            .calls
            .get(&call_key)
            .is_some_and(|c| c.state == CallState::Early)
        {
            self.final_response(call_key, code, None, now);
            self.forget_call(call_key);
        }
    }

    /// Redirects an unanswered call with 302 to `target` (blind transfer before answer).
    pub fn redirect(&mut self, call_key: CallKey, target: &str, now: Instant) {
        let Some(call) = self.calls.get(&call_key) else {
            return;
        };
        if call.state != CallState::Early {
            return;
        }
        let tx_key = call.invite_tx.clone();
        let local_tag = call.dialog.local_tag.clone();
        if let Some(entry) = self.server_txs.get_mut(&tx_key) {
            if let (Some(invite), ServerTx::Invite(tx)) = (&entry.invite, &mut entry.tx) {
                let mut rsp = response_to(invite, 302, reason_phrase(302), Some(&local_tag));
                rsp.headers.push("Contact", format!("<{target}>"));
                tx.respond(302, Arc::from(rsp.to_bytes()), now);
            }
        }
        self.drain_server(&tx_key, now);
        self.forget_call(call_key);
    }

    /// Ends the call from our side: BYE when answered, 480 when not.
    pub fn hangup(&mut self, call_key: CallKey, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        match call.state {
            CallState::Early => {
                self.final_response(call_key, 480, None, now);
                self.forget_call(call_key);
            }
            // §15: no BYE before the 2xx is acknowledged (or its transaction times out).
            CallState::AwaitingAck => call.bye_after_ack = true,
            CallState::Confirmed => self.send_bye(call_key, now),
            CallState::Terminating => {}
        }
    }

    /// Blind transfer: REFER the caller to `target`.
    pub fn refer(&mut self, call_key: CallKey, target: &str, now: Instant) {
        if self
            .calls
            .get(&call_key)
            .is_some_and(|c| c.state == CallState::Confirmed)
        {
            let extra = [
                ("Refer-To", format!("<{target}>")),
                ("Referred-By", String::new()),
            ];
            self.send_in_dialog(call_key, M::Refer, Purpose::Refer, &extra, now);
        }
    }

    /// Answers a pending re-INVITE with an SDP (Ok) or a status code (Err).
    pub fn answer_reinvite(&mut self, call_key: CallKey, result: Result<&str, u16>, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let Some(tx_key) = call.pending_reinvite.take() else {
            return;
        };
        let local_tag = call.dialog.local_tag.clone();
        let cseq = call.dialog.remote_cseq;
        let peer = call.peer;
        if result.is_ok() {
            call.awaiting_ack = Some((cseq, tx_key.clone()));
        }
        let contact = self.contact(peer);
        let Some(entry) = self.server_txs.get_mut(&tx_key) else {
            return;
        };
        let (Some(invite), ServerTx::Invite(tx)) = (&entry.invite, &mut entry.tx) else {
            return;
        };
        let rsp = match result {
            Ok(sdp) => {
                let mut rsp = response_to(invite, 200, "OK", Some(&local_tag));
                rsp.headers.push("Contact", format!("<{contact}>"));
                rsp.headers.push("Allow", ALLOW);
                rsp.headers.push("Content-Type", "application/sdp");
                rsp.body = sdp.as_bytes().to_vec();
                rsp
            }
            Err(code) => response_to(invite, code, reason_phrase(code), Some(&local_tag)),
        };
        tx.respond(rsp.code, Arc::from(rsp.to_bytes()), now);
        self.drain_server(&tx_key, now);
    }

    fn send_bye(&mut self, call_key: CallKey, now: Instant) {
        if let Some(call) = self.calls.get_mut(&call_key) {
            call.state = CallState::Terminating;
        }
        self.send_in_dialog(call_key, M::Bye, Purpose::Bye, &[], now);
    }

    fn send_in_dialog(
        &mut self,
        call_key: CallKey,
        method: M,
        purpose: Purpose,
        extra: &[(&str, String)],
        now: Instant,
    ) {
        let advertised = self.cfg.advertised.to_string();
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let peer = match call.peer {
            // Over UDP follow the route set / Contact; fall back to the INVITE's source.
            Peer::Udp(src) => Peer::Udp(call.dialog.next_hop().unwrap_or(src)),
            tcp => tcp,
        };
        let contact = match peer {
            Peer::Udp(_) => format!("sip:voxdesk@{advertised}"),
            Peer::Tcp(..) => format!("sip:voxdesk@{advertised};transport=tcp"),
        };
        let branch = random_token("z9hG4bK");
        let mut req = call
            .dialog
            .request(method, &advertised, peer.transport(), &branch, &contact);
        for (name, value) in extra {
            match (*name, value.is_empty()) {
                ("Referred-By", true) => req.headers.push(*name, format!("<{contact}>")),
                _ => req.headers.push(*name, value.clone()),
            }
        }
        let tx = ClientNonInvite::new(
            Arc::from(req.to_bytes()),
            peer.reliable(),
            self.cfg.timers,
            now,
        );
        let key = (branch, method.to_string());
        self.client_txs.insert(
            key.clone(),
            ClientEntry {
                tx,
                peer,
                call: call_key,
                purpose,
            },
        );
        self.drain_client(&key, now);
    }

    /// Removes the call from the dialog tables; its transactions live on to finish.
    fn forget_call(&mut self, call_key: CallKey) {
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
            }
        }
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
    fn drain_server(&mut self, key: &TxKey, now: Instant) {
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
                let initial = self
                    .calls
                    .get(&call_key)
                    .is_some_and(|c| &c.invite_tx == key);
                if let Some(c) = self.calls.get_mut(&call_key) {
                    c.awaiting_ack = None;
                    c.state = CallState::Confirmed;
                }
                if initial {
                    self.events.push_back(SipEvent::AckTimeout(call_key));
                }
                self.send_bye(call_key, now);
            }
        }
    }

    fn drain_client(&mut self, key: &TxKey, _now: Instant) {
        let Some(entry) = self.client_txs.get_mut(key) else {
            return;
        };
        let peer = entry.peer;
        let (call, purpose) = (entry.call, entry.purpose);
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
            match (purpose, ev) {
                (Purpose::Bye, TxEvent::Final(_) | TxEvent::Timeout) => self.forget_call(call),
                (Purpose::Refer, TxEvent::Final(code)) => {
                    self.events.push_back(SipEvent::ReferResponse(call, code));
                }
                (Purpose::Refer, TxEvent::Timeout) => {
                    self.events.push_back(SipEvent::ReferResponse(call, 408));
                }
                _ => {}
            }
        }
    }
}

fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')
}

/// `Signal=5` from an `application/dtmf-relay` body.
pub fn parse_dtmf_relay(body: &str) -> Option<char> {
    body.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("signal") {
            return None;
        }
        let v = v.trim();
        match v {
            "10" => Some('*'),
            "11" => Some('#'),
            _ => {
                let mut chars = v.chars();
                let c = chars.next()?.to_ascii_uppercase();
                (chars.next().is_none() && is_dtmf(c)).then_some(c)
            }
        }
    })
}

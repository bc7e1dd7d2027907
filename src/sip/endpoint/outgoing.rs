//! Outgoing calls (we are UAC, as the B2BUA leg to an agent's phone): building the INVITE,
//! driving its client transaction, turning responses into events, the ACK of the 2xx, and
//! CANCEL.
//!
//! A 2xx we do not keep — a second fork, or an answer that crossed our CANCEL — is
//! acknowledged and hung up at once. Every 2xx is remembered by its To tag while the
//! transaction lives (RFC 6026 Accepted), so a retransmission gets the same ACK again and
//! never a second BYE.

use std::sync::Arc;
use std::time::Instant;

use rsip::Method as M;

use super::commands::dialog_peer;
use super::*;
use crate::sip::dialog::{is_request_uri, Dialog};
use crate::sip::message::{validate_request, Headers, Method, Request, Response};
use crate::sip::transaction::ClientInvite;

/// Set in the keys the call layer picks for [`Endpoint::invite_as`]; the endpoint counts its own
/// keys up from 1 and never reaches it.
pub const OUTGOING_KEY_BIT: u64 = 1 << 62;

/// A call for the endpoint to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingInvite {
    /// Request-URI, e.g. the agent's registered Contact.
    pub request_uri: String,
    /// Where the INVITE goes: a UDP address, or a TCP connection the shell still has open
    /// (a phone registered over TCP); the Via transport follows it.
    pub destination: Peer,
    /// User part of our From URI (percent-escaped as needed).
    pub from_user: String,
    /// Display name of our From.
    pub from_display: Option<String>,
    /// To URI.
    pub to_uri: String,
    /// Our SDP offer (empty: no body).
    pub sdp: String,
    /// Further headers (Call-Info, X-Voxdesk-Ticket …); invalid names, and names the INVITE
    /// sets itself, are dropped; control characters in values become spaces.
    pub extra_headers: Vec<(String, String)>,
}

/// Where a hangup asked before the final response stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Hangup {
    #[default]
    No,
    /// Asked before any response: CANCEL waits for one (§9.1).
    Wanted,
    CancelSent,
}

/// What a call we placed keeps beside the shared [`Call`] fields.
#[derive(Debug, Default)]
pub(super) struct UacLeg {
    hangup: Hangup,
}

/// A 2xx we acknowledged, by its To tag.
struct Acked {
    tag: String,
    peer: Peer,
    ack: Wire,
}

/// An INVITE we sent, with what its responses need.
pub(super) struct ClientInviteEntry {
    tx: ClientInvite,
    peer: Peer,
    call: CallKey,
    invite: Request,
    acked: Vec<Acked>,
}

/// Dialogs one INVITE may fork into before further 2xx are ignored.
const MAX_FORKS: usize = 8;

/// Headers the INVITE sets itself (full and compact names): `extra_headers` cannot replace
/// them.
const OWN_HEADERS: [&str; 20] = [
    "Via",
    "v",
    "Max-Forwards",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Contact",
    "m",
    "Content-Type",
    "c",
    "Content-Length",
    "l",
    "Allow",
    "Supported",
    "k",
    "User-Agent",
];

impl Endpoint {
    /// Places a call. The key is returned at once; what happens comes as events:
    /// `Progress`, then `Answered` or `Rejected`, and `Ended` when the call is gone. Without a
    /// free call slot (`max_calls`, outgoing calls count), or when a URI is unusable, the
    /// events are `Rejected` (503 or 400) and `Ended` straight away and nothing is sent.
    pub fn invite(&mut self, out: OutgoingInvite, now: Instant) -> CallKey {
        let call_key = CallKey(self.next_key);
        self.next_key += 1;
        self.invite_as(call_key, out, now);
        call_key
    }

    /// [`Endpoint::invite`] under a key the caller chose, so it can route the call's events
    /// before any arrive. Keys with [`OUTGOING_KEY_BIT`] set never collide with the
    /// endpoint's own; a key already in use fails the call with 500.
    pub fn invite_as(&mut self, call_key: CallKey, out: OutgoingInvite, now: Instant) {
        if self.calls.contains_key(&call_key) {
            self.fail_at_once(call_key, 500);
            return;
        }
        if self.calls.len() >= self.cfg.max_calls {
            self.fail_at_once(call_key, 503);
            return;
        }
        let peer = out.destination;
        let Some(req) = self.build_invite(&out, peer) else {
            self.fail_at_once(call_key, 400);
            return;
        };
        let tx_key = (req.branch().to_string(), "INVITE".to_string());
        let dialog = Dialog::outgoing(&req, Some(peer.addr()));
        self.dialogs
            .insert((dialog.call_id.clone(), dialog.local_tag.clone()), call_key);
        self.calls.insert(
            call_key,
            Call {
                dialog,
                state: CallState::Outgoing,
                peer,
                invite_tx: tx_key.clone(),
                pending_reinvite: None,
                awaiting_ack: None,
                bye_after_ack: false,
                outgoing: Some(UacLeg::default()),
                refer_id: None,
            },
        );
        let tx = ClientInvite::new(&req, peer.reliable(), self.cfg.timers, now);
        self.client_invites.insert(
            tx_key.clone(),
            ClientInviteEntry {
                tx,
                peer,
                call: call_key,
                invite: req,
                acked: Vec::new(),
            },
        );
        self.drain_client_invite(&tx_key, None, now);
    }

    fn fail_at_once(&mut self, call_key: CallKey, code: u16) {
        self.events.push_back(SipEvent::Rejected {
            key: call_key,
            code,
        });
        self.events.push_back(SipEvent::Ended(call_key));
    }

    fn build_invite(&self, out: &OutgoingInvite, peer: Peer) -> Option<Request> {
        if !is_plain_uri(&out.request_uri) || !is_plain_uri(&out.to_uri) {
            return None;
        }
        let advertised = self.cfg.advertised;
        let tag = random_token("vx");
        let user = escape_user(&out.from_user);
        let from_uri = if user.is_empty() {
            format!("sip:{advertised}")
        } else {
            format!("sip:{user}@{advertised}")
        };
        let display = out.from_display.as_deref().map(clean_display);
        let from = match display.filter(|d| !d.is_empty()) {
            Some(name) => format!("\"{name}\" <{from_uri}>;tag={tag}"),
            None => format!("<{from_uri}>;tag={tag}"),
        };
        let mut headers = Headers::default();
        headers.push(
            "Via",
            format!(
                "SIP/2.0/{} {advertised};branch={};rport",
                peer.transport(),
                random_token("z9hG4bK")
            ),
        );
        headers.push("Max-Forwards", "70");
        headers.push("From", from);
        headers.push("To", format!("<{}>", out.to_uri));
        headers.push(
            "Call-ID",
            format!("{}@{}", random_token("vc"), advertised.ip()),
        );
        headers.push("CSeq", "1 INVITE");
        headers.push("Contact", format!("<{}>", self.contact(peer)));
        headers.push("Allow", self.allow());
        headers.push("Supported", "replaces");
        headers.push("User-Agent", "voxdesk");
        for (name, value) in &out.extra_headers {
            let own = OWN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name));
            if !own && is_token(name) {
                headers.push(name.as_str(), clean_value(value));
            }
        }
        if !out.sdp.is_empty() {
            headers.push("Content-Type", "application/sdp");
        }
        let req = Request {
            method: Method::Known(M::Invite),
            uri: out.request_uri.clone(),
            headers,
            body: out.sdp.as_bytes().to_vec(),
        };
        validate_request(&req).ok().map(|()| req)
    }

    pub(super) fn handle_invite_response(&mut self, key: &TxKey, rsp: &Response, now: Instant) {
        let Some(entry) = self.client_invites.get_mut(key) else {
            return;
        };
        entry.tx.handle_response(rsp, now);
        self.drain_client_invite(key, Some(rsp), now);
    }

    pub(super) fn client_invite_timeout(&mut self, key: &TxKey, now: Instant) {
        let Some(entry) = self.client_invites.get_mut(key) else {
            return;
        };
        entry.tx.handle_timeout(now);
        self.drain_client_invite(key, None, now);
    }

    /// Sends what the transaction wants sent, acts on its events (`rsp` is the response that
    /// caused them, if any) and re-arms its timer.
    fn drain_client_invite(&mut self, key: &TxKey, rsp: Option<&Response>, now: Instant) {
        let Some(entry) = self.client_invites.get_mut(key) else {
            return;
        };
        let (peer, call) = (entry.peer, entry.call);
        while let Some(bytes) = entry.tx.poll_transmit() {
            self.transmits.push_back(Transmit { peer, bytes });
        }
        let events: Vec<TxEvent> = std::iter::from_fn(|| entry.tx.poll_event()).collect();
        for ev in events {
            match (ev, rsp) {
                (TxEvent::Provisional(code), _) => self.on_provisional(call, code, now),
                (TxEvent::Final(code), Some(rsp)) if (200..300).contains(&code) => {
                    self.on_2xx(key, call, rsp, now);
                }
                (TxEvent::Final(code), _) => self.on_failure(call, code, now),
                (TxEvent::Timeout, _) => self.on_failure(call, 408, now),
                _ => {}
            }
        }
        let Some(entry) = self.client_invites.get(key) else {
            return;
        };
        let deadline = entry.tx.poll_timeout();
        let done = entry.tx.is_terminated();
        if done {
            self.client_invites.remove(key);
        }
        self.arm(
            TimerOwner::ClientInvite(key.clone()),
            deadline.filter(|_| !done),
        );
    }

    fn on_provisional(&mut self, call_key: CallKey, code: u16, now: Instant) {
        let Some(call) = self.calls.get(&call_key) else {
            return;
        };
        if call.state != CallState::Outgoing {
            return;
        }
        let hangup = call.outgoing.as_ref().map(|leg| leg.hangup);
        if hangup == Some(Hangup::Wanted) {
            self.send_cancel(call_key, now);
        } else if hangup == Some(Hangup::No) && code > 100 {
            self.events.push_back(SipEvent::Progress {
                key: call_key,
                code,
            });
        }
    }

    /// A final non-2xx or no final response at all: the call ends, reported as `Rejected`
    /// unless we hung up ourselves.
    fn on_failure(&mut self, call_key: CallKey, code: u16, now: Instant) {
        let Some(call) = self.calls.get(&call_key) else {
            return;
        };
        if call.state != CallState::Outgoing {
            return;
        }
        let hung_up = call
            .outgoing
            .as_ref()
            .is_some_and(|leg| leg.hangup != Hangup::No);
        if !hung_up {
            self.events.push_back(SipEvent::Rejected {
                key: call_key,
                code,
            });
        }
        self.forget_call(call_key, now);
    }

    fn on_2xx(&mut self, key: &TxKey, call_key: CallKey, rsp: &Response, now: Instant) {
        let to_tag = param(rsp.headers.get("To").unwrap_or(""), "tag")
            .unwrap_or("")
            .to_string();
        let Some(entry) = self.client_invites.get(key) else {
            return;
        };
        if let Some(done) = entry.acked.iter().find(|a| a.tag == to_tag) {
            self.transmits.push_back(Transmit {
                peer: done.peer,
                bytes: done.ack.clone(),
            });
            return;
        }
        if entry.acked.len() >= MAX_FORKS {
            return;
        }
        let cseq = entry.invite.cseq().0;
        let keep = self
            .calls
            .get(&call_key)
            .filter(|c| c.state == CallState::Outgoing);
        let Some(call) = keep else {
            // Not ours to keep: a fork after the first answer, or a call already gone.
            let mut dialog = Dialog::outgoing(&entry.invite, Some(entry.peer.addr()));
            dialog.confirm(rsp);
            let peer = dialog_peer(entry.peer, &dialog);
            self.send_ack(key, &dialog, cseq, to_tag, peer);
            let advertised = self.cfg.advertised.to_string();
            let contact = self.contact(peer);
            let branch = random_token("z9hG4bK");
            let bye = dialog.request(M::Bye, &advertised, peer.transport(), &branch, &contact);
            self.start_client_request(&bye, peer, call_key, Purpose::Discard, now);
            return;
        };
        let hung_up = call
            .outgoing
            .as_ref()
            .is_some_and(|leg| leg.hangup != Hangup::No);
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        call.dialog.confirm(rsp);
        call.state = CallState::Confirmed;
        let dialog = call.dialog.clone();
        let peer = dialog_peer(call.peer, &dialog);
        self.send_ack(key, &dialog, cseq, to_tag, peer);
        if hung_up {
            // The answer crossed our CANCEL: the call exists now, so it takes a BYE (§9.1).
            self.send_bye(call_key, now);
        } else {
            let sdp = (!rsp.body.is_empty()).then(|| String::from_utf8_lossy(&rsp.body).into());
            self.events
                .push_back(SipEvent::Answered { key: call_key, sdp });
        }
    }

    /// Sends the ACK of a 2xx and remembers it for that 2xx's retransmissions.
    fn send_ack(&mut self, key: &TxKey, dialog: &Dialog, cseq: u32, tag: String, peer: Peer) {
        let advertised = self.cfg.advertised.to_string();
        let branch = random_token("z9hG4bK");
        let ack: Wire = Arc::from(
            dialog
                .ack(cseq, &advertised, peer.transport(), &branch)
                .to_bytes(),
        );
        self.transmits.push_back(Transmit {
            peer,
            bytes: ack.clone(),
        });
        if let Some(entry) = self.client_invites.get_mut(key) {
            entry.acked.push(Acked { tag, peer, ack });
        }
    }

    /// Hangup of a call we placed that has no final response yet.
    pub(super) fn cancel_outgoing(&mut self, call_key: CallKey, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let Some(leg) = call.outgoing.as_mut() else {
            return;
        };
        if leg.hangup != Hangup::No {
            return;
        }
        match self.client_invites.get(&call.invite_tx) {
            Some(entry) if entry.tx.has_response() => self.send_cancel(call_key, now),
            Some(_) => leg.hangup = Hangup::Wanted,
            // No transaction left to cancel (cannot happen while Outgoing): just forget.
            None => self.forget_call(call_key, now),
        }
    }

    fn send_cancel(&mut self, call_key: CallKey, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        if let Some(leg) = call.outgoing.as_mut() {
            leg.hangup = Hangup::CancelSent;
        }
        let tx_key = call.invite_tx.clone();
        let Some(entry) = self.client_invites.get_mut(&tx_key) else {
            return;
        };
        entry.tx.handle_cancel_sent(now);
        let cancel = cancel_for(&entry.invite);
        let peer = entry.peer;
        self.start_client_request(&cancel, peer, call_key, Purpose::Cancel, now);
        self.drain_client_invite(&tx_key, None, now);
    }
}

/// The CANCEL of an INVITE (§9.1): its Request-URI, top Via, From, To, Call-ID, CSeq number
/// and Route.
pub(super) fn cancel_for(invite: &Request) -> Request {
    let mut headers = Headers::default();
    if let Some(via) = invite.headers.get_all("Via").first() {
        headers.push("Via", *via);
    }
    headers.push("Max-Forwards", "70");
    for route in invite.headers.get_all("Route") {
        headers.push("Route", route);
    }
    for name in ["From", "To", "Call-ID"] {
        headers.push(name, invite.headers.get(name).unwrap_or(""));
    }
    headers.push("CSeq", format!("{} CANCEL", invite.cseq().0));
    headers.push("User-Agent", "voxdesk");
    Request {
        method: Method::Known(M::Cancel),
        uri: invite.uri.clone(),
        headers,
        body: Vec::new(),
    }
}

/// A URI we can write as is and rsip can parse (rsip alone takes a bare `agent` for one).
fn is_plain_uri(uri: &str) -> bool {
    is_request_uri(uri) && rsip::Uri::try_from(uri).is_ok()
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// A header value on one line: control characters (CR, LF …) become spaces.
fn clean_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A display name safe inside quotes: no quotes, backslashes or control characters.
fn clean_display(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// The user part of a SIP URI (RFC 3261 §25.1 `user`): anything else is %-escaped.
fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_parts_cannot_break_the_request() {
        assert_eq!(escape_user("+49 30 <x>"), "+49%2030%20%3Cx%3E");
        assert_eq!(clean_display("Bob \"B\"\r\nVia: x"), "Bob BVia: x");
        assert_eq!(clean_value("T-1\r\nX-Evil: 1"), "T-1  X-Evil: 1");
        let cases = [
            ("sip:agent@10.0.0.5:5062", true),
            ("sip:agent@10.0.0.5 SIP/2.0", false),
            ("sip:a@b>\r\nX: y", false),
            ("", false),
            ("agent", false),
        ];
        for (uri, ok) in cases {
            assert_eq!(is_plain_uri(uri), ok, "{uri:?}");
        }
        assert!(is_token("X-Voxdesk-Ticket"));
        assert!(!is_token("Bad Name"));
        assert!(!is_token(""));
    }
}

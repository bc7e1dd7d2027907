//! Handling what arrives: requests routed to transactions and dialogs, responses to client
//! transactions.

use std::sync::Arc;
use std::time::Instant;

use rsip::Method as M;

use super::*;
use crate::sip::dialog::Dialog;
use crate::sip::message::{
    self, param, reason_phrase, response_to, validate_request, Request, Response,
};
use crate::sip::registrar::InviteIdentity;
use crate::sip::transaction::{ServerInvite, ServerNonInvite};

impl Endpoint {
    pub(super) fn handle_request(&mut self, mut req: Request, peer: Peer, now: Instant) {
        stamp_top_via(&mut req, peer.addr());
        if let Err(reason) = validate_request(&req) {
            self.stats.malformed += 1;
            if !req.method.is(M::Ack) {
                let rsp = response_to(&req, 400, &reason, None);
                self.send_direct(peer, rsp.to_bytes());
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
            self.respond_stateless(&req, peer, 483);
            return;
        }
        let to_tag = param(req.headers.get("To").unwrap_or(""), "tag").map(str::to_string);
        match (&req.method, to_tag) {
            (m, _) if m.is(M::Ack) => self.handle_ack(req, key, now),
            (m, _) if m.is(M::Cancel) => self.handle_cancel(req, peer, now),
            (m, None) if m.is(M::Invite) => self.handle_new_invite(req, key, peer, now),
            (m, None) if m.is(M::Options) => {
                let rsp = self.options_response(&req);
                self.send_direct(peer, rsp.to_bytes());
            }
            (m, None) if m.is(M::Register) && self.registrar.is_some() => {
                self.handle_register(&req, key, peer, now);
            }
            (_, Some(tag)) => self.handle_in_dialog(req, key, tag, peer, now),
            (m, None) if m.is(M::Bye) || m.is(M::Info) || m.is(M::Notify) || m.is(M::Refer) => {
                self.respond_stateless(&req, peer, 481);
            }
            _ => self.respond_stateless(&req, peer, 405),
        }
    }

    pub(super) fn options_response(&self, req: &Request) -> Response {
        let mut rsp = response_to(req, 200, "OK", Some(&random_token("o")));
        rsp.headers.push("Allow", self.allow());
        rsp.headers
            .push("Accept", "application/sdp, application/dtmf-relay");
        rsp.headers.push("Supported", "replaces");
        rsp.headers.push("User-Agent", "voxdesk");
        rsp
    }

    /// Answers without keeping a transaction (§8.2.7): a retransmission is answered again the
    /// same way, and a flood of stray requests costs no memory.
    pub(super) fn respond_stateless(&mut self, req: &Request, peer: Peer, code: u16) {
        let mut rsp = response_to(req, code, reason_phrase(code), None);
        if code == 405 {
            rsp.headers.push("Allow", self.allow());
        }
        self.send_direct(peer, rsp.to_bytes());
    }

    pub(super) fn respond_new_non_invite(
        &mut self,
        key: TxKey,
        rsp: Response,
        peer: Peer,
        now: Instant,
    ) {
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

    pub(super) fn handle_new_invite(&mut self, req: Request, key: TxKey, peer: Peer, now: Instant) {
        if self.draining || self.calls.len() >= self.cfg.max_calls {
            self.stats.rejected_busy += 1;
            let mut rsp = response_to(&req, 503, reason_phrase(503), Some(&random_token("v")));
            rsp.headers
                .push("Retry-After", self.cfg.retry_after_secs.to_string());
            // Stateless under overload: a rejected INVITE must cost nothing to remember.
            self.send_direct(peer, rsp.to_bytes());
            return;
        }
        if let Some(require) = req.headers.get("Require") {
            let mut rsp = response_to(&req, 420, reason_phrase(420), Some(&random_token("v")));
            rsp.headers.push("Unsupported", require.to_string());
            self.send_direct(peer, rsp.to_bytes());
            return;
        }
        let agent = match self.identify_inviter(&req, peer, now) {
            InviteIdentity::Caller => None,
            InviteIdentity::Agent(user) => Some(user),
            InviteIdentity::Answer(rsp) => {
                self.start_invite_tx(key, &req, rsp, peer, None, now);
                return;
            }
        };
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
                    self.send_direct(peer, rsp.to_bytes());
                    return;
                }
            }
        };
        let call_key = CallKey(self.next_key);
        self.next_key += 1;
        let dialog = Dialog::from_invite(&req, &random_token("vx"));
        self.dialogs
            .insert((dialog.call_id.clone(), dialog.local_tag.clone()), call_key);
        let event = SipEvent::IncomingCall(IncomingCall {
            key: call_key,
            call_id: dialog.call_id.clone(),
            from: message::name_addr_uri(req.headers.get("From").unwrap_or("")).to_string(),
            to: message::name_addr_uri(req.headers.get("To").unwrap_or("")).to_string(),
            request_uri: req.uri.clone(),
            offer,
            source: peer.addr(),
            agent,
            tags: (dialog.local_tag.clone(), dialog.remote_tag.clone()),
        });
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
                outgoing: None,
                refer_id: None,
            },
        );
        self.events.push_back(event);
    }

    pub(super) fn start_invite_tx(
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

    pub(super) fn handle_ack(&mut self, req: Request, key: TxKey, now: Instant) {
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

    pub(super) fn handle_cancel(&mut self, req: Request, peer: Peer, now: Instant) {
        let invite_key = (Self::tx_key(&req).0, "INVITE".to_string());
        let Some(entry) = self.server_txs.get_mut(&invite_key) else {
            self.respond_stateless(&req, peer, 481);
            return;
        };
        let call = entry.call;
        let pending = matches!(&entry.tx, ServerTx::Invite(tx) if !tx.is_final());
        let ok = response_to(&req, 200, "OK", None);
        self.respond_new_non_invite(Self::tx_key(&req), ok, peer, now);
        let Some(call_key) = call.filter(|_| pending) else {
            return;
        };
        let initial = self
            .calls
            .get(&call_key)
            .is_some_and(|c| c.invite_tx == invite_key);
        if initial {
            self.final_response(call_key, 487, None, now);
            self.events.push_back(SipEvent::Cancelled(call_key));
            self.forget_call(call_key, now);
        } else {
            // A cancelled re-INVITE ends only that transaction; the call goes on (§9.2).
            if let Some(c) = self.calls.get_mut(&call_key) {
                c.pending_reinvite = None;
            }
            self.respond_invite(call_key, &invite_key, 487, None, now);
        }
    }

    pub(super) fn handle_in_dialog(
        &mut self,
        req: Request,
        key: TxKey,
        tag: String,
        peer: Peer,
        now: Instant,
    ) {
        let Some(&call_key) = self.dialogs.get(&(req.call_id().to_string(), tag)) else {
            self.respond_stateless(&req, peer, 481);
            return;
        };
        let (cseq, _) = req.cseq();
        let Some(call) = self.calls.get_mut(&call_key) else {
            self.respond_stateless(&req, peer, 481);
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
                self.forget_call(call_key, now);
            }
            m if m.is(M::Invite) => {
                if call.pending_reinvite.is_some() || call.awaiting_ack.is_some() {
                    self.respond_stateless(&req, peer, 491);
                    return;
                }
                if let Some(contact) = req.headers.get_all("Contact").first() {
                    call.dialog.set_remote_target(contact);
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
                let content_type = req
                    .headers
                    .get("Content-Type")
                    .unwrap_or("")
                    .to_ascii_lowercase();
                // DTMF is the only INFO package we take; interpreting it is the call layer's job.
                let dtmf = content_type.starts_with("application/dtmf");
                let code = if req.body.is_empty() || dtmf {
                    200
                } else {
                    415
                };
                let rsp = response_to(&req, code, reason_phrase(code), None);
                self.respond_new_non_invite(key, rsp, peer, now);
                if dtmf && !req.body.is_empty() {
                    self.events.push_back(SipEvent::Info {
                        key: call_key,
                        content_type,
                        body: String::from_utf8_lossy(&req.body).into_owned(),
                    });
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
            m if m.is(M::Refer) => self.handle_refer(req, key, call_key, peer, now),
            _ => {
                let mut rsp = response_to(&req, 405, reason_phrase(405), None);
                rsp.headers.push("Allow", self.allow());
                self.respond_new_non_invite(key, rsp, peer, now);
            }
        }
    }

    pub(super) fn handle_response(&mut self, rsp: Response, now: Instant) {
        let Some((_, method)) = rsp.cseq() else {
            self.stats.junk_dropped += 1;
            return;
        };
        let key = (rsp.branch().to_string(), method);
        if self.client_invites.contains_key(&key) {
            self.handle_invite_response(&key, &rsp, now);
            return;
        }
        let Some(entry) = self.client_txs.get_mut(&key) else {
            return;
        };
        entry.tx.handle_response(rsp.code, now);
        self.drain_client(&key, now);
    }
}

//! Commands from the call layer: answering, rejecting, redirecting, hanging up, transferring,
//! and the in-dialog requests they send.

use std::sync::Arc;
use std::time::Instant;

use rsip::Method as M;

use super::*;
use crate::sip::dialog::Dialog;
use crate::sip::message::{reason_phrase, response_to, Request};
use crate::sip::transaction::ClientNonInvite;

impl Endpoint {
    pub(super) fn contact(&self, peer: Peer) -> String {
        match peer {
            Peer::Udp(_) => format!("sip:voxdesk@{}", self.cfg.advertised),
            Peer::Tcp(..) => format!("sip:voxdesk@{};transport=tcp", self.cfg.advertised),
        }
    }

    /// Sends a response to the call's initial INVITE.
    pub(super) fn final_response(
        &mut self,
        call_key: CallKey,
        code: u16,
        sdp: Option<&str>,
        now: Instant,
    ) -> Option<u32> {
        let tx_key = self.calls.get(&call_key)?.invite_tx.clone();
        self.respond_invite(call_key, &tx_key, code, sdp, now)
    }

    /// Sends a response on one of the call's INVITE transactions (initial or re-INVITE);
    /// returns that INVITE's CSeq, which its ACK will carry.
    pub(super) fn respond_invite(
        &mut self,
        call_key: CallKey,
        tx_key: &TxKey,
        code: u16,
        sdp: Option<&str>,
        now: Instant,
    ) -> Option<u32> {
        let call = self.calls.get(&call_key)?;
        let local_tag = call.dialog.local_tag.clone();
        let contact = self.contact(call.peer);
        let allow = self.allow();
        let entry = self.server_txs.get_mut(tx_key)?;
        let invite = entry.invite.as_ref()?;
        let mut rsp = response_to(invite, code, reason_phrase(code), Some(&local_tag));
        if (200..300).contains(&code) {
            for rr in invite.headers.get_all("Record-Route") {
                rsp.headers.push("Record-Route", rr);
            }
            rsp.headers.push("Contact", format!("<{contact}>"));
            rsp.headers.push("Allow", allow);
            rsp.headers.push("Supported", "replaces");
        }
        rsp.headers.push("User-Agent", "voxdesk");
        if let Some(sdp) = sdp {
            rsp.headers.push("Content-Type", "application/sdp");
            rsp.body = sdp.as_bytes().to_vec();
        }
        let cseq = invite.cseq().0;
        if let ServerTx::Invite(tx) = &mut entry.tx {
            tx.respond(code, Arc::from(rsp.to_bytes()), now);
        }
        self.drain_server(tx_key, now);
        Some(cseq)
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
        let tx_key = call.invite_tx.clone();
        // The ACK carries the INVITE's CSeq, whatever in-dialog requests came meanwhile.
        if let Some(cseq) = self.respond_invite(call_key, &tx_key, 200, Some(sdp), now) {
            if let Some(call) = self.calls.get_mut(&call_key) {
                call.awaiting_ack = Some((cseq, tx_key));
            }
        }
    }

    /// Rejects an unanswered call (486, 488, 503 …).
    pub fn reject(&mut self, call_key: CallKey, code: u16, now: Instant) {
        if self
            .calls
            .get(&call_key)
            .is_some_and(|c| c.state == CallState::Early)
        {
            self.final_response(call_key, code, None, now);
            self.forget_call(call_key, now);
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
        self.forget_call(call_key, now);
    }

    /// Ends the call from our side: BYE when answered, 480 when not; for a call we placed and
    /// that is not answered yet, CANCEL (once a provisional response allows it, §9.1).
    pub fn hangup(&mut self, call_key: CallKey, now: Instant) {
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        match call.state {
            CallState::Early => {
                self.final_response(call_key, 480, None, now);
                self.forget_call(call_key, now);
            }
            // §15: no BYE before the 2xx is acknowledged (or its transaction times out).
            CallState::AwaitingAck => call.bye_after_ack = true,
            CallState::Confirmed => self.send_bye(call_key, now),
            CallState::Terminating => {}
            CallState::Outgoing => self.cancel_outgoing(call_key, now),
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
        let Some(tx_key) = self
            .calls
            .get_mut(&call_key)
            .and_then(|c| c.pending_reinvite.take())
        else {
            return;
        };
        let (code, sdp) = match result {
            Ok(sdp) => (200, Some(sdp)),
            Err(code) => (code, None),
        };
        let cseq = self.respond_invite(call_key, &tx_key, code, sdp, now);
        if let (200, Some(cseq), Some(call)) = (code, cseq, self.calls.get_mut(&call_key)) {
            call.awaiting_ack = Some((cseq, tx_key));
        }
    }

    pub(super) fn send_bye(&mut self, call_key: CallKey, now: Instant) {
        if let Some(call) = self.calls.get_mut(&call_key) {
            call.state = CallState::Terminating;
        }
        self.send_in_dialog(call_key, M::Bye, Purpose::Bye, &[], now);
    }

    pub(super) fn send_in_dialog(
        &mut self,
        call_key: CallKey,
        method: M,
        purpose: Purpose,
        extra: &[(&str, String)],
        now: Instant,
    ) {
        let Some((mut req, peer)) = self.in_dialog_request(call_key, method) else {
            return;
        };
        let contact = self.contact(peer);
        for (name, value) in extra {
            match (*name, value.is_empty()) {
                ("Referred-By", true) => req.headers.push(*name, format!("<{contact}>")),
                _ => req.headers.push(*name, value.clone()),
            }
        }
        self.start_client_request(&req, peer, call_key, purpose, now);
    }

    /// The next request of the call's dialog and where it goes.
    pub(super) fn in_dialog_request(
        &mut self,
        call_key: CallKey,
        method: M,
    ) -> Option<(Request, Peer)> {
        let advertised = self.cfg.advertised.to_string();
        let call = self.calls.get_mut(&call_key)?;
        let peer = dialog_peer(call.peer, &call.dialog);
        let contact = match peer {
            Peer::Udp(_) => format!("sip:voxdesk@{advertised}"),
            Peer::Tcp(..) => format!("sip:voxdesk@{advertised};transport=tcp"),
        };
        let branch = random_token("z9hG4bK");
        let req = call
            .dialog
            .request(method, &advertised, peer.transport(), &branch, &contact);
        Some((req, peer))
    }

    /// Starts a non-INVITE client transaction for `req`, keyed by its branch.
    pub(super) fn start_client_request(
        &mut self,
        req: &Request,
        peer: Peer,
        call_key: CallKey,
        purpose: Purpose,
        now: Instant,
    ) {
        let method = req.method.to_string();
        let branch = req.branch().to_string();
        let tx = ClientNonInvite::new(
            Arc::from(req.to_bytes()),
            peer.reliable(),
            self.cfg.timers,
            now,
        );
        let key = (branch, method);
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
}

/// Where a dialog's requests go: over UDP the route set, flow or Contact (falling back to the
/// address the call came from or went to); over TCP the call's connection.
pub(super) fn dialog_peer(peer: Peer, dialog: &Dialog) -> Peer {
    match peer {
        Peer::Udp(src) => Peer::Udp(dialog.next_hop().unwrap_or(src)),
        tcp => tcp,
    }
}

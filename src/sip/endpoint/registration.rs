//! The endpoint's side of the [`Registrar`]: REGISTER answered through a server transaction
//! (so a retransmission gets the same answer, the same nonce), OPTIONS keepalives to bound
//! phones as client transactions, and presence turned into [`SipEvent`]s. The rules live in
//! `sip::registrar`; this file only moves messages.

use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rsip::Method as M;

use super::*;
use crate::sip::message::{Headers, Method};
use crate::sip::registrar::{Account, Binding, InviteIdentity, RegistrarEvent, Transport};

/// The call of a client transaction that belongs to no call (keepalives); real keys start at 1.
pub(super) const NO_CALL: CallKey = CallKey(0);

impl Endpoint {
    /// Makes this endpoint a registrar: REGISTER is answered from now on.
    pub fn set_registrar(&mut self, registrar: Registrar) {
        self.registrar = Some(registrar);
    }

    /// The Allow header's methods: REGISTER only when this endpoint answers it.
    pub(super) fn allow(&self) -> &'static str {
        if self.registrar.is_some() {
            super::ALLOW_WITH_REGISTER
        } else {
            super::ALLOW
        }
    }

    /// Replaces the registrar's accounts; agents no longer listed go offline.
    pub fn set_accounts(&mut self, accounts: Vec<Account>) {
        if let Some(registrar) = &mut self.registrar {
            registrar.set_accounts(accounts);
        }
        self.drain_registrar_events();
    }

    /// Where an agent's phones are registered (empty without a registrar).
    pub fn bindings(&self, user: &str) -> Vec<Binding> {
        self.registrar
            .as_ref()
            .map(|r| r.contacts(user))
            .unwrap_or_default()
    }

    pub(super) fn handle_register(&mut self, req: &Request, key: TxKey, peer: Peer, now: Instant) {
        let Some(registrar) = &mut self.registrar else {
            return;
        };
        let transport = match peer {
            Peer::Udp(_) => Transport::Udp,
            Peer::Tcp(id, _) => Transport::Tcp(id),
        };
        let random: [u8; 16] = rand::rng().random();
        let rsp = registrar.handle_register(req, peer.addr(), transport, now, random);
        self.respond_new_non_invite(key, rsp, peer, now);
        self.drain_registrar_events();
    }

    /// Whether an INVITE comes from an authenticated agent (no registrar: everyone is a
    /// caller).
    pub(super) fn identify_inviter(
        &mut self,
        req: &Request,
        peer: Peer,
        now: Instant,
    ) -> InviteIdentity {
        let Some(registrar) = &mut self.registrar else {
            return InviteIdentity::Caller;
        };
        let random: [u8; 16] = rand::rng().random();
        registrar.identify_inviter(req, peer.addr(), now, random)
    }

    /// Expires bindings and pings those due.
    pub(super) fn registrar_timeout(&mut self, now: Instant) {
        let Some(registrar) = &mut self.registrar else {
            return;
        };
        registrar.handle_timeout(now);
        let mut due = Vec::new();
        while let Some(ping) = registrar.poll_keepalive(now) {
            due.push(ping);
        }
        for (user, binding) in due {
            self.send_keepalive(user, binding, now);
        }
        self.drain_registrar_events();
    }

    pub(super) fn keepalive_done(&mut self, user: &str, contact: &str, ok: bool, now: Instant) {
        if let Some(registrar) = &mut self.registrar {
            registrar.keepalive_result(user, contact, ok, now);
        }
        self.drain_registrar_events();
    }

    /// OPTIONS to the phone's Contact, sent where its REGISTER came from (NAT).
    fn send_keepalive(&mut self, user: String, binding: Binding, now: Instant) {
        let peer = match binding.transport {
            Transport::Udp => Peer::Udp(binding.source),
            Transport::Tcp(id) => Peer::Tcp(id, binding.source),
        };
        let advertised = self.cfg.advertised;
        let branch = random_token("z9hG4bK");
        let mut headers = Headers::default();
        headers.push(
            "Via",
            format!(
                "SIP/2.0/{} {advertised};branch={branch};rport",
                peer.transport()
            ),
        );
        headers.push("Max-Forwards", "70");
        headers.push(
            "From",
            format!("<sip:voxdesk@{advertised}>;tag={}", random_token("k")),
        );
        headers.push("To", format!("<{}>", binding.uri));
        headers.push("Call-ID", random_token("ka"));
        headers.push("CSeq", "1 OPTIONS");
        headers.push("User-Agent", "voxdesk");
        let req = Request {
            method: Method::Known(M::Options),
            uri: binding.uri.clone(),
            headers,
            body: Vec::new(),
        };
        let tx = ClientNonInvite::new(
            Arc::from(req.to_bytes()),
            peer.reliable(),
            self.cfg.timers,
            now,
        );
        let key = (branch, "OPTIONS".to_string());
        self.client_txs.insert(
            key.clone(),
            ClientEntry {
                tx,
                peer,
                call: NO_CALL,
                purpose: Purpose::Keepalive {
                    user,
                    contact: binding.uri,
                },
            },
        );
        self.drain_client(&key, now);
    }

    fn drain_registrar_events(&mut self) {
        let Some(registrar) = &mut self.registrar else {
            return;
        };
        while let Some(event) = registrar.poll_event() {
            self.events.push_back(match event {
                RegistrarEvent::Online { user } => SipEvent::AgentOnline(user),
                RegistrarEvent::Offline { user } => SipEvent::AgentOffline(user),
            });
        }
    }
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;

//! Who placed an INVITE: an agent proven by digest, or anyone else. An INVITE whose From
//! names an agent account is challenged (401, as a UAS does) and only a right answer makes
//! it an agent's call; everyone else is a caller for the dialplan. So a stranger who writes
//! an agent's name in From gets a challenge, never an agent's privileges (calling another
//! agent, consultation for an attended transfer), and no unauthenticated path leads past
//! the dialplan (no toll fraud).
//!
//! The same nonces, failure limiter and HA1s serve REGISTER and INVITE: a phone that
//! registered can place calls with the same password.

use std::net::SocketAddr;
use std::time::Instant;

use super::{header_user, RegisterError, Registrar};
use crate::sip::message::{Request, Response};

/// What an INVITE's sender proved.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteIdentity {
    /// From names no agent: an ordinary caller.
    Caller,
    /// An agent, authenticated.
    Agent(String),
    /// Not settled: send this response (a 401 challenge, 403, or 503 while blocked).
    Answer(Response),
}

impl Registrar {
    /// Checks the digest of an INVITE whose From names an agent. `random` seeds a nonce and
    /// the To-tag of a refusal.
    pub fn identify_inviter(
        &mut self,
        req: &Request,
        source: SocketAddr,
        now: Instant,
        random: [u8; 16],
    ) -> InviteIdentity {
        let Some(from) = header_user(req, "From").filter(|u| self.accounts.contains_key(u)) else {
            return InviteIdentity::Caller;
        };
        let checked = self
            .check_not_blocked(source, now)
            .and_then(|()| self.authenticate(req, source, now))
            .and_then(|user| {
                // Credentials of one agent do not vouch for another agent's From.
                if user == from {
                    Ok(user)
                } else {
                    Err(RegisterError::NotOwnRecord)
                }
            });
        match checked {
            Ok(user) => InviteIdentity::Agent(user),
            Err(err) => InviteIdentity::Answer(self.refusal(req, &err, now, random)),
        }
    }
}

#[cfg(test)]
#[path = "invite_auth_tests.rs"]
mod tests;

//! The browser desk's bookkeeping without I/O: login sessions (tokens), open desk sockets per
//! agent, and the calls offered to or taken by desks. [`super::desk`] is its tokio shell; every
//! method here takes `now` and touches no socket, channel or clock.
//!
//! Rules kept here:
//! - a login checks the agent's MD5 HA1 (`user:realm:password`), compared in constant time;
//!   five wrong passwords in a row lock that user out for a minute;
//! - a session lives [`DeskLimits::session_ttl`] after its last use, and never expires while
//!   a desk socket opened with it is open;
//! - an agent is present while at least one desk socket is open; when the last one closes,
//!   every call offered to or taken by that agent's desk ends.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::sip::auth::{ha1, Algorithm};
use crate::sip::endpoint::CallKey;

use super::AgentsFile;

/// Bounds of the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeskLimits {
    /// Login sessions at once.
    pub max_sessions: usize,
    /// Desk sockets one agent may have open (tabs, devices).
    pub max_sockets_per_user: usize,
    /// Calls ringing on one agent's desk at once.
    pub max_rings_per_user: usize,
    /// Desk calls (ringing or answered) at once.
    pub max_calls: usize,
    /// A session unused this long is over.
    pub session_ttl: Duration,
    /// Wrong passwords in a row before a lockout.
    pub max_failures: u32,
    /// How long a lockout lasts.
    pub lockout: Duration,
}

impl Default for DeskLimits {
    fn default() -> Self {
        DeskLimits {
            max_sessions: 1000,
            max_sockets_per_user: 4,
            max_rings_per_user: 8,
            max_calls: 4096,
            session_ttl: Duration::from_secs(12 * 3600),
            max_failures: 5,
            lockout: Duration::from_secs(60),
        }
    }
}

/// One open desk socket (a page's websocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

/// Where a desk call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// Offered to the agent's desk.
    Ringing,
    /// The agent pressed answer; the browser leg is being set up.
    Answering,
    /// The browser leg is up.
    Answered,
}

/// Why a desk request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    /// Unknown user or wrong password (never says which).
    #[error("wrong user or password")]
    BadLogin,
    /// Too many wrong passwords for this user; try again later.
    #[error("too many failed logins; try again in a minute")]
    LockedOut,
    /// The session table is full.
    #[error("too many desk sessions")]
    TooManySessions,
    /// Missing, unknown or expired token.
    #[error("not logged in (token missing, unknown or expired)")]
    BadToken,
    /// The agent has the most desk sockets allowed open.
    #[error("too many desks open for this agent")]
    TooManySockets,
    /// No such desk call for this agent.
    #[error("no such call on this desk")]
    NoSuchCall,
    /// The call is not in a phase that allows this.
    #[error("the call is {0}")]
    WrongPhase(&'static str),
    /// The browser's offer or the call's own offer could not be used.
    #[error("unusable SDP: {0}")]
    BadSdp(String),
    /// The browser leg could not be set up.
    #[error("browser media failed: {0}")]
    Media(String),
    /// A transfer target that is not an agent, queue or number.
    #[error("bad transfer target: {0}")]
    BadTarget(&'static str),
    /// The call's owner is gone.
    #[error("the call is over")]
    CallGone,
}

impl CallPhase {
    fn name(self) -> &'static str {
        match self {
            CallPhase::Ringing => "ringing",
            CallPhase::Answering => "being answered",
            CallPhase::Answered => "answered",
        }
    }
}

struct Session {
    user: String,
    expires: Instant,
}

struct SocketInfo {
    user: String,
    token: String,
}

/// A call offered to or taken by a desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskCall {
    /// The agent whose desk it is on.
    pub user: String,
    /// Where it is.
    pub phase: CallPhase,
    /// The call leg's plain RTP offer.
    pub offer_sdp: String,
    /// The caller's ticket, once the hub has said which.
    pub ticket: Option<i64>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// What closing a socket changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketClosed {
    /// Its agent.
    pub user: String,
    /// It was the agent's last desk socket: the agent is gone.
    pub last: bool,
    /// Calls that ended with it (only when `last`), with the phase they were in.
    pub ended: Vec<(CallKey, CallPhase)>,
}

/// The desk's sessions, sockets and calls.
pub struct DeskState {
    limits: DeskLimits,
    sessions: HashMap<String, Session>,
    sockets: HashMap<SocketId, SocketInfo>,
    calls: HashMap<CallKey, DeskCall>,
    failures: HashMap<String, Failures>,
    next_socket: u64,
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl DeskState {
    /// An empty desk.
    pub fn new(limits: DeskLimits) -> Self {
        DeskState {
            limits,
            sessions: HashMap::new(),
            sockets: HashMap::new(),
            calls: HashMap::new(),
            failures: HashMap::new(),
            next_socket: 0,
        }
    }

    /// Checks `user`'s password against `directory` and opens a session under `token` (a
    /// fresh random string from the shell). Returns the agent's display name.
    pub fn login(
        &mut self,
        directory: &AgentsFile,
        user: &str,
        password: &str,
        token: String,
        now: Instant,
    ) -> Result<String, DeskError> {
        let agent = directory.agent(user);
        let failures = self.failures.get(user);
        if failures
            .and_then(|f| f.locked_until)
            .is_some_and(|t| now < t)
        {
            return Err(DeskError::LockedOut);
        }
        let given = ha1(Algorithm::Md5, user, &directory.realm, password);
        // Unknown users cost the same hash and compare, so timing does not tell who exists.
        let stored = agent
            .and_then(|a| a.ha1(Algorithm::Md5, &directory.realm))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let matches = constant_time_eq(given.as_bytes(), stored.as_bytes());
        let Some(agent) = agent.filter(|_| matches) else {
            // Only users of the directory are counted, so the table is bounded by it.
            if agent.is_some() {
                let f = self.failures.entry(user.to_owned()).or_default();
                f.count += 1;
                if f.count >= self.limits.max_failures {
                    f.count = 0;
                    f.locked_until = Some(now + self.limits.lockout);
                }
            }
            return Err(DeskError::BadLogin);
        };
        self.failures.remove(user);
        if self.sessions.len() >= self.limits.max_sessions {
            self.expire(now);
            if self.sessions.len() >= self.limits.max_sessions {
                return Err(DeskError::TooManySessions);
            }
        }
        let session = Session {
            user: user.to_owned(),
            expires: now + self.limits.session_ttl,
        };
        self.sessions.insert(token, session);
        Ok(agent.name.clone())
    }

    /// Ends a session; returns the sockets opened with it, which the shell closes.
    pub fn logout(&mut self, token: &str) -> Option<Vec<SocketId>> {
        self.sessions.remove(token)?;
        Some(
            self.sockets
                .iter()
                .filter(|(_, s)| s.token == token)
                .map(|(id, _)| *id)
                .collect(),
        )
    }

    /// The user of a live session; using it extends it.
    pub fn authenticate(&mut self, token: &str, now: Instant) -> Result<String, DeskError> {
        let in_use = self.sockets.values().any(|s| s.token == token);
        let ttl = self.limits.session_ttl;
        match self.sessions.get_mut(token) {
            Some(session) if in_use || now < session.expires => {
                session.expires = now + ttl;
                Ok(session.user.clone())
            }
            Some(_) => {
                self.sessions.remove(token);
                Err(DeskError::BadToken)
            }
            None => Err(DeskError::BadToken),
        }
    }

    /// Drops expired sessions (those without open sockets) and finished lockouts.
    pub fn expire(&mut self, now: Instant) {
        let sockets = &self.sockets;
        self.sessions.retain(|token, session| {
            now < session.expires || sockets.values().any(|s| &s.token == token)
        });
        self.failures
            .retain(|_, f| f.count > 0 || f.locked_until.is_some_and(|t| now < t));
    }

    /// Sessions open now.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Opens a desk socket for a session: its id, its user, and whether it is the user's
    /// first (the agent comes online).
    pub fn open_socket(
        &mut self,
        token: &str,
        now: Instant,
    ) -> Result<(SocketId, String, bool), DeskError> {
        let user = self.authenticate(token, now)?;
        let open = self.sockets.values().filter(|s| s.user == user).count();
        if open >= self.limits.max_sockets_per_user {
            return Err(DeskError::TooManySockets);
        }
        self.next_socket += 1;
        let id = SocketId(self.next_socket);
        let info = SocketInfo {
            user: user.clone(),
            token: token.to_owned(),
        };
        self.sockets.insert(id, info);
        Ok((id, user, open == 0))
    }

    /// Closes a socket; when it was the user's last, their calls end with it.
    pub fn close_socket(&mut self, id: SocketId) -> Option<SocketClosed> {
        let info = self.sockets.remove(&id)?;
        let last = !self.is_logged_in(&info.user);
        let mut ended = Vec::new();
        if last {
            let keys: Vec<CallKey> = self
                .calls
                .iter()
                .filter(|(_, c)| c.user == info.user)
                .map(|(k, _)| *k)
                .collect();
            for key in keys {
                if let Some(call) = self.calls.remove(&key) {
                    ended.push((key, call.phase));
                }
            }
            ended.sort_by_key(|(k, _)| *k);
        }
        Some(SocketClosed {
            user: info.user,
            last,
            ended,
        })
    }

    /// Whether `user` has a desk socket open.
    pub fn is_logged_in(&self, user: &str) -> bool {
        self.sockets.values().any(|s| s.user == user)
    }

    /// The user's open sockets, in opening order.
    pub fn sockets_of(&self, user: &str) -> Vec<SocketId> {
        let mut ids: Vec<SocketId> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.user == user)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// Offers `key` to `user`'s desk. False when the desk is closed, the call is known, or
    /// a bound is reached.
    pub fn ring(&mut self, key: CallKey, user: &str, offer_sdp: String) -> bool {
        let ringing = self
            .calls
            .values()
            .filter(|c| c.user == user && c.phase == CallPhase::Ringing)
            .count();
        if !self.is_logged_in(user)
            || self.calls.contains_key(&key)
            || self.calls.len() >= self.limits.max_calls
            || ringing >= self.limits.max_rings_per_user
        {
            return false;
        }
        let call = DeskCall {
            user: user.to_owned(),
            phase: CallPhase::Ringing,
            offer_sdp,
            ticket: None,
        };
        self.calls.insert(key, call);
        true
    }

    /// Records which ticket a desk call belongs to.
    pub fn set_ticket(&mut self, key: CallKey, ticket: i64) {
        if let Some(call) = self.calls.get_mut(&key) {
            call.ticket = Some(ticket);
        }
    }

    /// The agents with a desk call (ringing or taken) on `ticket`: who shows it live.
    pub fn users_on_ticket(&self, ticket: i64) -> Vec<String> {
        let mut users: Vec<String> = self
            .calls
            .values()
            .filter(|c| c.ticket == Some(ticket))
            .map(|c| c.user.clone())
            .collect();
        users.sort();
        users.dedup();
        users
    }

    /// Each desk call's agent and ticket.
    pub fn tickets_shown(&self) -> Vec<(String, i64)> {
        self.calls
            .values()
            .filter_map(|c| Some((c.user.clone(), c.ticket?)))
            .collect()
    }

    /// The call as `user`'s desk sees it.
    pub fn call(&self, key: CallKey, user: &str) -> Result<&DeskCall, DeskError> {
        self.calls
            .get(&key)
            .filter(|c| c.user == user)
            .ok_or(DeskError::NoSuchCall)
    }

    fn call_in(
        &mut self,
        key: CallKey,
        user: &str,
        phase: CallPhase,
    ) -> Result<&mut DeskCall, DeskError> {
        let call = self
            .calls
            .get_mut(&key)
            .filter(|c| c.user == user)
            .ok_or(DeskError::NoSuchCall)?;
        if call.phase != phase {
            return Err(DeskError::WrongPhase(call.phase.name()));
        }
        Ok(call)
    }

    /// The agent pressed answer: ringing → answering. Returns the call's offer.
    pub fn start_answer(&mut self, key: CallKey, user: &str) -> Result<String, DeskError> {
        let call = self.call_in(key, user, CallPhase::Ringing)?;
        call.phase = CallPhase::Answering;
        Ok(call.offer_sdp.clone())
    }

    /// The browser leg could not be set up: the call rings again.
    pub fn answer_failed(&mut self, key: CallKey) {
        if let Some(call) = self.calls.get_mut(&key) {
            if call.phase == CallPhase::Answering {
                call.phase = CallPhase::Ringing;
            }
        }
    }

    /// The browser leg is up: answering → answered. False when the call ended meanwhile.
    pub fn answered(&mut self, key: CallKey) -> bool {
        match self.calls.get_mut(&key) {
            Some(call) if call.phase == CallPhase::Answering => {
                call.phase = CallPhase::Answered;
                true
            }
            _ => false,
        }
    }

    /// The agent declines a ringing call; it is gone from the desk.
    pub fn decline(&mut self, key: CallKey, user: &str) -> Result<(), DeskError> {
        self.call_in(key, user, CallPhase::Ringing)?;
        self.calls.remove(&key);
        Ok(())
    }

    /// The agent hangs up (any phase); returns the phase it was in.
    pub fn agent_hangup(&mut self, key: CallKey, user: &str) -> Result<CallPhase, DeskError> {
        let phase = self.call(key, user)?.phase;
        self.calls.remove(&key);
        Ok(phase)
    }

    /// The call ended for another reason (the call side, or the browser leg closed).
    pub fn end(&mut self, key: CallKey) -> Option<DeskCall> {
        self.calls.remove(&key)
    }
}

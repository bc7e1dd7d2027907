//! The registrar (RFC 3261 §10.3) for agents' phones: digest authentication of REGISTER
//! through [`crate::sip::auth`], the bindings of each agent (address-of-record) with their
//! expiry, and OPTIONS keepalives that drop phones which stopped answering. Sans-IO: the
//! endpoint feeds it requests, the time and random bytes, sends the [`Response`]s it returns
//! and the pings [`Registrar::poll_keepalive`] yields, and turns [`RegistrarEvent`]s into
//! agent presence for the call layer.
//!
//! Decisions:
//! - NAT: a phone is reached where its REGISTER came from (source address, transport, TCP
//!   connection), as rport/received would direct a response; the Contact URI is kept as
//!   given, for the Request-URI of what is sent to it.
//! - A source blocked by the failure limiter gets 503 with Retry-After, checked before
//!   anything else. A phone that honours Retry-After comes back by itself when the block
//!   ends (an agent who mistyped a password and fixed it, or a neighbour behind the same NAT),
//!   where most phones stop registering for good on 403.
//! - Too many contacts for one agent is a 403: a policy, which retrying will not change. The
//!   registrar being full (`max_bindings` in total) is capacity: 503 with Retry-After.
//! - A right response with an nc already used gets a fresh challenge (401), not 403: a
//!   replayed REGISTER gains nothing, and a phone that reuses nc by mistake recovers.
//! - The digest `uri` differing from the Request-URI is a 400 (RFC 7616 §3.4.6), except the
//!   Request-URI's host without its user (SIPp's INVITEs; see `digest_uri_matches`).
//! - Same Call-ID with a CSeq not above the binding's is refused with 500 (§10.3 step 7
//!   says the request fails, without a code); nothing of the request is applied then.
//! - Bindings are matched by Contact URI string equality, not the full §19.1.4 comparison:
//!   a phone repeats its own Contact byte for byte.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::sip::auth::{
    parse_authorization, Algorithm, Credentials, FailureLimiter, LimiterConfig, Verdict, Verifier,
    VerifierConfig,
};
use crate::sip::message::{name_addr_uri, param, reason_phrase, response_to, Request, Response};

/// Registrar settings.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest realm.
    pub realm: String,
    /// Shortest registration accepted, seconds; shorter ones get 423.
    pub min_expires: u32,
    /// Longest registration granted, seconds; longer ones are cut to it.
    pub max_expires: u32,
    /// Registration length when the request names none, seconds.
    pub default_expires: u32,
    /// Most bindings (phones) one agent may hold.
    pub max_contacts_per_user: usize,
    /// Most bindings of all agents together.
    pub max_bindings: usize,
    /// Time between OPTIONS pings to each binding; zero disables keepalives.
    pub keepalive_interval: Duration,
    /// Consecutive unanswered pings after which a binding is dropped.
    pub keepalive_failures: u32,
    /// How long a nonce may be used.
    pub nonce_lifetime: Duration,
    /// Algorithms offered in a 401, one `WWW-Authenticate` each, in this order (empty: the
    /// default). MD5 alone serves clients that read only the first challenge and know no
    /// SHA-256, such as SIPp 3.6.
    pub challenge_algorithms: Vec<Algorithm>,
    /// Authentication failures per source address before it is blocked.
    pub limiter: LimiterConfig,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "voxdesk".into(),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts_per_user: 5,
            max_bindings: 10_000,
            keepalive_interval: Duration::from_secs(30),
            keepalive_failures: 3,
            nonce_lifetime: Duration::from_secs(300),
            challenge_algorithms: Algorithm::PREFERENCE.to_vec(),
            limiter: LimiterConfig::default(),
        }
    }
}

/// An agent's SIP credentials: the stored HA1 per algorithm (lowercase hex), never a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user part of the agent's address-of-record, also the digest username.
    pub user: String,
    /// `MD5(user:realm:password)`.
    pub ha1_md5: Option<String>,
    /// `SHA-256(user:realm:password)`.
    pub ha1_sha256: Option<String>,
}

impl Account {
    fn ha1(&self, alg: Algorithm) -> Option<&str> {
        match alg {
            Algorithm::Md5 => self.ha1_md5.as_deref(),
            Algorithm::Sha256 => self.ha1_sha256.as_deref(),
        }
    }
}

/// How a bound phone is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams to the binding's source address.
    Udp,
    /// The TCP connection (the transport shell's id) the REGISTER came over.
    Tcp(u64),
}

impl Transport {
    /// Token as written in a Via.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp(_) => "TCP",
        }
    }
}

/// One registered phone of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI as the phone gave it.
    pub uri: String,
    /// Where its REGISTER came from, where requests for it go.
    pub source: SocketAddr,
    /// Over what.
    pub transport: Transport,
    /// When it lapses unless refreshed.
    pub expires_at: Instant,
}

/// Agent presence changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// The agent's first binding appeared.
    Online {
        /// The agent.
        user: String,
    },
    /// The agent's last binding is gone (expiry, de-registration, keepalive failure, account
    /// removed).
    Offline {
        /// The agent.
        user: String,
    },
}

/// Why a REGISTER was refused; each cause has its status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("source blocked after repeated authentication failures")]
    Blocked {
        /// Seconds until the block ends.
        retry_after: u64,
    },
    #[error("credentials needed")]
    Challenge {
        /// The nonce was expired or unknown but the response right.
        stale: bool,
    },
    #[error("unknown user or wrong credentials")]
    Forbidden,
    #[error("From or To is not the authenticated user")]
    NotOwnRecord,
    #[error("digest uri is not the Request-URI")]
    UriMismatch,
    #[error("unsupported extension {0}")]
    BadExtension(String),
    #[error("{0}")]
    Malformed(&'static str),
    #[error("registration shorter than the minimum")]
    IntervalTooBrief,
    #[error("too many contacts for one user")]
    TooManyContacts,
    #[error("registrar full")]
    Full,
    #[error("Call-ID and CSeq not newer than the binding's")]
    OutOfOrder,
}

impl RegisterError {
    /// The status code and reason phrase it is answered with.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegisterError::Blocked { .. } | RegisterError::Full => (503, reason_phrase(503)),
            RegisterError::Challenge { .. } => (401, "Unauthorized"),
            RegisterError::Forbidden | RegisterError::NotOwnRecord => (403, "Forbidden"),
            RegisterError::TooManyContacts => (403, "Too Many Contacts"),
            RegisterError::UriMismatch | RegisterError::Malformed(_) => (400, reason_phrase(400)),
            RegisterError::BadExtension(_) => (420, reason_phrase(420)),
            RegisterError::IntervalTooBrief => (423, "Interval Too Brief"),
            RegisterError::OutOfOrder => (500, "Out Of Order Request"),
        }
    }
}

struct Stored {
    id: u64,
    binding: Binding,
    call_id: String,
    cseq: u32,
    /// When the next ping is due; `None` while one is in flight (or keepalives are off).
    next_ping: Option<Instant>,
    failed_pings: u32,
}

/// One Contact of a REGISTER, resolved: URI and granted seconds (0 removes).
struct Update {
    uri: String,
    expires: u32,
}

/// Who sent a REGISTER, and the request's identity for §10.3 step 7.
struct Origin<'a> {
    source: SocketAddr,
    transport: Transport,
    call_id: &'a str,
    cseq: u32,
}

/// The registrar core.
pub struct Registrar {
    config: RegistrarConfig,
    verifier: Verifier,
    limiter: FailureLimiter,
    accounts: HashMap<String, Account>,
    users: HashMap<String, Vec<Stored>>,
    owners: HashMap<u64, String>,
    expiries: BTreeSet<(Instant, u64)>,
    pings: BTreeSet<(Instant, u64)>,
    next_id: u64,
    /// Drained by the endpoint after every call, so it holds at most one call's changes.
    events: VecDeque<RegistrarEvent>,
}

impl Registrar {
    /// A registrar with no accounts.
    pub fn new(config: RegistrarConfig) -> Self {
        let verifier = Verifier::new(VerifierConfig {
            nonce_lifetime: config.nonce_lifetime,
            ..VerifierConfig::new(config.realm.clone())
        });
        let limiter = FailureLimiter::new(config.limiter.clone());
        Registrar {
            config,
            verifier,
            limiter,
            accounts: HashMap::new(),
            users: HashMap::new(),
            owners: HashMap::new(),
            expiries: BTreeSet::new(),
            pings: BTreeSet::new(),
            next_id: 1,
            events: VecDeque::new(),
        }
    }

    /// Replaces every account; agents no longer listed lose their bindings.
    pub fn set_accounts(&mut self, accounts: Vec<Account>) {
        self.accounts = accounts.into_iter().map(|a| (a.user.clone(), a)).collect();
        let gone: Vec<String> = self
            .users
            .keys()
            .filter(|u| !self.accounts.contains_key(*u))
            .cloned()
            .collect();
        for user in gone {
            let ids: Vec<u64> = self
                .users
                .get(&user)
                .into_iter()
                .flatten()
                .map(|s| s.id)
                .collect();
            for id in ids {
                self.remove(id);
            }
        }
    }

    /// The agent's current bindings.
    pub fn contacts(&self, user: &str) -> Vec<Binding> {
        self.users
            .get(user)
            .into_iter()
            .flatten()
            .map(|s| s.binding.clone())
            .collect()
    }

    /// Bindings of all agents together.
    pub fn binding_count(&self) -> usize {
        self.owners.len()
    }

    /// Presence changes, oldest first.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// The next expiry or keepalive due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.expiries.first().map(|(at, _)| *at);
        let ping = self.pings.first().map(|(at, _)| *at);
        expiry.into_iter().chain(ping).min()
    }

    /// Drops the bindings that lapsed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.remove(id);
        }
    }

    /// A binding due for an OPTIONS ping, with its agent. Answer with
    /// [`Registrar::keepalive_result`]; no further ping for it until then.
    pub fn poll_keepalive(&mut self, now: Instant) -> Option<(String, Binding)> {
        let &(at, id) = self.pings.first()?;
        if at > now {
            return None;
        }
        self.pings.remove(&(at, id));
        let user = self.owners.get(&id)?.clone();
        let stored = self.stored_mut(&user, |s| s.id == id)?;
        stored.next_ping = None;
        let binding = stored.binding.clone();
        Some((user, binding))
    }

    /// Outcome of a ping: any final response (even 404 or 405) is alive, a timeout is not.
    pub fn keepalive_result(&mut self, user: &str, contact_uri: &str, ok: bool, now: Instant) {
        let limit = self.config.keepalive_failures.max(1);
        let interval = self.config.keepalive_interval;
        let Some(stored) = self.stored_mut(user, |s| s.binding.uri == contact_uri) else {
            return;
        };
        if stored.next_ping.is_some() {
            // Not in flight: a late answer to a ping from before a re-registration.
            return;
        }
        stored.failed_pings = if ok { 0 } else { stored.failed_pings + 1 };
        let id = stored.id;
        let dead = stored.failed_pings >= limit;
        if !dead && !interval.is_zero() {
            stored.next_ping = Some(now + interval);
        }
        if dead {
            self.remove(id);
        } else if !interval.is_zero() {
            self.pings.insert((now + interval, id));
        }
    }

    /// Answers one REGISTER from `source` (over `transport`). `random` seeds a nonce and the
    /// To-tag.
    pub fn handle_register(
        &mut self,
        req: &Request,
        source: SocketAddr,
        transport: Transport,
        now: Instant,
        random: [u8; 16],
    ) -> Response {
        let tag = hex(random.get(..6).unwrap_or_default());
        match self.register(req, source, transport, now) {
            Ok(user) => {
                let mut rsp = response_to(req, 200, "OK", Some(&tag));
                for stored in self.users.get(&user).into_iter().flatten() {
                    let left = stored.binding.expires_at.saturating_duration_since(now);
                    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                    rsp.headers.push(
                        "Contact",
                        format!("<{}>;expires={secs}", stored.binding.uri),
                    );
                }
                rsp
            }
            Err(err) => self.refusal(req, &err, now, random),
        }
    }

    /// The response to a refused request: a challenge carries a fresh nonce per algorithm.
    fn refusal(
        &mut self,
        req: &Request,
        err: &RegisterError,
        now: Instant,
        random: [u8; 16],
    ) -> Response {
        let (code, reason) = err.status();
        let tag = hex(random.get(..6).unwrap_or_default());
        let mut rsp = response_to(req, code, reason, Some(&tag));
        match err {
            RegisterError::Challenge { stale } => {
                let challenge = self.verifier.challenge(now, random, *stale);
                let offered = match self.config.challenge_algorithms.as_slice() {
                    [] => &Algorithm::PREFERENCE[..],
                    algorithms => algorithms,
                };
                for alg in offered {
                    rsp.headers
                        .push("WWW-Authenticate", challenge.header_value(*alg));
                }
            }
            RegisterError::Blocked { retry_after } => {
                rsp.headers.push("Retry-After", retry_after.to_string());
            }
            RegisterError::Full => {
                let retry = self.config.min_expires.max(1);
                rsp.headers.push("Retry-After", retry.to_string());
            }
            RegisterError::IntervalTooBrief => {
                rsp.headers
                    .push("Min-Expires", self.config.min_expires.to_string());
            }
            RegisterError::BadExtension(ext) => rsp.headers.push("Unsupported", ext.clone()),
            _ => {}
        }
        rsp
    }

    /// Authenticates, then applies the request; returns the agent whose bindings to list.
    fn register(
        &mut self,
        req: &Request,
        source: SocketAddr,
        transport: Transport,
        now: Instant,
    ) -> Result<String, RegisterError> {
        self.check_not_blocked(source, now)?;
        if let Some(require) = req.headers.get("Require") {
            return Err(RegisterError::BadExtension(require.to_string()));
        }
        let user = self.authenticate(req, source, now)?;
        let from = header_user(req, "From");
        let to = header_user(req, "To");
        if from.as_deref() != Some(&user) || to.as_deref() != Some(&user) {
            return Err(RegisterError::NotOwnRecord);
        }
        let origin = Origin {
            source,
            transport,
            call_id: req.call_id(),
            cseq: req.cseq().0,
        };
        let contacts = req.headers.get_all("Contact");
        if contacts.contains(&"*") {
            if contacts.len() != 1 || expires_header(req)? != Some(0) {
                return Err(RegisterError::Malformed("Invalid Wildcard Contact"));
            }
            self.remove_all(&user, &origin);
        } else {
            let updates = self.updates(req, &contacts)?;
            self.apply(&user, updates, &origin, now)?;
        }
        Ok(user)
    }

    /// Refuses a source the failure limiter blocks, before its credentials are looked at.
    fn check_not_blocked(&self, source: SocketAddr, now: Instant) -> Result<(), RegisterError> {
        match self.limiter.blocked_until(source.ip(), now) {
            Some(until) => {
                let left = until.saturating_duration_since(now);
                let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                Err(RegisterError::Blocked { retry_after })
            }
            None => Ok(()),
        }
    }

    /// §10.3 step 3: the username whose credentials are right, or why not.
    fn authenticate(
        &mut self,
        req: &Request,
        source: SocketAddr,
        now: Instant,
    ) -> Result<String, RegisterError> {
        let realm = self.verifier.realm();
        let creds = req
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authorization"))
            .filter_map(|(_, value)| parse_authorization(value).ok())
            .find(|c| c.realm == realm);
        let Some(creds) = creds else {
            return Err(RegisterError::Challenge { stale: false });
        };
        if !digest_uri_matches(&creds.uri, &req.uri) {
            return Err(RegisterError::UriMismatch);
        }
        let verdict = match self.ha1_for(&creds) {
            Some(ha1) => self
                .verifier
                .verify(&req.method.to_string(), &creds, &ha1, now),
            None => Verdict::Wrong,
        };
        match verdict {
            Verdict::Ok => {
                self.limiter.record_success(source.ip());
                Ok(creds.username)
            }
            Verdict::Stale => Err(RegisterError::Challenge { stale: true }),
            Verdict::Replay => Err(RegisterError::Challenge { stale: false }),
            Verdict::Wrong => {
                self.limiter.record_failure(source.ip(), now);
                Err(RegisterError::Forbidden)
            }
        }
    }

    fn ha1_for(&self, creds: &Credentials) -> Option<String> {
        let account = self.accounts.get(&creds.username)?;
        account.ha1(creds.algorithm).map(str::to_owned)
    }

    /// Each Contact's URI and granted seconds, checked but not applied.
    fn updates(&self, req: &Request, contacts: &[&str]) -> Result<Vec<Update>, RegisterError> {
        if contacts.len() > self.config.max_contacts_per_user {
            return Err(RegisterError::TooManyContacts);
        }
        let default = expires_header(req)?.unwrap_or(self.config.default_expires);
        let mut updates: Vec<Update> = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let uri = name_addr_uri(contact);
            let scheme_ok = uri.starts_with("sip:") || uri.starts_with("sips:");
            if !scheme_ok || rsip::Uri::try_from(uri).is_err() {
                return Err(RegisterError::Malformed("Malformed Contact Header"));
            }
            let expires = match param(contact, "expires") {
                Some(value) => parse_seconds(value)?,
                None => default,
            };
            if expires != 0 && expires < self.config.min_expires {
                return Err(RegisterError::IntervalTooBrief);
            }
            let update = Update {
                uri: uri.to_string(),
                expires: expires.min(self.config.max_expires),
            };
            match updates.iter_mut().find(|u| u.uri == update.uri) {
                Some(earlier) => *earlier = update,
                None => updates.push(update),
            }
        }
        Ok(updates)
    }

    /// §10.3 steps 7 and 8: all updates are checked first, so a refusal changes nothing.
    fn apply(
        &mut self,
        user: &str,
        updates: Vec<Update>,
        origin: &Origin<'_>,
        now: Instant,
    ) -> Result<(), RegisterError> {
        let existing = self.users.get(user).map(Vec::as_slice).unwrap_or_default();
        let mut added = 0usize;
        let mut removed = 0usize;
        for update in &updates {
            match existing.iter().find(|s| s.binding.uri == update.uri) {
                Some(s) if s.call_id == origin.call_id && origin.cseq <= s.cseq => {
                    return Err(RegisterError::OutOfOrder);
                }
                Some(_) if update.expires == 0 => removed += 1,
                None if update.expires > 0 => added += 1,
                _ => {}
            }
        }
        if (existing.len() + added).saturating_sub(removed) > self.config.max_contacts_per_user {
            return Err(RegisterError::TooManyContacts);
        }
        if self.owners.len() + added > self.config.max_bindings + removed {
            return Err(RegisterError::Full);
        }
        for update in updates {
            self.upsert(user, update, origin, now);
        }
        Ok(())
    }

    fn upsert(&mut self, user: &str, update: Update, origin: &Origin<'_>, now: Instant) {
        let existing = self.stored_mut(user, |s| s.binding.uri == update.uri);
        let id = match (existing, update.expires) {
            (Some(s), 0) => {
                let id = s.id;
                self.remove(id);
                return;
            }
            (None, 0) => return,
            (Some(s), _) => s.id,
            (None, _) => self.insert(user, update.uri, origin, now),
        };
        let interval = self.config.keepalive_interval;
        let expires_at = now + Duration::from_secs(update.expires.into());
        let Some(s) = self.stored_mut(user, |s| s.id == id) else {
            return;
        };
        let old_expiry = s.binding.expires_at;
        s.binding.expires_at = expires_at;
        s.binding.source = origin.source;
        s.binding.transport = origin.transport;
        s.call_id = origin.call_id.to_string();
        s.cseq = origin.cseq;
        // A REGISTER is a sign of life; an in-flight ping keeps its own schedule.
        s.failed_pings = 0;
        let old_ping = s.next_ping;
        if old_ping.is_some() {
            s.next_ping = Some(now + interval);
        }
        let new_ping = s.next_ping;
        self.expiries.remove(&(old_expiry, id));
        self.expiries.insert((expires_at, id));
        if let (Some(old), Some(new)) = (old_ping, new_ping) {
            self.pings.remove(&(old, id));
            self.pings.insert((new, id));
        }
    }

    fn insert(&mut self, user: &str, uri: String, origin: &Origin<'_>, now: Instant) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let interval = self.config.keepalive_interval;
        let next_ping = (!interval.is_zero()).then(|| now + interval);
        if let Some(at) = next_ping {
            self.pings.insert((at, id));
        }
        let bindings = self.users.entry(user.to_string()).or_default();
        if bindings.is_empty() {
            self.events.push_back(RegistrarEvent::Online {
                user: user.to_string(),
            });
        }
        bindings.push(Stored {
            id,
            binding: Binding {
                uri,
                source: origin.source,
                transport: origin.transport,
                // Set by the caller, with the expiry index.
                expires_at: now,
            },
            call_id: String::new(),
            cseq: 0,
            next_ping,
            failed_pings: 0,
        });
        self.expiries.insert((now, id));
        self.owners.insert(id, user.to_string());
        id
    }

    /// `Contact: *`: every binding but those the same Call-ID has already updated later.
    fn remove_all(&mut self, user: &str, origin: &Origin<'_>) {
        let ids: Vec<u64> = self
            .users
            .get(user)
            .into_iter()
            .flatten()
            .filter(|s| s.call_id != origin.call_id || s.cseq < origin.cseq)
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u64) {
        let Some(user) = self.owners.remove(&id) else {
            return;
        };
        let Some(bindings) = self.users.get_mut(&user) else {
            return;
        };
        if let Some(pos) = bindings.iter().position(|s| s.id == id) {
            let s = bindings.swap_remove(pos);
            self.expiries.remove(&(s.binding.expires_at, id));
            if let Some(at) = s.next_ping {
                self.pings.remove(&(at, id));
            }
        }
        if bindings.is_empty() {
            self.users.remove(&user);
            self.events.push_back(RegistrarEvent::Offline { user });
        }
    }

    fn stored_mut(&mut self, user: &str, pred: impl Fn(&Stored) -> bool) -> Option<&mut Stored> {
        self.users.get_mut(user)?.iter_mut().find(|s| pred(s))
    }
}

/// Whether a digest `uri` names the request's target: the Request-URI itself, or (as SIPp 3.6
/// and some phones send on an INVITE) the Request-URI's host and port without its user part.
/// The response still covers method, nonce and nc, so this loosening replays nothing.
fn digest_uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    let host_part = |uri: &str| -> Option<String> {
        let (scheme, rest) = uri.split_once(':')?;
        let rest = rest.split([';', '?']).next()?;
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        Some(format!(
            "{}:{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        ))
    };
    !digest_uri.contains('@')
        && host_part(digest_uri).is_some_and(|d| Some(d) == host_part(request_uri))
}

/// The user part of the URI in header `name`.
fn header_user(req: &Request, name: &str) -> Option<String> {
    let uri = rsip::Uri::try_from(name_addr_uri(req.headers.get(name)?)).ok()?;
    uri.user().map(str::to_owned)
}

fn expires_header(req: &Request) -> Result<Option<u32>, RegisterError> {
    req.headers.get("Expires").map(parse_seconds).transpose()
}

/// delta-seconds; values beyond 2^32-1 mean 2^32-1 (RFC 3261 §20.19).
fn parse_seconds(value: &str) -> Result<u32, RegisterError> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegisterError::Malformed("Malformed Expires"));
    }
    Ok(value.parse::<u32>().unwrap_or(u32::MAX))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

mod invite_auth;
pub use invite_auth::InviteIdentity;

#[cfg(test)]
#[path = "registrar_tests.rs"]
mod tests;

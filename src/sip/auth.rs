//! SIP digest authentication core (RFC 3261 §22, RFC 7616 computation, RFC 8760 algorithms):
//! HA1 derivation, `WWW-Authenticate` rendering, `Authorization` parsing, nonce bookkeeping with
//! expiry and nc replay checks, and a per-address failure limiter. Sans-IO: time arrives as
//! `now`, randomness as bytes from the caller, so every case is a deterministic unit test.
//!
//! Hand-written because nothing fits a sans-IO registrar: `rsip` 0.4's `DigestGenerator` needs
//! the plain password (no stored HA1), compares with `==`, keeps nc in a `u8` printed in
//! decimal where RFC 7616 wants hex, and keeps no nonce state; `digest_auth` 0.3 (crates.io) is
//! written for HTTP clients and leaves nonce issue, expiry and replay checks to the server, the
//! part needed here. What remains (two hashes, a parameter list) is small enough to own.
//!
//! Decisions:
//! - Nonces are stateful: 16 caller-supplied random bytes in hex, kept with their issue time and
//!   last nc in a bounded map (oldest evicted). The nc replay check needs per-nonce state
//!   anyway, so a stateless HMAC nonce would save nothing and would need a key.
//! - Only `qop=auth` is accepted. Legacy RFC 2069 answers without qop carry no nc, so replay
//!   cannot be detected; every challenge offers `qop="auth"`, which RFC 2617/7616 clients use.
//!   `auth-int` and the `-sess` algorithms are rejected by the parser.
//! - `stale` follows RFC 7616 §3.3: only when the nonce is unknown/expired *and* the response
//!   is right for it. A wrong response is [`Verdict::Wrong`] whatever the nonce state.
//! - The verifier does not check `opaque` (it issues none) nor that `uri` equals the
//!   Request-URI: the registrar, which has the request, compares that.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Longest `Authorization` header value accepted.
pub const MAX_HEADER_LEN: usize = 4096;
/// Longest single parameter name or value accepted.
pub const MAX_FIELD_LEN: usize = 256;
/// Most parameters accepted in one header.
pub const MAX_PARAMS: usize = 32;

/// Errors from parsing an `Authorization` value. The registrar answers any of them with a
/// fresh challenge (401), as if no credentials had been sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authorization header longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("syntax error at byte {0}")]
    Syntax(usize),
    #[error("a parameter is longer than {MAX_FIELD_LEN} bytes")]
    FieldTooLong,
    #[error("more than {MAX_PARAMS} parameters")]
    TooManyParams,
    #[error("duplicate parameter {0}")]
    Duplicate(String),
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}

/// Digest hash algorithm (RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Preference order for challenges: strongest first (RFC 8760 §2.4).
    pub const PREFERENCE: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    /// Token as written in the `algorithm` parameter.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn from_token(token: &str) -> Result<Self, AuthError> {
        if token.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else {
            Err(AuthError::Unsupported("algorithm"))
        }
    }

    /// Length of a digest in lowercase hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    fn hash_hex(self, parts: &[&str]) -> String {
        fn run<D: Digest>(parts: &[&str]) -> String {
            let mut d = D::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(part.as_bytes());
            }
            to_hex(&d.finalize())
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
        }
    }
}

/// `H(username:realm:password)` in lowercase hex: what `agents passwd` stores.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(&[username, realm, password])
}

/// RFC 7616 §3.4.1 response for `qop=auth`: `KD(HA1, nonce:nc:cnonce:auth:H(method:uri))`.
pub fn compute_response(
    alg: Algorithm,
    ha1: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let ha2 = alg.hash_hex(&[method, uri]);
    let nc = format!("{nc:08x}");
    alg.hash_hex(&[ha1, nonce, &nc, cnonce, "auth", &ha2])
}

/// A challenge for one realm and nonce, rendered once per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// Set when re-challenging a request whose nonce expired but whose response was right.
    pub stale: bool,
}

impl Challenge {
    /// `WWW-Authenticate` value offering `alg`.
    pub fn header_value(&self, alg: Algorithm) -> String {
        let mut out = String::from("Digest realm=");
        push_quoted(&mut out, &self.realm);
        out.push_str(", qop=\"auth\", algorithm=");
        out.push_str(alg.name());
        out.push_str(", nonce=");
        push_quoted(&mut out, &self.nonce);
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }

    /// One `WWW-Authenticate` value per algorithm, SHA-256 first.
    pub fn header_values(&self) -> [String; 2] {
        Algorithm::PREFERENCE.map(|alg| self.header_value(alg))
    }
}

/// Quality of protection; only `auth` is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    Auth,
}

/// A parsed `Authorization: Digest ...` value. `qop`, `cnonce` and `nc` are present together
/// or not at all (the parser enforces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    /// Lowercase hex of the algorithm's length.
    pub response: String,
    pub algorithm: Algorithm,
    pub qop: Option<Qop>,
    pub cnonce: Option<String>,
    pub nc: Option<u32>,
    pub opaque: Option<String>,
}

impl Credentials {
    /// Answers `challenge` the way a client would (used for outbound registration and tests).
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        challenge: &Challenge,
        alg: Algorithm,
        username: &str,
        ha1: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> Self {
        Credentials {
            username: username.to_owned(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_owned(),
            response: compute_response(alg, ha1, method, uri, &challenge.nonce, nc, cnonce),
            algorithm: alg,
            qop: Some(Qop::Auth),
            cnonce: Some(cnonce.to_owned()),
            nc: Some(nc),
            opaque: challenge.opaque.clone(),
        }
    }

    /// Renders the `Authorization` value.
    pub fn header_value(&self) -> String {
        let mut out = String::from("Digest username=");
        push_quoted(&mut out, &self.username);
        for (name, value) in [
            ("realm", &self.realm),
            ("nonce", &self.nonce),
            ("uri", &self.uri),
            ("response", &self.response),
        ] {
            let _ = write!(out, ", {name}=");
            push_quoted(&mut out, value);
        }
        let _ = write!(out, ", algorithm={}", self.algorithm.name());
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", cnonce=");
            push_quoted(&mut out, cnonce);
        }
        if self.qop.is_some() {
            out.push_str(", qop=auth");
        }
        if let Some(nc) = self.nc {
            let _ = write!(out, ", nc={nc:08x}");
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        out
    }
}

fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Cursor over the header value; every step is bounds-checked.
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn token(&mut self) -> Result<&'a str, AuthError> {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(AuthError::Syntax(self.pos));
        }
        if self.pos - start > MAX_FIELD_LEN {
            return Err(AuthError::FieldTooLong);
        }
        self.s.get(start..self.pos).ok_or(AuthError::Syntax(start))
    }

    /// RFC 3261 quoted-string; the opening quote is already consumed.
    fn quoted(&mut self) -> Result<String, AuthError> {
        let mut out = String::new();
        loop {
            let at = self.pos;
            let c = self.bump().ok_or(AuthError::Syntax(at))?;
            let c = match c {
                '"' => return Ok(out),
                '\\' => self.bump().ok_or(AuthError::Syntax(at))?,
                c => c,
            };
            if c.is_control() && c != '\t' {
                return Err(AuthError::Syntax(at));
            }
            if out.len() + c.len_utf8() > MAX_FIELD_LEN {
                return Err(AuthError::FieldTooLong);
            }
            out.push(c);
        }
    }
}

/// Raw parameters in order, names lowercased; duplicates rejected.
fn parse_params(value: &str) -> Result<Vec<(String, String)>, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLong);
    }
    let mut lx = Lexer { s: value, pos: 0 };
    lx.skip_ws();
    let scheme = lx.token().map_err(|_| AuthError::NotDigest)?;
    if !scheme.eq_ignore_ascii_case("Digest") || !lx.skip_ws() {
        return Err(AuthError::NotDigest);
    }
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        let name = lx.token()?.to_ascii_lowercase();
        lx.skip_ws();
        let at = lx.pos;
        if lx.bump() != Some('=') {
            return Err(AuthError::Syntax(at));
        }
        lx.skip_ws();
        let value = if lx.peek() == Some('"') {
            lx.pos += 1;
            lx.quoted()?
        } else {
            lx.token()?.to_owned()
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(AuthError::Duplicate(name));
        }
        if params.len() == MAX_PARAMS {
            return Err(AuthError::TooManyParams);
        }
        params.push((name, value));
        lx.skip_ws();
        let at = lx.pos;
        match lx.bump() {
            None => return Ok(params),
            Some(',') => {
                lx.skip_ws();
            }
            Some(_) => return Err(AuthError::Syntax(at)),
        }
    }
}

/// Parses an `Authorization` (or `Proxy-Authorization`) header value. Unknown parameters are
/// ignored (RFC 7616 §3.4), but still count toward the limits and the duplicate check.
pub fn parse_authorization(value: &str) -> Result<Credentials, AuthError> {
    let mut params = parse_params(value)?;
    let mut take = |name: &str| {
        params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| params.swap_remove(i).1)
    };
    let username = take("username").ok_or(AuthError::Missing("username"))?;
    let realm = take("realm").ok_or(AuthError::Missing("realm"))?;
    let nonce = take("nonce").ok_or(AuthError::Missing("nonce"))?;
    let uri = take("uri").ok_or(AuthError::Missing("uri"))?;
    let response = take("response").ok_or(AuthError::Missing("response"))?;
    let algorithm = match take("algorithm") {
        Some(token) => Algorithm::from_token(&token)?,
        None => Algorithm::Md5,
    };
    let qop = match take("qop") {
        Some(q) if q.eq_ignore_ascii_case("auth") => Some(Qop::Auth),
        Some(_) => return Err(AuthError::Unsupported("qop")),
        None => None,
    };
    let cnonce = take("cnonce");
    let nc = take("nc").map(|nc| parse_nc(&nc)).transpose()?;
    let opaque = take("opaque");
    if take("userhash").is_some_and(|u| u.eq_ignore_ascii_case("true")) {
        return Err(AuthError::Unsupported("userhash"));
    }
    match (qop, &cnonce, nc) {
        (Some(_), None, _) => return Err(AuthError::Missing("cnonce")),
        (Some(_), _, None) => return Err(AuthError::Missing("nc")),
        (None, Some(_), _) | (None, _, Some(_)) => return Err(AuthError::Missing("qop")),
        _ => {}
    }
    if response.len() != algorithm.hex_len() || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::Invalid("response"));
    }
    Ok(Credentials {
        username,
        realm,
        nonce,
        uri,
        response: response.to_ascii_lowercase(),
        algorithm,
        qop,
        cnonce,
        nc,
        opaque,
    })
}

fn parse_nc(nc: &str) -> Result<u32, AuthError> {
    if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::Invalid("nc"));
    }
    u32::from_str_radix(nc, 16).map_err(|_| AuthError::Invalid("nc"))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Outcome of checking credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated.
    Ok,
    /// Right response, but the nonce is expired or unknown: re-challenge with `stale=true`.
    Stale,
    /// Wrong response, realm, or no qop: 403, and a failure for the limiter.
    Wrong,
    /// Right response with an nc not above the last one accepted for this nonce.
    Replay,
}

/// Verifier settings.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub realm: String,
    pub nonce_lifetime: Duration,
    /// Most nonces tracked; issuing beyond it forgets the oldest.
    pub max_live_nonces: usize,
}

impl VerifierConfig {
    pub fn new(realm: impl Into<String>) -> Self {
        VerifierConfig {
            realm: realm.into(),
            nonce_lifetime: Duration::from_secs(300),
            max_live_nonces: 4096,
        }
    }
}

struct NonceState {
    issued: Instant,
    last_nc: u32,
}

/// Issues nonces and checks credentials against them.
pub struct Verifier {
    config: VerifierConfig,
    nonces: HashMap<String, NonceState>,
    /// Issue order, which is also expiry order since the lifetime is fixed. May hold entries
    /// already superseded by a re-issue of the same nonce; those are skipped on removal.
    order: VecDeque<(Instant, String)>,
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Self {
        Verifier {
            config,
            nonces: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Number of nonces currently tracked (expired ones linger until the next issue).
    pub fn live_nonces(&self) -> usize {
        self.nonces.len()
    }

    /// New nonce from caller-supplied random bytes, tracked from `now`.
    pub fn issue_nonce(&mut self, now: Instant, random: [u8; 16]) -> String {
        let lifetime = self.config.nonce_lifetime;
        while let Some((issued, _)) = self.order.front() {
            let expired = now.saturating_duration_since(*issued) >= lifetime;
            if !expired && self.order.len() < self.config.max_live_nonces.max(1) {
                break;
            }
            self.forget_oldest();
        }
        let nonce = to_hex(&random);
        self.nonces.insert(
            nonce.clone(),
            NonceState {
                issued: now,
                last_nc: 0,
            },
        );
        self.order.push_back((now, nonce.clone()));
        nonce
    }

    fn forget_oldest(&mut self) {
        if let Some((issued, nonce)) = self.order.pop_front() {
            if self.nonces.get(&nonce).is_some_and(|s| s.issued == issued) {
                self.nonces.remove(&nonce);
            }
        }
    }

    /// A challenge with a freshly issued nonce.
    pub fn challenge(&mut self, now: Instant, random: [u8; 16], stale: bool) -> Challenge {
        Challenge {
            realm: self.config.realm.clone(),
            nonce: self.issue_nonce(now, random),
            opaque: None,
            stale,
        }
    }

    /// Checks `creds` for a request with `method`. `stored_ha1` must be the user's HA1 for
    /// `creds.algorithm` and this realm. On [`Verdict::Ok`] the nonce's nc advances.
    pub fn verify(
        &mut self,
        method: &str,
        creds: &Credentials,
        stored_ha1: &str,
        now: Instant,
    ) -> Verdict {
        let (Some(Qop::Auth), Some(cnonce), Some(nc)) = (creds.qop, &creds.cnonce, creds.nc) else {
            return Verdict::Wrong;
        };
        if creds.realm != self.config.realm {
            return Verdict::Wrong;
        }
        let expected = compute_response(
            creds.algorithm,
            stored_ha1,
            method,
            &creds.uri,
            &creds.nonce,
            nc,
            cnonce,
        );
        if !constant_time_eq(expected.as_bytes(), creds.response.as_bytes()) {
            return Verdict::Wrong;
        }
        let lifetime = self.config.nonce_lifetime;
        let Some(state) = self.nonces.get_mut(&creds.nonce) else {
            return Verdict::Stale;
        };
        if now.saturating_duration_since(state.issued) >= lifetime {
            return Verdict::Stale;
        }
        if nc <= state.last_nc {
            return Verdict::Replay;
        }
        state.last_nc = nc;
        Verdict::Ok
    }
}

/// Limiter settings: `max_failures` within `window` of the first one blocks for `window`.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    pub max_failures: u32,
    pub window: Duration,
    /// Most addresses tracked; a new one beyond it evicts the least recently failed.
    pub max_tracked: usize,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            max_tracked: 10_000,
        }
    }
}

struct FailureRecord {
    window_start: Instant,
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

/// Counts authentication failures per source address.
pub struct FailureLimiter {
    config: LimiterConfig,
    records: HashMap<IpAddr, FailureRecord>,
}

impl FailureLimiter {
    pub fn new(config: LimiterConfig) -> Self {
        FailureLimiter {
            config,
            records: HashMap::new(),
        }
    }

    pub fn tracked(&self) -> usize {
        self.records.len()
    }

    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) {
        if !self.records.contains_key(&ip) && self.records.len() >= self.config.max_tracked.max(1) {
            self.evict_least_recent();
        }
        let window = self.config.window;
        let record = self.records.entry(ip).or_insert(FailureRecord {
            window_start: now,
            failures: 0,
            last_failure: now,
            blocked_until: None,
        });
        if record.blocked_until.is_some_and(|until| now < until) {
            // Failures while blocked do not extend the block: a spoofed UDP source must not be
            // able to lock an agent out indefinitely.
            return;
        }
        let window_over = now.saturating_duration_since(record.window_start) >= window;
        if window_over || record.blocked_until.is_some() {
            record.window_start = now;
            record.failures = 0;
            record.blocked_until = None;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        if record.failures >= self.config.max_failures {
            record.blocked_until = Some(now + window);
        }
    }

    fn evict_least_recent(&mut self) {
        let oldest = self
            .records
            .iter()
            .min_by_key(|(_, r)| r.last_failure)
            .map(|(ip, _)| *ip);
        if let Some(ip) = oldest {
            self.records.remove(&ip);
        }
    }

    /// When `ip` may try again, if it is blocked at `now` (for a `Retry-After`).
    pub fn blocked_until(&self, ip: IpAddr, now: Instant) -> Option<Instant> {
        self.records
            .get(&ip)
            .and_then(|r| r.blocked_until)
            .filter(|until| now < *until)
    }

    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.blocked_until(ip, now).is_some()
    }

    pub fn record_success(&mut self, ip: IpAddr) {
        self.records.remove(&ip);
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;

//! RFC 3261 §17 transactions as sans-IO state machines.
//!
//! Each machine is fed the current time by its caller and never reads a clock, so every timer
//! (A–K of §17 plus the 2xx retransmission of §13.3.1.4) is a fast deterministic unit test.
//! Responses are stored serialized: a retransmission is a byte copy, not a rebuild. Machines do
//! not know addresses; the endpoint sends what `poll_transmit` yields to the transaction's peer.
//! The INVITE client transaction is the one machine that reads messages: it builds the ACK for
//! a non-2xx final itself (§17.1.1.3), from its INVITE and the response's To.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::message::{Headers, Method, Request, Response};

/// The RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        SipTimers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Named deadlines in one table; the next wake-up is the earliest (STYLE.md pattern 3).
#[derive(Debug, Clone)]
struct TimerTable<const N: usize>([Option<Instant>; N]);

impl<const N: usize> Default for TimerTable<N> {
    fn default() -> Self {
        TimerTable([None; N])
    }
}

impl<const N: usize> TimerTable<N> {
    fn set(&mut self, slot: usize, at: Instant) {
        if let Some(t) = self.0.get_mut(slot) {
            *t = Some(at);
        }
    }
    fn stop(&mut self, slot: usize) {
        if let Some(t) = self.0.get_mut(slot) {
            *t = None;
        }
    }
    fn get(&self, slot: usize) -> Option<Instant> {
        self.0.get(slot).copied().flatten()
    }
    fn stop_all(&mut self) {
        self.0 = [None; N];
    }
    fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
    /// Clears and returns the first slot due at `now`.
    fn take_expired(&mut self, now: Instant) -> Option<usize> {
        let slot = self.0.iter().position(|t| t.is_some_and(|t| t <= now))?;
        self.0[slot] = None;
        Some(slot)
    }
}

/// What a transaction tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A 2xx to INVITE got no ACK within 64·T1: the call must be torn down with a BYE.
    AckTimeout,
    /// The ACK for a 2xx arrived.
    Acked,
    /// A non-2xx final response got no ACK (timer H), or a client request got no final
    /// response (timer F).
    Timeout,
    /// A client transaction received a final response with this code. An INVITE client
    /// transaction passes up every 2xx it sees (RFC 6026 §8.4): retransmissions and forks.
    Final(u16),
    /// An INVITE client transaction received a provisional response.
    Provisional(u16),
    /// Nothing more will happen; the transaction may be dropped.
    Terminated,
}

/// Serialized bytes ready for the wire.
pub type Wire = Arc<[u8]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteState {
    Proceeding,
    /// 2xx sent, retransmitting until ACK (RFC 6026 "Accepted").
    Accepted,
    /// Non-2xx final sent, retransmitting until ACK.
    Completed,
    /// ACK received, absorbing stray ACKs.
    Confirmed,
    Terminated,
}

const RETRANSMIT: usize = 0;
const GIVE_UP: usize = 1;
const LINGER: usize = 2;

/// The INVITE server transaction, extended with §13.3.1.4 2xx retransmission so the whole
/// answer-until-ACK exchange lives in one machine.
#[derive(Debug)]
pub struct ServerInvite {
    state: InviteState,
    reliable: bool,
    timers: SipTimers,
    table: TimerTable<3>,
    interval: Duration,
    last: Option<Wire>,
    transmits: VecDeque<Wire>,
    events: VecDeque<TxEvent>,
}

impl ServerInvite {
    /// A transaction for a newly received INVITE; `reliable` for TCP.
    pub fn new(reliable: bool, timers: SipTimers) -> Self {
        ServerInvite {
            state: InviteState::Proceeding,
            reliable,
            timers,
            table: TimerTable::default(),
            interval: timers.t1,
            last: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Sends a response with status `code` (already serialized).
    pub fn respond(&mut self, code: u16, wire: Wire, now: Instant) {
        if self.state != InviteState::Proceeding {
            return;
        }
        self.transmits.push_back(wire.clone());
        self.last = Some(wire);
        let t1 = self.timers.t1;
        match code {
            100..=199 => {}
            200..=299 => {
                // 2xx is retransmitted whatever the transport (§13.3.1.4).
                self.state = InviteState::Accepted;
                self.interval = t1;
                self.table.set(RETRANSMIT, now + t1);
                self.table.set(GIVE_UP, now + 64 * t1);
            }
            _ => {
                self.state = InviteState::Completed;
                if !self.reliable {
                    self.interval = t1;
                    self.table.set(RETRANSMIT, now + t1);
                }
                self.table.set(GIVE_UP, now + 64 * t1);
            }
        }
    }

    /// The INVITE arrived again: resend the last response, if any.
    pub fn handle_retransmit(&mut self) {
        if let (
            Some(last),
            InviteState::Proceeding | InviteState::Accepted | InviteState::Completed,
        ) = (&self.last, self.state)
        {
            self.transmits.push_back(last.clone());
        }
    }

    /// An ACK matched this transaction (by branch for non-2xx, by dialog for 2xx).
    pub fn handle_ack(&mut self, now: Instant) {
        match self.state {
            InviteState::Accepted => {
                self.events.push_back(TxEvent::Acked);
                self.enter_confirmed(now);
            }
            InviteState::Completed => self.enter_confirmed(now),
            _ => {}
        }
    }

    fn enter_confirmed(&mut self, now: Instant) {
        self.state = InviteState::Confirmed;
        self.table.stop_all();
        let linger = if self.reliable {
            Duration::ZERO
        } else {
            self.timers.t4
        };
        self.table.set(LINGER, now + linger);
    }

    /// True once a final response was sent.
    pub fn is_final(&self) -> bool {
        !matches!(self.state, InviteState::Proceeding)
    }

    /// True when a 2xx was sent and not yet acknowledged.
    pub fn awaiting_ack(&self) -> bool {
        self.state == InviteState::Accepted
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(slot) = self.table.take_expired(now) {
            match slot {
                RETRANSMIT => {
                    if let Some(last) = &self.last {
                        self.transmits.push_back(last.clone());
                    }
                    self.interval = (self.interval * 2).min(self.timers.t2);
                    self.table.set(RETRANSMIT, now + self.interval);
                }
                GIVE_UP => {
                    self.events
                        .push_back(if self.state == InviteState::Accepted {
                            TxEvent::AckTimeout
                        } else {
                            TxEvent::Timeout
                        });
                    self.terminate();
                }
                _ => self.terminate(),
            }
        }
    }

    fn terminate(&mut self) {
        self.state = InviteState::Terminated;
        self.table.stop_all();
        self.events.push_back(TxEvent::Terminated);
    }

    /// Bytes to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Wire> {
        self.transmits.pop_front()
    }

    /// Events for the user.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.next()
    }

    /// True when the transaction can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == InviteState::Terminated
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The non-INVITE server transaction (§17.2.2).
#[derive(Debug)]
pub struct ServerNonInvite {
    state: NonInviteState,
    reliable: bool,
    timers: SipTimers,
    timer_j: Option<Instant>,
    last: Option<Wire>,
    transmits: VecDeque<Wire>,
}

impl ServerNonInvite {
    /// A transaction for a newly received request.
    pub fn new(reliable: bool, timers: SipTimers) -> Self {
        ServerNonInvite {
            state: NonInviteState::Trying,
            reliable,
            timers,
            timer_j: None,
            last: None,
            transmits: VecDeque::new(),
        }
    }

    /// Sends a response.
    pub fn respond(&mut self, code: u16, wire: Wire, now: Instant) {
        if matches!(
            self.state,
            NonInviteState::Completed | NonInviteState::Terminated
        ) {
            return;
        }
        self.transmits.push_back(wire.clone());
        self.last = Some(wire);
        if code < 200 {
            self.state = NonInviteState::Proceeding;
        } else {
            self.state = NonInviteState::Completed;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                64 * self.timers.t1
            };
            self.timer_j = Some(now + wait);
        }
    }

    /// The request arrived again: resend the last response.
    pub fn handle_retransmit(&mut self) {
        if let Some(last) = &self.last {
            if self.state != NonInviteState::Terminated {
                self.transmits.push_back(last.clone());
            }
        }
    }

    /// Fires timer J.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|j| j <= now) {
            self.timer_j = None;
            self.state = NonInviteState::Terminated;
        }
    }

    /// Bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Wire> {
        self.transmits.pop_front()
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    /// True when the transaction can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteState::Terminated
    }
}

/// The non-INVITE client transaction (§17.1.2), for the BYE and REFER voxdesk sends.
#[derive(Debug)]
pub struct ClientNonInvite {
    state: NonInviteState,
    reliable: bool,
    timers: SipTimers,
    table: TimerTable<3>,
    interval: Duration,
    request: Wire,
    transmits: VecDeque<Wire>,
    events: VecDeque<TxEvent>,
}

const TIMER_E: usize = 0;
const TIMER_F: usize = 1;
const TIMER_K: usize = 2;

impl ClientNonInvite {
    /// Starts the transaction: the request is transmitted at once.
    pub fn new(request: Wire, reliable: bool, timers: SipTimers, now: Instant) -> Self {
        let mut table = TimerTable::default();
        if !reliable {
            table.set(TIMER_E, now + timers.t1);
        }
        table.set(TIMER_F, now + 64 * timers.t1);
        ClientNonInvite {
            state: NonInviteState::Trying,
            reliable,
            timers,
            table,
            interval: timers.t1,
            request: request.clone(),
            transmits: VecDeque::from([request]),
            events: VecDeque::new(),
        }
    }

    /// A response matched this transaction.
    pub fn handle_response(&mut self, code: u16, now: Instant) {
        match (self.state, code) {
            (NonInviteState::Trying | NonInviteState::Proceeding, 100..=199) => {
                self.state = NonInviteState::Proceeding;
            }
            (NonInviteState::Trying | NonInviteState::Proceeding, _) => {
                self.state = NonInviteState::Completed;
                self.events.push_back(TxEvent::Final(code));
                self.table.stop_all();
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                self.table.set(TIMER_K, now + wait);
            }
            _ => {}
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(slot) = self.table.take_expired(now) {
            match slot {
                TIMER_E => {
                    self.transmits.push_back(self.request.clone());
                    self.interval = if self.state == NonInviteState::Proceeding {
                        self.timers.t2
                    } else {
                        (self.interval * 2).min(self.timers.t2)
                    };
                    self.table.set(TIMER_E, now + self.interval);
                }
                TIMER_F => {
                    self.events.push_back(TxEvent::Timeout);
                    self.finish();
                }
                _ => self.finish(),
            }
        }
    }

    fn finish(&mut self) {
        self.state = NonInviteState::Terminated;
        self.table.stop_all();
        self.events.push_back(TxEvent::Terminated);
    }

    /// Bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Wire> {
        self.transmits.pop_front()
    }

    /// Events for the user.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.next()
    }

    /// True when the transaction can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteState::Terminated
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientInviteState {
    Calling,
    Proceeding,
    /// A 2xx arrived; further 2xx (retransmitted or forked) go up to the TU until timer M.
    Accepted,
    /// A non-2xx arrived and was acknowledged; absorbing its retransmissions until timer D.
    Completed,
    Terminated,
}

const CANCEL_WAIT: usize = 3;

/// Timer D: how long a non-2xx's retransmissions are re-acknowledged over UDP (§17.1.1.2).
const TIMER_D: Duration = Duration::from_secs(32);

/// The INVITE client transaction (§17.1.1 with RFC 6026's Accepted state). Its slots reuse
/// the server's names: RETRANSMIT is timer A, GIVE_UP timer B, LINGER timer D or M; one more,
/// CANCEL_WAIT, is the §9.1 limit on waiting for a final response after our CANCEL.
#[derive(Debug)]
pub struct ClientInvite {
    state: ClientInviteState,
    reliable: bool,
    timers: SipTimers,
    table: TimerTable<4>,
    interval: Duration,
    invite: Request,
    request: Wire,
    ack: Option<Wire>,
    transmits: VecDeque<Wire>,
    events: VecDeque<TxEvent>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is transmitted at once.
    pub fn new(invite: &Request, reliable: bool, timers: SipTimers, now: Instant) -> Self {
        let request: Wire = Arc::from(invite.to_bytes());
        let mut table = TimerTable::default();
        if !reliable {
            table.set(RETRANSMIT, now + timers.t1);
        }
        table.set(GIVE_UP, now + 64 * timers.t1);
        ClientInvite {
            state: ClientInviteState::Calling,
            reliable,
            timers,
            table,
            interval: timers.t1,
            invite: invite.clone(),
            request: request.clone(),
            ack: None,
            transmits: VecDeque::from([request]),
            events: VecDeque::new(),
        }
    }

    /// A response matched this transaction (by top Via branch and CSeq method).
    pub fn handle_response(&mut self, rsp: &Response, now: Instant) {
        use ClientInviteState as S;
        match (self.state, rsp.code) {
            (S::Calling | S::Proceeding, 100..=199) => {
                self.state = S::Proceeding;
                // Timer B guards only Calling: a phone may ring for minutes (§17.1.1.2).
                self.table.stop(RETRANSMIT);
                self.table.stop(GIVE_UP);
                self.events.push_back(TxEvent::Provisional(rsp.code));
            }
            (S::Calling | S::Proceeding, 200..=299) => {
                self.state = S::Accepted;
                self.table.stop_all();
                self.table.set(LINGER, now + 64 * self.timers.t1);
                self.events.push_back(TxEvent::Final(rsp.code));
            }
            (S::Accepted, 200..=299) => self.events.push_back(TxEvent::Final(rsp.code)),
            (S::Calling | S::Proceeding, _) => {
                self.state = S::Completed;
                self.table.stop_all();
                let ack: Wire = Arc::from(ack_for_non_2xx(&self.invite, rsp).to_bytes());
                self.transmits.push_back(ack.clone());
                self.ack = Some(ack);
                let linger = if self.reliable {
                    Duration::ZERO
                } else {
                    TIMER_D
                };
                self.table.set(LINGER, now + linger);
                self.events.push_back(TxEvent::Final(rsp.code));
            }
            (S::Completed, 300..=699) => {
                if let Some(ack) = &self.ack {
                    self.transmits.push_back(ack.clone());
                }
            }
            _ => {}
        }
    }

    /// Our CANCEL went out: without a final response within 64·T1 the INVITE is given up
    /// (§9.1), even in Proceeding where timer B no longer runs.
    pub fn handle_cancel_sent(&mut self, now: Instant) {
        let pending = matches!(
            self.state,
            ClientInviteState::Calling | ClientInviteState::Proceeding
        );
        if pending && self.table.get(CANCEL_WAIT).is_none() {
            self.table.set(CANCEL_WAIT, now + 64 * self.timers.t1);
        }
    }

    /// True once any response arrived (a CANCEL may be sent, §9.1).
    pub fn has_response(&self) -> bool {
        self.state != ClientInviteState::Calling
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(slot) = self.table.take_expired(now) {
            match slot {
                RETRANSMIT => {
                    self.transmits.push_back(self.request.clone());
                    // Timer A doubles without the T2 cap of non-INVITE requests.
                    self.interval *= 2;
                    self.table.set(RETRANSMIT, now + self.interval);
                }
                GIVE_UP | CANCEL_WAIT => {
                    self.events.push_back(TxEvent::Timeout);
                    self.terminate();
                }
                _ => self.terminate(),
            }
        }
    }

    fn terminate(&mut self) {
        self.state = ClientInviteState::Terminated;
        self.table.stop_all();
        self.events.push_back(TxEvent::Terminated);
    }

    /// Bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Wire> {
        self.transmits.pop_front()
    }

    /// Events for the user.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.next()
    }

    /// True when the transaction can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, top Via,
/// From, Call-ID, CSeq number and Route, with the response's To (carrying its tag).
pub fn ack_for_non_2xx(invite: &Request, rsp: &Response) -> Request {
    let mut headers = Headers::default();
    if let Some(via) = invite.headers.get_all("Via").first() {
        headers.push("Via", *via);
    }
    headers.push("Max-Forwards", "70");
    for route in invite.headers.get_all("Route") {
        headers.push("Route", route);
    }
    headers.push("From", invite.headers.get("From").unwrap_or(""));
    headers.push("To", rsp.headers.get("To").unwrap_or(""));
    headers.push("Call-ID", invite.call_id());
    headers.push("CSeq", format!("{} ACK", invite.cseq().0));
    Request {
        method: Method::Known(rsip::Method::Ack),
        uri: invite.uri.clone(),
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(s: &str) -> Wire {
        Arc::from(s.as_bytes())
    }

    fn drain_sends(tx: &mut ServerInvite) -> usize {
        std::iter::from_fn(|| tx.poll_transmit()).count()
    }

    /// Steps virtual time to each deadline up to `until`, returning the send times.
    fn run_invite(tx: &mut ServerInvite, start: Instant, until: Duration) -> Vec<Duration> {
        let mut sends = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            if at > start + until {
                break;
            }
            tx.handle_timeout(at);
            for _ in 0..drain_sends(tx) {
                sends.push(at - start);
            }
        }
        sends
    }

    #[test]
    fn ok_retransmits_doubling_to_t2_then_ack_timeout_at_64_t1() {
        let now = Instant::now();
        let mut tx = ServerInvite::new(false, SipTimers::default());
        tx.respond(200, wire("200"), now);
        assert_eq!(drain_sends(&mut tx), 1);
        let sends = run_invite(&mut tx, now, Duration::from_secs(40));
        let ms: Vec<u128> = sends.iter().map(|d| d.as_millis()).collect();
        assert_eq!(
            ms[..7],
            [500, 1500, 3500, 7500, 11500, 15500, 19500],
            "T1, doubling, capped at T2"
        );
        assert_eq!(tx.poll_event(), Some(TxEvent::AckTimeout));
        assert_eq!(tx.poll_event(), Some(TxEvent::Terminated));
        assert!(tx.is_terminated());
    }

    #[test]
    fn ack_stops_ok_retransmissions() {
        let now = Instant::now();
        let mut tx = ServerInvite::new(false, SipTimers::default());
        tx.respond(200, wire("200"), now);
        drain_sends(&mut tx);
        tx.handle_timeout(now + Duration::from_millis(500));
        assert_eq!(drain_sends(&mut tx), 1);
        tx.handle_ack(now + Duration::from_millis(700));
        assert_eq!(tx.poll_event(), Some(TxEvent::Acked));
        let later = run_invite(&mut tx, now, Duration::from_secs(60));
        assert!(later.is_empty(), "no retransmission after ACK");
        assert!(tx.is_terminated());
    }

    #[test]
    fn retransmitted_invite_gets_last_response_not_a_new_one() {
        let now = Instant::now();
        let mut tx = ServerInvite::new(false, SipTimers::default());
        tx.handle_retransmit();
        assert_eq!(tx.poll_transmit(), None);
        tx.respond(100, wire("100"), now);
        tx.handle_retransmit();
        assert_eq!(tx.poll_transmit(), Some(wire("100")));
        assert_eq!(tx.poll_transmit(), Some(wire("100")));
        tx.respond(486, wire("486"), now);
        tx.handle_retransmit();
        assert_eq!(tx.poll_transmit(), Some(wire("486")));
        assert_eq!(tx.poll_transmit(), Some(wire("486")));
    }

    #[test]
    fn non_2xx_without_ack_times_out_by_timer_h() {
        let now = Instant::now();
        let mut tx = ServerInvite::new(false, SipTimers::default());
        tx.respond(487, wire("487"), now);
        drain_sends(&mut tx);
        let sends = run_invite(&mut tx, now, Duration::from_secs(33));
        assert_eq!(sends.first(), Some(&Duration::from_millis(500)));
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
        assert!(tx.is_terminated());
    }

    #[test]
    fn non_2xx_over_tcp_is_not_retransmitted_and_ack_ends_at_once() {
        let now = Instant::now();
        let mut tx = ServerInvite::new(true, SipTimers::default());
        tx.respond(488, wire("488"), now);
        drain_sends(&mut tx);
        tx.handle_ack(now);
        tx.handle_timeout(now);
        assert!(tx.is_terminated());
        assert_eq!(drain_sends(&mut tx), 0);
    }

    #[test]
    fn non_invite_server_absorbs_retransmits_until_timer_j() {
        let now = Instant::now();
        let mut tx = ServerNonInvite::new(false, SipTimers::default());
        tx.respond(200, wire("200"), now);
        assert_eq!(tx.poll_transmit(), Some(wire("200")));
        tx.handle_retransmit();
        assert_eq!(tx.poll_transmit(), Some(wire("200")));
        tx.handle_timeout(now + Duration::from_secs(31));
        assert!(!tx.is_terminated());
        tx.handle_timeout(now + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }

    #[test]
    fn client_non_invite_retransmits_and_times_out_by_timer_f() {
        let now = Instant::now();
        let mut tx = ClientNonInvite::new(wire("BYE"), false, SipTimers::default(), now);
        assert_eq!(tx.poll_transmit(), Some(wire("BYE")));
        let mut sends = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            while tx.poll_transmit().is_some() {
                sends.push((at - now).as_millis());
            }
        }
        assert_eq!(sends[..5], [500, 1500, 3500, 7500, 11500]);
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
        assert!(tx.is_terminated());
    }

    #[test]
    fn client_non_invite_final_response_stops_retransmits() {
        let now = Instant::now();
        let mut tx = ClientNonInvite::new(wire("BYE"), false, SipTimers::default(), now);
        tx.poll_transmit();
        tx.handle_response(100, now);
        tx.handle_timeout(now + Duration::from_millis(500));
        assert_eq!(tx.poll_transmit(), Some(wire("BYE")));
        assert_eq!(
            tx.poll_timeout(),
            Some(now + Duration::from_millis(4500)),
            "Proceeding retransmits at T2"
        );
        tx.handle_response(200, now + Duration::from_secs(1));
        assert_eq!(tx.poll_event(), Some(TxEvent::Final(200)));
        tx.handle_timeout(now + Duration::from_secs(6));
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_transmit(), None);
    }
    fn client_invite_request() -> Request {
        let text = "INVITE sip:agent@10.0.0.5:5062 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc1;rport\r\n\
            Max-Forwards: 70\r\nRoute: <sip:10.0.0.1;lr>\r\n\
            From: <sip:voxdesk@127.0.0.1>;tag=f1\r\nTo: <sip:agent@10.0.0.5>\r\n\
            Call-ID: out-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        match crate::sip::message::parse(text.as_bytes(), 9000) {
            Ok(crate::sip::message::Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn response(code: u16, to_tag: &str) -> Response {
        let mut rsp = crate::sip::message::response_to(
            &client_invite_request(),
            code,
            "Reason",
            Some(to_tag),
        );
        rsp.headers.push("Contact", "<sip:agent@10.0.0.5:5062>");
        rsp
    }

    fn client_sends(tx: &mut ClientInvite, start: Instant, until: Duration) -> Vec<u128> {
        let mut sends = Vec::new();
        while let Some(at) = tx.poll_timeout().filter(|at| *at <= start + until) {
            tx.handle_timeout(at);
            while tx.poll_transmit().is_some() {
                sends.push((at - start).as_millis());
            }
        }
        sends
    }

    #[test]
    fn client_invite_timer_a_doubles_uncapped_until_timer_b() {
        let now = Instant::now();
        let mut tx = ClientInvite::new(&client_invite_request(), false, SipTimers::default(), now);
        assert!(tx.poll_transmit().is_some(), "sent at once");
        let sends = client_sends(&mut tx, now, Duration::from_secs(60));
        assert_eq!(sends, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout), "timer B at 64*T1");
        assert_eq!(tx.poll_event(), Some(TxEvent::Terminated));
        assert!(tx.is_terminated());
    }

    #[test]
    fn client_invite_over_tcp_never_retransmits_but_still_times_out() {
        let now = Instant::now();
        let mut tx = ClientInvite::new(&client_invite_request(), true, SipTimers::default(), now);
        tx.poll_transmit();
        assert_eq!(tx.poll_timeout(), Some(now + Duration::from_secs(32)));
        assert!(client_sends(&mut tx, now, Duration::from_secs(60)).is_empty());
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
    }

    #[test]
    fn provisional_stops_timers_a_and_b() {
        let now = Instant::now();
        let mut tx = ClientInvite::new(&client_invite_request(), false, SipTimers::default(), now);
        tx.poll_transmit();
        assert!(!tx.has_response());
        tx.handle_response(&response(180, "r1"), now + Duration::from_millis(200));
        assert!(tx.has_response());
        assert_eq!(tx.poll_event(), Some(TxEvent::Provisional(180)));
        assert_eq!(tx.poll_timeout(), None, "ringing may last any time");
        // After our CANCEL, 64*T1 is the most we wait for the 487 (§9.1).
        tx.handle_cancel_sent(now + Duration::from_secs(10));
        assert_eq!(tx.poll_timeout(), Some(now + Duration::from_secs(42)));
        tx.handle_timeout(now + Duration::from_secs(42));
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
        assert!(tx.is_terminated());
    }

    #[test]
    fn non_2xx_is_acked_on_the_invite_branch_until_timer_d() {
        for (reliable, linger) in [(false, 32), (true, 0)] {
            let now = Instant::now();
            let invite = client_invite_request();
            let mut tx = ClientInvite::new(&invite, reliable, SipTimers::default(), now);
            tx.poll_transmit();
            tx.handle_response(&response(486, "busy"), now);
            assert_eq!(tx.poll_event(), Some(TxEvent::Final(486)));
            let ack = tx.poll_transmit().expect("ACK sent by the transaction");
            let Ok(crate::sip::message::Message::Request(ack)) =
                crate::sip::message::parse(&ack, 9000)
            else {
                panic!("ACK does not parse");
            };
            assert!(ack.method.is(rsip::Method::Ack));
            assert_eq!(ack.uri, invite.uri);
            assert_eq!(ack.branch(), "z9hG4bKc1", "same branch as the INVITE");
            assert_eq!(ack.headers.get("CSeq"), Some("1 ACK"));
            assert_eq!(ack.headers.get("To"), Some("<sip:agent@10.0.0.5>;tag=busy"));
            assert_eq!(ack.headers.get("Route"), Some("<sip:10.0.0.1;lr>"));
            assert_eq!(ack.headers.get_all("Via").len(), 1);
            // A retransmitted 486 is acknowledged again and not reported twice.
            tx.handle_response(&response(486, "busy"), now + Duration::from_secs(1));
            assert!(tx.poll_transmit().is_some());
            assert_eq!(tx.poll_event(), None);
            assert_eq!(
                tx.poll_timeout(),
                Some(now + Duration::from_secs(linger)),
                "timer D"
            );
            tx.handle_timeout(now + Duration::from_secs(linger));
            assert!(tx.is_terminated());
        }
    }

    #[test]
    fn every_2xx_goes_up_until_timer_m_and_nothing_is_acked_here() {
        let now = Instant::now();
        let mut tx = ClientInvite::new(&client_invite_request(), false, SipTimers::default(), now);
        tx.poll_transmit();
        tx.handle_response(&response(200, "a"), now);
        tx.handle_response(&response(200, "a"), now + Duration::from_secs(1));
        tx.handle_response(&response(200, "fork"), now + Duration::from_secs(2));
        tx.handle_response(&response(486, "late"), now + Duration::from_secs(2));
        let events: Vec<TxEvent> = std::iter::from_fn(|| tx.poll_event()).collect();
        assert_eq!(events, vec![TxEvent::Final(200); 3]);
        assert_eq!(tx.poll_transmit(), None, "the TU acknowledges 2xx");
        assert_eq!(tx.poll_timeout(), Some(now + Duration::from_secs(32)));
        tx.handle_timeout(now + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }
}

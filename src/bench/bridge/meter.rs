//! Sans-IO bridge latency meter. The bench owns the RTP endpoints of both legs of every bridged
//! call; each sent frame carries a marker (which bench socket sent it, and a frame counter) in
//! its µ-law payload. voxdesk decodes, queues and re-encodes the frame for the other leg, and
//! µ-law → linear → µ-law gives the same bytes back, so the marker arrives intact on the other
//! leg. Latency = arrival of the marked frame on one leg − its send time on the other.
//!
//! Frames without a marker (silence while an input queue is dry, hold music) are counted, not
//! timed. A marker that shows up at a socket of its own side, or at two different sockets of
//! the other side, is counted as misrouted: a bridge that crosses calls would show up there.

use std::time::{Duration, Instant};

use crate::media::rtp::RtpPacket;
use crate::media::{Codec, FRAME_SAMPLES};

/// Marks a frame as one of the bench's (all bytes survive a µ-law round trip).
const MAGIC: [u8; 4] = [0xA5, 0x5A, 0xC3, 0x3C];
/// Nibbles are written as `NIBBLE_BASE | nibble`: never 0x7F (µ-law's "-0", which comes back
/// as 0xFF), and a byte outside this range means "not a marker".
const NIBBLE_BASE: u8 = 0xE0;
/// Magic, 4 nibbles of sender index, 8 nibbles of frame counter.
const MARKER_LEN: usize = MAGIC.len() + 4 + 8;
/// Send times kept per sender: a frame later than this many frames is not matched.
const SENT_RING: usize = 64;
/// Histogram resolution and span; longer latencies land in the last bucket (max kept apart).
const BUCKET_US: u64 = 50;
const BUCKETS: usize = 40_000;

/// Which way a frame went through the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent on the caller leg, received on the agent leg.
    CallerToAgent,
    /// Sent on the agent leg, received on the caller leg.
    AgentToCaller,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::CallerToAgent => 0,
            Direction::AgentToCaller => 1,
        }
    }
}

/// A 20 ms µ-law payload carrying `sender` and `counter`, over a quiet 400 Hz tone.
pub fn marked_payload(sender: u16, counter: u32) -> Vec<u8> {
    let tone: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (1000.0 * (t * 400.0 * std::f64::consts::TAU).sin()) as i16
        })
        .collect();
    let mut payload = Codec::Pcmu.encode(&tone);
    let mut marker = MAGIC.to_vec();
    marker.extend(nibbles(u64::from(sender), 4));
    marker.extend(nibbles(u64::from(counter), 8));
    for (slot, byte) in payload.iter_mut().zip(marker) {
        *slot = byte;
    }
    payload
}

fn nibbles(value: u64, count: u32) -> impl Iterator<Item = u8> {
    (0..count)
        .rev()
        .map(move |i| NIBBLE_BASE | ((value >> (4 * i)) & 0xF) as u8)
}

/// The `(sender, counter)` a payload carries, if it is a marked frame.
pub fn read_marker(payload: &[u8]) -> Option<(u16, u32)> {
    let marker = payload.get(..MARKER_LEN)?;
    let (magic, digits) = marker.split_at(MAGIC.len());
    if magic != MAGIC {
        return None;
    }
    let mut value = 0u64;
    for &byte in digits {
        if byte & 0xF0 != NIBBLE_BASE {
            return None;
        }
        value = (value << 4) | u64::from(byte & 0x0F);
    }
    let sender = u16::try_from(value >> 32).ok()?;
    Some((sender, value as u32))
}

/// Figures of one direction since the last reset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySummary {
    /// Marked frames matched to their send time.
    pub matched: u64,
    /// Marked frames whose send time was no longer (or never) known.
    pub unmatched: u64,
    /// Frames without a marker (silence, music).
    pub unmarked: u64,
    /// Marked frames that arrived where they should not (own side, or a second socket).
    pub misrouted: u64,
    /// Median latency, microseconds (lower bucket edge).
    pub p50_us: u64,
    /// 99th percentile, microseconds.
    pub p99_us: u64,
    /// Largest, microseconds.
    pub max_us: u64,
}

#[derive(Debug, Clone)]
struct Histogram {
    counts: Vec<u64>,
    summary: LatencySummary,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            summary: LatencySummary::default(),
        }
    }
}

impl Histogram {
    fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = usize::try_from(us / BUCKET_US)
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
        self.summary.matched += 1;
        self.summary.max_us = self.summary.max_us.max(us);
    }

    fn percentile(&self, p: u64) -> u64 {
        let total = self.summary.matched;
        if total == 0 {
            return 0;
        }
        let rank = (total * p).div_ceil(100).max(1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket as u64 * BUCKET_US;
            }
        }
        self.summary.max_us
    }

    fn summary(&self) -> LatencySummary {
        LatencySummary {
            p50_us: self.percentile(50),
            p99_us: self.percentile(99),
            ..self.summary.clone()
        }
    }
}

/// The meter over `callers` caller-side sockets (indices `0..callers`) and as many agent-side
/// sockets after them. Bounded: fixed arrays sized at construction.
#[derive(Debug, Clone)]
pub struct BridgeMeter {
    callers: usize,
    sent: Vec<[Option<(u32, Instant)>; SENT_RING]>,
    /// The receiving socket each sender's frames first arrived at.
    route: Vec<Option<usize>>,
    directions: [Histogram; 2],
}

impl BridgeMeter {
    /// A meter for `calls` bridged calls (`2 × calls` sockets).
    pub fn new(calls: usize) -> BridgeMeter {
        BridgeMeter {
            callers: calls,
            sent: vec![[None; SENT_RING]; calls * 2],
            route: vec![None; calls * 2],
            directions: [Histogram::default(), Histogram::default()],
        }
    }

    fn direction_of(&self, sender: usize) -> Direction {
        if sender < self.callers {
            Direction::CallerToAgent
        } else {
            Direction::AgentToCaller
        }
    }

    /// Socket `sender` sent frame `counter` at `now`.
    pub fn handle_sent(&mut self, sender: usize, counter: u32, now: Instant) {
        if let Some(ring) = self.sent.get_mut(sender) {
            if let Some(slot) = ring.get_mut(counter as usize % SENT_RING) {
                *slot = Some((counter, now));
            }
        }
    }

    /// A datagram arrived at socket `receiver` at `now`.
    pub fn handle_received(&mut self, receiver: usize, datagram: &[u8], now: Instant) {
        let receiver_side = self.direction_of(receiver);
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return;
        };
        let Some((sender, counter)) = read_marker(&packet.payload) else {
            // The direction this socket receives is the other side's.
            let direction = match receiver_side {
                Direction::CallerToAgent => Direction::AgentToCaller,
                Direction::AgentToCaller => Direction::CallerToAgent,
            };
            self.directions[direction.index()].summary.unmarked += 1;
            return;
        };
        let sender = usize::from(sender);
        if sender >= self.sent.len() {
            return;
        }
        let direction = self.direction_of(sender);
        let histogram = &mut self.directions[direction.index()];
        let first = *self.route[sender].get_or_insert(receiver);
        if direction == receiver_side || first != receiver {
            histogram.summary.misrouted += 1;
            return;
        }
        let sent = self.sent[sender]
            .get(counter as usize % SENT_RING)
            .copied()
            .flatten();
        match sent {
            Some((at_counter, at)) if at_counter == counter => {
                histogram.record(now.saturating_duration_since(at));
            }
            _ => histogram.summary.unmatched += 1,
        }
    }

    /// Senders whose frames reached the other side in `direction` (bridged streams).
    pub fn bridged(&self, direction: Direction) -> usize {
        self.route
            .iter()
            .enumerate()
            .filter(|(sender, route)| route.is_some() && self.direction_of(*sender) == direction)
            .count()
    }

    /// Starts the measured window (routes and send times are kept).
    pub fn reset(&mut self) {
        self.directions = [Histogram::default(), Histogram::default()];
    }

    /// Figures of `direction` since the last reset.
    pub fn summary(&self, direction: Direction) -> LatencySummary {
        self.directions[direction.index()].summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{RtpSender, SeqNo};
    use proptest::prelude::*;

    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut tx = RtpSender::with_state(0, 1, SeqNo(1), 0).unwrap();
        tx.next(payload, 160, false)
    }

    /// What voxdesk does to a frame it bridges between two µ-law legs.
    fn through_bridge(payload: &[u8]) -> Vec<u8> {
        Codec::Pcmu.encode(&Codec::Pcmu.decode(payload))
    }

    #[test]
    fn markers_survive_a_ulaw_round_trip() {
        for (sender, counter) in [(0, 0), (1, 7), (399, 123_456), (u16::MAX, u32::MAX)] {
            let payload = marked_payload(sender, counter);
            assert_eq!(payload.len(), FRAME_SAMPLES);
            assert_eq!(through_bridge(&payload), payload);
            assert_eq!(read_marker(&payload), Some((sender, counter)));
        }
    }

    #[test]
    fn other_frames_are_not_markers() {
        let silence = vec![Codec::Pcmu.silence_byte(); FRAME_SAMPLES];
        assert_eq!(read_marker(&silence), None);
        assert_eq!(read_marker(&MAGIC), None);
        let mut bad_digit = marked_payload(3, 4);
        bad_digit[6] = 0x12;
        assert_eq!(read_marker(&bad_digit), None);
    }

    #[test]
    fn latency_is_matched_per_sender_and_direction() {
        let base = Instant::now();
        let ms = |n: u64| base + Duration::from_millis(n);
        // Two calls: callers are sockets 0 and 1, agents 2 and 3.
        let mut meter = BridgeMeter::new(2);
        meter.handle_sent(0, 5, ms(0));
        meter.handle_sent(3, 9, ms(1));
        meter.handle_received(2, &packet(&marked_payload(0, 5)), ms(60));
        meter.handle_received(1, &packet(&marked_payload(3, 9)), ms(81));
        // Unknown counter, silence, a frame of caller 0 at the other agent socket, and one
        // back at a caller socket.
        meter.handle_received(2, &packet(&marked_payload(0, 6)), ms(90));
        meter.handle_received(2, &packet(&[0xFF; 160]), ms(90));
        meter.handle_received(3, &packet(&marked_payload(0, 5)), ms(90));
        meter.handle_received(1, &packet(&marked_payload(0, 5)), ms(90));
        meter.handle_received(2, b"junk", ms(90));

        let there = meter.summary(Direction::CallerToAgent);
        assert_eq!((there.matched, there.unmatched, there.misrouted), (1, 1, 2));
        assert_eq!((there.p50_us, there.max_us), (60_000, 60_000));
        let back = meter.summary(Direction::AgentToCaller);
        assert_eq!((back.matched, back.unmarked, back.p99_us), (1, 0, 80_000));
        assert_eq!(there.unmarked, 1);
        assert_eq!(meter.bridged(Direction::CallerToAgent), 1);
        assert_eq!(meter.bridged(Direction::AgentToCaller), 1);

        meter.reset();
        assert_eq!(
            meter.summary(Direction::CallerToAgent),
            LatencySummary::default()
        );
        assert_eq!(meter.bridged(Direction::CallerToAgent), 1, "routes survive");
    }

    #[test]
    fn percentiles_of_a_spread() {
        let base = Instant::now();
        let mut meter = BridgeMeter::new(1);
        for i in 0..100u32 {
            let sent = base + Duration::from_millis(u64::from(i) * 20);
            meter.handle_sent(0, i, sent);
            let delay = if i == 99 {
                500
            } else {
                40 + u64::from(i % 2) * 20
            };
            let payload = marked_payload(0, i);
            meter.handle_received(1, &packet(&payload), sent + Duration::from_millis(delay));
        }
        let s = meter.summary(Direction::CallerToAgent);
        assert_eq!(
            (s.matched, s.p50_us, s.p99_us, s.max_us),
            (100, 40_000, 60_000, 500_000)
        );
    }

    proptest! {
        #[test]
        fn any_datagram_is_handled_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), receiver in 0usize..6) {
            let mut meter = BridgeMeter::new(2);
            meter.handle_received(receiver, &bytes, Instant::now());
            let _ = read_marker(&bytes);
        }
    }
}

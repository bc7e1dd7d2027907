//! A small sans-IO jitter buffer for one incoming stream of 20 ms audio frames.
//!
//! Packets are slotted by sequence number relative to the next frame to play; the playout
//! clock calls [`JitterBuffer::pop`] every 20 ms. Playout starts once `depth` frames are
//! buffered (or the first one has waited `depth` × 20 ms), so reordering within that window is
//! undone. Playout is sequence-driven: a silence-suppressed pause (timestamps jump, sequence
//! numbers do not) simply empties the buffer and the next talk spurt re-buffers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::rtp::{RtpPacket, SeqNo};
use super::SAMPLE_RATE;

/// Playout tick length.
const FRAME: Duration = Duration::from_millis(20);
/// A sequence jump larger than this (either way) is a restarted stream, not reordering.
const MAX_SEQ_JUMP: i32 = 100;
/// The buffer holds at most `depth * MAX_SPAN_FACTOR` frames ahead of playout.
const MAX_SPAN_FACTOR: usize = 4;

/// Counters of what the buffer saw; cheap to copy out every tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JitterStats {
    /// Every packet pushed.
    pub received: u64,
    /// Packets handed to playout.
    pub played: u64,
    /// Slots that playout passed (or skipped) without a packet.
    pub lost: u64,
    /// Packets that arrived after their slot was played out (they were also counted lost).
    pub late: u64,
    /// Packets that arrived after a newer one and were put back in order.
    pub reordered: u64,
    /// Copies of a packet still waiting in the buffer.
    pub duplicates: u64,
    /// Buffered packets thrown away because the sender ran too far ahead of playout.
    pub overflow_dropped: u64,
    /// Times the buffer restarted on a new SSRC or a large sequence jump.
    pub resyncs: u64,
    /// Times playout found the buffer empty and went back to buffering.
    pub underruns: u64,
    /// RFC 3550 interarrival jitter estimate, in microseconds.
    pub jitter_us: u64,
}

/// Reorders and paces incoming audio packets; see the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    depth: usize,
    max_span: usize,
    /// `slots[0]` is the frame with sequence number `next_play`.
    slots: VecDeque<Option<RtpPacket>>,
    next_play: SeqNo,
    highest: SeqNo,
    ssrc: Option<u32>,
    buffered: usize,
    playing: bool,
    buffering_since: Option<Instant>,
    /// Arrival time and RTP timestamp of the previous packet, for the jitter estimate.
    last_arrival: Option<(Instant, u32)>,
    /// RFC 3550 J, in timestamp units.
    jitter: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer that delays playout by `depth` frames (3 = 60 ms is typical).
    pub fn new(depth: usize) -> JitterBuffer {
        let depth = depth.max(1);
        JitterBuffer {
            depth,
            max_span: depth * MAX_SPAN_FACTOR,
            slots: VecDeque::new(),
            next_play: SeqNo(0),
            highest: SeqNo(0),
            ssrc: None,
            buffered: 0,
            playing: false,
            buffering_since: None,
            last_arrival: None,
            jitter: 0.0,
            stats: JitterStats::default(),
        }
    }

    /// Takes one received audio packet.
    pub fn push(&mut self, pkt: RtpPacket, now: Instant) {
        self.stats.received += 1;
        if self.ssrc != Some(pkt.ssrc) {
            self.resync(pkt, now);
            return;
        }
        let offset = pkt.seq.diff(self.next_play);
        if offset.abs() > MAX_SEQ_JUMP {
            self.resync(pkt, now);
            return;
        }
        self.update_jitter(&pkt, now);
        let Ok(mut index) = usize::try_from(offset) else {
            self.stats.late += 1;
            return;
        };
        if matches!(self.slots.get(index), Some(Some(_))) {
            self.stats.duplicates += 1;
            return;
        }
        if self.highest.is_newer_than(pkt.seq) {
            self.stats.reordered += 1;
        } else {
            self.highest = pkt.seq;
        }
        if index >= self.max_span {
            let skip = index + 1 - self.max_span;
            self.skip_forward(skip);
            index -= skip;
        }
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(pkt);
            self.buffered += 1;
        }
        self.buffering_since.get_or_insert(now);
    }

    /// The frame due now (called every 20 ms). `None` means play concealment: the frame is
    /// lost, not here yet, or the buffer is still filling.
    pub fn pop(&mut self, now: Instant) -> Option<RtpPacket> {
        if !self.playing {
            let waited = self.buffering_since.is_some_and(|since| {
                now.saturating_duration_since(since) >= FRAME * self.depth as u32
            });
            if self.buffered == 0 || (self.slots.len() < self.depth && !waited) {
                return None;
            }
            self.playing = true;
        }
        if self.buffered == 0 {
            self.playing = false;
            self.buffering_since = None;
            self.stats.underruns += 1;
            return None;
        }
        self.next_play = self.next_play.next();
        match self.slots.pop_front().flatten() {
            Some(pkt) => {
                self.buffered -= 1;
                self.stats.played += 1;
                Some(pkt)
            }
            None => {
                self.stats.lost += 1;
                None
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            jitter_us: (self.jitter * 1_000_000.0 / f64::from(SAMPLE_RATE)) as u64,
            ..self.stats
        }
    }

    /// Frames currently held.
    pub fn len(&self) -> usize {
        self.buffered
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    fn resync(&mut self, pkt: RtpPacket, now: Instant) {
        if self.ssrc.is_some() {
            self.stats.resyncs += 1;
        }
        self.ssrc = Some(pkt.ssrc);
        self.next_play = pkt.seq;
        self.highest = pkt.seq;
        self.playing = false;
        self.buffering_since = Some(now);
        self.last_arrival = Some((now, pkt.timestamp));
        self.slots.clear();
        self.slots.push_back(Some(pkt));
        self.buffered = 1;
    }

    /// Drops the `count` oldest slots so a packet far ahead fits.
    fn skip_forward(&mut self, count: usize) {
        for _ in 0..count {
            match self.slots.pop_front().flatten() {
                Some(_) => {
                    self.buffered -= 1;
                    self.stats.overflow_dropped += 1;
                }
                None => self.stats.lost += 1,
            }
            self.next_play = self.next_play.next();
        }
    }

    fn update_jitter(&mut self, pkt: &RtpPacket, now: Instant) {
        if let Some((prev_arrival, prev_ts)) = self.last_arrival {
            let arrival_secs = if now >= prev_arrival {
                (now - prev_arrival).as_secs_f64()
            } else {
                -(prev_arrival - now).as_secs_f64()
            };
            let arrival_delta = arrival_secs * f64::from(SAMPLE_RATE);
            let ts_delta = f64::from(pkt.timestamp.wrapping_sub(prev_ts) as i32);
            let d = (arrival_delta - ts_delta).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_arrival = Some((now, pkt.timestamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SSRC: u32 = 0x1234;

    struct Sim {
        jb: JitterBuffer,
        base: Instant,
    }

    impl Sim {
        fn new(depth: usize) -> Sim {
            Sim {
                jb: JitterBuffer::new(depth),
                base: Instant::now(),
            }
        }

        fn at(&self, ms: u64) -> Instant {
            self.base + Duration::from_millis(ms)
        }

        fn push_from(&mut self, ssrc: u32, seq: u16, ms: u64) {
            let pkt = RtpPacket {
                payload_type: 0,
                marker: false,
                seq: SeqNo(seq),
                timestamp: u32::from(seq).wrapping_mul(160),
                ssrc,
                payload: vec![0xFF; 160],
            };
            let now = self.at(ms);
            self.jb.push(pkt, now);
        }

        fn push(&mut self, seqs: &[u16], ms: u64) {
            for &seq in seqs {
                self.push_from(SSRC, seq, ms);
            }
        }

        /// Pops `n` ticks starting at `ms`, 20 ms apart.
        fn pop(&mut self, n: usize, ms: u64) -> Vec<Option<u16>> {
            (0..n as u64)
                .map(|i| {
                    let now = self.at(ms + 20 * i);
                    self.jb.pop(now).map(|p| p.seq.0)
                })
                .collect()
        }
    }

    #[test]
    fn in_order_stream_plays_after_depth_frames() {
        let mut sim = Sim::new(3);
        let mut played = Vec::new();
        for i in 0..10u16 {
            sim.push(&[100 + i], 20 * u64::from(i));
            played.extend(sim.pop(1, 20 * u64::from(i)));
        }
        let want: Vec<Option<u16>> = [None, None]
            .into_iter()
            .chain((100..108).map(Some))
            .collect();
        assert_eq!(played, want);
        let stats = sim.jb.stats();
        assert_eq!((stats.received, stats.played, stats.lost), (10, 8, 0));
        assert_eq!(stats.jitter_us, 0);
    }

    #[test]
    fn scenarios() {
        struct Case {
            name: &'static str,
            pushes: &'static [u16],
            want: &'static [Option<u16>],
            check: fn(JitterStats) -> bool,
        }
        let cases = [
            Case {
                name: "reorder within window",
                pushes: &[1, 3, 2, 4, 5],
                want: &[Some(1), Some(2), Some(3), Some(4), Some(5), None],
                check: |s| s.reordered == 1 && s.lost == 0,
            },
            Case {
                name: "loss",
                pushes: &[1, 2, 4, 5],
                want: &[Some(1), Some(2), None, Some(4), Some(5), None],
                check: |s| s.lost == 1 && s.underruns == 1,
            },
            Case {
                name: "duplicate",
                pushes: &[1, 1, 2, 3, 2],
                want: &[Some(1), Some(2), Some(3), None],
                check: |s| s.duplicates == 2 && s.received == 5 && s.played == 3,
            },
            Case {
                name: "seq wrap",
                pushes: &[65534, 0, 65535, 1],
                want: &[Some(65534), Some(65535), Some(0), Some(1)],
                check: |s| s.reordered == 1 && s.resyncs == 0,
            },
        ];
        for case in cases {
            let mut sim = Sim::new(3);
            sim.push(case.pushes, 0);
            assert_eq!(sim.pop(case.want.len(), 0), case.want, "{}", case.name);
            let stats = sim.jb.stats();
            assert!((case.check)(stats), "{}: {stats:?}", case.name);
        }
    }

    #[test]
    fn late_packet_is_counted_and_dropped() {
        let mut sim = Sim::new(3);
        sim.push(&[1, 3, 4], 0);
        assert_eq!(sim.pop(2, 0), [Some(1), None]);
        sim.push(&[2], 40);
        assert_eq!(sim.pop(2, 40), [Some(3), Some(4)]);
        let stats = sim.jb.stats();
        assert_eq!((stats.late, stats.lost, stats.played), (1, 1, 3));
    }

    #[test]
    fn lone_packet_plays_after_waiting_depth_frames() {
        let mut sim = Sim::new(3);
        sim.push(&[7], 0);
        assert_eq!(sim.pop(4, 0), [None, None, None, Some(7)]);
    }

    #[test]
    fn underrun_rebuffers_without_counting_loss() {
        let mut sim = Sim::new(2);
        sim.push(&[1, 2], 0);
        assert_eq!(sim.pop(3, 0), [Some(1), Some(2), None]);
        // Silence suppression: the next spurt continues the sequence after a pause.
        sim.push(&[3, 4], 1000);
        assert_eq!(sim.pop(2, 1000), [Some(3), Some(4)]);
        let stats = sim.jb.stats();
        assert_eq!((stats.lost, stats.underruns), (0, 1));
    }

    #[test]
    fn ssrc_change_resyncs() {
        let mut sim = Sim::new(2);
        sim.push(&[1, 2, 3], 0);
        assert_eq!(sim.pop(1, 0), [Some(1)]);
        sim.push_from(99, 5000, 20);
        sim.push_from(99, 5001, 20);
        assert_eq!(sim.pop(2, 20), [Some(5000), Some(5001)]);
        assert_eq!(sim.jb.stats().resyncs, 1);
    }

    #[test]
    fn big_seq_jump_resyncs_both_ways() {
        for jump_to in [1000u16, 60000] {
            let mut sim = Sim::new(2);
            sim.push(&[10, 11], 0);
            sim.push(&[jump_to, jump_to + 1], 20);
            assert_eq!(
                sim.pop(2, 20),
                [Some(jump_to), Some(jump_to + 1)],
                "{jump_to}"
            );
            assert_eq!(sim.jb.stats().resyncs, 1);
        }
    }

    #[test]
    fn sender_far_ahead_skips_playout_forward() {
        let mut sim = Sim::new(2); // holds at most 8 frames
        sim.push(&[1, 2, 3, 20], 0);
        assert_eq!(sim.jb.len(), 1, "1..=3 fell out of the window");
        let stats = sim.jb.stats();
        assert_eq!((stats.overflow_dropped, stats.lost), (3, 9));
        assert!(sim.jb.slots.len() <= 8);
    }

    #[test]
    fn jitter_estimate_grows_with_irregular_arrival() {
        let mut sim = Sim::new(3);
        for i in 0..50u16 {
            let wobble = if i % 2 == 0 { 0 } else { 15 };
            sim.push(&[i], 20 * u64::from(i) + wobble);
        }
        let jitter = sim.jb.stats().jitter_us;
        assert!((10_000..=16_000).contains(&jitter), "{jitter}");
    }

    proptest! {
        #[test]
        fn arbitrary_traffic_stays_bounded(ops in proptest::collection::vec((any::<bool>(), any::<u16>(), 0u32..3), 0..300)) {
            let mut sim = Sim::new(3);
            for (i, (is_push, seq, ssrc)) in ops.into_iter().enumerate() {
                let ms = i as u64 * 7;
                if is_push {
                    sim.push_from(ssrc, seq, ms);
                } else {
                    let _ = sim.pop(1, ms);
                }
                prop_assert!(sim.jb.slots.len() <= 12);
                prop_assert_eq!(sim.jb.len(), sim.jb.slots.iter().flatten().count());
            }
        }
    }
}

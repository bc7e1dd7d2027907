//! Sans-IO RTP pacing meter: packets in (with the socket they came to and their arrival time),
//! per-stream send-interval jitter out. A stream is one (probe port, SSRC) pair: voxdesk picks a
//! random SSRC per call, but SIPp's pcap replay sends the capture's SSRC on every call, so only
//! the probe port tells those apart.
//!
//! Jitter here is `|arrival gap - RTP timestamp gap / 8 kHz|` between packets with consecutive
//! sequence numbers, i.e. how far each packet strays from the pacing its own timestamps promise
//! (20 ms for both voxdesk and the bench's replay file). Deviations go into a fixed histogram so
//! memory stays bounded however long the run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::media::rtp::{RtpPacket, SeqNo};
use crate::media::SAMPLE_RATE;

/// Histogram resolution.
const BUCKET_US: u64 = 10;
/// Deviations at or above this land in the last bucket (their exact maximum is kept apart).
const HISTOGRAM_SPAN_US: u64 = 1_000_000;
const BUCKETS: usize = (HISTOGRAM_SPAN_US / BUCKET_US) as usize + 1;
/// Streams tracked at most; later ones are counted but not measured.
pub const MAX_STREAMS: usize = 4096;
/// An arrival gap this long (two frames) is what a one-frame jitter buffer cannot hide.
const LONG_GAP: Duration = Duration::from_millis(40);

/// Identifies one RTP stream at the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// Probe port the stream arrives on.
    pub port: u16,
    /// RTP synchronisation source.
    pub ssrc: u32,
}

#[derive(Debug, Clone, Copy)]
struct StreamState {
    seq: SeqNo,
    timestamp: u32,
    arrived: Instant,
}

/// Figures over every measured stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JitterSummary {
    /// Streams that sent at least one packet.
    pub streams: usize,
    /// RTP packets received while measuring.
    pub packets: u64,
    /// Intervals measured (consecutive sequence numbers).
    pub intervals: u64,
    /// Sequence gaps (lost or reordered packets) while measuring.
    pub seq_gaps: u64,
    /// Datagrams that were not RTP.
    pub malformed: u64,
    /// Median deviation from the nominal interval, microseconds.
    pub p50_us: u64,
    /// 99th percentile deviation, microseconds.
    pub p99_us: u64,
    /// Largest deviation, microseconds.
    pub max_us: u64,
    /// Arrival gaps of 40 ms or more.
    pub long_gaps: u64,
}

/// The meter. Counts everything it is fed; `reset` starts the measured window (after warm-up).
pub struct JitterMeter {
    streams: HashMap<StreamKey, StreamState>,
    histogram: Vec<u64>,
    summary: JitterSummary,
}

impl Default for JitterMeter {
    fn default() -> Self {
        JitterMeter {
            streams: HashMap::new(),
            histogram: vec![0; BUCKETS],
            summary: JitterSummary::default(),
        }
    }
}

impl JitterMeter {
    /// Takes one datagram that arrived on probe `port` at `now`.
    pub fn handle_datagram(&mut self, port: u16, bytes: &[u8], now: Instant) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            self.summary.malformed += 1;
            return;
        };
        let key = StreamKey {
            port,
            ssrc: packet.ssrc,
        };
        let state = StreamState {
            seq: packet.seq,
            timestamp: packet.timestamp,
            arrived: now,
        };
        self.summary.packets += 1;
        let previous = match self.streams.get_mut(&key) {
            Some(slot) => std::mem::replace(slot, state),
            None => {
                if self.streams.len() < MAX_STREAMS {
                    self.streams.insert(key, state);
                }
                return;
            }
        };
        match packet.seq.diff(previous.seq) {
            1 => {}
            d if d <= 0 => {
                // Duplicate or late: keep the newest position.
                self.summary.seq_gaps += 1;
                self.streams.insert(key, previous);
                return;
            }
            _ => {
                self.summary.seq_gaps += 1;
                return;
            }
        }
        let gap = now.saturating_duration_since(previous.arrived);
        let ticks = u64::from(packet.timestamp.wrapping_sub(previous.timestamp));
        let nominal_us = ticks * 1_000_000 / u64::from(SAMPLE_RATE);
        let gap_us = u64::try_from(gap.as_micros()).unwrap_or(u64::MAX);
        self.record(gap_us.abs_diff(nominal_us));
        if gap >= LONG_GAP {
            self.summary.long_gaps += 1;
        }
    }

    fn record(&mut self, deviation_us: u64) {
        let bucket = usize::try_from(deviation_us / BUCKET_US)
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1);
        if let Some(count) = self.histogram.get_mut(bucket) {
            *count += 1;
        }
        self.summary.intervals += 1;
        self.summary.max_us = self.summary.max_us.max(deviation_us);
    }

    /// Forgets the figures so far but keeps each stream's position, so the next packet of a
    /// known stream already yields an interval.
    pub fn reset(&mut self) {
        self.histogram.iter_mut().for_each(|c| *c = 0);
        self.summary = JitterSummary::default();
    }

    /// Streams seen so far.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// The figures since the last `reset`.
    pub fn summary(&self) -> JitterSummary {
        JitterSummary {
            streams: self.streams.len(),
            p50_us: self.percentile(50),
            p99_us: self.percentile(99),
            ..self.summary.clone()
        }
    }

    /// Lower edge of the bucket holding the `p`th percentile (0 when empty).
    fn percentile(&self, p: u64) -> u64 {
        let total = self.summary.intervals;
        if total == 0 {
            return 0;
        }
        let rank = (total * p).div_ceil(100).max(1);
        let mut seen = 0;
        for (bucket, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket as u64 * BUCKET_US;
            }
        }
        self.summary.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::RtpSender;
    use proptest::prelude::*;

    fn sender(ssrc: u32) -> RtpSender {
        RtpSender::with_state(8, ssrc, SeqNo(65_530), u32::MAX - 200).unwrap()
    }

    /// Feeds `gaps_us` arrival gaps of one 20 ms stream.
    fn run(gaps_us: &[u64]) -> JitterSummary {
        let base = Instant::now();
        let mut meter = JitterMeter::default();
        let mut tx = sender(7);
        let mut at = base;
        meter.handle_datagram(4000, &tx.next(&[0; 160], 160, false), at);
        for gap in gaps_us {
            at += Duration::from_micros(*gap);
            meter.handle_datagram(4000, &tx.next(&[0; 160], 160, false), at);
        }
        meter.summary()
    }

    #[test]
    fn deviation_is_measured_against_the_timestamp_step() {
        let cases: [(&[u64], u64, u64, u64); 4] = [
            (&[20_000; 10], 0, 0, 0),
            (&[20_500; 10], 500, 500, 500),
            (&[19_000, 21_000, 20_000, 20_000], 0, 1_000, 1_000),
            (&[20_000, 20_000, 20_000, 65_000], 0, 45_000, 45_000),
        ];
        for (gaps, p50, p99, max) in cases {
            let s = run(gaps);
            assert_eq!((s.p50_us, s.p99_us, s.max_us), (p50, p99, max), "{gaps:?}");
            assert_eq!(s.intervals, gaps.len() as u64);
            assert_eq!(s.seq_gaps, 0, "wraparound is not a gap");
        }
        assert_eq!(run(&[20_000, 45_000]).long_gaps, 1);
    }

    #[test]
    fn streams_are_told_apart_by_port_and_ssrc() {
        let base = Instant::now();
        let mut meter = JitterMeter::default();
        let (mut a, mut b) = (sender(1), sender(1));
        for i in 0..5u64 {
            let at = base + Duration::from_millis(20 * i);
            meter.handle_datagram(4000, &a.next(&[0; 160], 160, false), at);
            meter.handle_datagram(4002, &b.next(&[0; 160], 160, false), at);
        }
        let s = meter.summary();
        assert_eq!((s.streams, s.intervals, s.max_us), (2, 8, 0));
    }

    #[test]
    fn loss_and_reset_are_accounted() {
        let base = Instant::now();
        let mut meter = JitterMeter::default();
        let mut tx = sender(3);
        meter.handle_datagram(1, &tx.next(&[0; 160], 160, false), base);
        let _lost = tx.next(&[0; 160], 160, false);
        let at = base + Duration::from_millis(40);
        meter.handle_datagram(1, &tx.next(&[0; 160], 160, false), at);
        meter.handle_datagram(1, b"not rtp", at);
        let s = meter.summary();
        assert_eq!((s.seq_gaps, s.intervals, s.malformed), (1, 0, 1));
        meter.reset();
        let at = at + Duration::from_millis(20);
        meter.handle_datagram(1, &tx.next(&[0; 160], 160, false), at);
        let s = meter.summary();
        assert_eq!(
            (s.seq_gaps, s.intervals, s.packets, s.streams),
            (0, 1, 1, 1)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            packets in proptest::collection::vec(
                (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..64), 0u64..10_000_000),
                0..64,
            )
        ) {
            let base = Instant::now();
            let mut meter = JitterMeter::default();
            for (port, bytes, offset_us) in packets {
                meter.handle_datagram(port, &bytes, base + Duration::from_micros(offset_us));
            }
            let s = meter.summary();
            prop_assert!(s.p50_us <= s.p99_us.max(s.max_us));
            prop_assert!(s.intervals <= s.packets);
        }
    }
}

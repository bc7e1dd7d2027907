//! A fixed-size histogram of packet send intervals, so pacing percentiles cover the whole call
//! in 2 KiB per call instead of a window of raw samples.

/// Bucket width in microseconds.
const BUCKET_US: u64 = 100;
/// Buckets: 0–50 ms; longer intervals land in the last one (and in `max`).
const BUCKETS: usize = 500;

/// Counts of intervals per 100 µs bucket.
#[derive(Debug, Clone)]
pub struct IntervalHistogram {
    counts: Box<[u32; BUCKETS]>,
    total: u64,
    max_us: u64,
}

impl Default for IntervalHistogram {
    fn default() -> Self {
        IntervalHistogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max_us: 0,
        }
    }
}

impl IntervalHistogram {
    /// Adds one interval.
    pub fn record(&mut self, interval_us: u64) {
        let bucket = usize::try_from(interval_us / BUCKET_US)
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1);
        self.counts[bucket] = self.counts[bucket].saturating_add(1);
        self.total += 1;
        self.max_us = self.max_us.max(interval_us);
    }

    /// The `p`th percentile (0–100), as the middle of its bucket; 0 when empty.
    pub fn percentile(&self, p: u64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = (self.total * p.min(100)).div_ceil(100).max(1);
        let mut seen = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return (bucket as u64 * BUCKET_US + BUCKET_US / 2).min(self.max_us);
            }
        }
        self.max_us
    }

    /// The longest interval.
    pub fn max(&self) -> u64 {
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut h = IntervalHistogram::default();
        assert_eq!(h.percentile(50), 0);
        for _ in 0..98 {
            h.record(20_010);
        }
        h.record(21_500);
        h.record(90_000);
        assert_eq!(h.percentile(50), 20_050);
        assert_eq!(h.percentile(99), 21_550);
        assert_eq!(h.percentile(100), 49_950);
        assert_eq!(h.max(), 90_000);
    }

    #[test]
    fn a_single_sample_is_every_percentile_capped_by_max() {
        let mut h = IntervalHistogram::default();
        h.record(20_000);
        assert_eq!(h.percentile(1), 20_000);
        assert_eq!(h.percentile(99), 20_000);
    }
}

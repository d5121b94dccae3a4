//! Latencies in a log-linear histogram (16 buckets per power of two), for
//! percentiles within 1/32 of the true value in little memory: the trace's
//! per-syscall figures and the report's per-uprobe ones.

use std::collections::BTreeMap;

/// Latencies in buckets 1/16 of a power of two wide (exact below 16 ns):
/// the trace's per-syscall percentiles, and the report's per-uprobe ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    buckets: BTreeMap<u32, u64>,
    count: u64,
}

impl LatencyHistogram {
    fn bucket(ns: u64) -> u32 {
        if ns < 16 {
            return ns as u32;
        }
        let e = 63 - ns.leading_zeros(); // >= 4
        let sub = ((ns >> (e - 4)) & 15) as u32;
        16 + (e - 4) * 16 + sub
    }

    /// The middle of a bucket.
    fn value(bucket: u32) -> u64 {
        if bucket < 16 {
            return u64::from(bucket);
        }
        let e = (bucket - 16) / 16 + 4;
        let sub = u64::from((bucket - 16) % 16);
        let width = 1u64 << (e - 4);
        let from = (1u64 << e) + sub * width;
        from + (width - 1) / 2
    }

    pub fn add(&mut self, ns: u64) {
        *self.buckets.entry(Self::bucket(ns)).or_default() += 1;
        self.count += 1;
    }

    /// Adds `other`'s latencies to these.
    pub fn merge(&mut self, other: &Self) {
        for (&b, &n) in &other.buckets {
            *self.buckets.entry(b).or_default() += n;
        }
        self.count += other.count;
    }

    /// The value at fraction `q` of the calls (the nearest-rank method).
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (&b, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Self::value(b);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values() {
        for ns in (0..100_000u64).chain([u64::MAX / 3, 1 << 40, (1 << 40) - 1]) {
            let b = LatencyHistogram::bucket(ns);
            let v = LatencyHistogram::value(b);
            assert_eq!(LatencyHistogram::bucket(v), b, "{ns}");
            // Within 1/32 of the value.
            assert!(v.abs_diff(ns) * 32 <= ns.max(1), "{ns} shown as {v}");
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut h = LatencyHistogram::default();
        // 1..=10 ns: exact buckets.
        for ns in 1..=10 {
            h.add(ns);
        }
        assert_eq!(h.percentile(0.5), 5);
        assert_eq!(h.percentile(0.95), 10);
        assert_eq!(h.percentile(0.99), 10);
        assert_eq!(LatencyHistogram::default().percentile(0.5), 0);
        // Merged, as a container's tasks are: the same as one.
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        for ns in 1..=10 {
            if ns % 3 == 0 {
                a.add(ns)
            } else {
                b.add(ns)
            }
        }
        a.merge(&b);
        assert_eq!(a, h);
    }
}

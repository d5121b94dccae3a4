//! strace -c's figures per container: calls, errors and latency (total,
//! average, max, p50/p95/p99) per syscall, and a log2 histogram of the
//! container's latencies. Memory is per container and syscall, never per
//! call: the percentiles come from a log-linear histogram (16 buckets per
//! power of two), so they are within 1/32 of the true value (exact below
//! 16 ns); calls, errors, totals and maxima are exact.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::latency::LatencyHistogram;

/// The figures of a trace, per container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// By container name.
    pub containers: BTreeMap<String, ContainerSummary>,
}

/// One container's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerSummary {
    /// Calls shown.
    pub calls: u64,
    /// Those that failed.
    pub errors: u64,
    /// Their time in the kernel (ns), of those timed.
    pub total_ns: u64,
    /// The container's calls by latency: `[from_ns, to_ns, calls]` for
    /// each power-of-two bucket that has calls, from_ns included, to_ns
    /// not (the first bucket starts at 0).
    pub histogram: Vec<[u64; 3]>,
    /// By syscall name.
    pub syscalls: BTreeMap<String, SyscallSummary>,
    #[serde(skip)]
    log2: BTreeMap<u32, u64>,
}

/// One syscall's figures in one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyscallSummary {
    /// Calls.
    pub calls: u64,
    /// Calls that returned an error.
    pub errors: u64,
    /// Calls whose entry and return were both seen: the latencies are
    /// theirs.
    pub timed_calls: u64,
    /// Their total time (ns).
    pub total_ns: u64,
    /// Their average (ns).
    pub avg_ns: u64,
    /// The longest (ns).
    pub max_ns: u64,
    /// Median, 95th and 99th percentile (ns), within 1/32.
    pub p50_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    #[serde(skip)]
    latencies: LatencyHistogram,
}

impl Summary {
    /// Counts a call of `syscall` in `container`.
    pub fn count(
        &mut self,
        container: &str,
        syscall: &str,
        failed: bool,
        duration_ns: Option<u64>,
    ) {
        let c = match self.containers.get_mut(container) {
            Some(c) => c,
            None => self.containers.entry(container.to_owned()).or_default(),
        };
        c.calls += 1;
        c.errors += u64::from(failed);
        let s = match c.syscalls.get_mut(syscall) {
            Some(s) => s,
            None => c.syscalls.entry(syscall.to_owned()).or_default(),
        };
        s.calls += 1;
        s.errors += u64::from(failed);
        if let Some(d) = duration_ns {
            c.total_ns += d;
            *c.log2.entry(log2_bucket(d)).or_default() += 1;
            s.timed_calls += 1;
            s.total_ns += d;
            s.max_ns = s.max_ns.max(d);
            s.latencies.add(d);
        }
    }

    /// Works out the averages, percentiles and histograms from the counts.
    pub fn finish(&mut self) {
        for c in self.containers.values_mut() {
            c.histogram = c
                .log2
                .iter()
                .map(|(&b, &n)| {
                    let (from, to) = log2_range(b);
                    [from, to, n]
                })
                .collect();
            for s in c.syscalls.values_mut() {
                s.avg_ns = s.total_ns.checked_div(s.timed_calls).unwrap_or(0);
                s.p50_ns = s.latencies.percentile(0.50).min(s.max_ns);
                s.p95_ns = s.latencies.percentile(0.95).min(s.max_ns);
                s.p99_ns = s.latencies.percentile(0.99).min(s.max_ns);
            }
        }
    }
}

/// The log2 bucket of `ns`: 0 for 0, else 1 + floor(log2 ns).
fn log2_bucket(ns: u64) -> u32 {
    64 - ns.leading_zeros()
}

/// The range `[from, to)` of a log2 bucket.
fn log2_range(bucket: u32) -> (u64, u64) {
    match bucket {
        0 => (0, 1),
        64 => (1 << 63, u64::MAX),
        b => (1 << (b - 1), 1 << b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_container_and_syscall() {
        let mut s = Summary::default();
        s.count("web", "openat", true, Some(1000));
        s.count("web", "openat", false, Some(3000));
        s.count("web", "exit_group", false, None);
        s.count("host", "getppid", false, Some(1));
        s.finish();
        let web = &s.containers["web"];
        assert_eq!((web.calls, web.errors, web.total_ns), (3, 1, 4000));
        let o = &web.syscalls["openat"];
        assert_eq!((o.calls, o.errors, o.timed_calls), (2, 1, 2));
        assert_eq!((o.total_ns, o.avg_ns, o.max_ns), (4000, 2000, 3000));
        // 1000 ns is in [512, 1024), 3000 in [2048, 4096).
        assert_eq!(web.histogram, vec![[512, 1024, 1], [2048, 4096, 1]]);
        assert_eq!(web.syscalls["exit_group"].timed_calls, 0);
        assert_eq!(s.containers["host"].histogram, vec![[1, 2, 1]]);
    }
}

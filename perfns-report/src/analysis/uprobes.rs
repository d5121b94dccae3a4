//! uprobes: hits per task and probe, and with a return probe each call's
//! latency, from `perfns record --uprobe`'s `uprobes:SYMBOL` and
//! `uprobes:SYMBOL__return` events, or perf probe's `probe_BIN:SYMBOL` and
//! `probe_BIN:SYMBOL__return` tracepoints. A call's entry waits on its
//! thread's stack of that probe (recursion nests) for the return that
//! times it.

use crate::latency::LatencyHistogram;
use crate::model::UprobeFigures;

use super::Task;

/// A probe the recording has: its entry event's name (a return probe
/// alone: its event's, without `__return`), and whether its returns were
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    pub name: String,
    pub has_return: bool,
}

/// One probe's tally in a task or a container.
#[derive(Debug, Clone, Default)]
pub(crate) struct UprobeTally {
    hits: u64,
    returns: u64,
    timed_calls: u64,
    latency_total_ns: u64,
    latency_max_ns: u64,
    latencies: LatencyHistogram,
}

impl UprobeTally {
    /// Adds `other`'s figures to these.
    pub(crate) fn add(&mut self, other: &Self) {
        self.hits += other.hits;
        self.returns += other.returns;
        self.timed_calls += other.timed_calls;
        self.latency_total_ns += other.latency_total_ns;
        self.latency_max_ns = self.latency_max_ns.max(other.latency_max_ns);
        self.latencies.merge(&other.latencies);
    }

    /// The figures of probe `probe`.
    pub(crate) fn figures(&self, probe: &Probe) -> UprobeFigures {
        let timed = |v: u64| probe.has_return.then_some(v);
        let p = |q| (self.latencies.percentile(q)).min(self.latency_max_ns);
        UprobeFigures {
            probe: probe.name.clone(),
            hits: self.hits,
            returns: timed(self.returns),
            timed_calls: timed(self.timed_calls),
            latency_total_ns: timed(self.latency_total_ns),
            latency_avg_ns: timed(
                self.latency_total_ns
                    .checked_div(self.timed_calls)
                    .unwrap_or(0),
            ),
            latency_max_ns: timed(self.latency_max_ns),
            latency_p50_ns: timed(p(0.50)),
            latency_p99_ns: timed(p(0.99)),
        }
    }
}

/// A call a task has entered and not returned from.
#[derive(Debug, Clone, Copy)]
pub(super) struct InCall {
    /// When it entered.
    since: u64,
    /// Whether it entered in the window, and so was counted.
    counted: bool,
}

/// `task` enters probe `probe` at `t`; `timed`: its returns are recorded,
/// so the entry waits for one.
pub(super) fn enter(task: &mut Task, probe: usize, timed: bool, t: u64, in_window: bool) {
    if in_window {
        task.uprobes.entry(probe).or_default().hits += 1;
    }
    if timed {
        task.in_calls.entry(probe).or_default().push(InCall {
            since: t,
            counted: in_window,
        });
    }
}

/// `task` returns from probe `probe` at `t`. A return whose entry came
/// before the recording (or was lost) is counted, untimed, in the window
/// it returns in.
pub(super) fn exit(task: &mut Task, probe: usize, t: u64, in_window: bool) {
    let entered = task.in_calls.get_mut(&probe).and_then(Vec::pop);
    let counted = entered.map_or(in_window, |e| e.counted);
    if !counted {
        return;
    }
    let tally = task.uprobes.entry(probe).or_default();
    tally.returns += 1;
    if let Some(e) = entered {
        let latency = t.saturating_sub(e.since);
        tally.timed_calls += 1;
        tally.latency_total_ns += latency;
        tally.latency_max_ns = tally.latency_max_ns.max(latency);
        tally.latencies.add(latency);
    }
}

//! A frame of `perfns top`: one interval's figures per container, as
//! rates, in tree order; what every display shows and `--format json`
//! serializes (schema [`SCHEMA`], docs/top-json.md). Pure functions from
//! the report of an interval.

use perfns_record::session::live::IntervalStats;
use perfns_report::model::{Figures, Report};
use perfns_report::SortKey;
use serde::Serialize;

/// The JSON schema's name and version.
pub const SCHEMA: &str = "perfns-top/1";

/// One interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frame {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The interval's number, from 1.
    pub interval: u64,
    /// Perf time (CLOCK_MONOTONIC-like ns) the interval starts after.
    pub start_ns: u64,
    /// Perf time it ends at.
    pub end_ns: u64,
    /// `end_ns - start_ns`: what the rates are per.
    pub duration_ns: u64,
    /// The CPUs watched.
    pub cpus: usize,
    /// `system` or `tracer`.
    pub scope: &'static str,
    /// Events (records) handed to the analysis in the interval.
    pub events: u64,
    /// Of them, per second of the interval.
    pub events_per_s: f64,
    /// Events the kernel dropped in the interval.
    pub lost: u64,
    /// Since the start.
    pub lost_total: u64,
    /// What to do about lost events; absent while none were lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_fix: Option<String>,
    /// The host first, then each container after its parent, siblings by
    /// the sort key (of their figures with descendants).
    pub containers: Vec<ContainerRow>,
}

/// One container's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerRow {
    /// `host` or `pidns:INODE`.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its runtime, when known.
    pub runtime: Option<String>,
    /// Its parent's key.
    pub parent: Option<String>,
    /// Nesting depth (0: the host and top-level containers).
    pub depth: usize,
    /// Its own tasks'.
    pub own: Rates,
    /// Its own and its descendants'.
    pub total: Rates,
    /// Its processes (own tasks), by the sort key.
    pub processes: Vec<ProcessRow>,
    /// Its own tasks' system calls in the interval, most called first.
    pub syscalls: Vec<SyscallRow>,
}

/// One system call's counts in a container and interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallRow {
    /// Its name (`syscall_N` when the table has none).
    pub name: String,
    /// Its number.
    pub nr: u64,
    /// Calls entered.
    pub calls: u64,
    /// Errors returned.
    pub errors: u64,
}

/// A process's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessRow {
    /// Its pid in the watcher's pid namespace.
    pub pid: i32,
    /// Its command name.
    pub comm: String,
    /// Threads seen.
    pub threads: usize,
    /// Its figures.
    #[serde(flatten)]
    pub rates: Rates,
}

/// Figures of an interval, and as rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rates {
    /// CPU time on CPU in the interval.
    pub cpu_ns: u64,
    /// `cpu_ns` in percent of one CPU (200: two CPUs).
    pub cpu_percent: f64,
    /// Pages allocated in the interval.
    pub pages_allocated: u64,
    /// Per second.
    pub pages_allocated_per_s: f64,
    /// Pages allocated less pages freed in the interval.
    pub pages_net: i64,
    /// System calls entered in the interval.
    pub syscalls: u64,
    /// Per second.
    pub syscalls_per_s: f64,
    /// Of those that returned, errors (-4095..-1).
    pub syscall_errors: u64,
}

impl Rates {
    fn of(f: &Figures, duration_ns: u64) -> Self {
        let per_s = |n: u64| {
            if duration_ns == 0 {
                0.0
            } else {
                n as f64 * 1e9 / duration_ns as f64
            }
        };
        Self {
            cpu_ns: f.cpu.time_ns,
            cpu_percent: if duration_ns == 0 {
                0.0
            } else {
                f.cpu.time_ns as f64 * 100.0 / duration_ns as f64
            },
            pages_allocated: f.memory.pages_allocated,
            pages_allocated_per_s: per_s(f.memory.pages_allocated),
            pages_net: f.memory.pages_net,
            syscalls: f.syscalls.calls,
            syscalls_per_s: per_s(f.syscalls.calls),
            syscall_errors: f.syscalls.errors,
        }
    }

    /// What `key` sorts by, biggest first.
    pub fn sort_value(&self, key: SortKey) -> (u64, u64) {
        match key {
            SortKey::Cpu => (self.cpu_ns, self.syscalls),
            SortKey::Mem => (self.pages_allocated, self.cpu_ns),
            SortKey::Syscalls => (self.syscalls, self.syscall_errors),
        }
    }
}

/// What the session says of an interval, beside its report.
#[derive(Debug, Clone)]
pub struct Session<'a> {
    /// The interval's number, from 1.
    pub interval: u64,
    /// Its counts.
    pub stats: &'a IntervalStats,
    /// The CPUs watched.
    pub cpus: usize,
    /// `system` or `tracer`.
    pub scope: &'static str,
    /// What to do about lost events.
    pub lost_fix: Option<String>,
}

/// The frame of an interval's `report`, sorted by `sort`.
pub fn frame(report: &Report, session: &Session<'_>, sort: SortKey) -> Frame {
    let t = &report.header.time;
    let duration_ns = t.duration_ns;
    let containers = report
        .containers
        .iter()
        .map(|c| ContainerRow {
            key: c.key.clone(),
            name: c.name.clone(),
            runtime: c.runtime.clone(),
            parent: c.parent.clone(),
            depth: c.depth,
            own: Rates::of(&c.own, duration_ns),
            total: Rates::of(&c.total, duration_ns),
            processes: c
                .top_processes
                .iter()
                .map(|p| ProcessRow {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    threads: p.threads,
                    rates: Rates::of(&p.figures, duration_ns),
                })
                .collect(),
            syscalls: c
                .top_syscalls
                .iter()
                .map(|s| SyscallRow {
                    name: s.name.clone(),
                    nr: s.nr,
                    calls: s.figures.calls,
                    errors: s.figures.errors,
                })
                .collect(),
        })
        .collect();
    let mut frame = Frame {
        schema: SCHEMA,
        interval: session.interval,
        start_ns: t.start_ns,
        end_ns: t.end_ns,
        duration_ns,
        cpus: session.cpus,
        scope: session.scope,
        events: session.stats.records,
        events_per_s: if duration_ns == 0 {
            0.0
        } else {
            session.stats.records as f64 * 1e9 / duration_ns as f64
        },
        lost: session.stats.lost,
        lost_total: session.stats.lost_total,
        lost_fix: session.lost_fix.clone(),
        containers,
    };
    sort_tree(&mut frame.containers, sort);
    frame
}

/// Puts `rows` in tree order: each container right after its parent (the
/// host and top-level ones first), siblings by `key`, biggest first (their
/// figures with descendants), then by name; processes by `key` too.
pub fn sort_tree(rows: &mut Vec<ContainerRow>, key: SortKey) {
    for r in rows.iter_mut() {
        r.processes.sort_by(|a, b| {
            b.rates
                .sort_value(key)
                .cmp(&a.rates.sort_value(key))
                .then(a.pid.cmp(&b.pid))
        });
    }
    let taken = std::mem::take(rows);
    let keys: std::collections::HashSet<&str> = taken.iter().map(|r| r.key.as_str()).collect();
    // A row whose parent is not shown (filtered out) is a root.
    let parent_of = |r: &ContainerRow| {
        r.parent
            .as_deref()
            .filter(|p| keys.contains(p))
            .map(str::to_owned)
    };
    let parents: Vec<Option<String>> = taken.iter().map(parent_of).collect();
    let mut order = Vec::with_capacity(taken.len());
    let children = |parent: &Option<String>| {
        let mut c: Vec<usize> = (0..taken.len())
            .filter(|&i| &parents[i] == parent)
            .collect();
        c.sort_by(|&a, &b| {
            let (ra, rb) = (&taken[a], &taken[b]);
            // The host stays first.
            (rb.key == "host")
                .cmp(&(ra.key == "host"))
                .then(rb.total.sort_value(key).cmp(&ra.total.sort_value(key)))
                .then(ra.name.cmp(&rb.name))
        });
        c
    };
    // Depth-first, each level's children sorted.
    let mut pending: Vec<(usize, usize)> =
        children(&None).into_iter().rev().map(|i| (i, 0)).collect();
    while let Some((i, depth)) = pending.pop() {
        order.push((i, depth));
        let me = Some(taken[i].key.clone());
        for c in children(&me).into_iter().rev() {
            pending.push((c, depth + 1));
        }
    }
    let mut slots: Vec<Option<ContainerRow>> = taken.into_iter().map(Some).collect();
    for (i, depth) in order {
        if let Some(mut r) = slots[i].take() {
            r.depth = depth;
            rows.push(r);
        }
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(key: &str, parent: Option<&str>, cpu_ns: u64) -> ContainerRow {
        ContainerRow {
            key: key.into(),
            name: key.into(),
            runtime: None,
            parent: parent.map(Into::into),
            depth: 0,
            own: Rates::default(),
            total: Rates {
                cpu_ns,
                ..Rates::default()
            },
            processes: Vec::new(),
            syscalls: Vec::new(),
        }
    }

    #[test]
    fn the_tree_keeps_children_under_their_parents_siblings_by_the_key() {
        let mut rows = vec![
            row("a", None, 10),
            row("a1", Some("a"), 1),
            row("host", None, 0),
            row("b", None, 20),
            row("a2", Some("a"), 5),
            row("b1", Some("b"), 3),
        ];
        sort_tree(&mut rows, SortKey::Cpu);
        let got: Vec<(&str, usize)> = rows.iter().map(|r| (r.key.as_str(), r.depth)).collect();
        assert_eq!(
            got,
            [
                ("host", 0),
                ("b", 0),
                ("b1", 1),
                ("a", 0),
                ("a2", 1),
                ("a1", 1)
            ]
        );
    }
}

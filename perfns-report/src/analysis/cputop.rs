//! cputop: the CPU time each task ran. Each CPU has one running task at a
//! time, known from `sched:sched_switch` samples or switch records; a task
//! is charged when it leaves the CPU, from when it came on, clipped to the
//! window. Time between switches that do not follow on from each other is
//! counted as unattributed.

use super::Analysis;

/// What runs on a CPU since when.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct CpuState {
    /// The running task's tid, once a switch told.
    current: Option<i32>,
    /// When it started running.
    since: u64,
    /// Whether a switch was seen on this CPU: before the first, the task
    /// that leaves had run since the recording began.
    switched: bool,
    /// When the running task exited (its EXIT record), in a tracer-scope
    /// recording: a kernel with the series' first version sends no switch
    /// out after it, so the next switch in, or the end, charges it until
    /// then.
    exited: Option<u64>,
}

impl CpuState {
    /// `tid` running since `since`, after a switch.
    fn running(tid: i32, since: u64) -> Self {
        Self {
            current: Some(tid),
            since,
            switched: true,
            exited: None,
        }
    }
}

impl Analysis {
    /// A `sched:sched_switch` on `cpu` at `t`: `prev` leaves, `next` comes
    /// on; each is named by the switch if nothing named it before.
    pub(super) fn sched_switch(
        &mut self,
        cpu: u32,
        t: u64,
        (prev, prev_name): (i32, String),
        (next, next_name): (i32, String),
    ) {
        for (tid, name) in [(prev, prev_name), (next, next_name)] {
            let task = self.task(tid);
            if task.comm.is_empty() {
                task.comm = name;
            }
        }
        self.charge_cpu(cpu, prev, t);
        self.cpus.insert(
            cpu,
            CpuState {
                current: Some(next),
                since: t,
                switched: true,
                exited: None,
            },
        );
    }

    /// A switch record (PERF_RECORD_SWITCH or SWITCH_CPU_WIDE) of task
    /// `tid` on `cpu` at `t`: out of the CPU when `out`, else onto it.
    pub(super) fn switch_record(&mut self, cpu: u32, tid: i32, out: bool, t: u64) {
        if out {
            // A task's final switch out, once it is reaped, names it
            // -1 (perf_event_tid()): it is the task running there.
            let tid = match self.cpus.get(&cpu).and_then(|c| c.current) {
                Some(current) if tid == -1 => current,
                _ => tid,
            };
            self.charge_cpu(cpu, tid, t);
        } else {
            if let Some(CpuState {
                current: Some(gone),
                exited: Some(exited),
                ..
            }) = self.cpus.get(&cpu).copied()
            {
                self.charge_cpu(cpu, gone, exited);
            }
            self.cpus.insert(
                cpu,
                CpuState {
                    current: Some(tid),
                    since: t,
                    switched: true,
                    exited: None,
                },
            );
        }
    }

    /// Task `tid` exited at `t`, in a tracer-scope recording made from
    /// switch records: the task's final switch out follows, on a kernel
    /// with the series' exit fix (the task keeps its tracer namespace until
    /// it is freed). The first version of the series let it leave its
    /// namespaces first, and that switch out never came: remember when it
    /// exited, for then.
    pub(super) fn exited_without_switch(&mut self, tid: i32, t: u64) {
        for state in self.cpus.values_mut() {
            if state.current == Some(tid) {
                state.exited = Some(t);
            }
        }
    }

    /// Charges the tasks still running at `end`, the recording's last
    /// time: until then, or until they exited.
    pub(super) fn charge_running(&mut self, end: u64) {
        let running: Vec<(u32, i32, Option<u64>)> = self
            .cpus
            .iter()
            .filter_map(|(&cpu, s)| s.current.map(|tid| (cpu, tid, s.exited)))
            .collect();
        for (cpu, tid, exited) in running {
            self.charge_cpu(cpu, tid, exited.unwrap_or(end));
        }
    }

    /// Charges the tasks running at `end` up to it; they stay on their
    /// CPUs, from `end` on.
    pub(super) fn charge_until(&mut self, end: u64) {
        let running: Vec<(u32, i32, Option<u64>)> = self
            .cpus
            .iter()
            .filter_map(|(&cpu, s)| s.current.map(|tid| (cpu, tid, s.exited)))
            .collect();
        self.charge_running(end);
        for (cpu, tid, exited) in running {
            if exited.is_none() {
                self.cpus.insert(cpu, CpuState::running(tid, end));
            }
        }
    }

    /// Charges `tid`, leaving `cpu` at `until`, with the CPU time since
    /// it started running there (since the range's start if no switch on
    /// `cpu` came before), clipped to the window; `cpu` then has no known
    /// task. When the last switch on `cpu` put another task on it, or none
    /// came after the last one that took a task off, the switch that
    /// brought `tid` is missing: since when it ran is unknown, it is
    /// charged nothing, and the time is counted as unattributed (the
    /// figures are then lower bounds).
    fn charge_cpu(&mut self, cpu: u32, tid: i32, until: u64) {
        let state = self.cpus.get(&cpu).copied().unwrap_or_default();
        let from = match state.current {
            Some(current) if current == tid => state.since,
            _ if !state.switched => self.first_time.unwrap_or(until),
            Some(_) => {
                // Another task is running: it stays, whatever left.
                self.missed_switch(state.since, until);
                return;
            }
            None => {
                self.missed_switch(state.since, until);
                until
            }
        };
        // Until a task is switched in, no one is known to run here since
        // `until`.
        self.cpus.insert(
            cpu,
            CpuState {
                current: None,
                since: until,
                switched: true,
                exited: None,
            },
        );
        // The idle task (tid 0) is no one's CPU time.
        let ran = self.in_window_ns(from, until);
        if tid != 0 && ran > 0 {
            self.task(tid).cpu_ns += ran;
        }
    }

    /// Counts the time between `since` and `until` on a CPU whose switch
    /// records do not follow on from each other.
    fn missed_switch(&mut self, since: u64, until: u64) {
        let gap = self.in_window_ns(since, until);
        // Two switches at one instant may come in either order: no gap.
        if gap > 0 {
            self.switch_gaps += 1;
            self.unattributed_ns += gap;
        }
    }
}

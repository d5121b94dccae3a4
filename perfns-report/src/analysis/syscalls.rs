//! syscalls: calls, errors and latency per task and syscall number, from
//! `raw_syscalls:sys_enter` and `sys_exit`. A task is in at most one
//! syscall: its entry waits in the task for the exit that times it.

use super::Task;

/// A syscall a task has entered and not returned from.
#[derive(Debug, Clone, Copy)]
pub(super) struct InSyscall {
    nr: u64,
    /// When it entered.
    since: u64,
    /// Whether it entered in the window, and so was counted.
    counted: bool,
}

/// `task` enters syscall `nr` at `t` (a `sys_enter`); `in_window`: the
/// call is counted.
pub(super) fn enter(task: &mut Task, nr: i64, t: u64, in_window: bool) {
    // A negative id is a syscall the kernel refused before
    // dispatch (e.g. seccomp); it is no named syscall.
    let Ok(nr) = u64::try_from(nr) else {
        task.in_syscall = None;
        return;
    };
    task.in_syscall = Some(InSyscall {
        nr,
        since: t,
        counted: in_window,
    });
    if in_window {
        task.syscalls.entry(nr).or_default().calls += 1;
    }
}

/// `task` returns `ret` from syscall `nr` at `t` (a `sys_exit`).
pub(super) fn exit(task: &mut Task, nr: i64, ret: i64, t: u64, in_window: bool) {
    let entered = task
        .in_syscall
        .take()
        .filter(|e| i64::try_from(e.nr) == Ok(nr));
    let Ok(nr) = u64::try_from(nr) else {
        return;
    };
    // A call belongs to the window it entered in. A return
    // without its entry is not counted as a call: most are a
    // new task's first return from fork or clone, whose call
    // its parent made; its error still counts, in the window
    // it returns in.
    let counted = match entered {
        Some(e) => e.counted,
        None => in_window,
    };
    if !counted {
        return;
    }
    let entry = task.syscalls.entry(nr).or_default();
    if (-4095..0).contains(&ret) {
        entry.errors += 1;
    }
    if let Some(e) = entered {
        let latency = t.saturating_sub(e.since);
        entry.latency_total_ns += latency;
        entry.latency_max_ns = entry.latency_max_ns.max(latency);
        entry.timed_calls += 1;
    }
}

/// Each syscall's average latency, from its sums, once every record is in.
pub(super) fn average_latencies(tasks: &mut [Task]) {
    for task in tasks {
        for s in task.syscalls.values_mut() {
            s.latency_avg_ns = s.latency_total_ns.checked_div(s.timed_calls).unwrap_or(0);
        }
    }
}

//! How the recorder's threads ask to be scheduled: the thread that drains
//! the ring buffers runs as soon as it is woken, and the thread that
//! writes the file never takes the CPU from it.
//!
//! Measured on a loaded 2-CPU machine (perfns-record/benches/README.md,
//! "Why the drain lost events"): a 512 KiB ring fills in about 3 ms under
//! a system-call-heavy load, and a drain pass takes some 15 us, but the
//! drain waited 4 to 20 ms for a CPU at times: after it woke the writer
//! thread (a hand-over), which preempted it, and after its own wakeup.
//! Neither setting changes a thread's share of CPU time or needs
//! privilege, and both keep the nice value. A thread inherits them: the
//! drain asks once the command to record has started, which keeps the
//! scheduling perfns record was given.

use std::io;

/// The slice the draining thread asks for: the shortest the kernel grants
/// (0.1 ms; the default, sched/base_slice_ns, is 0.7 ms times 1 + log2 of
/// the CPUs).
const DRAIN_SLICE_NS: u64 = 100_000;

/// `struct sched_attr`, include/uapi/linux/sched/types.h (its first
/// version, `SCHED_ATTR_SIZE_VER0`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
}

const ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;

/// The scheduling attributes of thread `tid` (0: the calling thread).
pub(crate) fn attr_of(tid: i32) -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    // SAFETY: the kernel writes at most ATTR_SIZE bytes to the pointer,
    // which points at `attr`, alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            tid,
            &mut attr as *mut SchedAttr,
            ATTR_SIZE,
            0,
        )
    };
    if rc == 0 {
        Ok(attr)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_attr(attr: &SchedAttr) -> io::Result<()> {
    // SAFETY: the kernel reads `attr.size` bytes from the pointer, which
    // points at `attr`, alive for the call; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// For the draining thread: short slices. Since Linux 6.12 a fair task
/// may ask for a slice shorter than the default (sched_setattr's
/// sched_runtime, `__setscheduler_params` in kernel/sched/syscalls.c); its
/// deadline is then earlier, and its wakeup preempts the task running
/// (`check_preempt_wakeup_fair`, kernel/sched/fair.c). Older kernels
/// ignore the field. A thread that is not SCHED_OTHER (a recorder run
/// real-time) is left as it is.
pub(crate) fn ask_for_short_slices() -> io::Result<()> {
    let now = attr_of(0)?;
    if now.sched_policy != libc::SCHED_OTHER as u32 {
        return Ok(());
    }
    set_attr(&SchedAttr {
        size: ATTR_SIZE,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_nice: now.sched_nice,
        sched_runtime: DRAIN_SLICE_NS,
        ..SchedAttr::default()
    })
}

/// For the writing thread: SCHED_BATCH, whose wakeups do not preempt the
/// task running (`check_preempt_wakeup_fair`: "Batch and idle tasks do
/// not preempt non-idle tasks"), so that a hand-over does not cost the
/// drain its CPU; the writer runs when the drain sleeps. Its slice is the
/// default, whoever made it.
pub(crate) fn never_preempt_on_wakeup() -> io::Result<()> {
    let now = attr_of(0)?;
    set_attr(&SchedAttr {
        size: ATTR_SIZE,
        sched_policy: libc::SCHED_BATCH as u32,
        sched_nice: now.sched_nice,
        ..SchedAttr::default()
    })
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_gets_its_setting_and_keeps_its_nice_value() {
        let (default, drain, writer) = std::thread::spawn(|| {
            // A nice value of our own, kept (raising it needs no privilege).
            // SAFETY: setpriority reads nothing of ours; 0 is this thread.
            assert_eq!(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 3) }, 0);
            let default = attr_of(0).unwrap();
            ask_for_short_slices().unwrap();
            let drain = attr_of(0).unwrap();
            // A writer made by the drain, as --switch-output makes one.
            let writer = std::thread::spawn(|| {
                never_preempt_on_wakeup().unwrap();
                attr_of(0).unwrap()
            })
            .join()
            .unwrap();
            (default, drain, writer)
        })
        .join()
        .unwrap();
        // sched_getattr gives a fair thread's slice as sched_runtime.
        assert_ne!(default.sched_runtime, DRAIN_SLICE_NS, "{default:?}");
        assert_eq!(
            (drain.sched_policy, drain.sched_nice, drain.sched_runtime),
            (libc::SCHED_OTHER as u32, 3, DRAIN_SLICE_NS),
            "{drain:?}"
        );
        assert_eq!(
            (writer.sched_policy, writer.sched_nice, writer.sched_runtime),
            (libc::SCHED_BATCH as u32, 3, default.sched_runtime),
            "{writer:?}"
        );
    }
}

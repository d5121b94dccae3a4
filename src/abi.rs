//! The perf ABI in one place: `perf_event_open(2)` with errors a perf user
//! can act on, the event ioctls, the system's CPU lists and page size, and
//! (in [`tracer_scope`]) the perfns kernel series' additions.
//!
//! Syscall and ioctl numbers come from the `perf-event-open-sys` crate; the
//! attr itself is [`EventAttr`], encoded with [`EventAttr::to_ne_bytes`].

mod cpu_list;
mod open_error;
pub mod tracer_scope;

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::raw::{c_int, c_ulong};

use perf_event_open_sys as sys;

use crate::attr::{EventAttr, ATTR_SIZE_VER8};

pub use cpu_list::{online_cpus, parse_cpu_list, possible_cpus, CpuListError};
pub use open_error::{OpenError, OpenFailure};

// The encoded attr is copied into the crate's struct, so that struct must be
// at least as large as the largest attr `EventAttr` encodes.
const _: () = assert!(ATTR_SIZE_VER8 <= std::mem::size_of::<sys::bindings::perf_event_attr>());

/// Whom an event measures: `perf_event_open`'s `pid` and `cpu` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every task on one CPU (pid -1): a system-wide event, which needs
    /// CAP_PERFMON or `perf_event_paranoid` <= 0.
    Cpu(u32),
    /// The tasks of one cgroup (v2) and its descendants on one CPU
    /// (`PERF_FLAG_PID_CGROUP`, perf's `-G`): a system-wide event, filtered.
    Cgroup {
        /// An open fd of the cgroup's directory, kept open by the caller
        /// for the call.
        fd: std::os::fd::RawFd,
        /// The CPU.
        cpu: u32,
    },
    /// One task (pid 0: the calling one), on one CPU or (None) on any.
    Task {
        /// The task's pid (thread id), 0 for the calling thread. Never -1:
        /// that is [`Target::Cpu`].
        pid: i32,
        /// The CPU to count on, or `None` for whichever it runs on.
        cpu: Option<u32>,
    },
}

impl Target {
    /// The `(pid, cpu)` arguments of `perf_event_open`.
    fn syscall_args(self) -> (libc::pid_t, c_int) {
        // A CPU number beyond c_int cannot exist; c_int::MAX makes the
        // kernel reject it like any other CPU it does not have.
        let cpu = |c: u32| c_int::try_from(c).unwrap_or(c_int::MAX);
        match self {
            Self::Cpu(c) => (-1, cpu(c)),
            Self::Cgroup { fd, cpu: c } => (fd, cpu(c)),
            Self::Task { pid, cpu: c } => (pid, c.map_or(-1, cpu)),
        }
    }

    /// The flags `perf_event_open` needs for this target.
    fn open_flags(self) -> c_ulong {
        let cloexec = c_ulong::from(sys::bindings::PERF_FLAG_FD_CLOEXEC);
        match self {
            Self::Cgroup { .. } => cloexec | c_ulong::from(sys::bindings::PERF_FLAG_PID_CGROUP),
            Self::Cpu(_) | Self::Task { .. } => cloexec,
        }
    }

    /// Whether this counts every task of a CPU (or of a cgroup on it):
    /// what needs CAP_PERFMON.
    pub fn is_system_wide(self) -> bool {
        matches!(self, Self::Cpu(_) | Self::Cgroup { .. })
    }

    /// The CPU it is bound to, if any.
    pub fn cpu(self) -> Option<u32> {
        match self {
            Self::Cpu(c) | Self::Cgroup { cpu: c, .. } | Self::Task { cpu: Some(c), .. } => Some(c),
            Self::Task { cpu: None, .. } => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Cpu(c) => write!(f, "CPU {c} (all tasks)"),
            Self::Cgroup { cpu: c, .. } => write!(f, "CPU {c} (the tasks of a cgroup)"),
            Self::Task { pid: 0, cpu: None } => write!(f, "the calling task"),
            Self::Task {
                pid: 0,
                cpu: Some(c),
            } => write!(f, "the calling task on CPU {c}"),
            Self::Task { pid, cpu: None } => write!(f, "task {pid}"),
            Self::Task { pid, cpu: Some(c) } => write!(f, "task {pid} on CPU {c}"),
        }
    }
}

/// Opens a perf event: `perf_event_open(attr, pid, cpu, group, PERF_FLAG_FD_CLOEXEC)`
/// (and `PERF_FLAG_PID_CGROUP` for a [`Target::Cgroup`]).
///
/// `group` is the group leader's fd, if the event joins a group. On failure
/// the [`OpenError`] explains the cause in perf terms; it names the event
/// from its attr, and [`OpenError::named`] gives it the caller's name.
pub fn open_event(
    attr: &EventAttr,
    target: Target,
    group: Option<BorrowedFd<'_>>,
) -> Result<OwnedFd, OpenError> {
    let bytes = attr.to_ne_bytes();
    // SAFETY: perf_event_attr holds only integers, integer unions and
    // bitfield bytes, for which all-zero is a valid value; it is also what
    // the kernel requires of every field and reserved bit we do not set.
    let mut raw: sys::bindings::perf_event_attr = unsafe { std::mem::zeroed() };
    let len = bytes.len().min(std::mem::size_of_val(&raw));
    // SAFETY: `bytes` and `raw` are distinct live objects and `len` is at
    // most the size of each; any byte pattern is a valid perf_event_attr.
    // The encoding sets the `size` field to `bytes.len()`, which the const
    // assertion above keeps within the struct.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            (&mut raw as *mut sys::bindings::perf_event_attr).cast::<u8>(),
            len,
        );
    }
    let (pid, cpu) = target.syscall_args();
    let group_fd = group.map_or(-1, |g| g.as_raw_fd());
    // SAFETY: `raw` is an initialised perf_event_attr whose `size` field
    // covers only bytes we wrote; the kernel may write the size it expects
    // back into it (on E2BIG), which is why it is passed mutably. `group_fd`
    // is -1 or an fd borrowed for the duration of the call.
    let fd = unsafe { sys::perf_event_open(&mut raw, pid, cpu, group_fd, target.open_flags()) };
    if fd < 0 {
        let source = io::Error::last_os_error();
        return Err(OpenError::new(attr, target, source, raw.size));
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Turns an ioctl's C return value into a `Result`.
fn ioctl_result(ret: c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// PERF_EVENT_IOC_ENABLE: starts counting (this event only, not its group).
pub fn enable(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is live for the call; ENABLE takes an integer flag (0:
    // this event only) and touches no user memory.
    ioctl_result(unsafe { sys::ioctls::ENABLE(fd.as_raw_fd(), 0) })
}

/// PERF_EVENT_IOC_DISABLE: stops counting (this event only).
pub fn disable(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: as in `enable`.
    ioctl_result(unsafe { sys::ioctls::DISABLE(fd.as_raw_fd(), 0) })
}

/// PERF_EVENT_IOC_ID: the kernel's id of this event instance, the value
/// PERF_SAMPLE_ID / PERF_SAMPLE_IDENTIFIER put in its records.
pub fn event_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut id = 0u64;
    // SAFETY: `fd` is live for the call; ID writes one u64 through the
    // pointer, which points to `id`, a live local.
    ioctl_result(unsafe { sys::ioctls::ID(fd.as_raw_fd(), &mut id) })?;
    Ok(id)
}

/// PERF_EVENT_IOC_SET_OUTPUT: sends `fd`'s records to the ring buffer of
/// `target`, an event on the same CPU (or the same task), so that one mmap
/// per CPU carries every event of that CPU. `fd` must not be mmapped itself.
pub fn set_output(fd: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: both fds are live for the call; SET_OUTPUT takes an fd
    // number and touches no user memory.
    ioctl_result(unsafe { sys::ioctls::SET_OUTPUT(fd.as_raw_fd(), target.as_raw_fd()) })
}

/// PERF_EVENT_IOC_PAUSE_OUTPUT: while paused, the kernel drops this ring
/// buffer's new records (counting them as lost) instead of writing them.
pub fn pause_output(fd: BorrowedFd<'_>, paused: bool) -> io::Result<()> {
    // SAFETY: `fd` is live for the call; PAUSE_OUTPUT takes an integer.
    ioctl_result(unsafe { sys::ioctls::PAUSE_OUTPUT(fd.as_raw_fd(), u32::from(paused)) })
}

/// The system's page size, the unit of perf ring buffer sizes.
pub fn page_size() -> io::Result<usize> {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) => usize::try_from(n)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("page size {n}"))),
        Ok(None) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "sysconf(_SC_PAGESIZE) has no value",
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs::File;
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::attr::{flags, kind, sw};

    fn is_root() -> bool {
        crate::testing::prerequisite(crate::testing::root()).is_some()
    }

    /// The id of sched:sched_switch, read from tracefs.
    fn sched_switch_id() -> Option<u64> {
        let path = "/sys/kernel/tracing/events/sched/sched_switch/id";
        let id = crate::testing::prerequisite(
            std::fs::read_to_string(path)
                .map_err(|e| format!("needs tracefs mounted: {path}: {e}")),
        )?;
        Some(id.trim().parse().unwrap())
    }

    fn read_count(f: &mut File) -> u64 {
        let mut buf = [0u8; 8];
        f.read_exact(&mut buf).unwrap();
        u64::from_ne_bytes(buf)
    }

    #[test]
    fn task_clock_counts_a_busy_loop() {
        if !is_root() {
            return;
        }
        let attr = EventAttr {
            kind: kind::SOFTWARE,
            config: sw::TASK_CLOCK,
            flags: flags::DISABLED,
            ..Default::default()
        };
        let target = Target::Task { pid: 0, cpu: None };
        let mut counter = File::from(open_event(&attr, target, None).unwrap());
        let idle = read_count(&mut counter);
        assert_eq!(idle, 0, "a disabled counter counts nothing");

        let start = Instant::now();
        enable(counter.as_fd()).unwrap();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        disable(counter.as_fd()).unwrap();
        let wall = start.elapsed().as_nanos() as u64;
        let count = read_count(&mut counter);
        // task-clock is this thread's CPU time in ns while enabled: more
        // than nothing, and no more than the wall time that passed.
        assert!(
            count > 0 && count <= wall,
            "task-clock {count} ns, wall {wall} ns"
        );

        let other = open_event(&attr, target, None).unwrap();
        let (a, b) = (
            event_id(counter.as_fd()).unwrap(),
            event_id(other.as_fd()).unwrap(),
        );
        assert!(a != 0 && b != 0 && a != b, "ids {a} and {b}");
    }

    #[test]
    fn sched_switch_opens_on_every_online_cpu() {
        if !is_root() {
            return;
        }
        let Some(id) = sched_switch_id() else { return };
        let attr = EventAttr {
            kind: kind::TRACEPOINT,
            config: id,
            sample_period: 1,
            flags: flags::DISABLED,
            ..Default::default()
        };
        let cpus = online_cpus().unwrap();
        let mut counters: Vec<File> = cpus
            .iter()
            .map(|&c| File::from(open_event(&attr, Target::Cpu(c), None).unwrap()))
            .collect();
        for c in &counters {
            enable(c.as_fd()).unwrap();
        }
        // This thread visits each CPU in turn: moving there is a switch on
        // it, and each sleep there one more.
        let me = nix::unistd::Pid::from_raw(0);
        let was = nix::sched::sched_getaffinity(me).unwrap();
        for &cpu in &cpus {
            let mut one = nix::sched::CpuSet::new();
            one.set(cpu as usize).unwrap();
            nix::sched::sched_setaffinity(me, &one).unwrap();
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        nix::sched::sched_setaffinity(me, &was).unwrap();
        for c in &counters {
            disable(c.as_fd()).unwrap();
        }
        let per_cpu: Vec<(u32, u64)> = cpus
            .iter()
            .copied()
            .zip(counters.iter_mut().map(read_count))
            .collect();
        // Each CPU's event counts that CPU's switches, this thread's three
        // sleeps there among them.
        assert!(
            per_cpu.iter().all(|&(_, n)| n >= 3),
            "context switches per CPU: {per_cpu:?}"
        );
    }

    #[test]
    fn missing_tracepoint_says_so() {
        if !is_root() {
            return;
        }
        // Tracepoint ids are small counters; this one is never allocated.
        let id = 0x7fff_fff0;
        let attr = EventAttr {
            kind: kind::TRACEPOINT,
            config: id,
            ..Default::default()
        };
        let err = open_event(&attr, Target::Task { pid: 0, cpu: None }, None).unwrap_err();
        // perf_trace_init answers an id it does not have with EINVAL.
        assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");
        assert_eq!(
            err.failure,
            OpenFailure::InvalidAttr {
                tracer_scope: false,
                tracepoint: Some(id)
            }
        );
        let err = err.named("sched:no_such_event");
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot open sched:no_such_event on the calling task: ")
                && msg.contains(&format!("no tracepoint with id {id}")),
            "{msg}"
        );
    }

    #[test]
    fn tracer_scope_on_a_stock_kernel_names_the_patch() {
        if !is_root() {
            return;
        }
        let stock = match tracer_scope::current_tracer_namespace().unwrap() {
            None => Ok(()),
            Some(_) => Err("needs a kernel without the tracer-namespace series"),
        };
        if crate::testing::prerequisite(stock).is_none() {
            return;
        }
        let attr = EventAttr {
            kind: kind::SOFTWARE,
            config: sw::DUMMY,
            flags: flags::DISABLED | flags::TRACER_SCOPE,
            ..Default::default()
        };
        let err = open_event(&attr, Target::Cpu(0), None).unwrap_err();
        assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");
        assert_eq!(
            err.failure,
            OpenFailure::InvalidAttr {
                tracer_scope: true,
                tracepoint: None
            }
        );
        assert!(
            err.to_string().contains("perfns tracer-namespace patch"),
            "{err}"
        );
        assert!(matches!(
            tracer_scope::probe(),
            tracer_scope::TracerScopeSupport::KernelLacksPatch(_)
        ));
    }

    #[test]
    fn cgroup_target_passes_the_cgroup_flag() {
        if !is_root() {
            return;
        }
        let attr = EventAttr {
            kind: kind::SOFTWARE,
            config: sw::DUMMY,
            flags: flags::DISABLED,
            ..Default::default()
        };
        // A directory that is not a cgroup: the kernel looks it up as one
        // only with PERF_FLAG_PID_CGROUP (perf_cgroup_connect), and says
        // EBADF; without the flag the fd number would be a pid.
        let dir = File::open("/").unwrap();
        use std::os::fd::AsRawFd;
        let target = Target::Cgroup {
            fd: dir.as_raw_fd(),
            cpu: 0,
        };
        assert!(target.is_system_wide());
        assert_eq!(target.cpu(), Some(0));
        let err = open_event(&attr, target, None).unwrap_err();
        assert_eq!(err.errno(), Some(libc::EBADF), "{err}");
        assert!(
            err.to_string().contains("on CPU 0 (the tasks of a cgroup)"),
            "{err}"
        );
    }

    #[test]
    fn bad_pid_is_no_such_task() {
        if !is_root() {
            return;
        }
        let attr = EventAttr {
            kind: kind::SOFTWARE,
            config: sw::DUMMY,
            ..Default::default()
        };
        // pid_max is at most 2^22 (PID_MAX_LIMIT), so this pid never exists.
        let pid = (1 << 22) + 1;
        let err = open_event(&attr, Target::Task { pid, cpu: None }, None).unwrap_err();
        assert_eq!(err.failure, OpenFailure::NoSuchTask { pid }, "{err}");
    }

    #[test]
    fn unprivileged_system_wide_open_explains_paranoid() {
        if !is_root() {
            return;
        }
        let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let refuses = match paranoid {
            1.. => Ok(()),
            _ => Err(format!(
                "needs perf_event_paranoid >= 1 (it is {paranoid}: everybody may open \
                 system-wide events)"
            )),
        };
        if crate::testing::prerequisite(refuses).is_none() {
            return;
        }
        let attr = EventAttr {
            kind: kind::SOFTWARE,
            config: sw::CPU_CLOCK,
            flags: flags::DISABLED,
            ..Default::default()
        };
        let (rd, wr) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only drops privileges, opens one event, writes
        // the outcome to the pipe and exits without running destructors or
        // returning into the test harness.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                drop(rd);
                let out = match nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)) {
                    Err(e) => format!("setuid: {e}"),
                    Ok(()) => match open_event(&attr, Target::Cpu(0), None) {
                        Ok(_) => "opened".to_owned(),
                        Err(e) => format!("{:?}|{e}", e.failure),
                    },
                };
                let mut f = File::from(wr);
                let _ = std::io::Write::write_all(&mut f, out.as_bytes());
                drop(f);
                // SAFETY: _exit ends the child at once, as a forked child of
                // a multithreaded process must.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(wr);
                let mut out = String::new();
                File::from(rd).read_to_string(&mut out).unwrap();
                nix::sys::wait::waitpid(child, None).unwrap();
                let expected = format!(
                    "NotPermitted {{ paranoid: Some({paranoid}), needed: 0, because: \
                     \"system-wide (per-CPU) events need it\" }}|"
                );
                assert!(out.starts_with(&expected), "{out}");
                assert!(
                    out.contains(&format!(
                        "/proc/sys/kernel/perf_event_paranoid is {paranoid}"
                    )) && out.contains("CAP_PERFMON"),
                    "{out}"
                );
            }
        }
    }
}

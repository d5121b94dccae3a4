//! Why `perf_event_open` failed, told the way a perf user can act on it.

use std::fmt;
use std::io;

use crate::attr::{flags, kind, sw, EventAttr, SampleFormat};

use super::Target;

/// Where the kernel's perf access policy is set.
const PARANOID_PATH: &str = "/proc/sys/kernel/perf_event_paranoid";

/// `perf_event_open` failed for an event.
#[derive(Debug, thiserror::Error)]
#[error("cannot open {event} on {target}: {failure}")]
pub struct OpenError {
    /// The event: its name when [`OpenError::named`] gave one, otherwise a
    /// description of its attr.
    pub event: String,
    /// Whom it was to measure.
    pub target: Target,
    /// The cause, in perf terms.
    pub failure: OpenFailure,
    /// The system call's error.
    #[source]
    pub source: io::Error,
}

/// The cause of an [`OpenError`], classified from the errno and the attr.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenFailure {
    /// EACCES, EPERM: the perf access policy forbids this event.
    NotPermitted {
        /// `kernel.perf_event_paranoid` when the error happened, if readable.
        paranoid: Option<i32>,
        /// The highest setting that allows this event without CAP_PERFMON.
        needed: i32,
        /// What about the event needs that setting.
        because: &'static str,
    },
    /// ENOENT, ENODEV, EOPNOTSUPP: this kernel or machine lacks the event.
    Unsupported {
        /// The tracepoint id, for a tracepoint event.
        tracepoint: Option<u64>,
        /// The CPU, when ENODEV may mean it is offline.
        cpu: Option<u32>,
    },
    /// EINVAL: the kernel rejects the attr (or the pid/cpu combination).
    InvalidAttr {
        /// The attr asks for tracer scope, which only the perfns kernel
        /// series knows.
        tracer_scope: bool,
        /// The tracepoint id, for a tracepoint event: the kernel answers an
        /// id it does not have with EINVAL (perf_trace_init).
        tracepoint: Option<u64>,
    },
    /// E2BIG: the attr is larger than this kernel's and uses fields past
    /// the kernel's end.
    AttrTooBig {
        /// The attr size the kernel knows, as it wrote it back.
        kernel_size: u32,
    },
    /// EMFILE, ENFILE: out of file descriptors.
    TooManyFiles {
        /// The soft RLIMIT_NOFILE, if known.
        limit: Option<u64>,
    },
    /// EBUSY: an exclusive user holds the PMU resource.
    Busy,
    /// ESRCH: the target task does not exist.
    NoSuchTask {
        /// Its pid.
        pid: i32,
    },
    /// Any other errno.
    Other,
}

impl OpenError {
    /// Classifies a failed open of `attr` on `target`. `kernel_size` is the
    /// attr's size field after the call (the kernel writes its own size
    /// there on E2BIG).
    pub(super) fn new(
        attr: &EventAttr,
        target: Target,
        source: io::Error,
        kernel_size: u32,
    ) -> Self {
        let tracepoint = (attr.kind == kind::TRACEPOINT).then_some(attr.config);
        let failure = match source.raw_os_error().unwrap_or(0) {
            libc::EACCES | libc::EPERM => {
                let (needed, because) = needed_paranoia(attr, target);
                OpenFailure::NotPermitted {
                    paranoid: read_paranoid(),
                    needed,
                    because,
                }
            }
            libc::ENOENT | libc::ENODEV | libc::EOPNOTSUPP => OpenFailure::Unsupported {
                tracepoint,
                cpu: target.cpu(),
            },
            libc::EINVAL => OpenFailure::InvalidAttr {
                tracer_scope: attr.flags & flags::TRACER_SCOPE != 0,
                tracepoint,
            },
            libc::E2BIG => OpenFailure::AttrTooBig { kernel_size },
            libc::EMFILE | libc::ENFILE => OpenFailure::TooManyFiles {
                limit: nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                    .ok()
                    .map(|(soft, _)| soft),
            },
            libc::EBUSY => OpenFailure::Busy,
            libc::ESRCH => OpenFailure::NoSuchTask {
                pid: match target {
                    Target::Task { pid, .. } => pid,
                    Target::Cpu(_) | Target::Cgroup { .. } => -1,
                },
            },
            _ => OpenFailure::Other,
        };
        Self {
            event: describe(attr),
            target,
            failure,
            source,
        }
    }

    /// Names the event in the message (e.g. `sched:sched_switch`), in place
    /// of the description of its attr.
    pub fn named(mut self, name: &str) -> Self {
        self.event = name.to_owned();
        self
    }

    /// The errno `perf_event_open` returned.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// The loosest `perf_event_paranoid` at which an unprivileged user may open
/// this event, and why (include/linux/perf_event.h, perf_allow_*).
fn needed_paranoia(attr: &EventAttr, target: Target) -> (i32, &'static str) {
    if attr.kind == kind::TRACEPOINT && attr.sample_type.contains(SampleFormat::RAW) {
        (-1, "tracepoint payloads (PERF_SAMPLE_RAW) need it")
    } else if target.is_system_wide() {
        (0, "system-wide (per-CPU) events need it")
    } else if attr.flags & flags::EXCLUDE_KERNEL == 0 {
        (1, "measuring the kernel needs it")
    } else {
        (2, "any use of perf needs it")
    }
}

/// The current `kernel.perf_event_paranoid`.
fn read_paranoid() -> Option<i32> {
    std::fs::read_to_string(PARANOID_PATH)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A name for an event that has none yet, from its attr.
fn describe(attr: &EventAttr) -> String {
    match attr.kind {
        kind::TRACEPOINT => format!("tracepoint id {}", attr.config),
        kind::SOFTWARE => match attr.config {
            sw::CPU_CLOCK => "software event cpu-clock".into(),
            sw::TASK_CLOCK => "software event task-clock".into(),
            sw::PAGE_FAULTS => "software event page-faults".into(),
            sw::CONTEXT_SWITCHES => "software event context-switches".into(),
            sw::DUMMY => "software event dummy".into(),
            c => format!("software event {c}"),
        },
        kind::HARDWARE => format!("hardware event {}", attr.config),
        k => format!("event type {k} config {:#x}", attr.config),
    }
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotPermitted {
                paranoid,
                needed,
                because,
            } => {
                write!(
                    f,
                    "permission denied. Without CAP_PERFMON (or CAP_SYS_ADMIN before Linux 5.8) \
                     this event needs kernel.perf_event_paranoid <= {needed} ({because}); "
                )?;
                match paranoid {
                    Some(p) if p <= needed => write!(
                        f,
                        "{PARANOID_PATH} is {p}, which allows it, so the denial comes from \
                         elsewhere: a seccomp filter or LSM, a container's policy, or (for a \
                         task) no ptrace access to it"
                    ),
                    Some(p) => write!(
                        f,
                        "{PARANOID_PATH} is {p}{}. Run as root or with CAP_PERFMON, or lower \
                         it: `sysctl kernel.perf_event_paranoid={needed}`",
                        if p >= 3 {
                            " (3 and above, a distribution patch, forbid perf to unprivileged users)"
                        } else {
                            ""
                        }
                    ),
                    None => write!(
                        f,
                        "{PARANOID_PATH} cannot be read. Run as root or with CAP_PERFMON"
                    ),
                }
            }
            Self::Unsupported {
                tracepoint: Some(id),
                ..
            } => write!(
                f,
                "this kernel has no tracepoint with id {id}: the tracepoint does not exist on \
                 this kernel (see /sys/kernel/tracing/events/<system>/<name>/id)"
            ),
            Self::Unsupported {
                tracepoint: None,
                cpu,
            } => {
                write!(f, "the event is not supported by this kernel or machine")?;
                if let Some(c) = cpu {
                    write!(f, ", or CPU {c} is offline")?;
                }
                write!(
                    f,
                    " (hardware events are often missing in virtual machines)"
                )
            }
            Self::InvalidAttr {
                tracer_scope: true, ..
            } => write!(
                f,
                "the kernel rejects the attr's tracer scope (perf_event_attr bit 40): it lacks \
                 the perfns tracer-namespace patch series"
            ),
            Self::InvalidAttr {
                tracer_scope: false,
                tracepoint: Some(id),
            } => write!(
                f,
                "the kernel rejects the attr: most likely this kernel has no tracepoint with id \
                 {id} (the kernel answers unknown ids with EINVAL; see \
                 /sys/kernel/tracing/events/<system>/<name>/id), or the attr uses a field or flag \
                 this kernel does not know"
            ),
            Self::InvalidAttr {
                tracer_scope: false,
                tracepoint: None,
            } => write!(
                f,
                "the kernel rejects the perf_event_attr as invalid: it uses a field or flag \
                 this kernel does not know, or a combination (or CPU) it does not allow"
            ),
            Self::AttrTooBig { kernel_size } => write!(
                f,
                "the attr uses fields this kernel does not have (the kernel's perf_event_attr \
                 is {kernel_size} bytes): the kernel is too old for this event"
            ),
            Self::TooManyFiles { limit } => {
                write!(
                    f,
                    "too many open files: perf opens one event per CPU and kind; raise the \
                     limit with `ulimit -n`"
                )?;
                match limit {
                    Some(n) => write!(f, " (now {n})"),
                    None => Ok(()),
                }
            }
            Self::Busy => write!(
                f,
                "the PMU resource is busy: an exclusive or pinned event (another perf session, \
                 or the NMI watchdog) holds it"
            ),
            Self::NoSuchTask { pid } => {
                write!(f, "no task with pid {pid} (it may have exited)")
            }
            Self::Other => write!(f, "perf_event_open failed"),
        }
    }
}

//! The perfns kernel series' additions to the kernel ABI, mirrored by hand.
//!
//! The series adds a tracer namespace (`CLONE_NEWTRACER`), an attr bit that
//! scopes an event to the opener's tracer namespace and its descendants
//! ([`TRACER_SCOPE`], bit 40 of the attr's flags), one that asks for
//! PERF_RECORD_TRACER_NAMESPACES side-band records ([`TRACER_NAMESPACES`],
//! bit 41; record type [`crate::record::RecordType::TRACER_NAMESPACES`],
//! 23, laid out as below), the ioctl that reports every
//! task already in scope ([`PERF_EVENT_IOC_TRACER_STATEDUMP`]), the ioctl
//! that reads a tracer namespace's 64-bit id ([`NS_GET_ID`]) and the
//! sysctl that turns the scope off ([`SYSCTL_PATH`]). None of this is in a
//! released kernel: these values mirror the series' uapi headers
//! (kernel-patch/0001, 0004 and 0005: include/uapi/linux/sched.h, nsfs.h,
//! perf_event.h) and change when it does. Each number comes after what
//! mainline has given out (bits 38 and 39 are its defer_callchain and
//! defer_output, type 22 its PERF_RECORD_CALLCHAIN_DEFERRED).
//!
//! Recordings made on the series before it moved clear of mainline (type
//! 22, bits 38 and 39, no ids) are still read:
//! [`crate::perf_data::PerfFileReader`] hands their records out as
//! [`crate::record::RecordType::TRACER_NAMESPACES`] too, without ids.
//!
//! What a scoped event may be is in the series'
//! Documentation/admin-guide/perf-tracer-scope.rst; in short, opened with
//! pid -1 on one CPU, it may be a `raw_syscalls`/`syscalls` tracepoint, a
//! page-fault, context-switch, migration or clock software event, or a
//! dummy carrying FORK, EXIT, COMM, SWITCH_CPU_WIDE and
//! TRACER_NAMESPACES records; its sample type may not carry kernel or
//! physical addresses. The errno says why an open failed:
//! [`REFUSED_BY_SYSCTL`], [`REFUSED_NOT_PERMITTED`],
//! [`REFUSED_NOT_SCOPED`].
//!
//! PERF_RECORD_TRACER_NAMESPACES:
//!
//! ```c
//! struct {
//!     struct perf_event_header header;
//!     u32 pid, tid;                 /* in the reader's pid namespace */
//!     u64 nr_namespaces;
//!     { u64 dev, inode; } namespaces[nr_namespaces];  /* by *_NS_INDEX */
//!     u64 nr_tracer_levels;
//!     u64 tracer_ns[nr_tracer_levels];  /* inodes, reader's level down to the task's */
//!     u64 nr_pid_levels;
//!     { u32 pid, tid; } pids[nr_pid_levels];  /* reader's pid ns down to the task's */
//!     u64 tracer_ns_id[nr_tracer_levels];  /* the same namespaces' 64-bit ids */
//!     struct sample_id sample_id;
//! };
//! ```
//!
//! `pids` is empty when the reader's pid namespace does not show the task;
//! the tracer namespaces share the device of `namespaces[TRACER_NS_INDEX]`.
//! The ids, unlike the inodes, are never given to another namespace; the
//! series' record before type 23 ended after `pids`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;

use crate::attr::{kind, sw, EventAttr};

use super::{online_cpus, open_event, OpenError, Target};

pub use crate::attr::flags::{TRACER_NAMESPACES, TRACER_SCOPE};

/// `CLONE_NEWTRACER` (include/uapi/linux/sched.h of the series): a new
/// tracer namespace, for `clone3()` and `unshare()` only, since it does not
/// fit in `clone()`'s 32-bit flags.
/// Bit 38: bits 34 to 37 are clone3() flags mainline added after 6.12.
pub const CLONE_NEWTRACER: u64 = 0x40_0000_0000;

/// `CLONE_NEWTRACER_NSTYPE`: the `nstype` that `setns()` takes for a tracer
/// namespace, which cannot be `CLONE_NEWTRACER` (an int): the series reuses
/// an unused CSIGNAL bit.
pub const CLONE_NEWTRACER_NSTYPE: i32 = 0x4;

/// `PROC_TRACER_INIT_INO`: the inode of the initial tracer namespace,
/// after mainline's 0xEFFFFFF9 to 0xEFFFFFF7 (network and mount namespaces).
pub const PROC_TRACER_INIT_INO: u64 = 0xEFFF_FFF6;

/// `TRACER_NS_INIT_ID`: the 64-bit id of the initial tracer namespace; each
/// namespace created after has a larger one.
pub const TRACER_NS_INIT_ID: u64 = 1;

/// `NS_GET_ID`, `_IOR(0xb7, 13, __u64)`, mainline's number: on
/// `/proc/PID/ns/tracer`, the namespace's 64-bit id.
pub const NS_GET_ID: u64 = (2 << 30) | (8 << 16) | (0xb7 << 8) | 13;

/// `NS_TRACER_GET_BUFFER_BUDGET`, `_IOR(0xb7, 32, struct
/// tracer_ns_buffer_budget)` (patch 10): on a tracer namespace's file, its
/// ring-buffer limit and what its scoped readers and those nested in it
/// have mapped, in bytes.
pub const NS_TRACER_GET_BUFFER_BUDGET: u64 = (2 << 30) | (16 << 16) | (0xb7 << 8) | 32;

/// `NS_TRACER_SET_BUFFER_LIMIT`, `_IOW(0xb7, 33, __u64)`: sets that limit
/// (`u64::MAX`: none); needs `CAP_SYS_ADMIN` over the owner of the
/// namespace's parent, so a tenant cannot raise its own.
pub const NS_TRACER_SET_BUFFER_LIMIT: u64 = (1 << 30) | (8 << 16) | (0xb7 << 8) | 33;

/// A tracer namespace's ring-buffer budget ([`NS_TRACER_GET_BUFFER_BUDGET`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferBudget {
    /// The most its readers may map, in bytes; `None`: no limit.
    pub limit: Option<u64>,
    /// What they have mapped, in bytes.
    pub used: u64,
}

/// The ring-buffer budget of the tracer namespace `ns` (a file of
/// `/proc/PID/ns/tracer`); ENOTTY on a kernel without it, EINVAL for the
/// initial tracer namespace, which has none.
pub fn buffer_budget(ns: BorrowedFd<'_>) -> io::Result<BufferBudget> {
    let mut raw = [0u64; 2];
    // SAFETY: `ns` is live for the call and `raw` is the 16 bytes of
    // struct tracer_ns_buffer_budget the kernel writes.
    super::ioctl_result(unsafe {
        libc::ioctl(
            ns.as_raw_fd(),
            NS_TRACER_GET_BUFFER_BUDGET as _,
            raw.as_mut_ptr(),
        )
    })?;
    Ok(BufferBudget {
        limit: (raw[0] != u64::MAX).then_some(raw[0]),
        used: raw[1],
    })
}

/// Sets the ring-buffer limit of the tracer namespace `ns`, in bytes
/// (`None`: no limit); see [`NS_TRACER_SET_BUFFER_LIMIT`] for who may.
pub fn set_buffer_limit(ns: BorrowedFd<'_>, bytes: Option<u64>) -> io::Result<()> {
    let limit: u64 = bytes.unwrap_or(u64::MAX);
    // SAFETY: `ns` is live for the call; the kernel reads the u64.
    super::ioctl_result(unsafe {
        libc::ioctl(ns.as_raw_fd(), NS_TRACER_SET_BUFFER_LIMIT as _, &limit)
    })
}

/// The ring-buffer budget of the calling task's tracer namespace, or
/// `None` where there is none to read (no tracer namespaces, no budget in
/// this kernel, the initial tracer namespace).
pub fn own_buffer_budget() -> Option<BufferBudget> {
    let ns = std::fs::File::open(TRACER_NS_PATH).ok()?;
    buffer_budget(std::os::fd::AsFd::as_fd(&ns)).ok()
}

/// Where the series shows a task's tracer namespace.
const TRACER_NS_PATH: &str = "/proc/self/ns/tracer";

/// `kernel.perf_tracer_scope`: 1 lets a task outside the initial tracer
/// namespace open scoped events, 0 (the default) refuses new ones.
pub const SYSCTL_PATH: &str = "/proc/sys/kernel/perf_tracer_scope";

/// The errno of opening a scoped event while [`SYSCTL_PATH`] is 0.
pub const REFUSED_BY_SYSCTL: i32 = libc::EPERM;

/// The errno of opening a scoped event without `CAP_PERFMON` (or
/// `CAP_SYS_ADMIN`) over the user namespace that owns the opener's tracer
/// namespace, or with a sample type that could carry a kernel or physical
/// address (`PERF_SAMPLE_IP` needs `exclude_kernel`, `CALLCHAIN`
/// `exclude_callchain_kernel`; `ADDR`, `PHYS_ADDR`, `REGS_INTR`,
/// `BRANCH_STACK`, ... are refused).
pub const REFUSED_NOT_PERMITTED: i32 = libc::EACCES;

/// The errno of asking a scoped event for something the scope does not
/// cover: another event type or tracepoint, or a side-band kind such as
/// mmap, ksymbol or cgroup.
pub const REFUSED_NOT_SCOPED: i32 = libc::EOPNOTSUPP;

/// `PERF_EVENT_IOC_TRACER_STATEDUMP`, `_IO('$', 12)`: on an event with
/// [`TRACER_NAMESPACES`], writes one PERF_RECORD_TRACER_NAMESPACES into
/// that event's ring buffer for every task in scope that the reader's pid
/// namespace shows, so that a recording describes the tasks that existed
/// before it started.
pub const PERF_EVENT_IOC_TRACER_STATEDUMP: u64 = (b'$' as u64) << 8 | 12;

/// Index of the time namespace in the record's `namespaces[]`
/// (`TRACER_RECORD_TIME_NS_INDEX`), after the seven of
/// PERF_RECORD_NAMESPACES; fixed, whatever `NR_NAMESPACES` becomes.
pub const TIME_NS_INDEX: usize = 7;

/// Index of the tracer namespace in the record's `namespaces[]`
/// (`TRACER_RECORD_TRACER_NS_INDEX`).
pub const TRACER_NS_INDEX: usize = 8;

/// How many namespaces the series' record carries (`NR_TRACER_RECORD_NAMESPACES`).
pub const NR_TRACER_RECORD_NAMESPACES: usize = 9;

/// Whether this kernel and this process can open tracer-scoped events.
#[derive(Debug)]
pub enum TracerScopeSupport {
    /// A tracer-scoped event opened.
    Supported,
    /// The kernel rejects the tracer-scope bit (EINVAL, or E2BIG): it lacks
    /// the perfns series. The kernel checks the attr's reserved bits before
    /// any permission, so this holds for unprivileged callers too.
    KernelLacksPatch(OpenError),
    /// The kernel knows the bit but denies this process (EACCES, EPERM).
    NotPermitted(OpenError),
    /// The probe failed for another reason.
    Failed(OpenError),
}

impl TracerScopeSupport {
    /// Whether tracer-scoped events can be opened.
    pub fn is_supported(&self) -> bool {
        matches!(self, Self::Supported)
    }
}

/// Probes for tracer scope by opening a disabled software dummy event with
/// [`TRACER_SCOPE`] on the first online CPU (CPU 0 if the list cannot be
/// read), then closing it.
pub fn probe() -> TracerScopeSupport {
    let cpu = online_cpus()
        .ok()
        .and_then(|cpus| cpus.first().copied())
        .unwrap_or(0);
    let attr = EventAttr {
        kind: kind::SOFTWARE,
        config: sw::DUMMY,
        flags: crate::attr::flags::DISABLED | TRACER_SCOPE,
        ..Default::default()
    };
    match open_event(&attr, Target::Cpu(cpu), None) {
        Ok(_) => TracerScopeSupport::Supported,
        Err(e) => match e.errno() {
            Some(libc::EINVAL | libc::E2BIG) => TracerScopeSupport::KernelLacksPatch(e),
            Some(libc::EACCES | libc::EPERM) => TracerScopeSupport::NotPermitted(e),
            _ => TracerScopeSupport::Failed(e),
        },
    }
}

/// Asks the kernel for PERF_RECORD_TRACER_NAMESPACES about every task in
/// scope, written to `fd`'s ring buffer; see
/// [`PERF_EVENT_IOC_TRACER_STATEDUMP`]. Fails with EINVAL if `fd` was not
/// opened with [`TRACER_NAMESPACES`].
pub fn statedump(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is live for the call; the ioctl takes no argument and
    // touches no user memory. The request's C type differs between libcs.
    super::ioctl_result(unsafe {
        libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_TRACER_STATEDUMP as _, 0)
    })
}

/// Whether [`SYSCTL_PATH`] allows scoped events, or `None` on a kernel
/// without the series.
pub fn enabled_by_sysctl() -> io::Result<Option<bool>> {
    match std::fs::read_to_string(SYSCTL_PATH) {
        Ok(text) => match text.trim() {
            "0" => Ok(Some(false)),
            "1" => Ok(Some(true)),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{SYSCTL_PATH}: unexpected value {other:?}"),
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(e.kind(), format!("{SYSCTL_PATH}: {e}"))),
    }
}

/// The 64-bit id of tracer namespace `ns` (a file of `/proc/PID/ns/tracer`),
/// through [`NS_GET_ID`]: [`TRACER_NS_INIT_ID`] for the initial one.
pub fn namespace_id(ns: BorrowedFd<'_>) -> io::Result<u64> {
    let mut id = 0u64;
    // SAFETY: `ns` is live for the call and `id` is the __u64 the kernel
    // writes.
    super::ioctl_result(unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_ID as _, &mut id) })?;
    Ok(id)
}

/// The 64-bit id of the calling task's tracer namespace ([`namespace_id`]),
/// or `None` on a kernel without tracer namespaces.
pub fn current_tracer_namespace_id() -> io::Result<Option<u64>> {
    let ns = match std::fs::File::open(TRACER_NS_PATH) {
        Ok(ns) => ns,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{TRACER_NS_PATH}: {e}"))),
    };
    namespace_id(std::os::fd::AsFd::as_fd(&ns))
        .map(Some)
        .map_err(|e| io::Error::new(e.kind(), format!("{TRACER_NS_PATH}: NS_GET_ID: {e}")))
}

/// The inode of the calling task's tracer namespace (the key the series'
/// records use for it), or `None` on a kernel without tracer namespaces.
pub fn current_tracer_namespace() -> io::Result<Option<u64>> {
    match std::fs::metadata(TRACER_NS_PATH) {
        Ok(m) => Ok(Some(m.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(e.kind(), format!("{TRACER_NS_PATH}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ioctl numbers of the perf ABI, as the kernel's `_IO('$', n)`;
    /// STATEDUMP follows MODIFY_ATTRIBUTES (11) in the series.
    #[test]
    fn statedump_ioctl_is_io_dollar_12() {
        let io = |nr: u64| (u64::from(b'$') << 8) | nr;
        assert_eq!(PERF_EVENT_IOC_TRACER_STATEDUMP, io(12));
        assert_eq!(PERF_EVENT_IOC_TRACER_STATEDUMP, 0x240c);
    }

    /// `_IOR(NSIO, 13, __u64)` as the kernel's asm-generic/ioctl.h encodes
    /// it: mainline's NS_GET_ID.
    #[test]
    fn ns_get_id_is_mainline_s() {
        assert_eq!(NS_GET_ID, 0x8008_b70d);
    }

    /// `_IOR(NSIO, 32, struct tracer_ns_buffer_budget)` (16 bytes) and
    /// `_IOW(NSIO, 33, __u64)` as asm-generic/ioctl.h encodes them.
    #[test]
    fn buffer_budget_ioctls_are_patch_10_s() {
        assert_eq!(NS_TRACER_GET_BUFFER_BUDGET, 0x8010_b720);
        assert_eq!(NS_TRACER_SET_BUFFER_LIMIT, 0x4008_b721);
    }

    #[test]
    fn record_indexes_follow_perf_record_namespaces() {
        assert_eq!(TIME_NS_INDEX, crate::record::ns_index::CGROUP + 1);
        assert_eq!(TRACER_NS_INDEX, TIME_NS_INDEX + 1);
        assert_eq!(NR_TRACER_RECORD_NAMESPACES, TRACER_NS_INDEX + 1);
    }

    /// On this machine's kernel (stock, without the series) the sysctl is
    /// absent; with the series it reads 0 or 1.
    #[test]
    fn sysctl_reads_as_absent_or_a_bool() {
        let has_series = current_tracer_namespace().unwrap().is_some();
        let sysctl = enabled_by_sysctl().unwrap();
        if has_series {
            assert!(sysctl.is_some());
        } else {
            assert_eq!(sysctl, None);
        }
    }
}

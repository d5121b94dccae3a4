//! The perfns kernel series' additions to the kernel ABI, mirrored by hand.
//!
//! The series adds a tracer namespace (`CLONE_NEWTRACER`), an attr bit that
//! scopes an event to the opener's tracer namespace and its descendants
//! ([`TRACER_SCOPE`], bit 38 of the attr's flags), one that asks for
//! PERF_RECORD_TRACER_NAMESPACES side-band records ([`TRACER_NAMESPACES`],
//! bit 39; record type [`crate::record::RecordType::TRACER_NAMESPACES`],
//! 22). None of this is in a released kernel: these values mirror the
//! series' uapi headers and change when it does.

use std::io;
use std::os::unix::fs::MetadataExt;

use crate::attr::{kind, sw, EventAttr};

use super::{online_cpus, open_event, OpenError, Target};

pub use crate::attr::flags::{TRACER_NAMESPACES, TRACER_SCOPE};

/// `CLONE_NEWTRACER` (include/uapi/linux/sched.h of the series): a new
/// tracer namespace, for `clone3()` and `unshare()` only, since it does not
/// fit in `clone()`'s 32-bit flags.
pub const CLONE_NEWTRACER: u64 = 0x4_0000_0000;

/// `CLONE_NEWTRACER_NSTYPE`: the `nstype` that `setns()` takes for a tracer
/// namespace, which cannot be `CLONE_NEWTRACER` (an int): the series reuses
/// a CSIGNAL bit, `CLONE_NEWTRACER >> 32`.
pub const CLONE_NEWTRACER_NSTYPE: i32 = 0x4;

/// Where the series shows a task's tracer namespace.
const TRACER_NS_PATH: &str = "/proc/self/ns/tracer";

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

/// The inode of the calling task's tracer namespace (the key the series'
/// records use for it), or `None` on a kernel without tracer namespaces.
pub fn current_tracer_namespace() -> io::Result<Option<u64>> {
    match std::fs::metadata(TRACER_NS_PATH) {
        Ok(m) => Ok(Some(m.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(e.kind(), format!("{TRACER_NS_PATH}: {e}"))),
    }
}

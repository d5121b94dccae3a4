//! The recording scope: system-wide (the machine, privileged) or tracer
//! scope (the caller's tracer namespace and the ones nested in it,
//! unprivileged, on a kernel with the perfns series), how `--scope auto`
//! chooses, and why neither may be possible.
//!
//! A tracer-scoped recording opens the same per-CPU events with
//! [`TRACER_SCOPE`], and its side-band event asks for
//! PERF_RECORD_TRACER_NAMESPACES instead of the NAMESPACES and CGROUP
//! records the scope refuses. (The page allocation tracepoints of the `mem`
//! group reach a scoped event with their page frame number cleared; a
//! kernel with an earlier version of the series refuses them, and
//! `perfns record` then records without `mem`, and says so.) Which
//! tracepoints the scope takes is [`TRACER_SCOPE_TRACEPOINTS`], and what
//! `perfns record` says of one it refuses, [`refused_tracepoint`].

use std::fmt;

use perfns::abi::tracer_scope::{self, TracerScopeSupport, TRACER_NAMESPACES, TRACER_SCOPE};
use perfns::attr::flags;
use perfns::container::RecordingMode;

use crate::glob;

/// `--scope`: what the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeRequest {
    /// Tracer scope when the kernel offers it and the caller is not
    /// privileged on the host; system-wide otherwise.
    #[default]
    Auto,
    /// The whole machine: root or CAP_PERFMON on the host.
    System,
    /// The caller's tracer namespace and those nested in it.
    Tracer,
}

/// The inode of the initial user namespace (PROC_USER_INIT_INO).
const USER_NS_INIT_INO: u64 = 0xEFFF_FFFD;
/// The inode of the initial tracer namespace (PROC_TRACER_INIT_INO in the
/// series).
const TRACER_NS_INIT_INO: u64 = tracer_scope::PROC_TRACER_INIT_INO;

/// What the caller is, as far as the choice goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// In the initial user namespace with CAP_PERFMON or CAP_SYS_ADMIN.
    pub host_privileged: bool,
    /// Its tracer namespace's inode; `None` without the series.
    pub tracer_ns: Option<u64>,
    /// `kernel.perf_tracer_scope`; `None` without the series.
    pub sysctl: Option<bool>,
    /// The `Seccomp:` mode of /proc/self/status (2: a filter).
    pub seccomp: u32,
    /// `kernel.perf_event_paranoid`, when readable.
    pub paranoid: Option<i32>,
}

impl Caller {
    /// Reads what the choice depends on.
    pub fn this_process() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let cap_eff = field("CapEff:")
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(0);
        // CAP_SYS_ADMIN is 21, CAP_PERFMON 38.
        let perf_caps = cap_eff & ((1 << 21) | (1 << 38)) != 0;
        let user_ns = std::fs::metadata("/proc/self/ns/user")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok();
        Self {
            host_privileged: perf_caps && user_ns == Some(USER_NS_INIT_INO),
            tracer_ns: tracer_scope::current_tracer_namespace().ok().flatten(),
            sysctl: tracer_scope::enabled_by_sysctl().ok().flatten(),
            seccomp: field("Seccomp:").and_then(|v| v.parse().ok()).unwrap_or(0),
            paranoid: std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        }
    }

    /// Whether the caller is in a tracer namespace of its own (not the
    /// initial one, where the scope means the whole machine).
    pub fn in_nested_tracer_ns(&self) -> bool {
        self.tracer_ns.is_some_and(|ns| ns != TRACER_NS_INIT_INO)
    }
}

/// Why tracer scope cannot be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why tracer-scoped events cannot be opened, from the probe's result and
/// what the caller is; `None` when they can.
pub fn tracer_scope_unavailable(
    probe: &TracerScopeSupport,
    caller: &Caller,
) -> Option<Unavailable> {
    let lacks_patch = || {
        format!(
            "this kernel ({}) has no tracer scope for perf events (the perfns kernel series, \
             kernel-patch/): boot the patched kernel (kernel-patch/tracerns-vm.sh), or record \
             the whole machine as root or with CAP_PERFMON (--scope system)",
            kernel_release()
        )
    };
    // Without /proc/self/ns/tracer the kernel lacks the series, whatever
    // the probe says: a later kernel may give the series' attr bits
    // another meaning (mainline gave the series' first ones, 38 and 39, to
    // deferred callchains).
    if caller.tracer_ns.is_none() {
        return Some(Unavailable(lacks_patch()));
    }
    let why = match probe {
        TracerScopeSupport::Supported if caller.in_nested_tracer_ns() => return None,
        TracerScopeSupport::Supported => {
            "you are in the initial tracer namespace, where the tracer scope is the whole \
             machine; start the container with a tracer namespace of its own (`perfns \
             run-container NAME -- COMMAND`, or CLONE_NEWTRACER in the runtime's clone3() \
             flags) and run perfns record inside it"
                .to_owned()
        }
        TracerScopeSupport::KernelLacksPatch(_) => lacks_patch(),
        TracerScopeSupport::NotPermitted(e) if e.errno() == Some(libc::EPERM) => {
            if caller.sysctl == Some(false) {
                "kernel.perf_tracer_scope is 0 (the kernel's default): the host's administrator \
                 must allow the scope (sysctl kernel.perf_tracer_scope=1)"
                    .to_owned()
            } else if caller.seccomp == 2 {
                "perf_event_open was refused with EPERM while kernel.perf_tracer_scope is 1, \
                 and a seccomp filter is installed: the container's seccomp profile refuses \
                 perf_event_open (Docker's default one does); run it with a profile that \
                 allows perf_event_open"
                    .to_owned()
            } else {
                format!("perf_event_open was refused: {e}")
            }
        }
        TracerScopeSupport::NotPermitted(e)
            if e.errno() == Some(libc::EACCES) && caller.paranoid.is_some_and(|p| p > 2) =>
        {
            format!(
                "kernel.perf_event_paranoid is {}: above 2 no unprivileged perf_event_open is \
                 allowed at all (Debian's default), tracer scope included; the host's \
                 administrator must lower it (sysctl kernel.perf_event_paranoid=2) for tenants \
                 to trace",
                caller.paranoid.unwrap_or_default()
            )
        }
        TracerScopeSupport::NotPermitted(_) if !caller.in_nested_tracer_ns() => {
            "you are in the initial tracer namespace, where the tracer scope is the whole \
             machine and needs host privilege; start the container with a tracer namespace of \
             its own (`perfns run-container NAME -- COMMAND`) and run perfns record inside it"
                .to_owned()
        }
        TracerScopeSupport::NotPermitted(_) => {
            "no CAP_PERFMON over the user namespace that owns your tracer namespace: run \
             perfns record as the container's root (uid 0 in the user namespace the tracer \
             namespace was made in, as `perfns run-container` gives)"
                .to_owned()
        }
        TracerScopeSupport::Failed(e) if e.errno() == Some(libc::ENOSYS) => {
            "perf_event_open is not available (ENOSYS): a seccomp filter refuses it, or the \
             kernel lacks perf events; run the container with a seccomp profile that allows \
             perf_event_open"
                .to_owned()
        }
        TracerScopeSupport::Failed(e) => format!("opening a tracer-scoped event failed: {e}"),
    };
    Some(Unavailable(why))
}

/// The choice `perfns record` made, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeChoice {
    /// How the events are opened.
    pub mode: RecordingMode,
    /// What to tell the user: the scope and the reason.
    pub note: String,
    /// Why the tracer scope was not taken, when `auto` tried it and fell
    /// back to the system scope: the caller is not privileged on the host,
    /// so that may fail too, and its error then says both.
    pub fallback: Option<Unavailable>,
}

impl ScopeChoice {
    /// Whether to tell the user at the start: always but for the one
    /// unsurprising case, a privileged caller recording the machine (the
    /// end-of-recording summary names the scope in every case).
    pub fn worth_saying(&self) -> bool {
        self.mode == RecordingMode::TracerScope || self.fallback.is_some()
    }
}

/// Chooses the scope for `request`. `--scope tracer` fails with the
/// reason when the tracer scope is unavailable; `auto` falls back to the
/// system scope and keeps the reason, for the error if that fails too.
pub fn choose(
    request: ScopeRequest,
    probe: impl FnOnce() -> TracerScopeSupport,
    caller: &Caller,
) -> Result<ScopeChoice, Unavailable> {
    let system = |why: &str| ScopeChoice {
        mode: RecordingMode::SystemWide,
        note: format!("system scope (the whole machine): {why}"),
        fallback: None,
    };
    match request {
        ScopeRequest::System => Ok(system("--scope system")),
        ScopeRequest::Auto if caller.host_privileged => {
            Ok(system("the caller is privileged on the host"))
        }
        ScopeRequest::Auto | ScopeRequest::Tracer => {
            match tracer_scope_unavailable(&probe(), caller) {
                None => Ok(ScopeChoice {
                    mode: RecordingMode::TracerScope,
                    note: "tracer scope (this container and the containers nested in it)"
                        .to_owned(),
                    fallback: None,
                }),
                Some(why) if request == ScopeRequest::Tracer => Err(why),
                Some(why) => Ok(ScopeChoice {
                    fallback: Some(why.clone()),
                    ..system(&format!("no tracer scope: {why}"))
                }),
            }
        }
    }
}

/// The attr flags every event of a recording in `mode` adds: with `-p`,
/// `inherit`, so that the tasks the recorded threads make are recorded
/// too.
pub fn extra_flags(mode: RecordingMode) -> u64 {
    match mode {
        RecordingMode::SystemWide => 0,
        RecordingMode::TracerScope => TRACER_SCOPE,
        RecordingMode::PerProcess => flags::INHERIT,
    }
}

/// The tracepoints a tracer-scoped event may be, as `-e` names them: the
/// system calls' (the events marked TRACE_EVENT_FL_CAP_ANY, whose payload
/// an unprivileged per-task reader may already see) and the page
/// allocator's two (their page frame number cleared); besides these, the
/// user events of the recorder's tracer namespace's group and of the
/// groups nested in it (`--user-events`). The kernel series refuses any
/// other with EOPNOTSUPP (kernel-patch/0004, 0012); `perfns
/// publish-tracefs` publishes the formats of these for tenants.
pub const TRACER_SCOPE_TRACEPOINTS: [(&str, &str); 4] = [
    ("raw_syscalls", "*"),
    ("syscalls", "*"),
    ("kmem", "mm_page_alloc"),
    ("kmem", "mm_page_free"),
];

/// Whether the tracer scope takes tracepoint `system:name`, or with no
/// name, some tracepoint of `system` ([`TRACER_SCOPE_TRACEPOINTS`]; user
/// events aside).
pub fn tracer_scope_takes(system: &str, name: Option<&str>) -> bool {
    TRACER_SCOPE_TRACEPOINTS
        .iter()
        .any(|&(s, n)| glob::matches(s, system) && name.is_none_or(|name| glob::matches(n, name)))
}

/// [`TRACER_SCOPE_TRACEPOINTS`] for a message: `raw_syscalls:*,
/// syscalls:*, ...`.
pub fn tracer_scope_tracepoints_text() -> String {
    TRACER_SCOPE_TRACEPOINTS
        .map(|(system, name)| format!("{system}:{name}"))
        .join(", ")
}

/// Why a tracer-scoped recording could not open tracepoint `event`
/// (`SYSTEM:NAME`), from the kernel's `errno`: EOPNOTSUPP for one the
/// scope does not take, EINVAL for a user event of a group that is not
/// the recorder's or nested in it (as for an id the kernel does not have).
/// `None` for other errors, which the open error says well enough.
pub fn refused_tracepoint(event: &str, errno: i32) -> Option<String> {
    let takes = format!(
        "the tracer scope takes only {} and the user events of this tracer namespace's group \
         and of the groups nested in it (--user-events)",
        tracer_scope_tracepoints_text()
    );
    match errno {
        libc::EOPNOTSUPP => Some(format!(
            "the tracer scope refuses tracepoint {event}: {takes}; to record others, record \
             the machine as root (--scope system)"
        )),
        libc::EINVAL if perfns::tracepoint::is_user_events_system(event.split(':').next()?) => {
            Some(format!(
                "no user event {event} in this tracer namespace's group or those nested in it \
                 (another tenant's, or unregistered since): {takes}"
            ))
        }
        _ => None,
    }
}

/// The side-band flags the tracer scope refuses (EOPNOTSUPP), and the one
/// it gives instead: a task's namespaces, its tracer-namespace ancestry and
/// its pids, in PERF_RECORD_TRACER_NAMESPACES.
pub fn tracer_sideband_flags(sideband: u64) -> u64 {
    (sideband & !(flags::NAMESPACES | flags::CGROUP)) | TRACER_NAMESPACES
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown release".into())
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use perfns::abi::{OpenError, OpenFailure, Target};

    fn open_error(errno: i32) -> OpenError {
        OpenError {
            event: "dummy".into(),
            target: Target::Cpu(0),
            failure: OpenFailure::Other,
            source: std::io::Error::from_raw_os_error(errno),
        }
    }

    fn tenant() -> Caller {
        Caller {
            host_privileged: false,
            tracer_ns: Some(0xeffff001),
            sysctl: Some(true),
            seccomp: 0,
            paranoid: Some(2),
        }
    }

    #[test]
    fn auto_is_system_for_the_host_and_tracer_for_a_tenant() {
        let host = Caller {
            host_privileged: true,
            tracer_ns: Some(TRACER_NS_INIT_INO),
            ..tenant()
        };
        let probe_not_called = || panic!("no probe for a privileged caller");
        let c = choose(ScopeRequest::Auto, probe_not_called, &host).unwrap();
        assert_eq!(c.mode, RecordingMode::SystemWide);
        assert!(!c.worth_saying());
        let c = choose(
            ScopeRequest::Auto,
            || TracerScopeSupport::Supported,
            &tenant(),
        )
        .unwrap();
        assert_eq!(c.mode, RecordingMode::TracerScope);
        assert!(c.note.starts_with("tracer scope"), "{}", c.note);
        assert!(c.worth_saying());
    }

    #[test]
    fn reasons_name_the_cause_and_the_fix() {
        let why = |probe: TracerScopeSupport, caller: &Caller| {
            choose(ScopeRequest::Tracer, || probe, caller)
                .unwrap_err()
                .0
        };
        let lacks = why(
            TracerScopeSupport::KernelLacksPatch(open_error(libc::EINVAL)),
            &tenant(),
        );
        assert!(lacks.contains("no tracer scope for perf events"), "{lacks}");
        // A kernel without the series, whose perf_event_open accepts the
        // probe's bits anyway (they mean something else there).
        let mainline = Caller {
            tracer_ns: None,
            ..tenant()
        };
        let other = why(TracerScopeSupport::Supported, &mainline);
        assert!(other.contains("no tracer scope for perf events"), "{other}");
        let off = Caller {
            sysctl: Some(false),
            ..tenant()
        };
        let sysctl = why(
            TracerScopeSupport::NotPermitted(open_error(libc::EPERM)),
            &off,
        );
        assert!(sysctl.contains("kernel.perf_tracer_scope=1"), "{sysctl}");
        let filtered = Caller {
            seccomp: 2,
            ..tenant()
        };
        let seccomp = why(
            TracerScopeSupport::NotPermitted(open_error(libc::EPERM)),
            &filtered,
        );
        assert!(seccomp.contains("seccomp profile"), "{seccomp}");
        let cap = why(
            TracerScopeSupport::NotPermitted(open_error(libc::EACCES)),
            &tenant(),
        );
        assert!(
            cap.contains("no CAP_PERFMON over the user namespace"),
            "{cap}"
        );
        let initial = Caller {
            tracer_ns: Some(TRACER_NS_INIT_INO),
            ..tenant()
        };
        let init = why(
            TracerScopeSupport::NotPermitted(open_error(libc::EACCES)),
            &initial,
        );
        assert!(init.contains("initial tracer namespace"), "{init}");
        let restricted = Caller {
            paranoid: Some(3),
            ..tenant()
        };
        let paranoid = why(
            TracerScopeSupport::NotPermitted(open_error(libc::EACCES)),
            &restricted,
        );
        assert!(
            paranoid.contains("kernel.perf_event_paranoid is 3")
                && paranoid.contains("sysctl kernel.perf_event_paranoid=2"),
            "{paranoid}"
        );
        // auto keeps the reason and falls back.
        let c = choose(
            ScopeRequest::Auto,
            || TracerScopeSupport::KernelLacksPatch(open_error(libc::EINVAL)),
            &tenant(),
        )
        .unwrap();
        assert_eq!(c.mode, RecordingMode::SystemWide);
        assert!(
            c.note.contains("no tracer scope: this kernel"),
            "{}",
            c.note
        );
    }

    #[test]
    fn the_tracer_scope_takes_the_system_calls_and_two_page_tracepoints() {
        for (system, name) in [
            ("raw_syscalls", "sys_enter"),
            ("syscalls", "sys_exit_getppid"),
            ("kmem", "mm_page_alloc"),
            ("kmem", "mm_page_free"),
        ] {
            assert!(tracer_scope_takes(system, Some(name)), "{system}:{name}");
            assert!(tracer_scope_takes(system, None), "{system}");
        }
        for (system, name) in [
            ("kmem", "mm_page_alloc_zone_locked"),
            ("kmem", "kmalloc"),
            ("sched", "sched_switch"),
            ("syscalls_x", "sys_enter_openat"),
        ] {
            assert!(!tracer_scope_takes(system, Some(name)), "{system}:{name}");
        }
        assert!(!tracer_scope_takes("sched", None));
    }

    #[test]
    fn tracer_sideband_drops_what_the_scope_refuses() {
        let sb = crate::events::sideband_event(0, crate::events::Mappings::None)
            .attr
            .flags;
        let t = tracer_sideband_flags(sb);
        assert_eq!(t & (flags::NAMESPACES | flags::CGROUP), 0);
        assert_ne!(t & TRACER_NAMESPACES, 0);
        assert_ne!(t & flags::TASK, 0);
        // --profile's mappings stay: the series takes them (and a kernel
        // that refuses them is asked again without, session.rs).
        let mapping = crate::events::Mappings::All.flags();
        let profiled = crate::events::sideband_event(TRACER_SCOPE, crate::events::Mappings::All);
        assert_eq!(profiled.attr.flags & mapping, mapping);
        assert_eq!(tracer_sideband_flags(mapping) & mapping, mapping);
    }
}

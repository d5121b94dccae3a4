//! `perfns run-container`: start a command in a new container made from
//! namespaces, without a container runtime.
//!
//! The container is what a runtime would make, minus the image: new user,
//! pid, mount, uts, ipc and cgroup namespaces, and, on a kernel with the
//! perfns series, a new tracer namespace, so that the container's own root
//! can trace it with tracer-scoped perf events. The caller's uid and gid
//! become root inside (as `unshare --map-root-user` does), so it works for
//! an unprivileged user too. The hostname is the container's name, which is
//! how a tenant's recording names its own containers.
//!
//! When the caller may create cgroups, the container also gets its own
//! cgroup: `/perfns/NAME` from the host, or `NAME` under the caller's own
//! cgroup when the caller is itself in a perfns container (so nesting shows
//! in the cgroup path too). A runtime would pass `CLONE_NEWTRACER` in
//! `clone3()`'s flags instead (docs: README.md, "Containers").
//!
//! The process layout is `unshare --fork --pid`'s: this process waits for a
//! child that unshares the namespaces and forks the container's init, which
//! mounts its own /proc and cgroup view, sets the hostname and execs the
//! command. The exit status is the command's (128 + signal if it was
//! killed); 125 means the container could not be set up, 126 and 127 that
//! the command could not be run, as for `env` and `unshare`.
//!
//! Signals and cleanup. The kernel does not deliver a signal to a pid
//! namespace's init unless the init handles it (SIGKILL and SIGSTOP from
//! outside aside), so a command that leaves SIGINT alone would not stop at
//! Ctrl-C. This process passes SIGINT, SIGTERM and SIGHUP on to the init
//! (those sent with kill(); the terminal's reach the init directly, as it
//! is in the same process group), then:
//! - an init that leaves the signal at its default action is killed with
//!   SIGKILL at once, which is what that action would have done outside a
//!   namespace; the exit status is then 128 + the signal, as a shell
//!   expects after Ctrl-C;
//! - an init that handles (or ignores) the signal decides for itself; when
//!   the signal came with kill() (a request to stop, as `docker stop`
//!   makes), the init has [`STOP_GRACE`] to exit and is then killed.
//!
//! Killing the init ends every process of the container (its pid namespace
//! goes with it). Both the intermediate child and the init have SIGKILL as
//! their parent-death signal, so the container dies with this process even
//! when it is killed with SIGKILL; a set-user-ID command loses that setting
//! when it is executed (execve(2) clears it). The container's cgroup is
//! removed on every exit of this process but SIGKILL, which leaves it empty
//! behind.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::prctl;
use nix::sys::signal::{kill, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{
    execvp, fork, getgid, getpid, getppid, getuid, pipe2, sethostname, ForkResult, Pid,
};

use perfns::abi::tracer_scope::CLONE_NEWTRACER;

/// The cgroup under which host-level containers are made.
pub const CGROUP_PARENT: &str = "perfns";
/// The inode of the initial cgroup namespace (PROC_CGROUP_INIT_INO).
const CGROUP_NS_INIT_INO: u64 = 0xEFFF_FFFB;

/// Exit status when the container could not be set up.
pub const EXIT_SETUP: i32 = 125;

/// How long a container's init that handles a stop signal sent to this
/// process (SIGINT, SIGTERM or SIGHUP from kill()) has to exit before it
/// is killed: `docker stop`'s default.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The signals passed on to the container's init.
const FORWARDED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];
/// In a byte relayed to the intermediate child: the signal came from the
/// terminal (`si_code` SI_KERNEL), so the init has had it too.
const FROM_TERMINAL: u8 = 0x80;

/// Whether to give the container a tracer namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracerNamespace {
    /// When the kernel has tracer namespaces; otherwise, quietly, none.
    Auto,
    /// Always: fail when the kernel lacks them.
    Required,
    /// Never.
    No,
}

/// Whether to give the container a cgroup of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroup {
    /// When the caller may create one; otherwise say so and go on.
    Auto,
    /// Never: the container stays in the caller's cgroup.
    No,
}

/// A container to start.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Its name: the hostname inside and the cgroup's name.
    pub name: String,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Tracer namespace policy.
    pub tracer: TracerNamespace,
    /// Cgroup policy.
    pub cgroup: Cgroup,
    /// The ring-buffer limit of its tracer namespace, in bytes, set from
    /// this process (outside the container) before the container starts.
    pub trace_buffer_limit: Option<u64>,
}

/// Why a container could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunContainerError {
    /// The name cannot be a hostname and a cgroup name.
    #[error(
        "container name {0:?}: use 1 to 63 letters, digits, '-', '_' or '.', not starting with '.'"
    )]
    BadName(String),
    /// No command was given.
    #[error("no command to run in the container")]
    NoCommand,
    /// An argument holds a NUL byte.
    #[error("argument {0:?} holds a NUL byte")]
    NulInArgument(String),
    /// --trace-buffer-limit with --tracer no.
    #[error("--trace-buffer-limit limits the container's tracer namespace: not with --tracer no")]
    LimitWithoutTracerNamespace,
    /// fork() or waitpid() failed.
    #[error("{what}")]
    Process {
        /// The call.
        what: &'static str,
        /// Its error.
        #[source]
        source: nix::Error,
    },
}

impl ContainerSpec {
    /// Checks the spec before anything is created.
    pub fn validate(&self) -> Result<(), RunContainerError> {
        let n = &self.name;
        let ok = !n.is_empty()
            && n.len() <= 63
            && !n.starts_with('.')
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(RunContainerError::BadName(n.clone()));
        }
        if self.command.is_empty() {
            return Err(RunContainerError::NoCommand);
        }
        if let Some(arg) = self.command.iter().find(|a| a.contains('\0')) {
            return Err(RunContainerError::NulInArgument(arg.clone()));
        }
        if self.trace_buffer_limit.is_some() && self.tracer == TracerNamespace::No {
            return Err(RunContainerError::LimitWithoutTracerNamespace);
        }
        Ok(())
    }
}

/// Starts the container, waits for its command and returns the command's
/// exit status (see the module documentation for the codes, the signals
/// passed on and the cleanup).
///
/// # Safety
///
/// The calling process must be single-threaded: this function forks, and
/// the child runs arbitrary code (allocation, file system calls) before it
/// execs, which is only sound when no other thread can hold a lock at the
/// fork. It also blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD while it runs
/// and reads them from a signalfd, which another thread that left them
/// unblocked would take from it.
pub unsafe fn run(spec: &ContainerSpec) -> Result<i32, RunContainerError> {
    spec.validate()?;
    let argv = spec
        .command
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| RunContainerError::NulInArgument(a.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let process = |what| move |source| RunContainerError::Process { what, source };
    // The signals this process waits for: from here on they queue for the
    // signalfd instead of ending the process (restored on return, after
    // the cgroup is removed).
    let mut watched = SigSet::empty();
    for s in FORWARDED.into_iter().filter(|&s| !ignored(s)) {
        watched.add(s);
    }
    watched.add(Signal::SIGCHLD);
    let mut original_mask = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&watched),
        Some(&mut original_mask),
    )
    .map_err(process("blocking signals"))?;
    let _restore = RestoreMask(original_mask);
    let cgroup = match spec.cgroup {
        Cgroup::Auto => make_cgroup(&spec.name).map(CgroupDir),
        Cgroup::No => None,
    };
    let mut signals =
        SignalFd::with_flags(&watched, SfdFlags::SFD_CLOEXEC).map_err(process("signalfd"))?;
    let (relay_read, relay_write) = pipe2(OFlag::O_CLOEXEC).map_err(process("pipe"))?;
    // --trace-buffer-limit: the child says when the tracer namespace
    // exists, and waits for this process to limit it.
    let budget = match spec.trace_buffer_limit {
        Some(limit) => Some((
            limit,
            pipe2(OFlag::O_CLOEXEC).map_err(process("pipe"))?,
            pipe2(OFlag::O_CLOEXEC).map_err(process("pipe"))?,
        )),
        None => None,
    };
    let perfns = getpid();
    // SAFETY: the caller promises this process is single-threaded, so the
    // child may run arbitrary code until it execs or exits.
    match unsafe { fork() }.map_err(process("fork"))? {
        ForkResult::Child => {
            // The parent removes the cgroup; this child must not, even by
            // unwinding.
            let cgroup = cgroup.map(|c| {
                let paths = c.0.clone();
                std::mem::forget(c);
                paths
            });
            drop((signals, relay_write));
            let budget = budget.map(|(_, (_, ready), (go, _))| (ready, go));
            let code = match prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))
                .and_then(|()| {
                    // This process may have died before the setting took.
                    if getppid() == perfns {
                        Ok(())
                    } else {
                        Err("perfns exited before the container started".into())
                    }
                })
                .and_then(|()| {
                    setup_and_fork_init(
                        spec,
                        cgroup.as_ref(),
                        &argv,
                        relay_read,
                        budget,
                        &original_mask,
                    )
                }) {
                Ok(code) => code,
                Err(msg) => {
                    eprintln!("perfns run-container {}: {msg}", spec.name);
                    EXIT_SETUP
                }
            };
            let _ = io::stderr().flush();
            // SAFETY: _exit ends the forked child without running the
            // parent's atexit handlers or flushing its copied buffers twice.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(relay_read);
            if let Some((limit, (ready, child_ready), (child_go, go))) = budget {
                // The child's ends, so that its exit reads as EOF here.
                drop((child_ready, child_go));
                limit_tracer_namespace(spec, child, ready, go, limit);
            }
            let status = relay_signals(child, &mut signals, relay_write);
            // Before this returns the status: the cgroup is gone when the
            // caller learns that the container is.
            drop(cgroup);
            status
        }
    }
}

/// Sets the ring-buffer limit of the tracer namespace `child` made
/// (its `tracer_for_children`), once `ready` says it exists, and lets the
/// child go on through `go`; on failure, says why and closes `go`, which
/// makes the child give up (exit status 125).
fn limit_tracer_namespace(
    spec: &ContainerSpec,
    child: Pid,
    ready: OwnedFd,
    go: OwnedFd,
    limit: u64,
) {
    let mut byte = [0u8];
    // EOF: the child failed before, and says why itself.
    if !matches!(File::from(ready).read(&mut byte), Ok(1)) {
        return;
    }
    let path = format!("/proc/{child}/ns/tracer_for_children");
    let set = File::open(&path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|ns| {
            perfns::abi::tracer_scope::set_buffer_limit(ns.as_fd(), Some(limit)).map_err(
                |e| match e.raw_os_error() {
                    Some(libc::EPERM) => format!(
                        "--trace-buffer-limit: {e}: limiting a container's tracer namespace \
                         needs CAP_SYS_ADMIN over the user namespace that owns the tracer \
                         namespace it is made in (root on the host, or the root of the \
                         container this runs in)"
                    ),
                    Some(libc::ENOTTY) => format!(
                        "--trace-buffer-limit: {e}: this kernel's tracer namespaces have no \
                         ring-buffer budget (NS_TRACER_SET_BUFFER_LIMIT, patch 10 of the series)"
                    ),
                    _ => format!("--trace-buffer-limit: NS_TRACER_SET_BUFFER_LIMIT: {e}"),
                },
            )
        });
    match set {
        Ok(()) => {
            let _ = File::from(go).write_all(b"g");
        }
        Err(msg) => {
            eprintln!("perfns run-container {}: {msg}", spec.name);
            drop(go);
        }
    }
}

/// Whether this process ignores `signal` (`nohup`, or a shell's
/// background job): such a signal is not passed on either, as the command
/// would inherit the same setting outside a container.
fn ignored(signal: Signal) -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, sigaction() only writes the current
    // one into `current`, which is large enough and zero-initialised.
    let rc = unsafe { libc::sigaction(signal as i32, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: sigaction() succeeded, so `current` holds a valid struct (and
    // it was zero-initialised before, which is valid for it too).
    rc == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// The container's cgroup (the cgroup v2 mount point and the cgroup's
/// directory), removed when this is dropped: on every return of [`run`],
/// errors and panics included.
struct CgroupDir((PathBuf, PathBuf));

impl Drop for CgroupDir {
    fn drop(&mut self) {
        remove_cgroup(&self.0 .1);
    }
}

/// Puts back the signal mask [`run`] changed.
struct RestoreMask(SigSet);

impl Drop for RestoreMask {
    fn drop(&mut self) {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
    }
}

/// In this process, until `child` (the intermediate child) ends: passes
/// each SIGINT, SIGTERM and SIGHUP on to it through `relay` (one byte: the
/// signal, and [`FROM_TERMINAL`]), and returns its exit code.
fn relay_signals(
    child: Pid,
    signals: &mut SignalFd,
    relay: OwnedFd,
) -> Result<i32, RunContainerError> {
    let mut relay = Some(File::from(relay));
    loop {
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(source) => {
                return Err(RunContainerError::Process {
                    what: "reading signals",
                    source,
                })
            }
        };
        if info.ssi_signo == Signal::SIGCHLD as u32 {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(RunContainerError::Process {
                        what: "waitpid",
                        source,
                    })
                }
            }
        }
        let from_terminal = if info.ssi_code == libc::SI_KERNEL {
            FROM_TERMINAL
        } else {
            0
        };
        // A child that is gone (EPIPE) is reaped at the next SIGCHLD.
        if let Some(r) = relay.as_mut() {
            if r.write_all(&[info.ssi_signo as u8 | from_terminal])
                .is_err()
            {
                relay = None;
            }
        }
    }
}

/// Removes the container's cgroup once its tasks are gone. The kernel
/// drops a reaped task from the cgroup a moment after waitpid() returns,
/// so EBUSY is retried, for up to 5 s on a loaded machine; a task the command left running keeps the
/// cgroup, which is then the caller's to clean up.
fn remove_cgroup(dir: &Path) {
    for _ in 0..500 {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => return,
        }
    }
}

/// Makes the container's cgroup when this process may, or says why not.
fn make_cgroup(name: &str) -> Option<(PathBuf, PathBuf)> {
    // Inside a perfns container this is the container's own view (the bind
    // mount init() makes), whose root mountinfo shows as "/".
    let found = perfns::container::cgroup2_mount()
        .ok_or_else(|| io::Error::other("cgroup v2 is not mounted"))
        .and_then(|root| own_cgroup().map(|own| (root, own)));
    let (root, own) = match found {
        Ok(found) => found,
        Err(e) => {
            eprintln!("perfns run-container {name}: no cgroup of its own ({e})");
            return None;
        }
    };
    let in_container = own.starts_with(&format!("/{CGROUP_PARENT}/"))
        || fs::metadata("/proc/self/ns/cgroup").is_ok_and(|m| m.ino() != CGROUP_NS_INIT_INO);
    let parent = if in_container {
        root.join(own.trim_start_matches('/'))
    } else {
        root.join(CGROUP_PARENT)
    };
    let dir = parent.join(name);
    match fs::create_dir_all(&dir) {
        Ok(()) => Some((root, dir)),
        Err(e) => {
            eprintln!(
                "perfns run-container {name}: no cgroup of its own: {}: {e}",
                dir.display()
            );
            None
        }
    }
}

/// This process's cgroup v2 path (`0::/path` in /proc/self/cgroup).
fn own_cgroup() -> io::Result<String> {
    let text = fs::read_to_string("/proc/self/cgroup")?;
    perfns::container::cgroup_v2_from_proc(&text)
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other("no cgroup v2 entry in /proc/self/cgroup"))
}

/// In the intermediate child: joins the cgroup (`cgroup`: the cgroup v2
/// mount point and the container's cgroup directory), unshares the
/// namespaces, maps the caller to root, forks the container's init and
/// waits for it, applying the signals `relay` brings. `original_mask` is
/// the signal mask to give the command.
fn setup_and_fork_init(
    spec: &ContainerSpec,
    cgroup: Option<&(PathBuf, PathBuf)>,
    argv: &[CString],
    relay: OwnedFd,
    budget: Option<(OwnedFd, OwnedFd)>,
    original_mask: &SigSet,
) -> Result<i32, String> {
    if let Some((_, dir)) = cgroup {
        // Before the cgroup namespace is made, so that its root is this cgroup.
        let procs = dir.join("cgroup.procs");
        fs::write(&procs, std::process::id().to_string())
            .map_err(|e| format!("joining {}: {e}", procs.display()))?;
    }
    let uid = getuid();
    let gid = getgid();
    let base = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWPID
        | if cgroup.is_some() {
            libc::CLONE_NEWCGROUP
        } else {
            0
        };
    let base = base as u64;
    let flags = match spec.tracer {
        TracerNamespace::No => base,
        TracerNamespace::Auto | TracerNamespace::Required => base | CLONE_NEWTRACER,
    };
    if let Err(e) = unshare(flags) {
        if flags == base
            || spec.tracer == TracerNamespace::Required
            || budget.is_some()
            || e.raw_os_error() != Some(libc::EINVAL)
        {
            let what = if flags == base {
                ""
            } else {
                " (with CLONE_NEWTRACER)"
            };
            return Err(format!("unshare{what}: {e}"));
        }
        unshare(base).map_err(|e| format!("unshare: {e}"))?;
    }
    fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("/proc/self/setgroups: {e}"))?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1"))
        .map_err(|e| format!("/proc/self/uid_map: {e}"))?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1"))
        .map_err(|e| format!("/proc/self/gid_map: {e}"))?;
    if let Some((ready, go)) = budget {
        // The tracer namespace exists: the parent, outside it, limits it.
        File::from(ready)
            .write_all(b"r")
            .map_err(|e| format!("--trace-buffer-limit: telling perfns: {e}"))?;
        let mut byte = [0u8];
        if !matches!(File::from(go).read(&mut byte), Ok(1)) {
            return Err("the tracer namespace's ring-buffer limit was not set".into());
        }
    }

    // What the wait for the init needs, made before the init exists: the
    // init mounts its own /proc over this mount namespace's (which this
    // process shares), so the init's /proc/PID is reached through a
    // directory opened now. `alive` tells the init whether this process
    // died before its parent-death signal was set.
    let proc_dir = File::open("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut children =
        SignalFd::with_flags(&sigchld(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;
    let (alive_read, alive_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;

    // SAFETY: this child is single-threaded (it was forked from a
    // single-threaded process and started no thread).
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop((alive_write, children, proc_dir, relay));
            let code = match start_init(alive_read, original_mask)
                .and_then(|()| init(spec, cgroup, argv))
            {
                Ok(never) => match never {},
                Err((code, msg)) => {
                    eprintln!("perfns run-container {}: {msg}", spec.name);
                    code
                }
            };
            let _ = io::stderr().flush();
            // SAFETY: as in run().
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(alive_read);
            let code = supervise_init(child, &relay, &mut children, &proc_dir);
            drop(alive_write);
            code
        }
    }
}

/// SIGCHLD alone, as a set.
fn sigchld() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set
}

/// In the init, first: dies with the intermediate child (which died
/// already if `alive` is at its end), and gives the command the signal
/// mask of the process that called [`run`] and the default SIGPIPE.
fn start_init(alive: OwnedFd, original_mask: &SigSet) -> Result<(), (i32, String)> {
    let setup = |what: String| (EXIT_SETUP, what);
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| setup(format!("PR_SET_PDEATHSIG: {e}")))?;
    let mut fds = [PollFd::new(alive.as_fd(), PollFlags::POLLIN)];
    let hung_up = poll(&mut fds, PollTimeout::ZERO).map_err(|e| setup(format!("poll: {e}")))? > 0;
    if hung_up {
        return Err(setup("perfns exited before the container started".into()));
    }
    drop(alive);
    // Rust ignores SIGPIPE in its programs; a command gets the default, as
    // std::process::Command gives it.
    // SAFETY: setting SIGPIPE's disposition to the default touches no
    // memory and no handler of this process runs for it.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(original_mask), None)
        .map_err(|e| setup(format!("restoring the signal mask: {e}")))
}

/// What the init does with a signal, from /proc/PID/status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// The default action (which the kernel withholds from a namespace's
    /// init).
    Default,
    /// A handler, or SIG_IGN: the init's own choice.
    Chosen,
}

/// `signal`'s disposition in process `pid`, from its status file under
/// `proc_dir` (a procfs that shows `pid`); `None` once it is gone.
fn disposition(proc_dir: &File, pid: Pid, signal: Signal) -> Option<Disposition> {
    let path = CString::new(format!("{pid}/status")).ok()?;
    // SAFETY: openat() takes a valid directory fd (borrowed from
    // `proc_dir`, open for this call's length) and a NUL-terminated path;
    // the returned fd, when valid, is owned by the File made from it.
    let fd = unsafe {
        libc::openat(
            proc_dir.as_raw_fd(),
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let mut status = unsafe { File::from_raw_fd(fd) };
    let mut text = String::new();
    status.read_to_string(&mut text).ok()?;
    let mask = |field: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    let bit = 1u64 << (signal as i32 - 1);
    let chosen = mask("SigCgt:")? | mask("SigIgn:")?;
    Some(if chosen & bit == 0 {
        Disposition::Default
    } else {
        Disposition::Chosen
    })
}

/// In the intermediate child, until the init ends: applies the signals
/// relayed by the process that called [`run`] (see the module
/// documentation), and returns the init's exit code.
fn supervise_init(
    init: Pid,
    relay: &OwnedFd,
    children: &mut SignalFd,
    proc_dir: &File,
) -> Result<i32, String> {
    // The signal whose default action a SIGKILL stood in for.
    let mut stand_in: Option<Signal> = None;
    let mut deadline: Option<Instant> = None;
    let mut relay_open = true;
    loop {
        match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _)) if stand_in.is_some() => {
                return Ok(128 + stand_in.map_or(0, |s| s as i32))
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(format!("waitpid: {e}")),
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            let _ = kill(init, Signal::SIGKILL);
            deadline = None;
        }
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d - now).unwrap_or(PollTimeout::MAX),
        };
        let mut fds = vec![PollFd::new(children.as_fd(), PollFlags::POLLIN)];
        if relay_open {
            fds.push(PollFd::new(relay.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let relayed = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        drop(fds);
        // Consumed only to clear the readiness; waitpid above says more.
        while let Ok(Some(_)) = children.read_signal() {}
        if !relayed {
            continue;
        }
        let mut bytes = [0u8; 64];
        let n = match nix::unistd::read(relay.as_raw_fd(), &mut bytes) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(format!("reading the relayed signals: {e}")),
        };
        if n == 0 {
            // perfns is gone (this process's parent-death signal follows).
            relay_open = false;
            let _ = kill(init, Signal::SIGKILL);
            continue;
        }
        for &b in &bytes[..n] {
            let Ok(signal) = Signal::try_from(i32::from(b & !FROM_TERMINAL)) else {
                continue;
            };
            let from_terminal = b & FROM_TERMINAL != 0;
            if !from_terminal {
                let _ = kill(init, signal);
            }
            match disposition(proc_dir, init, signal) {
                Some(Disposition::Default) => {
                    let _ = kill(init, Signal::SIGKILL);
                    stand_in.get_or_insert(signal);
                }
                Some(Disposition::Chosen) if !from_terminal => {
                    deadline.get_or_insert(Instant::now() + STOP_GRACE);
                }
                Some(Disposition::Chosen) | None => {}
            }
        }
    }
}

/// In the container's init (pid 1 of its pid namespace): its own /proc, its
/// own cgroup view, its hostname, then the command. `cgroup` is the
/// cgroup v2 mount point and the container's cgroup directory.
fn init(
    spec: &ContainerSpec,
    cgroup: Option<&(PathBuf, PathBuf)>,
    argv: &[CString],
) -> Result<std::convert::Infallible, (i32, String)> {
    let setup = |what: String| (EXIT_SETUP, what);
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| setup(format!("making / private: {e}")))?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| setup(format!("mounting /proc: {e}")))?;
    if let Some((root, dir)) = cgroup {
        // The container's view of the cgroup tree is its own cgroup, as a
        // runtime mounts it. A bind mount, because a new cgroup2 mount on
        // the mount point of the same hierarchy fails with EBUSY. Best
        // effort: the command still runs without the view.
        if let Err(e) = mount(
            Some(dir),
            root,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        ) {
            eprintln!(
                "perfns run-container {}: showing {} at {}: {e}",
                spec.name,
                dir.display(),
                root.display()
            );
        }
    }
    sethostname(&spec.name).map_err(|e| setup(format!("sethostname: {e}")))?;
    let err = execvp(&argv[0], argv).unwrap_err();
    let code = if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    Err((code, format!("{}: {err}", spec.command[0])))
}

/// `unshare(2)` through the raw syscall: glibc's wrapper takes an int, and
/// CLONE_NEWTRACER is above bit 31 (the kernel takes an unsigned long).
fn unshare(flags: u64) -> io::Result<()> {
    // SAFETY: unshare takes one integer argument and touches no user memory.
    let rc = unsafe { libc::syscall(libc::SYS_unshare, flags as libc::c_ulong) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, command: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            tracer: TracerNamespace::Auto,
            cgroup: Cgroup::No,
            trace_buffer_limit: None,
        }
    }

    #[test]
    fn a_limit_needs_a_tracer_namespace() {
        let mut s = spec("c", &["true"]);
        s.trace_buffer_limit = Some(1 << 20);
        assert!(s.validate().is_ok());
        s.tracer = TracerNamespace::No;
        assert!(matches!(
            s.validate(),
            Err(RunContainerError::LimitWithoutTracerNamespace)
        ));
    }

    #[test]
    fn names_that_cannot_be_hostnames_are_refused() {
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(64)] {
            assert!(
                matches!(
                    spec(bad, &["true"]).validate(),
                    Err(RunContainerError::BadName(_))
                ),
                "{bad:?} accepted"
            );
        }
        assert!(spec("web-1.a_b", &["true"]).validate().is_ok());
        assert!(matches!(
            spec("a", &[]).validate(),
            Err(RunContainerError::NoCommand)
        ));
    }
}

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

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{execvp, fork, getgid, getuid, sethostname, ForkResult};

use crate::abi::tracer_scope::CLONE_NEWTRACER;

/// The cgroup under which host-level containers are made.
pub const CGROUP_PARENT: &str = "perfns";
/// The inode of the initial cgroup namespace (PROC_CGROUP_INIT_INO).
const CGROUP_NS_INIT_INO: u64 = 0xEFFF_FFFB;

/// Exit status when the container could not be set up.
pub const EXIT_SETUP: i32 = 125;

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
    /// The cgroup could not be made or joined.
    #[error("cgroup {path}")]
    Cgroup {
        /// The cgroup directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
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
        Ok(())
    }
}

/// Starts the container, waits for its command and returns the command's
/// exit status (see the module documentation for the codes).
///
/// Forks: call it before this process starts any thread.
pub fn run(spec: &ContainerSpec) -> Result<i32, RunContainerError> {
    spec.validate()?;
    let argv = spec
        .command
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| RunContainerError::NulInArgument(a.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cgroup = match spec.cgroup {
        Cgroup::Auto => make_cgroup(&spec.name),
        Cgroup::No => None,
    };
    // SAFETY: the caller promises this process is single-threaded, so the
    // child may run arbitrary code until it execs or exits.
    match unsafe { fork() }.map_err(|source| RunContainerError::Process {
        what: "fork",
        source,
    })? {
        ForkResult::Child => {
            let code = match setup_and_fork_init(spec, cgroup.as_ref(), &argv) {
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
            let status = wait_exit_code(child)?;
            if let Some((_, dir)) = cgroup {
                remove_cgroup(&dir);
            }
            Ok(status)
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
    let found = crate::container::cgroup2_mount()
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
    crate::container::cgroup_v2_from_proc(&text)
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other("no cgroup v2 entry in /proc/self/cgroup"))
}

/// In the first child: joins the cgroup (`cgroup`: the cgroup v2 mount
/// point and the container's cgroup directory), unshares the namespaces, maps the
/// caller to root, forks the container's init and waits for it.
fn setup_and_fork_init(
    spec: &ContainerSpec,
    cgroup: Option<&(PathBuf, PathBuf)>,
    argv: &[CString],
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

    // SAFETY: this child is single-threaded (it was forked from a
    // single-threaded process and started no thread).
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let code = match init(spec, cgroup, argv) {
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
        ForkResult::Parent { child } => wait_exit_code(child).map_err(|e| e.to_string()),
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

/// Waits for `child` and turns its end into an exit code.
fn wait_exit_code(child: nix::unistd::Pid) -> Result<i32, RunContainerError> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(source) => {
                return Err(RunContainerError::Process {
                    what: "waitpid",
                    source,
                })
            }
        }
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
        }
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

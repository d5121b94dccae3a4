//! What a session that runs a command needs, `perfns record -- COMMAND`'s
//! and `perfns trace -- COMMAND`'s alike: the stop signals taken through
//! a signalfd (polled with the ring buffers, so that a Ctrl-C always ends
//! in a drained session), the command started with them unblocked, and
//! ended as perf record ends it.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The file a program name means, as a shell finds it: a name with a `/`
/// as it is, a bare name in the first directory of `$PATH` that holds a
/// file of that name; `None` when none does. `perfns record -- COMMAND`'s
/// and `--uprobe`'s (perf probe -x finds a bare name so).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// How long a command still running when the session stops is given to
/// exit after SIGTERM, the session going on, before it ends without it.
pub const EXIT_WAIT: Duration = Duration::from_secs(2);

/// SIGINT, SIGTERM and SIGCHLD (and any others asked for) blocked on this
/// thread and read from a signalfd instead, until dropped.
#[derive(Debug)]
pub struct StopSignals {
    fd: SignalFd,
    _restore: MaskGuard,
}

impl StopSignals {
    /// Blocks SIGINT, SIGTERM, SIGCHLD and `extra` on this thread.
    pub fn block(extra: &[Signal]) -> anyhow::Result<Self> {
        let mut mask = SigSet::empty();
        for &s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD]
            .iter()
            .chain(extra)
        {
            mask.add(s);
        }
        let old_mask = mask
            .thread_swap_mask(SigmaskHow::SIG_BLOCK)
            .context("blocking SIGINT, SIGTERM, SIGCHLD")?;
        let restore = MaskGuard(old_mask);
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("creating a signalfd")?;
        Ok(Self {
            fd,
            _restore: restore,
        })
    }

    /// The signalfd, to poll with the ring buffers.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The signals that came since the last call.
    pub fn take(&self) -> anyhow::Result<Vec<Signal>> {
        let mut out = Vec::new();
        while let Some(info) = self.fd.read_signal().context("reading the signalfd")? {
            if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
                out.push(s);
            }
        }
        Ok(out)
    }
}

/// Puts the thread's signal mask back when the session ends, however it
/// ends (a library caller's thread keeps its own mask). A signal that came
/// after the last read of the signalfd, a second Ctrl-C while the session
/// is being finished, is delivered then.
#[derive(Debug)]
struct MaskGuard(SigSet);

impl Drop for MaskGuard {
    fn drop(&mut self) {
        let _ = self.0.thread_set_mask();
    }
}

/// Starts the command with the signals [`StopSignals`] blocks unblocked;
/// with `stdout_to_stderr` (the session's output is stdout) its standard
/// output goes to stderr.
pub fn spawn(program: &str, args: &[String], stdout_to_stderr: bool) -> anyhow::Result<Child> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if stdout_to_stderr {
        cmd.stdout(std::io::stderr());
    }
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes one async-signal-safe system call (sigprocmask).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn().with_context(|| format!("cannot run {program}"))
}

/// Ends a command still running when the session stops, as perf record
/// does: SIGTERM.
pub fn end(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    }
}

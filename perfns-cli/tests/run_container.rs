//! `perfns run-container` makes real containers: run as root on the
//! machine's own kernel, and as an unprivileged user through setpriv.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use perfns::testing::{prerequisite, root};

const PERFNS: &str = env!("CARGO_BIN_EXE_perfns");

/// How long a container has to be gone after perfns is interrupted: on an
/// idle machine it is gone at once (SIGKILL, as its init leaves SIGINT at
/// its default); 5 s leaves room for a loaded one (a kernel build beside
/// the tests missed 1 s once in 20 runs) and is still half the 10 s grace
/// an init that handles the signal would get, so the test still tells the
/// two apart.
const STOP_BOUND: Duration = Duration::from_secs(5);
/// How long the other steps (start-up, perfns's own exit) may take on a
/// loaded machine before the test fails.
const STEP_BOUND: Duration = Duration::from_secs(20);

fn run(args: &[&str]) -> Output {
    Command::new(PERFNS)
        .arg("run-container")
        .args(args)
        .output()
        .expect("perfns runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Inside: the hostname is the name, the shell is pid 1 of a new pid
/// namespace, root maps to the caller, and every namespace differs from
/// this process's.
#[test]
fn container_has_its_own_namespaces() {
    let script = "hostname; echo $$; id -u; for n in pid mnt uts ipc user; do stat -Lc %i /proc/self/ns/$n; done";
    let out = run(&["--no-cgroup", "ctr-ns", "--", "sh", "-c", script]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["ctr-ns", "1", "0"], "{text}");
    for (i, ns) in ["pid", "mnt", "uts", "ipc", "user"].iter().enumerate() {
        let host = fs::metadata(format!("/proc/self/ns/{ns}")).unwrap().ino();
        let inside: u64 = lines[3 + i].parse().unwrap();
        assert_ne!(inside, host, "{ns} namespace shared with the caller");
    }
}

#[test]
fn exit_status_is_the_commands() {
    assert_eq!(
        run(&["--no-cgroup", "ctr-exit", "--", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    let missing = run(&["--no-cgroup", "ctr-exit", "--", "/nonexistent/command"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/command"),
        "{missing:?}"
    );
}

/// The command gets SIGPIPE's default action, as from a shell, not the
/// SIG_IGN Rust gives perfns itself (so that `yes | head -1` in it ends).
#[test]
fn the_command_gets_the_default_sigpipe() {
    let out = run(&[
        "--no-cgroup",
        "ctr-pipe",
        "--",
        "sh",
        "-c",
        "grep SigIgn /proc/self/status",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let ignored = text
        .trim()
        .strip_prefix("SigIgn:")
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no SigIgn line: {text:?}"));
    assert_eq!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SigIgn {ignored:x}"
    );
}

#[test]
fn bad_name_is_refused_before_anything_starts() {
    let out = run(&["a/b", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("container name \"a/b\""),
        "{out:?}"
    );
}

/// As root the container gets the cgroup /perfns/NAME, sees it as its
/// cgroup root, and a nested container's cgroup is made inside it; all are
/// removed when the command ends.
#[test]
fn root_containers_get_nested_cgroups() {
    let Some(()) = prerequisite(root()) else {
        return;
    };
    // Names of this test process's own: another run of the suite beside
    // this one (another checkout's) makes cgroups under /perfns too.
    let (outer_name, inner_name) = (
        format!("ctr-outer-{}", std::process::id()),
        format!("ctr-inner-{}", std::process::id()),
    );
    let outer = cgroup_root().join("perfns").join(&outer_name);
    // The inner shell says where it is, then waits for the test's go.
    let inner = format!(
        "{PERFNS} run-container {inner_name} -- sh -c 'tail -1 /proc/self/cgroup; read go'"
    );
    let mut child = Command::new(PERFNS)
        .args(["run-container", &outer_name, "--", "sh", "-c", &inner])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    // Inside, the nested container's cgroup is its cgroup namespace's root.
    assert_eq!(next_line(&lines, "the inner cgroup line"), "0::/");
    // From the host, while both run: the inner cgroup sits in the outer one
    // and holds the inner container's tasks (its perfns child and its
    // shell, at least).
    let inner_cgroup = &format!("/perfns/{outer_name}/{inner_name}");
    let pids = cgroup_pids(&cgroup_root().join(&inner_cgroup[1..]));
    assert!(pids.len() >= 2, "{inner_cgroup} holds {pids:?}");
    for pid in &pids {
        let seen = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        assert!(
            seen.is_empty() || seen.ends_with(&format!("::{inner_cgroup}\n")),
            "task {pid} of {inner_cgroup} is in {seen:?}"
        );
    }
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = wait_within(&child, STEP_BOUND, "the containers after their go");
    assert!(status.success(), "{status:?}");
    assert!(!outer.exists(), "cgroup {} left behind", outer.display());
}

/// Ctrl-C (SIGINT to perfns) ends a container whose init leaves SIGINT at
/// its default action, which the kernel withholds from a namespace's init:
/// within a second nothing of it runs, its cgroup is gone and the exit
/// status says SIGINT.
#[test]
fn sigint_ends_a_busy_container_and_removes_its_cgroup() {
    let Some(()) = prerequisite(root()) else {
        return;
    };
    let name = &format!("ctr-sigint-{}", std::process::id());
    let (cgroup, tasks, status) = signal_busy_container(name, Signal::SIGINT, STOP_BOUND);
    assert_eq!(status.code(), Some(130), "{status:?}");
    for (pid, fd) in &tasks {
        assert!(reaped(fd), "task {pid} of {name} left a zombie");
    }
    assert!(!cgroup.exists(), "cgroup {} left behind", cgroup.display());
}

/// A SIGTERM sent to perfns reaches an init that handles it, which then
/// decides: here it says so and exits 3, perfns's status.
#[test]
fn sigterm_reaches_an_init_that_handles_it() {
    let mut perfns = Command::new(PERFNS)
        .args([
            "run-container",
            "--no-cgroup",
            "ctr-sigterm",
            "--",
            "sh",
            "-c",
        ])
        .arg("trap 'echo handled; exit 3' TERM; echo ready; while :; do :; done")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut perfns);
    assert_eq!(next_line(&lines, "the container's ready"), "ready");
    kill(pid_of(&perfns), Signal::SIGTERM).unwrap();
    assert_eq!(next_line(&lines, "the trap's line"), "handled");
    let status = wait_within(&perfns, STEP_BOUND, "perfns after SIGTERM");
    assert_eq!(status.code(), Some(3), "{status:?}");
}

/// perfns killed with SIGKILL cannot clean up, but its container dies with
/// it (the parent-death signal): nothing of it runs. Its cgroup stays
/// behind, empty; the test removes it.
#[test]
fn sigkill_of_perfns_kills_its_container() {
    let Some(()) = prerequisite(root()) else {
        return;
    };
    let name = &format!("ctr-sigkill-{}", std::process::id());
    let (cgroup, _tasks, status) = signal_busy_container(name, Signal::SIGKILL, STEP_BOUND);
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    wait_until_empty(&cgroup, Instant::now() + STEP_BOUND);
    match fs::remove_dir(&cgroup) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("removing {}: {e}", cgroup.display()),
    }
}

/// The cgroup v2 mount point, from this process's mountinfo.
fn cgroup_root() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    mountinfo
        .lines()
        .find_map(|l| {
            let (m, f) = l.split_once(" - ")?;
            f.starts_with("cgroup2 ")
                .then(|| PathBuf::from(m.split(' ').nth(4).expect("a mount point")))
        })
        .expect("cgroup v2 mounted")
}

/// The pids in a cgroup's cgroup.procs.
fn cgroup_pids(cgroup: &Path) -> Vec<i32> {
    let procs = cgroup.join("cgroup.procs");
    let text = fs::read_to_string(&procs).unwrap_or_else(|e| panic!("{}: {e}", procs.display()));
    text.lines().map(|l| l.parse().expect("a pid")).collect()
}

/// `perfns run-container NAME` (with a cgroup) of two busy processes whose
/// init leaves SIGINT at its default action (an exec'd `yes`), started and
/// running, with SIGINT at its default in perfns whatever this test
/// inherited; and its stdout's lines.
fn start_busy_container(name: &str) -> (Child, mpsc::Receiver<String>) {
    let mut command = Command::new(PERFNS);
    command
        .args(["run-container", name, "--", "sh", "-c"])
        .arg("yes >/dev/null & echo ready; exec yes >/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    // SAFETY: signal() is async-signal-safe and touches no memory; it runs
    // in the forked child before exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut perfns = command.spawn().expect("perfns runs");
    let lines = lines_of(&mut perfns);
    assert_eq!(next_line(&lines, &format!("{name}'s ready")), "ready");
    (perfns, lines)
}

/// Starts a busy container NAME ([`start_busy_container`]), sends `signal`
/// to perfns and waits, failing after `bound`, until none of the
/// container's tasks runs; then waits for perfns. Returns the container's
/// cgroup, its tasks (pidfds) and perfns's exit status.
fn signal_busy_container(
    name: &str,
    signal: Signal,
    bound: Duration,
) -> (PathBuf, Vec<(i32, OwnedFd)>, ExitStatus) {
    let cgroup = cgroup_root().join("perfns").join(name);
    let (perfns, _lines) = start_busy_container(name);
    let tasks = container_tasks(&cgroup);
    // The shell says ready before it execs: until it has, the init is a
    // shell, whose signal handling perfns reads and honours (a grace,
    // not SIGKILL at once). Wait for both `yes`.
    let deadline = Instant::now() + STEP_BOUND;
    loop {
        let comms: Vec<String> = tasks
            .iter()
            .map(|(pid, _)| fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default())
            .collect();
        if comms.iter().filter(|c| c.trim() == "yes").count() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{name}'s tasks are {comms:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(pid_of(&perfns), signal).expect("kill perfns");
    let sent = Instant::now();
    for (pid, fd) in &tasks {
        wait_for_exit(
            fd,
            sent + bound,
            &format!("task {pid} of {name} after {signal}"),
        );
    }
    let status = wait_within(&perfns, STEP_BOUND, &format!("perfns after {signal}"));
    (cgroup, tasks, status)
}

/// The tasks of a running container made by [`start_busy_container`]
/// (perfns's child, the init and the background `yes`; their pids cannot
/// be reused while the pidfds are open), each with a pidfd.
fn container_tasks(cgroup: &Path) -> Vec<(i32, OwnedFd)> {
    let pids = cgroup_pids(cgroup);
    assert_eq!(pids.len(), 3, "{}: {pids:?}", cgroup.display());
    pids.into_iter().map(|pid| (pid, pidfd(pid))).collect()
}

fn pidfd(pid: i32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and touches no memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the fd was just opened and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Waits until the process of `pidfd` has exited (a pidfd turns readable
/// then), failing after `deadline`.
fn wait_for_exit(pidfd: &OwnedFd, deadline: Instant, what: &str) {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => return,
            Ok(_) => panic!("{what}: still running after the bound"),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("{what}: poll: {e}"),
        }
    }
}

/// Whether the process of `pidfd` has been reaped (not a zombie).
fn reaped(pidfd: &OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with signal 0 and no siginfo only checks
    // that the process exists; the fd is borrowed for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Waits for `child` to exit, failing after `bound`.
fn wait_within(child: &Child, bound: Duration, what: &str) -> ExitStatus {
    let fd = pidfd(child.id() as i32);
    wait_for_exit(&fd, Instant::now() + bound, what);
    let mut status = 0;
    // SAFETY: waitpid writes the status into `status`; the child has
    // exited, so it does not block.
    let rc = unsafe { libc::waitpid(child.id() as i32, &mut status, 0) };
    assert_eq!(
        rc,
        child.id() as i32,
        "waitpid: {}",
        std::io::Error::last_os_error()
    );
    ExitStatus::from_raw(status)
}

/// Waits until `cgroup` holds no task (cgroup.events says `populated 0`;
/// the file signals POLLPRI when it changes), failing after `deadline`.
fn wait_until_empty(cgroup: &Path, deadline: Instant) {
    let events = cgroup.join("cgroup.events");
    loop {
        let Ok(file) = fs::File::open(&events) else {
            return; // The cgroup is gone already.
        };
        let text = fs::read_to_string(&events).unwrap_or_default();
        if text.lines().any(|l| l == "populated 0") || text.is_empty() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{}: still {text:?}", events.display());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLPRI)];
        let _ = poll(&mut fds, timeout);
    }
}

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(child.id() as i32)
}

/// The lines of `child`'s piped stdout, read by a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line from [`lines_of`], failing after [`STEP_BOUND`].
fn next_line(lines: &mpsc::Receiver<String>, what: &str) -> String {
    lines
        .recv_timeout(STEP_BOUND)
        .unwrap_or_else(|e| panic!("{what}: no line within {STEP_BOUND:?} ({e})"))
}

/// An unprivileged user makes a container (and one nested in it) with no
/// privilege: user namespaces, the caller mapped to root inside.
#[test]
fn unprivileged_user_makes_nested_containers() {
    // Root, to switch to an unprivileged user.
    let Some(()) = prerequisite(root()) else {
        return;
    };
    // The binary must be reachable by nobody: copy it out of the target dir.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("perfns");
    fs::copy(PERFNS, &bin).unwrap();
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let nested = format!(
        "{} run-container --no-cgroup inner -- sh -c 'hostname; id -u; echo $$'",
        bin.display()
    );
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["run-container", "--no-cgroup", "tenant", "--", "sh", "-c"])
        .arg(format!("hostname; id -u; {nested}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "tenant\n0\ninner\n0\n1\n");
}

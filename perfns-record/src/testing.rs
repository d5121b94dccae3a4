//! Test containers with known workloads (feature `testing`), for this
//! crate's tests, the command's, the report's and the demo; and, in
//! [`recording`], what tests that record share.
//!
//! A container here is what `perfns-workload container NAME STEPS...` makes:
//! a cgroup `/perfns/NAME` (nested: `/perfns/OUTER/NAME`), and in it a child
//! that execs `unshare --user --map-root-user --pid --fork --mount --uts
//! --cgroup --mount-proc`, whose child (pid 1 inside) runs the steps. The steps are exact, so tests check recordings against them:
//!
//! | step | does |
//! |---|---|
//! | `burn MS` | spins until the process has used MS ms of CPU time in all, the steps before included (so a container's CPU time is MS whatever else it did) |
//! | `alloc MIB` | maps MIB MiB, touches every 4 KiB page (no huge pages), unmaps |
//! | `getppid N` | makes exactly N getppid system calls |
//! | `syscalls N` | the calls a trace test knows ([`known_syscalls`]): openat of a missing path (ENOENT), openat of /dev/null, a write of 100 bytes to it, its close, N getppid, and a kill with SIGUSR1 of a pid no task has (ESRCH); then prints on stderr what the test cannot know beforehand (pid, addresses, fd) |
//! | `requests N` | calls [`perfns_workload_request`] N times, each spinning [`REQUEST_WORK`] (a uprobe test's known function, hits and latency) |
//! | `user-event NAME TYPE` | registers user event NAME with one field, `TYPE seq` (TYPE `u8`, `u16`, `u32` or `u64`), through tracefs's `user_events_data` ([`USER_EVENTS_DATA_ENV`], else tracefs's two places), says `user-event NAME registered` on stdout, and waits (at most [`recording::PATIENCE`]) until its enable bit is set: a reader has opened it |
//! | `emit N` | writes N events of the last `user-event`, `seq` 0 to N-1 (the kernel drops them unless a reader has it open); says `emit: N NAME written` on stdout |
//! | `wait-file PATH` | waits (at most [`recording::PATIENCE`]) until PATH exists: what a test creates once what the workload waits for has happened (a user event's reader is enabled, not only open) |
//! | `sleep MS` | sleeps |
//! | `gate` | waits for a line on stdin: a test holds the other end ([`TestContainer::release`]) and writes it once what the workload waits for has happened (the recorder has seen the container, say) |
//! | `container NAME STEPS...` | runs the remaining steps in a nested container |
//! | `exec PROGRAM ARG...` | replaces the workload with PROGRAM and the rest of the command line (a profiling test's [`profile_burn_binary`]) |

pub mod recording;
mod user_event;

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

/// The environment variable that tells a workload where its cgroup's
/// parent directory is (a path under the cgroup2 mount): set for nested
/// containers, whose cgroup namespace hides their place in the tree.
pub const CGROUP_DIR_ENV: &str = "PERFNS_CGROUP_DIR";
/// The environment variable that overrides where the workload binary is.
pub const WORKLOAD_ENV: &str = "PERFNS_WORKLOAD";
/// The environment variable that says where the `user-event` step finds
/// tracefs's `user_events_data` (where a host exposes it to a container).
pub const USER_EVENTS_DATA_ENV: &str = "PERFNS_USER_EVENTS_DATA";

/// The `perfns-workload` binary: `$PERFNS_WORKLOAD`, else the one built
/// next to the running executable (`target/<profile>/`, also from
/// `target/<profile>/deps/` where tests run).
pub fn workload_binary() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os(WORKLOAD_ENV) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join("perfns-workload");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "perfns-workload not found near {} (build it: cargo build -p perfns-record --features testing, or set {WORKLOAD_ENV})",
            exe.display()
        ),
    ))
}

/// The directory of the `/perfns` cgroup under the cgroup2 mount.
pub fn perfns_cgroup_root() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CGROUP_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let mount = perfns::container::cgroup2_mount().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no cgroup2 mount in /proc/self/mountinfo",
        )
    })?;
    Ok(mount.join(perfns::container::PERFNS_CGROUP_PREFIX.trim_matches('/')))
}

/// A running test container.
#[derive(Debug)]
pub struct TestContainer {
    name: String,
    child: Child,
    cgroup: PathBuf,
}

impl TestContainer {
    /// Starts container `name` (cgroup `/perfns/<name>`) running `steps`
    /// (see the module docs). Needs root.
    pub fn spawn(name: &str, steps: &[&str]) -> io::Result<Self> {
        Self::spawn_in(&perfns_cgroup_root()?, name, steps)
    }

    /// [`Self::spawn`] with the cgroup `NAME` made in `parent` (a
    /// directory under the cgroup2 mount, which must exist) rather than in
    /// `/perfns`: a test that records only its own containers' cgroups
    /// (`--cgroup`) gives them a parent of their own.
    pub fn spawn_in(parent: &Path, name: &str, steps: &[&str]) -> io::Result<Self> {
        let mut cmd = Command::new(workload_binary()?);
        cmd.arg("container")
            .arg(name)
            .args(steps)
            .env(CGROUP_DIR_ENV, parent)
            .stdin(std::process::Stdio::piped());
        let child = cmd.spawn()?;
        Ok(Self {
            name: name.to_owned(),
            child,
            cgroup: parent.join(name),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pid of the workload process outside (it becomes `unshare`).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Opens the next `gate` of its steps (in the order they run, nested
    /// containers' included).
    pub fn release(&mut self) -> io::Result<()> {
        use std::io::Write;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("stdin already closed"))?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// Whether it has finished (its status then), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits for it to finish and removes its cgroups.
    pub fn wait(mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait()?;
        remove_cgroup_tree(&self.cgroup);
        Ok(status)
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The workload outside is the container's parent, not its
            // init: killed alone, it would leave `unshare` and the steps
            // running (a 2-minute burner, holding whatever descriptors the
            // test had, a lock among them). The cgroup's kill takes every
            // task in it and in its nested containers' cgroups.
            let _ = self.child.kill();
            let _ = self.child.wait();
            kill_cgroup_tree(&self.cgroup);
        }
        remove_cgroup_tree(&self.cgroup);
    }
}

/// Kills every task in cgroup `dir` and below it (cgroup.kill, Linux 5.14)
/// and waits, within [`recording::PATIENCE`], until none is left, so that
/// the directories can be removed.
fn kill_cgroup_tree(dir: &Path) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_err() {
        return;
    }
    let start = std::time::Instant::now();
    while std::fs::read_to_string(dir.join("cgroup.events"))
        .is_ok_and(|e| e.lines().any(|l| l == "populated 1"))
        && start.elapsed() < recording::PATIENCE
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Removes a cgroup and its children, deepest first (cgroup directories
/// go with rmdir alone, once their tasks are gone).
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// One step of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Spin until the process has used this much CPU time in all.
    Burn(Duration),
    /// Map, touch and unmap this many MiB.
    Alloc(u64),
    /// Make exactly this many getppid system calls.
    Getppid(u64),
    /// [`known_syscalls`] with this many getppid calls.
    Syscalls(u64),
    /// Call [`perfns_workload_request`] this many times.
    Requests(u64),
    /// Register a user event with one field `TYPE seq`, and wait until a
    /// reader has it open.
    UserEvent {
        /// Its name.
        name: String,
        /// Its field's type.
        field: SeqType,
    },
    /// Write this many events of the last registered user event.
    Emit(u64),
    /// Wait until this file exists.
    WaitFile(PathBuf),
    /// Sleep.
    Sleep(Duration),
    /// Wait for a line on stdin.
    Gate,
    /// Run the remaining steps in a nested container of this name.
    Container(String),
    /// Replace the workload with this program and its arguments (the
    /// rest of the command line): a container whose process is another
    /// binary, [`profile_burn_binary`]'s say.
    Exec(Vec<String>),
}

/// Parses workload steps from the command line.
pub fn parse_steps(args: &[String]) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(word) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .ok_or_else(|| format!("`{word}` needs {what}"))
                .cloned()
        };
        let number = |s: String| s.parse::<u64>().map_err(|e| format!("`{word} {s}`: {e}"));
        out.push(match word.as_str() {
            "burn" => Step::Burn(Duration::from_millis(number(value("milliseconds")?)?)),
            "alloc" => Step::Alloc(number(value("MiB")?)?),
            "getppid" => Step::Getppid(number(value("a count")?)?),
            "syscalls" => Step::Syscalls(number(value("a count")?)?),
            "requests" => Step::Requests(number(value("a count")?)?),
            "user-event" => {
                let name = value("a name")?;
                if name.is_empty() || name.contains([' ', ':', ';']) {
                    return Err(format!("`user-event {name}`: not a user event's name"));
                }
                let field = value("a type (u8, u16, u32, u64)")?;
                let field = SeqType::parse(&field).ok_or_else(|| {
                    format!("`user-event {name} {field}`: the types are u8, u16, u32, u64")
                })?;
                Step::UserEvent { name, field }
            }
            "emit" => {
                if !out.iter().any(|s| matches!(s, Step::UserEvent { .. })) {
                    return Err("`emit` before any `user-event`: nothing to write".into());
                }
                Step::Emit(number(value("a count")?)?)
            }
            "wait-file" => Step::WaitFile(PathBuf::from(value("a path")?)),
            "sleep" => Step::Sleep(Duration::from_millis(number(value("milliseconds")?)?)),
            "gate" => Step::Gate,
            "container" => {
                let name = value("a name")?;
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(format!("`container {name}`: not a cgroup name"));
                }
                Step::Container(name)
            }
            "exec" => {
                let argv: Vec<String> = it.by_ref().cloned().collect();
                if argv.is_empty() {
                    return Err("`exec` needs a program".into());
                }
                Step::Exec(argv)
            }
            other => {
                return Err(format!(
                "unknown step `{other}` (burn, alloc, getppid, syscalls, requests, user-event, \
                 emit, wait-file, sleep, gate, container, exec)"
            ))
            }
        });
    }
    Ok(out)
}

/// CPU time of the calling process, since it was forked. A kernel built
/// without CONFIG_POSIX_TIMERS (tinyconfig's default; the VM kernel had
/// none before tracerns.config asked for it) has no CPU-time clocks
/// (EINVAL); getrusage() gives the same sum there.
fn process_cpu_time() -> io::Result<Duration> {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID) {
        Ok(t) => Ok(Duration::from(t)),
        Err(nix::errno::Errno::EINVAL) => {
            let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)?;
            let d = |t: nix::sys::time::TimeVal| {
                Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
            };
            Ok(d(u.user_time()) + d(u.system_time()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs the steps; a `Container` step execs, so it does not return on
/// success.
pub fn run_steps(steps: &[Step]) -> io::Result<()> {
    // The user event the last `user-event` registered, for `emit`.
    let mut registered: Option<user_event::Registered> = None;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Burn(d) => {
                let mut x = 0u64;
                // A process CPU-time clock is a system call (no vDSO):
                // read it about once a millisecond.
                while process_cpu_time()? < *d {
                    for _ in 0..200_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
            }
            Step::Alloc(mib) => alloc(*mib)?,
            Step::Getppid(n) => {
                for _ in 0..*n {
                    // SAFETY: getppid takes no arguments and cannot fail.
                    std::hint::black_box(unsafe { libc::syscall(libc::SYS_getppid) });
                }
            }
            Step::Syscalls(n) => known_syscalls(*n)?,
            Step::Requests(n) => {
                let work = REQUEST_WORK.as_nanos() as u64;
                for _ in 0..*n {
                    std::hint::black_box(perfns_workload_request(std::hint::black_box(work)));
                }
            }
            Step::UserEvent { name, field } => {
                let event = user_event::Registered::new(name, *field)?;
                println!("user-event {name} registered");
                event.wait_until_enabled(recording::PATIENCE)?;
                registered = Some(event);
            }
            Step::Emit(n) => {
                let event = registered
                    .as_ref()
                    .ok_or_else(|| io::Error::other("emit: no user event registered before it"))?;
                for seq in 0..*n {
                    event.write(seq)?;
                }
                println!("emit: {n} {} written", event.name());
            }
            Step::WaitFile(path) => wait_for_file(path, recording::PATIENCE)?,
            Step::Sleep(d) => std::thread::sleep(*d),
            Step::Gate => gate()?,
            Step::Container(name) => return enter_container(name, &steps[i + 1..]),
            Step::Exec(argv) => {
                let err = Command::new(&argv[0]).args(&argv[1..]).exec();
                return Err(io::Error::new(
                    err.kind(),
                    format!("exec {}: {err}", argv[0]),
                ));
            }
        }
    }
    Ok(())
}

/// The function the `requests` step calls, by its symbol: what uprobe
/// tests probe (`--uprobe perfns-workload:perfns_workload_request`).
pub const REQUEST_SYMBOL: &str = "perfns_workload_request";

/// The time each call of [`perfns_workload_request`] takes at least, on
/// CLOCK_MONOTONIC (perf's clock runs with it): the lower bound of its
/// latency as its entry and return probes see it.
pub const REQUEST_WORK: Duration = Duration::from_micros(100);

/// A request of the `requests` step: spins until `work_ns` ns have passed
/// on CLOCK_MONOTONIC, and returns how many rounds that took. Exported
/// under its own name ([`REQUEST_SYMBOL`]) and never inlined, so that a
/// uprobe on it sees every call, and its return.
#[no_mangle]
#[inline(never)]
pub extern "C" fn perfns_workload_request(work_ns: u64) -> u64 {
    let start = std::time::Instant::now();
    let work = Duration::from_nanos(work_ns);
    let mut rounds = 0u64;
    while start.elapsed() < work {
        rounds = std::hint::black_box(rounds + 1);
    }
    rounds
}

/// The C source of `profile-burn` (see its comment): two functions that
/// burn CPU time 2:1, for profiling tests.
pub const PROFILE_BURN_SOURCE: &str = include_str!("testing/profile_burn.c");
/// The environment variable that overrides where `profile-burn` is.
pub const PROFILE_BURN_ENV: &str = "PERFNS_PROFILE_BURN";
/// The function of `profile-burn` with two thirds of its CPU time.
pub const HOT_TWO_SYMBOL: &str = "perfns_hot_two";
/// The function of `profile-burn` with one third of its CPU time.
pub const HOT_ONE_SYMBOL: &str = "perfns_hot_one";
/// Their caller, in every call chain of theirs.
pub const BURN_ROUND_SYMBOL: &str = "perfns_burn_round";

/// The `profile-burn` executable, compiled from [`PROFILE_BURN_SOURCE`]
/// with `cc -O1 -g -fno-omit-frame-pointer -fno-inline` once per source
/// (its name carries a hash of it) into `target/<profile>/`, where a test
/// in the VM finds it too; `$PERFNS_PROFILE_BURN` overrides it. Fails,
/// naming the compiler's error, where there is no C compiler.
pub fn profile_burn_binary() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os(PROFILE_BURN_ENV) {
        return Ok(PathBuf::from(p));
    }
    build_profile_burn("profile-burn", "-fno-omit-frame-pointer")
}

/// [`profile_burn_binary`] built with `-fomit-frame-pointer`: only its
/// `.eh_frame` unwinds it (`--call-graph dwarf`), a frame-pointer call
/// chain stops at its leaf.
pub fn profile_burn_binary_without_frame_pointers() -> io::Result<PathBuf> {
    build_profile_burn("profile-burn-nofp", "-fomit-frame-pointer")
}

/// Compiles [`PROFILE_BURN_SOURCE`] with `frame_pointers`, the flag that
/// chooses them, into `target/<profile>/NAME-HASH`, once per source.
fn build_profile_burn(name: &str, frame_pointers: &str) -> io::Result<PathBuf> {
    // target/<profile>/, from a test's target/<profile>/deps/ too.
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    // FNV-1a: a name per source, so an edited source is compiled anew.
    let hash = PROFILE_BURN_SOURCE
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let exe = dir.join(format!("{name}-{hash:016x}"));
    if exe.is_file() {
        return Ok(exe);
    }
    let src = dir.join(format!("{name}-{hash:016x}.{}.c", std::process::id()));
    let tmp = dir.join(format!("{name}-{hash:016x}.{}", std::process::id()));
    std::fs::write(&src, PROFILE_BURN_SOURCE)?;
    let out = Command::new("cc")
        .args(["-O1", "-g", frame_pointers, "-fno-inline", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output();
    let _ = std::fs::remove_file(&src);
    let out = out.map_err(|e| io::Error::new(e.kind(), format!("running cc: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "cc failed building {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    // A concurrent test may have renamed its copy first: the same file.
    std::fs::rename(&tmp, &exe)?;
    Ok(exe)
}

/// The path [`known_syscalls`] opens and does not find.
pub const MISSING_PATH: &str = "/nonexistent/perfns-trace";
/// The pid [`known_syscalls`] sends SIGUSR1 to: above PID_MAX_LIMIT
/// (4194304), so no task has it.
pub const NO_SUCH_PID: i32 = 0x3fff_ffff;
/// The bytes [`known_syscalls`] writes to /dev/null.
pub const WRITTEN: usize = 100;

/// The system calls a trace test checks line by line, each made directly
/// (no libc wrapper that might choose another call), in this order:
///
/// - `openat(AT_FDCWD, MISSING_PATH, O_RDONLY|O_NOFOLLOW|O_CLOEXEC)`, -ENOENT;
/// - `openat(AT_FDCWD, "/dev/null", O_WRONLY|O_CLOEXEC)`, a new fd;
/// - `write(fd, buf, WRITTEN)`, WRITTEN;
/// - `close(fd)`, 0;
/// - `getppid()` `n` times;
/// - `kill(NO_SUCH_PID, SIGUSR1)`, -ESRCH.
///
/// Then it prints `syscalls: pid P missing 0xA devnull 0xB buf 0xC fd F`
/// on stderr: what the test cannot know beforehand.
fn known_syscalls(n: u64) -> io::Result<()> {
    let missing = std::ffi::CString::new(MISSING_PATH).map_err(io::Error::other)?;
    let devnull = c"/dev/null";
    let buf = [b'x'; WRITTEN];
    // SAFETY: each call gets valid NUL-terminated paths and a buffer of
    // WRITTEN bytes that live across it; the fd is ours.
    let (enoent, fd, written, closed, killed) = unsafe {
        let enoent = libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            missing.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        );
        let enoent_errno = io::Error::last_os_error().raw_os_error();
        let fd = libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            devnull.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
            0,
        );
        let written = libc::syscall(libc::SYS_write, fd, buf.as_ptr(), WRITTEN);
        let closed = libc::syscall(libc::SYS_close, fd);
        for _ in 0..n {
            std::hint::black_box(libc::syscall(libc::SYS_getppid));
        }
        let killed = libc::syscall(libc::SYS_kill, NO_SUCH_PID, libc::SIGUSR1);
        let kill_errno = io::Error::last_os_error().raw_os_error();
        (
            (enoent, enoent_errno),
            fd,
            written,
            closed,
            (killed, kill_errno),
        )
    };
    if enoent != (-1, Some(libc::ENOENT))
        || fd < 0
        || written != WRITTEN as i64
        || closed != 0
        || killed != (-1, Some(libc::ESRCH))
    {
        return Err(io::Error::other(format!(
            "syscalls: not as expected: openat of {MISSING_PATH} {enoent:?}, /dev/null {fd}, \
             write {written}, close {closed}, kill {killed:?}"
        )));
    }
    eprintln!(
        "syscalls: pid {} missing {:#x} devnull {:#x} buf {:#x} fd {fd}",
        std::process::id(),
        missing.as_ptr() as usize,
        devnull.as_ptr() as usize,
        buf.as_ptr() as usize,
    );
    Ok(())
}

/// Waits until `path` exists, looking every 10 ms, at most `patience`.
fn wait_for_file(path: &Path, patience: Duration) -> io::Result<()> {
    let start = std::time::Instant::now();
    while !path.exists() {
        if start.elapsed() > patience {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "wait-file {}: not there after {} s",
                    path.display(),
                    patience.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The type of a `user-event` step's one field, `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqType {
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
}

impl SeqType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "u8" => Self::U8,
            "u16" => Self::U16,
            "u32" => Self::U32,
            "u64" => Self::U64,
            _ => return None,
        })
    }

    /// Its name, as user_events and the step spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U32 => "u32",
            Self::U64 => "u64",
        }
    }

    /// `seq` in this type, native byte order (truncated).
    fn bytes(self, seq: u64) -> Vec<u8> {
        match self {
            Self::U8 => vec![seq as u8],
            Self::U16 => (seq as u16).to_ne_bytes().to_vec(),
            Self::U32 => (seq as u32).to_ne_bytes().to_vec(),
            Self::U64 => seq.to_ne_bytes().to_vec(),
        }
    }
}

/// Reads stdin up to a newline, a byte at a time: nothing after the line
/// is taken, so a nested container's workload, which shares this stdin,
/// gets the next line.
fn gate() -> io::Result<()> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(0, &mut byte) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "gate: stdin closed before the line that opens the gate",
                ))
            }
            Ok(_) if byte[0] == b'\n' => return Ok(()),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io::Error::other(format!("gate: reading stdin: {e}"))),
        }
    }
}

/// Maps `mib` MiB of anonymous memory without huge pages, writes to each
/// 4 KiB page, and unmaps it: `mib * 256` order-0 page allocations and
/// frees.
fn alloc(mib: u64) -> io::Result<()> {
    let len = usize::try_from(mib << 20).map_err(|_| io::Error::other("too large"))?;
    if len == 0 {
        return Ok(());
    }
    // SAFETY: a fresh private anonymous mapping, used only here.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `p` is the mapping of `len` bytes made above.
    unsafe {
        libc::madvise(p, len, libc::MADV_NOHUGEPAGE);
        for off in (0..len).step_by(4096) {
            std::ptr::write_volatile(p.cast::<u8>().add(off), 1);
        }
        libc::munmap(p, len);
    }
    Ok(())
}

/// Makes the cgroup and runs `rest` in a child that moves itself into it
/// and execs `unshare`; waits for it. The caller stays where it is, as a
/// container's parent (a runtime, or the init of an outer container) does.
fn enter_container(name: &str, rest: &[Step]) -> io::Result<()> {
    let parent = perfns_cgroup_root()?;
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let procs = dir.join("cgroup.procs");
    let procs_c = std::ffi::CString::new(procs.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--uts",
        "--cgroup",
        "--mount-proc",
        "--",
    ])
    .arg(exe)
    .args(steps_to_args(rest))
    .env(CGROUP_DIR_ENV, &dir);
    // SAFETY: between fork and exec the child only makes system calls
    // (open, write, close) on memory prepared before the fork; nothing
    // allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs_c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // "0" is the writing task itself.
            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = io::Error::last_os_error();
            libc::close(fd);
            if n == 1 {
                Ok(())
            } else {
                Err(err)
            }
        });
    }
    let status = cmd.status().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("starting unshare in {}: {e}", procs.display()),
        )
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "container {name}: unshare {status}"
        )))
    }
}

/// The command-line form of steps.
pub fn steps_to_args(steps: &[Step]) -> Vec<String> {
    let mut out = Vec::new();
    for s in steps {
        let (word, value) = match s {
            Step::Burn(d) => ("burn", d.as_millis().to_string()),
            Step::Alloc(m) => ("alloc", m.to_string()),
            Step::Getppid(n) => ("getppid", n.to_string()),
            Step::Syscalls(n) => ("syscalls", n.to_string()),
            Step::Requests(n) => ("requests", n.to_string()),
            Step::UserEvent { name, field } => {
                out.extend(["user-event".to_owned(), name.clone()]);
                (field.name(), String::new())
            }
            Step::Emit(n) => ("emit", n.to_string()),
            Step::WaitFile(path) => ("wait-file", path.display().to_string()),
            Step::Sleep(d) => ("sleep", d.as_millis().to_string()),
            Step::Gate => {
                out.push("gate".to_owned());
                continue;
            }
            Step::Container(n) => ("container", n.clone()),
            Step::Exec(argv) => {
                out.push("exec".to_owned());
                out.extend(argv.iter().cloned());
                continue;
            }
        };
        out.push(word.to_owned());
        if !value.is_empty() {
            out.push(value);
        }
    }
    out
}

/// `perfns-workload`'s main: parses and runs the steps.
pub fn workload_main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: perfns-workload STEP...\nsteps: burn MS | alloc MIB | getppid N | syscalls N | requests N | user-event NAME u8|u16|u32|u64 | emit N | wait-file PATH | sleep MS | gate | container NAME (the rest in a new container) | exec PROGRAM ARG... (the rest)");
        return std::process::ExitCode::SUCCESS;
    }
    let result = parse_steps(&args)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        .and_then(|steps| run_steps(&steps));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perfns-workload: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip() {
        let args: Vec<String> = [
            "container",
            "a",
            "burn",
            "300",
            "getppid",
            "30000",
            "alloc",
            "8",
            "sleep",
            "5",
            "gate",
            "user-event",
            "request_done",
            "u32",
            "wait-file",
            "/tmp/go",
            "emit",
            "100",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let steps = parse_steps(&args).unwrap();
        assert_eq!(
            steps,
            [
                Step::Container("a".into()),
                Step::Burn(Duration::from_millis(300)),
                Step::Getppid(30000),
                Step::Alloc(8),
                Step::Sleep(Duration::from_millis(5)),
                Step::Gate,
                Step::UserEvent {
                    name: "request_done".into(),
                    field: SeqType::U32
                },
                Step::WaitFile("/tmp/go".into()),
                Step::Emit(100),
            ]
        );
        assert_eq!(steps_to_args(&steps), args);
        assert_eq!(
            parse_steps(&["burn".into()]).unwrap_err(),
            "`burn` needs milliseconds"
        );
        assert!(parse_steps(&["container".into(), "../x".into()]).is_err());
        assert!(parse_steps(&["fly".into()]).is_err());
        let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| s.to_string()).collect() };
        assert_eq!(
            parse_steps(&words(&["emit", "3"])).unwrap_err(),
            "`emit` before any `user-event`: nothing to write"
        );
        assert_eq!(
            parse_steps(&words(&["user-event", "x", "u128"])).unwrap_err(),
            "`user-event x u128`: the types are u8, u16, u32, u64"
        );
        assert!(parse_steps(&words(&["user-event", "a:b", "u8"])).is_err());
        let exec = words(&["gate", "exec", "/bin/prog", "gate", "3"]);
        let steps = parse_steps(&exec).unwrap();
        assert_eq!(
            steps,
            [Step::Gate, Step::Exec(words(&["/bin/prog", "gate", "3"]))]
        );
        assert_eq!(steps_to_args(&steps), exec);
        assert_eq!(
            parse_steps(&words(&["exec"])).unwrap_err(),
            "`exec` needs a program"
        );
    }

    #[test]
    fn profile_burn_spends_two_slices_in_hot_two_for_each_in_hot_one() {
        let Some(exe) = perfns::testing::prerequisite(profile_burn_binary()) else {
            return;
        };
        let out = Command::new(&exe).arg("90").output().unwrap();
        assert!(out.status.success(), "{exe:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let ms: Vec<u64> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        // Whole rounds of 2 + 1 ms, up to the one that crosses 90 ms.
        let [two, one] = ms[..] else { panic!("{text}") };
        assert!((29..=33).contains(&one), "{text}");
        assert!(two >= 2 * one && two <= 2 * one + 2, "{text}");
    }

    #[test]
    fn burn_tops_the_process_up_to_the_cpu_time_asked() {
        let target = process_cpu_time().unwrap() + Duration::from_millis(30);
        run_steps(&[Step::Burn(target)]).unwrap();
        assert!(process_cpu_time().unwrap() >= target);
    }
}

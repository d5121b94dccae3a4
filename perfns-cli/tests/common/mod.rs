//! What the tests of the `perfns` command need beyond the crates: the
//! binary Cargo built for them (`CARGO_BIN_EXE_perfns`), running it, and
//! waiting on it and on its recordings with bounds. What tests that record
//! share with perfns-record's own (the serial lock, [`can_record`],
//! [`TestCgroup`], [`attribute`]) is `perfns_record::testing::recording`,
//! re-exported here.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::MutexGuard;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use perfns::perf_data::PerfFileReader;
pub use perfns_record::testing::recording::*;
use perfns_record::testing::workload_binary;
use tempfile::TempDir;

pub mod known_syscalls;
pub mod top_frames;

/// The set-up of a test that records: `None` (the test is skipped) unless
/// [`can_record`]; else the [`serial`] lock, to hold for the whole test,
/// and a fresh directory for its files.
pub fn recording_test() -> Option<(MutexGuard<'static, ()>, TempDir)> {
    if !can_record() {
        return None;
    }
    let serial = serial();
    Some((serial, tempfile::tempdir().expect("a temporary directory")))
}

/// The set-up of a test that records and reads the recording with
/// Debian's perf: [`recording_test`]'s, and `None` too without perf (a
/// failure under CI=true).
pub fn perf_recording_test() -> Option<(MutexGuard<'static, ()>, TempDir)> {
    let test = recording_test()?;
    perfns::testing::prerequisite(perfns::testing::perf())?;
    Some(test)
}

/// Runs `cmd` to its end with `input` on its stdin; its status, stdout and
/// stderr. The input is written from a thread while the output is read: a
/// program that prints as it reads (perf) would stop on a full stdout
/// pipe. A program may stop reading early (perfns refusing a header): the
/// broken pipe is its answer, read from its output.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("its stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("its end");
    writer.join().expect("the writing thread");
    out
}

/// `perf ARGS` with `input` on its stdin; its stdout. Fails the test if
/// perf fails.
pub fn perf_from_stdin(args: &[&str], input: &[u8]) -> String {
    let mut cmd = Command::new("perf");
    cmd.args(args);
    let out = output_with_stdin(cmd, input);
    assert!(out.status.success(), "perf {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The `perfns` command, as Cargo built it for this package's tests.
pub fn perfns_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_perfns"))
}

/// Runs `perfns record ARGS` to its end.
pub fn perfns_record(args: &[&str]) -> Output {
    Command::new(perfns_binary())
        .arg("record")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running perfns record")
}

/// `perfns record ARGS` in the background, stderr piped.
pub fn spawn_record(args: &[&str]) -> Child {
    Command::new(perfns_binary())
        .arg("record")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running perfns record")
}

/// Waits until the container whose cgroup is `cgroup` has its pid 1 in it
/// (unshare and its child).
pub fn wait_for_container(cgroup: &Path) {
    let started = std::time::Instant::now();
    loop {
        let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
        if procs.lines().count() >= 2 {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{} holds {procs:?}",
            cgroup.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends `s` to `child`.
pub fn signal(child: &Child, s: Signal) {
    kill(Pid::from_raw(child.id() as i32), s).expect("kill");
}

/// Runs the workload to its end: `n` getppid calls. Returns its pid.
pub fn getppid_calls(n: u32) -> i32 {
    let child = Command::new(workload_binary().expect("the workload"))
        .args(["getppid", &n.to_string()])
        .spawn()
        .expect("running the workload");
    let pid = child.id() as i32;
    let out = child.wait_with_output().expect("the workload's end");
    assert!(out.status.success());
    pid
}

/// The getppid calls `report` counts, summed over its containers' own
/// system calls (asked for with `top: usize::MAX`, so none is cut off).
pub fn getppid_calls_in(report: &perfns_report::model::Report) -> u64 {
    report
        .containers
        .iter()
        .flat_map(|c| &c.top_syscalls)
        .filter(|s| s.nr == libc::SYS_getppid as u64)
        .map(|s| s.figures.calls)
        .sum()
}

/// The recorder's `Warning: lost N ...` line in `stderr`, and its N.
pub fn loss_warning(stderr: &str) -> (&str, u64) {
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("Warning: lost "))
        .unwrap_or_else(|| panic!("no loss warning in {stderr:?}"));
    let lost = number_after(warning, "Warning: lost ").expect("the number lost");
    (warning, lost)
}

/// `perf script FLAGS` reads the whole file; returns its output.
pub fn perf_script(path: &Path, flags: &[&str]) -> String {
    let out = Command::new("perf")
        .arg("script")
        .args(flags)
        .arg("-i")
        .arg(path)
        .output()
        .expect("Debian's perf");
    assert!(
        out.status.success(),
        "perf script {}: {}",
        path.display(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The build-id `readelf -n` reads from `file`'s notes, in hex (as perf
/// prints it).
pub fn readelf_build_id(file: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-n")
        .arg(file)
        .output()
        .expect("readelf (binutils)");
    text(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("{} has no build-id", file.display()))
}

/// A file system mounted for one test, unmounted at its end.
pub struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS DIR`.
    pub fn new(dir: &Path, args: &[&str]) -> Mount {
        let ok = Command::new("mount")
            .args(args)
            .arg(dir)
            .status()
            .expect("mount");
        assert!(ok.success(), "mount {args:?} {}", dir.display());
        Mount(dir.to_owned())
    }

    /// Unmounts now, and says why not.
    pub fn unmount(self) {
        let out = Command::new("umount")
            .arg(&self.0)
            .output()
            .expect("umount");
        assert!(out.status.success(), "umount: {}", text(&out.stderr));
        std::mem::forget(self);
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A command's output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The number in `line` after `prefix` (up to the next non-digit).
pub fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let rest = line[line.find(prefix)? + prefix.len()..].trim_start();
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Waits until the recording at `path` has its statedump on disk: the
/// recorder is then recording.
pub fn wait_for_recording(path: &Path) {
    wait_for_file(path, "its statedump", |r| r.data_section().size > 0);
}

/// Waits until the recording at `path`, as far as it is on disk, opens and
/// satisfies `done`; fails the test, saying `what` it waited for, after
/// [`PATIENCE`]. The file is read again every 10 ms: the recorder writes it
/// at its own pace, and each read sees what its last flush wrote.
pub fn wait_for_file(path: &Path, what: &str, mut done: impl FnMut(&PerfFileReader) -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < PATIENCE {
        if let Ok(r) = PerfFileReader::open(path) {
            if done(&r) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{} never got {what} in {PATIENCE:?}", path.display());
}

/// The lines `out` gives (a child's piped stdout or stderr), as they
/// come, read by a thread of their own.
pub fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A child's stderr, read line by line in a thread of its own, so that a
/// test waits for a line with a deadline instead of blocking forever on a
/// recorder that hangs.
pub struct StderrLines {
    lines: std::sync::mpsc::Receiver<String>,
    /// Everything read so far.
    pub seen: String,
}

impl StderrLines {
    /// Takes `child`'s piped stderr.
    pub fn of(child: &mut Child) -> StderrLines {
        StderrLines {
            lines: lines_of(child.stderr.take().expect("stderr piped")),
            seen: String::new(),
        }
    }

    /// Reads until a line contains `text`, and returns it; fails the test
    /// if stderr ends or [`PATIENCE`] passes first.
    pub fn wait_for(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!("no {text:?} on stderr ({e:?}); it said: {}", self.seen),
            }
        }
    }

    /// Everything up to the end of stderr (the child exits), within
    /// [`PATIENCE`].
    pub fn rest(&mut self) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut rest = String::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    rest.push_str(&line);
                    rest.push('\n');
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("stderr did not end ({e:?}); it said: {}{rest}", self.seen),
            }
        }
        self.seen.push_str(&rest);
        rest
    }
}

/// Waits for `child` to exit, within [`PATIENCE`]; kills it and fails the
/// test otherwise.
pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    while start.elapsed() < PATIENCE {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("pid {} did not exit in {PATIENCE:?}", child.id());
}

/// Opens the first gate of each of `containers` and waits for them all to
/// finish, each successfully.
pub fn release_and_wait(mut containers: Vec<perfns_record::testing::TestContainer>) {
    for c in &mut containers {
        c.release().expect("opening a container's gate");
    }
    for c in containers {
        let name = c.name().to_owned();
        let status = c.wait().expect("waiting for a container");
        assert!(status.success(), "container {name}: {status}");
    }
}

/// Waits for `child`, whose stderr is piped, to exit within [`PATIENCE`]:
/// its status and all it wrote on stderr.
pub fn wait_with_stderr(mut child: Child) -> (std::process::ExitStatus, String) {
    let stderr = StderrLines::of(&mut child).rest();
    (wait_exit(&mut child), stderr)
}

/// `perf record -a --namespaces --all-cgroups EVENTS -o OUTPUT`,
/// started with its events disabled and enabled through its control FIFO
/// (made in `dir`): once its `ack` is read, it records.
pub fn start_perf_record(dir: &Path, events: &[&str], output: &Path) -> Child {
    let (ctl, ack) = (dir.join("perf-ctl"), dir.join("perf-ack"));
    for fifo in [&ctl, &ack] {
        nix::unistd::mkfifo(fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    }
    let child = Command::new("perf")
        .args([
            "record",
            "-q",
            "-a",
            "--namespaces",
            "--all-cgroups",
            "-D",
            "-1",
        ])
        .arg(format!(
            "--control=fifo:{},{}",
            ctl.display(),
            ack.display()
        ))
        .args(events)
        .arg("-o")
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perf record");
    // perf opens both FIFOs before it reads a command: these opens
    // return once it has.
    use std::io::{BufRead, Write};
    let mut ctl = std::fs::OpenOptions::new()
        .write(true)
        .open(&ctl)
        .expect("perf's control FIFO");
    let mut ack = std::io::BufReader::new(std::fs::File::open(&ack).expect("perf's ack FIFO"));
    ctl.write_all(b"enable\n").expect("enable");
    let mut line = String::new();
    ack.read_line(&mut line).expect("perf's ack");
    assert_eq!(
        line.trim_end_matches('\0').trim(),
        "ack",
        "perf said {line:?}"
    );
    child
}

/// Container `name` of a JSON report (`perfns report --format json`).
pub fn json_container<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {report}"))
}

/// A function's (self, total) samples in a container's JSON profile
/// (`--profile`), `None` when its `--top` list does not have it.
pub fn profile_function(c: &serde_json::Value, name: &str) -> Option<(u64, u64)> {
    c["profile"]["functions"]
        .as_array()
        .unwrap_or_else(|| panic!("no profile: {c}"))
        .iter()
        .find(|f| f["function"] == name)
        .map(|f| {
            (
                f["self_samples"].as_u64().expect("self_samples"),
                f["total_samples"].as_u64().expect("total_samples"),
            )
        })
}

//! `perfns top` against real containers: its JSON Lines and text frames
//! summed over the run and checked against what the workloads did (the
//! getppid calls they make, the CPU time their cgroups' cpu.stat counts),
//! and the full-screen view driven in tmux.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::top_frames::{assert_cpu_near, sum_container};
use common::*;
use perfns_record::testing::{perfns_cgroup_root, TestContainer};
use serde_json::Value;

/// A child killed and reaped however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `perfns top ARGS` with stdout read line by line in a thread.
fn spawn_top(args: &[&str]) -> (Running, Receiver<String>) {
    let mut child = Command::new(perfns_binary())
        .arg("top")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running perfns top");
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Running(child), rx)
}

/// The next line, within [`PATIENCE`].
fn next_line(rx: &Receiver<String>) -> String {
    match rx.recv_timeout(PATIENCE) {
        Ok(line) => line,
        Err(RecvTimeoutError::Timeout) => panic!("perfns top printed nothing in {PATIENCE:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("perfns top ended"),
    }
}

/// The CPU time (ns) the kernel charged cgroup `dir` (cpu.stat usage_usec).
fn cgroup_cpu_ns(dir: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(dir.join("cpu.stat")).expect("cpu.stat");
    let usec = stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("usage_usec in cpu.stat");
    usec * 1000
}

/// Waits for `c` to exit (within [`PATIENCE`]), with its cgroup still
/// there to read.
fn wait_exited(c: &mut TestContainer) {
    let start = Instant::now();
    while c.try_wait().expect("try_wait").is_none() {
        assert!(start.elapsed() < PATIENCE, "{} did not finish", c.name());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn json_lines_add_up_to_what_the_containers_did() {
    let Some((_serial, _dir)) = recording_test() else {
        return;
    };
    let pid = std::process::id();
    let (burner, caller) = (format!("topburn-{pid}"), format!("topcalls-{pid}"));
    const BURN_MS: u64 = 700;
    const CALLS: u64 = 30_000;
    let burn = BURN_MS.to_string();
    let calls = CALLS.to_string();
    // Both wait at a gate until top runs.
    let mut containers = [
        TestContainer::spawn(&burner, &["gate", "burn", &burn]).unwrap(),
        TestContainer::spawn(&caller, &["gate", "getppid", &calls]).unwrap(),
    ];
    // Buffers as large as perfns record's tests take for exact counts:
    // the 60 000 records of the calls come in a burst.
    let (_top, rx) = spawn_top(&["--format", "json", "-d", "0.3", "-m", "16384"]);
    let mut frames: Vec<Value> = Vec::new();
    let read = |frames: &mut Vec<Value>| {
        let line = next_line(&rx);
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(v["schema"], "perfns-top/1");
        frames.push(v);
    };
    // The first frame: the events are enabled, everything after counts.
    read(&mut frames);
    for c in &mut containers {
        c.release().unwrap();
    }
    let root = perfns_cgroup_root().unwrap();
    let mut truth = Vec::new();
    for c in &mut containers {
        wait_exited(c);
        truth.push(cgroup_cpu_ns(&root.join(c.name())));
    }
    // Frames came meanwhile, and more come: read up to the first in which
    // neither container is (their tasks exited an interval before), which
    // has the last of their records.
    let shows = |f: &Value, name: &str| {
        f["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .any(|c| c["name"] == name)
    };
    loop {
        read(&mut frames);
        let last = frames.last().unwrap();
        if !shows(last, &burner) && !shows(last, &caller) {
            break;
        }
    }
    let lost: Vec<u64> = frames.iter().map(|f| f["lost"].as_u64().unwrap()).collect();
    let seconds: Vec<f64> = frames
        .iter()
        .map(|f| f["duration_ns"].as_f64().unwrap() / 1e9)
        .collect();
    println!("lost per frame {lost:?}, frames of {seconds:?} s");
    for f in &frames {
        let names: Vec<String> = f["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{}:{}", c["name"], c["total"]["cpu_ns"]))
            .collect();
        println!(
            "frame {} ({}..{}): {names:?}",
            f["interval"], f["start_ns"], f["end_ns"]
        );
    }
    assert!(
        lost.iter().all(|&l| l == 0),
        "exact figures need no losses: {lost:?}"
    );
    let burned = sum_container(&frames, &burner);
    let called = sum_container(&frames, &caller);
    println!(
        "burner {burned:?} (cgroup: {} ms), caller {called:?} (cgroup: {} ms)",
        truth[0] / 1_000_000,
        truth[1] / 1_000_000
    );
    // Exact: every getppid call, once.
    assert_eq!(called.getppid, CALLS);
    assert_eq!(burned.getppid, 0);
    // CPU: what the cgroup was charged, within 3% and 20 ms per interval
    // (the container's own cgroup also holds its outside process, which
    // top counts in the host, and exec and exit before and after).
    assert_cpu_near("burner", &burned, truth[0]);
    assert!(burned.cpu_ns >= BURN_MS * 1_000_000 * 97 / 100);
    // Every frame's header.
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["interval"].as_u64(), Some(i as u64 + 1));
        assert_eq!(f["scope"], "system");
        assert!(f["cpus"].as_u64().unwrap() >= 1);
        assert_eq!(
            f["end_ns"].as_u64().unwrap() - f["start_ns"].as_u64().unwrap(),
            f["duration_ns"].as_u64().unwrap()
        );
        // A frame's start is the previous one's end: no time falls between.
        if i > 0 {
            assert_eq!(f["start_ns"], frames[i - 1]["end_ns"]);
        }
    }
    for c in containers {
        c.wait().unwrap();
    }
}

#[test]
fn batch_prints_n_text_frames_with_the_containers() {
    let Some((_serial, _dir)) = recording_test() else {
        return;
    };
    let name = format!("topbatch-{}", std::process::id());
    let _c = TestContainer::spawn(&name, &["gate"]).unwrap();
    // A large buffer: events lost on a loaded machine make the status 3
    // (the frames then say so), which is not what this test is about.
    let out = Command::new(perfns_binary())
        .args(["top", "-b", "-n", "2", "-d", "0.2", "-m", "4096"])
        .stdin(Stdio::null())
        .output()
        .expect("perfns top");
    let text = text(&out.stdout);
    let lost_said = text
        .lines()
        .any(|l| l.starts_with("perfns top: interval ") && !l.contains(", lost 0"));
    assert!(
        out.status.success() || (out.status.code() == Some(3) && lost_said),
        "{:?}: {}",
        out.status,
        self::text(&out.stderr)
    );
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("perfns top: interval "))
        .collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(headers[1].starts_with("perfns top: interval 2 ("));
    assert!(headers[0].contains("system scope"), "{}", headers[0]);
    // Each frame lists the host and the container (a top-level one).
    for frame in text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        let rows: Vec<&str> = frame.lines().collect();
        assert!(rows[1].starts_with("CONTAINER"), "{frame}");
        assert!(rows[2].starts_with("host "), "{frame}");
        assert!(
            rows.iter().any(|r| r.starts_with(&format!("{name} "))),
            "{frame}"
        );
    }
}

/// A tmux server of its own (its socket in a temporary directory), with
/// one pane, killed at the end.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// A session of `width`x`height` running `command`.
    fn new(width: u16, height: u16, command: &str) -> Option<Tmux> {
        perfns::testing::prerequisite(
            Command::new("tmux")
                .arg("-V")
                .output()
                .map_err(|e| format!("tmux: {e} (scripts/install-deps.sh installs it)"))
                .and_then(|o| {
                    o.status
                        .success()
                        .then_some(())
                        .ok_or_else(|| "tmux -V failed".to_owned())
                }),
        )?;
        let dir = tempfile::tempdir().unwrap();
        let t = Tmux {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        t.run(&[
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        Some(t)
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend(keys);
        self.run(&args);
    }

    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// Captures the pane until `done` holds, within [`PATIENCE`]; fails with
    /// the last capture.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the pane never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

/// The row of the pane's first line that holds `name`.
fn row_of(screen: &str, name: &str) -> Option<usize> {
    screen.lines().position(|l| l.contains(name))
}

/// A table row without its mark (`+name`, `-name`: folded, expanded) and
/// the indentation of its depth.
fn unmarked(line: &str) -> &str {
    line.trim_start_matches(['+', '-']).trim_start()
}

/// The row of container `name` in the pane's table.
fn container_row(screen: &str, name: &str) -> Option<usize> {
    screen
        .lines()
        .position(|l| unmarked(l).split_whitespace().next() == Some(name))
}

/// The column names of the pane's table (the line that starts with
/// CONTAINER), after that one.
fn columns(screen: &str) -> Vec<String> {
    screen
        .lines()
        .find(|l| l.starts_with("CONTAINER"))
        .map(|l| l.split_whitespace().skip(1).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The figures of container `name`'s row by column name (as the view
/// prints them: `12.5`, `1.2k`, `3.4M`).
fn figures(screen: &str, name: &str) -> Option<std::collections::BTreeMap<String, f64>> {
    let line = unmarked(screen.lines().nth(container_row(screen, name)?)?);
    let columns = columns(screen);
    let cells: Vec<&str> = line.split_whitespace().skip(1).collect();
    if cells.len() != columns.len() {
        return None;
    }
    let value = |cell: &str| -> Option<f64> {
        let (digits, scale) = match cell.strip_suffix('k') {
            Some(d) => (d, 1e3),
            None => match cell.strip_suffix('M') {
                Some(d) => (d, 1e6),
                None => (cell, 1.0),
            },
        };
        digits.parse::<f64>().ok().map(|v| v * scale)
    };
    columns
        .into_iter()
        .zip(cells)
        .map(|(c, cell)| value(cell).map(|v| (c, v)))
        .collect()
}

/// The interval the pane's header shows (`perfns top: interval N (`).
fn interval_shown(screen: &str) -> Option<u64> {
    screen
        .lines()
        .next()
        .and_then(|l| number_after(l, "perfns top: interval "))
}

/// Whether the pane fits `width` x `height`.
fn fits(screen: &str, width: usize, height: usize) -> bool {
    screen.lines().count() <= height && screen.lines().all(|l| l.chars().count() <= width)
}

/// The columns an 80-column view shows (text.rs's NARROW).
const NARROW_COLUMNS: [&str; 7] = ["CPU%", "ΣCPU%", "PG/s", "NET", "SYS/s", "ΣSYS/s", "ERR"];

/// The host pid of the workload process running in container cgroup
/// `name` (not `unshare`, which started it).
fn workload_pid(name: &str) -> i32 {
    let procs = perfns_cgroup_root()
        .unwrap()
        .join(name)
        .join("cgroup.procs");
    let start = Instant::now();
    loop {
        let pids: Vec<i32> = std::fs::read_to_string(&procs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        let workload = pids.into_iter().find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "perfns-workload")
        });
        if let Some(p) = workload {
            return p;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{} never had the workload",
            procs.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `perfns top ARGS` in a tmux pane of 80x24, with what the shell says
/// when it ends after it.
fn top_in_tmux(args: &str) -> Option<Tmux> {
    let command = format!(
        "{} top {args}; echo perfns top exited $?; sleep 120",
        perfns_binary().display()
    );
    Tmux::new(80, 24, &command)
}

#[test]
fn the_screen_sorts_expands_filters_pauses_resizes_and_quits_in_tmux() {
    let Some((_serial, _dir)) = recording_test() else {
        return;
    };
    let pid = std::process::id();
    // cpu burns; calls makes 2000 getppid calls every 100 ms, with little
    // CPU; mem maps and touches 16 MiB (4096 pages) every 50 ms.
    let (cpu, calls, mem) = (
        format!("tcpu-{pid}"),
        format!("tcalls-{pid}"),
        format!("tmem-{pid}"),
    );
    let _cpu = TestContainer::spawn(&cpu, &["burn", "120000"]).unwrap();
    let mut steps = Vec::new();
    for _ in 0..1200 {
        steps.extend(["getppid", "2000", "sleep", "100"]);
    }
    let _calls = TestContainer::spawn(&calls, &steps).unwrap();
    let mut steps = Vec::new();
    for _ in 0..2400 {
        steps.extend(["alloc", "16", "sleep", "50"]);
    }
    let _mem = TestContainer::spawn(&mem, &steps).unwrap();
    let Some(tmux) = top_in_tmux("-d 0.3") else {
        return;
    };
    let all = |s: &str| [&cpu, &calls, &mem].iter().all(|n| figures(s, n).is_some());
    let screen = tmux.wait_for("the three containers", all);
    assert!(screen.contains("system scope"), "{screen}");
    // 80x24: the narrow columns, every line within the pane.
    assert_eq!(columns(&screen), NARROW_COLUMNS, "{screen}");
    assert!(fits(&screen, 80, 24), "{screen}");
    // Each workload's figure in its own row: the burner's CPU (one
    // thread: at most a CPU), the caller's syscalls, the allocator's
    // pages, each above the other two's.
    let first_by = |s: &str, column: &str, want: &str| {
        let of = |n: &str| figures(s, n).map(|f| f[column]);
        let (w, others) = (
            of(want),
            [&cpu, &calls, &mem]
                .into_iter()
                .filter(|n| *n != want)
                .map(|n| of(n))
                .collect::<Vec<_>>(),
        );
        w.is_some_and(|w| others.iter().all(|o| o.is_some_and(|o| o < w)))
            && [&cpu, &calls, &mem]
                .into_iter()
                .filter(|n| *n != want)
                .all(|n| container_row(s, want) < container_row(s, n))
    };
    let of = |s: &str, name: &str, column: &str| figures(s, name).map_or(0.0, |f| f[column]);
    let screen = tmux.wait_for("the burner first, with the most CPU", |s| {
        s.contains("sort cpu") && first_by(s, "CPU%", &cpu) && of(s, &cpu, "CPU%") >= 5.0
    });
    let burner = figures(&screen, &cpu).unwrap();
    assert!(burner["CPU%"] <= 100.5, "one thread: {burner:?}\n{screen}");
    assert_eq!(burner["CPU%"], burner["ΣCPU%"], "{screen}");
    tmux.keys(&["m"]);
    // At least one 16 MiB allocation (4096 pages) a second.
    tmux.wait_for("the allocator first, with the most pages", |s| {
        s.contains("sort mem") && first_by(s, "PG/s", &mem) && of(s, &mem, "PG/s") >= 4096.0
    });
    tmux.keys(&["s"]);
    // At least one round of 2000 calls every two seconds.
    tmux.wait_for("the caller first, with the most syscalls", |s| {
        s.contains("sort syscalls")
            && first_by(s, "SYS/s", &calls)
            && of(s, &calls, "SYS/s") >= 1000.0
    });
    tmux.keys(&["c"]);
    tmux.wait_for("the burner first again by CPU", |s| {
        s.contains("sort cpu") && first_by(s, "CPU%", &cpu)
    });
    // Filter: only the caller (and the tree above it).
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &calls]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the caller alone", |s| {
        figures(s, &calls).is_some()
            && container_row(s, &cpu).is_none()
            && container_row(s, &mem).is_none()
    });
    // Expand it (the first row shown) into its processes: the workload,
    // by its pid and comm.
    let process = format!(" {} perfns-workload", workload_pid(&calls));
    tmux.keys(&["j", "Enter"]);
    let screen = tmux.wait_for("the caller's process", |s| {
        row_of(s, &process) == container_row(s, &calls).map(|r| r + 1)
    });
    assert!(screen.contains(&format!("-{calls}")), "{screen}");
    // Pause: the frame stays while the session goes on; then it moves.
    tmux.keys(&["p"]);
    let paused = tmux.wait_for("two intervals while paused", |s| {
        let shown = number_after(s, "paused at interval ");
        let now = number_after(s, "the session is at interval ");
        shown.zip(now).is_some_and(|(a, b)| b >= a + 2) && interval_shown(s) == shown
    });
    let now = number_after(&paused, "the session is at interval ").unwrap();
    tmux.keys(&["p"]);
    tmux.wait_for("the frames going on", |s| {
        !s.contains("PAUSED") && interval_shown(s).is_some_and(|i| i > now)
    });
    // Resizes: wider (every column), smaller, back to 80x24.
    tmux.run(&["resize-window", "-x", "120", "-y", "30"]);
    tmux.wait_for("every column at 120x30", |s| {
        columns(s).len() == 10 && columns(s)[3] == "ΣPG/s" && fits(s, 120, 30)
    });
    tmux.run(&["resize-window", "-x", "50", "-y", "12"]);
    tmux.wait_for("the frame at 50x12", |s| {
        s.starts_with("perfns top") && fits(s, 50, 12)
    });
    tmux.run(&["resize-window", "-x", "80", "-y", "24"]);
    tmux.wait_for("the frame at 80x24 again", |s| {
        columns(s) == NARROW_COLUMNS && fits(s, 80, 24) && figures(s, &calls).is_some()
    });
    // A resize and a key at once (crossterm's reader took the SIGWINCH
    // and lost the key): the key is taken.
    tmux.run(&[
        "resize-window",
        "-x",
        "70",
        "-y",
        "20",
        ";",
        "send-keys",
        "-t",
        "0",
        "q",
    ]);
    let end = tmux.wait_for("perfns top's exit", |s| s.contains("perfns top exited"));
    assert!(end.contains("perfns top exited 0"), "{end}");
}

#[test]
fn the_screen_starts_inside_a_container_and_sigterm_gives_the_terminal_back() {
    let Some((_serial, _dir)) = recording_test() else {
        return;
    };
    let pid = std::process::id();
    let (outer, other) = (format!("tin-{pid}"), format!("tout-{pid}"));
    // outer's init waits for its nested container, which burns; other
    // burns beside them.
    let _outer = TestContainer::spawn(&outer, &["container", "inner", "burn", "120000"]).unwrap();
    let _other = TestContainer::spawn(&other, &["burn", "120000"]).unwrap();
    let Some(tmux) = top_in_tmux(&format!("-d 0.3 --container {outer}")) else {
        return;
    };
    let screen = tmux.wait_for("the container and the one in it", |s| {
        figures(s, &outer).is_some() && figures(s, "inner").is_some_and(|f| f["CPU%"] >= 5.0)
    });
    // Only outer's tree: not the host, not the other container.
    assert!(container_row(&screen, &other).is_none(), "{screen}");
    assert!(container_row(&screen, "host").is_none(), "{screen}");
    assert_eq!(
        container_row(&screen, "inner"),
        container_row(&screen, &outer).map(|r| r + 1),
        "{screen}"
    );
    let (o, i) = (
        figures(&screen, &outer).unwrap(),
        figures(&screen, "inner").unwrap(),
    );
    // The burner is inner's; outer's own is its init's, waiting.
    assert!(o["ΣCPU%"] >= i["CPU%"], "{screen}");
    assert!(o["CPU%"] < i["CPU%"], "{screen}");
    // SIGTERM: perfns top leaves the alternate screen and exits 0.
    let shell = tmux.run(&["display-message", "-p", "-t", "0", "#{pane_pid}"]);
    let top = Command::new("pgrep")
        .args(["-P", shell.trim(), "-x", "perfns"])
        .output()
        .unwrap();
    let top: i32 = text(&top.stdout).trim().parse().expect("perfns top's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(top),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let end = tmux.wait_for("perfns top's exit", |s| s.contains("perfns top exited"));
    assert!(end.contains("perfns top exited 0"), "{end}");
    assert!(
        !end.contains("CONTAINER"),
        "still the alternate screen:\n{end}"
    );
}

#[test]
fn container_starts_inside_one_and_an_unknown_one_is_refused() {
    let Some((_serial, _dir)) = recording_test() else {
        return;
    };
    let pid = std::process::id();
    let (outer, other) = (format!("topin-{pid}"), format!("topout-{pid}"));
    // outer holds a nested container, which waits at its gate.
    let _outer = TestContainer::spawn(&outer, &["container", "inner", "gate"]).unwrap();
    let _other = TestContainer::spawn(&other, &["gate"]).unwrap();
    // Once inner has its process, both are there to be seen.
    let procs = perfns_cgroup_root()
        .unwrap()
        .join(&outer)
        .join("inner")
        .join("cgroup.procs");
    let start = Instant::now();
    while std::fs::read_to_string(&procs).map_or(true, |p| p.trim().is_empty()) {
        assert!(
            start.elapsed() < PATIENCE,
            "{} never had a process",
            procs.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let top = |args: &[&str]| {
        Command::new(perfns_binary())
            .arg("top")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("perfns top")
    };
    // A large buffer, and the status 3 of lost events (a loaded machine;
    // CI's run beside a kernel build had it) only with the frame's word.
    let out = top(&[
        "--format",
        "json",
        "-n",
        "1",
        "-d",
        "0.2",
        "-m",
        "4096",
        "--container",
        &outer,
    ]);
    let frame: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        out.status.success() || (out.status.code() == Some(3) && frame["lost"].as_u64() > Some(0)),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    let names: Vec<&str> = frame["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [outer.as_str(), "inner"]);
    let out = top(&["-b", "-n", "1", "--container", "no-such-container-here"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no running container matches `no-such-container-here`"),
        "{err}"
    );
}

#[test]
fn bad_flags_are_refused_before_anything_is_opened() {
    let run = |args: &[&str]| {
        Command::new(perfns_binary())
            .arg("top")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("perfns top")
    };
    for (args, said) in [
        (
            &["-b", "-d", "0.01"][..],
            "-d 0.01: the delay must be 0.1 s or more",
        ),
        (&["-b", "-d", "NaN"][..], "-d NaN: the delay must be"),
        (&["-b", "-e", "cpu,disk"][..], "--events cpu,disk"),
        (&["-b", "-n", "0"][..], "0 is not in 1.."),
    ] {
        let out = run(args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran");
        assert!(err.contains(said), "{args:?}: {err}");
    }
}

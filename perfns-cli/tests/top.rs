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
    let out = Command::new(perfns_binary())
        .args(["top", "-b", "-n", "2", "-d", "0.2"])
        .stdin(Stdio::null())
        .output()
        .expect("perfns top");
    let text = text(&out.stdout);
    assert!(out.status.success(), "{}", self::text(&out.stderr));
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

    /// Captures the pane until `done` holds, within [`PATIENCE`].
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

#[test]
#[ignore = "intermittent (about half the runs on a loaded machine): the view stops taking \
            keys, busy redrawing while stdin stays readable and crossterm reads no event; \
            run with --ignored"]
fn the_screen_shows_the_tree_sorts_expands_filters_and_quits_in_tmux() {
    let Some((_serial, _dir)) = recording_test() else {
        return;
    };
    let pid = std::process::id();
    // cpu: burning, about 1000 syscalls/s (its CPU clock); calls: 2000
    // getppid calls every 100 ms, little CPU.
    let (cpu, calls) = (format!("tcpu-{pid}"), format!("tcalls-{pid}"));
    let _cpu = TestContainer::spawn(&cpu, &["burn", "120000"]).unwrap();
    let mut steps = Vec::new();
    for _ in 0..600 {
        steps.extend(["getppid", "2000", "sleep", "100"]);
    }
    let _calls = TestContainer::spawn(&calls, &steps).unwrap();
    let command = format!(
        "{} top -d 0.3; echo perfns top exited $?; sleep 60",
        perfns_binary().display()
    );
    let Some(tmux) = Tmux::new(80, 24, &command) else {
        return;
    };
    let both = |s: &str| row_of(s, &cpu).is_some() && row_of(s, &calls).is_some();
    let screen = tmux.wait_for("both containers", both);
    assert!(screen.contains("system scope"), "{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 80));
    // By CPU (the default): the burner first, under the host.
    let by_cpu = |s: &str| both(s) && row_of(s, &cpu) < row_of(s, &calls);
    tmux.wait_for("the burner above the caller by CPU", by_cpu);
    // By syscalls: the caller first.
    tmux.keys(&["s"]);
    let by_calls =
        |s: &str| s.contains("sort syscalls") && both(s) && row_of(s, &calls) < row_of(s, &cpu);
    tmux.wait_for("the caller above the burner by syscalls", by_calls);
    tmux.keys(&["c"]);
    tmux.wait_for("the burner first again by CPU", |s| {
        s.contains("sort cpu") && by_cpu(s)
    });
    // Filter: only the caller (and the tree above it).
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &calls]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the caller alone", |s| {
        row_of(s, &calls).is_some() && row_of(s, &cpu).is_none()
    });
    // Expand it (selected: the first row shown) into its processes: the
    // workload, by its comm.
    tmux.keys(&["j", "j", "Enter"]);
    tmux.wait_for("the caller's process", |s| s.contains("perfns-workload"));
    // A resize, smaller and back: drawn again, no panic.
    tmux.run(&["resize-window", "-x", "50", "-y", "12"]);
    tmux.wait_for("the narrower frame", |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.starts_with("perfns top"))
            && s.lines().all(|l| l.chars().count() <= 50)
    });
    tmux.run(&["resize-window", "-x", "80", "-y", "24"]);
    tmux.wait_for("the 80x24 frame", |s| s.contains("CONTAINER"));
    tmux.keys(&["q"]);
    let end = tmux.wait_for("perfns top's exit", |s| s.contains("perfns top exited"));
    assert!(end.contains("perfns top exited 0"), "{end}");
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
    let out = top(&[
        "--format",
        "json",
        "-n",
        "1",
        "-d",
        "0.2",
        "--container",
        &outer,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let frame: Value = serde_json::from_slice(&out.stdout).unwrap();
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

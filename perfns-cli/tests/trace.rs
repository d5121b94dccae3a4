//! `perfns trace` as a user runs it, as root on this machine's kernel: a
//! workload whose calls are known (perfns-workload's `syscalls` step)
//! traced live, line by line; a container's trace without its sibling's
//! calls; strace -c's counts; and perf's own recordings read with `-i`,
//! against `perf trace -i`.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::known_syscalls::{calls_of, without_time, Known};
use common::{perfns_binary, text};
use perfns_record::testing::{workload_binary, TestContainer, NO_SUCH_PID};
use serde_json::Value;

/// `perfns trace ARGS` to its end; its status, stdout and stderr.
fn perfns_trace(args: &[&str]) -> std::process::Output {
    Command::new(perfns_binary())
        .arg("trace")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running perfns trace")
}

/// `perfns trace ARGS -o OUT -- perfns-workload STEPS` to its end.
fn trace_workload(args: &[&str], out: &Path, steps: &[&str]) -> std::process::Output {
    Command::new(perfns_binary())
        .arg("trace")
        .args(args)
        .arg("-o")
        .arg(out)
        .arg("--")
        .arg(workload_binary().unwrap())
        .args(steps)
        .stdin(Stdio::null())
        .output()
        .expect("running perfns trace")
}

#[test]
fn a_known_workload_line_by_line() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let out = dir.path().join("trace.txt");
    let workload = workload_binary().unwrap();
    let mut child = Command::new(perfns_binary())
        .args(["trace", "-e", "openat,write,close,getppid,kill", "-o"])
        .arg(&out)
        .arg("--")
        .arg(&workload)
        .args(["syscalls", "5"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let perfns_pid = child.id() as i32;
    let stderr = common::StderrLines::of(&mut child).rest();
    let status = common::wait_exit(&mut child);
    assert!(status.success(), "{stderr}");
    let known = Known::from_stderr(&stderr);
    let trace = std::fs::read_to_string(&out).unwrap();
    // The recorder (this perfns) started the workload: getppid says so.
    let expected = known.lines("host", 5, perfns_pid);
    assert_eq!(calls_of(&trace, known.pid, &expected), expected, "{trace}");
    // Nothing but the command's calls, and none of perfns's own.
    for line in trace.lines() {
        assert!(!line.contains(&format!("[{perfns_pid}/")), "{line}");
    }
}

#[test]
fn each_call_is_printed_while_the_command_runs() {
    let Some((_serial, _dir)) = common::recording_test() else {
        return;
    };
    // One getppid call, then the workload waits at its gate (a line on its
    // stdin, which is perfns's) until this test has read that call's
    // line: a trace printed when the command ends never shows it.
    let mut child = Command::new(perfns_binary())
        .args(["trace", "-e", "getppid,kill", "--"])
        .arg(workload_binary().unwrap())
        .args(["getppid", "1", "gate", "syscalls", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let perfns_pid = child.id() as i32;
    let stdout = common::lines_of(child.stdout.take().unwrap());
    let first = stdout
        .recv_timeout(common::PATIENCE)
        .unwrap_or_else(|e| panic!("no line while the command runs ({e:?})"));
    let mut gate = child.stdin.take().unwrap();
    gate.write_all(b"\n").unwrap();
    drop(gate);
    let stderr = common::StderrLines::of(&mut child).rest();
    let status = common::wait_exit(&mut child);
    assert!(status.success(), "{stderr}");
    let known = Known::from_stderr(&stderr);
    // The workload's parent is this perfns, which started it.
    let getppid = format!(
        "host perfns-workload[{0}/{0}] getppid() = {perfns_pid}",
        known.pid
    );
    assert_eq!(without_time(&first), getppid);
    // Then the rest, once the gate opened: 2 getppid calls and the kill.
    let rest: Vec<String> = stdout.iter().collect();
    let all = known.lines("host", 2, perfns_pid);
    assert_eq!(
        rest.iter().map(|l| without_time(l)).collect::<Vec<_>>(),
        all[4..],
        "{rest:?}"
    );
}

#[test]
fn failed_calls_as_json() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let out = dir.path().join("trace.json");
    let run = trace_workload(
        &[
            "--failed",
            "--format",
            "json",
            "-e",
            "%file,%signal,getppid",
        ],
        &out,
        &["syscalls", "3"],
    );
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let known = Known::from_stderr(&stderr);
    let objects: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let calls: Vec<&Value> = objects
        .iter()
        .filter(|o| o["type"] == "syscall" && o["pid"] == known.pid)
        .collect();
    // Every line names the schema; the end says nothing was lost.
    assert!(objects.iter().all(|o| o["schema"] == "perfns-trace/1"));
    let end = objects.last().unwrap();
    assert_eq!(
        (end["type"].as_str(), end["lost"].as_u64()),
        (Some("end"), Some(0))
    );
    // The workload's own failures are there, as it made them.
    let openat = calls
        .iter()
        .find(|c| c["syscall"] == "openat" && c["args"][1]["text"] == known.missing.as_str())
        .unwrap_or_else(|| panic!("{calls:?}"));
    assert_eq!(openat["return"], -(libc::ENOENT as i64));
    assert_eq!(openat["error"]["name"], "ENOENT");
    assert_eq!(openat["args"][1]["name"], "filename");
    assert_eq!(openat["args"][1]["type"], "const char *");
    assert_eq!(
        openat["args"][2]["raw"],
        (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64
    );
    assert_eq!(openat["container"], "host");
    let kill = calls.iter().find(|c| c["syscall"] == "kill").unwrap();
    assert_eq!(kill["args"][0]["raw"], NO_SUCH_PID as u64);
    assert_eq!(kill["args"][1]["text"], "SIGUSR1");
    assert_eq!(kill["error"]["name"], "ESRCH");
    assert!(kill["duration_ns"].as_u64().is_some());
    // --failed: no call that succeeded, whoever made it.
    for o in objects.iter().filter(|o| o["type"] == "syscall") {
        assert!(o["error"].is_object(), "{o}");
    }
}

#[test]
fn summary_counts_are_exact() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let out = dir.path().join("summary.json");
    let run = trace_workload(
        &["-c", "--format", "json", "-e", "getppid,kill"],
        &out,
        &["syscalls", "1234"],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let objects: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // -c: the summary and the end, no line per call.
    assert_eq!(objects.len(), 2, "{objects:?}");
    let summary = &objects[0];
    assert_eq!(summary["type"], "summary");
    let host = &summary["containers"]["host"];
    assert_eq!(host["calls"], 1235);
    assert_eq!(host["errors"], 1);
    let getppid = &host["syscalls"]["getppid"];
    assert_eq!(
        (getppid["calls"].as_u64(), getppid["errors"].as_u64()),
        (Some(1234), Some(0))
    );
    assert_eq!(getppid["timed_calls"], 1234);
    let kill = &host["syscalls"]["kill"];
    assert_eq!(
        (kill["calls"].as_u64(), kill["errors"].as_u64()),
        (Some(1), Some(1))
    );
    // The percentiles are ordered and within the maximum; the histogram
    // holds every timed call.
    let p = |k: &str| getppid[k].as_u64().unwrap();
    assert!(p("p50_ns") <= p("p95_ns") && p("p95_ns") <= p("p99_ns") && p("p99_ns") <= p("max_ns"));
    let in_histogram: u64 = host["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[2].as_u64().unwrap())
        .sum();
    assert_eq!(in_histogram, 1235);
}

#[test]
fn a_container_trace_leaves_its_sibling_out() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let tag = std::process::id();
    let (mine, sibling) = (format!("trace-mine-{tag}"), format!("trace-sibling-{tag}"));
    // Both running when tracing starts, each waiting at its gate.
    let mut a = TestContainer::spawn(&mine, &["gate", "syscalls", "31"]).unwrap();
    let mut b = TestContainer::spawn(&sibling, &["gate", "syscalls", "17"]).unwrap();
    let root = perfns_record::testing::perfns_cgroup_root().unwrap();
    for name in [&mine, &sibling] {
        common::wait_for_container(&root.join(name));
    }
    let out = dir.path().join("mine.json");
    let tracer = Tracer::start(
        &[
            "--container",
            &mine,
            "-e",
            "getppid,kill",
            "--format",
            "json",
        ],
        &out,
    );
    a.release().unwrap();
    b.release().unwrap();
    let started = Instant::now();
    while a.try_wait().unwrap().is_none() || b.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < common::PATIENCE,
            "the containers still run"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    tracer.stop();
    let calls: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|o| o["type"] == "syscall")
        .collect();
    let count = |name: &str| calls.iter().filter(|c| c["syscall"] == name).count();
    assert_eq!(count("getppid"), 31, "{calls:?}");
    assert_eq!(count("kill"), 1);
    for c in &calls {
        assert_eq!(c["container"], mine.as_str(), "{c}");
    }
}

/// `perfns trace ARGS -o OUT` running until [`Tracer::stop`]: its command
/// says when tracing has started (it runs once the recorder does), then
/// waits for a line, which is how long the trace lasts.
struct Tracer(std::process::Child);

impl Tracer {
    /// Starts it, and waits until it traces.
    fn start(args: &[&str], out: &Path) -> Tracer {
        let mut child = Command::new(perfns_binary())
            .arg("trace")
            .args(args)
            .arg("-o")
            .arg(out)
            .args(["--", "sh", "-c", "echo tracing; read line"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut said = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut said)
            .unwrap();
        assert_eq!(said, "tracing\n");
        Tracer(child)
    }

    /// Ends the trace; fails the test unless it ends well.
    fn stop(mut self) {
        self.0.stdin.take().unwrap().write_all(b"\n").unwrap();
        let (status, stderr) = common::wait_with_stderr(self.0);
        assert!(status.success(), "{stderr}");
    }
}

#[test]
fn perfs_recordings_as_perf_trace_reads_them() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let workload = workload_binary().unwrap();
    // perf trace record's events; perf record's own way to ask for them.
    let raw = dir.path().join("raw.data");
    let rec = Command::new("perf")
        .args(["record", "-q", "-e", "raw_syscalls:*", "-o"])
        .arg(&raw)
        .arg("--")
        .arg(&workload)
        .args(["syscalls", "4"])
        .output()
        .unwrap();
    assert!(rec.status.success(), "{}", text(&rec.stderr));
    let known = Known::from_stderr(&text(&rec.stderr));
    let ours = perfns_trace(&[
        "-i",
        raw.to_str().unwrap(),
        "-e",
        "openat,write,close,getppid,kill",
    ]);
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let ours = text(&ours.stdout);
    // perf spawned the workload: perf's pid is its parent. perf script
    // shows it: the workload's first record's ppid is not there, so it is
    // read from perf's own calls (the fork's return in perf).
    let lines: Vec<String> = ours.lines().map(without_time).collect();
    let getppid = lines
        .iter()
        .find(|l| l.contains(&format!("[{0}/{0}] getppid() = ", known.pid)))
        .expect("a getppid line");
    let ppid: i32 = getppid.rsplit(' ').next().unwrap().parse().unwrap();
    let expected = known.lines("host", 4, ppid);
    assert_eq!(calls_of(&ours, known.pid, &expected), expected, "{ours}");

    // perf trace -i agrees on every result of the workload's calls (it
    // leaves getppid's out).
    let perf = Command::new("perf")
        .args(["trace", "-i"])
        .arg(&raw)
        .output()
        .unwrap();
    let perf = text(&perf.stdout) + &text(&perf.stderr);
    // (syscall, result) of the workload's openat, close and kill calls in
    // perf trace's lines (`perfns-workloa/PID openat(...)   = 3`) or ours
    // (`perfns-workload[PID/PID] openat(...) = 3 <0.000002>`).
    let results = |lines: &str| -> Vec<(String, String)> {
        let markers = [format!("/{} ", known.pid), format!("[{0}/{0}] ", known.pid)];
        lines
            .lines()
            .filter_map(|l| {
                let at = markers
                    .iter()
                    .find_map(|m| l.find(m.as_str()).map(|i| i + m.len()))?;
                let name = l[at..].split('(').next()?.to_owned();
                let result = l
                    .rsplit_once(" = ")?
                    .1
                    .split(" <")
                    .next()?
                    .trim()
                    .to_owned();
                ["openat", "close", "kill"]
                    .contains(&name.as_str())
                    .then_some((name, result))
            })
            .collect()
    };
    let theirs = results(&perf);
    let mine = results(&ours);
    assert!(theirs.len() >= 4, "{perf}");
    assert_eq!(mine, theirs);

    // syscalls:sys_enter_openat/sys_exit_openat carry their own format.
    let openat = dir.path().join("openat.data");
    let rec = Command::new("perf")
        .args([
            "record",
            "-q",
            "-e",
            "syscalls:sys_enter_openat",
            "-e",
            "syscalls:sys_exit_openat",
            "-o",
        ])
        .arg(&openat)
        .arg("--")
        .arg(&workload)
        .args(["syscalls", "1"])
        .output()
        .unwrap();
    assert!(rec.status.success(), "{}", text(&rec.stderr));
    let known = Known::from_stderr(&text(&rec.stderr));
    // Without a tracefs to read: the recording is enough.
    let empty = dir.path().join("no-tracefs");
    std::fs::create_dir(&empty).unwrap();
    let ours = perfns_trace(&[
        "-i",
        openat.to_str().unwrap(),
        "--tracefs",
        empty.to_str().unwrap(),
    ]);
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let ours = text(&ours.stdout);
    let expected = known.lines("host", 0, 0)[..2].to_vec();
    assert_eq!(calls_of(&ours, known.pid, &expected), expected, "{ours}");
    // perf script shows the same calls' entries, in hex.
    let script = common::perf_script(&openat, &[]);
    let entries = script
        .lines()
        .filter(|l| l.contains(&format!(" {} ", known.pid)) && l.contains("sys_enter_openat"))
        .count();
    let ours_entries = ours
        .lines()
        .filter(|l| l.contains(&format!("[{0}/{0}] openat(", known.pid)))
        .count();
    assert_eq!(ours_entries, entries, "{script}");
}

#[test]
fn a_running_process_by_its_pid() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    // It waits at its gate until tracing has started.
    let mut workload = Command::new(workload_binary().unwrap())
        .args(["gate", "syscalls", "9"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = workload.id().to_string();
    let out = dir.path().join("pid.txt");
    let tracer = Tracer::start(&["-p", &pid, "-e", "openat,write,close,getppid,kill"], &out);
    workload.stdin.take().unwrap().write_all(b"\n").unwrap();
    let (status, stderr) = common::wait_with_stderr(workload);
    assert!(status.success(), "{stderr}");
    tracer.stop();
    let known = Known::from_stderr(&stderr);
    let trace = std::fs::read_to_string(&out).unwrap();
    // Its parent is this test.
    let expected = known.lines("host", 9, std::process::id() as i32);
    assert_eq!(calls_of(&trace, known.pid, &expected), expected, "{trace}");
    // -p: its calls alone, not the command's.
    for line in trace.lines() {
        assert!(line.contains(&format!("[{0}/{0}] ", known.pid)), "{line}");
    }
}

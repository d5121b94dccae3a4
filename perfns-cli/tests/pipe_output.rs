//! `perfns record -o -`: a pipe-mode stream on stdout that Debian's perf
//! reads from its stdin, with the calls the workload makes. Needs root,
//! tracefs and perf (perfns::testing: skipped without them, a failure
//! under CI=true).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{perfns_record, text};
use perfns_record::testing::workload_binary;
use perfns_report::{report, Options};

const CALLS: u32 = 2000;

/// `perf ARGS` with `input` on its stdin; its stdout.
fn perf_from_stdin(args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("perf")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perf");
    let mut stdin = child.stdin.take().expect("perf's stdin");
    // Written from a thread while perf's output is read here: perf prints
    // as it reads, and a full stdout pipe would stop it reading.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("perf's end");
    writer
        .join()
        .expect("the writing thread")
        .expect("the stream to perf");
    assert!(out.status.success(), "perf {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn perf_reads_the_stream_perfns_writes_to_stdout() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    if perfns::testing::prerequisite(perfns::testing::perf()).is_none() {
        return;
    }
    let workload = workload_binary().expect("the workload");
    let out = perfns_record(&[
        "-o",
        "-",
        "-m",
        "1024",
        "--events",
        "syscalls",
        "--",
        workload.to_str().expect("a UTF-8 path"),
        "getppid",
        &CALLS.to_string(),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stream = out.stdout;
    assert_eq!(&stream[..8], b"PERFILE2", "a perf.data magic on stdout");
    assert_eq!(stream[8..16], 16u64.to_ne_bytes(), "the pipe-mode header");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("[ perfns record: Captured"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let written = format!("{:.3} MB -", stream.len() as f64 / (1024.0 * 1024.0));
    assert!(summary.contains(&written), "{summary} ({written})");

    // perf reads it from its stdin.
    let script = perf_from_stdin(&["script", "-i", "-", "-F", "comm,event,trace"], &stream);
    let nr = format!("NR {} ", libc::SYS_getppid);
    let entered = |l: &&str| l.contains("sys_enter:") && l.contains(&nr);
    let perf_calls = script.lines().filter(entered).count();
    let workload_calls = script
        .lines()
        .filter(entered)
        .filter(|l| l.contains("perfns-workload"))
        .count();
    if !stderr.contains("Warning: lost ") {
        assert_eq!(workload_calls, CALLS as usize, "{stderr}");
    }

    // And perfns reads the same, with the container metadata that came
    // first in the stream.
    let path = dir.path().join("stream.data");
    std::fs::write(&path, &stream).expect("the stream in a file");
    let options = Options {
        top: usize::MAX,
        ..Options::default()
    };
    let r = report(&path, &options, &mut |_| {}).expect("a report");
    assert!(r.header.recording.pipe_mode);
    assert_eq!(r.header.recording.tool, "perfns");
    assert_eq!(common::getppid_calls_in(&r), perf_calls as u64);
    let samples: u64 = r.header.events.iter().map(|e| e.samples).sum();
    assert_eq!(samples, script.lines().count() as u64);
}

#[test]
fn compression_with_stdout_is_refused() {
    let Some((_serial, _dir)) = common::recording_test() else {
        return;
    };
    let out = perfns_record(&["-z", "-o", "-", "--duration", "0.1"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("-z with -o -"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

//! `perfns report --jobs`: on a system-wide recording of both CPUs made
//! here with perf (many rounds, records of every CPU interleaved), the
//! report of four jobs is the report of one, byte for byte, in every
//! format, and it holds the workload's calls. Needs root, tracefs and
//! Debian's perf (skipped without them, a failure under CI=true).

mod common;

use std::process::Command;

use common::{perfns_binary, text};
use perfns_record::testing::workload_binary;
use perfns_report::{report, Options};

/// The workload's getppid calls.
const CALLS: u32 = 20_000;

#[test]
fn four_jobs_report_what_one_does_on_a_system_wide_recording() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let path = dir.path().join("tp.data");
    let workload = workload_binary().expect("the workload");
    let out = Command::new("perf")
        .args([
            "record",
            "-q",
            "-a",
            "-m",
            "1024",
            "--namespaces",
            "--all-cgroups",
        ])
        .args(["-e", "sched:sched_switch", "-e", "raw_syscalls:sys_enter"])
        .args(["-e", "raw_syscalls:sys_exit", "-e", "kmem:mm_page_alloc"])
        .args(["-e", "kmem:mm_page_free", "-o"])
        .arg(&path)
        .arg("--")
        .arg(&workload)
        .args(["getppid", &CALLS.to_string()])
        .output()
        .expect("perf record");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let run = |jobs: &str, format: &str| {
        let out = Command::new(perfns_binary())
            .args(["report", "--per-process", "--top", "1000", "--jobs", jobs])
            .args(["--format", format, "-i"])
            .arg(&path)
            .output()
            .expect("perfns report");
        assert!(out.status.success(), "{}", text(&out.stderr));
        out.stdout
    };
    for format in ["table", "json", "csv"] {
        let one = run("1", format);
        assert!(!one.is_empty(), "{format}");
        assert!(
            run("4", format) == one,
            "--jobs 4 differs from --jobs 1 in {format}"
        );
    }

    // And the report is of the recording: the workload's calls are in it
    // (all of them unless perf lost some, which it says).
    let options = |jobs| Options {
        top: usize::MAX,
        jobs,
        ..Options::default()
    };
    let four = report(&path, &options(4), &mut |_| {}).expect("a report");
    let calls = common::getppid_calls_in(&four);
    if stderr.contains("lost") {
        assert!(calls > 0, "{stderr}");
    } else {
        assert!(calls >= u64::from(CALLS), "{calls} getppid calls");
    }
    assert_eq!(
        four,
        report(&path, &options(1), &mut |_| {}).expect("a report")
    );
}

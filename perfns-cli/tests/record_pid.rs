//! `perfns record -p PID`, as root on this machine's kernel: a process's
//! system calls and CPU time, and those of the child it makes once
//! recording started (inherited events), exactly; nothing of another
//! process doing the same at the same time; recording ends when they have
//! exited; a pid that does not exist, and -p with flags that choose the
//! tasks another way, are refused.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};

use perfns::container::{RecordingMode, RecordingScope};
use perfns_record::testing::workload_binary;
use perfns_report::model::{CpuTimeSource, Report};
use perfns_report::{report, Options};

/// The workload running `steps` (it waits at each `gate` for a line on
/// stdin), its cgroups made under `cgroup_dir` (a `container` step's).
fn workload(steps: &[&str], cgroup_dir: &std::path::Path) -> Child {
    Command::new(workload_binary().unwrap())
        .args(steps)
        .env(perfns_record::testing::CGROUP_DIR_ENV, cgroup_dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Opens `child`'s gate.
fn release(child: &mut Child) {
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
}

/// The getppid calls of the container named `name`, its own.
fn getppid_calls_of(report: &Report, name: &str) -> u64 {
    report
        .containers
        .iter()
        .filter(|c| c.name == name)
        .flat_map(|c| &c.top_syscalls)
        .filter(|s| s.nr == libc::SYS_getppid as u64)
        .map(|s| s.figures.calls)
        .sum()
}

#[test]
fn dash_p_records_the_process_and_its_children_alone() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let cgroup = common::TestCgroup::new(&format!("perfns/record-pid-{}", std::process::id()));
    // The one recorded: 3000 getppid and 150 ms of CPU, then a child, made
    // once recording runs, in a container of its own (`pchild`): 2000
    // getppid and 100 ms of CPU there. The other, not recorded, does as
    // much at the same time.
    let mut recorded = workload(
        &[
            "gate",
            "getppid",
            "3000",
            "burn",
            "150",
            "container",
            "pchild",
            "getppid",
            "2000",
            "burn",
            "100",
        ],
        cgroup.dir(),
    );
    let mut other = workload(&["gate", "getppid", "4000", "burn", "150"], cgroup.dir());
    let (pid, other_pid) = (recorded.id() as i32, other.id() as i32);
    let out = dir.path().join("pid.data");
    let rec = common::spawn_record(&[
        "-p",
        &pid.to_string(),
        "--events",
        "cpu,syscalls",
        "-o",
        out.to_str().unwrap(),
    ]);
    common::wait_for_recording(&out);
    release(&mut recorded);
    release(&mut other);
    assert!(common::wait_exit(&mut recorded).success());
    assert!(common::wait_exit(&mut other).success());
    // It stops by itself once the process and its child have exited.
    let (status, said) = common::wait_with_stderr(rec);
    assert!(status.success(), "{said}");
    assert!(said.contains("per process"), "{said}");

    let options = Options {
        per_process: true,
        top: usize::MAX,
        ..Options::default()
    };
    let report = report(&out, &options, &mut |_| {}).unwrap();
    let h = &report.header;
    assert_eq!(h.recording.mode, Some(RecordingMode::PerProcess));
    assert_eq!(
        h.recording.scope,
        Some(RecordingScope::Processes { pids: vec![pid] })
    );
    assert_eq!(h.cpu_time_from, CpuTimeSource::TaskSwitchRecords);
    assert_eq!(h.lost.total, 0, "exact counts need no losses");
    // Exactly the recorded process's and its child's calls: none of the
    // other's 4000.
    assert_eq!(common::getppid_calls_in(&report), 5000);
    assert_eq!(
        getppid_calls_of(&report, "pchild"),
        2000,
        "the child's container"
    );
    let processes = report.processes.as_ref().unwrap();
    let pids: Vec<i32> = processes.iter().map(|p| p.process.pid).collect();
    assert!(pids.contains(&pid), "{pids:?}");
    assert!(!pids.contains(&other_pid), "{pids:?}");
    // Only the recorded process and what it made: the workload, the
    // `unshare` it starts and the container's pid 1.
    assert!(pids.len() <= 3, "{pids:?}");
    // CPU time: the process's burn (150 ms in all, some before recording
    // started) and the child's 100 ms, within the tolerance of the
    // testdata recordings (-2%/+15% + 30 ms), from their own switches.
    let cpu = |p: i32| -> f64 {
        let row = processes.iter().find(|r| r.process.pid == p).unwrap();
        row.process.figures.cpu.time_ns as f64 / 1e6
    };
    let own = cpu(pid);
    println!(
        "processes {pids:?}; getppid {}; CPU of {pid}: {own:.1} ms",
        common::getppid_calls_in(&report)
    );
    assert!((140.0..=150.0 * 1.15 + 30.0).contains(&own), "{own} ms");
    let child_ms: f64 = report
        .containers
        .iter()
        .filter(|c| c.name == "pchild")
        .map(|c| c.own.cpu.time_ns as f64 / 1e6)
        .sum();
    println!("CPU of pchild: {child_ms:.1} ms");
    assert!(
        (95.0..=100.0 * 1.15 + 30.0).contains(&child_ms),
        "{child_ms} ms"
    );
}

#[test]
fn dash_p_refuses_a_missing_process_and_other_ways_to_choose_tasks() {
    // Above any pid_max: no such process; named, and nothing written.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.data");
    let missing = common::perfns_record(&["-p", "2147483647", "-o", out.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    let err = common::text(&missing.stderr);
    assert!(err.contains("process 2147483647 does not exist"), "{err}");
    assert!(!out.exists());
    for other in [
        ["--container", "web"],
        ["--cgroup", "/perfns"],
        ["--scope", "tracer"],
        ["-a", "-q"],
    ] {
        let mut args = vec!["-p", "1"];
        args.extend(other);
        let refused = common::perfns_record(&args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        let err = common::text(&refused.stderr);
        assert!(
            err.contains("'--pid <PID[,PID...]>' cannot be used with"),
            "{args:?}: {err}"
        );
    }
    let zero = common::perfns_record(&["-p", "0"]);
    assert_eq!(zero.status.code(), Some(2));
}

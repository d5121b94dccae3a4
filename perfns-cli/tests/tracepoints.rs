//! `perfns record -e SYSTEM:NAME` on this machine's kernel: a glob of
//! tracepoints beside a group, while a container makes a known number of
//! getppid calls; `perfns report` counts exactly those per container,
//! and Debian's perf script reads the same samples. And `-e`'s bad
//! input: errors naming the word, glob or name, before any file is made.
//! (What the tracer scope says of a tracepoint it refuses is a unit test
//! of perfns-record's: the kernel here has no tracer scope.)

mod common;

use nix::sys::signal::Signal;
use perfns_record::testing::TestContainer;
use perfns_report::{report, Options};

/// The getppid calls the container makes.
const CALLS: u64 = 4321;

#[test]
fn a_glob_of_tracepoints_counts_a_container_s_calls_as_perf_script_does() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let name = format!("tracepoints-{}", std::process::id());
    let mut container =
        TestContainer::spawn(&name, &["gate", "getppid", &CALLS.to_string()]).unwrap();
    let root = perfns_record::testing::perfns_cgroup_root().unwrap();
    common::wait_for_container(&root.join(&name));
    let output = dir.path().join("run.data");
    // A group and a glob, in two -e; only the container's cgroup, so that
    // a loaded machine cannot fill the buffers.
    let recorder = common::spawn_record(&[
        "-e",
        "cpu",
        "-e",
        "syscalls:sys_*_getppid",
        "--container",
        &name,
        "-o",
        output.to_str().unwrap(),
    ]);
    common::wait_for_recording(&output);
    container.release().unwrap();
    assert!(container.wait().unwrap().success());
    common::signal(&recorder, Signal::SIGINT);
    let (status, stderr) = common::wait_with_stderr(recorder);
    assert!(status.success(), "perfns record: {stderr}");
    assert!(
        !stderr.contains("Warning: lost"),
        "exact counts need no losses: {stderr}"
    );

    let r = report(&output, &Options::default(), &mut |_| {}).unwrap();
    assert!(r.header.tracepoints_recorded && !r.header.user_events_recorded);
    let c = r
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}: {:?}", r.containers));
    let counts: Vec<(&str, u64)> = c
        .tracepoints
        .iter()
        .map(|t| (t.event.as_str(), t.count))
        .collect();
    assert_eq!(
        counts,
        [
            ("syscalls:sys_enter_getppid", CALLS),
            ("syscalls:sys_exit_getppid", CALLS)
        ]
    );
    // Nothing else hit them: the recording is the container's alone.
    let everywhere: u64 = r
        .containers
        .iter()
        .flat_map(|c| &c.tracepoints)
        .map(|t| t.count)
        .sum();
    assert_eq!(everywhere, 2 * CALLS);

    // perf reads the formats the recording carries, and counts as many.
    let script = common::perf_script(&output, &[]);
    assert!(!script.contains("FAILED TO PARSE"), "{script}");
    for event in ["syscalls:sys_enter_getppid", "syscalls:sys_exit_getppid"] {
        let lines = script
            .lines()
            .filter(|l| l.contains(&format!(" {event}: ")))
            .count() as u64;
        assert_eq!(lines, CALLS, "perf script's {event} samples");
    }

    let table = std::process::Command::new(common::perfns_binary())
        .args(["report", "-i"])
        .arg(&output)
        .output()
        .unwrap();
    let table = common::text(&table.stdout);
    assert!(table.contains("\nTracepoints (own)\n"), "{table}");
}

#[test]
fn e_names_what_it_cannot_record_before_any_file_is_made() {
    if !common::can_record() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("never.data");
    let events = perfns::tracepoint::Tracefs::find_or_mount()
        .unwrap()
        .root()
        .join("events");
    for (e, expected) in [
        (
            "cpu,kmem:no_such_*",
            format!(
                "no tracepoint matches `kmem:no_such_*` (in {})",
                events.display()
            ),
        ),
        (
            "syscalls:sys_enter_no_such_call",
            format!(
                "tracepoint syscalls:sys_enter_no_such_call does not exist on this kernel (no {})",
                events.join("syscalls/sys_enter_no_such_call").display()
            ),
        ),
        (
            "cpu,cycles",
            "-e/--events: unknown event `cycles`: the event groups are cpu, mem and syscalls"
                .to_owned(),
        ),
        (
            "kmem:mm_[page",
            "-e/--events: `kmem:mm_[page`: no `]` closes the `[` at 4".to_owned(),
        ),
    ] {
        let out = common::perfns_record(&["-e", e, "-o", output.to_str().unwrap(), "--", "true"]);
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{e}: {stderr}");
        assert!(stderr.contains(&expected), "{e}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!output.exists(), "{e} made {}", output.display());
    }
}

//! `perfns record --user-events[=STATUS_FILE]` on this machine's kernel,
//! which has no user events (CONFIG_USER_EVENTS): what it says of a status
//! file that is not the kernel's, or that lists nothing; and, with a
//! status file naming real tracepoints' ids in place of user events', that
//! the recording names them as user events for perf and for the report
//! alike, with formats of the common fields alone (what a tenant's
//! recording has). Real user events, written and counted, are the VM's
//! end-to-end test's (perfns-record/tests/vm_tracer_scope.rs).

mod common;

use perfns_record::testing::workload_binary;
use perfns_report::{report, Options};

#[test]
fn a_status_file_that_is_not_the_kernel_s_is_refused_before_any_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("user_events_status");
    let output = dir.path().join("never.data");
    let out_arg = output.to_str().unwrap();
    for (text, expected) in [
        (
            "request_done # id 12\ncache miss\n\nActive: 2\nBusy: 0\n",
            format!(
                "--user-events: {}:2: `cache miss`: expected `NAME` or `NAME # ...`",
                status.display()
            ),
        ),
        (
            "request_done # id twelve\n\nActive: 1\nBusy: 0\n",
            format!(
                "--user-events: {}:1: `request_done # id twelve`: id `twelve` is not a number",
                status.display()
            ),
        ),
        (
            "request_done\n",
            format!(
                "--user-events: {}:1: the file ends before its `Active: N` line",
                status.display()
            ),
        ),
    ] {
        std::fs::write(&status, text).unwrap();
        let arg = format!("--user-events={}", status.display());
        let out = common::perfns_record(&[&arg, "-o", out_arg, "--", "true"]);
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {stderr}");
        assert!(stderr.contains(&expected), "{text:?}: {stderr}");
        assert!(!output.exists(), "{text:?} made {}", output.display());
    }
    let missing = dir.path().join("missing");
    let out = common::perfns_record(&[
        &format!("--user-events={}", missing.display()),
        "-o",
        out_arg,
        "--",
        "true",
    ]);
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--user-events={}: no such file",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(!output.exists());
}

#[test]
fn a_status_file_listing_nothing_is_said_and_the_rest_is_recorded() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let status = dir.path().join("user_events_status");
    std::fs::write(&status, "\nActive: 0\nBusy: 0\n").unwrap();
    let output = dir.path().join("run.data");
    let workload = workload_binary().expect("the workload");
    let out = common::perfns_record(&[
        &format!("--user-events={}", status.display()),
        "-e",
        "syscalls",
        "-o",
        output.to_str().unwrap(),
        "--",
        workload.to_str().unwrap(),
        "getppid",
        "300",
    ]);
    let stderr = common::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "[ perfns record: --user-events: {} lists no user events (none is registered in \
             this tracer namespace's group; one registered after recording starts is not \
             recorded) ]",
            status.display()
        )),
        "{stderr}"
    );
    let r = report(&output, &Options::default(), &mut |_| {}).unwrap();
    assert!(!r.header.user_events_recorded);
    assert!(
        common::getppid_calls_in(&r) >= 300,
        "the rest is recorded: {stderr}"
    );
}

/// The id tracefs gives tracepoint `system/name`.
fn tracepoint_id(system: &str, name: &str) -> u64 {
    let tracefs = perfns::tracepoint::Tracefs::find_or_mount().expect("tracefs");
    tracefs.format(system, name).expect("the tracepoint").id
}

/// The kernel here has no user events: raw_syscalls' sys_enter and
/// sys_exit stand in for two (a status file names their ids), written by
/// every system call of a workload in a cgroup of the test's own. The
/// recording names them `user_events:request_done` and
/// `user_events_multi:flow.1f` with formats of the common fields alone
/// (tracefs has no such events); Debian's perf reads the file, names the
/// events so and counts the samples perfns report counts.
#[test]
fn perf_and_the_report_name_user_events_recorded_without_their_formats() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let status = dir.path().join("user_events_status");
    std::fs::write(
        &status,
        format!(
            "request_done # id {}\nflow.1f # id {}; Used by perf\n\nActive: 2\nBusy: 1\n",
            tracepoint_id("raw_syscalls", "sys_enter"),
            tracepoint_id("raw_syscalls", "sys_exit")
        ),
    )
    .unwrap();
    let cgroup = common::TestCgroup::new(&format!("perfns-user-events-{}", std::process::id()));
    let output = dir.path().join("run.data");
    let recorder = common::spawn_record(&[
        &format!("--user-events={}", status.display()),
        "-e",
        "cpu",
        "--cgroup",
        cgroup.name(),
        "-o",
        output.to_str().unwrap(),
    ]);
    common::wait_for_recording(&output);
    cgroup.run(&["getppid", "500"]);
    common::signal(&recorder, nix::sys::signal::Signal::SIGINT);
    let out = recorder.wait_with_output().expect("perfns record's end");
    assert!(out.status.success(), "{}", common::text(&out.stderr));

    let r = report(&output, &Options::default(), &mut |_| {}).unwrap();
    assert!(r.header.user_events_recorded);
    let count = |event: &str| -> u64 {
        r.containers
            .iter()
            .flat_map(|c| &c.user_events)
            .filter(|u| u.event == event)
            .map(|u| u.count)
            .sum()
    };
    let (entries, exits) = (
        count("user_events:request_done"),
        count("user_events_multi:flow.1f"),
    );
    assert!(entries >= 500 && exits >= 500, "{entries} {exits}");

    let script = common::perf_script(&output, &[]);
    let lines = |event: &str| {
        script
            .lines()
            .filter(|l| l.contains(&format!(" {event}: ")))
            .count() as u64
    };
    assert_eq!(lines("user_events:request_done"), entries, "{script}");
    assert_eq!(lines("user_events_multi:flow.1f"), exits);
    assert!(!script.contains("FAILED TO PARSE"), "{script}");
}

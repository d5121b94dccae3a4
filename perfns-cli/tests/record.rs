//! `perfns record` as a user runs it, as root on this machine's kernel:
//! overload, Ctrl-C, errors, and perf reading what it wrote. (A full disk
//! and other faults while recording: faults.rs.)

mod common;

use common::{
    loss_warning, number_after, perf_script, perfns_record, recording_meta, signal, spawn_record,
    text, tracepoint_format, wait_for_recording,
};

use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use perfns::perf_data::PerfFileReader;
use perfns::record::Record;
use perfns_record::testing::workload_binary;

const SYS_GETPPID: u64 = libc::SYS_getppid as u64;

/// The recorder's stderr without its first line, which says which scope
/// it chose (as root on this machine: the system scope).
fn after_scope_line(stderr: &str) -> &str {
    match stderr.split_once('\n') {
        Some((first, rest)) if first.starts_with("[ perfns record: system scope") => rest,
        _ => stderr,
    }
}

#[test]
fn a_tiny_buffer_loses_counts_and_says_so() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("lossy.data");
    let workload = workload_binary().unwrap();
    // One 4 KiB page per CPU holds about 40 system call records; 100000
    // getppid calls make 200000.
    let out = perfns_record(&[
        "-m",
        "1",
        "--events",
        "syscalls",
        "-o",
        path.to_str().unwrap(),
        "--",
        workload.to_str().unwrap(),
        "getppid",
        "100000",
    ]);
    let stderr = text(&out.stderr);
    // Lost events: the file is whole, the status says so (3).
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let (warning, printed) = loss_warning(&stderr);
    assert!(printed > 0, "{warning}");
    assert!(
        stderr.contains("-m/--mmap-pages 4 (now 1 pages per CPU)"),
        "{stderr}"
    );

    // The file has the LOST records, and their sum is what was printed,
    // also in the perfns extension per CPU.
    let reader = PerfFileReader::open(&path).unwrap();
    let mut lost_in_records = 0;
    let mut lost_records = 0;
    let formats: Vec<_> = (0..reader.events().events().len())
        .map(|i| tracepoint_format(&reader, i))
        .collect();
    let mut getppid_records = 0;
    for r in reader.records() {
        let r = r.unwrap();
        match r.parse().unwrap() {
            Record::Lost(l) => {
                lost_in_records += l.lost;
                lost_records += 1;
            }
            Record::LostSamples(l) => lost_in_records += l.lost,
            Record::Sample(s) => {
                let f = formats[r.event].as_ref().unwrap();
                if f.read_i64(s.raw.as_deref().unwrap(), "id").unwrap() as u64 == SYS_GETPPID {
                    getppid_records += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(lost_in_records, printed);
    // Nothing vanished unaccounted: the workload's 200000 records are
    // kept or counted lost (the loss also counts other tasks' records;
    // the kernel's own count, read when recording stops, covers the
    // losses it had not reported in a LOST record yet).
    assert!(
        getppid_records < 200_000 && getppid_records + lost_in_records >= 200_000,
        "{getppid_records} kept, {lost_in_records} lost"
    );
    let meta = recording_meta(&reader);
    let per_cpu: u64 = meta.lost.iter().map(|c| c.lost + c.lost_samples).sum();
    assert_eq!(per_cpu, printed);

    // perf counts the same LOST records.
    let stats = Command::new("perf")
        .args(["report", "--stats", "-i"])
        .arg(&path)
        .output()
        .unwrap();
    let stats = text(&stats.stdout);
    let perf_lost = stats.lines().find_map(|l| number_after(l, "LOST events:"));
    assert_eq!(perf_lost, Some(lost_records), "{stats}");
}

#[test]
fn sigint_mid_recording_leaves_a_complete_file() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("interrupted.data");
    // The workload's cgroup alone: the machine's other tasks cannot
    // overflow the buffers and take the exact count with them.
    let cgroup = common::TestCgroup::new(&format!("perfns-sigint-{}", std::process::id()));
    let recorder = spawn_record(&[
        "-a",
        "-m",
        "4096",
        "--cgroup",
        cgroup.name(),
        "-o",
        path.to_str().unwrap(),
    ]);
    wait_for_recording(&path);
    let workload_pid = cgroup.run(&["getppid", "4321"]);
    signal(&recorder, Signal::SIGINT);
    let (status, stderr) = common::wait_with_stderr(recorder);
    assert!(status.success(), "{stderr}");
    assert!(
        after_scope_line(&stderr).starts_with("[ perfns record: Captured and wrote "),
        "{stderr}"
    );

    // Read back whole: every record parses, the workload's calls are all
    // there, the extension is the final one.
    let a = common::attribute(&path);
    assert!(
        a.lost_by_cpu.is_empty(),
        "exact counts need no losses: {:?}",
        a.lost_by_cpu
    );
    let host = &a.containers["host"];
    assert!(host.tids.contains(&workload_pid));
    let reader = PerfFileReader::open(&path).unwrap();
    let mut getppid_by_workload = 0;
    let mut exit_seen = false;
    let sys_enter = common::event_names(&reader)
        .iter()
        .position(|n| n == "raw_syscalls:sys_enter")
        .unwrap();
    let format = tracepoint_format(&reader, sys_enter).unwrap();
    for r in reader.records() {
        let r = r.unwrap();
        match r.parse().unwrap() {
            Record::Sample(s) if r.event == sys_enter && s.id.pid == Some(workload_pid) => {
                let id = format.read_i64(s.raw.as_deref().unwrap(), "id").unwrap();
                if id as u64 == SYS_GETPPID {
                    getppid_by_workload += 1;
                }
            }
            Record::Exit(e) if e.pid == workload_pid => exit_seen = true,
            _ => {}
        }
    }
    assert_eq!(getppid_by_workload, 4321);
    assert!(exit_seen, "the workload's EXIT record");
    assert!(
        a.meta.tasks.len() > 10,
        "{} tasks in the statedump",
        a.meta.tasks.len()
    );

    // perf reads it, side-band records and all.
    let stdout = perf_script(
        &path,
        &[
            "--show-task-events",
            "--show-switch-events",
            "--show-namespace-events",
        ],
    );
    for needle in [
        "raw_syscalls:sys_enter:",
        "raw_syscalls:sys_exit:",
        "PERF_RECORD_SWITCH_CPU_WIDE",
        "PERF_RECORD_NAMESPACES",
        "PERF_RECORD_COMM",
        "perfns-workload",
    ] {
        assert!(stdout.contains(needle), "perf script shows no {needle}");
    }
}

#[test]
fn errors_are_clear_and_exit_nonzero() {
    if !common::can_record() {
        return;
    }
    let _serial = common::serial();
    // The output cannot be created.
    let out = perfns_record(&["-o", "/proc/no/such/dir.data", "--", "true"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        after_scope_line(&stderr).starts_with("perfns: recording to /proc/no/such/dir.data: ")
            && stderr.contains("creating the recording"),
        "{stderr}"
    );

    // Bad arguments are refused before anything opens.
    let out = perfns_record(&["-m", "0", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("-m/--mmap-pages 0: the ring buffer needs at least one page"),
        "{}",
        text(&out.stderr)
    );
    let out = perfns_record(&["-m", "8X", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`8X`: give pages"),
        "{}",
        text(&out.stderr)
    );
    let out = perfns_record(&["--events", "cpu,disk", "--", "true"]);
    assert!(text(&out.stderr).contains("-e/--events: unknown event `disk`"));

    // No privilege: a user without CAP_PERFMON.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::perfns_binary())
        .args(["record", "-o", "/tmp/perfns-nobody.data", "--", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot open dummy:HG on CPU")
            && stderr.contains("permission denied")
            && stderr.contains("perf_event_paranoid"),
        "{stderr}"
    );

    // --container names nothing running.
    let out = perfns_record(&[
        "--container",
        "no-such-container",
        "-o",
        "/dev/null",
        "--",
        "true",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("no running container matches `no-such-container` (running: host (host)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_tracepoint_is_named() {
    if !common::can_record() {
        return;
    }
    // A tracefs copy whose kmem system is missing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("events/raw_syscalls")).unwrap();
    let mut config = perfns_record::session::SessionConfig::new(dir.path().join("x.data"));
    config.tracefs = Some(dir.path().to_owned());
    let err = perfns_record::session::Recorder::start(config).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("tracepoint kmem:mm_page_alloc does not exist on this kernel"),
        "{err}"
    );
}

#[test]
fn duration_ends_the_recording_and_the_status_line_needs_a_terminal() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("timed.data");
    // stderr is a pipe here: no live line, only the summary.
    let out = perfns_record(&[
        "-a",
        "--duration",
        "0.6",
        "--events",
        "cpu",
        "-o",
        path.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr:?}");
    assert_eq!(after_scope_line(&stderr).lines().count(), 1, "{stderr:?}");
    let a = common::attribute(&path);
    assert!(
        a.kinds.get("SWITCH_CPU_WIDE").is_some_and(|&n| n > 0),
        "{:?}",
        a.kinds
    );

    // Under a terminal (script(1) gives it one) the live line is drawn,
    // with \r, and cleared before the summary.
    let cmd = format!(
        "{} record -a --duration 1.2 --events cpu -o {}",
        common::perfns_binary().display(),
        path.display()
    );
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    let all = text(&out.stdout);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("\r\x1b[K[ perfns record: ")
            && all.contains(" events, ")
            && all.contains(" lost ]"),
        "{all:?}"
    );
    assert!(
        all.contains("[ perfns record: Captured and wrote "),
        "{all:?}"
    );
}

#[test]
fn sigterm_ends_the_recording_and_the_command() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("terminated.data");
    let recorder = spawn_record(&[
        "--events",
        "cpu",
        "-o",
        path.to_str().unwrap(),
        "--",
        "sleep",
        "600",
    ]);
    wait_for_recording(&path);
    signal(&recorder, Signal::SIGTERM);
    // perfns record ends `sleep` with SIGTERM, as perf record does, and
    // says so.
    let (status, stderr) = common::wait_with_stderr(recorder);
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("[ perfns record: sleep exited with signal: 15 (SIGTERM) ]"),
        "{stderr}"
    );
    let a = common::attribute(&path);
    assert!(matches!(
        a.meta.scope,
        perfns::container::RecordingScope::Command { ref argv } if argv == &["sleep", "600"]
    ));
    assert!(a.kinds.contains_key("EXIT"), "{:?}", a.kinds);
}

/// A recording over an existing one moves it to NAME.old first (replacing
/// an older NAME.old), as perf record does: its bytes are kept, and a
/// reader that has it open reads it to the end while the new recording is
/// written. A command that cannot start moves nothing.
#[test]
fn an_existing_output_becomes_name_old_and_its_reader_reads_on() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("again.data");
    let old = dir.path().join("again.data.old");
    let record = |command: &str| {
        perfns_record(&[
            "--events",
            "cpu",
            "-o",
            path.to_str().unwrap(),
            "--",
            command,
        ])
    };
    let out = record("true");
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(&old, b"an older .old").unwrap();
    let first = std::fs::read(&path).unwrap();
    let in_first = PerfFileReader::open(&path)
        .unwrap()
        .records_in_file_order()
        .count();
    assert!(in_first > 1, "{in_first} records");

    // A reader in the middle of the first recording.
    let reader = PerfFileReader::open(&path).unwrap();
    let mut records = reader.records_in_file_order();
    records.next().unwrap().unwrap();
    let out = record("true");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut read = 1;
    for r in records {
        let r = r.unwrap();
        r.parse().unwrap();
        read += 1;
    }
    assert_eq!(read, in_first);
    assert_eq!(
        std::fs::read(&old).unwrap(),
        first,
        "{} is the first recording",
        old.display()
    );
    // The new recording is a file of its own.
    assert!(
        PerfFileReader::open(&path)
            .unwrap()
            .records_in_file_order()
            .count()
            > 1
    );

    let second = std::fs::read(&path).unwrap();
    let out = record("perfns-no-such-command");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&path).unwrap(), second);
    assert_eq!(std::fs::read(&old).unwrap(), first);
}

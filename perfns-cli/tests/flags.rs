//! The flags perfns shares with perf (`record -e -C -q -a`), each against
//! a real recording (as root, on this machine's kernel).

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{perfns_record, text, tracepoint_format};
use perfns::perf_data::PerfFileReader;
use perfns::record::Record;
use perfns_record::testing::workload_binary;

const SYS_GETPPID: i64 = libc::SYS_getppid;

/// Each sample's CPU and, for `raw_syscalls:sys_enter`, its syscall: by
/// event name.
fn samples(path: &Path) -> Vec<(String, u32, Option<i64>)> {
    let reader = PerfFileReader::open(path).expect("the recording opens");
    let names = common::event_names(&reader);
    let formats: Vec<_> = (0..names.len())
        .map(|i| tracepoint_format(&reader, i))
        .collect();
    let mut out = Vec::new();
    for r in reader.records() {
        let r = r.expect("a record");
        if let Ok(Record::Sample(s)) = r.parse() {
            let cpu = s.id.cpu.expect("samples carry their CPU");
            let nr = match (&formats[r.event], names[r.event].as_str()) {
                (Some(f), "raw_syscalls:sys_enter") => {
                    f.read_i64(s.raw.as_deref().expect("raw"), "id").ok()
                }
                _ => None,
            };
            out.push((names[r.event].clone(), cpu, nr));
        }
    }
    out
}

/// How many CPUs a recording's first event was opened on (one id each).
fn rings(path: &Path) -> usize {
    let reader = PerfFileReader::open(path).expect("the recording opens");
    reader.events().events()[0].ids.len()
}

#[test]
fn short_e_records_the_groups_given_and_dash_c_only_those_cpus() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("cpu0.data");
    let workload = workload_binary().unwrap();
    // The workload on CPU 0, so that CPU 0's recording has its calls.
    let out = perfns_record(&[
        "-e",
        "syscalls",
        "-C",
        "0",
        "-o",
        path.to_str().unwrap(),
        "--",
        "taskset",
        "-c",
        "0",
        workload.to_str().unwrap(),
        "getppid",
        "2000",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rings(&path), 1);
    let samples = samples(&path);
    let getppid = samples
        .iter()
        .filter(|(_, _, nr)| *nr == Some(SYS_GETPPID))
        .count();
    assert!(getppid >= 2000, "{getppid} getppid calls recorded");
    for (event, cpu, _) in &samples {
        assert!(event.starts_with("raw_syscalls:"), "-e syscalls: {event}");
        assert_eq!(*cpu, 0, "-C 0: a sample of {event} on CPU {cpu}");
    }
}

#[test]
fn dash_c_refuses_a_malformed_list_before_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("never.data");
    let out = perfns_record(&["-C", "1-0", "-o", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("-C malformed CPU list"), "{stderr}");
    assert!(!path.exists());
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let path = dir.path().join("quiet.data");
    let workload = workload_binary().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["-e", "syscalls", "-o", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend(["--", workload.to_str().unwrap(), "getppid", "100"]);
        perfns_record(&args)
    };
    let loud = run(&[]);
    assert!(loud.status.success(), "{}", text(&loud.stderr));
    assert!(text(&loud.stderr).contains("Captured and wrote"));
    let quiet = run(&["-q"]);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert_eq!(text(&quiet.stderr), "", "-q printed something");
    let getppid = samples(&path)
        .iter()
        .filter(|(_, _, nr)| *nr == Some(SYS_GETPPID))
        .count();
    assert!(getppid >= 100, "{getppid} getppid calls recorded");
    // An error is still said.
    let failed = perfns_record(&["-q", "-e", "disk", "-o", path.to_str().unwrap()]);
    assert!(!failed.status.success());
    assert!(text(&failed.stderr).contains("--events disk"));
}

#[test]
fn dash_a_is_the_default() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let workload = workload_binary().unwrap();
    let cpus_of = |name: &str, all: bool| {
        let path: PathBuf = dir.path().join(name);
        let mut args = vec!["-e", "syscalls", "-o", path.to_str().unwrap()];
        if all {
            args.push("-a");
        }
        args.extend(["--", workload.to_str().unwrap(), "getppid", "10"]);
        let out = perfns_record(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        rings(&path)
    };
    let online = perfns::abi::online_cpus().unwrap().len();
    assert_eq!(cpus_of("a.data", true), online);
    assert_eq!(cpus_of("default.data", false), online);
}

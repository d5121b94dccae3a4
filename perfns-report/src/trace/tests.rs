//! The trace against the recordings of testdata/, whose workloads' calls
//! are known (testdata/README.md), and the syscalls' formats of
//! testdata/tracefs-syscalls.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use perfns::perf_data::PerfFileReader;
use perfns::tracepoint::Tracefs;

use super::*;

fn testdata(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata")).join(name)
}

/// Every line and the summary of `name` traced with `options`.
fn trace(
    name: &str,
    options: TraceOptions,
) -> Result<(Vec<SyscallLine>, Summary, TraceEnd), TraceError> {
    let reader = PerfFileReader::open(testdata(name)).expect("the recording opens");
    let mut trace = Trace::new(
        name,
        reader.events(),
        reader.features(),
        Signatures::from_tracefs(Tracefs::at(testdata("tracefs-syscalls"))),
        options,
    )?;
    let mut lines = Vec::new();
    feed(&reader, &mut trace, &mut |l| {
        lines.extend(l);
        Ok(())
    })
    .expect("no output to fail");
    let (last, summary, end) = trace.finish();
    lines.extend(last);
    Ok((lines, summary, end))
}

fn only(names: &[&str]) -> Option<BTreeSet<String>> {
    Some(names.iter().map(|n| (*n).to_owned()).collect())
}

/// two-containers.data: `calm` made 1500 getppid calls, `busy` none.
#[test]
fn a_container_alone_with_its_calls() {
    let options = |c: &str| TraceOptions {
        container: Some(c.into()),
        syscalls: only(&["getppid"]),
        ..TraceOptions::default()
    };
    let (lines, summary, end) = trace("two-containers.data", options("calm")).unwrap();
    assert_eq!(end.warnings, Vec::<String>::new());
    assert_eq!(lines.len(), 1500);
    assert!(lines
        .iter()
        .all(|l| l.container == "calm" && l.syscall == "getppid"));
    // Each returned, timed, with no error; the getppid format has no
    // parameter.
    assert!(lines
        .iter()
        .all(|l| l.duration_ns.is_some() && l.error.is_none() && l.args.is_empty()));
    let calm = &summary.containers["calm"];
    assert_eq!((calm.calls, calm.errors), (1500, 0));
    assert_eq!(calm.syscalls["getppid"].timed_calls, 1500);
    assert_eq!(summary.containers.len(), 1);
    assert_eq!((end.lost, end.errors), (0, 0));

    let (lines, _, _) = trace("two-containers.data", options("busy")).unwrap();
    assert!(lines.is_empty(), "{:?}", lines.first());
}

/// tracer-scope.data, a tenant's own recording (testdata/README.md): its
/// root is the tenant's container, which perfns report calls "tenant",
/// not the host; asking for it takes everything in scope, and asking for
/// web takes web's 300 getppid calls (its workload's `getppid 300`).
#[test]
fn a_tenant_s_trace_names_its_own_container_as_the_report_does() {
    let all = TraceOptions {
        syscalls: only(&["getppid"]),
        ..TraceOptions::default()
    };
    let (lines, summary, _) = trace("tracer-scope.data", all).unwrap();
    assert!(
        !summary.containers.contains_key("host"),
        "{:?}",
        summary.containers.keys()
    );
    assert!(lines.iter().any(|l| l.container == "tenant"));
    let web = lines.iter().filter(|l| l.container == "web").count();
    assert_eq!(web, 300);

    let tenant = TraceOptions {
        container: Some("tenant".into()),
        syscalls: only(&["getppid"]),
        ..TraceOptions::default()
    };
    let (chosen, _, _) = trace("tracer-scope.data", tenant).unwrap();
    assert_eq!(chosen.len(), lines.len());

    let web_only = TraceOptions {
        container: Some("web".into()),
        syscalls: only(&["getppid"]),
        ..TraceOptions::default()
    };
    let (chosen, _, _) = trace("tracer-scope.data", web_only).unwrap();
    assert_eq!(chosen.len(), 300);
    assert!(chosen.iter().all(|l| l.container == "web"));
}

#[test]
fn a_container_the_recording_lacks_is_refused_with_the_list() {
    let options = TraceOptions {
        container: Some("nope".into()),
        ..TraceOptions::default()
    };
    let err = trace("two-containers.data", options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"nope\"") && err.contains("calm (pidns:"),
        "{err}"
    );
}

#[test]
fn a_recording_without_syscalls_is_refused() {
    let err = trace("plain-sched-switch.data", TraceOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no syscall events"), "{err}");
}

/// perf612.data: perf 6.12's recording of raw_syscalls:sys_enter alone
/// (no sys_exit); its workload made 2000 getppid calls.
#[test]
fn entries_without_exits_are_shown_as_they_come() {
    let options = TraceOptions {
        syscalls: only(&["getppid"]),
        ..TraceOptions::default()
    };
    let (lines, summary, end) = trace("perf612.data", options).unwrap();
    assert!(
        end.warnings
            .iter()
            .any(|w| w.contains("raw_syscalls:sys_exit was not recorded")),
        "{:?}",
        end.warnings
    );
    let workload: Vec<_> = lines
        .iter()
        .filter(|l| l.comm == "perfns-workload")
        .collect();
    assert_eq!(workload.len(), 2000);
    assert!(workload
        .iter()
        .all(|l| l.ret.is_none() && l.result == "?" && l.duration_ns.is_none()));
    let calls: u64 = summary
        .containers
        .values()
        .map(|c| c.syscalls["getppid"].calls)
        .sum();
    assert_eq!(calls, lines.len() as u64);
}

/// The formats of testdata/tracefs-syscalls (this machine's kernel's)
/// name and type the parameters.
#[test]
fn parameters_from_the_formats() {
    let mut s = Signatures::from_tracefs(Tracefs::at(testdata("tracefs-syscalls")));
    let openat = s.of("openat").expect("openat's format");
    let named: Vec<(&str, &str)> = openat
        .iter()
        .map(|p| (p.name.as_str(), p.c_type.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("dfd", "int"),
            ("filename", "const char *"),
            ("flags", "int"),
            ("mode", "umode_t")
        ]
    );
    let kill = s.of("kill").unwrap();
    assert_eq!(kill.len(), 2);
    assert_eq!(
        (kill[1].name.as_str(), kill[1].c_type.as_str()),
        ("sig", "int")
    );
    assert_eq!(s.of("getppid").unwrap().len(), 0);
    let mmap = s.of("mmap").unwrap();
    assert_eq!(
        mmap.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["addr", "len", "prot", "flags", "fd", "off"]
    );
    // Not there: no parameters known, asked once.
    assert!(s.of("no_such_call").is_none());
    assert!(Signatures::none().of("openat").is_none());
}

/// A syscall whose format the tracefs lacks: its arguments by position,
/// in hex, and a warning that names it.
#[test]
fn a_missing_format_is_said() {
    let options = TraceOptions {
        container: Some("calm".into()),
        ..TraceOptions::default()
    };
    let (lines, _, end) = trace("two-containers.data", options).unwrap();
    // testdata/tracefs-syscalls has no sys_enter_munmap.
    let munmap = lines
        .iter()
        .find(|l| l.syscall == "munmap")
        .expect("calm's workload unmaps");
    let names: Vec<&str> = munmap.args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["arg1", "arg2", "arg3", "arg4", "arg5", "arg6"]);
    assert_eq!(munmap.args[1].text, format!("{:#x}", munmap.args[1].raw));
    let warning = end
        .warnings
        .iter()
        .find(|w| w.contains("has no syscalls:sys_enter_* format for"))
        .unwrap_or_else(|| panic!("{:?}", end.warnings));
    assert!(
        warning.contains("munmap") && !warning.contains("getppid"),
        "{warning}"
    );
}

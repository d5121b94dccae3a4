//! `perfns record --uprobe` on the host's kernel: two containers call the
//! workload's request function a known number of times while perfns
//! record and perf record (perf probe's tracepoints) both watch; each
//! report shows exactly those calls per container, timed no shorter than
//! the work each call does. And `--uprobe`'s bad input: clear errors,
//! before any file is made.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use perfns_record::testing::{workload_binary, TestContainer, REQUEST_SYMBOL, REQUEST_WORK};
use perfns_report::model::{Report, UprobeFigures};
use serde_json::Value;

/// The calls each container makes.
const CALLS: [(&str, u64); 2] = [("uprobe-a", 300), ("uprobe-b", 500)];

/// The group perf probe names the workload's probes (`probe_` and the
/// file's name up to its first non-identifier character).
const PERF_GROUP: &str = "probe_perfns";

/// perf probe's events on the workload, deleted when dropped (they are
/// the kernel's, and outlive the test otherwise).
struct PerfProbes;

impl PerfProbes {
    fn add(workload: &Path) -> PerfProbes {
        // Leftovers of a killed run would make perf name ours `_1`.
        let _ = Command::new("perf")
            .args(["probe", "-q", "-d", &format!("{PERF_GROUP}:*")])
            .output();
        for probe in [
            REQUEST_SYMBOL.to_owned(),
            format!("{REQUEST_SYMBOL}%return"),
        ] {
            let out = Command::new("perf")
                .args(["probe", "-q", "-x"])
                .arg(workload)
                .arg(&probe)
                .output()
                .expect("perf probe");
            assert!(
                out.status.success(),
                "perf probe -x {} {probe}: {}",
                workload.display(),
                common::text(&out.stderr)
            );
        }
        PerfProbes
    }
}

impl Drop for PerfProbes {
    fn drop(&mut self) {
        let _ = Command::new("perf")
            .args(["probe", "-q", "-d", &format!("{PERF_GROUP}:*")])
            .output();
    }
}

/// The uprobe figures of container `name` in `report`, by probe.
fn uprobes_of<'a>(report: &'a Report, name: &str) -> &'a [UprobeFigures] {
    &report
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = report.containers.iter().map(|c| c.name.as_str()).collect();
            panic!("no container {name} in {names:?}")
        })
        .uprobes
}

/// Checks that each container made exactly its calls of `probe`, each
/// timed, none shorter than the work it does, and that no other task hit
/// it.
fn check_calls(report: &Report, probe: &str, tool: &str) {
    let work = REQUEST_WORK.as_nanos() as u64;
    for (name, calls) in CALLS {
        let u = uprobes_of(report, name);
        assert_eq!(u.len(), 1, "{tool}, {name}: {u:?}");
        let u = &u[0];
        assert_eq!(u.probe, probe, "{tool}, {name}");
        assert_eq!(
            (u.hits, u.returns, u.timed_calls),
            (calls, Some(calls), Some(calls)),
            "{tool}, {name}"
        );
        let (avg, p50) = (
            u.latency_avg_ns.expect("avg"),
            u.latency_p50_ns.expect("p50"),
        );
        assert!(avg >= work, "{tool}, {name}: avg {avg} ns < {work} ns");
        // The histogram's value is within 1/32 of the true one.
        assert!(p50 >= work - work / 32, "{tool}, {name}: p50 {p50} ns");
        assert!(
            u.latency_max_ns >= u.latency_p99_ns,
            "{tool}, {name}: {u:?}"
        );
        assert!(u.latency_total_ns >= Some(calls * work), "{tool}, {name}");
    }
    let all: u64 = report
        .containers
        .iter()
        .flat_map(|c| &c.uprobes)
        .map(|u| u.hits)
        .sum();
    assert_eq!(all, CALLS.iter().map(|(_, n)| n).sum::<u64>(), "{tool}");
}

#[test]
fn two_containers_calls_are_counted_and_timed_as_perf_probe_counts_them() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let workload = std::fs::canonicalize(workload_binary().expect("the workload")).unwrap();
    // The function is in the binary the containers run, by its name.
    let nm = Command::new("nm").arg(&workload).output().expect("nm");
    assert!(
        common::text(&nm.stdout)
            .lines()
            .any(|l| l.ends_with(&format!(" T {REQUEST_SYMBOL}"))),
        "nm {} lists no {REQUEST_SYMBOL}",
        workload.display()
    );
    let _probes = PerfProbes::add(&workload);

    let containers: Vec<TestContainer> = CALLS
        .iter()
        .map(|(name, calls)| {
            TestContainer::spawn(name, &["gate", "requests", &calls.to_string()]).unwrap()
        })
        .collect();

    // A bare name, found in $PATH as perf probe -x finds it.
    let bin_dir = workload.parent().expect("a directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ours = dir.path().join("perfns.data");
    let entry = format!("perfns-workload:{REQUEST_SYMBOL}");
    let ret = format!("{entry}%return");
    let perfns = Command::new(common::perfns_binary())
        .args([
            "record", "-a", "-e", "cpu", "--uprobe", &entry, "--uprobe", &ret, "-o",
        ])
        .arg(&ours)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perfns record");
    common::wait_for_recording(&ours);
    let theirs = dir.path().join("perf.data");
    let mut perf = common::start_perf_record(
        dir.path(),
        &[
            "-e",
            &format!("{PERF_GROUP}:{REQUEST_SYMBOL}"),
            "-e",
            &format!("{PERF_GROUP}:{REQUEST_SYMBOL}__return"),
        ],
        &theirs,
    );

    common::release_and_wait(containers);
    common::signal(&perfns, Signal::SIGINT);
    let (status, stderr) = common::wait_with_stderr(perfns);
    assert!(status.success(), "perfns record: {stderr}");
    assert!(
        !stderr.contains("Warning: lost"),
        "exact counts need no losses: {stderr}"
    );
    common::signal(&perf, Signal::SIGINT);
    let status = common::wait_exit(&mut perf);
    // perf record -a without a command ends as the signal asked.
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.success() || status.signal() == Some(libc::SIGINT),
        "perf record: {status}"
    );

    let options = perfns_report::Options {
        top: usize::MAX,
        ..Default::default()
    };
    let report = perfns_report::report(&ours, &options, &mut |_| {}).expect("our recording");
    assert!(report.header.uprobes_recorded);
    check_calls(
        &report,
        &format!("uprobes:{REQUEST_SYMBOL}"),
        "perfns record",
    );
    let report = perfns_report::report(&theirs, &options, &mut |_| {}).expect("perf's recording");
    check_calls(
        &report,
        &format!("{PERF_GROUP}:{REQUEST_SYMBOL}"),
        "perf record",
    );

    // The JSON and CSV of the command say the same.
    let run = |format: &str| {
        let out = Command::new(common::perfns_binary())
            .args(["report", "--per-container", "--format", format, "-i"])
            .arg(&ours)
            .output()
            .expect("perfns report");
        assert!(out.status.success(), "{}", common::text(&out.stderr));
        common::text(&out.stdout)
    };
    let json: Value = serde_json::from_str(&run("json")).expect("JSON");
    let csv = run("csv");
    let csv_block: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("a CSV line"))
        .skip_while(|r| r.get(0) != Some("section") || r.get(2) != Some("probe"))
        .take_while(|r| r.len() > 1)
        .collect();
    let head = &csv_block[0];
    let column = |row: &csv::StringRecord, name: &str| -> String {
        let at = head.iter().position(|h| h == name).expect(name);
        row[at].to_owned()
    };
    for (name, calls) in CALLS {
        let c = json["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .expect(name);
        let u = &c["uprobes"][0];
        assert_eq!(u["probe"], format!("uprobes:{REQUEST_SYMBOL}"));
        assert_eq!(
            (u["hits"].as_u64(), u["returns"].as_u64()),
            (Some(calls), Some(calls))
        );
        assert!(u["latency_avg_ns"].as_u64().unwrap() >= REQUEST_WORK.as_nanos() as u64);
        let key = c["key"].as_str().unwrap();
        let row = csv_block[1..]
            .iter()
            .find(|r| column(r, "key") == key)
            .unwrap_or_else(|| panic!("no uprobes line for {name} in {csv}"));
        assert_eq!(column(row, "section"), "uprobes");
        assert_eq!(column(row, "hits"), calls.to_string());
        assert_eq!(column(row, "timed_calls"), calls.to_string());
        assert_eq!(
            column(row, "latency_avg_ns"),
            u["latency_avg_ns"].to_string()
        );
    }
    let table = run("table");
    assert!(table.contains("\nUprobes (own)\n"), "{table}");

    // The probed file's build-id, where perf looks for it.
    let listed = Command::new("perf")
        .args(["buildid-list", "-i"])
        .arg(&ours)
        .output()
        .expect("perf buildid-list");
    assert_eq!(
        common::text(&listed.stdout).trim(),
        format!(
            "{} {}",
            common::readelf_build_id(&workload),
            workload.display()
        )
    );
}

#[test]
fn a_probe_that_cannot_be_placed_is_refused_before_any_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let workload = std::fs::canonicalize(workload_binary().expect("the workload")).unwrap();
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not a program\n").unwrap();
    let stripped = dir.path().join("stripped-workload");
    let out = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&workload)
        .output()
        .expect("strip (binutils)");
    assert!(out.status.success(), "strip: {}", common::text(&out.stderr));
    let output = dir.path().join("never.data");
    let cases = [
        (
            format!("{}:no_such_function", workload.display()),
            format!("no_such_function is not defined in {}", workload.display()),
        ),
        (
            format!("{}:{REQUEST_SYMBOL}", text_file.display()),
            format!("{} is not an ELF file", text_file.display()),
        ),
        (
            format!("/nonexistent/perfns-workload:{REQUEST_SYMBOL}"),
            "/nonexistent/perfns-workload: No such file or directory".to_owned(),
        ),
        (
            format!("no-such-program-perfns:{REQUEST_SYMBOL}"),
            "no-such-program-perfns not found in $PATH".to_owned(),
        ),
        (
            format!("{}:{REQUEST_SYMBOL}", stripped.display()),
            format!(
                "{REQUEST_SYMBOL} is not defined in {} (the file is stripped",
                stripped.display()
            ),
        ),
        (
            format!("{}:{REQUEST_SYMBOL}%entry", workload.display()),
            "unknown `%entry`".to_owned(),
        ),
    ];
    for (spec, expected) in cases {
        let out = Command::new(common::perfns_binary())
            .args(["record", "--uprobe", &spec, "-o"])
            .arg(&output)
            .args(["--", "true"])
            .stdin(Stdio::null())
            .output()
            .expect("perfns record");
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {stderr}");
        assert!(
            stderr.contains(&format!("--uprobe {spec}: ")) && stderr.contains(&expected),
            "{spec}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!output.exists(), "{spec} made {}", output.display());
    }
}

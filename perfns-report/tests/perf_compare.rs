//! perfns against perf on the same file: per-process sample counts of a
//! recording made by `perf record` must be what `perf report` counts.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use perfns_report::{report, Options};

fn perf(args: &[&str]) -> Option<String> {
    let out = match Command::new("perf").args(args).output() {
        Ok(out) => out,
        // The comparison needs Debian's perf (package linux-perf).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running perf: {e}"),
    };
    assert!(
        out.status.success(),
        "perf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn per_process_samples_match_perf_report() {
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/containers-switch.data"
    ));
    let file_arg = file.to_str().expect("a UTF-8 path");
    // `perf report --sort pid` counts samples per thread ("TID:COMM").
    // CI installs perf (scripts/install-deps.sh): there it must run.
    if perfns::testing::prerequisite(perfns::testing::perf()).is_none() {
        return;
    }
    let by_tid = perf(&[
        "report",
        "-i",
        file_arg,
        "--sort",
        "pid",
        "-F",
        "sample,pid",
        "--stdio",
        "-q",
    ])
    .expect("perf ran");
    // Which process each thread belongs to, as perf sees it.
    let threads = perf(&["script", "-i", file_arg, "-F", "pid,tid"]).expect("perf ran before");
    let pid_of: BTreeMap<i64, i64> = threads
        .lines()
        .filter_map(|l| {
            let (pid, tid) = l.trim().split_once('/')?;
            Some((tid.trim().parse().ok()?, pid.trim().parse().ok()?))
        })
        .collect();
    let mut perf_counts: BTreeMap<i64, u64> = BTreeMap::new();
    for line in by_tid.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let samples: u64 = fields.next().and_then(|s| s.parse().ok()).expect(line);
        let tid: i64 = fields
            .next()
            .and_then(|s| s.split(':').next())
            .and_then(|s| s.parse().ok())
            .expect(line);
        let pid = pid_of.get(&tid).copied().unwrap_or(tid);
        *perf_counts.entry(pid).or_default() += samples;
    }

    let options = Options {
        per_process: true,
        top: usize::MAX,
        ..Options::default()
    };
    let r = report(file, &options, &mut |_| {}).expect("the recording reports");
    let ours: BTreeMap<i64, u64> = r
        .processes
        .expect("--per-process")
        .iter()
        .filter(|p| p.process.figures.cpu.samples > 0)
        .map(|p| (i64::from(p.process.pid), p.process.figures.cpu.samples))
        .collect();
    assert_eq!(ours, perf_counts);
    assert!(ours.values().sum::<u64>() > 400, "a few hundred samples");

    // And per container: the workloads' containers hold their processes'
    // samples, which perf puts in their cgroups.
    let by_cgroup = perf(&[
        "report",
        "-i",
        file_arg,
        "--sort",
        "cgroup",
        "-F",
        "sample,cgroup",
        "--stdio",
        "-q",
    ])
    .expect("perf ran before");
    let cgroup_count = |path: &str| -> u64 {
        by_cgroup
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                let n = f.next()?.parse().ok()?;
                (f.next()? == path).then_some(n)
            })
            .unwrap_or(0)
    };
    for name in ["big", "small"] {
        let c = r.containers.iter().find(|c| c.name == name).expect(name);
        let perf_n = cgroup_count(&format!("/perfns/{name}"));
        // perf's cgroup also holds the container's launcher (unshare
        // before its fork), which lives in the host's pid namespace.
        assert!(
            c.own.cpu.samples <= perf_n && perf_n - c.own.cpu.samples <= 2,
            "{name}: perfns {} perf {perf_n}",
            c.own.cpu.samples
        );
    }
}

/// The uprobe recording's calls, as perf script lists them: each
/// process's entries and returns, and the time between each entry and its
/// return summed (the workload's function does not recurse), to the
/// nanosecond: what perfns report gives its container.
#[test]
fn uprobe_calls_and_latency_match_perf_script() {
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/uprobes.data"
    ));
    if perfns::testing::prerequisite(perfns::testing::perf()).is_none() {
        return;
    }
    let script = perf(&[
        "script",
        "-i",
        file.to_str().expect("a UTF-8 path"),
        "-F",
        "pid,time,event",
        "--ns",
    ])
    .expect("perf ran");
    // pid -> (entries, returns, summed latency), and the open entry.
    let mut calls: BTreeMap<i32, (u64, u64, u64)> = BTreeMap::new();
    let mut entered: BTreeMap<i32, u64> = BTreeMap::new();
    for line in script.lines() {
        let mut f = line.split_whitespace();
        let (Some(pid), Some(time), Some(event)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let pid: i32 = pid.parse().expect(line);
        let (s, ns) = time.trim_end_matches(':').split_once('.').expect(line);
        let t = s.parse::<u64>().expect(line) * 1_000_000_000 + ns.parse::<u64>().expect(line);
        let c = calls.entry(pid).or_default();
        match event.trim_end_matches(':') {
            "uprobes:perfns_workload_request" => {
                c.0 += 1;
                entered.insert(pid, t);
            }
            "uprobes:perfns_workload_request__return" => {
                c.1 += 1;
                c.2 += t - entered.remove(&pid).expect("an entry before each return");
            }
            other => panic!("an event perf should not show here: {other}"),
        }
    }
    let options = Options {
        per_process: true,
        top: usize::MAX,
        ..Options::default()
    };
    let r = report(file, &options, &mut |_| {}).expect("the recording reports");
    let procs = r.processes.expect("--per-process");
    let mut ours: BTreeMap<i32, (u64, u64, u64)> = BTreeMap::new();
    for c in &r.containers {
        for u in &c.uprobes {
            // Each container runs one process that calls the function.
            let p = procs
                .iter()
                .find(|p| p.container == c.key && p.process.comm == "perfns-workload")
                .expect("its workload");
            ours.insert(
                p.process.pid,
                (
                    u.hits,
                    u.returns.expect("a return probe"),
                    u.latency_total_ns.expect("a return probe"),
                ),
            );
        }
    }
    assert_eq!(ours, calls);
    assert_eq!(ours.values().map(|c| c.0).sum::<u64>(), 80);
}

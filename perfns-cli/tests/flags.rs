//! The flags perfns shares with perf (`record -e -C -q -a`, `report --sort`
//! with several keys, `--time` with percents and several ranges), the report's one grouping
//! (`--per-container`, `--per-process`, `--flat`), `--container`'s one
//! rule, the exit statuses, and the completions and man pages made from
//! them: each against a real recording, a fresh one (as root, on this
//! machine's kernel) or one of testdata/.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{perfns_binary, perfns_record, text, tracepoint_format};
use perfns::perf_data::PerfFileReader;
use perfns::record::Record;
use perfns_record::testing::workload_binary;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

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
    assert!(text(&failed.stderr).contains("-e/--events: unknown event `disk`"));
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

fn perfns(args: &[&str]) -> Output {
    Command::new(perfns_binary())
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("running perfns")
}

fn testdata(name: &str) -> String {
    format!("testdata/{name}")
}

/// The JSON report of `args` (after `report --format json`).
fn json_report(args: &[&str]) -> Value {
    let mut all = vec!["report", "--format", "json"];
    all.extend_from_slice(args);
    let out = perfns(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

/// Whether `rows` are in `sort`'s order: the first key first, each key
/// its figure then its tie-breaker, biggest first.
fn in_order(rows: &[&Value], sort: &[&str]) -> bool {
    let key = |row: &Value| -> Vec<(u64, u64)> {
        let f = |a: &str, b: &str| {
            let n = |p: &str| row.pointer(p).and_then(Value::as_u64).unwrap();
            (n(a), n(b))
        };
        sort.iter()
            .map(|k| match *k {
                "cpu" => f("/cpu/time_ns", "/cpu/samples"),
                "mem" => f("/memory/pages_allocated", "/memory/pages_freed"),
                _ => f("/syscalls/calls", "/syscalls/errors"),
            })
            .collect()
    };
    rows.windows(2).all(|w| key(w[0]) >= key(w[1]))
}

#[test]
fn sort_takes_several_keys_the_first_first() {
    // 73 processes, many with the same page counts.
    let input = testdata("containers-tracepoints.data");
    for sort in [["mem", "cpu"], ["syscalls", "cpu"], ["syscalls", "mem"]] {
        let joined = sort.join(",");
        let r = json_report(&[
            "-i",
            &input,
            "--per-process",
            "--top",
            "1000",
            "--sort",
            &joined,
        ]);
        assert_eq!(r["sorted_by"], sort[0]);
        assert_eq!(r["then_sorted_by"], serde_json::json!([sort[1]]));
        let processes: Vec<&Value> = r["processes"].as_array().unwrap().iter().collect();
        assert!(in_order(&processes, &sort), "--sort {joined}");
        // Some neighbours tie on the first key and differ on the second:
        // the second is what orders them.
        let decided_by_second = processes.windows(2).any(|w| {
            in_order(w, &[sort[0]])
                && in_order(&[w[1], w[0]], &[sort[0]])
                && !in_order(&[w[1], w[0]], &sort)
        });
        assert!(decided_by_second, "--sort {joined}: no tie to break");
    }
    let r = json_report(&["-i", &input, "--flat", "--sort", "mem,syscalls"]);
    assert!(r.get("processes").is_none());
    let containers: Vec<&Value> = r["containers"].as_array().unwrap()[1..]
        .iter()
        .map(|c| &c["own"])
        .collect();
    assert!(in_order(&containers, &["mem", "syscalls"]));
    let twice = perfns(&["report", "-i", &input, "--sort", "cpu,mem,cpu"]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(text(&twice.stderr).contains("--sort: cpu is given twice"));
}

#[test]
fn per_container_per_process_and_flat_are_one_choice() {
    let input = testdata("nested.data");
    let default = perfns(&["report", "-i", &input]);
    let per_container = perfns(&["report", "-i", &input, "--per-container"]);
    assert!(default.status.success(), "{}", text(&default.stderr));
    assert_eq!(text(&per_container.stdout), text(&default.stdout));
    // --per-container: the tree, nested containers deeper, no process list.
    let tree = json_report(&["-i", &input, "--per-container"]);
    let depths: Vec<u64> = tree["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["depth"].as_u64().unwrap())
        .collect();
    assert!(depths.iter().any(|&d| d > 0), "{depths:?}");
    assert!(tree.get("processes").is_none());
    // --flat: the same containers, all at depth 0.
    let flat = json_report(&["-i", &input, "--flat"]);
    let flat_containers = flat["containers"].as_array().unwrap();
    assert_eq!(flat_containers.len(), depths.len());
    assert!(flat_containers.iter().all(|c| c["depth"] == 0));
    // --per-process: the tree and the processes.
    let processes = json_report(&["-i", &input, "--per-process"]);
    assert_eq!(processes["containers"], tree["containers"]);
    assert!(!processes["processes"].as_array().unwrap().is_empty());
    for pair in [
        ["--per-container", "--flat"],
        ["--per-container", "--per-process"],
        ["--flat", "--per-process"],
    ] {
        let out = perfns(&["report", "-i", &input, pair[0], pair[1]]);
        assert_eq!(out.status.code(), Some(2), "{pair:?}");
        assert!(
            text(&out.stderr).contains("cannot be used with"),
            "{pair:?}"
        );
    }
}

#[test]
fn completions_and_man_pages_come_from_the_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let out = perfns(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for flag in ["per-container", "switch-output", "compression-level"] {
            assert!(script.contains(flag), "{shell} completes no --{flag}");
        }
    }
    // The bash script is bash.
    let dir = tempfile::tempdir().unwrap();
    let bash = dir.path().join("perfns.bash");
    std::fs::write(&bash, perfns(&["completions", "bash"]).stdout).unwrap();
    let checked = Command::new("bash").arg("-n").arg(&bash).output().unwrap();
    assert!(checked.status.success(), "{}", text(&checked.stderr));

    let page = text(&perfns(&["man"]).stdout);
    assert!(page.contains(".TH perfns 1"), "{page}");
    let out = perfns(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record = std::fs::read_to_string(dir.path().join("perfns-record.1")).unwrap();
    assert!(record.contains(".TH perfns-record 1"));
    assert!(record.contains("\\-\\-cpu"), "{record}");
    for sub in [
        "report",
        "trace",
        "run-container",
        "publish-tracefs",
        "serve",
    ] {
        assert!(dir.path().join(format!("perfns-{sub}.1")).exists(), "{sub}");
    }
}

#[test]
fn report_container_takes_a_name_a_key_or_a_cgroup_path() {
    let input = testdata("nested.data");
    let tree = json_report(&["-i", &input]);
    let outer = tree["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "outer")
        .expect("nested.data has `outer`");
    let key = outer["key"].as_str().unwrap();
    let cgroup = outer["cgroup"].as_str().unwrap();
    for wanted in ["outer", key, key.trim_start_matches("pidns:"), cgroup] {
        let r = json_report(&["-i", &input, "--container", wanted]);
        assert_eq!(r["containers"][0]["key"], key, "--container {wanted}");
    }
    let none = perfns(&["report", "-i", &input, "--container", "no-such"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).contains("the recording has:"));
}

/// `perfns ARGS` as uid and gid 65534 (nobody), through setpriv(1).
fn perfns_as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(perfns_binary())
        .args(args)
        .output()
        .expect("setpriv(1) from util-linux")
}

#[test]
fn exit_statuses_tell_damage_loss_and_refusal_apart() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    // 4: a recording cut short is reported, and said to be damaged.
    let whole = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/two-containers.data"),
    )
    .unwrap();
    let cut = dir.path().join("cut.data");
    std::fs::write(&cut, &whole[..whole.len() * 6 / 10]).unwrap();
    let out = perfns(&["report", "-i", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("perfns report of "),
        "the report is printed"
    );
    assert!(text(&out.stderr).contains("the file is truncated"));
    let whole_report = perfns(&["report", "-i", &testdata("two-containers.data")]);
    assert_eq!(whole_report.status.code(), Some(0));

    // 3: events lost, the file whole; -q says nothing else.
    let lossy = dir.path().join("lossy.data");
    let workload = workload_binary().unwrap();
    let out = perfns_record(&[
        "-q",
        "-m",
        "1",
        "-e",
        "syscalls",
        "-o",
        lossy.to_str().unwrap(),
        "--",
        workload.to_str().unwrap(),
        "getppid",
        "100000",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert!(PerfFileReader::open(&lossy).is_ok());

    // 77: permission refused, by a file (root's, 0600) or by the kernel.
    let private = dir.path().join("private.data");
    std::fs::write(&private, &whole).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = perfns_as_nobody(&["report", "-i", private.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(77), "{}", text(&out.stderr));
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").unwrap();
    let need = match paranoid.trim().parse::<i32>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err(format!(
            "kernel.perf_event_paranoid >= 1, so that nobody may not record the system \
             (it is {})",
            paranoid.trim()
        )),
    };
    if perfns::testing::prerequisite(need).is_some() {
        let out = perfns_as_nobody(&[
            "record",
            "--scope",
            "system",
            "-o",
            "/dev/null",
            "--duration",
            "0.1",
        ]);
        assert_eq!(out.status.code(), Some(77), "{}", text(&out.stderr));
    }
}

#[test]
fn help_lists_the_exit_statuses() {
    for args in [
        &["--help"][..],
        &["record", "--help"],
        &["report", "--help"],
    ] {
        let help = text(&perfns(args).stdout);
        assert!(help.contains("Exit status:"), "{args:?}: {help}");
        assert!(help.contains("77  permission refused"), "{args:?}");
    }
}

/// `ns` as `perf script` prints seconds, exactly.
fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

#[test]
fn time_takes_perfs_percent_slices() {
    let input = testdata("two-containers.data");
    let ns = |r: &Value, field: &str| r["header"]["time"][field].as_u64().unwrap();
    // 0%-100% is the span the slices are of: first sample to last.
    let all = json_report(&["-i", &input, "--time", "0%-100%"]);
    let (first, last) = (ns(&all, "start_ns"), ns(&all, "end_ns"));
    // perf's set_percent_time(): rounded to the nearest ns, and the end
    // one short of the next slice unless it is the last sample.
    let at = |ppm: u64| first + ((last - first) * ppm + 500_000) / 1_000_000;
    let end = |ppm: u64| if ppm == 1_000_000 { last } else { at(ppm) - 1 };
    for (percent, from, to) in [
        ("10%/2", 100_000, 200_000),
        ("25%", 0, 250_000),
        ("50%-100%", 500_000, 1_000_000),
    ] {
        let sliced = json_report(&["-i", &input, "--time", percent]);
        assert_eq!(ns(&sliced, "start_ns"), at(from), "--time {percent}");
        assert_eq!(ns(&sliced, "end_ns"), end(to), "--time {percent}");
        // The same as the slice's times in seconds.
        let range = format!("{},{}", seconds(at(from)), seconds(end(to)));
        let timed = json_report(&["-i", &input, "--time", &range]);
        assert_eq!(
            sliced["containers"], timed["containers"],
            "--time {percent}"
        );
        assert_eq!(sliced["header"]["time"], timed["header"]["time"]);
    }
    // Both halves of the workload have calls.
    let calls = |r: &Value| -> u64 {
        r["containers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["depth"] == 0)
            .map(|c| c["total"]["syscalls"]["calls"].as_u64().unwrap())
            .sum()
    };
    let first_half = json_report(&["-i", &input, "--time", "50%/1"]);
    let second_half = json_report(&["-i", &input, "--time", "50%/2"]);
    assert!(calls(&first_half) > 0 && calls(&second_half) > 0);
    // A list mixing perf's two forms is refused, as perf refuses it.
    let mixed = perfns(&["report", "-i", &input, "--time", "10%/1,0%-5%"]);
    assert_eq!(mixed.status.code(), Some(1));
    assert!(text(&mixed.stderr).contains("one form in a list"));
}

/// Samples per event in `perf script --time TIME`'s output of `input`:
/// what perf counts in the ranges.
fn perf_samples_in(input: &str, time: &str) -> Vec<(String, u64)> {
    let out = perf_cmd(&["script", "-i", input, "--time", time, "-F", "event"]);
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        *counts
            .entry(line.trim_end_matches(':').to_owned())
            .or_default() += 1;
    }
    counts.into_iter().collect()
}

/// Samples per event in the JSON report's header, events with none left
/// out (as perf script prints none).
fn perfns_samples(report: &Value) -> Vec<(String, u64)> {
    let mut counts: Vec<(String, u64)> = report["header"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = e["samples"].as_u64().unwrap();
            (e["name"].as_str().unwrap().to_owned(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    counts.sort();
    counts
}

/// `perf ARGS` (Debian's perf, run from the workspace root), its stdout.
fn perf_cmd(args: &[&str]) -> String {
    let out = Command::new("perf")
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("running perf");
    assert!(out.status.success(), "perf {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Each container's own CPU time, by name.
fn cpu_by_container(report: &Value) -> std::collections::BTreeMap<String, u64> {
    report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let ns = c["own"]["cpu"]["time_ns"].as_u64().unwrap();
            (c["name"].as_str().unwrap().to_owned(), ns)
        })
        .collect()
}

#[test]
fn time_takes_several_ranges_as_perf_does() {
    // perf reads both files: perf-made containers-tracepoints.data has
    // HEADER_SAMPLE_TIME for its percents; two-containers.data (perfns's)
    // has none, so perf takes only times in seconds there.
    if perfns::testing::prerequisite(perfns::testing::perf()).is_none() {
        return;
    }
    let perf_made = testdata("containers-tracepoints.data");
    let ours = testdata("two-containers.data");
    // The samples per event in each: perf script's counts (printed by
    // `perf script -F event --time ... | sort | uniq -c` when this test
    // was written, and asserted here as figures too).
    let sched = "sched:sched_switch";
    let (alloc, free) = ("kmem:mm_page_alloc", "kmem:mm_page_free");
    let (enter, exit) = ("raw_syscalls:sys_enter", "raw_syscalls:sys_exit");
    type Figures<'a> = &'a [(&'a str, u64)];
    let cases: [(&str, &str, Figures); 5] = [
        (
            &perf_made,
            "10%/1,10%/3",
            &[
                (alloc, 456),
                (free, 224),
                (exit, 706),
                (enter, 703),
                (sched, 127),
            ],
        ),
        (
            &perf_made,
            "0%-10%,30%-40%",
            &[
                (alloc, 456),
                (free, 250),
                (exit, 706),
                (enter, 703),
                (sched, 114),
            ],
        ),
        (
            &perf_made,
            "244.9,245.0 245.2,245.3",
            &[
                (alloc, 690),
                (free, 707),
                (exit, 818),
                (enter, 817),
                (sched, 139),
            ],
        ),
        (
            &perf_made,
            ",244.9 245.5,",
            &[
                (alloc, 528),
                (free, 402),
                (exit, 850),
                (enter, 849),
                (sched, 221),
            ],
        ),
        (
            &ours,
            ",1366.9 1367.5,",
            &[(alloc, 758), (free, 598), (exit, 2234), (enter, 2233)],
        ),
    ];
    for (input, time, figures) in cases {
        let report = json_report(&["-i", input, "--time", time]);
        let mut expected: Vec<(String, u64)> =
            figures.iter().map(|&(e, n)| (e.to_owned(), n)).collect();
        expected.sort();
        assert_eq!(perfns_samples(&report), expected, "{input} --time {time}");
        assert_eq!(
            perf_samples_in(input, time),
            expected,
            "perf script -i {input} --time {time}"
        );
    }

    // CPU time is clipped to the ranges' union: two slices apart add up
    // to each alone, to the ns; two that touch are one.
    let cpu = |time: &str| cpu_by_container(&json_report(&["-i", &perf_made, "--time", time]));
    let (one, three, both) = (cpu("10%/1"), cpu("10%/3"), cpu("10%/1,10%/3"));
    for (name, sum) in &both {
        let alone = |slice: &std::collections::BTreeMap<String, u64>| slice.get(name).copied();
        let (a, b) = (alone(&one).unwrap_or(0), alone(&three).unwrap_or(0));
        assert_eq!(a + b, *sum, "{name}: 10%/1 + 10%/3");
    }
    assert!(both.values().any(|&ns| ns > 0));
    assert_eq!(cpu("10%/1,10%/2"), cpu("20%/1"));
    let (whole, gapped) = (
        json_report(&["-i", &perf_made, "--time", "0%-100%"]),
        json_report(&["-i", &perf_made, "--time", "0%-10%,30%-40%"]),
    );
    // The duration is the ranges' (their CPU percentages are of it), not
    // the span from the first's start to the second's end.
    let ns = |r: &Value, f: &str| r["header"]["time"][f].as_u64().unwrap();
    let tenth = |k: u64| (ns(&whole, "end_ns") - ns(&whole, "start_ns")) * k / 10;
    assert!(ns(&gapped, "duration_ns").abs_diff(tenth(2)) <= 2);
    assert!(ns(&gapped, "end_ns") - ns(&gapped, "start_ns") >= tenth(4) - 2);
    // The header lists them; slices that touch are one range.
    let ranges = gapped["header"]["time"]["ranges"].as_array().unwrap();
    let length = |r: &Value| r[1].as_u64().unwrap() - r[0].as_u64().unwrap();
    assert_eq!(ranges.len(), 2);
    assert_eq!(
        ranges.iter().map(length).sum::<u64>(),
        ns(&gapped, "duration_ns")
    );
    let touching = json_report(&["-i", &perf_made, "--time", "10%/1,10%/2"]);
    assert!(touching["header"]["time"].get("ranges").is_none());

    // Ranges out of order or overlapping, as perf refuses them.
    let refused = perfns(&["report", "-i", &ours, "--time", "1367,1368 1366,1367"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("does not end before range 2"),
        "{}",
        text(&refused.stderr)
    );
}

//! `perfns record --switch-output`, as root on this machine's kernel: the
//! files of a recording that switched while a workload ran add up to what
//! one recording of the same moments holds (system calls and pages
//! exactly, CPU time within 1%), each file reports alone,
//! `--switch-max-files` keeps the newest, and a time starts a file every
//! interval.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde_json::Value;

/// The workload: `ROUNDS` times `PER_ROUND` getppid calls and a pause, so
/// that switches fall while it runs.
const ROUNDS: usize = 10;
const PER_ROUND: u64 = 10_000;
/// The CPU time each round burns.
const BURN_PER_ROUND_MS: usize = 20;

/// A recording's figures, summed over its containers, from `perfns
/// report --format json`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Figures {
    getppid: u64,
    syscalls: u64,
    cpu_ns: u64,
    pages_allocated: u64,
    pages_freed: u64,
}

impl std::ops::Add for Figures {
    type Output = Figures;
    fn add(self, o: Figures) -> Figures {
        Figures {
            getppid: self.getppid + o.getppid,
            syscalls: self.syscalls + o.syscalls,
            cpu_ns: self.cpu_ns + o.cpu_ns,
            pages_allocated: self.pages_allocated + o.pages_allocated,
            pages_freed: self.pages_freed + o.pages_freed,
        }
    }
}

/// `perfns report --format json` of a recording.
fn report_json(path: &Path) -> Value {
    let out = std::process::Command::new(common::perfns_binary())
        .args(["report", "--format", "json", "--top", "100", "-i"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "perfns report -i {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn figures(path: &Path) -> Figures {
    let report = report_json(path);
    let containers = report["containers"].as_array().unwrap();
    let own = |what: &str, figure: &str| -> u64 {
        containers
            .iter()
            .map(|c| c["own"][what][figure].as_u64().unwrap())
            .sum()
    };
    Figures {
        getppid: containers
            .iter()
            .flat_map(|c| c["top_syscalls"].as_array().unwrap())
            .filter(|s| s["name"] == "getppid")
            .map(|s| s["calls"].as_u64().unwrap())
            .sum(),
        syscalls: own("syscalls", "calls"),
        cpu_ns: own("cpu", "time_ns"),
        pages_allocated: own("memory", "pages_allocated"),
        pages_freed: own("memory", "pages_freed"),
    }
}

/// The files `perfns record --switch-output -o OUTPUT` finished:
/// `OUTPUT.<timestamp>`, oldest first.
fn switched_files(output: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.", output.file_name().unwrap().to_str().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[test]
fn switched_files_add_up_to_one_recording() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let cgroup = common::TestCgroup::new(&format!("perfns-switch-{}", std::process::id()));
    let name = cgroup.name().to_owned();
    let switching = dir.path().join("switching/perf.data");
    std::fs::create_dir_all(switching.parent().unwrap()).unwrap();
    let whole = dir.path().join("whole.data");
    // Both record the workload's cgroup alone (the machine's other work
    // would fill the buffers; exact counts need no losses), at the same
    // time: the same events reach both.
    let args = |out: &Path| -> Vec<String> {
        [
            "--cgroup",
            &name,
            "--events",
            "cpu,mem,syscalls",
            "-m",
            "4096",
            "-o",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let whole_args = args(&whole);
    let one = common::spawn_record(&whole_args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut switching_args = args(&switching);
    switching_args.push("--switch-output".into());
    let mut many = common::spawn_record(
        &switching_args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    common::wait_for_recording(&whole);
    common::wait_for_recording(&switching);
    let mut said = common::StderrLines::of(&mut many);

    // Each round: calls, pages (alloc 1: 256 touched), CPU (burn is the
    // process's total so far) and a pause.
    let mut steps = Vec::new();
    for round in 1..=ROUNDS {
        steps.extend(["getppid".to_owned(), PER_ROUND.to_string()]);
        steps.extend(["alloc".to_owned(), "1".to_owned()]);
        steps.extend(["burn".to_owned(), (round * BURN_PER_ROUND_MS).to_string()]);
        steps.extend(["sleep".to_owned(), "100".to_owned()]);
    }
    let worker = std::thread::spawn(move || {
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        cgroup.run(&steps);
        cgroup
    });
    // Switch as often as it can while the workload runs: each SIGUSR2 is
    // answered by a `Dump` line once the new file is open.
    let mut switches = 0;
    while !worker.is_finished() {
        common::signal(&many, Signal::SIGUSR2);
        said.wait_for("Dump");
        switches += 1;
    }
    let _cgroup = worker.join().unwrap();
    common::signal(&many, Signal::SIGINT);
    common::signal(&one, Signal::SIGINT);
    let rest = said.rest();
    assert!(
        common::wait_exit(&mut many).success(),
        "{}{rest}",
        said.seen
    );
    let (status, one_said) = common::wait_with_stderr(one);
    assert!(status.success(), "{one_said}");
    for text in [&said.seen, &one_said] {
        assert!(
            !text.contains("Warning: lost"),
            "exact counts need no losses: {text}"
        );
    }

    let files = switched_files(&switching);
    // The switches, and the last file, finished when recording ended.
    assert_eq!(files.len(), switches + 1, "{files:?}\n{}", said.seen);
    assert!(!switching.exists(), "the last file is renamed too");
    let per_file: Vec<Figures> = files.iter().map(|f| figures(f)).collect();
    let union = per_file.iter().fold(Figures::default(), |a, &b| a + b);
    let one = figures(&whole);
    println!("{switches} switches; per file: {per_file:?}\nunion: {union:?}\nwhole: {one:?}");
    let expected = ROUNDS as u64 * PER_ROUND;
    assert_eq!(union.getppid, expected, "{per_file:?}");
    assert_eq!(one.getppid, expected);
    // Events are in one file each: their counts add up exactly.
    assert_eq!(
        (union.syscalls, union.pages_allocated, union.pages_freed),
        (one.syscalls, one.pages_allocated, one.pages_freed)
    );
    assert!(one.pages_allocated >= ROUNDS as u64 * 256, "{one:?}");
    // CPU time is cut at each switch: the task on the CPU then is charged
    // up to the switch in one file and from the file's start in the next.
    let burned = (ROUNDS * BURN_PER_ROUND_MS) as u64 * 1_000_000;
    assert!(one.cpu_ns >= burned * 98 / 100, "{one:?}");
    let apart = union.cpu_ns.abs_diff(one.cpu_ns);
    assert!(
        apart <= one.cpu_ns / 100,
        "the files' CPU time {} ns and one recording's {} ns differ by more than 1%",
        union.cpu_ns,
        one.cpu_ns
    );
    // A switch fell while the workload ran: its calls are in more than
    // one file, none lost or counted twice between them.
    assert!(
        per_file.iter().filter(|f| f.getppid > 0).count() >= 2,
        "no switch during the workload: {per_file:?}"
    );
}

#[test]
fn switch_max_files_keeps_the_newest() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let out = dir.path().join("perf.data");
    let mut rec = common::spawn_record(&[
        "--events",
        "cpu",
        "--switch-output",
        "--switch-max-files",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    common::wait_for_recording(&out);
    let mut said = common::StderrLines::of(&mut rec);
    let mut dumped = Vec::new();
    for _ in 0..3 {
        common::signal(&rec, Signal::SIGUSR2);
        let line = said.wait_for("Dump");
        dumped.push(PathBuf::from(
            line.trim_start_matches("[ perfns record: Dump ")
                .trim_end_matches(" ]"),
        ));
    }
    common::signal(&rec, Signal::SIGINT);
    let rest = said.rest();
    assert!(common::wait_exit(&mut rec).success(), "{}", said.seen);
    // Four files finished (three switches and the end); the two oldest
    // removed, as said.
    for old in &dumped[..2] {
        assert!(!old.exists(), "{}", old.display());
        assert!(
            said.seen.contains(&format!("Remove {}", old.display())),
            "{rest}"
        );
    }
    let kept = switched_files(&out);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0], dumped[2]);
    // Each reports alone.
    for f in &kept {
        let status = std::process::Command::new(common::perfns_binary())
            .args(["report", "-i"])
            .arg(f)
            .output()
            .unwrap()
            .status;
        assert!(status.success(), "{}", f.display());
    }
}

/// `perfns record --cgroup CG --events syscalls --switch-output=64K EXTRA`
/// into DIR around a workload, in the test's own cgroup CG, of two
/// halves, each 2500 getppid calls (5000 records of some 100 bytes, about
/// 500 KB). Only the cgroup is recorded: the machine's other work (a
/// build beside the tests) would fill the buffers, and the recorder
/// would exit with lost events. The second half waits at a gate until
/// the recorder has switched at least once, so the test does not race a
/// workload that may end before the recorder's first pass. Returns the
/// files, oldest first.
fn switching_at_64k(dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let out = dir.join("perf.data");
    let workload = perfns_record::testing::workload_binary().unwrap();
    let cgroup = common::TestCgroup::new(&format!("perfns-switch64k-{}", std::process::id()));
    let procs = cgroup.dir().join("cgroup.procs");
    let mut args = vec!["--cgroup", cgroup.name(), "--events", "syscalls"];
    args.push("--switch-output=64K");
    args.extend_from_slice(extra);
    args.extend(["-o", out.to_str().unwrap(), "--"]);
    // The shell moves itself into the cgroup, then becomes the workload.
    args.extend(["sh", "-c", r#"echo $$ > "$0" && exec "$@""#]);
    args.extend([procs.to_str().unwrap(), workload.to_str().unwrap()]);
    args.extend(["getppid", "2500", "gate", "getppid", "2500"]);
    let mut rec = std::process::Command::new(common::perfns_binary())
        .arg("record")
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = common::StderrLines::of(&mut rec);
    // The first half's 500 KB are drained within a pass or two, and the
    // file they filled is switched at once.
    said.wait_for("Dump");
    let mut gate = rec.stdin.take().unwrap();
    std::io::Write::write_all(&mut gate, b"go\n").unwrap();
    drop(gate);
    let rest = said.rest();
    assert!(common::wait_exit(&mut rec).success(), "{}", said.seen);
    let files = switched_files(&out);
    assert!(files.len() >= 2, "{files:?}: {rest}");
    files
}

#[test]
fn size_switches_once_a_file_holds_that_much() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let files = switching_at_64k(dir.path(), &[]);
    // Each but the last reached the size before it was finished (the
    // check comes after each drain, so a file may hold a little more).
    for f in &files[..files.len() - 1] {
        let r = perfns::perf_data::PerfFileReader::open(f).unwrap();
        assert!(
            r.data_section().size >= 64 << 10,
            "{}: {:?}",
            f.display(),
            r.data_section()
        );
    }
}

#[test]
fn with_z_every_switched_file_is_compressed() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let files = switching_at_64k(dir.path(), &["-z"]);
    for f in &files {
        let r = perfns::perf_data::PerfFileReader::open(f).unwrap();
        assert!(
            r.features().compressed.is_some(),
            "{} is not compressed",
            f.display()
        );
        let compressed = r
            .records_in_file_order()
            .filter(|rec| {
                rec.as_ref()
                    .is_ok_and(|rec| rec.header.kind == perfns::record::RecordType::COMPRESSED)
            })
            .count();
        assert!(compressed > 0, "{} holds no COMPRESSED record", f.display());
    }
}

#[test]
fn time_switches_a_file_every_interval() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    // 3.5 s at one file a second: switches at 1, 2 and 3 s, and the last
    // file at the end.
    let out = dir.path().join("perf.data");
    let rec = common::perfns_record(&[
        "--events",
        "cpu",
        "--switch-output=1s",
        "--duration",
        "3.5",
        "-o",
        out.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&rec.stderr);
    assert!(rec.status.success(), "{said}");
    let files = switched_files(&out);
    assert_eq!(files.len(), 4, "{files:?}\n{said}");
    // Each holds a second (the last half a second) of the machine's
    // context switches: its records span no more than its interval and a
    // drain's lateness.
    for f in &files {
        let span = report_json(f)["header"]["time"]["duration_ns"]
            .as_u64()
            .unwrap();
        assert!(
            span > 0 && span <= 1_300_000_000,
            "{}: records over {span} ns",
            f.display()
        );
    }
}

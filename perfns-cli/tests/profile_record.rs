//! `perfns record --profile` on the host's kernel, read by Debian's perf:
//! two containers run `profile-burn` (two functions burning CPU time 2:1,
//! called from a third) while perfns records a profile; `perf script`
//! resolves each container's samples, told apart by the pids the
//! recording attributes to each, to the two functions in 2:1, with the
//! caller in their call chains, by frame pointer and by DWARF unwinding of
//! the stack copies. A recording started while profile-burn already runs
//! resolves it too (the mappings synthesized from /proc), and so does each
//! file of a --switch-output recording. And the flags' bad values: clear
//! errors, before any file is made.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use perfns_record::testing::{
    profile_burn_binary, TestContainer, BURN_ROUND_SYMBOL, HOT_ONE_SYMBOL, HOT_TWO_SYMBOL,
};

/// The rate of the recordings: `--profile`'s default.
const HZ: u64 = 99;

/// One sample as `perf script -F comm,pid,ip,sym` prints it: the pid, and
/// the call chain's functions, innermost first (inlined frames left out:
/// perf prints the function they are inlined in at the same address).
#[derive(Debug)]
struct Sample {
    pid: i32,
    frames: Vec<String>,
}

/// Parses `perf script -F comm,pid,ip,sym` with call chains: for each
/// sample a line `COMM PID`, then a line `IP SYMBOL` per frame, then a
/// blank line.
fn parse_script(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines().filter(|l| !l.trim().is_empty());
        let Some(head) = lines.next() else { continue };
        let pid = head
            .split_whitespace()
            .last()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {head:?}"));
        let frames = lines
            .filter_map(|l| l.trim().split_once(' ').map(|(_, sym)| sym.trim()))
            .filter(|sym| !sym.ends_with("(inlined)"))
            .map(str::to_owned)
            .collect();
        out.push(Sample { pid, frames });
    }
    out
}

/// What one container's samples say.
#[derive(Debug, Default)]
struct Profile {
    samples: u64,
    /// Samples whose chain's innermost hot function is perfns_hot_two.
    two: u64,
    /// ... perfns_hot_one.
    one: u64,
    /// Of `two + one`, those whose chain has perfns_burn_round.
    under_round: u64,
}

impl Profile {
    fn two_share(&self) -> f64 {
        self.two as f64 / (self.two + self.one) as f64
    }
}

/// The profile of the tasks `tids` in `samples`.
fn profile_of(samples: &[Sample], tids: &BTreeSet<i32>) -> Profile {
    let mut p = Profile::default();
    for s in samples.iter().filter(|s| tids.contains(&s.pid)) {
        p.samples += 1;
        let hot = s
            .frames
            .iter()
            .find(|f| *f == HOT_TWO_SYMBOL || *f == HOT_ONE_SYMBOL);
        match hot.map(String::as_str) {
            Some(HOT_TWO_SYMBOL) => p.two += 1,
            Some(_) => p.one += 1,
            None => continue,
        }
        if s.frames.iter().any(|f| f == BURN_ROUND_SYMBOL) {
            p.under_round += 1;
        }
    }
    p
}

/// Checks a container's profile: [`check_resolved`], and two thirds of the
/// samples in perfns_hot_two (within 5 percentage points).
fn check(name: &str, p: &Profile, cpu_ns: u64, how: &str) {
    check_resolved(name, p, cpu_ns, how);
    let share = p.two_share();
    assert!(
        (share - 2.0 / 3.0).abs() <= 0.05,
        "{how}, {name}: {HOT_TWO_SYMBOL} has {:.1}% of the two's samples, not 66.7% (±5): {p:?}",
        share * 100.0
    );
}

/// Checks that a container's samples are about its CPU time at [`HZ`]
/// (`cpu_ns` from its context switches), nearly all in the two functions,
/// more in perfns_hot_two, and that their chains go through
/// perfns_burn_round.
fn check_resolved(name: &str, p: &Profile, cpu_ns: u64, how: &str) {
    let expected = cpu_ns as f64 * HZ as f64 / 1e9;
    assert!(
        (p.samples as f64 - expected).abs() <= expected * 0.15 + 3.0,
        "{how}, {name}: {} samples for {cpu_ns} ns of CPU time at {HZ} Hz ({expected:.0} \
         expected): {p:?}",
        p.samples
    );
    // The rest: its start (unshare, the workload, exec) and the clock's
    // system call when the chain lost the function (libc has no frame
    // pointers).
    assert!(
        (p.two + p.one) as f64 >= 0.85 * p.samples as f64,
        "{how}, {name}: {p:?}"
    );
    assert!(p.two > p.one, "{how}, {name}: {p:?}");
    assert!(
        p.under_round as f64 >= 0.95 * (p.two + p.one) as f64,
        "{how}, {name}: chains without {BURN_ROUND_SYMBOL}: {p:?}"
    );
}

/// The samples of tasks `tids` in the recording at `path`, as `perf
/// script` prints them (only theirs: perf resolves the whole machine's
/// otherwise, slowly).
fn samples_of<'a>(path: &Path, tids: impl IntoIterator<Item = &'a i32>) -> Vec<Sample> {
    let tids: Vec<String> = tids.into_iter().map(i32::to_string).collect();
    let tids = tids.join(",");
    parse_script(&common::perf_script(
        path,
        &["-F", "comm,pid,ip,sym", "--tid", &tids],
    ))
}

/// The tids of each container of the recording at `path`, and its CPU
/// time, as the recording's own attribution says.
fn containers_of(path: &Path) -> BTreeMap<String, (BTreeSet<i32>, u64)> {
    common::attribute(path)
        .containers
        .into_iter()
        .map(|(name, u)| (name, (u.tids.into_iter().collect(), u.cpu_ns)))
        .collect()
}

/// The `profile-burn` binary (a C compiler builds it; its absence fails
/// under CI).
fn burner() -> Option<PathBuf> {
    perfns::testing::prerequisite(profile_burn_binary())
}

/// Records `--profile` with `extra` flags while two containers burn 6000
/// and 4000 ms, and checks each container's profile as perf script reads
/// it. (At 99 Hz, 400 samples or more: two thirds of them are within 5
/// percentage points but for one run in a hundred or so, even if samples
/// fell at random, on a machine busy with other work; on an idle one they
/// fall at the regular times of the clock.)
fn two_containers(extra: &[&str], how: &str) {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let Some(exe) = burner() else { return };
    let exe = exe.to_str().expect("a UTF-8 path").to_owned();
    let runs = [("prof-a", "6000"), ("prof-b", "4000")];
    let containers: Vec<TestContainer> = runs
        .iter()
        .map(|(name, ms)| TestContainer::spawn(name, &["gate", "exec", &exe, ms]).unwrap())
        .collect();
    let out = dir.path().join("profile.data");
    let out_arg = out.to_str().unwrap();
    let mut args = vec!["--profile", "-e", "cpu", "-o", out_arg];
    args.extend(extra);
    let perfns = common::spawn_record(&args);
    common::wait_for_recording(&out);
    common::release_and_wait(containers);
    common::signal(&perfns, Signal::SIGINT);
    let (status, stderr) = common::wait_with_stderr(perfns);
    assert!(status.success(), "perfns record: {stderr}");
    assert!(!stderr.contains("Warning: lost"), "{stderr}");

    let containers = containers_of(&out);
    let samples = samples_of(&out, containers.values().flat_map(|(tids, _)| tids));
    for (name, ms) in runs {
        let (tids, cpu_ns) = containers
            .get(name)
            .unwrap_or_else(|| panic!("no container {name} in {:?}", containers.keys()));
        let p = profile_of(&samples, tids);
        eprintln!(
            "{how}, {name} ({ms} ms): {p:?}, {:.1}% in two",
            p.two_share() * 100.0
        );
        check(name, &p, *cpu_ns, how);
    }
}

#[test]
fn each_containers_profile_is_its_hot_functions_2_to_1_by_frame_pointer() {
    two_containers(&[], "fp");
}

#[test]
fn each_containers_profile_is_its_hot_functions_2_to_1_by_dwarf_unwinding() {
    two_containers(&["--call-graph", "dwarf"], "dwarf");
}

/// Waits until a process of cgroup `cgroup` runs `exe`; its pid.
fn wait_for_exec(cgroup: &Path, exe: &Path) -> i32 {
    let start = std::time::Instant::now();
    loop {
        let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
        let running = procs
            .lines()
            .filter_map(|p| p.parse::<i32>().ok())
            .find(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe));
        if let Some(pid) = running {
            return pid;
        }
        assert!(
            start.elapsed() < common::PATIENCE,
            "{} never ran {}",
            cgroup.display(),
            exe.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_profile_started_late_resolves_what_already_runs() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let Some(exe) = burner() else { return };
    let exe = std::fs::canonicalize(exe).unwrap();
    let mut container =
        TestContainer::spawn("prof-late", &["exec", exe.to_str().unwrap(), "9000"]).unwrap();
    let cgroup = perfns_record::testing::perfns_cgroup_root()
        .unwrap()
        .join("prof-late");
    let pid = wait_for_exec(&cgroup, &exe);
    // Exec'ed and mapped before recording starts: only /proc says where.
    let out = dir.path().join("late.data");
    let rec = common::perfns_record(&[
        "--profile",
        "-e",
        "cpu",
        "--duration",
        "4.5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(rec.status.success(), "{}", common::text(&rec.stderr));
    assert!(
        container.try_wait().unwrap().is_none(),
        "profile-burn ran through the whole recording"
    );

    // The mapping of its text, from the statedump (time 0), with the
    // file's build-id.
    check_synthesized_text(&out, &exe, pid);

    let p = profile_of(&samples_of(&out, [&pid]), &BTreeSet::from([pid]));
    eprintln!("late: {p:?}, {:.1}% in two", p.two_share() * 100.0);
    // 4.5 seconds of it, all in the two functions (it ran throughout). Its
    // proportion is the tests above's: a part of a run, on a busy machine,
    // strays further from it (73% in one run here).
    let cpu_ns = containers_of(&out)
        .get("prof-late")
        .map(|(_, ns)| *ns)
        .expect("the container in the recording");
    check_resolved("prof-late", &p, cpu_ns, "late start");
    drop(container);
}

/// Checks that the recording at `path` has, at time 0 (the statedump),
/// the MMAP2 of `exe`'s text for process `pid`, with readelf's build-id.
fn check_synthesized_text(path: &Path, exe: &Path, pid: i32) {
    let mmaps = common::perf_script(path, &["--show-mmap-events", "-F", "comm,pid,time"]);
    let id = common::readelf_build_id(exe);
    let text = mmaps
        .lines()
        .find(|l| {
            l.contains(&format!("PERF_RECORD_MMAP2 {pid}/{pid}:"))
                && l.ends_with(&format!(" {}", exe.display()))
        })
        .unwrap_or_else(|| panic!("no MMAP2 of {} for {pid}:\n{mmaps}", exe.display()));
    assert!(text.contains(&format!("<{id}>")), "{text}");
    assert!(text.contains(" 0.000000: "), "synthesized: {text}");
    assert!(text.contains("r-xp"), "{text}");
}

#[test]
fn a_file_switched_to_has_the_mappings_of_what_runs() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let Some(exe) = burner() else { return };
    let exe = std::fs::canonicalize(exe).unwrap();
    let _container =
        TestContainer::spawn("prof-switch", &["exec", exe.to_str().unwrap(), "8000"]).unwrap();
    let cgroup = perfns_record::testing::perfns_cgroup_root()
        .unwrap()
        .join("prof-switch");
    let pid = wait_for_exec(&cgroup, &exe);
    let out = dir.path().join("switch.data");
    let mut rec = common::spawn_record(&[
        "--profile",
        "-e",
        "cpu",
        "--switch-output",
        "-o",
        out.to_str().unwrap(),
    ]);
    common::wait_for_recording(&out);
    let mut said = common::StderrLines::of(&mut rec);
    common::signal(&rec, Signal::SIGUSR2);
    let first = PathBuf::from(
        said.wait_for("Dump")
            .trim_start_matches("[ perfns record: Dump ")
            .trim_end_matches(" ]"),
    );
    // A second or so into the new file: samples of the burner in it.
    common::wait_for_file(&out, "a profile sample", |r| {
        r.records()
            .flatten()
            .any(|rec| rec.header.kind == perfns::record::RecordType::SAMPLE)
    });
    common::signal(&rec, Signal::SIGINT);
    let rest = said.rest();
    assert!(common::wait_exit(&mut rec).success(), "{rest}");
    let prefix = format!("{}.", out.file_name().unwrap().to_str().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], first);
    // Each file alone names the burner's text and resolves its samples.
    for f in &files {
        check_synthesized_text(f, &exe, pid);
        let p = profile_of(&samples_of(f, [&pid]), &BTreeSet::from([pid]));
        assert!(p.two > 0 && p.one > 0, "{}: {p:?}", f.display());
    }
}

#[test]
fn bad_profile_and_call_graph_values_say_what_is_wrong_before_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.data");
    let out_arg = out.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--profile=fast"],
            "--profile=fast: HZ is a whole number of samples per second, 1 or more",
        ),
        (vec!["--profile=0"], "--profile=0: HZ is a whole number"),
        (
            vec!["--call-graph", "lbr"],
            "--call-graph `lbr`: the call graph modes are fp (frame pointers) and dwarf[,SIZE]",
        ),
        (
            vec!["--call-graph", "dwarf,70000"],
            "--call-graph `dwarf,70000`: a stack copy of 70000 bytes is more than the kernel \
             takes (65528 bytes)",
        ),
        (
            vec!["--profile", "--call-graph", "dwarf,x"],
            "--call-graph `dwarf,x`: the stack size is a number of bytes, 1 to 65528",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["-o", out_arg, "--", "true"]);
        let r = common::perfns_record(&all);
        let stderr = common::text(&r.stderr);
        assert!(!r.status.success(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} made a file");
    }
    // -g is --call-graph fp: not both.
    let r = common::perfns_record(&["-g", "--call-graph", "dwarf", "-o", out_arg]);
    assert!(
        common::text(&r.stderr).contains("cannot be used with"),
        "{}",
        common::text(&r.stderr)
    );
}

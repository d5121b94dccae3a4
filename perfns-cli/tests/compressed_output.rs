//! `perfns record -z`: a compressed recording that Debian's perf reads,
//! with the counts the workload fixes. Needs root, tracefs and Debian's
//! perf (perfns::testing: skipped without them, a failure under CI=true).

mod common;

use std::process::Command;

use common::{number_after, perf_script, perfns_record, text};
use perfns_record::testing::workload_binary;
use perfns_report::{report, Options};

/// The workload's getppid calls.
const CALLS: u32 = 5000;

#[test]
fn perf_reads_a_compressed_recording_with_the_workload_s_calls() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let path = dir.path().join("z.data");
    let workload = workload_binary().expect("the workload");
    let out = perfns_record(&[
        "-z3",
        "-m",
        "1024",
        "--events",
        "syscalls",
        "-o",
        path.to_str().expect("a UTF-8 path"),
        "--",
        workload.to_str().expect("a UTF-8 path"),
        "getppid",
        &CALLS.to_string(),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("[ perfns record: Captured"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    assert!(summary.contains(", compressed (original "), "{summary}");
    assert!(summary.contains(" MB, ratio is "), "{summary}");
    // "... wrote 0.597 MB z.data (59618 samples, ..."
    let samples = number_after(summary, " (").expect("the sample count");

    // perf reads it: its SAMPLE count is the summary's, and the file's
    // records came compressed.
    let stats = Command::new("perf")
        .args(["report", "--stats", "-i"])
        .arg(&path)
        .output()
        .expect("perf report");
    let stats = text(&stats.stdout);
    let count = |name: &str| -> u64 {
        stats
            .lines()
            .find_map(|l| number_after(l.trim(), &format!("{name} events:")))
            .unwrap_or(0)
    };
    assert_eq!(count("SAMPLE"), samples, "{stats}");
    assert!(count("COMPRESSED") > 0, "{stats}");

    // The getppid calls, as perf decodes them (NR 110 on x86_64): the
    // workload's, and any other process's.
    let nr = format!("NR {} ", libc::SYS_getppid);
    let script = perf_script(&path, &["-F", "comm,event,trace"]);
    let entered = |l: &&str| l.contains("sys_enter:") && l.contains(&nr);
    let perf_calls = script.lines().filter(entered).count();
    let workload_calls = script
        .lines()
        .filter(entered)
        .filter(|l| l.contains("perfns-workload"))
        .count();
    // A loaded machine may still lose some: then what perf reads is what
    // perfns reads, and fewer.
    let lost = stderr.contains("Warning: lost ");
    if !lost {
        assert_eq!(workload_calls, CALLS as usize, "{stderr}");
    }

    // And perfns reports the same, over all containers' own tasks.
    let options = Options {
        per_process: true,
        top: usize::MAX,
        ..Options::default()
    };
    let r = report(&path, &options, &mut |_| {}).expect("a report");
    let how = r.header.recording.compression.as_deref().unwrap_or("");
    assert!(how.starts_with("zstd, level 3,"), "{how}");
    let total: u64 = r.header.events.iter().map(|e| e.samples).sum();
    assert_eq!(total, samples);
    assert_eq!(common::getppid_calls_in(&r), perf_calls as u64);
    if !lost {
        assert!(r.header.warnings.is_empty(), "{:?}", r.header.warnings);
    }
}

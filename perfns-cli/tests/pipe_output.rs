//! `perfns record -o -` and `-z -o -`: a pipe-mode stream on stdout
//! (compressed as `perf record -z -o -` compresses it) that Debian's perf
//! and `perfns report -i -` read from their stdin, with the calls the
//! workload makes. Needs root, tracefs and perf (perfns::testing: skipped
//! without them, a failure under CI=true).

mod common;

use std::process::Command;

use common::{output_with_stdin, perf_from_stdin, perfns_binary, perfns_record, text};
use perfns::testing::perf_report_event_counts;
use perfns_record::testing::workload_binary;
use perfns_report::{report, Options};

const CALLS: u32 = 2000;

/// Records the workload with `perfns record -o - FLAGS`; checks that perf
/// and perfns read the stream from their stdin and count the same.
/// Returns perfns's JSON report of it and perfns record's summary line;
/// `None` when the test cannot run here (skipped).
fn perf_and_perfns_read_the_stream(flags: &[&str]) -> Option<(serde_json::Value, String)> {
    let (_serial, dir) = common::perf_recording_test()?;
    let workload = workload_binary().expect("the workload");
    let calls = CALLS.to_string();
    let mut args = vec!["-o", "-", "-m", "1024", "--events", "syscalls"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        "--",
        workload.to_str().expect("a UTF-8 path"),
        "getppid",
        &calls,
    ]);
    let out = perfns_record(&args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stream = out.stdout;
    assert_eq!(&stream[..8], b"PERFILE2", "a perf.data magic on stdout");
    assert_eq!(stream[8..16], 16u64.to_ne_bytes(), "the pipe-mode header");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("[ perfns record: Captured"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let written = format!("{:.3} MB -", stream.len() as f64 / (1024.0 * 1024.0));
    assert!(summary.contains(&written), "{summary} ({written})");

    // perf reads it from its stdin: `perf report` (its samples per event)
    // and `perf script` (each getppid call).
    let perf_counts = perf_report_event_counts(&perf_from_stdin(
        &["report", "--stdio", "--sort", "comm", "-i", "-"],
        &stream,
    ));
    let script = perf_from_stdin(&["script", "-i", "-", "-F", "comm,event,trace"], &stream);
    assert_eq!(
        perf_counts.values().sum::<u64>(),
        script.lines().count() as u64,
        "perf report and perf script count alike"
    );
    let nr = format!("NR {} ", libc::SYS_getppid);
    let entered = |l: &&str| l.contains("sys_enter:") && l.contains(&nr);
    let perf_calls = script.lines().filter(entered).count();
    let workload_calls = script
        .lines()
        .filter(entered)
        .filter(|l| l.contains("perfns-workload"))
        .count();
    let lost = stderr.contains("Warning: lost ");
    if !lost {
        assert_eq!(workload_calls, CALLS as usize, "{stderr}");
    }

    // `perfns report -i -` reads the same from its stdin, every record.
    let mut cmd = Command::new(perfns_binary());
    cmd.args(["report", "-i", "-", "--format", "json"]);
    let out = output_with_stdin(cmd, &stream);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON report");
    let header = &json["header"];
    assert_eq!(header["recording"]["pipe_mode"], true, "{header}");
    assert_eq!(header["recording"]["tool"], "perfns", "{header}");
    let perfns_counts: std::collections::BTreeMap<String, u64> = header["events"]
        .as_array()
        .expect("the events")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().expect("a name").to_owned();
            (name, e["samples"].as_u64().expect("a count"))
        })
        .collect();
    assert_eq!(perfns_counts, perf_counts);
    assert!(perf_counts.values().sum::<u64>() >= 2 * u64::from(CALLS));
    if !lost {
        assert_eq!(header["warnings"], serde_json::json!([]), "{header}");
    }

    // And its getppid calls, over all containers' own tasks, with the
    // container metadata the stream carries.
    let path = dir.path().join("stream.data");
    std::fs::write(&path, &stream).expect("the stream in a file");
    let options = Options {
        top: usize::MAX,
        ..Options::default()
    };
    let r = report(&path, &options, &mut |_| {}).expect("a report");
    assert_eq!(common::getppid_calls_in(&r), perf_calls as u64);
    assert!(!r.containers.is_empty());
    Some((json, summary.to_owned()))
}

#[test]
fn perf_and_perfns_read_the_stream_perfns_writes_to_stdout() {
    let Some((json, summary)) = perf_and_perfns_read_the_stream(&[]) else {
        return;
    };
    assert!(json["header"]["recording"].get("compression").is_none());
    assert!(!summary.contains("compressed"), "{summary}");
}

#[test]
fn perf_and_perfns_read_the_compressed_stream_perfns_writes_to_stdout() {
    let Some((json, summary)) = perf_and_perfns_read_the_stream(&["-z3"]) else {
        return;
    };
    // perf record's words: "compressed (original N MB, ratio is R)".
    assert!(summary.contains(", compressed (original "), "{summary}");
    // HEADER_COMPRESSED, as perf writes it at a stream's start (ratio not
    // known yet), and the compressed records perfns decompressed.
    let how = json["header"]["recording"]["compression"]
        .as_str()
        .unwrap_or_default();
    assert!(how.starts_with("zstd, level 3, ratio 0; "), "{how}");
    assert!(how.ends_with(" compressed records decompressed"), "{how}");
}

/// A container started after the stream began is not in the perfns
/// extension at its start (written before anything is recorded, as perf
/// writes its features); the extension written again at the stream's end
/// names it, and the report takes that one.
#[test]
fn a_container_born_while_streaming_is_named_from_the_stream_s_end() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let cgroup = common::TestCgroup::new(&format!("perfns/pipe-late-{}", std::process::id()));
    let workload = workload_binary().expect("the workload");
    let cgroup_dir = cgroup.dir().to_str().expect("a UTF-8 path");
    // The shell moves itself into the test's cgroup, then the workload
    // makes the container `late` (its own pid namespace and cgroup, under
    // the test's), lives 300 ms in it (the recorder names a container from
    // its cgroup while its first task lives, as for the testdata's), and
    // calls getppid 300 times.
    let script = format!(
        r#"echo $$ > "$0/cgroup.procs" && exec env {}="$0" "$1" container late sleep 300 getppid 300"#,
        perfns_record::testing::CGROUP_DIR_ENV
    );
    let out = perfns_record(&[
        "--cgroup",
        cgroup.name(),
        "--events",
        "syscalls",
        "-o",
        "-",
        "--",
        "sh",
        "-c",
        &script,
        cgroup_dir,
        workload.to_str().expect("a UTF-8 path"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = dir.path().join("stream.data");
    std::fs::write(&path, &out.stdout).expect("the stream in a file");

    let names = |json: &[u8]| -> Vec<String> {
        let meta = perfns::container::RecordingMeta::from_json(json).expect("the extension");
        meta.containers.into_iter().map(|c| c.name).collect()
    };
    let reader = perfns::perf_data::PerfFileReader::open(&path).expect("the stream");
    let at_start = names(reader.features().perfns.as_deref().expect("an extension"));
    assert!(!at_start.contains(&"late".to_owned()), "{at_start:?}");

    let options = Options {
        top: usize::MAX,
        ..Options::default()
    };
    let r = report(&path, &options, &mut |_| {}).expect("a report");
    let late = r
        .containers
        .iter()
        .find(|c| c.name == "late")
        .unwrap_or_else(|| panic!("no container `late` in {:?}", r.containers));
    assert_eq!(late.runtime.as_deref(), Some("perfns"));
    let cgroup_path = format!("{}/late", cgroup.name());
    assert_eq!(late.cgroup.as_deref(), Some(cgroup_path.as_str()));
    let getppid: u64 = late
        .top_syscalls
        .iter()
        .filter(|s| s.nr == libc::SYS_getppid as u64)
        .map(|s| s.figures.calls)
        .sum();
    assert_eq!(getppid, 300);
}

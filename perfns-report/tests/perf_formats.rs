//! perf.data as Debian's perf writes it: plain, compressed (`perf record -z`),
//! pipe mode to a file (`perf record -o - > file`) and pipe mode through a
//! pipe. Each test records with perf, then checks perfns's samples per
//! event and syscalls per process against perf's own reading of the same
//! file (`perf report --stats`, `perf script`).
//!
//! They need root, tracefs and perf (package linux-perf; `PERFNS_TEST_PERF`
//! names another): perfns::testing skips them without, and fails them
//! under CI=true saying what is missing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use perfns::perf_data::{Features, PerfFileReader, PerfFileWriter};
use perfns::record::{RawData, RecordType};
use perfns_report::analysis::analyze;
use perfns_report::model::{ContainerReport, ProcessReport, Report};
use perfns_report::{report, Options};

/// Debian's perf; `PERFNS_TEST_PERF` names another (perf 6.12 built from
/// the kernel tree, testdata/README.md).
fn perf_path() -> String {
    std::env::var("PERFNS_TEST_PERF").unwrap_or_else(|_| "/usr/bin/perf".into())
}

/// What these tests need: root and tracefs (perfns::testing), and perf.
fn perf_can_record() -> Result<(), String> {
    perfns::testing::tracefs()?;
    let perf = perf_path();
    if !Path::new(&perf).exists() {
        return Err(format!(
            "needs {perf} (apt-get install linux-perf, or $PERFNS_TEST_PERF)"
        ));
    }
    Ok(())
}

/// Returns from the test when perf cannot record here (a failure under
/// CI=true).
macro_rules! require_perf {
    () => {
        if perfns::testing::prerequisite(perf_can_record()).is_none() {
            return;
        }
    };
}

/// The events recorded, as `perf record` arguments.
const EVENTS: &[&str] = &[
    "-a",
    "--namespaces",
    "--all-cgroups",
    "-e",
    "sched:sched_switch",
    "-e",
    "raw_syscalls:sys_enter",
];

/// The workload: a few processes that make syscalls.
const WORKLOAD: &[&str] = &[
    "sh",
    "-c",
    "for i in 1 2 3 4 5 6 7 8; do ls / > /dev/null; cat /proc/self/stat > /dev/null; done",
];

/// Runs `perf ARGS`, its stdout to `stdout` when given; panics with
/// perf's stderr when it fails.
fn perf(args: &[&str], stdout: Option<&Path>) -> String {
    let mut cmd = Command::new(perf_path());
    cmd.args(args);
    if let Some(path) = stdout {
        cmd.stdout(std::fs::File::create(path).expect("the output file"));
    }
    let out = cmd.output().expect("running perf");
    assert!(
        out.status.success(),
        "perf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `perf record` with [`EVENTS`], `extra` and [`WORKLOAD`].
fn record(extra: &[&str], stdout: Option<&Path>) {
    let mut args = vec!["record", "-q"];
    args.extend_from_slice(EVENTS);
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(WORKLOAD);
    perf(&args, stdout);
}

/// Samples per event as `perf report --stats` counts them.
fn perf_stats(file: &Path) -> BTreeMap<String, u64> {
    let text = perf(&["report", "--stats", "-i", path_str(file)], None);
    let mut out = BTreeMap::new();
    let mut event = None;
    for line in text.lines() {
        // "Aggregated stats:" first (all events, with percentages), then
        // "EVENT stats:" with each event's counts.
        if let Some(name) = line.strip_suffix(" stats:") {
            event = Some(name.trim().to_owned()).filter(|n| n != "Aggregated");
        } else if let (Some(e), Some(n)) = (&event, line.trim().strip_prefix("SAMPLE events:")) {
            out.insert(e.clone(), n.trim().parse().expect(line));
        }
    }
    out
}

/// Samples per event as `perf report` counts them in `file`, which may be
/// a pipe-mode stream (given on perf's stdin, as `perf record -o - | perf
/// report -i -` gives it): perf's `report --stats` stops at a stream's
/// tracing data.
fn perf_report_from_stdin(file: &Path) -> BTreeMap<String, u64> {
    let out = Command::new(perf_path())
        .args(["report", "--stdio", "--sort", "comm", "-i", "-"])
        .stdin(std::fs::File::open(file).expect("the recording"))
        .output()
        .expect("running perf");
    assert!(
        out.status.success(),
        "perf report -i - < {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    perfns::testing::perf_report_event_counts(&String::from_utf8_lossy(&out.stdout))
}

/// From `perf script`: samples per event, and sys_enter samples per
/// process (with a syscall number of 0 or more, as perfns counts calls).
fn perf_script(file: &Path) -> (BTreeMap<String, u64>, BTreeMap<i32, u64>) {
    let text = perf(
        &["script", "-i", path_str(file), "-F", "pid,event,trace"],
        None,
    );
    let mut events = BTreeMap::new();
    let mut syscalls = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(pid), Some(event)) = (f.next(), f.next()) else {
            continue;
        };
        let event = event.trim_end_matches(':').to_owned();
        if event == "raw_syscalls:sys_enter" {
            let nr: i64 = f.nth(1).and_then(|n| n.parse().ok()).expect(line);
            if nr >= 0 {
                *syscalls.entry(pid.parse().expect(line)).or_default() += 1;
            }
        }
        *events.entry(event).or_default() += 1;
    }
    (events, syscalls)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn options() -> Options {
    Options {
        per_process: true,
        top: usize::MAX,
        ..Options::default()
    }
}

fn samples(r: &Report) -> BTreeMap<String, u64> {
    r.header
        .events
        .iter()
        .map(|e| (e.name.clone(), e.samples))
        .collect()
}

fn syscalls(r: &Report) -> BTreeMap<i32, u64> {
    r.processes
        .as_ref()
        .expect("--per-process")
        .iter()
        .filter(|p| p.process.figures.syscalls.calls > 0)
        .map(|p| (p.process.pid, p.process.figures.syscalls.calls))
        .collect()
}

/// The report reads everything: no record it skipped or could not read.
fn read_all(r: &Report) {
    for w in &r.header.warnings {
        assert!(
            !w.contains("incomplete") && !w.contains("could not be read"),
            "{w}"
        );
    }
}

/// The recording at `file` as a plain perf.data file: its records as
/// perfns reads them (decompressed, from the stream), written by perfns's
/// writer uncompressed. (perf 6.1 cannot make this twin: `perf inject`
/// keeps the compression, and stops at a pipe-mode stream's tracing data.)
fn plain_copy(file: &Path) -> PathBuf {
    let reader = PerfFileReader::open(file).expect("the recording");
    let copy = file.with_extension("plain");
    let mut w = PerfFileWriter::create(&copy, reader.events().events()).expect("the copy");
    let mut records = reader.stream();
    while let Some(r) = records.next_record() {
        let r = r.expect("a record");
        if r.header.kind == RecordType::FINISHED_ROUND {
            w.write_finished_round().expect("a round marker");
        } else {
            w.write_record(r.header, RawData::Single(r.body))
                .expect("the record");
        }
    }
    let features = Features {
        compressed: None,
        ..reader.features().clone()
    };
    w.finish(&features).expect("the copy");
    copy
}

/// A report's figures: its containers and processes (the header says how
/// the file was stored).
fn figures(r: &Report) -> (&[ContainerReport], Option<&[ProcessReport]>) {
    (&r.containers, r.processes.as_deref())
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// perfns's report of the perf.data file `file`, checked against perf's
/// reading of it: every record read, the samples per event of `perf
/// report --stats` and `perf script`, and the system calls per process.
fn report_counting_as_perf(file: &Path) -> Report {
    let r = report(file, &options(), &mut |_| {}).expect("a report");
    read_all(&r);
    let stats = perf_stats(file);
    assert_eq!(samples(&r), stats);
    assert!(stats.values().sum::<u64>() > 100, "{stats:?}");
    let (events, per_pid) = perf_script(file);
    assert_eq!(events, stats, "perf script and perf report agree");
    assert_eq!(syscalls(&r), per_pid);
    r
}

#[test]
fn plain_recording_counts_what_perf_counts() {
    require_perf!();
    let (_dir, dir) = tempdir();
    let file = dir.join("plain.data");
    record(&["-o", path_str(&file)], None);
    let r = report_counting_as_perf(&file);
    assert_eq!(r.header.recording.compression, None);
    assert!(!r.header.recording.pipe_mode);
}

/// perf's own clock (`-k`): the HEADER_CLOCKID and HEADER_CLOCK_DATA
/// sections, which perfns skips, and attrs with use_clockid.
#[test]
fn recording_with_a_clockid_counts_what_perf_counts() {
    require_perf!();
    let (_dir, dir) = tempdir();
    let file = dir.join("clock.data");
    record(&["-k", "mono", "-o", path_str(&file)], None);
    let header = perf(&["report", "--header-only", "-i", path_str(&file)], None);
    assert!(header.contains("# clockid frequency: "), "{header}");
    assert!(header.contains("# clockid: monotonic (1)"), "{header}");
    report_counting_as_perf(&file);
}

#[test]
fn compressed_recording_counts_what_perf_counts() {
    require_perf!();
    let (_dir, dir) = tempdir();
    let file = dir.join("z.data");
    record(&["-z", "-o", path_str(&file)], None);
    let r = report_counting_as_perf(&file);
    // The report says so.
    let how = r.header.recording.compression.as_deref().unwrap_or("");
    assert!(how.starts_with("zstd, level 1,"), "{how}");
    assert!(how.contains("compressed records decompressed"), "{how}");

    // Per container and process, the figures of the same records stored
    // uncompressed.
    let plain = plain_copy(&file);
    let p = report(&plain, &options(), &mut |_| {}).expect("a report");
    assert_eq!(p.header.recording.compression, None);
    assert_eq!(samples(&p), samples(&r));
    assert_eq!(figures(&p), figures(&r));
}

#[test]
fn compressed_recording_at_level_9_counts_what_perf_counts() {
    require_perf!();
    let (_dir, dir) = tempdir();
    let file = dir.join("z9.data");
    // A small ring: more, smaller compressed records.
    record(&["-z9", "-m", "8", "-o", path_str(&file)], None);
    let r = report(&file, &options(), &mut |_| {}).expect("a report");
    read_all(&r);
    assert_eq!(samples(&r), perf_stats(&file));
    let how = r.header.recording.compression.as_deref().unwrap_or("");
    assert!(how.starts_with("zstd, level 9,"), "{how}");
}

#[test]
fn pipe_mode_file_counts_what_perf_counts() {
    require_perf!();
    let (_dir, dir) = tempdir();
    let file = dir.join("pipe.data");
    record(&["-o", "-"], Some(&file));

    let r = report(&file, &options(), &mut |_| {}).expect("a report");
    read_all(&r);
    assert!(r.header.recording.pipe_mode);
    // perf 6.1's `report --stats` fails on pipe-mode input ("failed to
    // process type" at its tracing data); `perf script` reads it.
    let (events, per_pid) = perf_script(&file);
    assert_eq!(samples(&r), events);
    assert!(events.values().sum::<u64>() > 100, "{events:?}");
    assert_eq!(syscalls(&r), per_pid);
    // `perf report -i -` counts the same.
    assert_eq!(perf_report_from_stdin(&file), events);
    // Named from the stream's own records, as perf names them.
    assert!(events.contains_key("sched:sched_switch"), "{events:?}");

    // Per container and process, the figures of the same records in a
    // perf.data file.
    let plain = plain_copy(&file);
    let p = report(&plain, &options(), &mut |_| {}).expect("a report");
    assert!(!p.header.recording.pipe_mode);
    assert_eq!(figures(&p), figures(&r));
}

/// Reads a child's stdout and keeps a copy of every byte in a file.
struct Tee<R> {
    from: R,
    copy: std::fs::File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.from.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[test]
fn pipe_mode_through_a_pipe_counts_what_perf_counts() {
    require_perf!();
    let (_dir, dir) = tempdir();
    let copy = dir.join("copy.data");
    let mut args = vec!["record", "-q", "-o", "-"];
    args.extend_from_slice(EVENTS);
    args.push("--");
    args.extend_from_slice(WORKLOAD);
    let mut child = Command::new(perf_path())
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("perf record");
    let stdout = child.stdout.take().expect("perf's stdout");
    let tee = Tee {
        from: stdout,
        copy: std::fs::File::create(&copy).expect("the copy"),
    };
    // What `perfns report -i -` does with its stdin.
    let reader = PerfFileReader::open_stream("-", Box::new(tee)).expect("the stream's header");
    let r = analyze(&reader, &options(), &mut |_| {}).expect("a report");
    drop(reader);
    assert!(child.wait().expect("perf record").success());

    read_all(&r);
    assert!(r.header.recording.pipe_mode);
    let (events, per_pid) = perf_script(&copy);
    assert_eq!(samples(&r), events);
    assert!(events.values().sum::<u64>() > 100, "{events:?}");
    assert_eq!(syscalls(&r), per_pid);
    assert_eq!(perf_report_from_stdin(&copy), events);

    // Per container and process, the figures of the same records in a
    // perf.data file.
    let plain = plain_copy(&copy);
    let p = report(&plain, &options(), &mut |_| {}).expect("a report");
    assert!(!p.header.recording.pipe_mode);
    assert_eq!(samples(&p), samples(&r));
    assert_eq!(figures(&p), figures(&r));
}

/// The testdata recordings made by Debian's perf 6.1 and by perf 6.12 in
/// these formats (testdata/README.md): perfns counts what perf counted
/// when they were made (`perf report --stats` for the files, `perf script`
/// for the pipe-mode ones, whose `report --stats` perf cannot do), and
/// the workload's 2000 getppid calls.
#[test]
fn testdata_in_perf_s_formats_count_what_perf_counted() {
    let testdata = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"));
    for (file, counts, compressed, pipe) in [
        (
            "perf-z.data",
            &[
                ("sched:sched_switch", 265),
                ("raw_syscalls:sys_enter", 3790),
            ][..],
            true,
            false,
        ),
        (
            "perf-pipe.data",
            &[("sched:sched_switch", 42), ("raw_syscalls:sys_enter", 2360)][..],
            false,
            true,
        ),
        (
            "perf-pipe-z.data",
            &[("sched:sched_switch", 365)][..],
            true,
            true,
        ),
        (
            "perf612.data",
            &[("sched:sched_switch", 94), ("raw_syscalls:sys_enter", 2353)][..],
            false,
            false,
        ),
        (
            "perf612-z.data",
            &[("sched:sched_switch", 27), ("raw_syscalls:sys_enter", 2083)][..],
            true,
            false,
        ),
        (
            "perf612-pipe.data",
            &[("sched:sched_switch", 32), ("raw_syscalls:sys_enter", 2237)][..],
            false,
            true,
        ),
    ] {
        let r = report(&testdata.join(file), &options(), &mut |_| {}).expect(file);
        read_all(&r);
        let want: BTreeMap<String, u64> = counts.iter().map(|&(e, n)| (e.to_owned(), n)).collect();
        assert_eq!(samples(&r), want, "{file}");
        assert_eq!(
            r.header.recording.compression.is_some(),
            compressed,
            "{file}"
        );
        assert_eq!(r.header.recording.pipe_mode, pipe, "{file}");
        // The workload's 2000 getppid calls, where it ran.
        let getppid: u64 = r
            .containers
            .iter()
            .flat_map(|c| &c.top_syscalls)
            .filter(|s| s.name == "getppid")
            .map(|s| s.figures.calls)
            .sum();
        if file != "perf-pipe-z.data" {
            assert_eq!(getppid, 2000, "{file}");
        }
        // Compressed or in pipe mode, per container and process the
        // figures of the same records in a plain perf.data file.
        if compressed || pipe {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let copy = dir.path().join(file);
            std::fs::copy(testdata.join(file), &copy).expect("the copy");
            let p = report(&plain_copy(&copy), &options(), &mut |_| {}).expect(file);
            assert_eq!(p.header.recording.compression, None, "{file}");
            assert!(!p.header.recording.pipe_mode, "{file}");
            assert_eq!(samples(&p), want, "{file}");
            assert_eq!(figures(&p), figures(&r), "{file}");
        }
    }
}

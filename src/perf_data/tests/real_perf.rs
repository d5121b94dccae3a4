//! Round trips with the real perf (Debian's /usr/bin/perf, 6.1): perfns
//! reads what `perf record` writes, perf reads what perfns writes. They
//! need root and perf; without them they print a skip line.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::{
    dummy_event, extension, sample, statedump_namespaces_record, tracepoint_event,
    tracer_namespaces_record, Build,
};
use crate::perf_data::{Features, PerfFileReader, PerfFileWriter, PerfPipeWriter, TracingData};
use crate::record::{RawData, Record, RecordType, MISC_SWITCH_OUT};
use crate::tracepoint::Tracefs;

/// Debian's perf; `PERFNS_TEST_PERF` names another (a perf built from a
/// newer tree, to check that it reads perfns's files too).
fn perf_path() -> String {
    std::env::var("PERFNS_TEST_PERF").unwrap_or_else(|_| "/usr/bin/perf".into())
}
const TRACEFS: &str = "/sys/kernel/tracing";

/// What the real perf needs here: root, Debian's perf, tracefs.
fn perf_can_record() -> Result<(), String> {
    crate::testing::tracefs()?;
    if !Path::new(&perf_path()).exists() {
        return Err(
            "needs perf (/usr/bin/perf or $PERFNS_TEST_PERF; apt-get install linux-perf)".into(),
        );
    }
    if !Path::new(TRACEFS)
        .join("events/sched/sched_switch/id")
        .exists()
    {
        return Err(format!("needs tracefs at {TRACEFS}"));
    }
    Ok(())
}

macro_rules! require_perf {
    () => {
        if crate::testing::prerequisite(perf_can_record()).is_none() {
            return;
        }
    };
}

fn perf(args: &[&str]) -> (String, String) {
    let out = Command::new(perf_path()).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "perf {args:?} failed: {stderr}");
    (stdout, stderr)
}

/// The "Aggregated stats" block of `perf report --stats`: record type name
/// to count, TOTAL left out.
fn perf_stats(file: &Path) -> BTreeMap<String, u64> {
    let (out, _) = perf(&["report", "--stats", "-i", file.to_str().unwrap()]);
    let mut counts = BTreeMap::new();
    let mut lines = out
        .lines()
        .skip_while(|l| !l.starts_with("Aggregated stats"));
    lines.next();
    for line in lines {
        let Some((name, rest)) = line.trim().split_once(" events:") else {
            break;
        };
        let n: u64 = rest.split_whitespace().next().unwrap().parse().unwrap();
        if name != "TOTAL" {
            counts.insert(name.to_string(), n);
        }
    }
    assert!(!counts.is_empty(), "no stats in: {out}");
    counts
}

/// Counts perfns reads, decompressed, by perf's name for each record type.
fn perfns_counts(r: &PerfFileReader) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let mut records = r.stream();
    while let Some(rec) = records.next_record() {
        let rec = rec.unwrap();
        rec.parse().unwrap();
        let name = rec
            .header
            .kind
            .name()
            .map_or_else(|| format!("{:?}", rec.header.kind), String::from);
        *counts.entry(name).or_default() += 1;
    }
    counts
}

fn sched_switch_tracing_data() -> TracingData {
    let tracefs = Tracefs::at(TRACEFS);
    let format = tracefs.format("sched", "sched_switch").unwrap();
    TracingData::from_tracefs(&tracefs, &[format]).unwrap()
}

fn tracefs_id(system: &str, name: &str) -> u64 {
    let p = Path::new(TRACEFS)
        .join("events")
        .join(system)
        .join(name)
        .join("id");
    std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
}

#[test]
fn perfns_reads_what_perf_record_writes() {
    require_perf!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("perf.data");
    let f = file.to_str().unwrap();
    perf(&[
        "record",
        "-a",
        "--namespaces",
        "--all-cgroups",
        "-e",
        "sched:sched_switch",
        "-o",
        f,
        "--",
        "sleep",
        "0.3",
    ]);
    let r = PerfFileReader::open(&file).unwrap();
    assert_eq!(perfns_counts(&r), perf_stats(&file));

    let switch_id = tracefs_id("sched", "sched_switch");
    let e = &r.events().events()[0];
    assert_eq!(e.name, "sched:sched_switch");
    assert_eq!(e.attr.config, switch_id);
    let uts = nix::sys::utsname::uname().unwrap();
    let features = r.features();
    assert_eq!(features.hostname.as_deref(), uts.nodename().to_str());
    assert_eq!(features.os_release.as_deref(), uts.release().to_str());
    let td = features.tracing_data.as_ref().unwrap();
    let format = td.format_by_id(switch_id).unwrap();
    assert_eq!(
        (format.system.as_str(), format.name()),
        ("sched", Some("sched_switch"))
    );
    assert_eq!(features.cmdline.as_ref().unwrap()[1], "record");
    // Time order: timed records never go backwards.
    let times: Vec<u64> = r
        .records()
        .filter_map(|x| x.unwrap().time())
        .filter(|&t| t != 0)
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "records out of time order"
    );
}

/// Field offsets of a tracefs format text: name to (offset, size).
fn field_offsets(text: &str) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("field:"))
    {
        let parts: Vec<&str> = line.split(';').map(str::trim).collect();
        let decl = parts[0].trim_start_matches("field:");
        let name = decl.rsplit(' ').next().unwrap();
        let name = name.split('[').next().unwrap().to_string();
        let num = |key: &str| -> usize {
            parts
                .iter()
                .find_map(|p| p.strip_prefix(key))
                .unwrap()
                .parse()
                .unwrap()
        };
        out.insert(name, (num("offset:"), num("size:")));
    }
    out
}

/// A sched_switch payload laid out by the running kernel's format.
fn sched_switch_payload(text: &str, id: u64, prev: (&str, i32), next: (&str, i32)) -> Vec<u8> {
    let fields = field_offsets(text);
    let len = fields.values().map(|&(o, s)| o + s).max().unwrap();
    let mut p = vec![0u8; len];
    let mut put = |name: &str, bytes: &[u8]| {
        let (o, s) = fields[name];
        p[o..o + bytes.len().min(s)].copy_from_slice(&bytes[..bytes.len().min(s)]);
    };
    put("common_type", &(id as u16).to_ne_bytes());
    put("common_pid", &prev.1.to_ne_bytes());
    put("prev_comm", prev.0.as_bytes());
    put("prev_pid", &prev.1.to_ne_bytes());
    put("prev_prio", &120i32.to_ne_bytes());
    put("prev_state", &1i64.to_ne_bytes());
    put("next_comm", next.0.as_bytes());
    put("next_pid", &next.1.to_ne_bytes());
    put("next_prio", &120i32.to_ne_bytes());
    p
}

#[test]
fn perf_reads_what_perfns_writes() {
    require_perf!();
    perf_reads_what_perfns_writes_compressed_or_not(None);
}

#[test]
fn perf_reads_what_perfns_writes_compressed() {
    require_perf!();
    perf_reads_what_perfns_writes_compressed_or_not(Some(3));
}

#[test]
fn perf_reads_what_perfns_writes_in_pipe_mode() {
    require_perf!();
    perf_reads_what_perfns_writes_in_pipe_mode_compressed_or_not(None);
}

#[test]
fn perf_reads_what_perfns_writes_in_pipe_mode_compressed() {
    require_perf!();
    perf_reads_what_perfns_writes_in_pipe_mode_compressed_or_not(Some(3));
}

/// The recording of [`perf_reads_what_perfns_writes_compressed_or_not`]
/// written again in pipe mode (compressed at `level`, if given): perf
/// reads it from stdin as it reads the file, its features included, and
/// so does perfns.
fn perf_reads_what_perfns_writes_in_pipe_mode_compressed_or_not(level: Option<u32>) {
    let (_dir, file) = perf_reads_what_perfns_writes_compressed_or_not(None);
    // The same recording in pipe mode: its records, as read, written again.
    let r = PerfFileReader::open(&file).unwrap();
    let pipe = file.with_extension("pipe");
    let out = std::fs::File::create(&pipe).unwrap();
    let mut w = PerfPipeWriter::create("-", out, r.events().events(), r.features(), level).unwrap();
    let mut records = r.stream();
    while let Some(rec) = records.next_record() {
        let rec = rec.unwrap();
        if rec.header.kind == RecordType::FINISHED_ROUND {
            w.write_finished_round().unwrap();
        } else {
            w.write_record(rec.header, RawData::Single(rec.body))
                .unwrap();
        }
    }
    w.finish(r.features()).unwrap();

    // perf reads it from stdin, as `perfns record -o - | perf script -i -`
    // would give it, and prints what it prints for the file.
    let perf = |args: &[&str], stdin: Option<&Path>| {
        let mut cmd = Command::new(perf_path());
        cmd.args(args);
        if let Some(p) = stdin {
            cmd.stdin(std::fs::File::open(p).unwrap());
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "perf {args:?}: {err}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), err)
    };
    let (want, _) = perf(&["script", "-i", file.to_str().unwrap()], None);
    let (got, err) = perf(&["script", "-i", "-"], Some(&pipe));
    assert_eq!(got, want, "{err}");
    assert_eq!(want.lines().count(), 6);
    // `perf report -i -` too (a feature section perf does not know, sent
    // as a HEADER_FEATURE, would stop it: "wrong feature ID"), with the
    // file's counts. (perf 6.1's `report --stats` stops at the tracing
    // data of any pipe-mode stream, perf's own included: it does not skip
    // the data after the record.)
    let report = ["report", "--stdio", "--sort", "comm", "-i"];
    let (want, _) = perf(&[&report[..], &[file.to_str().unwrap()]].concat(), None);
    let (got, err) = perf(&[&report[..], &["-"]].concat(), Some(&pipe));
    let counts = crate::testing::perf_report_event_counts;
    assert_eq!(counts(&got), counts(&want), "{got}\n{err}");
    // The 6 sched_switch samples (period 1: the event count is exact).
    assert_eq!(counts(&want).get("sched:sched_switch"), Some(&6), "{want}");
    // The features, as `perf report --header-only -i -` prints them from
    // the stream's HEADER_FEATURE records.
    let (header, err) = perf(&["report", "--header-only", "-i", "-"], Some(&pipe));
    let f = r.features();
    let cpus = f.nr_cpus.unwrap();
    for line in [
        format!("# hostname : {}", f.hostname.as_deref().unwrap()),
        format!("# os release : {}", f.os_release.as_deref().unwrap()),
        format!("# perf version : perfns {}", env!("CARGO_PKG_VERSION")),
        format!("# arch : {}", f.arch.as_deref().unwrap()),
        format!("# nrcpus online : {}", cpus.online),
        format!("# nrcpus avail : {}", cpus.available),
    ] {
        assert!(
            header.lines().any(|l| l == line),
            "no {line:?} in {header}{err}"
        );
    }
    // The command line, the test binary's.
    assert!(header.contains("# cmdline : "), "{header}");
    let compressed = header.lines().find(|l| l.starts_with("# compressed : "));
    match level {
        // As perf writes it at a stream's start: no ratio yet.
        Some(_) => assert_eq!(
            compressed,
            Some("# compressed : Zstd, level = 3, ratio = 0")
        ),
        None => assert_eq!(compressed, None, "{header}"),
    }

    // And perfns reads it back, the same records.
    let back = PerfFileReader::open(&pipe).unwrap();
    assert!(back.is_pipe_mode());
    let mut counts = perfns_counts(&back);
    // The names' records, one per event, come out as records too, and
    // FINISHED_INIT is not written when the writer is not asked.
    assert_eq!(counts.remove("EVENT_UPDATE"), Some(2));
    assert_eq!(counts, perfns_counts(&r));
    let names: Vec<_> = back
        .events()
        .events()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, ["sched:sched_switch", "dummy:u"]);
    assert_eq!(back.features().hostname, r.features().hostname);
    assert_eq!(back.features().perfns, r.features().perfns);
    assert_eq!(
        back.features().compressed.map(|c| (c.level, c.ratio)),
        level.map(|l| (l, 0))
    );
}

/// A small recording written by perfns (compressed at `level`, if given),
/// read by perf, then by perfns. Returns the file (and its directory).
fn perf_reads_what_perfns_writes_compressed_or_not(
    level: Option<u32>,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("perfns.data");
    let switch_id = tracefs_id("sched", "sched_switch");
    let tracing = sched_switch_tracing_data();
    let format = tracing.formats[0].text.clone();
    // Ids as the kernel would give them, one per CPU.
    let events = [
        tracepoint_event(switch_id, "sched:sched_switch", vec![1000, 1001]),
        dummy_event(vec![2000, 2001]),
    ];
    let mut w = PerfFileWriter::create(&file, &events).unwrap();
    if let Some(level) = level {
        w.compress(level).unwrap();
    }
    let t0 = 1_000_000_000u64;
    let (parent, child) = (4242u32, 4243u32);
    // The child's life: fork, comm, namespaces, then it runs on both CPUs.
    Build::new(RecordType::FORK)
        .u32s(child, parent)
        .u32s(child, parent)
        .u64(t0)
        .trailer(parent, parent, t0, 0, 2000)
        .write(&mut w);
    Build::new(RecordType::COMM)
        .u32s(child, child)
        .string("worker")
        .trailer(child, child, t0 + 10, 0, 2000)
        .write(&mut w);
    let mut ns = Build::new(RecordType::NAMESPACES).u32s(child, child).u64(7);
    for i in 0..7 {
        ns = ns.u64(4).u64(4_026_531_835 + i);
    }
    ns.trailer(child, child, t0 + 20, 0, 2000).write(&mut w);
    w.write_finished_round().unwrap();
    let nr_samples = 6;
    for i in 0..nr_samples {
        let cpu = (i % 2) as u32;
        let t = t0 + 1000 * (i + 1);
        let payload = sched_switch_payload(
            &format,
            switch_id,
            ("worker", child as i32),
            ("swapper/0", 0),
        );
        sample(1000 + u64::from(cpu), child, t, cpu, &payload).write(&mut w);
        let mut sw = Build::new(RecordType::SWITCH_CPU_WIDE).u32s(0, 0).trailer(
            child,
            child,
            t + 1,
            cpu,
            2000 + u64::from(cpu),
        );
        sw.misc = MISC_SWITCH_OUT;
        sw.write(&mut w);
        if i % 2 == 1 {
            w.write_finished_round().unwrap();
        }
    }
    Build::new(RecordType::EXIT)
        .u32s(child, parent)
        .u32s(child, parent)
        .u64(t0 + 10_000)
        .trailer(child, child, t0 + 10_000, 1, 2001)
        .write(&mut w);
    w.write_finished_round().unwrap();
    let features = Features {
        tracing_data: Some(tracing),
        perfns: Some(br#"{"containers":[]}"#.to_vec()),
        ..Features::for_this_host()
    };
    w.finish(&features).unwrap();

    // perf script: one line per sample, named from our COMM record, decoded
    // with our tracing data.
    let (out, err) = perf(&["script", "-i", file.to_str().unwrap()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), nr_samples as usize, "{out}\n{err}");
    for l in &lines {
        assert!(
            l.contains("worker") && l.contains("sched:sched_switch"),
            "{l}"
        );
        assert!(
            l.contains("prev_comm=worker prev_pid=4243") && l.contains("next_comm=swapper/0"),
            "{l}"
        );
    }
    assert!(!err.to_lowercase().contains("error"), "{err}");

    let expected: BTreeMap<String, u64> = [
        ("SAMPLE", nr_samples),
        ("SWITCH_CPU_WIDE", nr_samples),
        ("FORK", 1),
        ("COMM", 1),
        ("NAMESPACES", 1),
        ("EXIT", 1),
        ("FINISHED_ROUND", 1 + nr_samples / 2 + 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut stats = perf_stats(&file);
    let compressed = stats.remove("COMPRESSED");
    assert_eq!(stats, expected);
    let r = PerfFileReader::open(&file).unwrap();
    if level.is_some() {
        // One compressed record per round: each round is one batch.
        let stored = r
            .records_in_file_order()
            .filter(|x| x.as_ref().unwrap().header.kind == RecordType::COMPRESSED)
            .count() as u64;
        assert_eq!(compressed, Some(stored));
        assert_eq!(stored, expected["FINISHED_ROUND"]);
        let (hdr, _) = perf(&["report", "--header-only", "-i", file.to_str().unwrap()]);
        assert!(
            hdr.contains("# compressed : Zstd, level = 3, ratio = "),
            "{hdr}"
        );
    } else {
        assert_eq!(compressed, None);
    }

    // perf shows the header features and skips the perfns bit.
    let (hdr, _) = perf(&["report", "--header-only", "-i", file.to_str().unwrap()]);
    let host = features.hostname.as_deref().unwrap();
    assert!(hdr.contains(&format!("# hostname : {host}")), "{hdr}");
    assert!(hdr.contains("# perf version : perfns"), "{hdr}");
    assert!(hdr.contains("# event : name = sched:sched_switch"), "{hdr}");

    // And perfns reads it back the same.
    assert_eq!(r.features().perfns, features.perfns);
    assert_eq!(perfns_counts(&r), expected);
    let mut comms = Vec::new();
    let mut records = r.stream();
    while let Some(rec) = records.next_record() {
        if let Record::Comm(c) = rec.unwrap().parse().unwrap() {
            comms.push(c.comm);
        }
    }
    assert_eq!(comms, ["worker"]);
    drop(records);
    drop(r);
    (dir, file)
}

#[test]
fn perf_reads_an_unfinished_recording_up_to_the_last_flush() {
    require_perf!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.data");
    let switch_id = tracefs_id("sched", "sched_switch");
    let events = [
        tracepoint_event(switch_id, "sched:sched_switch", vec![1000]),
        dummy_event(vec![2000]),
    ];
    let mut w = PerfFileWriter::create(&file, &events).unwrap();
    let tracing = sched_switch_tracing_data();
    w.set_features(&Features {
        tracing_data: Some(tracing),
        ..Features::for_this_host()
    });
    for t in 1..=3u64 {
        Build::new(RecordType::EXIT)
            .u32s(9, 1)
            .u32s(9, 1)
            .u64(t)
            .trailer(9, 9, t, 0, 2000)
            .write(&mut w);
    }
    w.write_finished_round().unwrap();
    w.flush_header().unwrap();
    Build::new(RecordType::EXIT)
        .u32s(9, 1)
        .u32s(9, 1)
        .u64(9)
        .trailer(9, 9, 9, 0, 2000)
        .write(&mut w);
    // Killed before finish: the last record never reached a header.
    std::mem::forget(w);
    let expected: BTreeMap<String, u64> = [("EXIT", 3), ("FINISHED_ROUND", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(perf_stats(&file), expected);
}

#[test]
fn perf_reads_a_tracer_scope_recording() {
    require_perf!();
    use crate::attr::flags;
    use crate::container::RecordingMode;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tracer.data");
    let mut sideband = dummy_event(vec![2000]);
    sideband.attr.flags =
        (sideband.attr.flags & !flags::NAMESPACES) | flags::TRACER_SCOPE | flags::TRACER_NAMESPACES;
    let mut w = PerfFileWriter::create(&file, &[sideband]).unwrap();
    statedump_namespaces_record(1).write(&mut w);
    Build::new(RecordType::COMM)
        .u32s(2, 2)
        .string("worker")
        .trailer(2, 2, 40, 0, 2000)
        .write(&mut w);
    tracer_namespaces_record(2, 50, 2000).write(&mut w);
    tracer_namespaces_record(3, 60, 2000).write(&mut w);
    w.write_finished_round().unwrap();
    w.finish(&Features {
        perfns: Some(extension(RecordingMode::TracerScope)),
        ..Features::for_this_host()
    })
    .unwrap();

    // perf counts the three as NAMESPACES: the attrs pass its check and no
    // record is of a type it refuses.
    let expected: BTreeMap<String, u64> = [("NAMESPACES", 3), ("COMM", 1), ("FINISHED_ROUND", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(perf_stats(&file), expected);
    // It reads each record's standard part (9 links: it warns that the
    // kernel knows more namespaces than it does) and its sample_id from the
    // record's end.
    let (dump, err) = perf(&["script", "-D", "-i", file.to_str().unwrap()]);
    assert!(!err.contains("Reserved bits"), "{err}");
    assert!(
        err.contains("kernel seems to support more namespaces"),
        "{err}"
    );
    for (pid, time) in [(2, 50), (3, 60)] {
        let line = format!("0 {time} ");
        let line = dump
            .lines()
            .find(|l| l.starts_with(&line) && l.contains("PERF_RECORD_NAMESPACES"))
            .unwrap_or_else(|| panic!("no NAMESPACES at time {time} in {dump}"));
        assert!(
            line.ends_with(&format!(
                "PERF_RECORD_NAMESPACES {pid}/{pid} - nr_namespaces: 9"
            )),
            "{line}"
        );
    }

    // perfns reads the kernel's types back.
    let r = PerfFileReader::open(&file).unwrap();
    let mut ours = expected.clone();
    ours.insert("NAMESPACES".into(), 1);
    ours.insert("TRACER_NAMESPACES".into(), 2);
    assert_eq!(perfns_counts(&r), ours);
}

/// `perf script`'s fields of each sample of `event`: one line per sample.
fn perf_script_fields(file: &Path, fields: &str) -> Vec<String> {
    let (out, err) = perf(&["script", "-i", file.to_str().unwrap(), "-F", fields]);
    assert!(!err.contains("Reserved bits"), "{err}");
    out.lines().map(str::to_string).collect()
}

/// Each event's sample count in `perf report --stats` ("NAME stats:" then
/// "SAMPLE events: N").
fn perf_samples_by_event(file: &Path) -> BTreeMap<String, u64> {
    let (out, _) = perf(&["report", "--stats", "-i", file.to_str().unwrap()]);
    let mut counts = BTreeMap::new();
    let mut event = None;
    for line in out.lines().map(str::trim) {
        if let Some(name) = line.strip_suffix(" stats:") {
            // "Aggregated stats:" heads the block of all events.
            event = (name != "Aggregated").then(|| name.to_string());
        } else if let (Some(name), Some(n)) = (&event, line.strip_prefix("SAMPLE events:")) {
            counts.insert(name.clone(), n.trim().parse().unwrap());
        }
    }
    counts
}

/// testdata/tracer-scope.data (made by `perfns record` in tracer scope in
/// the VM, testdata/README.md) opens in Debian's perf, and what perf shows
/// of it is what perfns reads.
#[test]
fn perf_reads_the_tracer_scope_testdata() {
    let perf_here = match Path::new(&perf_path()).exists() {
        true => Ok(()),
        false => Err(format!(
            "needs {} (apt-get install linux-perf)",
            perf_path()
        )),
    };
    if crate::testing::prerequisite(perf_here).is_none() {
        return;
    }
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/tracer-scope.data"
    ));
    let r = PerfFileReader::open(file).unwrap();

    // Record counts: perf counts the kernel's TRACER_NAMESPACES records among
    // NAMESPACES, beside the recorder's statedump ones.
    let ours = perfns_counts(&r);
    let tracer_ns = ours["TRACER_NAMESPACES"];
    let statedump_ns = ours["NAMESPACES"];
    assert!(tracer_ns > 0 && statedump_ns > 0, "{ours:?}");
    let mut expected = ours.clone();
    expected.remove("TRACER_NAMESPACES");
    expected.insert("NAMESPACES".into(), statedump_ns + tracer_ns);
    assert_eq!(perf_stats(file), expected);

    // perf script -D shows them as NAMESPACES with 9 links, the statedump's
    // with 7.
    let (dump, _) = perf(&["script", "-D", "-i", file.to_str().unwrap()]);
    let with_links = |n: u32| {
        let tail = format!(" - nr_namespaces: {n}");
        dump.lines()
            .filter(|l| l.contains("PERF_RECORD_NAMESPACES") && l.ends_with(&tail))
            .count() as u64
    };
    assert_eq!((with_links(9), with_links(7)), (tracer_ns, statedump_ns));

    // Samples per event.
    let mut samples: BTreeMap<String, u64> = BTreeMap::new();
    // raw_syscalls:sys_enter samples per comm, the comm perf would give
    // the task at that time: its last COMM, else its parent's at its fork.
    let mut comm_of: BTreeMap<i32, String> = BTreeMap::new();
    let mut enters_by_comm: BTreeMap<String, u64> = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let name = &r.events().events()[rec.event].name;
        match rec.parse().unwrap() {
            Record::Sample(s) => {
                *samples.entry(name.clone()).or_default() += 1;
                if name == "raw_syscalls:sys_enter" {
                    let tid = s.id.tid.unwrap();
                    let comm = comm_of
                        .get(&tid)
                        .cloned()
                        .unwrap_or_else(|| format!(":{tid}"));
                    *enters_by_comm.entry(comm).or_default() += 1;
                }
            }
            Record::Comm(c) => {
                comm_of.insert(c.tid, c.comm);
            }
            Record::Fork(f) => {
                if let Some(parent) = comm_of.get(&f.ptid).cloned() {
                    comm_of.insert(f.tid, parent);
                }
            }
            _ => {}
        }
    }
    assert_eq!(perf_samples_by_event(file), samples);

    let mut perf_enters: BTreeMap<String, u64> = BTreeMap::new();
    let mut perf_getppid = 0;
    for line in perf_script_fields(file, "comm,event,trace") {
        let Some((comm, rest)) = line.trim().split_once(' ') else {
            continue;
        };
        let Some(args) = rest.trim().strip_prefix("raw_syscalls:sys_enter:") else {
            continue;
        };
        *perf_enters.entry(comm.to_string()).or_default() += 1;
        // The web container's workload makes 300 getppid (x86_64 110),
        // batch's none.
        if comm == "perfns-workload" && args.trim().starts_with("NR 110 ") {
            perf_getppid += 1;
        }
    }
    assert_eq!(perf_enters, enters_by_comm);
    assert_eq!(perf_getppid, 300);

    // perf report --stdio: one table per event, its sample count ours.
    let (report, err) = perf(&["report", "-i", file.to_str().unwrap(), "--stdio"]);
    assert!(!err.contains("Reserved bits"), "{err}");
    for (event, n) in &samples {
        let head = format!("of event '{event}'\n# Event count (approx.): {n}\n");
        assert!(report.contains(&head), "no {head:?} in {report}");
    }
    assert!(report.contains("perfns-workload"), "{report}");
}

//! Bad input: each gives a clear message, and whatever partial report is
//! sound, never a panic.

use std::path::{Path, PathBuf};

use perfns::perf_data::{PerfFileReader, PerfFileWriter};
use perfns::record::{RawData, RecordType};
use perfns_report::model::{ContainerSource, Report};
use perfns_report::{render, report, Options};

fn testdata(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata")).join(name)
}

/// The report of `path`, which four jobs make the same as one
/// (`--jobs`: the damage is met at the same record either way).
fn report_of(path: &Path) -> anyhow::Result<Report> {
    let of = |jobs| {
        let options = Options {
            jobs,
            ..Options::default()
        };
        report(path, &options, &mut |_| {})
    };
    let (one, four) = (of(1), of(4));
    match (&one, &four) {
        (Ok(one), Ok(four)) => assert_eq!(four, one, "{}", path.display()),
        (Err(one), Err(four)) => assert_eq!(format!("{four:#}"), format!("{one:#}")),
        _ => panic!("one job: {one:?}, four: {four:?}"),
    }
    one
}

/// Every format renders whatever the report holds, and says what it
/// holds: each container in the table, the JSON (which parses, with the
/// report's figures) and the CSV (whose rows all parse), and the report's
/// warnings in each.
fn renders(r: &Report) {
    let table = render::table(r, Some(100));
    for c in &r.containers {
        assert!(table.contains(&c.name), "{} not in {table}", c.name);
    }
    let json: serde_json::Value = serde_json::from_str(&render::json(r)).expect("JSON parses");
    let containers = json["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), r.containers.len());
    for (j, c) in containers.iter().zip(&r.containers) {
        assert_eq!(j["key"], c.key.as_str());
        assert_eq!(j["total"]["cpu"]["time_ns"], c.total.cpu.time_ns);
        assert_eq!(j["total"]["syscalls"]["calls"], c.total.syscalls.calls);
    }
    assert_eq!(
        json["header"]["warnings"],
        serde_json::json!(r.header.warnings)
    );
    let csv = render::csv(r);
    let mut cputop = 0;
    for block in csv.split("\n\n") {
        for row in csv::Reader::from_reader(block.as_bytes()).records() {
            let row = row.unwrap_or_else(|e| panic!("{e}: {block}"));
            cputop += usize::from(&row[0] == "cputop");
        }
    }
    assert_eq!(cputop, r.containers.len(), "{csv}");
    for w in &r.header.warnings {
        assert!(table.contains(w.as_str()), "{w} not in {table}");
    }
}

#[test]
fn an_empty_file_says_it_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("perf.data");
    std::fs::write(&path, b"").unwrap();
    let e = format!("{:#}", report_of(&path).unwrap_err());
    assert!(e.contains("perf.data: the file is empty"), "{e}");
}

#[test]
fn a_file_that_is_no_recording_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "these are not the records you are looking for\n".repeat(10),
    )
    .unwrap();
    let e = format!("{:#}", report_of(&path).unwrap_err());
    assert!(e.contains("offset 0: not a perf.data file"), "{e}");
}

#[test]
fn a_missing_file_names_it() {
    let e = format!(
        "{:#}",
        report_of(Path::new("/nonexistent/perf.data")).unwrap_err()
    );
    assert!(e.contains("/nonexistent/perf.data"), "{e}");
}

#[test]
fn a_truncated_file_reports_the_records_before_the_cut() {
    let whole = report_of(&testdata("containers-switch.data")).unwrap();
    let bytes = std::fs::read(testdata("containers-switch.data")).unwrap();
    let data = PerfFileReader::open(testdata("containers-switch.data"))
        .unwrap()
        .data_section();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.data");
    // Cut three quarters into the records: the cut goes through one.
    let cut = (data.offset + data.size * 3 / 4) as usize;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let r = report_of(&path).expect("a partial report");
    renders(&r);
    let warnings = r.header.warnings.join("\n");
    assert!(warnings.contains("the file is truncated"), "{warnings}");
    assert!(warnings.contains("records could not be read"), "{warnings}");
    // Switch records and samples need no tracepoint formats: the
    // containers' figures are there, no more than in the whole file.
    assert_eq!(r.header.containers_from, ContainerSource::PidNamespaces);
    let total = |r: &Report| -> u64 {
        r.containers
            .iter()
            .filter(|c| c.parent.is_none())
            .map(|c| c.total.cpu.samples)
            .sum()
    };
    assert!(
        total(&r) > 0 && total(&r) < total(&whole),
        "{} {}",
        total(&r),
        total(&whole)
    );
}

#[test]
fn a_file_without_side_band_says_what_it_cannot_tell() {
    // The tracepoint recording's samples alone: no COMM, FORK,
    // NAMESPACES or CGROUP records.
    let source = PerfFileReader::open(testdata("containers-tracepoints.data")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples-only.data");
    let mut w = PerfFileWriter::create(&path, source.events().events()).unwrap();
    let mut samples = 0;
    for record in source.records_in_file_order() {
        let record = record.unwrap();
        if record.header.kind == RecordType::SAMPLE {
            w.write_record(record.header, RawData::Single(record.body))
                .unwrap();
            samples += 1;
        }
    }
    w.finish(source.features()).unwrap();
    assert!(samples > 1000);

    let r = report_of(&path).unwrap();
    renders(&r);
    assert_eq!(r.header.containers_from, ContainerSource::None);
    let notes = r.header.notes.join("\n");
    assert!(notes.contains("no NAMESPACES records"), "{notes}");
    assert!(notes.contains("no COMM records"), "{notes}");
    // The figures are all there, on the host.
    assert_eq!(r.containers.len(), 1);
    let host = &r.containers[0].own;
    assert!(host.cpu.time_ns > 0);
    assert!(host.memory.pages_allocated > 500);
    assert!(host.syscalls.calls > 1000);
}

#[test]
fn a_damaged_record_ends_the_report_there_with_a_warning() {
    let bytes = std::fs::read(testdata("containers-tracepoints.data")).unwrap();
    let reader = PerfFileReader::open(testdata("containers-tracepoints.data")).unwrap();
    // The record halfway through the data gets a size smaller than its
    // own header.
    let half = reader.data_section().offset + reader.data_section().size / 2;
    let victim = reader
        .records_in_file_order()
        .map(|r| r.unwrap().offset)
        .find(|&o| o >= half)
        .unwrap();
    let mut damaged = bytes.clone();
    let size_at = victim as usize + 6;
    damaged[size_at..size_at + 2].copy_from_slice(&4u16.to_ne_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.data");
    std::fs::write(&path, &damaged).unwrap();

    let r = report_of(&path).expect("a partial report");
    renders(&r);
    let warnings = r.header.warnings.join("\n");
    assert!(
        warnings.contains(&format!("offset {victim}")) && warnings.contains("has size 4"),
        "{warnings}"
    );
    let whole = report_of(&testdata("containers-tracepoints.data")).unwrap();
    let calls = |r: &Report| {
        r.containers
            .iter()
            .map(|c| c.own.syscalls.calls)
            .sum::<u64>()
    };
    assert!(calls(&r) < calls(&whole));
}

#[test]
fn an_unknown_container_lists_the_known_ones() {
    let options = Options {
        container: Some("nosuch".into()),
        ..Options::default()
    };
    let e = report(
        &testdata("containers-tracepoints.data"),
        &options,
        &mut |_| {},
    )
    .unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("\"nosuch\"") && e.contains("big (pidns:"), "{e}");
}

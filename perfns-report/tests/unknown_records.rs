//! Never a silent zero: records the report does not read are counted by
//! type and named in its warnings, and when they could hold samples the
//! warnings say the figures are incomplete.
//!
//! Each file is a testdata recording with records of one kind added after
//! its first COMM record; the figures the rest gives are unchanged.

use std::path::{Path, PathBuf};

use perfns::perf_data::{PerfFileReader, PerfFileWriter};
use perfns::record::{RawData, RecordHeader, RecordType};
use perfns_report::analysis::Analysis;
use perfns_report::model::Report;
use perfns_report::{report, Options};

fn testdata(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata")).join(name)
}

/// containers-tracepoints.data with `extra` records added after its first
/// COMM record: each is `(type, body)`, or with `None` as body a copy of
/// that COMM record's body (so its sample_id trailer names an event).
fn with_extra_records(path: &Path, extra: &[(u32, Option<Vec<u8>>)]) {
    let source = PerfFileReader::open(testdata("containers-tracepoints.data"))
        .expect("containers-tracepoints.data opens");
    let mut w = PerfFileWriter::create(path, source.events().events()).expect("a new file");
    let mut added = false;
    for record in source.records_in_file_order() {
        let record = record.expect("a record");
        w.write_record(record.header, RawData::Single(record.body))
            .expect("the record is written");
        if !added && record.header.kind == RecordType::COMM {
            added = true;
            for (kind, body) in extra {
                let body = body.as_deref().unwrap_or(record.body);
                let header = RecordHeader {
                    kind: RecordType(*kind),
                    misc: 0,
                    size: (RecordHeader::SIZE + body.len()) as u16,
                };
                w.write_record(header, RawData::Single(body))
                    .expect("the record is written");
            }
        }
    }
    assert!(added, "the recording has a COMM record");
    w.finish(source.features()).expect("the file is finished");
}

fn report_of(path: &Path) -> Report {
    report(path, &Options::default(), &mut |_| {}).expect("a report")
}

/// The samples of each event, as the report counts them.
fn samples(r: &Report) -> Vec<(String, u64)> {
    r.header
        .events
        .iter()
        .map(|e| (e.name.clone(), e.samples))
        .collect()
}

#[test]
fn an_unknown_kernel_record_type_is_named_in_the_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kernel-type.data");
    // Type 30: no kernel has it yet. A kernel record with a sample_id, as a
    // newer kernel's side-band record would be.
    with_extra_records(&path, &[(30, None), (30, None)]);
    let r = report_of(&path);
    let warnings = r.header.warnings.join("\n");
    assert!(
        warnings.contains("2 records of types the report does not read")
            && warnings.contains("type 30: 2"),
        "{warnings}"
    );
    // A kernel record of a type the report does not know is side-band:
    // samples are PERF_RECORD_SAMPLE. The figures are not called incomplete.
    assert!(!warnings.contains("incomplete"), "{warnings}");
    assert_eq!(
        samples(&r),
        samples(&report_of(&testdata("containers-tracepoints.data")))
    );
}

#[test]
fn an_unknown_user_record_type_makes_the_figures_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-type.data");
    // Type 90: past every type perf 6.12 writes, in perf's own range.
    with_extra_records(&path, &[(90, Some(vec![0; 16]))]);
    let r = report_of(&path);
    let warnings = r.header.warnings.join("\n");
    assert!(warnings.contains("type 90: 1"), "{warnings}");
    assert!(
        warnings.contains("the figures are incomplete") && warnings.contains("type 90"),
        "{warnings}"
    );
}

#[test]
fn compressed_records_not_decompressed_make_the_figures_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compressed.data");
    // Three PERF_RECORD_COMPRESSED (81) records: zstd frames are never
    // looked into here, so their bytes need not be one.
    with_extra_records(
        &path,
        &[
            (81, Some(vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])),
            (81, Some(vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])),
            (81, Some(vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])),
        ],
    );
    // The records as stored, not decompressed: what a reader that does not
    // decompress hands the analysis.
    let reader = PerfFileReader::open(&path).unwrap();
    let mut a = Analysis::new("c".into(), reader.events(), reader.features(), &[]);
    for r in reader.records() {
        let r = r.unwrap();
        a.record(r.event, &r.parse().unwrap());
    }
    let r = a.finish(&Options::default()).unwrap();
    let warnings = r.header.warnings.join("\n");
    assert!(warnings.contains("COMPRESSED (type 81): 3"), "{warnings}");
    assert!(
        warnings.contains("the figures are incomplete") && warnings.contains("COMPRESSED"),
        "{warnings}"
    );
}

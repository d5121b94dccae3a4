//! Golden files: every recording in testdata/ in every format, plus the
//! tree options on the container recording. Each snapshot was read and
//! checked against the workload that made the recording (testdata/README.md
//! says what each should show).

use std::path::Path;

use perfns_report::{render, report, Options, SortKey};

/// The table width of the snapshots: wide enough that nothing wraps.
const WIDTH: Option<usize> = Some(220);

fn testdata() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s
}

/// Reports `path`, named as `testdata/NAME` whatever the checkout's path.
fn report_of(path: &Path, options: &Options) -> perfns_report::model::Report {
    let mut report = report(path, options, &mut |_| {}).expect("the recording reports");
    let name = path.file_name().expect("a file").to_string_lossy();
    report.header.file = format!("testdata/{name}");
    report
}

#[test]
fn every_recording_in_every_format() {
    settings().bind(|| {
        insta::glob!("../../testdata", "*.data", |path| {
            let options = Options {
                per_process: true,
                ..Options::default()
            };
            let report = report_of(path, &options);
            insta::assert_snapshot!("table", render::table(&report, WIDTH));
            insta::assert_snapshot!("json", render::json(&report));
            insta::assert_snapshot!("csv", render::csv(&report));
        });
    });
}

fn tracepoints(options: &Options) -> perfns_report::model::Report {
    report_of(&testdata().join("containers-tracepoints.data"), options)
}

#[test]
fn flat_sorted_by_memory() {
    let report = tracepoints(&Options {
        flat: true,
        sort: SortKey::Mem,
        top: 2,
        ..Options::default()
    });
    settings().bind(|| insta::assert_snapshot!(render::table(&report, WIDTH)));
}

#[test]
fn one_container_and_its_descendants_sorted_by_syscalls() {
    let report = tracepoints(&Options {
        container: Some("outer".into()),
        sort: SortKey::Syscalls,
        ..Options::default()
    });
    settings().bind(|| insta::assert_snapshot!(render::table(&report, WIDTH)));
}

#[test]
fn a_narrow_terminal_wraps_the_tables() {
    let report = tracepoints(&Options::default());
    let text = render::table(&report, Some(80));
    let tables: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("CPU")).collect();
    assert!(tables.len() > 40, "no tables in {text}");
    for line in &tables {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    // No header word is broken to fit: each table's header row says
    // `container` whole, and the longer words stand whole somewhere.
    let headers: Vec<&&str> = tables
        .iter()
        .filter(|l| l.trim_start().starts_with("container "))
        .collect();
    assert_eq!(headers.len(), 4, "{text}");
    for word in [
        "allocated",
        "latency",
        "errors",
        "processes",
        "set_robust_list",
    ] {
        assert!(
            tables
                .iter()
                .any(|l| l.split([' ', '|']).any(|w| w == word)),
            "{word} broken in {text}"
        );
    }
    settings().bind(|| insta::assert_snapshot!(text));
}

/// `--jobs`: a second thread reads and orders the records while the first
/// analyses them; the report is the one thread's, byte for byte, in every
/// format, for every recording in testdata/ (perf's and perfns's, pipe
/// mode, compressed, with losses, tracer-scoped).
#[test]
fn every_recording_reports_the_same_on_one_thread_or_four() {
    let mut files = 0;
    for entry in std::fs::read_dir(testdata()).expect("testdata/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "data") {
            continue;
        }
        files += 1;
        let options = |jobs| Options {
            per_process: true,
            jobs,
            ..Options::default()
        };
        let (one, four) = (report_of(&path, &options(1)), report_of(&path, &options(4)));
        let name = path.display();
        assert_eq!(render::json(&four), render::json(&one), "{name}");
        assert_eq!(render::csv(&four), render::csv(&one), "{name}");
        assert_eq!(
            render::table(&four, WIDTH),
            render::table(&one, WIDTH),
            "{name}"
        );
    }
    // The recordings testdata/README.md lists.
    assert!(files >= 15, "{files} recordings in testdata/");
}

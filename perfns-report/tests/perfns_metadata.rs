//! A perfns recording's container metadata (RecordingMeta in the perfns
//! feature section) names, types and nests the containers, over what the
//! cgroup paths say.

use std::path::Path;

use perfns::container::{Container, RecordingMeta, RecordingMode, RecordingScope, Runtime};
use perfns::perf_data::{PerfFileReader, PerfFileWriter};
use perfns::record::RawData;
use perfns_report::model::{ContainerSource, Report};
use perfns_report::{report, Options};

const SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/containers-tracepoints.data"
);
/// A pid namespace no task of the recording is in.
const POD: u64 = 4_026_500_000;

fn container(key: u64, name: &str, runtime: Runtime, parent: Option<u64>) -> Container {
    Container {
        key,
        name: name.into(),
        runtime,
        id: None,
        pod: None,
        parent,
        level: 1,
        cgroup: None,
        pid: None,
        labels: Default::default(),
        kubernetes: None,
        named_by: None,
    }
}

fn key_of(r: &Report, name: &str) -> u64 {
    r.containers
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.pid_ns)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// The tracepoint recording again, with `meta` as its perfns section.
fn with_meta(dir: &Path, meta: &RecordingMeta) -> std::path::PathBuf {
    copy_with_perfns_section(&dir.join("perfns.data"), meta.to_json())
}

/// The tracepoint recording again, at `path`, with `perfns` as its perfns
/// feature section.
fn copy_with_perfns_section(path: &Path, perfns: Vec<u8>) -> std::path::PathBuf {
    let source = PerfFileReader::open(SOURCE).expect("testdata opens");
    let mut w = PerfFileWriter::create(path, source.events().events()).expect("create");
    for record in source.records_in_file_order() {
        let record = record.expect("testdata reads");
        w.write_record(record.header, RawData::Single(record.body))
            .expect("write");
    }
    let mut features = source.features().clone();
    features.perfns = Some(perfns);
    w.finish(&features).expect("finish");
    path.to_path_buf()
}

#[test]
fn metadata_names_runtimes_and_nesting_win() {
    let plain = report(Path::new(SOURCE), &Options::default(), &mut |_| {}).unwrap();
    let (big, small) = (key_of(&plain, "big"), key_of(&plain, "small"));
    let host = 0xEFFF_FFFC;
    // "web" (big) runs in a pod with no task of its own, "db" (small) is
    // a Docker container of its own.
    let meta = RecordingMeta {
        version: 1,
        mode: RecordingMode::SystemWide,
        scope: RecordingScope::System,
        host,
        containers: vec![
            container(host, "host", Runtime::Host, None),
            container(POD, "pod", Runtime::Kubepods, Some(host)),
            container(big, "web", Runtime::Containerd, Some(POD)),
            container(small, "db", Runtime::Docker, Some(host)),
        ],
        tasks: Vec::new(),
        lost: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let r = report(
        &with_meta(dir.path(), &meta),
        &Options::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.header.containers_from, ContainerSource::PerfnsMetadata);
    assert_eq!(r.header.recording.tool, "perfns");
    assert_eq!(r.header.recording.mode, Some(RecordingMode::SystemWide));
    assert_eq!(r.header.recording.scope, Some(RecordingScope::System));
    let find = |name: &str| {
        r.containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let (pod, web, db) = (find("pod"), find("web"), find("db"));
    assert_eq!(web.runtime.as_deref(), Some("containerd"));
    assert_eq!(db.runtime.as_deref(), Some("docker"));
    assert_eq!(web.parent.as_deref(), Some(pod.key.as_str()));
    assert_eq!(db.parent, None);
    assert_eq!(pod.own.cpu.time_ns, 0);
    assert_eq!(pod.total.cpu.time_ns, web.total.cpu.time_ns);
    assert!(web.total.cpu.time_ns > 0);
    // Containers the metadata does not know keep their cgroup names.
    find("outer");
    find("inner");
}

#[test]
fn unreadable_metadata_is_a_note_and_the_records_still_tell() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_with_perfns_section(&dir.path().join("bad-meta.data"), b"{not json".to_vec());
    let r = report(&path, &Options::default(), &mut |_| {}).unwrap();
    assert_eq!(r.header.containers_from, ContainerSource::PidNamespaces);
    assert!(
        r.header
            .notes
            .iter()
            .any(|n| n.contains("perfns extension")),
        "{:?}",
        r.header.notes
    );
    assert!(r.containers.iter().any(|c| c.name == "big"));
}

#[test]
fn a_cycle_of_parents_in_the_metadata_is_cut() {
    let plain = report(Path::new(SOURCE), &Options::default(), &mut |_| {}).unwrap();
    let (big, small) = (key_of(&plain, "big"), key_of(&plain, "small"));
    let host = 0xEFFF_FFFC;
    let meta = RecordingMeta {
        version: 1,
        mode: RecordingMode::SystemWide,
        scope: RecordingScope::System,
        host,
        containers: vec![
            container(big, "a", Runtime::Perfns, Some(small)),
            container(small, "b", Runtime::Perfns, Some(big)),
        ],
        tasks: Vec::new(),
        lost: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let r = report(
        &with_meta(dir.path(), &meta),
        &Options::default(),
        &mut |_| {},
    )
    .unwrap();
    let (a, b) = (
        r.containers.iter().find(|c| c.name == "a").expect("a"),
        r.containers.iter().find(|c| c.name == "b").expect("b"),
    );
    // One of the two is a top-level container, the other under it.
    assert!(a.parent.is_none() != b.parent.is_none(), "{a:?} {b:?}");
}

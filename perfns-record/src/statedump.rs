//! The task statedump: records synthesized for the tasks that exist when
//! recording starts, so that no task is anonymous in a report.
//!
//! Each task gets a PERF_RECORD_COMM and a PERF_RECORD_NAMESPACES, and each
//! cgroup a task is in a PERF_RECORD_CGROUP, laid out exactly as the kernel
//! writes them, with a zeroed time and event id in the sample_id trailer as
//! perf gives its own synthesized records (the reader hands them out first
//! and gives them to the first event). The full snapshot (ppid, the time
//! namespace, which PERF_RECORD_NAMESPACES has no slot for, NSpid) is in
//! the recording's perfns extension as well
//! ([`perfns::container::RecordingMeta::tasks`]).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use perfns::attr::SampleFormat;
use perfns::container::TaskSnapshot;
use perfns::record::{ns_index, RecordHeader, RecordType};

use crate::events::SAMPLE_FORMAT;

/// A synthesized record: its header and body, sample_id trailer included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthRecord {
    /// The header, its size counting the body.
    pub header: RecordHeader,
    /// The body.
    pub body: Vec<u8>,
}

/// Builds a record body field by field in native byte order.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    /// A NUL-terminated string padded with NULs to 8 bytes, as the kernel
    /// writes comm and path fields.
    fn string(&mut self, s: &str) -> &mut Self {
        // The kernel's strings never hold NUL; cut at one rather than
        // write a record that reads back differently.
        let s = s.split('\0').next().unwrap_or("");
        self.0.extend_from_slice(s.as_bytes());
        let padded = (s.len() + 1).next_multiple_of(8);
        self.0.resize(self.0.len() + padded - s.len(), 0);
        self
    }
    /// The sample_id trailer of [`SAMPLE_FORMAT`]: the task, time 0, CPU 0,
    /// id 0.
    fn trailer(&mut self, pid: i32, tid: i32) -> &mut Self {
        self.i32(pid).i32(tid).u64(0).u32(0).u32(0).u64(0)
    }

    fn record(&self, kind: RecordType) -> Option<SynthRecord> {
        let size = u16::try_from(RecordHeader::SIZE + self.0.len()).ok()?;
        Some(SynthRecord {
            header: RecordHeader {
                kind,
                misc: 0,
                size,
            },
            body: self.0.clone(),
        })
    }
}

const _: () = assert!(
    SAMPLE_FORMAT.0
        == SampleFormat::TID.0
            | SampleFormat::TIME.0
            | SampleFormat::CPU.0
            | SampleFormat::IDENTIFIER.0,
    "Body::trailer writes exactly these fields"
);

/// PERF_RECORD_COMM for a task.
pub fn comm_record(t: &TaskSnapshot) -> Option<SynthRecord> {
    let mut b = Body::default();
    b.i32(t.pid)
        .i32(t.tid)
        .string(&t.comm)
        .trailer(t.pid, t.tid);
    b.record(RecordType::COMM)
}

/// PERF_RECORD_NAMESPACES for a task: the seven namespaces of the kernel's
/// record, in its order, each `{dev, inode}` (zero where the recorder could
/// not read it). `nsfs_dev` is the device of nsfs.
pub fn namespaces_record(t: &TaskSnapshot, nsfs_dev: u64) -> Option<SynthRecord> {
    let mut b = Body::default();
    b.i32(t.pid).i32(t.tid).u64(ns_index::NAMES.len() as u64);
    for name in ns_index::NAMES {
        match t.namespaces.get(name) {
            Some(&ino) => b.u64(nsfs_dev).u64(ino),
            None => b.u64(0).u64(0),
        };
    }
    b.trailer(t.pid, t.tid);
    b.record(RecordType::NAMESPACES)
}

/// PERF_RECORD_CGROUP: a cgroup's id (the inode of its cgroup2 directory)
/// and path.
pub fn cgroup_record(id: u64, path: &str) -> Option<SynthRecord> {
    let mut b = Body::default();
    b.u64(id).string(path).trailer(0, 0);
    b.record(RecordType::CGROUP)
}

/// PERF_RECORD_LOST: `lost` records of event `id` lost on `cpu`, reported
/// at `time` (no task: pid and tid -1).
///
/// ```c
/// struct { struct perf_event_header header; u64 id; u64 lost; struct sample_id sample_id; };
/// ```
pub fn lost_record(id: u64, lost: u64, time: u64, cpu: u32) -> SynthRecord {
    let mut b = Body::default();
    b.u64(id)
        .u64(lost)
        .i32(-1)
        .i32(-1)
        .u64(time)
        .u32(cpu)
        .u32(0)
        .u64(id);
    SynthRecord {
        header: RecordHeader {
            kind: RecordType::LOST,
            misc: 0,
            size: (RecordHeader::SIZE + b.0.len()) as u16,
        },
        body: b.0,
    }
}

/// The records of the statedump of `tasks`: COMM and NAMESPACES for each,
/// then CGROUP for each cgroup (found under `cgroup2`) they are in.
/// Records that do not fit in a record's 16-bit size are left out.
pub fn statedump(
    tasks: &[TaskSnapshot],
    nsfs_dev: u64,
    cgroup2: Option<&Path>,
) -> Vec<SynthRecord> {
    let mut out = Vec::with_capacity(tasks.len() * 2);
    for t in tasks {
        out.extend(comm_record(t));
        out.extend(namespaces_record(t, nsfs_dev));
    }
    if let Some(root) = cgroup2 {
        let paths: BTreeSet<&str> = tasks.iter().filter_map(|t| t.cgroup.as_deref()).collect();
        for path in paths {
            let dir = root.join(path.trim_start_matches('/'));
            if let Ok(m) = std::fs::metadata(&dir) {
                out.extend(cgroup_record(m.ino(), path));
            }
        }
    }
    out
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use byteorder::NativeEndian;
    use perfns::attr::{flags, EventAttr};
    use perfns::record::{NamespaceLink, RawData, RawRecord, Record};

    use super::*;

    fn attr() -> EventAttr {
        EventAttr {
            sample_type: SAMPLE_FORMAT,
            flags: flags::SAMPLE_ID_ALL,
            ..Default::default()
        }
    }

    fn parse(r: &SynthRecord) -> Record<'_> {
        assert_eq!(usize::from(r.header.size), 8 + r.body.len());
        assert_eq!(r.body.len() % 8, 0, "records are 8-byte aligned");
        RawRecord {
            header: r.header,
            data: RawData::Single(&r.body),
        }
        .parse::<NativeEndian>(&attr())
        .unwrap()
    }

    fn task() -> TaskSnapshot {
        TaskSnapshot {
            pid: 42,
            tid: 43,
            ppid: 1,
            comm: "kworker/0:1H".into(),
            namespaces: [
                ("pid".to_owned(), 4026531836),
                ("time".to_owned(), 4026531834),
                ("mnt".to_owned(), 4026531832),
            ]
            .into(),
            nspid: vec![43],
            cgroup: Some("/perfns/a".into()),
        }
    }

    #[test]
    fn synthesized_records_parse_as_the_kernels() {
        let t = task();
        match parse(&comm_record(&t).unwrap()) {
            Record::Comm(c) => {
                assert_eq!(
                    (c.pid, c.tid, c.comm.as_str(), c.exec),
                    (42, 43, "kworker/0:1H", false)
                );
                assert_eq!(
                    (c.sample_id.pid, c.sample_id.time, c.sample_id.id),
                    (Some(42), Some(0), Some(0))
                );
            }
            other => panic!("{other:?}"),
        }
        match parse(&namespaces_record(&t, 4).unwrap()) {
            Record::Namespaces(n) => {
                assert_eq!(n.namespaces.len(), 7);
                assert_eq!(
                    n.pid_ns(),
                    Some(NamespaceLink {
                        dev: 4,
                        ino: 4026531836
                    })
                );
                assert_eq!(n.namespaces[ns_index::MNT].ino, 4026531832);
                assert_eq!(
                    n.namespaces[ns_index::NET],
                    NamespaceLink { dev: 0, ino: 0 }
                );
            }
            other => panic!("{other:?}"),
        }
        match parse(&cgroup_record(77, "/perfns/a").unwrap()) {
            Record::Cgroup(c) => assert_eq!((c.id, c.path.as_str()), (77, "/perfns/a")),
            other => panic!("{other:?}"),
        }
        // An exact multiple of 8 still gets its NUL.
        match parse(&cgroup_record(1, "/1234567").unwrap()) {
            Record::Cgroup(c) => assert_eq!(c.path, "/1234567"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn synthesized_lost_parses() {
        match parse(&lost_record(7, 1234, 99, 1)) {
            Record::Lost(l) => {
                assert_eq!((l.id, l.lost), (7, 1234));
                assert_eq!(
                    (
                        l.sample_id.time,
                        l.sample_id.cpu,
                        l.sample_id.id,
                        l.sample_id.tid
                    ),
                    (Some(99), Some(1), Some(7), Some(-1))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statedump_of_this_process() {
        let me = std::process::id() as i32;
        let t = crate::session::tasks::read_task(me, me).unwrap();
        let root = perfns::container::cgroup2_mount();
        let recs = statedump(std::slice::from_ref(&t), 0, root.as_deref());
        let kinds: Vec<_> = recs.iter().map(|r| r.header.kind).collect();
        let mut want = vec![RecordType::COMM, RecordType::NAMESPACES];
        if root.is_some() && t.cgroup.is_some() {
            want.push(RecordType::CGROUP);
        }
        assert_eq!(kinds, want);
    }
}

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
//!
//! With `--profile`, each process also gets a PERF_RECORD_MMAP2 for each
//! executable mapping of `/proc/PID/maps` (with the file's build-id, as
//! the kernel writes them for a `build_id` side-band event), and the
//! kernel one for its text (`[kernel.kallsyms]_text`), as perf record's
//! perf_event__synthesize_mmap_events() and
//! perf_event__synthesize_kernel_mmap() write them: what turns the
//! addresses of a process that was running before recording started
//! into functions.

use std::collections::{BTreeSet, HashMap};
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
        self.record_misc(kind, 0)
    }

    fn record_misc(&self, kind: RecordType, misc: u16) -> Option<SynthRecord> {
        let size = u16::try_from(RecordHeader::SIZE + self.0.len()).ok()?;
        Some(SynthRecord {
            header: RecordHeader { kind, misc, size },
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

/// PERF_RECORD_MISC_KERNEL: a kernel mapping.
pub const MISC_KERNEL: u16 = 1;
/// PERF_RECORD_MISC_USER: a user-space mapping.
pub const MISC_USER: u16 = 2;
/// PERF_RECORD_MISC_MMAP_DATA: a mapping of data, not code.
pub const MISC_MMAP_DATA: u16 = 1 << 13;
/// PERF_RECORD_MISC_MMAP_BUILD_ID: the MMAP2 record carries the file's
/// build-id instead of its device and inode.
pub const MISC_MMAP_BUILD_ID: u16 = 1 << 14;
/// The longest build-id an MMAP2 record holds (a GNU build-id is a SHA-1).
const BUILD_ID_MAX: usize = 20;
/// PROT_READ
const PROT_READ: u32 = 1;
/// PROT_EXEC
const PROT_EXEC: u32 = 4;

/// One line of `/proc/PID/maps`.
///
/// ```text
/// 55d4c5a4d000-55d4c5a7b000 r-xp 00028000 fe:00 1837    /usr/bin/bash
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// PROT_READ, PROT_WRITE, PROT_EXEC bits.
    pub prot: u32,
    /// MAP_SHARED or MAP_PRIVATE.
    pub flags: u32,
    /// Offset in the file.
    pub pgoff: u64,
    /// The file's device, major and minor.
    pub dev: (u32, u32),
    /// The file's inode (0 for anonymous memory).
    pub ino: u64,
    /// The file as the process sees it, `[vdso]` and the like, `//anon`
    /// for anonymous memory (a JIT's code), as perf names it.
    pub path: String,
}

impl Mapping {
    /// Parses a line of `/proc/PID/maps`; the error says which field is
    /// wrong.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut rest = line;
        let mut field = |what: &str| -> Result<&str, String> {
            let t = rest.trim_start_matches(' ');
            let end = t.find(' ').unwrap_or(t.len());
            if end == 0 {
                return Err(format!("no {what}"));
            }
            rest = &t[end..];
            Ok(&t[..end])
        };
        let hex = |what: &str, v: &str| {
            u64::from_str_radix(v, 16).map_err(|_| format!("{what} `{v}` is not hexadecimal"))
        };
        let range = field("address range")?;
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| format!("address range `{range}` is not START-END"))?;
        let (start, end) = (hex("start", start)?, hex("end", end)?);
        if end < start {
            return Err(format!("address range `{range}` ends before it starts"));
        }
        let perms = field("permissions")?;
        let &[r, w, x, shared] = perms.as_bytes() else {
            return Err(format!("permissions `{perms}` are not 4 letters (r-xp)"));
        };
        let bit = |c: u8, yes: u8, v: u32| match c {
            _ if c == yes => Ok(v),
            b'-' => Ok(0),
            _ => Err(format!("permissions `{perms}` are not of the form rwxp")),
        };
        let prot = bit(r, b'r', PROT_READ)? | bit(w, b'w', 2)? | bit(x, b'x', PROT_EXEC)?;
        let flags = match shared {
            b's' => libc::MAP_SHARED as u32,
            b'p' => libc::MAP_PRIVATE as u32,
            _ => return Err(format!("permissions `{perms}` end neither in p nor s")),
        };
        let pgoff = hex("offset", field("offset")?)?;
        let dev = field("device")?;
        let (maj, min) = dev
            .split_once(':')
            .and_then(|(a, b)| {
                Some((
                    u32::from_str_radix(a, 16).ok()?,
                    u32::from_str_radix(b, 16).ok()?,
                ))
            })
            .ok_or_else(|| format!("device `{dev}` is not MAJOR:MINOR in hexadecimal"))?;
        let ino = field("inode")?;
        let ino = ino
            .parse()
            .map_err(|_| format!("inode `{ino}` is not a number"))?;
        // The rest, after the blanks that align it, is the path, blanks and
        // all (a deleted file's ends in ` (deleted)`, as perf keeps it).
        let path = match rest.trim_start_matches(' ') {
            "" => "//anon".to_owned(),
            p => p.to_owned(),
        };
        Ok(Self {
            start,
            end,
            prot,
            flags,
            pgoff,
            dev: (maj, min),
            ino,
            path,
        })
    }

    /// Whether it holds code: what the kernel writes MMAP2 records for
    /// when the side-band event does not ask for data mappings.
    pub fn is_executable(&self) -> bool {
        self.prot & PROT_EXEC != 0
    }
}

/// The build-ids of the files mappings name, read once per file (by
/// device and inode): a machine's processes map the same few libraries.
#[derive(Debug, Default)]
pub struct BuildIds {
    by_file: HashMap<FileId, Option<Vec<u8>>>,
}

/// A file as a mapping names it: its device (major, minor) and inode.
type FileId = ((u32, u32), u64);

impl BuildIds {
    /// The build-id of `m`'s file, read through `/proc/PID/map_files/`
    /// (the very file the process maps, in whatever mount namespace, even
    /// deleted); `None` for anonymous and special mappings and files
    /// without one.
    fn of(&mut self, pid: i32, m: &Mapping) -> Option<Vec<u8>> {
        if m.ino == 0 || !m.path.starts_with('/') {
            return None;
        }
        self.by_file
            .entry((m.dev, m.ino))
            .or_insert_with(|| {
                let link = format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end);
                std::fs::File::open(link).ok().and_then(elf_build_id)
            })
            .clone()
    }
}

/// The GNU build-id of an ELF file, from its notes (`.note.gnu.build-id`);
/// `None` when it is no ELF file or has none. Read through `object`'s
/// read cache: only the headers and notes are read, and nothing is
/// mapped, so a file truncated meanwhile is an error, not a SIGBUS.
pub fn elf_build_id(file: std::fs::File) -> Option<Vec<u8>> {
    let cache = object::ReadCache::new(file);
    let elf = object::File::parse(&cache).ok()?;
    object::Object::build_id(&elf)
        .ok()
        .flatten()
        .filter(|id| !id.is_empty() && id.len() <= BUILD_ID_MAX)
        .map(<[u8]>::to_vec)
}

/// The GNU build-id in a raw note section (what `/sys/kernel/notes`
/// holds: the kernel's own notes); `None` without one.
pub fn notes_build_id(notes: &[u8]) -> Option<Vec<u8>> {
    use object::elf::{FileHeader64, NT_GNU_BUILD_ID};
    let mut it = object::read::elf::NoteIterator::<FileHeader64<object::NativeEndian>>::new(
        object::NativeEndian,
        4,
        notes,
    )
    .ok()?;
    while let Ok(Some(note)) = it.next() {
        if note.name() == b"GNU" && note.n_type(object::NativeEndian) == NT_GNU_BUILD_ID {
            let id = note.desc();
            return (!id.is_empty() && id.len() <= BUILD_ID_MAX).then(|| id.to_vec());
        }
    }
    None
}

/// PERF_RECORD_MMAP2 for mapping `m` of process `pid` (thread `tid`),
/// with `build_id` (PERF_RECORD_MISC_MMAP_BUILD_ID) when there is one,
/// else the file's device and inode; `misc` is its cpumode.
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, tid; u64 addr, len, pgoff;
///          union { struct { u32 maj, min; u64 ino, ino_generation; };
///                  struct { u8 build_id_size, __reserved_1; u16 __reserved_2; u8 build_id[20]; }; };
///          u32 prot, flags; char filename[]; struct sample_id sample_id; };
/// ```
pub fn mmap2_record(
    pid: i32,
    tid: i32,
    m: &Mapping,
    build_id: Option<&[u8]>,
    misc: u16,
) -> Option<SynthRecord> {
    let mut b = Body::default();
    b.i32(pid)
        .i32(tid)
        .u64(m.start)
        .u64(m.end - m.start)
        .u64(m.pgoff);
    let misc = match build_id.filter(|id| id.len() <= BUILD_ID_MAX) {
        Some(id) => {
            let mut union = [0u8; 24];
            union[0] = id.len() as u8;
            union[4..4 + id.len()].copy_from_slice(id);
            b.0.extend_from_slice(&union);
            misc | MISC_MMAP_BUILD_ID
        }
        None => {
            b.u32(m.dev.0).u32(m.dev.1).u64(m.ino).u64(0);
            misc
        }
    };
    b.u32(m.prot)
        .u32(m.flags)
        .string(&m.path)
        .trailer(pid.max(0), tid);
    b.record_misc(RecordType::MMAP2, misc)
}

/// The MMAP2 records of process `pid`'s executable mappings (with
/// `data`, all of them), from its `maps` (the text of `/proc/PID/maps`),
/// each with its file's build-id where it has one. A line that does not
/// parse is skipped: the kernel writes them, and one odd line is no reason
/// to lose the others.
pub fn process_mappings(
    pid: i32,
    maps: &str,
    data: bool,
    build_ids: &mut BuildIds,
) -> Vec<SynthRecord> {
    maps.lines()
        .filter_map(|line| Mapping::parse(line).ok())
        // Data mappings as perf synthesizes them: the readable ones,
        // marked.
        .filter(|m| m.is_executable() || (data && m.prot & PROT_READ != 0))
        .filter_map(|m| {
            let id = build_ids.of(pid, &m);
            let misc = match m.is_executable() {
                true => MISC_USER,
                false => MISC_USER | MISC_MMAP_DATA,
            };
            mmap2_record(pid, pid, &m, id.as_deref(), misc)
        })
        .collect()
}

/// The kernel's text as perf names it for `perf report`: where `_text`
/// (else `_stext`) is, and where the text ends (`_edata`, else `_etext`),
/// from `kallsyms` (the text of `/proc/kallsyms`); `None` when the
/// addresses are hidden (kptr_restrict: all zero) or missing.
pub fn kernel_text(kallsyms: &str) -> Option<(u64, u64)> {
    let mut found: HashMap<&str, u64> = HashMap::new();
    for line in kallsyms.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(addr), Some(_), Some(name), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        if matches!(name, "_text" | "_stext" | "_edata" | "_etext") {
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                found.entry(name).or_insert(a);
            }
        }
    }
    let start = found.get("_text").or(found.get("_stext")).copied()?;
    let end = found.get("_edata").or(found.get("_etext")).copied()?;
    (start != 0 && end > start).then_some((start, end))
}

/// The kernel's mapping, as `perf record --buildid-mmap` synthesizes it:
/// an MMAP2 of pid -1, cpumode kernel, named `[kernel.kallsyms]_text`,
/// from `_text` to the end of the text, whose page offset is `_text`'s
/// address (perf's reference symbol for relocation), with the kernel's
/// build-id when known.
pub fn kernel_mmap_record(text: (u64, u64), build_id: Option<&[u8]>) -> Option<SynthRecord> {
    let m = Mapping {
        start: text.0,
        end: text.1,
        prot: 0,
        flags: 0,
        pgoff: text.0,
        dev: (0, 0),
        ino: 0,
        path: "[kernel.kallsyms]_text".into(),
    };
    mmap2_record(-1, 0, &m, build_id, MISC_KERNEL)
}

/// The mappings of the statedump: the kernel's (when this host shows where
/// it is) and the executable mappings (with `data`, all) of each process
/// of `tasks` (its threads share them), in `/proc` as it is now.
pub fn mappings(tasks: &[TaskSnapshot], kernel: bool, data: bool) -> Vec<SynthRecord> {
    let mut out = Vec::new();
    if kernel {
        let text = std::fs::read_to_string("/proc/kallsyms")
            .ok()
            .and_then(|k| kernel_text(&k));
        let id = std::fs::read("/sys/kernel/notes")
            .ok()
            .and_then(|n| notes_build_id(&n));
        out.extend(text.and_then(|t| kernel_mmap_record(t, id.as_deref())));
    }
    let mut build_ids = BuildIds::default();
    let pids: BTreeSet<i32> = tasks.iter().map(|t| t.pid).collect();
    for pid in pids {
        // Gone since the snapshot, or a kernel thread (no maps): nothing.
        if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            out.extend(process_mappings(pid, &maps, data, &mut build_ids));
        }
    }
    out
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
    fn maps_lines_parse_as_the_kernel_writes_them() {
        let m = Mapping::parse(
            "55d4c5a4d000-55d4c5a7b000 r-xp 00028000 fe:01 1837                       /usr/bin/my prog (deleted)",
        )
        .unwrap();
        assert_eq!(
            m,
            Mapping {
                start: 0x55d4c5a4d000,
                end: 0x55d4c5a7b000,
                prot: PROT_READ | PROT_EXEC,
                flags: libc::MAP_PRIVATE as u32,
                pgoff: 0x28000,
                dev: (0xfe, 1),
                ino: 1837,
                path: "/usr/bin/my prog (deleted)".into(),
            }
        );
        assert!(m.is_executable());
        let anon = Mapping::parse("7f0000000000-7f0000001000 rw-s 00000000 00:00 0 ").unwrap();
        assert_eq!(
            (anon.path.as_str(), anon.prot, anon.flags),
            ("//anon", PROT_READ | 2, libc::MAP_SHARED as u32)
        );
        assert!(!anon.is_executable());
        let vdso = Mapping::parse("7ffd1000-7ffd3000 r-xp 00000000 00:00 0  [vdso]").unwrap();
        assert_eq!(vdso.path, "[vdso]");
        for (line, why) in [
            ("", "no address range"),
            ("zz-10 r-xp 0 00:00 0", "start `zz` is not hexadecimal"),
            ("10 r-xp 0 00:00 0", "address range `10` is not START-END"),
            (
                "20-10 r-xp 0 00:00 0",
                "address range `20-10` ends before it starts",
            ),
            ("10-20", "no permissions"),
            (
                "10-20 r-x 0 00:00 0",
                "permissions `r-x` are not 4 letters (r-xp)",
            ),
            (
                "10-20 rqxp 0 00:00 0",
                "permissions `rqxp` are not of the form rwxp",
            ),
            (
                "10-20 r-xq 0 00:00 0",
                "permissions `r-xq` end neither in p nor s",
            ),
            ("10-20 r-xp 0x 00:00 0", "offset `0x` is not hexadecimal"),
            (
                "10-20 r-xp 0 0000 0",
                "device `0000` is not MAJOR:MINOR in hexadecimal",
            ),
            ("10-20 r-xp 0 00:00 -1", "inode `-1` is not a number"),
            ("10-20 r-xp 0 00:00", "no inode"),
        ] {
            assert_eq!(Mapping::parse(line).unwrap_err(), why, "{line:?}");
        }
    }

    /// The bytes of a record's body, from `at`, as u64s.
    fn u64s_at(body: &[u8], at: usize, n: usize) -> Vec<u64> {
        body[at..at + 8 * n]
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn mmap2_records_carry_a_build_id_or_the_inode() {
        let m = Mapping::parse("1000-3000 r-xp 00001000 fe:01 77 /bin/x").unwrap();
        let id: Vec<u8> = (1..=20).collect();
        let with = mmap2_record(42, 42, &m, Some(&id), MISC_USER).unwrap();
        assert_eq!(with.header.misc, MISC_USER | MISC_MMAP_BUILD_ID);
        // pid, tid; addr, len, pgoff; the union; prot, flags; filename.
        assert_eq!(&with.body[0..8], &u32s(&[42, 42]));
        assert_eq!(u64s_at(&with.body, 8, 3), [0x1000, 0x2000, 0x1000]);
        assert_eq!(with.body[32], 20, "build_id_size");
        assert_eq!(&with.body[36..56], &id[..]);
        assert_eq!(&with.body[56..64], &u32s(&[PROT_READ | PROT_EXEC, 2]));
        assert_eq!(&with.body[64..72], b"/bin/x\0\0");
        // The sample_id trailer is the recording's.
        assert_eq!(with.body.len(), 72 + SAMPLE_FORMAT.sample_id_size());
        match parse(&with) {
            Record::Mmap2(r) => assert_eq!(
                (r.pid, r.addr, r.len, r.pgoff, r.filename.as_str()),
                (42, 0x1000, 0x2000, 0x1000, "/bin/x")
            ),
            other => panic!("{other:?}"),
        }
        let without = mmap2_record(42, 42, &m, None, MISC_USER).unwrap();
        assert_eq!(without.header.misc, MISC_USER);
        assert_eq!(&without.body[32..40], &u32s(&[0xfe, 1]));
        assert_eq!(u64s_at(&without.body, 40, 2), [77, 0]);
        // A build-id longer than the record holds is left out.
        let long = vec![7u8; 21];
        let r = mmap2_record(42, 42, &m, Some(&long), MISC_USER).unwrap();
        assert_eq!(r.header.misc, MISC_USER);
    }

    fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    #[test]
    fn only_executable_mappings_unless_data_too() {
        let maps = "\
1000-2000 r--p 00000000 00:00 0 /nonexistent/a
2000-3000 r-xp 00001000 00:00 0 /nonexistent/a
3000-4000 rw-p 00000000 00:00 0 [heap]
4000-5000 ---p 00000000 00:00 0
not a mapping at all
5000-6000 --xp 00000000 00:00 0 [vsyscall]
";
        let mut ids = BuildIds::default();
        let starts = |data| -> Vec<(u64, u16)> {
            process_mappings(1, maps, data, &mut BuildIds::default())
                .iter()
                .map(|r| (u64s_at(&r.body, 8, 1)[0], r.header.misc))
                .collect()
        };
        assert_eq!(starts(false), [(0x2000, MISC_USER), (0x5000, MISC_USER)]);
        let data = MISC_USER | MISC_MMAP_DATA;
        assert_eq!(
            starts(true),
            [
                (0x1000, data),
                (0x2000, MISC_USER),
                (0x3000, data),
                (0x5000, MISC_USER)
            ]
        );
        // No inode: no build-id looked for.
        assert!(process_mappings(1, maps, false, &mut ids)
            .iter()
            .all(|r| r.header.misc & MISC_MMAP_BUILD_ID == 0));
        assert!(ids.by_file.is_empty());
    }

    #[test]
    fn the_kernels_text_comes_from_kallsyms() {
        let kallsyms = "\
0000000000000000 A fixed_percpu_data
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff8225b140 T _etext
ffffffffc0000000 t foo\t[some_module]
";
        assert_eq!(
            kernel_text(kallsyms),
            Some((0xffffffff81000000, 0xffffffff8225b140))
        );
        let with_edata = format!("{kallsyms}ffffffff83000000 D _edata\n");
        assert_eq!(
            kernel_text(&with_edata),
            Some((0xffffffff81000000, 0xffffffff83000000))
        );
        // kptr_restrict: every address 0.
        assert_eq!(
            kernel_text("0000000000000000 T _text\n0000000000000000 T _etext\n"),
            None
        );
        assert_eq!(kernel_text("garbage\n\n"), None);
        let r = kernel_mmap_record((0xffffffff81000000, 0xffffffff8225b140), Some(&[0xab; 20]))
            .unwrap();
        assert_eq!(r.header.misc, MISC_KERNEL | MISC_MMAP_BUILD_ID);
        assert_eq!(&r.body[0..8], &u32s(&[u32::MAX, 0]), "pid -1, tid 0");
        assert_eq!(
            u64s_at(&r.body, 8, 3),
            [0xffffffff81000000, 0x125b140, 0xffffffff81000000]
        );
        assert_eq!(&r.body[64..88], b"[kernel.kallsyms]_text\0\0");
    }

    #[test]
    fn build_ids_come_from_gnu_notes() {
        // Elf64_Nhdr { namesz 4, descsz, type }, "GNU\0", desc.
        let note = |name: &[u8; 4], kind: u32, desc: &[u8]| -> Vec<u8> {
            let mut n = u32s(&[4, desc.len() as u32, kind]);
            n.extend_from_slice(name);
            n.extend_from_slice(desc);
            n.resize(n.len().next_multiple_of(4), 0);
            n
        };
        let id: Vec<u8> = (0..20).collect();
        let notes = [
            note(b"Xen\0", 3, &[1, 2, 3, 4]),
            note(b"GNU\0", 1, &[0; 16]),
            note(b"GNU\0", 3, &id),
        ]
        .concat();
        assert_eq!(notes_build_id(&notes), Some(id));
        assert_eq!(notes_build_id(&notes[..notes.len() - 8]), None, "cut");
        assert_eq!(notes_build_id(&[1, 2, 3]), None);
        // This test's own executable (Rust's linker asks for a build-id on
        // Debian, but not everywhere: only that it never fails).
        let me = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
        if let Some(id) = elf_build_id(me) {
            assert!((1..=20).contains(&id.len()));
        }
        let not_elf = tempfile::tempfile().unwrap();
        assert_eq!(elf_build_id(not_elf), None);
    }

    #[test]
    fn the_mappings_of_this_process_name_its_executable() {
        let me = std::process::id() as i32;
        let t = crate::session::tasks::read_task(me, me).unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let recs = mappings(std::slice::from_ref(&t), false, false);
        let names: Vec<String> = recs
            .iter()
            .map(|r| match parse(r) {
                Record::Mmap2(m) => m.filename,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            names.iter().any(|n| Path::new(n) == exe),
            "{exe:?} in {names:?}"
        );
        // Read through map_files: the build-id of the file this process
        // runs, if it has one.
        if let Some(id) = elf_build_id(std::fs::File::open(&exe).unwrap()) {
            assert!(recs
                .iter()
                .any(|r| r.header.misc & MISC_MMAP_BUILD_ID != 0
                    && r.body[36..36 + id.len()] == id[..]));
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

//! Feature sections: the facts about a recording that follow its data
//! (host, kernel, cpus, command line, event names, tracepoint formats) and
//! the perfns extension.
//!
//! Each feature is a bit in the header's bitmap; the sections of the set
//! bits follow the data section as a table of `perf_file_section`s, lowest
//! bit first. perf (tools/perf/util/header.c) reads only the bits it knows
//! (below HEADER_LAST_FEATURE) and skips the others, which is what lets
//! perfns add its own.

use std::path::Path;

use byteorder::ByteOrder;

use super::compressed::Compression;
use super::PerfDataError;
use crate::container::{MetaError, RecordingMeta};
use crate::error::FileError;
use crate::tracepoint::{Tracefs, TracepointFormat};

/// Feature bit numbers (`enum { HEADER_TRACING_DATA = 1, ... }` in
/// tools/perf/util/header.h, 6.12), for the ones perfns reads or writes.
pub mod feature {
    /// HEADER_TRACING_DATA: tracepoint formats, in tracing-data form.
    pub const TRACING_DATA: usize = 1;
    /// HEADER_BUILD_ID
    pub const BUILD_ID: usize = 2;
    /// HEADER_HOSTNAME: a string.
    pub const HOSTNAME: usize = 3;
    /// HEADER_OSRELEASE: a string (uname -r).
    pub const OSRELEASE: usize = 4;
    /// HEADER_VERSION: a string, the writing tool's version.
    pub const VERSION: usize = 5;
    /// HEADER_ARCH: a string (uname -m).
    pub const ARCH: usize = 6;
    /// HEADER_NRCPUS: u32 available, u32 online.
    pub const NRCPUS: usize = 7;
    /// HEADER_CMDLINE: u32 count, then that many strings.
    pub const CMDLINE: usize = 11;
    /// HEADER_EVENT_DESC: each event's attr, name and ids.
    pub const EVENT_DESC: usize = 12;
    /// HEADER_COMPRESSED: how PERF_RECORD_COMPRESSED records were made.
    pub const COMPRESSED: usize = 27;
    /// HEADER_LAST_FEATURE of perf 6.12: perf reads no bit from here up.
    pub const PERF_LAST_FEATURE: usize = 32;
    /// The perfns extension: opaque bytes (JSON defined by
    /// `crate::container`). The top bit of the 256-bit map, as far as
    /// possible from perf's own numbers, which grow from 1 upwards by about
    /// one a year; perf skips bits at or above its HEADER_LAST_FEATURE.
    pub const PERFNS: usize = 255;

    /// The feature's name as perf spells it (without `HEADER_`).
    pub fn name(bit: usize) -> &'static str {
        match bit {
            TRACING_DATA => "TRACING_DATA",
            BUILD_ID => "BUILD_ID",
            HOSTNAME => "HOSTNAME",
            OSRELEASE => "OSRELEASE",
            VERSION => "VERSION",
            ARCH => "ARCH",
            NRCPUS => "NRCPUS",
            CMDLINE => "CMDLINE",
            EVENT_DESC => "EVENT_DESC",
            COMPRESSED => "COMPRESSED",
            PERFNS => "PERFNS",
            _ => "(other)",
        }
    }
}

/// HEADER_NRCPUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NrCpus {
    /// CPUs the machine can have (perf: the highest present cpu + 1).
    pub available: u32,
    /// CPUs online when recording.
    pub online: u32,
}

/// One tracepoint's format, as tracefs prints it in `events/SYS/NAME/format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointFormatText {
    /// The tracepoint's system (`sched`).
    pub system: String,
    /// The format text (`name: ...\nID: ...\nformat:\n...`).
    pub text: String,
}

impl TracepointFormatText {
    fn line_value(&self, key: &str) -> Option<&str> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    }

    /// The tracepoint's name, from its `name:` line.
    pub fn name(&self) -> Option<&str> {
        self.line_value("name:")
    }

    /// The tracepoint's id (the attr's `config`), from its `ID:` line.
    pub fn id(&self) -> Option<u64> {
        self.line_value("ID:")?.parse().ok()
    }
}

/// HEADER_TRACING_DATA: what libtraceevent needs to decode tracepoint
/// payloads (tools/perf/util/trace-event-info.c writes it,
/// trace-event-read.c reads it).
///
/// perfns writes version 0.6 with no ftrace formats, no kallsyms, no printk
/// formats and no saved cmdlines; it reads and keeps the formats, and skips
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingData {
    /// The tracing-data version string ("0.6").
    pub version: String,
    /// Whether the numbers in it are big-endian. The writer always writes
    /// native byte order and ignores this.
    pub big_endian: bool,
    /// sizeof(long) of the recorded kernel.
    pub long_size: u8,
    /// Its page size.
    pub page_size: u32,
    /// The text of tracefs `events/header_page`.
    pub header_page: String,
    /// The text of tracefs `events/header_event`.
    pub header_event: String,
    /// ftrace's own event formats (perf writes them; perfns writes none).
    pub ftrace_formats: Vec<String>,
    /// The tracepoint formats, each with its system.
    pub formats: Vec<TracepointFormatText>,
}

impl TracingData {
    /// Tracing data for this machine: version 0.6, native byte order,
    /// this machine's long and page size.
    pub fn new(
        header_page: String,
        header_event: String,
        formats: Vec<TracepointFormatText>,
    ) -> Self {
        let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(4096);
        Self {
            version: "0.6".into(),
            big_endian: cfg!(target_endian = "big"),
            long_size: std::mem::size_of::<std::ffi::c_long>() as u8,
            page_size,
            header_page,
            header_event,
            ftrace_formats: Vec::new(),
            formats,
        }
    }

    /// Tracing data for `formats`, with header_page and header_event read
    /// from `tracefs`.
    pub fn from_tracefs(
        tracefs: &Tracefs,
        formats: &[TracepointFormat],
    ) -> Result<Self, FileError> {
        let read = |name: &str| {
            let p = tracefs.root().join("events").join(name);
            read_tracefs_file(&p).map_err(|source| FileError { path: p, source })
        };
        let formats = formats
            .iter()
            .map(|f| TracepointFormatText {
                system: f.system.clone(),
                text: f.text.clone(),
            })
            .collect();
        Ok(Self::new(
            read("header_page")?,
            read("header_event")?,
            formats,
        ))
    }

    /// The format of the tracepoint with id `id`.
    pub fn format_by_id(&self, id: u64) -> Option<&TracepointFormatText> {
        self.formats.iter().find(|f| f.id() == Some(id))
    }

    /// Encodes in native byte order, as trace-event-info.c writes it.
    pub(crate) fn to_ne_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&[0x17, 0x08, 0x44]);
        b.extend_from_slice(b"tracing");
        b.extend_from_slice(b"0.6\0");
        b.push(u8::from(cfg!(target_endian = "big")));
        b.push(self.long_size);
        b.extend_from_slice(&self.page_size.to_ne_bytes());
        b.extend_from_slice(b"header_page\0");
        b.extend_from_slice(&(self.header_page.len() as u64).to_ne_bytes());
        b.extend_from_slice(self.header_page.as_bytes());
        b.extend_from_slice(b"header_event\0");
        b.extend_from_slice(&(self.header_event.len() as u64).to_ne_bytes());
        b.extend_from_slice(self.header_event.as_bytes());
        b.extend_from_slice(&(self.ftrace_formats.len() as u32).to_ne_bytes());
        for f in &self.ftrace_formats {
            b.extend_from_slice(&(f.len() as u64).to_ne_bytes());
            b.extend_from_slice(f.as_bytes());
        }
        // Systems in order of first appearance, each with its formats.
        let mut systems: Vec<&str> = Vec::new();
        for f in &self.formats {
            if !systems.contains(&f.system.as_str()) {
                systems.push(&f.system);
            }
        }
        b.extend_from_slice(&(systems.len() as u32).to_ne_bytes());
        for sys in systems {
            b.extend_from_slice(sys.as_bytes());
            b.push(0);
            let of_sys: Vec<_> = self.formats.iter().filter(|f| f.system == sys).collect();
            b.extend_from_slice(&(of_sys.len() as u32).to_ne_bytes());
            for f in of_sys {
                b.extend_from_slice(&(f.text.len() as u64).to_ne_bytes());
                b.extend_from_slice(f.text.as_bytes());
            }
        }
        b.extend_from_slice(&0u32.to_ne_bytes()); // kallsyms
        b.extend_from_slice(&0u32.to_ne_bytes()); // printk formats
        b.extend_from_slice(&0u64.to_ne_bytes()); // saved cmdlines (0.6)
        b
    }

    fn parse(c: &mut FeatureCursor<'_, '_>) -> Result<Self, PerfDataError> {
        if c.bytes(3)? != [0x17, 0x08, 0x44] || c.bytes(7)? != b"tracing" {
            return Err(c.error("no \\x17\\x08\\x44tracing magic"));
        }
        let version = c.c_string()?;
        let big_endian = c.bytes(1)?[0] != 0;
        let long_size = c.bytes(1)?[0];
        if big_endian {
            Self::parse_rest::<byteorder::BigEndian>(c, version, big_endian, long_size)
        } else {
            Self::parse_rest::<byteorder::LittleEndian>(c, version, big_endian, long_size)
        }
    }

    fn parse_rest<T: ByteOrder>(
        c: &mut FeatureCursor<'_, '_>,
        version: String,
        big_endian: bool,
        long_size: u8,
    ) -> Result<Self, PerfDataError> {
        let page_size = T::read_u32(c.bytes(4)?);
        if c.bytes(12)? != b"header_page\0" {
            return Err(c.error("no header_page"));
        }
        let n = T::read_u64(c.bytes(8)?);
        let header_page = c.text(n)?;
        if c.bytes(13)? != b"header_event\0" {
            return Err(c.error("no header_event"));
        }
        let n = T::read_u64(c.bytes(8)?);
        let header_event = c.text(n)?;
        let nr_ftrace = T::read_u32(c.bytes(4)?);
        let mut ftrace_formats = Vec::new();
        for _ in 0..nr_ftrace {
            let n = T::read_u64(c.bytes(8)?);
            ftrace_formats.push(c.text(n)?);
        }
        let nr_systems = T::read_u32(c.bytes(4)?);
        let mut formats = Vec::new();
        for _ in 0..nr_systems {
            let at = c.pos;
            let system = c.c_string()?;
            // Every format below keeps a copy of the system's name: a name
            // as long as the section would cost memory quadratic in its size.
            if system.len() > MAX_SYSTEM_NAME {
                c.pos = at;
                return Err(c.error(format!(
                    "tracepoint system name of {} bytes, longer than a tracefs \
                     directory name can be ({MAX_SYSTEM_NAME})",
                    system.len()
                )));
            }
            let count = T::read_u32(c.bytes(4)?);
            for _ in 0..count {
                let n = T::read_u64(c.bytes(8)?);
                formats.push(TracepointFormatText {
                    system: system.clone(),
                    text: c.text(n)?,
                });
            }
        }
        // kallsyms and printk formats: u32 size, then that many bytes.
        for _ in 0..2 {
            let n = T::read_u32(c.bytes(4)?);
            c.bytes(n as u64)?;
        }
        // Saved cmdlines since 0.6 (trace-event-read.c compares with atof).
        if version.parse::<f64>().is_ok_and(|v| v >= 0.6) {
            let n = T::read_u64(c.bytes(8)?);
            c.bytes(n)?;
        }
        Ok(Self {
            version,
            big_endian,
            long_size,
            page_size,
            header_page,
            header_event,
            ftrace_formats,
            formats,
        })
    }
}

/// The longest tracepoint system name: a directory name in tracefs
/// (NAME_MAX).
const MAX_SYSTEM_NAME: usize = 255;

/// Reads a tracefs file with reads of 64 KiB.
///
/// tracefs reports a size of 0, so `std::fs::read_to_string` starts with a
/// 32-byte probe; `events/header_page` (6.18) read in 32-byte pieces yields
/// only its first 32 bytes. perf reads with BUFSIZ (8 KiB) buffers and gets
/// the whole text.
fn read_tracefs_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// One entry of HEADER_BUILD_ID: a file and its build-id, as perf's
/// `write_buildid()` writes it and `perf buildid-list -i` lists it.
///
/// ```c
/// struct perf_record_header_build_id {
///     struct perf_event_header header;  /* type 0, misc, size: all of it */
///     pid_t pid;                        /* -1 (HOST_KERNEL_ID): the host's */
///     union {
///         u8 build_id[24];
///         struct { u8 data[20]; u8 size; u8 reserved1__; u16 reserved2__; };
///     };
///     char filename[];                  /* NUL-terminated, padded to 64 */
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildId {
    /// The machine: -1 (perf's HOST_KERNEL_ID) for the host's files.
    pub pid: i32,
    /// PERF_RECORD_MISC_USER or _KERNEL (the file's cpumode); the
    /// PERF_RECORD_MISC_BUILD_ID_SIZE bit is the writer's.
    pub misc: u16,
    /// The build-id (up to 20 bytes: GNU's are a SHA-1).
    pub id: Vec<u8>,
    /// The file's path.
    pub filename: String,
}

impl BuildId {
    /// PERF_RECORD_MISC_USER: a user-space file.
    pub const MISC_USER: u16 = 2;
    /// PERF_RECORD_MISC_BUILD_ID_SIZE: the entry says its build-id's size.
    const MISC_SIZE: u16 = 1 << 15;
    /// The fixed part's size: header, pid and the 24-byte union.
    const FIXED: usize = 8 + 4 + 24;

    /// A user-space file of the host, `filename`, with build-id `id`.
    pub fn user(filename: impl Into<String>, id: Vec<u8>) -> Self {
        Self {
            pid: -1,
            misc: Self::MISC_USER,
            id,
            filename: filename.into(),
        }
    }

    /// The build-id in hex, as perf prints it.
    pub fn hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        const NAME_ALIGN: usize = 64;
        let name_len = (self.filename.len() + 1).div_ceil(NAME_ALIGN) * NAME_ALIGN;
        let id = &self.id[..self.id.len().min(20)];
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&(self.misc | Self::MISC_SIZE).to_ne_bytes());
        out.extend_from_slice(&((Self::FIXED + name_len) as u16).to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
        let mut union = [0u8; 24];
        union[..id.len()].copy_from_slice(id);
        union[20] = id.len() as u8;
        out.extend_from_slice(&union);
        out.extend_from_slice(self.filename.as_bytes());
        out.resize(out.len() + name_len - self.filename.len(), 0);
    }

    /// The entries of a HEADER_BUILD_ID section.
    fn decode_all<O: ByteOrder>(c: &mut FeatureCursor<'_, '_>) -> Result<Vec<Self>, PerfDataError> {
        let mut out = Vec::new();
        while c.pos < c.bytes.len() {
            let at = c.pos;
            let fixed = c.bytes(Self::FIXED as u64)?;
            let misc = O::read_u16(&fixed[4..6]);
            let size = usize::from(O::read_u16(&fixed[6..8]));
            if size < Self::FIXED {
                c.pos = at;
                return Err(c.error(format!(
                    "a build-id entry of {size} bytes, less than its fixed {} bytes",
                    Self::FIXED
                )));
            }
            let pid = O::read_i32(&fixed[8..12]);
            let union = &fixed[12..36];
            // Without MISC_BUILD_ID_SIZE (perf before 5.9): 20 bytes.
            let len = if misc & Self::MISC_SIZE != 0 {
                usize::from(union[20]).min(20)
            } else {
                20
            };
            let id = union[..len].to_vec();
            let name = c.bytes((size - Self::FIXED) as u64)?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            out.push(Self {
                pid,
                misc: misc & !Self::MISC_SIZE,
                id,
                filename: String::from_utf8_lossy(&name[..end]).into_owned(),
            });
        }
        Ok(out)
    }
}

/// What a recording says about itself, from its feature sections.
///
/// Every field is optional: a file has the features its writer chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// HEADER_HOSTNAME
    pub hostname: Option<String>,
    /// HEADER_OSRELEASE: the kernel release.
    pub os_release: Option<String>,
    /// HEADER_VERSION: the writing tool's version (`perfns 0.1.0`, or
    /// perf's version).
    pub version: Option<String>,
    /// HEADER_ARCH: the machine (`x86_64`).
    pub arch: Option<String>,
    /// HEADER_NRCPUS
    pub nr_cpus: Option<NrCpus>,
    /// HEADER_CMDLINE: the recording command, program first.
    pub cmdline: Option<Vec<String>>,
    /// HEADER_EVENT_DESC: the event names, in its order. Read only: the
    /// writer writes EVENT_DESC from the events given to
    /// [`super::PerfFileWriter::create`] and ignores this field.
    pub event_names: Vec<String>,
    /// HEADER_TRACING_DATA: the tracepoint formats.
    pub tracing_data: Option<TracingData>,
    /// HEADER_BUILD_ID: the build-ids of files the recording is about
    /// (perfns record: the files its uprobes are on).
    pub build_ids: Vec<BuildId>,
    /// HEADER_COMPRESSED: the records were compressed (`perf record -z`),
    /// how.
    pub compressed: Option<Compression>,
    /// The perfns extension (feature bit [`feature::PERFNS`]): opaque bytes,
    /// JSON defined by `crate::container`.
    pub perfns: Option<Vec<u8>>,
}

/// The recording's own description, read from its perfns feature section:
/// here, beside the section, so that [`crate::container`] needs nothing of
/// the file format.
impl RecordingMeta {
    /// The metadata of a recording, from its features: `Ok(None)` when it
    /// has no perfns extension (perf's own recordings).
    pub fn from_features(features: &Features) -> Result<Option<Self>, MetaError> {
        features.perfns.as_deref().map(Self::from_json).transpose()
    }
}

impl Features {
    /// The host facts of this machine: hostname, kernel release, arch, cpu
    /// counts, `perfns <version>` and this process's command line.
    pub fn for_this_host() -> Self {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref().map(|u| f(u).to_string_lossy().into_owned())
        };
        let cpus = |v| {
            nix::unistd::sysconf(v)
                .ok()
                .flatten()
                .and_then(|n| u32::try_from(n).ok())
        };
        use nix::unistd::SysconfVar;
        let nr_cpus = match (
            cpus(SysconfVar::_NPROCESSORS_CONF),
            cpus(SysconfVar::_NPROCESSORS_ONLN),
        ) {
            (Some(available), Some(online)) => Some(NrCpus { available, online }),
            _ => None,
        };
        Self {
            hostname: field(|u| u.nodename()),
            os_release: field(|u| u.release()),
            version: Some(format!("perfns {}", env!("CARGO_PKG_VERSION"))),
            arch: field(|u| u.machine()),
            nr_cpus,
            cmdline: Some(std::env::args().collect()),
            ..Self::default()
        }
    }
}

/// A feature section as written: its bit and its bytes.
pub(crate) struct FeatureBody {
    pub bit: usize,
    pub bytes: Vec<u8>,
}

/// perf's `do_write_string`: u32 length (NUL included, padded to 64), then
/// the string, NUL and zero padding.
pub(crate) fn put_string(b: &mut Vec<u8>, s: &str) {
    const NAME_ALIGN: usize = 64;
    let len = (s.len() + 1).div_ceil(NAME_ALIGN) * NAME_ALIGN;
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(s.as_bytes());
    b.resize(b.len() + len - s.len(), 0);
}

/// Encodes the features that are present, lowest bit first. `event_desc`
/// is the EVENT_DESC body, built by the writer from its events.
pub(crate) fn encode(f: &Features, event_desc: Vec<u8>) -> Vec<FeatureBody> {
    let mut out = Vec::new();
    let string = |bit, s: &Option<String>, out: &mut Vec<FeatureBody>| {
        if let Some(s) = s {
            let mut bytes = Vec::new();
            put_string(&mut bytes, s);
            out.push(FeatureBody { bit, bytes });
        }
    };
    if let Some(t) = &f.tracing_data {
        out.push(FeatureBody {
            bit: feature::TRACING_DATA,
            bytes: t.to_ne_bytes(),
        });
    }
    if !f.build_ids.is_empty() {
        let mut bytes = Vec::new();
        for b in &f.build_ids {
            b.encode(&mut bytes);
        }
        out.push(FeatureBody {
            bit: feature::BUILD_ID,
            bytes,
        });
    }
    string(feature::HOSTNAME, &f.hostname, &mut out);
    string(feature::OSRELEASE, &f.os_release, &mut out);
    string(feature::VERSION, &f.version, &mut out);
    string(feature::ARCH, &f.arch, &mut out);
    if let Some(n) = f.nr_cpus {
        let mut bytes = n.available.to_ne_bytes().to_vec();
        bytes.extend_from_slice(&n.online.to_ne_bytes());
        out.push(FeatureBody {
            bit: feature::NRCPUS,
            bytes,
        });
    }
    if let Some(args) = &f.cmdline {
        let mut bytes = (args.len() as u32).to_ne_bytes().to_vec();
        for a in args {
            put_string(&mut bytes, a);
        }
        out.push(FeatureBody {
            bit: feature::CMDLINE,
            bytes,
        });
    }
    out.push(FeatureBody {
        bit: feature::EVENT_DESC,
        bytes: event_desc,
    });
    if let Some(c) = f.compressed {
        out.push(FeatureBody {
            bit: feature::COMPRESSED,
            bytes: c.to_ne_bytes(),
        });
    }
    if let Some(p) = &f.perfns {
        out.push(FeatureBody {
            bit: feature::PERFNS,
            bytes: p.clone(),
        });
    }
    out
}

/// One EVENT_DESC entry as read: the name and ids (the attr is in the
/// attr section too).
pub(crate) struct EventDescEntry {
    pub name: String,
    pub ids: Vec<u64>,
}

/// A bounds-checked reader over one feature section that reports the file
/// offset of what it failed to read.
pub(crate) struct FeatureCursor<'a, 'p> {
    pub bytes: &'a [u8],
    pub pos: usize,
    /// The section's file offset.
    pub base: u64,
    pub feature: &'static str,
    pub path: &'p Path,
}

impl<'a> FeatureCursor<'a, '_> {
    pub fn error(&self, reason: impl Into<String>) -> PerfDataError {
        PerfDataError::Feature {
            path: self.path.to_path_buf(),
            feature: self.feature,
            offset: self.base + self.pos as u64,
            reason: reason.into(),
        }
    }

    pub fn bytes(&mut self, n: u64) -> Result<&'a [u8], PerfDataError> {
        let left = self.bytes.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => {
                let out = &self.bytes[self.pos..self.pos + n];
                self.pos += n;
                Ok(out)
            }
            _ => Err(self.error(format!("needs {n} bytes, the section has {left} left"))),
        }
    }

    /// `n` bytes as text, up to the first NUL.
    pub fn text(&mut self, n: u64) -> Result<String, PerfDataError> {
        let b = self.bytes(n)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        Ok(String::from_utf8_lossy(&b[..end]).into_owned())
    }

    /// A NUL-terminated string.
    pub fn c_string(&mut self) -> Result<String, PerfDataError> {
        let rest = &self.bytes[self.pos..];
        let nul = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| self.error("string is not NUL-terminated"))?;
        let s = String::from_utf8_lossy(&rest[..nul]).into_owned();
        self.pos += nul + 1;
        Ok(s)
    }

    /// perf's `do_read_string`: u32 length, then that many bytes holding a
    /// NUL-terminated string.
    pub fn perf_string<O: ByteOrder>(&mut self) -> Result<String, PerfDataError> {
        let n = O::read_u32(self.bytes(4)?);
        self.text(u64::from(n))
    }
}

/// Decodes one feature section into `f`. Bits perfns does not read are
/// skipped, as perf skips the ones it does not know.
pub(crate) fn decode<O: ByteOrder>(
    bit: usize,
    c: &mut FeatureCursor<'_, '_>,
    f: &mut Features,
    event_desc: &mut Vec<EventDescEntry>,
) -> Result<(), PerfDataError> {
    match bit {
        feature::HOSTNAME => f.hostname = Some(c.perf_string::<O>()?),
        feature::OSRELEASE => f.os_release = Some(c.perf_string::<O>()?),
        feature::VERSION => f.version = Some(c.perf_string::<O>()?),
        feature::ARCH => f.arch = Some(c.perf_string::<O>()?),
        feature::NRCPUS => {
            let available = O::read_u32(c.bytes(4)?);
            let online = O::read_u32(c.bytes(4)?);
            f.nr_cpus = Some(NrCpus { available, online });
        }
        feature::CMDLINE => {
            let n = O::read_u32(c.bytes(4)?);
            // Each string takes at least its 4-byte length.
            if n as usize > c.bytes.len() / 4 {
                return Err(c.error(format!("{n} arguments do not fit in the section")));
            }
            let mut args = Vec::with_capacity(n as usize);
            for _ in 0..n {
                args.push(c.perf_string::<O>()?);
            }
            f.cmdline = Some(args);
        }
        feature::EVENT_DESC => {
            let nr = O::read_u32(c.bytes(4)?);
            let attr_size = O::read_u32(c.bytes(4)?);
            if nr as usize > c.bytes.len() / 8 {
                return Err(c.error(format!("{nr} events do not fit in the section")));
            }
            for _ in 0..nr {
                c.bytes(u64::from(attr_size))?;
                let nr_ids = O::read_u32(c.bytes(4)?);
                let name = c.perf_string::<O>()?;
                let ids = c.bytes(u64::from(nr_ids) * 8)?;
                let ids = ids.chunks_exact(8).map(O::read_u64).collect();
                f.event_names.push(name.clone());
                event_desc.push(EventDescEntry { name, ids });
            }
        }
        feature::TRACING_DATA => f.tracing_data = Some(TracingData::parse(c)?),
        feature::BUILD_ID => f.build_ids = BuildId::decode_all::<O>(c)?,
        feature::COMPRESSED => {
            let section = c.bytes(20)?;
            f.compressed = Compression::from_section::<O>(section);
        }
        feature::PERFNS => f.perfns = Some(c.bytes.to_vec()),
        _ => {}
    }
    Ok(())
}

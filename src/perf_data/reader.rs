//! Reading a recording: the header, attrs and features when the file is
//! opened (or, for a pipe-mode stream, the header records at its start),
//! then the records, in time order: as an iterator that borrows them from
//! a memory map of the file, or one at a time, decompressed or read from a
//! stream, from memory the reader owns.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use byteorder::{BigEndian, ByteOrder, LittleEndian};
use memmap2::UncheckedAdvice;

use super::chunks::{Chunks, Loc, NO_CHUNKS};
use super::compressed::Decompressor;
use super::features::{
    decode, feature, EventDescEntry, FeatureCursor, Features, TracepointFormatText,
};
use super::header::{FileHeader, FileSection, HEADER_SIZE_NO_FEATURES, MAGIC, SECTION_SIZE};
use super::mapped::MappedFile;
use super::pipe::{self, SectionParts, StreamInput, PIPE_HEADER_SIZE};
use super::PerfDataError;
use crate::attr::{flags, kind, AttrSet, EventAttr, EventDesc, SampleLayout, ATTR_SIZE_VER0};
use crate::container::{RecordingMeta, RecordingMode};
use crate::error::ParseError;
use crate::record::{RawData, RawRecord, Record, RecordHeader, RecordType, Sample};

/// The byte order of a file, from its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

/// An open recording: its events and features, and its records on demand.
pub struct PerfFileReader {
    path: PathBuf,
    /// The file's map; `None` for a pipe-mode stream.
    map: Option<MappedFile>,
    /// A pipe-mode stream after its header records, until its records are
    /// read ([`Self::stream`]).
    stream: Mutex<Option<StreamInput>>,
    /// A pipe-mode stream's size, when it is a file.
    stream_size: Option<u64>,
    endian: Endian,
    data: Range<usize>,
    events: AttrSet,
    features: Features,
    /// For a file opened with [`PerfFileReader::open_truncated`] that was
    /// cut short: the data section's size according to the header.
    truncated_from: Option<u64>,
    /// The perfns extension says the events were tracer-scoped: the file
    /// stores PERF_RECORD_TRACER_NAMESPACES as NAMESPACES.
    tracer_scope: bool,
}

impl std::fmt::Debug for PerfFileReader {
    /// A summary: the features' texts (tracepoint formats) are long.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .events
            .events()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        f.debug_struct("PerfFileReader")
            .field("path", &self.path)
            .field("endian", &self.endian)
            .field("data", &self.data)
            .field("events", &names)
            .finish_non_exhaustive()
    }
}

impl PerfFileReader {
    /// Opens `path`, checks its header and the bounds of every section
    /// against the file size, and reads its attrs, ids and features.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PerfDataError> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens a file whose data section may run past its end (a copy cut
    /// short, a disk that filled up): the records that are there can be
    /// read, up to the first cut one, which ends the iteration with
    /// [`PerfDataError::RecordPastEnd`]. The feature sections, which follow
    /// the data, are gone: events are named `type:config` and tracepoint
    /// formats are unknown. [`Self::truncated_from`] says whether the file
    /// was cut. A file that is whole opens as with [`Self::open`].
    pub fn open_truncated(path: impl AsRef<Path>) -> Result<Self, PerfDataError> {
        Self::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, allow_truncated: bool) -> Result<Self, PerfDataError> {
        let path = path.to_path_buf();
        let io = |what, source| PerfDataError::Io {
            path: path.clone(),
            what,
            source,
        };
        let mut file = File::open(&path).map_err(|e| io("opening the recording", e))?;
        let file_size = file
            .metadata()
            .map_err(|e| io("reading the recording's size", e))?
            .len();
        let mut start = [0u8; PIPE_HEADER_SIZE as usize];
        if file_size >= PIPE_HEADER_SIZE {
            file.read_exact(&mut start)
                .map_err(|e| io("reading the file header", e))?;
            let endian = endian_of(&path, &start)?;
            let size = match endian {
                Endian::Little => LittleEndian::read_u64(&start[8..16]),
                Endian::Big => BigEndian::read_u64(&start[8..16]),
            };
            if size == PIPE_HEADER_SIZE {
                let read = std::io::BufReader::with_capacity(256 << 10, file);
                return Self::from_stream(path, endian, Box::new(read), Some(file_size));
            }
        }
        if file_size < HEADER_SIZE_NO_FEATURES {
            return Err(PerfDataError::HeaderTooSmall {
                path,
                size: file_size,
                minimum: HEADER_SIZE_NO_FEATURES,
            });
        }
        // A file that shrinks under the map ends the process with a
        // message, not a SIGBUS (mapped.rs).
        let map = MappedFile::map(file, &path).map_err(|e| io("mapping the recording", e))?;
        if (map.len() as u64) < HEADER_SIZE_NO_FEATURES {
            return Err(PerfDataError::HeaderTooSmall {
                path,
                size: map.len() as u64,
                minimum: HEADER_SIZE_NO_FEATURES,
            });
        }
        let endian = endian_of(&path, &map)?;
        match endian {
            Endian::Little => Self::read_layout::<LittleEndian>(path, map, endian, allow_truncated),
            Endian::Big => Self::read_layout::<BigEndian>(path, map, endian, allow_truncated),
        }
    }

    /// Reads a pipe-mode stream (`perf record -o -`) from `read`, which is
    /// at its start: the 16-byte header, then the header records (attrs,
    /// features, tracing data) up to the first sample. `path` names it in
    /// errors (`-` for stdin). Its records are then read, once, with
    /// [`Self::stream`].
    pub fn open_stream(
        path: impl AsRef<Path>,
        mut read: Box<dyn Read + Send>,
    ) -> Result<Self, PerfDataError> {
        let path = path.as_ref().to_path_buf();
        let mut start = [0u8; PIPE_HEADER_SIZE as usize];
        let mut got = 0;
        while got < start.len() {
            match read.read(&mut start[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(PerfDataError::Io {
                        path,
                        what: "reading the stream",
                        source,
                    })
                }
            }
        }
        if got < 8 {
            return Err(PerfDataError::HeaderTooSmall {
                path,
                size: got as u64,
                minimum: PIPE_HEADER_SIZE,
            });
        }
        let endian = endian_of(&path, &start)?;
        if got < start.len() {
            return Err(PerfDataError::HeaderTooSmall {
                path,
                size: got as u64,
                minimum: PIPE_HEADER_SIZE,
            });
        }
        let size = match endian {
            Endian::Little => LittleEndian::read_u64(&start[8..16]),
            Endian::Big => BigEndian::read_u64(&start[8..16]),
        };
        if size != PIPE_HEADER_SIZE {
            return Err(PerfDataError::NotPipeMode { path, size });
        }
        Self::from_stream(path, endian, read, None)
    }

    fn from_stream(
        path: PathBuf,
        endian: Endian,
        read: Box<dyn Read + Send>,
        stream_size: Option<u64>,
    ) -> Result<Self, PerfDataError> {
        let mut input = StreamInput::new(read);
        let header = match endian {
            Endian::Little => pipe::read_header::<LittleEndian>(&path, &mut input)?,
            Endian::Big => pipe::read_header::<BigEndian>(&path, &mut input)?,
        };
        let mut events = header.events;
        if events.is_empty() {
            return Err(PerfDataError::NoEvents {
                path,
                offset: PIPE_HEADER_SIZE,
                size: 0,
                attr_size: 0,
            });
        }
        name_events(&mut events, &header.event_desc, &header.features);
        for e in &mut events {
            if let Some(name) = e.ids.iter().find_map(|id| header.names_by_id.get(id)) {
                e.name.clone_from(name);
            }
        }
        let features = header.features;
        let tracer_scope = RecordingMeta::from_features(&features)
            .ok()
            .flatten()
            .is_some_and(|m| m.mode == RecordingMode::TracerScope);
        if tracer_scope {
            move_series_v1_bits(&mut events);
        }
        let events = AttrSet::new(events).map_err(|e| PerfDataError::Attr {
            path: path.clone(),
            offset: PIPE_HEADER_SIZE,
            reason: e.to_string(),
        })?;
        Ok(Self {
            path,
            map: None,
            stream: Mutex::new(Some(input)),
            stream_size,
            endian,
            data: 0..0,
            events,
            features,
            truncated_from: None,
            tracer_scope,
        })
    }

    fn read_layout<O: ByteOrder>(
        path: PathBuf,
        map: MappedFile,
        endian: Endian,
        allow_truncated: bool,
    ) -> Result<Self, PerfDataError> {
        let file_size = map.len() as u64;
        let header = FileHeader::read::<O>(&map);
        if header.size < HEADER_SIZE_NO_FEATURES {
            return Err(PerfDataError::HeaderTooSmall {
                path,
                size: header.size,
                minimum: HEADER_SIZE_NO_FEATURES,
            });
        }
        let past_end = |section: String, s: FileSection| PerfDataError::SectionPastEnd {
            path: path.clone(),
            section,
            offset: s.offset,
            size: s.size,
            file_size,
        };
        let within = |s: FileSection| s.end().is_some_and(|e| e <= file_size);
        if !within(header.attrs) {
            return Err(past_end("attrs".into(), header.attrs));
        }
        let mut header = header;
        let mut truncated_from = None;
        if !within(header.data) {
            if !allow_truncated || header.data.offset > file_size {
                return Err(PerfDataError::Truncated {
                    path,
                    offset: header.data.offset,
                    size: header.data.size,
                    file_size,
                });
            }
            truncated_from = Some(header.data.size);
            header.data.size = file_size - header.data.offset;
        }
        for (name, s) in [("attrs", header.attrs), ("data", header.data)] {
            if s.offset < header.size {
                return Err(PerfDataError::Attr {
                    path,
                    offset: 8,
                    reason: format!(
                        "the {}-byte file header overlaps the {name} section at {}",
                        header.size, s.offset
                    ),
                });
            }
        }

        let mut events = read_attrs::<O>(&path, &map, &header)?;
        if events.is_empty() {
            return Err(PerfDataError::NoEvents {
                path,
                offset: header.attrs.offset,
                size: header.attrs.size,
                attr_size: header.attr_size,
            });
        }
        let (features, event_desc) = if truncated_from.is_some() {
            (Features::default(), Vec::new())
        } else {
            read_features::<O>(&path, &map, &header)?
        };
        name_events(&mut events, &event_desc, &features);
        // A bad extension reads as no extension here: whoever needs it
        // reads it again and reports what is wrong with it.
        let tracer_scope = RecordingMeta::from_features(&features)
            .ok()
            .flatten()
            .is_some_and(|m| m.mode == RecordingMode::TracerScope);
        if tracer_scope {
            move_series_v1_bits(&mut events);
        }
        let attrs_offset = header.attrs.offset;
        let events = AttrSet::new(events).map_err(|e| PerfDataError::Attr {
            path: path.clone(),
            offset: attrs_offset,
            reason: e.to_string(),
        })?;
        // Both ends were checked against the file size, which fits in usize.
        let data = header.data.offset as usize..(header.data.offset + header.data.size) as usize;
        Ok(Self {
            path,
            map: Some(map),
            stream: Mutex::new(None),
            stream_size: None,
            endian,
            data,
            events,
            features,
            truncated_from,
            tracer_scope,
        })
    }

    /// For a file opened with [`Self::open_truncated`] that was cut short,
    /// the size its header gives the data section; `None` when whole.
    pub fn truncated_from(&self) -> Option<u64> {
        self.truncated_from
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.endian == Endian::Big
    }

    /// Where the data section (the records) is. For a pipe-mode stream:
    /// everything after its 16-byte header (size 0 when unknown, as on
    /// stdin).
    pub fn data_section(&self) -> FileSection {
        if self.map.is_none() {
            return FileSection {
                offset: PIPE_HEADER_SIZE,
                size: self
                    .stream_size
                    .unwrap_or(0)
                    .saturating_sub(PIPE_HEADER_SIZE),
            };
        }
        FileSection {
            offset: self.data.start as u64,
            size: self.data.len() as u64,
        }
    }

    /// Whether the recording is in pipe mode (`perf record -o -`).
    pub fn is_pipe_mode(&self) -> bool {
        self.map.is_none()
    }

    /// The mapped file, empty for a stream.
    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    /// `record`, one of this reader's, for as long as the reader lives
    /// when its bytes are in the file's map (as the [`Iterator`] of
    /// [`Records`] hands records out); `None` for a decompressed or
    /// streamed record, whose bytes [`Records::next_record`] lends only
    /// until its next call.
    pub fn mapped(&self, record: &FileRecord<'_>) -> Option<FileRecord<'_>> {
        let map = self.bytes();
        // Addresses compared, not pointers offset: the body is in the map
        // when its address range is inside the map's.
        let start = (record.body.as_ptr() as usize).checked_sub(map.as_ptr() as usize)?;
        let body = map.get(start..start.checked_add(record.body.len())?)?;
        Some(FileRecord {
            offset: record.offset,
            header: record.header,
            event: record.event,
            body,
            reader: self,
        })
    }

    /// The events of the recording, named from HEADER_EVENT_DESC, else
    /// from the tracepoint formats by id, else `type:config`.
    pub fn events(&self) -> &AttrSet {
        &self.events
    }

    /// The features the file has.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The records in time order as the file stores them (see
    /// [`Records`]): PERF_RECORD_COMPRESSED records are handed out as they
    /// are, not decompressed. A pipe-mode stream cannot be read so; its
    /// only item is an error. [`Self::stream`] reads every recording.
    pub fn records(&self) -> Records<'_> {
        self.records_in(true, false)
    }

    /// The records in file order, as `perf report --stats` reads them:
    /// cheaper when the order does not matter (counting, per-record
    /// totals). As stored, like [`Self::records`].
    pub fn records_in_file_order(&self) -> Records<'_> {
        self.records_in(false, false)
    }

    /// The records in time order, compressed ones decompressed, one at a
    /// time with [`Records::next_record`]: a record may live in memory the
    /// reader reuses once the next is asked for. Reads pipe-mode streams
    /// too (once).
    pub fn stream(&self) -> Records<'_> {
        self.records_in(true, true)
    }

    fn records_in(&self, time_order: bool, decompress: bool) -> Records<'_> {
        // A stream is read once, by the reader that decompresses: the
        // records of one kept in memory cannot be lent for the reader's
        // lifetime.
        let mut chunks = Chunks::default();
        let stream = match (&self.map, decompress) {
            (Some(_), _) => None,
            (None, false) => Some(None),
            (None, true) => {
                // A poisoned lock only means a panic elsewhere: the stream
                // in it is as good as before.
                let mut input = self
                    .stream
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(input) = &mut input {
                    chunks = std::mem::take(&mut input.chunks);
                }
                Some(input)
            }
        };
        Records {
            time_order,
            decompress,
            reader: self,
            pos: self.data.start,
            ready: VecDeque::new(),
            pending: Vec::new(),
            taken: 0,
            released: 0,
            handing: 0,
            max_time: 0,
            flush_limit: 0,
            done: false,
            forgotten: self.data.start & !(FORGET_ALIGN - 1),
            chunks,
            stream,
            decompressor: None,
            carry: Vec::new(),
            carry_skip: 0,
            lent: None,
            decompressed: 0,
            section_parts: SectionParts::default(),
            features_at_end: None,
        }
    }
}

/// The byte order a file's first 8 bytes (its magic) give.
fn endian_of(path: &Path, start: &[u8]) -> Result<Endian, PerfDataError> {
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&start[0..8]);
    if magic == MAGIC {
        Ok(Endian::Little)
    } else if magic.iter().rev().eq(MAGIC.iter()) {
        Ok(Endian::Big)
    } else {
        Err(PerfDataError::BadMagic {
            path: path.to_path_buf(),
            found: String::from_utf8_lossy(&magic).into_owned(),
        })
    }
}

/// Reads the attr entries: each is the attr (its own `size` bytes) then a
/// `perf_file_section` pointing at its ids, `attr_size` bytes in all.
fn read_attrs<O: ByteOrder>(
    path: &Path,
    map: &[u8],
    header: &FileHeader,
) -> Result<Vec<EventDesc>, PerfDataError> {
    let attr_error = |offset: u64, reason: String| PerfDataError::Attr {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let entry = header.attr_size;
    if entry < ATTR_SIZE_VER0 as u64 + SECTION_SIZE {
        return Err(attr_error(
            16,
            format!("attr_size {entry} is smaller than the smallest attr entry"),
        ));
    }
    let nr = header.attrs.size / entry;
    let mut events = Vec::with_capacity(nr as usize);
    for i in 0..nr {
        let at = header.attrs.offset + i * entry;
        let b = &map[at as usize..(at + entry) as usize];
        let size = match O::read_u32(&b[4..8]) {
            0 => ATTR_SIZE_VER0 as u64,
            s => u64::from(s),
        };
        // perf reads the attr's own size, then the section right after it.
        if size + SECTION_SIZE != entry {
            return Err(attr_error(
                at,
                format!("attr size {size} + {SECTION_SIZE} disagrees with the header's attr_size {entry}"),
            ));
        }
        let attr = EventAttr::from_bytes::<O>(&b[..size as usize])
            .map_err(|e| attr_error(at, e.to_string()))?;
        let ids = FileSection::read::<O>(&b[size as usize..]);
        if ids.end().is_none_or(|e| e > map.len() as u64) {
            return Err(PerfDataError::SectionPastEnd {
                path: path.to_path_buf(),
                section: format!("ids of attr {i}"),
                offset: ids.offset,
                size: ids.size,
                file_size: map.len() as u64,
            });
        }
        let ids = map[ids.offset as usize..(ids.offset + ids.size) as usize]
            .chunks_exact(8)
            .map(O::read_u64)
            .collect();
        events.push(EventDesc {
            attr,
            ids,
            name: String::new(),
        });
    }
    Ok(events)
}

/// Reads the feature table after the data section and every section it
/// points at.
fn read_features<O: ByteOrder>(
    path: &Path,
    map: &[u8],
    header: &FileHeader,
) -> Result<(Features, Vec<EventDescEntry>), PerfDataError> {
    let mut features = Features::default();
    let mut event_desc = Vec::new();
    let bits: Vec<usize> = header.feature_bits().collect();
    if bits.is_empty() {
        return Ok((features, event_desc));
    }
    let file_size = map.len() as u64;
    // The data section's end was checked against the file size.
    let table = FileSection {
        offset: header.data.offset + header.data.size,
        size: SECTION_SIZE * bits.len() as u64,
    };
    if table.end().is_none_or(|e| e > file_size) {
        return Err(PerfDataError::SectionPastEnd {
            path: path.to_path_buf(),
            section: "feature table".into(),
            offset: table.offset,
            size: table.size,
            file_size,
        });
    }
    for (i, &bit) in bits.iter().enumerate() {
        let at = (table.offset + SECTION_SIZE * i as u64) as usize;
        let s = FileSection::read::<O>(&map[at..at + SECTION_SIZE as usize]);
        if s.end().is_none_or(|e| e > file_size) {
            return Err(PerfDataError::SectionPastEnd {
                path: path.to_path_buf(),
                section: format!("feature {} (bit {bit})", feature::name(bit)),
                offset: s.offset,
                size: s.size,
                file_size,
            });
        }
        let mut c = FeatureCursor {
            bytes: &map[s.offset as usize..(s.offset + s.size) as usize],
            pos: 0,
            base: s.offset,
            feature: feature::name(bit),
            path,
        };
        decode::<O>(bit, &mut c, &mut features, &mut event_desc)?;
    }
    Ok((features, event_desc))
}

/// Names each event: from EVENT_DESC (by id, or by position when it lists
/// as many events), else from its tracepoint format, else `type:config`.
///
/// Both lookups go through maps built once: a file may hold as many
/// events, ids and formats as its size allows, and a search per event
/// would take time quadratic in that size.
pub(super) fn name_events(events: &mut [EventDesc], desc: &[EventDescEntry], features: &Features) {
    let same_count = desc.len() == events.len();
    // The first entry listing an id names it, as a search in file order would.
    let mut desc_by_id: HashMap<u64, &EventDescEntry> = HashMap::new();
    for d in desc {
        for &id in &d.ids {
            desc_by_id.entry(id).or_insert(d);
        }
    }
    let mut formats_by_id: HashMap<u64, &TracepointFormatText> = HashMap::new();
    if let Some(td) = &features.tracing_data {
        for f in &td.formats {
            if let Some(id) = f.id() {
                formats_by_id.entry(id).or_insert(f);
            }
        }
    }
    for (i, e) in events.iter_mut().enumerate() {
        let by_id = e.ids.first().and_then(|id| desc_by_id.get(id).copied());
        let by_position = if same_count { desc.get(i) } else { None };
        let tracepoint = || {
            if e.attr.kind != kind::TRACEPOINT {
                return None;
            }
            let f = formats_by_id.get(&e.attr.config)?;
            Some(format!("{}:{}", f.system, f.name()?))
        };
        e.name = match by_id.or(by_position) {
            Some(d) => d.name.clone(),
            None => tracepoint().unwrap_or_else(|| format!("{}:{}", e.attr.kind, e.attr.config)),
        };
    }
}

/// In a tracer-scope recording made before the series moved its attr bits
/// past mainline's, the attrs carry bits 38 and 39 (the writer of the time
/// kept them): they are the series' tracer_scope and tracer_namespaces, not
/// mainline's defer_callchain and defer_output, which perfns never asks
/// for. Handed out as today's bits.
fn move_series_v1_bits(events: &mut [EventDesc]) {
    for e in events {
        let old = e.attr.flags & flags::SERIES_V1_BITS;
        e.attr.flags = (e.attr.flags & !flags::SERIES_V1_BITS) | (old << 2);
    }
}

/// The header of the record `body` of an event of `layout` as the kernel
/// wrote it: the writer stores PERF_RECORD_TRACER_NAMESPACES, which perf
/// refuses, as PERF_RECORD_NAMESPACES ([`super::PerfFileWriter::write_record`]). Called
/// only in a tracer-scope recording, where the kernel writes no NAMESPACES
/// record; the recorder's own statedump does, so a stored record is told
/// from those by what it carries between its namespace links and its
/// sample_id (a NAMESPACES record has nothing there, a TRACER_NAMESPACES
/// one at least its two level counts). Type 22 there is the series' first
/// TRACER_NAMESPACES, which the first writers stored as the kernel gave it,
/// not mainline's CALLCHAIN_DEFERRED, which perfns never asks for. Either
/// way [`crate::record::RawRecord::parse`] tells the first version's layout
/// (no ids) from today's by what follows the pids.
fn kernel_header<O: ByteOrder>(
    layout: &SampleLayout,
    header: RecordHeader,
    body: &[u8],
) -> RecordHeader {
    if header.kind == RecordType::CALLCHAIN_DEFERRED {
        return RecordHeader {
            kind: RecordType::TRACER_NAMESPACES,
            ..header
        };
    }
    if header.kind != RecordType::NAMESPACES {
        return header;
    }
    let trailer = layout.trailer as u64;
    // pid, tid, nr_namespaces, then nr_namespaces {dev, inode} links.
    let namespaces_end = body
        .get(8..16)
        .map(O::read_u64)
        .and_then(|nr| nr.checked_mul(16)?.checked_add(16 + trailer));
    if namespaces_end.is_some_and(|end| body.len() as u64 > end) {
        RecordHeader {
            kind: RecordType::TRACER_NAMESPACES,
            ..header
        }
    } else {
        header
    }
}

/// One record of a recording, borrowed from the file's map, or from the
/// reader's own memory (a decompressed or streamed record).
#[derive(Clone, Copy)]
pub struct FileRecord<'a> {
    /// The record's offset in the file.
    pub offset: u64,
    /// Its header, as the kernel wrote it: in a tracer-scope recording a
    /// PERF_RECORD_TRACER_NAMESPACES stored as NAMESPACES has its type back.
    pub header: RecordHeader,
    /// The index of its event in [`PerfFileReader::events`] (0 for perf's
    /// user-space records, which belong to no event).
    pub event: usize,
    /// The bytes after the header.
    pub body: &'a [u8],
    reader: &'a PerfFileReader,
}

impl std::fmt::Debug for FileRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRecord")
            .field("offset", &self.offset)
            .field("header", &self.header)
            .field("event", &self.event)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> FileRecord<'a> {
    /// The record as a [`RawRecord`].
    pub fn raw(&self) -> RawRecord<'a> {
        RawRecord {
            header: self.header,
            data: RawData::Single(self.body),
        }
    }

    /// The attr of its event.
    pub fn attr(&self) -> &'a EventAttr {
        &self.reader.events.events()[self.event].attr
    }

    /// Where its event keeps a record's id and time.
    pub fn layout(&self) -> &'a SampleLayout {
        self.reader.events.layout(self.event)
    }

    /// Its time, if it has one.
    pub fn time(&self) -> Option<u64> {
        let body = RawData::Single(self.body);
        match self.reader.endian {
            Endian::Little => self
                .layout()
                .record_time::<LittleEndian>(self.header.kind, &body),
            Endian::Big => self
                .layout()
                .record_time::<BigEndian>(self.header.kind, &body),
        }
    }

    /// Decodes the record.
    pub fn parse(&self) -> Result<Record<'a>, PerfDataError> {
        let raw = self.raw();
        let (attr, layout) = (self.attr(), self.layout());
        match self.reader.endian {
            Endian::Little => raw.parse_with::<LittleEndian>(attr, layout),
            Endian::Big => raw.parse_with::<BigEndian>(attr, layout),
        }
        .map_err(|source| self.parse_error(source))
    }

    /// Decodes a PERF_RECORD_SAMPLE (`header.kind` says which records are)
    /// as [`Self::parse`] would, without the [`Record`] around it. Its
    /// error says what in the record is wrong; [`Self::parse_error`] adds
    /// the file and offset (apart: a `map_err` here copied every sample).
    #[inline]
    pub fn parse_sample(&self) -> Result<Sample<'a>, ParseError> {
        let raw = self.raw();
        let (attr, layout) = (self.attr(), self.layout());
        match self.reader.endian {
            Endian::Little => raw.parse_sample::<LittleEndian>(attr, layout),
            Endian::Big => raw.parse_sample::<BigEndian>(attr, layout),
        }
    }

    /// A decoding error of this record, with its file and offset.
    pub fn parse_error(&self, source: ParseError) -> PerfDataError {
        PerfDataError::Parse {
            path: self.reader.path.clone(),
            offset: self.offset,
            source,
        }
    }
}

/// A record whose bytes were copied out of the reader's memory: one
/// decompressed or streamed, which [`Records::next_record`] lends only
/// until its next call, kept to be decoded later (on another thread).
#[derive(Debug, Clone)]
pub struct OwnedRecord {
    /// As [`FileRecord::offset`].
    pub offset: u64,
    /// As [`FileRecord::header`].
    pub header: RecordHeader,
    /// As [`FileRecord::event`].
    pub event: usize,
    /// The bytes after the header.
    pub body: Vec<u8>,
}

impl OwnedRecord {
    /// The record again, of `reader`, the reader it came from.
    pub fn as_record<'r>(&'r self, reader: &'r PerfFileReader) -> FileRecord<'r> {
        FileRecord {
            offset: self.offset,
            header: self.header,
            event: self.event,
            body: &self.body,
            reader,
        }
    }
}

impl FileRecord<'_> {
    /// The record with its bytes copied.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord {
            offset: self.offset,
            header: self.header,
            event: self.event,
            body: self.body.to_vec(),
        }
    }
}

/// How many bytes of handed-out records [`Records`] lets accumulate before
/// it hands their pages back to the kernel.
const FORGET_STEP: usize = if cfg!(test) { 64 << 10 } else { 8 << 20 };

/// What [`Records`] rounds those ranges down to: a multiple of every page
/// size Linux uses (4, 16 and 64 KiB), as madvise wants.
const FORGET_ALIGN: usize = 64 << 10;

/// A timed record waiting for its round to be sorted.
#[derive(Debug, Clone, Copy)]
struct Pending {
    time: u64,
    ready: Ready,
}

/// A record ready to be handed out, with what reading it found (its
/// header, as the kernel wrote it, and its event), so that handing it out
/// reads none of it again.
#[derive(Debug, Clone, Copy)]
struct Ready {
    loc: Loc,
    /// Its offset in the file: for a decompressed record, that of the
    /// compressed record it came in.
    offset: u64,
    header: RecordHeader,
    event: usize,
}

/// An entry of [`Records`]' queue of what to hand out.
#[derive(Debug)]
enum Queued {
    /// A record handed out as read: one without a time, a round marker,
    /// any record in file order.
    Record(Ready),
    /// The next this many of the records released from `pending`, in time
    /// order: handed out from there, not copied into the queue.
    Released(usize),
    /// An error (boxed: an entry is then small, not the size of the
    /// largest error).
    Error(Box<PerfDataError>),
}

/// A record found in the file, not yet given its event.
#[derive(Debug, Clone, Copy)]
struct Found {
    loc: Loc,
    header: RecordHeader,
    offset: u64,
}

/// The records of a recording in time order, as perf orders them.
///
/// Like perf's ordered events (tools/perf/util/ordered-events.c), records
/// are queued by time, and each PERF_RECORD_FINISHED_ROUND releases, sorted,
/// the queued ones no later than the newest time seen before the previous
/// round marker: a writer that drains every CPU's buffer once per round
/// guarantees nothing older than that comes after. So memory holds at most
/// about two rounds of 32-byte entries, and of record bytes only those
/// that came decompressed or from a stream. Records without a time (perf's
/// own records, time 0, no sample_id_all) are handed out as soon as they
/// are read, as perf delivers them. A file without round markers is one
/// round: the whole file is sorted.
///
/// As an [`Iterator`] ([`PerfFileReader::records`]) it hands out the
/// records as stored, borrowed from the file's map. Made by
/// [`PerfFileReader::stream`], it also decompresses PERF_RECORD_COMPRESSED
/// records and reads pipe-mode streams, and hands records out with
/// [`Records::next_record`].
///
/// After an error in a record's size the iteration ends; after a record of
/// unknown event, or one that does not decompress, it goes on.
#[derive(Debug)]
pub struct Records<'a> {
    reader: &'a PerfFileReader,
    time_order: bool,
    decompress: bool,
    pos: usize,
    /// What is handed out next, in order.
    ready: VecDeque<Queued>,
    /// Timed records: the first `taken` handed out, up to `released`
    /// released in time order, the rest waiting for a later round.
    pending: Vec<Pending>,
    taken: usize,
    released: usize,
    /// How many more of the released records the [`Queued::Released`]
    /// taken off the queue last still hands out, from `pending[taken..]`.
    handing: usize,
    max_time: u64,
    flush_limit: u64,
    done: bool,
    /// The file below this offset has been handed back to the kernel
    /// ([`Records::forget_below`]).
    forgotten: usize,
    /// Record bytes not in the map: a stream's, decompressed ones.
    pub(super) chunks: Chunks,
    /// For a pipe-mode stream: the stream, `None` once taken by another
    /// reader or when this one cannot read it.
    stream: Option<Option<StreamInput>>,
    decompressor: Option<Decompressor>,
    /// The start of a decompressed record cut at the end of the last
    /// compressed record's output.
    carry: Vec<u8>,
    /// Decompressed bytes still to drop: the AUX area data of an AUXTRACE
    /// record that runs past the output it came in.
    carry_skip: u64,
    /// The chunk of the record [`Records::next_record`] lent last.
    lent: Option<u64>,
    /// Compressed records decompressed so far.
    decompressed: u64,
    /// A pipe-mode stream's feature section being sent in parts after its
    /// header records.
    section_parts: SectionParts,
    /// The features as such a section updated them.
    features_at_end: Option<Features>,
}

/// The bytes of the record at `loc`, `size` of them, header included.
fn record_bytes<'c>(map: &'c [u8], chunks: &'c Chunks, loc: Loc, size: usize) -> &'c [u8] {
    match loc {
        Loc::Map(off) => &map[off..off + size],
        Loc::Chunk { chunk, start } => &chunks.data(chunk)[start..start + size],
    }
}

/// The event and time of a sample whose body is `body`, read at the places
/// its events' layouts give them, as [`AttrSet::index_of`] and
/// [`SampleLayout::record_time`] would; `None` when they would not find
/// both (the sample is too short, its id names no event): those say why.
#[inline]
fn sample_event_and_time<O: ByteOrder>(
    events: &AttrSet,
    body: &[u8],
) -> Option<(usize, Option<u64>)> {
    let u64_at = |off: usize| body.get(off..off + 8).map(O::read_u64);
    let event = match events.events().len() {
        0 => return None,
        1 => 0,
        // AttrSet::new made sure every event keeps its id where the first
        // does; an id of 0 is perf's synthesized records', the first's.
        _ => match u64_at(events.layout(0).sample_id?)? {
            0 => 0,
            id => events.index_of_id(id)?,
        },
    };
    let time = match events.layout(event).sample_time {
        Some(off) => Some(u64_at(off)?),
        None => None,
    };
    Some((event, time))
}

/// The header of the record at `loc`.
fn header_at<O: ByteOrder>(map: &[u8], chunks: &Chunks, loc: Loc) -> RecordHeader {
    let b = record_bytes(map, chunks, loc, RecordHeader::SIZE);
    let head: [u8; RecordHeader::SIZE] = std::array::from_fn(|i| b[i]);
    RecordHeader::from_bytes::<O>(&head)
}

impl<'a> Records<'a> {
    /// The next record of the file as stored, `None` at the end; an error
    /// ends the iteration.
    fn next_found<O: ByteOrder>(&mut self) -> Result<Option<Found>, Box<PerfDataError>> {
        let r = self.reader;
        if let Some(stream) = &mut self.stream {
            let Some(input) = stream else {
                return Err(Box::new(PerfDataError::Stream {
                    path: r.path.clone(),
                    reason: if self.decompress {
                        "its records were read already"
                    } else {
                        "read it with PerfFileReader::stream"
                    },
                }));
            };
            if let Some(f) = input.stash.pop_front() {
                // The stash held its chunk; the record holds it once taken.
                if let Loc::Chunk { chunk, .. } = f.loc {
                    self.chunks.release_later(chunk);
                }
                return Ok(Some(Found {
                    loc: f.loc,
                    header: f.header,
                    offset: f.offset,
                }));
            }
            return Ok(input.next::<O>(&r.path, &mut self.chunks)?.map(|f| Found {
                loc: f.loc,
                header: f.header,
                offset: f.offset,
            }));
        }
        let end = r.data.end;
        let off = self.pos;
        if off >= end {
            return Ok(None);
        }
        let path = || r.path.clone();
        if end - off < RecordHeader::SIZE {
            return Err(Box::new(PerfDataError::RecordPastEnd {
                path: path(),
                offset: off as u64,
                size: RecordHeader::SIZE as u64,
                data_end: end as u64,
            }));
        }
        let map = r.bytes();
        let header = header_at::<O>(map, &self.chunks, Loc::Map(off));
        let size = usize::from(header.size);
        if size < RecordHeader::SIZE {
            return Err(Box::new(PerfDataError::RecordTooSmall {
                path: path(),
                offset: off as u64,
                kind: header.kind,
                size: header.size,
            }));
        }
        if size > end - off {
            return Err(Box::new(PerfDataError::RecordPastEnd {
                path: path(),
                offset: off as u64,
                size: size as u64,
                data_end: end as u64,
            }));
        }
        // AUX area data follows its record, outside the record's size.
        let trailing = if header.kind == RecordType::AUXTRACE && size >= 16 {
            O::read_u64(&map[off + 8..off + 16])
        } else {
            0
        };
        let whole = (size as u64).saturating_add(trailing);
        if whole > (end - off) as u64 {
            return Err(Box::new(PerfDataError::RecordPastEnd {
                path: path(),
                offset: off as u64,
                size: whole,
                data_end: end as u64,
            }));
        }
        self.pos = off + whole as usize;
        Ok(Some(Found {
            loc: Loc::Map(off),
            header,
            offset: off as u64,
        }))
    }

    /// Reads records up to the next round marker or the end (in file
    /// order: up to the next record).
    fn fill<O: ByteOrder>(&mut self) {
        loop {
            let found = match self.next_found::<O>() {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            };
            let kind = found.header.kind;
            if self.decompress
                && (kind == RecordType::COMPRESSED || kind == RecordType::COMPRESSED2)
            {
                let before = self.ready.len();
                self.decompress_record::<O>(found);
                self.chunks.settle();
                if !self.time_order && self.ready.len() > before {
                    return;
                }
                continue;
            }
            if kind == RecordType::HEADER_EVENT_TYPE
                && self.stream.is_some()
                && self.section_part::<O>(found)
            {
                self.chunks.settle();
                continue;
            }
            if self.time_order && kind == RecordType::FINISHED_ROUND {
                self.round(found);
                self.chunks.settle();
                return;
            }
            self.take::<O>(found);
            self.chunks.settle();
            if !self.time_order {
                if let Loc::Map(off) = found.loc {
                    self.forget_below(off);
                }
                return;
            }
        }
        self.release(u64::MAX);
        self.done = true;
    }

    /// In a pipe-mode stream, takes a part of a feature section sent after
    /// the header records (the perfns extension at the end of the
    /// stream): whether it was one. Once the section is whole, it updates
    /// [`Self::features_at_end`].
    fn section_part<O: ByteOrder>(&mut self, found: Found) -> bool {
        let r = self.reader;
        let size = usize::from(found.header.size);
        let body = &record_bytes(r.bytes(), &self.chunks, found.loc, size)[RecordHeader::SIZE..];
        if !SectionParts::is_part::<O>(body) {
            return false;
        }
        let whole = self.section_parts.add::<O>(&r.path, found.offset, body);
        let decoded = whole.and_then(|whole| {
            let Some((bit, bytes)) = whole else {
                return Ok(());
            };
            let features = self
                .features_at_end
                .get_or_insert_with(|| r.features.clone());
            let mut c = FeatureCursor {
                bytes: &bytes,
                pos: 0,
                base: found.offset,
                feature: feature::name(bit),
                path: &r.path,
            };
            decode::<O>(bit, &mut c, features, &mut Vec::new())
        });
        if let Err(e) = decoded {
            self.ready.push_back(Queued::Error(Box::new(e)));
        }
        true
    }

    /// The features as the end of a pipe-mode stream gives them, once it
    /// has been read: perfns writes its extension again there, complete
    /// (the containers learnt while recording, the losses). `None` when
    /// the stream has no such update (perf's streams), or until it is
    /// read.
    pub fn features_at_end(&self) -> Option<&Features> {
        self.features_at_end.as_ref()
    }

    /// A round marker: releases, sorted, the records queued before the
    /// previous one's newest time, and queues the marker after them.
    fn round(&mut self, found: Found) {
        self.release(self.flush_limit);
        self.flush_limit = self.max_time;
        let here = match found.loc {
            Loc::Map(off) => off,
            Loc::Chunk { .. } => self.pos,
        };
        self.forget_waited(here);
        self.hold(found.loc);
        self.ready.push_back(Queued::Record(Ready {
            loc: found.loc,
            offset: found.offset,
            header: found.header,
            event: 0,
        }));
    }

    /// At a round marker at `here` in the map (or in what the record there
    /// decompressed to): hands the pages of the records before it back to
    /// the kernel, up to the first still queued.
    /// Looked at only when that could free a step's worth: rounds can be
    /// a dozen records.
    fn forget_waited(&mut self, here: usize) {
        if self.reader.map.is_none() || here < self.forgotten + FORGET_STEP {
            return;
        }
        let waiting = self.pending[self.taken..].iter().map(|p| p.ready.loc);
        let ready = self.ready.iter().filter_map(|q| match q {
            Queued::Record(r) => Some(r.loc),
            Queued::Released(_) | Queued::Error(_) => None,
        });
        let low = waiting
            .chain(ready)
            .filter_map(|l| match l {
                Loc::Map(off) => Some(off),
                Loc::Chunk { .. } => None,
            })
            .min()
            .unwrap_or(here);
        self.forget_below(low.min(here));
    }

    fn hold(&mut self, loc: Loc) {
        if let Loc::Chunk { chunk, .. } = loc {
            self.chunks.hold(chunk);
        }
    }

    /// Gives a record its event and queues it: at once, or by its time.
    fn take<O: ByteOrder>(&mut self, found: Found) {
        let r = self.reader;
        let size = usize::from(found.header.size);
        let bytes = record_bytes(r.bytes(), &self.chunks, found.loc, size);
        let body = &bytes[RecordHeader::SIZE..];
        // Samples, most of a recording, the short way.
        let fast = if found.header.kind == RecordType::SAMPLE {
            sample_event_and_time::<O>(&r.events, body)
        } else {
            None
        };
        let raw = RawRecord {
            header: found.header,
            data: RawData::Single(body),
        };
        let (event, time) = match fast {
            Some(found) => found,
            None => match r.events.index_of::<O>(&raw) {
                Ok(event) => (
                    event,
                    r.events
                        .layout(event)
                        .record_time::<O>(found.header.kind, &raw.data),
                ),
                Err(source) => {
                    self.ready
                        .push_back(Queued::Error(Box::new(PerfDataError::UnknownEvent {
                            path: r.path.clone(),
                            offset: found.offset,
                            kind: found.header.kind,
                            source,
                        })));
                    return;
                }
            },
        };
        let time = if self.time_order { time } else { None };
        let header = if r.tracer_scope {
            kernel_header::<O>(r.events.layout(event), found.header, body)
        } else {
            found.header
        };
        let ready = Ready {
            loc: found.loc,
            offset: found.offset,
            header,
            event,
        };
        self.hold(found.loc);
        match time {
            // perf delivers records without a time at once.
            None | Some(0) => self.ready.push_back(Queued::Record(ready)),
            Some(time) => {
                self.max_time = self.max_time.max(time);
                self.pending.push(Pending { time, ready });
            }
        }
    }

    /// Decompresses a PERF_RECORD_COMPRESSED(2) record and takes the
    /// records in its output, as perf_session__process_compressed_event
    /// and __perf_session__process_decomp_events do: a record cut at the
    /// end of the output is finished by the next compressed record's.
    fn decompress_record<O: ByteOrder>(&mut self, found: Found) {
        let r = self.reader;
        let kind = found.header.kind;
        let size = usize::from(found.header.size);
        let fail = |reason: String| {
            Box::new(PerfDataError::Decompress {
                path: r.path.clone(),
                offset: found.offset,
                kind,
                reason,
            })
        };
        let body = &record_bytes(r.bytes(), &self.chunks, found.loc, size)[RecordHeader::SIZE..];
        let input = if kind == RecordType::COMPRESSED2 {
            let data_size = body.get(0..8).map(O::read_u64);
            match data_size {
                Some(n) if n <= (body.len() - 8) as u64 => &body[8..8 + n as usize],
                _ => {
                    self.ready.push_back(Queued::Error(fail(format!(
                        "data_size {data_size:?} does not fit in the {}-byte record",
                        size
                    ))));
                    return;
                }
            }
        } else {
            body
        };
        let decompressor = match &mut self.decompressor {
            Some(d) => d,
            None => match Decompressor::new(r.features.compressed.as_ref()) {
                Ok(d) => self.decompressor.insert(d),
                Err(e) => {
                    self.ready
                        .push_back(Queued::Error(fail(format!("zstd: {e}"))));
                    return;
                }
            },
        };
        self.decompressed += 1;
        let mut out = std::mem::take(&mut self.carry);
        if let Err(reason) = decompressor.decompress(input, &mut out) {
            // The cut record is lost with the output it needed.
            self.carry_skip = 0;
            self.ready.push_back(Queued::Error(fail(reason)));
            return;
        }
        let skip = usize::try_from(self.carry_skip)
            .unwrap_or(usize::MAX)
            .min(out.len());
        self.carry_skip -= skip as u64;
        let id = self.chunks.push(out);
        let mut pos = skip;
        loop {
            let data = self.chunks.data(id);
            if data.len() - pos < RecordHeader::SIZE {
                break;
            }
            let header = header_at::<O>(
                &[],
                &self.chunks,
                Loc::Chunk {
                    chunk: id,
                    start: pos,
                },
            );
            let size = usize::from(header.size);
            if size < RecordHeader::SIZE {
                self.ready
                    .push_back(Queued::Error(Box::new(PerfDataError::RecordTooSmall {
                        path: r.path.clone(),
                        offset: found.offset,
                        kind: header.kind,
                        size: header.size,
                    })));
                // Nothing after it can be found: the rest of the output
                // goes.
                pos = data.len();
                break;
            }
            if data.len() - pos < size {
                break;
            }
            let inner = Found {
                loc: Loc::Chunk {
                    chunk: id,
                    start: pos,
                },
                header,
                offset: found.offset,
            };
            // A round marker inside compressed records is one too, as
            // perf processes every decompressed record as it would the
            // file's (perf record writes them uncompressed).
            if self.time_order && header.kind == RecordType::FINISHED_ROUND {
                self.round(inner);
            } else {
                self.take::<O>(inner);
            }
            pos += size;
            // AUX area data follows its record, outside the record's size,
            // as in the file (__perf_session__process_decomp_events skips
            // it too).
            if header.kind == RecordType::AUXTRACE && size >= 16 {
                let data = self.chunks.data(id);
                let start = pos - size;
                let aux = O::read_u64(&data[start + 8..start + 16]);
                let here = (data.len() - pos) as u64;
                if aux > here {
                    self.carry_skip = aux - here;
                    pos = data.len();
                } else {
                    pos += aux as usize;
                }
            }
        }
        self.carry.extend_from_slice(&self.chunks.data(id)[pos..]);
        self.chunks.close(id);
    }

    /// Hands out, sorted, the queued records no later than `limit`.
    fn release(&mut self, limit: u64) {
        // A round holds one run in time order per CPU buffer drained (and
        // what the last round left, sorted already): a stable sort merges
        // such runs instead of sorting from scratch, and keeps file order
        // among equal times, as perf's queue does.
        if self.taken == self.released {
            self.pending.drain(..self.taken);
            (self.taken, self.released) = (0, 0);
        }
        // Records released before stay ahead of any that came after them.
        let waiting = &mut self.pending[self.released..];
        waiting.sort_by_key(|p| p.time);
        let n = waiting.partition_point(|p| p.time <= limit);
        if n > 0 {
            self.released += n;
            self.ready.push_back(Queued::Released(n));
        }
    }

    /// Lets the kernel drop the mapped pages of the records before `low`,
    /// which have all been handed out, once there are `FORGET_STEP` bytes
    /// of them: reading a recording then holds a few rounds of it in
    /// memory, not all of it. Records handed out earlier stay readable:
    /// their pages come back from the file if touched again.
    fn forget_below(&mut self, low: usize) {
        let Some(map) = &self.reader.map else {
            return;
        };
        let low = low & !(FORGET_ALIGN - 1);
        if low < self.forgotten + FORGET_STEP {
            return;
        }
        // SAFETY: the map is a read-only shared mapping of a file that is
        // not written while it is read (see `PerfFileReader::open`), so
        // MADV_DONTNEED only drops clean page-cache pages from this
        // process's page tables; the next access to any of them, through
        // a slice handed out before, faults the same bytes back in from
        // the file. The range is inside the map: `forgotten` starts at or
        // below the data section and `low` is a record offset in it, both
        // rounded down to a page multiple. A failure only keeps the pages.
        let _ = unsafe {
            map.unchecked_advise_range(
                UncheckedAdvice::DontNeed,
                self.forgotten,
                low - self.forgotten,
            )
        };
        self.forgotten = low;
    }

    /// Ends the iteration after the queued records and `err`.
    fn fail(&mut self, err: Box<PerfDataError>) {
        self.release(u64::MAX);
        self.ready.push_back(Queued::Error(err));
        self.pos = self.reader.data.end;
        self.done = true;
    }

    /// Reads until a record is ready and takes it off the queue.
    /// The error stays boxed: a `Result` the size of an error would be
    /// copied out for every record.
    fn next_ready(&mut self) -> Option<Result<Ready, Box<PerfDataError>>> {
        if self.handing > 0 {
            self.handing -= 1;
            return Some(Ok(self.hand_out()));
        }
        while self.ready.is_empty() && !self.done {
            match self.reader.endian {
                Endian::Little => self.fill::<LittleEndian>(),
                Endian::Big => self.fill::<BigEndian>(),
            }
        }
        match self.ready.pop_front()? {
            Queued::Record(ready) => Some(Ok(ready)),
            Queued::Error(e) => Some(Err(e)),
            Queued::Released(n) => {
                self.handing = n - 1;
                Some(Ok(self.hand_out()))
            }
        }
    }

    /// The next released record.
    #[inline]
    fn hand_out(&mut self) -> Ready {
        let ready = self.pending[self.taken].ready;
        self.taken += 1;
        ready
    }

    /// The record at `ready`, from the map or the chunks.
    fn file_record<'r>(
        reader: &'r PerfFileReader,
        chunks: &'r Chunks,
        ready: Ready,
    ) -> FileRecord<'r> {
        let size = usize::from(ready.header.size);
        let body = &record_bytes(reader.bytes(), chunks, ready.loc, size)[RecordHeader::SIZE..];
        FileRecord {
            offset: ready.offset,
            header: ready.header,
            event: ready.event,
            body,
            reader,
        }
    }

    /// How many compressed records were decompressed so far.    /// How many compressed records were decompressed so far.
    pub fn decompressed_records(&self) -> u64 {
        self.decompressed
    }

    /// The next record, decompressed or read from a stream: the one way to
    /// read a Records made by [`PerfFileReader::stream`]. The record
    /// borrows this reader until the next call.
    pub fn next_record(&mut self) -> Option<Result<FileRecord<'_>, PerfDataError>> {
        if let Some(chunk) = self.lent.take() {
            self.chunks.release(chunk);
        }
        let ready = match self.next_ready()? {
            Ok(ready) => ready,
            Err(e) => return Some(Err(*e)),
        };
        if let Loc::Chunk { chunk, .. } = ready.loc {
            self.lent = Some(chunk);
        }
        Some(Ok(Self::file_record(self.reader, &self.chunks, ready)))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<FileRecord<'a>, PerfDataError>;

    /// The next record as stored in the file's map. A pipe-mode stream, or
    /// a decompressed record, cannot be handed out for the reader's
    /// lifetime: that is an error (read them with
    /// [`Records::next_record`]).
    fn next(&mut self) -> Option<Self::Item> {
        let ready = match self.next_ready()? {
            Ok(ready) => ready,
            Err(e) => return Some(Err(*e)),
        };
        if let Loc::Chunk { chunk, .. } = ready.loc {
            self.chunks.release(chunk);
            return Some(Err(PerfDataError::Stream {
                path: self.reader.path.clone(),
                reason: "its records are read with Records::next_record",
            }));
        }
        Some(Ok(Self::file_record(self.reader, &NO_CHUNKS, ready)))
    }
}

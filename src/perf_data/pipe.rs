//! Pipe mode: what `perf record -o -` writes, to a pipe or a file.
//!
//! ```c
//! struct perf_pipe_file_header { u64 magic; u64 size; /* 16 */ };
//! ```
//!
//! No attr section, no data section size, no feature table: a pipe
//! cannot be seeked. Everything the header of a perf.data file holds
//! comes as records in the stream, before the first sample:
//!
//! ```c
//! struct perf_record_header_attr {        /* PERF_RECORD_HEADER_ATTR, 64 */
//!     struct perf_event_header header;
//!     struct perf_event_attr attr;        /* attr.size bytes */
//!     u64 id[];                           /* the rest of the record */
//! };
//! struct perf_record_header_tracing_data { /* 66 */
//!     struct perf_event_header header;
//!     u32 size;                           /* then `size` bytes of tracing
//!                                            data (padded to 8) follow the
//!                                            record, outside header.size */
//! };
//! struct perf_record_header_feature {     /* 80 */
//!     struct perf_event_header header;
//!     u64 feat_id;                        /* the feature bit */
//!     char data[];                        /* the feature section */
//! };
//! struct perf_record_event_update {       /* 78 */
//!     struct perf_event_header header;
//!     u64 type;                           /* 2: PERF_EVENT_UPDATE__NAME */
//!     u64 id;
//!     char name[];                        /* NUL-terminated */
//! };
//! ```
//!
//! perf 6.1 writes the attrs, the features (HEADER_COMPRESSED among them
//! with `-z`, its ratio 0: it is known only at the end), a HEADER_FEATURE
//! whose feat_id is HEADER_LAST_FEATURE and that has no section (the end
//! of the features: `perf report --header-only -i -` stops there), the
//! tracing data, then the statedump (COMM, MMAP, NAMESPACES... with
//! EVENT_UPDATE, THREAD_MAP and CPU_MAP among them), FINISHED_INIT, then
//! the records from the ring buffers, with `-z` in COMPRESSED records and
//! each round marker uncompressed after its round's. The reader keeps the
//! records before the first sample, round marker, FINISHED_INIT or
//! compressed record (the statedump: O(tasks)) and reads the header
//! records among them, so that the events are known before any record is
//! handed out, in one pass.
//!
//! Feature sections perf does not know (the perfns extension, bit 255)
//! cannot go in HEADER_FEATURE: `perf report -i -` stops at a feat_id at
//! or above its HEADER_LAST_FEATURE ("failed: wrong feature ID"), and a
//! record holds at most 64 KiB. They go in PERF_RECORD_HEADER_EVENT_TYPE
//! records, which perf has skipped unread since 2012
//! (`perf_session__process_user_event`), cut into parts:
//!
//! ```c
//! struct perfns_section_part {            /* PERF_RECORD_HEADER_EVENT_TYPE, 65 */
//!     struct perf_event_header header;
//!     u64 magic;                          /* "perfns\0\x01" as a little-endian u64 */
//!     u64 feat_id;                        /* the feature bit: 255 */
//!     u64 offset;                         /* of this part in the section */
//!     u64 size;                           /* of the whole section */
//!     char data[];                        /* the part, padded to 8 */
//! };
//! ```
//!
//! A stream has such a section after its features and may have it again
//! at its end, where it replaces the first one ([`Records::features_at_end`]):
//! the perfns extension's containers and losses are complete only when
//! recording ends.
//!
//! [`Records::features_at_end`]: super::Records::features_at_end

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use byteorder::ByteOrder;

use super::chunks::{Chunks, Loc};
use super::compressed::{Compression, Compressor, BATCH_SIZE};
use super::features::{decode, encode, feature, EventDescEntry, FeatureCursor, Features};
use super::writer::{padded_attr, stored_header};
use super::PerfDataError;
use crate::attr::{EventAttr, EventDesc, ATTR_SIZE_VER0};
use crate::record::{RawData, RecordHeader, RecordType};

/// Size of the pipe-mode file header.
pub(crate) const PIPE_HEADER_SIZE: u64 = 16;

/// How many bytes of a stream's chunk are filled before the next one is
/// started: records are read into chunks of about this size.
const CHUNK_SIZE: usize = 256 << 10;

/// The most bytes of records kept while looking for the end of the header
/// records: a stream whose first sample comes later than this is read on
/// with the events known by then.
const MAX_STASH: usize = 256 << 20;

/// The largest tracing data accepted in a stream (perf's is tens of KiB
/// per tracepoint system).
const MAX_TRACING_DATA: u64 = 256 << 20;

/// PERF_EVENT_UPDATE__NAME
const EVENT_UPDATE_NAME: u64 = 2;

/// The first u64 of a HEADER_EVENT_TYPE record that carries a part of a
/// feature section perf does not read: `perfns`, NUL, part layout 1.
const SECTION_PART_MAGIC: u64 = u64::from_le_bytes(*b"perfns\0\x01");

/// A section part's fields before its data: magic, feat_id, offset, size.
const SECTION_PART_FIELDS: usize = 32;

/// The most section bytes in one part: the record's size is a u16, and a
/// multiple of 8.
const SECTION_PART_DATA: usize =
    (u16::MAX as usize & !7) - RecordHeader::SIZE - SECTION_PART_FIELDS;

/// The largest feature section accepted in parts.
const MAX_SECTION: u64 = 256 << 20;

/// A feature section sent in parts (see the module's documentation),
/// gathered as its parts come.
#[derive(Debug, Default)]
pub(crate) struct SectionParts {
    bit: u64,
    size: u64,
    bytes: Vec<u8>,
}

impl SectionParts {
    /// Whether `body`, a HEADER_EVENT_TYPE record's, is a section part.
    pub fn is_part<O: ByteOrder>(body: &[u8]) -> bool {
        body.len() >= 8 && O::read_u64(&body[..8]) == SECTION_PART_MAGIC
    }

    /// Adds the part `body` (read at `offset` of `path`); once the section
    /// is whole, returns its bit and bytes.
    pub fn add<O: ByteOrder>(
        &mut self,
        path: &Path,
        offset: u64,
        body: &[u8],
    ) -> Result<Option<(usize, Vec<u8>)>, PerfDataError> {
        let error = |field: &'static str, reason: String| PerfDataError::Parse {
            path: path.to_path_buf(),
            offset,
            source: crate::error::ParseError::Invalid {
                record: RecordType::HEADER_EVENT_TYPE,
                field,
                reason,
            },
        };
        if body.len() < SECTION_PART_FIELDS {
            return Err(error(
                "size",
                format!(
                    "a section part of {} bytes, fewer than its {SECTION_PART_FIELDS} bytes of fields",
                    body.len()
                ),
            ));
        }
        let bit = O::read_u64(&body[8..16]);
        let at = O::read_u64(&body[16..24]);
        let size = O::read_u64(&body[24..32]);
        if at == 0 {
            if size > MAX_SECTION {
                return Err(error(
                    "size",
                    format!("a {size}-byte section, more than the {MAX_SECTION} accepted"),
                ));
            }
            *self = Self {
                bit,
                size,
                bytes: Vec::new(),
            };
        } else if bit != self.bit || size != self.size || at != self.bytes.len() as u64 {
            let had = self.bytes.len();
            *self = Self::default();
            return Err(error(
                "offset",
                format!(
                    "a part at {at} of feature {bit}'s {size}-byte section, but {had} bytes of \
                     it came before"
                ),
            ));
        }
        let data = &body[SECTION_PART_FIELDS..];
        let take = (size - at).min(data.len() as u64) as usize;
        self.bytes.extend_from_slice(&data[..take]);
        if (self.bytes.len() as u64) < size {
            return Ok(None);
        }
        let bit = usize::try_from(self.bit).unwrap_or(usize::MAX);
        Ok(Some((bit, std::mem::take(&mut self.bytes))))
    }
}

/// A record read from a stream: where its bytes are and its stream offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamRecord {
    pub loc: Loc,
    pub header: RecordHeader,
    pub offset: u64,
    /// Bytes after the record that belong to it (HEADER_TRACING_DATA's
    /// tracing data), kept in the chunk right after it.
    pub extra: usize,
}

/// A pipe-mode stream after its 16-byte header.
pub(crate) struct StreamInput {
    read: Box<dyn Read + Send>,
    /// The stream offset of the next record.
    pub offset: u64,
    /// The chunk records are read into.
    open: Option<u64>,
    /// The chunks holding the stash.
    pub chunks: Chunks,
    /// Records read with the header records, to be handed out first; each
    /// holds its chunk.
    pub stash: VecDeque<StreamRecord>,
}

impl std::fmt::Debug for StreamInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInput")
            .field("offset", &self.offset)
            .field("stash", &self.stash.len())
            .finish_non_exhaustive()
    }
}

/// What the header records of a stream say.
pub(crate) struct PipeHeader {
    pub events: Vec<EventDesc>,
    pub features: Features,
    pub event_desc: Vec<EventDescEntry>,
    /// Names from EVENT_UPDATE records, by id.
    pub names_by_id: HashMap<u64, String>,
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` when the stream ends
/// before the first byte.
fn read_full(read: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut done = 0;
    while done < buf.len() {
        match read.read(&mut buf[done..]) {
            Ok(0) if done == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl StreamInput {
    /// A stream whose 16-byte header has been read.
    pub fn new(read: Box<dyn Read + Send>) -> Self {
        Self {
            read,
            offset: PIPE_HEADER_SIZE,
            open: None,
            chunks: Chunks::default(),
            stash: VecDeque::new(),
        }
    }

    fn cut(&self, path: &Path, offset: u64, size: u64) -> PerfDataError {
        PerfDataError::RecordPastEnd {
            path: path.to_path_buf(),
            offset,
            size,
            data_end: self.offset,
        }
    }

    /// Reads the next record into `chunks`, `None` at the stream's end.
    /// The record does not hold its chunk: the caller holds it.
    pub fn next<O: ByteOrder>(
        &mut self,
        path: &Path,
        chunks: &mut Chunks,
    ) -> Result<Option<StreamRecord>, PerfDataError> {
        let offset = self.offset;
        let io = |source| PerfDataError::Io {
            path: path.to_path_buf(),
            what: "reading the stream",
            source,
        };
        let mut head = [0u8; RecordHeader::SIZE];
        match read_full(&mut self.read, &mut head) {
            Ok(true) => {}
            Ok(false) => {
                if let Some(id) = self.open.take() {
                    chunks.close(id);
                }
                return Ok(None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(self.cut(path, offset, RecordHeader::SIZE as u64));
            }
            Err(e) => return Err(io(e)),
        }
        let header = RecordHeader::from_bytes::<O>(&head);
        let size = usize::from(header.size);
        if size < RecordHeader::SIZE {
            return Err(PerfDataError::RecordTooSmall {
                path: path.to_path_buf(),
                offset,
                kind: header.kind,
                size: header.size,
            });
        }
        let id = match self.open {
            Some(id) if chunks.data(id).len() < CHUNK_SIZE => id,
            other => {
                if let Some(old) = other {
                    chunks.close(old);
                }
                let id = chunks.push(Vec::with_capacity(CHUNK_SIZE + (64 << 10)));
                self.open = Some(id);
                id
            }
        };
        let Some(data) = chunks.data_mut(id) else {
            return Err(self.cut(path, offset, size as u64));
        };
        let start = data.len();
        data.extend_from_slice(&head);
        data.resize(start + size, 0);
        match read_full(&mut self.read, &mut data[start + RecordHeader::SIZE..]) {
            Ok(true) => {}
            Ok(false) | Err(_) if size == RecordHeader::SIZE => {}
            Ok(false) => {
                data.truncate(start);
                return Err(self.cut(path, offset, size as u64));
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                data.truncate(start);
                return Err(self.cut(path, offset, size as u64));
            }
            Err(e) => return Err(io(e)),
        }
        let body = &data[start + RecordHeader::SIZE..start + size];
        // The bytes that follow some records outside their size.
        let trailing = match header.kind {
            RecordType::HEADER_TRACING_DATA if body.len() >= 4 => {
                u64::from(O::read_u32(&body[0..4]))
            }
            RecordType::AUXTRACE if body.len() >= 8 => O::read_u64(&body[0..8]),
            _ => 0,
        };
        let mut extra = 0;
        if header.kind == RecordType::HEADER_TRACING_DATA {
            if trailing > MAX_TRACING_DATA {
                return Err(PerfDataError::Parse {
                    path: path.to_path_buf(),
                    offset,
                    source: crate::error::ParseError::Invalid {
                        record: header.kind,
                        field: "size",
                        reason: format!(
                            "{trailing} bytes of tracing data, more than the {MAX_TRACING_DATA} accepted"
                        ),
                    },
                });
            }
            extra = trailing as usize;
            // Grown as the data comes, not to the size the record claims.
            let read = (&mut self.read)
                .take(trailing)
                .read_to_end(data)
                .map_err(io)?;
            if read != extra {
                return Err(self.cut(path, offset, size as u64 + trailing));
            }
        } else if trailing > 0 {
            let skipped = std::io::copy(&mut (&mut self.read).take(trailing), &mut std::io::sink())
                .map_err(io)?;
            if skipped != trailing {
                return Err(self.cut(path, offset, size as u64 + trailing));
            }
        }
        self.offset += size as u64 + trailing;
        Ok(Some(StreamRecord {
            loc: Loc::Chunk { chunk: id, start },
            header,
            offset,
            extra,
        }))
    }
}

/// Whether a stream's header records are over once a record of `kind`
/// comes: what follows may be samples, which need the events.
fn ends_header(kind: RecordType) -> bool {
    matches!(
        kind,
        RecordType::SAMPLE
            | RecordType::FINISHED_ROUND
            | RecordType::FINISHED_INIT
            | RecordType::COMPRESSED
            | RecordType::COMPRESSED2
    )
}

/// Reads a stream's header records, keeping the other records read with
/// them in the stream's stash.
pub(crate) fn read_header<O: ByteOrder>(
    path: &Path,
    input: &mut StreamInput,
) -> Result<PipeHeader, PerfDataError> {
    let mut h = PipeHeader {
        events: Vec::new(),
        features: Features::default(),
        event_desc: Vec::new(),
        names_by_id: HashMap::new(),
    };
    let mut chunks = std::mem::take(&mut input.chunks);
    let mut stashed = 0usize;
    let mut parts = SectionParts::default();
    let result = loop {
        let r = match input.next::<O>(path, &mut chunks) {
            Ok(Some(r)) => r,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let Loc::Chunk { chunk, start } = r.loc else {
            unreachable!("a stream's records are in chunks")
        };
        let size = usize::from(r.header.size);
        let bytes = chunks.data(chunk);
        let body = &bytes[start + RecordHeader::SIZE..start + size];
        let extra = &bytes[start + size..start + size + r.extra];
        let parse_error = |field: &'static str, reason: String| PerfDataError::Parse {
            path: path.to_path_buf(),
            offset: r.offset,
            source: crate::error::ParseError::Invalid {
                record: r.header.kind,
                field,
                reason,
            },
        };
        match r.header.kind {
            RecordType::HEADER_ATTR => {
                if body.len() < ATTR_SIZE_VER0 {
                    break Err(parse_error(
                        "attr",
                        format!("{} bytes, smaller than the oldest attr", body.len()),
                    ));
                }
                let attr_size = match O::read_u32(&body[4..8]) as usize {
                    0 => ATTR_SIZE_VER0,
                    s => s,
                };
                if attr_size > body.len() || (body.len() - attr_size) % 8 != 0 {
                    break Err(parse_error(
                        "attr.size",
                        format!(
                            "attr of {attr_size} bytes in a {}-byte record: the ids after it are not whole",
                            body.len()
                        ),
                    ));
                }
                let attr = match EventAttr::from_bytes::<O>(&body[..attr_size]) {
                    Ok(a) => a,
                    Err(e) => break Err(parse_error("attr", e.to_string())),
                };
                let ids = body[attr_size..].chunks_exact(8).map(O::read_u64).collect();
                h.events.push(EventDesc {
                    attr,
                    ids,
                    name: String::new(),
                });
            }
            RecordType::HEADER_TRACING_DATA => {
                let mut c = FeatureCursor {
                    bytes: extra,
                    pos: 0,
                    base: r.offset + size as u64,
                    feature: feature::name(feature::TRACING_DATA),
                    path,
                };
                if let Err(e) = decode::<O>(
                    feature::TRACING_DATA,
                    &mut c,
                    &mut h.features,
                    &mut h.event_desc,
                ) {
                    break Err(e);
                }
            }
            RecordType::HEADER_FEATURE => {
                if body.len() < 8 {
                    break Err(parse_error(
                        "feat_id",
                        "the record has no feature id".into(),
                    ));
                }
                let bit = O::read_u64(&body[0..8]);
                let mut c = FeatureCursor {
                    bytes: &body[8..],
                    pos: 0,
                    base: r.offset + 16,
                    feature: feature::name(usize::try_from(bit).unwrap_or(usize::MAX)),
                    path,
                };
                // A bit past the bitmap is no feature perf knows: skipped,
                // as perf skips the features it does not know.
                if let Ok(bit) = usize::try_from(bit) {
                    if let Err(e) = decode::<O>(bit, &mut c, &mut h.features, &mut h.event_desc) {
                        break Err(e);
                    }
                }
            }
            RecordType::EVENT_UPDATE => {
                if body.len() >= 16 && O::read_u64(&body[0..8]) == EVENT_UPDATE_NAME {
                    let id = O::read_u64(&body[8..16]);
                    let name = &body[16..];
                    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                    h.names_by_id
                        .insert(id, String::from_utf8_lossy(&name[..end]).into_owned());
                }
                chunks.hold(chunk);
                input.stash.push_back(r);
            }
            RecordType::HEADER_EVENT_TYPE if SectionParts::is_part::<O>(body) => {
                let whole = match parts.add::<O>(path, r.offset, body) {
                    Ok(whole) => whole,
                    Err(e) => break Err(e),
                };
                if let Some((bit, bytes)) = whole {
                    let mut c = FeatureCursor {
                        bytes: &bytes,
                        pos: 0,
                        base: r.offset,
                        feature: feature::name(bit),
                        path,
                    };
                    if let Err(e) = decode::<O>(bit, &mut c, &mut h.features, &mut h.event_desc) {
                        break Err(e);
                    }
                }
            }
            RecordType::HEADER_EVENT_TYPE | RecordType::HEADER_BUILD_ID => {}
            kind => {
                chunks.hold(chunk);
                input.stash.push_back(r);
                stashed += size;
                if ends_header(kind) || stashed > MAX_STASH {
                    break Ok(());
                }
            }
        }
    };
    input.chunks = chunks;
    result.map(|()| h)
}

/// Writes a pipe-mode stream, as `perf record -o -` does, to any
/// [`Write`]: `perf report -i -` and `perfns report -i -` read it as it
/// comes.
///
/// A stream cannot be rewritten, so everything a perf.data file keeps in
/// its header and feature sections goes first, as records: the attrs
/// (HEADER_ATTR), the features given to [`PerfPipeWriter::create`]
/// (HEADER_FEATURE; not EVENT_DESC, which perf does not take in pipe
/// mode) and the HEADER_LAST_FEATURE mark after them, the sections perf
/// does not know in parts (the module's documentation), the tracepoint
/// formats (HEADER_TRACING_DATA) and each event's name (EVENT_UPDATE).
/// As with perf, the features are those known at the start; the sections
/// perf does not know are written again by [`PerfPipeWriter::finish`].
pub struct PerfPipeWriter<W: Write> {
    path: PathBuf,
    out: W,
    /// Bytes written so far: the offset of the next record.
    written: u64,
    /// With a compression level: records gathered to be compressed.
    compressor: Option<Compressor>,
}

impl<W: Write> std::fmt::Debug for PerfPipeWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfPipeWriter")
            .field("path", &self.path)
            .field("written", &self.written)
            .field("compressor", &self.compressor)
            .finish_non_exhaustive()
    }
}

impl<W: Write> PerfPipeWriter<W> {
    /// Writes the pipe-mode header and the header records of `events` and
    /// `features` to `out`; `path` names it in errors (`-` for stdout).
    /// With `level` (zstd, 1 to 22), the records written after are
    /// compressed as `perf record -z -o -` compresses them
    /// ([`super::PerfFileWriter::compress`]), and HEADER_COMPRESSED says
    /// so, with the ratio 0 that perf writes at the start of a stream.
    pub fn create(
        path: impl AsRef<Path>,
        out: W,
        events: &[EventDesc],
        features: &Features,
        level: Option<u32>,
    ) -> Result<Self, PerfDataError> {
        let mut w = Self {
            path: path.as_ref().to_path_buf(),
            out,
            written: 0,
            compressor: None,
        };
        if events.is_empty() {
            return Err(w.unwritable("a recording needs at least one event".into()));
        }
        let compressor = match level {
            None => None,
            Some(level) if !(1..=22).contains(&level) => {
                return Err(w.unwritable(format!(
                    "zstd compression level {level}: the levels are 1 to 22"
                )))
            }
            Some(level) => Some(Compressor::new(level).map_err(|source| PerfDataError::Io {
                path: w.path.clone(),
                what: "starting zstd",
                source,
            })?),
        };
        let features = Features {
            compressed: compressor.as_ref().map(|c| Compression {
                ratio: 0,
                ..c.feature()
            }),
            ..features.clone()
        };
        let mut head = u64::from_le_bytes(super::header::MAGIC)
            .to_ne_bytes()
            .to_vec();
        head.extend_from_slice(&PIPE_HEADER_SIZE.to_ne_bytes());
        w.put(&head)?;
        for e in events {
            let mut body = padded_attr(e, e.attr.encoded_size());
            for id in &e.ids {
                body.extend_from_slice(&id.to_ne_bytes());
            }
            w.put_record(RecordType::HEADER_ATTR, &body)?;
        }
        for f in encode(&features, Vec::new()) {
            if f.bit == feature::EVENT_DESC
                || f.bit == feature::TRACING_DATA
                || f.bit >= feature::PERF_LAST_FEATURE
            {
                continue;
            }
            let mut body = (f.bit as u64).to_ne_bytes().to_vec();
            body.extend_from_slice(&f.bytes);
            w.put_record(RecordType::HEADER_FEATURE, &body)?;
        }
        // perf_event__synthesize_features ends with this mark.
        w.put_record(
            RecordType::HEADER_FEATURE,
            &(feature::PERF_LAST_FEATURE as u64).to_ne_bytes(),
        )?;
        w.put_unknown_sections(&features)?;
        if let Some(t) = &features.tracing_data {
            let data = t.to_ne_bytes();
            let padded = data.len().div_ceil(8) * 8;
            // perf_event__synthesize_tracing_data: the record, then the
            // data padded to 8 bytes, its size the padded size.
            w.put_record(
                RecordType::HEADER_TRACING_DATA,
                &(padded as u32).to_ne_bytes(),
            )?;
            w.put(&data)?;
            w.put(&vec![0; padded - data.len()])?;
        }
        for e in events {
            let Some(&id) = e.ids.first() else { continue };
            // perf_event__synthesize_event_update_name: type, id, the name
            // NUL-terminated and padded to 8.
            let mut body = EVENT_UPDATE_NAME.to_ne_bytes().to_vec();
            body.extend_from_slice(&id.to_ne_bytes());
            body.extend_from_slice(e.name.as_bytes());
            body.resize((body.len() + 1).div_ceil(8) * 8, 0);
            w.put_record(RecordType::EVENT_UPDATE, &body)?;
        }
        w.compressor = compressor;
        Ok(w)
    }

    /// Writes the sections of `features` that perf does not read (bits
    /// from HEADER_LAST_FEATURE up: the perfns extension) in parts.
    fn put_unknown_sections(&mut self, features: &Features) -> Result<(), PerfDataError> {
        for f in encode(features, Vec::new()) {
            if f.bit < feature::PERF_LAST_FEATURE {
                continue;
            }
            let size = f.bytes.len();
            let mut at = 0;
            loop {
                let part = &f.bytes[at..size.min(at + SECTION_PART_DATA)];
                let mut body = Vec::with_capacity(SECTION_PART_FIELDS + part.len() + 8);
                for field in [SECTION_PART_MAGIC, f.bit as u64, at as u64, size as u64] {
                    body.extend_from_slice(&field.to_ne_bytes());
                }
                body.extend_from_slice(part);
                body.resize(body.len().div_ceil(8) * 8, 0);
                self.put_record(RecordType::HEADER_EVENT_TYPE, &body)?;
                at += part.len();
                if at >= size {
                    break;
                }
            }
        }
        Ok(())
    }

    fn unwritable(&self, reason: String) -> PerfDataError {
        PerfDataError::Unwritable {
            path: self.path.clone(),
            offset: self.written,
            reason,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), PerfDataError> {
        self.out
            .write_all(bytes)
            .map_err(|source| PerfDataError::Io {
                path: self.path.clone(),
                what: "writing the stream",
                source,
            })?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes a record of perf's own, never compressed.
    fn put_record(&mut self, kind: RecordType, body: &[u8]) -> Result<(), PerfDataError> {
        let size = u16::try_from(RecordHeader::SIZE + body.len())
            .map_err(|_| self.unwritable(format!("{kind:?} record of {} bytes", body.len())))?;
        let header = RecordHeader {
            kind,
            misc: 0,
            size,
        };
        self.put(&header.to_ne_bytes())?;
        self.put(body)
    }

    /// Writes one record, as [`super::PerfFileWriter::write_record`] does
    /// (PERF_RECORD_TRACER_NAMESPACES too is stored as NAMESPACES);
    /// compressing, into the batch that the next round marker, flush or
    /// [`BATCH_SIZE`] of records compresses.
    pub fn write_record(
        &mut self,
        header: RecordHeader,
        body: RawData<'_>,
    ) -> Result<(), PerfDataError> {
        let header = stored_header(header, &body).map_err(|reason| self.unwritable(reason))?;
        if let Some(c) = &mut self.compressor {
            c.batch.extend_from_slice(&header.to_ne_bytes());
            body.append_to(&mut c.batch);
            if c.batch.len() >= BATCH_SIZE {
                self.compress_batch()?;
            }
            return Ok(());
        }
        self.put(&header.to_ne_bytes())?;
        match body {
            RawData::Single(a) => self.put(a),
            RawData::Split(a, b) => {
                self.put(a)?;
                self.put(b)
            }
        }
    }

    /// Compressing: writes the gathered records as COMPRESSED records.
    fn compress_batch(&mut self) -> Result<(), PerfDataError> {
        let Some(c) = &mut self.compressor else {
            return Ok(());
        };
        let mut out = Vec::new();
        c.flush(&mut out).map_err(|source| PerfDataError::Io {
            path: self.path.clone(),
            what: "compressing records",
            source,
        })?;
        self.put(&out)
    }

    /// Writes PERF_RECORD_FINISHED_ROUND (see
    /// [`super::PerfFileWriter::write_finished_round`]), uncompressed after
    /// its round's records, as perf writes it.
    pub fn write_finished_round(&mut self) -> Result<(), PerfDataError> {
        self.compress_batch()?;
        self.put_record(RecordType::FINISHED_ROUND, &[])
    }

    /// Writes PERF_RECORD_FINISHED_INIT, uncompressed: the records before
    /// it are the synthesized ones (the statedump), those after it come
    /// from the ring buffers, as perf record writes it.
    pub fn write_finished_init(&mut self) -> Result<(), PerfDataError> {
        self.compress_batch()?;
        self.put_record(RecordType::FINISHED_INIT, &[])
    }

    /// Bytes written so far, header included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Compressing: bytes of records per byte written, so far.
    pub fn compression_ratio(&self) -> Option<f64> {
        self.compressor.as_ref().map(Compressor::ratio)
    }

    /// Writes the records gathered to be compressed, then flushes what the
    /// writer below buffers, so that a reader at the other end of the pipe
    /// gets the records written so far.
    pub fn flush(&mut self) -> Result<(), PerfDataError> {
        self.compress_batch()?;
        self.out.flush().map_err(|source| PerfDataError::Io {
            path: self.path.clone(),
            what: "flushing the stream",
            source,
        })
    }

    /// Ends the stream: writes the records gathered to be compressed, then
    /// again the sections of `features` that perf does not read (the
    /// perfns extension as it is at the end, which replaces the first
    /// one), and flushes. Nothing is to be written after.
    pub fn end(&mut self, features: &Features) -> Result<(), PerfDataError> {
        self.compress_batch()?;
        self.put_unknown_sections(features)?;
        self.flush()
    }

    /// [`Self::end`], then hands the stream back.
    pub fn finish(mut self, features: &Features) -> Result<W, PerfDataError> {
        self.end(features)?;
        Ok(self.out)
    }
}

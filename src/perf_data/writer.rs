//! Writing a recording: the header and attrs first (the events are known
//! when recording starts), then records as they come, then the features.
//!
//! Records are gathered in memory and written at each
//! [`PerfFileWriter::flush_header`], which follows them with the feature
//! table and sections and then rewrites the header to count them: after a
//! flush the file is a complete perf.data file, features included, that
//! perf opens even if the writer never reaches [`PerfFileWriter::finish`]
//! (killed, full disk). [`PerfFileWriter::write_record`] flushes on its own
//! every [`PerfFileWriter::HEADER_FLUSH_INTERVAL`] bytes. See
//! docs/recording-format.md for why this order.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::compressed::{Compressor, BATCH_SIZE};
use super::features::{encode, put_string, Features};
use super::header::{FileHeader, FileSection, HEADER_SIZE, SECTION_SIZE};
use super::PerfDataError;
use crate::attr::{flags, EventDesc};
use crate::record::{RawData, RecordHeader, RecordType};

/// The attr bits of the perfns kernel series, which perf refuses ("Reserved
/// bits are set unexpectedly"): the file's attrs are written without them.
/// A recording's scope is in the perfns extension's `mode` instead.
const SERIES_ATTR_FLAGS: u64 = flags::TRACER_SCOPE | flags::TRACER_NAMESPACES;

/// Writes a perf.data file that perf 6.1 and later read.
#[derive(Debug)]
pub struct PerfFileWriter {
    path: PathBuf,
    file: File,
    /// The header as on disk after the last flush, data size and feature
    /// bits included.
    header: FileHeader,
    events: Vec<EventDesc>,
    /// Every attr is written with this size, so that entries have the one
    /// size the header's attr_size gives.
    attr_len: usize,
    /// The features written at each flush until [`Self::finish`].
    features: Features,
    /// Records not yet in the file.
    pending: Vec<u8>,
    /// The feature table and sections as last written, right after the
    /// data: put back if a flush fails halfway.
    tail: Vec<u8>,
    /// With [`Self::compress`]: records gathered to be compressed.
    compressor: Option<Compressor>,
}

impl PerfFileWriter {
    /// Record bytes gathered before [`Self::write_record`] writes them and
    /// rewrites the header on its own: at most this much is lost when a
    /// recording is killed.
    pub const HEADER_FLUSH_INTERVAL: usize = 8 << 20;

    /// Creates (truncates) `path` and writes the header, the events' ids
    /// and attrs, and a first feature table (EVENT_DESC only, until
    /// [`Self::set_features`]). Records can then be written.
    pub fn create(path: impl AsRef<Path>, events: &[EventDesc]) -> Result<Self, PerfDataError> {
        let path = path.as_ref().to_path_buf();
        if events.is_empty() {
            return Err(PerfDataError::Unwritable {
                path,
                offset: 0,
                reason: "a recording needs at least one event".into(),
            });
        }
        let attr_len = events
            .iter()
            .map(|e| e.attr.encoded_size())
            .max()
            .unwrap_or(crate::attr::ATTR_SIZE_VER7);
        let file = File::create(&path).map_err(|source| PerfDataError::Io {
            path: path.clone(),
            what: "creating the recording",
            source,
        })?;

        // Layout: header, the ids of each event, the attr entries, data.
        let mut body = Vec::new();
        let mut id_sections = Vec::with_capacity(events.len());
        for e in events {
            let offset = HEADER_SIZE + body.len() as u64;
            for id in &e.ids {
                body.extend_from_slice(&id.to_ne_bytes());
            }
            id_sections.push(FileSection {
                offset,
                size: 8 * e.ids.len() as u64,
            });
        }
        let attrs_offset = HEADER_SIZE + body.len() as u64;
        for (e, ids) in events.iter().zip(id_sections) {
            body.extend_from_slice(&padded_attr(e, attr_len));
            body.extend_from_slice(&ids.to_ne_bytes());
        }
        let attr_size = attr_len as u64 + SECTION_SIZE;
        let header = FileHeader {
            size: HEADER_SIZE,
            attr_size,
            attrs: FileSection {
                offset: attrs_offset,
                size: attr_size * events.len() as u64,
            },
            data: FileSection {
                offset: HEADER_SIZE + body.len() as u64,
                size: 0,
            },
            features: [0; 4],
        };
        file.write_all_at(&body, HEADER_SIZE)
            .map_err(|source| PerfDataError::Io {
                path: path.clone(),
                what: "writing the attrs",
                source,
            })?;
        let mut w = Self {
            path,
            file,
            header,
            events: events.to_vec(),
            attr_len,
            features: Features::default(),
            pending: Vec::with_capacity(Self::HEADER_FLUSH_INTERVAL + (64 << 10)),
            tail: Vec::new(),
            compressor: None,
        };
        w.flush_header()?;
        Ok(w)
    }

    /// Sets the features written with every flush from now on. Set the
    /// tracing data here, before the first records: perf refuses a file
    /// with tracepoint events and no tracepoint formats.
    pub fn set_features(&mut self, features: &Features) {
        self.features = features.clone();
    }

    /// Writes the records from now on compressed with zstd at `level` (1
    /// to 22), in PERF_RECORD_COMPRESSED records as `perf record -z`
    /// writes them, with the HEADER_COMPRESSED feature. Round markers stay
    /// uncompressed, as perf writes them.
    pub fn compress(&mut self, level: u32) -> Result<(), PerfDataError> {
        if !(1..=22).contains(&level) {
            return Err(PerfDataError::Unwritable {
                path: self.path.clone(),
                offset: self.data_end(),
                reason: format!("zstd compression level {level}: the levels are 1 to 22"),
            });
        }
        let compressor = Compressor::new(level).map_err(|source| PerfDataError::Io {
            path: self.path.clone(),
            what: "starting zstd",
            source,
        })?;
        self.compressor = Some(compressor);
        Ok(())
    }

    /// With [`Self::compress`]: bytes of records per byte written so far.
    pub fn compression_ratio(&self) -> Option<f64> {
        self.compressor.as_ref().map(Compressor::ratio)
    }

    /// Compresses the gathered records into the write buffer.
    fn compress_batch(&mut self) -> Result<(), PerfDataError> {
        let Some(c) = &mut self.compressor else {
            return Ok(());
        };
        c.flush(&mut self.pending)
            .map_err(|source| PerfDataError::Io {
                path: self.path.clone(),
                what: "compressing records",
                source,
            })?;
        self.features.compressed = Some(c.feature());
        Ok(())
    }

    /// The file offset the next record goes to.
    fn data_end(&self) -> u64 {
        self.header.data.offset + self.header.data.size + self.pending.len() as u64
    }

    /// Appends one record: `header` then `body`, which may be split where
    /// it wrapped the ring buffer; both parts are copied once, into the
    /// write buffer.
    ///
    /// A PERF_RECORD_TRACER_NAMESPACES, which perf refuses, goes in as
    /// PERF_RECORD_NAMESPACES, its body unchanged: its first part is a
    /// NAMESPACES body (pid, tid, nr_namespaces, the links) and perf finds
    /// the sample_id from the record's end, so perf reads that part and
    /// skips the tracer levels and pid levels. The reader gives it its type
    /// back in a tracer-scope recording ([`super::FileRecord::header`]).
    pub fn write_record(
        &mut self,
        header: RecordHeader,
        body: RawData<'_>,
    ) -> Result<(), PerfDataError> {
        let header = stored_header(header, &body).map_err(|reason| PerfDataError::Unwritable {
            path: self.path.clone(),
            offset: self.data_end(),
            reason,
        })?;
        let compressing = header.kind != RecordType::FINISHED_ROUND;
        self.buffer(compressing)
            .extend_from_slice(&header.to_ne_bytes());
        self.append(compressing, body)
    }

    /// Appends whole records as a ring buffer holds them, back to back
    /// (split where they wrapped the ring): copied into the write buffer in
    /// one piece each, not record by record, and not rewritten, so they
    /// must hold no PERF_RECORD_TRACER_NAMESPACES (only a side-band event
    /// asks for those).
    ///
    /// Compressing, they go in record by record: a compressed frame holds
    /// at most [`BATCH_SIZE`] and the record that crossed it, the
    /// decompression buffer perf sizes by HEADER_COMPRESSED's mmap_len.
    pub fn write_records(&mut self, records: RawData<'_>) -> Result<(), PerfDataError> {
        if self.compressor.is_none() {
            return self.append(false, records);
        }
        let joined;
        let mut rest: &[u8] = match records {
            RawData::Single(a) => a,
            RawData::Split(a, b) => {
                joined = [a, b].concat();
                &joined
            }
        };
        while let Some(head) = rest.first_chunk::<{ RecordHeader::SIZE }>() {
            let header = RecordHeader::from_bytes::<byteorder::NativeEndian>(head);
            let size = usize::from(header.size);
            let Some(body) = rest.get(RecordHeader::SIZE..size) else {
                return Err(PerfDataError::Unwritable {
                    path: self.path.clone(),
                    offset: self.data_end(),
                    reason: format!(
                        "{:?} record of {size} bytes in a batch of {} bytes",
                        header.kind,
                        rest.len()
                    ),
                });
            };
            self.write_record(header, RawData::Single(body))?;
            rest = &rest[size..];
        }
        Ok(())
    }

    /// Where records go: the batch to compress, or the write buffer.
    fn buffer(&mut self, compressing: bool) -> &mut Vec<u8> {
        match &mut self.compressor {
            Some(c) if compressing => &mut c.batch,
            _ => &mut self.pending,
        }
    }

    /// Appends `bytes` to the batch to compress or the write buffer, and
    /// compresses the batch or writes the buffer out when it has grown to
    /// [`BATCH_SIZE`] or [`Self::HEADER_FLUSH_INTERVAL`].
    fn append(&mut self, compressing: bool, bytes: RawData<'_>) -> Result<(), PerfDataError> {
        bytes.append_to(self.buffer(compressing));
        if self
            .compressor
            .as_ref()
            .is_some_and(|c| c.batch.len() >= BATCH_SIZE)
        {
            self.compress_batch()?;
        }
        if self.pending.len() >= Self::HEADER_FLUSH_INTERVAL {
            self.flush_header()?;
        }
        Ok(())
    }

    /// Appends PERF_RECORD_FINISHED_ROUND: every record written before the
    /// previous round marker is older than every record after this one.
    /// Write one after each pass over all the ring buffers, as perf does.
    pub fn write_finished_round(&mut self) -> Result<(), PerfDataError> {
        // The round's records go before its marker.
        self.compress_batch()?;
        let header = RecordHeader {
            kind: RecordType::FINISHED_ROUND,
            misc: 0,
            size: RecordHeader::SIZE as u16,
        };
        self.write_record(header, RawData::Single(&[]))
    }

    /// Writes the gathered records, the feature table and sections after
    /// them, then the header counting them: from here on the file is
    /// complete up to this point even if the writer never finishes. Does
    /// not wait for the disk (see [`Self::sync`]).
    ///
    /// The records overwrite the previous feature table, which the header
    /// on disk still points at until the new header is written; if a write
    /// fails (a full disk), the previous table is put back, so the file
    /// stays what the last successful flush made it.
    pub fn flush_header(&mut self) -> Result<(), PerfDataError> {
        self.compress_batch()?;
        let old_end = self.header.data.offset + self.header.data.size;
        let new_size = self.header.data.size + self.pending.len() as u64;
        let new_end = self.header.data.offset + new_size;
        let mut header = self.header;
        header.data.size = new_size;
        header.features = [0; 4];
        let tail = self.feature_tail(new_end, &mut header);
        let (fitted, records_written) = write_counted(&self.file, &self.pending, old_end);
        let written = records_written
            .and_then(|()| self.file.write_all_at(&tail, new_end))
            .and_then(|()| self.file.write_all_at(&header.to_ne_bytes(), 0));
        if let Err(source) = written {
            // A full disk took part of the records: keep the whole records
            // that leave room for a feature table in the space they took.
            // Best effort, as is putting back the previous table (those
            // bytes were allocated by the last flush, so rewriting them
            // needs no new space).
            if !self.flush_what_fitted(fitted) {
                let _ = self.file.write_all_at(&self.tail, old_end);
            }
            return Err(PerfDataError::Io {
                path: self.path.clone(),
                what: "writing records and features",
                source,
            });
        }
        self.header = header;
        self.tail = tail;
        self.pending.clear();
        Ok(())
    }

    /// After a flush that could write only `fitted` bytes of the pending
    /// records: makes the file end with the longest run of whole pending
    /// records that, with a feature table after them, fits in those bytes,
    /// and drops them from the pending records. Returns whether the file
    /// was rewritten so.
    fn flush_what_fitted(&mut self, fitted: usize) -> bool {
        let old_end = self.header.data.offset + self.header.data.size;
        let mut header = self.header;
        header.features = [0; 4];
        // The table's length does not depend on where it goes.
        let tail_len = self.feature_tail(old_end, &mut header.clone()).len();
        let mut kept = 0;
        while let Some(size) = self.pending.get(kept + 6..kept + 8) {
            let size = usize::from(u16::from_ne_bytes([size[0], size[1]]));
            if size < RecordHeader::SIZE || kept + size + tail_len > fitted {
                break;
            }
            kept += size;
        }
        if kept == 0 {
            return false;
        }
        header.data.size += kept as u64;
        let end = old_end + kept as u64;
        let tail = self.feature_tail(end, &mut header);
        let rewritten = self
            .file
            .write_all_at(&tail, end)
            .and_then(|()| self.file.write_all_at(&header.to_ne_bytes(), 0))
            .and_then(|()| self.file.set_len(end + tail.len() as u64));
        if rewritten.is_err() {
            return false;
        }
        self.header = header;
        self.tail = tail;
        self.pending.drain(..kept);
        true
    }

    /// [`Self::flush_header`], then waits until the data is on disk.
    pub fn sync(&mut self) -> Result<(), PerfDataError> {
        self.flush_header()?;
        self.file.sync_data().map_err(|source| PerfDataError::Io {
            path: self.path.clone(),
            what: "syncing",
            source,
        })
    }

    /// Writes the remaining records, `features` after them and the final
    /// header.
    pub fn finish(mut self, features: &Features) -> Result<(), PerfDataError> {
        self.features = features.clone();
        self.compress_batch()?;
        self.flush_header()?;
        // An earlier, longer feature tail may stick out past this one.
        let end = self.header.data.offset + self.header.data.size + self.tail.len() as u64;
        self.file.set_len(end).map_err(|source| PerfDataError::Io {
            path: self.path.clone(),
            what: "trimming the file",
            source,
        })
    }

    /// The feature table and sections for a data section ending at `at`,
    /// with their bits set in `header`.
    fn feature_tail(&self, at: u64, header: &mut FileHeader) -> Vec<u8> {
        let bodies = encode(&self.features, self.event_desc());
        let mut offset = at + SECTION_SIZE * bodies.len() as u64;
        let mut out = Vec::new();
        for b in &bodies {
            let size = b.bytes.len() as u64;
            out.extend_from_slice(&FileSection { offset, size }.to_ne_bytes());
            offset += size;
            header.set_feature(b.bit);
        }
        for b in &bodies {
            out.extend_from_slice(&b.bytes);
        }
        out
    }

    /// HEADER_EVENT_DESC: u32 nr, u32 attr size, then per event its attr,
    /// u32 nr_ids, its name as a perf string, its ids.
    fn event_desc(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(self.events.len() as u32).to_ne_bytes());
        b.extend_from_slice(&(self.attr_len as u32).to_ne_bytes());
        for e in &self.events {
            b.extend_from_slice(&padded_attr(e, self.attr_len));
            b.extend_from_slice(&(e.ids.len() as u32).to_ne_bytes());
            put_string(&mut b, &e.name);
            for id in &e.ids {
                b.extend_from_slice(&id.to_ne_bytes());
            }
        }
        b
    }
}

/// Writes `buf` at `offset` as `write_all_at` does, and also returns how
/// many bytes were written when it fails (a full disk takes a part).
fn write_counted(file: &File, buf: &[u8], offset: u64) -> (usize, std::io::Result<()>) {
    let mut done = 0;
    while done < buf.len() {
        match file.write_at(&buf[done..], offset + done as u64) {
            Ok(0) => return (done, Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Err(e)),
        }
    }
    (done, Ok(()))
}

/// The header a record with `body` is stored with: PERF_RECORD_TRACER_NAMESPACES,
/// which perf refuses, as PERF_RECORD_NAMESPACES (see
/// [`PerfFileWriter::write_record`]). Fails when the header's size is not
/// the record's.
pub(super) fn stored_header(
    header: RecordHeader,
    body: &RawData<'_>,
) -> Result<RecordHeader, String> {
    if usize::from(header.size) != RecordHeader::SIZE + body.len() {
        return Err(format!(
            "{:?} record header says {} bytes, but it has {}",
            header.kind,
            header.size,
            RecordHeader::SIZE + body.len()
        ));
    }
    Ok(if header.kind == RecordType::TRACER_NAMESPACES {
        RecordHeader {
            kind: RecordType::NAMESPACES,
            ..header
        }
    } else {
        header
    })
}

/// The attr encoded with `len` bytes and its size field saying so, without
/// the series' bits.
pub(super) fn padded_attr(e: &EventDesc, len: usize) -> Vec<u8> {
    let mut attr = e.attr.clone();
    attr.flags &= !SERIES_ATTR_FLAGS;
    let mut a = attr.to_ne_bytes();
    a.resize(len, 0);
    a[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    a
}

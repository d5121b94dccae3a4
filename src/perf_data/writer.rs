//! Writing a recording: the header and attrs first (the events are known
//! when recording starts), then records as they come, then the features.
//!
//! The header's data size is rewritten by [`PerfFileWriter::flush_header`],
//! on its own every [`PerfFileWriter::HEADER_FLUSH_INTERVAL`] bytes of
//! records, so that a recording that never reaches
//! [`PerfFileWriter::finish`] (killed, full disk) is a valid perf.data file
//! holding the records up to the last flush, without features.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::features::{encode, put_string, Features};
use super::header::{FileHeader, FileSection, HEADER_SIZE, SECTION_SIZE};
use super::PerfDataError;
use crate::attr::EventDesc;
use crate::record::{RawData, RecordHeader, RecordType};

/// Writes a perf.data file that perf 6.1 and later read.
#[derive(Debug)]
pub struct PerfFileWriter {
    path: PathBuf,
    out: BufWriter<File>,
    header: FileHeader,
    events: Vec<EventDesc>,
    /// Every attr is written with this size, so that entries have the one
    /// size the header's attr_size gives.
    attr_len: usize,
    /// Record bytes written since the header last got the data size.
    unflushed: u64,
}

impl PerfFileWriter {
    /// Record bytes after which [`Self::write_record`] rewrites the
    /// header's data size on its own.
    pub const HEADER_FLUSH_INTERVAL: u64 = 16 << 20;

    /// Creates (truncates) `path` and writes the header, the events' ids
    /// and attrs. Records can then be written.
    pub fn create(path: impl AsRef<Path>, events: &[EventDesc]) -> Result<Self, PerfDataError> {
        let path = path.as_ref().to_path_buf();
        let unwritable = |reason: String| PerfDataError::Unwritable {
            path: path.clone(),
            offset: 0,
            reason,
        };
        if events.is_empty() {
            return Err(unwritable("a recording needs at least one event".into()));
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
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let io = |source| PerfDataError::Io {
            path: path.clone(),
            what: "writing the header and attrs",
            source,
        };
        out.write_all(&header.to_ne_bytes()).map_err(io)?;
        out.write_all(&body).map_err(io)?;
        Ok(Self {
            path,
            out,
            header,
            events: events.to_vec(),
            attr_len,
            unflushed: 0,
        })
    }

    /// The file offset the next record goes to.
    fn data_end(&self) -> u64 {
        self.header.data.offset + self.header.data.size
    }

    /// Appends one record: `header` then `body`, which may be split where
    /// it wrapped the ring buffer. Both parts go straight to the file's
    /// buffer.
    pub fn write_record(
        &mut self,
        header: RecordHeader,
        body: RawData<'_>,
    ) -> Result<(), PerfDataError> {
        if usize::from(header.size) != RecordHeader::SIZE + body.len() {
            return Err(PerfDataError::Unwritable {
                path: self.path.clone(),
                offset: self.data_end(),
                reason: format!(
                    "{:?} record header says {} bytes, but it has {}",
                    header.kind,
                    header.size,
                    RecordHeader::SIZE + body.len()
                ),
            });
        }
        let io = |source| PerfDataError::Io {
            path: self.path.clone(),
            what: "writing a record",
            source,
        };
        self.out.write_all(&header.to_ne_bytes()).map_err(io)?;
        match body {
            RawData::Single(a) => self.out.write_all(a).map_err(io)?,
            RawData::Split(a, b) => {
                self.out.write_all(a).map_err(io)?;
                self.out.write_all(b).map_err(io)?;
            }
        }
        self.header.data.size += u64::from(header.size);
        self.unflushed += u64::from(header.size);
        if self.unflushed >= Self::HEADER_FLUSH_INTERVAL {
            self.flush_header()?;
        }
        Ok(())
    }

    /// Appends PERF_RECORD_FINISHED_ROUND: every record written before the
    /// previous round marker is older than every record after this one.
    /// Write one after each pass over all the ring buffers, as perf does.
    pub fn write_finished_round(&mut self) -> Result<(), PerfDataError> {
        let header = RecordHeader {
            kind: RecordType::FINISHED_ROUND,
            misc: 0,
            size: RecordHeader::SIZE as u16,
        };
        self.write_record(header, RawData::Single(&[]))
    }

    /// Writes out buffered records, then the header with the data size so
    /// far: from here on the file is readable up to this point even if the
    /// writer never finishes. Does not wait for the disk (see [`Self::sync`]).
    pub fn flush_header(&mut self) -> Result<(), PerfDataError> {
        self.out.flush().map_err(|source| PerfDataError::Io {
            path: self.path.clone(),
            what: "flushing records",
            source,
        })?;
        // The records are in the file before the header that counts them,
        // so a header never claims bytes that were not written.
        self.out
            .get_ref()
            .write_all_at(&self.header.to_ne_bytes(), 0)
            .map_err(|source| PerfDataError::Io {
                path: self.path.clone(),
                what: "rewriting the header",
                source,
            })?;
        self.unflushed = 0;
        Ok(())
    }

    /// [`Self::flush_header`], then waits until the data is on disk.
    pub fn sync(&mut self) -> Result<(), PerfDataError> {
        self.flush_header()?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|source| PerfDataError::Io {
                path: self.path.clone(),
                what: "syncing",
                source,
            })
    }

    /// Writes the feature sections after the data and the final header.
    pub fn finish(mut self, features: &Features) -> Result<(), PerfDataError> {
        let bodies = encode(features, self.event_desc());
        let table_offset = self.data_end();
        let mut offset = table_offset + SECTION_SIZE * bodies.len() as u64;
        let mut table = Vec::with_capacity(bodies.len() * SECTION_SIZE as usize);
        for b in &bodies {
            let size = b.bytes.len() as u64;
            table.extend_from_slice(&FileSection { offset, size }.to_ne_bytes());
            offset += size;
            self.header.set_feature(b.bit);
        }
        let io = |source| PerfDataError::Io {
            path: self.path.clone(),
            what: "writing the features",
            source,
        };
        self.out.write_all(&table).map_err(io)?;
        for b in &bodies {
            self.out.write_all(&b.bytes).map_err(io)?;
        }
        self.flush_header()
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

/// The attr encoded with `len` bytes and its size field saying so.
fn padded_attr(e: &EventDesc, len: usize) -> Vec<u8> {
    let mut a = e.attr.to_ne_bytes();
    a.resize(len, 0);
    a[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    a
}

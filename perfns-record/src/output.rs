//! Where a recording goes: a perf.data file, or with `-o -` a pipe-mode
//! stream on stdout, as `perf record -o -` writes it (`perfns record -o -
//! | perf script -i -`).
//!
//! A stream cannot be rewritten: its header records (attrs, features,
//! tracing data, event names) go first, so they are written at the first
//! flush, once the statedump's tasks are in the features; the records
//! written before (the statedump: O(tasks)) wait in memory until then, and
//! FINISHED_INIT follows them, as in perf's streams. Like perf, a stream
//! has the features known at its start; the perfns extension, complete
//! only at the end (containers learnt later, losses), is written again
//! then (`PerfPipeWriter::finish`).

use std::io::{BufWriter, Stdout};
use std::path::Path;

use perfns::attr::EventDesc;
use perfns::perf_data::{Features, PerfDataError, PerfFileWriter, PerfPipeWriter};
use perfns::record::{RawData, RecordHeader};

pub mod live;
mod writer_thread;
use live::LiveRecords;
use writer_thread::ThreadedFile;

/// The output path that means stdout.
pub const STDOUT: &str = "-";

/// Whether `path` means stdout.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new(STDOUT)
}

/// A recording's output.
#[derive(Debug)]
pub(crate) enum Output {
    /// A perf.data file, written by a thread of its own.
    File(ThreadedFile),
    /// A pipe-mode stream on stdout.
    Pipe(Box<PipeOutput>),
    /// No file: a live session's records, held until they can be handed
    /// on in time order (`crate::session::live`).
    Live(LiveRecords),
}

/// A pipe-mode stream on stdout, its header not yet written until the
/// first flush.
#[derive(Debug)]
pub(crate) struct PipeOutput {
    events: Vec<EventDesc>,
    features: Features,
    /// `-z`: the zstd level.
    level: Option<u32>,
    /// Records written before the header (headers and bodies).
    early: Vec<u8>,
    writer: Option<PerfPipeWriter<BufWriter<Stdout>>>,
}

impl Output {
    /// A new file at `path` with `events` (compressed at `level`), or the
    /// stream on stdout when `path` is `-`.
    pub fn create(
        path: &Path,
        events: &[EventDesc],
        level: Option<u32>,
    ) -> Result<Self, PerfDataError> {
        if is_stdout(path) {
            return Ok(Self::Pipe(Box::new(PipeOutput {
                events: events.to_vec(),
                features: Features::default(),
                level,
                early: Vec::new(),
                writer: None,
            })));
        }
        let mut w = PerfFileWriter::create(path, events)?;
        if let Some(level) = level {
            w.compress(level)?;
        }
        Ok(Self::File(ThreadedFile::new(w, path)?))
    }

    /// Whether this is the stream on stdout.
    pub fn is_pipe(&self) -> bool {
        matches!(self, Self::Pipe(_))
    }

    /// The live session's records, when this is one.
    pub fn live_mut(&mut self) -> Option<&mut LiveRecords> {
        match self {
            Self::Live(l) => Some(l),
            _ => None,
        }
    }

    /// The features written at the next flush (a stream's first only: the
    /// stream's end takes those given to [`Self::finish`]).
    pub fn set_features(&mut self, features: &Features) {
        match self {
            Self::File(w) => w.set_features(features),
            Self::Pipe(p) => {
                if p.writer.is_none() {
                    p.features = features.clone();
                }
            }
            Self::Live(_) => {}
        }
    }

    /// Appends a record.
    pub fn write_record(
        &mut self,
        header: RecordHeader,
        body: RawData<'_>,
    ) -> Result<(), PerfDataError> {
        match self {
            Self::File(w) => w.write_record(header, body),
            Self::Pipe(p) => match &mut p.writer {
                Some(w) => w.write_record(header, body),
                None => {
                    p.early.extend_from_slice(&header.to_ne_bytes());
                    body.append_to(&mut p.early);
                    Ok(())
                }
            },
            Self::Live(l) => {
                l.push(header, body);
                Ok(())
            }
        }
    }

    /// Appends records as the ring holds them, header after header (see
    /// `PerfFileWriter::write_records`).
    pub fn write_records(&mut self, records: RawData<'_>) -> Result<(), PerfDataError> {
        match self {
            Self::File(w) => w.write_records(records),
            Self::Live(l) => {
                l.push_all(&records.as_slice());
                Ok(())
            }
            Self::Pipe(_) => {
                let joined = records.as_slice();
                each_record(&joined, |header, body| self.write_record(header, body))
            }
        }
    }

    /// Appends PERF_RECORD_FINISHED_ROUND.
    pub fn write_finished_round(&mut self) -> Result<(), PerfDataError> {
        match self {
            Self::File(w) => w.write_finished_round(),
            // Rounds come after the statedump's flush: the stream has
            // started (and starts here if not).
            Self::Pipe(p) => p.start()?.write_finished_round(),
            Self::Live(l) => {
                l.end_round();
                Ok(())
            }
        }
    }

    /// Writes what was gathered: the file's records and features, or the
    /// stream's header records (the first time) and a flush of stdout.
    pub fn flush_header(&mut self) -> Result<(), PerfDataError> {
        match self {
            Self::File(w) => w.flush_header(),
            Self::Pipe(p) => p.start()?.flush(),
            Self::Live(_) => Ok(()),
        }
    }

    /// With `-z`: bytes of records per byte written so far (of a file,
    /// once its thread has written what it was given).
    pub fn compression_ratio(&mut self) -> Result<Option<f64>, PerfDataError> {
        Ok(match self {
            Self::File(w) => w.compression_ratio()?,
            Self::Pipe(p) => match &p.writer {
                Some(w) => w.compression_ratio(),
                // Nothing compressed yet.
                None => p.level.map(|_| 1.0),
            },
            Self::Live(_) => None,
        })
    }

    /// Writes the rest; for a stream, returns the bytes written to it.
    pub fn finish(self, features: &Features) -> Result<Option<u64>, PerfDataError> {
        match self {
            Self::File(w) => w.finish(features).map(|()| None),
            Self::Pipe(mut p) => {
                let w = p.start()?;
                w.end(features)?;
                Ok(Some(w.bytes_written()))
            }
            Self::Live(_) => Ok(Some(0)),
        }
    }
}

impl PipeOutput {
    /// The stream's writer, its header records, the early records and
    /// FINISHED_INIT written first if they are not yet.
    fn start(&mut self) -> Result<&mut PerfPipeWriter<BufWriter<Stdout>>, PerfDataError> {
        if self.writer.is_none() {
            let out = BufWriter::with_capacity(1 << 20, std::io::stdout());
            let mut w =
                PerfPipeWriter::create(STDOUT, out, &self.events, &self.features, self.level)?;
            let early = std::mem::take(&mut self.early);
            each_record(&early, |header, body| w.write_record(header, body))?;
            w.write_finished_init()?;
            self.writer = Some(w);
        }
        Ok(self.writer.as_mut().expect("just made"))
    }
}

/// Calls `f` with each record of `bytes` (native byte order, header after
/// header, as a ring or [`PipeOutput::early`] holds them); a record cut at
/// the end is passed as far as it goes, and the writer refuses it.
pub(crate) fn each_record(
    bytes: &[u8],
    mut f: impl FnMut(RecordHeader, RawData<'_>) -> Result<(), PerfDataError>,
) -> Result<(), PerfDataError> {
    let mut rest = bytes;
    while let Some(head) = rest.first_chunk::<{ RecordHeader::SIZE }>() {
        let header = RecordHeader::from_bytes::<byteorder::NativeEndian>(head);
        let size = usize::from(header.size).clamp(RecordHeader::SIZE, rest.len());
        f(header, RawData::Single(&rest[RecordHeader::SIZE..size]))?;
        rest = &rest[size..];
    }
    Ok(())
}

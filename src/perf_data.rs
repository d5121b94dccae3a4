//! The recording file: perf.data, so that perf's own tools read what perfns
//! writes and perfns reads what `perf record` writes.
//!
//! The layout (tools/perf/Documentation/perf.data-file-format.txt) and every
//! choice perfns makes inside it are described in docs/recording-format.md.
//! In short: a self-describing file header, an attr section (each attr
//! followed by a `perf_file_section` pointing at its ids), the data section
//! (the records), then a table of feature sections right after the data.
//!
//! Byte order is chosen once, from the magic, when a file is opened; the
//! parsing below is generic over [`byteorder::ByteOrder`]. perfns writes
//! files in native byte order, as perf does.

use std::path::PathBuf;

use crate::error::ParseError;
use crate::record::RecordType;

mod chunks;
mod compressed;
mod features;
mod header;
mod mapped;
mod pipe;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use compressed::Compression;
pub use features::{feature, BuildId, Features, NrCpus, TracepointFormatText, TracingData};
pub use header::{FileSection, HEADER_SIZE, MAGIC};
pub use mapped::{MappedFile, EXIT_FILE_SHRANK};
pub use pipe::PerfPipeWriter;
pub use reader::{FileRecord, OwnedRecord, PerfFileReader, Records};
pub use writer::PerfFileWriter;

/// Something is wrong with a recording file, or writing one failed.
///
/// Every variant names the file and, where it applies, the byte offset in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PerfDataError {
    /// Opening, mapping, reading or writing the file failed.
    #[error("{path}: {what}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The first 8 bytes are not `PERFILE2` in either byte order.
    #[error("{path}: offset 0: not a perf.data file: magic is {found:?}, expected \"PERFILE2\"")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found, lossily as text.
        found: String,
    },
    /// The file, or the size its header gives itself, is smaller than the
    /// smallest perf.data header.
    #[error("{path}: offset 8: file header is {size} bytes, smaller than the {minimum} a perf.data header needs")]
    HeaderTooSmall {
        /// The file.
        path: PathBuf,
        /// The size found.
        size: u64,
        /// The smallest valid size.
        minimum: u64,
    },
    /// A section the header (or a feature table) points at runs past the end
    /// of the file.
    #[error("{path}: {section} section at offset {offset}, {size} bytes, runs past the end of the {file_size}-byte file")]
    SectionPastEnd {
        /// The file.
        path: PathBuf,
        /// Which section.
        section: String,
        /// Where it starts.
        offset: u64,
        /// Its size.
        size: u64,
        /// The file's size.
        file_size: u64,
    },
    /// The data section runs past the end of the file: the file was cut
    /// short (or is still being written).
    #[error("{path}: truncated file: the data section at offset {offset} is {size} bytes, but the file ends at {file_size}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the data section starts.
        offset: u64,
        /// Its size according to the header.
        size: u64,
        /// The file's size.
        file_size: u64,
    },
    /// A record's header or its size runs past the end of the data section.
    #[error("{path}: offset {offset}: record of {size} bytes runs past the end of the data section at {data_end}")]
    RecordPastEnd {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// Its size (8 when its header itself does not fit).
        size: u64,
        /// Where the data section ends.
        data_end: u64,
    },
    /// A record's size is smaller than its own header.
    #[error("{path}: offset {offset}: {kind:?} record has size {size}, smaller than a record header (8 bytes)")]
    RecordTooSmall {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// Its type.
        kind: RecordType,
        /// Its size.
        size: u16,
    },
    /// A record's id names no event of the recording.
    #[error("{path}: offset {offset}: {kind:?} record belongs to no event of the recording")]
    UnknownEvent {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// Its type.
        kind: RecordType,
        /// Why its event could not be found.
        #[source]
        source: ParseError,
    },
    /// A record could not be decoded.
    #[error("{path}: offset {offset}: bad record")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// What is wrong with it.
        #[source]
        source: ParseError,
    },
    /// The attr section holds no attr entry, so no record can be decoded.
    /// (perf's pipe-mode files, which carry their attrs in the data
    /// section, have a 16-byte header and are refused before this.)
    #[error("{path}: offset 24: the attr section at offset {offset}, {size} bytes, holds no event (an entry is {attr_size} bytes): a recording needs at least one")]
    NoEvents {
        /// The file.
        path: PathBuf,
        /// Where the attr section starts.
        offset: u64,
        /// Its size.
        size: u64,
        /// The size of one entry, from the header.
        attr_size: u64,
    },
    /// An attr entry is unusable.
    #[error("{path}: offset {offset}: attr: {reason}")]
    Attr {
        /// The file.
        path: PathBuf,
        /// The attr entry's offset.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A feature section is malformed.
    #[error("{path}: offset {offset}: feature {feature}: {reason}")]
    Feature {
        /// The file.
        path: PathBuf,
        /// The feature's name (HEADER_* without the prefix).
        feature: &'static str,
        /// Where in the file the bad field is.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A compressed record does not decompress.
    #[error("{path}: offset {offset}: {kind:?} record: {reason}")]
    Decompress {
        /// The file.
        path: PathBuf,
        /// The compressed record's offset.
        offset: u64,
        /// Its type (COMPRESSED or COMPRESSED2).
        kind: RecordType,
        /// What is wrong.
        reason: String,
    },
    /// A stream (stdin) holds a perf.data file, not a pipe-mode stream.
    #[error("{path}: offset 8: a {size}-byte file header: a perf.data file, not the pipe mode `perf record -o -` writes; its sections cannot be read from a stream: give its path")]
    NotPipeMode {
        /// The stream ("-" for stdin).
        path: PathBuf,
        /// The header size it gives.
        size: u64,
    },
    /// A pipe-mode stream's records can be read only once, one at a time
    /// ([`PerfFileReader::stream`]).
    #[error("{path}: a pipe-mode stream is read once, one record at a time: {reason}")]
    Stream {
        /// The stream ("-" for stdin).
        path: PathBuf,
        /// What was asked of it.
        reason: &'static str,
    },
    /// The writer was given something it cannot write.
    #[error("{path}: offset {offset}: cannot write: {reason}")]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// The file offset the write would have gone to.
        offset: u64,
        /// Why.
        reason: String,
    },
}

//! Errors of the perfns library: each says what failed and where.

use std::path::PathBuf;

use crate::record_type::RecordType;

/// A record or attr could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A field runs past the end of the record.
    #[error("{record:?} record: field `{field}` at byte {offset} of the body needs {wanted} bytes, {available} left")]
    Truncated {
        /// The record's type.
        record: RecordType,
        /// The field being read.
        field: &'static str,
        /// Its offset in the record body (after the header).
        offset: usize,
        /// Bytes it needs.
        wanted: usize,
        /// Bytes left.
        available: usize,
    },
    /// A field holds a value that cannot be right.
    #[error("{record:?} record: field `{field}`: {reason}")]
    Invalid {
        /// The record's type.
        record: RecordType,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An event attr is unusable.
    #[error("perf_event_attr: {0}")]
    Attr(String),
}

/// An I/O error on a named file.
#[derive(Debug, thiserror::Error)]
#[error("{path}")]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: std::io::Error,
}

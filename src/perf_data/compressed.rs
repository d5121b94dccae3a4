//! `perf record -z`: records compressed with zstd into
//! PERF_RECORD_COMPRESSED records, and the HEADER_COMPRESSED feature that
//! describes them.
//!
//! ```c
//! struct perf_record_compressed {
//!     struct perf_event_header header;
//!     char data[];                /* zstd output, header.size - 8 bytes */
//! };
//! struct perf_record_compressed2 {    /* perf 6.15 */
//!     struct perf_event_header header;
//!     u64 data_size;              /* the zstd output; the rest pads to 8 */
//!     char data[];
//! };
//! ```
//!
//! The zstd output of all of a file's compressed records is one stream
//! (perf keeps one `ZSTD_DStream` per session, tools/perf/util/zstd.c), so
//! a frame may continue in the next record, and a decompressed record may
//! be cut at the end of one record's output and go on in the next one's
//! (perf_session__process_compressed_event copies the cut part in front
//! of the next output). The reader ([`super::reader`]) does the same.

use byteorder::ByteOrder;
use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

use crate::record::{RecordHeader, RecordType};

/// HEADER_COMPRESSED (feature bit 27): how the records were compressed.
///
/// ```c
/// u32 version;   /* 0 */
/// u32 type;      /* 1: zstd */
/// u32 level;
/// u32 ratio;     /* uncompressed / compressed bytes, rounded */
/// u32 mmap_len;  /* the ring size: no record's output is larger */
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// The section's version (0).
    pub version: u32,
    /// The algorithm: [`Compression::ZSTD`] is the only one perf has.
    pub kind: u32,
    /// The compression level (`-z LEVEL`, 1 to 22).
    pub level: u32,
    /// Bytes before compression per byte after, rounded.
    pub ratio: u32,
    /// The size of each ring buffer: what one compressed record holds at
    /// most, decompressed.
    pub mmap_len: u32,
}

impl Compression {
    /// `type` for zstd (perf's `enum perf_compress_type` ZSTD).
    pub const ZSTD: u32 = 1;

    /// The algorithm's name as `perf report --header` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Self::ZSTD => "zstd",
            _ => "unknown",
        }
    }

    pub(crate) fn from_section<O: ByteOrder>(b: &[u8]) -> Option<Self> {
        let word = |i: usize| b.get(4 * i..4 * i + 4).map(O::read_u32);
        Some(Self {
            version: word(0)?,
            kind: word(1)?,
            level: word(2)?,
            ratio: word(3)?,
            mmap_len: word(4)?,
        })
    }

    pub(crate) fn to_ne_bytes(self) -> Vec<u8> {
        [
            self.version,
            self.kind,
            self.level,
            self.ratio,
            self.mmap_len,
        ]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect()
    }
}

/// The most bytes one compressed record may decompress to when the file
/// does not say its ring size: 64 MiB, far above any ring perf maps
/// (the default is 512 KiB per CPU). A record decompressing to more is
/// refused, so that a few hostile bytes cannot take the memory.
const DEFAULT_OUTPUT_LIMIT: usize = 64 << 20;

/// The zstd stream of a file's compressed records.
pub(crate) struct Decompressor {
    zstd: Decoder<'static>,
    /// The most bytes one record may decompress to.
    limit: usize,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Decompressor {
    /// A decompressor for a file with `compression` (HEADER_COMPRESSED,
    /// when the file has it).
    pub fn new(compression: Option<&Compression>) -> std::io::Result<Self> {
        // perf gives each record's output mmap_len bytes, and what the
        // record before left undone; twice that leaves room for both.
        let limit = compression
            .map(|c| (c.mmap_len as usize).saturating_mul(2).max(1 << 20))
            .unwrap_or(DEFAULT_OUTPUT_LIMIT)
            .min(DEFAULT_OUTPUT_LIMIT);
        Ok(Self {
            zstd: Decoder::new()?,
            limit,
        })
    }

    /// Appends to `out` what `input` (one record's zstd bytes) decompresses
    /// to. On an error the stream starts afresh: perf writes each drain of
    /// a ring as whole frames, so the next record may well decode.
    pub fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let mut src = InBuffer::around(input);
        loop {
            if out.len() - start >= self.limit {
                self.restart();
                return Err(format!(
                    "decompresses to more than {} bytes, more than a ring buffer holds",
                    self.limit
                ));
            }
            out.reserve((input.len() * 8).clamp(64 << 10, self.limit));
            let before = out.len();
            let mut dst = OutBuffer::around_pos(out, before);
            let room = dst.capacity() - before;
            if let Err(e) = self.zstd.run(&mut src, &mut dst) {
                self.restart();
                return Err(format!("zstd: {e}"));
            }
            let produced = dst.pos() - before;
            // Done when the input is used up and the output was not cut
            // short by the room it had (zstd may hold more back).
            if src.pos() == input.len() && produced < room {
                return Ok(());
            }
            if produced == 0 && src.pos() == input.len() {
                return Ok(());
            }
        }
    }

    fn restart(&mut self) {
        // Resetting a context that exists cannot fail (ZSTD_DCtx_reset).
        let _ = self.zstd.reinit();
    }
}

/// How many record bytes [`Compressor`] gathers into one zstd frame: what
/// perf compresses at once is one drain of one ring buffer, 512 KiB by
/// default.
pub(crate) const BATCH_SIZE: usize = 512 << 10;

/// The most zstd bytes in one COMPRESSED record, as perf fills them
/// (PERF_SAMPLE_MAX_SIZE - sizeof(struct perf_record_compressed) - 1).
const MAX_PAYLOAD: usize = (1 << 16) - RecordHeader::SIZE - 1;

/// Records gathered and written as COMPRESSED records, as `perf record -z`
/// writes them: each batch one zstd frame, split into records of at most
/// 64 KiB.
pub(crate) struct Compressor {
    zstd: zstd::bulk::Compressor<'static>,
    level: u32,
    /// Records not yet compressed.
    pub batch: Vec<u8>,
    /// Record bytes compressed so far, and what they compressed to
    /// (COMPRESSED headers included), for the ratio.
    raw_bytes: u64,
    compressed_bytes: u64,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("level", &self.level)
            .field("batch", &self.batch.len())
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// A compressor at zstd level `level` (1 to 22, as `perf record -z`).
    pub fn new(level: u32) -> std::io::Result<Self> {
        Ok(Self {
            zstd: zstd::bulk::Compressor::new(level as i32)?,
            level,
            batch: Vec::with_capacity(BATCH_SIZE + (64 << 10)),
            raw_bytes: 0,
            compressed_bytes: 0,
        })
    }

    /// Compresses the batch into COMPRESSED records appended to `out`.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let frame = self.zstd.compress(&self.batch)?;
        let before = out.len();
        for part in frame.chunks(MAX_PAYLOAD) {
            let header = RecordHeader {
                kind: RecordType::COMPRESSED,
                misc: 0,
                size: (RecordHeader::SIZE + part.len()) as u16,
            };
            out.extend_from_slice(&header.to_ne_bytes());
            out.extend_from_slice(part);
        }
        self.raw_bytes += self.batch.len() as u64;
        self.compressed_bytes += (out.len() - before) as u64;
        self.batch.clear();
        Ok(())
    }

    /// Bytes of records per byte written, so far (1 before any).
    pub fn ratio(&self) -> f64 {
        if self.compressed_bytes == 0 {
            return 1.0;
        }
        self.raw_bytes as f64 / self.compressed_bytes as f64
    }

    /// HEADER_COMPRESSED for what was written so far.
    pub fn feature(&self) -> Compression {
        Compression {
            version: 0,
            kind: Compression::ZSTD,
            level: self.level,
            ratio: (self.ratio() + 0.5) as u32,
            // Every COMPRESSED record's output lies in one batch, which is
            // at most BATCH_SIZE and the record that crossed it.
            mmap_len: (BATCH_SIZE + (64 << 10)) as u32,
        }
    }
}

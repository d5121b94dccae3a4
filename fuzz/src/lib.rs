//! The perfns fuzz targets' bodies, and the encoders that turn a valid
//! value into a target's input, which the seed generator
//! (examples/seeds.rs) uses.
//!
//! Each target decodes its input with [`Input`], which never fails: a
//! short input reads as zeros, so every byte string is a valid input and
//! libFuzzer's mutations are never wasted on a framing error. Besides
//! "no panic", the targets check what must hold whatever the bytes: a record
//! split across the ring's end parses as the contiguous one, a drain gives
//! the kernel back exactly what it read, a file's records come out once
//! each whatever the order.

pub mod attr_set;
pub mod compressed_records;
pub mod feature_sections;
pub mod perf_data_reader;
pub mod pipe_stream;
pub mod record_parse;
pub mod ring_walk;
pub mod tracepoint_format;

/// A fuzz input, read front to back; reads past its end give zeros.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next `n` bytes, or what is left.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = b;
        a
    }

    /// The next `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let b = self.take(N);
        out[..b.len()].copy_from_slice(b);
        out
    }

    /// A little-endian u8.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.bytes.len())
    }
}

/// The sample_type bits perfns decodes (IP..RAW and IDENTIFIER); the others
/// are ignored by the parser, so fuzzing them only dilutes the search.
pub const SAMPLE_TYPE_BITS: u64 = 0x1_07ff;

/// The read_format bits.
pub const READ_FORMAT_BITS: u64 = 0x1f;

//! `struct perf_file_header` and `struct perf_file_section`.
//!
//! ```c
//! struct perf_file_section { u64 offset; u64 size; };
//! struct perf_file_header {
//!     u64 magic;                          /*  0: "PERFILE2" */
//!     u64 size;                           /*  8: sizeof(struct perf_file_header) */
//!     u64 attr_size;                      /* 16: attr entry size: attr + perf_file_section */
//!     struct perf_file_section attrs;     /* 24 */
//!     struct perf_file_section data;      /* 40 */
//!     struct perf_file_section event_types; /* 56: unused since 2012 */
//!     DECLARE_BITMAP(adds_features, HEADER_FEAT_BITS); /* 72: 256 bits */
//! };                                      /* 104 */
//! ```

use byteorder::ByteOrder;

/// The magic as perf writes it on a little-endian machine: the u64
/// 0x32454c4946524550 in the writer's byte order. Big-endian files start
/// with the same bytes reversed.
pub const MAGIC: [u8; 8] = *b"PERFILE2";

/// Size of the current file header, feature bitmap included.
pub const HEADER_SIZE: u64 = 104;

/// Size of the header before the feature bitmap was added; perf still
/// reads such files (as having no features).
pub(crate) const HEADER_SIZE_NO_FEATURES: u64 = 72;

/// Size of `struct perf_file_section`.
pub(crate) const SECTION_SIZE: u64 = 16;

/// Number of bits in the feature bitmap (HEADER_FEAT_BITS).
pub(crate) const FEATURE_BITS: usize = 256;

/// `struct perf_file_section`: where a part of the file is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSection {
    /// Its offset from the start of the file.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
}

impl FileSection {
    pub(crate) fn read<O: ByteOrder>(b: &[u8]) -> Self {
        Self {
            offset: O::read_u64(&b[0..8]),
            size: O::read_u64(&b[8..16]),
        }
    }

    pub(crate) fn to_ne_bytes(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.offset.to_ne_bytes());
        out[8..].copy_from_slice(&self.size.to_ne_bytes());
        out
    }

    /// Where it ends, or `None` if that overflows.
    pub(crate) fn end(self) -> Option<u64> {
        self.offset.checked_add(self.size)
    }
}

/// The decoded file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileHeader {
    pub size: u64,
    pub attr_size: u64,
    pub attrs: FileSection,
    pub data: FileSection,
    /// The feature bitmap as four words; bit n is bit n % 64 of word n / 64.
    pub features: [u64; 4],
}

impl FileHeader {
    /// Decodes the fields after the magic. `b` holds at least
    /// [`HEADER_SIZE_NO_FEATURES`] bytes, and the bitmap is read only when
    /// the header says it has one.
    pub fn read<O: ByteOrder>(b: &[u8]) -> Self {
        let size = O::read_u64(&b[8..16]);
        let mut features = [0; 4];
        if size >= HEADER_SIZE && b.len() >= HEADER_SIZE as usize {
            for (i, w) in features.iter_mut().enumerate() {
                let o = 72 + 8 * i;
                *w = O::read_u64(&b[o..o + 8]);
            }
        }
        Self {
            size,
            attr_size: O::read_u64(&b[16..24]),
            attrs: FileSection::read::<O>(&b[24..40]),
            data: FileSection::read::<O>(&b[40..56]),
            features,
        }
    }

    pub fn to_ne_bytes(self) -> [u8; HEADER_SIZE as usize] {
        let mut b = [0; HEADER_SIZE as usize];
        // The magic is a u64 in the writer's byte order, like every field.
        b[0..8].copy_from_slice(&u64::from_le_bytes(MAGIC).to_ne_bytes());
        b[8..16].copy_from_slice(&self.size.to_ne_bytes());
        b[16..24].copy_from_slice(&self.attr_size.to_ne_bytes());
        b[24..40].copy_from_slice(&self.attrs.to_ne_bytes());
        b[40..56].copy_from_slice(&self.data.to_ne_bytes());
        // event_types (56..72) stays zero, as in every perf since 2012.
        for (i, w) in self.features.iter().enumerate() {
            let o = 72 + 8 * i;
            b[o..o + 8].copy_from_slice(&w.to_ne_bytes());
        }
        b
    }

    pub fn has_feature(&self, bit: usize) -> bool {
        bit < FEATURE_BITS && self.features[bit / 64] & (1 << (bit % 64)) != 0
    }

    pub fn set_feature(&mut self, bit: usize) {
        self.features[bit / 64] |= 1 << (bit % 64);
    }

    /// The set feature bits, lowest first: the order of their sections.
    pub fn feature_bits(&self) -> impl Iterator<Item = usize> + '_ {
        (0..FEATURE_BITS).filter(|&b| self.has_feature(b))
    }
}

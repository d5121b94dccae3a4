//! attr_set: the attr section of a recording. Each attr entry is decoded by
//! `EventAttr::from_bytes` and re-encoded, then the section is put in a
//! file with a valid header around it (and the input's data section after
//! it) and read with `PerfFileReader`, which builds the `AttrSet` and
//! attributes every record to an event with it.
//!
//! Input: `options: u8 (bit 0 big-endian), attr_size: u16, ids_len: u16,
//! attrs_len: u16`, little-endian, then `ids_len` bytes of ids (put at
//! file offset 104, right after the header, where the attrs' id sections
//! may point), `attrs_len` bytes of attr section, and the data section.

use byteorder::{BigEndian, ByteOrder, LittleEndian, NativeEndian};
use perfns::attr::EventAttr;
use perfns::perf_data::{HEADER_SIZE, MAGIC};

use crate::Input;

/// Options bit: the file is big-endian.
pub const BIG_ENDIAN: u8 = 1;

/// The target.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let options = input.u8();
    let attr_size = usize::from(input.u16());
    let ids_len = usize::from(input.u16());
    let attrs_len = usize::from(input.u16());
    let ids = input.take(ids_len);
    let attrs = input.take(attrs_len);
    let records = input.rest();
    let big_endian = options & BIG_ENDIAN != 0;

    if attr_size > 0 {
        for entry in attrs.chunks(attr_size) {
            if big_endian {
                round_trip::<BigEndian>(entry);
            } else {
                round_trip::<LittleEndian>(entry);
            }
        }
    }
    let file = if big_endian {
        file::<BigEndian>(attr_size as u64, ids, attrs, records)
    } else {
        file::<LittleEndian>(attr_size as u64, ids, attrs, records)
    };
    crate::perf_data_reader::run(&file);
}

/// An attr decodes to the same value after an encoding round trip.
fn round_trip<O: ByteOrder>(entry: &[u8]) {
    if let Ok(attr) = EventAttr::from_bytes::<O>(entry) {
        let _ = (attr.reads_group(), attr.read_format_size(2));
        let again = EventAttr::from_bytes::<NativeEndian>(&attr.to_ne_bytes())
            .expect("an encoded attr decodes");
        assert_eq!(attr, again);
    }
}

/// A recording with the given sections and no features.
fn file<O: ByteOrder>(attr_size: u64, ids: &[u8], attrs: &[u8], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_SIZE as usize];
    O::write_u64(&mut b[0..8], u64::from_le_bytes(MAGIC));
    O::write_u64(&mut b[8..16], HEADER_SIZE);
    O::write_u64(&mut b[16..24], attr_size);
    let attrs_at = HEADER_SIZE + ids.len() as u64;
    O::write_u64(&mut b[24..32], attrs_at);
    O::write_u64(&mut b[32..40], attrs.len() as u64);
    O::write_u64(&mut b[40..48], attrs_at + attrs.len() as u64);
    O::write_u64(&mut b[48..56], data.len() as u64);
    b.extend_from_slice(ids);
    b.extend_from_slice(attrs);
    b.extend_from_slice(data);
    b
}

/// The input for a little-endian file whose ids, attr section (entries of
/// `attr_size` bytes) and data section are given; the attrs' id sections
/// count from file offset 104, where `ids` goes.
pub fn encode(attr_size: u16, ids: &[u8], attrs: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&attr_size.to_le_bytes());
    out.extend_from_slice(&(ids.len() as u16).to_le_bytes());
    out.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
    out.extend_from_slice(ids);
    out.extend_from_slice(attrs);
    out.extend_from_slice(data);
    out
}

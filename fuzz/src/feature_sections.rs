//! feature_sections: the feature sections of a recording (HOSTNAME to
//! EVENT_DESC, TRACING_DATA, the perfns section and bits perfns skips),
//! put in a file with one valid event and no records, and read with
//! `PerfFileReader`. Faster than `perf_data_reader` at reaching deep into
//! a section, since no mutation is spent on the rest of the file.
//!
//! Input: `count: u8`, then `count` times `bit: u8, length: u16`
//! (little-endian) and that many bytes of the section. Bits are used
//! once each, in increasing order, as the file's table needs them.

use std::collections::BTreeMap;

use perfns::attr::{flags, kind, EventAttr, SampleFormat};
use perfns::perf_data::{HEADER_SIZE, MAGIC};

use crate::Input;

/// The target.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let count = input.u8();
    let mut sections = BTreeMap::new();
    for _ in 0..count {
        let bit = input.u8();
        let len = usize::from(input.u16());
        sections.entry(bit).or_insert(input.take(len));
    }
    crate::perf_data_reader::run(&file(&sections));
}

/// A little-endian recording of one tracepoint event (id 1), no records,
/// and `sections` as its features.
pub fn file(sections: &BTreeMap<u8, &[u8]>) -> Vec<u8> {
    let attr = EventAttr {
        kind: kind::TRACEPOINT,
        config: 372,
        sample_period: 1,
        sample_type: SampleFormat(
            SampleFormat::IDENTIFIER.0
                | SampleFormat::TID.0
                | SampleFormat::TIME.0
                | SampleFormat::RAW.0,
        ),
        flags: flags::SAMPLE_ID_ALL,
        ..Default::default()
    }
    .to_ne_bytes();
    let ids_at = HEADER_SIZE;
    let attrs_at = ids_at + 8;
    let attr_size = attr.len() as u64 + 16;
    let data_at = attrs_at + attr_size;
    let put = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&v.to_le_bytes());

    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC);
    for v in [
        HEADER_SIZE,
        attr_size,
        attrs_at,
        attr_size,
        data_at,
        0,
        0,
        0,
    ] {
        put(&mut b, v);
    }
    let mut bitmap = [0u64; 4];
    for &bit in sections.keys() {
        bitmap[usize::from(bit) / 64] |= 1 << (bit % 64);
    }
    for w in bitmap {
        put(&mut b, w);
    }
    put(&mut b, 1); // the event's one id
    b.extend_from_slice(&attr);
    put(&mut b, ids_at);
    put(&mut b, 8);
    // The feature table, then the sections in bit order.
    let mut at = data_at + 16 * sections.len() as u64;
    for s in sections.values() {
        put(&mut b, at);
        put(&mut b, s.len() as u64);
        at += s.len() as u64;
    }
    for s in sections.values() {
        b.extend_from_slice(s);
    }
    b
}

/// The input for `sections`.
pub fn encode(sections: &BTreeMap<u8, &[u8]>) -> Vec<u8> {
    let mut out = vec![sections.len() as u8];
    for (&bit, s) in sections {
        out.push(bit);
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s);
    }
    out
}

//! ring_walk: a fake perf ring buffer drained by `perfns::ring::drain_fake`,
//! the walk of `RingBuffer::drain` with arbitrary data_tail and data_head,
//! every record handed out parsed with an attr from the input.
//!
//! Input: `log2 data size - 3: u8 (mod 10, so 8 bytes to 4 KiB), data_tail:
//! u64, mode: u8 (bit 0: data_head is a u64 of the input, else data_tail +
//! the u16 that follows), [data_head: u64 | distance: u16], fail_at: u8
//! (the callback fails on that record; 255 never), sample_type: u64,
//! options: u8 (bit 0 sample_id_all)`, all little-endian, then the data
//! area's bytes (zero-padded, or cut, to the data size).

use byteorder::NativeEndian;
use perfns::attr::{flags, EventAttr, SampleFormat};
use perfns::record::{RawData, RecordHeader};
use perfns::ring::{drain_fake, DrainError, DrainStats};

use crate::{Input, SAMPLE_TYPE_BITS};

/// Mode bit: data_head is given, not a distance from data_tail.
pub const HEAD_GIVEN: u8 = 1;
/// fail_at value for a callback that never fails.
pub const NEVER_FAIL: u8 = 255;

/// The target.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let data_size = 8usize << (input.u8() % 10);
    let tail = input.u64();
    let head = if input.u8() & HEAD_GIVEN != 0 {
        input.u64()
    } else {
        tail.wrapping_add(u64::from(input.u16()))
    };
    let fail_at = input.u8();
    let attr = EventAttr {
        sample_type: SampleFormat(input.u64() & SAMPLE_TYPE_BITS),
        flags: if input.u8() & 1 != 0 {
            flags::SAMPLE_ID_ALL
        } else {
            0
        },
        ..Default::default()
    };
    let mut area = input.rest().to_vec();
    area.resize(data_size, 0);

    let mut handed = 0u64;
    let mut bytes = 0u64;
    let mut last_end = tail;
    let mut f = |raw: perfns::record::RawRecord<'_>| {
        let size = u64::from(raw.header.size);
        assert_eq!(raw.data.len() as u64 + RecordHeader::SIZE as u64, size);
        assert!(size >= 8 && size % 8 == 0);
        // Parsed in place and from a contiguous copy: the same record.
        let copy = raw.data.as_slice();
        let contiguous = perfns::record::RawRecord {
            header: raw.header,
            data: RawData::Single(&copy),
        };
        let a = raw.parse::<NativeEndian>(&attr).map_err(|e| e.to_string());
        let b = contiguous
            .parse::<NativeEndian>(&attr)
            .map_err(|e| e.to_string());
        assert_eq!(a, b);
        handed += 1;
        bytes += size;
        last_end = last_end.wrapping_add(size);
        if handed == u64::from(fail_at) + 1 {
            Err("callback failed")
        } else {
            Ok(())
        }
    };
    let (result, committed) = drain_fake(&area, tail, head, &mut f);
    let drained = match result {
        Ok(stats) => {
            // A clean drain reads up to data_head, and only that.
            assert_eq!(committed, head);
            assert_eq!(stats.bytes, head.wrapping_sub(tail));
            stats
        }
        Err(DrainError::Corrupt {
            position, drained, ..
        }) => {
            // The reader resynchronises at data_head.
            assert_eq!(committed, head);
            assert_eq!(position, last_end);
            drained
        }
        Err(DrainError::Write { .. }) => unreachable!("a per-record drain writes no batch"),
        Err(DrainError::Record { drained, .. }) => {
            // The failed record counts as consumed, nothing after it.
            assert_eq!(committed, last_end);
            drained
        }
    };
    assert_eq!(
        drained,
        DrainStats {
            records: handed,
            bytes
        }
    );
}

/// The input for a ring of `2^(3 + log2_size_minus_3)` bytes holding `area`
/// with the given positions; the callback never fails.
pub fn encode(
    log2_size_minus_3: u8,
    tail: u64,
    head: u64,
    attr: &EventAttr,
    area: &[u8],
) -> Vec<u8> {
    let mut out = vec![log2_size_minus_3];
    out.extend_from_slice(&tail.to_le_bytes());
    out.push(HEAD_GIVEN);
    out.extend_from_slice(&head.to_le_bytes());
    out.push(NEVER_FAIL);
    out.extend_from_slice(&attr.sample_type.0.to_le_bytes());
    out.push(u8::from(attr.sample_id_all()));
    out.extend_from_slice(area);
    out
}

//! record_parse: one raw record and the attr of its event, decoded by
//! `RawRecord::parse` as a contiguous record and split at every point the
//! input names, in both byte orders; then attributed to an event by
//! `AttrSet::index_of`.
//!
//! Input: `sample_type: u64, read_format: u64, options: u8 (bit 0
//! sample_id_all, bit 1 big-endian), split: u16, type: u32, misc: u16`,
//! all little-endian, then the record's body.

use byteorder::{BigEndian, ByteOrder, LittleEndian};
use perfns::attr::{flags, AttrSet, EventAttr, EventDesc, SampleFormat};
use perfns::error::ParseError;
use perfns::record::{RawData, RawRecord, Record, RecordHeader, RecordType};

use crate::{Input, READ_FORMAT_BITS, SAMPLE_TYPE_BITS};

/// Options bit: the attr has sample_id_all.
pub const SAMPLE_ID_ALL: u8 = 1;
/// Options bit: decode big-endian.
pub const BIG_ENDIAN: u8 = 2;

/// The largest body a record header can describe.
const MAX_BODY: usize = u16::MAX as usize - RecordHeader::SIZE;

/// The target.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let sample_type = input.u64() & SAMPLE_TYPE_BITS;
    let read_format = input.u64() & READ_FORMAT_BITS;
    let options = input.u8();
    let split = usize::from(input.u16());
    let kind = RecordType(input.u32());
    let misc = input.u16();
    let body = input.rest();
    let body = &body[..body.len().min(MAX_BODY)];
    let attr = EventAttr {
        sample_type: SampleFormat(sample_type),
        read_format,
        flags: if options & SAMPLE_ID_ALL != 0 {
            flags::SAMPLE_ID_ALL
        } else {
            0
        },
        ..Default::default()
    };
    let header = RecordHeader {
        kind,
        misc,
        size: (RecordHeader::SIZE + body.len()) as u16,
    };
    if options & BIG_ENDIAN != 0 {
        check::<BigEndian>(header, body, split, &attr);
    } else {
        check::<LittleEndian>(header, body, split, &attr);
    }
}

fn check<O: ByteOrder>(header: RecordHeader, body: &[u8], split: usize, attr: &EventAttr) {
    let whole = RawRecord {
        header,
        data: RawData::Single(body),
    };
    let parsed = whole.parse::<O>(attr);
    let (a, b) = body.split_at(split.min(body.len()));
    let split = RawRecord {
        header,
        data: RawData::Split(a, b),
    };
    let parsed_split = split.parse::<O>(attr);
    assert_eq!(
        describe(&parsed),
        describe(&parsed_split),
        "a split record parses as the contiguous one"
    );
    if let Ok(record) = &parsed {
        let _ = (record.time(), record.sample_id());
    }

    // Two events, told apart by id, as in a recording.
    let other = EventAttr {
        sample_type: attr.sample_type,
        flags: attr.flags,
        ..Default::default()
    };
    let events = vec![
        EventDesc {
            attr: attr.clone(),
            ids: vec![1, 2],
            name: "fuzz:a".into(),
        },
        EventDesc {
            attr: other,
            ids: vec![3],
            name: "fuzz:b".into(),
        },
    ];
    if let Ok(set) = AttrSet::new(events) {
        let index = set.index_of::<O>(&whole);
        assert_eq!(
            index.as_ref().map_err(ToString::to_string),
            set.index_of::<O>(&split)
                .as_ref()
                .map_err(ToString::to_string),
        );
        if let Ok(i) = index {
            assert!(i < set.events().len());
            // The id that chose the event is the one the record carries.
            // (A sample with both IDENTIFIER and ID holds the id twice, and
            // perf, like the parser, keeps the second.)
            let both = SampleFormat::IDENTIFIER | SampleFormat::ID;
            if let Ok(record) = whole.parse::<O>(&set.events()[i].attr) {
                let id = record.sample_id().and_then(|s| s.id);
                if let Some(id) = id.filter(|&id| id != 0) {
                    if !attr.sample_type.contains(both) {
                        assert_eq!(set.index_of_id(id).unwrap_or(0), i, "id {id}");
                    }
                }
            }
        }
    }
}

fn describe<'r, 'a>(r: &'r Result<Record<'a>, ParseError>) -> Result<&'r Record<'a>, String> {
    r.as_ref().map_err(ToString::to_string)
}

/// The input that makes the target parse `body` as a record of `kind` with
/// `attr`'s sample_type and read_format.
pub fn encode(
    attr: &EventAttr,
    big_endian: bool,
    split: u16,
    kind: RecordType,
    misc: u16,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&attr.sample_type.0.to_le_bytes());
    out.extend_from_slice(&attr.read_format.to_le_bytes());
    let mut options = 0;
    if attr.sample_id_all() {
        options |= SAMPLE_ID_ALL;
    }
    if big_endian {
        options |= BIG_ENDIAN;
    }
    out.push(options);
    out.extend_from_slice(&split.to_le_bytes());
    out.extend_from_slice(&kind.0.to_le_bytes());
    out.extend_from_slice(&misc.to_le_bytes());
    out.extend_from_slice(body);
    out
}

//! compressed_records: the input's records are written twice into a file
//! of two fixed events: as they are, and compressed with zstd as `perf
//! record -z` writes them, cut into frames and each frame into
//! PERF_RECORD_COMPRESSED records where the input says. Read back with
//! `PerfFileReader::stream`, both hand out the same records, in the same
//! order, with the same number of errors: compression is invisible.
//!
//! Input layout: u8 `n` (frames: `n % 4 + 1`), then `n % 4` u16 cut
//! offsets into the records' bytes, u16 `piece` (zstd bytes per
//! COMPRESSED record: `piece % 4096 + 1`), then the records, native byte
//! order: each an 8-byte header and its body, as many whole ones as there
//! are. AUXTRACE (whose data follows the record outside its size),
//! COMPRESSED and COMPRESSED2 records in the input become type 30: a file
//! holds them only as a writer makes them; TRACER_NAMESPACES becomes
//! NAMESPACES, as the writer stores it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use perfns::attr::{flags, kind, sw, EventAttr, EventDesc, SampleFormat};
use perfns::perf_data::{Features, PerfFileReader, PerfFileWriter};
use perfns::record::{RawData, RecordHeader, RecordType};

use crate::Input;

/// One record as handed out: type, misc, event, time, body; or an error.
type Handed = Result<(u32, u16, usize, Option<u64>, Vec<u8>), ()>;

/// The target.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let n = input.u8() % 4;
    let mut cuts: Vec<usize> = (0..n).map(|_| usize::from(input.u16())).collect();
    let piece = usize::from(input.u16()) % 4096 + 1;
    let records = whole_records(input.rest());
    let bytes: Vec<u8> = records.iter().flatten().copied().collect();
    cuts.push(0);
    cuts.push(bytes.len());
    for c in &mut cuts {
        *c = (*c).min(bytes.len());
    }
    cuts.sort_unstable();
    cuts.dedup();

    let (plain, packed) = scratch_files();
    let events = events();
    let mut w = PerfFileWriter::create(plain, &events).expect("the plain file");
    for r in &records {
        let header = header_of(r);
        w.write_record(header, RawData::Single(&r[RecordHeader::SIZE..]))
            .expect("a whole record");
    }
    w.finish(&Features::default()).expect("the plain file");

    let mut w = PerfFileWriter::create(packed, &events).expect("the compressed file");
    for pair in cuts.windows(2) {
        let frame = zstd::bulk::compress(&bytes[pair[0]..pair[1]], 1).expect("zstd");
        for part in frame.chunks(piece) {
            let header = RecordHeader {
                kind: RecordType::COMPRESSED,
                misc: 0,
                size: (RecordHeader::SIZE + part.len()) as u16,
            };
            w.write_record(header, RawData::Single(part))
                .expect("a compressed record");
        }
    }
    w.finish(&Features::default()).expect("the compressed file");

    assert_eq!(handed(packed), handed(plain), "compression is invisible");
}

/// The input's whole records, each header then body, with the types a
/// file cannot hold as such renamed.
fn whole_records(mut rest: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while rest.len() >= RecordHeader::SIZE {
        let size = usize::from(u16::from_ne_bytes([rest[6], rest[7]]));
        if size < RecordHeader::SIZE || size > rest.len() {
            break;
        }
        let mut r = rest[..size].to_vec();
        let kind = u32::from_ne_bytes([r[0], r[1], r[2], r[3]]);
        if [
            RecordType::AUXTRACE.0,
            RecordType::COMPRESSED.0,
            RecordType::COMPRESSED2.0,
        ]
        .contains(&kind)
        {
            r[0..4].copy_from_slice(&30u32.to_ne_bytes());
        }
        // The writer stores PERF_RECORD_TRACER_NAMESPACES as NAMESPACES
        // (perf refuses type 23): the compressed frames, written as bytes,
        // must hold what the plain file holds.
        if kind == RecordType::TRACER_NAMESPACES.0 {
            r[0..4].copy_from_slice(&RecordType::NAMESPACES.0.to_ne_bytes());
        }
        out.push(r);
        rest = &rest[size..];
    }
    out
}

fn header_of(r: &[u8]) -> RecordHeader {
    let head: [u8; 8] = std::array::from_fn(|i| r[i]);
    RecordHeader::from_bytes::<byteorder::NativeEndian>(&head)
}

/// Every record `PerfFileReader::stream` hands out.
fn handed(path: &Path) -> Vec<Handed> {
    let reader = PerfFileReader::open(path).expect("a file the writer made");
    let mut records = reader.stream();
    let mut out = Vec::new();
    while let Some(r) = records.next_record() {
        out.push(
            r.map(|r| {
                let _ = r.parse();
                (
                    r.header.kind.0,
                    r.header.misc,
                    r.event,
                    r.time(),
                    r.body.to_vec(),
                )
            })
            .map_err(|_| ()),
        );
    }
    out
}

/// The two events: a tracepoint (ids 7, 17) with raw samples and a
/// side-band dummy (ids 8, 18), both with sample_id_all, as perfns and
/// perf record them. The seeds' recordings use them too.
pub fn events() -> Vec<EventDesc> {
    let ids = SampleFormat(
        SampleFormat::IDENTIFIER.0
            | SampleFormat::TID.0
            | SampleFormat::TIME.0
            | SampleFormat::CPU.0,
    );
    vec![
        EventDesc {
            attr: EventAttr {
                kind: kind::TRACEPOINT,
                config: 372,
                sample_period: 1,
                sample_type: ids | SampleFormat::RAW,
                flags: flags::SAMPLE_ID_ALL | flags::DISABLED,
                ..EventAttr::default()
            },
            ids: vec![7, 17],
            name: "sched:sched_switch".into(),
        },
        EventDesc {
            attr: EventAttr {
                kind: kind::SOFTWARE,
                config: sw::DUMMY,
                sample_period: 1,
                sample_type: ids,
                flags: flags::SAMPLE_ID_ALL | flags::COMM | flags::TASK | flags::CONTEXT_SWITCH,
                ..EventAttr::default()
            },
            ids: vec![8, 18],
            name: "dummy:u".into(),
        },
    ]
}

/// Two files for this process's inputs (see `perf_data_reader::scratch_dir`).
fn scratch_files() -> (&'static Path, &'static Path) {
    static PATHS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (a, b) = PATHS.get_or_init(|| {
        let dir = crate::perf_data_reader::scratch_dir();
        let id = std::process::id();
        (
            dir.join(format!("perfns-fuzz-{id}-plain.data")),
            dir.join(format!("perfns-fuzz-{id}-z.data")),
        )
    });
    (a, b)
}

/// An input: `n` frames cut at `cuts`, `piece` zstd bytes per record, and
/// the records' bytes.
pub fn encode(cuts: &[u16], piece: u16, records: &[u8]) -> Vec<u8> {
    let mut out = vec![cuts.len() as u8];
    for c in cuts {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.extend_from_slice(&piece.to_le_bytes());
    out.extend_from_slice(records);
    out
}

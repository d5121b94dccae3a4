//! Compressed records (`perf record -z`): written by the writer, read back
//! decompressed, records cut across compressed records, damage, memory.

use std::path::Path;

use super::{dummy_event, sample, tracepoint_event, Build};
use crate::perf_data::{Features, PerfDataError, PerfFileReader, PerfFileWriter};
use crate::record::{RecordHeader, RecordType, MISC_SWITCH_OUT};

/// A payload that does not compress: xorshift bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `n` records of two events, a round marker every 1000, times out of
/// order within a round; every tenth sample's payload is noise, so that
/// frames are long enough to span several compressed records.
pub(super) fn records(n: u64) -> Vec<Build> {
    let mut out = Vec::new();
    for i in 0..n {
        let time = 1_000 + i * 10 + (i * 7919) % 13;
        if i % 3 == 0 {
            let mut b = Build::new(RecordType::SWITCH_CPU_WIDE).u32s(7, 7).trailer(
                1,
                1,
                time,
                (i % 2) as u32,
                200,
            );
            b.misc = MISC_SWITCH_OUT;
            out.push(b);
        } else {
            let payload = if i % 10 == 1 {
                noise(i, 1500)
            } else {
                vec![i as u8; 20]
            };
            out.push(sample(100, 1, time, (i % 2) as u32, &payload));
        }
        if i % 1000 == 999 {
            out.push(Build::new(RecordType::FINISHED_ROUND));
        }
    }
    out
}

pub(super) fn events() -> [crate::attr::EventDesc; 2] {
    [
        tracepoint_event(372, "sched:sched_switch", vec![100]),
        dummy_event(vec![200]),
    ]
}

fn write(path: &Path, records: &[Build], level: Option<u32>) {
    let mut w = PerfFileWriter::create(path, &events()).unwrap();
    if let Some(level) = level {
        w.compress(level).unwrap();
    }
    for r in records {
        if r.kind == RecordType::FINISHED_ROUND {
            w.write_finished_round().unwrap();
        } else {
            r.write(&mut w);
        }
    }
    w.finish(&Features::default()).unwrap();
}

/// Every record [`PerfFileReader::stream`] hands out: type, time, event,
/// body.
fn streamed(path: &Path) -> Vec<(RecordType, Option<u64>, usize, Vec<u8>)> {
    let r = PerfFileReader::open(path).unwrap();
    let mut records = r.stream();
    let mut out = Vec::new();
    while let Some(rec) = records.next_record() {
        let rec = rec.unwrap();
        out.push((rec.header.kind, rec.time(), rec.event, rec.body.to_vec()));
    }
    out
}

fn stored_types(path: &Path) -> Vec<RecordType> {
    let r = PerfFileReader::open(path).unwrap();
    r.records_in_file_order()
        .map(|x| x.unwrap().header.kind)
        .collect()
}

#[test]
fn a_compressed_file_reads_back_as_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, packed) = (dir.path().join("plain.data"), dir.path().join("z.data"));
    let recs = records(20_000);
    write(&plain, &recs, None);
    write(&packed, &recs, Some(3));
    let want = streamed(&plain);
    assert_eq!(want.len(), recs.len());
    assert_eq!(streamed(&packed), want);

    // As stored: compressed records and the uncompressed round markers.
    let types = stored_types(&packed);
    let count = |t| types.iter().filter(|&&k| k == t).count();
    assert_eq!(count(RecordType::FINISHED_ROUND), 20);
    assert_eq!(
        count(RecordType::COMPRESSED) + count(RecordType::FINISHED_ROUND),
        types.len()
    );
    // Some frames span several records (a round of noisy records is more
    // than 64 KiB compressed): more compressed records than rounds.
    assert!(count(RecordType::COMPRESSED) > 21, "{types:?}");

    let r = PerfFileReader::open(&packed).unwrap();
    let c = r.features().compressed.expect("HEADER_COMPRESSED");
    assert_eq!((c.kind, c.level, c.version), (1, 3, 0));
    assert!(c.ratio >= 1, "{c:?}");
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&packed) < size(&plain),
        "{} {}",
        size(&packed),
        size(&plain)
    );
}

/// A COMPRESSED record whose body is `frame`.
fn compressed_record(frame: &[u8]) -> Build {
    let mut b = Build::new(RecordType::COMPRESSED);
    b.body.extend_from_slice(frame);
    b
}

/// The records as bytes, native order.
fn bytes_of(recs: &[Build]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs {
        out.extend_from_slice(&r.header().to_ne_bytes());
        out.extend_from_slice(&r.body);
    }
    out
}

/// Writes `parts` as COMPRESSED records, each given as its zstd bytes.
fn write_compressed(path: &Path, parts: &[Vec<u8>], then: &[Build]) {
    let mut w = PerfFileWriter::create(path, &events()).unwrap();
    for p in parts {
        compressed_record(p).write(&mut w);
    }
    for r in then {
        r.write(&mut w);
    }
    w.finish(&Features::default()).unwrap();
}

#[test]
fn a_record_cut_between_two_compressed_records_is_joined() {
    let recs = records(30);
    let plain = bytes_of(&recs);
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let path = dir.path().join("plain.data");
        write(&path, &recs, None);
        streamed(&path)
    };
    // Cut the records at every byte: each part its own frame, as when perf
    // ends a drain in the middle of a record of the ring (it cannot: but
    // the reader must join what the stream cuts, as perf does).
    for cut in [1, 7, 8, 9, 100, plain.len() / 2, plain.len() - 1] {
        let parts = [
            zstd::bulk::compress(&plain[..cut], 1).unwrap(),
            zstd::bulk::compress(&plain[cut..], 1).unwrap(),
        ];
        let path = dir.path().join(format!("cut{cut}.data"));
        write_compressed(&path, &parts, &[]);
        assert_eq!(streamed(&path), want, "cut at {cut}");
    }
}

#[test]
fn a_frame_split_across_compressed_records_is_one_stream() {
    let recs = records(300);
    let frame = zstd::bulk::compress(&bytes_of(&recs), 5).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let path = dir.path().join("plain.data");
        write(&path, &recs, None);
        streamed(&path)
    };
    // The frame in pieces of 1, 2, 3... bytes: each record's output is
    // what zstd gives for its bytes, ending anywhere.
    let mut parts = Vec::new();
    let mut at = 0;
    let mut n = 1;
    while at < frame.len() {
        let end = (at + n).min(frame.len());
        parts.push(frame[at..end].to_vec());
        at = end;
        n = n % 97 + 1;
    }
    let path = dir.path().join("split.data");
    write_compressed(&path, &parts, &[]);
    assert_eq!(streamed(&path), want);
}

#[test]
fn a_damaged_compressed_record_is_an_error_at_its_offset_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.data");
    let good = zstd::bulk::compress(&bytes_of(&records(3)), 1).unwrap();
    let mut bad = good.clone();
    // Past the frame header: the block's bytes.
    for b in &mut bad[8..] {
        *b ^= 0x5a;
    }
    let after = sample(100, 1, 99_999, 0, b"after");
    write_compressed(&path, &[bad, good], std::slice::from_ref(&after));
    let r = PerfFileReader::open(&path).unwrap();
    let data = r.data_section();
    let mut records = r.stream();
    let mut got = Vec::new();
    let mut errors = Vec::new();
    while let Some(rec) = records.next_record() {
        match rec {
            Ok(rec) => got.push(rec.time()),
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    match &errors[0] {
        PerfDataError::Decompress { offset, kind, .. } => {
            assert_eq!(*offset, data.offset);
            assert_eq!(*kind, RecordType::COMPRESSED);
        }
        e => panic!("{e}"),
    }
    let msg = errors[0].to_string();
    assert!(msg.contains(&format!("offset {}", data.offset)), "{msg}");
    // The second frame and the plain record after both are read.
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got.last(), Some(&Some(99_999)));
}

#[test]
fn a_record_too_small_inside_a_compressed_record_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.data");
    let mut inner = bytes_of(&records(2));
    let zero = RecordHeader {
        kind: RecordType::SAMPLE,
        misc: 0,
        size: 4,
    };
    inner.extend_from_slice(&zero.to_ne_bytes());
    write_compressed(&path, &[zstd::bulk::compress(&inner, 1).unwrap()], &[]);
    let r = PerfFileReader::open(&path).unwrap();
    let mut records = r.stream();
    let mut kinds = Vec::new();
    while let Some(rec) = records.next_record() {
        kinds.push(rec.map(|r| r.header.kind).map_err(|e| e.to_string()));
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let err = kinds.iter().find_map(|k| k.as_ref().err()).unwrap();
    assert!(err.contains("smaller than a record header"), "{err}");
}

#[test]
fn decompressed_records_are_freed_as_they_are_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.data");
    let recs = records(100_000);
    write(&path, &recs, Some(1));
    let total: usize = recs.iter().map(|r| 8 + r.body.len()).sum();
    assert!(total > 10 << 20, "{total}");
    let r = PerfFileReader::open(&path).unwrap();
    let mut records = r.stream();
    let mut n = 0;
    let mut most = 0;
    while let Some(rec) = records.next_record() {
        rec.unwrap();
        n += 1;
        most = most.max(records.chunks.held_bytes());
    }
    assert_eq!(n, recs.len());
    // About two rounds of records (a round is 1000 records, ~90 KiB) and
    // a batch's output: far less than the file.
    assert!(most < 2 << 20, "{most} bytes held of {total}");
}

#[test]
fn the_iterator_hands_out_compressed_records_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.data");
    write(&path, &records(10), Some(1));
    let r = PerfFileReader::open(&path).unwrap();
    let kinds: Vec<_> = r.records().map(|x| x.unwrap().header.kind).collect();
    assert_eq!(kinds, [RecordType::COMPRESSED]);
}

#[test]
fn a_level_outside_zstd_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PerfFileWriter::create(dir.path().join("z.data"), &events()).unwrap();
    let e = w.compress(23).unwrap_err().to_string();
    assert!(e.contains("levels are 1 to 22"), "{e}");
    assert!(w.compress(0).is_err());
}

/// An AUXTRACE record with 16 bytes of AUX area data after it, which hold
/// what looks like a record of type 30: a reader that does not skip the
/// data reads that record.
fn auxtrace_then_data() -> Vec<Build> {
    let mut aux = Build::new(RecordType::AUXTRACE)
        .u64(16) // size of the data after the record
        .u64(0) // offset
        .u64(0) // reference
        .u32s(0, 1) // idx, tid
        .u32s(0, 0); // cpu, reserved
    aux.misc = 0;
    let fake = Build::new(RecordType(30)).u64(0);
    vec![aux, fake, sample(100, 1, 5_000, 0, b"after aux")]
}

#[test]
fn auxtrace_data_is_skipped_in_the_file_and_in_compressed_records() {
    let dir = tempfile::tempdir().unwrap();
    let recs = auxtrace_then_data();
    let plain = dir.path().join("plain.data");
    // The fake record's bytes are the AUX data: written as a record, they
    // are exactly the 16 bytes after the AUXTRACE record.
    write(&plain, &recs, None);
    let kinds =
        |path: &Path| -> Vec<RecordType> { streamed(path).into_iter().map(|(k, ..)| k).collect() };
    let want = [RecordType::AUXTRACE, RecordType::SAMPLE];
    assert_eq!(kinds(&plain), want);
    let bytes = bytes_of(&recs);
    // The data cut off from its record at every byte.
    for cut in 1..bytes.len() {
        let parts = [
            zstd::bulk::compress(&bytes[..cut], 1).unwrap(),
            zstd::bulk::compress(&bytes[cut..], 1).unwrap(),
        ];
        let path = dir.path().join(format!("aux{cut}.data"));
        write_compressed(&path, &parts, &[]);
        assert_eq!(kinds(&path), want, "cut at {cut}");
    }
}

//! Pipe-mode streams as `PerfPipeWriter` writes them (`perfns record -o -`,
//! with and without `-z`): perf's header records, the perfns extension in
//! parts perf skips, and what the reader makes of them.

use std::io::Cursor;

use super::compressed::{events, records};
use super::Build;
use crate::perf_data::{
    feature, Compression, Features, PerfDataError, PerfFileReader, PerfPipeWriter,
};
use crate::record::{RawData, RecordHeader, RecordType};

/// An extension of `len` bytes, more than one record holds when `len` is
/// over 64 KiB.
fn extension(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| tag.wrapping_add((i % 251) as u8))
        .collect()
}

fn features(perfns: Vec<u8>) -> Features {
    Features {
        hostname: Some("testhost".into()),
        version: Some("perfns 0.1.0".into()),
        // The writer says how it compresses, whatever this says.
        compressed: Some(Compression {
            version: 0,
            kind: Compression::ZSTD,
            level: 9,
            ratio: 5,
            mmap_len: 1,
        }),
        perfns: Some(perfns),
        ..Features::default()
    }
}

/// A stream of `recs` (a FINISHED_INIT after the first `init` of them)
/// written at `level`, `start` features at its start, `end` at its end.
fn stream(
    recs: &[Build],
    init: usize,
    level: Option<u32>,
    start: &Features,
    end: &Features,
) -> Vec<u8> {
    let mut w = PerfPipeWriter::create("-", Vec::new(), &events(), start, level).unwrap();
    for (i, r) in recs.iter().enumerate() {
        if i == init {
            w.write_finished_init().unwrap();
        }
        if r.kind == RecordType::FINISHED_ROUND {
            w.write_finished_round().unwrap();
        } else {
            w.write_record(r.header(), RawData::Single(&r.body))
                .unwrap();
        }
    }
    w.finish(end).unwrap()
}

/// Each record as stored: type, and for HEADER_FEATURE its feat_id.
fn stored(bytes: &[u8]) -> Vec<(RecordType, Option<u64>)> {
    let mut out = Vec::new();
    let mut at = 16;
    while at + 8 <= bytes.len() {
        let h = RecordHeader::from_bytes::<byteorder::NativeEndian>(
            bytes[at..at + 8].try_into().unwrap(),
        );
        let body = &bytes[at + 8..at + usize::from(h.size)];
        let word = |i: usize| u64::from_ne_bytes(body[i..i + 8].try_into().unwrap());
        let trailing = match h.kind {
            RecordType::HEADER_TRACING_DATA => u32::from_ne_bytes(body[..4].try_into().unwrap()),
            _ => 0,
        };
        out.push((
            h.kind,
            (h.kind == RecordType::HEADER_FEATURE).then(|| word(0)),
        ));
        at += usize::from(h.size) + trailing as usize;
    }
    assert_eq!(at, bytes.len(), "whole records");
    out
}

/// A record as handed out: type, time, body.
type Handed = (RecordType, Option<u64>, Vec<u8>);

/// The reader, each record it hands out, and the features the stream's
/// end updated.
fn read(bytes: Vec<u8>) -> (PerfFileReader, Vec<Handed>, Option<Features>) {
    let r = PerfFileReader::open_stream("-", Box::new(Cursor::new(bytes))).unwrap();
    let mut out = Vec::new();
    let mut records = r.stream();
    while let Some(rec) = records.next_record() {
        let rec = rec.unwrap();
        out.push((rec.header.kind, rec.time(), rec.body.to_vec()));
    }
    let at_end = records.features_at_end().cloned();
    drop(records);
    (r, out, at_end)
}

#[test]
fn a_compressed_stream_reads_back_as_the_plain_one() {
    let recs = records(3000);
    let start = features(extension(1, 100));
    let plain = stream(&recs, 10, None, &start, &start);
    let packed = stream(&recs, 10, Some(3), &start, &start);
    assert!(
        packed.len() < plain.len(),
        "{} vs {}",
        packed.len(),
        plain.len()
    );

    let (pr, p, _) = read(plain);
    let (zr, z, _) = read(packed.clone());
    assert_eq!(z.len(), p.len());
    assert!(z == p, "the same records, in the same order");
    assert!(z.iter().any(|r| r.0 == RecordType::FINISHED_INIT));
    assert_eq!(
        pr.features().compressed,
        None,
        "not compressed: no HEADER_COMPRESSED"
    );
    // As perf writes it at a stream's start: the ratio is not known yet.
    let c = zr.features().compressed.expect("HEADER_COMPRESSED");
    assert_eq!((c.kind, c.level, c.ratio), (Compression::ZSTD, 3, 0));
    assert!(c.mmap_len >= 512 << 10, "{c:?}");

    // perf's header records uncompressed, then its last-feature mark;
    // the records in COMPRESSED records, round markers and FINISHED_INIT
    // between them, uncompressed.
    let kinds = stored(&packed);
    let features: Vec<u64> = kinds.iter().filter_map(|k| k.1).collect();
    assert_eq!(
        features,
        [
            feature::HOSTNAME,
            feature::VERSION,
            feature::COMPRESSED,
            feature::PERF_LAST_FEATURE
        ]
        .map(|b| b as u64)
    );
    let own: Vec<RecordType> = kinds
        .iter()
        .map(|k| k.0)
        .filter(|&k| k != RecordType::COMPRESSED && k != RecordType::FINISHED_ROUND)
        .collect();
    assert_eq!(
        own,
        [
            RecordType::HEADER_ATTR,
            RecordType::HEADER_ATTR,
            RecordType::HEADER_FEATURE,
            RecordType::HEADER_FEATURE,
            RecordType::HEADER_FEATURE,
            RecordType::HEADER_FEATURE,
            RecordType::HEADER_EVENT_TYPE,
            RecordType::EVENT_UPDATE,
            RecordType::EVENT_UPDATE,
            RecordType::FINISHED_INIT,
            RecordType::HEADER_EVENT_TYPE,
        ]
    );
    let rounds = kinds
        .iter()
        .filter(|k| k.0 == RecordType::FINISHED_ROUND)
        .count();
    assert_eq!(rounds, 3);
}

#[test]
fn the_extension_goes_in_parts_and_the_one_at_the_end_replaces_the_first() {
    // 200 KB: four parts, each a record of at most 64 KiB.
    let start = features(extension(1, 200_000));
    let end = features(extension(2, 150_000));
    let bytes = stream(&records(50), 5, Some(1), &start, &end);
    let kinds = stored(&bytes);
    let parts = kinds
        .iter()
        .filter(|k| k.0 == RecordType::HEADER_EVENT_TYPE)
        .count();
    assert_eq!(parts, 4 + 3);

    let (r, got, at_end) = read(bytes);
    assert_eq!(
        r.features().perfns,
        start.perfns,
        "the start's, as the header gives it"
    );
    assert_eq!(r.features().hostname.as_deref(), Some("testhost"));
    let at_end = at_end.expect("the features the end updated");
    assert_eq!(at_end.perfns, end.perfns);
    assert_eq!(at_end.hostname.as_deref(), Some("testhost"));
    // The parts are not handed out as records.
    assert!(got.iter().all(|r| r.0 != RecordType::HEADER_EVENT_TYPE));
    assert_eq!(got.iter().filter(|r| r.0 == RecordType::SAMPLE).count(), 33);
}

#[test]
fn a_stream_without_an_update_at_its_end_has_none() {
    let start = features(extension(1, 10));
    let mut w = PerfPipeWriter::create("-", Vec::new(), &events(), &start, None).unwrap();
    for r in records(10) {
        w.write_record(r.header(), RawData::Single(&r.body))
            .unwrap();
    }
    // Ended without the extension (perf's streams have none).
    let bytes = w.finish(&Features::default()).unwrap();
    let (r, got, at_end) = read(bytes);
    assert_eq!(r.features().perfns, start.perfns);
    // The records, and the events' names (EVENT_UPDATE), handed out too.
    assert_eq!(got.len(), 10 + 2);
    assert!(at_end.is_none());
}

/// A HEADER_EVENT_TYPE section part: magic, feat_id, offset, size, data.
fn part(at: u64, size: u64, data: &[u8]) -> Build {
    let mut b = Build::new(RecordType::HEADER_EVENT_TYPE)
        .u64(u64::from_le_bytes(*b"perfns\0\x01"))
        .u64(feature::PERFNS as u64)
        .u64(at)
        .u64(size);
    b.body.extend_from_slice(data);
    b.body.resize(b.body.len().div_ceil(8) * 8, 0);
    b
}

/// A stream of perfns's header for [`events`], then `then`.
fn stream_then(then: &[Build]) -> Vec<u8> {
    let mut bytes = PerfPipeWriter::create("-", Vec::new(), &events(), &Features::default(), None)
        .unwrap()
        .finish(&Features::default())
        .unwrap();
    for b in then {
        bytes.extend_from_slice(&b.header().to_ne_bytes());
        bytes.extend_from_slice(&b.body);
    }
    bytes
}

#[test]
fn a_part_out_of_place_is_an_error_naming_its_offset_and_field() {
    let samples = records(3);
    let first = part(0, 40, &[b'{'; 16]);
    // The second part claims offset 24, but 16 bytes came before it.
    let second = part(24, 40, &[b'}'; 16]);
    let bytes = stream_then(&[
        samples[1].clone(),
        first,
        second.clone(),
        samples[2].clone(),
    ]);
    let second_at = (bytes.len()
        - usize::from(second.header().size)
        - usize::from(samples[2].header().size)) as u64;
    let r = PerfFileReader::open_stream("-", Box::new(Cursor::new(bytes))).unwrap();
    let mut records = r.stream();
    let mut errors = Vec::new();
    let mut samples_read = 0;
    while let Some(rec) = records.next_record() {
        match rec {
            Ok(rec) => samples_read += usize::from(rec.header.kind == RecordType::SAMPLE),
            Err(e) => errors
                .push(e.to_string() + ": " + &std::error::Error::source(&e).unwrap().to_string()),
        }
    }
    assert_eq!(samples_read, 2, "reading goes on");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("-: offset {second_at}: bad record")),
        "{errors:?}"
    );
    assert!(errors[0].contains("field `offset`"), "{errors:?}");
    assert!(
        errors[0].contains("a part at 24 of feature 255's 40-byte section, but 16 bytes"),
        "{errors:?}"
    );
    assert!(records.features_at_end().is_none());
}

#[test]
fn a_header_event_type_record_of_perf_s_is_skipped() {
    // perf's pipe mode wrote these before 2012: u64 event_id, char name[64].
    let mut old = Build::new(RecordType::HEADER_EVENT_TYPE).u64(372);
    old.body.resize(8 + 64, b'x');
    let samples = records(3);
    let bytes = stream_then(&[samples[1].clone(), old, samples[2].clone()]);
    let (_, got, at_end) = read(bytes);
    let mut kinds: Vec<RecordType> = got.iter().map(|r| r.0).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            RecordType::SAMPLE,
            RecordType::SAMPLE,
            RecordType::HEADER_EVENT_TYPE,
            RecordType::EVENT_UPDATE,
            RecordType::EVENT_UPDATE,
        ]
    );
    assert!(at_end.is_none());
}

#[test]
fn a_level_outside_zstd_is_refused_for_a_stream() {
    let e = PerfPipeWriter::create("-", Vec::new(), &events(), &Features::default(), Some(23))
        .unwrap_err();
    assert!(matches!(e, PerfDataError::Unwritable { .. }), "{e}");
    assert!(e.to_string().contains("level 23"), "{e}");
}

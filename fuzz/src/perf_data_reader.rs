//! perf_data_reader: the input is a whole recording file, opened with
//! `PerfFileReader::open` (through a file: the reader maps it, or reads it
//! as a stream when its header says pipe mode) and read in time order, in
//! file order, and by `stream()` (compressed records decompressed), every
//! record decoded and timed.
//!
//! Both orders must hand out the same records, once each: sorting by time
//! may reorder records, never drop or repeat one. `stream()` hands out the
//! same ones too when there was nothing to decompress.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use perfns::perf_data::{PerfDataError, PerfFileReader, Records};
use perfns::record::RecordType;

/// The target.
pub fn run(data: &[u8]) {
    let path = scratch_file();
    write_file(path, data);
    read(path);
}

/// Opens and reads the file at `path` the way the target does, checking
/// the same properties.
pub fn read(path: &Path) {
    let Ok(reader) = PerfFileReader::open(path) else {
        return;
    };
    let _ = format!("{reader:?}");
    assert!(!reader.events().events().is_empty());
    let _ = reader.features();
    let streamed = stream(&reader);
    let mut by_time = walk(reader.records());
    let mut by_file = walk(reader.records_in_file_order());
    by_time.sort_unstable();
    by_file.sort_unstable();
    assert_eq!(by_time, by_file, "time order hands out every record once");
    // What stream() hands out as the iterator does, unless it decompressed
    // or read a pipe-mode stream (both change what there is to hand out),
    // or met compressed records at all: one it could not decompress is an
    // error there, a record like any other to the iterator.
    let compressed = reader.records_in_file_order().any(|r| {
        r.is_ok_and(|r| [RecordType::COMPRESSED, RecordType::COMPRESSED2].contains(&r.header.kind))
    });
    if !reader.is_pipe_mode() && streamed.1 == 0 && !compressed {
        let mut streamed = streamed.0;
        streamed.sort_unstable();
        assert_eq!(
            streamed, by_time,
            "stream() hands out what the iterator does"
        );
    }
}

/// What `reader.stream()` hands out, and how many compressed records it
/// decompressed.
fn stream(reader: &PerfFileReader) -> (Vec<Result<u64, String>>, u64) {
    let mut records = reader.stream();
    let mut out = Vec::new();
    while let Some(r) = records.next_record() {
        out.push(
            r.map(|rec| {
                let _ = (rec.time(), rec.attr(), rec.parse());
                rec.offset
            })
            .map_err(|e| e.to_string()),
        );
    }
    (out, records.decompressed_records())
}

/// Each record's offset (or its error's text), decoding every record.
fn walk(records: Records<'_>) -> Vec<Result<u64, String>> {
    records
        .map(|r| {
            r.map(|rec| {
                let _ = (rec.time(), rec.attr(), rec.parse());
                rec.offset
            })
            .map_err(|e: PerfDataError| e.to_string())
        })
        .collect()
}

/// A file for this process's inputs (see [`scratch_dir`]).
fn scratch_file() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| scratch_dir().join(format!("perfns-fuzz-{}.data", std::process::id())))
}

/// Where the targets write their files: `$PERFNS_FUZZ_SCRATCH` (the
/// directory scripts/fuzz.sh makes for its run, and removes: other runs'
/// clean-ups on a shared machine then cannot delete a running target's
/// files), else /dev/shm when there is one, which keeps the write and map
/// in memory.
pub fn scratch_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PERFNS_FUZZ_SCRATCH") {
        return PathBuf::from(dir);
    }
    let dir = Path::new("/dev/shm");
    if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn write_file(path: &Path, data: &[u8]) {
    let mut f = std::fs::File::create(path).expect("creating the scratch file");
    f.write_all(data).expect("writing the scratch file");
}

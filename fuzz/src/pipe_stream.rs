//! pipe_stream: the input, after a pipe-mode header (`PERFILE2`, size 16,
//! little-endian), is a `perf record -o -` stream: header records (attrs,
//! features, tracing data with its data after the record, event names),
//! then records, compressed ones among them. It is read twice: from a file
//! (`PerfFileReader::open`, which sees the 16-byte header) and from a
//! `Read` (`PerfFileReader::open_stream`, as `-i -` reads stdin). Both
//! must agree: the same events, records and errors, once each, and the
//! same features at the end (feature sections sent in parts, as perfns
//! sends its extension).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use perfns::perf_data::PerfFileReader;

/// The pipe-mode header, little-endian.
pub const HEADER: [u8; 16] = *b"PERFILE2\x10\0\0\0\0\0\0\0";

/// The target.
pub fn run(data: &[u8]) {
    let mut bytes = HEADER.to_vec();
    bytes.extend_from_slice(data);
    let path = scratch_file();
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&bytes))
        .expect("the scratch file");
    let from_file = read(PerfFileReader::open(path));
    let stream = std::io::Cursor::new(bytes);
    let from_stream = read(PerfFileReader::open_stream(path, Box::new(stream)));
    assert_eq!(from_file, from_stream, "a file and a stream read alike");
}

/// Each record's offset, type and body, or its error's text.
type Handed = Vec<Result<(u64, u32, Vec<u8>), String>>;

/// The events' names, each record handed out, and the features the
/// stream's end updated (the perfns extension sent again in parts).
type Read = (Vec<String>, Handed, Option<perfns::perf_data::Features>);

/// What a reader reads of the stream (see [`Read`]).
fn read(reader: Result<PerfFileReader, perfns::perf_data::PerfDataError>) -> Result<Read, String> {
    let reader = reader.map_err(|e| e.to_string())?;
    assert!(reader.is_pipe_mode());
    assert!(!reader.events().events().is_empty());
    let names = reader
        .events()
        .events()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let mut out = Vec::new();
    let mut records = reader.stream();
    while let Some(r) = records.next_record() {
        out.push(
            r.map(|r| {
                let _ = (r.time(), r.parse());
                (r.offset, r.header.kind.0, r.body.to_vec())
            })
            .map_err(|e| e.to_string()),
        );
    }
    let at_end = records.features_at_end().cloned();
    drop(records);
    // A stream is read once.
    let mut again = reader.stream();
    assert!(matches!(again.next_record(), Some(Err(_))));
    Ok((names, out, at_end))
}

fn scratch_file() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        crate::perf_data_reader::scratch_dir()
            .join(format!("perfns-fuzz-{}-pipe.data", std::process::id()))
    })
}

//! Writes the seed corpus of every fuzz target: valid inputs, one or a
//! few per record type, file feature and tracepoint format perfns knows,
//! so that libFuzzer starts from inputs that reach deep into each parser.
//!
//! `cargo run --no-default-features --example seeds -- CORPUS_DIR` writes
//! `CORPUS_DIR/<target>/seed-*` (scripts/fuzz.sh runs it). Tracepoint
//! formats come from src/tracepoint/testdata/, captured from real kernels.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use byteorder::NativeEndian;

use perfns::attr::{flags, read_format, EventAttr, EventDesc, SampleFormat};
use perfns::perf_data::{
    Features, NrCpus, PerfFileReader, PerfFileWriter, PerfPipeWriter, TracepointFormatText,
    TracingData,
};
use perfns::record::{
    RawData, RawRecord, RecordHeader, RecordType, MISC_COMM_EXEC, MISC_SWITCH_OUT,
    MISC_SWITCH_OUT_PREEMPT,
};
use perfns::tracepoint::TracepointFormat;
use perfns_fuzz::{
    attr_set, compressed_records, feature_sections, perf_data_reader, pipe_stream, record_parse,
    ring_walk, tracepoint_format,
};

/// The sample_id fields perfns records with.
const IDS: SampleFormat = SampleFormat(
    SampleFormat::IDENTIFIER.0 | SampleFormat::TID.0 | SampleFormat::TIME.0 | SampleFormat::CPU.0,
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: seeds CORPUS_DIR")?);
    let formats = tracepoint_formats()?;
    let records = records();
    let mut corpus = Corpus::new(&out);

    for (i, (attr, kind, misc, body)) in records.iter().enumerate() {
        // A seed is a valid record: a parser change that refuses one shows
        // here, not as a quietly weaker corpus.
        let raw = RawRecord {
            header: RecordHeader {
                kind: *kind,
                misc: *misc,
                size: (RecordHeader::SIZE + body.len()) as u16,
            },
            data: RawData::Single(body),
        };
        if let Err(e) = raw.parse::<NativeEndian>(attr) {
            return Err(format!("seed {i} ({kind:?}) does not parse: {e}").into());
        }
        for split in [0, body.len() as u16 / 2] {
            corpus.add(
                "record_parse",
                &format!("{i}-{kind:?}-{split}"),
                &record_parse::encode(attr, false, split, *kind, *misc, body),
            )?;
        }
    }

    // Rings of 64 bytes and 4 KiB holding the records of one attr, from
    // the start and wrapping the end.
    for (n, (attr, _, _, _)) in records.iter().enumerate().take(4) {
        let same: Vec<_> = records.iter().filter(|r| r.0 == *attr).collect();
        for (log2, tail) in [(3u8, 0u64), (9, 4000), (9, 5 * 4096 + 100)] {
            let size = 8usize << log2;
            let mut area = vec![0u8; size];
            let mut pos = tail;
            for (_, kind, misc, body) in &same {
                let header = RecordHeader {
                    kind: *kind,
                    misc: *misc,
                    size: (RecordHeader::SIZE + body.len()) as u16,
                };
                if pos - tail + u64::from(header.size) > size as u64 {
                    break;
                }
                for &b in header.to_ne_bytes().iter().chain(body.iter()) {
                    area[(pos % size as u64) as usize] = b;
                    pos += 1;
                }
            }
            corpus.add(
                "ring_walk",
                &format!("{n}-{size}-{tail}"),
                &ring_walk::encode(log2, tail, pos, attr, &area),
            )?;
        }
    }

    for f in &formats {
        let payload = payload_for(f);
        corpus.add(
            "tracepoint_format",
            &f.name,
            &tracepoint_format::encode(false, &f.text, &payload),
        )?;
    }

    // Whole files, written by the library's own writer.
    let scratch = out.join(".scratch.data");
    for (name, events, with_features) in [
        ("two-events", two_events(), true),
        ("one-event-no-features", vec![two_events().remove(0)], false),
    ] {
        write_recording(&scratch, &events, &records, &formats, with_features)?;
        let bytes = fs::read(&scratch)?;
        let original = PerfFileReader::open(&scratch)?.features().clone();
        perf_data_reader::read(&scratch);
        corpus.add("perf_data_reader", name, &bytes)?;
        corpus.add("attr_set", name, &attr_input(&bytes)?)?;
        let sections = feature_sections(&bytes)?;
        for (&bit, section) in &sections {
            let one = BTreeMap::from([(bit, *section)]);
            let name = format!("{name}-bit{bit}");
            corpus.add("feature_sections", &name, &feature_sections::encode(&one))?;
        }
        corpus.add(
            "feature_sections",
            name,
            &feature_sections::encode(&sections),
        )?;
        // The target's file around these sections reads back the same.
        fs::write(&scratch, feature_sections::file(&sections))?;
        if PerfFileReader::open(&scratch)?.features() != &original {
            return Err(format!("{name}: feature_sections::file changes the features").into());
        }
    }
    // The same recordings compressed, and in pipe mode; their records as
    // compressed_records' input, cut in a few ways.
    for (name, events, with_features) in [
        ("two-events", two_events(), true),
        ("one-event-no-features", vec![two_events().remove(0)], false),
    ] {
        write_recording(&scratch, &events, &records, &formats, with_features)?;
        let plain = PerfFileReader::open(&scratch)?;
        let mut bytes = Vec::new();
        let packed = out.join(".scratch-z.data");
        // Pipe mode plain and compressed (`perfns record [-z] -o -`): the
        // statedump, FINISHED_INIT, the records; the perfns extension in
        // parts at the start and again at the end.
        for (suffix, level) in [("", None), ("-z", Some(1))] {
            let mut pipe = PerfPipeWriter::create(
                "seed",
                Vec::new(),
                plain.events().events(),
                plain.features(),
                level,
            )?;
            let mut stream = plain.stream();
            let mut init = false;
            while let Some(r) = stream.next_record() {
                let r = r?;
                if level.is_none() {
                    bytes.extend_from_slice(&r.header.to_ne_bytes());
                    bytes.extend_from_slice(r.body);
                }
                if r.header.kind == RecordType::SAMPLE && !init {
                    pipe.write_finished_init()?;
                    init = true;
                }
                pipe.write_record(r.header, RawData::Single(r.body))?;
            }
            drop(stream);
            let pipe = pipe.finish(plain.features())?;
            pipe_stream::run(&pipe[16..]);
            corpus.add("pipe_stream", &format!("{name}{suffix}"), &pipe[16..])?;
            fs::write(&packed, &pipe)?;
            perf_data_reader::read(&packed);
            corpus.add("perf_data_reader", &format!("{name}-pipe{suffix}"), &pipe)?;
        }
        let half = (bytes.len() / 2) as u16;
        for (cuts, piece) in [
            (vec![], 4095u16),
            (vec![half], 16),
            (vec![3, half, half + 5], 1),
        ] {
            let input = compressed_records::encode(&cuts, piece, &bytes);
            compressed_records::run(&input);
            corpus.add(
                "compressed_records",
                &format!("{name}-{}-{piece}", cuts.len()),
                &input,
            )?;
        }
        let mut w = PerfFileWriter::create(&packed, &events)?;
        w.compress(1)?;
        let mut stream = plain.stream();
        while let Some(r) = stream.next_record() {
            let r = r?;
            w.write_record(r.header, RawData::Single(r.body))?;
        }
        w.finish(plain.features())?;
        perf_data_reader::read(&packed);
        corpus.add(
            "perf_data_reader",
            &format!("{name}-z"),
            &fs::read(&packed)?,
        )?;
        fs::remove_file(&packed)?;
    }
    fs::remove_file(&scratch)?;
    println!(
        "seeds: wrote {} inputs under {}",
        corpus.count,
        out.display()
    );
    Ok(())
}

/// Writes the seed files under `dir/<target>/`.
struct Corpus<'a> {
    dir: &'a Path,
    count: usize,
}

impl<'a> Corpus<'a> {
    fn new(dir: &'a Path) -> Self {
        Self { dir, count: 0 }
    }

    fn add(&mut self, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.dir.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("seed-{name}")), bytes)?;
        self.count += 1;
        Ok(())
    }
}

fn tracepoint_formats() -> Result<Vec<TracepointFormat>, Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/tracepoint/testdata");
    let mut out = Vec::new();
    let mut paths: Vec<_> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for path in paths {
        if path.extension().is_some_and(|e| e == "format") {
            let system = match path.file_stem().and_then(|s| s.to_str()) {
                Some(s) if s.starts_with("sched") => "sched",
                Some(s) if s.starts_with("mm_") => "kmem",
                Some(s) if s.starts_with("sys_") => "raw_syscalls",
                _ => "ftrace",
            };
            out.push(TracepointFormat::parse(
                system,
                &fs::read_to_string(&path)?,
            )?);
        }
    }
    Ok(out)
}

/// A payload for `f`: its common_type, and every `__data_loc` field
/// pointing at a short string after the fixed fields.
fn payload_for(f: &TracepointFormat) -> Vec<u8> {
    let fixed = f
        .fields
        .iter()
        .map(|x| x.offset + x.size)
        .max()
        .unwrap_or(0);
    let mut p: Vec<u8> = (0..fixed).map(|i| i as u8).collect();
    p[..2].copy_from_slice(&(f.id as u16).to_le_bytes());
    for field in &f.fields {
        if matches!(
            field.kind,
            perfns::tracepoint::FieldKind::DynamicArray
                | perfns::tracepoint::FieldKind::RelativeDynamicArray
        ) {
            let at = p.len() as u32;
            p.extend_from_slice(b"/bin/true\0");
            let loc = (10 << 16) | at;
            p[field.offset..field.offset + 4].copy_from_slice(&loc.to_le_bytes());
        }
    }
    p
}

fn attr(sample_type: SampleFormat, id_all: bool) -> EventAttr {
    EventAttr {
        sample_type,
        flags: if id_all { flags::SAMPLE_ID_ALL } else { 0 },
        ..Default::default()
    }
}

/// Bytes in native order.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32s(mut self, a: u32, b: u32) -> Self {
        self.0.extend_from_slice(&a.to_ne_bytes());
        self.0.extend_from_slice(&b.to_ne_bytes());
        self
    }
    /// A NUL-terminated string padded to 8 bytes.
    fn string(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        let padded = (s.len() + 1).div_ceil(8) * 8;
        self.0.resize(self.0.len() + padded - s.len(), 0);
        self
    }
    /// The sample_id trailer of [`IDS`].
    fn trailer(self, id: u64, time: u64) -> Self {
        self.u32s(42, 43).u64(time).u32s(1, 0).u64(id)
    }
}

type Seed = (EventAttr, RecordType, u16, Vec<u8>);

/// One record of every type perfns decodes, with the attr it needs.
fn records() -> Vec<Seed> {
    let ids = attr(IDS, true);
    let raw = attr(IDS | SampleFormat::RAW, true);
    let all = EventAttr {
        read_format: read_format::ID | read_format::TOTAL_TIME_ENABLED,
        ..attr(
            SampleFormat(
                IDS.0
                    | SampleFormat::IP.0
                    | SampleFormat::ADDR.0
                    | SampleFormat::ID.0
                    | SampleFormat::STREAM_ID.0
                    | SampleFormat::PERIOD.0
                    | SampleFormat::READ.0
                    | SampleFormat::CALLCHAIN.0
                    | SampleFormat::RAW.0,
            ),
            true,
        )
    };
    let group = EventAttr {
        read_format: read_format::GROUP | read_format::ID,
        ..attr(SampleFormat(IDS.0 | SampleFormat::READ.0), true)
    };
    let old = attr(
        SampleFormat::TID | SampleFormat::TIME | SampleFormat::ID,
        false,
    );
    let b = Body::default;
    // The series' layout (src/record.rs): pid, tid; two namespaces; the
    // tracer namespace ancestry, two levels; the pids at two levels.
    let tracer_ns = b()
        .u32s(3, 3)
        .u64(2)
        .u64(4)
        .u64(0xf000_0001)
        .u64(4)
        .u64(0xf000_0002)
        .u64(2)
        .u64(0xefff_f001)
        .u64(0xefff_f002)
        .u64(2)
        .u32s(1234, 1234)
        .u32s(3, 3);
    let mut namespaces = b().u32s(1, 1).u64(7);
    for i in 0..7 {
        namespaces = namespaces.u64(4).u64(0xf000_0000 + i);
    }
    vec![
        (
            raw.clone(),
            RecordType::SAMPLE,
            0,
            b().u64(7)
                .u32s(42, 43)
                .u64(1000)
                .u32s(1, 0)
                .u32s(12, 0x1234_5678)
                .u64(0xdead_beef)
                .0,
        ),
        (
            all.clone(),
            RecordType::SAMPLE,
            0,
            b().u64(7)
                .u64(0xffff_ffff_8100_0000)
                .u32s(42, 43)
                .u64(1000)
                .u64(0x1000)
                .u64(7)
                .u64(9)
                .u32s(1, 0)
                .u64(1)
                .u64(5)
                .u64(100)
                .u64(7) // read: value, time_enabled, id
                .u64(2)
                .u64(0xffff_ffff_8100_0000)
                .u64(0x40_1000) // callchain
                .u32s(4, 0xabcd)
                .0,
        ),
        (
            old.clone(),
            RecordType::SAMPLE,
            0,
            b().u32s(42, 43).u64(1000).u64(7).0,
        ),
        (
            group,
            RecordType::SAMPLE,
            0,
            b().u64(7)
                .u32s(42, 43)
                .u64(1000)
                .u32s(1, 0)
                .u64(2)
                .u64(10)
                .u64(7)
                .u64(20)
                .u64(9)
                .0,
        ),
        (
            ids.clone(),
            RecordType::COMM,
            MISC_COMM_EXEC,
            b().u32s(42, 43).string("worker").trailer(8, 1001).0,
        ),
        (
            ids.clone(),
            RecordType::FORK,
            0,
            b().u32s(44, 42).u32s(44, 43).u64(1002).trailer(8, 1002).0,
        ),
        (
            ids.clone(),
            RecordType::EXIT,
            0,
            b().u32s(44, 42).u32s(44, 43).u64(1003).trailer(8, 1003).0,
        ),
        (
            ids.clone(),
            RecordType::NAMESPACES,
            0,
            namespaces.trailer(8, 1004).0,
        ),
        (
            ids.clone(),
            RecordType::CGROUP,
            0,
            b().u64(77)
                .string("/system.slice/x.scope")
                .trailer(8, 1005)
                .0,
        ),
        (
            ids.clone(),
            RecordType::SWITCH,
            MISC_SWITCH_OUT,
            b().trailer(8, 1006).0,
        ),
        (
            ids.clone(),
            RecordType::SWITCH_CPU_WIDE,
            MISC_SWITCH_OUT | MISC_SWITCH_OUT_PREEMPT,
            b().u32s(50, 51).trailer(8, 1007).0,
        ),
        (
            ids.clone(),
            RecordType::LOST,
            0,
            b().u64(8).u64(3).trailer(8, 1008).0,
        ),
        (
            ids.clone(),
            RecordType::LOST_SAMPLES,
            0,
            b().u64(3).trailer(8, 1009).0,
        ),
        (
            ids.clone(),
            RecordType::THROTTLE,
            0,
            b().u64(1010).u64(8).u64(8).trailer(8, 1010).0,
        ),
        (
            ids.clone(),
            RecordType::UNTHROTTLE,
            0,
            b().u64(1011).u64(8).u64(8).trailer(8, 1011).0,
        ),
        (
            ids.clone(),
            RecordType::MMAP2,
            2,
            b().u32s(42, 43)
                .u64(0x40_0000)
                .u64(0x1000)
                .u64(0)
                .u64(8)
                .u64(1)
                .u64(0)
                .u32s(5, 2)
                .string("/usr/bin/true")
                .trailer(8, 1012)
                .0,
        ),
        (
            ids.clone(),
            RecordType::TRACER_NAMESPACES,
            0,
            tracer_ns.trailer(8, 1013).0,
        ),
        (ids.clone(), RecordType::FINISHED_ROUND, 0, Vec::new()),
        (ids.clone(), RecordType(99), 0, b().u64(1).0),
        (ids, RecordType::CPU_MAP, 0, b().u32s(0, 2).0),
        (
            old,
            RecordType::COMM,
            0,
            b().u32s(42, 43).string("no-trailer").0,
        ),
    ]
}

/// A tracepoint event (id 7) and a side-band dummy event (id 8).
fn two_events() -> Vec<EventDesc> {
    compressed_records::events()
}

/// A recording of `events` holding those of `records` that the events'
/// sample layout describes, in two rounds, times out of order in each.
fn write_recording(
    path: &Path,
    events: &[EventDesc],
    records: &[Seed],
    formats: &[TracepointFormat],
    with_features: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let layout = &events[0].attr;
    let mut w = PerfFileWriter::create(path, events)?;
    let features = if with_features {
        Features {
            hostname: Some("fuzzhost".into()),
            os_release: Some("6.12.0".into()),
            version: Some("perfns 0.1.0".into()),
            arch: Some("x86_64".into()),
            nr_cpus: Some(NrCpus {
                available: 2,
                online: 2,
            }),
            cmdline: Some(vec!["perfns".into(), "record".into()]),
            build_ids: Vec::new(),
            tracing_data: Some(TracingData::new(
                "field: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n".into(),
                "# compressed entry header\n".into(),
                formats
                    .iter()
                    .map(|f| TracepointFormatText {
                        system: f.system.clone(),
                        text: f.text.clone(),
                    })
                    .collect(),
            )),
            perfns: Some(br#"{"containers":[]}"#.to_vec()),
            ..Features::default()
        }
    } else {
        Features::default()
    };
    w.set_features(&features);
    let mut n = 0;
    for (a, kind, misc, body) in records.iter().rev() {
        if a.sample_type.0 & !SampleFormat::RAW.0 != IDS.0 || *kind == RecordType::FINISHED_ROUND {
            continue;
        }
        if *kind == RecordType::SAMPLE && a.sample_type != layout.sample_type {
            continue;
        }
        let header = RecordHeader {
            kind: *kind,
            misc: *misc,
            size: (RecordHeader::SIZE + body.len()) as u16,
        };
        w.write_record(header, RawData::Single(body))?;
        n += 1;
        if n == 6 {
            w.write_finished_round()?;
        }
    }
    w.finish(&features)?;
    Ok(())
}

/// The feature sections of a little-endian recording, by bit.
fn feature_sections(file: &[u8]) -> Result<BTreeMap<u8, &[u8]>, Box<dyn std::error::Error>> {
    let u64_at = |o: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(u64::from_le_bytes(
            file.get(o..o + 8).ok_or("short file")?.try_into()?,
        ))
    };
    let mut table = (u64_at(40)? + u64_at(48)?) as usize;
    let mut out = BTreeMap::new();
    for bit in 0..=255u8 {
        if u64_at(72 + 8 * usize::from(bit / 64))? & (1 << (bit % 64)) != 0 {
            let (at, len) = (u64_at(table)? as usize, u64_at(table + 8)? as usize);
            out.insert(bit, file.get(at..at + len).ok_or("section past the end")?);
            table += 16;
        }
    }
    Ok(out)
}

/// The attr_set input for a little-endian recording: its attr section
/// with the ids moved to offset 104, and its data section.
fn attr_input(file: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let u64_at = |o: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(u64::from_le_bytes(
            file.get(o..o + 8).ok_or("short file")?.try_into()?,
        ))
    };
    let attr_size = u64_at(16)? as usize;
    let (attrs_at, attrs_len) = (u64_at(24)? as usize, u64_at(32)? as usize);
    let (data_at, data_len) = (u64_at(40)? as usize, u64_at(48)? as usize);
    let mut ids = Vec::new();
    let mut attrs = file[attrs_at..attrs_at + attrs_len].to_vec();
    for entry in attrs.chunks_mut(attr_size) {
        let s = attr_size - 16;
        let off = u64::from_le_bytes(entry[s..s + 8].try_into()?) as usize;
        let len = u64::from_le_bytes(entry[s + 8..s + 16].try_into()?) as usize;
        let moved = 104 + ids.len() as u64;
        ids.extend_from_slice(&file[off..off + len]);
        entry[s..s + 8].copy_from_slice(&moved.to_le_bytes());
    }
    Ok(attr_set::encode(
        attr_size as u16,
        &ids,
        &attrs,
        &file[data_at..data_at + data_len],
    ))
}

//! Benchmark: reads every record of a perf.data file, decodes it, and
//! counts records by type, as `perf report --stats` does; compare the two
//! on the same big file (docs/recording-format.md says how).
//!
//! `perf_data_stats FILE` reads in time order (as `perf report` without
//! `--stats` does); `--file-order` reads in file order, as
//! `perf report --stats` does; `--no-parse` skips decoding, to tell the
//! reader's cost from the record parser's.

use std::collections::BTreeMap;
use std::process::ExitCode;

use perfns::perf_data::PerfFileReader;
use perfns::record::RecordType;

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let mut flag = |name: &str| match args.iter().position(|a| a == name) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let file_order = flag("--file-order");
    let parse = !flag("--no-parse");
    let [path] = &args[..] else {
        eprintln!("usage: perf_data_stats [--file-order] [--no-parse] FILE");
        return ExitCode::from(2);
    };
    match run(path, file_order, parse) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perf_data_stats: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    path: &std::ffi::OsStr,
    file_order: bool,
    parse: bool,
) -> Result<(), perfns::perf_data::PerfDataError> {
    let reader = PerfFileReader::open(path)?;
    let mut counts: BTreeMap<RecordType, u64> = BTreeMap::new();
    let mut total = 0u64;
    let records = if file_order {
        reader.records_in_file_order()
    } else {
        reader.records()
    };
    for record in records {
        let record = record?;
        if parse {
            record.parse()?;
        }
        *counts.entry(record.header.kind).or_default() += 1;
        total += 1;
    }
    println!("{:>20} events: {total:>10}", "TOTAL");
    for (kind, n) in counts {
        let name = kind
            .name()
            .map_or_else(|| format!("{kind:?}"), str::to_string);
        println!("{name:>20} events: {n:>10}");
    }
    Ok(())
}

//! Benchmark: reads every record of a perf.data file in time order, decodes
//! it, and counts records by type, as `perf report --stats` does; compare
//! the two on the same big file (docs/recording-format.md says how).

use std::collections::BTreeMap;
use std::process::ExitCode;

use perfns::perf_data::PerfFileReader;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: perf_data_stats FILE");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perf_data_stats: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::ffi::OsStr) -> Result<(), perfns::perf_data::PerfDataError> {
    let reader = PerfFileReader::open(path)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    for record in reader.records() {
        let record = record?;
        record.parse()?;
        let kind = record.header.kind;
        let name = kind
            .name()
            .map_or_else(|| format!("{kind:?}"), str::to_string);
        *counts.entry(name).or_default() += 1;
        total += 1;
    }
    println!("{:>20} events: {total:>10}", "TOTAL");
    for (name, n) in counts {
        println!("{name:>20} events: {n:>10}");
    }
    Ok(())
}

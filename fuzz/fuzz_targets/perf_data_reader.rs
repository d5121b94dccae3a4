//! Fuzz target: see perfns_fuzz::perf_data_reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::perf_data_reader::run(data));

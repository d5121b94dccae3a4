//! Fuzz target: see perfns_fuzz::compressed_records.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::compressed_records::run(data));

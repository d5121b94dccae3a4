//! Fuzz target: see perfns_fuzz::record_parse.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::record_parse::run(data));

//! Fuzz target: see perfns_fuzz::attr_set.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::attr_set::run(data));

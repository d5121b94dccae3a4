//! Fuzz target: see perfns_fuzz::feature_sections.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::feature_sections::run(data));

//! Fuzz target: see perfns_fuzz::tracepoint_format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::tracepoint_format::run(data));

//! Fuzz target: see perfns_fuzz::pipe_stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::pipe_stream::run(data));

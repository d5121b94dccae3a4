//! Fuzz target: see perfns_fuzz::ring_walk.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perfns_fuzz::ring_walk::run(data));

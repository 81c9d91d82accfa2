//! Fuzz target: see `yanpei_fuzz::node_responses`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanpei_fuzz::node_responses(data));

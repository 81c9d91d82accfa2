//! Fuzz target: see `yanpei_fuzz::activity`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanpei_fuzz::activity(data));

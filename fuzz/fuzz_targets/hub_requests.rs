//! Fuzz target: see `yanpei_fuzz::hub_requests`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanpei_fuzz::hub_requests(data));

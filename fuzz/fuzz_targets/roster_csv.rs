//! Fuzz target: see `yanpei_fuzz::roster_csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanpei_fuzz::roster_csv(data));

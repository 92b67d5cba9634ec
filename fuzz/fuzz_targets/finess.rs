//! `cargo fuzz run finess`: see `careaccess::fuzz::finess` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| careaccess::fuzz::finess(data));

//! `cargo fuzz run query`: see `careaccess::fuzz::query` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| careaccess::fuzz::query(data));

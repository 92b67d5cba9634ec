//! `cargo fuzz run points_csv`: see `careaccess::fuzz::points_csv` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| careaccess::fuzz::points_csv(data));

//! `cargo fuzz run commune_csv`: see `careaccess::fuzz::commune_csv` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| careaccess::fuzz::commune_csv(data));

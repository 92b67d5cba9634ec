//! `cargo fuzz run points_geojson`: see `careaccess::fuzz::points_geojson` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| careaccess::fuzz::points_geojson(data));

//! `cargo fuzz run http`: requests (`METHOD /path?query` then the body) through the whole
//! router on a real build, which must never answer 5xx. The data folder comes from
//! `CAREACCESS_FUZZ_DATA` (default `geodata`, run from the repository root).
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use careaccess::api::{AppState, Service};

struct Harness {
    runtime: tokio::runtime::Runtime,
    service: Arc<Service>,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let data = PathBuf::from(std::env::var_os("CAREACCESS_FUZZ_DATA").unwrap_or("geodata".into()));
    let state = AppState::load(&data)
        .unwrap_or_else(|e| panic!("CAREACCESS_FUZZ_DATA={}: {e}", data.display()));
    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web");
    Harness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
        service: Arc::new(Service::new(state, &data, &web)),
    }
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let h = &*HARNESS;
    h.runtime.block_on(careaccess::fuzz::http(&h.service, data));
});

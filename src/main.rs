//! careaccess: access to care in France.
//!
//! Run `careaccess --help`. The binary is thin: it parses the command line (`cli`), then
//! runs the command (`commands`), which calls the library.

mod cli;
mod commands;

use std::process::ExitCode;

/// jemalloc gives freed memory back to the system within seconds (decay-based purging by
/// its background threads, see Cargo.toml), whichever thread frees it: a reload frees a whole build that another thread loaded, and
/// the resident memory must come back to where it was. (glibc's per-thread arenas kept
/// about 100 MB after the parallel load; mimalloc kept a build's memory in the segments of
/// the thread that had loaded it, so resident memory wandered by ±10 % from one reload to
/// the next.)
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = <cli::Cli as clap::Parser>::parse();
    commands::init_logging(cli.verbose);
    commands::run(cli)
}

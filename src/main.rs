//! careaccess: access to care in France.
//!
//! Run `careaccess --help`. The binary is thin: it parses the command line, then calls
//! the library (`careaccess::import`, `careaccess::api`…).

mod cli;
mod commands;

use std::process::ExitCode;

/// mimalloc returns freed memory to the system where glibc's per-thread arenas keep it:
/// the service's resident memory stays near its data size after parallel loads and
/// reloads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = <cli::Cli as clap::Parser>::parse();
    cli::init_logging(cli.verbose);
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! careaccess: access to care in France.
//!
//! Run `careaccess --help`. The binary is thin: it parses the command line, then calls
//! the library (`careaccess::import`, `careaccess::api`…).

mod cli;
mod commands;

use std::process::ExitCode;

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

//! The `roimae` binary: parses the command line and runs it. Errors print as
//! one line on stderr and exit with code 2; nothing here panics on bad input.

use clap::Parser;
use roimae::cli::{Cli, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("roimae: error: {}", chain.join(": ").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

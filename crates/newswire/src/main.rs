//! The `newswire` binary: parse the command line, set up logging once, run the command.

mod cli;
mod commands;
mod errors;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; anything else is a usage error (EX_USAGE).
            return if e.use_stderr() {
                ExitCode::from(errors::EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    newswire_shared::telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(errors::exit_code(&e))
        }
    }
}

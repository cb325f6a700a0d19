//! The `newswire` binary: parse the command line, set up logging once, run the command.

mod cli;
mod commands;
mod config;
mod errors;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The configuration file is read first: its values become the command line's defaults.
    let file = match config::config_path(&args) {
        Some(path) => match config::FileValues::load(&path) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(errors::EX_USAGE);
            }
        },
        None => config::FileValues::default(),
    };
    let command = file.apply(cli::Cli::command());
    let parsed = command
        .clone()
        .try_get_matches_from(&args)
        .and_then(|matches| cli::Cli::from_arg_matches(&matches));
    let cli = match parsed {
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
    let _telemetry = newswire_shared::telemetry::init(cli.log_format);
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
    let setup = commands::Setup { command, file };
    match runtime.block_on(commands::run(cli.command, &setup)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(errors::exit_code(&e))
        }
    }
}

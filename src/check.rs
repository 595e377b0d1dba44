//! `swarmlab check`: not implemented yet.

use std::process::ExitCode;

/// Arguments of `swarmlab check`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("error: `swarmlab check` is not implemented yet");
    ExitCode::from(2)
}

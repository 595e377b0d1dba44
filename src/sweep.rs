//! `swarmlab sweep`: not implemented yet.

use std::process::ExitCode;

/// Arguments of `swarmlab sweep`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("error: `swarmlab sweep` is not implemented yet");
    ExitCode::from(2)
}

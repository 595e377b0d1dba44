//! `swarmlab plot`: not implemented yet.

use std::process::ExitCode;

/// Arguments of `swarmlab plot`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("error: `swarmlab plot` is not implemented yet");
    ExitCode::from(2)
}

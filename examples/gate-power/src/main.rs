//! `gate-power`: the swarmlab CLI with every family wrapped in the injection
//! named by the `GATE_POWER_INJECT` environment variable (none, neutral,
//! drop=P, delay=S), plus `gate-power study ...`, the analysis of the pools.
//! Driven by results/gate-power/run.sh.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("study") {
        return gate_power::study::main(&args[2..]);
    }
    let spec = std::env::var("GATE_POWER_INJECT").unwrap_or_else(|_| "none".into());
    match gate_power::inject::Inject::parse(&spec) {
        Ok(i) => gate_power::inject::set(i),
        Err(e) => {
            eprintln!("error: GATE_POWER_INJECT: {e}");
            return ExitCode::from(2);
        }
    }
    swarmlab::main_with(gate_power::inject::registry())
}

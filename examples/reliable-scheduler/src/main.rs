//! The whole swarmlab CLI with the `reliable` scheduler registered:
//! `cargo run -p reliable-scheduler -- compare examples/reliable-scheduler/compare.toml`.

fn main() -> std::process::ExitCode {
    swarmlab::main_with(reliable_scheduler::registry())
}

//! The whole swarmlab CLI with the push-random family registered:
//! `cargo run -p push-random -- compare examples/push-random/compare.toml`.

fn main() -> std::process::ExitCode {
    swarmlab::main_with(push_random::registry())
}

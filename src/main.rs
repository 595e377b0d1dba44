//! `swarmlab`: the command-line front end, with the built-in protocol
//! families (the CLI itself is in the library, `src/lib.rs`).

fn main() -> std::process::ExitCode {
    swarmlab::main_with(swarmlab::Registry::builtins())
}

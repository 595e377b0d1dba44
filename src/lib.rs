//! `swarmlab` as a library: the whole command-line front end, for the
//! built-in protocol families or for a registry extended with your own.
//!
//! ```no_run
//! // src/main.rs of a crate that adds a family (see docs/extending.md):
//! // swarmlab::main_with(swarmlab::Registry::builtins().section::<MySection>().family::<MyFamily>())
//! fn main() -> std::process::ExitCode {
//!     swarmlab::main_with(swarmlab::Registry::builtins())
//! }
//! ```
//!
//! Parsing (`clap`) decides what was asked; the subcommand functions then touch
//! the file system. Errors are printed as `error: ...` with exit status 2 for
//! bad input and 1 for failures while running.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod bench;
pub mod check;
mod hugepages;
mod manifest;
mod matrix;
mod netns;
pub mod peer_cmd;
mod plot;
mod registry;
mod rejudge;
mod sim_draws;
mod stand_ins;
mod sweep;
mod validate;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
pub use registry::Registry;
use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;
/// The workspace crates, for extensions that depend on `swarmlab` alone.
pub use {analysis, net, protocols, sim};

/// Deterministic simulator and testbed for peer-to-peer live streaming.
///
/// Write a scenario file (see scenarios/quickstart.toml), run it, and read the
/// metrics beside their theoretical bounds. The same scenario and seed always
/// give byte-identical output files.
#[derive(Parser, Debug)]
#[command(name = "swarmlab", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario: print a summary table and write summary.csv, peers.csv, timeseries.csv and manifest.toml.
    ///
    /// summary.csv is tidy (one row per metric: scenario, protocol, seed,
    /// metric, value, unit); peers.csv has one row per peer; timeseries.csv
    /// one row per time bucket; manifest.toml records the version, commit,
    /// scenario hash and command. With --reps, each seed's files go into
    /// seed<N>/ and replications.csv gives n, mean, sd and the 95% interval
    /// of every metric. Metric definitions: `swarmlab metrics`.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Seed for this run (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Replications: run seeds seed, seed+1, ... and report mean, sd and
        /// 95% confidence intervals (overrides the scenario's `reps`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        reps: Option<u32>,
        /// Output directory [default: swarmlab-out/<scenario>-seed<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Threads of one run's engine [default: one per core]; outputs are
        /// byte-identical for any count. A latency model whose smallest
        /// delay is zero runs on one thread (said on stderr). With --reps,
        /// seeds run in parallel instead, one thread each.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
        threads: Option<u32>,
        /// Do not show a progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Protocol draw: 0 (the default) is the seed's run; a draw k > 0 runs
        /// the same scenario instance (population, churn, latency, bandwidth,
        /// attackers) with other random protocol decisions, to measure the
        /// simulator's own spread on one instance. The top 2^32 draws are the
        /// generators of `validate`'s real processes: 18446744073709551615 -
        /// R those of `validate --real-draw R` (`sim::rngs::host_draw`).
        /// Single runs only.
        #[arg(long, default_value_t = 0, conflicts_with = "reps")]
        draw: u64,
    },
    /// Compare protocol variants on identical populations, networks and seeds.
    ///
    /// Runs every `[[variants]]` entry of the scenario (each may set
    /// `protocol`, `scheduler`, `stripes`, `mode`, `defence` and any section
    /// key under `[variants.params.<section>]`; unset keys keep the
    /// scenario's), in parallel, and prints one row per variant. Writes
    /// compare.csv (tidy: scenario, variant, protocol, seed, metric, value,
    /// unit), each variant's summary.csv, peers.csv and timeseries.csv in a
    /// subdirectory (seed<N>/ below it with --reps), replications.csv with
    /// --reps, and manifest.toml. Metric definitions: `swarmlab metrics`.
    Compare {
        /// Scenario file (TOML) with `[[variants]]`.
        scenario: PathBuf,
        /// Seed for every variant (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Replications per variant (overrides the scenario's `reps`); cells then
        /// show mean±95% confidence half-width.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        reps: Option<u32>,
        /// Output directory [default: swarmlab-out/<scenario>-compare-seed<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads [default: RAYON_NUM_THREADS, or one per core]; results do not depend on it.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
        threads: Option<u32>,
        /// Do not show a progress bar or the wall time.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a parameter sweep (grid x seeds) in parallel, resumably, optionally one shard of it.
    Sweep(sweep::Args),
    /// Merge the output directories of sweep shards into one and write its sweep.csv.
    Merge(sweep::MergeArgs),
    /// Regression gate: rerun a suite and compare with a baseline; exit non-zero on a regression.
    Check(check::Args),
    /// Draw figures (SVG, PDF, 300-dpi PNG) from output CSVs without rerunning.
    Plot(plot::Args),
    /// Scale benchmark: run the scale scenarios at several populations and record wall time, events/s and peak memory.
    Bench(bench::Args),
    /// Run one real tracker, source or peer over UDP (see README, "Real UDP transport").
    Peer(Box<peer_cmd::Args>),
    /// Run a scenario in the simulator and as real peer processes on loopback; compare the metrics.
    Validate(validate::Args),
    /// Print the registered protocol families, schedulers and parameter sections
    /// (the `[protocol]` reference of docs/scenario.md, Markdown, for this build).
    Protocols,
    /// Print the JSON Schema of scenario files (docs/scenario.schema.json, for this build's registry).
    ///
    /// Generated from the parser's types: every key with its type, range,
    /// default and meaning; `[protocol] name`, `scheduler` and the section
    /// tables list this build's registered families, schedulers and sections.
    /// TOML editors (taplo, Even Better TOML) use it for completion and
    /// validation; see docs/scenario.md, "Editor support".
    Schema,
    /// Print the metrics glossary: every metric's definition, unit, direction of improvement, coverage and source.
    Metrics {
        /// Print Markdown (the text of docs/metrics.md) instead of plain text.
        #[arg(long)]
        markdown: bool,
    },
}

/// Runs the CLI (arguments from the process) with `registry`'s families,
/// sections and schedulers: installs it for scenario parsing and runs
/// ([`sim::registry::install`]), then dispatches the subcommand.
pub fn main_with(registry: Registry) -> ExitCode {
    cli(registry, std::env::args_os(), true)
}

/// [`main_with`] with explicit arguments (the first is the program name), for
/// programs and tests that drive the CLI in-process. Unlike `main_with` it
/// never re-executes the process (for huge pages, see `hugepages.rs`).
pub fn main_from<I, T>(registry: Registry, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    cli(registry, args, false)
}

fn cli<I, T>(registry: Registry, args: I, reexec: bool) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    registry.install();
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    if reexec
        && matches!(
            cli.command,
            Command::Run { .. } | Command::Compare { .. } | Command::Sweep(_) | Command::Check(_) | Command::Bench(_)
        )
    {
        hugepages::enable();
    }
    match cli.command {
        Command::Run { scenario, seed, reps, out, threads, quiet, draw } => {
            run(&scenario, (seed, draw), reps, out, threads, quiet)
        }
        Command::Compare { scenario, seed, reps, out, threads, quiet } => {
            compare(&scenario, seed, reps, out, threads, quiet)
        }
        Command::Sweep(a) => sweep::main(a),
        Command::Merge(a) => sweep::merge(a),
        Command::Check(a) => check::main(a),
        Command::Plot(a) => plot::main(a),
        Command::Bench(a) => bench::main(a),
        Command::Peer(a) => peer_cmd::main(*a, &registry),
        Command::Validate(a) => validate::main(a),
        Command::Protocols => {
            let _ = write!(std::io::stdout().lock(), "{}", registry.sim().markdown());
            ExitCode::SUCCESS
        }
        Command::Schema => {
            let _ = write!(std::io::stdout().lock(), "{}", sim::schema::scenario_schema());
            ExitCode::SUCCESS
        }
        Command::Metrics { markdown } => {
            let text = if markdown { analysis::glossary::markdown() } else { analysis::glossary::text() };
            let _ = write!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
    }
}

fn load(path: &Path) -> Result<(Scenario, String), ExitCode> {
    match Scenario::load(path) {
        Ok(loaded) => Ok(loaded),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn run(
    path: &Path,
    (seed, draw): (Option<u64>, u64),
    reps: Option<u32>,
    out: Option<PathBuf>,
    threads: Option<u32>,
    quiet: bool,
) -> ExitCode {
    let (mut sc, text) = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let name = sc.display_name(path);
    let seed = seed.unwrap_or(sc.seed);
    let reps = reps.unwrap_or(*sc.reps.get_ref());
    // A draw's outputs must not overwrite the seed's own run's.
    let dir = if draw > 0 { format!("{name}-seed{seed}-draw{draw}") } else { format!("{name}-seed{seed}") };
    let out = out.unwrap_or_else(|| PathBuf::from("swarmlab-out").join(dir));
    if reps > 1 {
        if draw > 0 {
            eprintln!("error: --draw is for a single run; the scenario sets reps = {reps} (pass --reps 1)");
            return ExitCode::from(2);
        }
        // `run` runs the scenario's own protocol; variants are for `compare`.
        sc.variants.clear();
        return replicate(&sc, (path, &text), &name, (seed, reps), &out, false, (None, quiet));
    }
    let threads = threads.map_or_else(crate::bench::cores, |t| t as usize);
    if threads > 1 && !sim::runner::parallel_capable(&sc) {
        eprintln!(
            "note: [network.latency] allows a zero delay between two nodes, so the run uses one thread \
             (--threads needs a positive smallest delay to run nodes apart)"
        );
    }
    let opts = RunOptions { name, seed, threads, draw };

    // The bar appears only for runs that last more than two seconds.
    let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} simulated {msg} [{bar:40}] {percent}% elapsed {elapsed} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    #[allow(clippy::disallowed_methods, reason = "the CLI's progress bar may read the wall clock")]
    let started = Instant::now();
    let mut shown = false;
    let mut progress = |t: protocols::Time, end: protocols::Time| {
        if !quiet && !shown && started.elapsed() > Duration::from_secs(2) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        bar.set_position(t.0 * 1000 / end.0.max(1));
        bar.set_message(format!("{:.0}/{:.0} s", t.as_secs_f64(), end.as_secs_f64()));
    };
    let report = runner::run(&sc, &opts, &mut progress);
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    if !quiet {
        let ev = report.info.events;
        eprintln!(
            "simulated {:.0} s in {wall:.2} s of wall time: {ev} events, {:.2} M events/s",
            report.info.end.as_secs_f64(),
            ev as f64 / wall.max(1e-9) / 1e6
        );
    }

    // Results first: a closed stdout (`| head`) must not lose them.
    let written = analysis::output::write_run(&report, &out).and_then(|_| manifest::write(&out, path, &text, &[seed]));
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", analysis::output::summary_table(&report));
    let what = format!(
        "summary.csv, peers.csv, timeseries.csv and manifest.toml in {} (metric definitions: swarmlab metrics)",
        out.display()
    );
    finish(written, &out, &what, &mut stdout)
}

/// Prints where results went, or the error that kept them from being written.
fn finish(written: std::io::Result<()>, out: &Path, what: &str, stdout: &mut impl Write) -> ExitCode {
    match written {
        Ok(()) => {
            let _ = writeln!(stdout, "\nwrote {what}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}

/// Runs `reps` seeds of every variant (or of the scenario's protocol), writes
/// per-seed outputs, compare.csv (when comparing) and replications.csv, and
/// prints one row per variant.
fn replicate(
    sc: &Scenario,
    (path, text): (&Path, &str),
    name: &str,
    (seed, reps): (u64, u32),
    out: &Path,
    comparing: bool,
    (threads, quiet): (Option<u32>, bool),
) -> ExitCode {
    let rows = match matrix::run(sc, name, seed, reps, threads, quiet) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    use analysis::output as o;
    let write_all = || -> std::io::Result<()> {
        std::fs::create_dir_all(out)?;
        for (label, runs) in &rows {
            for r in runs {
                let mut dir = out.to_path_buf();
                if comparing {
                    dir.push(o::label_dir(label));
                }
                if reps > 1 {
                    dir.push(format!("seed{}", r.info.seed));
                }
                o::write_run(r, &dir)?;
            }
        }
        if comparing {
            let flat: Vec<(String, analysis::Report)> =
                rows.iter().flat_map(|(l, runs)| runs.iter().map(move |r| (l.clone(), r.clone()))).collect();
            o::write_atomic(&out.join("compare.csv"), &o::compare_csv(&flat))?;
        }
        if reps > 1 {
            o::write_atomic(&out.join("replications.csv"), &o::replications_csv(&rows))?;
        }
        let seeds: Vec<u64> = (0..reps as u64).map(|k| seed.wrapping_add(k)).collect();
        manifest::write(out, path, text, &seeds)
    };
    let written = write_all();
    let mut stdout = std::io::stdout().lock();
    if reps > 1 {
        let _ = write!(stdout, "{}", o::compare_reps_table(&rows));
    } else {
        let single: Vec<(String, analysis::Report)> =
            rows.iter().map(|(l, runs)| (l.clone(), runs[0].clone())).collect();
        let _ = write!(stdout, "{}", o::compare_table(&single));
    }
    let what = match (comparing, reps > 1) {
        (true, true) => "compare.csv, replications.csv and per-variant, per-seed outputs",
        (true, false) => "compare.csv and per-variant outputs",
        _ => "replications.csv and per-seed outputs",
    };
    finish(written, out, &format!("{what} in {}", out.display()), &mut stdout)
}

fn compare(
    path: &Path,
    seed: Option<u64>,
    reps: Option<u32>,
    out: Option<PathBuf>,
    threads: Option<u32>,
    quiet: bool,
) -> ExitCode {
    let (sc, text) = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if sc.variants.is_empty() {
        eprintln!(
            "error: {}: no [[variants]] to compare: add entries such as\n\n[[variants]]\nprotocol = \"mesh-pull\"\nscheduler = \"donet\"\n\n[[variants]]\nprotocol = \"client-server\"",
            path.display()
        );
        return ExitCode::from(2);
    }
    let name = sc.display_name(path);
    let seed = seed.unwrap_or(sc.seed);
    let reps = reps.unwrap_or(*sc.reps.get_ref());
    let out = out.unwrap_or_else(|| PathBuf::from("swarmlab-out").join(format!("{name}-compare-seed{seed}")));
    replicate(&sc, (path, &text), &name, (seed, reps), &out, true, (threads, quiet))
}

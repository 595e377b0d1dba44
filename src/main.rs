//! `swarmlab`: the command-line front end of the simulator.
//!
//! Parsing (`clap`) decides what was asked; the subcommand functions then touch
//! the file system. Errors are printed as `error: ...` with exit status 2 for
//! bad input and 1 for failures while running.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;

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
    /// Run one scenario: print a summary table and write summary.csv and peers.csv.
    ///
    /// summary.csv is tidy (one row per metric: scenario, protocol, seed,
    /// metric, value, unit); peers.csv has one row per peer.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Seed for this run (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: swarmlab-out/<scenario>-seed<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not show a progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare protocol variants on identical populations, networks and seeds.
    ///
    /// Runs every `[[variants]]` entry of the scenario (each may set `protocol`
    /// and `scheduler`; unset keys keep `[protocol]`), in parallel, and prints
    /// one row per variant. Writes compare.csv (tidy: variant, metric, value)
    /// and each variant's summary.csv and peers.csv in a subdirectory.
    Compare {
        /// Scenario file (TOML) with `[[variants]]`.
        scenario: PathBuf,
        /// Seed for every variant (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: swarmlab-out/<scenario>-compare-seed<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { scenario, seed, out, quiet } => run(&scenario, seed, out, quiet),
        Command::Compare { scenario, seed, out } => compare(&scenario, seed, out),
    }
}

fn load(path: &Path) -> Result<Scenario, ExitCode> {
    match Scenario::load(path) {
        Ok((sc, _)) => Ok(sc),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn run(path: &Path, seed: Option<u64>, out: Option<PathBuf>, quiet: bool) -> ExitCode {
    let sc = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let name = sc.display_name(path);
    let seed = seed.unwrap_or(sc.seed);
    let out = out.unwrap_or_else(|| PathBuf::from("swarmlab-out").join(format!("{name}-seed{seed}")));
    let opts = RunOptions { name, seed };

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
    let written = analysis::output::write_run(&report, &out);
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", analysis::output::summary_table(&report));
    match written {
        Ok(()) => {
            let (s, p) = (out.join("summary.csv"), out.join("peers.csv"));
            let _ = writeln!(stdout, "\nwrote {} and {}", s.display(), p.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}

fn compare(path: &Path, seed: Option<u64>, out: Option<PathBuf>) -> ExitCode {
    let sc = match load(path) {
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
    let out = out.unwrap_or_else(|| PathBuf::from("swarmlab-out").join(format!("{name}-compare-seed{seed}")));
    let rows = runner::run_variants(&sc, &RunOptions { name, seed });
    let mut written = std::fs::create_dir_all(&out)
        .and_then(|_| analysis::output::write_atomic(&out.join("compare.csv"), &analysis::output::compare_csv(&rows)));
    for (label, r) in &rows {
        if written.is_ok() {
            written = analysis::output::write_run(r, &out.join(analysis::output::label_dir(label)));
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", analysis::output::compare_table(&rows));
    match written {
        Ok(()) => {
            let _ = writeln!(stdout, "\nwrote {}", out.join("compare.csv").display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}

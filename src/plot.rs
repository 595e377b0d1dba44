//! `swarmlab plot`: figures (PNG and SVG) from the CSV files of an output
//! directory, without rerunning anything.
//!
//! DIR may be the output of `run` (timeseries.csv, peers.csv), `run --reps`
//! (replications.csv and `seed<N>/` subdirectories), `compare` (compare.csv and
//! one subdirectory per variant, each possibly with `seed<N>/` below it) or
//! `sweep` (sweep.csv); whatever is there is drawn and the rest is skipped
//! with a note. Figures, each as `.png` and `.svg` (800 x 500):
//!
//! - `timeseries`: continuity, online and playing peers over time, one line per variant;
//! - `cdf`: CDFs of startup delay and playback lag over all peers, one line per variant;
//! - `metrics`: main metrics per variant with 95% CIs (replications.csv) or
//!   single-run values (compare.csv);
//! - `sweep-<param>-<metric>`: a metric against a swept parameter with 95% CIs,
//!   one line per value of the other swept parameters (protocol, variant, ...).
//!
//! Exit status: 0 when figures were written, 2 when DIR is missing or holds no
//! recognised CSV (or a malformed one), 1 when a figure cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "figures/mod.rs"]
mod figures;

pub(crate) use figures::register_font;

/// Arguments of `swarmlab plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory of `run`, `run --reps`, `compare` or `sweep`.
    pub dir: PathBuf,
    /// Where to write the figures [default: DIR/figures].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    let dir = &args.dir;
    if !dir.exists() {
        eprintln!("error: {}: no such directory", dir.display());
        return ExitCode::from(2);
    }
    if !dir.is_dir() {
        eprintln!("error: {}: not a directory (give the output directory of run, compare or sweep)", dir.display());
        return ExitCode::from(2);
    }
    let found = match figures::data::load(dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if found.is_empty() {
        eprintln!(
            "error: {}: no swarmlab output to plot: expected timeseries.csv, peers.csv, compare.csv, \
             replications.csv or sweep.csv in it (or in its variant and seed<N> subdirectories)",
            dir.display()
        );
        return ExitCode::from(2);
    }
    if let Err(e) = figures::register_font() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let out = args.out.clone().unwrap_or_else(|| dir.join("figures"));
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let (planned, notes) = figures::plan(&found);
    if planned.is_empty() {
        for n in &notes {
            eprintln!("{n}");
        }
        eprintln!("error: {}: found CSV files but nothing to plot", dir.display());
        return ExitCode::from(2);
    }
    let mut written = 0;
    for p in &planned {
        match figures::save(&p.figure, &out, &p.stem) {
            Ok(_) => {
                println!("{:<10} {} -> {}.{{png,svg}}", figure_kind(&p.stem), p.what, out.join(&p.stem).display());
                written += 2;
            }
            Err(e) => {
                eprintln!("error: {}: {e}", p.stem);
                return ExitCode::from(1);
            }
        }
    }
    for n in &notes {
        println!("{n}");
    }
    println!("wrote {written} files in {}", out.display());
    ExitCode::SUCCESS
}

fn figure_kind(stem: &str) -> &str {
    if stem.starts_with("sweep-") { "sweep" } else { stem }
}

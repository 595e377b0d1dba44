//! Variants x seeds in parallel with a progress bar: `compare` and `run --reps`.
//!
//! The same jobs in the same order as `sim::runner::run_matrix` (both take
//! them from `sim::runner::matrix_jobs`: every
//! variant of the scenario, or its own protocol, times seeds `seed ..
//! seed + reps - 1`), each an independent deterministic run, so the reports
//! do not depend on the thread count. What this adds is what the terminal
//! shows: like `run`, a progress bar on stderr once the work has taken more
//! than two seconds (simulated time summed over all runs, runs finished),
//! unless `quiet`; and an optional number of worker threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;

/// Per-variant reports, in variant order, each with its `reps` seeds in order.
pub type Matrix = Vec<(String, Vec<analysis::Report>)>;

/// Runs the matrix on `threads` worker threads (default: rayon's, i.e.
/// RAYON_NUM_THREADS or one per core), showing progress unless `quiet`.
pub fn run(
    sc: &Scenario,
    name: &str,
    seed: u64,
    reps: u32,
    threads: Option<u32>,
    quiet: bool,
) -> Result<Matrix, String> {
    let (variants, jobs) = runner::matrix_jobs(sc, seed, reps);

    // Progress: per job, thousandths of its simulated duration done.
    let done: Arc<Vec<AtomicU64>> = Arc::new(jobs.iter().map(|_| AtomicU64::new(0)).collect());
    let finished = AtomicU64::new(0);
    let total = jobs.len() as u64;
    let bar = ProgressBar::with_draw_target(Some(total * 1000), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {percent}% elapsed {elapsed} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("0/{total} runs done"));
    #[allow(clippy::disallowed_methods, reason = "the CLI's progress bar may read the wall clock")]
    let started = Instant::now();
    let shown = std::sync::atomic::AtomicBool::new(false);
    let run_one = |(i, &(v, s)): (usize, &(usize, u64))| {
        let mut progress = |t: protocols::Time, end: protocols::Time| {
            done[i].store(t.0 * 1000 / end.0.max(1), Ordering::Relaxed);
            if !quiet && !shown.load(Ordering::Relaxed) && started.elapsed() > Duration::from_secs(2) {
                shown.store(true, Ordering::Relaxed);
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(done.iter().map(|d| d.load(Ordering::Relaxed)).sum());
        };
        let report = runner::run(
            &variants[v].0,
            &RunOptions { name: name.to_string(), seed: s, threads: 1, draw: 0 },
            &mut progress,
        );
        let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
        bar.set_message(format!("{n}/{total} runs done"));
        report
    };
    let reports: Vec<analysis::Report> = match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build()
            .map_err(|e| format!("cannot start {n} worker threads: {e}"))?
            .install(|| jobs.par_iter().enumerate().map(run_one).collect()),
        None => jobs.par_iter().enumerate().map(run_one).collect(),
    };
    bar.finish_and_clear();
    if !quiet {
        let wall = started.elapsed().as_secs_f64();
        eprintln!("ran {total} runs ({} variants x {reps} seeds) in {wall:.2} s of wall time", variants.len());
    }
    let mut it = reports.into_iter();
    Ok(variants.into_iter().map(|(_, label)| (label, it.by_ref().take(reps as usize).collect())).collect())
}

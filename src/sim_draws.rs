//! The simulator's reference in a `swarmlab validate` verdict: per seed, the
//! mean over protocol draws 1..=K of the same scenario instance.
//!
//! A real run of seed s replays the simulator's instance of s (population,
//! churn, latency, bandwidth, attackers) but draws its protocol decisions
//! from other random streams. The simulator's draw d of s
//! (`RunOptions::draw`, `swarmlab run --draw`) is the same instance with the
//! protocol randomness of draw d; draw 0 is the seed's own run. The
//! reference of seed s is the mean over draws 1..=K of `continuity_mean`
//! (c̄_s) and of `lag_p50` (l̄_s); a rep k of seed s is judged by
//! d_k = real_k - c̄_s and (real_k - l̄_s) / l̄_s. A draw without the metric
//! (no peer started) leaves the seed without a reference for it, and the rep
//! fails, as a rep without the metric does.
//!
//! Why the interval over reps stays valid: given the instance, the real run
//! and the K draws are independent, so Var(d_k) = Var(real | instance) +
//! Var(draw | instance) / K (plus the spread of the bias over instances);
//! each d_k is one independent sample, and the Student-t interval over the
//! reps needs nothing more. Against draw 0 alone the second term is
//! Var(draw | instance), K times larger.
//!
//! Draws run in parallel (rayon, one engine thread each); they are collected
//! in draw order, so nothing here depends on the thread count.

use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;

/// Default number of draws per seed (`validate --sim-draws`).
pub const DEFAULT_DRAWS: u32 = 20;

/// The judged metrics of draws 1..=K of one seed.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedDraws {
    pub seed: u64,
    /// `continuity_mean` of draw d at index d - 1.
    pub continuity: Vec<Option<f64>>,
    /// `lag_p50` (s) of draw d at index d - 1.
    pub lag: Vec<Option<f64>>,
}

impl SeedDraws {
    /// Runs draws 1..=k of `seed` (in parallel).
    pub fn run(sc: &Scenario, name: &str, seed: u64, k: u32) -> SeedDraws {
        use rayon::prelude::*;
        let vals: Vec<(Option<f64>, Option<f64>)> = (1..=k as u64)
            .into_par_iter()
            .map(|draw| {
                let r = runner::run(sc, &RunOptions { name: name.to_string(), seed, threads: 1, draw }, &mut |_, _| {});
                (r.get("continuity_mean"), r.get("lag_p50"))
            })
            .collect();
        let (continuity, lag) = vals.into_iter().unzip();
        SeedDraws { seed, continuity, lag }
    }

    /// (mean, sd) of `continuity_mean` over the draws.
    pub fn continuity(&self) -> Option<(f64, f64)> {
        mean_sd(&self.continuity)
    }

    /// (mean, sd) of `lag_p50` over the draws.
    pub fn lag(&self) -> Option<(f64, f64)> {
        mean_sd(&self.lag)
    }

    /// The judged differences of a real run of this seed: `continuity_mean`
    /// real - mean of the draws, and `lag_p50` (real - mean) / mean.
    pub fn diffs(&self, real_continuity: Option<f64>, real_lag: Option<f64>) -> (Option<f64>, Option<f64>) {
        let means = (self.continuity().map(|(m, _)| m), self.lag().map(|(m, _)| m));
        crate::validate::diffs_of(means, (real_continuity, real_lag))
    }
}

/// Mean and sample sd (n - 1; 0 for one value) of values that must all be
/// present; `None` if any is missing or there are none.
pub fn mean_sd(v: &[Option<f64>]) -> Option<(f64, f64)> {
    let v: Vec<f64> = v.iter().copied().collect::<Option<Vec<f64>>>()?;
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() < 2 { 0.0 } else { v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0) };
    Some((m, libm::sqrt(var)))
}

/// Draws of every distinct seed of `seeds`, in first-seen order.
pub fn for_seeds(sc: &Scenario, name: &str, seeds: &[u64], k: u32) -> Vec<SeedDraws> {
    let mut out: Vec<SeedDraws> = Vec::new();
    for &s in seeds {
        if out.iter().all(|d| d.seed != s) {
            eprintln!("simulating {name} (seed {s}), protocol draws 1..={k} ...");
            out.push(SeedDraws::run(sc, name, s, k));
        }
    }
    out
}

/// The draws of `seed` in `all`.
pub fn of(all: &[SeedDraws], seed: u64) -> &SeedDraws {
    all.iter().find(|d| d.seed == seed).expect("draws of every seed were run")
}

/// `sim-draws.csv`: seed, draw, continuity_mean, lag_p50 (empty: not defined).
pub fn csv(all: &[SeedDraws]) -> String {
    let o = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
    let mut s = String::from("seed,draw,continuity_mean,lag_p50\n");
    for d in all {
        for (i, (c, l)) in d.continuity.iter().zip(&d.lag).enumerate() {
            s.push_str(&format!("{},{},{},{}\n", d.seed, i + 1, o(*c), o(*l)));
        }
    }
    s
}

/// One line per seed: the draws' mean and sd of both judged metrics.
pub fn table(all: &[SeedDraws]) -> String {
    let k = all.first().map_or(0, |d| d.continuity.len());
    let ms = |v: Option<(f64, f64)>, unit: &str| {
        v.map_or("- (a draw without it)".to_string(), |(m, sd)| format!("{m:.4}{unit} (sd {sd:.4}{unit})"))
    };
    let mut s = format!(
        "simulator reference: per seed, the mean of protocol draws 1..={k} of its instance (swarmlab run --draw; draw 0, the seed's own run, is the simulator column of the tables)\n"
    );
    for d in all {
        s.push_str(&format!(
            "  seed {}: continuity_mean {}, lag_p50 {}\n",
            d.seed,
            ms(d.continuity(), ""),
            ms(d.lag(), " s")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(c: &[Option<f64>], l: &[Option<f64>]) -> SeedDraws {
        SeedDraws { seed: 1, continuity: c.to_vec(), lag: l.to_vec() }
    }

    #[test]
    fn the_difference_is_taken_against_the_mean_of_the_draws() {
        let d = draws(&[Some(0.80), Some(0.90), Some(0.85)], &[Some(10.0), Some(12.0), Some(14.0)]);
        let (m, sd) = d.continuity().unwrap();
        assert!((m - 0.85).abs() < 1e-12 && (sd - 0.05).abs() < 1e-12);
        let (c, l) = d.diffs(Some(0.83), Some(13.2));
        assert!((c.unwrap() - (0.83 - 0.85)).abs() < 1e-12);
        // Relative to the mean lag (12 s), not to any one draw.
        assert!((l.unwrap() - 0.1).abs() < 1e-12);
        // A real run without the metric has no difference.
        assert_eq!(d.diffs(None, None), (None, None));
    }

    #[test]
    fn a_draw_without_the_metric_leaves_no_reference() {
        let d = draws(&[Some(0.8), None], &[Some(10.0), Some(10.0)]);
        assert_eq!(d.continuity(), None);
        assert_eq!(d.diffs(Some(0.8), Some(11.0)).0, None);
        assert!((d.diffs(Some(0.8), Some(11.0)).1.unwrap() - 0.1).abs() < 1e-12);
        // A zero mean lag cannot be a relative reference.
        assert_eq!(draws(&[Some(1.0)], &[Some(0.0)]).diffs(Some(1.0), Some(1.0)).1, None);
        // One draw: its value, sd 0.
        assert_eq!(mean_sd(&[Some(0.5)]), Some((0.5, 0.0)));
        assert_eq!(mean_sd(&[]), None);
    }

    #[test]
    fn draws_are_the_runs_of_draw_1_to_k_in_order_whatever_the_threads() {
        let sc = Scenario::parse("t.toml", "duration_s = 20\n[peers]\ncount = 8\n").expect("valid");
        let d = SeedDraws::run(&sc, "t", 3, 3);
        assert_eq!(d.continuity.len(), 3);
        for (i, c) in d.continuity.iter().enumerate() {
            let r = runner::run(
                &sc,
                &RunOptions { name: "t".into(), seed: 3, threads: 1, draw: i as u64 + 1 },
                &mut |_, _| {},
            );
            assert_eq!(*c, r.get("continuity_mean"), "draw {}", i + 1);
        }
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(one.install(|| SeedDraws::run(&sc, "t", 3, 3)), d);
        let csv = csv(&[d]);
        assert!(csv.starts_with("seed,draw,continuity_mean,lag_p50\n3,1,"), "{csv}");
        assert_eq!(csv.lines().count(), 4);
    }
}

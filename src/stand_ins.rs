//! What a `swarmlab validate` verdict says of an exact simulator: each of
//! the simulator's protocol draws stands in for the real run.
//!
//! Draw k of every seed is judged as a real run would be, against the mean
//! of that seed's other K - 1 draws, with the verdict's own test
//! ([`crate::validate::test`], tolerances and rules). A draw is the same
//! scenario instance with other protocol randomness: a swarm that the
//! simulator models exactly, up to the loss draws (the draws of a seed share
//! them; a real run draws its own) and a reference of K - 1 draws instead of
//! K. So the share of stand-ins that PASS is the verdict's power at these
//! seeds if the simulator were exact: an INCONCLUSIVE real verdict where the
//! stand-ins mostly PASS points at a difference; where they mostly do not,
//! at too few seeds. Also printed: the spread of the stand-ins' mean
//! continuity differences, how many read further from zero than the real
//! run, the per-seed sd of the differences on both sides, and the seeds at
//! which a stand-in's continuity passes four times in five (its mean taken
//! as normal with that sd over the square root of the seeds).
//! `results/validate/placebo.sh` computes the same over committed runs.
//!
//! The stand-ins share the draws, so their counts are correlated: rough
//! shares, not independent trials.

use crate::sim_draws::{SeedDraws, mean_sd};
use crate::validate::{CONTINUITY_TOL, LAG_REL_TOL, Outcome, combine, diffs_of, test};

/// Outcome and mean continuity difference of stand-in k (0-based draw
/// index), and the sd of its per-seed continuity differences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandIn {
    pub outcome: Outcome,
    pub continuity: f64,
    pub sd: f64,
}

/// The stand-ins of the reps' seeds (every seed distinct, K >= 3 draws
/// each): one per draw index.
pub fn stand_ins(seeds: &[u64], draws: &[SeedDraws]) -> Vec<StandIn> {
    let k = draws.first().map_or(0, |d| d.continuity.len());
    (0..k)
        .map(|i| {
            let (dc, dl): (Vec<Option<f64>>, Vec<Option<f64>>) = seeds
                .iter()
                .map(|&s| {
                    let d = crate::sim_draws::of(draws, s);
                    let others = |v: &[Option<f64>]| {
                        let o: Vec<Option<f64>> =
                            v.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &x)| x).collect();
                        mean_sd(&o).map(|(m, _)| m)
                    };
                    diffs_of((others(&d.continuity), others(&d.lag)), (d.continuity[i], d.lag[i]))
                })
                .unzip();
            let (cm, _, co) = test(&dc, CONTINUITY_TOL);
            let (_, _, lo) = test(&dl, LAG_REL_TOL);
            let sd = mean_sd(&dc).map_or(f64::NAN, |(_, sd)| sd);
            StandIn { outcome: combine(co, lo), continuity: cm, sd }
        })
        .collect()
}

/// The seeds at which a continuity difference of per-seed sd `sd`, mean
/// zero, passes four times in five: the least n with
/// (t(0.95, n - 1) + z(0.9)) sd / sqrt(n) <= the tolerance.
pub fn seeds_for_four_in_five(sd: f64) -> Option<u64> {
    if !sd.is_finite() {
        return None;
    }
    let z = crate::check::paired::normal_quantile(0.9);
    (2..=100_000u64).find(|&n| {
        let t = crate::check::paired::t_quantile(0.95, (n - 1) as f64);
        (t + z) * sd / libm::sqrt(n as f64) <= CONTINUITY_TOL
    })
}

/// The verdict's stand-in block, or nothing when it would say nothing
/// (fewer than two distinct seeds, or fewer than three draws).
/// `real` is the real run's per-rep continuity differences.
pub fn block(seeds: &[u64], draws: &[SeedDraws], real: &[Option<f64>]) -> String {
    let distinct = {
        let mut s = seeds.to_vec();
        s.sort_unstable();
        s.dedup();
        s.len() == seeds.len()
    };
    let k = draws.first().map_or(0, |d| d.continuity.len());
    if seeds.len() < 2 || !distinct || k < 3 {
        return String::new();
    }
    let si = stand_ins(seeds, draws);
    let count = |o: Outcome| si.iter().filter(|s| s.outcome == o).count();
    let means: Vec<Option<f64>> = si.iter().map(|s| Some(s.continuity).filter(|x| x.is_finite())).collect();
    let spread = mean_sd(&means).map_or("-".to_string(), |(_, sd)| format!("{sd:.4}"));
    let (lo, hi) = means.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let (real_mean, real_sd) = mean_sd(real).unzip();
    let sds: Vec<Option<f64>> = si.iter().map(|s| Some(s.sd).filter(|x| x.is_finite())).collect();
    let sd = mean_sd(&sds).map(|(m, _)| m);
    let mut v = format!(
        "the simulator's draws as stand-ins for the real run (draw k of each seed against the mean of its other {} draws; \
         a swarm the simulator models exactly, up to the loss draws, which a seed's draws share):\n",
        k - 1
    );
    v.push_str(&format!(
        "  PASS {}, INCONCLUSIVE {}, FAIL {} of {k} stand-ins at these {} seeds; their mean continuity difference: sd {spread}, from {lo:+.4} to {hi:+.4}\n",
        count(Outcome::Pass),
        count(Outcome::Inconclusive),
        count(Outcome::Fail),
        seeds.len()
    ));
    if let Some(r) = real_mean {
        let further = means.iter().flatten().filter(|x| x.abs() > r.abs()).count();
        v.push_str(&format!(
            "  {further} of {k} stand-ins further from 0 than the real run's mean difference ({r:+.4})\n"
        ));
    }
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
    v.push_str(&format!(
        "  per-seed sd of the continuity difference: stand-ins {} (mean over them), real {}; seeds at which a stand-in's continuity passes 4 times in 5: {}\n",
        f(sd),
        f(real_sd),
        sd.and_then(seeds_for_four_in_five).map_or("-".to_string(), |n| n.to_string())
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws of `seed` whose continuity is `base + spread * u_j` for a fixed
    /// zero-mean pattern u, lag 10 s.
    fn draws(seed: u64, base: f64, spread: f64, k: usize) -> SeedDraws {
        let u = |j: usize| ((j * 7 + seed as usize * 3) % 11) as f64 / 5.0 - 1.0;
        SeedDraws {
            seed,
            continuity: (0..k).map(|j| Some(base + spread * u(j))).collect(),
            lag: (0..k).map(|_| Some(10.0)).collect(),
        }
    }

    #[test]
    fn tight_draws_stand_in_as_passes_and_wide_ones_do_not() {
        let seeds: Vec<u64> = (1..=20).collect();
        let tight: Vec<SeedDraws> = seeds.iter().map(|&s| draws(s, 0.6, 0.01, 20)).collect();
        let si = stand_ins(&seeds, &tight);
        assert_eq!(si.len(), 20);
        assert!(si.iter().all(|s| s.outcome == Outcome::Pass), "{si:?}");
        // Draws 0.3 apart on either side of the mean: no stand-in can pass.
        let wide: Vec<SeedDraws> = seeds.iter().map(|&s| draws(s, 0.6, 0.3, 20)).collect();
        let si = stand_ins(&seeds, &wide);
        assert!(si.iter().all(|s| s.outcome != Outcome::Pass), "{si:?}");
        // A stand-in's difference is its draw minus the others' mean, so
        // over the stand-ins of one seed they sum to zero.
        let one = stand_ins(&[1, 2], &wide);
        let sum: f64 = one.iter().map(|s| s.continuity).sum();
        assert!(sum.abs() < 1e-9, "{sum}");
    }

    #[test]
    fn the_block_counts_the_stand_ins_and_the_ones_further_than_the_real_run() {
        let seeds: Vec<u64> = (1..=10).collect();
        let d: Vec<SeedDraws> = seeds.iter().map(|&s| draws(s, 0.5, 0.05, 20)).collect();
        let si = stand_ins(&seeds, &d);
        // A real run 0.5 off: no stand-in further; one at 0: all of them.
        let far = block(&seeds, &d, &[Some(0.5); 10]);
        assert!(far.contains("  0 of 20 stand-ins further from 0"), "{far}");
        let at0 = block(&seeds, &d, &[Some(0.0); 10]);
        let nonzero = si.iter().filter(|s| s.continuity.abs() > 0.0).count();
        assert!(at0.contains(&format!("  {nonzero} of 20 stand-ins further from 0")), "{at0}");
        let pass = si.iter().filter(|s| s.outcome == Outcome::Pass).count();
        assert!(far.contains(&format!("  PASS {pass}, ")), "{far}");
        // Nothing to say: one seed, repeated seeds, or two draws.
        assert_eq!(block(&[1], &d, &[Some(0.0)]), "");
        assert_eq!(block(&[1, 1], &d, &[Some(0.0), Some(0.0)]), "");
        let two: Vec<SeedDraws> = seeds.iter().map(|&s| draws(s, 0.5, 0.05, 2)).collect();
        assert_eq!(block(&seeds, &two, &[Some(0.0); 10]), "");
    }

    #[test]
    fn four_in_five_needs_more_seeds_the_wider_the_spread() {
        // sd 0.052 (tree-push on dyn-50): about 60 seeds (placebo.txt).
        let n = seeds_for_four_in_five(0.052).unwrap();
        assert!((55..=65).contains(&n), "{n}");
        // Check the definition at n and n - 1.
        let hw = |n: u64, sd: f64| {
            (crate::check::paired::t_quantile(0.95, (n - 1) as f64) + crate::check::paired::normal_quantile(0.9)) * sd
                / (n as f64).sqrt()
        };
        assert!(hw(n, 0.052) <= CONTINUITY_TOL && hw(n - 1, 0.052) > CONTINUITY_TOL);
        assert!(seeds_for_four_in_five(0.01).unwrap() < seeds_for_four_in_five(0.03).unwrap());
        assert_eq!(seeds_for_four_in_five(f64::NAN), None);
    }
}

//! The gate's statistic: a paired, one-sided test per judged metric on
//! per-seed differences, Bonferroni-corrected over the whole suite.
//!
//! Baseline and candidate run the same scenario with the same seeds. Runs are
//! deterministic and every consumer of randomness has its own stream
//! (`sim::rngs`), so the two runs of a seed share every random draw the change
//! does not touch (common random numbers): population, arrivals, sessions,
//! latencies, bandwidth levels. What differs between them is the change's
//! effect plus the chaos it causes downstream, and the per-seed difference
//! `d_s` (in the bad direction: `base - new` for a metric where higher is
//! better, `new - base` where lower is better) has a far smaller spread than
//! either run's value. With `n` seeds, `mean` and `sd` of the `d_s`:
//!
//! - `se = sd / sqrt(n)`; `crit = t(1 - alpha / m, n - 1)`, `alpha` the
//!   family-wise false-alarm rate of the whole gate (`--alpha`, 0.05) and `m`
//!   the number of (variant, metric) tests in the suite (Bonferroni);
//! - **significant**: `|mean| > crit x se` (or `se = 0` and `mean != 0`);
//! - **regression** (`WORSE`): significant, `mean > 0` and `mean > tolerance`;
//!   "better" is the same in the other direction; a significant change inside
//!   the tolerance is "within tolerance", an insignificant one "within noise".
//!
//! The interval printed for a change is `mean +- crit x se`: simultaneous over
//! the suite at level `1 - alpha`. Which metrics are judged, and the tolerance
//! of each, is [`RULES`].

use analysis::Better;

/// How large a significant change must be to fail the gate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// An absolute change (in the metric's unit).
    Abs(f64),
    /// A fraction of the baseline mean (`--tolerance`, 5% by default), never
    /// below the absolute floor (in the metric's unit).
    Rel { floor: f64 },
}

/// A judged metric: name, direction, tolerance and why it is judged this way.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub metric: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub tolerance: Tolerance,
    pub why: &'static str,
}

/// The judged metrics: continuity, startup, lag and overhead (issue 18).
pub const RULES: [Rule; 5] = [
    Rule {
        metric: "continuity_mean",
        unit: "ratio",
        better: Better::Higher,
        tolerance: Tolerance::Abs(0.005),
        why: "mean of per-peer continuity: near-normal per seed, an absolute drop is what papers report; \
              tolerance 0.005, half the smallest drop the gate must catch (0.01)",
    },
    Rule {
        metric: "startup_delay_p50",
        unit: "s",
        better: Better::Lower,
        tolerance: Tolerance::Rel { floor: 0.05 },
        why: "median startup delay: robust to the few peers that never start; relative tolerance, half the \
              10% rise the gate must catch",
    },
    Rule {
        metric: "lag_p50",
        unit: "s",
        better: Better::Lower,
        tolerance: Tolerance::Rel { floor: 0.05 },
        why: "median playback lag: robust to stragglers; relative tolerance, half the 10% rise the gate must catch",
    },
    Rule {
        metric: "control_overhead",
        unit: "ratio",
        better: Better::Lower,
        tolerance: Tolerance::Rel { floor: 0.005 },
        why: "control bytes / media bytes over all nodes: relative tolerance with a 0.005 floor",
    },
    Rule {
        metric: "duplicate_ratio",
        unit: "ratio",
        better: Better::Lower,
        tolerance: Tolerance::Rel { floor: 0.005 },
        why: "redundant chunk copies / useful ones (upload wasted): relative tolerance with a 0.005 floor \
              (push families have none)",
    },
];

/// The rule of `metric`, if it is judged.
pub fn rule(metric: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.metric == metric)
}

/// How a judged metric moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Unchanged,
    Better,
    Worse,
    WithinNoise,
    WithinTolerance,
    /// Defined in the baseline, undefined now on every seed: a regression.
    NowUndefined,
    /// Undefined in the baseline on every seed, defined now.
    NowDefined,
    /// Not in the baseline.
    New,
    /// In the baseline, no longer produced.
    Gone,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Unchanged => "unchanged",
            Verdict::Better => "better",
            Verdict::Worse => "WORSE",
            Verdict::WithinNoise => "within noise",
            Verdict::WithinTolerance => "within tolerance",
            Verdict::NowUndefined => "WORSE (now undefined)",
            Verdict::NowDefined => "better (now defined)",
            Verdict::New => "new (not in baseline)",
            Verdict::Gone => "gone (not produced now)",
        }
    }

    pub fn is_regression(self) -> bool {
        matches!(self, Verdict::Worse | Verdict::NowUndefined)
    }
}

/// The result of one paired test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// Seeds with a value on both sides.
    pub n: usize,
    pub base_mean: f64,
    pub new_mean: f64,
    /// Mean of `new - base` over the paired seeds.
    pub change: f64,
    /// Half-width of the simultaneous interval of `change` (0 when n < 2).
    pub half: f64,
    /// The allowed change in the bad direction.
    pub tolerance: f64,
    /// The seed whose difference is worst (most in the bad direction), with
    /// its baseline and new values.
    pub worst: Option<(u64, f64, f64)>,
    pub verdict: Verdict,
}

/// Paired test of one metric: `pairs` are `(seed, base, new)`, `crit` the
/// critical value ([`critical`]), `rel_tolerance` the `--tolerance` fraction.
pub fn judge(rule: &Rule, pairs: &[(u64, f64, f64)], crit: f64, rel_tolerance: f64) -> Outcome {
    let n = pairs.len();
    let sign = match rule.better {
        Better::Higher => -1.0,
        _ => 1.0,
    };
    let mean = |f: &dyn Fn(&(u64, f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>() / n.max(1) as f64;
    let base_mean = mean(&|p| p.1);
    let new_mean = mean(&|p| p.2);
    let change = mean(&|p| p.2 - p.1);
    let sd = if n > 1 {
        (pairs.iter().map(|p| (p.2 - p.1 - change) * (p.2 - p.1 - change)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let half = crit * sd / (n.max(1) as f64).sqrt();
    let tolerance = match rule.tolerance {
        Tolerance::Abs(t) => t,
        Tolerance::Rel { floor } => (rel_tolerance * base_mean.abs()).max(floor),
    };
    let worst =
        pairs.iter().max_by(|a, b| (sign * (a.2 - a.1)).total_cmp(&(sign * (b.2 - b.1))).then(b.0.cmp(&a.0))).copied();
    let worse = sign * change;
    let significant = if n < 2 { true } else { change.abs() > half };
    let verdict = if pairs.iter().all(|p| p.1 == p.2) {
        Verdict::Unchanged
    } else if !significant {
        Verdict::WithinNoise
    } else if worse.abs() <= tolerance {
        Verdict::WithinTolerance
    } else if worse > 0.0 {
        Verdict::Worse
    } else {
        Verdict::Better
    };
    Outcome { n, base_mean, new_mean, change, half, tolerance, worst, verdict }
}

/// The one-sided critical value for `m` tests at family-wise level `alpha`
/// with `n` paired seeds: `t(1 - alpha / m, n - 1)` (0 when n < 2: no test).
pub fn critical(alpha: f64, m: usize, n: usize) -> f64 {
    if n < 2 {
        return 0.0;
    }
    t_quantile(1.0 - alpha / m.max(1) as f64, (n - 1) as f64)
}

/// Quantile of Student's t with `df` degrees of freedom: the Cornish-Fisher
/// expansion around the normal quantile (Abramowitz and Stegun 26.7.5),
/// within 1% of the exact value for df >= 10 and p <= 1 - 1e-4.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    // Powers by multiplication: exact rounding on every platform.
    let z2 = z * z;
    let (z3, z5, z7, z9) = (z2 * z, z2 * z2 * z, z2 * z2 * z2 * z, z2 * z2 * z2 * z2 * z);
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
    z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df)
}

/// Quantile of the standard normal distribution (Acklam's rational
/// approximation, relative error below 1.2e-9), for 0 < p < 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    if p < 0.02425 {
        tail((-2.0 * libm::log(p)).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * libm::log(1.0 - p)).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cont() -> &'static Rule {
        rule("continuity_mean").unwrap()
    }

    #[test]
    fn quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
        assert!((normal_quantile(0.05) + 1.644_854).abs() < 1e-6);
        assert!((normal_quantile(0.999) - 3.090_232).abs() < 1e-6);
        // t(0.975, 30) = 2.042, t(0.999, 20) = 3.552, t(0.9995, 60) = 3.460 (tables).
        assert!((t_quantile(0.975, 30.0) - 2.042).abs() < 2e-3);
        assert!((t_quantile(0.999, 20.0) - 3.552).abs() < 0.02);
        assert!((t_quantile(0.9995, 60.0) - 3.460).abs() < 5e-3);
        assert_eq!(critical(0.05, 10, 1), 0.0);
        assert!(critical(0.05, 10, 50) > critical(0.05, 1, 50));
    }

    #[test]
    fn rules_agree_with_the_glossary() {
        for r in &RULES {
            let def = analysis::glossary::lookup(r.metric).unwrap_or_else(|| panic!("{} not in glossary", r.metric));
            assert_eq!(def.better, r.better, "{}", r.metric);
            assert_eq!(def.unit, r.unit, "{}", r.metric);
        }
    }

    #[test]
    fn a_consistent_drop_beyond_tolerance_is_worse() {
        // Every seed loses 0.01 +- 0.001: significant and beyond 0.005.
        let pairs: Vec<_> = (0..20).map(|s| (s, 0.95, 0.94 + if s % 2 == 0 { 0.001 } else { -0.001 })).collect();
        let o = judge(cont(), &pairs, critical(0.05, 40, 20), 0.05);
        assert_eq!(o.verdict, Verdict::Worse);
        assert!((o.change + 0.01).abs() < 1e-9 && o.half > 0.0 && o.half < 0.002);
        // The worst seed is one losing 0.011 (the first such seed).
        assert_eq!(o.worst.map(|w| w.0), Some(1));
        // The same gain is better.
        let up: Vec<_> = pairs.iter().map(|&(s, b, n)| (s, n, b)).collect();
        assert_eq!(judge(cont(), &up, critical(0.05, 40, 20), 0.05).verdict, Verdict::Better);
    }

    #[test]
    fn noise_tolerance_and_identity() {
        let crit = critical(0.05, 40, 20);
        // Differences of +-0.05 around -0.01: not significant.
        let noisy: Vec<_> = (0..20).map(|s| (s, 0.95, 0.94 + if s % 2 == 0 { 0.05 } else { -0.05 })).collect();
        assert_eq!(judge(cont(), &noisy, crit, 0.05).verdict, Verdict::WithinNoise);
        // A consistent 0.003 drop: significant but inside the 0.005 tolerance.
        let small: Vec<_> = (0..20).map(|s| (s, 0.95, 0.947)).collect();
        assert_eq!(judge(cont(), &small, crit, 0.05).verdict, Verdict::WithinTolerance);
        // Identical: unchanged.
        let same: Vec<_> = (0..20).map(|s| (s, 0.95, 0.95)).collect();
        assert_eq!(judge(cont(), &same, crit, 0.05).verdict, Verdict::Unchanged);
        // Lag (lower is better, relative tolerance): 20 s -> 22 s everywhere is worse at 5%, not at 20%.
        let lag = rule("lag_p50").unwrap();
        let up: Vec<_> = (0..20).map(|s| (s, 20.0, 22.0 + (s % 3) as f64 * 0.01)).collect();
        assert_eq!(judge(lag, &up, crit, 0.05).verdict, Verdict::Worse);
        assert_eq!(judge(lag, &up, crit, 0.20).verdict, Verdict::WithinTolerance);
    }
}
